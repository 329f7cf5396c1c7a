package io.sandcell.gateway.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandcell.gateway.http.ApiException;
import io.sandcell.gateway.kernels.KernelManager;
import io.sandcell.gateway.kernels.ManagedKernel;
import io.sandcell.protocol.Json;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sessions: each binds a path (a notebook or console) to a kernel. Creating a session for a path that has
 * one returns the existing session; deleting a session shuts its kernel down. Sessions whose kernel is
 * gone (culled, shut down) disappear.
 */
public final class SessionManager {
    /** One session. */
    private record Session(String id, String path, String name, String type, String kernelId) {
        Session with(String p, String n, String t, String k) {
            return new Session(id, p, n, t, k);
        }
    }

    private final KernelManager kernels;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    public SessionManager(KernelManager kernels) {
        this.kernels = kernels;
    }

    private static String required(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull() || !v.isTextual()) {
            throw ApiException.badRequest("Missing field in JSON data: " + field);
        }
        return v.asText();
    }

    private static JsonNode requireBody(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.badRequest("No JSON data provided");
        }
        return body;
    }

    /** Creates a session, or returns the one that has the same path. */
    public ObjectNode create(JsonNode body) {
        requireBody(body);
        JsonNode legacy = body.path("notebook");
        String path = body.hasNonNull("path") ? required(body, "path")
                : legacy.isObject() && legacy.hasNonNull("path") ? legacy.get("path").asText() : required(body, "path");
        String type = required(body, "type");
        String name = body.path("name").asText("");
        for (Session s : sessions.values()) {
            if (s.path().equals(path) && alive(s)) {
                return model(s);
            }
        }
        String kernelId = kernelFor(body.path("kernel"));
        Session s = new Session(UUID.randomUUID().toString(), path, name, type, kernelId);
        sessions.put(s.id(), s);
        return model(s);
    }

    private String kernelFor(JsonNode kernel) {
        if (kernel.hasNonNull("id")) {
            return kernels.get(kernel.get("id").asText()).id();
        }
        ObjectNode body = Json.object();
        if (kernel.hasNonNull("name")) {
            body.put("name", kernel.get("name").asText());
        }
        return kernels.start(body).id();
    }

    private boolean alive(Session s) {
        try {
            kernels.get(s.kernelId());
            return true;
        } catch (ApiException e) {
            return false;
        }
    }

    private Session find(String id) {
        Session s = sessions.get(id);
        if (s == null || !alive(s)) {
            if (s != null) {
                sessions.remove(id);
            }
            throw ApiException.notFound("Session not found: " + id);
        }
        return s;
    }

    public ObjectNode get(String id) {
        return model(find(id));
    }

    public List<ObjectNode> list() {
        List<ObjectNode> out = new ArrayList<>();
        for (Session s : List.copyOf(sessions.values())) {
            if (alive(s)) {
                out.add(model(s));
            } else {
                sessions.remove(s.id());
            }
        }
        return out;
    }

    /** Changes path, name, type or kernel (by id, or a new kernel by name, shutting the old one down). */
    public ObjectNode update(String id, JsonNode body) {
        requireBody(body);
        Session s = find(id);
        String path = body.hasNonNull("path") ? body.get("path").asText() : s.path();
        String name = body.hasNonNull("name") ? body.get("name").asText() : s.name();
        String type = body.hasNonNull("type") ? body.get("type").asText() : s.type();
        String kernelId = s.kernelId();
        JsonNode k = body.path("kernel");
        if (k.isObject() && (k.hasNonNull("id") || k.hasNonNull("name"))) {
            String old = kernelId;
            kernelId = kernelFor(k);
            if (!old.equals(kernelId)) {
                try {
                    kernels.shutdown(old);
                } catch (ApiException ignored) {
                    // already gone
                }
            }
        }
        Session updated = s.with(path, name, type, kernelId);
        sessions.put(id, updated);
        return model(updated);
    }

    /** Deletes the session and shuts its kernel down. */
    public Future<Void> delete(String id) {
        Session s = sessions.remove(id);
        if (s == null) {
            throw ApiException.notFound("Session not found: " + id);
        }
        try {
            return kernels.shutdown(s.kernelId());
        } catch (ApiException e) {
            throw new ApiException(410, "Gone", "Kernel of session " + id + " is already gone");
        }
    }

    private ObjectNode model(Session s) {
        ManagedKernel k = kernels.get(s.kernelId());
        ObjectNode m = Json.object();
        m.put("id", s.id());
        m.put("path", s.path());
        m.put("name", s.name());
        m.put("type", s.type());
        m.set("kernel", k.model());
        if ("notebook".equals(s.type())) {
            m.putObject("notebook").put("path", s.path()).put("name", s.name());
        }
        return m;
    }
}
