package io.sandcell.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a sandbox's network reaches.
 * <ul>
 *   <li>{@code NONE} (the default): only the sandbox's own loopback ({@code runsc --network=none}).</li>
 *   <li>{@code EGRESS}: outbound IPv4 to public addresses, through a veth pair into a network namespace of its
 *   own and NAT on the host ({@link EgressNetwork}). The host itself, other sandboxes, private and
 *   link-local ranges (the cloud metadata address among them) stay unreachable; {@code dns} servers get port
 *   53 even when private, and {@code allow} opens private blocks an operator trusts (a package mirror).</li>
 * </ul>
 *
 * @param mode none or egress
 * @param subnet the block the sandboxes' veth pairs are numbered from, one /30 each
 * @param dns the resolvers written to the sandbox's /etc/resolv.conf
 * @param allow private blocks the sandbox may reach besides the public Internet
 */
public record NetworkPolicy(Mode mode, Cidr subnet, List<Cidr> dns, List<Cidr> allow) {
    /** The network modes. */
    public enum Mode { NONE, EGRESS }

    /** Blocks no sandbox reaches unless allowed: private, shared, loopback, link-local, reserved, multicast. */
    public static final List<Cidr> BLOCKED = List.of("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
            "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
            "240.0.0.0/4").stream().map(Cidr::parse).toList();
    /** Link-local, where clouds serve instance metadata and credentials: never reachable, never allowable. */
    public static final Cidr LINK_LOCAL = Cidr.parse("169.254.0.0/16");
    /** The host's own loopback, which a sandbox's packets never reach. */
    static final Cidr LOOPBACK = Cidr.parse("127.0.0.0/8");
    /** The default block for sandbox addresses. */
    public static final String DEFAULT_SUBNET = "10.201.0.0/16";

    public NetworkPolicy {
        dns = List.copyOf(dns);
        allow = List.copyOf(allow);
    }

    /** No network. */
    public static NetworkPolicy none() {
        return new NetworkPolicy(Mode.NONE, Cidr.parse(DEFAULT_SUBNET), List.of(), List.of());
    }

    public boolean egress() {
        return mode == Mode.EGRESS;
    }

    /** How many sandboxes the subnet numbers (a /30 each). */
    public int slots() {
        return (int) (subnet.size() / 4);
    }

    /** The problems of this policy, one sentence each; empty means valid. */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        if (subnet.prefix() < 16 || subnet.prefix() > 24) {
            p.add("the egress subnet must be a /16 to /24 block, not " + subnet);
        }
        if (egress() && dns.isEmpty()) {
            p.add("egress needs a DNS server: the host's /etc/resolv.conf names none outside 127.0.0.0/8; "
                    + "set --egress-dns");
        }
        for (Cidr d : dns) {
            if (d.prefix() != 32) {
                p.add("a DNS server is one address, not the block " + d);
            }
            if (LINK_LOCAL.contains(d) || LOOPBACK.contains(d)) {
                p.add("a sandbox cannot use the DNS server " + d + " (loopback and link-local are unreachable)");
            }
        }
        for (Cidr a : allow) {
            if (a.overlaps(LINK_LOCAL)) {
                p.add("--egress-allow cannot open " + a + ": link-local addresses (the cloud metadata service) "
                        + "stay blocked");
            }
            if (a.overlaps(subnet)) {
                p.add("--egress-allow cannot open " + a + ": it overlaps the sandboxes' own subnet " + subnet);
            }
        }
        return p;
    }

    /** The nameservers of a resolv.conf that a sandbox can use (IPv4, not loopback). */
    public static List<Cidr> hostResolvers(Path resolvConf) {
        List<Cidr> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(resolvConf)) {
                String[] f = line.strip().split("\\s+");
                if (f.length >= 2 && f[0].equals("nameserver")) {
                    try {
                        Cidr c = Cidr.parse(f[1]);
                        if (!LOOPBACK.contains(c)) {
                            out.add(c);
                        }
                    } catch (IllegalArgumentException ignored) {
                        // IPv6 or malformed: not usable from a sandbox
                    }
                }
            }
        } catch (IOException ignored) {
            // no resolv.conf: no defaults
        }
        return out;
    }

    /** The text of the sandbox's /etc/resolv.conf. */
    public String resolvConf() {
        StringBuilder b = new StringBuilder();
        for (Cidr d : dns) {
            b.append("nameserver ").append(d.address(0)).append('\n');
        }
        b.append("options timeout:2 attempts:2\n");
        return b.toString();
    }
}
