package io.sandcell.gateway.config;

import io.sandcell.cli.Options;
import io.sandcell.cli.Options.Spec;
import io.sandcell.cli.UsageException;
import java.util.List;

/**
 * Limits on clients' TCP connections, so that connections held open and idle, by anyone and without
 * credentials, cannot use up the gateway's file descriptors and lock everyone else out.
 *
 * @param maxConnections the most connections open at once; past it, the longest idle connection without a
 *     request under way gives way to the new one
 * @param idleTimeoutSeconds a connection with nothing sent either way for this long is closed (kernel
 *     websockets are pinged well within it)
 * @param requestTimeoutSeconds a connection that has not sent a whole request head this long after it opened
 *     is closed
 * @param maxClientsPerKernel the most websocket clients one kernel may have at once
 * @param maxOutboundBytes output written to all websocket clients and not yet sent; past it, output for clients
 *     that are not keeping up is dropped with a notice
 */
public record ConnectionConfig(int maxConnections, int idleTimeoutSeconds, int requestTimeoutSeconds,
                               int maxClientsPerKernel, long maxOutboundBytes) {

    static List<Spec> options() {
        return List.of(
                Spec.value("--max-connections", "SANDCELL_MAX_CONNECTIONS", "1024",
                        "client connections open at once; past it the longest idle one is closed"),
                Spec.value("--idle-timeout", "SANDCELL_IDLE_TIMEOUT", "120",
                        "seconds a connection may stay silent before it is closed (websockets are pinged)"),
                Spec.value("--request-timeout", "SANDCELL_REQUEST_TIMEOUT", "15",
                        "seconds a new connection has to send its first request"),
                Spec.value("--max-clients-per-kernel", "SANDCELL_MAX_CLIENTS_PER_KERNEL", "64",
                        "websocket clients one kernel may have at once"),
                Spec.value("--max-outbound-mb", "SANDCELL_MAX_OUTBOUND_MB", "512",
                        "MiB of output queued for all websocket clients together; past it, slow clients' output "
                                + "is dropped with a notice"));
    }

    static ConnectionConfig from(Options.Parsed p) throws UsageException {
        int idle = GatewayConfig.atLeast(p, "--idle-timeout", 10);
        return new ConnectionConfig(GatewayConfig.atLeast(p, "--max-connections", 16), idle,
                GatewayConfig.atLeast(p, "--request-timeout", 1),
                GatewayConfig.atLeast(p, "--max-clients-per-kernel", 1),
                (long) GatewayConfig.atLeast(p, "--max-outbound-mb", 16) << 20);
    }

    /** How often kernel websockets are pinged: well within the idle timeout, and no more than every 30 s. */
    public long pingIntervalMs() {
        return Math.min(30_000L, idleTimeoutSeconds * 1000L / 3);
    }
}
