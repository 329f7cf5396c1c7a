package io.sandcell.gateway.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.protocol.Json;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The error mapper on a real Vert.x server: bodies by status, and which failures reach the log. */
class ErrorHandlerTest {
    private final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private final Logger log = Logger.getLogger(ErrorHandler.class.getName());
    private Vertx vertx;
    private int port;

    @BeforeEach
    void start() {
        log.addHandler(capture);
        vertx = Vertx.vertx();
        Router r = Router.router(vertx);
        r.route().failureHandler(new ErrorHandler());
        r.get("/server-fault").handler(ctx -> {
            throw new ApiException(500, "Internal Server Error", "no free ports for a kernel");
        });
        r.get("/client-fault").handler(ctx -> {
            throw ApiException.notFound("Kernel does not exist: x");
        });
        r.get("/bug").handler(ctx -> {
            throw new IllegalStateException("a bug");
        });
        port = vertx.createHttpServer().requestHandler(r).listen(0).await().actualPort();
    }

    @AfterEach
    void stop() {
        log.removeHandler(capture);
        vertx.close().await();
    }

    private HttpResponse<String> get(String path) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path + "?token=secret"))
                    .build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    @Test
    void aServerFaultIsAnsweredWithItsMessageAndLoggedWithoutTheQuery() throws Exception {
        var r = get("/server-fault");
        assertEquals(500, r.statusCode());
        assertEquals("no free ports for a kernel", Json.mapper().readTree(r.body()).get("message").asText());
        assertEquals(1, logged.size(), logged.toString());
        String line = logged.get(0).getMessage();
        assertTrue(line.contains("GET /server-fault") && line.contains("no free ports"), line);
        assertTrue(!line.contains("secret"), "the query (and so a token in it) stays out of the log: " + line);
    }

    @Test
    void aClientFaultIsAnsweredButNotLogged() throws Exception {
        var r = get("/client-fault");
        assertEquals(404, r.statusCode());
        assertEquals("Not Found", Json.mapper().readTree(r.body()).get("reason").asText());
        assertEquals(List.of(), logged);
    }

    @Test
    void anUnexpectedExceptionIsAGeneric500WithItsStackTraceOnlyInTheLog() throws Exception {
        var r = get("/bug");
        assertEquals(500, r.statusCode());
        assertTrue(!r.body().contains("a bug") && !r.body().contains("IllegalStateException"), r.body());
        assertEquals(1, logged.size());
        assertEquals("a bug", logged.get(0).getThrown().getMessage());
    }
}
