/** The gateway's one configuration record: every option with its flag, environment variable, default and help. */
package io.sandcell.gateway.config;
