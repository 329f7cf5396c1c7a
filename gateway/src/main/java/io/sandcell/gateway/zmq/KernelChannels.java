package io.sandcell.gateway.zmq;

import io.sandcell.protocol.Channel;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.sandcell.protocol.ReplayGuard;
import io.sandcell.protocol.WireCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Logger;
import org.zeromq.SocketType;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * The ZeroMQ connection to one kernel. Every socket belongs to one I/O thread; other threads hand it work
 * through a queue and wake it with an in-process socket, so nothing polls on a timer. Each client session
 * gets its own shell, control and stdin dealers, which share one identity, so the kernel's replies and input
 * requests reach the client that asked. Until the kernel has answered the gateway's own first request, only
 * the dealer that request goes on is connected; then the iopub subscription, the gateway's control dealer
 * and a set of dealers for the first client session are (connecting three dealers to a kernel that has just
 * been handed out took about 15 ms of its first cell). Messages to the kernel are signed here; messages from
 * it are verified (and replay-checked) before they reach the listener.
 */
public final class KernelChannels implements AutoCloseable {
    /** Receives verified messages from the kernel, on the I/O thread. */
    public interface Listener {
        /**
         * @param session the client session the reply is for, or null for iopub
         */
        void onMessage(Channel channel, String session, Message message);
    }

    private static final Logger LOG = Logger.getLogger(KernelChannels.class.getName());
    private static final List<Channel> CLIENT_CHANNELS = List.of(Channel.SHELL, Channel.CONTROL, Channel.STDIN);

    private final ZMQ.Context ctx;
    private final ConnectionInfo conn;
    private final WireCodec outgoing;
    private final WireCodec incoming;
    private final Listener listener;
    private final ConcurrentLinkedQueue<Runnable> work = new ConcurrentLinkedQueue<>();
    private final ZMQ.Socket wakeSender;
    private final String name;
    private final String internalSession;
    private final Thread thread;
    private volatile boolean running = true;
    private boolean wakeClosed; // guarded by wakeSender

    // owned by the I/O thread
    private final Map<String, Map<Channel, ZMQ.Socket>> sessions = new HashMap<>();
    private final Map<ZMQ.Socket, String> sessionOf = new HashMap<>();
    private final Map<ZMQ.Socket, Channel> channelOf = new HashMap<>();
    private ZMQ.Poller poller;
    private ZMQ.Socket wakeReceiver;
    private ZMQ.Socket iopub;
    /** Dealers connected ahead for the first client session, or null once taken. */
    private Map<Channel, ZMQ.Socket> spare;

    /**
     * @param internalSession the gateway's own session, which never takes the dealers connected ahead
     */
    public KernelChannels(ZMQ.Context ctx, String name, ConnectionInfo conn, String internalSession,
                          Listener listener) {
        this.ctx = ctx;
        this.conn = conn;
        this.name = name;
        this.internalSession = internalSession;
        this.listener = listener;
        this.outgoing = new WireCodec(conn.signer(), null);
        this.incoming = new WireCodec(conn.signer(), new ReplayGuard(ReplayGuard.DEFAULT_CAPACITY));
        String wake = "inproc://kernel-wake-" + name;
        this.wakeReceiver = ctx.socket(SocketType.PAIR);
        wakeReceiver.bind(wake);
        this.wakeSender = ctx.socket(SocketType.PAIR);
        wakeSender.connect(wake);
        this.thread = Thread.ofPlatform().name("zmq-" + name).daemon().start(this::loop);
    }

    /** Sends a message from a client session on shell, control or stdin. */
    public void send(String session, Channel channel, Message message) {
        if (!CLIENT_CHANNELS.contains(channel)) {
            throw new IllegalArgumentException("cannot send on " + channel.wireName());
        }
        submit(() -> {
            ZMQ.Socket s = dealer(session, channel);
            List<byte[]> frames = outgoing.encode(message.withIdentities(List.of()));
            for (int i = 0; i < frames.size(); i++) {
                s.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
            }
        });
    }

    /** Closes a client session's sockets; later replies to it are dropped by the kernel's router. */
    public void closeSession(String session) {
        submit(() -> {
            Map<Channel, ZMQ.Socket> sockets = sessions.remove(session);
            if (sockets != null) {
                sockets.values().forEach(this::closeSocket);
            }
        });
    }

    private void submit(Runnable r) {
        if (!running) {
            return;
        }
        work.add(r);
        synchronized (wakeSender) {
            if (running) {
                wake();
            }
        }
    }

    /** Wakes the I/O thread; the caller holds the wakeSender lock and the socket is open. */
    private void wake() {
        try {
            wakeSender.send(new byte[] {1}, ZMQ.DONTWAIT);
        } catch (ZMQException e) {
            // the context is closing: the loop sees that itself, and queued work is moot
        }
    }

