package io.sandcell.gateway.kernels;

/** The lifecycle of a managed kernel, as {@code execution_state} shows it. */
public enum KernelState {
    STARTING, IDLE, BUSY, RESTARTING, DEAD, STOPPED;

    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
