package io.sandcell.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * One Jupyter message: routing identities, the four JSON parts and raw buffers. The JSON parts are kept as
 * trees so that unknown fields pass through untouched.
 */
public record Message(List<byte[]> identities, ObjectNode header, ObjectNode parentHeader, ObjectNode metadata,
                      ObjectNode content, List<byte[]> buffers) {

    public Message {
        identities = List.copyOf(identities);
        buffers = List.copyOf(buffers);
    }

    /** A new message of the given type, in reply to (or caused by) {@code parent}, which may be null. */
    public static Message create(Header header, Message parent, ObjectNode content) {
        List<byte[]> ids = parent == null ? List.of() : parent.identities();
        ObjectNode parentHeader = parent == null ? Json.object() : parent.header().deepCopy();
        return new Message(ids, header.toJson(), parentHeader, Json.object(), content, List.of());
    }

    public String msgType() {
        return text(header, "msg_type");
    }

    public String msgId() {
        return text(header, "msg_id");
    }

    public String session() {
        return text(header, "session");
    }

    public String username() {
        return text(header, "username");
    }

    public String parentMsgId() {
        return text(parentHeader, "msg_id");
    }

    public Message withIdentities(List<byte[]> ids) {
        return new Message(ids, header, parentHeader, metadata, content, buffers);
    }

    public Message withHeader(ObjectNode newHeader) {
        return new Message(identities, newHeader, parentHeader, metadata, content, buffers);
    }

    public Message withParentHeader(ObjectNode newParent) {
        return new Message(identities, header, newParent, metadata, content, buffers);
    }

    public Message withBuffers(List<byte[]> newBuffers) {
        return new Message(identities, header, parentHeader, metadata, content, newBuffers);
    }

    public Message withMetadata(ObjectNode newMetadata) {
        return new Message(identities, header, parentHeader, newMetadata, content, buffers);
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? "" : v.asText();
    }

    @Override
    public String toString() {
        return "Message[" + msgType() + " " + msgId() + ", parent " + parentMsgId() + "]";
    }
}
