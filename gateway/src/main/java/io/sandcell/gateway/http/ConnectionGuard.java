package io.sandcell.gateway.http;

import io.sandcell.gateway.config.ConnectionConfig;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.ext.web.RoutingContext;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Keeps clients' connections within {@link ConnectionConfig}: a connection must send a request soon after it
 * opens, and past {@code --max-connections} the connection that has waited longest without a request under
 * way (one that never sent a request first) is closed to make room, so that idle connections, which anyone can
 * open without credentials, never lock a rightful client out. Kernel websockets are never closed for room.
 * Silent connections are closed by the server's idle timeout.
 *
 * <p>Installed as the server's connection handler and as the first route.
 */
public final class ConnectionGuard implements Handler<RoutingContext> {
    private static final Logger LOG = Logger.getLogger(ConnectionGuard.class.getName());

    private final Vertx vertx;
    private final ConnectionConfig config;
    private final Map<HttpConnection, Tracked> open = new ConcurrentHashMap<>();
    private final AtomicLong closedForRoom = new AtomicLong();
    private final AtomicLong closedSilent = new AtomicLong();

    /** What is known of one connection. */
    private static final class Tracked {
        final AtomicInteger inFlight = new AtomicInteger();
        volatile long lastActive = System.nanoTime();
        volatile boolean requested;
        volatile boolean webSocket;
    }

    public ConnectionGuard(Vertx vertx, ConnectionConfig config) {
        this.vertx = vertx;
        this.config = config;
    }

    /** A new connection: counted, made room for, and closed unless it sends a request in time. */
    public void connected(HttpConnection c) {
        Tracked t = new Tracked();
        open.put(c, t);
        c.closeHandler(v -> open.remove(c));
        if (open.size() > config.maxConnections()) {
            makeRoom(c);
        }
        vertx.setTimer(config.requestTimeoutSeconds() * 1000L, id -> {
            if (!t.requested && open.containsKey(c)) {
                closedSilent.incrementAndGet();
                c.close();
            }
        });
    }

    /** The first route: the request counts on its connection until its response has ended. */
    @Override
    public void handle(RoutingContext ctx) {
        Tracked t = open.get(ctx.request().connection());
        if (t != null) {
            t.requested = true;
            t.inFlight.incrementAndGet();
            t.lastActive = System.nanoTime();
            ctx.addEndHandler(v -> {
                t.inFlight.decrementAndGet();
                t.lastActive = System.nanoTime();
            });
        }
        ctx.next();
    }

    /**
     * Marks a connection upgraded to a kernel websocket: it is never closed to make room.
     *
     * @return what to run when the websocket closes (an upgraded connection's own close handler is not called)
     */
    public Runnable webSocket(HttpConnection c) {
        Tracked t = open.get(c);
        if (t != null) {
            t.webSocket = true;
        }
        return () -> open.remove(c);
    }

    /** Connections open now. */
    public int open() {
        return open.size();
    }

    /** Connections closed to make room, and for sending no request in time, since the start. */
    public long closedForRoom() {
        return closedForRoom.get();
    }

    public long closedSilent() {
        return closedSilent.get();
    }

    /**
     * Closes the connection that has waited longest with no request under way, one that never sent a request
     * before any that did; when every other connection is busy or a websocket, the new one is closed.
     */
    private void makeRoom(HttpConnection newcomer) {
        HttpConnection victim = newcomer;
        Tracked worst = null;
        for (Map.Entry<HttpConnection, Tracked> e : open.entrySet()) {
            Tracked t = e.getValue();
            if (e.getKey() == newcomer || t.webSocket || t.inFlight.get() > 0) {
                continue;
            }
            if (worst == null || (worst.requested && !t.requested)
                    || (worst.requested == t.requested && t.lastActive < worst.lastActive)) {
                worst = t;
                victim = e.getKey();
            }
        }
        if (closedForRoom.incrementAndGet() % 1000 == 1) {
            LOG.warning(open.size() + " connections are open, past --max-connections " + config.maxConnections()
                    + ": the longest idle are closed to make room (" + closedForRoom.get() + " so far)");
        }
        open.remove(victim);
        victim.close();
    }
}
