package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The REST API's shapes, status codes and errors, against a real gateway with real sandboxed kernels. */
class RestApiIT {
    @TempDir
    static Path tmp;
    static GatewayFixture gw;

    @BeforeAll
    static void start() throws Exception {
        gw = new GatewayFixture(tmp.resolve("data"), "--max-kernels", "3");
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    private static void assertError(HttpResponse<String> r, int status, String messagePart) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode body = GatewayFixture.json(r);
        assertTrue(body.has("message") && body.has("reason"), r.body());
        assertTrue(body.get("message").asText().contains(messagePart), r.body());
        assertFalse(r.body().contains("at io.") || r.body().contains("Exception:"), "stack trace leaked: " + r.body());
    }

    @Test
    void serverEndpoints() throws Exception {
        HttpResponse<String> r = gw.call("GET", "api", null, false);
        assertEquals(200, r.statusCode());
        assertTrue(GatewayFixture.json(r).get("version").asText().startsWith("2."));
        JsonNode status = GatewayFixture.json(gw.call("GET", "api/status", null));
        assertTrue(status.has("started") && status.has("kernels") && status.has("connections"), status.toString());
        JsonNode me = GatewayFixture.json(gw.call("GET", "api/me", null));
        assertEquals("sandcell", me.at("/identity/username").asText());
        HttpResponse<String> health = gw.call("GET", "health", null, false);
        assertEquals(200, health.statusCode());
        assertEquals("ok", GatewayFixture.json(health).get("status").asText());
        assertEquals(401, gw.call("GET", "metrics", null, false).statusCode(), "metrics need the token");
    }

    @Test
    void kernelspecs() throws Exception {
        JsonNode all = GatewayFixture.json(gw.call("GET", "api/kernelspecs", null));
        assertEquals("python3", all.get("default").asText());
        JsonNode py = all.at("/kernelspecs/python3");
        assertEquals("python3", py.get("name").asText());
        assertEquals("python", py.at("/spec/language").asText());
        assertTrue(py.at("/spec/display_name").asText().contains("sandbox"));
        assertEquals(py, GatewayFixture.json(gw.call("GET", "api/kernelspecs/python3", null)));
        assertError(gw.call("GET", "api/kernelspecs/nope", null), 404, "Kernel spec nope not found");
        assertError(gw.call("GET", "kernelspecs/python3/logo-64x64.png", null), 404, "no resource");
        assertError(gw.call("GET", "kernelspecs/python3/..%2F..%2Fetc%2Fpasswd", null), 404, "");
    }

    @Test
    void kernelLifecycle() throws Exception {
        HttpResponse<String> created = gw.call("POST", "api/kernels", null);
        assertEquals(201, created.statusCode(), created.body());
        JsonNode k = GatewayFixture.json(created);
        String id = k.get("id").asText();
        assertTrue(id.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), id);
        assertEquals("/api/kernels/" + id, created.headers().firstValue("Location").orElseThrow());
        assertEquals("python3", k.get("name").asText());
        assertTrue(k.get("last_activity").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"));
        assertTrue(k.has("execution_state") && k.has("connections"));

        JsonNode got = GatewayFixture.json(gw.call("GET", "api/kernels/" + id, null));
        assertEquals(id, got.get("id").asText());
        JsonNode list = GatewayFixture.json(gw.call("GET", "api/kernels", null));
        assertTrue(list.toString().contains(id));

        assertEquals(204, gw.call("POST", "api/kernels/" + id + "/interrupt", "{}").statusCode());
        gw.execute(id, "pass"); // started: the restart below is a second timed start, not one cut short
        HttpResponse<String> restarted = gw.call("POST", "api/kernels/" + id + "/restart", "{}");
        assertEquals(200, restarted.statusCode(), restarted.body());
        assertEquals(id, GatewayFixture.json(restarted).get("id").asText());
        assertEquals("idle", GatewayFixture.json(restarted).get("execution_state").asText());

        String metrics = gw.call("GET", "metrics", null).body();
        assertTrue(metrics.contains("sandcell_kernels{state=\"idle\"} ") && metrics.contains(
                "# TYPE sandcell_kernel_starts_total counter"), metrics);
        assertTrue(metrics.lines().anyMatch(l -> l.matches("sandcell_kernel_starts_total\\{source=\"cold\"} [1-9]\\d*")),
                metrics);
        assertTrue(metrics.lines().anyMatch(l -> l.matches("sandcell_kernel_start_duration_seconds_count ([2-9]|[1-9]\\d+)")),
                "the start and the restart are timed: " + metrics);
        assertEquals(204, gw.call("DELETE", "api/kernels/" + id, null).statusCode());
        assertError(gw.call("GET", "api/kernels/" + id, null), 404, "Kernel does not exist");
        assertError(gw.call("DELETE", "api/kernels/" + id, null), 404, "Kernel does not exist");
    }

