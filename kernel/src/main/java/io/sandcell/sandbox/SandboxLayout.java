package io.sandcell.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The read-only files every sandbox shares, built once per content under {@code <data>/base/<hash>/}:
 * <ul>
 *   <li>{@code rootfs/}: empty mount points plus the merged-/usr symlinks ({@code bin -> usr/bin}, ...);</li>
 *   <li>{@code etc/}: a generated /etc holding only what programs need (no shadow, no host secrets);</li>
 *   <li>{@code opt/}: the driver script.</li>
 * </ul>
 * Content-addressed directories are never changed after they are built, so running sandboxes keep theirs.
 */
public final class SandboxLayout {
    /** Entries of the host's /etc copied into the sandbox's /etc. Nothing secret belongs here. */
    static final List<String> ETC_COPIED = List.of("alternatives", "fonts", "ld.so.cache", "ld.so.conf",
            "ld.so.conf.d", "matplotlibrc", "python3", "python3.11", "python3.12", "python3.13", "ssl/certs",
            "ssl/openssl.cnf", "mime.types", "localtime", "timezone", "bash.bashrc", "profile", "inputrc",
            "magic", "os-release", "debian_version", "gai.conf");
    /** Top-level directories of a merged-/usr system that are symlinks into /usr. */
    static final List<String> USR_LINKS = List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32");
    private static final int LAYOUT_VERSION = 1;

    private final Path base;
    private final List<String> boundDirs;

    private SandboxLayout(Path base, List<String> boundDirs) {
        this.base = base;
        this.boundDirs = boundDirs;
    }

    /** The directory that holds {@code rootfs}, {@code etc} and {@code opt}. */
    public Path base() {
        return base;
    }

    public Path rootfs() {
        return base.resolve("rootfs");
    }

    public Path etc() {
        return base.resolve("etc");
    }

    public Path opt() {
        return base.resolve("opt");
    }

    /** Top-level directories of the sandbox root that are real directories and need their own bind mount. */
    public List<String> boundDirs() {
        return boundDirs;
    }

    /**
     * Returns the layout for this configuration and driver, building it if it does not exist yet. Safe to
     * call from several processes at once: building is serialized with a file lock.
     */
    @SuppressWarnings("try")
    public static SandboxLayout prepare(SandboxConfig config, byte[] driver, String driverName) throws IOException {
        String hash = hash(config, driver, driverName);
        Path baseRoot = config.dataDir().resolve("base");
        Files.createDirectories(baseRoot);
        Path base = baseRoot.resolve(hash);
        List<String> bound = new ArrayList<>();
        for (String name : USR_LINKS) {
            Path p = config.rootfs().resolve(name);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                bound.add(name);
            }
        }
        if (Files.isRegularFile(base.resolve("complete"))) {
            return new SandboxLayout(base, bound);
        }
        try (FileChannel lockFile = FileChannel.open(baseRoot.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock ignored = lockFile.lock()) {
            if (!Files.isRegularFile(base.resolve("complete"))) {
                Path tmp = baseRoot.resolve(hash + ".tmp");
                deleteTree(tmp);
                build(tmp, config, driver, driverName);
                deleteTree(base);
                Files.move(tmp, base, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        return new SandboxLayout(base, bound);
    }

    private static String hash(SandboxConfig config, byte[] driver, String driverName) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(driver);
            md.update((driverName + "\0" + config.rootfs().toAbsolutePath() + "\0" + config.uid() + "\0"
                    + LAYOUT_VERSION).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void build(Path dir, SandboxConfig config, byte[] driver, String driverName)
            throws IOException {
        Path rootfs = dir.resolve("rootfs");
        for (String d : List.of("usr", "etc", "tmp", "proc", "dev", "sys", "mnt/data", "opt/sandcell")) {
            Files.createDirectories(rootfs.resolve(d));
        }
        for (String name : USR_LINKS) {
            Path host = config.rootfs().resolve(name);
            if (Files.isSymbolicLink(host)) {
                Files.createSymbolicLink(rootfs.resolve(name), Files.readSymbolicLink(host));
            } else if (Files.isDirectory(host)) {
                Files.createDirectories(rootfs.resolve(name));
            }
        }
        Path etc = dir.resolve("etc");
        Files.createDirectories(etc);
        Path hostEtc = config.rootfs().resolve("etc");
        for (String entry : ETC_COPIED) {
            Path from = hostEtc.resolve(entry);
            if (Files.exists(from, LinkOption.NOFOLLOW_LINKS)) {
                copyTree(from, etc.resolve(entry));
            }
        }
        int uid = config.uid();
        write(etc.resolve("passwd"), "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
                + "sandbox:x:" + uid + ":" + uid + ":sandbox:/mnt/data:/bin/bash\n"
                + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        write(etc.resolve("group"), "root:x:0:\nsandbox:x:" + uid + ":\nnogroup:x:65534:\n");
        write(etc.resolve("hosts"), "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n");
        write(etc.resolve("hostname"), "sandbox\n");
        write(etc.resolve("nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
        write(etc.resolve("resolv.conf"), "");
        Path opt = dir.resolve("opt");
        Files.createDirectories(opt);
        Files.write(opt.resolve(driverName), driver);
        write(dir.resolve("complete"), "layout " + LAYOUT_VERSION + "\n");
    }

    private static void write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /** Copies files, directories and symlinks (as links); skips anything else and whatever is unreadable. */
    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        if (Files.isSymbolicLink(from)) {
            Files.createSymbolicLink(to, Files.readSymbolicLink(from));
        } else if (Files.isDirectory(from, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(to);
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(from)) {
                for (Path entry : entries) {
                    copyTree(entry, to.resolve(entry.getFileName().toString()));
                }
            }
        } else if (Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS) && Files.isReadable(from)) {
            try (InputStream in = Files.newInputStream(from)) {
                Files.copy(in, to);
            } catch (FileAlreadyExistsException ignored) {
                // a second name for the same file
            }
        }
    }

    /** Deletes a directory tree without following symlinks. Missing is fine. */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
                for (Path entry : entries) {
                    deleteTree(entry);
                }
            }
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new IOException("deleting " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a file to its end as text. Unlike {@link Files#readString}, which goes by the file's size, this
     * is right for {@code /proc} and {@code /sys} files: they report no size, and readString returns only
     * their first byte.
     */
    public static String readToEnd(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Reads a resource of this module fully. */
    public static byte[] resource(String name) {
        try (InputStream in = SandboxLayout.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the kernel jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The Python version a root filesystem's {@code usr/bin/python3} link names (e.g. 3.11), or "3". */
    public static String pythonVersion(Path root) {
        try {
            Path link = root.resolve("usr/bin/python3");
            if (Files.isSymbolicLink(link)) {
                String target = Files.readSymbolicLink(link).getFileName().toString();
                if (target.matches("python3\\.\\d+")) {
                    return target.substring("python".length());
                }
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "3";
    }
}
