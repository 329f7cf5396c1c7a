/**
 * Command-line and environment options shared by the kernel and the gateway: every option has a flag, an
 * environment variable, a default and a line of help. No dependencies beyond the JDK.
 */
package io.sandcell.cli;
