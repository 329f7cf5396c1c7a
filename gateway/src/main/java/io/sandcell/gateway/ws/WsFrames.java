package io.sandcell.gateway.ws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The kernel websocket's framings, in both directions:
 * <ul>
 *   <li>legacy JSON text: the message plus {@code channel}, and top-level {@code msg_id} and {@code msg_type}
 *       on frames to the client (Open WebUI reads {@code msg_type} there);</li>
 *   <li>legacy binary, for messages with buffers: big-endian u32 count and offsets, the JSON, the buffers;</li>
 *   <li>{@code v1.kernel.websocket.jupyter.org}: little-endian u64 offsets, then channel, the four JSON parts
 *       and the buffers.</li>
 * </ul>
 */
public final class WsFrames {
    /** The subprotocol of the v1 binary framing. */
    public static final String V1 = "v1.kernel.websocket.jupyter.org";
    /** Most parts a v1 frame may carry (channel, four JSON parts, buffers). */
    static final int MAX_PARTS = 1024;

    private WsFrames() {}

    /** A client message and the channel it is for. */
    public record Incoming(Channel channel, Message message) {}

    /**
     * Parses a legacy JSON text frame. A missing channel means shell.
     *
     * @throws ProtocolException for bad JSON, a bad header or an unknown channel
     */
    public static Incoming parseText(String text) {
        ObjectNode o = Json.parseObject(text, "websocket message");
        Message m = fromJson(o, List.of());
        return new Incoming(channel(o.path("channel").asText("shell")), m);
    }

    /**
     * Parses a legacy binary frame (JSON part plus buffers).
     *
     * @throws ProtocolException for malformed offsets or content
     */
    public static Incoming parseLegacyBinary(Buffer b) {
        if (b.length() < 8) {
            throw new ProtocolException("binary frame too short");
        }
        long nbufs = b.getUnsignedInt(0);
        if (nbufs < 1 || nbufs > MAX_PARTS || 4 * (nbufs + 1) > b.length()) {
            throw new ProtocolException("binary frame has a bad part count " + nbufs);
        }
        List<byte[]> parts = slices(b, (int) nbufs, i -> b.getUnsignedInt(4 + 4 * i), b.length());
        ObjectNode o = Json.parseObject(parts.get(0), "websocket message");
        Message m = fromJson(o, parts.subList(1, parts.size()));
        return new Incoming(channel(o.path("channel").asText("shell")), m);
    }

    /**
     * Parses a v1 binary frame.
     *
     * @throws ProtocolException for malformed offsets or content
     */
    public static Incoming parseV1(Buffer b) {
        if (b.length() < 8) {
            throw new ProtocolException("v1 frame too short");
        }
        long n = b.getLongLE(0);
        if (n < 6 || n > MAX_PARTS || 8 * (n + 1) > b.length()) {
            throw new ProtocolException("v1 frame has a bad offset count " + n);
        }
        // n offsets delimit n-1 parts: channel, header, parent, metadata, content, buffers...
        List<byte[]> parts = slicesV1(b, (int) n);
        String channel = new String(parts.get(0), StandardCharsets.UTF_8);
        Message m = new Message(List.of(), Json.parseObject(parts.get(1), "header"),
                Json.parseObject(parts.get(2), "parent_header"), Json.parseObject(parts.get(3), "metadata"),
                Json.parseObject(parts.get(4), "content"), parts.subList(5, parts.size()));
        Header.from(m.header());
        return new Incoming(channel(channel), m);
    }

    private interface Offset {
        long at(int i);
    }

    private static List<byte[]> slices(Buffer b, int count, Offset offset, int end) {
        List<byte[]> parts = new ArrayList<>(count);
        long prev = -1;
        for (int i = 0; i < count; i++) {
            long start = offset.at(i);
            long stop = i + 1 < count ? offset.at(i + 1) : end;
            if (start < prev || start > stop || stop > end || start < 0) {
                throw new ProtocolException("binary frame has bad offsets");
            }
            parts.add(b.getBytes((int) start, (int) stop));
            prev = start;
        }
        return parts;
    }

