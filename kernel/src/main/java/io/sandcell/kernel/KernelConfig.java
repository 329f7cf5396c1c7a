package io.sandcell.kernel;

import io.sandcell.cli.Options;
import io.sandcell.cli.Options.Spec;
import io.sandcell.cli.UsageException;
import io.sandcell.sandbox.Cidr;
import io.sandcell.sandbox.NetworkPolicy;
import io.sandcell.sandbox.SandboxConfig;
import io.sandcell.sandbox.SnapshotStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel process's configuration: the connection file, its identity, and the sandbox it runs.
 *
 * @param connectionFile the Jupyter connection file to bind from
 * @param kernelId the kernel's id; names its data directory and sandboxes
 * @param sandbox the sandbox configuration
 * @param keepWorkspace keep the workspace on the host after shutdown
 * @param externalWorkspace a host directory to use as the workspace, owned by the caller and never removed
 *     by the kernel; null for the kernel's own
 * @param maxOutputBytes the most output (streams and displays) one cell may publish
 * @param outputRateBytes the sustained output rate one cell may publish, bytes per second
 * @param cellTimeoutSeconds a cell's wall-clock limit (interrupt, then kill the sandbox); 0 for none
 * @param snapshots start Python sandboxes without a network from a checkpoint image of a fresh one
 * @param preloadCold whether the preloads are imported when no image with them exists yet (true), or the
 *     sandbox starts without them (false), since importing them cold takes seconds
 * @param pageReads how a restore reads an image's memory pages
 * @param warmUpPlot whether a restored sandbox also renders a figure before it serves (for pooled kernels,
 *     which no client waits on yet), or only runs a cell
 */
