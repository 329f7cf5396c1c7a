package io.sandcell.gateway.kernels;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * When pool refills wait for a client's kernel: {@link ManagedKernel#clientWaiting(boolean, long, long, long, long)}.
 */
class ClientWaitingTest {
    private static final long MS = 1_000_000L;
    private static final long FIRST_CELL = 1_000 * MS;
    private static final long T0 = 5_000_000 * MS; // an arbitrary System.nanoTime() origin

    @Test
    void anUnansweredCellIsWaitedForHoweverOld() {
        assertTrue(ManagedKernel.clientWaiting(true, 0, 0, T0, FIRST_CELL));
        assertTrue(ManagedKernel.clientWaiting(true, T0 - 60_000 * MS, T0 - 30_000 * MS, T0, FIRST_CELL));
    }

    @Test
    void aKernelJustHandedOutIsWaitedForUntilItsFirstCellOrTheLimit() {
        long since = T0 - 10 * MS;
        assertTrue(ManagedKernel.clientWaiting(false, since, 0, T0, FIRST_CELL));
        assertTrue(ManagedKernel.clientWaiting(false, since, 0, since + FIRST_CELL - 1, FIRST_CELL));
        assertFalse(ManagedKernel.clientWaiting(false, since, 0, since + FIRST_CELL, FIRST_CELL),
                "a client that never sends a cell holds refills back no longer than the limit");
    }

    @Test
    void anAnswerIsFollowedByTheGraceOnly() {
        long answered = T0 - 1_000 * MS;
        long grace = ManagedKernel.ANSWERED_GRACE_MS * MS;
        assertTrue(grace > 0, "Open WebUI reads the idle and deletes the kernel right after the answer");
        assertTrue(ManagedKernel.clientWaiting(false, answered - 5 * MS, answered, answered + 1, FIRST_CELL));
        assertTrue(ManagedKernel.clientWaiting(false, answered - 5 * MS, answered, answered + grace - 1, FIRST_CELL));
        assertFalse(ManagedKernel.clientWaiting(false, answered - 5 * MS, answered, answered + grace, FIRST_CELL));
        // the first-cell limit no longer applies once a cell was answered: handed out at T0, answered 1 ms later,
        // looked at when the grace is over but well within the first-cell limit
        assertFalse(ManagedKernel.clientWaiting(false, T0, T0 + MS, T0 + MS + grace, FIRST_CELL));
    }

    @Test
    void aKernelNoClientHoldsIsNotWaitedFor() {
        assertFalse(ManagedKernel.clientWaiting(false, 0, 0, T0, FIRST_CELL));
    }
}
