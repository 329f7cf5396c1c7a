package io.sandcell.protocol;

import java.util.LinkedHashSet;
import java.util.Iterator;

/**
 * Remembers the most recent signatures and rejects a message whose signature was seen before, as
 * jupyter_client's {@code digest_history} does. Bounded: the oldest entries are forgotten first.
 */
public final class ReplayGuard {
    /** jupyter_client's default {@code digest_history_size}. */
    public static final int DEFAULT_CAPACITY = 1 << 16;

    private final int capacity;
    private final LinkedHashSet<String> seen = new LinkedHashSet<>();

    public ReplayGuard(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.capacity = capacity;
    }

    /**
     * Records a signature.
     *
     * @throws SignatureException if it was already recorded
     */
    public synchronized void check(String signature) {
        if (signature.isEmpty()) {
            return; // unsigned sessions have nothing to compare
        }
        if (!seen.add(signature)) {
            throw new SignatureException("duplicate signature (replayed message)");
        }
        if (seen.size() > capacity) {
            Iterator<String> oldest = seen.iterator();
            oldest.next();
            oldest.remove();
        }
    }

    public synchronized int size() {
        return seen.size();
    }
}
