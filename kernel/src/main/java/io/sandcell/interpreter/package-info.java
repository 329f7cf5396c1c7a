/**
 * The seam between the kernel and the code runner inside a sandbox: the driver's newline-delimited JSON
 * protocol ({@link io.sandcell.interpreter.DriverEvent}) and a session over one sandbox's pipes
 * ({@link io.sandcell.interpreter.DriverSession}). Depends on {@code io.sandcell.sandbox} and Jackson.
 */
package io.sandcell.interpreter;
