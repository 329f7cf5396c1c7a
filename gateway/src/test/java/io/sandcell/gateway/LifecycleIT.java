package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.Json;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kernel death, culling, graceful shutdown and startup reconciliation, with real kernels and sandboxes. */
class LifecycleIT {
    @TempDir
    Path tmp;

    private static ProcessHandle kernelProcess(String kernelId) {
        return ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("")
                .contains("kernel-" + kernelId + ".json") && p.info().commandLine().orElse("").contains("java"))
                .findFirst().orElseThrow(() -> new AssertionError("no process for kernel " + kernelId));
    }

    /**
     * A gateway under the C locale (a container's or a service's default): its kernels still name the host's
     * files whose names are not ASCII (Debian's CA certificates), which the sandbox's /etc copies.
     */
    @Test
    void aGatewayUnderTheCLocaleStartsKernels() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), java.util.Map.of("LANG", "C",
                "LC_ALL", "POSIX"), "--pool-size", "0")) { // pool off: the kernel below is the first to start
            String k = gw.startKernel();
            assertEquals("ok\n", gw.run(k, "print('ok')"));
        }
    }

    @Test
    void aCrashedKernelIsReportedDeadAndCanBeRestarted() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            String k = gw.startKernel();
            GatewayFixture.Ws ws = gw.connect(k, null, null);
            String warm = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(warm, "x = 1"));
            GatewayFixture.untilIdle(ws, warm, 120);
            kernelProcess(k).destroyForcibly();
            boolean dead = false;
            while (!dead) {
                JsonNode m = Json.mapper().readTree((String) ws.next(60));
                dead = m.get("msg_type").asText().equals("status")
                        && m.at("/content/execution_state").asText().equals("dead");
            }
            JsonNode model = GatewayFixture.json(gw.call("GET", "api/kernels/" + k, null));
            assertEquals("dead", model.get("execution_state").asText());
            assertTrue(model.get("reason").asText().contains("exited"), model.toString());
            assertEquals(200, gw.call("POST", "api/kernels/" + k + "/restart", "{}").statusCode());
            String after = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(after, "print('alive again')"));
            assertEquals("alive again\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, after, 120)));
            ws.socket.abort();
        }
    }

    @Test
    void requestsToAKernelThatFailedToStartAreAnsweredWithTheCause() throws Exception {
        Path specs = tmp.resolve("specs");
        Files.createDirectories(specs.resolve("broken"));
        // a kernel process that lives long enough for the client to connect and send, then dies unready
        Files.writeString(specs.resolve("broken/kernel.json"), """
                {"argv": ["/bin/sh", "-c", "sleep 2; echo 'no sandbox here' >&2; exit 3", "{connection_file}"],
                 "display_name": "Broken", "language": "python"}""");
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--kernelspec-dir", specs.toString())) {
            var r = gw.call("POST", "api/kernels", "{\"name\": \"broken\"}");
            assertEquals(201, r.statusCode(), r.body());
            String k = GatewayFixture.json(r).get("id").asText();
            GatewayFixture.Ws ws = gw.connect(k, null, null);
            for (String code : List.of("print('held until the kernel is ready')", "print('sent to a dead kernel')")) {
                String msg = UUID.randomUUID().toString();
                ws.sendText(GatewayFixture.executeRequest(msg, code));
                List<JsonNode> got = GatewayFixture.untilIdle(ws, msg, 30);
                JsonNode reply = got.stream().filter(m -> m.get("msg_type").asText().equals("execute_reply"))
                        .findFirst().orElseThrow(() -> new AssertionError("no execute_reply: " + got));
                assertEquals("error", reply.at("/content/status").asText(), reply.toString());
                assertEquals("KernelDied", reply.at("/content/ename").asText());
                assertTrue(reply.at("/content/evalue").asText().contains("exit"), reply.toString());
                assertTrue(got.stream().anyMatch(m -> m.get("msg_type").asText().equals("error")), got.toString());
            }
            ws.socket.abort();
        }
    }

    @Test
    void theFirstKernelRecordsAClassDataArchiveThatLaterKernelsMap() throws Exception {
        Path data = tmp.resolve("data");
        // Java's ahead-of-time cache from JDK 25 on (a training run, then the gateway assembles it), a
        // dynamic class-data archive before
        boolean aot = Runtime.version().feature() >= 25;
        try (GatewayFixture gw = new GatewayFixture(data, "--pool-size", "0")) { // the client's is the first kernel
            String first = gw.startKernel();
            assertTrue(kernelProcess(first).info().commandLine().orElse("")
                    .contains(aot ? "-XX:AOTMode=record" : "-XX:ArchiveClassesAtExit="));
            assertEquals(204, gw.call("DELETE", "api/kernels/" + first, null).statusCode());
            Path archive = null;
            long deadline = System.currentTimeMillis() + 60_000;
            while (archive == null && System.currentTimeMillis() < deadline) {
                try (var files = Files.list(data.resolve("cds"))) {
                    archive = files.filter(f -> f.getFileName().toString().endsWith(aot ? ".aot" : ".jsa"))
                            .findFirst().orElse(null);
                }
                Thread.sleep(200);
            }
            assertTrue(archive != null, "the first kernel's exit recorded an archive");
            String second = gw.startKernel();
            GatewayFixture.Ws ws = gw.connect(second, null, null);
            String msg = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(msg, "print(6 * 7)"));
            assertEquals("42\n", GatewayFixture.stdout(GatewayFixture.untilIdle(ws, msg, 120)));
            ws.socket.abort();
            // read once the kernel answered: its JVM (not the setpriv that execs it) is running by then
            ProcessHandle p = kernelProcess(second);
            assertTrue(p.info().commandLine().orElse("")
                    .contains((aot ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=") + archive));
            String maps = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "maps"));
            assertTrue(maps.contains(archive.toString()), "the second kernel JVM maps the archive");
            // mapped where it was built, not relocated (relocating writes its pages, so that each kernel would
            // hold a private copy of them instead of sharing them), and the JVM's malloc keeps one arena
            assertTrue(p.info().commandLine().orElse("").contains("-XX:ArchiveRelocationMode=0"));
            String environ = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "environ"));
            assertTrue(List.of(environ.split("\0")).contains("MALLOC_ARENA_MAX=1"), "one malloc arena");
        }
    }

    @Test
    void idleKernelsAreCulled() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"), "--cull-idle-timeout", "2",
                "--cull-interval", "1")) {
            String k = gw.startKernel();
            long deadline = System.currentTimeMillis() + 60_000;
            while (gw.call("GET", "api/kernels/" + k, null).statusCode() == 200) {
                assertTrue(System.currentTimeMillis() < deadline, "kernel was not culled");
                Thread.sleep(250);
            }
            Leaks.assertNoneLeft(gw);
        }
    }

    @Test
    void shutdownStopsEveryKernelAndSandbox() throws Exception {
        GatewayFixture gw = new GatewayFixture(tmp.resolve("data"));
        for (int i = 0; i < 2; i++) {
            String k = gw.startKernel();
            GatewayFixture.Ws ws = gw.connect(k, null, null);
            String id = UUID.randomUUID().toString();
            ws.sendText(GatewayFixture.executeRequest(id, "1"));
            GatewayFixture.untilIdle(ws, id, 120);
        }
        gw.close();
        assertEquals(List.of(), Leaks.leftovers(gw.data));
    }

    @Test
    void startupRemovesWhatACrashedRunLeftBehind() throws Exception {
        Path data = tmp.resolve("data");
        Path runtime = Files.createDirectories(data.resolve("runtime"));
        int[] ports = new int[5];
        for (int i = 0; i < 5; i++) {
            try (ServerSocket s = new ServerSocket(0)) {
                ports[i] = s.getLocalPort();
            }
        }
        String id = UUID.randomUUID().toString();
        Path file = runtime.resolve("kernel-" + id + ".json");
        new ConnectionInfo("tcp", "127.0.0.1", ports[0], ports[1], ports[2], ports[3], ports[4], "hmac-sha256",
                ConnectionInfo.newKey(), "python3").write(file);
        // a kernel whose gateway died: its process and sandbox are killed, its files stay
        Process orphan = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-cp",
                System.getProperty("sandcell.kernel.classpath"), "io.sandcell.kernel.KernelMain", "-f",
                file.toString(), "--data-dir", data.toString()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("orphan.log").toFile()).start();
        long deadline = System.currentTimeMillis() + 60_000;
        while (!Files.isDirectory(data.resolve("kernels").resolve(id).resolve("runsc"))) {
            assertTrue(System.currentTimeMillis() < deadline, Files.readString(tmp.resolve("orphan.log")));
            Thread.sleep(100);
        }
        // and frozen, as a kernel waiting in the pool is: its processes cannot die until thawed
        io.sandcell.sandbox.Freezer freezer = new io.sandcell.sandbox.Freezer(Path.of("/sys/fs/cgroup"));
        while (!freezer.freeze(id)) {
            assertTrue(System.currentTimeMillis() < deadline, Files.readString(tmp.resolve("orphan.log")));
            Thread.sleep(100);
        }
        orphan.destroyForcibly();
        orphan.waitFor();
        assertTrue(Files.isDirectory(data.resolve("kernels").resolve(id)));
        assertFalse(sandboxCgroups(id).isEmpty(), "the orphan's sandbox has cgroups");
        try (GatewayFixture gw = new GatewayFixture(data, "--pool-size", "0")) { // nothing may be there after it
            assertEquals(1, gw.server.reconciled());
            assertEquals(List.of(), Leaks.leftovers(data));
            // runsc leaves a killed sandbox's cgroups behind: the gateway removes them with the rest
            assertEquals(List.of(), sandboxCgroups(id));
        }
    }

    @Test
    void aSecondGatewayOnTheSameDirectoriesIsRefusedAndTheFirstKeepsItsKernels() throws Exception {
        Path data = tmp.resolve("data");
        try (GatewayFixture gw = new GatewayFixture(data, "--pool-size", "0")) {
            String k = gw.startKernel();
            assertEquals("1\n", gw.run(k, "x = 1\nprint(x)"));
            String pid = "pid " + ProcessHandle.current().pid();
            IOException same = assertThrows(IOException.class, () -> new GatewayFixture(data));
            assertTrue(same.getMessage().contains("data dir " + data + " is in use by another gateway (" + pid),
                    same.getMessage());
            IOException runtime = assertThrows(IOException.class, () -> new GatewayFixture(tmp.resolve("other"),
                    "--runtime-dir", data.resolve("runtime").toString()));
            assertTrue(runtime.getMessage().contains("runtime dir") && runtime.getMessage().contains(pid),
                    runtime.getMessage());
            assertEquals("1\n", gw.run(k, "print(x)"), "the first gateway's kernel lives on with its state");
            assertTrue(Files.isDirectory(data.resolve("kernels").resolve(k)));
        }
        try (GatewayFixture again = new GatewayFixture(data, "--pool-size", "0")) {
            assertEquals(0, again.server.reconciled(), "the lock went with the first gateway, which left nothing");
        }
    }

    /** The cgroup directories of a kernel's sandboxes, in every hierarchy. */
    private static List<Path> sandboxCgroups(String kernelId) throws Exception {
        String prefix = io.sandcell.sandbox.Freezer.sandboxPrefix(kernelId);
        List<Path> found = new java.util.ArrayList<>();
        try (var controllers = Files.list(Path.of("/sys/fs/cgroup"))) {
            for (Path c : controllers.toList()) {
                for (Path parent : List.of(c.resolve("sandcell"), c)) {
                    if (Files.isDirectory(parent)) {
                        try (var dirs = Files.newDirectoryStream(parent, prefix + "-*")) {
                            dirs.forEach(found::add);
                        }
                    }
                }
            }
        }
        return found;
    }
}
