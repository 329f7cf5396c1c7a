package io.sandcell.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.interpreter.DriverEvent;
import io.sandcell.interpreter.DriverSession;
import io.sandcell.interpreter.EventSink;
import io.sandcell.interpreter.SandboxDiedException;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.sandbox.SandboxException;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.zeromq.ZMQ;

/**
 * Handles requests on the shell socket, one at a time, each bracketed by busy and idle on iopub. Execution
 * and introspection go to the sandbox's driver; the rest is answered here.
 */
final class ShellHandler {
    private final SandboxRunner runner;
    private final Replier replier;
    private final ZMQ.Socket shell;
    private final StdinChannel stdin;
    private final Supplier<ObjectNode> kernelInfo;
    private final Consumer<Message> shutdown;
    private final Supplier<List<Message>> pending;
    private final Supplier<OutputBudget> newBudget;
    private final long cellTimeoutMs;
    private final ScheduledThreadPoolExecutor timer = newTimer();
    /** How long a cell may take to stop after the wall-clock interrupt before its sandbox is killed. */
    static final long KILL_GRACE_MS = 5_000;

    ShellHandler(SandboxRunner runner, Replier replier, ZMQ.Socket shell, StdinChannel stdin,
                 Supplier<ObjectNode> kernelInfo, Consumer<Message> shutdown, Supplier<List<Message>> pending,
                 Supplier<OutputBudget> newBudget, long cellTimeoutMs) {
        this.newBudget = newBudget;
        this.cellTimeoutMs = cellTimeoutMs;
        this.runner = runner;
        this.replier = replier;
        this.shell = shell;
        this.stdin = stdin;
        this.kernelInfo = kernelInfo;
        this.shutdown = shutdown;
        this.pending = pending;
    }

    void handle(Message msg) {
        String type = msg.msgType();
        if ("shutdown_request".equals(type)) { // deprecated on shell, still honoured
            shutdown.accept(msg);
            return;
        }
        if (!"execute_request".equals(type)) {
            replier.status("busy", msg); // an execute publishes it itself, once the driver has its request
        }
        try {
            switch (type) {
                case "execute_request" -> execute(msg);
                case "kernel_info_request" -> reply(msg, "kernel_info_reply", kernelInfo.get());
                case "complete_request" -> introspect(msg, "complete", "complete_reply", completeFallback(msg));
                case "inspect_request" -> introspect(msg, "inspect", "inspect_reply",
                        ok().put("found", false).set("data", Json.object()));
                case "is_complete_request" -> introspect(msg, "is_complete", "is_complete_reply",
                        Json.object().put("status", "unknown"));
                case "history_request" -> reply(msg, "history_reply", ok().set("history", Json.mapper()
                        .createArrayNode()));
                case "comm_info_request" -> reply(msg, "comm_info_reply", ok().set("comms", Json.object()));
                case "comm_open" -> replier.publish("comm_close", msg, Json.object()
                        .put("comm_id", msg.content().path("comm_id").asText()).set("data", Json.object()));
                case "comm_msg", "comm_close" -> { } // no comm targets exist; nothing to do
                default -> unknown(msg);
            }
        } finally {
            replier.status("idle", msg);
        }
    }

    private void unknown(Message msg) {
        String type = msg.msgType();
        if (type.endsWith("_request")) {
            reply(msg, type.substring(0, type.length() - "_request".length()) + "_reply", error("UnknownMessageType",
                    "this kernel does not handle " + type));
        }
    }

    private void execute(Message msg) {
        JsonNode c = msg.content();
        String code = c.path("code").asText("");
        boolean silent = c.path("silent").asBoolean(false);
        ObjectNode request = Json.object().put("op", "execute").put("code", code).put("silent", silent)
                .put("store_history", c.path("store_history").asBoolean(!silent))
                .put("allow_stdin", c.path("allow_stdin").asBoolean(false));
        if (c.get("user_expressions") instanceof ObjectNode ue) {
            request.set("user_expressions", ue);
        }
        ObjectNode reply;
        DriverSession ready = runner.readyNow();
        if (ready == null) {
            replier.status("busy", msg); // the sandbox is still starting: say so before waiting for it
        }
        DriverSession session = null;
        try {
            session = ready != null ? ready : runner.await();
            Sink sink = new Sink(msg);
            List<ScheduledFuture<?>> limits = wallClock(msg, session);
            try {
                // The driver gets the request first and busy and execute_input go out while it reads it: the
                // sandbox's wake-up and the two publications overlap instead of adding up.
                try {
                    session.begin(request);
                } finally {
                    if (ready != null) {
                        replier.status("busy", msg);
                    }
                }
                if (!silent) {
                    replier.publish("execute_input", msg, Json.object().put("code", code)
                            .put("execution_count", session.nextExecutionCount()));
                }
                reply = session.finish(sink);
            } finally {
                limits.forEach(f -> f.cancel(false));
                sink.finish();
            }
        } catch (SandboxDiedException e) {
            runner.died(session, e.getMessage());
            reply = sandboxError(msg, "SandboxDied", "The sandbox died: " + e.getMessage()
                    + ". Its state is lost; restart the kernel to get a fresh one.");
        } catch (SandboxException e) {
            reply = sandboxError(msg, "SandboxUnavailable", "The sandbox is not available: " + e.getMessage());
        }
        if (!reply.has("execution_count")) {
            reply.put("execution_count", 0);
        }
        reply(msg, "execute_reply", reply);
        if ("error".equals(reply.path("status").asText()) && c.path("stop_on_error").asBoolean(true)) {
            abortQueued();
        }
    }

