package io.sandcell.sandbox;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * One gVisor sandbox: an attached {@code runsc run} child whose stdin and stdout are the driver's protocol
 * pipes and whose stderr, which the sandbox inherits and any cell can write to, goes through a pipe to a log
 * file capped at {@link CappedLog#MAX_BYTES}. The sentry's panic reports go to a file of their own that nothing
 * in the sandbox can reach, so that a cell cannot fake its cause of death.
 *
 * <p>Lifecycle: {@code NEW -> STARTING -> RUNNING -> STOPPING -> STOPPED}; a sandbox that exits on its own
 * goes to {@code DEAD}. Methods called in the wrong state fail and name the state.
 */
public final class Sandbox implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Sandbox.class.getName());

    /** The lifecycle states. */
    public enum State { NEW, STARTING, RUNNING, STOPPING, STOPPED, DEAD }

    private static final String OOM_FILE = "memory.oom_control";

    private final String id;
    private final SandboxConfig config;
    private final SandboxLayout layout;
    private final Runsc runsc;
    private final ProcessLauncher launcher;
    private final Path bundle;
    private final Path workspace;
    private final Path log;
    private final Path panicLog;
    private volatile State state = State.NEW;
    private volatile boolean killedByUs;
    private volatile String killReason;
    private EgressNetwork network;
    private Process process;
    private OutputStream stdin;
    private InputStream stdout;

    /**
     * @param dir the per-sandbox directory on the host (bundle and log)
     * @param workspace the host directory mounted at /mnt/data
     */
    public Sandbox(String id, SandboxConfig config, SandboxLayout layout, Runsc runsc, ProcessLauncher launcher,
                   Path dir, Path workspace) {
        this.id = id;
        this.config = config;
        this.layout = layout;
        this.runsc = runsc;
        this.launcher = launcher;
        this.bundle = dir.resolve("bundle-" + id);
        this.workspace = workspace;
        this.log = dir.resolve(id + ".log");
        this.panicLog = dir.resolve(id + ".panic");
    }

    public String id() {
        return id;
    }

    public State state() {
        return state;
    }

    public Path log() {
        return log;
    }

    /** Writes the bundle and launches {@code runsc run}; the caller then reads the driver's ready line. */
    public void start(List<String> args, List<String> env) throws SandboxException {
        launch(args, env, null, false);
    }

    /**
     * Writes the bundle and launches {@code runsc restore} from a checkpoint image taken of a sandbox of the
     * same shape; the restored driver waits for a request and sends no ready line.
     *
     * @param direct read the image's pages with {@code O_DIRECT} ({@link Runsc#restoreCommand})
     */
    public void restore(List<String> args, List<String> env, Path image, boolean direct) throws SandboxException {
        if (config.network().egress()) {
            throw new SandboxException("a sandbox with a network is never restored from an image");
        }
        launch(args, env, image, direct);
    }

    /** Writes the running sandbox's state into an image directory; the sandbox runs on. */
    public void checkpoint(Path image) throws SandboxException {
        if (state != State.RUNNING) {
            throw new SandboxException("cannot checkpoint sandbox " + id + " in state " + state);
        }
        try {
            runsc.checkpoint(id, image);
        } catch (IOException e) {
            throw new SandboxException("checkpointing sandbox " + id + ": " + e.getMessage(), e);
        }
    }

    private synchronized void launch(List<String> args, List<String> env, Path image, boolean direct)
            throws SandboxException {
        if (state != State.NEW) {
            throw new SandboxException("cannot start sandbox " + id + " in state " + state);
        }
        state = State.STARTING;
        try {
            Files.createDirectories(bundle);
            Files.createDirectories(workspace);
            Files.setPosixFilePermissions(workspace, PosixFilePermissions.fromString("rwx------"));
            Files.setAttribute(workspace, "unix:uid", config.uid());
            Files.setAttribute(workspace, "unix:gid", config.uid());
            Path netns = null;
            Path resolvConf = null;
            if (config.network().egress()) {
                network = EgressNetwork.open(config.network(), EgressNetwork.RUN_DIR);
                netns = network.netnsPath();
                resolvConf = bundle.resolve("resolv.conf");
                Files.writeString(resolvConf, config.network().resolvConf(), StandardCharsets.UTF_8);
            }
            ObjectNode spec = OciSpec.build(config, layout, id, workspace, args, env, netns, resolvConf);
            Files.write(bundle.resolve("config.json"), Json.bytes(spec));
            Files.createDirectories(runsc.stateRoot());
            List<String> command = image != null ? runsc.restoreCommand(bundle, id, image, panicLog, direct)
                    : runsc.runCommand(bundle, id, panicLog, network != null);
            process = launcher.start(new ProcessBuilder(command));
            CappedLog.drain(process.getErrorStream(), log, CappedLog.MAX_BYTES, "sandbox-log-" + id);
            stdin = new BufferedOutputStream(process.getOutputStream(), 1 << 16);
            stdout = process.getInputStream();
            state = State.RUNNING;
        } catch (IOException e) {
            state = State.DEAD;
            if (network != null) {
                network.close();
            }
            throw new SandboxException("starting sandbox " + id + ": " + e.getMessage(), e);
        }
    }

    /** The driver's input (buffered: call flush after each request). */
    public OutputStream stdin() {
        return stdin;
    }

    /** The driver's output. */
    public InputStream stdout() {
        return stdout;
    }

    /** Sends SIGINT to the driver, which raises KeyboardInterrupt in the running cell. */
    public void interrupt() throws SandboxException {
        if (state != State.RUNNING) {
            throw new SandboxException("cannot interrupt sandbox " + id + " in state " + state);
        }
        try {
            runsc.kill(id, "INT");
        } catch (IOException e) {
            throw new SandboxException("interrupting sandbox " + id + ": " + e.getMessage(), e);
        }
    }

    /** Kills the sandbox at once; its output pipe then reports end of file. */
    public void kill() {
        kill(null);
    }

    /** Kills the sandbox at once, giving the reason its death cause will report. */
    public void kill(String reason) {
        killReason = reason;
        killedByUs = true;
        try {
            new Freezer(Path.of("/sys/fs/cgroup")).thawSandbox(id); // frozen in the pool, it could not die
        } catch (IOException e) {
            // not frozen, or no freezer: runsc kill below decides
        }
        try {
            runsc.kill(id, "KILL");
        } catch (IOException e) {
            if (process != null) {
                process.destroyForcibly();
            }
        }
    }

    /**
     * Says why the sandbox ended, for a client to read: killed on request, out of memory, a sentry panic,
     * or an exit with its code. Marks the sandbox {@code DEAD} unless it was being stopped.
     */
    public String deathCause() {
        String oom = oomKills();
        if (state == State.RUNNING) {
            state = State.DEAD;
        }
        if (oom != null) {
            return oom;
        }
        Integer exit = null;
        try {
            if (process != null && process.waitFor(2, TimeUnit.SECONDS)) {
                exit = process.exitValue();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (panicked()) {
            return "the gVisor sentry panicked (see " + panicLog + ")";
        }
        if (killedByUs) {
            return killReason != null ? killReason : "the sandbox was killed by the kernel";
        }
        if (exit == null) {
            return "the sandbox closed its output";
        }
        if (exit == 137 || exit == 128 + 9) {
            return "the sandbox was killed (SIGKILL from outside, exit " + exit + ")";
        }
        return "the sandbox exited with code " + exit;
    }

    private String oomKills() {
        String cause = "out of memory: the sandbox reached its memory limit of " + config.memoryMb()
                + " MiB and was killed";
        Path file = Path.of("/sys/fs/cgroup/memory", OciSpec.CGROUP_PARENT, id, OOM_FILE);
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith("oom_kill ") && !line.endsWith(" 0")) {
                    return cause;
                }
            }
        } catch (IOException ignored) {
            // the cgroup is gone already (runsc removes it on exit); ask the kernel log
        }
        return kernelLogMentions("oom_memcg=/" + OciSpec.CGROUP_PARENT + "/" + id + ",") ? cause : null;
    }

    /** Whether the host kernel's log names this text (the OOM killer records the cgroup it acted in). */
    private static boolean kernelLogMentions(String text) {
        try {
            Process p = new ProcessBuilder("dmesg").redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(5, TimeUnit.SECONDS);
            return out.contains(text);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Whether the sentry wrote a panic report: only it can write that file. */
    private boolean panicked() {
        try {
            return Files.size(panicLog) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Stops the sandbox: closes the driver's stdin, waits briefly for a clean exit (so that files a cell left
     * open are flushed), then kills it, and deletes its runsc state and bundle. Idempotent.
     */
    @Override
    public void close() {
        stop(true);
    }

    /**
     * Stops the sandbox at once, without waiting for its driver to exit: for a sandbox whose workspace goes
     * with it, where nothing a clean exit would flush survives anyway. Idempotent.
     */
    public void discard() {
        stop(false);
    }

    private synchronized void stop(boolean clean) {
        if (state == State.STOPPED || state == State.NEW) {
            state = State.STOPPED;
            return;
        }
        state = State.STOPPING;
        long t0 = System.nanoTime();
        String how = "exited";
        try {
            if (process != null) {
                try {
                    stdin.close();
                } catch (IOException ignored) {
                    // the pipe is already broken
                }
                if (!clean || !process.waitFor(1, TimeUnit.SECONDS)) {
                    how = "killed";
                    kill();
                    if (!process.waitFor(5, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        process.waitFor(5, TimeUnit.SECONDS);
                    }
                }
            }
            long t1 = System.nanoTime();
            runsc.delete(id);
            how += " (" + (t1 - t0) / 1_000_000 + " ms), its runsc state was deleted in "
                    + (System.nanoTime() - t1) / 1_000_000 + " ms,";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException ignored) {
            // delete --force fails only when the state is already gone
        } finally {
            try {
                SandboxLayout.deleteTree(bundle);
            } catch (IOException ignored) {
                // left for the next reconciliation
            }
            new SandboxCgroups(Path.of("/sys/fs/cgroup")).remove(id); // runsc leaves them when it was killed
            if (network != null) {
                network.close();
            }
            state = State.STOPPED;
            LOG.info("sandbox " + id + " " + how + " and was removed in " + (System.nanoTime() - t0) / 1_000_000
                    + " ms");
        }
    }

    @Override
    public String toString() {
        return "Sandbox[" + id + ", " + state + "]";
    }
}
