package io.sandcell.interpreter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.ProtocolException;
import io.sandcell.sandbox.Sandbox;
import io.sandcell.sandbox.SandboxException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A conversation with the driver in one sandbox: one request at a time, events streamed back until the
 * reply. Requests are made from one thread (the kernel's shell thread); {@link #interrupt()} and
 * {@link #close()} may come from any thread.
 */
public final class DriverSession implements AutoCloseable {
    /** The smallest bound on one line from the driver: room for a large figure however small the output limit. */
    public static final int MIN_LINE_BYTES = 64 << 20;

    private final Sandbox sandbox;
    private final int maxLineBytes;
    private LineReader reader;
    private OutputStream writer;
    private ObjectNode readyInfo = Json.object();
    private int nextExecutionCount = 1;
    /** The number of the last request sent; its reply and input requests carry it back. */
    private long seq;
    /** Whether the request being answered lets the cell ask the client for input. */
    private boolean allowStdin;

    /**
     * @param maxLineBytes the longest line the driver may send: a sandbox that sends a longer one is killed,
     *     before more than that is buffered
     */
    public DriverSession(Sandbox sandbox, int maxLineBytes) {
        this.sandbox = sandbox;
        this.maxLineBytes = maxLineBytes;
    }

    /** The line bound for a cell output limit: three times it (JSON escapes text), and never below the minimum. */
    public static int maxLineBytes(long maxOutputBytes) {
        return (int) Math.min(Integer.MAX_VALUE - 16, Math.max(MIN_LINE_BYTES, 3 * maxOutputBytes));
    }

    public Sandbox sandbox() {
        return sandbox;
    }

    /** What the driver said when it became ready (implementation, Python version, preloaded modules). */
    public ObjectNode readyInfo() {
        return readyInfo;
    }

    /**
     * The execution count the next cell runs with, as the driver last reported it (with its ready line, and
     * with every reply): what the cell's {@code execute_input} carries, published before the driver answers.
     */
    public int nextExecutionCount() {
        return nextExecutionCount;
    }

    /**
     * Starts the sandbox and waits for the driver's ready line.
     *
     * @throws SandboxException if it does not come within the timeout, or the sandbox dies first
     */
    public void start(List<String> args, List<String> env, long timeoutMs) throws SandboxException {
        sandbox.start(args, env);
        open();
        DriverEvent first = withinTimeout(timeoutMs, this::next);
        if (!(first instanceof DriverEvent.Ready ready)) {
            throw new SandboxException("starting sandbox " + sandbox.id() + ": expected the ready line, got "
                    + first.getClass().getSimpleName());
        }
        readyInfo = ready.info();
        nextExecutionCount = readyInfo.path("execution_count").asInt(1);
    }

    /**
     * Restores the sandbox from a checkpoint image and makes the restored driver its own: it gets this
     * kernel's id and reseeds its random generators, which it would otherwise share with every sandbox
     * restored from the same image. The driver then runs a cell that leaves no trace, so that the memory a
     * cell touches is mapped back before the first client's cell rather than during it; that cell's output
     * is dropped. With {@code warmPlot} it also renders a figure off screen, which does the same for a first
     * plot: worth it only where no client waits for the restore.
     *
     * @param direct read the image's pages with {@code O_DIRECT}
     * @param warmPlot render a figure in the warm-up too
     * @param readyInfo what the driver said when the image was taken
     * @throws SandboxException if the restore fails, or the driver does not answer within the timeout
     */
    public void restore(List<String> args, List<String> env, Path image, boolean direct, boolean warmPlot,
                        ObjectNode readyInfo, String kernelId, long timeoutMs) throws SandboxException {
        sandbox.restore(args, env, image, direct);
        open();
        ObjectNode reply = withinTimeout(timeoutMs, () -> call(Json.object().put("op", "restored")
                .put("kernel_id", kernelId).put("warm", warmPlot ? "plot" : "cell"), DISCARD));
        if (!"ok".equals(reply.path("status").asText())) {
            throw new SandboxException("restoring sandbox " + sandbox.id() + ": the driver answered " + reply);
        }
        this.readyInfo = readyInfo;
    }

    /** Writes the sandbox's state into an image directory; it runs on. Only before it served a request. */
    public void checkpoint(Path image) throws SandboxException {
        sandbox.checkpoint(image);
    }

    private void open() {
        reader = new LineReader(sandbox.stdout(), maxLineBytes);
        writer = sandbox.stdin();
    }

    private interface DriverStep<T> {
        T run() throws SandboxDiedException;
    }

    /** Runs one step of a start, killing the sandbox if it takes longer than the timeout. */
    private <T> T withinTimeout(long timeoutMs, DriverStep<T> step) throws SandboxException {
        AtomicBoolean timedOut = new AtomicBoolean();
        CompletableFuture<Void> watchdog = CompletableFuture.runAsync(() -> {
            timedOut.set(true);
            sandbox.kill();
        }, CompletableFuture.delayedExecutor(timeoutMs, TimeUnit.MILLISECONDS));
        try {
            return step.run();
        } catch (SandboxDiedException e) {
            throw new SandboxException("starting sandbox " + sandbox.id() + ": " + (timedOut.get()
                    ? "not ready after " + timeoutMs + " ms" : e.getMessage()) + " (log: " + sandbox.log() + ")");
        } finally {
            watchdog.cancel(false);
        }
    }

    /** A sink for the restore's request: the warm-up cell's output is nobody's, and is dropped. */
    private static final EventSink DISCARD = new EventSink() {
        @Override
        public void event(DriverEvent event) {
            // the warm-up cell's output; nothing else is sent before the first request ends
        }

        @Override
        public String input(String prompt, boolean password) {
            return null;
        }
    };

    /**
     * Sends one request and streams its events to the sink until the reply, which it returns.
     *
     * @throws SandboxDiedException if the sandbox ends first; the message names the cause
     */
    public ObjectNode call(ObjectNode request, EventSink sink) throws SandboxDiedException {
        begin(request);
        return finish(sink);
    }

    /**
     * Sends a request; {@link #finish} then reads its events. In between the caller may do its own work
     * (publish busy) while the driver is already at work. The request is numbered: only a reply and input
     * requests that carry its number belong to it.
     */
    public void begin(ObjectNode request) throws SandboxDiedException {
        seq++;
        request.put(DriverEvent.SEQ, seq);
        allowStdin = "execute".equals(request.path("op").asText()) && request.path("allow_stdin").asBoolean(false);
        send(request);
    }

    /**
     * Streams the events of the request sent by {@link #begin} to the sink until its reply, which it returns.
     * The cell runs in the driver's process and can write to the driver's output: a reply or an input request
     * that names no request, or another one, is dropped (a forged reply would otherwise end this request and
     * leave its real reply to answer the next one), and so is an input request that the request did not allow.
     */
    public ObjectNode finish(EventSink sink) throws SandboxDiedException {
        while (true) {
            DriverEvent event = next();
            switch (event) {
                case DriverEvent.Reply reply when reply.seq() != seq -> { } // not this request's
                case DriverEvent.InputRequest in when in.seq() != seq || !allowStdin -> { } // not the driver's
                case DriverEvent.Ready ignored -> { } // only a start reads the ready line
                case DriverEvent.Reply reply -> {
                    ObjectNode content = reply.content();
                    if (content.remove("next_execution_count") instanceof JsonNode count && count.canConvertToInt()) {
                        nextExecutionCount = count.asInt();
                    }
                    return content;
                }
                case DriverEvent.InputRequest in -> {
                    String value = sink.input(in.prompt(), in.password());
                    ObjectNode answer = Json.object().put("op", "input_reply");
                    if (value == null) {
                        answer.put("interrupted", true).put("value", "");
                    } else {
                        answer.put("value", value);
                    }
                    send(answer);
                }
                default -> sink.event(event);
            }
        }
    }

    private void send(ObjectNode request) throws SandboxDiedException {
        try {
            writer.write('\n'); // a line of its own, whatever a cell wrote into this pipe before it
            writer.write(Json.bytes(request));
            writer.write('\n');
            writer.flush();
        } catch (IOException e) {
            throw died();
        }
    }

    private DriverEvent next() throws SandboxDiedException {
        String line;
        try {
            line = reader.readLine();
        } catch (LineReader.TooLongException e) {
            String cause = "the sandbox sent " + e.getMessage() + " to the kernel, and was killed";
            sandbox.kill(cause);
            throw new SandboxDiedException(cause);
        } catch (IOException e) {
            line = null;
        }
        if (line == null) {
            throw died();
        }
        try {
            return DriverEvent.parse(Json.parseObject(line, "driver event"));
        } catch (ProtocolException e) {
            sandbox.kill();
            throw new SandboxDiedException("the sandbox broke the driver protocol (" + e.getMessage()
                    + ") and was killed");
        }
    }

    private SandboxDiedException died() {
        return new SandboxDiedException(sandbox.deathCause());
    }

    /** Raises KeyboardInterrupt in the running cell. */
    public void interrupt() throws SandboxException {
        sandbox.interrupt();
    }

    @Override
    public void close() {
        sandbox.close();
    }

    /** Stops the sandbox at once; see {@link Sandbox#discard()}. */
    public void discard() {
        sandbox.discard();
    }
}
