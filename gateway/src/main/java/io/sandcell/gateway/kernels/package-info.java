/**
 * Kernels as the gateway manages them: kernelspecs, launching kernel processes, their lifecycle
 * (starting, idle/busy, restarting, dead), the websocket clients attached to each, culling, and the REST
 * routes of {@code /api/kernels} and {@code /api/kernelspecs}.
 */
package io.sandcell.gateway.kernels;
