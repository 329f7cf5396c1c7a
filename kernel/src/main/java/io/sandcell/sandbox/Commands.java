package io.sandcell.sandbox;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a host command to completion: stdin from /dev/null, output captured, a time limit, failures as IOException. */
final class Commands {
    /** The most output kept; host commands here print a few lines. */
    private static final int MAX_OUTPUT = 1 << 20;

    private Commands() {}

    /**
     * @param label how the command is named in error messages
     * @return its combined stdout and stderr
     * @throws IOException when it cannot start, times out, is interrupted or exits non-zero (with its output)
     */
    static String run(List<String> cmd, long timeoutSeconds, String label) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        // read on the side, so that the time limit holds even for a command that never closes its output
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getInputStream().readNBytes(MAX_OUTPUT);
            } catch (IOException e) {
                return new byte[0];
            }
        }, Thread.ofPlatform().daemon().name("command-output")::start);
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(label + " timed out after " + timeoutSeconds + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during " + label, e);
        }
        byte[] bytes;
        try {
            bytes = out.get(5, TimeUnit.SECONDS); // a child it left behind may hold the pipe open
        } catch (Exception e) {
            bytes = new byte[0];
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(label + " failed (exit " + p.exitValue() + "): " + text.strip());
        }
        return text;
    }
}
