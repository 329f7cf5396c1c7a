package io.sandcell.sandbox;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.protocol.Json;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds the OCI runtime spec ({@code config.json}) of one sandbox: read-only root, /usr and generated /etc;
 * tmpfs /tmp and /dev/shm; the workspace at /mnt/data; a non-root uid with no capabilities; rlimits for
 * graceful failure and cgroup limits as the backstop.
 */
public final class OciSpec {
    /** Where the driver directory is mounted inside. */
    public static final String DRIVER_DIR = "/opt/sandcell";
    /** The working directory inside, backed by the kernel's workspace on the host. */
    public static final String WORKSPACE = "/mnt/data";
    /** The cgroup parent of every sandbox. */
    public static final String CGROUP_PARENT = "sandcell";

    private OciSpec() {}

    /**
     * @param args the process to run inside
     * @param env extra environment, {@code NAME=value}
     * @param netns the network namespace to join (egress mode), or null for a new, empty one
     * @param resolvConf a file to mount at /etc/resolv.conf, or null for the layout's empty one
     */
    public static ObjectNode build(SandboxConfig config, SandboxLayout layout, String containerId, Path workspace,
                                   List<String> args, List<String> env, Path netns, Path resolvConf) {
        ObjectNode spec = Json.object();
        spec.put("ociVersion", "1.0.2");
        ObjectNode process = spec.putObject("process");
        process.put("terminal", false);
        process.putObject("user").put("uid", config.uid()).put("gid", config.uid());
        ArrayNode argv = process.putArray("args");
        args.forEach(argv::add);
        ArrayNode envs = process.putArray("env");
        int threads = Math.max(1, (int) Math.ceil(config.cpus()));
        for (String e : List.of("PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + WORKSPACE, "USER=sandbox",
                "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=/tmp", "SHELL=/bin/bash", "TERM=xterm-256color",
                "MPLCONFIGDIR=/tmp/.mpl", "XDG_CACHE_HOME=/tmp/.cache", "IPYTHONDIR=/tmp/.ipython",
                "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PAGER=cat", "CLICOLOR=1",
                "OPENBLAS_NUM_THREADS=" + threads, "OMP_NUM_THREADS=" + threads, "MKL_NUM_THREADS=" + threads)) {
            envs.add(e);
        }
        env.forEach(envs::add);
        process.put("cwd", WORKSPACE);
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "inheritable", "permitted", "ambient")) {
            caps.putArray(set);
        }
        ArrayNode rlimits = process.putArray("rlimits");
        rlimit(rlimits, "RLIMIT_NOFILE", config.nofile());
        rlimit(rlimits, "RLIMIT_AS", (long) config.effectiveAddressSpaceMb() << 20);
        rlimit(rlimits, "RLIMIT_NPROC", config.effectiveNproc());
        rlimit(rlimits, "RLIMIT_CORE", 0);
        process.put("noNewPrivileges", true);

        spec.putObject("root").put("path", layout.rootfs().toString()).put("readonly", true);
        spec.put("hostname", "sandbox");

        ArrayNode mounts = spec.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "mode=755", "size=64k");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        mount(mounts, "/usr", "bind", config.rootfs().resolve("usr").toString(), "rbind", "ro", "nosuid", "nodev");
        for (String dir : layout.boundDirs()) {
            mount(mounts, "/" + dir, "bind", config.rootfs().resolve(dir).toString(), "rbind", "ro", "nosuid",
                    "nodev");
        }
        mount(mounts, "/etc", "bind", layout.etc().toString(), "rbind", "ro", "nosuid", "nodev");
        if (resolvConf != null) {
            mount(mounts, "/etc/resolv.conf", "bind", resolvConf.toString(), "bind", "ro", "nosuid", "nodev");
        }
        mount(mounts, DRIVER_DIR, "bind", layout.opt().toString(), "rbind", "ro", "nosuid", "nodev");
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "nodev", "noexec", "mode=1777",
                "size=" + config.shmMb() + "m");
        mount(mounts, "/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777", "size=" + config.tmpMb() + "m");
        mount(mounts, WORKSPACE, "bind", workspace.toString(), "rbind", "rw", "nosuid", "nodev");

        ObjectNode linux = spec.putObject("linux");
        ArrayNode ns = linux.putArray("namespaces");
        for (String type : List.of("pid", "network", "ipc", "uts", "mount")) {
            ObjectNode n = ns.addObject().put("type", type);
            if (type.equals("network") && netns != null) {
                n.put("path", netns.toString());
            }
        }
        linux.put("cgroupsPath", "/" + CGROUP_PARENT + "/" + containerId);
        ObjectNode resources = linux.putObject("resources");
        long memory = (long) config.memoryMb() << 20;
        resources.putObject("memory").put("limit", memory).put("swap", memory);
        resources.putObject("pids").put("limit", config.pids());
        long period = 100_000;
        resources.putObject("cpu").put("quota", Math.round(config.cpus() * period)).put("period", period);
        ArrayNode masked = linux.putArray("maskedPaths");
        for (String p : List.of("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware")) {
            masked.add(p);
        }
        return spec;
    }

    private static void rlimit(ArrayNode rlimits, String type, long value) {
        rlimits.addObject().put("type", type).put("hard", value).put("soft", value);
    }

    private static void mount(ArrayNode mounts, String destination, String type, String source, String... options) {
        ObjectNode m = mounts.addObject();
        m.put("destination", destination).put("type", type).put("source", source);
        if (options.length > 0) {
            ArrayNode opts = m.putArray("options");
            for (String o : options) {
                opts.add(o);
            }
        }
    }
}
