package io.sandcell.gateway.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.gateway.ws.OutboundBudget;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.vertx.ext.web.Router;
import java.time.Instant;

/** {@code /api}, {@code /api/status} and {@code /api/me}. */
public final class ServerRoutes {
    /** The jupyter_server API version this gateway speaks. */
    public static final String API_VERSION = "2.14.2";
    public static final String GATEWAY_VERSION = "sandcell 0.1.0";

    private final KernelManager kernels;
    private final ConnectionGuard connections;
    private final OutboundBudget outbound;
    private final String base;
    private final Instant started = Instant.now();

    public ServerRoutes(KernelManager kernels, ConnectionGuard connections, OutboundBudget outbound, String base) {
        this.kernels = kernels;
        this.connections = connections;
        this.outbound = outbound;
        this.base = base;
    }

    /** The routes that need no authentication: the version and a health check. */
    public void mountOpen(Router router) {
        router.get(base + "api").handler(ctx -> Responses.json(ctx, 200, Json.object()
                .put("version", API_VERSION).put("gateway_version", GATEWAY_VERSION)));
        router.get(base + "health").handler(ctx -> Responses.json(ctx, 200, Json.object().put("status", "ok")
                .put("kernels", kernels.count()).put("pool_ready", kernels.poolReady())));
    }

    public void mount(Router router) {
        router.get(base + "metrics").handler(ctx -> ctx.response().putHeader("Content-Type",
                "text/plain; version=0.0.4; charset=utf-8").end(kernels.metricsText() + connectionMetrics()));
        router.get(base + "api/status").handler(ctx -> {
            Instant last = started;
            int connections = 0;
            for (ManagedKernel k : kernels.list()) {
                connections += k.connections();
                if (k.lastActivity().isAfter(last)) {
                    last = k.lastActivity();
                }
            }
            Responses.json(ctx, 200, Json.object().put("started", Header.format(started))
                    .put("last_activity", Header.format(last)).put("kernels", kernels.count())
                    .put("connections", connections).put("pool_ready", kernels.poolReady())
                    .put("pool_starting", kernels.poolStarting()));
        });
        router.get(base + "api/me").handler(ctx -> {
            ObjectNode body = Json.object();
            body.putObject("identity").put("username", "sandcell").put("name", "Sandcell user")
                    .put("display_name", "Sandcell user").put("initials", "SU").putNull("avatar_url")
                    .putNull("color");
            body.putObject("permissions");
            Responses.json(ctx, 200, body);
        });
    }

    private String connectionMetrics() {
        StringBuilder b = new StringBuilder();
        PrometheusText.gauge(b, "sandcell_http_connections", "Client connections open.", connections.open());
        String closed = "sandcell_http_connections_closed_total";
        PrometheusText.header(b, closed, "counter", "Connections the gateway closed: to make room past "
                + "--max-connections, or for sending no request in time.");
        PrometheusText.sample(b, closed, "{why=\"room\"}", connections.closedForRoom());
        PrometheusText.sample(b, closed, "{why=\"silent\"}", connections.closedSilent());
        PrometheusText.gauge(b, "sandcell_ws_outbound_bytes", "Output written to websocket clients and not yet sent.",
                outbound.pending());
        return b.toString();
    }
}
