package io.sandcell.gateway.kernels;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.kernel.KernelConfig;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.sandbox.Freezer;
import io.sandcell.sandbox.ProcessLauncher;
import io.sandcell.sandbox.Runsc;
import io.sandcell.sandbox.SandboxCgroups;
import io.sandcell.sandbox.SandboxLayout;
import io.sandcell.sandbox.WorkspaceQuota;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.logging.Logger;
import org.zeromq.ZMQ;

/**
 * Starts, finds, restarts and stops kernels; enforces the kernel limit and the env allow-list; culls idle
 * kernels; and at startup removes what a crashed earlier run left behind.
 */
public final class KernelManager implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KernelManager.class.getName());
    /** Environment variables of the gateway that kernels inherit: the kernel options, never secrets. */
    private static final Set<String> INHERITED = inheritedNames();
    static final int MAX_ENV_VALUE = 4096;

    private final GatewayConfig config;
    private final Vertx vertx;
    private final KernelSpecRegistry specs;
    private final ZMQ.Context zmq = ZMQ.context(1);
    private final ProcessLauncher launcher = new ProcessLauncher();
    private final Freezer freezer = new Freezer(Path.of("/sys/fs/cgroup"));
    private final SandboxCgroups cgroups = new SandboxCgroups(Path.of("/sys/fs/cgroup"));
    private final Map<String, ManagedKernel> kernels = new ConcurrentHashMap<>();
    /** Kernels being stopped off the event loop, and the stops; close() waits for them. */
    private final Map<ManagedKernel, Future<?>> stopping = new ConcurrentHashMap<>();
    private final Map<String, String> baseEnv;
    private long cullTimer = -1;
    private final java.util.Deque<ManagedKernel> pool = new java.util.concurrent.ConcurrentLinkedDeque<>();
    /** Pooled kernels still starting: close() stops them too, or their sockets would keep ZeroMQ from ending. */
    private final Set<ManagedKernel> poolWarming = new HashSet<>(); // guarded by this
    /** When a refill began waiting for clients' cells (System.nanoTime), or 0 when none waits. */
    private volatile long refillHeldSince; // written under this
    private long refillTimer = -1; // guarded by this
    /** When a request last found the pool empty (System.nanoTime), or 0. */
    private volatile long poolMissNanos;
    private volatile boolean closed;
    /** Asked for room at the kernel limit; see {@link #whenFull}. */
    private volatile BooleanSupplier reclaim = () -> false;
    private final KernelMetrics metrics = new KernelMetrics();
    private final ClassDataArchive classData;
    private final PortAllocator ports = PortAllocator.belowEphemeral(Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
    /** The directory under the data dir holding tool chats' workspaces. */
    public static final String TOOL_WORKSPACES = "tool-workspaces";
    /** How long after a request found the pool empty refills go at once, without waiting for clients. */
    static final long POOL_PRESSURE_MS = 10_000;
    /** How long to wait before starting another pooled kernel after one failed. */
    static final long POOL_RETRY_MS = 10_000;

    public KernelManager(GatewayConfig config, Vertx vertx, KernelSpecRegistry specs, Map<String, String> hostEnv)
            throws IOException {
        this.config = config;
        this.vertx = vertx;
        this.specs = specs;
        Files.createDirectories(config.runtimeDir());
        Files.setPosixFilePermissions(config.runtimeDir(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Files.createDirectories(config.dataDir());
        Map<String, String> env = new LinkedHashMap<>();
        for (String name : List.of("PATH", "TZ", "JAVA_HOME")) {
            if (hostEnv.containsKey(name)) {
                env.put(name, hostEnv.get(name));
            }
        }
        env.putIfAbsent("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        // UTF-8 file names whatever the gateway's locale: under C or POSIX (a container's or a service's
        // default) the kernel's JVM could not name the host's files that are not ASCII, and failed to start
        env.put("LANG", "C.UTF-8");
        hostEnv.forEach((k, v) -> {
            if (INHERITED.contains(k)) {
                env.put(k, v);
            }
        });
        env.put("SANDCELL_DATA_DIR", config.dataDir().toString());
        this.baseEnv = Map.copyOf(env);
        this.classData = new ClassDataArchive(config.dataDir().resolve("cds"), ClassDataArchive.forJvm(
                Runtime.version()), KernelSpecRegistry.embedded("python3", "python", "").argv());
        if (config.cullIdleTimeoutSeconds() > 0) {
            cullTimer = vertx.setPeriodic(config.cullIntervalSeconds() * 1000L, t -> cull());
        }
    }

    private static Set<String> inheritedNames() {
        Set<String> names = new HashSet<>();
        KernelConfig.options().specs().forEach(s -> {
            if (s.env() != null && !s.secret()) {
                names.add(s.env());
            }
        });
        names.remove("SANDCELL_KERNEL_ID");
        return Set.copyOf(names);
    }

    /** A kernel option the embedded kernels inherit from the gateway's environment (e.g. SANDCELL_NETWORK). */
    public java.util.Optional<String> kernelOption(String envName) {
        return java.util.Optional.ofNullable(baseEnv.get(envName)).filter(v -> !v.isBlank());
    }

    public KernelSpecRegistry specs() {
        return specs;
    }

    /**
     * Kills and deletes every sandbox and removes every kernel directory and connection file found: the
     * leftovers of a crashed earlier run. Call before serving.
     *
     * @return how many kernels were cleaned up
     */
    public int reconcile() throws IOException {
        int cleaned = 0;
        Path dir = config.dataDir().resolve("kernels");
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
                for (Path k : entries) {
                    try {
                        freezer.thaw(k.getFileName().toString()); // a pooled kernel's, frozen when its gateway died
                    } catch (IOException e) {
                        LOG.warning("thawing the sandbox of kernel " + k.getFileName() + ": " + e.getMessage());
                    }
                    removeKernelDir(k);
                    cleaned++;
                }
            }
        }
        removeToolWorkspaces();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(config.runtimeDir(), "kernel-*")) {
            for (Path f : entries) {
                Files.deleteIfExists(f);
            }
        }
        return cleaned;
    }

    /**
     * Starts a kernel from a request body ({@code name}, {@code env}, {@code path}; all optional).
     *
     * @throws ApiException 400 for a bad body or env, 403 past the kernel limit, 404 for an unknown spec
     */
    public ManagedKernel start(JsonNode body) {
        String name = null;
        Map<String, String> userEnv = Map.of();
        if (body != null) {
            if (!body.isObject()) {
                throw ApiException.badRequest("the request body must be a JSON object");
            }
            JsonNode n = body.get("name");
            if (n != null && !n.isNull()) {
                if (!n.isTextual()) {
                    throw ApiException.badRequest("name must be a string");
                }
                name = n.asText();
            }
            userEnv = env(body.get("env"));
        }
        KernelSpec spec = specs.get(name);
        checkLimit();
        boolean poolable = spec.name().equals(specs.defaultName()) && userEnv.isEmpty() && config.poolSize() > 0;
        if (poolable) {
            ManagedKernel pooled;
            while ((pooled = takePooled()) != null) {
                // its process alive is not enough: a sandbox killed from outside would fail the first call
                if (pooled.state() != KernelState.DEAD && pooled.alive() && cgroups.running(pooled.id())) {
                    pooled.handOut();
                    metrics.pooledStarts.increment();
                    kernels.put(pooled.id(), pooled);
                    vertx.runOnContext(v -> refillPool()); // after this response: launching takes a while
                    return pooled;
                }
                discard(pooled);
            }
            poolMissNanos = System.nanoTime();
        }
        // The pool is empty: start the same kernel as a pooled one now, restored from the same sandbox image.
        // Until a pooled kernel has made that image, a preloaded start would import everything cold (seconds):
        // the kernel then starts its sandbox without the preloads, which is ready sooner.
        ManagedKernel k = startCold(spec, poolable ? poolEnv("skip", "cell") : userEnv);
        vertx.runOnContext(v -> refillPool());
        return k;
    }

    /** Unmounts and removes every tool chat's workspace: at startup, and at shutdown once kernels are stopped. */
    public void removeToolWorkspaces() throws IOException {
        Path dir = config.dataDir().resolve(TOOL_WORKSPACES);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path w : entries) {
                if (Files.isDirectory(w, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    WorkspaceQuota.remove(w);
                }
            }
        }
        SandboxLayout.deleteTree(dir);
    }

    /**
     * Starts a kernel for the gateway's own use (the tool server) with settings clients cannot give, such as a
     * workspace directory. Never from the pool.
     *
     * @throws ApiException 403 past the kernel limit, 404 for an unknown spec
     */
    public ManagedKernel startInternal(String specName, Map<String, String> settings) {
        KernelSpec spec = specs.get(specName);
        checkLimit();
        return startCold(spec, settings);
    }

    /**
     * What to ask for room when {@code --max-kernels} are alive: it shuts down an idle kernel that can go (the
     * tool server's least recently used idle chat) and says whether it did.
     */
    public void whenFull(BooleanSupplier reclaim) {
        this.reclaim = reclaim;
    }

    /**
     * @throws ApiException 403 "Resource Limit" when {@code --max-kernels} are alive and none could give way
     */
    private void checkLimit() {
        while (kernels.size() >= config.maxKernels() && reclaim.getAsBoolean()) {
            LOG.fine("an idle kernel gave way at the kernel limit");
        }
        if (kernels.size() >= config.maxKernels()) {
            throw ApiException.resourceLimit("A max kernels limit of " + config.maxKernels()
                    + " has been set; no more kernels can start until one is shut down");
        }
    }

    /** Launches a new kernel (not from the pool) and registers it; it becomes ready in the background. */
    private ManagedKernel startCold(KernelSpec spec, Map<String, String> env) {
        ManagedKernel k = create(spec, env);
        k.handOut();
        metrics.coldStarts.increment();
        kernels.put(k.id(), k);
        k.start().onFailure(e -> LOG.warning("kernel " + k.id() + " failed to start: " + e.getMessage()));
        return k;
    }

    private ManagedKernel create(KernelSpec spec, Map<String, String> extraEnv) {
        String id = UUID.randomUUID().toString();
        Map<String, String> env = new LinkedHashMap<>(baseEnv);
        env.putAll(spec.env());
        env.putAll(extraEnv);
        env.put("SANDCELL_KERNEL_ID", id);
        ConnectionInfo conn;
        try {
            conn = new ConnectionInfo("tcp", "127.0.0.1", ports.next(), ports.next(), ports.next(), ports.next(),
                    ports.next(), "hmac-sha256", ConnectionInfo.newKey(), spec.name());
        } catch (IOException e) {
            throw new ApiException(503, "Service Unavailable", "no free ports for a kernel: " + e.getMessage());
        }
        return new ManagedKernel(id, spec, vertx, zmq, conn, config.runtimeDir(), env, launcher,
                config.offlineBufferMessages(), config.kernelStartTimeoutSeconds() * 1000L, metrics,
                spec.embedded() ? classData : null, this::wakeWaitingRefill);
    }

    // --- the warm pool -----------------------------------------------------------------------------------

    /**
     * Takes the next pooled kernel. The kernel next in line is kept thawed and the others frozen: thawing at
     * hand-out made a pooled call 3 to 9 ms slower (the sandbox's threads wake up cold), while a frozen sandbox
     * saves the 5% of a core an idle one takes. The one behind is thawed by {@link #refillPool()} once a refill
     * may go, not now: its sandbox's threads waking would share the CPU with the call that took this one.
     */
    private synchronized ManagedKernel takePooled() {
        return pool.poll();
    }

    /**
     * What a pooled kernel is started with: the pool's preloads, whether they are imported while no
     * sandbox image has them ({@code import} for the pool's own kernels, which make that image), and its
     * warm-up after a restore ({@code plot} for the pool's own kernels, which no client waits on yet; {@code cell}
     * for one started for a waiting client, whose first plot would pay for it a second time).
     */
    private Map<String, String> poolEnv(String preloadCold, String warmUp) {
        return Map.of("SANDCELL_PRELOAD", String.join(",", config.poolPreload()), "SANDCELL_PRELOAD_COLD",
                preloadCold, "SANDCELL_WARM_UP", warmUp);
    }

    /**
     * Starts pooled kernels until {@code --pool-size} are ready or starting, at most
     * {@code --pool-refill-concurrency} at a time so that refilling leaves room for the calls being served. A
     * pooled kernel counts as ready once its sandbox is up with the preloads imported. A kernel handed out is
     * never returned to the pool. When a refill may go, the kernel now next in line is thawed first, even when
     * the pool has no room for a refill.
     */
    public synchronized void refillPool() {
        if (closed) {
            return;
        }
        boolean room = poolWarming.size() < config.poolRefillConcurrency()
                && pool.size() + poolWarming.size() < config.poolSize();
        ManagedKernel next = pool.peek();
        boolean nextFrozen = next != null && next.frozen();
        if ((!room && !nextFrozen) || refillWaits()) {
            return;
        }
        if (nextFrozen) {
            next.thawSandbox(); // next in line now; a refill (or the clients' calls) no longer waits
        }
        if (!room) {
            return;
        }
        ManagedKernel k;
        try {
            k = create(specs.get(null), poolEnv("import", "plot"));
        } catch (ApiException e) {
            return;
        }
        poolWarming.add(k);
        if (poolWarming.size() < config.poolRefillConcurrency()) {
            vertx.runOnContext(v -> refillPool());
        }
        k.startWarm().onComplete(r -> poolStarted(k, r.succeeded() ? null : r.cause()));
    }

    /**
     * Whether a refill should wait for the clients: starting a pooled kernel (a kernel JVM and a sandbox
     * restore) takes a core for about a second, and on a small host that time comes out of the cells being
     * served. A refill waits while a client's cell is running, a kernel just handed to a client has not
     * answered its first cell yet, or a client's cell was answered less than {@link ManagedKernel#ANSWERED_GRACE_MS}
     * ago, for at most {@code --pool-refill-wait}; an answered cell or a shut-down kernel looks again at once, and
     * a waiting refill looks again at least that often. It never waits while the pool is empty, nor for
     * {@link #POOL_PRESSURE_MS} after a request found it empty: then the next request would start a kernel of
     * its own, and calls back to back were slower with the wait (1.1 s p50 against 0.4 s without).
     */
    private boolean refillWaits() {
        long wait = config.poolRefillWaitMs() * 1_000_000L;
        long now = System.nanoTime();
        long miss = poolMissNanos;
        boolean pressed = pool.isEmpty() || (miss != 0 && now - miss < POOL_PRESSURE_MS * 1_000_000L);
        boolean clientWaiting = wait > 0 && !pressed
                && kernels.values().stream().anyMatch(k -> k.clientWaiting(now, wait));
        if (clientWaiting && refillHeldSince == 0) {
            refillHeldSince = now;
        }
        long left = wait - (now - refillHeldSince);
        if (!clientWaiting || left <= 0) {
            refillHeldSince = 0;
            return false;
        }
        if (refillTimer == -1) {
            // looks again within a client's grace after its answer, which no event ends
            long delayMs = Math.min(ManagedKernel.ANSWERED_GRACE_MS, Math.max(1, left / 1_000_000));
            refillTimer = vertx.setTimer(delayMs, t -> {
                synchronized (this) {
                    refillTimer = -1;
                }
                refillPool();
            });
        }
        return true;
    }

    /** A client's cell was answered (on a kernel's I/O thread) or a kernel shut down: a waiting refill may go now. */
    private void wakeWaitingRefill() {
        if (refillHeldSince != 0) {
            vertx.runOnContext(v -> refillPool());
        }
    }

    private void poolStarted(ManagedKernel k, Throwable failure) {
        synchronized (this) {
            poolWarming.remove(k);
            if (failure == null && !closed) {
                if (!pool.isEmpty()) {
                    k.freezeSandbox(freezer); // behind the next in line
                }
                pool.add(k);
            }
        }
        if (failure == null && !closed) {
            refillPool();
            return;
        }
        LOG.warning("a pooled kernel failed to start: " + (failure != null ? failure.getMessage()
                : "the gateway is closing"));
        discard(k);
        if (!closed) {
            vertx.setTimer(POOL_RETRY_MS, t -> refillPool());
        }
    }

    /** Stops a kernel off the event loop; {@link #close()} waits for every such stop. */
    private Future<Void> discard(ManagedKernel k) {
        Future<Void> f = vertx.executeBlocking(() -> {
            k.shutdownBlocking();
            removeLeftovers(k.id());
            return null;
        }, false);
        stopping.put(k, f);
        f.onComplete(r -> stopping.remove(k));
        return f;
    }

    /**
     * Removes what a kernel process that is gone could not: its directory, workspace mount and loop device
     * (a kernel that failed to start, or was killed). A kernel that shut down cleanly left nothing.
     */
    private void removeLeftovers(String id) {
        Path dir = config.dataDir().resolve("kernels").resolve(id);
        if (!Files.exists(dir)) {
            return;
        }
        try {
            removeKernelDir(dir);
        } catch (IOException e) {
            LOG.warning("kernel " + id + ": removing what it left: " + e.getMessage());
        }
    }

    /** Kills a dead kernel's sandboxes, removes their cgroups, unmounts its workspace and removes its directory. */
    private void removeKernelDir(Path dir) throws IOException {
        Path root = dir.resolve("runsc");
        if (Files.isDirectory(root)) {
            Path runsc = Path.of(baseEnv.getOrDefault("SANDCELL_RUNSC", KernelConfig.defaultRunsc()));
            new Runsc(runsc, root, "systrap").reconcile();
        }
        try {
            int busy = cgroups.removeKernel(dir.getFileName().toString());
            if (busy > 0) {
                LOG.warning("kernel " + dir.getFileName() + ": " + busy + " sandbox cgroup(s) still have tasks");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        WorkspaceQuota.remove(dir.resolve("work"));
        SandboxLayout.deleteTree(dir);
    }

    /** The Prometheus text exposition of the kernel figures. */
    public String metricsText() {
        return metrics.text(list(), pool.size(), poolStarting());
    }

    /** Ready kernels waiting in the pool. */
    public int poolReady() {
        return pool.size();
    }

    /** Pooled kernels starting. */
    public synchronized int poolStarting() {
        return poolWarming.size();
    }

    /** Validates {@code env}: names KERNEL_* or allow-listed; values short strings without shell metacharacters. */
    Map<String, String> env(JsonNode env) {
        if (env == null || env.isNull()) {
            return Map.of();
        }
        if (!env.isObject()) {
            throw ApiException.badRequest("env must be a JSON object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        var fields = env.fields();
        while (fields.hasNext()) {
            var e = fields.next();
            String k = e.getKey();
            if (!k.startsWith("KERNEL_") && !config.allowedEnv().contains(k) || k.startsWith("SANDCELL_")) {
                continue; // not allowed (the kernel's own settings never are): dropped, as Kernel Gateway does
            }
            if (!k.matches("[A-Za-z_][A-Za-z0-9_]{0,127}")) {
                throw ApiException.badRequest("env name " + k + " is not a valid variable name");
            }
            JsonNode v = e.getValue();
            if (!v.isTextual()) {
                throw ApiException.badRequest("env value of " + k + " must be a string");
            }
            String s = v.asText();
            if (s.length() > MAX_ENV_VALUE) {
                throw ApiException.badRequest("env value of " + k + " is longer than " + MAX_ENV_VALUE);
            }
            if (s.chars().anyMatch(c -> c == '$' || c == '`' || c == '\n' || c == '\r' || c == 0)) {
                throw ApiException.badRequest("env value of " + k + " contains a forbidden character "
                        + "($, `, newline or NUL)");
            }
            out.put(k, s);
        }
        return out;
    }

    /**
     * @throws ApiException 404 when there is no such kernel
     */
    public ManagedKernel get(String id) {
        return find(id).orElseThrow(() -> ApiException.notFound("Kernel does not exist: " + id));
    }

    /** The live kernel of that id, if there is one. */
    public java.util.Optional<ManagedKernel> find(String id) {
        return java.util.Optional.ofNullable(kernels.get(id));
    }

    public List<ManagedKernel> list() {
        return new ArrayList<>(kernels.values());
    }

    public int count() {
        return kernels.size();
    }

    /**
     * Removes the kernel at once and stops it in the background; its clients are closed.
     *
     * @throws ApiException 404 when there is no such kernel
     */
    public Future<Void> shutdown(String id) {
        ManagedKernel k = kernels.remove(id);
        if (k == null) {
            throw ApiException.notFound("Kernel does not exist: " + id);
        }
        wakeWaitingRefill();
        return discard(k);
    }

    private void cull() {
        Instant cutoff = Instant.now().minus(Duration.ofSeconds(config.cullIdleTimeoutSeconds()));
        for (ManagedKernel k : list()) {
            boolean idle = k.lastActivity().isBefore(cutoff);
            boolean busy = k.state() == KernelState.BUSY;
            boolean connected = k.connections() > 0;
            if (idle && (!busy || config.cullBusy()) && (!connected || config.cullConnected())) {
                LOG.info("culling kernel " + k.id() + " (idle since " + k.lastActivity() + ")");
                metrics.culled.increment();
                try {
                    shutdown(k.id());
                } catch (ApiException ignored) {
                    // shut down meanwhile
                }
            }
        }
    }

    /** Stops every kernel and waits for them; used at gateway shutdown. */
    @Override
    public void close() {
        closed = true;
        classData.close(); // the kernels' exits below must not start assembling a cache
        if (cullTimer >= 0) {
            vertx.cancelTimer(cullTimer);
        }
        synchronized (this) {
            if (refillTimer >= 0) {
                vertx.cancelTimer(refillTimer);
                refillTimer = -1;
            }
        }
        List<ManagedKernel> all = list();
        ManagedKernel pooled;
        while ((pooled = pool.poll()) != null) {
            all.add(pooled);
        }
        synchronized (this) {
            all.addAll(poolWarming);
            poolWarming.clear();
        }
        kernels.clear();
        List<Thread> stoppers = new ArrayList<>();
        for (ManagedKernel k : all) {
            stoppers.add(Thread.ofVirtual().start(() -> {
                k.shutdownBlocking();
                removeLeftovers(k.id());
            }));
        }
        for (Thread t : stoppers) {
            try {
                t.join(20_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Map<ManagedKernel, Future<?>> stops = Map.copyOf(stopping);
        all.addAll(stops.keySet());
        for (Future<?> f : stops.values()) {
            try {
                f.toCompletionStage().toCompletableFuture().get(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // best effort at shutdown
            }
        }
        all.forEach(ManagedKernel::closeChannels); // a stop that overran its time left them open: term() waits for them
        launcher.close();
        zmq.term();
    }
}
