package io.sandcell.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * A Jupyter connection file: transport, address, the five ports and the signing key. {@link #toString()}
 * never shows the key.
 */
public record ConnectionInfo(String transport, String ip, int shellPort, int iopubPort, int stdinPort,
                             int controlPort, int hbPort, String signatureScheme, String key, String kernelName) {

    public ConnectionInfo {
        if (!"tcp".equals(transport) && !"ipc".equals(transport)) {
            throw new ProtocolException("unsupported transport " + transport + " (tcp or ipc)");
        }
        if (ip == null || ip.isEmpty()) {
            throw new ProtocolException("connection file has no ip");
        }
        signatureScheme = signatureScheme == null || signatureScheme.isEmpty() ? "hmac-sha256" : signatureScheme;
        key = key == null ? "" : key;
        kernelName = kernelName == null ? "" : kernelName;
    }

    /** Reads a connection file. */
    public static ConnectionInfo read(Path file) throws IOException {
        return parse(Files.readAllBytes(file));
    }

    public static ConnectionInfo parse(byte[] json) {
        ObjectNode n = Json.parseObject(json, "connection file");
        return new ConnectionInfo(text(n, "transport", "tcp"), text(n, "ip", "127.0.0.1"),
                port(n, "shell_port"), port(n, "iopub_port"), port(n, "stdin_port"), port(n, "control_port"),
                port(n, "hb_port"), text(n, "signature_scheme", "hmac-sha256"), text(n, "key", ""),
                text(n, "kernel_name", ""));
    }

    private static String text(JsonNode n, String field, String dflt) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    private static int port(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() > 65535) {
            throw new ProtocolException("connection file has no valid " + field);
        }
        return v.asInt();
    }

    /** A fresh random key, 32 bytes of hex. */
    public static String newKey() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** The ZeroMQ endpoint for one port, e.g. {@code tcp://127.0.0.1:5555} or {@code ipc:///path-5555}. */
    public String endpoint(int port) {
        return "tcp".equals(transport) ? "tcp://" + ip + ":" + port : "ipc://" + ip + "-" + port;
    }

    public int port(Channel channel) {
        return switch (channel) {
            case SHELL -> shellPort;
            case IOPUB -> iopubPort;
            case STDIN -> stdinPort;
            case CONTROL -> controlPort;
            case HB -> hbPort;
        };
    }

    public Signer signer() {
        return Signer.create(signatureScheme, key);
    }

    public ConnectionInfo withPorts(int shell, int iopub, int stdin, int control, int hb) {
        return new ConnectionInfo(transport, ip, shell, iopub, stdin, control, hb, signatureScheme, key,
                kernelName);
    }

    public ObjectNode toJson() {
        ObjectNode n = Json.object();
        n.put("shell_port", shellPort);
        n.put("iopub_port", iopubPort);
        n.put("stdin_port", stdinPort);
        n.put("control_port", controlPort);
        n.put("hb_port", hbPort);
        n.put("ip", ip);
        n.put("transport", transport);
        n.put("signature_scheme", signatureScheme);
        n.put("key", key);
        n.put("kernel_name", kernelName);
        return n;
    }

    /** Writes the file readable by its owner only, as jupyter_client does. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(tmp, Json.text(toJson()).getBytes(StandardCharsets.UTF_8), StandardOpenOption.TRUNCATE_EXISTING);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public String toString() {
        return "ConnectionInfo[" + transport + "://" + ip + " shell=" + shellPort + " iopub=" + iopubPort
                + " stdin=" + stdinPort + " control=" + controlPort + " hb=" + hbPort + ", " + signatureScheme
                + ", key=" + (key.isEmpty() ? "<none>" : "<redacted>") + "]";
    }
}
