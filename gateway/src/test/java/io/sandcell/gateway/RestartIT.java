package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restarts with the gateway's defaults, warm pool on: JupyterLab's restart button on a kernel handed out from
 * the pool, and several restarts of one kernel at once.
 */
class RestartIT {
    @TempDir
    Path tmp;

    /** Kernel processes of this gateway's kernel of that id. */
    private static List<ProcessHandle> kernelProcesses(String kernelId) {
        return ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("")
                .contains("kernel-" + kernelId + ".json") && p.info().commandLine().orElse("").contains("java"))
                .toList();
    }

    @Test
    void aKernelFromThePoolRestartsWithItsStateGone() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            String k = gw.pooledKernel();
            assertEquals("1\n", gw.run(k, "x = 1\nprint(x)"));
            HttpResponse<String> r = gw.call("POST", "api/kernels/" + k + "/restart", "{}");
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("idle", GatewayFixture.json(r).get("execution_state").asText(), r.body());
            assertEquals("False\n", gw.run(k, "print('x' in globals())"));
            assertEquals(1, kernelProcesses(k).size(), "one kernel process after the restart");
        }
    }

    /**
     * JupyterLab's restart button pressed while the kernel is still starting: the start's waiters get the new
     * process, and the start's own deadline, now past, does not kill it. Pool off: the kernel must start cold.
     */
    @Test
    void aRestartDuringTheStartIsAnsweredAndOutlivesTheStartDeadline() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "0",
                "--kernel-start-timeout", "4")) {
            HttpResponse<String> created = gw.call("POST", "api/kernels", null);
            assertEquals(201, created.statusCode(), created.body());
            assertEquals("starting", GatewayFixture.json(created).get("execution_state").asText());
            String k = GatewayFixture.json(created).get("id").asText();
            HttpResponse<String> r = gw.call("POST", "api/kernels/" + k + "/restart", "{}");
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("idle", GatewayFixture.json(r).get("execution_state").asText(), r.body());
            Thread.sleep(5_000); // past the first launch's deadline
            assertEquals("idle", GatewayFixture.json(gw.call("GET", "api/kernels/" + k, null))
                    .get("execution_state").asText());
            assertEquals("alive\n", gw.run(k, "print('alive')"));
            assertEquals(1, kernelProcesses(k).size(), "one kernel process after the restart");
        }
    }

    @Test
    void concurrentRestartsOfOneKernelAreEachAnsweredAndLeaveOneProcess() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            String k = gw.pooledKernel();
            assertEquals("1\n", gw.run(k, "print(1)"));
            List<CompletableFuture<HttpResponse<String>>> restarts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                restarts.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return gw.call("POST", "api/kernels/" + k + "/restart", "{}");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            for (CompletableFuture<HttpResponse<String>> f : restarts) {
                HttpResponse<String> r = f.join();
                assertEquals(200, r.statusCode(), r.body());
            }
            assertEquals("alive\n", gw.run(k, "print('alive')"));
            assertEquals(1, kernelProcesses(k).size(), "one kernel process after three restarts");
            assertEquals(204, gw.call("DELETE", "api/kernels/" + k, null).statusCode());
            long deadline = System.currentTimeMillis() + 30_000;
            while (!kernelProcesses(k).isEmpty()) {
                assertTrue(System.currentTimeMillis() < deadline, "the kernel process outlived its DELETE");
                Thread.sleep(100);
            }
        }
    }
}
