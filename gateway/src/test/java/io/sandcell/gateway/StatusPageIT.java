package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The page at the gateway's URL: a person in headless Chromium, and a hostile Host header. */
class StatusPageIT {
    @TempDir
    Path tmp;

    @Test
    void aPersonLogsInAndReadsTheStatusAndOpenWebUiSettings() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            String out = OpenWebUiClientIT.runClient(List.of("node", OpenWebUiClientIT.clients()
                    .resolve("status_page.js").toString(), gw.base(), GatewayFixture.TOKEN,
                    tmp.resolve("chromium").toString()), 300);
            assertEquals(3, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
        }
    }

    /** The page names the URL it was reached at, from the Host header: one that is no host is a bad request. */
    @Test
    void aHostHeaderThatIsNoHostIsABadRequest() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"));
                Socket s = new Socket("127.0.0.1", gw.port)) {
            OutputStream out = s.getOutputStream();
            out.write(("GET /?token=" + GatewayFixture.TOKEN + " HTTP/1.1\r\nHost: x\"><script>alert(1)</script>\r\n"
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertFalse(response.contains("<script>"), response);
            assertTrue(response.startsWith("HTTP/1.1 400") && response.contains("Host"), response);
        }
    }
}
