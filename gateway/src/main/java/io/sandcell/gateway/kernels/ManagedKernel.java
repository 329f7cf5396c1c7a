package io.sandcell.gateway.kernels;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.zmq.KernelChannels;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.sandbox.CappedLog;
import io.sandcell.sandbox.Freezer;
import io.sandcell.sandbox.ProcessLauncher;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.zeromq.ZMQ;

/**
 * One kernel: its process, its ZeroMQ channels, its state and the websocket clients attached to it.
 *
 * <p>A kernel is ready once it has answered a {@code kernel_info_request} on shell <em>and</em> an iopub
 * message has arrived on the gateway's subscription (the "nudge", repeated every 500 ms). The subscription
 * lives as long as the kernel, so no client's first output can be lost to ZeroMQ's slow-joiner gap: client
 * frames are held until then.
 */
public final class ManagedKernel implements KernelChannels.Listener {
    private static final Logger LOG = Logger.getLogger(ManagedKernel.class.getName());
    private static final String INTERNAL_SESSION = "sandcell-gateway";
    private static final long NUDGE_MS = 100;

    private final String id;
    private final KernelSpec spec;
    private final Vertx vertx;
    private final ConnectionInfo conn;
    private final Path connectionFile;
    private final Path logFile;
    private final Map<String, String> env;
    private final ProcessLauncher launcher;
    private final KernelChannels channels;
    private final int offlineLimit;
    private final long startTimeoutMs;
    private final Map<String, KernelClient> clients = new ConcurrentHashMap<>();
    private final KernelMetrics metrics;
    private final ClassDataArchive classData;
    private final Deque<Buffered> offline = new ArrayDeque<>();
    private volatile String offlineSession;
    private volatile KernelState state = KernelState.STARTING;
    private volatile String deathReason;
    private volatile Instant lastActivity = Instant.now();
    private volatile Process process;
    /** Whether the running process records the class-data archive: it is given longer to exit. */
    private volatile boolean recordsClassData;
    private volatile Promise<Void> ready;
    private volatile boolean sawReply;
    /** A restart is stopping the old process: its answers count for nothing. */
    private volatile boolean relaunching;
    /** Ready only once the kernel reports its sandbox ready too (pooled kernels: warm means imported). */
    private volatile boolean awaitSandbox;
    private volatile boolean sawIopub;
    /** A pooled kernel's warm-up: a silent execute request sent once it is ready, and its id. */
    private volatile boolean warmSent;
    private volatile String warmMsgId;
    /** The warm-up's idle came: the kernel has finished it, sandbox included (it may then be frozen). */
    private volatile boolean warmedUp;
    private volatile boolean stopping;
    /** Guards the process's launch and replacement against a shutdown, and the chain of restarts. */
    private final Object processLock = new Object();
    /** The last restart asked for: the next one waits for it. */
    private Future<Void> lastRestart = Future.succeededFuture(); // guarded by processLock
    /** When each client's execute_request was sent, by msg_id, until its reply. */
    private final Map<String, Long> executeSent = new ConcurrentHashMap<>();
    private volatile long launchedNanos;
    /** When a client got this kernel (handed out from the pool, or started for it); 0 while it waits in the pool. */
    private volatile long clientSinceNanos;
    /** When a client's execute request was last answered, or 0 while none has been. */
    private volatile long answeredNanos;
    /**
     * How long after a client's cell is answered a pool refill still waits for that client: long enough for an
     * Open WebUI call's idle, websocket close and delete, which together took 8 to 10 ms longer with a refill
     * launching.
     */
    static final long ANSWERED_GRACE_MS = 50;
    private final Object freezeLock = new Object();
    /** What froze the sandbox while the kernel waits in the pool, or null. */
    private Freezer frozenBy; // guarded by freezeLock
    /** Called (on the I/O thread) when a client's execute request is answered. */
    private final Runnable executeDone;

