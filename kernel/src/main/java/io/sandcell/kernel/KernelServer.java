package io.sandcell.kernel;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.interpreter.DriverSession;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.sandcell.protocol.ReplayGuard;
import io.sandcell.protocol.WireCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.zeromq.SocketType;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * The kernel's five sockets and their threads. Shell requests run one at a time on the shell thread; the
 * control thread answers interrupt and shutdown even while a cell runs; the heartbeat thread echoes.
 *
 * <p>Lifecycle: construct (binds every socket), {@link #start()}, then {@link #awaitShutdown()} returns after
 * a {@code shutdown_request}; {@link #close()} stops the sandbox and the sockets.
 */
public final class KernelServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KernelServer.class.getName());
    /** How long closing sockets may still deliver what is queued (the shutdown reply, the last idle). */
    private static final int LINGER_MS = 1000;

    private final KernelConfig config;
    private final ZMQ.Context ctx = ZMQ.context(1);
    private final WireCodec codec;
    private final ZMQ.Socket shell;
    private final ZMQ.Socket control;
    private final ZMQ.Socket stdinSocket;
    private final ZMQ.Socket iopub;
    private final ZMQ.Socket hb;
    private final Replier replier;
    private final StdinChannel stdin;
    private final SandboxRunner runner;
    private final ShellHandler shellHandler;
    private final CountDownLatch shutdown = new CountDownLatch(1);
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    private final CountDownLatch closedDone = new CountDownLatch(1);

    public KernelServer(KernelConfig config, ConnectionInfo conn) throws java.io.IOException {
        this.config = config;
        this.codec = new WireCodec(conn.signer(), new ReplayGuard(ReplayGuard.DEFAULT_CAPACITY));
        // Bound first: a client connecting meanwhile (the gateway, at launch) is accepted and its requests wait,
        // instead of being refused every 100 ms while the workspace and sandbox layout are prepared.
        this.shell = bind(SocketType.ROUTER, conn, Channel.SHELL);
        this.control = bind(SocketType.ROUTER, conn, Channel.CONTROL);
        this.stdinSocket = bind(SocketType.ROUTER, conn, Channel.STDIN);
        this.iopub = bind(SocketType.PUB, conn, Channel.IOPUB);
        this.hb = bind(SocketType.REP, conn, Channel.HB);
        try {
            this.runner = new SandboxRunner(config);
        } catch (java.io.IOException | RuntimeException e) {
            for (ZMQ.Socket socket : List.of(shell, control, stdinSocket, iopub, hb)) {
                socket.setLinger(0);
                socket.close();
            }
            ctx.term();
            throw e;
        }
        this.replier = new Replier(codec, iopub, config.kernelId());
        this.stdin = new StdinChannel(ctx, stdinSocket, codec, replier, config.kernelId());
        this.shellHandler = new ShellHandler(runner, replier, shell, stdin, this::kernelInfo, this::shutdownRequest,
                this::drainShell, () -> new OutputBudget(config.maxOutputBytes(), config.outputRateBytes(),
                        System::nanoTime), config.cellTimeoutSeconds() * 1000L);
    }

    private ZMQ.Socket bind(SocketType type, ConnectionInfo conn, Channel channel) {
        ZMQ.Socket s = ctx.socket(type);
        s.setLinger(LINGER_MS);
        if (type == SocketType.ROUTER) {
            s.setRouterHandover(true);
        }
        if (type == SocketType.PUB) {
            s.setSndHWM(100_000);
        }
        String endpoint = conn.endpoint(conn.port(channel));
        try {
            s.bind(endpoint);
        } catch (ZMQException e) {
            throw new ZMQException("binding " + channel.wireName() + " to " + endpoint + ": " + e.getMessage(),
                    e.getErrorCode());
        }
        return s;
    }

    /** Starts the sandbox in the background and the socket threads. */
    public void start() {
        runner.start();
        threads.add(Thread.ofPlatform().name("shell").start(this::shellLoop));
        threads.add(Thread.ofPlatform().name("control").start(this::controlLoop));
        threads.add(Thread.ofPlatform().name("heartbeat").start(this::heartbeatLoop));
        replier.status("starting", null);
    }

    /** Blocks until a client asks the kernel to shut down (without restart). */
    public void awaitShutdown() throws InterruptedException {
        shutdown.await();
    }

    /** Interrupts the running cell, as an {@code interrupt_request} does (used for SIGINT). */
    public void interrupt() {
        runner.interrupt();
        stdin.wake();
    }

    private ObjectNode kernelInfo() {
        DriverSession s = runner.readyNow();
        boolean bash = "bash".equals(config.sandbox().language());
        String key = bash ? "language_version" : "python_version";
        String version = s != null && s.readyInfo().hasNonNull(key) ? s.readyInfo().get(key).asText()
                : bash ? "5" : KernelInfo.guessPythonVersion(config.sandbox().rootfs());
        ObjectNode info = KernelInfo.content(config.sandbox(), version);
        ((ObjectNode) info.path("sandbox")).put("state", runner.status()).put("start", runner.startedFrom());
        ObjectNode limits = (ObjectNode) info.path("sandbox").path("limits");
        limits.put("max_output_mb", config.maxOutputBytes() >> 20);
        limits.put("output_rate_kb", config.outputRateBytes() >> 10);
        limits.put("cell_timeout_s", config.cellTimeoutSeconds());
        return info;
    }

    private void shellLoop() {
        try {
            while (!stopping) {
                Message msg = receive(shell, 0);
                if (msg != null) {
                    try {
                        shellHandler.handle(msg);
                    } catch (RuntimeException e) {
                        LOG.log(Level.SEVERE, "handling " + msg.msgType() + " failed", e);
                    }
                }
            }
        } catch (ZMQException e) {
            if (e.getErrorCode() != ZMQ.Error.ETERM.getCode()) {
                LOG.log(Level.SEVERE, "shell loop failed", e);
            }
        } finally {
            stdin.close();
            stdinSocket.close();
            shell.close();
        }
    }

    /** Messages already queued on the shell socket, read without waiting. */
    private List<Message> drainShell() {
        List<Message> out = new ArrayList<>();
        while (true) {
            List<byte[]> frames = recvFrames(shell, ZMQ.DONTWAIT);
            if (frames == null) {
                return out;
            }
            Message m = decode(frames, "shell");
            if (m != null) {
                out.add(m);
            }
        }
    }

    private void controlLoop() {
        try {
            while (!stopping) {
                Message msg = receive(control, 0);
                if (msg == null) {
                    continue;
                }
                switch (msg.msgType()) {
                    case "shutdown_request" -> shutdownRequest(msg);
                    case "interrupt_request" -> {
                        replier.status("busy", msg);
                        interrupt();
                        replier.reply(control, msg, "interrupt_reply", ShellHandler.ok());
                        replier.status("idle", msg);
                    }
                    case "kernel_info_request" -> {
                        replier.status("busy", msg);
                        replier.reply(control, msg, "kernel_info_reply", kernelInfo());
                        replier.status("idle", msg);
                    }
                    default -> {
                        String type = msg.msgType();
                        if (type.endsWith("_request")) {
                            replier.reply(control, msg, type.replace("_request", "_reply"),
                                    ShellHandler.error("UnknownMessageType", "this kernel does not handle " + type));
                        }
                    }
                }
            }
        } catch (ZMQException e) {
            if (e.getErrorCode() != ZMQ.Error.ETERM.getCode()) {
                LOG.log(Level.SEVERE, "control loop failed", e);
            }
        } finally {
            control.close();
        }
    }

    /**
     * Replies and ends the process, as the messaging spec asks for both {@code restart} values: a client
     * restarting the kernel starts a new process, which brings a fresh sandbox.
     */
    private void shutdownRequest(Message msg) {
        boolean restart = msg.content().path("restart").asBoolean(false);
        ObjectNode content = Json.object().put("status", "ok").put("restart", restart);
        replier.status("busy", msg);
        ZMQ.Socket socket = Thread.currentThread().getName().equals("shell") ? shell : control;
        replier.reply(socket, msg, "shutdown_reply", content);
        replier.publish("shutdown_reply", msg, content.deepCopy());
        replier.status("idle", msg);
        stopping = true;
        shutdown.countDown();
    }

    private void heartbeatLoop() {
        try {
            while (!stopping) {
                List<byte[]> frames = recvFrames(hb, 0);
                if (frames == null) {
                    continue;
                }
                for (int i = 0; i < frames.size(); i++) {
                    hb.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
                }
            }
        } catch (ZMQException e) {
            if (e.getErrorCode() != ZMQ.Error.ETERM.getCode()) {
                LOG.log(Level.SEVERE, "heartbeat loop failed", e);
            }
        } finally {
            hb.close();
        }
    }

    private Message receive(ZMQ.Socket socket, int flags) {
        List<byte[]> frames = recvFrames(socket, flags);
        return frames == null ? null : decode(frames, Thread.currentThread().getName());
    }

    private Message decode(List<byte[]> frames, String where) {
        try {
            return codec.decode(frames);
        } catch (ProtocolException e) {
            LOG.warning("dropped a message on " + where + ": " + e.getMessage());
            return null;
        }
    }

    /** Reads one multipart message; null if none is waiting with DONTWAIT. */
    static List<byte[]> recvFrames(ZMQ.Socket socket, int flags) {
        byte[] first = socket.recv(flags);
        if (first == null) {
            return null;
        }
        List<byte[]> frames = new ArrayList<>();
        frames.add(first);
        while (socket.hasReceiveMore()) {
            frames.add(socket.recv(0));
        }
        return frames;
    }

    /**
     * Stops the sandbox, then the sockets and their threads. A second call (the shutdown hook, when SIGTERM
     * arrives during a shutdown) waits for the first to finish, so that the JVM does not exit halfway through
     * removing the sandbox and the workspace mount.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            try {
                if (!closedDone.await(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    LOG.warning("the kernel's shutdown is still running after 20 s; exiting anyway");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        long t0 = System.nanoTime();
        try {
            stopping = true;
            runner.close();
            replier.closeIopub();
            ctx.term();
            for (Thread t : threads) {
                try {
                    t.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        } finally {
            closedDone.countDown();
            LOG.info("kernel " + config.kernelId() + " stopped in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
    }
}
