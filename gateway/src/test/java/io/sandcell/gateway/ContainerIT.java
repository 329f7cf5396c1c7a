package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.Volume;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The container image (gateway/Dockerfile, built by .ci/image) run through Testcontainers, with the least
 * privileges docs/container.md documents: Open WebUI's Jupyter flow, the tool server, containment inside
 * the container, the start-up check without privileges, and the data volume across a restart.
 * Needs the image and a Docker API; .ci/test provides both (podman's) and names the image in
 * {@code sandcell.image}. Without it these tests are skipped, and reported so.
 */
class ContainerIT {
    private static final String IMAGE = System.getProperty("sandcell.image", "");
    private static final String TOKEN = "container-token-0123456789abcdef";
    private final HttpClient http = HttpClient.newHttpClient();

    /** The documented least privilege: CAP_SYS_ADMIN, writable cgroups, the loop-device quota off. */
    private static GenericContainer<?> gateway(String volume) {
        assumeTrue(!IMAGE.isEmpty(), "no image named in sandcell.image (bash .ci/image, then .ci/test)");
        return new GenericContainer<>(IMAGE).withImagePullPolicy(name -> false)
                .withEnv("SANDCELL_TOKEN", TOKEN).withEnv("SANDCELL_WORKSPACE_MB", "0")
                .withExposedPorts(8888)
                .withCreateContainerCmdModifier(cmd -> {
                    List<Bind> binds = new ArrayList<>(List.of(Bind.parse("/sys/fs/cgroup:/sys/fs/cgroup:rw")));
                    if (volume != null) {
                        binds.add(new Bind(volume, new Volume("/data")));
                    }
                    cmd.getHostConfig().withCapAdd(Capability.SYS_ADMIN).withBinds(binds);
                })
                .waitingFor(Wait.forHttp("/health").forStatusCode(200).withStartupTimeout(Duration.ofMinutes(3)));
    }

    private static String url(GenericContainer<?> c) {
        return "http://" + c.getHost() + ":" + c.getMappedPort(8888);
    }

    private JsonNode tool(GenericContainer<?> c, String chat, String code) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url(c) + "/tools/execute_python"))
                .header("Authorization", "Bearer " + TOKEN).header("X-Chat-Id", chat)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(io.sandcell.protocol.Json.mapper().writeValueAsString(
                        Map.of("code", code)))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return GatewayFixture.json(r);
    }

    @Test
    void openWebUiFlowsAndContainmentInTheContainer() throws Exception {
        try (GenericContainer<?> c = gateway(null)) {
            c.start();
            assertTrue(c.getLogs().contains("Sandcell gateway is running at:\n    http://127.0.0.1:8888/?token="),
                    "the printed URL is one to open, not 0.0.0.0: " + c.getLogs());
            String out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3", OpenWebUiClientIT.clients()
                    .resolve("openwebui_client.py").toString(), url(c), "token", TOKEN, "3"), 600);
            assertTrue(out.contains("PASS stream, display_data image/png and execute_result"), out);
            assertTrue(out.contains("PASS errors arrive as tracebacks"), out);

            String chat = UUID.randomUUID().toString();
            tool(c, chat, "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})");
            assertEquals("3\n", tool(c, chat, "print(df['a'].sum())").path("stdout").asText());

            JsonNode r = tool(c, chat, "import os, socket\nprint(os.uname().release)\n"
                    + "for host in ['127.0.0.1', '" + c.getContainerInfo().getNetworkSettings().getNetworks()
                    .values().iterator().next().getIpAddress() + "', '" + gatewayAddress(c) + "']:\n"
                    + "    try:\n"
                    + "        socket.create_connection((host, 8888), timeout=3)\n"
                    + "        print('reached', host)\n"
                    + "    except OSError as e:\n"
                    + "        print('refused', host, type(e).__name__)\n");
            String text = r.path("stdout").asText();
            assertTrue(text.startsWith("4.4.0\n"), "gVisor's kernel inside the container: " + r);
            assertFalse(text.contains("reached"), "a cell reached the gateway port or the host: " + r);
            assertEquals(3, text.lines().filter(l -> l.startsWith("refused")).count(), r.toString());
        }
    }

    /** The container network's gateway: the host as the container sees it. */
    private static String gatewayAddress(GenericContainer<?> c) {
        return c.getContainerInfo().getNetworkSettings().getNetworks().values().iterator().next().getGateway();
    }

    @Test
    void withoutPrivilegesTheContainerExitsNamingWhatIsMissing() throws Exception {
        assumeTrue(!IMAGE.isEmpty(), "no image named in sandcell.image (bash .ci/image, then .ci/test)");
        DockerClient docker = DockerClientFactory.instance().client();
        String id = docker.createContainerCmd(IMAGE).withEnv("SANDCELL_TOKEN=" + TOKEN).exec().getId();
        try {
            docker.startContainerCmd(id).exec();
            int code = docker.waitContainerCmd(id).start().awaitStatusCode(120, TimeUnit.SECONDS);
            String logs = logs(docker, id);
            assertEquals(1, code, logs);
            assertTrue(logs.contains("sandboxes cannot start here") && logs.contains("--cap-add SYS_ADMIN")
                    && logs.contains("-v /sys/fs/cgroup:/sys/fs/cgroup:rw")
                    && logs.contains("SANDCELL_WORKSPACE_MB=0"), logs);
            assertFalse(logs.contains("Exception") || logs.contains("\tat "), "no stack trace: " + logs);
        } finally {
            docker.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec(); // and its /data
        }
    }

    /**
     * docs/compose.yaml: its sandcell service starts with the file's own privileges and becomes healthy, and
     * Open WebUI's tool connection is valid JSON once the token is filled in. Open WebUI's image cannot be
     * pulled here, so that service is checked, not started.
     */
    @Test
    void theComposeFileStartsTheGatewayAndConfiguresOpenWebUi() throws Exception {
        assumeTrue(!IMAGE.isEmpty(), "no image named in sandcell.image (bash .ci/image, then .ci/test)");
        Path compose = Path.of("..", "docs", "compose.yaml").toAbsolutePath().normalize();
        String project = "sandcell-it-" + UUID.randomUUID().toString().substring(0, 8);
        String check = "import json, sys, yaml\n"
                + "env = yaml.safe_load(open(sys.argv[1]))['services']['open-webui']['environment']\n"
                + "tools = json.loads(env['TOOL_SERVER_CONNECTIONS'].replace('${SANDCELL_TOKEN}', 'T'))\n"
                + "assert tools[0]['url'] == env['CODE_EXECUTION_JUPYTER_URL'] == 'http://sandcell:8888'\n"
                + "print('valid')\n";
        assertEquals("valid\n", OpenWebUiClientIT.runClient(List.of("/usr/bin/python3", "-c", check,
                compose.toString()), 60));
        try {
            compose(compose, project, "up", "-d", "sandcell");
            String container = project + "_sandcell_1";
            long deadline = System.currentTimeMillis() + 180_000;
            while (new ProcessBuilder("podman", "exec", container, "curl", "-fsS", "http://127.0.0.1:8888/health")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                    .waitFor() != 0) {
                assertTrue(System.currentTimeMillis() < deadline, "the compose service never became healthy: "
                        + compose(compose, project, "logs", "sandcell"));
                Thread.sleep(500);
            }
        } finally {
            compose(compose, project, "down", "-v");
        }
    }

    private static String compose(Path file, String project, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("podman-compose", "-p", project, "-f", file.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SANDCELL_TOKEN", TOKEN);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), out);
        return out;
    }

    private static String logs(DockerClient docker, String id) throws InterruptedException {
        StringBuilder b = new StringBuilder();
        docker.logContainerCmd(id).withStdOut(true).withStdErr(true).exec(new ResultCallback.Adapter<Frame>() {
            @Override
            public void onNext(Frame frame) {
                b.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
            }
        }).awaitCompletion(30, TimeUnit.SECONDS);
        return b.toString();
    }

    /** The volume keeps the sandbox image: a second container on it builds none, and starts its pool from it. */
    @Test
    void theDataVolumeKeepsTheSandboxImageAcrossARestart() throws Exception {
        String volume = "sandcell-it-" + UUID.randomUUID();
        DockerClient docker = DockerClientFactory.instance().client();
        try {
            String first;
            try (GenericContainer<?> c = gateway(volume)) {
                c.start();
                awaitPool(c);
                first = c.execInContainer("sh", "-c", "ls -l --time-style=+%s /data/snapshots /data/base").getStdout();
                assertTrue(first.contains("total"), first);
            }
            try (GenericContainer<?> c = gateway(volume)) {
                c.start();
                awaitPool(c);
                String second = c.execInContainer("sh", "-c", "ls -l --time-style=+%s /data/snapshots /data/base")
                        .getStdout();
                assertEquals(first, second, "the second container reused the volume's sandbox image");
                assertEquals("2\n", tool(c, UUID.randomUUID().toString(), "print(1 + 1)").path("stdout").asText());
            }
        } finally {
            docker.removeVolumeCmd(volume).exec();
        }
    }

    private void awaitPool(GenericContainer<?> c) throws Exception {
        long deadline = System.currentTimeMillis() + 180_000;
        while (true) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url(c) + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (GatewayFixture.json(r).path("pool_ready").asInt() > 0) {
                return;
            }
            assertTrue(System.currentTimeMillis() < deadline, "the pool never filled: " + c.getLogs());
            Thread.sleep(250);
        }
    }
}
