/**
 * The kernel websocket: the three framings ({@link io.sandcell.gateway.ws.WsFrames}), one client connection
 * per websocket, and the upgrade handler that checks the kernel, the origin and the subprotocol.
 */
package io.sandcell.gateway.ws;
