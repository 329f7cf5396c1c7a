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
