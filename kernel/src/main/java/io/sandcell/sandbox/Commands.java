package io.sandcell.sandbox;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a host command to completion: stdin from /dev/null, output captured, a time limit, failures as IOException. */
final class Commands {
    private Commands() {}

    /**
     * @param label how the command is named in error messages
     * @return its combined stdout and stderr
     * @throws IOException when it cannot start, times out, is interrupted or exits non-zero (with its output)
     */
    static String run(List<String> cmd, long timeoutSeconds, String label) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(label + " timed out");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during " + label, e);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(label + " failed (exit " + p.exitValue() + "): " + text.strip());
        }
        return text;
    }
}
