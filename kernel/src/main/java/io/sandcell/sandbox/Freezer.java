package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Stops and resumes every process of a kernel's sandboxes (the sentry, its stubs and the gofer) through
 * their freezer cgroup: {@code freezer.state} on a cgroup v1 host, {@code cgroup.freeze} on v2. An idle
 * sandbox on the systrap platform is not idle on the host: its threads hand work off by spinning and waking
 * each other, about 3000 context switches and 5% of a core per sandbox here, so a kernel waiting in the pool
 * is kept frozen instead. Where there is no freezer cgroup, both calls do nothing.
 */
public final class Freezer {
    private final Path cgroupRoot;

    /** @param cgroupRoot where the cgroup hierarchies are mounted, {@code /sys/fs/cgroup} */
    public Freezer(Path cgroupRoot) {
        this.cgroupRoot = cgroupRoot;
    }

    /** The prefix of the ids of a kernel's sandboxes: they are {@code <prefix>-<generation><suffix>}. */
    public static String sandboxPrefix(String kernelId) {
        String id = kernelId.replace("-", "");
        return "k" + id.substring(0, Math.min(12, id.length()));
    }

    /**
     * The glob that matches the names of a kernel's sandbox cgroups, or null when the name is no kernel id
     * (then no sandbox of it exists, and nothing may match).
     */
    static String sandboxGlob(String kernelId) {
        String prefix = sandboxPrefix(kernelId);
        return prefix.matches("k[A-Za-z0-9]+") ? prefix + "-*" : null;
    }

    /**
     * Freezes the kernel's sandboxes.
     *
     * @return whether there was a sandbox to freeze
     */
    public boolean freeze(String kernelId) throws IOException {
        return write(kernelId, true);
    }

    /** Thaws the kernel's sandboxes; a sandbox that is not frozen is left as it is. */
    public void thaw(String kernelId) throws IOException {
        write(kernelId, false);
    }

    /**
     * Thaws one sandbox, by its id, if it is frozen. A frozen sandbox cannot be killed: {@code runsc kill}
     * waits for it to answer. A kernel whose gateway died while the kernel waited frozen in the pool must
     * still be able to kill its sandbox on the way out.
     */
    public void thawSandbox(String sandboxId) throws IOException {
        for (Path d : List.of(cgroupRoot.resolve("freezer").resolve(OciSpec.CGROUP_PARENT).resolve(sandboxId),
                cgroupRoot.resolve(OciSpec.CGROUP_PARENT).resolve(sandboxId))) {
            if (Files.isRegularFile(d.resolve("freezer.state"))) {
                Files.writeString(d.resolve("freezer.state"), "THAWED", StandardCharsets.US_ASCII);
            } else if (Files.isRegularFile(d.resolve("cgroup.freeze"))) {
                Files.writeString(d.resolve("cgroup.freeze"), "0", StandardCharsets.US_ASCII);
            }
        }
    }

    /** Whether the kernel has sandboxes and every one of them is frozen. */
    public boolean frozen(String kernelId) throws IOException {
        List<Path> files = stateFiles(kernelId);
        for (Path f : files) {
            String state = Files.readString(f, StandardCharsets.US_ASCII).trim();
            if (!state.equals("FROZEN") && !state.equals("1")) {
                return false;
            }
        }
        return !files.isEmpty();
    }

    private boolean write(String kernelId, boolean frozen) throws IOException {
        List<Path> files = stateFiles(kernelId);
        for (Path f : files) {
            boolean v1 = f.getFileName().toString().equals("freezer.state");
            Files.writeString(f, v1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0"), StandardCharsets.US_ASCII);
        }
        return !files.isEmpty();
    }

    /** The freeze files of the kernel's sandbox cgroups, v1 and v2. */
    List<Path> stateFiles(String kernelId) throws IOException {
        List<Path> files = new ArrayList<>();
        String glob = sandboxGlob(kernelId);
        if (glob == null) {
            return files;
        }
        for (Path parent : List.of(cgroupRoot.resolve("freezer").resolve(OciSpec.CGROUP_PARENT),
                cgroupRoot.resolve(OciSpec.CGROUP_PARENT))) {
            if (!Files.isDirectory(parent)) {
                continue;
            }
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, glob)) {
                for (Path d : dirs) {
                    for (String name : List.of("freezer.state", "cgroup.freeze")) {
                        if (Files.isRegularFile(d.resolve(name))) {
                            files.add(d.resolve(name));
                        }
                    }
                }
            }
        }
        return files;
    }
}
