package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void pooledKernelsArePreloadedUsedOnceAndReplaced() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "1", "--pool-preload",
                "json,decimal")) {
            awaitPool(gw, 1);
            assertEquals("[]", gw.call("GET", "api/kernels", null).body(), "pooled kernels are not listed");
            String first = gw.startKernel();
            assertEquals("idle", GatewayFixture.json(gw.call("GET", "api/kernels/" + first, null))
                    .get("execution_state").asText(), "a pooled kernel is ready when handed out");
            assertEquals("True True []\n", run(gw, first, "import sys, os\n"
                    + "print('json' in sys.modules, 'decimal' in sys.modules, os.listdir('.'))\n"
                    + "open('mine.txt', 'w').write('x')"));
            awaitPool(gw, 1);
            String second = gw.startKernel();
            assertNotEquals(first, second);
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
