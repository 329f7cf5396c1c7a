package io.sandcell.gateway.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
            awaitOnly(cds.path());
        }
    }

    @Test
    void anAssemblyUnderWayWhenTheGatewayClosesStillInstallsTheCache() throws Exception {
        assumeTrue(Runtime.version().feature() >= 25, "no AOT cache before JDK 25 (.ci/setup picks 25)");
        ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), ClassDataArchive.Kind.AOT_CACHE, argv);
        ClassDataArchive.Launch first = cds.launch();
        first.onExit().accept(run(first.flags(), 0)); // the assembly starts
        cds.close();
        awaitFile(cds.path());
        awaitOnly(cds.path());
        // and a gateway started meanwhile leaves the assembly's temporary file alone, and then maps the cache
        try (ClassDataArchive next = new ClassDataArchive(tmp.resolve("cds"), ClassDataArchive.Kind.AOT_CACHE,
                argv)) {
            assertEquals(List.of("-XX:AOTCache=" + next.path()), next.launch().flags());
        }
    }

    @Test
    void aNewGatewayKeepsARecentTemporaryAndRemovesAnOldOne() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("cds"));
        Path recent = Files.writeString(dir.resolve("kernel-0123456789abcdef.aot.tmp-1-2"), "being written");
        Path old = Files.writeString(dir.resolve("kernel-0123456789abcdef.aot.tmp-1-3.log"), "abandoned");
        Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.fromMillis(
                System.currentTimeMillis() - 3_600_000));
        try (ClassDataArchive cds = new ClassDataArchive(dir, ClassDataArchive.Kind.AOT_CACHE, argv)) {
            assertTrue(Files.exists(recent));
            assertFalse(Files.exists(old));
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

    /** Waits until the archive is the only file left: a recording's temporaries are removed after it. */
    private static void awaitOnly(Path archive) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            List<Path> files;
            try (Stream<Path> s = Files.list(archive.getParent())) {
                files = s.toList();
            }
            if (files.equals(List.of(archive))) {
                return;
            }
            assertTrue(System.currentTimeMillis() < deadline, "left besides the archive: " + files);
            Thread.sleep(50);
        }
    }

    private static void awaitFile(Path p) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (!Files.isRegularFile(p)) {
            assertTrue(System.currentTimeMillis() < deadline, p + " was not installed");
            Thread.sleep(100);
        }
    }
}
