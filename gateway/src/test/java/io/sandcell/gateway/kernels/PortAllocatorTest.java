package io.sandcell.gateway.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PortAllocatorTest {
    @Test
    void portsComeFromBelowTheEphemeralRange(@TempDir Path dir) throws Exception {
        Path range = dir.resolve("ip_local_port_range");
        Files.writeString(range, "40000\t60999\n");
        PortAllocator ports = PortAllocator.belowEphemeral(range);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 500; i++) {
            int p = ports.next();
            assertTrue(p >= 28_000 && p < 40_000, "port " + p);
            assertTrue(seen.add(p), "port " + p + " handed out twice");
        }
        Files.writeString(range, "garbage");
        int p = PortAllocator.belowEphemeral(range).next();
        assertTrue(p >= 20_768 && p < 32_768, "port " + p);
    }

    @Test
    void aBusyPortIsSkipped() throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = busy.getLocalPort();
            PortAllocator only = new PortAllocator(port, port + 1);
            for (int i = 0; i < 2; i++) {
                int p;
                try {
                    p = only.next();
                } catch (IOException e) {
                    break; // port + 1 was busy too, or already handed out
                }
                assertFalse(p == port, "the busy port was handed out");
                assertEquals(port + 1, p);
            }
            assertThrows(IOException.class, only::next, "nothing free and not handed out is left");
        }
    }

    @Test
    void theHostsRangeIsReadFromProc() throws Exception {
        Path proc = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        Process cat = new ProcessBuilder("cat", proc.toString()).start();
        int ephemeralLow = Integer.parseInt(new String(cat.getInputStream().readAllBytes()).strip().split("\\s+")[0]);
        assertEquals(0, cat.waitFor());
        PortAllocator ports = PortAllocator.belowEphemeral(proc); // /proc files have no size to read by
        for (int i = 0; i < 200; i++) {
            int p = ports.next();
            assertTrue(p < ephemeralLow && p >= Math.max(1024, ephemeralLow - 1 - 12_000),
                    "port " + p + " for an ephemeral range from " + ephemeralLow);
        }
    }

    @Test
    void everyFreePortIsFoundAndHalfASmallRangeStaysAvailable() throws Exception {
        int low = 24_000;
        int high = low + 299; // 300 ports: the last 150 handed out are held back
        PortAllocator ports = new PortAllocator(low, high);
        java.util.ArrayDeque<Integer> last = new java.util.ArrayDeque<>();
        for (int i = 0; i < 900; i++) { // the last free ones only a sweep finds: random tries mostly miss them
            int p = ports.next();
            assertTrue(p >= low && p <= high);
            assertFalse(last.contains(p), "port " + p + " again within 150 hand-outs");
            last.addLast(p);
            if (last.size() > 150) {
                last.removeFirst();
            }
        }
        PortAllocator tiny = new PortAllocator(low, low + 1);
        try (ServerSocket a = new ServerSocket(low, 1, InetAddress.getLoopbackAddress());
             ServerSocket b = new ServerSocket(low + 1, 1, InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, tiny::next);
            assertTrue(e.getMessage().contains("the last bind failed") && e.getMessage().contains("in use"),
                    e.getMessage());
        }
    }
}
