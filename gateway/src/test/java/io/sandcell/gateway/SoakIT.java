package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short soak (gateway/src/test/clients/soak.py; `.ci/soak` runs the long one): 200 Open WebUI calls with
 * tool calls of 20 chats, while one kernel floods output and a chat forks, against a gateway with its
 * defaults. Nothing may be lost or fail, and once the gateway has stopped no process, sandbox, mount or
 * directory may be left.
 */
class SoakIT {
    @TempDir
    Path tmp;

    @Test
    void twoHundredCallsLoseNothingAndLeaveNothing() throws Exception {
        Path data = tmp.resolve("data");
        String out;
        try (GatewayFixture gw = new GatewayFixture(data)) {
            out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                    OpenWebUiClientIT.clients().resolve("soak.py").toString(), gw.base(), GatewayFixture.TOKEN,
                    "200", String.valueOf(ProcessHandle.current().pid()), "1.0"), 1200);
        }
        assertTrue(out.contains("200 calls (40 tool calls)") && out.contains(": 0 lost, 0 tool calls lost their "
                + "chat's state, 0 errors"), out.lines().filter(l -> !l.startsWith("{")).toList().toString());
        Leaks.assertNoneLeft(data);
    }
}
