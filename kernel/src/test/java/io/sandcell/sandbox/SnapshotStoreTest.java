package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotStoreTest {
    @TempDir
    Path tmp;

    @Test
    void oneClaimPublishesAndEveryoneFindsIt() throws Exception {
        SnapshotStore store = new SnapshotStore(tmp.resolve("snapshots"));
        assertNull(store.find("k1"));
        Path claimed = store.claim("k1");
        assertNotNull(claimed);
        assertNull(store.claim("k1"), "a second kernel does not checkpoint while the first does");
        Files.writeString(claimed.resolve("checkpoint.img"), "image");
        store.publish("k1", claimed, Json.object().put("implementation", "ipython"));
        SnapshotStore.Image image = store.find("k1");
        assertNotNull(image);
        assertEquals("ipython", image.readyInfo().get("implementation").asText());
        assertEquals("image", Files.readString(image.dir().resolve("checkpoint.img")));
        assertNull(store.claim("k1"), "a published image is not taken again");
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(tmp.resolve("snapshots"))));
    }

    @Test
    void aStaleClaimIsTakenOverAndAReleasedOneIsFree() throws Exception {
        SnapshotStore store = new SnapshotStore(tmp.resolve("snapshots"));
        Path claimed = store.claim("k1");
        Files.setLastModifiedTime(claimed, FileTime.from(Instant.now().minus(SnapshotStore.CLAIM_STALE)
                .minusSeconds(1)));
        assertNotNull(store.claim("k1"), "the claim of a kernel that died while checkpointing goes stale");
        store.release(claimed);
        assertNotNull(store.claim("k1"));
    }

    @Test
    void discardedAndUnreadableImagesAreGoneAndOldOnesArePruned() throws Exception {
        SnapshotStore store = new SnapshotStore(tmp.resolve("snapshots"));
        store.publish("old", store.claim("old"), Json.object());
        Files.setLastModifiedTime(tmp.resolve("snapshots/old").resolve(SnapshotStore.META),
                FileTime.from(Instant.now().minus(SnapshotStore.UNUSED).minusSeconds(60)));
        store.publish("k1", store.claim("k1"), Json.object());
        assertNull(store.find("old"), "an image unused for a week goes when another is published");
        store.discard(store.find("k1"));
        assertNull(store.find("k1"));
        store.publish("k2", store.claim("k2"), Json.object());
        Files.writeString(tmp.resolve("snapshots/k2").resolve(SnapshotStore.META), "{not json");
        assertNull(store.find("k2"), "unreadable metadata counts as no image");
        assertTrue(Files.notExists(tmp.resolve("snapshots/k2")), "and is removed so that it is taken again");
    }

    @Test
    void theKeyChangesWithTheSpecAndPlatform() {
        Path data = tmp.resolve("data");
        SandboxConfig c = SandboxConfig.defaults(data);
        String a = SnapshotStore.key(Json.object().put("memory", 1), c);
        assertEquals(a, SnapshotStore.key(Json.object().put("memory", 1), c));
        assertNotEquals(a, SnapshotStore.key(Json.object().put("memory", 2), c));
        SandboxConfig ptrace = new SandboxConfig(c.runsc(), "ptrace", c.dataDir(), c.rootfs(), c.language(), c.uid(),
                c.memoryMb(), c.addressSpaceMb(), c.cpus(), c.pids(), c.nproc(), c.nofile(), c.tmpMb(), c.shmMb(),
                c.workspaceMb(), c.network(), c.preload(), c.startTimeoutMs());
        assertNotEquals(a, SnapshotStore.key(Json.object().put("memory", 1), ptrace));
    }

    @Test
    void directReadsWhereAllowedUntilAnImageIsMarkedCachedOnly() throws Exception {
        SnapshotStore store = new SnapshotStore(tmp.resolve("snapshots"));
        Path claimed = store.claim("k1");
        Files.createDirectory(claimed.resolve("runsc"));
        Files.write(claimed.resolve("runsc").resolve(SnapshotStore.PAGES), new byte[8192]);
        store.publish("k1", claimed, Json.object());
        SnapshotStore.Image image = store.find("k1");
        assertTrue(store.directRead(image, "runsc", SnapshotStore.PageReads.DIRECT),
                "a local file system takes O_DIRECT");
        assertFalse(store.directRead(image, "runsc", SnapshotStore.PageReads.CACHED), "cached when configured");
        assertFalse(store.directRead(image, "elsewhere", SnapshotStore.PageReads.DIRECT),
                "a pages file that cannot be opened directly is read through the page cache");
        store.markCachedOnly(image);
        assertFalse(store.directRead(store.find("k1"), "runsc", SnapshotStore.PageReads.DIRECT),
                "an image whose direct restore failed is read through the page cache");
    }
}
