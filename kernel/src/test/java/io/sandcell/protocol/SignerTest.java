package io.sandcell.protocol;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SignerTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void goldenVectorsFromJupyterClientVerify() throws Exception {
        JsonNode vectors;
        try (InputStream in = getClass().getResourceAsStream("/golden-signatures.json")) {
            vectors = Json.mapper().readTree(in);
        }
        assertTrue(vectors.size() >= 12);
        for (JsonNode v : vectors) {
            Signer signer = Signer.create(v.get("scheme").asText(), v.get("key").asText());
            List<byte[]> frames = new ArrayList<>();
            v.get("frames").forEach(f -> frames.add(b(f.asText())));
            String expected = v.get("frames").get(1).asText();
            assertEquals(expected, signer.sign(frames.get(2), frames.get(3), frames.get(4), frames.get(5)));
            Message m = new WireCodec(signer, new ReplayGuard(16)).decode(frames);
            assertEquals("execute_request", m.msgType());
        }
    }

    @Test
    void signVerifyRoundTripAndTamperDetection() {
        Signer s = Signer.create("hmac-sha256", "k");
        String sig = s.sign(b("{}"), b("{}"), b("{}"), b("{\"a\":1}"));
        assertEquals(64, sig.length());
        assertDoesNotThrow(() -> s.verify(b(sig), b("{}"), b("{}"), b("{}"), b("{\"a\":1}")));
        assertThrows(SignatureException.class, () -> s.verify(b(sig), b("{}"), b("{}"), b("{}"), b("{\"a\":2}")));
        assertThrows(SignatureException.class, () -> s.verify(new byte[0], b("{}"), b("{}"), b("{}"), b("{}")));
        assertThrows(SignatureException.class, () -> s.verify(null, b("{}"), b("{}"), b("{}"), b("{}")));
        String upper = sig.toUpperCase();
        assertThrows(SignatureException.class,
                () -> s.verify(b(upper), b("{}"), b("{}"), b("{}"), b("{\"a\":1}")));
    }

    @Test
    void concurrentSignaturesAgreeWithASingleThreadedOne() throws Exception {
        Signer s = Signer.create("hmac-sha256", "0123456789abcdef");
        String expected = s.sign(b("{\"h\":1}"), b("{}"), b("{}"), b("{\"c\":2}"));
        List<Thread> threads = new ArrayList<>();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 8; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2000; i++) {
                    String got = s.sign(b("{\"h\":1}"), b("{}"), b("{}"), b("{\"c\":2}"));
                    if (!expected.equals(got)) {
                        wrong.add(got);
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), wrong);
    }

    @Test
    void emptyKeyMeansUnsigned() {
        Signer s = Signer.create("hmac-sha256", "");
        assertFalse(s.enabled());
        assertEquals("", s.sign(b("{}"), b("{}"), b("{}"), b("{}")));
        assertDoesNotThrow(() -> s.verify(new byte[0], b("{}"), b("{}"), b("{}"), b("{}")));
    }

    @Test
    void unknownSchemeIsRejectedAndKeyNeverPrinted() {
        assertThrows(ProtocolException.class, () -> Signer.create("md5", "k"));
        assertThrows(ProtocolException.class, () -> Signer.create("hmac-nope", "k"));
        assertFalse(Signer.create("hmac-sha256", "super-secret").toString().contains("super-secret"));
    }
}
