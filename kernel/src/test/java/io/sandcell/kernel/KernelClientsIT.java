package io.sandcell.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel driven by real Jupyter clients from Debian: jupyter_client, nbclient, jupyter execute and
 * jupyter console, each starting it from the installed kernelspec, against real gVisor sandboxes.
 */
class KernelClientsIT {
    @TempDir
    static Path tmp;
    static Map<String, String> env;
    /** The data directories the tests use, each checked for leftovers. */
    static final List<String> DATA_DIRS = List.of("data", "snapshot-data", "reads-data");

    @BeforeAll
    static void install() throws Exception {
        TestEnv.Result r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "install",
                "--prefix", tmp.resolve("prefix").toString()), Map.of(), tmp, 60, null);
        assertEquals(0, r.exit(), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "install",
                "--prefix", tmp.resolve("prefix").toString(), "--name", "sandcell-small", "--",
                "--memory-mb", "300", "--address-space-mb", "4000"), Map.of(), tmp, 60, null);
        assertEquals(0, r.exit(), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "install",
                "--prefix", tmp.resolve("prefix").toString(), "--language", "bash"), Map.of(), tmp, 60, null);
        assertEquals(0, r.exit(), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "install",
                "--prefix", tmp.resolve("prefix").toString(), "--name", "sandcell-timeout", "--",
                "--cell-timeout", "3"), Map.of(), tmp, 60, null);
        assertEquals(0, r.exit(), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "install",
                "--prefix", tmp.resolve("prefix").toString(), "--name", "sandcell-preload", "--",
                "--preload", "numpy,json"), Map.of(), tmp, 60, null);
        assertEquals(0, r.exit(), r.output());
        Path spec = tmp.resolve("prefix/share/jupyter/kernels/sandcell-python/kernel.json");
        assertTrue(Files.readString(spec).contains(TestEnv.kernelJar().toString()));
        env = Map.of("JUPYTER_PATH", tmp.resolve("prefix/share/jupyter").toString(),
                "SANDCELL_DATA_DIR", tmp.resolve("data").toString(),
                "JUPYTER_RUNTIME_DIR", tmp.resolve("runtime").toString(),
                "PYTHONDONTWRITEBYTECODE", "1");
    }

    @AfterAll
    static void nothingLeftRunning() throws Exception {
        awaitNoKernelDirectories("the suite");
        for (String data : DATA_DIRS) {
            assertEquals(List.of(), TestEnv.runningSandboxes(tmp.resolve(data)));
        }
    }

    /** Each test leaves nothing behind, so that a leak is blamed on the test that made it. */
    @org.junit.jupiter.api.AfterEach
    void testLeftNothing(org.junit.jupiter.api.TestInfo test) throws Exception {
        awaitNoKernelDirectories(test.getDisplayName());
    }

    /**
     * A client may exit before its kernel has finished stopping (jupyter console does): a kernel removes its
     * sandbox, workspace mount and directory within about 2 s of its shutdown_request, so wait up to 20 s.
     */
    private static void awaitNoKernelDirectories(String who) throws Exception {
        long deadline = System.currentTimeMillis() + 20_000;
        for (String data : DATA_DIRS) {
            Path kernels = tmp.resolve(data).resolve("kernels");
            while (!leftovers(kernels).isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(List.of(), leftovers(kernels), who + " left kernel directories");
        }
    }

    private static List<Path> leftovers(Path kernels) throws java.io.IOException {
        if (!Files.isDirectory(kernels)) {
            return List.of();
        }
        try (var left = Files.list(kernels)) {
            return left.toList();
        }
    }

    private TestEnv.Result python(String script, String... args) throws Exception {
        return python(env, script, args);
    }

    private TestEnv.Result python(Map<String, String> env, String script, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(TestEnv.PYTHON, TestEnv.scripts().resolve(script)
                .toString()));
        cmd.addAll(List.of(args));
        return TestEnv.run(cmd, env, tmp, 600, null);
    }

    @Test
    void restoredSandboxesAreFreshAndABrokenImageIsReplaced() throws Exception {
        Path data = tmp.resolve("snapshot-data");
        Map<String, String> own = new java.util.HashMap<>(env);
        own.put("SANDCELL_DATA_DIR", data.toString());
        TestEnv.Result r = python(own, "snapshot.py", data.toString());
        assertEquals(0, r.exit(), r.output());
        assertEquals(10, r.passes(), r.output());
    }

    @Test
    void restoresReadImagesDirectlyAndFallBackToThePageCache() throws Exception {
        Path data = tmp.resolve("reads-data");
        TestEnv.Result r = python("image_reads.py", data.toString(), KernelConfig.defaultRunsc());
        assertEquals(0, r.exit(), r.output());
        assertEquals(5, r.passes(), r.output());
    }

    @Test
    void jupyterClientEndToEnd() throws Exception {
        TestEnv.Result r = python("client_e2e.py");
        assertEquals(0, r.exit(), r.output());
        assertEquals(13, r.passes(), r.output());
    }

    @Test
    void bashKernel() throws Exception {
        TestEnv.Result r = python("bash_kernel.py");
        assertEquals(0, r.exit(), r.output());
        assertEquals(8, r.passes(), r.output());
    }

    @Test
    void cellWallClockLimit() throws Exception {
        TestEnv.Result r = python("cell_timeout.py", "sandcell-timeout");
        assertEquals(0, r.exit(), r.output());
        assertEquals(2, r.passes(), r.output());
    }

    @Test
    void outOfMemoryIsReportedAndRestartRecovers() throws Exception {
        TestEnv.Result r = python("oom.py", "sandcell-small");
        assertEquals(0, r.exit(), r.output());
        assertEquals(2, r.passes(), r.output());
    }

    @Test
    void isolationFromInsideACell() throws Exception {
        Path project = Path.of("").toAbsolutePath().getParent();
        TestEnv.Result r = python("isolation.py", project.toString());
        assertEquals(0, r.exit(), r.output());
        assertEquals(7, r.passes(), r.output());
    }

    @Test
    void nbclientRunsANotebook() throws Exception {
        Path nb = tmp.resolve("test.ipynb");
        assertEquals(0, python("make_notebook.py", nb.toString(), "sandcell-python").exit());
        TestEnv.Result r = python("run_notebook.py", nb.toString(), "sandcell-python");
        assertEquals(0, r.exit(), r.output());
        assertEquals(1, r.passes(), r.output());
    }

    private Path notebook(String name, String source) throws Exception {
        Path nb = tmp.resolve(name);
        String cell = Json.mapper().writeValueAsString(source);
        Files.writeString(nb, """
                {"cells": [{"cell_type": "code", "execution_count": null, "id": "a1", "metadata": {}, "outputs": [],
                            "source": %s}],
                 "metadata": {"kernelspec": {"name": "sandcell-python", "display_name": "x", "language": "python"}},
                 "nbformat": 4, "nbformat_minor": 5}
                """.formatted(cell));
        return nb;
    }

    @Test
    void jupyterExecuteSmoke() throws Exception {
        Path good = notebook("good.ipynb", "import os\nassert os.getcwd() == '/mnt/data'\n"
                + "assert os.uname().release == '4.4.0'");
        TestEnv.Result r = TestEnv.run(List.of("jupyter", "execute", good.toString()), env, tmp, 300, null);
        assertEquals(0, r.exit(), r.output());
        Path bad = notebook("bad.ipynb", "assert False, 'sandboxed failure'");
        r = TestEnv.run(List.of("jupyter", "execute", bad.toString()), env, tmp, 300, null);
        assertTrue(r.exit() != 0 && r.output().contains("sandboxed failure"), r.output());
    }

    @Test
    void jupyterConsoleSmoke() throws Exception {
        TestEnv.Result r = TestEnv.run(List.of("jupyter", "console", "--kernel", "sandcell-python",
                "--simple-prompt"), env, tmp, 300, "a = 6 * 7\nprint(a)\nexit\n");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("42"), r.output());
        assertTrue(r.output().contains("gVisor sandbox"), r.output());
    }
}
