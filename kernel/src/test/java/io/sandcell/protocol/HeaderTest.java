package io.sandcell.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HeaderTest {
    private static final DateTimeFormatter REFERENCE =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    @Test
    void datesAreIsoUtcWithMicrosecondsLikeJupyterServer() {
        assertEquals("1970-01-01T00:00:00.000000Z", Header.format(Instant.EPOCH));
        assertEquals("2026-12-01T09:05:07.000042Z", Header.format(Instant.parse("2026-12-01T09:05:07.000042789Z")));
        assertEquals("2099-12-31T23:59:59.999999Z", Header.format(Instant.parse("2099-12-31T23:59:59.999999999Z")));
        Random random = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            Instant t = Instant.ofEpochSecond(random.nextLong(4_102_444_800L), random.nextInt(1_000_000_000));
            assertEquals(REFERENCE.format(t), Header.format(t), t.toString());
        }
    }

    @Test
    void idsAre32HexDigitsAndDistinct() {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String id = Header.newId();
            assertTrue(id.matches("[0-9a-f]{32}"), id);
            ids.add(id);
        }
        assertEquals(1000, ids.size());
        assertNotEquals(Header.newId(), Header.newId());
    }
}
