package io.sandcell.protocol;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HMAC signing of the four JSON parts of a message, as jupyter_client does it. An empty key turns signing
 * off: messages are sent with an empty signature and none is checked. Instances are immutable and
 * thread-safe: the keyed {@link Mac} is made once and each call works on a clone of it, which costs a copy
 * of its state instead of a provider lookup and a key schedule.
 */
public final class Signer {
    private final String scheme;
    private final String algorithm;
    private final byte[] key;
    /** Keyed and never updated; null when signing is off or the provider's Mac cannot be cloned. */
    private final Mac prototype;

    private Signer(String scheme, String algorithm, byte[] key) {
        this.scheme = scheme;
        this.algorithm = algorithm;
        this.key = key;
        this.prototype = key.length > 0 ? cloneable(newMac()) : null;
    }

    private static Mac cloneable(Mac mac) {
        try {
            mac.clone();
            return mac;
        } catch (CloneNotSupportedException e) {
            return null;
        }
    }

    /**
     * Creates a signer for a {@code signature_scheme} such as {@code hmac-sha256}.
     *
     * @throws ProtocolException if the scheme is not an HMAC this JVM provides
     */
    public static Signer create(String scheme, String key) {
        String s = scheme == null || scheme.isEmpty() ? "hmac-sha256" : scheme.toLowerCase(Locale.ROOT);
        if (!s.startsWith("hmac-")) {
            throw new ProtocolException("unsupported signature_scheme " + scheme);
        }
        String algorithm = "Hmac" + s.substring(5).toUpperCase(Locale.ROOT);
        byte[] keyBytes = key == null ? new byte[0] : key.getBytes(StandardCharsets.UTF_8);
        return new Signer(s, algorithm, keyBytes); // an unknown algorithm fails here, when the key is set
    }

    /** True when a key is set and signatures are made and checked. */
    public boolean enabled() {
        return key.length > 0;
    }

    public String scheme() {
        return scheme;
    }

    private Mac mac() {
        if (prototype != null) {
            try {
                return (Mac) prototype.clone();
            } catch (CloneNotSupportedException e) {
                // checked at construction; fall through to a fresh one
            }
        }
        return newMac();
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance(algorithm);
            mac.init(new SecretKeySpec(key, algorithm));
            return mac;
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new ProtocolException("unsupported signature_scheme " + scheme, e);
        }
    }

    /** The lowercase hex digest of the parts, or the empty string when signing is off. */
    public String sign(byte[] header, byte[] parent, byte[] metadata, byte[] content) {
        if (!enabled()) {
            return "";
        }
        Mac mac = mac();
        mac.update(header);
        mac.update(parent);
        mac.update(metadata);
        mac.update(content);
        return HexFormat.of().formatHex(mac.doFinal());
    }

    /**
     * Checks a signature in constant time.
     *
     * @throws SignatureException if signing is on and the signature is missing or wrong
     */
    public void verify(byte[] signature, byte[] header, byte[] parent, byte[] metadata, byte[] content) {
        if (!enabled()) {
            return;
        }
        if (signature == null || signature.length == 0) {
            throw new SignatureException("missing signature");
        }
        byte[] expected = sign(header, parent, metadata, content).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, signature)) {
            throw new SignatureException("invalid signature");
        }
    }

    @Override
    public String toString() {
        return "Signer[" + scheme + (enabled() ? ", key=<redacted>" : ", unsigned") + "]";
    }
}
