package io.sandcell.gateway;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's Jupyter web server in gateway mode, its kernels in a test's gateway: {@code jupyter server} (what
 * JupyterLab runs on) or {@code jupyter notebook} (the classic Notebook page), each in its own config, runtime
 * and notebook directories under a test's temporary directory.
 */
final class GatewayModeServer implements AutoCloseable {
    static final String TOKEN = "lab-token-0123456789abcdef";

    final String url;
    final Path root;
    private final Path log;
    private final Process process;

    /**
     * @param app {@code server} or {@code notebook}
     */
    GatewayModeServer(String app, GatewayFixture gw, Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        root = Files.createDirectories(dir.resolve("root"));
        log = dir.resolve("jupyter-" + app + ".log");
        String prefix = "server".equals(app) ? "--ServerApp." : "--NotebookApp.";
        List<String> cmd = new ArrayList<>(List.of("jupyter", app, "--no-browser", "--allow-root", "--ip=127.0.0.1",
                "--port=" + port, prefix + "token=" + TOKEN,
                ("server".equals(app) ? prefix + "root_dir=" : "--notebook-dir=") + root,
                "--gateway-url=http://127.0.0.1:" + gw.port, "--GatewayClient.auth_token=" + GatewayFixture.TOKEN));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JUPYTER_RUNTIME_DIR", dir.resolve("jrt").toString());
        pb.environment().put("JUPYTER_CONFIG_DIR", dir.resolve("jcfg").toString());
        pb.environment().put("JUPYTER_DATA_DIR", dir.resolve("jdata").toString());
        process = pb.start();
        url = "http://127.0.0.1:" + port + "/";
        awaitUp();
    }

    private void awaitUp() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.currentTimeMillis() + 60_000;
        while (true) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(url + "api")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            if (System.currentTimeMillis() > deadline || !process.isAlive()) {
                throw new AssertionError("jupyter did not start: " + Files.readString(log));
            }
            Thread.sleep(200);
        }
    }

    /** What the server logged, for a failure's message. */
    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
