package io.sandcell.gateway.tools;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What tool calls hand out as URLs: images (kept in memory) and grants to download one workspace file. Each
 * is named by 256 random bits and expires. When the image store is full, the owner holding the most bytes
 * gives up their oldest image first, so that one user's plots never take another's links while they hold
 * more than that other. Thread-safe.
 */
final class Artifacts {
    /** An image a cell displayed, and whose it is (the tool call's owner). */
    record Image(String owner, String mime, byte[] bytes, Instant expires) {}

    /**
     * Permission to download one file of one kernel's workspace.
     *
     * @param workspace the host directory of the workspace
     * @param relative the file's path inside it, as listed (never absolute or with '..')
     */
    record FileGrant(Path workspace, Path relative, Instant expires) {}

    /** The most live file links; the oldest go first. */
    static final int MAX_FILE_GRANTS = 100_000;

    private final SecureRandom random = new SecureRandom();
    private final Duration ttl;
    private final long maxImageBytes;
    private final Clock clock;
    private final LinkedHashMap<String, Image> images = new LinkedHashMap<>();
    /** Each owner's images, oldest first, and the bytes they hold. */
    private final Map<String, LinkedHashMap<String, Image>> byOwner = new HashMap<>();
    private final Map<String, Long> ownerBytes = new HashMap<>();
    private final LinkedHashMap<String, FileGrant> files = new LinkedHashMap<>();
    private long imageBytes;

    Artifacts(Duration ttl, long maxImageBytes, Clock clock) {
        this.ttl = ttl;
        this.maxImageBytes = maxImageBytes;
        this.clock = clock;
    }

    private String newId() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Stores an owner's image; returns its id, or empty when it alone is larger than the store. */
    synchronized Optional<String> putImage(String owner, String mime, byte[] bytes) {
        if (bytes.length > maxImageBytes) {
            return Optional.empty();
        }
        expire();
        while (imageBytes + bytes.length > maxImageBytes) {
            String biggest = ownerBytes.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            removeImage(byOwner.get(biggest).keySet().iterator().next());
        }
        String id = newId();
        Image image = new Image(owner, mime, bytes, clock.instant().plus(ttl));
        images.put(id, image);
        byOwner.computeIfAbsent(owner, o -> new LinkedHashMap<>()).put(id, image);
        ownerBytes.merge(owner, (long) bytes.length, Long::sum);
        imageBytes += bytes.length;
        return Optional.of(id);
    }

    private void removeImage(String id) {
        Image image = images.remove(id);
        LinkedHashMap<String, Image> mine = byOwner.get(image.owner());
        mine.remove(id);
        if (mine.isEmpty()) {
            byOwner.remove(image.owner());
            ownerBytes.remove(image.owner());
        } else {
            ownerBytes.merge(image.owner(), (long) -image.bytes().length, Long::sum);
        }
        imageBytes -= image.bytes().length;
    }

    /** The bytes of images an owner holds. */
    synchronized long imageBytes(String owner) {
        return ownerBytes.getOrDefault(owner, 0L);
    }

    synchronized Optional<Image> image(String id) {
        expire();
        return Optional.ofNullable(images.get(id));
    }

    synchronized String grantFile(Path workspace, Path relative) {
        expire();
        Iterator<String> oldest = files.keySet().iterator();
        while (files.size() >= MAX_FILE_GRANTS && oldest.hasNext()) {
            oldest.next();
            oldest.remove();
        }
        String id = newId();
        files.put(id, new FileGrant(workspace, relative, clock.instant().plus(ttl)));
        return id;
    }

    synchronized Optional<FileGrant> file(String id) {
        expire();
        return Optional.ofNullable(files.get(id));
    }

    /** Drops what has expired; entries are in insertion order, and so in expiry order. */
    private void expire() {
        Instant now = clock.instant();
        while (!images.isEmpty()) {
            Map.Entry<String, Image> oldest = images.firstEntry();
            if (oldest.getValue().expires().isAfter(now)) {
                break;
            }
            removeImage(oldest.getKey());
        }
        for (Iterator<FileGrant> it = files.values().iterator(); it.hasNext(); ) {
            if (!it.next().expires().isAfter(now)) {
                it.remove();
            } else {
                break;
            }
        }
    }
}
