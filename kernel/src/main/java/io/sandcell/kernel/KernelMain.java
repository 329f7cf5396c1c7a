package io.sandcell.kernel;

import io.sandcell.cli.UsageException;
import io.sandcell.protocol.ConnectionInfo;
import io.sandcell.protocol.ProtocolException;
import java.io.IOException;
import java.util.Arrays;
import java.util.logging.Logger;
import sun.misc.Signal;

/**
 * {@code java -jar kernel.jar -f <connection-file> [options]} runs a kernel;
 * {@code java -jar kernel.jar install [--user | --prefix P]} installs its kernelspec.
 */
public final class KernelMain {
    private static final Logger LOG = Logger.getLogger(KernelMain.class.getName());

    private KernelMain() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("java.util.logging.SimpleFormatter.format", "[sandcell-kernel %4$s] %5$s%6$s%n");
        if (args.length > 0 && args[0].equals("install")) {
            System.exit(KernelspecInstaller.run(Arrays.copyOfRange(args, 1, args.length)));
        }
        KernelConfig config;
        try {
            var parsed = KernelConfig.options().parse(args, System.getenv());
            if (parsed.bool("--help")) {
                System.out.println(KernelConfig.options().help(
                        "java -jar kernel.jar -f CONNECTION_FILE [options]\n"
                                + "       java -jar kernel.jar install [--user | --prefix PREFIX] [--name NAME]"));
                return;
            }
            config = KernelConfig.from(parsed);
        } catch (UsageException e) {
            System.err.println("sandcell-kernel: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(config));
    }

    static int run(KernelConfig config) throws InterruptedException {
        ConnectionInfo conn;
        KernelServer server;
        try {
            conn = ConnectionInfo.read(config.connectionFile());
        } catch (IOException | ProtocolException e) {
            System.err.println("sandcell-kernel: reading connection file " + config.connectionFile() + ": "
                    + e.getMessage());
            return 1;
        }
        try {
            server = new KernelServer(config, conn);
        } catch (IOException | RuntimeException e) {
            System.err.println("sandcell-kernel: starting kernel " + config.kernelId() + ": " + e.getMessage());
            return 1;
        }
        Thread hook = new Thread(server::close, "shutdown-hook");
        Runtime.getRuntime().addShutdownHook(hook);
        // A terminal's Ctrl-C reaches the kernel's process group: interrupt the cell, as ipykernel does.
        Signal.handle(new Signal("INT"), sig -> server.interrupt());
        server.start();
        LOG.info("kernel " + config.kernelId() + " listening on " + conn);
        server.awaitShutdown();
        server.close();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // a SIGTERM came during the shutdown: the JVM is exiting already, after the hook saw close finish
        }
        return 0;
    }
}
