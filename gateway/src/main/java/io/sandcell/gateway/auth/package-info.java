/**
 * Authentication: the API token (query, {@code Authorization: token} or {@code Bearer}), password login
 * with an {@code _xsrf} cookie and a login cookie (Open WebUI's "password" mode), and the explicit no-auth
 * mode. Secrets are compared in constant time and never logged.
 */
package io.sandcell.gateway.auth;
