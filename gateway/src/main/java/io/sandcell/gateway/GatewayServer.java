package io.sandcell.gateway;

import io.sandcell.gateway.auth.Auth;
import io.sandcell.gateway.auth.LoginRoutes;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.http.ErrorHandler;
import io.sandcell.gateway.http.ServerRoutes;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.KernelRoutes;
import io.sandcell.gateway.kernels.KernelSpecRegistry;
import io.sandcell.gateway.sessions.SessionManager;
import io.sandcell.gateway.sessions.SessionRoutes;
import io.sandcell.gateway.tools.ToolRoutes;
import io.sandcell.gateway.ws.ChannelsHandler;
import io.sandcell.gateway.ws.WsFrames;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The gateway: one Vert.x HTTP server, the route table, and the kernel manager behind it.
 *
 * <p>Lifecycle: {@link #create} builds everything and cleans up after an earlier crashed run;
 * {@link #start()} listens and completes with the bound port; {@link #close()} stops every kernel, then the
 * server.
 */
public final class GatewayServer implements AutoCloseable {
    /** The largest REST request body (kernel and session requests are small). */
    static final long MAX_REST_BODY = 16L << 20;

    private final GatewayConfig config;
    private final Vertx vertx;
    private final KernelManager kernels;
    private final ToolRoutes tools;
    private final Router router;
    private HttpServer server;
    private final int reconciled;

    private GatewayServer(GatewayConfig config, Vertx vertx, KernelManager kernels, int reconciled) {
        this.config = config;
        this.vertx = vertx;
        this.kernels = kernels;
        this.reconciled = reconciled;
        this.tools = new ToolRoutes(config, kernels, vertx);
        this.router = routes();
    }

    public static GatewayServer create(GatewayConfig config, Map<String, String> env) throws IOException {
        Vertx vertx = Vertx.vertx();
        try {
            KernelSpecRegistry specs = new KernelSpecRegistry(config.defaultKernel(), config.kernelspecDir());
            KernelManager kernels = new KernelManager(config, vertx, specs, env);
            int cleaned = kernels.reconcile();
            return new GatewayServer(config, vertx, kernels, cleaned);
        } catch (IOException | RuntimeException e) {
            vertx.close();
            throw e;
        }
    }

    /** How many kernels a crashed earlier run had left, now removed. */
    public int reconciled() {
        return reconciled;
    }

    private Router routes() {
        String base = config.baseUrl();
        Router r = Router.router(vertx);
        r.route().failureHandler(new ErrorHandler());
        BodyHandler body = BodyHandler.create(false).setBodyLimit(MAX_REST_BODY);
        for (HttpMethod m : List.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE)) {
            r.route().method(m).handler(body);
        }
        Auth auth = new Auth(config);
        ServerRoutes server = new ServerRoutes(kernels, base);
        // open: version, login, CORS preflight
        server.mountOpen(r);
        new LoginRoutes(auth).mount(r, base);
        tools.mount(r); // Bearer key or capability URLs, checked by the tool routes themselves
        r.route().handler(auth);
        server.mount(r);
        new KernelRoutes(kernels, base).mount(r);
        r.get(base + "api/kernels/:id/channels").handler(new ChannelsHandler(kernels, config));
        new SessionRoutes(new SessionManager(kernels), base).mount(r);
        r.route().last().handler(ctx -> ctx.fail(404));
        return r;
    }

    /** Listens; completes with the port actually bound. */
    public Future<Integer> start() {
        HttpServerOptions options = new HttpServerOptions().setHost(config.ip()).setPort(config.port())
                .setTcpNoDelay(true).setWebSocketSubProtocols(List.of(WsFrames.V1))
                .setMaxWebSocketMessageSize(config.maxMessageBytes())
                .setMaxWebSocketFrameSize(config.maxMessageBytes())
                .setPerMessageWebSocketCompressionSupported(config.wsCompression())
                .setPerFrameWebSocketCompressionSupported(config.wsCompression());
        return vertx.createHttpServer(options).requestHandler(router).listen().map(s -> {
            server = s;
            kernels.refillPool();
            return s.actualPort();
        });
    }

    @Override
    public void close() {
        tools.close();
        kernels.close();
        try {
            kernels.removeToolWorkspaces();
        } catch (IOException e) {
            java.util.logging.Logger.getLogger(GatewayServer.class.getName())
                    .warning("removing tool workspaces: " + e.getMessage());
        }
        if (server != null) {
            server.close().await();
        }
        vertx.close().await();
    }
}