    ManagedKernel(String id, KernelSpec spec, Vertx vertx, ZMQ.Context zmq, ConnectionInfo conn, Path runtimeDir,
                  Map<String, String> env, ProcessLauncher launcher, int offlineLimit, long startTimeoutMs,
                  KernelMetrics metrics, ClassDataArchive classData, Runnable executeDone) {
        this.metrics = metrics;
        this.executeDone = executeDone;
        this.classData = classData;
        this.id = id;
        this.spec = spec;
        this.vertx = vertx;
        this.conn = conn;
        this.connectionFile = runtimeDir.resolve("kernel-" + id + ".json");
        this.logFile = runtimeDir.resolve("kernel-" + id + ".log");
        this.env = Map.copyOf(env);
        this.launcher = launcher;
        this.offlineLimit = offlineLimit;
        this.startTimeoutMs = startTimeoutMs;
        this.channels = new KernelChannels(zmq, id.substring(0, 8), conn, INTERNAL_SESSION, this);
    }

    public String id() {
        return id;
    }

    public KernelSpec spec() {
        return spec;
    }

    public KernelState state() {
        return state;
    }

    public Instant lastActivity() {
        return lastActivity;
    }

    public int connections() {
        return clients.size();
    }

    /** Why the kernel died, or null while it is alive. */
    public String deathReason() {
        return state == KernelState.DEAD ? deathReason : null;
    }

    /** The model of {@code /api/kernels}. */
    public ObjectNode model() {
        ObjectNode m = Json.object();
        m.put("id", id);
        m.put("name", spec.name());
        m.put("last_activity", Header.format(lastActivity));
        m.put("execution_state", state.wireName());
        m.put("connections", clients.size());
        if (state == KernelState.DEAD && deathReason != null) {
            m.put("reason", deathReason);
        }
        return m;
    }

    /**
     * Like {@link #start()}, but the kernel counts as ready only once its sandbox is up with its preloads
     * imported, as {@code kernel_info_reply}'s {@code sandbox.state} says.
     */
    Future<Void> startWarm() {
        awaitSandbox = true;
        return start();
    }

    /** Writes the connection file and launches the process; the returned future completes when ready. */
    Future<Void> start() {
        ready = Promise.promise();
        Promise<Void> p = ready;
        try {
            conn.write(connectionFile);
            launch();
        } catch (IOException e) {
            fail("starting the kernel process failed: " + e.getMessage());
        }
        return p.future();
    }

    private void launch() throws IOException {
        List<String> argv = new ArrayList<>(List.of("setpriv", "--pdeathsig", "TERM", "--"));
        for (String a : spec.argv()) {
            argv.add(a.replace("{connection_file}", connectionFile.toString()));
        }
        ClassDataArchive.Launch cds = classData == null ? null : classData.launch();
        if (cds != null) {
            argv.addAll(5, cds.flags()); // right after the java command
        }
        // the log goes through a pipe to a capped file: what a kernel logs can follow from what its cells do
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(env);
        sawReply = false;
        sawIopub = false;
        warmSent = false;
        warmedUp = false;
        relaunching = false; // from here on, answers are the new process's
        launchedNanos = System.nanoTime();
        recordsClassData = cds != null && cds.records();
        Process proc;
        try {
            synchronized (processLock) {
                if (stopping) {
                    throw new IOException("the kernel is shutting down");
                }
                proc = launcher.start(pb);
                process = proc;
            }
            String name = "kernel-log-" + id.substring(0, 8);
            CappedLog.drain(proc.getInputStream(), logFile, CappedLog.MAX_BYTES, name);
        } catch (IOException e) {
            if (cds != null) {
                cds.onExit().accept(-1); // no process: give up any recording this launch claimed
            }
            throw e;
        }
        proc.onExit().thenAccept(this::exited);
        if (cds != null) {
            proc.onExit().thenAccept(p -> cds.onExit().accept(p.exitValue()));
        }
        Promise<Void> p = ready;
        nudge(p, launchedNanos);
    }

