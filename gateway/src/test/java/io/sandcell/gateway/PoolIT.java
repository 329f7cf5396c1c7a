package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.Json;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm pool: POST /api/kernels hands out a ready, preloaded kernel, never a used one, and refills. */
class PoolIT {
    @TempDir
    Path tmp;

    private static int poolReady(GatewayFixture gw) throws Exception {
        return GatewayFixture.json(gw.call("GET", "api/status", null)).get("pool_ready").asInt();
    }

    private static void awaitPool(GatewayFixture gw, int n) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (poolReady(gw) < n) {
            assertTrue(System.currentTimeMillis() < deadline, "the pool did not fill");
            Thread.sleep(200);
        }
    }

    private static String run(GatewayFixture gw, String kernel, String code) throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        String id = UUID.randomUUID().toString();
        ws.sendText(GatewayFixture.executeRequest(id, code));
        String out = GatewayFixture.stdout(GatewayFixture.untilIdle(ws, id, 120));
        ws.socket.abort();
        return out;
    }

    /** The kernel's own kernel_info_reply content, asked over a websocket. */
    private static JsonNode kernelInfo(GatewayFixture gw, String kernel) throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        String id = UUID.randomUUID().toString();
        var m = Json.object();
        m.putObject("header").put("msg_id", id).put("msg_type", "kernel_info_request").put("username", "user")
                .put("session", UUID.randomUUID().toString()).put("date", "").put("version", "5.3");
        m.putObject("parent_header");
        m.putObject("metadata");
        m.putObject("content");
        m.put("channel", "shell");
        ws.sendText(m.toString());
        while (true) {
            JsonNode f = Json.mapper().readTree((String) ws.next(60));
            if (f.path("msg_type").asText().equals("kernel_info_reply")
                    && f.at("/parent_header/msg_id").asText().equals(id)) {
                ws.socket.abort();
                return f.get("content");
            }
        }
    }

    @Test
    void pooledKernelsArePreloadedUsedOnceAndReplaced() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "1", "--pool-preload",
                "json,decimal")) {
            awaitPool(gw, 1);
            assertEquals("[]", gw.call("GET", "api/kernels", null).body(), "pooled kernels are not listed");
            String first = gw.startKernel();
            assertEquals("idle", GatewayFixture.json(gw.call("GET", "api/kernels/" + first, null))
                    .get("execution_state").asText(), "a pooled kernel is ready when handed out");
            JsonNode sandbox = kernelInfo(gw, first).get("sandbox");
            assertEquals("ready", sandbox.get("state").asText(), "its sandbox is up and preloaded: " + sandbox);
            assertEquals("cold", sandbox.get("start").asText(), "the first one starts cold: " + sandbox);
            assertEquals("True True []\n", run(gw, first, "import sys, os\n"
                    + "print('json' in sys.modules, 'decimal' in sys.modules, os.listdir('.'))\n"
                    + "open('mine.txt', 'w').write('x')"));
            awaitPool(gw, 1);
            String second = gw.startKernel();
            assertNotEquals(first, second);
            sandbox = kernelInfo(gw, second).get("sandbox");
            assertEquals("ready", sandbox.get("state").asText(), sandbox.toString());
            assertEquals("restored", sandbox.get("start").asText(), "later ones come from its image: " + sandbox);
            assertEquals("[]\n", run(gw, second, "import os\nprint(os.listdir('.'))"),
                    "a fresh workspace: nothing of the first kernel's");
            assertEquals(204, gw.call("DELETE", "api/kernels/" + first, null).statusCode());
            assertEquals(204, gw.call("DELETE", "api/kernels/" + second, null).statusCode());
            // a request with env does not take a pooled kernel: it is started with that env
            awaitPool(gw, 1);
            String withEnv = GatewayFixture.json(gw.call("POST", "api/kernels",
                    "{\"env\": {\"KERNEL_USERNAME\": \"ada\"}}")).get("id").asText();
            assertEquals(1, poolReady(gw));
            assertEquals(204, gw.call("DELETE", "api/kernels/" + withEnv, null).statusCode());
        }
    }
}
