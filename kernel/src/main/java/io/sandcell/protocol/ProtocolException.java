package io.sandcell.protocol;

/** A message or file that does not follow the Jupyter protocol. The text is safe to show to a client. */
public class ProtocolException extends RuntimeException {
    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
