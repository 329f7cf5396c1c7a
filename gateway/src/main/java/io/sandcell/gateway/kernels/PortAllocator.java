package io.sandcell.gateway.kernels;

import io.sandcell.sandbox.SandboxLayout;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback ports for kernels' ZeroMQ sockets. A port is free when handed out, but the kernel binds it a
 * moment later; ports from the ephemeral range can be taken in between by any outgoing connection (the
 * gateway's own connections to other kernels among them), and the kernel then fails with EADDRINUSE. So
 * ports come from below the kernel's ephemeral range, which outgoing connections never use, and a port
 * handed out recently (the last 4096, or half the range when it is smaller) is not handed out again.
 */
final class PortAllocator {
    private static final int RECENT = 4096;

    private final int low;
    private final int high;
    /** How many ports handed out last are held back: 4096, or half the range when it is small. */
    private final int window;
    private final Deque<Integer> recentOrder = new ArrayDeque<>();
    private final Set<Integer> recent = new HashSet<>();

    PortAllocator(int low, int high) {
        if (low < 1024 || high <= low) {
            throw new IllegalArgumentException("bad port range " + low + "-" + high);
        }
        this.low = low;
        this.high = high;
        this.window = Math.min(RECENT, (high - low + 1) / 2);
    }

    /** The 12,000 ports below the host's ephemeral range (or 20768-32767 when it cannot be read). */
    static PortAllocator belowEphemeral(Path localPortRange) {
        int ephemeralLow = 32768;
        try {
            int first = Integer.parseInt(SandboxLayout.readToEnd(localPortRange).strip().split("\\s+")[0]);
            if (first > 1024 && first <= 65535) {
                ephemeralLow = first;
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux, or unreadable: the usual default
        }
        int high = Math.max(2048, ephemeralLow - 1);
        return new PortAllocator(Math.max(1024, high - 12_000 + 1), high);
    }

    /**
     * A port that is free now and was not among the last ones handed out: random tries first, then one sweep
     * over the whole range.
     *
     * @throws IOException when no port of the range can be bound, saying why the last bind failed
     */
    synchronized int next() throws IOException {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        IOException[] last = new IOException[1];
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = random.nextInt(low, high + 1);
            if (!recent.contains(port) && free(port, last)) {
                return take(port);
            }
        }
        int start = random.nextInt(low, high + 1);
        int size = high - low + 1;
        for (int i = 0; i < size; i++) {
            int port = low + (start - low + i) % size;
            if (!recent.contains(port) && free(port, last)) {
                return take(port);
            }
        }
        throw new IOException("no free port between " + low + " and " + high + " (" + recent.size()
                + " handed out recently; the last bind failed: "
                + (last[0] == null ? "none tried" : last[0].getMessage()) + ")");
    }

    private int take(int port) {
        recent.add(port);
        recentOrder.addLast(port);
        if (recentOrder.size() > window) {
            recent.remove(recentOrder.removeFirst());
        }
        return port;
    }

    private static boolean free(int port, IOException[] failure) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            failure[0] = e;
            return false;
        }
    }
}
