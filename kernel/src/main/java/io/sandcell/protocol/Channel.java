package io.sandcell.protocol;

import java.util.Locale;
import java.util.Optional;

/** The kernel's sockets, as named in connection files and websocket frames. */
public enum Channel {
    SHELL, CONTROL, STDIN, IOPUB, HB;

    /** The lowercase name used on the wire. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a wire name; empty for anything unknown. */
    public static Optional<Channel> parse(String name) {
        if (name == null) {
            return Optional.empty();
        }
        return switch (name) {
            case "shell" -> Optional.of(SHELL);
            case "control" -> Optional.of(CONTROL);
            case "stdin" -> Optional.of(STDIN);
            case "iopub" -> Optional.of(IOPUB);
            case "hb" -> Optional.of(HB);
            default -> Optional.empty();
        };
    }
}
