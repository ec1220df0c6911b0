package crowdwiz;

/** cwd_status values (cwd_gateway.h). */
public enum CwdStatus {
    OK(0), INVALID_ARGUMENT(1), CONFIG(2), GATEWAY(3), HOST(4), PANIC(5), UNKNOWN(-1);

    public final int value;

    CwdStatus(int value) {
        this.value = value;
    }

    public static CwdStatus of(int value) {
        for (CwdStatus s : values()) {
            if (s.value == value) {
                return s;
            }
        }
        return UNKNOWN;
    }
}
