package io.sandcell.kernel;

import io.sandcell.interpreter.DriverSession;
import io.sandcell.sandbox.OciSpec;
import io.sandcell.sandbox.ProcessLauncher;
import io.sandcell.sandbox.Runsc;
import io.sandcell.sandbox.Sandbox;
import io.sandcell.sandbox.SandboxConfig;
import io.sandcell.sandbox.SandboxException;
import io.sandcell.sandbox.SandboxLayout;
import io.sandcell.sandbox.WorkspaceQuota;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Owns the kernel's sandbox: starts it in the background, hands it to requests once it is ready, and
 * remembers why it died (later requests fail with that cause; a client restart starts a new kernel process
 * and so a new sandbox). Sandboxes live under the kernel's private runsc root.
 */
final class SandboxRunner implements AutoCloseable {
    static final String DRIVER_RESOURCE = "/io/sandcell/driver/driver.py";
    static final String DRIVER_NAME = "driver.py";
    private static final Logger LOG = Logger.getLogger(SandboxRunner.class.getName());

    private final KernelConfig config;
    private final Runsc runsc;
    private final ProcessLauncher launcher = new ProcessLauncher();
    private final SandboxLayout layout;
    private final Path workspace;
    private final boolean unmountAtClose;
    private int generation;
    private CompletableFuture<DriverSession> current;
    private DriverSession currentSession;
    private String deathCause;
    private boolean closed;

    SandboxRunner(KernelConfig config) throws IOException {
        this.config = config;
        SandboxConfig sc = config.sandbox();
        this.runsc = new Runsc(sc.runsc(), config.kernelDir().resolve("runsc"), sc.platform());
        this.layout = SandboxLayout.prepare(sc, SandboxLayout.resource(DRIVER_RESOURCE), DRIVER_NAME);
        this.workspace = config.workspace();
        int leftovers = runsc.reconcile();
        if (leftovers > 0) {
            LOG.info("removed " + leftovers + " sandbox(es) left by an earlier run of kernel " + config.kernelId());
        }
        if (sc.workspaceMb() > 0) {
            try {
                boolean mounted = WorkspaceQuota.mount(workspace, sc.workspaceMb(), sc.uid());
                // an external workspace belongs to its owner, who unmounts it; our own is ours even when a
                // crashed earlier run of this kernel left it mounted
                this.unmountAtClose = config.externalWorkspace() == null || mounted;
            } catch (IOException e) {
                throw new IOException("the workspace quota (--workspace-mb " + sc.workspaceMb() + ") could not be "
                        + "set up; it needs root and a loop device (--workspace-mb 0 turns it off): "
                        + e.getMessage(), e);
            }
        } else {
            this.unmountAtClose = false;
        }
    }

    Path workspace() {
        return workspace;
    }

    /** Starts a sandbox in the background, stopping any current one first. */
    synchronized void start() {
        if (closed) {
            return;
        }
        stopCurrent();
        deathCause = null;
        generation++;
        String id = shortId() + "-" + generation;
        Sandbox sandbox = new Sandbox(id, config.sandbox(), layout, runsc, launcher, config.kernelDir(), workspace);
        DriverSession session = new DriverSession(sandbox);
        currentSession = session;
        current = CompletableFuture.supplyAsync(() -> {
            try {
                session.start(args(), env(), config.sandbox().startTimeoutMs());
                return session;
            } catch (SandboxException e) {
                session.close();
                throw new IllegalStateException(e.getMessage(), e);
            }
        }, r -> Thread.ofVirtual().name("sandbox-start-" + id).start(r));
    }

    private String shortId() {
        String id = config.kernelId().replace("-", "");
        return "k" + id.substring(0, Math.min(12, id.length()));
    }

    private List<String> args() {
        return List.of("/usr/bin/python3", "-s", "-u", OciSpec.DRIVER_DIR + "/" + DRIVER_NAME);
    }

    private List<String> env() {
        List<String> env = new ArrayList<>();
        env.add("SANDCELL_PRELOAD=" + String.join(",", config.sandbox().preload()));
        env.add("SANDCELL_KERNEL_ID=" + config.kernelId());
        env.add("SANDCELL_LANGUAGE=" + config.sandbox().language());
        return env;
    }

    /**
     * The ready session, waiting for it if it is still starting.
     *
     * @throws SandboxException if it failed to start, or died and was not restarted
     */
    DriverSession await() throws SandboxException {
        CompletableFuture<DriverSession> f;
        synchronized (this) {
            if (closed) {
                throw new SandboxException("the kernel is shutting down");
            }
            if (deathCause != null) {
                throw new SandboxException("the sandbox is dead (" + deathCause + "); restart the kernel");
            }
            f = current;
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException("interrupted while waiting for the sandbox");
        } catch (ExecutionException e) {
            String why = e.getCause() == null ? e.toString() : e.getCause().getMessage();
            synchronized (this) {
                if (f == current && deathCause == null) {
                    deathCause = why;
                }
            }
            throw new SandboxException(why);
        }
    }

    /** The ready session if there is one, without waiting. */
    synchronized DriverSession readyNow() {
        if (current == null || deathCause != null || !current.isDone() || current.isCompletedExceptionally()) {
            return null;
        }
        return current.join();
    }

    /** Records that the current sandbox died; later requests fail with the cause until a restart. */
    synchronized void died(DriverSession session, String cause) {
        if (current != null && current.isDone() && !current.isCompletedExceptionally()
                && current.join() == session) {
            deathCause = cause;
        }
    }

    /** Interrupts the running cell, if a sandbox is up. */
    void interrupt() {
        DriverSession s = readyNow();
        if (s == null) {
            return;
        }
        try {
            s.interrupt();
        } catch (SandboxException e) {
            LOG.log(Level.WARNING, "interrupt failed: " + e.getMessage());
        }
    }

    private void stopCurrent() {
        // Closing a sandbox that is still starting makes its start fail; it never runs code.
        if (currentSession != null) {
            currentSession.close();
        }
        currentSession = null;
        current = null;
    }

    /**
     * Stops the sandbox and removes the kernel's directory. The workspace stays when {@code --keep-workspace}
     * is set, and an external one always stays (its owner removes it); for an external workspace a restart
     * also keeps it mounted, so the new process finds the same files.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopCurrent();
        try {
            runsc.reconcile();
        } catch (IOException e) {
            LOG.warning("cleaning up sandboxes: " + e.getMessage());
        }
        boolean ownWorkspace = config.externalWorkspace() == null;
        boolean keepWork = config.keepWorkspace();
        try {
            if (unmountAtClose && ownWorkspace) {
                WorkspaceQuota.unmount(workspace);
            }
            if (keepWork || !ownWorkspace) {
                try (var entries = java.nio.file.Files.list(config.kernelDir())) {
                    for (Path p : entries.toList()) {
                        if (!p.equals(workspace) && !p.equals(WorkspaceQuota.image(workspace))) {
                            SandboxLayout.deleteTree(p);
                        }
                    }
                }
                if (!ownWorkspace) {
                    java.nio.file.Files.deleteIfExists(config.kernelDir());
                }
            } else {
                SandboxLayout.deleteTree(config.kernelDir());
            }
        } catch (java.nio.file.NoSuchFileException ignored) {
            // nothing was created
        } catch (IOException e) {
            LOG.warning("removing the kernel directory: " + e.getMessage());
        }
        launcher.close();
    }
}
