package io.sandcell.sandbox;

import java.io.IOException;

/** A sandbox could not be started, or died; the message says what was being done and why it failed. */
public class SandboxException extends IOException {
    public SandboxException(String message) {
        super(message);
    }

    public SandboxException(String message, Throwable cause) {
        super(message, cause);
    }
}
