package io.sandcell.gateway.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.ProtocolException;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;

/** Small helpers the route handlers share: reading a JSON body and writing JSON answers. */
public final class Responses {
    private Responses() {}

    /**
     * The request body as JSON, or null when it is empty (Open WebUI sends no body and no content type).
     *
     * @throws ApiException 400 when the body is not valid JSON
     */
    public static JsonNode body(RoutingContext ctx) {
        Buffer b = ctx.body() == null ? null : ctx.body().buffer();
        if (b == null || b.length() == 0 || b.toString().isBlank()) {
            return null;
        }
        try {
            JsonNode n = Json.mapper().readTree(b.getBytes());
            if (n == null || n.isMissingNode()) {
                return null;
            }
            return n;
        } catch (java.io.IOException | ProtocolException e) {
            throw ApiException.badRequest("the request body is not valid JSON");
        }
    }

    public static void json(RoutingContext ctx, int status, JsonNode body) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                .putHeader("Cache-Control", "no-store").end(Json.text(body));
    }

    public static void created(RoutingContext ctx, String location, JsonNode body) {
        ctx.response().putHeader("Location", location);
        json(ctx, 201, body);
    }

    public static void noContent(RoutingContext ctx) {
        ctx.response().setStatusCode(204).end();
    }
}