    /**
     * Sends kernel_info_request until the kernel has answered on shell and iopub. Each launch has its own
     * loop, named by its launch time: a restart during a start ends the start's loop (and its timeout).
     */
    private void nudge(Promise<Void> p, long launched) {
        if (p.future().isComplete() || stopping || launched != launchedNanos) {
            return;
        }
        if (readyToServe()) {
            markReady(p);
            return;
        }
        if ((System.nanoTime() - launched) / 1_000_000 > startTimeoutMs) {
            kill();
            fail("the kernel did not become ready within " + startTimeoutMs / 1000 + " s (log: " + logFile + ")");
            return;
        }
        if (!sawReply || !sawIopub) { // once both came, only the warm-up is awaited: its status must be the last
            sendNudge();
        }
        vertx.setTimer(NUDGE_MS, t -> nudge(p, launched));
    }

    private void sendNudge() {
        channels.send(INTERNAL_SESSION, Channel.SHELL, request("kernel_info_request", Json.object()));
    }

    private void readyCheck() {
        Promise<Void> p = ready;
        if (p == null || p.future().isComplete()) {
            return;
        }
        if (readyToServe()) {
            vertx.runOnContext(v -> markReady(p));
        } else if (sawReply && sawIopub && awaitSandbox && !warmSent) {
            warmSent = true;
            Message warm = request("execute_request", Json.object().put("code", "pass")
                    .put("silent", true).put("store_history", false).put("allow_stdin", false));
            warmMsgId = warm.msgId();
            channels.send(INTERNAL_SESSION, Channel.SHELL, warm);
        }
    }

    /**
     * Whether the kernel may serve clients: it answered on shell and iopub, and a pooled kernel also ran its
     * warm-up. That is one silent execute request (no output, no execution count, no history), so that a
     * client's first cell does not pay for the first pass through the kernel's execute path (about 12 ms).
     */
    private boolean readyToServe() {
        return !relaunching && sawReply && sawIopub && (!awaitSandbox || warmedUp);
    }

    /** Timed before it completes: whoever the start answers (a REST call, then its metrics) sees it counted. */
    private synchronized void markReady(Promise<Void> p) {
        if (p.future().isComplete()) {
            return;
        }
        if (state == KernelState.STARTING || state == KernelState.RESTARTING) {
            state = KernelState.IDLE;
        }
        metrics.startSeconds.observe((System.nanoTime() - launchedNanos) / 1e9);
        p.tryComplete();
    }

    /** Marks a kernel as a client's (a pooled one handed out, or one started for a client): its idle time starts now. */
    void handOut() {
        thawSandbox();
        lastActivity = Instant.now();
        clientSinceNanos = System.nanoTime();
    }

    /**
     * Freezes the kernel's sandbox while it waits in the pool behind another, where it runs nothing: an idle
     * systrap sandbox still takes about 5% of a core. {@link #handOut()} and shutting down thaw it.
     */
    void freezeSandbox(Freezer freezer) {
        synchronized (freezeLock) {
            try {
                if (freezer.freeze(id)) {
                    frozenBy = freezer;
                }
            } catch (IOException e) {
                LOG.fine("kernel " + id + ": freezing its sandbox: " + e.getMessage());
            }
        }
    }

    /** Whether the sandbox is frozen. */
    boolean frozen() {
        synchronized (freezeLock) {
            return frozenBy != null;
        }
    }

    /** Thaws the sandbox if it is frozen. */
    void thawSandbox() {
        synchronized (freezeLock) {
            Freezer f = frozenBy;
            if (f == null) {
                return;
            }
            frozenBy = null;
            try {
                f.thaw(id);
            } catch (IOException e) {
                LOG.warning("kernel " + id + ": thawing its sandbox: " + e.getMessage());
            }
        }
    }

