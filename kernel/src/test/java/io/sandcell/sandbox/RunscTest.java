package io.sandcell.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunscTest {
    @TempDir
    Path tmp;

    /** A binary that does not exist: running it fails, so a test sees whether a call ran runsc at all. */
    private Runsc runsc(Path root) {
        return new Runsc(tmp.resolve("no-such-runsc"), root, "systrap");
    }

    @Test
    void aMissingOrEmptyStateRootHoldsNoSandboxAndRunsNothing() throws Exception {
        Path root = tmp.resolve("state");
        assertEquals(List.of(), runsc(root).list());
        assertEquals(0, runsc(root).reconcile());
        Files.createDirectory(root);
        assertEquals(List.of(), runsc(root).list());
        Files.writeString(root.resolve("k1_sandbox:k1.state"), "{}");
        assertThrows(IOException.class, () -> runsc(root).list(), "a root with state is asked of runsc");
    }

    @Test
    void restoreReadsPagesDirectlyOnlyWhenAsked() {
        Runsc r = runsc(tmp.resolve("state"));
        Path panic = tmp.resolve("k1.panic");
        List<String> direct = r.restoreCommand(tmp.resolve("bundle"), "k1", tmp.resolve("image"), panic, true);
        List<String> cached = r.restoreCommand(tmp.resolve("bundle"), "k1", tmp.resolve("image"), null, false);
        assertEquals(List.of("setpriv", "--pdeathsig", "KILL", "--"), direct.subList(0, 4));
        assertTrue(direct.indexOf("--direct") > direct.indexOf("restore"), direct.toString());
        assertTrue(!cached.contains("--direct"), cached.toString());
        assertEquals("k1", direct.get(direct.size() - 1));
        assertTrue(direct.indexOf("--panic-log=" + panic) < direct.indexOf("restore"),
                "the panic log is a global flag: " + direct);
        assertTrue(cached.stream().noneMatch(a -> a.startsWith("--panic-log")), cached.toString());
    }
}
