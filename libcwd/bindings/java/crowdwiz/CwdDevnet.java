package crowdwiz;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/** The in-process devnet (a simulated chain on loopback) for examples and tests. */
public final class CwdDevnet implements AutoCloseable {
    private static final CwdLibrary LIB = CwdLibrary.LIB;

    private volatile Pointer handle;
    private final String info;

    private CwdDevnet(Pointer handle, String info) {
        this.handle = handle;
        this.info = info;
    }

    /** cwd_devnet_start: {"block_ms", "irreversible_lag", "seed", "accounts": {"name": CWD}}. */
    public static CwdDevnet start(String optionsJson) {
        PointerByReference out = new PointerByReference();
        PointerByReference info = new PointerByReference();
        int st = LIB.cwd_devnet_start(CwdLibrary.utf8(optionsJson == null ? "{}" : optionsJson), out, info);
        String text = CwdLibrary.take(info.getValue());
        if (st != 0) {
            throw new CwdException("cwd_devnet_start", st, text);
        }
        return new CwdDevnet(out.getValue(), text);
    }

    /** {url, ws_url, chain_id, accounts: {name: {id, active_wif, memo_wif, ...}}}. */
    public String info() {
        return info;
    }

    /** cwd_devnet_control: "transfer", "messages", "balance", "produce_block", ... */
    public String control(String method, String paramsJson) {
        Pointer h = handle;
        if (h == null) {
            throw new IllegalStateException("the devnet is closed");
        }
        PointerByReference out = new PointerByReference();
        int st = LIB.cwd_devnet_control(h, CwdLibrary.utf8(method), CwdLibrary.utf8(paramsJson == null ? "{}" : paramsJson), out);
        String text = CwdLibrary.take(out.getValue());
        if (st != 0) {
            throw new CwdException("devnet " + method, st, text);
        }
        return text;
    }

    @Override
    public synchronized void close() {
        Pointer h = handle;
        handle = null;
        if (h != null) {
            LIB.cwd_devnet_free(h);
        }
    }
}
