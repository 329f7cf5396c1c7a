package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CappedLogTest {
    @TempDir
    Path tmp;

    /** A stream of n bytes that counts how many were read from it. */
    private static final class Counted extends InputStream {
        final long size;
        long read;

        Counted(long size) {
            this.size = size;
        }

        @Override
        public int read() {
            if (read >= size) {
                return -1;
            }
            read++;
            return 'x';
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (read >= size) {
                return -1;
            }
            int n = (int) Math.min(len, size - read);
            java.util.Arrays.fill(b, off, off + n, (byte) 'x');
            read += n;
            return n;
        }
    }

    @Test
    void keepsTheBoundAndReadsTheRestToTheEnd() throws IOException {
        Path log = tmp.resolve("s.log");
        Counted in = new Counted(10L << 20);
        CappedLog.copy(in, log, 4096);
        assertEquals(10L << 20, in.read, "everything was read, so the writer never stalls");
        String text = Files.readString(log);
        assertTrue(text.startsWith("x".repeat(4096) + "\n[sandcell] this log reached its limit of 4096 bytes"), text);
        assertTrue(Files.size(log) < 4096 + 200, "size " + Files.size(log));
    }

    @Test
    void whatTheFileHoldsCountsAndAFullFileGrowsNoMore() throws IOException {
        Path log = tmp.resolve("s.log");
        Files.writeString(log, "a".repeat(100));
        CappedLog.copy(new ByteArrayInputStream("b".repeat(100).getBytes(StandardCharsets.UTF_8)), log, 150);
        assertTrue(Files.readString(log).startsWith("a".repeat(100) + "b".repeat(50) + "\n[sandcell]"));
        long full = Files.size(log);
        Counted more = new Counted(1 << 20);
        CappedLog.copy(more, log, 150);
        assertEquals(full, Files.size(log));
        assertEquals(1 << 20, more.read);
    }

    @Test
    void aFileThatCannotBeWrittenStillDrainsThePipe() {
        Counted in = new Counted(1 << 20);
        CappedLog.copy(in, tmp.resolve("no/such/dir/s.log"), 4096);
        assertEquals(1 << 20, in.read);
    }
}
