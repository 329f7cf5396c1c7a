package io.sandcell.gateway.config;

import io.sandcell.cli.Options;
import io.sandcell.cli.Options.Spec;
import io.sandcell.cli.UsageException;
import java.util.List;

/**
 * The OpenAPI tool server's settings (Open WebUI's "tool server" connection). The key never appears in
 * {@link #toString()}.
 *
 * @param key a Bearer key for tool calls besides the gateway token; empty for none
 * @param chatHeader the request header holding the chat id when {@code X-OpenWebUI-Chat-Id} is absent
 * @param userHeader the request header holding the user id when {@code X-OpenWebUI-User-Id} is absent
 * @param idleTimeoutSeconds a chat's kernels are shut down after this long without a call
 * @param maxKernelsPerUser the most chats with kernels one user may hold; the least recently used idle one
 *     gives way
 * @param timeoutSeconds a call's cell is interrupted after this long and returns its partial output
 * @param maxOutputBytes stdout and stderr are each cut to this size, with a marker
 * @param artifactTtlSeconds how long image and file URLs work
 * @param artifactStoreBytes the most image bytes kept; the oldest go first
 * @param maxFileBytes the largest workspace file served for download
 * @param maxFiles the most changed files listed per call
 * @param publicUrl the gateway's URL as browsers reach it, for image and file links; empty: from the request
 * @param inlineImages return images as {@code data:} URLs instead of links
 */
public record ToolConfig(String key, String chatHeader, String userHeader, int idleTimeoutSeconds,
                         int maxKernelsPerUser, int timeoutSeconds, int maxOutputBytes, int artifactTtlSeconds,
                         long artifactStoreBytes, long maxFileBytes, int maxFiles, String publicUrl,
                         boolean inlineImages) {

    static List<Spec> options() {
        return List.of(
                Spec.secret("--tool-key", "SANDCELL_TOOL_KEY",
                        "Bearer key for the OpenAPI tool server besides the gateway token"),
                Spec.value("--tool-chat-header", "SANDCELL_TOOL_CHAT_HEADER", "X-Chat-Id",
                        "header naming the chat when X-OpenWebUI-Chat-Id is absent"),
                Spec.value("--tool-user-header", "SANDCELL_TOOL_USER_HEADER", "X-User-Id",
                        "header naming the user when X-OpenWebUI-User-Id is absent"),
                Spec.value("--tool-idle-timeout", "SANDCELL_TOOL_IDLE_TIMEOUT", "1800",
                        "seconds after which an idle chat's kernels are shut down"),
                Spec.value("--tool-max-kernels-per-user", "SANDCELL_TOOL_MAX_KERNELS_PER_USER", "4",
                        "chats with live kernels per user; the least recently used idle chat gives way"),
                Spec.value("--tool-timeout", "SANDCELL_TOOL_TIMEOUT", "60",
                        "seconds a tool call may run before it is interrupted and returns status timeout"),
                Spec.value("--tool-max-output-kb", "SANDCELL_TOOL_MAX_OUTPUT_KB", "64",
                        "stdout and stderr of a tool call are each cut to this many KiB"),
                Spec.value("--tool-artifact-ttl", "SANDCELL_TOOL_ARTIFACT_TTL", "3600",
                        "seconds image and file URLs stay valid"),
                Spec.value("--tool-artifact-store-mb", "SANDCELL_TOOL_ARTIFACT_STORE_MB", "256",
                        "MiB of images kept for their URLs; the oldest are dropped first"),
                Spec.value("--tool-max-file-mb", "SANDCELL_TOOL_MAX_FILE_MB", "64",
                        "largest workspace file served for download, MiB"),
                Spec.value("--tool-max-files", "SANDCELL_TOOL_MAX_FILES", "32",
                        "most created or changed files listed per tool call"),
                Spec.value("--public-url", "SANDCELL_PUBLIC_URL", "",
                        "the gateway's URL as browsers see it, for image and file links (default: from the request)"),
                Spec.flag("--tool-inline-images", "SANDCELL_TOOL_INLINE_IMAGES",
                        "return images as data: URLs instead of links"));
    }

    static ToolConfig from(Options.Parsed p) throws UsageException {
        String key = p.get("--tool-key");
        if (key != null && !key.isEmpty() && !key.matches("[A-Za-z0-9._~-]{16,256}")) {
            throw new UsageException("--tool-key must be 16 to 256 URL-safe characters (letters, digits, . _ ~ -)");
        }
        for (String h : List.of("--tool-chat-header", "--tool-user-header")) {
            if (!p.get(h).matches("[A-Za-z0-9-]{1,64}")) {
                throw new UsageException(h + " must be a header name, not '" + p.get(h) + "'");
            }
        }
        String url = p.get("--public-url").trim();
        if (!url.isEmpty()) {
            if (!url.matches("https?://[^\\s/?#]+(/[^\\s?#]*)?")) {
                throw new UsageException("--public-url must be an http(s) URL without query, not '" + url + "'");
            }
            if (!url.endsWith("/")) {
                url = url + "/";
            }
        }
        int outputKb = GatewayConfig.atLeast(p, "--tool-max-output-kb", 1);
        if (outputKb > 65536) {
            throw new UsageException("--tool-max-output-kb must be at most 65536");
        }
        return new ToolConfig(key == null ? "" : key, p.get("--tool-chat-header"), p.get("--tool-user-header"),
                GatewayConfig.atLeast(p, "--tool-idle-timeout", 1), GatewayConfig.atLeast(p, "--tool-max-kernels-per-user", 1),
                GatewayConfig.atLeast(p, "--tool-timeout", 1), outputKb << 10, GatewayConfig.atLeast(p, "--tool-artifact-ttl", 1),
                (long) GatewayConfig.atLeast(p, "--tool-artifact-store-mb", 1) << 20, (long) GatewayConfig.atLeast(p, "--tool-max-file-mb", 1) << 20,
                GatewayConfig.atLeast(p, "--tool-max-files", 0), url, p.bool("--tool-inline-images"));
    }

    @Override
    public String toString() {
        return "ToolConfig[key=" + (key.isEmpty() ? "<none>" : "<redacted>") + ", chatHeader=" + chatHeader
                + ", timeout=" + timeoutSeconds + "s, idle=" + idleTimeoutSeconds + "s, perUser=" + maxKernelsPerUser
                + "]";
    }
}
