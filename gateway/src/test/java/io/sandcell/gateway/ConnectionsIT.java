package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections held open without credentials: silent ones are closed, past the cap the longest idle one makes
 * room for a new client, and a kernel's websocket outlives the idle timeout because the gateway pings it.
 */
class ConnectionsIT {
    @TempDir
    Path tmp;

    private static Socket open(GatewayFixture gw) throws Exception {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", gw.port), 5000);
        return s;
    }

    /** Whether the gateway closed the socket within the time: a read then ends the stream. */
    private static boolean closedWithin(Socket s, long ms) throws Exception {
        s.setSoTimeout((int) ms);
        InputStream in = s.getInputStream();
        try {
            while (in.read() != -1) {
                // the rest of a response
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset
        }
    }

    private static long metric(GatewayFixture gw, String line) throws Exception {
        String text = gw.call("GET", "metrics", null).body();
        return text.lines().filter(l -> l.startsWith(line + " ")).mapToLong(l -> Long.parseLong(l.split(" ")[1]))
                .findFirst().orElseThrow(() -> new AssertionError("no " + line + " in " + text));
    }

    @Test
    void silentAndIdleConnectionsAreClosedAndNeverLockAClientOut() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "0",
                "--max-connections", "16", "--request-timeout", "2", "--idle-timeout", "10")) {
            List<Socket> silent = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                silent.add(open(gw));
            }
            assertEquals(200, gw.call("GET", "api/status", null).statusCode(), "a client gets in past the cap");
            String metrics = gw.call("GET", "metrics", null).body();
            assertTrue(metric(gw, "sandcell_http_connections") <= 17, "the cap holds: " + metrics);
            assertTrue(metric(gw, "sandcell_http_connections_closed_total{why=\"room\"}") >= 24, metrics);
            Socket keptAlive = open(gw);
            keptAlive.getOutputStream().write("GET /api HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.UTF_8));
            for (Socket s : silent) {
                assertTrue(closedWithin(s, 8000), "a connection that sends no request is closed");
                s.close();
            }
            assertTrue(closedWithin(keptAlive, 20_000), "an idle keep-alive connection is closed");
            keptAlive.close();
        }
    }

    @Test
    void clientsThatDoNotReadHoldNoMoreThanTheOutboundBudget() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "0",
                "--max-clients-per-kernel", "9", "--max-outbound-mb", "16")) {
            String k = gw.startKernel();
            List<GatewayFixture.Ws> stalled = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                stalled.add(gw.connect(k, null, null, true)); // reads one frame, then nothing
            }
            GatewayFixture.Ws reader = gw.connect(k, null, null);
            var refused = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.CompletionException.class,
                    () -> gw.connect(k, null, null));
            assertTrue(refused.getCause() instanceof java.net.http.WebSocketHandshakeException h
                    && h.getResponse().statusCode() == 429, "a tenth client is refused: " + refused.getCause());
            String msg = UUID.randomUUID().toString();
            // 24 MiB of output in 1 MiB lines (the kernel's rate limit lets about half through)
            reader.sendText(GatewayFixture.executeRequest(msg, "for i in range(24):\n    print('x' * (1 << 20))"));
            long most = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            List<com.fasterxml.jackson.databind.JsonNode> got = new ArrayList<>();
            var done = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return GatewayFixture.untilIdle(reader, msg, 120);
                } catch (Exception ex) {
                    throw new IllegalStateException(ex);
                }
            });
            while (!done.isDone() && System.currentTimeMillis() < deadline) {
                most = Math.max(most, metric(gw, "sandcell_ws_outbound_bytes"));
                Thread.sleep(100);
            }
            got.addAll(done.join());
            // the budget, and past it at most about a message (1 MiB here) for each of the nine clients
            assertTrue(most <= (16 + 2 * 9) << 20, "outbound bytes peaked at " + most);
            assertTrue(most > 0, "the stalled clients were written to");
            assertTrue(GatewayFixture.stdout(got).length() >= 4 << 20, "the client that reads got output");
            assertTrue(got.stream().noneMatch(m -> m.at("/content/text").asText().contains("not reading them fast")),
                    "the client that reads lost nothing to the others");
            stalled.forEach(w -> w.socket.abort());
            reader.socket.abort();
        }
    }

    @Test
    void aKernelWebsocketOutlivesTheIdleTimeoutAndLeavesNoTrace() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "0",
                "--idle-timeout", "10")) {
            String k = gw.startKernel();
            long before = metric(gw, "sandcell_http_connections");
            GatewayFixture.Ws ws = gw.connect(k, null, null);
            String first = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(first, "print(1)"));
            assertEquals("1\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, first, 120)));
            Thread.sleep(14_000); // silent past the idle timeout, but for the gateway's pings
            String later = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(later, "print(2)"));
            assertEquals("2\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, later, 120)));
            ws.socket.sendClose(1000, "done").join();
            long deadline = System.currentTimeMillis() + 10_000;
            while (metric(gw, "sandcell_http_connections") > before) {
                assertTrue(System.currentTimeMillis() < deadline, "a closed websocket is still counted");
                Thread.sleep(100);
            }
        }
    }
}
