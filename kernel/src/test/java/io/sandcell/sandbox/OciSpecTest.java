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
                List.of());
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
        assertEquals(1024L << 20, spec.at("/linux/resources/memory/limit").asLong());
        assertEquals(100_000, spec.at("/linux/resources/cpu/quota").asLong());
        List<String> rlimits = new java.util.ArrayList<>();
        process.get("rlimits").forEach(r -> rlimits.add(r.get("type").asText()));
        assertTrue(rlimits.containsAll(List.of("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE")));
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
                0, 1, 1, 1, 0, 0, 3, List.of("os; rm"), 10);
        List<String> problems = bad.problems();
        assertTrue(problems.size() >= 10, problems.toString());
        assertTrue(problems.contains("platform must be systrap, ptrace or kvm, not kvmx"), problems.toString());
    }
}
