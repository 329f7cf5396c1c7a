/**
 * The host side of a gVisor sandbox: its configuration, the shared read-only file layout, the OCI bundle,
 * the {@code runsc} command line and the lifecycle of one sandbox. Knows nothing about Jupyter messages;
 * the in-sandbox driver's protocol lives in {@code io.sandcell.interpreter}.
 */
package io.sandcell.sandbox;
