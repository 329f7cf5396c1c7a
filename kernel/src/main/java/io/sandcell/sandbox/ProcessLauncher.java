package io.sandcell.sandbox;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Starts sandbox processes from one long-lived platform thread. {@code setpriv --pdeathsig KILL} ties a
 * sandbox to the thread that forked it, so that thread must live as long as the process does: when the JVM
 * dies, every sandbox it started is killed with it.
 */
public final class ProcessLauncher implements AutoCloseable {
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "sandbox-launcher");
        t.setDaemon(true);
        return t;
    });

    /** Starts the process on the launcher thread. */
    public Process start(ProcessBuilder builder) throws IOException {
        try {
            return thread.submit(builder::start).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + builder.command().get(0), e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("starting " + builder.command().get(0) + ": " + e.getCause(), e.getCause());
        }
    }

    @Override
    public void close() {
        thread.shutdown();
    }
}
