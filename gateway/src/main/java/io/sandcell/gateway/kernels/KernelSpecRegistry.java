package io.sandcell.gateway.kernels;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.protocol.Json;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The kernelspecs the gateway offers: the embedded sandboxed Python ({@code python3}) and Bash ({@code bash})
 * specs (run from the gateway's own jar, which contains the kernel) plus any found in a configured directory.
 */
public final class KernelSpecRegistry {
    private static final Logger LOG = Logger.getLogger(KernelSpecRegistry.class.getName());
    private static final String KERNEL_MAIN = "io.sandcell.kernel.KernelMain";
    /**
     * JVM flags for kernel processes: a small heap that starts small, and a quick start. Class-data archives
     * are mapped where they were built instead of at a random address ({@code ArchiveRelocationMode=0}):
     * the JVM's default relocates them, which writes to most of their pages and so gives each kernel a
     * private copy (measured: 19 MB of archive pages per kernel, 6 MB without relocation, the rest shared).
     */
    static final List<String> KERNEL_JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xss512k", "-Xms16m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData",
            "-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0");
    /**
     * The kernel JVM's environment: one malloc arena. The JVM mallocs little once started, and glibc's
     * default of an arena per thread kept about 8 MB more of touched memory per kernel. (The sandbox's
     * environment is its own.)
     */
    static final Map<String, String> KERNEL_JVM_ENV = Map.of("MALLOC_ARENA_MAX", "1");

    private final Map<String, KernelSpec> specs = new LinkedHashMap<>();
    private final String defaultName;

    public KernelSpecRegistry(String defaultName, Path extraDir) throws IOException {
        this.defaultName = defaultName;
        specs.put("python3", embedded("python3", "python", "Python 3 (gVisor sandbox)"));
        specs.put(BASH, embedded(BASH, "bash", "Bash (gVisor sandbox)"));
        if (extraDir != null) {
            load(extraDir);
        }
        if (!specs.containsKey(defaultName)) {
            throw new IOException("the default kernel " + defaultName + " is not among the kernelspecs "
                    + specs.keySet());
        }
    }

    /** The name of the embedded Bash spec. */
    public static final String BASH = "bash";

    static KernelSpec embedded(String name, String language, String displayName) {
        List<String> argv = new ArrayList<>();
        argv.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        argv.addAll(KERNEL_JVM_FLAGS);
        argv.addAll(List.of("-cp", classPath(), KERNEL_MAIN, "-f", "{connection_file}", "--language", language));
        return new KernelSpec(name, argv, displayName, language, KERNEL_JVM_ENV, null);
    }

    private static String classPath() {
        String override = System.getProperty("sandcell.kernel.classpath");
        if (override != null && !override.isEmpty()) {
            return override;
        }
        try {
            Path own = Path.of(KernelSpecRegistry.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(own)) {
                return own.toString();
            }
        } catch (URISyntaxException | RuntimeException ignored) {
            // fall back to the JVM's class path (tests run from target/classes)
        }
        return System.getProperty("java.class.path");
    }

    private void load(Path dir) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path d : entries) {
                Path file = d.resolve("kernel.json");
                String name = d.getFileName().toString();
                if (!Files.isRegularFile(file) || !name.matches("[A-Za-z0-9._-]+")) {
                    continue;
                }
                try {
                    ObjectNode json = Json.parseObject(Files.readAllBytes(file), file.toString());
                    List<String> argv = new ArrayList<>();
                    json.path("argv").forEach(a -> argv.add(a.asText()));
                    if (argv.isEmpty()) {
                        throw new IOException("no argv");
                    }
                    Map<String, String> env = new LinkedHashMap<>();
                    json.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
                    specs.put(name, new KernelSpec(name, argv, json.path("display_name").asText(name),
                            json.path("language").asText("python"), env, d));
                } catch (IOException | RuntimeException e) {
                    LOG.warning("skipping kernelspec " + file + ": " + e.getMessage());
                }
            }
        }
    }

    public String defaultName() {
        return defaultName;
    }

    public List<KernelSpec> all() {
        return List.copyOf(specs.values());
    }

    /**
     * The spec of that name, or the default when the name is null or empty.
     *
     * @throws ApiException 404 for an unknown name
     */
    public KernelSpec get(String name) {
        String n = name == null || name.isEmpty() ? defaultName : name;
        KernelSpec s = specs.get(n);
        if (s == null) {
            throw ApiException.notFound("Kernel spec " + n + " not found");
        }
        return s;
    }

    public Optional<KernelSpec> find(String name) {
        return Optional.ofNullable(specs.get(name));
    }

    /** The model of one spec, as in {@code GET /api/kernelspecs/{name}}. */
    public ObjectNode model(KernelSpec spec, String baseUrl) {
        ObjectNode m = Json.object();
        m.put("name", spec.name());
        m.set("spec", spec.specJson());
        ObjectNode resources = m.putObject("resources");
        if (spec.resourceDir() != null) {
            for (String f : List.of("logo-32x32.png", "logo-64x64.png", "logo-svg.svg", "kernel.js")) {
                if (Files.isRegularFile(spec.resourceDir().resolve(f))) {
                    String key = f.startsWith("logo-") ? f.substring(0, f.lastIndexOf('.')) : f;
                    resources.put(key, baseUrl + "kernelspecs/" + spec.name() + "/" + f);
                }
            }
        }
        return m;
    }

    /** The body of {@code GET /api/kernelspecs}. */
    public ObjectNode listModel(String baseUrl) {
        ObjectNode body = Json.object();
        body.put("default", defaultName);
        ObjectNode all = body.putObject("kernelspecs");
        for (KernelSpec s : specs.values()) {
            all.set(s.name(), model(s, baseUrl));
        }
        return body;
    }

    /**
     * A file of a spec's resource directory, never outside it.
     *
     * @throws ApiException 404 when the spec, the file, or a safe path does not exist
     */
    public Path resource(String name, String file) {
        KernelSpec spec = find(name).orElseThrow(() -> ApiException.notFound("Kernel spec " + name + " not found"));
        if (spec.resourceDir() == null || !file.matches("[A-Za-z0-9._-]+") || file.startsWith(".")) {
            throw ApiException.notFound("no resource " + file + " for kernel spec " + name);
        }
        Path p = spec.resourceDir().resolve(file);
        if (!Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw ApiException.notFound("no resource " + file + " for kernel spec " + name);
        }
        return p;
    }

}
