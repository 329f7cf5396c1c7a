package io.sandcell.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LineReaderTest {
    private static LineReader reader(String text, int max) {
        return new LineReader(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), max);
    }

    @Test
    void readsLinesAcrossChunksAndDecodesUtf8() throws IOException {
        String longLine = "é".repeat(100_000); // 200,000 bytes: spans several reads
        LineReader r = reader("a\n\n" + longLine + "\nlast without newline", 1 << 20);
        assertEquals("a", r.readLine());
        assertEquals("", r.readLine());
        assertEquals(longLine, r.readLine());
        assertNull(r.readLine(), "a last line without its newline is not an event");
    }

    @Test
    void aLineAtTheBoundIsReadAndOnePastItFails() throws IOException {
        assertEquals("x".repeat(1000), reader("x".repeat(1000) + "\n", 1000).readLine());
        assertThrows(LineReader.TooLongException.class, () -> reader("x".repeat(1001) + "\n", 1000).readLine());
    }

    @Test
    void anEndlessLineFailsOnceTheBoundIsPassedWithoutReadingOn() {
        long[] served = {0};
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                served[0]++;
                return 'A';
            }

            @Override
            public int read(byte[] b, int off, int len) {
                java.util.Arrays.fill(b, off, off + len, (byte) 'A');
                served[0] += len;
                return len;
            }
        };
        LineReader r = new LineReader(endless, 1 << 20);
        assertThrows(LineReader.TooLongException.class, r::readLine);
        assertEquals((1 << 20) + (1 << 16), served[0], "the bound and one read, no more");
    }
}
