package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAPI tool server, driven by a client that makes Open WebUI's exact calls (aiohttp, Bearer key,
 * forwarded chat and user headers), plus the spec checked by an OpenAPI 3.1 schema validator.
 */
class ToolServerIT {
    static final String TOOL_KEY = "tool-key-0123456789abcdef";

    @TempDir
    Path tmp;

    @Test
    void openWebUiToolCalls() throws Exception {
        Path secret = tmp.resolve("host-side/secret.txt");
        Files.createDirectories(secret.getParent());
        Files.writeString(secret, "HOST-SECRET-7f3a9c\n");
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--tool-key", TOOL_KEY,
                "--tool-timeout", "15", "--tool-max-kernels-per-user", "3", "--tool-artifact-ttl", "8",
                "--pool-size", "1")) {
            String out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                    OpenWebUiClientIT.clients().resolve("openwebui_tools.py").toString(), gw.base(),
                    GatewayFixture.TOKEN, TOOL_KEY, secret.toString()), 900);
            assertEquals(15, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
            assertTrue(Files.readString(secret).startsWith("HOST-SECRET"), "the host file is untouched");
        }
        Leaks.assertNoneLeft(tmp.resolve("data"));
        assertTrue(!Files.exists(tmp.resolve("data/tool-workspaces")), "tool workspaces removed at shutdown");
    }

    /** A tool call, as Open WebUI makes it, for one user and chat. */
    private static HttpResponse<String> toolCall(GatewayFixture gw, String code, String user, String chat)
            throws Exception {
        return gw.http.send(HttpRequest.newBuilder(URI.create(gw.base() + "tools/execute_python"))
                .header("Authorization", "Bearer " + GatewayFixture.TOKEN).header("Content-Type", "application/json")
                .header("X-OpenWebUI-User-Id", user).header("X-OpenWebUI-Chat-Id", chat)
                .POST(HttpRequest.BodyPublishers.ofString(Json.text(Json.object().put("code", code)))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void idleToolChatsGiveWayToJupyterClientsAtTheKernelLimit() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--max-kernels", "2", "--pool-size", "0")) {
            for (String who : List.of("a", "b")) {
                HttpResponse<String> r = toolCall(gw, "mark = '" + who + "'", who, "chat-" + who);
                assertEquals(200, r.statusCode(), r.body());
            }
            assertEquals(2, GatewayFixture.json(gw.call("GET", "api/kernels", null)).size());
            String k = gw.startKernel(); // used to be 403 until the chats' 30 minutes were up
            assertEquals("1\n", gw.run(k, "print(1)"));
            HttpResponse<String> b = toolCall(gw, "print(mark)", "b", "chat-b");
            assertTrue(b.body().contains("\"stdout\":\"b\\n\""), "the more recent chat kept its state: " + b.body());
            HttpResponse<String> a = toolCall(gw, "print(mark)", "a", "chat-a");
            assertEquals(200, a.statusCode(), a.body());
            assertTrue(a.body().contains("NameError"), "the least recently used chat gave way: " + a.body());
        }
    }

    private static long rssBytes() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024).findFirst().orElseThrow();
    }

    @Test
    void slowDownloadsAreStreamedNotHeld() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "0")) {
            HttpResponse<String> r = toolCall(gw, "open('/mnt/data/big.bin', 'wb').write(bytes(48 << 20))\nNone",
                    "u", "downloads");
            assertEquals(200, r.statusCode(), r.body());
            URI url = URI.create(GatewayFixture.json(r).at("/files/0/url").asText());
            long before = rssBytes();
            List<java.net.Socket> stalled = new java.util.ArrayList<>();
            for (int i = 0; i < 20; i++) { // each asks for the 48 MiB file and reads nothing
                java.net.Socket s = new java.net.Socket("127.0.0.1", gw.port);
                s.getOutputStream().write(("GET " + url.getRawPath() + " HTTP/1.1\r\nHost: x\r\n\r\n")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                stalled.add(s);
            }
            Thread.sleep(3000);
            long grown = rssBytes() - before;
            // held whole, they took 960 MiB; streamed, a chunk each: what the JVM's heap does besides stays below
            assertTrue(grown < 512L << 20, "20 stalled downloads of 48 MiB grew the gateway by " + grown + " bytes");
            HttpResponse<byte[]> whole = gw.http.send(java.net.http.HttpRequest.newBuilder(url).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, whole.statusCode());
            assertEquals(48 << 20, whole.body().length, "a client that reads gets the whole file meanwhile");
            for (java.net.Socket s : stalled) {
                s.close();
            }
        }
    }

    @Test
    void specIsValidOpenApi31() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--base-url", "/tools-test/")) {
            HttpResponse<String> r = gw.http.send(HttpRequest.newBuilder(URI.create(gw.base() + "openapi.json"))
                    .header("Authorization", "Bearer " + GatewayFixture.TOKEN).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            Path spec = tmp.resolve("openapi.json");
            Files.writeString(spec, r.body());
            String out = OpenWebUiClientIT.runClient(List.of("node",
                    OpenWebUiClientIT.clients().resolve("validate_openapi.mjs").toString(), spec.toString()), 120);
            assertTrue(out.contains("PASS valid 3.1"), out);
            JsonNode doc = GatewayFixture.json(r);
            assertEquals("execute_python", doc.at("/paths/~1tools~1execute_python/post/operationId").asText());
            assertEquals("execute_bash", doc.at("/paths/~1tools~1execute_bash/post/operationId").asText());
        }
    }

    @Test
    void idleChatsAreShutDown() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--tool-idle-timeout", "2")) {
            HttpResponse<String> r = gw.http.send(HttpRequest.newBuilder(URI.create(gw.base()
                            + "tools/execute_python"))
                    .header("Authorization", "Bearer " + GatewayFixture.TOKEN)
                    .header("X-OpenWebUI-Chat-Id", "idle-chat").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"code\": \"open('f.txt', 'w').write('x')\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(1, GatewayFixture.json(gw.call("GET", "api/kernels", null)).size());
            String metrics = gw.call("GET", "metrics", null).body();
            assertTrue(metrics.contains("\nsandcell_execute_duration_seconds_count 1\n")
                    && metrics.contains("sandcell_execute_duration_seconds_bucket{le=\"+Inf\"} 1"), metrics);
            long deadline = System.currentTimeMillis() + 30_000;
            while (GatewayFixture.json(gw.call("GET", "api/kernels", null)).size() > 0
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(250);
            }
            assertEquals("[]", gw.call("GET", "api/kernels", null).body());
            Path workspaces = tmp.resolve("data/tool-workspaces");
            while (Files.list(workspaces).findAny().isPresent() && System.currentTimeMillis() < deadline) {
                Thread.sleep(250);
            }
            try (var left = Files.list(workspaces)) {
                assertEquals(List.of(), left.toList(), "the idle chat's workspace is removed");
            }
        }
    }

    @Test
    void inlineImagesAndAPublicUrl() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--tool-inline-images", "--public-url",
                "https://sandcell.example.test/base")) {
            HttpResponse<String> r = gw.http.send(HttpRequest.newBuilder(URI.create(gw.base()
                            + "tools/execute_python"))
                    .header("Authorization", "Bearer " + GatewayFixture.TOKEN)
                    .header("X-OpenWebUI-Chat-Id", "inline").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"code\": \"import matplotlib.pyplot as plt\\n"
                            + "plt.plot([1, 2])\\nplt.show()\\nopen('out.txt', 'w').write('x')\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            JsonNode body = GatewayFixture.json(r);
            String image = body.path("images").path(0).asText();
            assertTrue(image.startsWith("data:image/png;base64,"), body.toString());
            byte[] png = java.util.Base64.getDecoder().decode(image.substring(image.indexOf(',') + 1));
            assertEquals((byte) 0x89, png[0]);
            assertEquals("PNG", new String(png, 1, 3, java.nio.charset.StandardCharsets.US_ASCII));
            assertTrue(body.path("files").path(0).path("url").asText()
                    .startsWith("https://sandcell.example.test/base/tools/files/"), body.toString());
        }
    }
}
