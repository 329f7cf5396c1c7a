package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Checks that shut-down kernels left no kernel process, sandbox or directory behind. */
final class Leaks {
    private Leaks() {}

    static void assertNoneLeft(GatewayFixture gw) throws Exception {
        assertNoneLeft(gw.data);
    }

    static void assertNoneLeft(Path data) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        List<String> left = leftovers(data);
        while (!left.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(250);
            left = leftovers(data);
        }
        assertEquals(List.of(), left);
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
        Path runtime = data.resolve("runtime");
        if (Files.isDirectory(runtime)) {
            try (var files = Files.list(runtime)) {
                files.forEach(f -> left.add("file " + f));
            }
        }
        return left;
    }
}
