/**
 * The HTTP edge shared by every resource: {@link io.sandcell.gateway.http.ApiException} and the one
 * {@link io.sandcell.gateway.http.ErrorHandler} that maps failures to {@code {"message","reason"}}, JSON
 * helpers, and the server routes ({@code /api}, {@code /api/status}, {@code /api/me}).
 */
package io.sandcell.gateway.http;
