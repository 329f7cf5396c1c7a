package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The cgroups runsc makes for each sandbox: {@code <controller>/sandcell/<sandbox id>} on a cgroup v1 host
 * (and {@code unified/sandcell/<id>} on a hybrid one), {@code sandcell/<id>} on v2. runsc leaves them behind
 * when a sandbox is killed, so they are removed here: when a sandbox stops, and when the gateway cleans up
 * after a kernel that died. Only empty ones go: removing a cgroup that still has tasks fails.
 */
public final class SandboxCgroups {
    /** How long removing a dead kernel's cgroups waits for the tasks of a sandbox just killed to leave. */
    private static final long SETTLE_MS = 1000;

    private final Path root;

    /** @param root where the cgroup hierarchies are mounted, {@code /sys/fs/cgroup} */
    public SandboxCgroups(Path root) {
        this.root = root;
    }

    /** Removes one sandbox's cgroups, those that are empty. */
    public void remove(String sandboxId) {
        for (Path parent : parents()) {
            delete(parent.resolve(sandboxId));
        }
    }

    /**
     * Removes the cgroups of every sandbox of a kernel (ids {@code <prefix>-<generation><suffix>}, see
     * {@link Freezer#sandboxPrefix}): what a killed kernel's sandboxes left. Waits up to a second for tasks
     * still leaving a cgroup.
     *
     * @return how many cgroups are left (busy)
     */
    public int removeKernel(String kernelId) throws InterruptedException {
        String glob = Freezer.sandboxGlob(kernelId);
        if (glob == null) {
            return 0;
        }
        long deadline = System.currentTimeMillis() + SETTLE_MS;
        while (true) {
            List<Path> left = new ArrayList<>();
            for (Path parent : parents()) {
                try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, glob)) {
                    for (Path d : dirs) {
                        if (!delete(d)) {
                            left.add(d);
                        }
                    }
                } catch (IOException e) {
                    // the hierarchy went away
                }
            }
            if (left.isEmpty() || System.currentTimeMillis() >= deadline) {
                return left.size();
            }
            Thread.sleep(50);
        }
    }

    /**
     * Whether one of the kernel's sandboxes still has processes: a sandbox killed from outside (a host
     * operator, the OOM killer) leaves its kernel process alive but unable to run anything until it starts
     * another. True where there are no sandbox cgroups to look at: then it cannot tell.
     */
    public boolean running(String kernelId) {
        String glob = Freezer.sandboxGlob(kernelId);
        List<Path> parents = parents();
        if (glob == null || parents.isEmpty()) {
            return true;
        }
        for (Path parent : parents) {
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, glob)) {
                for (Path d : dirs) {
                    Path procs = d.resolve("cgroup.procs");
                    if (Files.isReadable(procs) && !Files.readString(procs).isBlank()) {
                        return true;
                    }
                }
            } catch (IOException e) {
                // the hierarchy or the cgroup went away: nothing running there
            }
        }
        return false;
    }

    /** Every {@code sandcell} parent cgroup present: v2's, and each v1 controller's. */
    List<Path> parents() {
        List<Path> parents = new ArrayList<>();
        Path v2 = root.resolve(OciSpec.CGROUP_PARENT);
        if (Files.isDirectory(v2)) {
            parents.add(v2);
        }
        try (DirectoryStream<Path> controllers = Files.newDirectoryStream(root)) {
            for (Path c : controllers) {
                Path p = c.resolve(OciSpec.CGROUP_PARENT);
                if (!c.equals(v2) && Files.isDirectory(p)) {
                    parents.add(p);
                }
            }
        } catch (IOException e) {
            // no cgroup filesystem here
        }
        return parents;
    }

    private static boolean delete(Path dir) {
        try {
            Files.deleteIfExists(dir);
            return true;
        } catch (IOException e) {
            return false; // busy: it still has tasks
        }
    }
}
