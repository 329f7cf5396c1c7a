package io.sandcell.gateway.sessions;

import io.sandcell.gateway.http.Responses;
import io.sandcell.protocol.Json;
import io.vertx.ext.web.Router;

/** {@code /api/sessions}: create, list, get, update, delete. */
public final class SessionRoutes {
    private final SessionManager sessions;
    private final String base;

    public SessionRoutes(SessionManager sessions, String base) {
        this.sessions = sessions;
        this.base = base;
    }

    public void mount(Router router) {
        router.get(base + "api/sessions").handler(ctx -> {
            var arr = Json.mapper().createArrayNode();
            sessions.list().forEach(arr::add);
            Responses.json(ctx, 200, arr);
        });
        router.post(base + "api/sessions").handler(ctx -> {
            var model = sessions.create(Responses.body(ctx));
            Responses.created(ctx, base + "api/sessions/" + model.get("id").asText(), model);
        });
        router.get(base + "api/sessions/:id").handler(ctx -> Responses.json(ctx, 200,
                sessions.get(ctx.pathParam("id"))));
        router.patch(base + "api/sessions/:id").handler(ctx -> Responses.json(ctx, 200,
                sessions.update(ctx.pathParam("id"), Responses.body(ctx))));
        router.delete(base + "api/sessions/:id").handler(ctx -> {
            sessions.delete(ctx.pathParam("id"));
            Responses.noContent(ctx);
        });
    }
}
