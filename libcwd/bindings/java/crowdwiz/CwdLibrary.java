package crowdwiz;

import com.sun.jna.Callback;
import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The C ABI of libcwd_gateway (libcwd/include/cwd_gateway.h) as JNA sees it. Every string
 * goes in as NUL-terminated UTF-8 bytes ({@link #utf8}) and comes out as a {@link Pointer}
 * the binding reads and then frees with cwd_string_free: JNA's own String mapping is not
 * used, so the platform charset never matters and JNA never owns library memory.
 * Loaded by name: {@code -Djna.library.path=target/debug} (or LD_LIBRARY_PATH).
 */
public interface CwdLibrary extends Library {
    CwdLibrary LIB = Native.load("cwd_gateway", CwdLibrary.class);

    /** cwd_event_fn. */
    interface EventFn extends Callback {
        void invoke(Pointer userData, Pointer eventJson);
    }

    /** cwd_store_fn. */
    interface StoreFn extends Callback {
        int invoke(Pointer userData, Pointer requestJson, Pointer response);
    }

    /** size_t. */
    final class SizeT extends IntegerType {
        private static final long serialVersionUID = 1L;

        public SizeT() {
            this(0);
        }

        public SizeT(long value) {
            super(Native.SIZE_T_SIZE, value, true);
        }
    }

    Pointer cwd_version();

    void cwd_string_free(Pointer s);

    void cwd_buffer_set(Pointer response, byte[] data, SizeT len);

    int cwd_gateway_new(byte[] configToml, byte[] keysToml, Pointer store, PointerByReference out, PointerByReference error);

    int cwd_gateway_call(Pointer gw, byte[] function, byte[] argsJson, PointerByReference out);

    int cwd_gateway_set_event_callback(Pointer gw, EventFn callback, Pointer userData);

    int cwd_gateway_start_timer(Pointer gw);

    int cwd_gateway_stop_timer(Pointer gw);

    void cwd_gateway_free(Pointer gw);

    int cwd_devnet_start(byte[] optionsJson, PointerByReference out, PointerByReference info);

    int cwd_devnet_control(Pointer devnet, byte[] method, byte[] paramsJson, PointerByReference out);

    void cwd_devnet_free(Pointer devnet);

    /** NUL-terminated UTF-8; null stays null (a NULL pointer). */
    static byte[] utf8(String s) {
        if (s == null) {
            return null;
        }
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    /** Reads a NUL-terminated UTF-8 string without taking it (borrowed or static). */
    static String read(Pointer p) {
        return p == null ? null : p.getString(0, "UTF-8");
    }

    /** Reads a string the library handed over and frees it with cwd_string_free. */
    static String take(Pointer p) {
        if (p == null) {
            return null;
        }
        try {
            return read(p);
        } finally {
            LIB.cwd_string_free(p);
        }
    }
}
