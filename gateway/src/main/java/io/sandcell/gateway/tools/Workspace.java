package io.sandcell.gateway.tools;

import java.io.IOException;
import java.nio.channels.Channels;
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
 */
final class Workspace {
    /** The most entries looked at per snapshot, so a workspace of millions of files costs little. */
    static final int MAX_ENTRIES = 20_000;
    static final int MAX_DEPTH = 12;

    /** A regular file's identity for change detection. */
    record Stamp(long size, long modifiedNanos) {}

    /** A file created or changed by a call. */
    record Changed(String relative, long size) {}

    private Workspace() {}

    /** Regular files under root (links are neither followed nor listed), by '/'-separated relative path. */
    static Map<String, Stamp> snapshot(Path root) {
        Map<String, Stamp> out = new HashMap<>();
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            return out;
        }
        try {
            Files.walkFileTree(root, Set.of(), MAX_DEPTH, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        out.put(relative(root, file), new Stamp(attrs.size(),
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

    private static String relative(Path root, Path file) {
        return root.relativize(file).toString().replace('\\', '/');
    }

    /** Every file new or different in after, most recently changed first. */
    static List<Changed> changed(Map<String, Stamp> before, Map<String, Stamp> after) {
        List<Map.Entry<String, Stamp>> diff = new ArrayList<>();
        for (Map.Entry<String, Stamp> e : after.entrySet()) {
            if (!e.getValue().equals(before.get(e.getKey()))) {
                diff.add(e);
            }
        }
        diff.sort(Comparator.comparingLong((Map.Entry<String, Stamp> e) -> e.getValue().modifiedNanos()).reversed()
                .thenComparing(Map.Entry::getKey));
        List<Changed> out = new ArrayList<>();
        for (Map.Entry<String, Stamp> e : diff) {
            out.add(new Changed(e.getKey(), e.getValue().size()));
        }
        return out;
    }

    /** A file's bytes, or why it cannot be served. */
    sealed interface Read permits Content, Refused {}

    record Content(byte[] bytes) implements Read {}

    /** @param status the HTTP status to answer with */
    record Refused(int status, String message) implements Read {}

    /**
     * Reads a workspace file by walking from the root one directory at a time with {@code O_NOFOLLOW}
     * (a {@link SecureDirectoryStream}), so no component, the last included, can be a link, and a link swapped
     * in while reading cannot redirect it. Only regular files up to maxBytes are read.
     */
    static Read read(Path root, String relative, long maxBytes) {
        List<String> parts = List.of(relative.split("/"));
        for (String p : parts) {
            if (p.isEmpty() || p.equals(".") || p.equals("..")) {
                return new Refused(404, "no such file");
            }
        }
        try (DirectoryStream<Path> top = Files.newDirectoryStream(root)) {
            if (!(top instanceof SecureDirectoryStream<Path> dir)) {
                return new Refused(500, "this platform cannot open files without following links");
            }
            List<SecureDirectoryStream<Path>> opened = new ArrayList<>();
            try {
                SecureDirectoryStream<Path> current = dir;
                for (String p : parts.subList(0, parts.size() - 1)) {
                    current = current.newDirectoryStream(Path.of(p), LinkOption.NOFOLLOW_LINKS);
                    opened.add(current);
                }
                Path name = Path.of(parts.get(parts.size() - 1));
                BasicFileAttributes attrs = current.getFileAttributeView(name, BasicFileAttributeView.class,
                        LinkOption.NOFOLLOW_LINKS).readAttributes();
                if (!attrs.isRegularFile()) {
                    return new Refused(404, "not a regular file");
                }
                if (attrs.size() > maxBytes) {
                    return new Refused(413, "the file is larger than the download limit of " + maxBytes + " bytes");
                }
                try (SeekableByteChannel ch = current.newByteChannel(name,
                        Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
                    // read one byte past the limit, so that a file grown since the check is refused too
                    byte[] out = Channels.newInputStream(ch).readNBytes((int) maxBytes + 1);
                    if (out.length > maxBytes) {
                        return new Refused(413, "the file is larger than the download limit of " + maxBytes
                                + " bytes");
                    }
                    return new Content(out);
                }
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
