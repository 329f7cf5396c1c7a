package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Checks that shut-down kernels left no kernel process, sandbox, mount or directory behind. */
final class Leaks {
    private Leaks() {}

    /**
     * With the gateway still running: no kernel of a client is left, and nothing but the warm pool's own
     * kernels (their processes, directories and files) is there.
     */
    static void assertNoneLeft(GatewayFixture gw) throws Exception {
        assertEmptyWithin(() -> beyondThePool(gw));
    }

    /** What is left, as the check finds it. */
    private interface Check {
        List<String> left() throws Exception;
    }

    /** Asserts that the check finds nothing within 30 s (a kernel's stop finishes in the background). */
    private static void assertEmptyWithin(Check check) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        List<String> left = check.left();
        while (!left.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(250);
            left = check.left();
        }
        assertEquals(List.of(), left);
    }

    private static List<String> beyondThePool(GatewayFixture gw) throws Exception {
        List<String> left = new ArrayList<>();
        var clients = GatewayFixture.json(gw.call("GET", "api/kernels", null));
        clients.forEach(k -> left.add("client kernel " + k.get("id").asText()));
        var status = GatewayFixture.json(gw.call("GET", "api/status", null));
        int pool = status.get("pool_ready").asInt() + status.get("pool_starting").asInt();
        List<String> pooled = new ArrayList<>();
        Path kernels = gw.data.resolve("kernels");
        if (Files.isDirectory(kernels)) {
            try (var dirs = Files.list(kernels)) {
                dirs.forEach(d -> pooled.add(d.getFileName().toString()));
            }
        }
        if (pooled.size() > pool) {
            left.add(pooled.size() + " kernel directories for " + pool + " pooled kernels: " + pooled);
        }
        for (String l : leftovers(gw.data)) {
            if (pooled.stream().noneMatch(l::contains)) {
                left.add(l);
            }
        }
        return left;
    }

    static void assertNoneLeft(Path data) throws Exception {
        assertEmptyWithin(() -> leftovers(data));
    }

    static List<String> leftovers(Path data) throws Exception {
        List<String> left = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(p -> p.info().commandLine().ifPresent(cmd -> {
            if (cmd.contains(data.toString())) {
                left.add("process " + p.pid() + ": " + cmd);
            }
        }));
        Path kernels = data.resolve("kernels");
        if (Files.isDirectory(kernels)) {
            try (var dirs = Files.list(kernels)) {
                dirs.forEach(d -> left.add("directory " + d));
            }
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 1 && f[1].startsWith(data.toString())) {
                left.add("mount " + f[1]);
            }
        }
        Path runtime = data.resolve("runtime");
        if (Files.isDirectory(runtime)) {
            try (var files = Files.list(runtime)) {
                files.filter(f -> !f.getFileName().toString().equals("gateway.lock"))
                        .forEach(f -> left.add("file " + f));
            }
        }
        return left;
    }
}
