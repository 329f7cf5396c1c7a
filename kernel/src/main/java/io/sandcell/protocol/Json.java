package io.sandcell.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The one Jackson configuration used for protocol JSON. The mapper is immutable once built. */
public final class Json {
    /** Largest JSON string the protocol accepts (a base64 image or a big stream chunk). */
    public static final int MAX_STRING_LENGTH = 512 * 1024 * 1024;

    private static final ObjectMapper MAPPER = build();

    private Json() {}

    private static ObjectMapper build() {
        ObjectMapper mapper = new ObjectMapper();
        mapper.getFactory().setStreamReadConstraints(
                StreamReadConstraints.builder().maxStringLength(MAX_STRING_LENGTH).maxNestingDepth(200).build());
        return mapper;
    }

    /** The shared mapper; it is thread-safe and must not be reconfigured. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses a JSON object, failing with {@link ProtocolException} for anything else. */
    public static ObjectNode parseObject(byte[] bytes, String what) {
        try {
            JsonNode node = MAPPER.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw new ProtocolException(what + " is not a JSON object");
            }
            return (ObjectNode) node;
        } catch (IOException e) {
            String detail = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new ProtocolException(what + " is not valid JSON: " + detail);
        }
    }

    /** Parses a JSON object from text, failing with {@link ProtocolException} for anything else. */
    public static ObjectNode parseObject(String text, String what) {
        return parseObject(text.getBytes(java.nio.charset.StandardCharsets.UTF_8), what);
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String text(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