    /**
     * Whether a client is waiting on this kernel: one of its execute requests is unanswered, the kernel became
     * the client's less than {@code firstCellNanos} ago and has not answered one yet (Open WebUI sends its cell
     * right after creating the kernel), or it answered one less than {@link #ANSWERED_GRACE_MS} ago (Open WebUI
     * then reads the idle, closes the websocket and deletes the kernel). Pool refills wait for such kernels, so
     * as not to slow them.
     */
    boolean clientWaiting(long now, long firstCellNanos) {
        if (state == KernelState.DEAD || state == KernelState.STOPPED || state == KernelState.RESTARTING) {
            return false;
        }
        return clientWaiting(!executeSent.isEmpty(), clientSinceNanos, answeredNanos, now, firstCellNanos);
    }

    /**
     * The rule of {@link #clientWaiting(long, long)} on its inputs: a cell is unanswered; or the kernel became
     * the client's at {@code sinceNanos} (0: not a client's) less than {@code firstCellNanos} ago and none was
     * answered ({@code answeredNanos} 0); or the last answer was less than the grace ago.
     */
    static boolean clientWaiting(boolean unanswered, long sinceNanos, long answeredNanos, long now,
            long firstCellNanos) {
        return unanswered || (sinceNanos != 0 && answeredNanos == 0 && now - sinceNanos < firstCellNanos)
                || (answeredNanos != 0 && now - answeredNanos < ANSWERED_GRACE_MS * 1_000_000L);
    }

    /** Completes when the kernel is ready (immediately if it is). */
    public Future<Void> whenReady() {
        Promise<Void> p = ready;
        return p == null ? Future.failedFuture("not started") : p.future();
    }

    private Message request(String type, ObjectNode content) {
        return Message.create(Header.create(type, INTERNAL_SESSION, "gateway"), null, content);
    }

    private void fail(String reason) {
        if (state != KernelState.DEAD) {
            metrics.deaths.increment();
        }
        deathReason = reason;
        state = KernelState.DEAD;
        Promise<Void> p = ready;
        if (p != null) {
            p.tryFail(reason);
        }
        broadcastStatus("dead");
    }

    private void exited(Process proc) {
        if (proc != process || stopping) {
            return;
        }
        String reason = "the kernel process exited with code " + proc.exitValue();
        LOG.warning("kernel " + id + ": " + reason + logTail());
        vertx.runOnContext(v -> {
            if (proc == process && !stopping) {
                fail(reason);
            }
        });
    }

