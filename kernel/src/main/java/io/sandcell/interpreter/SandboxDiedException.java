package io.sandcell.interpreter;

import io.sandcell.sandbox.SandboxException;

/** The sandbox ended while a request was in flight; the message names the cause. */
public final class SandboxDiedException extends SandboxException {
    public SandboxDiedException(String message) {
        super(message);
    }
}
