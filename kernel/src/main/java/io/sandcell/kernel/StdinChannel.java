package io.sandcell.kernel;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.sandcell.protocol.WireCodec;
import java.util.logging.Logger;
import org.zeromq.ZMQ;

/**
 * The stdin socket: asks the client for input on behalf of a cell and waits for the reply. The wait ends
 * with the reply, or when the control thread signals an interrupt through an in-process socket pair (no
 * polling loop).
 */
final class StdinChannel implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StdinChannel.class.getName());

    private final ZMQ.Socket stdin;
    private final ZMQ.Socket wakeReceiver;
    private final ZMQ.Socket wakeSender;
    private final WireCodec codec;
    private final Replier replier;
    private final ZMQ.Poller poller;

    StdinChannel(ZMQ.Context ctx, ZMQ.Socket stdin, WireCodec codec, Replier replier, String name) {
        this.stdin = stdin;
        this.codec = codec;
        this.replier = replier;
        String endpoint = "inproc://stdin-wake-" + name;
        this.wakeReceiver = ctx.socket(org.zeromq.SocketType.PAIR);
        wakeReceiver.bind(endpoint);
        this.wakeSender = ctx.socket(org.zeromq.SocketType.PAIR);
        wakeSender.connect(endpoint);
        this.poller = ctx.poller(2);
        poller.register(stdin, ZMQ.Poller.POLLIN);
        poller.register(wakeReceiver, ZMQ.Poller.POLLIN);
    }

    /**
     * Sends {@code input_request} to the client that sent {@code parent} and waits for its {@code input_reply}.
     *
     * @return the value, or null if the cell was interrupted while waiting
     */
    String ask(Message parent, String prompt, boolean password) {
        while (wakeReceiver.recv(ZMQ.DONTWAIT) != null) {
            // drop wake-ups that arrived while nobody was waiting
        }
        ObjectNode content = Json.object().put("prompt", prompt).put("password", password);
        replier.send(stdin, replier.message("input_request", parent, content));
        while (true) {
            if (poller.poll(-1) < 0) {
                return null;
            }
            if (poller.pollin(1)) {
                wakeReceiver.recv(0);
                return null;
            }
            if (poller.pollin(0)) {
                java.util.List<byte[]> frames = KernelServer.recvFrames(stdin, 0);
                try {
                    Message reply = codec.decode(frames);
                    if ("input_reply".equals(reply.msgType())) {
                        return reply.content().path("value").asText("");
                    }
                    LOG.warning("ignored " + reply.msgType() + " on stdin");
                } catch (ProtocolException e) {
                    LOG.warning("dropped a message on stdin: " + e.getMessage());
                }
            }
        }
    }

    /** Ends a pending {@link #ask}. Called from the control thread only. */
    void wake() {
        synchronized (wakeSender) {
            wakeSender.send(new byte[] {1}, ZMQ.DONTWAIT);
        }
    }

    @Override
    public void close() {
        poller.close();
        wakeSender.close();
        wakeReceiver.close();
    }
}
