package io.sandcell.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The runsc command line for one private state root. Every sandbox of a kernel lives under the kernel's own
 * {@code --root}, so {@link #list()} is an exact inventory and cleanup never touches anyone else's sandboxes.
 */
public final class Runsc {
    /** How long a runsc management command (kill, delete, list) may take. */
    static final long COMMAND_TIMEOUT_SECONDS = 20;

    private final Path binary;
    private final Path stateRoot;
    private final String platform;

    public Runsc(Path binary, Path stateRoot, String platform) {
        this.binary = binary;
        this.stateRoot = stateRoot;
        this.platform = platform;
    }

    public Path stateRoot() {
        return stateRoot;
    }

    private List<String> global() {
        return global(null);
    }

    private List<String> global(Path panicLog) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary.toString());
        cmd.add("--root=" + stateRoot);
        cmd.add("--network=none");
        cmd.add("--platform=" + platform);
        if (panicLog != null) {
            cmd.add("--panic-log=" + panicLog);
        }
        return cmd;
    }

    /**
     * The attached {@code run} command, wrapped so that the sandbox dies with the JVM.
     *
     * @param panicLog where the sentry writes a panic report: a host file no process in the sandbox can reach,
     *     unlike runsc's stderr, which the sandbox inherits (null: stderr)
     * @param networked whether the sandbox gets gVisor's network stack on the interfaces of the network
     *     namespace its spec names ({@code --network=sandbox}); otherwise it has only its own loopback
     */
    public List<String> runCommand(Path bundle, String id, Path panicLog, boolean networked) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", "--"));
        List<String> runsc = global(panicLog);
        if (networked) {
            runsc.set(runsc.indexOf("--network=none"), "--network=sandbox");
            // runsc refuses to network when /proc/sys/net/core/rmem_default exists, taking that for the host's
            // namespace; since Linux 6.x the file exists in every namespace. In a private mount namespace of
            // runsc's own, an empty /proc/sys/net hides it (gVisor's stack reads nothing there).
            cmd.addAll(List.of("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                    "mount -t tmpfs -o size=4k,mode=555 sandcell-hide /proc/sys/net && exec \"$@\"", "runsc"));
        }
        cmd.addAll(runsc);
        cmd.addAll(List.of("run", "--bundle", bundle.toString(), id));
        return cmd;
    }

    /**
     * The attached {@code restore} command: a new sandbox from the bundle, running the checkpointed processes.
     * Its stdin and stdout become the restored driver's protocol pipes. Only for sandboxes without a network.
     *
     * @param panicLog as for {@link #runCommand}
     * @param direct read the image's memory pages with {@code O_DIRECT} ({@code --direct}), bypassing the host's
     *     page cache
     */
    public List<String> restoreCommand(Path bundle, String id, Path image, Path panicLog, boolean direct) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", "--"));
        cmd.addAll(global(panicLog));
        cmd.add("restore");
        if (direct) {
            cmd.add("--direct");
        }
        cmd.addAll(List.of("--image-path", image.toString(), "--bundle", bundle.toString(), id));
        return cmd;
    }

    /**
     * Writes the sandbox's state into an image directory and lets it run on. The image is uncompressed:
     * restoring it then costs a quarter of a compressed one's time.
     */
    public void checkpoint(String id, Path image) throws IOException {
        exec("checkpoint", "--leave-running", "--compression=none", "--exclude-committed-zero-pages",
                "--image-path", image.toString(), id);
    }

    /** Sends a signal (e.g. {@code INT}, {@code KILL}) to the sandbox's first process. */
    public void kill(String id, String signal) throws IOException {
        exec("kill", id, signal);
    }

    /** Deletes a sandbox's state, killing it first if needed. Idempotent. */
    public void delete(String id) throws IOException {
        exec("delete", "--force", id);
    }

    /**
     * The ids and states of every sandbox under this root. A root that is missing or empty holds none, and is
     * answered without running runsc (a start of runsc costs about 30 ms of CPU here).
     */
    public List<String[]> list() throws IOException {
        if (!Files.isDirectory(stateRoot)) {
            return List.of();
        }
        try (var entries = Files.list(stateRoot)) {
            if (entries.findAny().isEmpty()) {
                return List.of();
            }
        }
        String out = exec("list", "--format=json");
        JsonNode arr = out.isBlank() ? null : Json.mapper().readTree(out);
        List<String[]> result = new ArrayList<>();
        if (arr != null && arr.isArray()) {
            for (JsonNode c : arr) {
                result.add(new String[] {c.path("id").asText(), c.path("status").asText()});
            }
        }
        return result;
    }

    /**
     * Kills and deletes every sandbox under this root: what a crashed earlier run left behind.
     *
     * @return how many were removed
     */
    public int reconcile() throws IOException {
        int removed = 0;
        for (String[] c : list()) {
            if (!"stopped".equals(c[1])) {
                try {
                    kill(c[0], "KILL");
                } catch (IOException ignored) {
                    // it may have stopped in between; delete --force settles it
                }
            }
            delete(c[0]);
            removed++;
        }
        return removed;
    }

    private String exec(String... args) throws IOException {
        List<String> cmd = global();
        cmd.addAll(List.of(args));
        return Commands.run(cmd, COMMAND_TIMEOUT_SECONDS, "runsc " + String.join(" ", args));
    }
}
