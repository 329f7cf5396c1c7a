package io.sandcell.sandbox;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;

/**
 * Checkpoint images of sandboxes taken right after their driver became ready, before any request reached
 * them: every later sandbox of the same shape is restored from the image instead of importing its preloads
 * again. The images of one data directory are shared by all its kernels.
 *
 * <p>An image lives in {@code <dir>/<key>/}, where the key hashes everything the image depends on: the
 * sandbox's spec with its per-kernel parts replaced (so the limits, mounts, environment, preloads and the
 * driver, whose layout directory is named by its hash), the runsc binary and the sandbox root's package
 * database. A kernel that finds no image for its key claims {@code <key>.tmp} by creating it, checkpoints its
 * own fresh sandbox into it and renames it into place; a claim left by a dead kernel goes stale after
 * {@link #CLAIM_STALE}. Images unused for {@link #UNUSED} are removed when a new one is published.
 */
public final class SnapshotStore {
    /** The file next to the runsc image that records the driver's ready line. */
    static final String META = "sandcell-meta.json";
    /** The file that says an image's pages could not be restored with direct reads (see {@link #directRead}). */
    static final String CACHED_ONLY = "sandcell-cached-only";
    /** The file of an image's memory pages, as runsc writes it. */
    static final String PAGES = "pages.img";
    static final Duration CLAIM_STALE = Duration.ofMinutes(2);
    static final Duration UNUSED = Duration.ofDays(7);
    private static final String FORMAT = "sandcell-snapshot-1";

    /** A published image and what its driver said when it became ready. */
    public record Image(String key, Path dir, ObjectNode readyInfo) {}

    /**
     * How a restore reads an image's memory pages. Through the page cache, the host copies each page twice
     * (disk to cache, cache to the sandbox's memory); with direct reads ({@code O_DIRECT}) the disk writes
     * them into the sandbox's memory once. Measured here on a 96 MiB image: a restore took 0.23 CPU-s less
     * (0.51 to 0.59 against 0.75 to 0.91 for the whole host) and 150 to 250 ms less wall time. A disk with
     * little throughput (a cloud volume's baseline of about 125 MB/s) makes direct reads slower than a warm
     * page cache: then choose {@link #CACHED}.
     */
    public enum PageReads {
        /** Direct reads where the image's file system accepts them, else through the page cache. */
        DIRECT,
        /** Always through the page cache. */
        CACHED
    }

    private final Path dir;

    public SnapshotStore(Path dir) {
        this.dir = dir;
    }

    /**
     * The key of sandboxes built from this spec.
     *
     * @param normalizedSpec the spec built with a fixed container id and workspace and without per-kernel
     *     environment, so that it is the same for every kernel of one shape
     */
    public static String key(ObjectNode normalizedSpec, SandboxConfig config) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(FORMAT.getBytes(StandardCharsets.UTF_8));
            sha.update(Json.bytes(normalizedSpec));
            sha.update(("\0" + config.platform() + "\0" + identity(config.runsc()) + "\0"
                    + identity(config.rootfs().resolve("var/lib/dpkg/status"))).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String identity(Path file) {
        try {
            return file + ":" + Files.size(file) + ":" + Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return file + ":absent";
        }
    }

    /** The published image for the key, or null. Marks it used. */
    public Image find(String key) {
        Path image = dir.resolve(key);
        Path meta = image.resolve(META);
        try {
            ObjectNode info = Json.parseObject(Files.readString(meta), "snapshot metadata");
            Files.setLastModifiedTime(meta, FileTime.from(Instant.now()));
            return new Image(key, image, info);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | RuntimeException e) {
            discard(new Image(key, image, Json.object())); // unreadable: rebuilt by the next kernel
            return null;
        }
    }

    /**
     * Claims the right to publish the key's image.
     *
     * @return the directory to checkpoint into, or null when the image exists or another kernel is taking it
     */
    public Path claim(String key) throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        if (Files.isRegularFile(dir.resolve(key).resolve(META))) {
            return null;
        }
        Path tmp = dir.resolve(key + ".tmp");
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                Files.createDirectory(tmp);
                return tmp;
            } catch (FileAlreadyExistsException e) {
                try {
                    Instant made = Files.getLastModifiedTime(tmp).toInstant();
                    if (made.plus(CLAIM_STALE).isAfter(Instant.now())) {
                        return null;
                    }
                    SandboxLayout.deleteTree(tmp); // its kernel died while checkpointing
                } catch (NoSuchFileException gone) {
                    // released in between: try again
                }
            }
        }
        return null;
    }

    /** Gives up a claim without publishing. */
    public void release(Path claimed) {
        try {
            SandboxLayout.deleteTree(claimed);
        } catch (IOException ignored) {
            // goes stale and is replaced
        }
    }

    /** Publishes a checkpoint written into a claimed directory, then removes images unused for a week. */
    public Image publish(String key, Path claimed, ObjectNode readyInfo) throws IOException {
        Files.write(claimed.resolve(META), Json.bytes(readyInfo));
        Path image = dir.resolve(key);
        try {
            Files.move(claimed, image, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            release(claimed);
            throw e;
        }
        pruneUnused(key);
        return new Image(key, image, readyInfo);
    }

    /**
     * Whether a restore from the image reads its pages directly ({@code runsc restore --direct}): not when
     * {@code reads} is {@link PageReads#CACHED}, when an earlier restore found that direct reads fail for it
     * ({@link #markCachedOnly}), or when its file system refuses {@code O_DIRECT} (tmpfs before Linux 6.6,
     * some network and overlay file systems).
     */
    public boolean directRead(Image image, String runscImageDir, PageReads reads) {
        if (reads == PageReads.CACHED || Files.exists(image.dir().resolve(CACHED_ONLY))) {
            return false;
        }
        Path pages = image.dir().resolve(runscImageDir).resolve(PAGES);
        try {
            FileChannel.open(pages, StandardOpenOption.READ, ExtendedOpenOption.DIRECT).close();
            return true; // opened with O_DIRECT: the file system takes it
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** Records that the image restores only through the page cache, so that later kernels go there first. */
    public void markCachedOnly(Image image) {
        try {
            Files.write(image.dir().resolve(CACHED_ONLY), new byte[0]);
        } catch (IOException ignored) {
            // the next kernel tries direct reads once more, and falls back again
        }
    }

    /** Removes an image that failed to restore, so that the next kernel takes a fresh one. */
    public void discard(Image image) {
        Path aside = dir.resolve(image.key() + ".bad-" + System.nanoTime());
        try {
            Files.move(image.dir(), aside, StandardCopyOption.ATOMIC_MOVE);
            SandboxLayout.deleteTree(aside);
        } catch (IOException ignored) {
            // another kernel discarded it first
        }
    }

    private void pruneUnused(String keep) {
        Instant cutoff = Instant.now().minus(UNUSED);
        try (var entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                String name = p.getFileName().toString();
                if (name.equals(keep) || name.endsWith(".tmp")) {
                    continue;
                }
                Path meta = p.resolve(META);
                boolean unused;
                try {
                    unused = Files.getLastModifiedTime(meta).toInstant().isBefore(cutoff);
                } catch (IOException e) {
                    unused = name.contains(".bad-");
                }
                if (unused) {
                    SandboxLayout.deleteTree(p);
                }
            }
        } catch (IOException ignored) {
            // pruning is best effort
        }
    }
}
