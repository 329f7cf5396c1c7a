package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.NetworkInterface;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Egress mode (SANDCELL_NETWORK=egress for every kernel of a gateway) in real sandboxes through the real
 * gateway (gateway/src/test/clients/egress.py), against an "outside" network built on this host: a network
 * namespace at 203.0.113.10 with a web server, which also answers on a private address and on the cloud
 * metadata address, and a DNS server on the private address.
 */
class EgressIT {
    private static final String OUTSIDE = "sct-out";
    private static final List<Process> SERVERS = new ArrayList<>();
    @TempDir
    static Path tmp;

    @BeforeAll
    static void buildOutside() throws Exception {
        teardownOutside();
        sh("ip netns add " + OUTSIDE);
        sh("ip link add sct-o0 type veth peer name eth0 netns " + OUTSIDE);
        sh("ip addr add 203.0.113.1/24 dev sct-o0");
        sh("ip link set sct-o0 up");
        for (String a : List.of("203.0.113.10/24", "10.199.0.53/32", "169.254.169.254/32")) {
            sh("ip -n " + OUTSIDE + " addr add " + a + " dev eth0");
        }
        sh("ip -n " + OUTSIDE + " link set eth0 up");
        sh("ip -n " + OUTSIDE + " link set lo up");
        sh("ip -n " + OUTSIDE + " route add default via 203.0.113.1");
        sh("ip route replace 10.199.0.53/32 via 203.0.113.10");
        sh("ip route replace 169.254.169.254/32 via 203.0.113.10");
        Path site = tmp.resolve("site");
        Files.createDirectories(site);
        Files.writeString(site.resolve("hello.txt"), "hello from outside\n");
        SERVERS.add(server(List.of("ip", "netns", "exec", OUTSIDE, "/usr/bin/python3", "-m", "http.server", "8080",
                "--bind", "0.0.0.0", "--directory", site.toString())));
        SERVERS.add(server(List.of("ip", "netns", "exec", OUTSIDE, "/usr/bin/python3",
                OpenWebUiClientIT.clients().resolve("tiny_dns.py").toString(), "10.199.0.53", "example.test",
                "203.0.113.10")));
        // the outside answers the host: whatever a sandbox fails to reach below is stopped by the firewall
        long deadline = System.currentTimeMillis() + 20_000;
        while (!sh("python3 -c \"import urllib.request as u; u.urlopen('http://169.254.169.254:8080/hello.txt', "
                + "timeout=2); u.urlopen('http://10.199.0.53:8080/hello.txt', timeout=2)\"", false)) {
            assertTrue(System.currentTimeMillis() < deadline, "the outside web server did not come up");
            Thread.sleep(200);
        }
    }

    @AfterAll
    static void teardownOutside() throws Exception {
        for (Process p : SERVERS) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        SERVERS.clear();
        sh("ip route del 10.199.0.53/32", false);
        sh("ip route del 169.254.169.254/32", false);
        sh("ip netns del " + OUTSIDE, false);
        sh("ip link del sct-o0", false);
    }

    @Test
    void egressReachesOnlyTheOutside() throws Exception {
        String out;
        Path data = tmp.resolve("data");
        // no pool: the cases count the network namespaces and kernels of their two tool chats, which never come
        // from the pool, and a pooled egress kernel would add its own
        try (GatewayFixture gw = new GatewayFixture(data,
                Map.of("SANDCELL_NETWORK", "egress", "SANDCELL_EGRESS_DNS", "10.199.0.53"), "--ip", "0.0.0.0",
                "--pool-size", "0")) {
            String spec = gw.call("GET", "openapi.json", null).body();
            assertTrue(spec.contains("Outbound Internet access works"), "the model is told what it can reach");
            out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                    OpenWebUiClientIT.clients().resolve("egress.py").toString(), gw.base(), GatewayFixture.TOKEN,
                    String.valueOf(gw.port), String.join(",", hostAddresses()), data.toString()), 900);
        }
        assertTrue(out.contains("7 cases, 7 held"), out);
        assertEquals(7, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
        Leaks.assertNoneLeft(data);
        assertEquals(List.of(), networkLeftovers());
    }

    /** The namespaces, host interfaces, firewall chains and slot files of egress sandboxes still present. */
    static List<String> networkLeftovers() throws Exception {
        List<String> left = new ArrayList<>();
        run(List.of("ip", "netns", "list")).lines().filter(l -> l.startsWith("sandcell-"))
                .forEach(l -> left.add("netns " + l));
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (nif.getName().startsWith("sandc")) {
                left.add("interface " + nif.getName());
            }
        }
        run(List.of("nft", "list", "table", "inet", "sandcell")).lines().map(String::strip)
                .filter(l -> l.matches("chain k\\d+ \\{") || l.contains("goto k")).forEach(l -> left.add("nft " + l));
        Path slots = Path.of("/run/sandcell/net");
        if (Files.isDirectory(slots)) {
            try (var files = Files.list(slots)) {
                files.filter(f -> f.getFileName().toString().startsWith("slot-")).forEach(f -> left.add("file " + f));
            }
        }
        return left;
    }

    private static List<String> hostAddresses() throws IOException {
        List<String> out = new ArrayList<>();
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            nif.inetAddresses().filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress())
                    .forEach(a -> out.add(a.getHostAddress()));
        }
        assertTrue(out.contains("203.0.113.1"), out.toString());
        return out;
    }

    private static Process server(List<String> cmd) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("server-" + SERVERS.size() + ".log").toFile()).start();
    }

    private static void sh(String command) throws Exception {
        assertTrue(sh(command, true), command);
    }

    private static boolean sh(String command, boolean report) throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", command).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        if (!ok && report) {
            System.err.println(command + ": " + text);
        }
        return ok;
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(30, TimeUnit.SECONDS);
        return text;
    }
}
