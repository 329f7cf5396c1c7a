package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Open WebUI's Jupyter client flow (aiohttp + websockets, as Open WebUI uses them) against a real gateway:
 * token, password and no-auth modes, and a base path. Afterwards no kernel, kernel process or sandbox is
 * left.
 */
class OpenWebUiClientIT {
    @TempDir
    Path tmp;

    static Path clients() {
        return Path.of(System.getProperty("sandcell.test.clients", "src/test/clients")).toAbsolutePath();
    }

    /** Runs a client script; returns its output after asserting it exited 0. */
    static String runClient(List<String> cmd, long timeoutSeconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Path log = Files.createTempFile("client", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("client timed out: " + Files.readString(log));
        }
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private void flow(String mode, String secret, int calls, String... gatewayArgs) throws Exception {
        flow(Map.of(), mode, secret, calls, gatewayArgs);
    }

    private void flow(Map<String, String> env, String mode, String secret, int calls, String... gatewayArgs)
            throws Exception {
        List<String> args = new ArrayList<>(List.of(gatewayArgs));
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), env, args.toArray(String[]::new))) {
            List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", clients().resolve("openwebui_client.py")
                    .toString(), gw.base(), mode, secret, String.valueOf(calls)));
            if (args.contains("--max-iopub-message-mb")) {
                cmd.add("--iopub-limit");
            }
            if (calls >= 50) {
                cmd.add("--big");
            }
            String out = runClient(cmd, 1200);
            long passes = out.lines().filter(l -> l.startsWith("PASS")).count();
            assertEquals(calls >= 50 ? 4 : 3 + (cmd.contains("--iopub-limit") ? 1 : 0), passes, out);
            assertEquals("[]", gw.call("GET", "api/kernels", null).body());
            Leaks.assertNoneLeft(gw);
        }
    }

    /**
     * Ends with a 64 MiB cell. IPython holds several copies of a cell while it compiles it, and a pooled kernel
     * has numpy, pandas and matplotlib loaded: within the default 1 GiB it takes cells up to about 48 MiB and
     * answers a 64 MiB one with a MemoryError, so this gateway gives its kernels 2 GiB, as a deployment that
     * takes such cells would.
     */
    @Test
    void tokenModeFiftyCallsInARow() throws Exception {
        flow(Map.of("SANDCELL_MEMORY_MB", "2048"), "token", GatewayFixture.TOKEN, 50);
    }

    @Test
    void passwordMode() throws Exception {
        flow("password", "open sesame", 3, "--password", "open sesame");
    }

    @Test
    void noAuthMode() throws Exception {
        flow("none", "-", 3, "--no-auth");
    }

    @Test
    void underABasePathWithAnOutputLimit() throws Exception {
        flow("token", GatewayFixture.TOKEN, 3, "--base-url", "/jupyter/", "--max-iopub-message-mb", "1");
    }
}
