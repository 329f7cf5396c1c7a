package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which cgroups a sandbox and a dead kernel leave, and that only those go. The cgroup filesystem is stood in
 * for by a temporary directory with its layout, where a non-empty directory plays a cgroup with tasks (a
 * stand-in: the real one is exercised by LifecycleIT's crashed-run test).
 */
class SandboxCgroupsTest {
    @TempDir
    Path root;

    private static final String KERNEL = "3d0957bc-c955-45b6-a335-76e129c129d9";

    @Test
    void aDeadKernelsSandboxCgroupsGoInEveryHierarchyAndNoOtherKernels() throws Exception {
        Path memory = Files.createDirectories(root.resolve("memory/sandcell/k3d0957bcc955-1"));
        Path freezer = Files.createDirectories(root.resolve("freezer/sandcell/k3d0957bcc955-2r"));
        Path unified = Files.createDirectories(root.resolve("unified/sandcell/k3d0957bcc955-1"));
        Path v2 = Files.createDirectories(root.resolve("sandcell/k3d0957bcc955-3"));
        Path other = Files.createDirectories(root.resolve("memory/sandcell/k3d0957bcc956-1"));
        Path busy = Files.createDirectories(root.resolve("pids/sandcell/k3d0957bcc955-4"));
        Files.writeString(busy.resolve("tasks"), "1234\n");
        SandboxCgroups cgroups = new SandboxCgroups(root);
        long t0 = System.currentTimeMillis();
        assertEquals(1, cgroups.removeKernel(KERNEL), "the cgroup with a task stays");
        assertTrue(System.currentTimeMillis() - t0 >= 900, "it waited for the task to leave");
        for (Path p : new Path[] {memory, freezer, unified, v2}) {
            assertFalse(Files.exists(p), p + " is left");
        }
        assertTrue(Files.isDirectory(other), "another kernel's cgroup was removed");
        assertTrue(Files.isDirectory(busy));
        assertTrue(Files.isDirectory(root.resolve("memory/sandcell")), "the parent stays");
    }

    @Test
    void oneSandboxsCgroupsGoAndItsSiblingsStay() throws Exception {
        Path mine = Files.createDirectories(root.resolve("memory/sandcell/k3d0957bcc955-1r"));
        Path mineV2 = Files.createDirectories(root.resolve("sandcell/k3d0957bcc955-1r"));
        Path next = Files.createDirectories(root.resolve("memory/sandcell/k3d0957bcc955-2r"));
        new SandboxCgroups(root).remove("k3d0957bcc955-1r");
        assertFalse(Files.exists(mine));
        assertFalse(Files.exists(mineV2));
        assertTrue(Files.isDirectory(next));
    }

    @Test
    void aNameThatIsNoKernelIdMatchesNothing() throws Exception {
        Path any = Files.createDirectories(root.resolve("memory/sandcell/kabc-1"));
        assertEquals(0, new SandboxCgroups(root).removeKernel("*"));
        assertEquals(0, new SandboxCgroups(root).removeKernel("../x"));
        assertTrue(Files.isDirectory(any));
    }
}
