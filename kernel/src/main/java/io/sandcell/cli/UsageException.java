package io.sandcell.cli;

/** Bad command-line or environment input; the message says which option and why. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }
}
