package io.sandcell.gateway.tools;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Streams an opened workspace file to a client a chunk at a time, each chunk written only once the client has
 * taken the one before: a download holds one chunk of memory however large the file and however slowly the
 * client reads (whole files held for slow downloads took the gateway to 9.4 GB). A client that takes nothing
 * for {@link #STALL_SECONDS} loses its connection.
 */
final class Download {
    private static final Logger LOG = Logger.getLogger(Download.class.getName());
    static final int CHUNK = 64 << 10;
    static final long STALL_SECONDS = 60;

    private Download() {}

    /** Streams the file on a thread of its own, ends the response and closes the file. */
    static void start(Workspace.Opened file, HttpServerResponse response) {
        Thread.ofVirtual().name("download").start(() -> {
            try (file) {
                long left = file.size();
                ByteBuffer buf = ByteBuffer.allocate(CHUNK);
                while (left > 0) {
                    buf.clear().limit((int) Math.min(CHUNK, left));
                    int n = file.channel().read(buf);
                    if (n < 0) {
                        throw new EOFException("the file shrank while it was served");
                    }
                    left -= n;
                    response.write(Buffer.buffer(n).appendBytes(buf.array(), 0, n)).toCompletionStage()
                            .toCompletableFuture().get(STALL_SECONDS, TimeUnit.SECONDS);
                }
                response.end();
            } catch (Exception e) {
                LOG.fine("a download ended early: " + e);
                response.reset(); // the client must not take a cut file for a whole one
            }
        });
    }
}
