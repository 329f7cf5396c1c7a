package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OciSpecTest {
    @Test
    void specIsLockedDown(@TempDir Path data) throws Exception {
        SandboxConfig config = SandboxConfig.defaults(data);
        SandboxLayout layout = SandboxLayout.prepare(config, "print()".getBytes(StandardCharsets.UTF_8), "d.py");
        ObjectNode spec = OciSpec.build(config, layout, "k1-1", data.resolve("ws"), List.of("/usr/bin/python3"),
                List.of(), null, null);
        JsonNode process = spec.get("process");
        assertEquals(61000, process.at("/user/uid").asInt());
        assertTrue(process.get("noNewPrivileges").asBoolean());
        process.get("capabilities").forEach(set -> assertEquals(0, set.size()));
        assertTrue(spec.at("/root/readonly").asBoolean());
        Map<String, JsonNode> mounts = new HashMap<>();
        spec.get("mounts").forEach(m -> mounts.put(m.get("destination").asText(), m));
        assertTrue(mounts.get("/usr").get("options").toString().contains("\"ro\""));
        assertTrue(mounts.get("/etc").get("options").toString().contains("\"ro\""));
        assertEquals(layout.etc().toString(), mounts.get("/etc").get("source").asText());
        assertEquals("tmpfs", mounts.get("/tmp").get("type").asText());
        assertTrue(mounts.get("/tmp").get("options").toString().contains("size=256m"));
        assertEquals(data.resolve("ws").toString(), mounts.get("/mnt/data").get("source").asText());
        List<String> namespaces = new java.util.ArrayList<>();
        spec.at("/linux/namespaces").forEach(n -> namespaces.add(n.get("type").asText()));
        assertTrue(namespaces.containsAll(List.of("pid", "network", "ipc", "uts", "mount")));
        spec.at("/linux/namespaces").forEach(n -> assertFalse(n.has("path"), "a new, empty namespace: " + n));
        assertFalse(mounts.containsKey("/etc/resolv.conf"));
        assertEquals(1024L << 20, spec.at("/linux/resources/memory/limit").asLong());
        assertEquals(100_000, spec.at("/linux/resources/cpu/quota").asLong());
        List<String> rlimits = new java.util.ArrayList<>();
        process.get("rlimits").forEach(r -> rlimits.add(r.get("type").asText()));
        assertTrue(rlimits.containsAll(List.of("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE")));
        process.get("rlimits").forEach(r -> {
            if (r.get("type").asText().equals("RLIMIT_NPROC")) {
                assertEquals(16, r.get("hard").asInt(), "1 GiB allows 16 processes and threads: " + r);
            }
        });
    }

    @Test
    void theProcessLimitFollowsTheMemoryLimitUnlessSet(@TempDir Path data) {
        SandboxConfig d = SandboxConfig.defaults(data);
        assertEquals(16, d.effectiveNproc());
        SandboxConfig big = new SandboxConfig(d.runsc(), d.platform(), data, d.rootfs(), "python", d.uid(), 2048, 0,
                1.0, 512, 0, 1024, 256, 64, 1024, d.network(), List.of(), 30_000);
        assertEquals(32, big.effectiveNproc());
        SandboxConfig set = new SandboxConfig(d.runsc(), d.platform(), data, d.rootfs(), "python", d.uid(), 2048, 0,
                1.0, 512, 12, 1024, 256, 64, 1024, d.network(), List.of(), 30_000);
        assertEquals(12, set.effectiveNproc());
        assertEquals(12, set.limits().get("nproc"));
    }

    @Test
    void egressJoinsItsNamespaceAndGetsItsResolvers(@TempDir Path data) throws Exception {
        SandboxConfig config = SandboxConfig.defaults(data);
        SandboxLayout layout = SandboxLayout.prepare(config, "print()".getBytes(StandardCharsets.UTF_8), "d.py");
        ObjectNode spec = OciSpec.build(config, layout, "k1-1", data.resolve("ws"), List.of("/usr/bin/python3"),
                List.of(), Path.of("/run/netns/sandcell-7"), data.resolve("resolv.conf"));
        Map<String, String> paths = new HashMap<>();
        spec.at("/linux/namespaces").forEach(n -> paths.put(n.get("type").asText(), n.path("path").asText(null)));
        assertEquals("/run/netns/sandcell-7", paths.get("network"));
        assertEquals(null, paths.get("pid"));
        JsonNode resolv = null;
        for (JsonNode m : spec.get("mounts")) {
            if (m.get("destination").asText().equals("/etc/resolv.conf")) {
                resolv = m;
            }
        }
        assertEquals(data.resolve("resolv.conf").toString(), resolv.get("source").asText());
        assertTrue(resolv.get("options").toString().contains("\"ro\""));
    }

    @Test
    void runCommandNetworksOnlyWhenAsked() {
        Runsc runsc = new Runsc(Path.of("/usr/bin/runsc"), Path.of("/tmp/state"), "systrap");
        List<String> plain = runsc.runCommand(Path.of("/b"), "k1", null, false);
        assertTrue(plain.contains("--network=none"), plain.toString());
        assertFalse(plain.contains("unshare"), plain.toString());
        List<String> networked = runsc.runCommand(Path.of("/b"), "k1", null, true);
        assertTrue(networked.contains("--network=sandbox"), networked.toString());
        assertFalse(networked.contains("--network=none"), networked.toString());
        assertEquals(List.of("setpriv", "--pdeathsig", "KILL", "--", "unshare"), networked.subList(0, 5));
        assertEquals(List.of("run", "--bundle", "/b", "k1"), networked.subList(networked.size() - 4,
                networked.size()));
    }

    @Test
    void generatedEtcHoldsNoHostSecrets(@TempDir Path data) throws Exception {
        SandboxLayout layout = SandboxLayout.prepare(SandboxConfig.defaults(data), new byte[] {1}, "d.py");
        assertFalse(Files.exists(layout.etc().resolve("shadow")));
        assertFalse(Files.exists(layout.etc().resolve("ssl/private")));
        assertFalse(Files.readString(layout.etc().resolve("passwd")).contains("/root"));
        assertTrue(Files.readString(layout.etc().resolve("passwd")).contains("sandbox:x:61000"));
        // the same content maps to the same directory, built once
        assertEquals(layout.base(), SandboxLayout.prepare(SandboxConfig.defaults(data), new byte[] {1}, "d.py")
                .base());
    }

    @Test
    void invalidConfigurationListsEveryProblem(@TempDir Path data) {
        SandboxConfig bad = new SandboxConfig(Path.of("/nonexistent/runsc"), "kvmx", data, data, "ruby", 0, 1, -1,
                0, 1, 1, 1, 0, 0, 3, NetworkPolicy.none(), List.of("os; rm"), 10);
        List<String> problems = bad.problems();
        assertTrue(problems.size() >= 10, problems.toString());
        assertTrue(problems.contains("platform must be systrap, ptrace or kvm, not kvmx"), problems.toString());
    }
}
