package io.sandcell.protocol;

/** A message whose signature is missing, wrong, or seen before. */
public final class SignatureException extends ProtocolException {
    public SignatureException(String message) {
        super(message);
    }
}
