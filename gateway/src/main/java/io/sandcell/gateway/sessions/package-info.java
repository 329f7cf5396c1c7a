/** The {@code /api/sessions} resource: a path bound to a kernel, as jupyter_server keeps it. */
package io.sandcell.gateway.sessions;
