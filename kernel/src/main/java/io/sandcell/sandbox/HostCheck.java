package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a host, or the container the gateway runs in, must allow before any sandbox can start. Checked once at
 * start, so that a missing privilege is named with the flag that grants it instead of surfacing later as a
 * sandbox that failed to start. Each problem says what is missing and how to provide it.
 */
public final class HostCheck {
    /** CAP_SYS_ADMIN's bit in the capability sets: runsc needs it for each sandbox's namespaces and mounts. */
    private static final int CAP_SYS_ADMIN = 21;
    private static final long SANDBOX_TIMEOUT_SECONDS = 30;

    private final Path runsc;
    private final String platform;
    private final int workspaceMb;
    private final Path cgroupRoot;
    private final Path procStatus;
    private final Path loopControl;

    /**
     * @param workspaceMb the kernels' {@code --workspace-mb}: above 0, each workspace is a loop-mounted file
     */
    public HostCheck(Path runsc, String platform, int workspaceMb) {
        this(runsc, platform, workspaceMb, Path.of("/sys/fs/cgroup"), Path.of("/proc/self/status"),
                Path.of("/dev/loop-control"));
    }

    HostCheck(Path runsc, String platform, int workspaceMb, Path cgroupRoot, Path procStatus, Path loopControl) {
        this.runsc = runsc;
        this.platform = platform;
        this.workspaceMb = workspaceMb;
        this.cgroupRoot = cgroupRoot;
        this.procStatus = procStatus;
        this.loopControl = loopControl;
    }

    /**
     * What stops sandboxes from starting here, empty when nothing does. The test sandbox runs only when the
     * cheaper checks pass: its error would only repeat theirs, less clearly.
     *
     * @param scratch an empty directory for the test sandbox's runsc state
     */
    public List<String> problems(Path scratch) {
        List<String> problems = new ArrayList<>();
        if (!Files.isExecutable(runsc)) {
            problems.add("runsc (gVisor) is not at " + runsc + ": install it (Debian 13: apt-get install runsc) "
                    + "or name it with SANDCELL_RUNSC");
            return problems;
        }
        if (!hasSysAdmin()) {
            problems.add("CAP_SYS_ADMIN is missing: runsc needs it to build each sandbox's namespaces and mounts. "
                    + "Run as root; in a container, add --cap-add SYS_ADMIN (and, where AppArmor is on, "
                    + "--security-opt apparmor=unconfined), or use --privileged");
        }
        String cgroups = cgroupProblem();
        if (cgroups != null) {
            problems.add(cgroups);
        }
        if (workspaceMb > 0 && !Files.isWritable(loopControl)) {
            problems.add("the workspace quota (--workspace-mb " + workspaceMb + ") mounts each workspace from a "
                    + "loop device, and " + loopControl + " is not available: in a container, use --privileged, "
                    + "or turn the quota off with SANDCELL_WORKSPACE_MB=0 and bound the data volume instead");
        }
        if (problems.isEmpty()) {
            String sandbox = testSandbox(scratch);
            if (sandbox != null) {
                problems.add(sandbox);
            }
        }
        return problems;
    }

    private boolean hasSysAdmin() {
        try {
            for (String line : Files.readAllLines(procStatus)) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16);
                    return (caps & (1L << CAP_SYS_ADMIN)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return true; // cannot tell: the test sandbox decides
        }
        return true;
    }

    /** Creates and removes a probe cgroup where the sandboxes' cgroups go (v2, or v1's memory controller). */
    private String cgroupProblem() {
        Path parent = Files.exists(cgroupRoot.resolve("cgroup.controllers")) ? cgroupRoot
                : cgroupRoot.resolve("memory");
        if (!Files.isDirectory(parent)) {
            return "no cgroup hierarchy at " + parent + ": sandboxes need cgroups (v1 or v2) for their memory, "
                    + "CPU and process limits";
        }
        Path probe = parent.resolve("sandcell-check-" + ProcessHandle.current().pid());
        try {
            Files.createDirectory(probe);
            Files.delete(probe);
            return null;
        } catch (IOException e) {
            return "cgroups are read-only here (" + parent + ": " + e.getMessage() + "): sandboxes need a "
                    + "writable /sys/fs/cgroup for their limits. In a container, add "
                    + "-v /sys/fs/cgroup:/sys/fs/cgroup:rw, or use --privileged";
        }
    }

    /** Runs {@code /bin/true} in a throwaway sandbox: what the checks above cannot see (AppArmor, say). */
    private String testSandbox(Path scratch) {
        List<String> cmd = List.of(runsc.toString(), "--root=" + scratch, "--network=none", "--platform=" + platform,
                "do", "/bin/true");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            byte[] out = p.getInputStream().readNBytes(4096);
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()); // bounded: the rest is dropped
            if (!p.waitFor(SANDBOX_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "a test sandbox did not finish within " + SANDBOX_TIMEOUT_SECONDS + " s";
            }
            if (p.exitValue() == 0) {
                return null;
            }
            List<String> lines = new String(out, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
            return "a test sandbox failed to start (runsc exited with " + p.exitValue() + ": "
                    + (lines.isEmpty() ? "no output" : lines.get(lines.size() - 1)) + ")";
        } catch (IOException e) {
            return "a test sandbox could not be started: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while starting a test sandbox";
        }
    }
}
