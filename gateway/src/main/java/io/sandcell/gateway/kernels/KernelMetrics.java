package io.sandcell.gateway.kernels;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of the kernel manager and their Prometheus text exposition (format 0.0.4). Written by hand: a
 * few gauges and counters do not need a metrics library.
 */
final class KernelMetrics {
    final LongAdder pooledStarts = new LongAdder();
    final LongAdder coldStarts = new LongAdder();
    final LongAdder culled = new LongAdder();
    final LongAdder deaths = new LongAdder();
    final LongAdder executions = new LongAdder();

    String text(List<ManagedKernel> kernels, int poolReady) {
        Map<KernelState, Integer> byState = new EnumMap<>(KernelState.class);
        for (KernelState s : KernelState.values()) {
            byState.put(s, 0);
        }
        int connections = 0;
        for (ManagedKernel k : kernels) {
            byState.merge(k.state(), 1, Integer::sum);
            connections += k.connections();
        }
        StringBuilder b = new StringBuilder();
        header(b, "sandcell_kernels", "gauge", "Kernels handed out, by execution state.");
        byState.forEach((s, n) -> b.append("sandcell_kernels{state=\"").append(s.wireName()).append("\"} ")
                .append(n).append('\n'));
        gauge(b, "sandcell_pool_ready", "Ready kernels waiting in the warm pool.", poolReady);
        gauge(b, "sandcell_websocket_connections", "Open kernel websocket connections.", connections);
        header(b, "sandcell_kernel_starts_total", "counter", "Kernels handed out, from the pool or started cold.");
        b.append("sandcell_kernel_starts_total{source=\"pool\"} ").append(pooledStarts.sum()).append('\n');
        b.append("sandcell_kernel_starts_total{source=\"cold\"} ").append(coldStarts.sum()).append('\n');
        counter(b, "sandcell_kernels_culled_total", "Idle kernels shut down by the culler.", culled.sum());
        counter(b, "sandcell_kernel_deaths_total", "Kernels that died (process exit, failed start).", deaths.sum());
        counter(b, "sandcell_executions_total", "execute_request messages sent to kernels.", executions.sum());
        return b.toString();
    }

    private static void header(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        header(b, name, "gauge", help);
        b.append(name).append(' ').append(value).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long value) {
        header(b, name, "counter", help);
        b.append(name).append(' ').append(value).append('\n');
    }
}