    /** The session's dealer on that channel, connected on first use (a client session: all three at once). */
    private ZMQ.Socket dealer(String session, Channel channel) {
        Map<Channel, ZMQ.Socket> m = sessions.computeIfAbsent(session, s -> {
            Map<Channel, ZMQ.Socket> sockets;
            if (s.equals(internalSession)) {
                sockets = new EnumMap<>(Channel.class);
            } else if (spare != null) {
                sockets = spare;
                spare = null;
            } else {
                sockets = connectDealers(s, CLIENT_CHANNELS);
            }
            sockets.values().forEach(sock -> sessionOf.put(sock, s));
            return sockets;
        });
        return m.computeIfAbsent(channel, c -> {
            ZMQ.Socket sock = connectDealers(session, List.of(c)).get(c);
            sessionOf.put(sock, session);
            return sock;
        });
    }

    /** Dealers with one identity, connected to the kernel (ZeroMQ connects in the background). */
    private Map<Channel, ZMQ.Socket> connectDealers(String identity, List<Channel> channels) {
        Map<Channel, ZMQ.Socket> m = new EnumMap<>(Channel.class);
        for (Channel c : channels) {
            ZMQ.Socket sock = ctx.socket(SocketType.DEALER);
            sock.setLinger(0);
            sock.setIdentity(identity.getBytes(StandardCharsets.UTF_8));
            sock.connect(conn.endpoint(conn.port(c)));
            poller.register(sock, ZMQ.Poller.POLLIN);
            channelOf.put(sock, c);
            m.put(c, sock);
        }
        return m;
    }

    /**
     * Connects the iopub subscription, the gateway's control dealer and the dealers for the first client
     * session, once the kernel has answered (so is listening). Connecting them while the kernel process was
     * still starting cost JeroMQ's I/O thread a refused connection per socket every 100 ms: about 70 ms of CPU
     * per kernel start.
     */
    private void connectRest() {
        if (iopub != null) {
            return;
        }
        iopub = ctx.socket(SocketType.SUB);
        iopub.setLinger(0);
        iopub.setRcvHWM(0);
        iopub.subscribe(new byte[0]);
        iopub.connect(conn.endpoint(conn.iopubPort()));
        channelOf.put(iopub, Channel.IOPUB);
        poller.register(iopub, ZMQ.Poller.POLLIN);
        spare = connectDealers("client-" + java.util.UUID.randomUUID(), CLIENT_CHANNELS);
        dealer(internalSession, Channel.CONTROL); // interrupts and shutdowns then go on an open connection
    }

    private void closeSocket(ZMQ.Socket s) {
        poller.unregister(s);
        sessionOf.remove(s);
        channelOf.remove(s);
        s.close();
    }

    private void loop() {
        poller = ctx.poller(16);
        poller.register(wakeReceiver, ZMQ.Poller.POLLIN);
        try {
            while (running) {
                if (poller.poll(-1) < 0 && ctx.isClosed()) {
                    // the context is being terminated with these sockets open; polling again would return at
                    // once, for ever, and termination waits for them to close
                    LOG.warning("kernel " + name + ": the ZeroMQ context closed under its open channels");
                    break;
                }
                for (int i = 0; i < poller.getNext(); i++) {
                    ZMQ.Socket s = poller.getSocket(i);
                    if (s == null || !poller.pollin(i)) {
                        continue;
                    }
                    if (s == wakeReceiver) {
                        while (wakeReceiver.recv(ZMQ.DONTWAIT) != null) {
                            // drain wake-ups; the queue holds the work
                        }
                        Runnable r;
                        while ((r = work.poll()) != null) {
                            r.run();
                        }
                    } else {
                        drain(s);
                    }
                }
            }
        } catch (ZMQException e) {
            if (running) {
                LOG.warning("kernel " + name + " channels stopped: " + e.getMessage());
            }
        } finally {
            sessions.values().forEach(m -> m.values().forEach(ZMQ.Socket::close));
            sessions.clear();
            if (spare != null) {
                spare.values().forEach(ZMQ.Socket::close);
            }
            if (iopub != null) {
                iopub.close();
            }
            wakeReceiver.close();
            poller.close();
            if (ctx.isClosed()) {
                stop(); // the context's end waits for every socket, the wake sender too
            }
        }
    }

    /** Marks the channels stopped, wakes the loop so that it ends, and closes the wake sender (once). */
    private void stop() {
        synchronized (wakeSender) {
            running = false; // first: the loop ends at its next wake-up even if waking it fails
            if (!wakeClosed) {
                wakeClosed = true;
                wake();
                wakeSender.close();
            }
        }
    }

    private void drain(ZMQ.Socket s) {
        while (true) {
            byte[] first = s.recv(ZMQ.DONTWAIT);
            if (first == null) {
                return;
            }
            List<byte[]> frames = new ArrayList<>();
            frames.add(first);
            while (s.hasReceiveMore()) {
                frames.add(s.recv(0));
            }
            Channel channel = channelOf.get(s);
            String session = sessionOf.get(s);
            if (channel != Channel.IOPUB && session == null) {
                continue; // on the dealers connected ahead, before any session took them: nobody asked
            }
            connectRest(); // the kernel answered: it listens
            try {
                Message m = incoming.decode(frames);
                listener.onMessage(channel, session, m);
            } catch (ProtocolException e) {
                LOG.warning("kernel " + name + ": dropped a message on " + channel.wireName() + ": "
                        + e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.WARNING, "kernel " + name + ": listener failed", e);
            }
        }
    }

    /** Stops the I/O thread and closes every socket. */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        stop();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
