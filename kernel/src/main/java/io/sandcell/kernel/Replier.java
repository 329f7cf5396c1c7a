package io.sandcell.kernel;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.WireCodec;
import java.util.List;
import org.zeromq.ZMQ;

/**
 * Sends messages on the kernel's sockets with the kernel's session and signing. The iopub socket is shared
 * by the shell and control threads, so sends on it are serialized; each ROUTER socket is only used by its
 * own thread.
 */
final class Replier {
    static final String USERNAME = "kernel";

    private final WireCodec codec;
    private final ZMQ.Socket iopub;
    private final String topicPrefix;
    private final String session = Header.newId();
    private boolean iopubClosed;

    Replier(WireCodec codec, ZMQ.Socket iopub, String kernelId) {
        this.codec = codec;
        this.iopub = iopub;
        this.topicPrefix = "kernel." + kernelId + ".";
    }

    Message message(String msgType, Message parent, ObjectNode content) {
        return Message.create(Header.create(msgType, session, USERNAME), parent, content);
    }

    /** Replies to a request on the socket it came in on, routed by the request's identities. */
    void reply(ZMQ.Socket socket, Message request, String msgType, ObjectNode content) {
        send(socket, message(msgType, request, content));
    }

    void send(ZMQ.Socket socket, Message message) {
        sendFrames(socket, codec.encode(message));
    }

    /** Publishes on iopub with the topic {@code kernel.<id>.<msg_type>}. */
    void publish(String msgType, Message parent, ObjectNode content) {
        Message m = message(msgType, parent, content);
        byte[] topic = (topicPrefix + msgType).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        List<byte[]> frames = codec.encode(m.withIdentities(List.of(topic)));
        synchronized (iopub) {
            if (!iopubClosed) {
                sendFrames(iopub, frames);
            }
        }
    }

    /** Closes iopub; later publications are dropped. */
    void closeIopub() {
        synchronized (iopub) {
            iopubClosed = true;
            iopub.close();
        }
    }

    void status(String state, Message parent) {
        publish("status", parent, io.sandcell.protocol.Json.object().put("execution_state", state));
    }

    private static void sendFrames(ZMQ.Socket socket, List<byte[]> frames) {
        for (int i = 0; i < frames.size(); i++) {
            socket.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
        }
    }
}
