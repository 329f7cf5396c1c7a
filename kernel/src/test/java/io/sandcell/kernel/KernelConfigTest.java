package io.sandcell.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.cli.UsageException;
import io.sandcell.sandbox.Cidr;
import io.sandcell.sandbox.NetworkPolicy;
import io.sandcell.sandbox.SnapshotStore;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KernelConfigTest {
    private static KernelConfig parse(Map<String, String> env, String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        all[0] = "-f";
        all[1] = "/tmp/kernel-abc.json";
        System.arraycopy(args, 0, all, 2, args.length);
        return KernelConfig.parse(all, env);
    }

    @Test
    void networkIsOffUnlessAsked() throws Exception {
        KernelConfig c = parse(Map.of());
        assertFalse(c.sandbox().network().egress());
        assertEquals("none", c.sandbox().limits().get("network"));
        assertEquals(List.of(), c.sandbox().network().dns());
    }

    @Test
    void egressFromFlagsOrEnvironment() throws Exception {
        KernelConfig flags = parse(Map.of(), "--network", "egress", "--egress-dns", "1.1.1.1, 9.9.9.9",
                "--egress-allow", "10.1.2.3/32", "--egress-subnet", "10.77.0.0/20");
        NetworkPolicy n = flags.sandbox().network();
        assertTrue(n.egress());
        assertEquals(List.of(Cidr.parse("1.1.1.1"), Cidr.parse("9.9.9.9")), n.dns());
        assertEquals(List.of(Cidr.parse("10.1.2.3")), n.allow());
        assertEquals(1024, n.slots());
        assertEquals("egress", flags.sandbox().limits().get("network"));
        NetworkPolicy env = parse(Map.of("SANDCELL_NETWORK", "egress", "SANDCELL_EGRESS_DNS", "10.255.255.53"))
                .sandbox().network();
        assertTrue(env.egress());
        assertEquals(List.of(Cidr.parse("10.255.255.53")), env.dns());
    }

    @Test
    void badNetworkOptionsNameTheFlag() {
        for (String[] args : List.of(new String[] {"--network", "host"},
                new String[] {"--network", "egress", "--egress-dns", "1.1.1"},
                new String[] {"--network", "egress", "--egress-dns", "1.1.1.1", "--egress-allow", "169.254.169.254"},
                new String[] {"--network", "egress", "--egress-dns", "1.1.1.1", "--egress-subnet", "10.0.0.0/8"})) {
            UsageException e = assertThrows(UsageException.class, () -> parse(Map.of(), args));
            assertTrue(e.getMessage().contains("egress") || e.getMessage().contains("--network"), e.getMessage());
        }
    }

    @Test
    void snapshotsAreOnUnlessTurnedOffAndOnlyForPythonWithoutNetwork() throws Exception {
        assertTrue(parse(Map.of()).snapshots());
        assertTrue(SandboxRunner.snapshotEligible(parse(Map.of())));
        assertFalse(parse(Map.of("SANDCELL_SNAPSHOTS", "off")).snapshots());
        assertFalse(SandboxRunner.snapshotEligible(parse(Map.of(), "--snapshots", "off")));
        assertFalse(SandboxRunner.snapshotEligible(parse(Map.of(), "--language", "bash")));
        assertFalse(SandboxRunner.snapshotEligible(parse(Map.of(), "--network", "egress", "--egress-dns",
                "1.1.1.1")));
        UsageException e = assertThrows(UsageException.class, () -> parse(Map.of(), "--snapshots", "yes"));
        assertTrue(e.getMessage().contains("--snapshots"), e.getMessage());
    }

    @Test
    void preloadsAreImportedColdUnlessSkipped() throws Exception {
        assertTrue(parse(Map.of()).preloadCold());
        assertFalse(parse(Map.of("SANDCELL_PRELOAD_COLD", "skip")).preloadCold());
        assertTrue(parse(Map.of("SANDCELL_PRELOAD_COLD", "skip"), "--preload-cold", "import").preloadCold());
        UsageException e = assertThrows(UsageException.class, () -> parse(Map.of(), "--preload-cold", "no"));
        assertTrue(e.getMessage().contains("--preload-cold must be import or skip"), e.getMessage());
    }

    @Test
    void imagePagesAreReadDirectlyUnlessCachedIsChosen() throws Exception {
        assertEquals(SnapshotStore.PageReads.DIRECT, parse(Map.of()).pageReads());
        assertEquals(SnapshotStore.PageReads.CACHED, parse(Map.of("SANDCELL_IMAGE_READS", "cached")).pageReads());
        assertEquals(SnapshotStore.PageReads.DIRECT,
                parse(Map.of("SANDCELL_IMAGE_READS", "cached"), "--image-reads", "direct").pageReads());
        UsageException e = assertThrows(UsageException.class, () -> parse(Map.of(), "--image-reads", "DIRECT"));
        assertTrue(e.getMessage().contains("--image-reads must be direct or cached"), e.getMessage());
    }

    @Test
    void aRestoreWarmsUpWithACellUnlessAPlotIsAskedFor() throws Exception {
        assertFalse(parse(Map.of()).warmUpPlot());
        assertTrue(parse(Map.of("SANDCELL_WARM_UP", "plot")).warmUpPlot());
        assertFalse(parse(Map.of("SANDCELL_WARM_UP", "plot"), "--warm-up", "cell").warmUpPlot());
        UsageException e = assertThrows(UsageException.class, () -> parse(Map.of(), "--warm-up", "figure"));
        assertTrue(e.getMessage().contains("--warm-up must be cell or plot"), e.getMessage());
    }
}
