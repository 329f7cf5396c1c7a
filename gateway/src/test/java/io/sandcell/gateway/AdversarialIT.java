package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks from inside cells (gateway/src/test/clients/adversarial.py), each in a real sandbox through the real
 * gateway, with the default limits (16 processes and threads for the default 1 GiB) but a 64 MiB workspace and
 * 5 s per call, so that the bombs hit them quickly.
 */
class AdversarialIT {
    @TempDir
    Path tmp;

    @Test
    void everyAttackHolds() throws Exception {
        Path secret = tmp.resolve("host/secret.txt");
        Files.createDirectories(secret.getParent());
        Files.writeString(secret, "HOST-SECRET-91c2e7\n");
        long freeBefore = Files.getFileStore(tmp).getUsableSpace();
        String out;
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"),
                Map.of("SANDCELL_WORKSPACE_MB", "64"), "--tool-timeout", "5")) {
            out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                    OpenWebUiClientIT.clients().resolve("adversarial.py").toString(), gw.base(), GatewayFixture.TOKEN,
                    tmp.resolve("data").toString(), secret.toString()), 1200);
            assertEquals(200, gw.call("GET", "api/status", null).statusCode(), "the gateway still answers");
        }
        long cases = out.lines().filter(l -> l.startsWith("@case") || l.startsWith("PASS")).count();
        assertTrue(out.contains("20 cases, 20 held"), out);
        assertEquals(20, cases, out);
        assertEquals("HOST-SECRET-91c2e7\n", Files.readString(secret), "the host file is untouched");
        long freeAfter = Files.getFileStore(tmp).getUsableSpace();
        assertTrue(freeBefore - freeAfter < 256L << 20, "the disk fill did not reach the host disk: "
                + (freeBefore - freeAfter) + " bytes used");
        Leaks.assertNoneLeft(tmp.resolve("data"));
    }
}
