package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.sandbox.Freezer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway as its own process, killed with SIGKILL: every kernel it started, and every sandbox, goes with
 * it, including a pooled kernel whose sandbox was frozen while it waited (a frozen sandbox cannot be killed
 * until it is thawed, and its kernel used to wait for it forever).
 */
class GatewayDeathIT {
    private static final Pattern URL = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/");

    @TempDir
    Path tmp;

    /** Processes whose command line names the data dir: kernel JVMs, runsc and its sandboxes. */
    private static List<String> processesOf(Path data) {
        return ProcessHandle.allProcesses().map(p -> p.info().commandLine().orElse(""))
                .filter(c -> c.contains(data.toString())).toList();
    }

    @Test
    void aKilledGatewayLeavesNoKernelNorSandboxEvenAFrozenOne() throws Exception {
        Path data = tmp.resolve("data");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process gateway = new ProcessBuilder(java, "-jar", System.getProperty("sandcell.gateway.jar"), "--port", "0",
                "--data-dir", data.toString(), "--token", GatewayFixture.TOKEN).redirectErrorStream(true).start();
        try {
            int port = port(gateway);
            HttpClient http = HttpClient.newHttpClient();
            Freezer freezer = new Freezer(Path.of("/sys/fs/cgroup"));
            long deadline = System.currentTimeMillis() + 180_000;
            while (frozenKernels(freezer, data) == 0) { // the second pooled kernel waits frozen behind the first
                assertTrue(System.currentTimeMillis() < deadline, "no pooled kernel was frozen: " + http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                Thread.sleep(200);
            }
        } finally {
            gateway.destroyForcibly();
            gateway.waitFor();
        }
        long deadline = System.currentTimeMillis() + 60_000;
        while (!processesOf(data).isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(List.of(), processesOf(data), "what outlived the gateway");
    }

    private static long frozenKernels(Freezer freezer, Path data) throws Exception {
        if (!Files.isDirectory(data.resolve("kernels"))) {
            return 0;
        }
        try (Stream<Path> kernels = Files.list(data.resolve("kernels"))) {
            return kernels.filter(k -> {
                try {
                    return freezer.frozen(k.getFileName().toString());
                } catch (java.io.IOException e) {
                    return false;
                }
            }).count();
        }
    }

    /** Reads the gateway's output until it prints its URL; the rest of its output is drained on the side. */
    private static int port(Process gateway) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(gateway.getInputStream(),
                StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null) {
            seen.append(line).append('\n');
            Matcher m = URL.matcher(line);
            if (m.find()) {
                Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                return Integer.parseInt(m.group(1));
            }
        }
        throw new AssertionError("the gateway exited before it listened: " + seen);
    }
}
