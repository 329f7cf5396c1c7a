package io.sandcell.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.Header;
import io.sandcell.protocol.Json;
import io.sandcell.protocol.Message;
import io.sandcell.protocol.WireCodec;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zeromq.SocketType;
import org.zeromq.ZMQ;

/** The kernel process's lifecycle from the outside: a killed JVM leaves no sandbox; bad input exits clearly. */
class KernelLifecycleIT {
    @TempDir
    Path tmp;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private ConnectionInfo connection() throws Exception {
        return new ConnectionInfo("tcp", "127.0.0.1", freePort(), freePort(), freePort(), freePort(), freePort(),
                "hmac-sha256", ConnectionInfo.newKey(), "sandcell-python");
    }

    private Message request(ZMQ.Socket dealer, WireCodec codec, String type, com.fasterxml.jackson.databind.node
            .ObjectNode content, long timeoutMs) {
        Message m = Message.create(Header.create(type, "it-session", "it"), null, content);
        List<byte[]> frames = codec.encode(m);
        for (int i = 0; i < frames.size(); i++) {
            dealer.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
        }
        dealer.setReceiveTimeOut((int) timeoutMs);
        byte[] first = dealer.recv(0);
        if (first == null) {
            return null;
        }
        List<byte[]> reply = new ArrayList<>(List.of(first));
        while (dealer.hasReceiveMore()) {
            reply.add(dealer.recv(0));
        }
        return codec.decode(reply);
    }

    @Test
    void killingTheKernelJvmLeavesNoSandboxBehind() throws Exception {
        ConnectionInfo conn = connection();
        Path file = tmp.resolve("kernel-lifecycle.json");
        conn.write(file);
        Path data = tmp.resolve("data");
        ProcessBuilder pb = new ProcessBuilder(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "-f",
                file.toString(), "--data-dir", data.toString()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("kernel.log").toFile());
        Process kernel = pb.start();
        try (ZMQ.Context ctx = ZMQ.context(1); ZMQ.Socket shell = ctx.socket(SocketType.DEALER)) {
            shell.setLinger(0);
            shell.connect(conn.endpoint(conn.shellPort()));
            WireCodec codec = new WireCodec(conn.signer(), null);
            Message info = request(shell, codec, "kernel_info_request", Json.object(), 30_000);
            assertNotNull(info, Files.readString(tmp.resolve("kernel.log")));
            assertEquals("kernel_info_reply", info.msgType());
            // a busy sandbox: without the parent-death signal it would outlive the JVM
            Message started = request(shell, codec, "execute_request", Json.object()
                    .put("code", "print('up')").put("silent", false), 120_000);
            assertNotNull(started, Files.readString(tmp.resolve("kernel.log")));
            Message m = Message.create(Header.create("execute_request", "it-session", "it"), null,
                    Json.object().put("code", "while True: pass"));
            List<byte[]> frames = codec.encode(m);
            for (int i = 0; i < frames.size(); i++) {
                shell.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
            }
            assertEquals(1, TestEnv.runningSandboxes(data).size());
        }
        kernel.destroyForcibly();
        kernel.waitFor();
        long deadline = System.currentTimeMillis() + 15_000;
        List<String> running = TestEnv.runningSandboxes(data);
        while (!running.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
            running = TestEnv.runningSandboxes(data);
        }
        assertEquals(List.of(), running);
        TestEnv.Result ps = TestEnv.run(List.of("ps", "-eo", "args"), Map.of(), tmp, 30, null);
        assertTrue(ps.output().lines().noneMatch(l -> l.contains(data.toString())), ps.output());

        // the killed kernel could not unmount its workspace; the next start of that kernel id cleans up
        assertTrue(mounts().contains(data.resolve("kernels/lifecycle/work").toString()), mounts());
        Process again = pb.start();
        try (ZMQ.Context ctx = ZMQ.context(1); ZMQ.Socket control = ctx.socket(SocketType.DEALER)) {
            control.setLinger(0);
            control.connect(conn.endpoint(conn.controlPort()));
            WireCodec codec = new WireCodec(conn.signer(), null);
            assertNotNull(request(control, codec, "kernel_info_request", Json.object(), 30_000));
            assertNotNull(request(control, codec, "shutdown_request", Json.object().put("restart", false), 30_000));
        }
        assertTrue(again.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(!mounts().contains(data.toString()), mounts());
        assertTrue(!Files.exists(data.resolve("kernels/lifecycle")), "the kernel directory is removed");
    }

    private static String mounts() throws Exception {
        return Files.readString(Path.of("/proc/self/mounts"));
    }

    @Test
    void badInputExitsWithAClearMessage() throws Exception {
        TestEnv.Result r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "-f",
                "x.json", "--memory-mb", "lots"), Map.of(), tmp, 60, null);
        assertEquals(2, r.exit());
        assertTrue(r.output().contains("--memory-mb must be a whole number, not 'lots'"), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString()), Map.of(), tmp, 60, null);
        assertEquals(2, r.exit());
        assertTrue(r.output().contains("-f/--connection-file is required"), r.output());
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "--help"), Map.of(), tmp,
                60, null);
        assertEquals(0, r.exit());
        assertTrue(r.output().contains("SANDCELL_MEMORY_MB"), r.output());
        Files.writeString(tmp.resolve("broken.json"), "{not json");
        r = TestEnv.run(List.of(TestEnv.java(), "-jar", TestEnv.kernelJar().toString(), "-f",
                tmp.resolve("broken.json").toString(), "--data-dir", tmp.resolve("d").toString()), Map.of(), tmp,
                60, null);
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("connection file is not valid JSON"), r.output());
    }
}
