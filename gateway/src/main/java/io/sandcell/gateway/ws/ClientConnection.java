package io.sandcell.gateway.ws;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.kernels.KernelClient;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * One websocket attached to one kernel. Frames from the client are held until the kernel is ready, then
 * forwarded in order; messages from the kernel are framed as the client's protocol asks. Writes happen on
 * the websocket's own event-loop context.
 *
 * <p>Memory per client is bounded: output (streams and displays) that arrives while the client is not
 * keeping up (more than {@link #MAX_QUEUED} messages waiting, or the socket's write queue full) is dropped,
 * and once the queue drains the client gets a stderr notice saying how many messages were lost. Status
 * messages, replies, results and errors are never dropped.
 */
final class ClientConnection implements KernelClient {
    private static final Logger LOG = Logger.getLogger(ClientConnection.class.getName());

    private final ServerWebSocket ws;
    private final Context context;
    private final ManagedKernel kernel;
    private final String session;
    private final boolean v1;
    private final int maxOutgoing;
    /** Output messages waiting for the event loop beyond which more output is dropped. */
    static final int MAX_QUEUED = 1000;
    /** The socket's write queue, bytes. */
    static final int WRITE_QUEUE_BYTES = 8 << 20;
    private final List<WsFrames.Incoming> held = new ArrayList<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong dropped = new AtomicLong();
    private volatile Message lastDropped;
    private boolean ready;
    private boolean closed;
    private long pingTimer = -1;
    private final OutboundBudget budget;
    /** Bytes written to this client and not yet sent; event loop only. */
    private long pendingBytes;
    private Runnable whenClosed = () -> { };

    ClientConnection(ServerWebSocket ws, Context context, ManagedKernel kernel, String session, int maxOutgoing,
                     OutboundBudget budget) {
        this.ws = ws;
        this.budget = budget;
        this.context = context;
        this.kernel = kernel;
        this.session = session;
        this.v1 = WsFrames.V1.equals(ws.subProtocol());
        this.maxOutgoing = maxOutgoing;
    }

    @Override
    public String session() {
        return session;
    }

    /**
     * Attaches the client to its kernel.
     *
     * @param pingMs how often to ping the client, so that a quiet kernel's websocket outlives the idle timeout
     * @param whenClosed run once the websocket has closed
     */
    void start(long pingMs, Runnable whenClosed) {
        this.whenClosed = whenClosed;
        budget.clientOpened();
        pingTimer = context.owner().setPeriodic(pingMs, id -> {
            if (!closed) {
                ws.writePing(Buffer.buffer());
            }
        });
        ws.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
        ws.drainHandler(v -> reportDropped());
        ws.textMessageHandler(this::onText);
        ws.binaryMessageHandler(this::onBinary);
        ws.closeHandler(v -> onClosed());
        ws.exceptionHandler(e -> LOG.fine("websocket error on kernel " + kernel.id() + ": " + e.getMessage()));
        kernel.attach(this);
        kernel.whenReady().onComplete(r -> context.runOnContext(v -> {
            ready = true;
            if (r.failed()) {
                deliver(Channel.IOPUB, status("dead"));
                String reason = r.cause() != null ? r.cause().getMessage() : "the kernel failed to start";
                held.forEach(in -> answerDead(in, reason));
                held.clear();
                return;
            }
            held.forEach(this::forward);
            held.clear();
        }));
    }

    private void onText(String text) {
        try {
            accept(WsFrames.parseText(text));
        } catch (ProtocolException e) {
            LOG.warning("kernel " + kernel.id() + ": ignored a websocket message: " + e.getMessage());
        }
    }

    private void onBinary(Buffer b) {
        try {
            accept(v1 ? WsFrames.parseV1(b) : WsFrames.parseLegacyBinary(b));
        } catch (ProtocolException e) {
            LOG.warning("kernel " + kernel.id() + ": ignored a websocket message: " + e.getMessage());
        }
    }

    private void accept(WsFrames.Incoming in) {
        if (ready) {
            forward(in);
        } else {
            held.add(in);
        }
    }

    private void forward(WsFrames.Incoming in) {
        String dead = kernel.deathReason();
        if (dead != null) {
            answerDead(in, dead);
            return;
        }
        kernel.send(this, in.channel(), in.message());
    }

    /**
     * Answers a request that no kernel will: an error reply, and for an execute request also the error and
     * the busy/idle pair on iopub, so that a client reading until idle (Open WebUI) ends at once with the
     * cause instead of waiting for its timeout.
     */
    private void answerDead(WsFrames.Incoming in, String reason) {
        Message request = in.message();
        String type = request.msgType();
        if (in.channel() == Channel.IOPUB || !type.endsWith("_request")) {
            return;
        }
        String evalue = "the kernel is dead: " + reason;
        boolean execute = type.equals("execute_request");
        if (execute) {
            write(Channel.IOPUB, parented("status", request, Json.object().put("execution_state", "busy")));
            ObjectNode error = Json.object().put("ename", "KernelDied").put("evalue", evalue);
            error.putArray("traceback").add("KernelDied: " + evalue);
            write(Channel.IOPUB, parented("error", request, error));
        }
        ObjectNode reply = Json.object().put("status", "error").put("ename", "KernelDied").put("evalue", evalue);
        reply.putArray("traceback").add("KernelDied: " + evalue);
        if (execute) {
            reply.put("execution_count", 0);
        }
        String replyType = type.substring(0, type.length() - "_request".length()) + "_reply";
        write(in.channel(), parented(replyType, request, reply));
        if (execute) {
            write(Channel.IOPUB, parented("status", request, Json.object().put("execution_state", "idle")));
        }
    }

    private static Message parented(String type, Message parent, ObjectNode content) {
        return Message.create(Header.create(type, parent.session(), "gateway"), parent, content);
    }

    @Override
    public void deliver(Channel channel, Message message) {
        boolean droppable = droppable(channel, message);
        if (droppable && queued.get() >= MAX_QUEUED) {
            drop(message);
            return;
        }
        queued.incrementAndGet();
        context.runOnContext(v -> {
            queued.decrementAndGet();
            if (droppable && (ws.writeQueueFull() || budget.overShare(pendingBytes))) {
                drop(message);
                return;
            }
            reportDropped(); // before this message: the client may stop reading at the next idle
            write(channel, message);
        });
    }

    /** Output that may be dropped under pressure: streams and displays, never status, replies or errors. */
    static boolean droppable(Channel channel, Message message) {
        return channel == Channel.IOPUB && switch (message.msgType()) {
            case "stream", "display_data", "update_display_data", "clear_output" -> true;
            default -> false;
        };
    }

    private void drop(Message message) {
        dropped.incrementAndGet();
        lastDropped = message;
    }

    /** Tells the client how many output messages it lost, once there is room again. Event loop only. */
    private void reportDropped() {
        long n = dropped.getAndSet(0);
        Message last = lastDropped;
        if (n == 0 || last == null || closed) {
            return;
        }
        String text = "\n[sandcell] " + n + " output message(s) were dropped because this client was not reading "
                + "them fast enough.\n";
        write(Channel.IOPUB, new Message(List.of(), Header.create("stream", last.session(), "gateway").toJson(),
                last.parentHeader(), Json.object(), Json.object().put("name", "stderr").put("text", text),
                List.of()));
    }

    private void write(Channel channel, Message message) {
        if (closed) {
            return;
        }
        if (v1) {
            Buffer b = WsFrames.toV1(channel, message);
            if (b.length() > maxOutgoing) {
                write(channel, tooLarge(message, b.length()));
                return;
            }
            counted(b.length(), ws.writeBinaryMessage(b));
        } else if (message.buffers().isEmpty()) {
            String text = WsFrames.toLegacyText(channel, message);
            if (text.length() > maxOutgoing) {
                write(channel, tooLarge(message, text.length()));
                return;
            }
            counted(text.length(), ws.writeTextMessage(text));
        } else {
            Buffer b = WsFrames.toLegacyBinary(channel, message);
            if (b.length() > maxOutgoing) {
                write(channel, tooLarge(message, b.length()));
                return;
            }
            counted(b.length(), ws.writeBinaryMessage(b));
        }
    }

    /** Counts a write against the client's and the gateway's outbound bytes until the socket has taken it. */
    private void counted(long bytes, Future<Void> written) {
        budget.add(bytes);
        pendingBytes += bytes;
        written.onComplete(r -> {
            budget.release(bytes);
            pendingBytes -= bytes;
        });
    }

    /** Replaces an oversized message with a stderr notice to the same parent: never dropped silently. */
    private Message tooLarge(Message original, long size) {
        String text = "[sandcell] a " + original.msgType() + " message of " + size + " bytes exceeded the "
                + "gateway's limit of " + maxOutgoing + " bytes (--max-iopub-message-mb) and was not delivered.\n";
        return new Message(List.of(), Header.create("stream", original.session(), "gateway").toJson(),
                original.parentHeader(), Json.object(), Json.object().put("name", "stderr").put("text", text),
                List.of());
    }

    private Message status(String state) {
        return Message.create(Header.create("status", session, "gateway"), null,
                Json.object().put("execution_state", state));
    }

    private void onClosed() {
        closed = true;
        context.owner().cancelTimer(pingTimer);
        budget.clientClosed();
        kernel.detach(this);
        whenClosed.run();
    }

    @Override
    public void close(String reason) {
        context.runOnContext(v -> {
            if (!closed) {
                closed = true;
                ws.close((short) 1000, reason.length() > 100 ? reason.substring(0, 100) : reason);
            }
        });
    }
}
