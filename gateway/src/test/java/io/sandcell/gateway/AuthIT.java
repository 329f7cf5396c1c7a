package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every endpoint refuses missing or wrong credentials and a missing XSRF header; secrets never reach logs. */
class AuthIT {
    @TempDir
    Path tmp;

    private static final List<String> PROTECTED = List.of("GET api/kernels", "POST api/kernels",
            "GET api/kernels/%s", "DELETE api/kernels/%s", "POST api/kernels/%s/interrupt",
            "POST api/kernels/%s/restart", "GET api/sessions", "POST api/sessions", "GET api/sessions/%s",
            "PATCH api/sessions/%s", "DELETE api/sessions/%s", "GET api/kernelspecs", "GET api/kernelspecs/python3",
            "GET api/status", "GET api/me");

    private static HttpResponse<String> send(HttpClient http, String method, String url, String... headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .method(method, method.equals("GET") || method.equals("DELETE") ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString("{}"));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int wsStatus(HttpClient http, String url, String... headers) {
        WebSocket.Builder b = http.newWebSocketBuilder();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        try {
            WebSocket ws = b.buildAsync(URI.create(url), new WebSocket.Listener() { }).join();
            ws.abort();
            return 101;
        } catch (CompletionException e) {
            if (e.getCause() instanceof WebSocketHandshakeException h) {
                return h.getResponse().statusCode();
            }
            throw e;
        }
    }

    private static final class Captured extends Handler {
        final List<String> lines = new ArrayList<>();

        @Override
        public synchronized void publish(LogRecord r) {
            lines.add(r.getMessage() + (r.getThrown() == null ? "" : " " + r.getThrown()));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }

    @Test
    void tokenMode() throws Exception {
        Captured logs = new Captured();
        Logger.getLogger("").addHandler(logs);
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            HttpClient http = HttpClient.newHttpClient();
            String kernel = gw.startKernel();
            String some = UUID.randomUUID().toString();
            for (String call : PROTECTED) {
                String[] mp = call.split(" ");
                String url = gw.base() + mp[1].formatted(some);
                assertEquals(401, send(http, mp[0], url).statusCode(), "no credentials: " + call);
                assertEquals(401, send(http, mp[0], url + "?token=wrong-token-0000000000").statusCode(),
                        "wrong token: " + call);
                assertEquals(401, send(http, mp[0], url, "Authorization", "token wrong-token-000000000")
                        .statusCode(), "wrong header token: " + call);
                assertEquals(401, send(http, mp[0], url, "Authorization", "Basic " + GatewayFixture.TOKEN)
                        .statusCode(), "wrong scheme: " + call);
            }
            String k = gw.base() + "api/kernels/" + kernel;
            assertEquals(200, send(http, "GET", k + "?token=" + GatewayFixture.TOKEN).statusCode());
            assertEquals(200, send(http, "GET", k, "Authorization", "token " + GatewayFixture.TOKEN).statusCode());
            assertEquals(200, send(http, "GET", k, "Authorization", "Bearer " + GatewayFixture.TOKEN).statusCode());
            assertEquals(200, send(http, "GET", gw.base() + "api").statusCode(), "GET /api is open");

            String ws = gw.wsBase() + "api/kernels/" + kernel + "/channels";
            assertEquals(401, wsStatus(http, ws));
            assertEquals(401, wsStatus(http, ws + "?token=wrong-token-0000000000"));
            assertEquals(101, wsStatus(http, ws + "?token=" + GatewayFixture.TOKEN));
            assertEquals(403, wsStatus(http, ws + "?token=" + GatewayFixture.TOKEN, "Origin", "http://evil.example"));
            assertEquals(101, wsStatus(http, ws + "?token=" + GatewayFixture.TOKEN, "Origin",
                    "http://127.0.0.1:" + gw.port));
            assertEquals(404, wsStatus(http, gw.wsBase() + "api/kernels/" + some + "/channels?token="
                    + GatewayFixture.TOKEN));
            assertEquals(204, send(http, "DELETE", k + "?token=" + GatewayFixture.TOKEN).statusCode());
        } finally {
            Logger.getLogger("").removeHandler(logs);
        }
        for (String line : logs.lines) {
            assertFalse(line.contains(GatewayFixture.TOKEN), "the token reached the log: " + line);
        }
    }

    @Test
    void passwordModeWithXsrf() throws Exception {
        String password = "correct horse battery staple";
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--password", password)) {
            HttpClient http = HttpClient.newBuilder().cookieHandler(new java.net.CookieManager()).build();
            assertEquals(401, send(http, "GET", gw.base() + "api/kernels").statusCode());
            HttpResponse<String> page = send(http, "GET", gw.base() + "login");
            assertEquals(200, page.statusCode());
            String xsrf = page.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("_xsrf="))
                    .map(c -> c.substring(6, c.indexOf(';'))).findFirst().orElseThrow();
            String form = "application/x-www-form-urlencoded";
            assertEquals(403, http.send(HttpRequest.newBuilder(URI.create(gw.base() + "login")).header("Content-Type",
                    form).POST(HttpRequest.BodyPublishers.ofString("password=x")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "login without _xsrf");
            assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(gw.base() + "login")).header("Content-Type",
                    form).POST(HttpRequest.BodyPublishers.ofString("_xsrf=" + xsrf + "&password=wrong")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "wrong password");
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(gw.base() + "login"))
                    .header("Content-Type", form).POST(HttpRequest.BodyPublishers.ofString("_xsrf=" + xsrf
                            + "&password=" + java.net.URLEncoder.encode(password, "UTF-8"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(302, ok.statusCode());
            assertTrue(ok.headers().allValues("Set-Cookie").stream().anyMatch(c -> c.startsWith("sandcell-login-")));

            assertEquals(200, send(http, "GET", gw.base() + "api/kernels").statusCode(), "cookie GET");
            String some = UUID.randomUUID().toString();
            for (String call : PROTECTED) {
                String[] mp = call.split(" ");
                String url = gw.base() + mp[1].formatted(some);
                HttpClient anonymous = HttpClient.newHttpClient();
                assertEquals(401, send(anonymous, mp[0], url).statusCode(), "no credentials: " + call);
                if (!mp[0].equals("GET")) {
                    assertEquals(403, send(http, mp[0], url).statusCode(), "cookie without XSRF: " + call);
                    assertEquals(403, send(http, mp[0], url, "X-XSRFToken", "wrong").statusCode(),
                            "cookie with a wrong XSRF: " + call);
                }
            }
            assertEquals(403, send(http, "POST", gw.base() + "api/kernels").statusCode(), "cookie POST without XSRF");
            assertEquals(403, send(http, "POST", gw.base() + "api/kernels", "X-XSRFToken", "nope").statusCode());
            HttpResponse<String> created = send(http, "POST", gw.base() + "api/kernels", "X-XSRFToken", xsrf);
            assertEquals(201, created.statusCode(), created.body());
            String kernel = GatewayFixture.json(created).get("id").asText();
            String ws = gw.wsBase() + "api/kernels/" + kernel + "/channels";
            String cookies = "_xsrf=" + xsrf + "; " + ok.headers().allValues("Set-Cookie").stream()
                    .filter(c -> c.startsWith("sandcell-login-")).map(c -> c.substring(0, c.indexOf(';')))
                    .findFirst().orElseThrow();
            HttpClient plain = HttpClient.newHttpClient();
            assertEquals(401, wsStatus(plain, ws));
            assertEquals(403, wsStatus(plain, ws, "Cookie", cookies), "websocket without XSRF");
            assertEquals(101, wsStatus(plain, ws, "Cookie", cookies, "X-XSRFToken", xsrf));
            assertEquals(204, send(http, "DELETE", gw.base() + "api/kernels/" + kernel, "X-XSRFToken", xsrf)
                    .statusCode());
        }
    }

    /** A login form post with a fresh _xsrf pair, from the client's own address. */
    private static HttpResponse<String> login(HttpClient http, GatewayFixture gw, String password) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(gw.base() + "login"))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", "_xsrf=abcdefghijklmnopqrstuvwxyz")
                .POST(HttpRequest.BodyPublishers.ofString("_xsrf=abcdefghijklmnopqrstuvwxyz&password="
                        + java.net.URLEncoder.encode(password, "UTF-8"))).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void failedLoginsSlowTheGuessingAddressOnly() throws Exception {
        String password = "correct horse battery staple";
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--password", password, "--pool-size", "0")) {
            HttpClient guesser = HttpClient.newHttpClient();
            for (int i = 0; i < 5; i++) {
                assertEquals(401, login(guesser, gw, "guess" + i).statusCode(), "a free failure");
            }
            assertEquals(401, login(guesser, gw, "guess5").statusCode(), "checked, and the address now waits");
            for (String attempt : List.of("guess6", password)) {
                HttpResponse<String> slowed = login(guesser, gw, attempt);
                assertEquals(429, slowed.statusCode(), slowed.body());
                assertTrue(slowed.body().contains("too many failed logins"), slowed.body());
                assertEquals("1", slowed.headers().firstValue("Retry-After").orElse(""));
            }
            HttpClient rightful = HttpClient.newBuilder()
                    .localAddress(java.net.InetAddress.getByName("127.0.0.2")).build();
            assertEquals(302, login(rightful, gw, password).statusCode(), "another address is not slowed");
            Thread.sleep(600);
            assertEquals(302, login(guesser, gw, password).statusCode(), "after the wait the right one gets in");
            assertEquals(401, login(guesser, gw, "wrong again").statusCode(), "a success started it afresh");
        }
    }

    @Test
    void noAuthModeAcceptsPostsWithoutXsrf() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--no-auth")) {
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> r = send(http, "POST", gw.base() + "api/kernels");
            assertEquals(201, r.statusCode(), r.body());
            String id = GatewayFixture.json(r).get("id").asText();
            assertEquals(204, send(http, "DELETE", gw.base() + "api/kernels/" + id).statusCode());
        }
    }
}
