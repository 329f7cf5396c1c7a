package io.sandcell.kernel;

import io.sandcell.interpreter.DriverSession;
import io.sandcell.sandbox.OciSpec;
import io.sandcell.sandbox.ProcessLauncher;
import io.sandcell.sandbox.Runsc;
import io.sandcell.sandbox.Sandbox;
import io.sandcell.sandbox.SandboxConfig;
import io.sandcell.sandbox.SandboxException;
import io.sandcell.sandbox.SandboxLayout;
import io.sandcell.sandbox.SnapshotStore;
import io.sandcell.sandbox.WorkspaceQuota;
import java.io.IOException;
import java.nio.file.Files;
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
    /** The runsc image inside a published snapshot directory. */
    static final String RUNSC_IMAGE = "runsc";
    private static final Logger LOG = Logger.getLogger(SandboxRunner.class.getName());

    private final KernelConfig config;
    private final Runsc runsc;
    private final ProcessLauncher launcher = new ProcessLauncher();
    private final SandboxLayout layout;
    private final Path workspace;
    private final boolean unmountAtClose;
    private final SnapshotStore snapshots;
    private final String snapshotKey;
    /** The sandboxes' configuration: the kernel's, without the preloads when they are skipped. */
    private final SandboxConfig sandbox;
    private int generation;
    private CompletableFuture<DriverSession> current;
    private DriverSession currentSession;
    private String deathCause;
    private volatile String startedFrom;
    private boolean closed;

    SandboxRunner(KernelConfig config) throws IOException {
        this.config = config;
        SandboxConfig sc = config.sandbox();
        this.runsc = new Runsc(sc.runsc(), config.kernelDir().resolve("runsc"), sc.platform());
        this.layout = SandboxLayout.prepare(sc, SandboxLayout.resource(DRIVER_RESOURCE), DRIVER_NAME);
        this.workspace = config.workspace();
        if (snapshotEligible(config)) {
            this.snapshots = new SnapshotStore(sc.dataDir().resolve("snapshots"));
            String key = imageKey(sc);
            if (!config.preloadCold() && !sc.preload().isEmpty() && snapshots.find(key) == null) {
                LOG.info("no sandbox image with the preloads " + sc.preload() + " yet: starting without them "
                        + "(--preload-cold skip)");
                sc = sc.withPreload(List.of());
                key = imageKey(sc);
            }
            this.snapshotKey = key;
        } else {
            this.snapshots = null;
            this.snapshotKey = null;
        }
        this.sandbox = sc;
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

    /**
     * Whether this kernel's sandboxes start from a checkpoint image: Python sandboxes without a network, when
     * {@code --snapshots} is on. A networked sandbox's state names its own namespace, and Bash starts in
     * a third of a restore's time anyway.
     */
    static boolean snapshotEligible(KernelConfig config) {
        SandboxConfig sc = config.sandbox();
        return config.snapshots() && "python".equals(sc.language()) && !sc.network().egress();
    }

    /** Starts a sandbox in the background, stopping any current one first. */
    synchronized void start() {
        if (closed) {
            return;
        }
        stopCurrent();
        deathCause = null;
        generation++;
        int gen = generation;
        current = CompletableFuture.supplyAsync(() -> {
            try {
                return startSession(gen);
            } catch (SandboxException e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        }, r -> Thread.ofVirtual().name("sandbox-start-" + shortId() + "-" + gen).start(r));
    }

    /**
     * Restores the sandbox from this shape's image when there is one, falling back to a cold start when the
     * restore fails (the image is then discarded); a cold start publishes an image when none exists yet,
     * before its sandbox serves anything. A restore that reads the image's pages directly and fails is tried
     * once more through the page cache before the image is given up.
     */
    private DriverSession startSession(int gen) throws SandboxException {
        SnapshotStore.Image image = snapshots != null ? snapshots.find(snapshotKey) : null;
        if (image != null) {
            boolean direct = snapshots.directRead(image, RUNSC_IMAGE, config.pageReads());
            DriverSession restored = restore(gen, image, direct, "r");
            if (restored == null && direct) {
                restored = restore(gen, image, false, "rc");
                if (restored != null) {
                    snapshots.markCachedOnly(image);
                }
            }
            if (restored != null) {
                return restored;
            }
            LOG.warning("restoring from image " + image.key() + " failed; starting cold and discarding the image");
            snapshots.discard(image);
        }
        DriverSession session = startCold(gen, "");
        if (snapshots != null && !publishImage(session)) {
            // a checkpoint that failed may have left the sandbox stopped: never hand that one out
            session.close();
            session = startCold(gen, "c");
        }
        startedFrom = "cold";
        return session;
    }

    /**
     * Restores a sandbox of this generation from the image.
     *
     * @return the session, or null when the restore failed (logged)
     * @throws SandboxException when a restart or close superseded this generation
     */
    private DriverSession restore(int gen, SnapshotStore.Image image, boolean direct, String suffix)
            throws SandboxException {
        DriverSession session = newSession(gen, suffix);
        String reads = direct ? "direct" : "cached";
        long t0 = System.nanoTime();
        try {
            session.restore(args(), env(config.kernelId()), image.dir().resolve(RUNSC_IMAGE), direct,
                    config.warmUpPlot(), image.readyInfo(), config.kernelId(), sandbox.startTimeoutMs());
            LOG.info("sandbox " + session.sandbox().id() + " restored from image " + image.key() + " in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms (" + reads + " reads, warm-up: "
                    + (config.warmUpPlot() ? "plot" : "cell") + ")");
            startedFrom = "restored";
            return session;
        } catch (SandboxException e) {
            session.close();
            if (isStale(gen)) {
                throw e;
            }
            LOG.warning("restoring from image " + image.key() + " with " + reads + " reads failed: "
                    + e.getMessage());
            return null;
        }
    }

    /** Starts a sandbox of this generation without an image and waits for its driver's ready line. */
    private DriverSession startCold(int gen, String suffix) throws SandboxException {
        DriverSession session = newSession(gen, suffix);
        long t0 = System.nanoTime();
        try {
            session.start(args(), env(config.kernelId()), sandbox.startTimeoutMs());
            LOG.info("sandbox " + session.sandbox().id() + " started cold in " + (System.nanoTime() - t0) / 1_000_000
                    + " ms (driver, ms: " + session.readyInfo().path("startup_ms") + ")");
            return session;
        } catch (SandboxException e) {
            session.close();
            throw e;
        }
    }

    /**
     * Checkpoints a sandbox that has served nothing yet, when no image of its shape exists.
     *
     * @return false when a checkpoint was attempted and failed
     */
    private boolean publishImage(DriverSession session) {
        Path claimed = null;
        try {
            claimed = snapshots.claim(snapshotKey);
            if (claimed == null) {
                return true;
            }
            long t0 = System.nanoTime();
            Path runscImage = Files.createDirectory(claimed.resolve(RUNSC_IMAGE));
            session.checkpoint(runscImage);
            snapshots.publish(snapshotKey, claimed, session.readyInfo());
            LOG.info("published image " + snapshotKey + " of sandbox " + session.sandbox().id() + " in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms");
            return true;
        } catch (IOException e) {
            LOG.warning("could not checkpoint sandbox " + session.sandbox().id() + "; starting a fresh one: "
                    + e.getMessage());
            if (claimed != null) {
                snapshots.release(claimed);
            }
            return claimed == null;
        }
    }

    /** A session for a new sandbox of this generation; fails when a restart or close has superseded it. */
    private synchronized DriverSession newSession(int gen, String suffix) throws SandboxException {
        if (isStale(gen)) {
            throw new SandboxException(closed ? "the kernel is shutting down" : "superseded by a restart");
        }
        String id = shortId() + "-" + gen + suffix;
        DriverSession session = new DriverSession(new Sandbox(id, sandbox, layout, runsc, launcher,
                config.kernelDir(), workspace), DriverSession.maxLineBytes(config.maxOutputBytes()));
        currentSession = session;
        return session;
    }

    private synchronized boolean isStale(int gen) {
        return closed || gen != generation;
    }

    private String shortId() {
        return io.sandcell.sandbox.Freezer.sandboxPrefix(config.kernelId());
    }

    private List<String> args() {
        return List.of("/usr/bin/python3", "-s", "-u", OciSpec.DRIVER_DIR + "/" + DRIVER_NAME);
    }

    /** The key of the image of sandboxes of this configuration. */
    private String imageKey(SandboxConfig sc) {
        return SnapshotStore.key(OciSpec.build(sc, layout, "snapshot", Path.of("/nonexistent"), args(),
                env(sc, null), null, null), sc);
    }

    /** The driver's environment; the kernel id is left out of the image key's spec (null). */
    private List<String> env(String kernelId) {
        return env(sandbox, kernelId);
    }

    private static List<String> env(SandboxConfig sc, String kernelId) {
        List<String> env = new ArrayList<>();
        env.add("SANDCELL_PRELOAD=" + String.join(",", sc.preload()));
        if (kernelId != null) {
            env.add("SANDCELL_KERNEL_ID=" + kernelId);
        }
        env.add("SANDCELL_LANGUAGE=" + sc.language());
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

    /** The sandbox's state as {@code kernel_info_reply} reports it: starting, ready or dead. */
    synchronized String status() {
        if (closed || deathCause != null || current == null
                || (current.isDone() && current.isCompletedExceptionally())) {
            return "dead";
        }
        return current.isDone() ? "ready" : "starting";
    }

    /** How the current sandbox started: {@code restored} from an image, {@code cold}, or null while starting. */
    String startedFrom() {
        return readyNow() == null ? null : startedFrom;
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
        stopCurrent(true);
    }

    /** @param clean whether the driver may exit on its own first (its files flushed), or is killed at once */
    private void stopCurrent(boolean clean) {
        // Closing a sandbox that is still starting makes its start fail; it never runs code.
        if (currentSession != null) {
            if (clean) {
                currentSession.close();
            } else {
                currentSession.discard();
            }
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
        // A workspace removed with the kernel keeps nothing a clean exit would flush: kill the sandbox at once,
        // which takes up to a second off every shutdown (jupyter_client sends SIGTERM 2.5 s after asking).
        stopCurrent(config.keepWorkspace() || config.externalWorkspace() != null);
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
