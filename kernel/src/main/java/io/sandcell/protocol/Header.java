package io.sandcell.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.UUID;

/** A message header. Parsed leniently: {@code date} may be empty (Open WebUI sends ""). */
public record Header(String msgId, String session, String username, String date, String msgType, String version) {
    /** The protocol version this project speaks. */
    public static final String PROTOCOL_VERSION = "5.4";

    /** A new header with a fresh id and the current time. */
    public static Header create(String msgType, String session, String username) {
        return new Header(newId(), session, username, now(), msgType, PROTOCOL_VERSION);
    }

    /** A random id in jupyter_client's style (32 hex digits). */
    public static String newId() {
        UUID id = UUID.randomUUID();
        HexFormat hex = HexFormat.of();
        return hex.toHexDigits(id.getMostSignificantBits()) + hex.toHexDigits(id.getLeastSignificantBits());
    }

    /** An ISO-8601 UTC timestamp with microseconds and a trailing Z, as jupyter_server emits it. */
    public static String format(Instant instant) {
        // by hand: DateTimeFormatter costs a few microseconds a message, and every message has a date
        LocalDateTime t = LocalDateTime.ofEpochSecond(instant.getEpochSecond(), instant.getNano(), ZoneOffset.UTC);
        StringBuilder b = new StringBuilder(27);
        digits(b, t.getYear(), 4).append('-');
        digits(b, t.getMonthValue(), 2).append('-');
        digits(b, t.getDayOfMonth(), 2).append('T');
        digits(b, t.getHour(), 2).append(':');
        digits(b, t.getMinute(), 2).append(':');
        digits(b, t.getSecond(), 2).append('.');
        return digits(b, instant.getNano() / 1000, 6).append('Z').toString();
    }

    private static StringBuilder digits(StringBuilder b, int value, int width) {
        String s = Integer.toString(value);
        for (int i = s.length(); i < width; i++) {
            b.append('0');
        }
        return b.append(s);
    }

    public static String now() {
        return format(Instant.now());
    }

    /**
     * Reads the header fields from JSON.
     *
     * @throws ProtocolException if {@code msg_type} or {@code msg_id} is missing
     */
    public static Header from(JsonNode json) {
        String type = text(json, "msg_type");
        String id = text(json, "msg_id");
        if (type.isEmpty()) {
            throw new ProtocolException("header has no msg_type");
        }
        if (id.isEmpty()) {
            throw new ProtocolException("header has no msg_id");
        }
        return new Header(id, text(json, "session"), text(json, "username"), text(json, "date"), type,
                text(json, "version"));
    }

    private static String text(JsonNode json, String field) {
        JsonNode v = json.get(field);
        return v == null || v.isNull() ? "" : v.asText();
    }

    public ObjectNode toJson() {
        ObjectNode n = Json.object();
        n.put("msg_id", msgId);
        n.put("session", session);
        n.put("username", username);
        n.put("date", date);
        n.put("msg_type", msgType);
        n.put("version", version);
        return n;
    }
}