    /**
     * The cells' wall-clock timer. A finished cell's limits are removed when cancelled, rather than held (with
     * the cell's request) until they would have fired: a kernel running many short cells keeps none.
     */
    private static ScheduledThreadPoolExecutor newTimer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r ->
                Thread.ofPlatform().daemon().name("cell-timer").unstarted(r));
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Schedules the cell's wall-clock limit: an interrupt at the limit, a kill of the sandbox 5 s later. */
    private List<ScheduledFuture<?>> wallClock(Message msg, DriverSession session) {
        if (cellTimeoutMs <= 0) {
            return List.of();
        }
        long seconds = cellTimeoutMs / 1000;
        ScheduledFuture<?> interrupt = timer.schedule(() -> {
            replier.publish("stream", msg, Json.object().put("name", "stderr").put("text", "\n[sandcell] the cell "
                    + "reached its wall-clock limit of " + seconds + " s (--cell-timeout) and is interrupted.\n"));
            runner.interrupt();
        }, cellTimeoutMs, TimeUnit.MILLISECONDS);
        ScheduledFuture<?> kill = timer.schedule(() -> session.sandbox().kill("the cell ran past its wall-clock "
                + "limit of " + seconds + " s and did not stop when interrupted, so the sandbox was killed"),
                cellTimeoutMs + KILL_GRACE_MS, TimeUnit.MILLISECONDS);
        return List.of(interrupt, kill);
    }

    private ObjectNode sandboxError(Message parent, String ename, String evalue) {
        ObjectNode err = error(ename, evalue);
        replier.publish("error", parent, err.deepCopy().without("status"));
        return err;
    }

    /** After an error, queued executions are answered "aborted", as ipykernel does; other requests run. */
    private void abortQueued() {
        for (Message m : pending.get()) {
            if ("execute_request".equals(m.msgType())) {
                replier.status("busy", m);
                reply(m, "execute_reply", Json.object().put("status", "aborted").put("execution_count", 0));
                replier.status("idle", m);
            } else {
                handle(m);
            }
        }
    }

    private void introspect(Message msg, String op, String replyType, ObjectNode fallback) {
        DriverSession session = runner.readyNow();
        if (session == null) {
            reply(msg, replyType, fallback);
            return;
        }
        ObjectNode request = msg.content().deepCopy();
        request.put("op", op);
        try {
            reply(msg, replyType, session.call(request, new Sink(msg)));
        } catch (SandboxDiedException e) {
            runner.died(session, e.getMessage());
            reply(msg, replyType, fallback);
        }
    }

    private ObjectNode completeFallback(Message msg) {
        int cursor = msg.content().path("cursor_pos").asInt(msg.content().path("code").asText("").length());
        ObjectNode r = ok();
        r.putArray("matches");
        r.put("cursor_start", cursor).put("cursor_end", cursor).set("metadata", Json.object());
        return r;
    }

    private void reply(Message msg, String type, ObjectNode content) {
        replier.reply(shell, msg, type, content);
    }

    static ObjectNode ok() {
        return Json.object().put("status", "ok");
    }

    static ObjectNode error(String ename, String evalue) {
        ObjectNode e = Json.object().put("status", "error").put("ename", ename).put("evalue", evalue);
        e.putArray("traceback").add(ename + ": " + evalue);
        return e;
    }

    /** The size of a MIME bundle's values, as published. */
    static long size(JsonNode data) {
        long n = 0;
        for (JsonNode v : data) {
            n += v.isTextual() ? v.asText().length() : v.toString().length();
        }
        return n;
    }

    /** Turns the driver's events into iopub messages whose parent is the request; output within the budget. */
    private final class Sink implements EventSink {
        private final Message parent;
        private final OutputBudget budget = newBudget.get();

        Sink(Message parent) {
            this.parent = parent;
        }

        /** Whether output of that size may go out; publishes the notice when dropping starts. */
        private boolean admit(long bytes) {
            switch (budget.offer(bytes)) {
                case PUBLISH -> {
                    return true;
                }
                case DROP_AND_NOTIFY -> replier.publish("stream", parent, Json.object().put("name", "stderr")
                        .put("text", budget.startNotice()));
                case DROP -> { }
            }
            return false;
        }

        /** Publishes how much was dropped, if anything was. */
        void finish() {
            String summary = budget.summary();
            if (summary != null) {
                replier.publish("stream", parent, Json.object().put("name", "stderr").put("text", summary));
            }
        }

        @Override
        public void event(DriverEvent event) {
            switch (event) {
                case DriverEvent.Stream s -> {
                    if (admit(s.text().length())) {
                        replier.publish("stream", parent, Json.object().put("name", s.name()).put("text", s.text()));
                    }
                }
                case DriverEvent.Display d -> {
                    if (!admit(size(d.data()))) {
                        return;
                    }
                    ObjectNode content = Json.object();
                    content.set("data", d.data());
                    content.set("metadata", d.metadata());
                    content.set("transient", d.transientData());
                    replier.publish(d.update() ? "update_display_data" : "display_data", parent, content);
                }
                case DriverEvent.ClearOutput co -> replier.publish("clear_output", parent,
                        Json.object().put("wait", co.await()));
                case DriverEvent.ExecuteResult r -> {
                    ObjectNode content = Json.object().put("execution_count", r.executionCount());
                    content.set("data", r.data());
                    content.set("metadata", r.metadata());
                    replier.publish("execute_result", parent, content);
                }
                case DriverEvent.Error e -> replier.publish("error", parent, e.content());
                case DriverEvent.InputRequest ignored -> { } // answered by input()
                case DriverEvent.Reply ignored -> { } // returned by call()
                case DriverEvent.Ready ignored -> { }
            }
        }

        @Override
        public String input(String prompt, boolean password) {
            return stdin.ask(parent, prompt, password);
        }
    }
}
