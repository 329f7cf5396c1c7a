package io.sandcell.gateway.config;

import io.sandcell.cli.Options;
import io.sandcell.cli.Options.Spec;
import io.sandcell.cli.UsageException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Everything the gateway is configured with. Secrets (token, password) never appear in {@link #toString()}.
 *
 * @param ip the address to listen on
 * @param port the port; 0 picks a free one
 * @param baseUrl the path prefix every route is mounted under, with leading and trailing slashes
 * @param authMode token, password or none
 * @param token the API token (token mode; also accepted in password mode)
 * @param password the login password (password mode)
 * @param allowOrigins origins allowed to open websockets besides the server's own; "*" allows any
 * @param dataDir where kernels keep their sandboxes and workspaces
 * @param runtimeDir where connection files are written
 * @param kernelspecDir extra kernelspecs (one directory per spec holding kernel.json), or null
 * @param defaultKernel the kernelspec used when a request names none
 * @param maxKernels the most kernels alive at once
 * @param cullIdleTimeoutSeconds shut down kernels idle this long; 0 disables culling
 * @param cullIntervalSeconds how often to look for idle kernels
 * @param cullConnected cull idle kernels even with clients connected
 * @param cullBusy cull kernels that are busy
 * @param allowedEnv names allowed in a kernel's env besides KERNEL_*
 * @param maxMessageBytes the largest websocket message accepted from a client
 * @param maxIopubMessageBytes the largest message forwarded to a client; larger ones are replaced by a notice
 * @param offlineBufferMessages how many iopub messages to keep for a client that reconnects
 * @param wsCompression accept websocket compression (permessage-deflate) when a client offers it
 * @param kernelStartTimeoutSeconds how long a kernel may take to answer its first kernel_info_request
 * @param poolSize ready kernels of the default kernelspec kept waiting for POST /api/kernels
 * @param poolPreload Python modules pooled kernels import before they are ready
 * @param poolRefillConcurrency how many pooled kernels may be starting at once
 * @param poolRefillWaitMs the longest a pool refill waits for clients' running cells, in milliseconds
 * @param tools the OpenAPI tool server's settings
 * @param connections limits on clients' connections
 */
public record GatewayConfig(String ip, int port, String baseUrl, AuthMode authMode, String token, String password,
                            List<String> allowOrigins, Path dataDir, Path runtimeDir, Path kernelspecDir,
                            String defaultKernel, int maxKernels, int cullIdleTimeoutSeconds,
                            int cullIntervalSeconds, boolean cullConnected, boolean cullBusy,
                            List<String> allowedEnv, int maxMessageBytes, int maxIopubMessageBytes,
                            int offlineBufferMessages, boolean wsCompression, int kernelStartTimeoutSeconds,
                            int poolSize, List<String> poolPreload, int poolRefillConcurrency, int poolRefillWaitMs,
                            ToolConfig tools, ConnectionConfig connections) {

    /** How clients prove who they are. */
    public enum AuthMode { TOKEN, PASSWORD, NONE }

    public GatewayConfig {
        allowOrigins = List.copyOf(allowOrigins);
        allowedEnv = List.copyOf(allowedEnv);
        poolPreload = List.copyOf(poolPreload);
    }

    public static Options options() {
        List<Spec> specs = new java.util.ArrayList<>(List.of(
                Spec.value("--ip", "SANDCELL_IP", "127.0.0.1", "the address to listen on"),
                Spec.value("--port", "SANDCELL_PORT", "8888", "the port to listen on; 0 picks a free one"),
                Spec.value("--base-url", "SANDCELL_BASE_URL", "/", "path prefix for every route, e.g. /jupyter/"),
                Spec.secret("--token", "SANDCELL_TOKEN",
                        "API token; a random one is generated and printed when none is set"),
                Spec.secret("--password", "SANDCELL_PASSWORD",
                        "enables password login (Open WebUI's \"password\" mode) with this password"),
                Spec.flag("--no-auth", "SANDCELL_NO_AUTH",
                        "turn authentication off (Open WebUI's \"none\" mode); only behind another guard"),
                Spec.value("--allow-origin", "SANDCELL_ALLOW_ORIGIN", "",
                        "comma-separated origins allowed to open websockets besides the server's own; * for any"),
                Spec.value("--data-dir", "SANDCELL_DATA_DIR", "/var/lib/sandcell",
                        "where sandboxes, workspaces and runsc state live"),
                Spec.value("--runtime-dir", "SANDCELL_RUNTIME_DIR", "",
                        "where connection files are written (default: <data-dir>/runtime)"),
                Spec.value("--kernelspec-dir", "SANDCELL_KERNELSPEC_DIR", "",
                        "a directory of extra kernelspecs (<name>/kernel.json)"),
                Spec.value("--default-kernel", "SANDCELL_DEFAULT_KERNEL", "python3",
                        "the kernelspec used when a request names none"),
                Spec.value("--max-kernels", "SANDCELL_MAX_KERNELS", "32", "the most kernels alive at once"),
                Spec.value("--cull-idle-timeout", "SANDCELL_CULL_IDLE_TIMEOUT", "3600",
                        "seconds after which an idle kernel is shut down; 0 disables culling"),
                Spec.value("--cull-interval", "SANDCELL_CULL_INTERVAL", "60", "seconds between culling passes"),
                Spec.flag("--cull-connected", "SANDCELL_CULL_CONNECTED",
                        "also cull idle kernels that have clients connected"),
                Spec.flag("--cull-busy", "SANDCELL_CULL_BUSY", "also cull kernels that are busy"),
                Spec.value("--allowed-env", "SANDCELL_ALLOWED_ENV", "",
                        "comma-separated env names clients may set besides KERNEL_*"),
                Spec.value("--max-message-mb", "SANDCELL_MAX_MESSAGE_MB", "128",
                        "largest websocket message accepted from a client, MiB"),
                Spec.value("--max-iopub-message-mb", "SANDCELL_MAX_IOPUB_MESSAGE_MB", "128",
                        "largest output message sent to a client, MiB; larger ones are replaced by a notice"),
                Spec.value("--offline-buffer", "SANDCELL_OFFLINE_BUFFER", "2000",
                        "output messages kept while no client is connected, replayed on reconnect"),
                Spec.flag("--ws-compression", "SANDCELL_WS_COMPRESSION",
                        "accept permessage-deflate on kernel websockets when a client offers it (as jupyter_server, "
                                + "off by default: it cost a pooled call 5 to 14 ms here)"),
                Spec.value("--kernel-start-timeout", "SANDCELL_KERNEL_START_TIMEOUT", "120",
                        "seconds a kernel may take to become ready"),
                Spec.value("--pool-size", "SANDCELL_POOL_SIZE", "2",
                        "ready kernels kept for POST /api/kernels (default kernelspec, no env); 0 turns the pool off"),
                Spec.value("--pool-preload", "SANDCELL_POOL_PRELOAD", "numpy,pandas,matplotlib.pyplot",
                        "comma-separated modules pooled kernels import before they are handed out"),
                Spec.value("--pool-refill-concurrency", "SANDCELL_POOL_REFILL_CONCURRENCY", "1",
                        "how many pooled kernels may be starting at once; 1 leaves the other core of a 2-core host "
                                + "to the calls being served"),
                Spec.value("--pool-refill-wait", "SANDCELL_POOL_REFILL_WAIT", "1000",
                        "milliseconds a pool refill may wait for clients' running cells (and the first cell of a "
                                + "kernel just handed out, and 50 ms after a cell's answer) so as not to slow them; 0 "
                                + "refills at once")));
        specs.addAll(ToolConfig.options());
        specs.addAll(ConnectionConfig.options());
        specs.add(Spec.flag("--help", null, "show this help").withAlias("-h"));
        return new Options(specs);
    }

    /**
     * Builds the configuration from parsed options, generating a token when token mode has none.
     *
     * @throws UsageException for any invalid value, naming the option
     */
    public static GatewayConfig from(Options.Parsed p) throws UsageException {
        String base = p.get("--base-url").trim();
        if (!base.startsWith("/")) {
            base = "/" + base;
        }
        if (!base.endsWith("/")) {
            base = base + "/";
        }
        if (!base.matches("/([A-Za-z0-9._~-]+/)*")) {
            throw new UsageException("--base-url must be a path like /jupyter/, not '" + p.get("--base-url") + "'");
        }
        boolean noAuth = p.bool("--no-auth");
        String password = p.get("--password");
        String token = p.get("--token");
        AuthMode mode = noAuth ? AuthMode.NONE : password != null && !password.isEmpty() ? AuthMode.PASSWORD
                : AuthMode.TOKEN;
        if (noAuth && (p.has("--password") || p.has("--token"))) {
            throw new UsageException("--no-auth cannot be combined with --token or --password");
        }
        if (mode == AuthMode.TOKEN && (token == null || token.isEmpty())) {
            token = newToken();
        }
        if (token != null && !token.isEmpty() && !token.matches("[A-Za-z0-9._~-]{16,256}")) {
            throw new UsageException("--token must be 16 to 256 URL-safe characters (letters, digits, . _ ~ -)");
        }
        int port = p.integer("--port");
        if (port < 0 || port > 65535) {
            throw new UsageException("--port must be between 0 and 65535, not " + port);
        }
        Path data = p.path("--data-dir").toAbsolutePath();
        Path runtime = p.has("--runtime-dir") ? p.path("--runtime-dir").toAbsolutePath() : data.resolve("runtime");
        int maxKernels = positive(p, "--max-kernels");
        int maxMessage = megabytes(p, "--max-message-mb");
        int maxIopub = megabytes(p, "--max-iopub-message-mb");
        for (String name : p.list("--allowed-env")) {
            if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new UsageException("--allowed-env entry is not a variable name: " + name);
            }
        }
        String dflt = p.get("--default-kernel");
        if (!dflt.matches("[A-Za-z0-9._-]+")) {
            throw new UsageException("--default-kernel must be a kernelspec name, not '" + dflt + "'");
        }
        return new GatewayConfig(p.get("--ip"), port, base, mode, token, password, p.list("--allow-origin"), data,
                runtime, p.path("--kernelspec-dir"), dflt, maxKernels, nonNegative(p, "--cull-idle-timeout"),
                positive(p, "--cull-interval"), p.bool("--cull-connected"), p.bool("--cull-busy"),
                p.list("--allowed-env"), maxMessage, maxIopub, nonNegative(p, "--offline-buffer"),
                p.bool("--ws-compression"), positive(p, "--kernel-start-timeout"), nonNegative(p, "--pool-size"),
                preload(p), positive(p, "--pool-refill-concurrency"), nonNegative(p, "--pool-refill-wait"),
                ToolConfig.from(p), ConnectionConfig.from(p));
    }

    public static GatewayConfig parse(String[] args, Map<String, String> env) throws UsageException {
        return from(options().parse(args, env));
    }

    private static List<String> preload(Options.Parsed p) throws UsageException {
        for (String m : p.list("--pool-preload")) {
            if (!m.matches("[A-Za-z_][A-Za-z0-9_.]*")) {
                throw new UsageException("--pool-preload entry is not a module name: " + m);
            }
        }
        return p.list("--pool-preload");
    }

    private static int positive(Options.Parsed p, String flag) throws UsageException {
        return atLeast(p, flag, 1);
    }

    /** An integer option of at least min. */
    static int atLeast(Options.Parsed p, String flag, int min) throws UsageException {
        int v = p.integer(flag);
        if (v < min) {
            throw new UsageException(flag + " must be at least " + min + ", not " + v);
        }
        return v;
    }

    private static int nonNegative(Options.Parsed p, String flag) throws UsageException {
        int v = p.integer(flag);
        if (v < 0) {
            throw new UsageException(flag + " must not be negative");
        }
        return v;
    }

    private static int megabytes(Options.Parsed p, String flag) throws UsageException {
        int v = p.integer(flag);
        if (v < 1 || v > 1024) {
            throw new UsageException(flag + " must be between 1 and 1024, not " + v);
        }
        return v << 20;
    }

    /** A random URL-safe token with 256 bits of entropy. */
    public static String newToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    @Override
    public String toString() {
        return "GatewayConfig[" + ip + ":" + port + baseUrl + ", auth=" + authMode + ", token="
                + (token == null ? "<none>" : "<redacted>") + ", password=" + (password == null ? "<none>"
                : "<redacted>") + ", maxKernels=" + maxKernels + ", dataDir=" + dataDir + ", " + tools + "]";
    }
}
