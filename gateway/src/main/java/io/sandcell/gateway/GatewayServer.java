package io.sandcell.gateway;

import io.sandcell.gateway.auth.Auth;
import io.sandcell.gateway.auth.LoginRoutes;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.http.ConnectionGuard;
import io.sandcell.gateway.http.ErrorHandler;
import io.sandcell.gateway.http.ServerRoutes;
import io.sandcell.gateway.http.StatusPage;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.KernelRoutes;
import io.sandcell.gateway.kernels.KernelSpecRegistry;
import io.sandcell.gateway.sessions.SessionManager;
import io.sandcell.gateway.sessions.SessionRoutes;
import io.sandcell.gateway.tools.ToolRoutes;
import io.sandcell.gateway.ws.ChannelsHandler;
import io.sandcell.gateway.ws.OutboundBudget;
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
    private final ConnectionGuard connections;
    private final OutboundBudget outbound;
    private HttpServer server;
    private final int reconciled;
    private final List<DirLock> locks;

    private GatewayServer(GatewayConfig config, Vertx vertx, KernelManager kernels, int reconciled,
                          List<DirLock> locks) {
        this.config = config;
        this.vertx = vertx;
        this.kernels = kernels;
        this.reconciled = reconciled;
        this.locks = locks;
        this.tools = new ToolRoutes(config, kernels, vertx);
        this.connections = new ConnectionGuard(vertx, config.connections());
        this.outbound = new OutboundBudget(config.connections().maxOutboundBytes());
        this.router = routes();
    }

    /**
     * Builds the gateway after taking its directories, and removes what a crashed earlier run of it left.
     *
     * @throws IOException when another gateway holds the data dir or the runtime dir, or they cannot be made
     */
    public static GatewayServer create(GatewayConfig config, Map<String, String> env) throws IOException {
        List<DirLock> locks = new java.util.ArrayList<>();
        Vertx vertx = null;
        try {
            locks.add(DirLock.acquire(config.dataDir(), "data dir"));
            locks.add(DirLock.acquire(config.runtimeDir(), "runtime dir")); // may be another gateway's, by option
            vertx = Vertx.vertx();
            KernelSpecRegistry specs = new KernelSpecRegistry(config.defaultKernel(), config.kernelspecDir());
            KernelManager kernels = new KernelManager(config, vertx, specs, env);
            int cleaned = kernels.reconcile();
            return new GatewayServer(config, vertx, kernels, cleaned, List.copyOf(locks));
        } catch (IOException | RuntimeException e) {
            if (vertx != null) {
                vertx.close();
            }
            locks.forEach(DirLock::close);
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
        r.route().handler(connections);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(MAX_REST_BODY);
        for (HttpMethod m : List.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE)) {
            r.route().method(m).handler(body);
        }
        Auth auth = new Auth(config);
        ServerRoutes server = new ServerRoutes(kernels, connections, outbound, base);
        // open: version, login, CORS preflight
        server.mountOpen(r);
        new LoginRoutes(auth).mount(r, base);
        tools.mount(r); // Bearer key or capability URLs, checked by the tool routes themselves
        r.route().handler(auth);
        server.mount(r);
        r.get(base).handler(new StatusPage(config, kernels)::handle);
        new KernelRoutes(kernels, base).mount(r);
        r.get(base + "api/kernels/:id/channels").handler(new ChannelsHandler(kernels, config, connections, outbound));
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
                .setPerFrameWebSocketCompressionSupported(config.wsCompression())
                // HTTP/1.1 only, as Jupyter Server: with cleartext HTTP/2 the server waits for a connection's first
                // bytes before it hands the connection over, so connections that send nothing went uncounted
                .setHttp2ClearTextEnabled(false)
                .setIdleTimeout(config.connections().idleTimeoutSeconds())
                .setIdleTimeoutUnit(java.util.concurrent.TimeUnit.SECONDS);
        return vertx.createHttpServer(options).connectionHandler(connections::connected).requestHandler(router)
                .listen().map(s -> {
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
        locks.forEach(DirLock::close); // last: until here this gateway's kernels may still be leaving
    }
}
