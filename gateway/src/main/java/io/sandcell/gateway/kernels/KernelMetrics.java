package io.sandcell.gateway.kernels;

import static io.sandcell.gateway.http.PrometheusText.counter;
import static io.sandcell.gateway.http.PrometheusText.gauge;
import static io.sandcell.gateway.http.PrometheusText.header;

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
    final Histogram executeSeconds = new Histogram(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
            10, 30, 60, 300);
    final Histogram startSeconds = new Histogram(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60);

    /** A Prometheus histogram: cumulative buckets, sum and count. Thread-safe. */
    static final class Histogram {
        private final double[] bounds;
        private final long[] counts;
        private double sum;
        private long count;

        Histogram(double... bounds) {
            this.bounds = bounds;
            this.counts = new long[bounds.length];
        }

        synchronized void observe(double value) {
            for (int i = 0; i < bounds.length; i++) {
                if (value <= bounds[i]) {
                    counts[i]++;
                }
            }
            sum += value;
            count++;
        }

        synchronized void write(StringBuilder b, String name, String help) {
            header(b, name, "histogram", help);
            for (int i = 0; i < bounds.length; i++) {
                b.append(name).append("_bucket{le=\"").append(bounds[i]).append("\"} ").append(counts[i]).append('\n');
            }
            b.append(name).append("_bucket{le=\"+Inf\"} ").append(count).append('\n');
            b.append(name).append("_sum ").append(sum).append('\n');
            b.append(name).append("_count ").append(count).append('\n');
        }
    }

    String text(List<ManagedKernel> kernels, int poolReady, int poolStarting) {
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
        gauge(b, "sandcell_pool_starting", "Pooled kernels starting.", poolStarting);
        gauge(b, "sandcell_websocket_connections", "Open kernel websocket connections.", connections);
        header(b, "sandcell_kernel_starts_total", "counter", "Kernels handed out, from the pool or started cold.");
        b.append("sandcell_kernel_starts_total{source=\"pool\"} ").append(pooledStarts.sum()).append('\n');
        b.append("sandcell_kernel_starts_total{source=\"cold\"} ").append(coldStarts.sum()).append('\n');
        counter(b, "sandcell_kernels_culled_total", "Idle kernels shut down by the culler.", culled.sum());
        counter(b, "sandcell_kernel_deaths_total", "Kernels that died (process exit, failed start).", deaths.sum());
        counter(b, "sandcell_executions_total", "execute_request messages sent to kernels.", executions.sum());
        executeSeconds.write(b, "sandcell_execute_duration_seconds",
                "From a client's execute_request to the kernel's execute_reply.");
        startSeconds.write(b, "sandcell_kernel_start_duration_seconds",
                "From launching a kernel process to the kernel answering on shell and iopub.");
        return b.toString();
    }
}
