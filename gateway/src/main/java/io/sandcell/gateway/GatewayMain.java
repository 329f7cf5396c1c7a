package io.sandcell.gateway;

import io.sandcell.cli.Options;
import io.sandcell.cli.UsageException;
import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.kernel.KernelConfig;
import io.sandcell.sandbox.HostCheck;
import io.sandcell.sandbox.SandboxLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/** {@code java -jar gateway.jar [options]}: starts the gateway and prints its URL, as Jupyter does. */
public final class GatewayMain {
    private static final Logger LOG = Logger.getLogger(GatewayMain.class.getName());

    private GatewayMain() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("java.util.logging.SimpleFormatter.format", "[sandcell %1$tT %4$s] %5$s%6$s%n");
        GatewayConfig config;
        try {
            Options.Parsed parsed = GatewayConfig.options().parse(args, System.getenv());
            if (parsed.bool("--help")) {
                System.out.println(GatewayConfig.options().help("java -jar gateway.jar [options]"));
                return;
            }
            config = GatewayConfig.from(parsed);
        } catch (UsageException e) {
            System.err.println("sandcell: " + e.getMessage());
            System.exit(2);
            return;
        }
        List<String> problems;
        try {
            problems = hostProblems();
        } catch (UsageException e) {
            System.err.println("sandcell: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (!problems.isEmpty()) {
            System.err.println("sandcell: sandboxes cannot start here, so the gateway does not:\n  - "
                    + String.join("\n  - ", problems));
            System.exit(1);
            return;
        }
        GatewayServer server;
        int port;
        try {
            server = GatewayServer.create(config, System.getenv());
            port = server.start().await();
        } catch (Exception e) {
            System.err.println("sandcell: starting the gateway failed: " + e.getMessage());
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "gateway-shutdown"));
        if (server.reconciled() > 0) {
            LOG.info("removed " + server.reconciled() + " kernel(s) left by an earlier run");
        }
        // listening on every address (a container's default): 0.0.0.0 is no URL to open, the loopback one is
        boolean everywhere = config.ip().equals("0.0.0.0") || config.ip().equals("::");
        String host = everywhere ? "127.0.0.1" : config.ip().contains(":") ? "[" + config.ip() + "]" : config.ip();
        String url = "http://" + host + ":" + port + config.baseUrl();
        if (everywhere) {
            LOG.info("listening on every address (" + config.ip() + "), port " + port);
        }
        switch (config.authMode()) {
            case TOKEN -> System.out.println("Sandcell gateway is running at:\n    " + url + "?token="
                    + config.token() + "\n    (token: " + config.token() + ")");
            case PASSWORD -> System.out.println("Sandcell gateway is running at:\n    " + url
                    + "\n    (password login)");
            case NONE -> {
                System.out.println("Sandcell gateway is running at:\n    " + url);
                LOG.warning("AUTHENTICATION IS OFF (--no-auth): anyone who can reach " + url
                        + " can run code in sandboxes. Use it only behind another access control.");
            }
        }
        System.out.flush();
    }

    /** What stops sandboxes here, with the kernel options the embedded kernels take from the environment. */
    private static List<String> hostProblems() throws Exception {
        Options.Parsed kernel = KernelConfig.options().parse(new String[0], System.getenv());
        Path scratch = Files.createTempDirectory("sandcell-check");
        try {
            return new HostCheck(kernel.path("--runsc"), kernel.get("--platform"), kernel.integer("--workspace-mb"))
                    .problems(scratch);
        } finally {
            SandboxLayout.deleteTree(scratch);
        }
    }
}
