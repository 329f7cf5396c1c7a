package io.sandcell.protocol;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns messages into ZeroMQ multipart frames and back:
 * {@code [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]}.
 * Decoding verifies the signature and, when a replay guard is given, rejects repeated signatures.
 */
public final class WireCodec {
    public static final byte[] DELIMITER = "<IDS|MSG>".getBytes(StandardCharsets.US_ASCII);
    /** Identities before the delimiter that one message may carry. */
    public static final int MAX_IDENTITIES = 16;

    private final Signer signer;
    private final ReplayGuard replayGuard;

    public WireCodec(Signer signer, ReplayGuard replayGuard) {
        this.signer = signer;
        this.replayGuard = replayGuard;
    }

    public Signer signer() {
        return signer;
    }

    /** Serializes and signs a message. */
    public List<byte[]> encode(Message message) {
        byte[] header = Json.bytes(message.header());
        byte[] parent = Json.bytes(message.parentHeader());
        byte[] metadata = Json.bytes(message.metadata());
        byte[] content = Json.bytes(message.content());
        String signature = signer.sign(header, parent, metadata, content);
        List<byte[]> frames = new ArrayList<>(message.identities().size() + 6 + message.buffers().size());
        frames.addAll(message.identities());
        frames.add(DELIMITER);
        frames.add(signature.getBytes(StandardCharsets.US_ASCII));
        frames.add(header);
        frames.add(parent);
        frames.add(metadata);
        frames.add(content);
        frames.addAll(message.buffers());
        return frames;
    }

    /**
     * Parses, verifies and replay-checks multipart frames.
     *
     * @throws SignatureException for a missing, wrong or replayed signature
     * @throws ProtocolException for anything else that is malformed
     */
    public Message decode(List<byte[]> frames) {
        int delimiter = -1;
        for (int i = 0; i < frames.size() && i <= MAX_IDENTITIES; i++) {
            if (Arrays.equals(frames.get(i), DELIMITER)) {
                delimiter = i;
                break;
            }
        }
        if (delimiter < 0) {
            throw new ProtocolException("no <IDS|MSG> delimiter");
        }
        if (frames.size() < delimiter + 6) {
            throw new ProtocolException("message has " + (frames.size() - delimiter - 1)
                    + " parts after the delimiter, at least 5 are needed");
        }
        byte[] signature = frames.get(delimiter + 1);
        byte[] header = frames.get(delimiter + 2);
        byte[] parent = frames.get(delimiter + 3);
        byte[] metadata = frames.get(delimiter + 4);
        byte[] content = frames.get(delimiter + 5);
        signer.verify(signature, header, parent, metadata, content);
        Message message = new Message(frames.subList(0, delimiter),
                Json.parseObject(header, "header"),
                Json.parseObject(parent, "parent_header"),
                Json.parseObject(metadata, "metadata"),
                Json.parseObject(content, "content"),
                frames.subList(delimiter + 6, frames.size()));
        Header.from(message.header()); // msg_type and msg_id must be present
        if (replayGuard != null && signer.enabled()) {
            replayGuard.check(new String(signature, StandardCharsets.US_ASCII));
        }
        return message;
    }
}
