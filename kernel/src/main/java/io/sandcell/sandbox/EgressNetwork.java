package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * The network of one sandbox in egress mode: a network namespace ({@code sandcell-<slot>}) holding one end of
 * a veth pair ({@code eth0}, the sandbox's only interface, taken over by gVisor's own network stack), whose
 * host end ({@code sandc<slot>}) routes through NAT to the outside.
 *
 * <p>The host's nftables table {@code inet sandcell} decides what passes, for every sandbox alike:
 * <ul>
 *   <li>nothing from a sandbox reaches the host itself (every host address and port, the gateway's included);</li>
 *   <li>nothing passes between sandboxes, and no IPv6 leaves one;</li>
 *   <li>per sandbox, a chain rejects link-local (cloud metadata), SMTP, the sandbox subnet and every private or
 *   reserved block ({@link NetworkPolicy#BLOCKED}) except its DNS servers' port 53 and the blocks the operator
 *   allowed; everything else, the public Internet, is accepted and masqueraded;</li>
 *   <li>into a sandbox, only replies to its own connections.</li>
 * </ul>
 * Slots are claimed with owner files under a lock in {@code /run/sandcell/net}; the slot of a kernel that
 * died without cleaning up is reclaimed by the next sandbox that opens a network.
 */
public final class EgressNetwork implements AutoCloseable {
    static final String TABLE = "sandcell";
    static final String HOST_IF_PREFIX = "sandc";
    static final String NETNS_PREFIX = "sandcell-";
    /** Where slot owner files and the lock live: a tmpfs, so they vanish with the namespaces at reboot. */
    public static final Path RUN_DIR = Path.of("/run/sandcell/net");
    private static final Path NETNS_DIR = Path.of("/run/netns");
    private static final long COMMAND_TIMEOUT_SECONDS = 20;
    private static final Logger LOG = Logger.getLogger(EgressNetwork.class.getName());
    /** File locks are held per JVM, not per thread: threads of one process take turns here first. */
    private static final Object PROCESS_LOCK = new Object();

    private final NetworkPolicy policy;
    private final Path runDir;
    private final int slot;
    private boolean closed;

    private EgressNetwork(NetworkPolicy policy, Path runDir, int slot) {
        this.policy = policy;
        this.runDir = runDir;
        this.slot = slot;
    }

    /**
     * Claims a slot and builds the namespace, the veth pair and the sandbox's firewall chain.
     *
     * @throws IOException naming the command that failed (nft, ip) or the exhausted subnet
     */
    @SuppressWarnings("try")
    public static EgressNetwork open(NetworkPolicy policy, Path runDir) throws IOException {
        Files.createDirectories(runDir);
        int slot;
        synchronized (PROCESS_LOCK) {
            try (FileChannel lockFile = FileChannel.open(runDir.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE); FileLock ignored = lockFile.lock()) {
                reclaimStale(runDir);
                ensureTable();
                slot = claim(policy, runDir);
            }
        }
        EgressNetwork net = new EgressNetwork(policy, runDir, slot);
        try {
            net.build();
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    /** The namespace the sandbox joins. */
    public Path netnsPath() {
        return NETNS_DIR.resolve(NETNS_PREFIX + slot);
    }

    /** The host end of the veth pair. */
    public String hostInterface() {
        return HOST_IF_PREFIX + slot;
    }

    /** The host end's address, the sandbox's gateway. */
    public String hostAddress() {
        return policy.subnet().address(4L * slot + 1);
    }

    /** The sandbox's own address. */
    public String sandboxAddress() {
        return policy.subnet().address(4L * slot + 2);
    }

    private static int claim(NetworkPolicy policy, Path runDir) throws IOException {
        int slots = policy.slots();
        int start = ThreadLocalRandom.current().nextInt(slots);
        for (int i = 0; i < slots; i++) {
            int s = (start + i) % slots;
            if (Files.exists(ownerFile(runDir, s)) || Files.exists(NETNS_DIR.resolve(NETNS_PREFIX + s))
                    || Files.exists(Path.of("/sys/class/net", HOST_IF_PREFIX + s))) {
                continue;
            }
            ProcessHandle self = ProcessHandle.current();
            Files.writeString(ownerFile(runDir, s), self.pid() + " " + startMillis(self).orElse(0L) + "\n",
                    StandardCharsets.US_ASCII);
            return s;
        }
        throw new IOException("no free address in the egress subnet " + policy.subnet() + " (" + slots
                + " sandboxes); choose a larger --egress-subnet");
    }

    private void build() throws IOException {
        String ns = NETNS_PREFIX + slot;
        String hostIf = hostInterface();
        enableForwarding();
        ip("netns", "add", ns);
        ip("link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns);
        writeSysctl(Path.of("/proc/sys/net/ipv6/conf", hostIf, "disable_ipv6"), "1");
        ip("addr", "add", hostAddress() + "/30", "dev", hostIf);
        ip("link", "set", hostIf, "up");
        ip("-n", ns, "addr", "add", sandboxAddress() + "/30", "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
        ip("-n", ns, "route", "add", "default", "via", hostAddress());
        nft(chainScript(policy, slot, sandboxAddress()));
    }

    /** The nftables table shared by every egress sandbox; created once, left in place. */
    static String tableScript() {
        String blocked = NetworkPolicy.BLOCKED.stream().map(Cidr::toString).collect(Collectors.joining(", "));
        String any = "\"" + HOST_IF_PREFIX + "*\"";
        return String.join("\n",
                "table inet " + TABLE + " {",
                "  set blocked { type ipv4_addr; flags interval; elements = { " + blocked + " }; }",
                "  map egress { type ifname : verdict; }",
                "  chain input {",
                "    type filter hook input priority filter - 5; policy accept;",
                "    iifname " + any + " reject with icmpx type admin-prohibited",
                "  }",
                "  chain forward {",
                "    type filter hook forward priority filter - 5; policy accept;",
                "    iifname " + any + " oifname " + any + " reject with icmpx type admin-prohibited",
                "    iifname " + any + " meta nfproto ipv6 drop",
                "    iifname " + any + " iifname vmap @egress",
                "    iifname " + any + " drop",
                "    oifname " + any + " ct state established,related accept",
                "    oifname " + any + " drop",
                "  }",
                "  chain postrouting {",
                "    type nat hook postrouting priority srcnat; policy accept;",
                "    iifname " + any + " oifname != " + any + " masquerade",
                "  }",
                "}", "");
    }

    /** The chain of one sandbox, and its entry in the interface map. */
    static String chainScript(NetworkPolicy policy, int slot, String sandboxAddress) {
        String chain = "inet " + TABLE + " k" + slot;
        String reject = " reject with icmpx type admin-prohibited";
        List<String> lines = new ArrayList<>();
        lines.add("add chain " + chain);
        lines.add("add rule " + chain + " ip saddr != " + sandboxAddress + " drop");
        lines.add("add rule " + chain + " ip daddr " + NetworkPolicy.LINK_LOCAL + reject);
        lines.add("add rule " + chain + " ip daddr " + policy.subnet() + reject);
        lines.add("add rule " + chain + " tcp dport 25 reject with tcp reset");
        if (!policy.dns().isEmpty()) {
            lines.add("add rule " + chain + " ip daddr " + set(policy.dns())
                    + " meta l4proto { tcp, udp } th dport 53 accept");
        }
        if (!policy.allow().isEmpty()) {
            lines.add("add rule " + chain + " ip daddr " + set(policy.allow()) + " accept");
        }
        lines.add("add rule " + chain + " ip daddr @blocked" + reject);
        lines.add("add rule " + chain + " accept");
        lines.add("add element inet " + TABLE + " egress { \"" + HOST_IF_PREFIX + slot + "\" : goto k" + slot + " }");
        return String.join("\n", lines) + "\n";
    }

    private static String set(List<Cidr> blocks) {
        return "{ " + blocks.stream().map(c -> c.prefix() == 32 ? c.address(0) : c.toString())
                .collect(Collectors.joining(", ")) + " }";
    }

    private static void ensureTable() throws IOException {
        try {
            Commands.run(List.of("nft", "list", "table", "inet", TABLE), COMMAND_TIMEOUT_SECONDS, "nft list");
        } catch (IOException missing) {
            try {
                nft(tableScript());
            } catch (IOException e) {
                throw new IOException("setting up the egress firewall needs root and nftables (the nft command): "
                        + e.getMessage(), e);
            }
        }
    }

    private static void enableForwarding() throws IOException {
        Path forward = Path.of("/proc/sys/net/ipv4/ip_forward");
        if (!SandboxLayout.readToEnd(forward).strip().equals("1")) {
            Files.writeString(forward, "1");
            LOG.info("enabled IPv4 forwarding on the host (net.ipv4.ip_forward=1) for egress sandboxes");
        }
    }

    private static void writeSysctl(Path file, String value) {
        try {
            Files.writeString(file, value);
        } catch (IOException ignored) {
            // no IPv6 on this host: nothing to turn off
        }
    }

    /** Removes the networks whose owner process is gone. Called under the lock. */
    private static void reclaimStale(Path runDir) {
        try (DirectoryStream<Path> owners = Files.newDirectoryStream(runDir, "slot-*")) {
            for (Path f : owners) {
                int s;
                try {
                    s = Integer.parseInt(f.getFileName().toString().substring("slot-".length()));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (!ownerAlive(f)) {
                    teardown(s);
                    Files.deleteIfExists(f);
                    LOG.info("reclaimed the egress network of a kernel that is gone (slot " + s + ")");
                }
            }
        } catch (IOException e) {
            LOG.warning("looking for stale egress networks: " + e.getMessage());
        }
    }

    private static boolean ownerAlive(Path ownerFile) {
        try {
            String[] f = Files.readString(ownerFile).strip().split(" ");
            long pid = Long.parseLong(f[0]);
            long started = Long.parseLong(f[1]);
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .map(h -> startMillis(h).map(m -> started == 0 || m == started).orElse(true)).orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static Optional<Long> startMillis(ProcessHandle h) {
        return h.info().startInstant().map(i -> i.toEpochMilli());
    }

    private static Path ownerFile(Path runDir, int slot) {
        return runDir.resolve("slot-" + slot);
    }

    /** Removes a slot's chain, map entry and namespace (which takes the veth pair with it). Best effort. */
    private static void teardown(int slot) {
        quietly(List.of("nft", "delete", "element", "inet", TABLE, "egress", "{ \"" + HOST_IF_PREFIX + slot + "\" }"));
        quietly(List.of("nft", "delete", "chain", "inet", TABLE, "k" + slot));
        if (Files.exists(NETNS_DIR.resolve(NETNS_PREFIX + slot))) {
            quietly(List.of("ip", "netns", "del", NETNS_PREFIX + slot));
        }
        if (Files.exists(Path.of("/sys/class/net", HOST_IF_PREFIX + slot))) {
            quietly(List.of("ip", "link", "del", HOST_IF_PREFIX + slot));
        }
    }

    private static void quietly(List<String> cmd) {
        try {
            Commands.run(cmd, COMMAND_TIMEOUT_SECONDS, String.join(" ", cmd));
        } catch (IOException ignored) {
            // already gone
        }
    }

    private static void ip(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("ip");
        cmd.addAll(List.of(args));
        Commands.run(cmd, COMMAND_TIMEOUT_SECONDS, String.join(" ", cmd));
    }

    private static void nft(String script) throws IOException {
        Path file = Files.createTempFile("sandcell-", ".nft");
        try {
            Files.writeString(file, script);
            Commands.run(List.of("nft", "-f", file.toString()), COMMAND_TIMEOUT_SECONDS, "nft -f");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Removes the chain, the namespace and the veth pair, and frees the slot. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        teardown(slot);
        try {
            Files.deleteIfExists(ownerFile(runDir, slot));
        } catch (IOException e) {
            LOG.warning("freeing egress slot " + slot + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "EgressNetwork[slot " + slot + ", " + sandboxAddress() + " via " + hostInterface() + "]";
    }
}
