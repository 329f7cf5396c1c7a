package io.sandcell.gateway.auth;

import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.config.GatewayConfig.AuthMode;
import io.sandcell.gateway.http.ApiException;
import io.vertx.core.Handler;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checks every request but the open ones ({@code GET /api}, the login page, CORS preflight).
 * <ul>
 *   <li>A token (query {@code token}, or {@code Authorization: token|bearer X}) is enough by itself.</li>
 *   <li>A login cookie is enough for GET; other methods and websocket upgrades also need
 *       {@code X-XSRFToken} (or {@code _xsrf}) equal to the {@code _xsrf} cookie.</li>
 *   <li>In no-auth mode everything passes, POSTs without XSRF included.</li>
 * </ul>
 * Missing or wrong credentials get 401; a missing or wrong XSRF token gets 403.
 */
public final class Auth implements Handler<RoutingContext> {
    public static final String XSRF_COOKIE = "_xsrf";
    static final Duration LOGIN_LIFETIME = Duration.ofDays(7);

    private final GatewayConfig config;
    private final String loginCookie;
    private final byte[] tokenDigest;
    private final byte[] passwordDigest;
    private final Map<String, Instant> logins = new ConcurrentHashMap<>();

    public Auth(GatewayConfig config) {
        this.config = config;
        this.loginCookie = "sandcell-login-" + config.port();
        this.tokenDigest = config.token() == null || config.token().isEmpty() ? null : digest(config.token());
        this.passwordDigest = config.password() == null || config.password().isEmpty() ? null
                : digest(config.password());
    }

    static byte[] digest(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Constant-time comparison of a presented secret with a configured one (by digest, so lengths leak nothing). */
    static boolean matches(byte[] expectedDigest, String presented) {
        return expectedDigest != null && presented != null
                && MessageDigest.isEqual(expectedDigest, digest(presented));
    }

    public String loginCookieName() {
        return loginCookie;
    }

    @Override
    public void handle(RoutingContext ctx) {
        if (config.authMode() == AuthMode.NONE || ctx.request().method() == HttpMethod.OPTIONS) {
            ctx.next();
            return;
        }
        if (matches(tokenDigest, presentedToken(ctx))) {
            ctx.next();
            return;
        }
        Cookie login = ctx.request().getCookie(loginCookie);
        if (login != null && validLogin(login.getValue())) {
            boolean safe = ctx.request().method() == HttpMethod.GET || ctx.request().method() == HttpMethod.HEAD;
            boolean upgrade = "websocket".equalsIgnoreCase(ctx.request().getHeader("Upgrade"));
            if ((!safe || upgrade) && !xsrfOk(ctx)) {
                throw ApiException.forbidden("'_xsrf' argument missing or incorrect: cookie-authenticated requests "
                        + "need an X-XSRFToken header matching the _xsrf cookie");
            }
            ctx.next();
            return;
        }
        if (ctx.request().method() == HttpMethod.GET && ctx.normalizedPath().equals(config.baseUrl())) {
            // a person opening the gateway's URL without the token gets the login form, as with Jupyter
            ctx.response().setStatusCode(302).putHeader("Location", config.baseUrl() + "login?next="
                    + java.net.URLEncoder.encode(config.baseUrl(), java.nio.charset.StandardCharsets.UTF_8)).end();
            return;
        }
        throw ApiException.unauthorized("Unauthorized: a valid token or login is required");
    }

    /** The token from {@code ?token=} or an {@code Authorization: token|bearer} header. */
    static String presentedToken(RoutingContext ctx) {
        String q = ctx.queryParams().get("token");
        if (q != null && !q.isEmpty()) {
            return q;
        }
        String h = ctx.request().getHeader("Authorization");
        if (h != null) {
            String[] parts = h.trim().split("\\s+", 2);
            if (parts.length == 2 && (parts[0].equalsIgnoreCase("token") || parts[0].equalsIgnoreCase("bearer"))) {
                return parts[1].trim();
            }
        }
        return null;
    }

    private boolean xsrfOk(RoutingContext ctx) {
        Cookie cookie = ctx.request().getCookie(XSRF_COOKIE);
        if (cookie == null || cookie.getValue().isEmpty()) {
            return false;
        }
        String presented = ctx.request().getHeader("X-XSRFToken");
        if (presented == null) {
            presented = ctx.queryParams().get(XSRF_COOKIE);
        }
        if (presented == null && ctx.request().getFormAttribute(XSRF_COOKIE) != null) {
            presented = ctx.request().getFormAttribute(XSRF_COOKIE);
        }
        return presented != null && MessageDigest.isEqual(cookie.getValue().getBytes(StandardCharsets.UTF_8),
                presented.getBytes(StandardCharsets.UTF_8));
    }

    private boolean validLogin(String value) {
        Instant expiry = logins.get(value);
        if (expiry == null) {
            return false;
        }
        if (expiry.isBefore(Instant.now())) {
            logins.remove(value);
            return false;
        }
        return true;
    }

    /** Whether a login form's password is right: the password in password mode, the token in token mode. */
    boolean passwordMatches(String presented) {
        return config.authMode() == AuthMode.PASSWORD ? matches(passwordDigest, presented)
                : matches(tokenDigest, presented);
    }

    /** Records a successful login and returns its cookie. */
    Cookie newLogin() {
        String value = GatewayConfig.newToken();
        logins.put(value, Instant.now().plus(LOGIN_LIFETIME));
        logins.entrySet().removeIf(e -> e.getValue().isBefore(Instant.now()));
        return Cookie.cookie(loginCookie, value).setHttpOnly(true).setPath(config.baseUrl())
                .setSameSite(CookieSameSite.LAX).setMaxAge(LOGIN_LIFETIME.toSeconds());
    }

    GatewayConfig config() {
        return config;
    }
}