    @Test
    void badInputGetsClearErrors() throws Exception {
        assertError(gw.call("GET", "api/kernels/not-a-kernel", null), 404, "Kernel does not exist");
        assertError(gw.call("GET", "api/kernels/" + UUID.randomUUID(), null), 404, "Kernel does not exist");
        assertError(gw.call("POST", "api/kernels/" + UUID.randomUUID() + "/interrupt", "{}"), 404, "");
        assertError(gw.call("POST", "api/kernels", "{not json"), 400, "not valid JSON");
        assertError(gw.call("POST", "api/kernels", "[1,2]"), 400, "JSON object");
        assertError(gw.call("POST", "api/kernels", "{\"name\": 5}"), 400, "name must be a string");
        assertError(gw.call("POST", "api/kernels", "{\"name\": \"ruby\"}"), 404, "Kernel spec ruby not found");
        assertError(gw.call("POST", "api/kernels", "{\"env\": \"x\"}"), 400, "env must be a JSON object");
        assertError(gw.call("POST", "api/kernels", "{\"env\": {\"KERNEL_X\": \"$(id)\"}}"), 400,
                "forbidden character");
        assertError(gw.call("POST", "api/kernels", "{\"env\": {\"KERNEL_X\": 7}}"), 400, "must be a string");
        assertError(gw.call("POST", "api/kernels", "{\"env\": {\"KERNEL_X\": \"" + "a".repeat(5000) + "\"}}"),
                400, "longer than");
        assertError(gw.call("GET", "api/nothing-here", null), 404, "not found");
        assertError(gw.call("POST", "api/kernels", "x".repeat(17 << 20)), 413, "too large");
        assertEquals(0, GatewayFixture.json(gw.call("GET", "api/kernels", null)).size());
    }

    @Test
    void kernelLimitAnswersResourceLimit() throws Exception {
        List<String> ids = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ids.add(gw.startKernel());
            }
            HttpResponse<String> r = gw.call("POST", "api/kernels", "{}");
            assertError(r, 403, "max kernels");
            assertEquals("Resource Limit", GatewayFixture.json(r).get("reason").asText());
        } finally {
            for (String id : ids) {
                gw.call("DELETE", "api/kernels/" + id, null);
            }
        }
    }

    @Test
    void sessionsCrud() throws Exception {
        HttpResponse<String> bad = gw.call("POST", "api/sessions", "{\"type\": \"notebook\"}");
        assertError(bad, 400, "Missing field in JSON data: path");
        assertError(gw.call("POST", "api/sessions", "{\"path\": \"a.ipynb\"}"), 400, "Missing field in JSON data: type");
        assertError(gw.call("POST", "api/sessions", null), 400, "No JSON data provided");

        HttpResponse<String> r = gw.call("POST", "api/sessions",
                "{\"path\": \"a.ipynb\", \"type\": \"notebook\", \"name\": \"a\", \"kernel\": {\"name\": \"python3\"}}");
        assertEquals(201, r.statusCode(), r.body());
        JsonNode s = GatewayFixture.json(r);
        String sid = s.get("id").asText();
        assertEquals("/api/sessions/" + sid, r.headers().firstValue("Location").orElseThrow());
        assertEquals("a.ipynb", s.at("/notebook/path").asText());
        String kid = s.at("/kernel/id").asText();
        assertFalse(kid.isEmpty());

        JsonNode again = GatewayFixture.json(gw.call("POST", "api/sessions",
                "{\"path\": \"a.ipynb\", \"type\": \"notebook\"}"));
        assertEquals(sid, again.get("id").asText(), "the same path reuses its session");
        assertEquals(1, GatewayFixture.json(gw.call("GET", "api/sessions", null)).size());

        JsonNode patched = GatewayFixture.json(gw.call("PATCH", "api/sessions/" + sid, "{\"path\": \"b.ipynb\"}"));
        assertEquals("b.ipynb", patched.get("path").asText());
        assertEquals(kid, patched.at("/kernel/id").asText());
        assertEquals(sid, GatewayFixture.json(gw.call("GET", "api/sessions/" + sid, null)).get("id").asText());

        assertEquals(204, gw.call("DELETE", "api/sessions/" + sid, null).statusCode());
        assertError(gw.call("GET", "api/sessions/" + sid, null), 404, "Session not found");
        assertError(gw.call("GET", "api/kernels/" + kid, null), 404, "Kernel does not exist");
    }
}
