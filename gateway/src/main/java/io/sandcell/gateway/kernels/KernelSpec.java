package io.sandcell.gateway.kernels;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One kernelspec: how to launch a kernel and how to describe it to clients.
 *
 * @param name the spec's name ({@code [A-Za-z0-9._-]+})
 * @param argv the command line; {@code {connection_file}} is replaced when launching
 * @param displayName what clients show
 * @param language the kernel's language
 * @param env extra environment for the kernel process
 * @param resourceDir the directory holding logos and other files; null for the embedded specs, which run
 *     the kernel from the gateway's own jar
 */
public record KernelSpec(String name, List<String> argv, String displayName, String language,
                         Map<String, String> env, Path resourceDir) {

    public KernelSpec {
        argv = List.copyOf(argv);
        env = Map.copyOf(env);
    }

    /** Whether this is one of the gateway's own specs (its argv starts with the gateway's java command). */
    public boolean embedded() {
        return resourceDir == null;
    }

    /** The {@code spec} object of the kernelspecs API. */
    public ObjectNode specJson() {
        ObjectNode s = Json.object();
        ArrayNode a = s.putArray("argv");
        argv.forEach(a::add);
        s.put("display_name", displayName);
        s.put("language", language);
        s.put("interrupt_mode", "message");
        ObjectNode e = s.putObject("env");
        env.forEach(e::put);
        s.putObject("metadata").put("sandbox", "gvisor");
        s.put("kernel_protocol_version", "5.4");
        return s;
    }
}
