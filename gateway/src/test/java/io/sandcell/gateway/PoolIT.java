package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.Json;
import io.sandcell.sandbox.Freezer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm pool: POST /api/kernels hands out a ready, preloaded kernel, never a used one, and refills. */
class PoolIT {
    @TempDir
    Path tmp;

    /** The kernel's own kernel_info_reply content, asked over a websocket. */
    private static JsonNode kernelInfo(GatewayFixture gw, String kernel) throws Exception {
        GatewayFixture.Ws ws = gw.connect(kernel, null, null);
        String id = UUID.randomUUID().toString();
        var m = Json.object();
        m.putObject("header").put("msg_id", id).put("msg_type", "kernel_info_request").put("username", "user")
                .put("session", UUID.randomUUID().toString()).put("date", "").put("version", "5.3");
        m.putObject("parent_header");
        m.putObject("metadata");
        m.putObject("content");
        m.put("channel", "shell");
        ws.sendText(m.toString());
        while (true) {
            JsonNode f = Json.mapper().readTree((String) ws.next(60));
            if (f.path("msg_type").asText().equals("kernel_info_reply")
                    && f.at("/parent_header/msg_id").asText().equals(id)) {
                ws.socket.abort();
                return f.get("content");
            }
        }
    }

    private static List<JsonNode> ofType(List<JsonNode> msgs, String type) {
        return msgs.stream().filter(m -> type.equals(m.path("msg_type").asText())).toList();
    }

