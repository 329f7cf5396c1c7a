package io.sandcell.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoginThrottleTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final LoginThrottle throttle = new LoginThrottle(now::get);

    private void advanceMs(long ms) {
        now.addAndGet(ms * 1_000_000);
    }

    @Test
    void freeFailuresThenWaitsThatDoubleUpToTheMost() {
        for (int i = 0; i < LoginThrottle.FREE_FAILURES; i++) {
            assertEquals(0, throttle.waitMs("a"));
            throttle.failed("a");
        }
        assertEquals(0, throttle.waitMs("a"), "the free failures cost nothing");
        long expected = LoginThrottle.FIRST_WAIT_MS;
        for (int i = 0; i < 12; i++) {
            throttle.failed("a");
            assertEquals(expected, throttle.waitMs("a"));
            advanceMs(expected - 1);
            assertEquals(1, throttle.waitMs("a"));
            advanceMs(1);
            assertEquals(0, throttle.waitMs("a"));
            expected = Math.min(LoginThrottle.MAX_WAIT_MS, expected * 2);
        }
        assertEquals(LoginThrottle.MAX_WAIT_MS, expected);
    }

    @Test
    void otherAddressesAreNeverSlowedAndSuccessOrTimeClears() {
        for (int i = 0; i < 10; i++) {
            throttle.failed("guesser");
        }
        assertEquals(0, throttle.waitMs("rightful"));
        throttle.succeeded("guesser");
        assertEquals(0, throttle.waitMs("guesser"));
        for (int i = 0; i < 10; i++) {
            throttle.failed("guesser");
        }
        advanceMs(LoginThrottle.FORGET_MS + 1);
        assertEquals(0, throttle.waitMs("guesser"));
        throttle.failed("guesser");
        assertEquals(0, throttle.waitMs("guesser"), "a forgotten address starts with its free failures");
    }
}
