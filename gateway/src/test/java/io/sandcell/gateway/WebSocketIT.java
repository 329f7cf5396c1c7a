package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.gateway.ws.WsFrames;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Json;
import io.vertx.core.buffer.Buffer;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kernel websocket: framings, bad input, large messages, reconnects and restarts. */
class WebSocketIT {
    @TempDir
    static Path tmp;
    static GatewayFixture gw;
    static String kernel;

    @BeforeAll
    static void start() throws Exception {
        gw = new GatewayFixture(tmp.resolve("data"), "--max-iopub-message-mb", "2");
        kernel = gw.startKernel();
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    private static String id() {
        return UUID.randomUUID().toString().replace("-", "");
    }

    /** The Sec-WebSocket-Extensions the gateway answers an upgrade offering permessage-deflate with, or "". */
    static String negotiatedExtensions(GatewayFixture g, String kernelId) throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", g.port)) {
            socket.getOutputStream().write(("GET /api/kernels/" + kernelId + "/channels?token=" + GatewayFixture.TOKEN
                    + " HTTP/1.1\r\nHost: 127.0.0.1:" + g.port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII));
            String status = in.readLine();
            assertTrue(status.startsWith("HTTP/1.1 101"), status);
            String extensions = "";
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("sec-websocket-extensions:")) {
                    extensions = line.substring(line.indexOf(':') + 1).trim();
                }
            }
            return extensions;
        }
    }

    /** Like jupyter_server, no websocket compression unless asked for (--ws-compression): it costs latency. */
    @Test
    void websocketCompressionIsOffUnlessTurnedOn(@TempDir Path data) throws Exception {
        assertEquals("", negotiatedExtensions(gw, kernel));
        try (GatewayFixture compressing = new GatewayFixture(data, "--pool-size", "0", "--ws-compression")) {
            String k = compressing.startKernel();
            assertTrue(negotiatedExtensions(compressing, k).startsWith("permessage-deflate"));
        }
    }

    /**
     * A client that connects while its kernel starts sees none of the gateway's own requests to it (the
     * kernel_info nudges, every 100 ms until the kernel answers, and their busy and idle), only its own. A
     * client that stops reading at its idle, as Open WebUI does, must not find a backlog of them: Python's
     * websockets then waited 10 s to close.
     */
    @Test
    void theGatewaysOwnRequestsToAStartingKernelStayOffItsClients() throws Exception {
        String starting = gw.startKernel();
        GatewayFixture.Ws ws = gw.connect(starting, null, null);
        String msgId = id();
        ws.sendText(GatewayFixture.executeRequest(msgId, "print('mine')"));
        List<String> foreign = new java.util.ArrayList<>();
        while (true) {
            Object f = ws.next(120);
            JsonNode m = Json.mapper().readTree((String) f);
            if (!msgId.equals(m.at("/parent_header/msg_id").asText())) {
                foreign.add(m.at("/parent_header/session").asText() + " " + m.get("msg_type").asText());
            } else if ("idle".equals(m.at("/content/execution_state").asText())) {
                break;
            }
        }
        assertEquals(List.of(), foreign.stream().filter(m -> m.startsWith("sandcell-gateway ")).toList(),
                "all it saw besides its own: " + foreign);
        ws.socket.abort();
        gw.call("DELETE", "api/kernels/" + starting, null);
    }

    @Test
    void legacyJsonFramesCarryTopLevelFields() throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        String msgId = id();
        ws.sendText(GatewayFixture.executeRequest(msgId, "print('legacy')"));
        List<JsonNode> msgs = GatewayFixture.untilIdle(ws, msgId, 120);
        for (JsonNode m : msgs) {
            assertEquals(m.at("/header/msg_type").asText(), m.get("msg_type").asText());
            assertEquals(m.at("/header/msg_id").asText(), m.get("msg_id").asText());
            assertEquals(m.get("msg_type").asText().equals("execute_reply") ? "shell" : "iopub",
                    m.get("channel").asText());
            assertTrue(m.get("buffers").isArray());
        }
        assertEquals("legacy\n", GatewayFixture.stdout(msgs));
        ws.socket.abort();
    }

    @Test
    void badFramesAreIgnoredAndTheSocketLives() throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        ws.sendText("{not json");
        ws.sendText("[1,2,3]");
        ws.sendText("{\"header\": {\"msg_type\": \"execute_request\"}, \"channel\": \"shell\"}");
        ws.sendText(GatewayFixture.executeRequest(id(), "1").replace("\"shell\"", "\"nowhere\""));
        ws.sendText(GatewayFixture.executeRequest(id(), "1").replace("\"shell\"", "\"iopub\""));
        String msgId = id();
        ws.sendText(GatewayFixture.executeRequest(msgId, "print('still alive')"));
        assertEquals("still alive\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, msgId, 120)));
        ws.socket.abort();
    }

    @Test
    void v1SubprotocolIsNegotiatedAndSpoken() throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, "session_id=v1-client", WsFrames.V1);
        assertEquals(WsFrames.V1, ws.socket.getSubprotocol());
        String msgId = id();
        WsFrames.Incoming in = WsFrames.parseText(GatewayFixture.executeRequest(msgId, "print('v1')"));
        ws.socket.sendBinary(java.nio.ByteBuffer.wrap(WsFrames.toV1(Channel.SHELL, in.message()).getBytes()).asReadOnlyBuffer(), true).join();
        StringBuilder out = new StringBuilder();
        boolean idle = false;
        boolean reply = false;
        while (!(idle && reply)) {
            Object f = ws.next(120);
            assertTrue(f instanceof byte[], "v1 frames are binary: " + f);
            WsFrames.Incoming m = parseServerV1((byte[]) f);
            if (!msgId.equals(m.message().parentMsgId())) {
                continue;
            }
            if (m.message().msgType().equals("stream")) {
                out.append(m.message().content().get("text").asText());
            }
            if (m.message().msgType().equals("execute_reply")) {
                assertEquals(Channel.SHELL, m.channel());
                reply = true;
            }
            idle |= m.message().msgType().equals("status")
                    && m.message().content().get("execution_state").asText().equals("idle");
        }
        assertEquals("v1\n", out.toString());
        ws.socket.abort();
    }

    /** The server's v1 frames may be on iopub, which clients may not send; parse them by hand. */
    private static WsFrames.Incoming parseServerV1(byte[] frame) {
        Buffer b = Buffer.buffer(frame);
        long n = b.getLongLE(0);
        long[] off = new long[(int) n];
        for (int i = 0; i < n; i++) {
            off[i] = b.getLongLE(8 + 8 * i);
        }
        String channel = b.getString((int) off[0], (int) off[1]);
        var m = new io.sandcell.protocol.Message(List.of(), Json.parseObject(b.getBytes((int) off[1], (int) off[2]),
                "h"), Json.parseObject(b.getBytes((int) off[2], (int) off[3]), "p"),
                Json.parseObject(b.getBytes((int) off[3], (int) off[4]), "m"),
                Json.parseObject(b.getBytes((int) off[4], (int) off[5]), "c"), List.of());
        return new WsFrames.Incoming(Channel.parse(channel).orElseThrow(), m);
    }

    @Test
    void largeMessagesPassAndOversizedOutputIsReplacedByANotice() throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        String big = "x".repeat(64 << 20);
        String msgId = id();
        String request = GatewayFixture.executeRequest(msgId, "s = '" + big + "'\nprint(len(s))");
        int chunk = 1 << 20;
        for (int i = 0; i < request.length(); i += chunk) {
            int end = Math.min(request.length(), i + chunk);
            ws.socket.sendText(request.substring(i, end), end == request.length()).join();
        }
        assertEquals((64 << 20) + "\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, msgId, 300)));
        msgId = id();
        ws.sendText(GatewayFixture.executeRequest(msgId, "from IPython.display import display\n"
                + "display({'text/plain': 'y' * (3 << 20)}, raw=True)\nprint('after')"));
        List<JsonNode> msgs = GatewayFixture.untilIdle(ws, msgId, 300);
        String stderr = msgs.stream().filter(m -> m.at("/content/name").asText().equals("stderr"))
                .map(m -> m.at("/content/text").asText()).reduce("", String::concat);
        assertTrue(stderr.contains("exceeded the gateway's limit"), msgs.toString().substring(0, 500));
        assertEquals("after\n", GatewayFixture.stdout(msgs));
        ws.socket.abort();
    }

    @Test
    void binaryLegacyFramesCarryBuffers() throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        // a comm_open with a buffer travels in the legacy binary framing; the kernel answers comm_close
        var m = Json.object();
        String msgId = id();
        m.putObject("header").put("msg_id", msgId).put("msg_type", "comm_open").put("username", "u")
                .put("session", "s").put("date", "").put("version", "5.3");
        m.putObject("parent_header");
        m.putObject("metadata");
        m.putObject("content").put("comm_id", "c1").put("target_name", "nothing").putObject("data");
        m.put("channel", "shell");
        byte[] json = Json.bytes(m);
        Buffer frame = Buffer.buffer().appendUnsignedInt(2).appendUnsignedInt(12).appendUnsignedInt(12 + json.length)
                .appendBytes(json).appendBytes(new byte[] {1, 2, 3});
        ws.socket.sendBinary(java.nio.ByteBuffer.wrap(frame.getBytes()).asReadOnlyBuffer(), true).join();
        boolean closed = false;
        while (!closed) {
            Object f = ws.next(120);
            if (f instanceof String s) {
                JsonNode j = Json.mapper().readTree(s);
                closed = j.get("msg_type").asText().equals("comm_close")
                        && j.at("/parent_header/msg_id").asText().equals(msgId);
            }
        }
        ws.socket.abort();
    }

    @Test
    void reconnectWithTheSameSessionReplacesTheOldSocketAndReplaysOutput() throws Exception {
        GatewayFixture.Ws first = gw.connect(kernel, "session_id=replay-me", null);
        String msgId = id();
        first.sendText(GatewayFixture.executeRequest(msgId, "import time\ntime.sleep(2)\nprint('while away')"));
        // wait until the cell runs, then drop the socket without a close handshake
        while (true) {
            JsonNode j = Json.mapper().readTree((String) first.next(120));
            if (j.get("msg_type").asText().equals("execute_input")) {
                break;
            }
        }
        first.socket.abort();
        Thread.sleep(3000);
        GatewayFixture.Ws second = gw.connect(kernel, "session_id=replay-me", null);
        List<JsonNode> msgs = GatewayFixture.untilIdle(second, msgId, 60);
        assertEquals("while away\n", GatewayFixture.stdout(msgs));
        GatewayFixture.Ws third = gw.connect(kernel, "session_id=replay-me", null);
        Object f;
        do {
            f = second.next(30);
        } while (!"__closed__".equals(f));
        String id2 = id();
        third.sendText(GatewayFixture.executeRequest(id2, "print('third')"));
        assertEquals("third\n", GatewayFixture.stdout(GatewayFixture.untilIdle(third, id2, 60)));
        third.socket.abort();
    }

    /**
     * Two clients of one kernel: replies and input requests reach only the client that asked, whichever of
     * them got the dealers the gateway connected while the kernel started.
     */
    @Test
    void eachClientOfAKernelGetsItsOwnRepliesAndInputRequests() throws Exception {
        String k = gw.startKernel();
        GatewayFixture.Ws alice = gw.connect(k, "session_id=alice", null);
        GatewayFixture.Ws bob = gw.connect(k, "session_id=bob", null);
        String ask = id();
        var request = (com.fasterxml.jackson.databind.node.ObjectNode) Json.mapper().readTree(
                GatewayFixture.executeRequest(ask, "print('hello', input('name? '))"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) request.get("content")).put("allow_stdin", true);
        alice.sendText(Json.text(request));
        JsonNode inputRequest;
        while (true) {
            JsonNode m = Json.mapper().readTree((String) alice.next(120));
            if (m.get("msg_type").asText().equals("input_request")) {
                inputRequest = m;
                break;
            }
        }
        assertEquals("stdin", inputRequest.get("channel").asText());
        assertEquals("name? ", inputRequest.at("/content/prompt").asText());
        var reply = Json.object();
        reply.putObject("header").put("msg_id", id()).put("msg_type", "input_reply").put("username", "alice")
                .put("session", "alice").put("date", "").put("version", "5.3");
        reply.set("parent_header", inputRequest.get("header"));
        reply.putObject("metadata");
        reply.putObject("content").put("value", "ada");
        reply.put("channel", "stdin");
        alice.sendText(Json.text(reply));
        assertEquals("hello ada\n", GatewayFixture.stdout(GatewayFixture.untilIdle(alice, ask, 60)));
        String info = id();
        var infoRequest = Json.object();
        infoRequest.putObject("header").put("msg_id", info).put("msg_type", "kernel_info_request")
                .put("username", "bob").put("session", "bob").put("date", "").put("version", "5.3");
        infoRequest.putObject("parent_header");
        infoRequest.putObject("metadata");
        infoRequest.putObject("content");
        infoRequest.put("channel", "shell");
        bob.sendText(Json.text(infoRequest));
        List<JsonNode> bobSaw = new java.util.ArrayList<>();
        boolean bobReplied = false;
        while (!bobReplied) {
            JsonNode m = Json.mapper().readTree((String) bob.next(60));
            bobSaw.add(m);
            bobReplied = m.get("msg_type").asText().equals("kernel_info_reply")
                    && info.equals(m.at("/parent_header/msg_id").asText());
        }
        for (JsonNode m : bobSaw) {
            boolean his = info.equals(m.at("/parent_header/msg_id").asText());
            assertTrue(m.get("channel").asText().equals("iopub") || his, "bob got another's reply: " + m);
        }
        // everything alice gets up to her next cell's idle: broadcasts and her own replies only
        String later = id();
        alice.sendText(GatewayFixture.executeRequest(later, "1"));
        while (true) {
            JsonNode m = Json.mapper().readTree((String) alice.next(60));
            boolean hers = !info.equals(m.at("/parent_header/msg_id").asText());
            assertTrue(m.get("channel").asText().equals("iopub") || hers, "bob's reply reached alice: " + m);
            if (later.equals(m.at("/parent_header/msg_id").asText()) && m.get("msg_type").asText().equals("status")
                    && m.at("/content/execution_state").asText().equals("idle")) {
                break;
            }
        }
        alice.socket.abort();
        bob.socket.abort();
        assertEquals(204, gw.call("DELETE", "api/kernels/" + k, null).statusCode());
    }

    @Test
    void clientsSeeRestartingWhenTheKernelRestarts() throws Exception {
        String k = gw.startKernel();
        GatewayFixture.Ws ws = gw.connect(k, null, null);
        String msgId = id();
        ws.sendText(GatewayFixture.executeRequest(msgId, "x = 5"));
        GatewayFixture.untilIdle(ws, msgId, 120);
        assertEquals(200, gw.call("POST", "api/kernels/" + k + "/restart", "{}").statusCode());
        boolean restarting = false;
        while (!restarting) {
            Object f = ws.next(60);
            JsonNode j = Json.mapper().readTree((String) f);
            restarting = j.get("msg_type").asText().equals("status")
                    && j.at("/content/execution_state").asText().equals("restarting");
        }
        String after = id();
        ws.sendText(GatewayFixture.executeRequest(after, "print('x' in globals())"));
        assertEquals("False\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, after, 120)));
        assertEquals(204, gw.call("DELETE", "api/kernels/" + k, null).statusCode());
        Object f;
        do {
            f = ws.next(30);
        } while (!"__closed__".equals(f));
    }

    @Test
    void aClientThatDoesNotReadLosesOutputNotTheGatewaysMemory(@TempDir Path data) throws Exception {
        // the kernel's own output limits out of the way, so that the gateway's are what is tested
        try (GatewayFixture fast = new GatewayFixture(data, java.util.Map.of("SANDCELL_OUTPUT_RATE_KB", "1048576",
                "SANDCELL_MAX_OUTPUT_MB", "4096"))) {
            slowClient(fast);
        }
    }

    private static void slowClient(GatewayFixture gw) throws Exception {
        String id = gw.startKernel();
        GatewayFixture.Ws ws = gw.connect(id, null, null, true);
        String msgId = UUID.randomUUID().toString();
        ws.sendText(GatewayFixture.executeRequest(msgId, "for i in range(60_000):\n    print('x' * 1000)\n"
                + "print('end of output')"));
        Thread.sleep(15_000); // the kernel publishes ~60 MB meanwhile; the socket is not read
        ws.socket.request(Long.MAX_VALUE);
        List<JsonNode> msgs = GatewayFixture.untilIdle(ws, msgId, 120);
        String stderr = msgs.stream().filter(m -> "stderr".equals(m.at("/content/name").asText()))
                .map(m -> m.at("/content/text").asText()).reduce("", String::concat);
        assertTrue(stderr.contains("were dropped because this client was not reading them fast enough"), stderr);
        assertTrue(msgs.stream().anyMatch(m -> "execute_input".equals(m.path("msg_type").asText())),
                "execute_input, statuses and replies are never dropped");
        long stdoutBytes = GatewayFixture.stdout(msgs).length();
        assertTrue(stdoutBytes < 60_000_000L, "some output was dropped: " + stdoutBytes);
    }
}
