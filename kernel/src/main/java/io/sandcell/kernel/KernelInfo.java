package io.sandcell.kernel;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.sandbox.SandboxConfig;
import io.sandcell.sandbox.SandboxLayout;
import java.nio.file.Path;
import java.util.Map;

/** The content of {@code kernel_info_reply}, including the sandbox's limits. */
final class KernelInfo {
    static final String IMPLEMENTATION = "sandcell";
    static final String VERSION = "0.1.0";

    private KernelInfo() {}

    static ObjectNode content(SandboxConfig config, String version) {
        ObjectNode c = Json.object();
        c.put("status", "ok");
        c.put("protocol_version", Header.PROTOCOL_VERSION);
        c.put("implementation", IMPLEMENTATION);
        c.put("implementation_version", VERSION);
        ObjectNode lang = c.putObject("language_info");
        if ("bash".equals(config.language())) {
            lang.put("name", "bash");
            lang.put("version", version);
            lang.put("mimetype", "text/x-sh");
            lang.put("file_extension", ".sh");
            lang.put("pygments_lexer", "bash");
            lang.put("codemirror_mode", "shell");
            c.put("banner", "Bash " + version + " in a gVisor sandbox (Sandcell " + VERSION
                    + "): " + reach(config) + ", no host files; the working directory is /mnt/data.");
        } else {
            lang.put("name", "python");
            lang.put("version", version);
            lang.put("mimetype", "text/x-python");
            lang.put("file_extension", ".py");
            lang.put("pygments_lexer", "ipython3");
            lang.putObject("codemirror_mode").put("name", "ipython").put("version", 3);
            lang.put("nbconvert_exporter", "python");
            c.put("banner", "Python " + version + " in a gVisor sandbox (Sandcell " + VERSION
                    + "): " + reach(config) + ", no host files; the working directory is /mnt/data.");
        }
        c.putArray("help_links");
        c.put("debugger", false);
        c.putArray("supported_features");
        ObjectNode sandbox = c.putObject("sandbox");
        sandbox.put("runtime", "gVisor (runsc, " + config.platform() + ")");
        ObjectNode limits = sandbox.putObject("limits");
        for (Map.Entry<String, Object> e : config.limits().entrySet()) {
            // typed, not as a POJO: finding a serializer for a POJO's class cost a kernel's first reply 15 ms
            switch (e.getValue()) {
                case Integer i -> limits.put(e.getKey(), i);
                case Long l -> limits.put(e.getKey(), l);
                case Double d -> limits.put(e.getKey(), d);
                case Number n -> limits.put(e.getKey(), n.doubleValue());
                default -> limits.put(e.getKey(), String.valueOf(e.getValue()));
            }
        }
        return c;
    }

    private static String reach(SandboxConfig config) {
        return config.network().egress() ? "outbound Internet only (no host, no private networks)" : "no network";
    }

    /** The Python version from the sandbox root's python3 link (e.g. 3.11), before the sandbox is up. */
    static String guessPythonVersion(Path rootfs) {
        return SandboxLayout.pythonVersion(rootfs);
    }
}
