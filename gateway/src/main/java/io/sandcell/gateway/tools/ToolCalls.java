package io.sandcell.gateway.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.config.ToolConfig;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.protocol.Json;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a tool call does: find the chat's kernel, note the workspace, run the cell, and turn the outcome into
 * the response, with images and changed files as expiring URLs.
 */
final class ToolCalls implements AutoCloseable {
    /** Images returned per call at most; more are counted in stderr. */
    static final int MAX_IMAGES = 16;

    /** A language the tools run, and the kernelspec that runs it. */
    enum Language { PYTHON, BASH }

    private final ToolConfig config;
    private final KernelManager kernels;
    private final Vertx vertx;
    private final Path dataDir;
    private final ChatKernels chats;
    final Artifacts artifacts;

    ToolCalls(ToolConfig config, KernelManager kernels, Vertx vertx, Path dataDir) {
        this.config = config;
        this.kernels = kernels;
        this.vertx = vertx;
        this.dataDir = dataDir;
        this.chats = new ChatKernels(kernels, config, vertx, dataDir);
        kernels.whenFull(chats::reclaimIdle);
        this.artifacts = new Artifacts(Duration.ofSeconds(config.artifactTtlSeconds()), config.artifactStoreBytes(),
                Clock.systemUTC());
    }

    String specOf(Language language) {
        return language == Language.PYTHON ? kernels.specs().defaultName()
                : io.sandcell.gateway.kernels.KernelSpecRegistry.BASH;
    }

    /**
     * Runs code for a chat. Call on an event-loop context.
     *
     * @param publicBase the gateway's URL as the user's browser reaches it, ending in '/'
     */
    Future<ObjectNode> execute(ChatKernels.ChatKey key, Language language, String code, String publicBase) {
        Context context = vertx.getOrCreateContext();
        boolean listFiles = !key.ephemeral();
        return chats.run(key, specOf(language), lease -> {
            ManagedKernel kernel = lease.kernel();
            Path workspace = lease.workspace();
            return vertx.executeBlocking(() -> listFiles ? Workspace.snapshot(workspace) : Map.<Path,
                            Workspace.Stamp>of(), false)
                    .compose(before -> new CellRun(kernel, context, code, config.timeoutSeconds() * 1000L,
                            config.maxOutputBytes(), MAX_IMAGES).run()
                            .compose(outcome -> vertx.executeBlocking(() -> {
                                Map<Path, Workspace.Stamp> after = listFiles ? Workspace.snapshot(workspace)
                                        : Map.of();
                                return response(kernel, language, outcome, before, after, workspace,
                                        new Links(publicBase, key.owner()));
                            }, false)));
        });
    }

    /** Where a call's links point (the gateway's URL as the user's browser reaches it), and whose they are. */
    private record Links(String publicBase, String owner) {}

    private ObjectNode response(ManagedKernel kernel, Language language, CellRun.Outcome outcome,
                                Map<Path, Workspace.Stamp> before, Map<Path, Workspace.Stamp> after,
                                Path workspace, Links links) {
        String publicBase = links.publicBase();
        String stderr = outcome.stderr();
        if (outcome.reply() != null && "SandboxDied".equals(outcome.reply().path("ename").asText())) {
            kernel.restart();
            stderr += "[sandcell] the sandbox was restarted: variables and imports are gone; files in /mnt/data "
                    + "are kept.\n";
        }
        ObjectNode r = Json.object();
        r.put("status", outcome.status());
        r.put("stdout", outcome.stdout());
        r.put("stderr", stderr);
        r.put("result", outcome.result());
        ArrayNode images = r.putArray("images");
        for (CellRun.Image image : outcome.images()) {
            imageUrl(image, links).ifPresent(images::add);
        }
        ArrayNode files = r.putArray("files");
        List<Workspace.Changed> changed = Workspace.changed(before, after);
        for (Workspace.Changed f : changed.subList(0, Math.min(config.maxFiles(), changed.size()))) {
            String id = artifacts.grantFile(workspace, f.relative());
            String name = f.relative().getFileName().toString();
            files.addObject().put("name", f.name())
                    .put("url", publicBase + "tools/files/" + id + "/"
                            + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20"))
                    .put("size", f.size());
        }
        int more = changed.size() - config.maxFiles();
        if (more > 0) {
            r.put("stderr", r.path("stderr").asText() + "[sandcell] " + more + " more changed file(s) are not "
                    + "listed (limit " + config.maxFiles() + ").\n");
        }
        if (language == Language.BASH && outcome.reply() != null) {
            var reply = outcome.reply();
            if ("ok".equals(reply.path("status").asText())) {
                r.put("exit_code", 0);
            } else if ("ExitCode".equals(reply.path("ename").asText())) {
                r.put("exit_code", Integer.parseInt(reply.path("evalue").asText("1").matches("\\d{1,9}")
                        ? reply.path("evalue").asText() : "1"));
            } else if ("KeyboardInterrupt".equals(reply.path("ename").asText())) {
                r.put("exit_code", 130);
            }
        }
        return r;
    }

    private Optional<String> imageUrl(CellRun.Image image, Links links) {
        if (config.inlineImages()) {
            return Optional.of("data:" + image.mime() + ";base64," + Base64.getEncoder().encodeToString(image.bytes()));
        }
        String ext = switch (image.mime()) {
            case "image/png" -> ".png";
            case "image/jpeg" -> ".jpg";
            case "image/gif" -> ".gif";
            default -> ".svg";
        };
        return artifacts.putImage(links.owner(), image.mime(), image.bytes())
                .map(id -> links.publicBase() + "tools/images/" + id + ext);
    }

    int chatCount() {
        return chats.chatCount();
    }

    @Override
    public void close() {
        chats.close();
    }
}
