package io.sandcell.interpreter;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads newline-terminated lines from an untrusted stream without ever holding more than a bound: a line longer
 * than {@code maxBytes} fails with {@link TooLongException} once the bound is passed, having buffered no more
 * than the bound and one read. The driver's output comes from inside the sandbox, where any cell can write to
 * it.
 */
final class LineReader {
    private static final int CHUNK = 1 << 16;

    private final InputStream in;
    private final int maxBytes;
    private final byte[] chunk = new byte[CHUNK];
    private int pos;
    private int end;
    private byte[] line = new byte[CHUNK];

    /** A line went past the bound; the stream is then out of step and must not be read further. */
    static final class TooLongException extends IOException {
        TooLongException(int maxBytes) {
            super("a line longer than " + maxBytes + " bytes");
        }
    }

    LineReader(InputStream in, int maxBytes) {
        this.in = in;
        this.maxBytes = maxBytes;
    }

    /**
     * The next line without its newline, decoded as UTF-8; null at the end of the stream (a last line without
     * a newline is dropped: the driver ends every line).
     */
    String readLine() throws IOException {
        int length = 0;
        while (true) {
            if (pos == end) {
                end = in.read(chunk);
                pos = 0;
                if (end <= 0) {
                    end = 0;
                    return null;
                }
            }
            int nl = pos;
            while (nl < end && chunk[nl] != '\n') {
                nl++;
            }
            int n = nl - pos;
            if ((long) length + n > maxBytes) {
                throw new TooLongException(maxBytes);
            }
            if (length + n > line.length) {
                line = Arrays.copyOf(line, (int) Math.min(maxBytes, Math.max(2L * line.length, length + n)));
            }
            System.arraycopy(chunk, pos, line, length, n);
            length += n;
            pos = nl;
            if (nl < end) {
                pos++; // past the newline
                String text = new String(line, 0, length, StandardCharsets.UTF_8);
                if (line.length > 4 * CHUNK) {
                    line = new byte[CHUNK]; // a large event's buffer is not kept for the kernel's life
                }
                return text;
            }
        }
    }
}
