package io.sandcell.gateway.http;

import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.KernelState;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.vertx.ext.web.RoutingContext;
import java.util.EnumMap;
import java.util.Map;

/**
 * The page at the gateway's URL, behind the same auth as the API: the version, the auth mode, the kernels and
 * the pool, and the Open WebUI settings for this gateway. It names where each secret goes, never the secret.
 * Everything that comes from the request (the Host header) is escaped.
 */
public final class StatusPage {
    private final GatewayConfig config;
    private final KernelManager kernels;

    public StatusPage(GatewayConfig config, KernelManager kernels) {
        this.config = config;
        this.kernels = kernels;
    }

    public void handle(RoutingContext ctx) {
        // vertx-web has already turned away a request whose Host header is not a host and port
        String url = ctx.request().scheme() + "://" + ctx.request().authority() + config.baseUrl();
        StringBuilder b = new StringBuilder(4096);
        b.append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandcell gateway</title>")
                .append("<style>body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:52em;")
                .append("padding:0 1em}td,th{padding:.2em .8em .2em 0;text-align:left;vertical-align:top}")
                .append("pre{background:#f4f4f4;padding:.8em;overflow-x:auto}</style></head><body>")
                .append("<h1>Sandcell gateway</h1><p>Jupyter kernels and Open WebUI tools, every kernel in its ")
                .append("own gVisor sandbox.</p>");
        status(b);
        openWebUi(b, esc(url.endsWith("/") ? url.substring(0, url.length() - 1) : url));
        b.append("</body></html>");
        ctx.response().putHeader("Content-Type", "text/html; charset=utf-8")
                .putHeader("Cache-Control", "no-store")
                .putHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
                .end(b.toString());
    }

    private void status(StringBuilder b) {
        Map<KernelState, Integer> byState = new EnumMap<>(KernelState.class);
        for (ManagedKernel k : kernels.list()) {
            byState.merge(k.state(), 1, Integer::sum);
        }
        int dead = byState.getOrDefault(KernelState.DEAD, 0);
        b.append("<h2>Status</h2><table id=\"status\">");
        row(b, "version", esc(ServerRoutes.GATEWAY_VERSION));
        row(b, "auth", switch (config.authMode()) {
            case TOKEN -> "token";
            case PASSWORD -> "password";
            case NONE -> "<strong>none</strong>: anyone who reaches this port runs code";
        });
        row(b, "kernels", kernels.count() + " live (" + byState.getOrDefault(KernelState.IDLE, 0) + " idle, "
                + byState.getOrDefault(KernelState.BUSY, 0) + " busy, "
                + byState.getOrDefault(KernelState.STARTING, 0) + " starting)");
        row(b, "warm pool", kernels.poolReady() + " ready, " + kernels.poolStarting() + " starting, of "
                + config.poolSize());
        row(b, "sandboxes", (dead == 0 ? "healthy" : dead + " dead kernel(s) waiting to be restarted or deleted")
                + "; network " + esc(kernels.kernelOption("SANDCELL_NETWORK").orElse("none")));
        b.append("</table>");
    }

    private void openWebUi(StringBuilder b, String url) {
        String auth = switch (config.authMode()) {
            case TOKEN -> "token";
            case PASSWORD -> "password";
            case NONE -> "";
        };
        String secret = switch (config.authMode()) {
            case TOKEN -> "CODE_EXECUTION_JUPYTER_AUTH_TOKEN=&lt;the gateway's token&gt;\n";
            case PASSWORD -> "CODE_EXECUTION_JUPYTER_AUTH_PASSWORD=&lt;the gateway's password&gt;\n";
            case NONE -> "";
        };
        b.append("<h2>Open WebUI</h2><p>Admin Panel → Settings → Code Execution: engine <b>Jupyter</b>, URL <code>")
                .append(url).append("</code>, auth <b>").append(auth.isEmpty() ? "None" : auth)
                .append("</b>. The same as environment variables:</p><pre id=\"openwebui-env\">")
                .append("ENABLE_CODE_EXECUTION=true\nCODE_EXECUTION_ENGINE=jupyter\nCODE_EXECUTION_JUPYTER_URL=")
                .append(url).append("\nCODE_EXECUTION_JUPYTER_AUTH=").append(auth).append('\n').append(secret)
                .append("ENABLE_CODE_INTERPRETER=true\nCODE_INTERPRETER_ENGINE=jupyter\n")
                .append("CODE_INTERPRETER_JUPYTER_URL=").append(url).append("\nCODE_INTERPRETER_JUPYTER_AUTH=")
                .append(auth).append('\n').append(secret.replace("CODE_EXECUTION_", "CODE_INTERPRETER_"))
                .append("</pre><p>Tools (Admin Panel → Settings → Tools, or <code>TOOL_SERVER_CONNECTIONS</code>): ")
                .append("OpenAPI server <code>").append(url).append("</code>, path <code>openapi.json</code>, ")
                .append("auth Bearer with the tool key or the gateway's token, headers <code>X-Chat-Id: ")
                .append("{{CHAT_ID}}</code> and <code>X-User-Id: {{USER_ID}}</code>.</p>");
    }

    private static void row(StringBuilder b, String name, String html) {
        b.append("<tr><th>").append(name).append("</th><td>").append(html).append("</td></tr>");
    }

    /** HTML-escapes text that may come from a request. */
    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
