package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each missing privilege is named with the flag that grants it. The real check on this host runs at every
 * gateway start in the integration tests.
 */
class HostCheckTest {
    @TempDir
    Path tmp;

    private Path status(String capEff) throws IOException {
        return Files.writeString(tmp.resolve("status"), "Name:\tjava\nCapEff:\t" + capEff + "\n");
    }

    @Test
    void missingRunscIsTheOnlyProblemNamed() {
        List<String> p = new HostCheck(tmp.resolve("no-runsc"), "systrap", 0).problems(tmp);
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).contains("runsc (gVisor) is not at") && p.get(0).contains("SANDCELL_RUNSC"), p.get(0));
    }

    @Test
    void aContainerWithoutPrivilegesHearsEveryFlag() throws IOException {
        // podman's default capabilities: no CAP_SYS_ADMIN (bit 21); no cgroup hierarchy; no loop devices
        HostCheck check = new HostCheck(runsc(0, ""), "systrap", 1024, tmp.resolve("cgroup"), status("00000000800405fb"),
                tmp.resolve("loop-control"));
        List<String> p = check.problems(tmp.resolve("scratch"));
        assertEquals(3, p.size(), p.toString());
        assertTrue(p.get(0).contains("CAP_SYS_ADMIN") && p.get(0).contains("--cap-add SYS_ADMIN"), p.get(0));
        assertTrue(p.get(1).contains("no cgroup hierarchy"), p.get(1));
        assertTrue(p.get(2).contains("--workspace-mb 1024") && p.get(2).contains("SANDCELL_WORKSPACE_MB=0"), p.get(2));
    }

    /** A stand-in runsc: prints a line to stderr and exits with the code. */
    private Path runsc(int exit, String stderr) throws IOException {
        Path p = Files.writeString(tmp.resolve("runsc-" + exit), "#!/bin/sh\necho '" + stderr + "' >&2\nexit "
                + exit + "\n");
        p.toFile().setExecutable(true);
        return p;
    }

    private HostCheck privileged(Path runsc) throws IOException {
        Path cgroup = Files.createDirectories(tmp.resolve("cgroup/memory")).getParent();
        return new HostCheck(runsc, "systrap", 0, cgroup, status("00000000a82425fb"), tmp.resolve("loop-control"));
    }

    @Test
    void whatOnlyATestSandboxShowsIsReportedWithRunscsOwnLine() throws IOException {
        List<String> p = privileged(runsc(128, "creating container: permission denied")).problems(tmp);
        assertEquals(List.of("a test sandbox failed to start (runsc exited with 128: creating container: "
                + "permission denied)"), p);
    }

    @Test
    void aHostWithEverythingPasses() throws IOException {
        assertEquals(List.of(), privileged(runsc(0, "")).problems(tmp));
    }
}