    /** The last lines of the kernel's log, for the gateway's log when it dies (its log file goes with it). */
    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile);
            return "; its log ends:\n    " + String.join("\n    ", lines.subList(Math.max(0, lines.size() - 15),
                    lines.size()));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    // --- messages from the kernel (I/O thread) -------------------------------------------------------

    @Override
    public void onMessage(Channel channel, String session, Message message) {
        lastActivity = Instant.now();
        if (channel == Channel.IOPUB) {
            boolean ours = INTERNAL_SESSION.equals(message.parentHeader().path("session").asText());
            if (!sawIopub && !relaunching && ours
                    && "idle".equals(message.content().path("execution_state").asText())) {
                sawIopub = true; // the nudge's own idle: iopub is live and the kernel is idle
                readyCheck();
            }
            if ("status".equals(message.msgType())) {
                String s = message.content().path("execution_state").asText();
                if (state != KernelState.RESTARTING && state != KernelState.DEAD) {
                    if ("busy".equals(s)) {
                        state = KernelState.BUSY;
                    } else if ("idle".equals(s) && state != KernelState.STARTING) {
                        state = KernelState.IDLE;
                    }
                }
                // also while restarting: a pooled kernel's restart is ready only once its warm-up has run
                if ("idle".equals(s) && warmSent && !warmedUp
                        && message.parentHeader().path("msg_id").asText().equals(warmMsgId)) {
                    warmedUp = true; // its idle, not its reply: only then is the kernel idle again
                    readyCheck();
                }
            }
            if (ours) {
                // the gateway's own requests (nudges, the warm-up) are nobody's: a client that stops reading at its
                // idle must not find a backlog of their statuses (Python's websockets then took 10 s to close)
                return;
            }
            if (clients.isEmpty()) {
                buffer(channel, message);
            } else {
                clients.values().forEach(c -> c.deliver(channel, message));
            }
            return;
        }
        if (INTERNAL_SESSION.equals(session)) {
            if ("kernel_info_reply".equals(message.msgType()) && !sawReply && !relaunching) {
                String sandbox = message.content().path("sandbox").path("state").asText("ready");
                if (awaitSandbox && "dead".equals(sandbox)) {
                    vertx.runOnContext(v -> {
                        kill();
                        fail("the kernel's sandbox failed to start (log: " + logFile + ")");
                    });
                    return;
                }
                if (awaitSandbox && "starting".equals(sandbox)) {
                    return; // the next nudge asks again
                }
                sawReply = true;
                if (!sawIopub) { // iopub was connected on this first reply: ask again soon, not at the next nudge
                    vertx.setTimer(5, t -> {
                        if (!sawIopub && !stopping) {
                            sendNudge();
                        }
                    });
                }
                readyCheck();
            }
            return;
        }
        if ("execute_reply".equals(message.msgType())) {
            Long sent = executeSent.remove(message.parentHeader().path("msg_id").asText());
            if (sent != null) {
                metrics.executeSeconds.observe((System.nanoTime() - sent) / 1e9);
                answeredNanos = System.nanoTime();
                executeDone.run();
            }
        }
        KernelClient c = clients.get(session);
        if (c != null) {
            c.deliver(channel, message);
        } else if (session.equals(offlineSession)) {
            buffer(channel, message);
        }
    }

    private void buffer(Channel channel, Message message) {
        if (offlineSession == null || offlineLimit == 0) {
            return;
        }
        synchronized (offline) {
            offline.addLast(new Buffered(channel, message));
            while (offline.size() > offlineLimit) {
                offline.removeFirst();
            }
        }
    }

    /** A message kept for a client that is away. */
    private record Buffered(Channel channel, Message message) {}

    // --- clients --------------------------------------------------------------------------------------

    /**
     * Attaches a websocket client. A client with the same session replaces the stale one; output buffered
     * while that session was away is replayed.
     */
    public void attach(KernelClient client) {
        KernelClient old = clients.put(client.session(), client);
        if (old != null && old != client) {
            old.close("replaced by a new connection with the same session");
        }
        List<Buffered> replay = new ArrayList<>();
        String abandoned = null;
        synchronized (offline) {
            if (client.session().equals(offlineSession)) {
                replay.addAll(offline);
            } else {
                abandoned = offlineSession;
            }
            offline.clear();
            offlineSession = null;
        }
        if (abandoned != null) {
            channels.closeSession(abandoned);
        }
        replay.forEach(b -> client.deliver(b.channel(), b.message()));
    }

    /**
     * Detaches a client. When it was the last one, its session's sockets stay open and output is buffered for
     * it; otherwise its sockets are closed.
     */
    public void detach(KernelClient client) {
        if (clients.remove(client.session(), client)) {
            if (clients.isEmpty()) {
                synchronized (offline) {
                    offlineSession = client.session();
                }
            } else {
                channels.closeSession(client.session());
            }
        }
    }

    /** Sends a client's message to the kernel, with the client's session as the ZeroMQ identity. */
    public void send(KernelClient client, Channel channel, Message message) {
        lastActivity = Instant.now();
        if ("execute_request".equals(message.msgType())) {
            metrics.executions.increment();
            if (executeSent.size() < 10_000) {
                executeSent.put(message.msgId(), System.nanoTime());
            }
        }
        channels.send(client.session(), channel, message);
    }

    private void broadcastStatus(String executionState) {
        Message m = Message.create(Header.create("status", INTERNAL_SESSION, "gateway"), null,
                Json.object().put("execution_state", executionState));
        clients.values().forEach(c -> c.deliver(Channel.IOPUB, m));
    }

    // --- control ------------------------------------------------------------------------------------

    /** Asks the kernel to interrupt the running cell. */
    public void interrupt() {
        channels.send(INTERNAL_SESSION, Channel.CONTROL, request("interrupt_request", Json.object()));
    }

    /**
     * Restarts: the clients see {@code restarting}; the old process is asked to shut down (and killed if it
     * does not), then a new one starts on the same ports. Restarts of one kernel run one after another, each
     * answered: a second process launched while the first still held the ports would never bind them.
     */
    public Future<Void> restart() {
        Promise<Void> done = Promise.promise();
        Future<Void> previous;
        synchronized (processLock) {
            previous = lastRestart;
            lastRestart = done.future();
        }
        previous.onComplete(r -> restartNow().onComplete(done));
        return done.future();
    }

    private Future<Void> restartNow() {
        if (stopping) {
            return Future.failedFuture("the kernel is shutting down");
        }
        state = KernelState.RESTARTING;
        relaunching = true; // the old process may still answer a nudge: that must not make the restart ready
        deathReason = null;
        executeSent.clear(); // the old process answers none of them
        broadcastStatus("restarting");
        // a restart during the start answers those waiting for the start too: they get the new process
        Promise<Void> p = ready != null && !ready.future().isComplete() ? ready : Promise.promise();
        ready = p;
        launchedNanos = System.nanoTime(); // ends the start's nudge loop now: its deadline is no longer this one's
        Process old;
        synchronized (processLock) {
            old = process;
            process = null; // its exit is expected now
        }
        vertx.executeBlocking(() -> {
            stopProcess(old, true);
            launch();
            return null;
        }, false).onFailure(e -> fail("restarting the kernel failed: " + e.getMessage()));
        return p.future();
    }

    /** Shuts down the process and the channels, closing every client. Blocking; call off the event loop. */
    void shutdownBlocking() {
        thawSandbox(); // a frozen sandbox would not die
        Process proc;
        synchronized (processLock) {
            stopping = true; // a restart under way launches nothing more
            proc = process;
        }
        state = KernelState.STOPPED;
        clients.values().forEach(c -> c.close("kernel shut down"));
        clients.clear();
        stopProcess(proc, false);
        channels.close();
        try {
            Files.deleteIfExists(connectionFile);
            Files.deleteIfExists(logFile);
        } catch (IOException e) {
            LOG.warning("kernel " + id + ": removing files: " + e.getMessage());
        }
    }

    /** Closes the kernel's ZeroMQ channels (idempotent): every kernel's are closed before the context ends. */
    void closeChannels() {
        channels.close();
    }

    private void stopProcess(Process proc, boolean restart) {
        if (proc == null || !proc.isAlive()) {
            return;
        }
        channels.send(INTERNAL_SESSION, Channel.CONTROL, request("shutdown_request",
                Json.object().put("restart", restart)));
        try {
            if (!proc.waitFor(recordsClassData ? 20 : 5, TimeUnit.SECONDS)) {
                proc.destroy();
                if (!proc.waitFor(5, TimeUnit.SECONDS)) {
                    proc.destroyForcibly();
                    proc.waitFor(5, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            proc.destroyForcibly();
        }
    }

    private void kill() {
        Process proc = process;
        if (proc != null) {
            proc.destroyForcibly();
        }
    }

    public boolean alive() {
        Process proc = process;
        return proc != null && proc.isAlive();
    }

    @Override
    public String toString() {
        return "Kernel[" + id + ", " + spec.name() + ", " + state + "]";
    }
}