    /**
     * With the default preloads (numpy, pandas, matplotlib.pyplot), a pooled kernel's sandbox image holds a
     * rendered figure and a restored sandbox runs a warm-up cell before it is handed out: neither may show.
     * The first cell is number 1, prints only its own output, shows only its own figure; nothing is left in
     * the history or among the open figures; and fonts read from memory still embed in PDF and PostScript. The
     * image also holds a formatted error and DataFrame: the warm-up's error leaves no sys.last_value, and a
     * cell's own error and DataFrame are shown with its own number.
     */
    @Test
    void warmUpsLeaveNoTraceInTheFirstCell() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "1")) {
            for (String expectedStart : List.of("cold", "restored")) {
                gw.awaitPool(1);
                String kernel = gw.startKernel();
                assertEquals(expectedStart, kernelInfo(gw, kernel).at("/sandbox/start").asText());
                List<JsonNode> msgs = gw.execute(kernel, "print('hello')\nimport matplotlib.pyplot as plt\n"
                        + "plt.plot([1, 2, 3])\nplt.show()");
                assertEquals("hello\n", GatewayFixture.stdout(msgs), expectedStart + ": " + msgs);
                List<JsonNode> images = ofType(msgs, "display_data").stream()
                        .filter(m -> m.at("/content/data").has("image/png")).toList();
                assertEquals(1, images.size(), expectedStart + ": exactly the cell's own figure: " + msgs);
                assertTrue(images.get(0).at("/content/data/image~1png").asText().startsWith("iVBOR"));
                assertEquals(1, ofType(msgs, "execute_input").get(0).at("/content/execution_count").asInt(),
                        expectedStart + ": the first cell is number 1");
                assertEquals("3 [] False True b'%PDF-' b'%!PS-' True\n",
                        gw.run(kernel, "import matplotlib.font_manager as fm, sys\n"
                                + "print(len(In), plt.get_fignums(), hasattr(sys, 'last_value'), fm._sandcell_fonts, "
                                + "end=' ')\n"
                                + "plt.plot([1]); plt.title('π'); plt.savefig('/tmp/a.pdf'); plt.savefig('/tmp/a.ps')\n"
                                + "plt.close('all')\n"
                                + "print(open('/tmp/a.pdf', 'rb').read(5), open('/tmp/a.ps', 'rb').read(5), end=' ')\n"
                                + "print(fm.get_font(fm.findfont('DejaVu Sans')).fname.endswith('.ttf'))"),
                        expectedStart + ": no warm-up cell in the history, no figure left open, no error of the "
                                + "traceback warm-up left, fonts in memory");
                // the image holds a formatted traceback: a cell's error is still the cell's own, and shown
                msgs = gw.execute(kernel, "x = 1\n1/0");
                List<JsonNode> errors = ofType(msgs, "error");
                assertEquals(1, errors.size(), expectedStart + ": " + msgs);
                assertEquals("ZeroDivisionError", errors.get(0).at("/content/ename").asText());
                String traceback = errors.get(0).at("/content/traceback").toString();
                assertTrue(traceback.contains("In [3], line 2") && traceback.contains("division by zero"), traceback);
                assertEquals(3, ofType(msgs, "execute_input").get(0).at("/content/execution_count").asInt(),
                        expectedStart + ": " + msgs);
                // and one with a DataFrame formatted: a cell's DataFrame is its own result, as HTML and text
                msgs = gw.execute(kernel, "import pandas as pd\npd.DataFrame({'col': [7]})");
                List<JsonNode> results = ofType(msgs, "execute_result");
                assertEquals(1, results.size(), expectedStart + ": " + msgs);
                assertEquals(4, results.get(0).at("/content/execution_count").asInt());
                JsonNode data = results.get(0).at("/content/data");
                assertTrue(data.path("text/html").asText().contains("<td>7</td>"), msgs.toString());
                assertTrue(data.path("text/plain").asText().contains("col"), msgs.toString());
                assertEquals(204, gw.call("DELETE", "api/kernels/" + kernel, null).statusCode());
            }
        }
    }

    private static int poolStarting(GatewayFixture gw) throws Exception {
        return GatewayFixture.json(gw.call("GET", "api/status", null)).get("pool_starting").asInt();
    }

    /**
     * A refill waits for the client's cells: it starts shortly after the first cell of a kernel just handed out
     * is answered (the kernel stays open here), or when that kernel is shut down. The wait's limit here is ten
     * minutes, so only those can start it within awaitPool's two. When the pool runs empty, refills start at
     * once.
     */
    @Test
    void aRefillWaitsForTheFirstCellOfTheKernelHandedOutUnlessThePoolIsEmpty() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "2", "--pool-preload",
                "json", "--pool-refill-wait", "600000")) {
            gw.awaitPool(2);
            // the kernel next in line waits thawed, the one behind it frozen (no CPU) until it is next
            List<String> waiting;
            try (var dirs = java.nio.file.Files.list(tmp.resolve("data").resolve("kernels"))) {
                waiting = dirs.map(d -> d.getFileName().toString()).toList();
            }
            assertEquals(2, waiting.size(), waiting.toString());
            Freezer freezer = new Freezer(Path.of("/sys/fs/cgroup"));
            List<String> frozen = new java.util.ArrayList<>();
            for (String k : waiting) {
                if (freezer.frozen(k)) {
                    frozen.add(k);
                }
            }
            assertEquals(1, frozen.size(), "one of the two pooled sandboxes is frozen: " + frozen);
            String first = gw.startKernel();
            assertFalse(frozen.contains(first), "the kernel next in line was handed out");
            Thread.sleep(500);
            // its threads waking would share the CPU with the client's call: it is thawed when a refill may go
            assertTrue(freezer.frozen(frozen.get(0)), "the one behind it stays frozen until the first cell");
            assertEquals(1, gw.poolReady());
            assertEquals(0, poolStarting(gw), "no refill before the kernel handed out has run its first cell");
            String metrics = gw.call("GET", "metrics", null).body();
            assertTrue(metrics.contains("\nsandcell_pool_ready 1\n") && metrics.contains("\nsandcell_pool_starting 0\n"),
                    metrics);
            assertEquals("1\n", gw.run(first, "print(1)"));
            gw.awaitPool(2);
            assertFalse(freezer.frozen(frozen.get(0)), "the one behind it is next in line now: thawed");
            String second = gw.startKernel();
            Thread.sleep(500);
            assertEquals(0, poolStarting(gw), "no refill before the kernel handed out has run its first cell");
            assertEquals(204, gw.call("DELETE", "api/kernels/" + second, null).statusCode());
            gw.awaitPool(2);
            // two requests in a row empty the pool: the refill starts without waiting for their cells
            String third = gw.startKernel();
            String fourth = gw.startKernel();
            long deadline = System.currentTimeMillis() + 5_000;
            while (poolStarting(gw) == 0 && gw.poolReady() == 0) {
                assertTrue(System.currentTimeMillis() < deadline, "an empty pool was not refilled at once");
                Thread.sleep(50);
            }
            for (String k : List.of(first, third, fourth)) {
                assertEquals(204, gw.call("DELETE", "api/kernels/" + k, null).statusCode());
            }
        }
    }

    /**
     * A kernel started for a request that finds the pool empty has the pool's preloads once their sandbox
     * image exists, restored from it, even right after a restart, before the pool has a kernel ready. Without
     * an image (a fresh data dir) it starts without them rather than importing them cold, while the pool's own
     * first kernel imports them and makes the image.
     */
    @Test
    void aKernelStartedWhileThePoolIsEmptyHasThePreloadsOnceTheirImageExists() throws Exception {
        String probe = "import sys\nprint('wave' in sys.modules, 'tabnanny' in sys.modules)";
        String[] args = {"--pool-size", "1", "--pool-preload", "wave,tabnanny"};
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), args)) {
            String early = gw.startKernel();
            assertEquals("False False\n", gw.run(early, probe), "no image yet: started without the preloads");
            gw.awaitPool(1);
            String pooled = gw.startKernel();
            assertEquals("True True\n", gw.run(pooled, probe), "the pool's kernels import them");
        }
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), args)) {
            String first = gw.startKernel(); // at once: the pool's first kernel is still starting
            assertTrue(gw.call("GET", "metrics", null).body()
                    .contains("\nsandcell_kernel_starts_total{source=\"cold\"} 1\n"), "not from the pool");
            assertEquals("True True\n", gw.run(first, probe), "the image exists: restored with the preloads");
            assertEquals("restored", kernelInfo(gw, first).at("/sandbox/start").asText());
            assertTrue(kernelLog(gw, first).contains("warm-up: cell)"), "a client waits: no figure in the warm-up");
            gw.awaitPool(1);
            String pooled = gw.startKernel();
            assertTrue(kernelLog(gw, pooled).contains("warm-up: plot)"), "the pool's kernels warm up a plot too");
        }
    }

    /**
     * A fork bomb in the kind of kernel Open WebUI gets, with the gateway's defaults: numpy, pandas and
     * matplotlib loaded. Under systrap each fork of it costs the sandbox about 47 MiB, so the process limit must
     * stop the bomb with EAGAIN well before the memory limit kills the whole sandbox and its state.
     */
    /**
     * Pooled kernels whose sandboxes were killed from outside (an operator, the OOM killer) while their kernel
     * processes lived: none is handed out, so the client's first cell runs instead of failing.
     */
    @Test
    void aPooledKernelWhoseSandboxDiedIsNotHandedOut() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            gw.awaitPool(2);
            Freezer freezer = new Freezer(Path.of("/sys/fs/cgroup"));
            List<Path> kernels;
            try (var dirs = Files.list(gw.data.resolve("kernels"))) {
                kernels = dirs.toList();
            }
            for (Path k : kernels) {
                String glob = Freezer.sandboxPrefix(k.getFileName().toString()) + "-*";
                try (var cgroups = Files.newDirectoryStream(Path.of("/sys/fs/cgroup/pids/sandcell"), glob)) {
                    for (Path c : cgroups) {
                        Files.readAllLines(c.resolve("cgroup.procs")).forEach(pid -> ProcessHandle.of(
                                Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly));
                    }
                }
                freezer.thaw(k.getFileName().toString()); // a frozen process dies once thawed
            }
            long deadline = System.currentTimeMillis() + 20_000;
            for (Path k : kernels) {
                io.sandcell.sandbox.SandboxCgroups cgroups = new io.sandcell.sandbox.SandboxCgroups(
                        Path.of("/sys/fs/cgroup"));
                while (cgroups.running(k.getFileName().toString())) {
                    assertTrue(System.currentTimeMillis() < deadline, "the sandbox of " + k + " did not die");
                    Thread.sleep(50);
                }
            }
            String id = gw.startKernel();
            List<JsonNode> msgs = gw.execute(id, "print(1)");
            assertEquals("1\n", GatewayFixture.stdout(msgs), "the first cell after the pool's sandboxes died: " + msgs);
        }
    }

    @Test
    void aForkBombInAPooledKernelGetsEagainAndTheKernelKeepsItsState() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            String k = gw.pooledKernel();
            assertEquals("True\n", gw.run(k, "import sys\nkept = 'pandas' in sys.modules\nprint(kept)"));
            List<JsonNode> msgs = gw.execute(k, """
                    import os, time
                    pids = []
                    try:
                        while len(pids) < 5000:
                            pid = os.fork()
                            if pid == 0:
                                time.sleep(30)
                                os._exit(0)
                            pids.append(pid)
                    except OSError as e:
                        print("stopped after", len(pids), "forks:", e.errno)
                    for p in pids:
                        os.kill(p, 9)
                        os.waitpid(p, 0)
                    """);
            String out = GatewayFixture.stdout(msgs);
            assertTrue(out.startsWith("stopped after") && out.strip().endsWith(": 11"), msgs.toString());
            assertEquals("True\n", gw.run(k, "print(kept)"), "the kernel kept its state");
        }
    }

    private static String kernelLog(GatewayFixture gw, String kernel) throws Exception {
        return Files.readString(gw.data.resolve("runtime").resolve("kernel-" + kernel + ".log"));
    }

    @Test
    void pooledKernelsArePreloadedUsedOnceAndReplaced() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--pool-size", "1", "--pool-preload",
                "json,decimal")) {
            gw.awaitPool(1);
            assertEquals("[]", gw.call("GET", "api/kernels", null).body(), "pooled kernels are not listed");
            String first = gw.startKernel();
            assertTrue(gw.call("GET", "metrics", null).body()
                    .contains("\nsandcell_kernel_starts_total{source=\"pool\"} 1\n"), "the pooled kernel was taken");
            assertEquals("idle", GatewayFixture.json(gw.call("GET", "api/kernels/" + first, null))
                    .get("execution_state").asText(), "a pooled kernel is ready when handed out");
            JsonNode sandbox = kernelInfo(gw, first).get("sandbox");
            assertEquals("ready", sandbox.get("state").asText(), "its sandbox is up and preloaded: " + sandbox);
            assertEquals("cold", sandbox.get("start").asText(), "the first one starts cold: " + sandbox);
            assertEquals("True True []\n", gw.run(first, "import sys, os\n"
                    + "print('json' in sys.modules, 'decimal' in sys.modules, os.listdir('.'))\n"
                    + "open('mine.txt', 'w').write('x')"));
            gw.awaitPool(1);
            String second = gw.startKernel();
            assertNotEquals(first, second);
            sandbox = kernelInfo(gw, second).get("sandbox");
            assertEquals("ready", sandbox.get("state").asText(), sandbox.toString());
            assertEquals("restored", sandbox.get("start").asText(), "later ones come from its image: " + sandbox);
            assertEquals("[]\n", gw.run(second, "import os\nprint(os.listdir('.'))"),
                    "a fresh workspace: nothing of the first kernel's");
            assertEquals(204, gw.call("DELETE", "api/kernels/" + first, null).statusCode());
            assertEquals(204, gw.call("DELETE", "api/kernels/" + second, null).statusCode());
            // a request with env does not take a pooled kernel: it is started with that env
            gw.awaitPool(1);
            String withEnv = GatewayFixture.json(gw.call("POST", "api/kernels",
                    "{\"env\": {\"KERNEL_USERNAME\": \"ada\"}}")).get("id").asText();
            assertEquals(1, gw.poolReady());
            assertEquals(204, gw.call("DELETE", "api/kernels/" + withEnv, null).statusCode());
        }
    }
}
