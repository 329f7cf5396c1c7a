package io.sandcell.gateway.kernels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * A class-data-sharing archive for the embedded kernels' JVM: the classes a kernel process loads (JeroMQ,
 * Jackson, the kernel), mapped ready-made at start instead of being read, parsed and verified each time.
 *
 * <p>The first embedded kernel launched while there is no archive records one when it exits
 * ({@code -XX:ArchiveClassesAtExit} into a temporary file, moved into place only after a clean exit); every
 * later launch maps it ({@code -XX:SharedArchiveFile}). The file name hashes the JVM, the kernel jar and the
 * kernel JVM flags, so a new build or JDK records a fresh archive, and older ones are removed. A JVM that
 * cannot use an archive says so in the kernel's log and starts without it.
 */
final class ClassDataArchive {
    private static final Logger LOG = Logger.getLogger(ClassDataArchive.class.getName());

    private final Path dir;
    private final Path archive;
    private final AtomicBoolean recording = new AtomicBoolean();

    /** The JVM flags of one launch, and what to call with the process's exit code. */
    record Launch(List<String> flags, IntConsumer onExit) {}

    /**
     * @param dir where archives live (created if missing)
     * @param identity what the archive depends on: the java command, the class path and the JVM flags
     */
    ClassDataArchive(Path dir, List<String> identity) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        this.archive = dir.resolve("kernel-" + hash(identity) + ".jsa");
        try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "kernel-*")) {
            for (Path p : old) {
                if (!p.equals(archive)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The archive's path (it exists once a kernel recorded it). */
    Path path() {
        return archive;
    }

    /** The flags for the next kernel launch: map the archive, record it, or neither while another records. */
    Launch launch() {
        if (Files.isRegularFile(archive)) {
            return new Launch(List.of("-XX:SharedArchiveFile=" + archive), code -> { });
        }
        if (!recording.compareAndSet(false, true)) {
            return new Launch(List.of(), code -> { });
        }
        Path tmp = dir.resolve(archive.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime());
        return new Launch(List.of("-XX:ArchiveClassesAtExit=" + tmp), code -> {
            try {
                if (code == 0 && Files.size(tmp) > 0) {
                    Files.move(tmp, archive, StandardCopyOption.ATOMIC_MOVE);
                    LOG.info("recorded the kernel class-data archive " + archive);
                } else {
                    Files.deleteIfExists(tmp);
                }
            } catch (IOException e) {
                // the process died before writing it; the next launch records again
            } finally {
                recording.set(false);
            }
        });
    }

    /** The identity of the embedded kernels' JVM: its command, class path jar (size and time) and flags. */
    static List<String> identity(List<String> argv) {
        StringBuilder jar = new StringBuilder();
        int cp = argv.indexOf("-cp");
        if (cp >= 0 && cp + 1 < argv.size()) {
            for (String entry : argv.get(cp + 1).split(":")) {
                Path p = Path.of(entry);
                try {
                    jar.append(entry).append('@').append(Files.size(p)).append('@')
                            .append(Files.getLastModifiedTime(p).toMillis()).append(';');
                } catch (IOException e) {
                    jar.append(entry).append(';');
                }
            }
        }
        int end = argv.indexOf("-f");
        return List.of(String.join(" ", end > 0 ? argv.subList(0, end) : argv), jar.toString(),
                Runtime.version().toString());
    }

    private static String hash(List<String> parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
