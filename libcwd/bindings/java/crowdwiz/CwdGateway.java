package crowdwiz;

import com.sun.jna.CallbackReference;
import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * A gateway: the CrowdWiz gateway component hosted by libcwd_gateway, called by name with
 * JSON. Thread-safe: {@link #call} from any number of threads at once. Close it when done:
 * {@link #close} waits for the calls in progress (never close from a callback). There is
 * no cleaner: a gateway never closed keeps its threads and timer (and its callbacks, so
 * that they never dangle).
 *
 * <p>The callback objects JNA hands to the library are fields of this object, so they
 * live exactly as long as the gateway: JNA frees a callback's native stub when its Java
 * object is collected, and the library would then call freed memory.
 */
public final class CwdGateway implements AutoCloseable {
    private static final CwdLibrary LIB = CwdLibrary.LIB;
    /** Open gateways: one forgotten without close() leaks, but its callbacks never dangle. */
    private static final Set<CwdGateway> OPEN = ConcurrentHashMap.newKeySet();

    private volatile Pointer handle;
    private volatile Consumer<String> onEvent;
    private final CwdStore store;
    private final Memory storeStruct; // cwd_store {call, user_data}, kept for the lifetime

    /** Where an exception thrown by an event handler goes (it must not reach native code). */
    public static volatile Consumer<Throwable> callbackError =
            e -> System.err.println("cwd_gateway event callback threw: " + e);

    private final CwdLibrary.EventFn eventFn = new CwdLibrary.EventFn() {
        @Override
        public void invoke(Pointer userData, Pointer eventJson) {
            try {
                Consumer<String> f = onEvent;
                if (f != null) {
                    f.accept(CwdLibrary.read(eventJson)); // borrowed: never freed here
                }
            } catch (Throwable e) {
                try {
                    callbackError.accept(e);
                } catch (Throwable ignored) {
                    // nothing may unwind into the library
                }
            }
        }
    };

    private final CwdLibrary.StoreFn storeFn = new CwdLibrary.StoreFn() {
        @Override
        public int invoke(Pointer userData, Pointer requestJson, Pointer response) {
            // JNA would answer 0 ("answered") for an exception: catch everything.
            try {
                String answer = store.handle(CwdLibrary.read(requestJson));
                if (answer == null) {
                    return 1;
                }
                byte[] b = answer.getBytes(StandardCharsets.UTF_8);
                LIB.cwd_buffer_set(response, b, new CwdLibrary.SizeT(b.length));
                return 0;
            } catch (Throwable e) {
                try {
                    byte[] b = (e.getClass().getSimpleName() + ": " + e.getMessage()).getBytes(StandardCharsets.UTF_8);
                    LIB.cwd_buffer_set(response, b, new CwdLibrary.SizeT(b.length));
                } catch (Throwable ignored) {
                    // the status says enough
                }
                return 1;
            }
        }
    };

    /** The library's version line (cwd_version). */
    public static String version() {
        return CwdLibrary.read(LIB.cwd_version()); // static: never freed
    }

    /** A gateway with the SQLite or PostgreSQL store of the configuration's [store]. */
    public CwdGateway(String configToml, String keysToml) {
        this(configToml, keysToml, null);
    }

    /**
     * cwd_gateway_new: {@code configToml} is the same TOML as `cwd-gateway run`'s file;
     * {@code keysToml} ("active_wif = ...\nmemo_wif = ...") may be null (then [keys] file or
     * the environment); {@code store} may be null (then [store]).
     */
    public CwdGateway(String configToml, String keysToml, CwdStore store) {
        if (configToml == null) {
            throw new NullPointerException("configToml");
        }
        this.store = store;
        // The library's threads stay attached to the JVM between callbacks (as daemons, so
        // they never keep it alive): attaching and detaching on every store operation or
        // event costs more than the operation. JNA detaches them when they end.
        Native.setCallbackThreadInitializer(eventFn, new CallbackThreadInitializer(true, false, "cwd-gateway-event"));
        Native.setCallbackThreadInitializer(storeFn, new CallbackThreadInitializer(true, false, "cwd-gateway-store"));
        if (store != null) {
            storeStruct = new Memory(2L * Native.POINTER_SIZE);
            storeStruct.setPointer(0, CallbackReference.getFunctionPointer(storeFn));
            storeStruct.setPointer(Native.POINTER_SIZE, Pointer.NULL);
        } else {
            storeStruct = null;
        }
        PointerByReference out = new PointerByReference();
        PointerByReference err = new PointerByReference();
        int st = LIB.cwd_gateway_new(CwdLibrary.utf8(configToml), CwdLibrary.utf8(keysToml), storeStruct, out, err);
        String errText = CwdLibrary.take(err.getValue());
        if (st != 0) {
            throw new CwdException("cwd_gateway_new", st, errText);
        }
        handle = out.getValue();
        OPEN.add(this);
    }

    // Calls hold it shared, close() exclusively: close() waits for the calls in progress,
    // as cwd_gateway_free requires, and later calls throw.
    private final ReentrantReadWriteLock life = new ReentrantReadWriteLock();

    private Pointer enter() {
        life.readLock().lock();
        Pointer h = handle;
        if (h == null) {
            life.readLock().unlock();
            throw new IllegalStateException("the gateway is closed");
        }
        return h;
    }

    private void exit() {
        life.readLock().unlock();
    }

    /**
     * cwd_gateway_call: the HTTP API's call {@code function} ("start-link", ...) with a JSON
     * object; returns the answer's JSON. Throws {@link CwdException} on any refusal.
     */
    public String call(String function, String argsJson) {
        byte[] f = CwdLibrary.utf8(function);
        byte[] a = CwdLibrary.utf8(argsJson == null ? "{}" : argsJson);
        PointerByReference out = new PointerByReference();
        int st;
        Pointer h = enter();
        try {
            st = LIB.cwd_gateway_call(h, f, a, out);
        } finally {
            exit();
        }
        String text = CwdLibrary.take(out.getValue());
        if (st != 0) {
            throw new CwdException(function, st, text);
        }
        return text;
    }

    /**
     * Sets (null: clears) the event handler. It receives each event's JSON
     * ({"type": "deposit-credited", ...}) on a library thread after the commit that made it:
     * queue the work; never call this gateway from it.
     */
    public void setEventCallback(Consumer<String> handler) {
        int st;
        Pointer h = enter();
        try {
            if (handler == null) {
                st = LIB.cwd_gateway_set_event_callback(h, null, Pointer.NULL);
                onEvent = null;
            } else {
                onEvent = handler;
                st = LIB.cwd_gateway_set_event_callback(h, eventFn, Pointer.NULL);
            }
        } finally {
            exit();
        }
        if (st != 0) {
            throw new CwdException("cwd_gateway_set_event_callback", st, null);
        }
    }

    /** Starts the timer on a library thread (a second start does nothing). */
    public void startTimer() {
        int st;
        Pointer h = enter();
        try {
            st = LIB.cwd_gateway_start_timer(h);
        } finally {
            exit();
        }
        if (st != 0) {
            throw new CwdException("cwd_gateway_start_timer", st, null);
        }
    }

    /** Stops the timer and waits for the tick in progress. */
    public void stopTimer() {
        int st;
        Pointer h = enter();
        try {
            st = LIB.cwd_gateway_stop_timer(h);
        } finally {
            exit();
        }
        if (st != 0) {
            throw new CwdException("cwd_gateway_stop_timer", st, null);
        }
    }

    /** cwd_gateway_free (it stops the timer), once the calls in progress have returned. */
    @Override
    public void close() {
        life.writeLock().lock();
        try {
            Pointer h = handle;
            handle = null;
            if (h != null) {
                LIB.cwd_gateway_free(h);
            }
            onEvent = null;
            OPEN.remove(this); // the library can no longer call back
        } finally {
            life.writeLock().unlock();
        }
    }
}
