package io.sandcell.gateway.ws;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.ProtocolException;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class WsFramesTest {
    private static Message sample(List<byte[]> buffers) {
        return Message.create(Header.create("comm_msg", "s", "u"), null, Json.object().put("comm_id", "c"))
                .withBuffers(buffers);
    }

    @Test
    void legacyTextHasTopLevelFieldsAndParsesBack() throws Exception {
        Message m = sample(List.of());
        String text = WsFrames.toLegacyText(Channel.IOPUB, m);
        var json = Json.mapper().readTree(text);
        assertEquals("comm_msg", json.get("msg_type").asText());
        assertEquals(m.msgId(), json.get("msg_id").asText());
        assertEquals("iopub", json.get("channel").asText());
        assertEquals(0, json.get("buffers").size());
        WsFrames.Incoming in = WsFrames.parseText(text.replace("\"iopub\"", "\"shell\""));
        assertEquals(Channel.SHELL, in.channel());
        assertEquals(m.msgId(), in.message().msgId());
    }

    @Test
    void legacyBinaryAndV1RoundTripBuffers() {
        Message m = sample(List.of(new byte[] {1, 2}, new byte[0], new byte[] {3}));
        Buffer legacy = WsFrames.toLegacyBinary(Channel.SHELL, m);
        assertEquals(4, legacy.getUnsignedInt(0));
        WsFrames.Incoming a = WsFrames.parseLegacyBinary(legacy);
        assertEquals(3, a.message().buffers().size());
        assertArrayEquals(new byte[] {3}, a.message().buffers().get(2));
        Buffer v1 = WsFrames.toV1(Channel.CONTROL, m);
        WsFrames.Incoming b = WsFrames.parseV1(v1);
        assertEquals(Channel.CONTROL, b.channel());
        assertArrayEquals(new byte[] {1, 2}, b.message().buffers().get(0));
        assertEquals(m.content(), b.message().content());
    }

    @Test
    void v1WorkedExampleFromTheSpec() {
        Buffer v1 = WsFrames.toV1(Channel.SHELL, sample(List.of()));
        assertEquals(6, v1.getLongLE(0));
        assertEquals(56, v1.getLongLE(8));
        assertEquals(61, v1.getLongLE(16));
        assertEquals(v1.length(), v1.getLongLE(48));
    }

    @Test
    void badFramesAreProtocolErrors() {
        assertThrows(ProtocolException.class, () -> WsFrames.parseText("{nope"));
        assertThrows(ProtocolException.class, () -> WsFrames.parseText("{\"header\":{}}"));
        assertThrows(ProtocolException.class, () -> WsFrames.parseText(
                "{\"header\":{\"msg_id\":\"a\",\"msg_type\":\"b\"},\"channel\":\"iopub\"}"));
        assertThrows(ProtocolException.class, () -> WsFrames.parseText(
                "{\"header\":{\"msg_id\":\"a\",\"msg_type\":\"b\"},\"content\":[]}"));
        assertThrows(ProtocolException.class, () -> WsFrames.parseLegacyBinary(Buffer.buffer(new byte[3])));
        assertThrows(ProtocolException.class, () -> WsFrames.parseV1(Buffer.buffer().appendLongLE(1L << 40)));
    }

    @Property(tries = 1000)
    void arbitraryBytesNeverBreakTheParsers(@ForAll byte[] bytes) {
        for (int kind = 0; kind < 3; kind++) {
            try {
                switch (kind) {
                    case 0 -> WsFrames.parseLegacyBinary(Buffer.buffer(bytes));
                    case 1 -> WsFrames.parseV1(Buffer.buffer(bytes));
                    default -> WsFrames.parseText(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
                }
            } catch (ProtocolException expected) {
                // the only permitted failure
            }
        }
    }

    @Property(tries = 300)
    void corruptedOffsetsNeverBreakTheParsers(@ForAll long offset, @ForAll int slot) {
        Buffer v1 = WsFrames.toV1(Channel.SHELL, sample(List.of(new byte[] {9})));
        int i = Math.floorMod(slot, 8);
        v1.setLongLE(8L * i < v1.length() ? 8 * i : 0, offset);
        try {
            WsFrames.parseV1(v1);
        } catch (ProtocolException expected) {
            // fine
        }
        Buffer legacy = WsFrames.toLegacyBinary(Channel.SHELL, sample(List.of(new byte[] {9})));
        legacy.setUnsignedInt(4 * Math.floorMod(slot, 3), offset);
        try {
            WsFrames.parseLegacyBinary(legacy);
        } catch (ProtocolException expected) {
            // fine
        }
    }
}