public record KernelConfig(Path connectionFile, String kernelId, SandboxConfig sandbox, boolean keepWorkspace,
                           Path externalWorkspace, long maxOutputBytes, long outputRateBytes,
                           int cellTimeoutSeconds, boolean snapshots, boolean preloadCold,
                           SnapshotStore.PageReads pageReads, boolean warmUpPlot) {

    private static final Pattern KERNEL_FILE = Pattern.compile("kernel-([A-Za-z0-9-]+)\\.json");

    /** The options of the kernel process. */
    public static Options options() {
        return new Options(List.of(
                Spec.value("--connection-file", null, null, "the Jupyter connection file").withAlias("-f"),
                Spec.value("--kernel-id", "SANDCELL_KERNEL_ID", null,
                        "the kernel id (default: from the connection file name, else random)"),
                Spec.value("--data-dir", "SANDCELL_DATA_DIR", "/var/lib/sandcell",
                        "where workspaces, bundles and runsc state live on the host"),
                Spec.value("--runsc", "SANDCELL_RUNSC", defaultRunsc(), "the runsc binary"),
                Spec.value("--platform", "SANDCELL_PLATFORM", "systrap", "the runsc platform: systrap or ptrace"),
                Spec.value("--sandbox-root", "SANDCELL_SANDBOX_ROOT", "/",
                        "the host directory whose usr/ and etc/ the sandbox is built from"),
                Spec.value("--language", "SANDCELL_LANGUAGE", "python", "the interpreter: python (IPython) or bash"),
                Spec.value("--memory-mb", "SANDCELL_MEMORY_MB", "1024", "memory limit per sandbox (cgroup), MiB"),
                Spec.value("--address-space-mb", "SANDCELL_ADDRESS_SPACE_MB", "0",
                        "RLIMIT_AS inside the sandbox, MiB; 0 means 90% of --memory-mb"),
                Spec.value("--cpus", "SANDCELL_CPUS", "1", "CPU quota per sandbox, in cores"),
                Spec.value("--pids", "SANDCELL_PIDS", "512", "cgroup pids limit per sandbox (host tasks)"),
                Spec.value("--nproc", "SANDCELL_NPROC", "0", "RLIMIT_NPROC inside: processes plus threads; 0 means "
                        + "one per 64 MiB of --memory-mb, from 8 to 64 (a fork of a kernel with its libraries costs "
                        + "about 47 MiB under systrap)"),
                Spec.value("--nofile", "SANDCELL_NOFILE", "1024", "RLIMIT_NOFILE inside"),
                Spec.value("--tmp-mb", "SANDCELL_TMP_MB", "256", "size of the /tmp tmpfs, MiB"),
                Spec.value("--shm-mb", "SANDCELL_SHM_MB", "64", "size of the /dev/shm tmpfs, MiB"),
                Spec.value("--workspace-mb", "SANDCELL_WORKSPACE_MB", "1024",
                        "size of the workspace (/mnt/data), an ext4 image on the host, MiB; 0: no quota"),
                Spec.value("--network", "SANDCELL_NETWORK", "none",
                        "none: the sandbox has only its own loopback; egress: outbound IPv4 to public addresses "
                                + "(pip install, HTTP) through NAT, never to the host, other sandboxes, private "
                                + "ranges or cloud metadata (needs nftables; see docs/security.md)"),
                Spec.value("--egress-dns", "SANDCELL_EGRESS_DNS", "",
                        "comma-separated DNS servers for egress sandboxes (default: the host's resolv.conf "
                                + "nameservers outside 127.0.0.0/8)"),
                Spec.value("--egress-allow", "SANDCELL_EGRESS_ALLOW", "",
                        "comma-separated private IPv4 blocks egress sandboxes may also reach, e.g. a package "
                                + "mirror's 10.1.2.3/32; link-local (metadata) is never allowed"),
                Spec.value("--egress-subnet", "SANDCELL_EGRESS_SUBNET", NetworkPolicy.DEFAULT_SUBNET,
                        "the block egress sandboxes are numbered from, a /30 each (/16 to /24)"),
                Spec.value("--preload", "SANDCELL_PRELOAD", "",
                        "comma-separated Python modules to import before the kernel is ready"),
                Spec.value("--snapshots", "SANDCELL_SNAPSHOTS", "on",
                        "on: Python sandboxes without a network start from a checkpoint image of a fresh sandbox "
                                + "of the same shape (taken once, kept in <data-dir>/snapshots), in a tenth of "
                                + "the time; off: every sandbox starts cold"),
                Spec.value("--preload-cold", "SANDCELL_PRELOAD_COLD", "import",
                        "import: a sandbox with --preload imports the modules even when no checkpoint image of "
                                + "that shape exists yet (seconds, once per shape); skip: it then starts without "
                                + "them, and imports them only when it is restored from an image"),
                Spec.value("--image-reads", "SANDCELL_IMAGE_READS", "direct",
                        "direct: a restore reads the image's memory pages with O_DIRECT where its file system "
                                + "allows (about a quarter less CPU per kernel start on a local disk); cached: "
                                + "through the page cache, for disks of little throughput such as a cloud "
                                + "volume's baseline"),
                Spec.value("--warm-up", "SANDCELL_WARM_UP", "cell",
                        "what a sandbox restored from an image runs before it serves: cell, a cell that leaves "
                                + "no trace (the first cell then takes the time of later ones); plot, that cell and "
                                + "an off-screen figure, which spares a first plot 0.3 s but costs as much, so "
                                + "only for kernels started ahead of their clients (the gateway's pool)"),
                Spec.value("--start-timeout-ms", "SANDCELL_START_TIMEOUT_MS", "60000",
                        "how long a sandbox may take to become ready"),
                Spec.value("--max-output-mb", "SANDCELL_MAX_OUTPUT_MB", "32",
                        "output (streams and displays) one cell may publish, MiB; more is dropped with a notice"),
                Spec.value("--output-rate-kb", "SANDCELL_OUTPUT_RATE_KB", "2048",
                        "sustained output rate per cell, KiB/s (bursts of 4 s allowed); faster output is dropped"),
                Spec.value("--cell-timeout", "SANDCELL_CELL_TIMEOUT", "3600",
                        "wall-clock seconds a cell may run: then it is interrupted, and 5 s later the sandbox is "
                                + "killed and restarted; 0 for no limit"),
                Spec.value("--workspace", "SANDCELL_WORKSPACE", "",
                        "a host directory to mount at /mnt/data, kept after shutdown (default: the kernel's own, "
                                + "removed at shutdown)"),
                Spec.flag("--keep-workspace", "SANDCELL_KEEP_WORKSPACE",
                        "keep the workspace directory on the host after the kernel shuts down"),
                Spec.flag("--help", null, "show this help").withAlias("-h")));
    }

    /** The first runsc found in the usual places. */
    public static String defaultRunsc() {
        for (String p : List.of("/usr/bin/runsc", "/usr/local/bin/runsc", "/usr/sbin/runsc")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return "/usr/bin/runsc";
    }

    /**
     * Builds and validates the configuration.
     *
     * @throws UsageException naming the first bad option, or every invalid sandbox field
     */
    public static KernelConfig from(Options.Parsed p) throws UsageException {
        Path conn = p.path("--connection-file");
        if (conn == null) {
            throw new UsageException("-f/--connection-file is required");
        }
        String id = p.get("--kernel-id");
        if (id == null || id.isEmpty()) {
            Matcher m = KERNEL_FILE.matcher(conn.getFileName().toString());
            id = m.matches() ? m.group(1) : UUID.randomUUID().toString();
        }
        if (!id.matches("[A-Za-z0-9][A-Za-z0-9-]{0,63}")) {
            throw new UsageException("--kernel-id must be letters, digits and dashes (at most 64), not '" + id + "'");
        }
        SandboxConfig sandbox = new SandboxConfig(p.path("--runsc"), p.get("--platform"),
                p.path("--data-dir").toAbsolutePath(), p.path("--sandbox-root").toAbsolutePath(),
                p.get("--language"), SandboxConfig.DEFAULT_UID, p.integer("--memory-mb"),
                p.integer("--address-space-mb"), p.decimal("--cpus"), p.integer("--pids"), p.integer("--nproc"),
                p.integer("--nofile"), p.integer("--tmp-mb"), p.integer("--shm-mb"), p.integer("--workspace-mb"), network(p), p.list("--preload"),
                p.longValue("--start-timeout-ms"));
        List<String> problems = sandbox.problems();
        if (!problems.isEmpty()) {
            throw new UsageException(String.join("; ", problems));
        }
        Path workspace = null;
        if (p.has("--workspace") && !p.get("--workspace").isEmpty()) {
            workspace = p.path("--workspace").toAbsolutePath().normalize();
            if (workspace.getNameCount() < 2) {
                throw new UsageException("--workspace must be a dedicated directory, not " + workspace);
            }
        }
        long maxOutput = p.longValue("--max-output-mb");
        long rate = p.longValue("--output-rate-kb");
        if (maxOutput < 1 || maxOutput > 4096) {
            throw new UsageException("--max-output-mb must be between 1 and 4096, not " + maxOutput);
        }
        if (rate < 16) {
            throw new UsageException("--output-rate-kb must be at least 16, not " + rate);
        }
        int cellTimeout = p.integer("--cell-timeout");
        if (cellTimeout < 0) {
            throw new UsageException("--cell-timeout must not be negative");
        }
        return new KernelConfig(conn, id, sandbox, p.bool("--keep-workspace"), workspace, maxOutput << 20,
                rate << 10, cellTimeout, oneOf(p, "--snapshots", "on", "off").equals("on"),
                oneOf(p, "--preload-cold", "import", "skip").equals("import"),
                SnapshotStore.PageReads.valueOf(oneOf(p, "--image-reads", "direct", "cached")
                        .toUpperCase(java.util.Locale.ROOT)),
                oneOf(p, "--warm-up", "cell", "plot").equals("plot"));
    }

    /**
     * The value of an option that takes one of two words.
     *
     * @throws UsageException naming the option, both words and the value given
     */
    private static String oneOf(Options.Parsed p, String flag, String first, String second)
            throws UsageException {
        String value = p.get(flag);
        if (!first.equals(value) && !second.equals(value)) {
            throw new UsageException(flag + " must be " + first + " or " + second + ", not '" + value + "'");
        }
        return value;
    }

    private static NetworkPolicy network(Options.Parsed p) throws UsageException {
        String mode = oneOf(p, "--network", "none", "egress");
        Cidr subnet = cidr("--egress-subnet", p.get("--egress-subnet"));
        List<Cidr> dns = new ArrayList<>();
        for (String d : p.list("--egress-dns")) {
            dns.add(cidr("--egress-dns", d));
        }
        if (dns.isEmpty() && mode.equals("egress")) {
            dns.addAll(NetworkPolicy.hostResolvers(Path.of("/etc/resolv.conf")));
        }
        List<Cidr> allow = new ArrayList<>();
        for (String a : p.list("--egress-allow")) {
            allow.add(cidr("--egress-allow", a));
        }
        return new NetworkPolicy(NetworkPolicy.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT)), subnet,
                mode.equals("egress") ? dns : List.of(), allow);
    }

    private static Cidr cidr(String flag, String text) throws UsageException {
        try {
            return Cidr.parse(text);
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": " + e.getMessage());
        }
    }

    public static KernelConfig parse(String[] args, Map<String, String> env) throws UsageException {
        return from(options().parse(args, env));
    }

    /** The host directory mounted at /mnt/data. */
    public Path workspace() {
        return externalWorkspace != null ? externalWorkspace : kernelDir().resolve("work");
    }

    /** This kernel's directory on the host: runsc state, bundles, logs and its own workspace. */
    public Path kernelDir() {
        return sandbox.dataDir().resolve("kernels").resolve(kernelId);
    }
}
