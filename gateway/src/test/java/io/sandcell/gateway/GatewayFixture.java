package io.sandcell.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real gateway on port 0 with real kernels, and plain JDK HTTP and websocket clients to drive it. The
 * gateway runs with its defaults, warm pool included, unless a test gives other options.
 */
final class GatewayFixture implements AutoCloseable {
    static final String TOKEN = "test-token-0123456789abcdef";

    final GatewayServer server;
    final GatewayConfig config;
    final int port;
    final HttpClient http = HttpClient.newHttpClient();
    final Path data;

    GatewayFixture(Path data, String... extraArgs) throws Exception {
        this(data, Map.of(), extraArgs);
    }

    /** A gateway whose environment (and so its kernels' SANDCELL_* options) has extraEnv added. */
    GatewayFixture(Path data, Map<String, String> extraEnv, String... extraArgs) throws Exception {
        this.data = data;
        List<String> args = new ArrayList<>(List.of("--port", "0", "--data-dir", data.toString()));
        args.addAll(List.of(extraArgs));
        if (!args.contains("--no-auth") && !args.contains("--token")) {
            args.addAll(List.of("--token", TOKEN));
        }
        Map<String, String> env = new HashMap<>(System.getenv());
        env.remove("SANDCELL_TOKEN");
        env.putAll(extraEnv);
        config = GatewayConfig.parse(args.toArray(String[]::new), env);
        server = GatewayServer.create(config, env);
        port = server.start().await();
    }

    String base() {
        return "http://127.0.0.1:" + port + config.baseUrl();
    }

    String wsBase() {
        return "ws://127.0.0.1:" + port + config.baseUrl();
    }

    /** A request with the token header unless {@code auth} is false. */
    HttpResponse<String> call(String method, String path, String body, boolean auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(120))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (auth) {
            b.header("Authorization", "token " + TOKEN);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> call(String method, String path, String body) throws Exception {
        return call(method, path, body, true);
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return Json.mapper().readTree(r.body());
    }

    /** Starts a kernel and returns its id. */
    String startKernel() throws Exception {
        HttpResponse<String> r = call("POST", "api/kernels", null);
        if (r.statusCode() != 201) {
            throw new AssertionError("POST api/kernels: " + r.statusCode() + " " + r.body());
        }
        return json(r).get("id").asText();
    }

    /** A websocket client that queues every frame it receives. */
    static final class Ws implements WebSocket.Listener {
        final BlockingQueue<Object> frames = new LinkedBlockingQueue<>();
        final StringBuilder text = new StringBuilder();
        final List<ByteBuffer> binary = new ArrayList<>();
        WebSocket socket;
        volatile Integer closeCode;
        /** A slow client: reads one frame, then nothing until {@code socket.request(n)}. */
        boolean paused;

        @Override
        public void onOpen(WebSocket ws) {
            ws.request(paused ? 1 : Long.MAX_VALUE);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                frames.add(text.toString());
                text.setLength(0);
            }
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            ByteBuffer copy = ByteBuffer.allocate(data.remaining());
            copy.put(data).flip();
            binary.add(copy);
            if (last) {
                int n = binary.stream().mapToInt(ByteBuffer::remaining).sum();
                ByteBuffer all = ByteBuffer.allocate(n);
                binary.forEach(all::put);
                binary.clear();
                frames.add(all.array());
            }
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closeCode = statusCode;
            frames.add("__closed__");
            return null;
        }

        Object next(long seconds) throws InterruptedException {
            Object f = frames.poll(seconds, TimeUnit.SECONDS);
            if (f == null) {
                throw new AssertionError("no websocket frame within " + seconds + " s");
            }
            return f;
        }

        void sendText(String s) {
            socket.sendText(s, true).join();
        }
    }

    Ws connect(String kernelId, String query, String subprotocol) {
        return connect(kernelId, query, subprotocol, false);
    }

    Ws connect(String kernelId, String query, String subprotocol, boolean paused) {
        Ws ws = new Ws();
        ws.paused = paused;
        WebSocket.Builder b = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30));
        if (subprotocol != null) {
            b.subprotocols(subprotocol);
        }
        String q = "?token=" + TOKEN + (query == null ? "" : "&" + query);
        ws.socket = b.buildAsync(URI.create(wsBase() + "api/kernels/" + kernelId + "/channels" + q), ws).join();
        return ws;
    }

    /** An execute_request exactly as Open WebUI sends it. */
    static String executeRequest(String msgId, String code) {
        var m = Json.object();
        m.putObject("header").put("msg_id", msgId).put("msg_type", "execute_request").put("username", "user")
                .put("session", UUID.randomUUID().toString().replace("-", "")).put("date", "").put("version", "5.3");
        m.putObject("parent_header");
        m.putObject("metadata");
        m.putObject("content").put("code", code).put("silent", false).put("store_history", true)
                .put("allow_stdin", false).put("stop_on_error", true).putObject("user_expressions");
        m.put("channel", "shell");
        return Json.text(m);
    }

    /** Reads legacy JSON frames for one request until its idle status. */
    static List<JsonNode> untilIdle(Ws ws, String msgId, long seconds) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + seconds * 1000;
        while (true) {
            long left = Math.max(1, (deadline - System.currentTimeMillis()) / 1000);
            Object f = ws.next(left);
            if (!(f instanceof String s) || s.equals("__closed__")) {
                throw new AssertionError("unexpected frame " + f + " after " + out);
            }
            JsonNode m = Json.mapper().readTree(s);
            if (!msgId.equals(m.path("parent_header").path("msg_id").asText())) {
                continue;
            }
            out.add(m);
            if ("status".equals(m.path("msg_type").asText())
                    && "idle".equals(m.path("content").path("execution_state").asText())) {
                return out;
            }
        }
    }

    static String stdout(List<JsonNode> msgs) {
        StringBuilder b = new StringBuilder();
        for (JsonNode m : msgs) {
            if ("stream".equals(m.path("msg_type").asText()) && "stdout".equals(m.at("/content/name").asText())) {
                b.append(m.at("/content/text").asText());
            }
        }
        return b.toString();
    }

    /** Ready kernels in the pool, as /api/status reports them. */
    int poolReady() throws Exception {
        return json(call("GET", "api/status", null)).get("pool_ready").asInt();
    }

    /** Waits (up to 120 s) until the pool holds at least n ready kernels. */
    void awaitPool(int n) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (poolReady() < n) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("the pool did not fill to " + n);
            }
            Thread.sleep(200);
        }
    }

    /** A kernel handed out from the warm pool, as Open WebUI gets one: waits for a pooled kernel, then takes it. */
    String pooledKernel() throws Exception {
        awaitPool(1);
        return startKernel();
    }

    /** The messages of one execution, from a new websocket. */
    List<JsonNode> execute(String kernel, String code) throws Exception {
        Ws ws = connect(kernel, null, null);
        String id = UUID.randomUUID().toString();
        ws.sendText(executeRequest(id, code));
        List<JsonNode> msgs = untilIdle(ws, id, 120);
        ws.socket.abort();
        return msgs;
    }

    /** What one execution printed to stdout, from a new websocket. */
    String run(String kernel, String code) throws Exception {
        return stdout(execute(kernel, code));
    }

    @Override
    public void close() {
        server.close();
    }
}
