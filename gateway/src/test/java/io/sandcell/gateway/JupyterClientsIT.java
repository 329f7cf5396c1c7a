package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real Jupyter clients against the gateway: @jupyterlab/services directly, and jupyter-server in gateway mode. */
class JupyterClientsIT {
    @TempDir
    Path tmp;

    @Test
    void jupyterlabServicesWithTheV1Subprotocol() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            Path clients = OpenWebUiClientIT.clients();
            String out = OpenWebUiClientIT.runClient(List.of("node", clients.resolve("jlab_services.js").toString(),
                    gw.base(), GatewayFixture.TOKEN), 600);
            assertEquals(4, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
            Leaks.assertNoneLeft(gw);
        }
    }

    @Test
    void jupyterServerInGatewayMode() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            String token = "lab-token-0123456789abcdef";
            Path root = Files.createDirectories(tmp.resolve("root"));
            Path log = tmp.resolve("jupyter-server.log");
            ProcessBuilder pb = new ProcessBuilder("jupyter", "server", "--no-browser", "--allow-root",
                    "--ip=127.0.0.1", "--port=" + port, "--ServerApp.token=" + token,
                    "--ServerApp.root_dir=" + root, "--gateway-url=http://127.0.0.1:" + gw.port,
                    "--GatewayClient.auth_token=" + GatewayFixture.TOKEN)
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("JUPYTER_RUNTIME_DIR", tmp.resolve("jrt").toString());
            pb.environment().put("JUPYTER_CONFIG_DIR", tmp.resolve("jcfg").toString());
            Process server = pb.start();
            try {
                String url = "http://127.0.0.1:" + port + "/";
                HttpClient http = HttpClient.newHttpClient();
                long deadline = System.currentTimeMillis() + 60_000;
                while (true) {
                    try {
                        if (http.send(HttpRequest.newBuilder(URI.create(url + "api")).build(),
                                HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
                            break;
                        }
                    } catch (java.io.IOException notYet) {
                        if (System.currentTimeMillis() > deadline) {
                            throw new AssertionError("jupyter-server did not start: " + Files.readString(log));
                        }
                        Thread.sleep(200);
                    }
                }
                String out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                        OpenWebUiClientIT.clients().resolve("gateway_mode.py").toString(), url, token), 600);
                assertEquals(4, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
            } finally {
                server.destroy();
                if (!server.waitFor(20, TimeUnit.SECONDS)) {
                    server.destroyForcibly();
                }
            }
            Leaks.assertNoneLeft(gw);
        }
    }
}
