package io.sandcell.gateway.tools;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What tool calls hand out as URLs: images (kept in memory) and grants to download one workspace file. Each
 * is named by 256 random bits and expires; images also give way, oldest first, when the store is full.
 * Thread-safe.
 */
final class Artifacts {
    /** An image a cell displayed. */
    record Image(String mime, byte[] bytes, Instant expires) {}

    /**
     * Permission to download one file of one kernel's workspace.
     *
     * @param workspace the host directory of the workspace
     * @param relative the file's path inside it, '/'-separated, never absolute or with '..'
     */
    record FileGrant(Path workspace, String relative, Instant expires) {}

    /** The most live file links; the oldest go first. */
    static final int MAX_FILE_GRANTS = 100_000;

    private final SecureRandom random = new SecureRandom();
    private final Duration ttl;
    private final long maxImageBytes;
    private final Clock clock;
    private final LinkedHashMap<String, Image> images = new LinkedHashMap<>();
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

    /** Stores an image; returns its id, or empty when it alone is larger than the store. */
    synchronized Optional<String> putImage(String mime, byte[] bytes) {
        if (bytes.length > maxImageBytes) {
            return Optional.empty();
        }
        expire();
        Iterator<Map.Entry<String, Image>> oldest = images.entrySet().iterator();
        while (imageBytes + bytes.length > maxImageBytes && oldest.hasNext()) {
            imageBytes -= oldest.next().getValue().bytes().length;
            oldest.remove();
        }
        String id = newId();
        images.put(id, new Image(mime, bytes, clock.instant().plus(ttl)));
        imageBytes += bytes.length;
        return Optional.of(id);
    }

    synchronized Optional<Image> image(String id) {
        expire();
        return Optional.ofNullable(images.get(id));
    }

    synchronized String grantFile(Path workspace, String relative) {
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
        for (Iterator<Image> it = images.values().iterator(); it.hasNext(); ) {
            Image i = it.next();
            if (!i.expires().isAfter(now)) {
                imageBytes -= i.bytes().length;
                it.remove();
            } else {
                break;
            }
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
