package io.sandcell.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real Jupyter clients against the gateway: @jupyterlab/services directly, jupyter-server in gateway mode, and
 * the classic Notebook page in a browser.
 */
class JupyterClientsIT {
    @TempDir
    Path tmp;

    @Test
    void jupyterlabServicesWithTheV1Subprotocol() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            Path clients = OpenWebUiClientIT.clients();
            String out = OpenWebUiClientIT.runClient(List.of("node", clients.resolve("jlab_services.js").toString(),
                    gw.base(), GatewayFixture.TOKEN), 600);
            assertEquals(4, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
            Leaks.assertNoneLeft(gw);
        }
    }

    @Test
    void jupyterServerInGatewayMode() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            try (GatewayModeServer server = new GatewayModeServer("server", gw, tmp)) {
                String out = OpenWebUiClientIT.runClient(List.of("/usr/bin/python3",
                        OpenWebUiClientIT.clients().resolve("gateway_mode.py").toString(), server.url,
                        GatewayModeServer.TOKEN), 600);
                assertEquals(4, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
            }
            Leaks.assertNoneLeft(gw);
        }
    }

    /**
     * A person at the classic Notebook page in headless Chromium, its kernels in the gateway: print, plot,
     * interrupt a loop, restart, save and reopen (see notebook_browser.js).
     */
    @Test
    void theNotebookPageInABrowser() throws Exception {
        try (GatewayFixture gw = new GatewayFixture(tmp.resolve("data"))) {
            try (GatewayModeServer server = new GatewayModeServer("notebook", gw, tmp)) {
                Files.writeString(server.root.resolve("sandbox.ipynb"), """
                        {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                        "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}""");
                String page = server.url + "notebooks/sandbox.ipynb?token=" + GatewayModeServer.TOKEN;
                String out = OpenWebUiClientIT.runClient(List.of("node", OpenWebUiClientIT.clients()
                        .resolve("notebook_browser.js").toString(), page, tmp.resolve("chromium").toString()), 600);
                assertEquals(6, out.lines().filter(l -> l.startsWith("PASS")).count(), out);
                String saved = Files.readString(server.root.resolve("sandbox.ipynb"));
                assertTrue(saved.contains("hello from the sandbox 42") && saved.contains("image/png")
                        && saved.contains("KeyboardInterrupt"), "the saved notebook holds the outputs: " + saved);
            }
            Leaks.assertNoneLeft(gw);
        }
    }
}
