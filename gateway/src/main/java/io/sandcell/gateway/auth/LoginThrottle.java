package io.sandcell.gateway.auth;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Slows password guessing at {@code POST /login}, per client address: the first {@link #FREE_FAILURES}
 * failures cost nothing, and each one after them makes the address wait twice as long as the last before its
 * next attempt is even checked, from {@link #FIRST_WAIT_MS} up to {@link #MAX_WAIT_MS}. Other addresses are
 * never slowed, so a guesser cannot lock the rightful user out; a login that succeeds, or
 * {@link #FORGET_MS} without a failure, clears the address.
 */
final class LoginThrottle {
    static final int FREE_FAILURES = 5;
    static final long FIRST_WAIT_MS = 500;
    static final long MAX_WAIT_MS = 30_000;
    static final long FORGET_MS = 15 * 60_000;
    /** The most addresses remembered; the least recently seen is forgotten first. */
    static final int MAX_CLIENTS = 10_000;

    private record Failures(int count, long lastNanos, long nextNanos) {}

    private final LongSupplier clock;
    private final Map<String, Failures> clients = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Failures> eldest) {
            return size() > MAX_CLIENTS;
        }
    };

    /** @param clock nanoseconds, as {@link System#nanoTime()} */
    LoginThrottle(LongSupplier clock) {
        this.clock = clock;
    }

    /** How long the address must still wait before an attempt is checked, in milliseconds; 0 when it may try. */
    synchronized long waitMs(String client) {
        Failures f = current(client);
        return f == null ? 0 : Math.max(0, (f.nextNanos() - clock.getAsLong() + 999_999) / 1_000_000);
    }

    /** Records a failed attempt of the address. */
    synchronized void failed(String client) {
        long now = clock.getAsLong();
        Failures f = current(client);
        int count = f == null ? 1 : f.count() + 1;
        long waitMs = count <= FREE_FAILURES ? 0
                : Math.min(MAX_WAIT_MS, FIRST_WAIT_MS << Math.min(20, count - FREE_FAILURES - 1));
        clients.put(client, new Failures(count, now, now + waitMs * 1_000_000));
    }

    /** A successful login: the address starts afresh. */
    synchronized void succeeded(String client) {
        clients.remove(client);
    }

    private Failures current(String client) {
        Failures f = clients.get(client);
        if (f != null && clock.getAsLong() - f.lastNanos() > FORGET_MS * 1_000_000) {
            clients.remove(client);
            return null;
        }
        return f;
    }
}
