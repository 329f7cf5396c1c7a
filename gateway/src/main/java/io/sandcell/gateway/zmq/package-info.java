/**
 * The ZeroMQ side of each kernel: one I/O thread per kernel owns every socket (one iopub subscription,
 * and shell, control and stdin dealers per client session) and signs, verifies and routes messages.
 */
package io.sandcell.gateway.zmq;
