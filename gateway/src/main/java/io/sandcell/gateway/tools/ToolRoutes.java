package io.sandcell.gateway.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.auth.ToolAuth;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.gateway.http.Responses;
import io.sandcell.gateway.kernels.KernelManager;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.logging.Logger;

/**
 * The OpenAPI tool server for Open WebUI: {@code GET openapi.json}, {@code POST tools/execute_python} and
 * {@code POST tools/execute_bash} (Bearer key), and the capability URLs of what calls return,
 * {@code GET tools/images/<id>} and {@code GET tools/files/<id>/<name>} (the unguessable id is the permission,
 * so a browser can load them).
 */
public final class ToolRoutes implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ToolRoutes.class.getName());
    /** The longest code or command accepted. */
    static final int MAX_CODE_CHARS = 1 << 20;

    private final GatewayConfig config;
    private final ToolAuth auth;
    private final ToolCalls calls;
    private final ObjectNode document;

    public ToolRoutes(GatewayConfig config, KernelManager kernels, Vertx vertx) {
        this.config = config;
        this.auth = new ToolAuth(config);
        this.calls = new ToolCalls(config.tools(), kernels, vertx, config.dataDir());
        java.nio.file.Path root = java.nio.file.Path.of(kernels.kernelOption("SANDCELL_SANDBOX_ROOT").orElse("/"));
        boolean egress = kernels.kernelOption("SANDCELL_NETWORK").filter("egress"::equals).isPresent();
        this.document = OpenApi.document(config.tools(), io.sandcell.sandbox.SandboxLayout.pythonVersion(root),
                OpenApi.installedLibraries(root), egress);
        if (!auth.usable()) {
            LOG.warning("the tool server accepts no key: password mode without a token; set --tool-key to use it");
        }
    }

    /** Mounts the routes; they check their own credentials, so mount them before the gateway's auth. */
    public void mount(Router r) {
        String base = config.baseUrl();
        r.get(base + "openapi.json").handler(ctx -> {
            auth.check(ctx);
            Responses.json(ctx, 200, document);
        });
        r.post(base + "tools/execute_python").handler(ctx -> execute(ctx, ToolCalls.Language.PYTHON, "code"));
        r.post(base + "tools/execute_bash").handler(ctx -> execute(ctx, ToolCalls.Language.BASH, "command"));
        r.get(base + "tools/images/:file").handler(this::image);
        r.get(base + "tools/files/:id/:name").handler(this::file);
    }

    private void execute(RoutingContext ctx, ToolCalls.Language language, String param) {
        auth.check(ctx);
        JsonNode body = Responses.body(ctx);
        if (body == null || !body.isObject()) {
            throw ApiException.badRequest("the request body must be a JSON object with \"" + param + "\"");
        }
        JsonNode code = body.get(param);
        if (code == null) {
            throw ApiException.badRequest("\"" + param + "\" is missing: the body must be a JSON object with \""
                    + param + "\" (a string)");
        }
        if (!code.isTextual()) {
            throw ApiException.badRequest("\"" + param + "\" must be a string");
        }
        if (code.asText().length() > MAX_CODE_CHARS) {
            throw ApiException.badRequest("\"" + param + "\" is longer than " + MAX_CODE_CHARS + " characters");
        }
        calls.execute(chatKey(ctx), language, code.asText(), publicBase(ctx))
                .onSuccess(r -> Responses.json(ctx, 200, r))
                .onFailure(ctx::fail);
    }

    /** The chat a call belongs to: Open WebUI's chat header, the configured one, the user, or none. */
    ChatKernels.ChatKey chatKey(RoutingContext ctx) {
        String user = header(ctx, "X-OpenWebUI-User-Id");
        if (user == null) {
            user = header(ctx, config.tools().userHeader());
        }
        String chat = header(ctx, "X-OpenWebUI-Chat-Id");
        if (chat == null) {
            chat = header(ctx, config.tools().chatHeader());
        }
        if (chat == null && user != null) {
            chat = "user:" + user;
        }
        return new ChatKernels.ChatKey(user == null ? "" : user, chat);
    }

    /** A header's value if present and sane; templates Open WebUI left unfilled count as absent. */
    private static String header(RoutingContext ctx, String name) {
        String v = ctx.request().getHeader(name);
        if (v == null) {
            return null;
        }
        v = v.trim();
        if (v.isEmpty() || v.startsWith("{{") || v.length() > 256) {
            return null;
        }
        return v;
    }

    private String publicBase(RoutingContext ctx) {
        if (!config.tools().publicUrl().isEmpty()) {
            return config.tools().publicUrl();
        }
        return ctx.request().scheme() + "://" + ctx.request().authority() + config.baseUrl();
    }

    private void image(RoutingContext ctx) {
        String file = ctx.pathParam("file");
        int dot = file.lastIndexOf('.');
        String id = dot > 0 ? file.substring(0, dot) : file;
        Artifacts.Image image = calls.artifacts.image(id).orElseThrow(() ->
                ApiException.notFound("no such image, or its link has expired"));
        safeHeaders(ctx).putHeader("Content-Type", image.mime()).putHeader("Cache-Control", "private, max-age="
                + config.tools().artifactTtlSeconds()).end(Buffer.buffer(image.bytes()));
    }

    private void file(RoutingContext ctx) {
        Artifacts.FileGrant grant = calls.artifacts.file(ctx.pathParam("id")).orElseThrow(() ->
                ApiException.notFound("no such file, or its link has expired"));
        ctx.vertx().executeBlocking(() -> Workspace.open(grant.workspace(), grant.relative(),
                config.tools().maxFileBytes()), false).onSuccess(read -> {
                    switch (read) {
                        case Workspace.Opened file -> {
                            String name = grant.relative().getFileName().toString()
                                    .replaceAll("[^A-Za-z0-9._-]", "_");
                            safeHeaders(ctx).putHeader("Content-Type", "application/octet-stream")
                                    .putHeader("Content-Disposition", "attachment; filename=\"" + name + "\"")
                                    .putHeader("Cache-Control", "private, no-store")
                                    .putHeader("Content-Length", String.valueOf(file.size()));
                            Download.start(file, ctx.response());
                        }
                        case Workspace.Refused f -> ctx.fail(new ApiException(f.status(),
                                f.status() == 413 ? "Content Too Large" : "Not Found", f.message()));
                    }
                }).onFailure(ctx::fail);
    }

    /** Served bytes are the sandbox's: never sniffed, never run as a page (SVG scripts included). */
    private static io.vertx.core.http.HttpServerResponse safeHeaders(RoutingContext ctx) {
        return ctx.response().putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'")
                .putHeader("Referrer-Policy", "no-referrer");
    }

    @Override
    public void close() {
        calls.close();
    }
}
