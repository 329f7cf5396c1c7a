package io.sandcell.gateway.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.config.ToolConfig;
import io.sandcell.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tool server's OpenAPI 3.1 document. Open WebUI turns each operation with an {@code operationId} into a
 * tool and shows the model its description, so the descriptions say what a model needs to know: what is
 * installed, that state persists within a chat, that there is no network, where files go and how to show
 * images.
 */
final class OpenApi {
    /** Libraries worth naming to a model, by the module directory that shows they are installed. */
    private static final Map<String, String> NOTABLE = notable();

    private OpenApi() {}

    private static Map<String, String> notable() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String[] e : new String[][] {{"numpy", "numpy"}, {"pandas", "pandas"}, {"matplotlib", "matplotlib"},
                {"scipy", "scipy"}, {"sklearn", "scikit-learn"}, {"sympy", "sympy"}, {"seaborn", "seaborn"},
                {"statsmodels", "statsmodels"}, {"networkx", "networkx"}, {"PIL", "Pillow"},
                {"openpyxl", "openpyxl"}, {"bs4", "beautifulsoup4"}, {"lxml", "lxml"}, {"yaml", "PyYAML"},
                {"requests", "requests"}, {"IPython", "IPython"}}) {
            m.put(e[0], e[1]);
        }
        return m;
    }

    /** The notable libraries installed under the sandbox root's Python. */
    static List<String> installedLibraries(Path root) {
        List<String> found = new ArrayList<>();
        List<Path> dirs = new ArrayList<>(List.of(root.resolve("usr/lib/python3/dist-packages")));
        try (var s = Files.list(root.resolve("usr/lib"))) {
            s.filter(p -> p.getFileName().toString().matches("python3\\.\\d+")).forEach(dirs::add);
        } catch (IOException ignored) {
            // no /usr/lib: nothing found
        }
        for (Map.Entry<String, String> e : NOTABLE.entrySet()) {
            if (dirs.stream().anyMatch(d -> Files.isDirectory(d.resolve(e.getKey())))) {
                found.add(e.getValue());
            }
        }
        return found;
    }

    static ObjectNode document(ToolConfig config, String pythonVersion, List<String> libraries, boolean egress) {
        ObjectNode doc = Json.object();
        doc.put("openapi", "3.1.0");
        ObjectNode info = doc.putObject("info");
        info.put("title", "Sandcell code execution");
        info.put("version", "0.1.0");
        info.put("description", "Runs Python and Bash in gVisor sandboxes, one per chat, with state kept "
                + "between calls of the same chat.");
        String common = " State persists within this chat between calls: variables, imports, functions, the "
                + "current directory and files are still there next time; other chats cannot see them. "
                + (egress ? "Outbound Internet access works (web requests, downloads, package installs into "
                        + "the working directory); the host machine and private networks are not reachable, "
                        + "and nothing of the host is visible."
                        : "There is no network access (package installs and web requests fail), and nothing of "
                        + "the host machine is visible.")
                + " The working directory is /mnt/data: files written there are "
                + "returned in `files` with download links; give the user those links. A call is stopped "
                + "after " + config.timeoutSeconds() + " seconds (status `timeout`, with the output so far), "
                + "and stdout and stderr are each cut to " + config.maxOutputBytes() / 1024 + " KiB.";
        String libs = libraries.isEmpty() ? "the Python standard library" : "the standard library plus "
                + String.join(", ", libraries);
        ObjectNode paths = doc.putObject("paths");
        paths.putObject("/tools/execute_python").set("post", operation("execute_python",
                "Run Python code in a sandboxed Jupyter kernel",
                "Run Python " + pythonVersion + " code in this chat's sandboxed IPython kernel and return its "
                        + "output. Installed: " + libs + (egress ? "." : "; nothing else can be installed.") + common
                        + " The value of the last expression is returned in `result`; print() output in "
                        + "`stdout`; errors (with the traceback) in `stderr` with status `error`. Plots "
                        + "(matplotlib's plt.show(), or display() of an image) are returned as URLs in "
                        + "`images`: to show one to the user, write it in your answer as Markdown "
                        + "![short description](url).",
                "code", "Python source to run, as in a notebook cell. IPython syntax works (e.g. !ls, %timeit)."));
        paths.putObject("/tools/execute_bash").set("post", operation("execute_bash",
                "Run a Bash command in a sandboxed shell",
                "Run a Bash command line or script in this chat's sandboxed shell and return its output. "
                        + "Coreutils and the usual command-line tools are available (python3 too); there is "
                        + "no sudo or package manager." + common + " The shell itself persists: `cd` and "
                        + "exported variables carry over to the next call. A non-zero exit status of the last "
                        + "command gives status `error` and its `exit_code`.",
                "command", "Bash commands to run, one or more lines."));
        ObjectNode components = doc.putObject("components");
        ObjectNode schemas = components.putObject("schemas");
        schemas.set("ExecutionResult", resultSchema());
        ObjectNode err = schemas.putObject("Error").put("type", "object");
        err.putArray("required").add("message");
        ObjectNode errProps = err.putObject("properties");
        errProps.putObject("message").put("type", "string");
        errProps.putObject("reason").put("type", "string");
        components.putObject("securitySchemes").putObject("bearer").put("type", "http").put("scheme", "bearer");
        doc.putArray("security").addObject().putArray("bearer");
        return doc;
    }

    private static ObjectNode operation(String id, String summary, String description, String param,
                                        String paramDescription) {
        ObjectNode op = Json.object();
        op.put("operationId", id);
        op.put("summary", summary);
        op.put("description", description);
        ObjectNode schema = op.putObject("requestBody").put("required", true).putObject("content")
                .putObject("application/json").putObject("schema");
        schema.put("type", "object");
        schema.putArray("required").add(param);
        schema.putObject("properties").putObject(param).put("type", "string").put("description", paramDescription);
        ObjectNode responses = op.putObject("responses");
        responses.putObject("200").put("description", "The outcome of the run (also for errors in the code)")
                .putObject("content").putObject("application/json").putObject("schema")
                .put("$ref", "#/components/schemas/ExecutionResult");
        for (String[] r : new String[][] {{"400", "The request body is not a JSON object with `" + param + "`"},
                {"401", "A valid Bearer key is required"},
                {"429", "Too many chats of this user have code running"},
                {"503", "No sandbox could be started"}}) {
            responses.putObject(r[0]).put("description", r[1]).putObject("content").putObject("application/json")
                    .putObject("schema").put("$ref", "#/components/schemas/Error");
        }
        return op;
    }

    private static ObjectNode resultSchema() {
        ObjectNode s = Json.object();
        s.put("type", "object");
        ArrayNode required = s.putArray("required");
        for (String r : List.of("status", "stdout", "stderr", "result", "images", "files")) {
            required.add(r);
        }
        ObjectNode p = s.putObject("properties");
        ArrayNode statuses = p.putObject("status").put("type", "string")
                .put("description", "ok, error (the code raised or exited non-zero) or timeout").putArray("enum");
        statuses.add("ok").add("error").add("timeout");
        p.putObject("stdout").put("type", "string").put("description", "Standard output");
        p.putObject("stderr").put("type", "string").put("description", "Standard error, tracebacks and notices");
        p.putObject("result").put("type", "string")
                .put("description", "The text form of the last expression's value (Python), or empty");
        ObjectNode images = p.putObject("images").put("type", "array")
                .put("description", "URLs of the images the code displayed; show them with Markdown ![](url)");
        images.putObject("items").put("type", "string");
        ObjectNode files = p.putObject("files").put("type", "array")
                .put("description", "Files the call created or changed in /mnt/data, with download URLs");
        ObjectNode file = files.putObject("items").put("type", "object");
        file.putArray("required").add("name").add("url").add("size");
        ObjectNode fp = file.putObject("properties");
        fp.putObject("name").put("type", "string").put("description", "Path relative to /mnt/data");
        fp.putObject("url").put("type", "string");
        fp.putObject("size").put("type", "integer").put("description", "Size in bytes");
        p.putObject("exit_code").put("type", "integer")
                .put("description", "Bash only: the exit status of the last command");
        return s;
    }
}
