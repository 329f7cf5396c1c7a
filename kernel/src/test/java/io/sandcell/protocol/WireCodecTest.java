package io.sandcell.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class WireCodecTest {
    private final Signer signer = Signer.create("hmac-sha256", "test-key");

    private Message sample() {
        return Message.create(Header.create("execute_request", "s", "u"), null,
                Json.object().put("code", "print('ü')"));
    }

    @Test
    void encodeDecodeRoundTripKeepsIdentitiesAndBuffers() {
        WireCodec codec = new WireCodec(signer, new ReplayGuard(8));
        Message m = sample().withIdentities(List.of(new byte[] {1, 2})).withBuffers(List.of(new byte[] {9}));
        Message back = codec.decode(codec.encode(m));
        assertEquals(m.msgId(), back.msgId());
        assertEquals("print('ü')", back.content().get("code").asText());
        assertArrayEquals(new byte[] {1, 2}, back.identities().get(0));
        assertArrayEquals(new byte[] {9}, back.buffers().get(0));
    }

    @Test
    void replayedMessageIsRejected() {
        WireCodec codec = new WireCodec(signer, new ReplayGuard(8));
        List<byte[]> frames = codec.encode(sample());
        codec.decode(frames);
        SignatureException e = assertThrows(SignatureException.class, () -> codec.decode(frames));
        assertEquals("duplicate signature (replayed message)", e.getMessage());
    }

    @Test
    void replayGuardIsBounded() {
        ReplayGuard g = new ReplayGuard(3);
        for (int i = 0; i < 10; i++) {
            g.check("sig" + i);
        }
        assertEquals(3, g.size());
        g.check("sig0"); // forgotten long ago, accepted again
    }

    @Test
    void tamperedAndMissingSignaturesAreRejected() {
        WireCodec codec = new WireCodec(signer, new ReplayGuard(8));
        List<byte[]> frames = new ArrayList<>(codec.encode(sample()));
        List<byte[]> tampered = new ArrayList<>(frames);
        tampered.set(5, "{\"code\":\"evil\"}".getBytes(StandardCharsets.UTF_8));
        assertThrows(SignatureException.class, () -> codec.decode(tampered));
        List<byte[]> unsigned = new ArrayList<>(frames);
        unsigned.set(1, new byte[0]);
        assertThrows(SignatureException.class, () -> codec.decode(unsigned));
        WireCodec otherKey = new WireCodec(Signer.create("hmac-sha256", "other"), null);
        assertThrows(SignatureException.class, () -> otherKey.decode(frames));
    }

    @Test
    void malformedFramesGiveProtocolErrors() {
        WireCodec codec = new WireCodec(Signer.create("hmac-sha256", ""), null);
        assertThrows(ProtocolException.class, () -> codec.decode(List.of("x".getBytes())));
        assertThrows(ProtocolException.class, () -> codec.decode(List.of(WireCodec.DELIMITER, new byte[0])));
        byte[] d = WireCodec.DELIMITER;
        byte[] e = new byte[0];
        assertThrows(ProtocolException.class, () -> codec.decode(List.of(d, e, "[]".getBytes(), "{}".getBytes(),
                "{}".getBytes(), "{}".getBytes())));
        assertThrows(ProtocolException.class, () -> codec.decode(List.of(d, e, "{}".getBytes(), "{}".getBytes(),
                "{}".getBytes(), "{}".getBytes())));
        assertThrows(ProtocolException.class, () -> codec.decode(List.of(d, e, "{\"msg_type\":\"x\"".getBytes(),
                "{}".getBytes(), "{}".getBytes(), "{}".getBytes())));
    }

    @Property(tries = 500)
    void arbitraryFramesNeverThrowAnythingButProtocolException(@ForAll("frames") List<byte[]> frames) {
        for (WireCodec codec : List.of(new WireCodec(signer, new ReplayGuard(64)),
                new WireCodec(Signer.create("hmac-sha256", ""), new ReplayGuard(64)))) {
            try {
                codec.decode(frames);
            } catch (ProtocolException expected) {
                // the only permitted failure
            }
        }
    }

    @Property(tries = 300)
    void mutatedSignedMessagesAreRejected(@ForAll @Size(min = 1, max = 40) String code,
                                          @ForAll("positions") int part) {
        WireCodec codec = new WireCodec(signer, null);
        Message m = Message.create(Header.create("execute_request", "s", "u"), null, Json.object().put("code", code));
        List<byte[]> frames = new ArrayList<>(codec.encode(m));
        byte[] mutated = frames.get(part).clone();
        mutated[mutated.length - 1] ^= 1;
        frames.set(part, mutated);
        assertThrows(ProtocolException.class, () -> codec.decode(frames));
    }

    @Provide
    Arbitrary<Integer> positions() {
        return Arbitraries.integers().between(1, 5);
    }

    @Provide
    Arbitrary<List<byte[]>> frames() {
        Arbitrary<byte[]> json = Arbitraries.of("{}", "[]", "{\"msg_type\":\"a\",\"msg_id\":\"b\"}", "nul", "{\"a\":",
                "\"s\"", "{\"msg_type\":1,\"msg_id\":null}").map(s -> s.getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(40);
        Arbitrary<byte[]> frame = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, json), net.jqwik.api.Tuple.of(2, raw),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(WireCodec.DELIMITER)));
        return frame.list().ofMaxSize(12);
    }
}
