package io.sandcell.sandbox;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A log file that a child process writes through a pipe, kept to a bound: what comes past the bound is read
 * and dropped, with one line saying so. A child's stderr must never be a host file of its own: a sandbox
 * inherits runsc's stderr, and any cell could then fill the host's disk through it.
 */
public final class CappedLog {
    /** The most a sandbox's log or a kernel's log holds. */
    public static final long MAX_BYTES = 1 << 20;

    private CappedLog() {}

    /**
     * Drains a stream into a file (appended; what the file already holds counts) on a thread of its own, until
     * the stream ends. A platform thread: it must run at once and never wait for a carrier, since the child
     * stalls once its pipe is full, and virtual threads blocked in process waits can hold every carrier.
     *
     * @return the thread, which ends when the stream does
     */
    public static Thread drain(InputStream in, Path file, long maxBytes, String threadName) {
        FileOutputStream out = open(file); // here, not on the thread: whoever removes the file later finds it
        return Thread.ofPlatform().name(threadName).daemon().stackSize(256 << 10)
                .start(() -> copy(in, out, maxBytes));
    }

    /**
     * Copies a stream into a file up to the bound, then reads the rest and drops it. A file that cannot be
     * written ends the copying, never the reading: a pipe nobody reads would stall the child.
     */
    static void copy(InputStream in, Path file, long maxBytes) {
        copy(in, open(file), maxBytes);
    }

    private static void copy(InputStream in, FileOutputStream out, long maxBytes) {
        try (in) {
            long size = out == null ? maxBytes : out.getChannel().size(); // the file may be gone by name
            if (size >= maxBytes) {
                out = close(out); // full already: an earlier sandbox of this id said enough
            }
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out == null) {
                    continue;
                }
                int keep = (int) Math.min(n, maxBytes - size);
                try {
                    out.write(buf, 0, keep);
                    size += keep;
                    if (size >= maxBytes) {
                        out.write(("\n[sandcell] this log reached its limit of " + maxBytes
                                + " bytes; the rest was dropped\n").getBytes(StandardCharsets.UTF_8));
                        out = close(out);
                    }
                } catch (IOException e) {
                    out = close(out);
                }
            }
        } catch (IOException e) {
            // the pipe broke: its writers are gone
        } finally {
            close(out);
        }
    }

    private static FileOutputStream open(Path file) {
        try {
            return new FileOutputStream(file.toFile(), true);
        } catch (IOException e) {
            return null;
        }
    }

    /** Closes the file; returns null, for the caller to forget it. */
    private static FileOutputStream close(FileOutputStream out) {
        if (out != null) {
            try {
                out.close();
            } catch (IOException ignored) {
                // nothing more is written to it
            }
        }
        return null;
    }
}
