package io.sandcell.gateway.http;

/** Lines of the Prometheus text exposition format, for {@code /metrics}. */
public final class PrometheusText {
    private PrometheusText() {}

    /** The HELP and TYPE lines of a metric. */
    public static void header(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    /** One sample; {@code labels} is empty or a label set such as {@code {why="room"}}. */
    public static void sample(StringBuilder b, String name, String labels, long value) {
        b.append(name).append(labels).append(' ').append(value).append('\n');
    }

    public static void gauge(StringBuilder b, String name, String help, long value) {
        header(b, name, "gauge", help);
        sample(b, name, "", value);
    }

    public static void counter(StringBuilder b, String name, String help, long value) {
        header(b, name, "counter", help);
        sample(b, name, "", value);
    }
}
