package io.sandcell.gateway.kernels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * What the embedded kernels' JVM maps at start instead of loading its classes (JeroMQ, Jackson, the kernel)
 * each time: Java's ahead-of-time cache on JDK 25 and newer, a class-data-sharing archive before that.
 *
 * <p>The first embedded kernel launched while there is none records it, and every later launch maps it. A new
 * build or JDK records a fresh one: the file name hashes the JVM, the kernel jar and the kernel JVM flags, and
 * older files are removed. A JVM that cannot use the file says so in the kernel's log and starts without it.
 * <ul>
 *   <li>{@link Kind#AOT_CACHE}: the first kernel runs as the training run ({@code -XX:AOTMode=record}); after
 *   its clean exit the gateway assembles the cache ({@code -XX:AOTMode=create}) in a process of the lowest CPU
 *   priority, so that the kernel's exit is not held up, and that process moves it into place (a gateway
 *   restarted meanwhile still gets it). Later kernels map it ({@code -XX:AOTCache}). Besides
 *   the classes it holds them loaded and linked: measured against the archive below, a kernel answers 100 to
 *   150 ms sooner, with 0.15 s less CPU and 6 MB less memory.
 *   <li>{@link Kind#DYNAMIC_ARCHIVE}: the first kernel records it when it exits
 *   ({@code -XX:ArchiveClassesAtExit}); later kernels map it ({@code -XX:SharedArchiveFile}).
 * </ul>
 * A file is written under a temporary name and moved into place only once complete.
 */
final class ClassDataArchive implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ClassDataArchive.class.getName());
    /** After how long a temporary file of a recording is taken for abandoned. */
    private static final long STALE_TEMPORARY_MS = 10 * 60_000;

    /** The two formats; which one a JVM gets depends on its version ({@link #forJvm}). */
    enum Kind {
        AOT_CACHE(".aot"), DYNAMIC_ARCHIVE(".jsa");

        final String suffix;

        Kind(String suffix) {
            this.suffix = suffix;
        }
    }

    private final Path dir;
    private final Kind kind;
    private final List<String> jvm;
    private final Path archive;
    private final AtomicBoolean recording = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * The JVM flags of one launch, whether that launch records (its exit then takes longer: about 1.5 s more
     * for the AOT cache's training run, measured), and what to call with the process's exit code.
     */
    record Launch(List<String> flags, boolean records, IntConsumer onExit) {}

    /**
     * @param dir where archives live (created if missing)
     * @param kind the format
     * @param argv the embedded kernel's command line: its java command, JVM flags and {@code -cp} come first
     */
    ClassDataArchive(Path dir, Kind kind, List<String> argv) throws IOException {
        this.dir = dir;
        this.kind = kind;
        int cp = argv.indexOf("-cp");
        this.jvm = List.copyOf(cp >= 0 && cp + 1 < argv.size() ? argv.subList(0, cp + 2) : argv.subList(0, 1));
        Files.createDirectories(dir);
        this.archive = dir.resolve("kernel-" + hash(identity(argv)) + kind.suffix);
        long stale = System.currentTimeMillis() - STALE_TEMPORARY_MS;
        try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "kernel-*")) {
            for (Path p : old) {
                // a temporary may be an assembly an earlier gateway left running, which installs it itself
                if (!p.equals(archive) && (!p.getFileName().toString().contains(".tmp-")
                        || Files.getLastModifiedTime(p).toMillis() < stale)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The format for this JVM, which also runs the embedded kernels: the cache from JDK 25 on. */
    static Kind forJvm(Runtime.Version version) {
        return version.feature() >= 25 ? Kind.AOT_CACHE : Kind.DYNAMIC_ARCHIVE;
    }

    /** The archive's path (it exists once a kernel recorded it). */
    Path path() {
        return archive;
    }

    /** The flags for the next kernel launch: map the archive, record it, or neither while another records. */
    Launch launch() {
        if (Files.isRegularFile(archive)) {
            return new Launch(List.of((kind == Kind.AOT_CACHE ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=")
                    + archive), false, code -> { });
        }
        if (closed || !recording.compareAndSet(false, true)) {
            return new Launch(List.of(), false, code -> { });
        }
        Path tmp = dir.resolve(archive.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime());
        if (kind == Kind.DYNAMIC_ARCHIVE) {
            return new Launch(List.of("-XX:ArchiveClassesAtExit=" + tmp), true, code -> {
                try {
                    if (code == 0 && Files.isRegularFile(tmp) && Files.size(tmp) > 0) {
                        install(tmp);
                    }
                } catch (IOException e) {
                    // the process died before writing it; the next launch records again
                } finally {
                    done(tmp);
                }
            });
        }
        Path config = dir.resolve(tmp.getFileName() + ".aotconf");
        return new Launch(List.of("-XX:AOTMode=record", "-XX:AOTConfiguration=" + config), true, code -> {
            if (code != 0 || closed || !Files.isRegularFile(config) || !assemble(config, tmp)) {
                done(config);
            }
        });
    }

    /**
     * Starts assembling the cache from a training run's configuration; false if it could not start. The
     * assembly moves the cache into place itself, so that a gateway stopped meanwhile does not lose it.
     */
    private boolean assemble(Path config, Path tmp) {
        List<String> cmd = new ArrayList<>(List.of("nice", "-n", "19", "/bin/sh", "-c",
                "tmp=$1 dest=$2 conf=$3; shift 3; \"$@\" && mv -f \"$tmp\" \"$dest\"; s=$?; rm -f \"$conf\"; "
                        + "exit $s", "assemble", tmp.toString(), archive.toString(), config.toString(), jvm.get(0),
                "-XX:AOTMode=create", "-XX:AOTConfiguration=" + config, "-XX:AOTCache=" + tmp));
        cmd.addAll(jvm.subList(1, jvm.size()));
        Path log = dir.resolve(tmp.getFileName() + ".log");
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            LOG.warning("assembling the kernel AOT cache: " + e.getMessage());
            return false;
        }
        p.onExit().thenAccept(done -> {
            try {
                if (done.exitValue() == 0 && Files.isRegularFile(archive)) {
                    LOG.info("recorded the kernel AOT cache " + archive);
                } else if (!closed) {
                    LOG.warning("assembling the kernel AOT cache failed (exit " + done.exitValue() + "): "
                            + tail(log));
                }
            } finally {
                done(config, tmp, log);
            }
        });
        return true;
    }

    private void install(Path tmp) {
        try {
            Files.move(tmp, archive, StandardCopyOption.ATOMIC_MOVE);
            LOG.info("recorded the kernel class-data archive " + archive);
        } catch (IOException e) {
            LOG.warning("installing " + archive + ": " + e.getMessage());
        }
    }

    /** Removes what a recording left and lets the next launch record again if nothing was installed. */
    private void done(Path... leftovers) {
        for (Path p : leftovers) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // removed with the other leftovers when the next gateway starts
            }
        }
        recording.set(false);
    }

    private static String tail(Path log) {
        try {
            String s = Files.readString(log).strip();
            return s.length() > 500 ? s.substring(s.length() - 500) : s;
        } catch (IOException e) {
            return "(no output)";
        }
    }

    /**
     * Starts no more assemblies: a training run that ends with the gateway records nothing. One already
     * running finishes and installs its cache.
     */
    @Override
    public void close() {
        closed = true;
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
