package io.sandcell.gateway.zmq;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.sandcell.protocol.ConnectionInfo;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;
import org.zeromq.ZMQ;

/** The channels' I/O thread against a ZeroMQ context that ends under it. */
class KernelChannelsTest {
    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * Terminating a context waits for its sockets to close, and a poll on a closed context returns at once:
     * channels still open when the gateway ends its context must close their sockets instead of polling for ever.
     */
    @Test
    void channelsLeftOpenLetTheContextEnd() throws Exception {
        ZMQ.Context ctx = ZMQ.context(1);
        ConnectionInfo conn = new ConnectionInfo("tcp", "127.0.0.1", freePort(), freePort(), freePort(), freePort(),
                freePort(), "hmac-sha256", ConnectionInfo.newKey(), "python3");
        KernelChannels channels = new KernelChannels(ctx, "ctxtest", conn, "internal", (c, s, m) -> { });
        Thread.sleep(200); // the I/O thread has opened its sockets and polls
        Thread term = Thread.ofPlatform().daemon().start(ctx::term);
        term.join(10_000);
        assertFalse(term.isAlive(), "the context did not end: the channels' sockets stayed open");
        channels.close(); // after the context: no error
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            assertFalse(t.getName().equals("zmq-ctxtest"), "the channels' I/O thread still runs");
        }
    }
}
