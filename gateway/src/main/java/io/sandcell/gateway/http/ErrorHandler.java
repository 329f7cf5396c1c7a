package io.sandcell.gateway.http;

import io.sandcell.protocol.Json;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place failures become HTTP responses: {@link ApiException} by its status, a status-only failure
 * (from vertx-web itself, e.g. 413 for an oversized body) by its code, anything else as 500. The body is
 * always {@code {"message", "reason"}}; stack traces go to the log, never to the client, and every 5xx is
 * logged.
 */
public final class ErrorHandler implements Handler<RoutingContext> {
    private static final Logger LOG = Logger.getLogger(ErrorHandler.class.getName());

    @Override
    public void handle(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        int status;
        String reason;
        String message;
        if (failure instanceof ApiException api) {
            status = api.status();
            reason = api.reason();
            message = api.getMessage();
            if (status >= 500) { // the server's fault: the operator must see it, not only the client
                LOG.warning(ctx.request().method() + " " + ctx.request().path() + ": " + status + " " + message);
            }
        } else if (failure == null || failure instanceof io.vertx.ext.web.handler.HttpException) {
            status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            if (failure instanceof io.vertx.ext.web.handler.HttpException h) {
                status = h.getStatusCode();
            }
            reason = io.netty.handler.codec.http.HttpResponseStatus.valueOf(status).reasonPhrase();
            message = switch (status) {
                case 413 -> "request body too large";
                case 404 -> "not found: " + ctx.request().path();
                case 405 -> "method " + ctx.request().method() + " not allowed here";
                default -> reason;
            };
        } else if (ctx.statusCode() >= 400 && ctx.statusCode() < 500) {
            // vertx-web's own rejections of a bad request (a Host header that is no host, say) carry their status
            status = ctx.statusCode();
            reason = io.netty.handler.codec.http.HttpResponseStatus.valueOf(status).reasonPhrase();
            message = failure.getMessage() == null ? reason : failure.getMessage();
        } else {
            status = 500;
            reason = "Internal Server Error";
            message = "unhandled error";
            LOG.log(Level.SEVERE, "unhandled error on " + ctx.request().method() + " " + ctx.request().path(),
                    failure);
        }
        send(ctx, status, reason, message);
    }

    /** Writes an error response, unless one was already started. */
    public static void send(RoutingContext ctx, int status, String reason, String message) {
        if (ctx.response().headWritten() || ctx.response().closed()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                .end(Json.text(Json.object().put("message", message).put("reason", reason)));
    }
}
