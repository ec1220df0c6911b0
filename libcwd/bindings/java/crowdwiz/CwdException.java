package crowdwiz;

import java.util.Map;

/**
 * A non-zero cwd_status with the library's JSON error {"error": {"code", "message", ...}}
 * (and, for CWD_ERR_GATEWAY, the HTTP API's status).
 */
public final class CwdException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int rawStatus;
    private final String code;
    private final String errorMessage;
    private final Integer httpStatus;
    private final String errorJson;

    CwdException(String what, int status, String errorJson) {
        super(what + ": " + CwdStatus.of(status) + " (" + status + "): " + (errorJson == null ? "(no error text)" : errorJson));
        this.rawStatus = status;
        this.errorJson = errorJson;
        String c = "unknown";
        String m = errorJson == null ? "(no error text)" : errorJson;
        Integer h = null;
        try {
            Object root = Json.parse(errorJson);
            Object err = Json.get(root, "error");
            if (err instanceof Map) {
                if (Json.get(err, "code") instanceof String) {
                    c = (String) Json.get(err, "code");
                }
                if (Json.get(err, "message") instanceof String) {
                    m = (String) Json.get(err, "message");
                }
            }
            // "status" may sit at the top or inside "error": take either.
            Object st = Json.get(root, "status") != null ? Json.get(root, "status") : Json.get(err, "status");
            if (st instanceof Long) {
                h = ((Long) st).intValue();
            }
        } catch (IllegalArgumentException ignored) {
            // not JSON: the message keeps the text
        }
        this.code = c;
        this.errorMessage = m;
        this.httpStatus = h;
    }

    /** The status as returned. */
    public CwdStatus status() {
        return CwdStatus.of(rawStatus);
    }

    public int rawStatus() {
        return rawStatus;
    }

    /** The error's stable code ("wrong-code", "insufficient-balance", ...). */
    public String code() {
        return code;
    }

    /** The error's message, for a person. */
    public String errorMessage() {
        return errorMessage;
    }

    /** The HTTP API's status for CWD_ERR_GATEWAY (409, 422, ...), else null. */
    public Integer httpStatus() {
        return httpStatus;
    }

    /** The whole error JSON (null when the library gave none). */
    public String errorJson() {
        return errorJson;
    }
}
