package io.sandcell.kernel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Paths and helpers the integration tests share: the built kernel jar, the Python scripts, processes. */
final class TestEnv {
    static final String PYTHON = "/usr/bin/python3";

    private TestEnv() {}

    static Path kernelJar() {
        return Path.of(System.getProperty("sandcell.kernel.jar", "target/kernel.jar")).toAbsolutePath();
    }

    static Path scripts() {
        return Path.of(System.getProperty("sandcell.test.python", "src/test/python")).toAbsolutePath();
    }

    static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** A finished process's exit code and combined output. */
    record Result(int exit, String output) {
        long passes() {
            return output.lines().filter(l -> l.startsWith("PASS ")).count();
        }
    }

    static Result run(List<String> cmd, Map<String, String> env, Path cwd, long timeoutSeconds, String stdin)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).directory(cwd.toFile());
        pb.environment().putAll(env);
        Path out = Files.createTempFile("sandcell-it", ".log");
        pb.redirectOutput(out.toFile());
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
            String text = Files.readString(out);
            throw new AssertionError("timed out after " + timeoutSeconds + " s: " + cmd + "\n" + text);
        }
        String text = Files.readString(out);
        Files.delete(out);
        return new Result(p.exitValue(), text);
    }

    /** Every runsc sandbox still running under the data directory's kernel state roots. */
    static List<String> runningSandboxes(Path dataDir) throws IOException, InterruptedException {
        List<String> running = new ArrayList<>();
        Path kernels = dataDir.resolve("kernels");
        if (!Files.isDirectory(kernels)) {
            return running;
        }
        try (var dirs = Files.list(kernels)) {
            for (Path k : dirs.toList()) {
                Path root = k.resolve("runsc");
                if (!Files.isDirectory(root)) {
                    continue;
                }
                Result r = run(List.of("runsc", "--root=" + root, "list", "--format=json"), Map.of(), dataDir, 30,
                        null);
                if (r.output().contains("\"running\"")) {
                    running.add(k.getFileName() + ": " + r.output());
                }
            }
        }
        return running;
    }
}
