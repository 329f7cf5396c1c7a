package io.sandcell.gateway.http;

/**
 * A failure with an HTTP meaning. Handlers throw these (or fail their futures with them); {@link ErrorHandler}
 * turns them into {@code {"message", "reason"}} with the status. The message is shown to the client.
 */
public class ApiException extends RuntimeException {
    private final int status;
    private final String reason;

    public ApiException(int status, String reason, String message) {
        super(message);
        this.status = status;
        this.reason = reason;
    }

    public int status() {
        return status;
    }

    public String reason() {
        return reason;
    }

    public static ApiException badRequest(String message) {
        return new ApiException(400, "Bad Request", message);
    }

    public static ApiException unauthorized(String message) {
        return new ApiException(401, "Unauthorized", message);
    }

    public static ApiException forbidden(String message) {
        return new ApiException(403, "Forbidden", message);
    }

    public static ApiException notFound(String message) {
        return new ApiException(404, "Not Found", message);
    }

    /** The kernel limit: 403 with reason "Resource Limit", as Kernel Gateway answers. */
    public static ApiException resourceLimit(String message) {
        return new ApiException(403, "Resource Limit", message);
    }
}
