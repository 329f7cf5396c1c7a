package io.sandcell.gateway.tools;

import io.sandcell.gateway.config.ToolConfig;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.KernelState;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.protocol.Json;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.sandcell.sandbox.WorkspaceQuota;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The kernels of tool calls, one set per chat: a chat's calls reuse its kernel for each language, one call
 * at a time, so state persists within the chat and never crosses to another (every chat has its own
 * kernels, so its own sandboxes). A call with no chat and no user gets a kernel of its own, shut down after.
 * Idle chats are shut down after {@code --tool-idle-timeout}; a user holding {@code --tool-max-kernels-per-user}
 * chats gives up the least recently used idle one for a new chat (calls that name no user count as one user),
 * and when the gateway's kernel limit is reached the least recently used idle chat of anyone gives way.
 */
final class ChatKernels implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ChatKernels.class.getName());

    /**
     * Who a call belongs to.
     *
     * @param user the user id, or "" when unknown
     * @param chat the chat id, or null when calls are keyed by user only (or not at all, when user is "")
     */
    record ChatKey(String user, String chat) {
        /** Calls with a chat and no user id: they share one owner, so that leaving the user id out skips no cap. */
        static final String NO_USER = "(no user id)";

        boolean ephemeral() {
            return user.isEmpty() && chat == null;
        }

        /** Whose cap the chat counts against: the user, or every chat that named no user, together. */
        String owner() {
            return user.isEmpty() ? NO_USER : user;
        }
    }

    /** One chat's kernels (by kernelspec name), its workspace and its queue of calls. Guarded by the lock. */
    private static final class Chat {
        final ChatKey key;
        final Path workspace;
        final Map<String, String> kernelIds = new HashMap<>();
        Instant lastUsed = Instant.now();
        int running;
        Future<Void> tail = Future.succeededFuture();

        Chat(ChatKey key, Path workspace) {
            this.key = key;
            this.workspace = workspace;
        }
    }

    private final KernelManager kernels;
    private final ToolConfig config;
    private final Vertx vertx;
    private final Map<ChatKey, Chat> chats = new HashMap<>();
    private final long cullTimer;

    /** A kernel and the host directory mounted at its /mnt/data. */
    record Lease(ManagedKernel kernel, Path workspace) {}

    private final Path workspaces;
    private final Path dataDir;
    private final SecureRandom random = new SecureRandom();

    ChatKernels(KernelManager kernels, ToolConfig config, Vertx vertx, Path dataDir) {
        this.kernels = kernels;
        this.dataDir = dataDir;
        this.workspaces = dataDir.resolve(KernelManager.TOOL_WORKSPACES);
        this.config = config;
        this.vertx = vertx;
        long every = Math.max(1, Math.min(60, config.idleTimeoutSeconds() / 4)) * 1000L;
        this.cullTimer = vertx.setPeriodic(every, t -> cull());
    }

    /**
     * Runs work with the chat's kernel of that spec (starting one if needed), after the chat's earlier calls.
     *
     * @throws ApiException 429 when the user's chats are all busy and at the cap
     */
    <T> Future<T> run(ChatKey key, String spec, Function<Lease, Future<T>> work) {
        if (key.ephemeral()) {
            ManagedKernel k = kernels.start(spec.equals(kernels.specs().defaultName()) ? null
                    : Json.object().put("name", spec));
            Path own = dataDir.resolve("kernels").resolve(k.id()).resolve("work");
            return k.whenReady().compose(v -> work.apply(new Lease(k, own))).eventually(() -> {
                stop(k.id());
                return Future.succeededFuture();
            });
        }
        Chat chat;
        Future<T> result;
        synchronized (this) {
            chat = chats.get(key);
            if (chat == null) {
                makeRoomFor(key.owner());
                chat = new Chat(key, workspaces.resolve(newId()));
                chats.put(key, chat);
            }
            chat.running++;
            chat.lastUsed = Instant.now();
            Chat c = chat;
            result = chat.tail.transform(ignored -> kernelOf(c, spec).compose(work));
            chat.tail = result.transform(r -> {
                synchronized (this) {
                    c.running--;
                    c.lastUsed = Instant.now();
                }
                return Future.succeededFuture();
            });
        }
        return result;
    }

    private String newId() {
        byte[] b = new byte[12];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private Future<Lease> kernelOf(Chat chat, String spec) {
        ManagedKernel k;
        synchronized (this) {
            String id = chat.kernelIds.get(spec);
            k = id == null ? null : kernels.find(id).orElse(null);
            if (k != null && (k.state() == KernelState.DEAD || k.state() == KernelState.STOPPED)) {
                stop(k.id());
                k = null;
            }
            if (k == null) {
                try {
                    k = kernels.startInternal(spec, Map.of("SANDCELL_WORKSPACE", chat.workspace.toString()));
                } catch (ApiException e) {
                    return Future.failedFuture(e);
                }
                chat.kernelIds.put(spec, k.id());
            }
        }
        ManagedKernel ready = k;
        return k.whenReady().map(v -> new Lease(ready, chat.workspace));
    }

    /** Frees a chat slot for the owner by shutting down their least recently used idle chat. */
    private void makeRoomFor(String owner) {
        List<Chat> mine = new ArrayList<>(chats.values().stream().filter(c -> c.key.owner().equals(owner)).toList());
        mine.sort(Comparator.comparing(c -> c.lastUsed));
        int excess = mine.size() - config.maxKernelsPerUser() + 1;
        for (Chat c : mine) {
            if (excess <= 0) {
                break;
            }
            if (c.running == 0) {
                LOG.info("tool chat of user " + owner + " shut down to make room for a new chat");
                remove(c);
                excess--;
            }
        }
        if (excess > 0) {
            throw new ApiException(429, "Too Many Requests", "this user already has "
                    + config.maxKernelsPerUser() + " chats with running code (--tool-max-kernels-per-user); "
                    + "try again when one has finished");
        }
    }

    /**
     * Shuts down the least recently used idle chat that holds kernels, whoever's it is: called when the kernel
     * limit is reached, so that idle tool chats give way to a new kernel rather than turn clients away.
     *
     * @return whether a chat gave way
     */
    synchronized boolean reclaimIdle() {
        Chat lru = chats.values().stream().filter(c -> c.running == 0 && !c.kernelIds.isEmpty())
                .min(Comparator.comparing(c -> c.lastUsed)).orElse(null);
        if (lru == null) {
            return false;
        }
        LOG.info("tool chat idle since " + lru.lastUsed + " shut down: the kernel limit is reached");
        remove(lru);
        return true;
    }

    /** Forgets a chat, stops its kernels, then removes its workspace. */
    private void remove(Chat c) {
        chats.remove(c.key);
        List<Future<Void>> stops = new ArrayList<>();
        c.kernelIds.values().forEach(id -> stops.add(stop(id)));
        c.kernelIds.clear();
        Future.join(stops).onComplete(r -> vertx.executeBlocking(() -> {
            WorkspaceQuota.remove(c.workspace);
            return null;
        }, false).onFailure(e -> LOG.warning("removing a tool chat's workspace: " + e.getMessage())));
    }

    private Future<Void> stop(String kernelId) {
        try {
            return kernels.shutdown(kernelId);
        } catch (ApiException ignored) {
            return Future.succeededFuture(); // already gone
        }
    }

    private synchronized void cull() {
        Instant cutoff = Instant.now().minus(Duration.ofSeconds(config.idleTimeoutSeconds()));
        for (Chat c : List.copyOf(chats.values())) {
            if (c.running == 0 && c.lastUsed.isBefore(cutoff)) {
                LOG.info("tool chat idle since " + c.lastUsed + ": its kernels are shut down");
                remove(c);
            }
        }
    }

    /** Chats holding kernels, for tests and metrics. */
    synchronized int chatCount() {
        return chats.size();
    }

    /** Stops the culler; the kernels are stopped by the kernel manager, the workspaces removed at next start. */
    @Override
    public synchronized void close() {
        vertx.cancelTimer(cullTimer);
        chats.clear();
    }
}
