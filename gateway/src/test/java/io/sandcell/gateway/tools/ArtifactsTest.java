package io.sandcell.gateway.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArtifactsTest {
    private static final Instant T0 = Instant.parse("2026-12-06T00:00:00Z");

    private static final class MovableClock extends Clock {
        Instant now = T0;

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private final MovableClock clock = new MovableClock();
    private final Artifacts store = new Artifacts(Duration.ofSeconds(60), 1000, clock);

    private String put(String owner, int bytes) {
        return store.putImage(owner, "image/png", new byte[bytes]).orElseThrow();
    }

    @Test
    void oneUsersPlotsNeverTakeALighterUsersLinks() {
        String alices = put("alice", 200);
        List<String> bobs = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            bobs.add(put("bob", 100));
        }
        assertTrue(store.image(alices).isPresent(), "alice's image outlived bob's fifty");
        assertEquals(800, store.imageBytes("bob"), "bob gave up his own oldest to stay within the store");
        assertTrue(store.image(bobs.get(49)).isPresent() && store.image(bobs.get(0)).isEmpty());
        // the biggest holder gives way first, whoever adds
        String carols = put("carol", 300);
        assertTrue(store.image(alices).isPresent() && store.image(carols).isPresent());
        assertEquals(500, store.imageBytes("bob"));
    }

    @Test
    void imagesExpireAndAnImageLargerThanTheStoreIsRefused() {
        String id = put("alice", 100);
        assertTrue(store.putImage("alice", "image/png", new byte[1001]).isEmpty());
        clock.now = T0.plusSeconds(61);
        assertTrue(store.image(id).isEmpty());
        assertEquals(0, store.imageBytes("alice"));
        put("bob", 1000);
        assertEquals(1000, store.imageBytes("bob"), "the expired image's bytes were given back");
    }
}
