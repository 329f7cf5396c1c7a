package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NetworkPolicyTest {
    private static NetworkPolicy egress(List<String> dns, List<String> allow) {
        return new NetworkPolicy(NetworkPolicy.Mode.EGRESS, Cidr.parse(NetworkPolicy.DEFAULT_SUBNET),
                dns.stream().map(Cidr::parse).toList(), allow.stream().map(Cidr::parse).toList());
    }

    @Test
    void cidrParsesAndCompares() {
        Cidr net = Cidr.parse("10.201.7.9/16");
        assertEquals("10.201.0.0/16", net.toString());
        assertEquals(65536, net.size());
        assertEquals("10.201.0.6", net.address(6));
        assertEquals("10.201.255.255", net.address(65535));
        assertTrue(Cidr.parse("10.0.0.0/8").contains(net));
        assertFalse(net.contains(Cidr.parse("10.0.0.0/8")));
        assertTrue(net.overlaps(Cidr.parse("10.0.0.0/8")));
        assertFalse(net.overlaps(Cidr.parse("10.202.0.0/16")));
        assertEquals(32, Cidr.parse("203.0.113.10").prefix());
        for (String bad : List.of("", "10.1.2", "10.1.2.256", "10.1.2.3/33", "::1", "a.b.c.d", "10.1.2.3/", "1.2.3.4.5")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(bad));
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void metadataAndLoopbackCannotBeOpened() {
        assertEquals(List.of(), egress(List.of("10.255.255.53"), List.of("10.1.2.3/32")).problems());
        List<String> p = egress(List.of("127.0.0.53", "169.254.169.253"), List.of("169.254.0.0/15", "10.201.3.0/24"))
                .problems();
        assertEquals(4, p.size(), p.toString());
        assertTrue(p.get(2).contains("cloud metadata"), p.toString());
        assertTrue(p.get(3).contains("overlaps the sandboxes' own subnet"), p.toString());
        assertTrue(egress(List.of(), List.of()).problems().get(0).contains("--egress-dns"));
        assertTrue(new NetworkPolicy(NetworkPolicy.Mode.EGRESS, Cidr.parse("10.0.0.0/8"),
                List.of(Cidr.parse("1.1.1.1")), List.of()).problems().get(0).contains("/16 to /24"));
        assertEquals(List.of(), NetworkPolicy.none().problems());
    }

    @Test
    void hostResolversSkipLoopbackAndIpv6(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("resolv.conf");
        Files.writeString(f, "# comment\nnameserver 127.0.0.53\nnameserver fd00::53\nnameserver 10.255.255.53\n"
                + "search example\nnameserver  192.0.2.53 \n");
        assertEquals(List.of(Cidr.parse("10.255.255.53"), Cidr.parse("192.0.2.53")), NetworkPolicy.hostResolvers(f));
        assertEquals(List.of(), NetworkPolicy.hostResolvers(dir.resolve("missing")));
        assertEquals("nameserver 10.255.255.53\noptions timeout:2 attempts:2\n",
                egress(List.of("10.255.255.53"), List.of()).resolvConf());
    }

    @Test
    void chainRejectsMetadataBeforeAnythingIsAllowed() {
        String chain = EgressNetwork.chainScript(egress(List.of("10.255.255.53"), List.of("10.1.0.0/16")), 7,
                "10.201.0.30");
        List<String> rules = chain.lines().filter(l -> l.startsWith("add rule")).toList();
        assertTrue(rules.get(0).endsWith("ip saddr != 10.201.0.30 drop"), rules.toString());
        assertTrue(rules.get(1).contains("ip daddr 169.254.0.0/16 reject"), rules.toString());
        assertTrue(rules.get(2).contains("ip daddr 10.201.0.0/16 reject"), rules.toString());
        assertTrue(rules.get(4).contains("ip daddr { 10.255.255.53 } meta l4proto { tcp, udp } th dport 53 accept"),
                rules.toString());
        assertTrue(rules.get(5).contains("ip daddr { 10.1.0.0/16 } accept"), rules.toString());
        assertTrue(rules.get(6).contains("ip daddr @blocked reject"), rules.toString());
        assertTrue(rules.get(7).endsWith(" accept"), rules.toString());
        assertTrue(chain.contains("add element inet sandcell egress { \"sandc7\" : goto k7 }"), chain);
        String table = EgressNetwork.tableScript();
        assertTrue(table.contains("iifname \"sandc*\" reject"), table);
        assertTrue(table.contains("169.254.0.0/16") && table.contains("192.168.0.0/16"), table);
    }
}
