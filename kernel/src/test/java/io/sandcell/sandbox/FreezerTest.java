package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The freeze files a kernel's sandboxes are found by. The cgroup filesystem is stood in for by a temporary
 * directory with its layout (a stand-in: the real freezer is exercised by PoolIT and LifecycleIT).
 */
class FreezerTest {
    @TempDir
    Path root;

    private static final String KERNEL = "3d0957bc-c955-45b6-a335-76e129c129d9";

    @Test
    void freezesAndThawsEveryCgroupOfTheKernelsSandboxesAndNoOther() throws Exception {
        Path v1 = Files.createDirectories(root.resolve("freezer/sandcell/k3d0957bcc955-1r"));
        Path v1Other = Files.createDirectories(root.resolve("freezer/sandcell/k3d0957bcc956-1"));
        Path v2 = Files.createDirectories(root.resolve("sandcell/k3d0957bcc955-2"));
        Files.writeString(v1.resolve("freezer.state"), "THAWED\n");
        Files.writeString(v1Other.resolve("freezer.state"), "THAWED\n");
        Files.writeString(v2.resolve("cgroup.freeze"), "0\n");
        Freezer freezer = new Freezer(root);
        assertEquals("k3d0957bcc955", Freezer.sandboxPrefix(KERNEL));
        assertFalse(freezer.frozen(KERNEL));
        assertTrue(freezer.freeze(KERNEL));
        assertEquals("FROZEN", Files.readString(v1.resolve("freezer.state")));
        assertEquals("1", Files.readString(v2.resolve("cgroup.freeze")));
        assertEquals("THAWED\n", Files.readString(v1Other.resolve("freezer.state")), "another kernel's");
        assertTrue(freezer.frozen(KERNEL));
        freezer.thaw(KERNEL);
        assertEquals("THAWED", Files.readString(v1.resolve("freezer.state")));
        assertEquals("0", Files.readString(v2.resolve("cgroup.freeze")));
        assertFalse(freezer.frozen(KERNEL));
    }

    @Test
    void aKernelWithoutSandboxesOrAHostWithoutAFreezerHasNothingToFreeze() throws Exception {
        Freezer freezer = new Freezer(root);
        assertFalse(freezer.freeze(KERNEL));
        freezer.thaw(KERNEL);
        assertFalse(freezer.frozen(KERNEL));
        Files.createDirectories(root.resolve("freezer/sandcell"));
        assertFalse(freezer.freeze("not a [kernel] id*"), "a name that is no kernel id matches nothing");
    }
}