    private static List<byte[]> slicesV1(Buffer b, int n) {
        List<byte[]> parts = new ArrayList<>(n - 1);
        long headerEnd = 8L * (n + 1);
        for (int i = 0; i < n - 1; i++) {
            long start = b.getLongLE(8 + 8 * i);
            long stop = b.getLongLE(8 + 8 * (i + 1));
            if (start < headerEnd || start > stop || stop > b.length()) {
                throw new ProtocolException("v1 frame has bad offsets");
            }
            parts.add(b.getBytes((int) start, (int) stop));
        }
        return parts;
    }

    private static Channel channel(String name) {
        Channel c = Channel.parse(name).orElseThrow(() -> new ProtocolException("unknown channel " + name));
        if (c == Channel.IOPUB || c == Channel.HB) {
            throw new ProtocolException("clients cannot send on " + name);
        }
        return c;
    }

    private static ObjectNode obj(ObjectNode o, String field) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            return Json.object();
        }
        if (!v.isObject()) {
            throw new ProtocolException(field + " must be a JSON object");
        }
        return (ObjectNode) v;
    }

    private static Message fromJson(ObjectNode o, List<byte[]> buffers) {
        ObjectNode header = obj(o, "header");
        Header.from(header);
        List<byte[]> bufs = new ArrayList<>(buffers);
        if (bufs.isEmpty() && o.get("buffers") instanceof ArrayNode arr) {
            for (JsonNode b : arr) {
                if (b.isTextual()) {
                    try {
                        bufs.add(Base64.getDecoder().decode(b.asText()));
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException("buffers must be base64 strings");
                    }
                }
            }
        }
        return new Message(List.of(), header, obj(o, "parent_header"), obj(o, "metadata"), obj(o, "content"),
                bufs);
    }

    /** The legacy JSON of a message to the client (without buffers). */
    public static ObjectNode toJson(Channel channel, Message m) {
        ObjectNode o = Json.object();
        o.set("header", m.header());
        o.put("msg_id", m.msgId());
        o.put("msg_type", m.msgType());
        o.set("parent_header", m.parentHeader());
        o.set("metadata", m.metadata());
        o.set("content", m.content());
        o.put("channel", channel.wireName());
        return o;
    }

    /** A legacy text frame: only for messages without buffers. */
    public static String toLegacyText(Channel channel, Message m) {
        ObjectNode o = toJson(channel, m);
        o.putArray("buffers");
        return Json.text(o);
    }

    /** A legacy binary frame, for messages with buffers. */
    public static Buffer toLegacyBinary(Channel channel, Message m) {
        byte[] json = Json.bytes(toJson(channel, m));
        int nbufs = 1 + m.buffers().size();
        Buffer out = Buffer.buffer();
        out.appendUnsignedInt(nbufs);
        long offset = 4L * (nbufs + 1);
        out.appendUnsignedInt(offset);
        offset += json.length;
        for (byte[] buf : m.buffers()) {
            out.appendUnsignedInt(offset);
            offset += buf.length;
        }
        out.appendBytes(json);
        m.buffers().forEach(out::appendBytes);
        return out;
    }

    /** A v1 binary frame. */
    public static Buffer toV1(Channel channel, Message m) {
        List<byte[]> parts = new ArrayList<>();
        parts.add(channel.wireName().getBytes(StandardCharsets.UTF_8));
        parts.add(Json.bytes(m.header()));
        parts.add(Json.bytes(m.parentHeader()));
        parts.add(Json.bytes(m.metadata()));
        parts.add(Json.bytes(m.content()));
        parts.addAll(m.buffers());
        int n = parts.size() + 1;
        Buffer out = Buffer.buffer();
        out.appendLongLE(n);
        long offset = 8L * (n + 1);
        for (byte[] p : parts) {
            out.appendLongLE(offset);
            offset += p.length;
        }
        out.appendLongLE(offset);
        parts.forEach(out::appendBytes);
        return out;
    }
}
