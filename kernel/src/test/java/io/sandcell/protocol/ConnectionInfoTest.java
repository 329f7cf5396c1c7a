package io.sandcell.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConnectionInfoTest {
    @Test
    void writesOwnerOnlyFileAndReadsItBack(@TempDir Path dir) throws Exception {
        ConnectionInfo c = new ConnectionInfo("tcp", "127.0.0.1", 1, 2, 3, 4, 5, "hmac-sha256", "s3cret", "k");
        Path f = dir.resolve("kernel-x.json");
        c.write(f);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertEquals(c, ConnectionInfo.read(f));
        assertEquals("tcp://127.0.0.1:3", c.endpoint(c.port(Channel.STDIN)));
    }

    @Test
    void toStringNeverShowsTheKey() {
        ConnectionInfo c = new ConnectionInfo("tcp", "127.0.0.1", 1, 2, 3, 4, 5, null, "s3cret-key", null);
        assertFalse(c.toString().contains("s3cret-key"));
    }

    @Test
    void badFilesAreRejectedWithTheReason() {
        ProtocolException e = assertThrows(ProtocolException.class, () -> ConnectionInfo.parse(
                "{\"transport\":\"tcp\",\"ip\":\"127.0.0.1\",\"shell_port\":\"x\"}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("connection file has no valid shell_port", e.getMessage());
        assertThrows(ProtocolException.class, () -> ConnectionInfo.parse("[1]".getBytes(StandardCharsets.UTF_8)));
        assertThrows(ProtocolException.class, () -> ConnectionInfo.parse(
                ("{\"transport\":\"udp\",\"shell_port\":1,\"iopub_port\":1,\"stdin_port\":1,\"control_port\":1,"
                        + "\"hb_port\":1}").getBytes(StandardCharsets.UTF_8)));
    }
}
