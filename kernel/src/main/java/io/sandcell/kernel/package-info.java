/**
 * The Jupyter kernel process: its configuration, the ZeroMQ sockets and their threads, request dispatch,
 * the sandbox it runs code in, and the kernelspec installer. Depends on {@code protocol}, {@code sandbox},
 * {@code interpreter} and {@code cli}.
 */
package io.sandcell.kernel;
