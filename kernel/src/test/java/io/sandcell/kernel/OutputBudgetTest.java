package io.sandcell.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.kernel.OutputBudget.Verdict;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class OutputBudgetTest {
    private final AtomicLong clock = new AtomicLong();

    @Test
    void burstThenRateThenRecovery() {
        OutputBudget b = new OutputBudget(1 << 30, 1000, clock::get);
        assertEquals(Verdict.PUBLISH, b.offer(OutputBudget.BURST_SECONDS * 1000));
        assertEquals(Verdict.DROP_AND_NOTIFY, b.offer(10));
        assertTrue(b.startNotice().contains("faster than 1000 bytes/s"), b.startNotice());
        assertEquals(Verdict.DROP, b.offer(10));
        clock.addAndGet(1_000_000_000L); // one second refills 1000 bytes
        assertEquals(Verdict.PUBLISH, b.offer(900));
        assertEquals(Verdict.DROP, b.offer(200), "the notice comes once per cell");
        assertEquals(220, b.droppedBytes());
        assertTrue(b.summary().contains("220 bytes of output in 3 message(s)"), b.summary());
    }

    @Test
    void totalCap() {
        OutputBudget b = new OutputBudget(100, 1 << 20, clock::get);
        assertNull(b.summary());
        assertEquals(Verdict.PUBLISH, b.offer(100));
        clock.addAndGet(10_000_000_000L);
        assertEquals(Verdict.DROP_AND_NOTIFY, b.offer(1));
        assertTrue(b.startNotice().contains("output limit of 100 bytes"), b.startNotice());
        assertEquals(Verdict.DROP, b.offer(1));
    }
}
