package io.sandcell.gateway.auth;

import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.config.GatewayConfig.AuthMode;
import io.sandcell.gateway.http.ApiException;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * {@code GET /login} sets an {@code _xsrf} cookie and shows a form; {@code POST /login} with form fields
 * {@code _xsrf} and {@code password} sets the login cookie and redirects (302). This is the flow Open
 * WebUI's "password" setting performs.
 */
public final class LoginRoutes {
    private final Auth auth;
    private final LoginThrottle throttle = new LoginThrottle(System::nanoTime);

    public LoginRoutes(Auth auth) {
        this.auth = auth;
    }

    public void mount(Router router, String base) {
        router.get(base + "login").handler(this::page);
        router.post(base + "login").handler(this::login);
    }

    private String xsrf(RoutingContext ctx) {
        Cookie c = ctx.request().getCookie(Auth.XSRF_COOKIE);
        if (c != null && c.getValue().matches("[A-Za-z0-9_-]{20,100}")) {
            return c.getValue();
        }
        String value = GatewayConfig.newToken();
        ctx.response().addCookie(Cookie.cookie(Auth.XSRF_COOKIE, value).setPath(auth.config().baseUrl())
                .setSameSite(CookieSameSite.LAX));
        return value;
    }

    private void page(RoutingContext ctx) {
        String xsrf = xsrf(ctx);
        String hint = auth.config().authMode() == AuthMode.PASSWORD ? "Password" : "Token";
        ctx.response().putHeader("Content-Type", "text/html; charset=utf-8")
                .putHeader("Cache-Control", "no-store")
                .end("<!doctype html><title>Sandcell login</title><form method=post>"
                        + "<input type=hidden name=_xsrf value=\"" + xsrf + "\">" + hint
                        + ": <input type=password name=password autofocus> <button>Log in</button></form>");
    }

    private void login(RoutingContext ctx) {
        if (auth.config().authMode() == AuthMode.NONE) {
            redirect(ctx);
            return;
        }
        Cookie cookie = ctx.request().getCookie(Auth.XSRF_COOKIE);
        String formXsrf = ctx.request().getFormAttribute(Auth.XSRF_COOKIE);
        if (cookie == null || formXsrf == null || !MessageDigest.isEqual(cookie.getValue().getBytes(
                StandardCharsets.UTF_8), formXsrf.getBytes(StandardCharsets.UTF_8))) {
            throw ApiException.forbidden("'_xsrf' argument missing or incorrect");
        }
        String client = ctx.request().remoteAddress().hostAddress();
        long waitMs = throttle.waitMs(client);
        if (waitMs > 0) {
            long seconds = (waitMs + 999) / 1000;
            ctx.response().putHeader("Retry-After", String.valueOf(seconds));
            throw new ApiException(429, "Too Many Requests", "too many failed logins from this address: try again in "
                    + seconds + " s");
        }
        if (!auth.passwordMatches(ctx.request().getFormAttribute("password"))) {
            throttle.failed(client);
            throw ApiException.unauthorized("Invalid credentials");
        }
        throttle.succeeded(client);
        ctx.response().addCookie(auth.newLogin());
        redirect(ctx);
    }

    private void redirect(RoutingContext ctx) {
        String next = ctx.queryParams().get("next");
        String base = auth.config().baseUrl();
        String target = next != null && next.startsWith(base) && !next.startsWith("//") ? next : base;
        ctx.response().setStatusCode(302).putHeader("Location", target).end();
    }
}
