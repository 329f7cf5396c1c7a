package io.sandcell.interpreter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.ProtocolException;

/** What the in-sandbox driver reports while it handles a request. Every request ends with a {@link Reply}. */
public sealed interface DriverEvent {

    /** Text written to stdout or stderr. */
    record Stream(String name, String text) implements DriverEvent {}

    /** {@code display()} output, or an update of an earlier display when {@code update} is set. */
    record Display(ObjectNode data, ObjectNode metadata, ObjectNode transientData, boolean update)
            implements DriverEvent {}

    /** {@code clear_output()}. */
    record ClearOutput(boolean await) implements DriverEvent {}

    /** The value of the cell's last expression. */
    record ExecuteResult(int executionCount, ObjectNode data, ObjectNode metadata) implements DriverEvent {}

    /** An exception, with {@code ename}, {@code evalue} and {@code traceback}. */
    record Error(ObjectNode content) implements DriverEvent {}

    /**
     * The cell called input() or getpass(), while the request numbered {@code seq} ran (-1 when the line
     * named none).
     */
    record InputRequest(String prompt, boolean password, long seq) implements DriverEvent {}

    /**
     * The end of the request numbered {@code seq} (-1 when the line named none): the reply content (status and
     * request-specific fields).
     */
    record Reply(ObjectNode content, long seq) implements DriverEvent {}

    /** The driver is up. */
    record Ready(ObjectNode info) implements DriverEvent {}

    /**
     * Reads one event line.
     *
     * @throws ProtocolException if it is not one of the events above
     */
    static DriverEvent parse(ObjectNode e) {
        String ev = e.path("ev").asText();
        return switch (ev) {
            case "stream" -> new Stream(e.path("name").asText("stdout"), e.path("text").asText(""));
            case "display_data", "update_display_data" -> new Display(obj(e, "data"), obj(e, "metadata"),
                    obj(e, "transient"), ev.equals("update_display_data"));
            case "clear_output" -> new ClearOutput(e.path("wait").asBoolean(false));
            case "execute_result" -> new ExecuteResult(e.path("execution_count").asInt(), obj(e, "data"),
                    obj(e, "metadata"));
            case "error" -> new Error(withoutEv(e));
            case "input_request" -> new InputRequest(e.path("prompt").asText(""), e.path("password").asBoolean(),
                    seq(e));
            case "reply" -> new Reply(without(e, SEQ), seq(e));
            case "ready" -> new Ready(withoutEv(e));
            default -> throw new ProtocolException("unknown driver event " + ev);
        };
    }

    private static ObjectNode obj(ObjectNode e, String field) {
        JsonNode v = e.get(field);
        return v instanceof ObjectNode o ? o : Json.object();
    }

    /** The field of requests, replies and input requests that numbers the request they belong to. */
    String SEQ = "seq";

    private static long seq(ObjectNode e) {
        JsonNode n = e.get(SEQ);
        return n != null && n.canConvertToLong() && n.isIntegralNumber() ? n.asLong() : -1;
    }

    private static ObjectNode withoutEv(ObjectNode e) {
        return without(e, "ev");
    }

    private static ObjectNode without(ObjectNode e, String... fields) {
        ObjectNode copy = e.deepCopy();
        copy.remove("ev");
        for (String f : fields) {
            copy.remove(f);
        }
        return copy;
    }
}
