package io.sandcell.gateway.tools;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A kernel's workspace as the host sees it: what files a call created or changed, and reading one of them
 * without ever following a symbolic link (the sandbox owns the directory and may plant links to host files).
 *
 * <p>Files are known by their relative {@link Path}, never by a string: a Linux file name is bytes, and one that
 * is not UTF-8, or holds a backslash, does not survive a trip through a string (two names that are not UTF-8
 * can even come back as one). Strings are only for showing a name.
 */
final class Workspace {
    /** The most entries looked at per snapshot, so a workspace of millions of files costs little. */
    static final int MAX_ENTRIES = 20_000;
    static final int MAX_DEPTH = 12;

    /** A regular file's identity for change detection. */
    record Stamp(long size, long modifiedNanos) {}

    /** A file created or changed by a call. */
    record Changed(Path relative, long size) {
        /** The '/'-separated name to show (bytes that are not UTF-8 show as U+FFFD). */
        String name() {
            return relative.toString();
        }
    }

    private Workspace() {}

    /** Regular files under root (links are neither followed nor listed), by relative path. */
    static Map<Path, Stamp> snapshot(Path root) {
        Map<Path, Stamp> out = new HashMap<>();
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            return out;
        }
        try {
            Files.walkFileTree(root, Set.of(), MAX_DEPTH, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        out.put(root.relativize(file), new Stamp(attrs.size(),
                                attrs.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS)));
                    }
                    return out.size() >= MAX_ENTRIES ? FileVisitResult.TERMINATE : FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException exc) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // a snapshot is best effort: the sandbox may change the tree while it is walked
        }
        return out;
    }

    /** Every file new or different in after, most recently changed first. */
    static List<Changed> changed(Map<Path, Stamp> before, Map<Path, Stamp> after) {
        List<Map.Entry<Path, Stamp>> diff = new ArrayList<>();
        for (Map.Entry<Path, Stamp> e : after.entrySet()) {
            if (!e.getValue().equals(before.get(e.getKey()))) {
                diff.add(e);
            }
        }
        diff.sort(Comparator.comparingLong((Map.Entry<Path, Stamp> e) -> e.getValue().modifiedNanos()).reversed()
                .thenComparing(Map.Entry::getKey));
        List<Changed> out = new ArrayList<>();
        for (Map.Entry<Path, Stamp> e : diff) {
            out.add(new Changed(e.getKey(), e.getValue().size()));
        }
        return out;
    }

    /** A file opened to be served, or why it cannot be. */
    sealed interface Read permits Opened, Refused {}

    /**
     * A file opened for serving, and its size when it was opened: that many bytes are served and no more, so a
     * file that grows meanwhile is cut at the size it had.
     */
    record Opened(SeekableByteChannel channel, long size) implements Read, AutoCloseable {
        @Override
        public void close() {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more is read from it
            }
        }
    }

    /** @param status the HTTP status to answer with */
    record Refused(int status, String message) implements Read {}

    /**
     * Opens a workspace file by walking from the root one directory at a time with {@code O_NOFOLLOW}
     * (a {@link SecureDirectoryStream}), so no component, the last included, can be a link, and a link swapped
     * in while it is served cannot redirect it. Only regular files up to maxBytes are opened; the caller closes.
     */
    static Read open(Path root, Path relative, long maxBytes) {
        List<Path> parts = new ArrayList<>();
        relative.forEach(parts::add);
        if (relative.isAbsolute() || parts.isEmpty()
                || parts.stream().anyMatch(p -> p.toString().equals(".") || p.toString().equals(".."))) {
            return new Refused(404, "no such file");
        }
        try (DirectoryStream<Path> top = Files.newDirectoryStream(root)) {
            if (!(top instanceof SecureDirectoryStream<Path> dir)) {
                return new Refused(500, "this platform cannot open files without following links");
            }
            List<SecureDirectoryStream<Path>> opened = new ArrayList<>();
            try {
                SecureDirectoryStream<Path> current = dir;
                for (Path p : parts.subList(0, parts.size() - 1)) {
                    current = current.newDirectoryStream(p, LinkOption.NOFOLLOW_LINKS);
                    opened.add(current);
                }
                Path name = parts.get(parts.size() - 1);
                BasicFileAttributes attrs = current.getFileAttributeView(name, BasicFileAttributeView.class,
                        LinkOption.NOFOLLOW_LINKS).readAttributes();
                if (!attrs.isRegularFile()) {
                    return new Refused(404, "not a regular file");
                }
                if (attrs.size() > maxBytes) {
                    return new Refused(413, "the file is larger than the download limit of " + maxBytes + " bytes");
                }
                return new Opened(current.newByteChannel(name, Set.of(StandardOpenOption.READ,
                        LinkOption.NOFOLLOW_LINKS)), attrs.size());
            } finally {
                for (SecureDirectoryStream<Path> s : opened) {
                    s.close();
                }
            }
        } catch (NoSuchFileException e) {
            return new Refused(404, "no such file");
        } catch (IOException e) {
            // ELOOP (a link where a name was expected), ENOTDIR, permissions: all mean "not served"
            return new Refused(404, "the file cannot be served: " + e.getClass().getSimpleName());
        }
    }
}
