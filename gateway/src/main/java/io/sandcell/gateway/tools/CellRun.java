package io.sandcell.gateway.tools;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.gateway.kernels.KernelClient;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * One tool call's cell on a kernel: attaches as a client, sends one {@code execute_request}, and gathers
 * its output until the reply and the idle status have both arrived. Past the timeout it interrupts the
 * cell; if the cell does not stop within the grace period, the kernel is restarted. Output is kept within
 * the caps whatever the cell prints. Everything but {@link #deliver} runs on one Vert.x context.
 */
final class CellRun implements KernelClient {
    /** How long a cell may take to stop after an interrupt before the kernel is restarted. */
    static final long INTERRUPT_GRACE_MS = 5_000;
    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;?]*[ -/]*[@-~]");

    /** What the cell produced. */
    record Outcome(String status, String stdout, String stderr, String result, List<Image> images,
                   boolean restarted, JsonNode reply) {}

    /** An image the cell displayed. */
    record Image(String mime, byte[] bytes) {}

    private final ManagedKernel kernel;
    private final Context context;
    private final String code;
    private final long timeoutMs;
    /** How long the sandbox may take to come up before the cell starts, on top of the cell's limit. */
    static final long START_ALLOWANCE_MS = 60_000;
    private final int maxImages;
    private final String session = "tool-" + UUID.randomUUID();
    private final CappedText stdout;
    private final CappedText stderr;
    private final List<Image> images = new ArrayList<>();
    private final Promise<Outcome> done = Promise.promise();
    private String msgId;
    private String result = "";
    private JsonNode reply;
    private boolean idle;
    private boolean timedOut;
    private int droppedImages;
    private long timer = -1;

    CellRun(ManagedKernel kernel, Context context, String code, long timeoutMs, int maxOutputBytes, int maxImages) {
        this.kernel = kernel;
        this.context = context;
        this.code = code;
        this.timeoutMs = timeoutMs;
        this.maxImages = maxImages;
        this.stdout = new CappedText(maxOutputBytes);
        this.stderr = new CappedText(maxOutputBytes);
    }

    /** Runs the cell; call on the context. The future never fails: problems become an error outcome. */
    Future<Outcome> run() {
        kernel.attach(this);
        Header h = Header.create("execute_request", session, "sandcell-tools");
        msgId = h.msgId();
        Message m = Message.create(h, null, Json.object().put("code", code).put("silent", false)
                .put("store_history", true).put("allow_stdin", false).put("stop_on_error", false)
                .set("user_expressions", Json.object()));
        kernel.send(this, Channel.SHELL, m);
        // the limit is the cell's: it starts at execute_input, once the sandbox is up (a chat's first call may
        // start one); until then the sandbox's own start timeout applies, with this as the backstop
        timer = context.owner().setTimer(timeoutMs + START_ALLOWANCE_MS, t -> timeout());
        return done.future();
    }

    private void timeout() {
        timedOut = true;
        kernel.interrupt();
        timer = context.owner().setTimer(INTERRUPT_GRACE_MS, t -> stuck());
    }

    private void stuck() {
        stderr.append("\n[sandcell] the cell did not stop after an interrupt; the sandbox was restarted and its "
                + "state (variables, imports) is lost. Files in /mnt/data are kept.\n");
        finish(true);
        kernel.restart();
    }

    @Override
    public String session() {
        return session;
    }

    @Override
    public void deliver(Channel channel, Message message) {
        context.runOnContext(v -> onMessage(channel, message));
    }

    private void onMessage(Channel channel, Message message) {
        if (done.future().isComplete() || msgId == null
                || !msgId.equals(message.parentHeader().path("msg_id").asText())) {
            return;
        }
        JsonNode c = message.content();
        switch (message.msgType()) {
            case "stream" -> ("stderr".equals(c.path("name").asText()) ? stderr : stdout)
                    .append(c.path("text").asText());
            case "display_data", "update_display_data" -> display(c.path("data"), false);
            case "execute_result" -> display(c.path("data"), true);
            case "error" -> {
                StringBuilder tb = new StringBuilder();
                c.path("traceback").forEach(line -> tb.append(line.asText()).append('\n'));
                String text = tb.isEmpty() ? c.path("ename").asText() + ": " + c.path("evalue").asText() + "\n"
                        : tb.toString();
                stderr.append(ANSI.matcher(text).replaceAll(""));
            }
            case "execute_input" -> {
                if (timer >= 0 && !timedOut) {
                    context.owner().cancelTimer(timer);
                    timer = context.owner().setTimer(timeoutMs, t -> timeout());
                }
            }
            case "execute_reply" -> reply = c;
            case "status" -> idle = "idle".equals(c.path("execution_state").asText());
            default -> { }
        }
        if (reply != null && idle) {
            finish(false);
        }
    }

    private void display(JsonNode data, boolean isResult) {
        for (String mime : List.of("image/png", "image/jpeg", "image/gif", "image/svg+xml")) {
            JsonNode v = data.get(mime);
            if (v != null && v.isTextual()) {
                if (images.size() >= maxImages) {
                    droppedImages++;
                    return;
                }
                byte[] bytes = mime.equals("image/svg+xml") ? v.asText().getBytes(StandardCharsets.UTF_8)
                        : decode(v.asText());
                if (bytes != null) {
                    images.add(new Image(mime, bytes));
                    return;
                }
            }
        }
        String text = data.path("text/plain").asText("");
        if (text.isEmpty()) {
            text = data.path("text/markdown").asText("");
        }
        if (isResult) {
            result = text;
        } else if (!text.isEmpty()) {
            stdout.append(text.endsWith("\n") ? text : text + "\n");
        }
    }

    private static byte[] decode(String b64) {
        try {
            return Base64.getMimeDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private void finish(boolean restarted) {
        if (done.future().isComplete()) {
            return;
        }
        if (timer >= 0) {
            context.owner().cancelTimer(timer);
        }
        kernel.detach(this);
        if (droppedImages > 0) {
            stderr.append("[sandcell] " + droppedImages + " more image(s) were not returned (limit " + maxImages
                    + " per call).\n");
        }
        String status;
        if (timedOut) {
            status = "timeout";
            stderr.append("[sandcell] the call exceeded its time limit of " + timeoutMs / 1000
                    + " s and was interrupted; the output above is what it produced until then.\n");
        } else {
            status = reply != null && "ok".equals(reply.path("status").asText()) ? "ok" : "error";
        }
        done.complete(new Outcome(status, stdout.toString(), stderr.toString(), result, List.copyOf(images),
                restarted, reply));
    }

    /** Called when the kernel goes away while the cell runs. */
    @Override
    public void close(String reason) {
        context.runOnContext(v -> {
            stderr.append("[sandcell] the kernel stopped during the call: " + reason + "\n");
            finish(false);
        });
    }
}
