package io.sandcell.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.cli.UsageException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GatewayConfigTest {
    @Test
    void defaultsAreSafe() throws Exception {
        GatewayConfig c = GatewayConfig.parse(new String[0], Map.of());
        assertEquals(GatewayConfig.AuthMode.TOKEN, c.authMode());
        assertTrue(c.token().length() >= 40, "a random token is generated");
        assertEquals("127.0.0.1", c.ip());
        assertEquals("/", c.baseUrl());
        assertFalse(c.toString().contains(c.token()));
    }

    @Test
    void modesAndValidation() throws Exception {
        assertEquals(GatewayConfig.AuthMode.PASSWORD,
                GatewayConfig.parse(new String[] {"--password", "pw"}, Map.of()).authMode());
        assertEquals(GatewayConfig.AuthMode.NONE, GatewayConfig.parse(new String[0],
                Map.of("SANDCELL_NO_AUTH", "true")).authMode());
        assertEquals("/jupyter/", GatewayConfig.parse(new String[] {"--base-url", "jupyter"}, Map.of()).baseUrl());
        assertFalse(GatewayConfig.parse(new String[] {"--password", "s3cret-pw"}, Map.of()).toString()
                .contains("s3cret-pw"));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--no-auth", "--token",
                "x".repeat(20)}, Map.of()));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--token", "short"}, Map.of()));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--base-url", "/a b/"}, Map.of()));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--max-kernels", "0"}, Map.of()));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--port", "70000"}, Map.of()));
        assertThrows(UsageException.class, () -> GatewayConfig.parse(new String[] {"--allowed-env", "A-B"},
                Map.of()));
    }

    @Test
    void toolOptions() throws Exception {
        GatewayConfig c = GatewayConfig.parse(new String[] {"--tool-key", "tool-key-0123456789abcdef",
                "--public-url", "https://example.com/sandcell"}, Map.of("SANDCELL_TOOL_TIMEOUT", "7"));
        assertEquals(7, c.tools().timeoutSeconds());
        assertEquals("https://example.com/sandcell/", c.tools().publicUrl());
        assertEquals(64 << 10, c.tools().maxOutputBytes());
        assertFalse(c.toString().contains("tool-key-0123456789abcdef"));
        assertFalse(c.tools().toString().contains("tool-key-0123456789abcdef"));
        for (String[] bad : new String[][] {{"--tool-key", "short"}, {"--tool-timeout", "0"},
                {"--public-url", "ftp://x"}, {"--public-url", "https://x/?q=1"}, {"--tool-chat-header", "a b"},
                {"--tool-max-output-kb", "0"}, {"--tool-max-kernels-per-user", "-1"}}) {
            UsageException e = assertThrows(UsageException.class, () -> GatewayConfig.parse(bad, Map.of()));
            assertTrue(e.getMessage().contains(bad[0]), e.getMessage());
        }
    }
}
