package io.sandcell.gateway.ws;

import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.gateway.http.ConnectionGuard;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.util.UUID;

/**
 * {@code GET /api/kernels/{id}/channels}: checks the kernel and the origin, upgrades, and attaches a
 * {@link ClientConnection}. The subprotocol ({@code v1.kernel.websocket.jupyter.org} or none) is chosen by
 * the server options during the handshake.
 */
public final class ChannelsHandler implements Handler<RoutingContext> {
    private final KernelManager kernels;
    private final GatewayConfig config;
    private final ConnectionGuard connections;
    private final OutboundBudget budget;

    public ChannelsHandler(KernelManager kernels, GatewayConfig config, ConnectionGuard connections,
                           OutboundBudget budget) {
        this.kernels = kernels;
        this.config = config;
        this.connections = connections;
        this.budget = budget;
    }

    @Override
    public void handle(RoutingContext ctx) {
        ManagedKernel kernel = kernels.get(ctx.pathParam("id"));
        if (!"websocket".equalsIgnoreCase(ctx.request().getHeader("Upgrade"))) {
            throw ApiException.badRequest("this endpoint needs a websocket upgrade");
        }
        checkOrigin(ctx);
        int max = config.connections().maxClientsPerKernel();
        if (kernel.connections() >= max) {
            throw new ApiException(429, "Too Many Requests", "kernel " + kernel.id() + " already has " + max
                    + " websocket clients (--max-clients-per-kernel)");
        }
        String session = ctx.queryParams().get("session_id");
        if (session == null || session.isEmpty()) {
            session = UUID.randomUUID().toString();
        } else if (!session.matches("[A-Za-z0-9._:-]{1,128}")) {
            throw ApiException.badRequest("session_id must be at most 128 letters, digits, '.', '_', ':' or '-'");
        }
        String sessionId = session;
        ctx.request().toWebSocket().onSuccess(ws -> {
            Runnable closed = connections.webSocket(ctx.request().connection());
            new ClientConnection(ws, ctx.vertx().getOrCreateContext(), kernel, sessionId,
                    config.maxIopubMessageBytes(), budget).start(config.connections().pingIntervalMs(), closed);
        }).onFailure(ctx::fail);
    }

    /** An Origin must be the server's own host or on the allow-list; no Origin (non-browser) is fine. */
    private void checkOrigin(RoutingContext ctx) {
        String origin = ctx.request().getHeader("Origin");
        if (origin == null || config.allowOrigins().contains("*") || config.allowOrigins().contains(origin)) {
            return;
        }
        String host = ctx.request().getHeader("Host");
        try {
            URI o = URI.create(origin);
            String originHost = o.getHost() + (o.getPort() > 0 ? ":" + o.getPort() : "");
            if (host != null && (host.equalsIgnoreCase(originHost) || host.equalsIgnoreCase(o.getHost()))) {
                return;
            }
        } catch (IllegalArgumentException ignored) {
            // a malformed origin is not allowed
        }
        throw ApiException.forbidden("Blocking Cross Origin WebSocket Attempt: origin " + origin
                + " is not allowed (--allow-origin)");
    }
}
