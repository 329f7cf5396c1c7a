package io.sandcell.kernel;

import java.util.function.LongSupplier;

/**
 * How much output one cell may publish: a total cap, and a rate (a token bucket holding up to
 * {@link #BURST_SECONDS} seconds of it). Output past either is dropped, never queued, so a cell that prints
 * without end costs the kernel, the gateway and the client bounded memory. The cell is told the first time
 * output is dropped and, at its end, how much was dropped in all.
 */
final class OutputBudget {
    static final int BURST_SECONDS = 4;

    private final long maxBytes;
    private final long ratePerSecond;
    private final LongSupplier nanos;
    private long total;
    private double tokens;
    private long lastNanos;
    private long droppedBytes;
    private long droppedMessages;
    private boolean notified;
    private boolean capReached;

    /** What to do with one piece of output. */
    enum Verdict { PUBLISH, DROP_AND_NOTIFY, DROP }

    OutputBudget(long maxBytes, long ratePerSecond, LongSupplier nanos) {
        this.maxBytes = maxBytes;
        this.ratePerSecond = ratePerSecond;
        this.nanos = nanos;
        this.tokens = (double) ratePerSecond * BURST_SECONDS;
        this.lastNanos = nanos.getAsLong();
    }

    Verdict offer(long bytes) {
        long now = nanos.getAsLong();
        tokens = Math.min((double) ratePerSecond * BURST_SECONDS, tokens + (now - lastNanos) / 1e9 * ratePerSecond);
        lastNanos = now;
        if (total + bytes <= maxBytes && tokens >= bytes) {
            tokens -= bytes;
            total += bytes;
            return Verdict.PUBLISH;
        }
        droppedBytes += bytes;
        droppedMessages++;
        if (notified) {
            return Verdict.DROP;
        }
        notified = true;
        capReached = total + bytes > maxBytes;
        return Verdict.DROP_AND_NOTIFY;
    }

    /** The notice published when dropping starts. */
    String startNotice() {
        return capReached
                ? "\n[sandcell] this cell reached its output limit of " + maxBytes + " bytes "
                + "(--max-output-mb); further output is dropped.\n"
                : "\n[sandcell] output is arriving faster than " + ratePerSecond + " bytes/s "
                + "(--output-rate-kb); output is dropped whenever it is faster.\n";
    }

    /** The closing summary, or null when nothing was dropped. */
    String summary() {
        if (droppedBytes == 0) {
            return null;
        }
        return "[sandcell] " + droppedBytes + " bytes of output in " + droppedMessages
                + " message(s) were dropped by the kernel's output limits.\n";
    }

    long droppedBytes() {
        return droppedBytes;
    }
}
