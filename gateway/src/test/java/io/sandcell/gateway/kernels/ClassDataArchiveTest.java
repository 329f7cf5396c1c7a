package io.sandcell.gateway.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Records and maps archives with real JVMs of the kind this JDK gets, as the embedded kernels do. */
class ClassDataArchiveTest {
    /** What the recorded JVMs run: loads a few classes and exits with the code it is given. */
    public static final class Main {
        public static void main(String[] args) {
            System.out.println(new java.util.TreeMap<>(java.util.Map.of("a", List.of(1, 2))));
            System.exit(Integer.parseInt(args[0]));
        }
    }

    @TempDir
    Path tmp;
    private List<String> argv;

    @BeforeEach
    void jar() throws IOException {
        Path jar = tmp.resolve("main.jar");
        String entry = Main.class.getName().replace('.', '/') + ".class";
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
             InputStream in = Main.class.getClassLoader().getResourceAsStream(entry)) {
            out.putNextEntry(new JarEntry(entry));
            in.transferTo(out);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        argv = List.of(java, "-XX:+UseSerialGC", "-cp", jar.toString(), Main.class.getName(),
                "-f", "{connection_file}");
    }

    @Test
    void theCacheFromJdk25OnTheArchiveBefore() {
        assertEquals(ClassDataArchive.Kind.AOT_CACHE, ClassDataArchive.forJvm(Runtime.Version.parse("25")));
        assertEquals(ClassDataArchive.Kind.AOT_CACHE, ClassDataArchive.forJvm(Runtime.Version.parse("26.0.1")));
        assertEquals(ClassDataArchive.Kind.DYNAMIC_ARCHIVE, ClassDataArchive.forJvm(Runtime.Version.parse("21.0.5")));
    }

    /** The formats this JVM can record: both from JDK 25 on (the gateway picks the cache there). */
    static List<ClassDataArchive.Kind> kinds() {
        return Runtime.version().feature() >= 25 ? List.of(ClassDataArchive.Kind.values())
                : List.of(ClassDataArchive.Kind.DYNAMIC_ARCHIVE);
    }

    @ParameterizedTest
    @MethodSource("kinds")
    void aCleanRecordingRunIsInstalledAndLaterLaunchesMapIt(ClassDataArchive.Kind kind) throws Exception {
        try (ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), kind, argv)) {
            ClassDataArchive.Launch first = cds.launch();
            assertTrue(first.records(), first.toString());
            ClassDataArchive.Launch meanwhile = cds.launch();
            assertEquals(List.of(), meanwhile.flags(), "one recording at a time");
            first.onExit().accept(run(first.flags(), 0));
            awaitFile(cds.path());
            assertTrue(cds.path().getFileName().toString().endsWith(kind.suffix));

            ClassDataArchive.Launch later = cds.launch();
            assertFalse(later.records());
            assertEquals(List.of((kind == ClassDataArchive.Kind.AOT_CACHE ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=")
                    + cds.path()), later.flags());
            // a JVM that must map it (or fail) maps it
            List<String> strict = new ArrayList<>(later.flags());
            strict.add(kind == ClassDataArchive.Kind.AOT_CACHE ? "-XX:AOTMode=on" : "-Xshare:on");
            assertEquals(0, run(strict, 0));
            try (Stream<Path> files = Files.list(tmp.resolve("cds"))) {
                assertEquals(List.of(cds.path()), files.toList(), "nothing but the archive is left");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kinds")
    void aFailedRecordingRunLeavesNothingAndTheNextLaunchRecords(ClassDataArchive.Kind kind) throws Exception {
        try (ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), kind, argv)) {
            ClassDataArchive.Launch first = cds.launch();
            first.onExit().accept(run(first.flags(), 3));
            Thread.sleep(500);
            assertFalse(Files.exists(cds.path()));
            try (Stream<Path> files = Files.list(tmp.resolve("cds"))) {
                assertEquals(List.of(), files.toList());
            }
            assertTrue(cds.launch().records(), "the next launch records again");
        }
    }

    @Test
    void aGatewayThatClosesAssemblesNothing() throws Exception {
        ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), ClassDataArchive.Kind.AOT_CACHE, argv);
        ClassDataArchive.Launch first = cds.launch();
        int code = Runtime.version().feature() >= 25 ? run(first.flags(), 0) : 0;
        cds.close();
        first.onExit().accept(code);
        Thread.sleep(500);
        assertFalse(Files.exists(cds.path()));
        try (Stream<Path> files = Files.list(tmp.resolve("cds"))) {
            assertEquals(List.of(), files.toList(), "the training run's configuration is removed");
        }
        assertEquals(List.of(), cds.launch().flags(), "a closed archive starts no recording");
    }

    @Test
    void aNewBuildRemovesTheOldArchive() throws Exception {
        Path dir = tmp.resolve("cds");
        Files.createDirectories(dir);
        Path old = Files.writeString(dir.resolve("kernel-0123456789abcdef.jsa"), "old");
        try (ClassDataArchive cds = new ClassDataArchive(dir, ClassDataArchive.Kind.AOT_CACHE, argv)) {
            assertFalse(Files.exists(old));
            assertFalse(Files.exists(cds.path()));
        }
    }

    /** Runs the test jar's main with the given flags, as a kernel launch would; its exit code. */
    private int run(List<String> flags, int exit) throws Exception {
        List<String> cmd = new ArrayList<>(argv.subList(0, argv.indexOf("-f")));
        cmd.addAll(1, flags);
        cmd.add(String.valueOf(exit));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes());
        }
        int code = p.waitFor();
        assertTrue(out.contains("{a=[1, 2]}"), out);
        assertEquals(exit, code, out);
        return code;
    }

    private static void awaitFile(Path p) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (!Files.isRegularFile(p)) {
            assertTrue(System.currentTimeMillis() < deadline, p + " was not installed");
            Thread.sleep(100);
        }
    }
}
