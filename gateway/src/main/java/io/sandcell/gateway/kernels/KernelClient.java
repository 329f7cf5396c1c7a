package io.sandcell.gateway.kernels;

import io.sandcell.protocol.Channel;
import io.sandcell.protocol.Message;

/** A websocket client attached to a kernel. Calls may come from any thread. */
public interface KernelClient {
    /** The client's session id (its ZeroMQ identity). */
    String session();

    /** A message from the kernel for this client. */
    void deliver(Channel channel, Message message);

    /** The kernel is gone; close the connection. */
    void close(String reason);
}
