package io.sandcell.gateway.auth;

import io.sandcell.gateway.config.GatewayConfig;
import io.sandcell.gateway.config.GatewayConfig.AuthMode;
import io.sandcell.gateway.http.ApiException;
import io.vertx.ext.web.RoutingContext;

/**
 * Authentication of OpenAPI tool calls: {@code Authorization: Bearer <key>} where the key is the gateway token
 * or the tool key ({@code --tool-key}). Login cookies do not count (tool calls come from a server, not a
 * browser). In no-auth mode without a tool key, tool calls are open like the rest of the gateway.
 */
public final class ToolAuth {
    private final byte[] tokenDigest;
    private final byte[] toolKeyDigest;
    private final boolean open;

    public ToolAuth(GatewayConfig config) {
        String token = config.token();
        String key = config.tools().key();
        this.tokenDigest = token == null || token.isEmpty() || config.authMode() == AuthMode.NONE ? null
                : Auth.digest(token);
        this.toolKeyDigest = key.isEmpty() ? null : Auth.digest(key);
        this.open = config.authMode() == AuthMode.NONE && toolKeyDigest == null;
    }

    /** Whether any key can pass (false in password mode with neither a token nor a tool key). */
    public boolean usable() {
        return open || tokenDigest != null || toolKeyDigest != null;
    }

    /**
     * @throws ApiException 401 unless the request carries a valid key
     */
    public void check(RoutingContext ctx) {
        if (open) {
            return;
        }
        String presented = Auth.presentedToken(ctx);
        if (Auth.matches(tokenDigest, presented) || Auth.matches(toolKeyDigest, presented)) {
            return;
        }
        throw ApiException.unauthorized("Unauthorized: tool calls need Authorization: Bearer <key> with the "
                + "gateway token or the tool key");
    }
}
