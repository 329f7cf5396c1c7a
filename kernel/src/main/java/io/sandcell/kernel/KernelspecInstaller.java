package io.sandcell.kernel;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import io.sandcell.sandbox.SandboxLayout;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a sandboxed kernelspec (Python or Bash) into a Jupyter kernels directory, with absolute paths to this JVM
 * and this jar, so that {@code jupyter kernelspec list}, jupyter_client and nbclient find it.
 */
public final class KernelspecInstaller {
    static final String DEFAULT_NAME = "sandcell-python";
    static final List<String> LANGUAGES = List.of("python", "bash");

    /** The kernel.json template of a language. */
    static String template(String language) {
        return "/io/sandcell/kernelspecs/sandcell-" + language + "/kernel.json";
    }

    private KernelspecInstaller() {}

    /**
     * {@code install [--user | --prefix P] [--language python|bash] [--name N] [-- kernel options...]}; returns
     * the exit code.
     */
    static int run(String[] args) {
        Path target = Path.of("/usr/local/share/jupyter/kernels");
        String name = null;
        String language = "python";
        List<String> extra = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--user" -> target = userDataDir().resolve("kernels");
                case "--prefix" -> {
                    if (i + 1 >= args.length) {
                        return usage("--prefix needs a directory");
                    }
                    target = Path.of(args[++i]).toAbsolutePath().resolve("share/jupyter/kernels");
                }
                case "--name" -> {
                    if (i + 1 >= args.length || !args[i + 1].matches("[A-Za-z0-9._-]+")) {
                        return usage("--name needs a name of letters, digits, '.', '_' and '-'");
                    }
                    name = args[++i];
                }
                case "--language" -> {
                    if (i + 1 >= args.length || !LANGUAGES.contains(args[i + 1])) {
                        return usage("--language needs one of " + LANGUAGES);
                    }
                    language = args[++i];
                }
                case "--" -> {
                    extra.addAll(List.of(args).subList(i + 1, args.length));
                    i = args.length;
                }
                case "-h", "--help" -> {
                    System.out.println("Usage: java -jar kernel.jar install [--user | --prefix PREFIX] [--language python|bash]"
                            + " [--name NAME] [-- KERNEL_OPTIONS...]");
                    return 0;
                }
                default -> {
                    return usage("unknown option " + args[i]);
                }
            }
        }
        if (name == null) {
            name = "sandcell-" + language;
        }
        try {
            Path dir = install(target.resolve(name), language, javaCommand(), ownJar(), extra);
            System.out.println("Installed kernelspec " + name + " in " + dir);
            return 0;
        } catch (IOException e) {
            System.err.println("sandcell-kernel install: writing the kernelspec failed: " + e.getMessage());
            return 1;
        }
    }

    private static int usage(String message) {
        System.err.println("sandcell-kernel install: " + message);
        return 2;
    }

    /** Writes {@code kernel.json} into {@code dir}, replacing the template's placeholders. */
    static Path install(Path dir, String language, String java, Path jar, List<String> extraArgs)
            throws IOException {
        String json = new String(SandboxLayout.resource(template(language)), StandardCharsets.UTF_8)
                .replace("@JAVA@", escape(java)).replace("@KERNEL_JAR@", escape(jar.toString()));
        ObjectNode spec = Json.parseObject(json, "kernel.json template");
        ArrayNode argv = (ArrayNode) spec.get("argv");
        extraArgs.forEach(argv::add);
        json = Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(spec) + "\n";
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("kernel.json"), json, StandardCharsets.UTF_8);
        return dir;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    static Path userDataDir() {
        String env = System.getenv("JUPYTER_DATA_DIR");
        if (env != null && !env.isEmpty()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_DATA_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"),
                ".local", "share");
        return base.resolve("jupyter");
    }

    static String javaCommand() {
        return ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    static Path ownJar() throws IOException {
        try {
            return Path.of(KernelspecInstaller.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .toAbsolutePath();
        } catch (URISyntaxException e) {
            throw new IOException("cannot find the kernel jar: " + e.getMessage(), e);
        }
    }
}
