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
        assertTrue(p >= 20_767 && p < 32_768, "port " + p);
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
    void everyFreePortOfTheRangeIsFoundBeforeItGivesUpAndThenItSaysWhy() throws Exception {
        int low = 24_000;
        int high = low + 299;
        int bindable = 0;
        for (int port = low; port <= high; port++) {
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                bindable++;
            } catch (IOException inUse) {
                // taken by something else on this machine
            }
        }
        PortAllocator ports = new PortAllocator(low, high);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < bindable; i++) { // the last ones only a sweep finds: random tries mostly miss them
            assertTrue(seen.add(ports.next()));
        }
        IOException e = assertThrows(IOException.class, ports::next);
        assertTrue(e.getMessage().contains(bindable + " handed out recently"), e.getMessage());
    }
}
