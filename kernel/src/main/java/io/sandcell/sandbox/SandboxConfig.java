package io.sandcell.sandbox;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Everything that shapes a sandbox: where runsc and the data live, what the sandbox sees, and its limits.
 * One record, validated once; see {@link #validate()}.
 *
 * @param runsc the runsc binary
 * @param platform the runsc platform ({@code systrap} or {@code ptrace}; {@code kvm} hangs on nested VMs)
 * @param dataDir where bundles, workspaces and runsc state live on the host
 * @param rootfs the host directory whose {@code usr} and {@code etc} the sandbox is built from
 * @param language the interpreter: {@code python} or {@code bash}
 * @param uid the uid and gid the code runs as inside; no host account should use it
 * @param memoryMb the cgroup memory limit (the backstop; the sandbox is killed when it is reached)
 * @param addressSpaceMb the RLIMIT_AS inside, so that allocations fail with MemoryError first
 * @param cpus the CPU quota in cores
 * @param pids the cgroup pids limit (host tasks: the sentry, gofer and stubs count)
 * @param nproc the RLIMIT_NPROC inside (processes and threads), so a fork bomb gets EAGAIN; 0 derives it from
 *     the memory limit ({@link #effectiveNproc()})
 * @param nofile the RLIMIT_NOFILE inside
 * @param tmpMb the size of the /tmp tmpfs
 * @param shmMb the size of the /dev/shm tmpfs
 * @param workspaceMb the size of the workspace filesystem (a loop-mounted ext4 image); 0 for a plain
 *     directory without a quota
 * @param network what the sandbox's network reaches (none by default)
 * @param preload Python modules imported before the kernel reports ready
 * @param startTimeoutMs how long a sandbox may take to report ready
 */
public record SandboxConfig(Path runsc, String platform, Path dataDir, Path rootfs, String language, int uid,
                            int memoryMb, int addressSpaceMb, double cpus, int pids, int nproc, int nofile,
                            int tmpMb, int shmMb, int workspaceMb, NetworkPolicy network, List<String> preload,
                            long startTimeoutMs) {

    public static final int DEFAULT_UID = 61000;

    public SandboxConfig {
        preload = List.copyOf(preload);
    }

    /** The defaults: safe limits, the host's own /usr, and no network. */
    public static SandboxConfig defaults(Path dataDir) {
        return new SandboxConfig(Path.of("/usr/bin/runsc"), "systrap", dataDir, Path.of("/"), "python",
                DEFAULT_UID, 1024, 0, 1.0, 512, 0, 1024, 256, 64, 1024, NetworkPolicy.none(), List.of(), 30_000);
    }

    /** The same sandbox with other preloads. */
    public SandboxConfig withPreload(List<String> modules) {
        return new SandboxConfig(runsc, platform, dataDir, rootfs, language, uid, memoryMb, addressSpaceMb, cpus,
                pids, nproc, nofile, tmpMb, shmMb, workspaceMb, network, modules, startTimeoutMs);
    }

    /**
     * What one process or thread is budgeted, in MiB, when the process limit is derived: a fork of a kernel with
     * numpy, pandas and matplotlib loaded costs the sandbox about 47 MiB under systrap (12 forks took a pooled
     * kernel from 114 to 679 MiB), so the limit must stop a fork bomb before the memory limit kills the sandbox.
     */
    static final int MIB_PER_PROCESS = 64;

    /** RLIMIT_NPROC: the configured value, or one per {@link #MIB_PER_PROCESS} of memory, from 8 to 64. */
    public int effectiveNproc() {
        return nproc > 0 ? nproc : Math.max(8, Math.min(64, memoryMb / MIB_PER_PROCESS));
    }

    /** RLIMIT_AS in MiB: the configured value, or 90% of the memory limit. */
    public int effectiveAddressSpaceMb() {
        return addressSpaceMb > 0 ? addressSpaceMb : Math.max(256, memoryMb * 9 / 10);
    }

    /**
     * Checks every field and returns the problems found, one sentence each. Empty means valid.
     */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        if (!Files.isExecutable(runsc)) {
            p.add("runsc not found or not executable at " + runsc);
        }
        if (!List.of("systrap", "ptrace", "kvm").contains(platform)) {
            p.add("platform must be systrap, ptrace or kvm, not " + platform);
        }
        if (!List.of("python", "bash").contains(language)) {
            p.add("language must be python or bash, not " + language);
        }
        if (!Files.isDirectory(rootfs.resolve("usr"))) {
            p.add("sandbox root " + rootfs + " has no usr directory");
        }
        if (uid < 1000 || uid > 4_000_000) {
            p.add("uid must be between 1000 and 4000000, not " + uid);
        }
        if (memoryMb < 64) {
            p.add("memory must be at least 64 MiB, not " + memoryMb);
        }
        if (workspaceMb != 0 && (workspaceMb < 16 || workspaceMb > 1_048_576)) {
            p.add("workspace size must be 0 (no quota) or between 16 and 1048576 MiB, not " + workspaceMb);
        }
        if (addressSpaceMb < 0) {
            p.add("address space limit must not be negative");
        }
        if (!(cpus > 0 && cpus <= 256)) {
            p.add("cpus must be above 0 and at most 256, not " + cpus);
        }
        if (pids < 32) {
            p.add("pids must be at least 32, not " + pids);
        }
        if (nproc != 0 && nproc < 4) {
            p.add("nproc must be 0 (from the memory limit) or at least 4, not " + nproc);
        }
        if (nofile < 64) {
            p.add("nofile must be at least 64, not " + nofile);
        }
        if (tmpMb < 1 || shmMb < 1) {
            p.add("tmpfs sizes must be at least 1 MiB");
        }
        p.addAll(network.problems());
        for (String module : preload) {
            if (!module.matches("[A-Za-z_][A-Za-z0-9_.]*")) {
                p.add("preload entry is not a module name: " + module);
            }
        }
        if (startTimeoutMs < 1000) {
            p.add("start timeout must be at least 1000 ms");
        }
        return p;
    }

    /**
     * Fails with every problem at once.
     *
     * @throws IllegalArgumentException naming each invalid field
     */
    public SandboxConfig validate() {
        List<String> p = problems();
        if (!p.isEmpty()) {
            throw new IllegalArgumentException("invalid sandbox configuration: " + String.join("; ", p));
        }
        return this;
    }

    /** The limits as a kernel reports them to its users. */
    public Map<String, Object> limits() {
        return Map.ofEntries(Map.entry("memory_mb", memoryMb),
                Map.entry("address_space_mb", effectiveAddressSpaceMb()), Map.entry("cpus", cpus),
                Map.entry("pids", pids), Map.entry("nproc", effectiveNproc()), Map.entry("nofile", nofile),
                Map.entry("tmp_mb", tmpMb), Map.entry("shm_mb", shmMb), Map.entry("workspace_mb", workspaceMb),
                Map.entry("network", network.egress() ? "egress" : "none"));
    }
}
