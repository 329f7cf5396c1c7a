/**
 * The gateway: a Jupyter Server compatible REST and kernel websocket endpoint over sandboxed kernels.
 * {@code config} holds the one configuration record; {@code http} the error model; {@code auth} token,
 * password and no-auth modes; {@code kernels} the kernel manager and its REST routes; {@code sessions} the
 * sessions API; {@code zmq} the ZeroMQ side of each kernel; {@code ws} the websocket bridge and framings.
 */
package io.sandcell.gateway;
