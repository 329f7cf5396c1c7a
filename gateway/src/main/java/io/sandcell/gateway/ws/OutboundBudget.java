package io.sandcell.gateway.ws;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes written to all kernel websockets and not yet taken by their clients. Each client's own queue is
 * bounded, but hundreds of clients that do not read would each fill theirs. Once this budget is used up, a
 * client holding its share of it or more (the budget over the clients connected) gets no more output until it
 * reads: its output is dropped with a notice, as when its own queue is full, while clients that keep up, which
 * hold less, still get theirs. Statuses, replies and errors are never dropped.
 */
public final class OutboundBudget {
    private final long maxBytes;
    private final AtomicLong pending = new AtomicLong();
    private final AtomicInteger clients = new AtomicInteger();

    public OutboundBudget(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** Whether a client holding this many unsent bytes gets no more output for now. */
    boolean overShare(long clientPending) {
        return pending.get() >= maxBytes && clientPending >= maxBytes / Math.max(1, clients.get());
    }

    void clientOpened() {
        clients.incrementAndGet();
    }

    void clientClosed() {
        clients.decrementAndGet();
    }

    void add(long bytes) {
        pending.addAndGet(bytes);
    }

    void release(long bytes) {
        pending.addAndGet(-bytes);
    }

    /** Bytes written and not yet sent, for /metrics. */
    public long pending() {
        return pending.get();
    }
}
