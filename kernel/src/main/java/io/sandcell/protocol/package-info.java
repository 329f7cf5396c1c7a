/**
 * The Jupyter messaging protocol on the wire: connection files, message framing, HMAC signing and the
 * replay guard. Shared by the kernel and the gateway. Depends only on Jackson; nothing here knows about
 * sandboxes, ZeroMQ sockets or HTTP.
 */
package io.sandcell.protocol;
