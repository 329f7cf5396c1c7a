package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A size limit for a workspace: the directory becomes the mount point of an ext4 filesystem in a sparse image
 * file beside it ({@code <workspace>.img}), so a cell that fills it gets ENOSPC and the host disk keeps its
 * space. The image outlives the mount: mounting again (a restarted kernel) finds the same files.
 * Needs root and a free loop device.
 */
public final class WorkspaceQuota {
    static final int MOUNT_ATTEMPTS = 6;
    static final long COMMAND_TIMEOUT_SECONDS = 30;

    private WorkspaceQuota() {}

    /** The image file of a workspace. */
    public static Path image(Path workspace) {
        return workspace.resolveSibling(workspace.getFileName() + ".img");
    }

    /** Whether the directory is a mount point (its device differs from its parent's). */
    public static boolean mounted(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Object own = Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS);
        Object parent = Files.getAttribute(dir.getParent(), "unix:dev", LinkOption.NOFOLLOW_LINKS);
        return !own.equals(parent);
    }

    /**
     * Mounts the workspace's image at the workspace, creating the image (sizeMb, root owned by uid) first if
     * there is none. Does nothing when the workspace is already a mount point (another kernel of the same
     * owner mounted it).
     *
     * @return true if this call mounted it
     * @throws IOException when a command fails; its output is in the message
     */
    public static boolean mount(Path workspace, int sizeMb, int uid) throws IOException {
        Files.createDirectories(workspace);
        if (mounted(workspace)) {
            return false;
        }
        Path image = image(workspace);
        if (!Files.exists(image)) {
            Path fresh = image.resolveSibling(image.getFileName() + ".new");
            Files.deleteIfExists(fresh);
            try (var f = new java.io.RandomAccessFile(fresh.toFile(), "rw")) {
                f.setLength((long) sizeMb << 20);
            }
            run(List.of("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner="
                    + uid + ":" + uid, fresh.toString()));
            Files.move(fresh, image);
        }
        // Concurrent loop mounts can race for the same free loop device; a failed attempt is undone and retried.
        IOException last = null;
        for (int attempt = 0; attempt < MOUNT_ATTEMPTS; attempt++) {
            if (attempt > 0 && mounted(workspace)) {
                return true; // the failed attempt took effect after all
            }
            try {
                run(List.of("mount", "-o", "loop,nosuid,nodev", image.toString(), workspace.toString()));
                Files.deleteIfExists(workspace.resolve("lost+found"));
                return true;
            } catch (IOException e) {
                last = e;
                detachLoops(image);
                if (mounted(workspace)) {
                    return true;
                }
                try {
                    Thread.sleep(50L + ThreadLocalRandom.current().nextLong(250) * (attempt + 1));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw last;
    }

    /** Detaches loop devices still bound to the image (left by a failed mount or a killed kernel). */
    static void detachLoops(Path image) {
        try {
            for (String line : run(List.of("losetup", "-j", image.toString())).split("\n")) {
                int colon = line.indexOf(':');
                if (line.startsWith("/dev/loop") && colon > 0) {
                    run(List.of("losetup", "-d", line.substring(0, colon)));
                }
            }
        } catch (IOException e) {
            // nothing bound, or losetup missing: nothing to detach
        }
    }

    /** Detaches the workspace's filesystem if it is mounted (lazily: open files keep working until closed). */
    public static void unmount(Path workspace) throws IOException {
        // more than one filesystem can be stacked there (a mount that reported failure yet took effect, and
        // its retry): detach until the directory is a plain one again
        for (int i = 0; i < MOUNT_ATTEMPTS + 1 && mounted(workspace); i++) {
            run(List.of("umount", "-l", workspace.toString()));
        }
    }

    /** Unmounts a workspace if needed, then removes it and its image. */
    public static void remove(Path workspace) throws IOException {
        unmount(workspace);
        detachLoops(image(workspace));
        SandboxLayout.deleteTree(workspace);
        Files.deleteIfExists(image(workspace));
    }

    private static String run(List<String> cmd) throws IOException {
        return Commands.run(cmd, COMMAND_TIMEOUT_SECONDS, String.join(" ", cmd));
    }
}
