package io.sandcell.gateway.kernels;

import io.sandcell.gateway.http.ApiException;
import io.sandcell.gateway.http.Responses;
import io.sandcell.protocol.Json;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.regex.Pattern;

/** {@code /api/kernels} and {@code /api/kernelspecs}: parse, call the manager, return the model. */
public final class KernelRoutes {
    /** Kernel ids are dashed UUIDs; anything else is an unknown kernel. */
    static final Pattern KERNEL_ID = Pattern.compile("\\w+-\\w+-\\w+-\\w+-\\w+");

    private final KernelManager kernels;
    private final String base;

    public KernelRoutes(KernelManager kernels, String base) {
        this.kernels = kernels;
        this.base = base;
    }

    public void mount(Router router) {
        router.get(base + "api/kernels").handler(this::list);
        router.post(base + "api/kernels").handler(this::start);
        router.get(base + "api/kernels/:id").handler(this::get);
        router.delete(base + "api/kernels/:id").handler(this::delete);
        router.post(base + "api/kernels/:id/interrupt").handler(this::interrupt);
        router.post(base + "api/kernels/:id/restart").handler(this::restart);
        router.get(base + "api/kernelspecs").handler(ctx -> Responses.json(ctx, 200,
                kernels.specs().listModel(base)));
        router.get(base + "api/kernelspecs/:name").handler(ctx -> Responses.json(ctx, 200,
                kernels.specs().model(kernels.specs().get(ctx.pathParam("name")), base)));
        router.get(base + "kernelspecs/:name/:file").handler(ctx -> ctx.response()
                .sendFile(kernels.specs().resource(ctx.pathParam("name"), ctx.pathParam("file")).toString()));
    }

    private ManagedKernel kernel(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (!KERNEL_ID.matcher(id).matches()) {
            throw ApiException.notFound("Kernel does not exist: " + id);
        }
        return kernels.get(id);
    }

    private void list(RoutingContext ctx) {
        var arr = Json.mapper().createArrayNode();
        kernels.list().forEach(k -> arr.add(k.model()));
        Responses.json(ctx, 200, arr);
    }

    private void start(RoutingContext ctx) {
        ManagedKernel k = kernels.start(Responses.body(ctx));
        Responses.created(ctx, base + "api/kernels/" + k.id(), k.model());
    }

    private void get(RoutingContext ctx) {
        Responses.json(ctx, 200, kernel(ctx).model());
    }

    private void delete(RoutingContext ctx) {
        kernels.shutdown(kernel(ctx).id());
        Responses.noContent(ctx);
    }

    private void interrupt(RoutingContext ctx) {
        kernel(ctx).interrupt();
        Responses.noContent(ctx);
    }

    private void restart(RoutingContext ctx) {
        ManagedKernel k = kernel(ctx);
        k.restart().onSuccess(v -> Responses.json(ctx, 200, k.model()))
                .onFailure(e -> ctx.fail(new ApiException(500, "Internal Server Error",
                        "Exception restarting kernel: " + e.getMessage())));
    }
}
