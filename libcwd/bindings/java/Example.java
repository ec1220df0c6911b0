// Example.java: a game server's whole story through the Java binding (JNA), against the
// library's in-process devnet: link, a deposit credited (heard through the event
// callback), a balance change, a withdrawal paid once. Exits 0 on success, 1 with a
// message otherwise.
//
//   java -cp jna.jar:out Example                  the gateway's store is SQLite in a temp file
//   java -cp jna.jar:out Example --memory-store   the game's own store (CwdStore, in memory)

import crowdwiz.CwdDevnet;
import crowdwiz.CwdException;
import crowdwiz.CwdGateway;
import crowdwiz.CwdStatus;
import crowdwiz.CwdStore;
import crowdwiz.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class Example {
    static final long DEPOSIT_GAME = 90, DEPOSIT_PER_CWD = 100_000;
    static final long WITHDRAWAL_GAME = 100, WITHDRAWAL_PER_CWD = 100_000;

    static final class StoryFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StoryFailure(String m) {
            super(m);
        }
    }

    public static void main(String[] args) {
        boolean memoryStore = Arrays.asList(args).contains("--memory-store");
        try {
            run(memoryStore);
            System.out.println("OK: the Java story passed (" + (memoryStore ? "the game's own store" : "SQLite") + ")");
            System.exit(0);
        } catch (StoryFailure e) {
            System.err.println("FAILED: " + e.getMessage());
        } catch (Throwable e) {
            System.err.print("FAILED: ");
            e.printStackTrace();
        }
        System.exit(1);
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new StoryFailure(what);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Object v, String what) {
        if (!(v instanceof Map)) {
            throw new StoryFailure(what + ": expected a JSON object, got " + Json.write(v));
        }
        return (Map<String, Object>) v;
    }

    static Map<String, Object> parse(String text) {
        return obj(Json.parse(text), "answer");
    }

    /** An integer from the JSON (the devnet writes amounts beyond 2^31 as strings). */
    static long num(Object v, String what) {
        if (v instanceof Long) {
            return (Long) v;
        }
        if (v instanceof String) {
            try {
                return Long.parseLong((String) v);
            } catch (NumberFormatException ignored) {
                // below
            }
        }
        throw new StoryFailure(what + ": expected an integer, got " + Json.write(v));
    }

    static String str(Object v, String what) {
        if (!(v instanceof String)) {
            throw new StoryFailure(what + ": expected a string, got " + Json.write(v));
        }
        return (String) v;
    }

    static void run(boolean memoryStore) throws Exception {
        System.out.println("library: " + CwdGateway.version());
        Path dir = Files.createTempDirectory("cwd-java-");
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CwdDevnet devnet = null;
        CwdGateway gw = null;
        try {
            // 1. A devnet in this process.
            Map<String, Object> accountsWanted = new LinkedHashMap<>();
            accountsWanted.put("game-gateway", 1000);
            accountsWanted.put("alice-cwd", 500);
            devnet = CwdDevnet.start(Json.obj("block_ms", 200, "irreversible_lag", 2, "accounts", accountsWanted));
            Map<String, Object> info = parse(devnet.info());
            Map<String, Object> accounts = obj(info.get("accounts"), "info.accounts");
            Map<String, Object> gwKeys = obj(accounts.get("game-gateway"), "info.accounts.game-gateway");
            Map<String, Object> alice = obj(accounts.get("alice-cwd"), "info.accounts.alice-cwd");
            System.out.println("1. devnet at " + info.get("url") + ", chain " + info.get("chain_id"));

            // 2. The configuration and the keys.
            String config = "[gateway]\n"
                    + "account = \"game-gateway\"\n"
                    + "chain_id = " + Json.quote(str(info.get("chain_id"), "chain_id")) + "\n"
                    + "tick_interval_ms = 200\n"
                    + "[node]\n"
                    + "urls = [" + Json.quote(str(info.get("url"), "url")) + "]\n"
                    + "[rates]\n"
                    + "deposit = { game_units = " + DEPOSIT_GAME + ", per_cwd_units = " + DEPOSIT_PER_CWD + " }\n"
                    + "withdrawal = { game_units = " + WITHDRAWAL_GAME + ", per_cwd_units = " + WITHDRAWAL_PER_CWD + " }\n"
                    + "[store]\n"
                    + "path = " + Json.quote(dir.resolve("gateway.db").toString()) + "\n"
                    + "[link]\n"
                    + "pow_bits = 0\n";
            String keys = "active_wif = " + Json.quote(str(gwKeys.get("active_wif"), "active_wif")) + "\n"
                    + "memo_wif = " + Json.quote(str(gwKeys.get("memo_wif"), "memo_wif")) + "\n";

            // 3. The gateway, its event callback (it only queues), its timer.
            gw = new CwdGateway(config, keys, memoryStore ? new MemoryStore() : null);
            gw.setEventCallback(events::add);
            gw.startTimer();
            System.out.println("2-3. gateway created (" + (memoryStore ? "store: the game's own, in memory" : "store: SQLite") + "), timer started");

            // 4. Link alice's chain account: the code arrives in her wallet as a message.
            Map<String, Object> link = parse(gw.call("start-link", Json.obj("user", "alice", "account", "alice-cwd")));
            long digits = num(link.get("code_digits"), "start-link.code_digits");
            System.out.println("4. start-link sent a " + digits + "-digit code to alice-cwd (tx " + link.get("tx_id") + ")");
            Pattern codeRe = Pattern.compile("(?<![0-9])[0-9]{" + digits + "}(?![0-9])");
            String code = null;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (code == null) {
                check(System.nanoTime() < until, "no link code reached alice-cwd's wallet within 30 s");
                Thread.sleep(200);
                Object inbox = Json.parse(devnet.control("messages", Json.obj("account", "alice-cwd", "memo_wif", alice.get("memo_wif"))));
                check(inbox instanceof List, "devnet messages: expected a list");
                for (Object m : (List<?>) inbox) {
                    if (!"send_message".equals(Json.get(m, "op"))) {
                        continue;
                    }
                    Object text = Json.get(m, "message") != null ? Json.get(m, "message") : Json.get(m, "text");
                    if (text instanceof String) {
                        Matcher mm = codeRe.matcher((String) text);
                        if (mm.find()) {
                            code = mm.group();
                        }
                    }
                }
            }
            try {
                gw.call("confirm-link", Json.obj("user", "alice", "code", "x"));
                throw new StoryFailure("confirm-link with a wrong code was accepted");
            } catch (CwdException e) {
                check(e.status() == CwdStatus.GATEWAY && e.httpStatus() != null && e.httpStatus() >= 400,
                        "a wrong code should be a gateway error, got " + e.getMessage());
                System.out.println("   a wrong code is refused: status " + e.status() + ", code " + e.code() + ", HTTP " + e.httpStatus() + ": " + e.errorMessage());
            }
            Map<String, Object> linked = parse(gw.call("confirm-link", Json.obj("user", "alice", "code", code)));
            check("alice-cwd".equals(linked.get("account")), "confirm-link linked " + Json.write(linked));
            System.out.println("   confirm-link with the code from the wallet: linked " + linked.get("account") + " (" + linked.get("account_id") + ")");

            // 5. Alice deposits 10 CWD; the gateway credits it once irreversible.
            final long depositCwd = 10 * 100_000;
            long expectGame = depositCwd * DEPOSIT_GAME / DEPOSIT_PER_CWD;
            devnet.control("transfer", Json.obj("from", "alice-cwd", "to", "game-gateway", "amount", depositCwd, "active_wif", alice.get("active_wif")));
            System.out.println("5. alice-cwd sent " + depositCwd + " units (10 CWD) to game-gateway");
            Map<String, Object> credited = waitEvent(events, "deposit-credited", e -> "alice".equals(e.get("user")), 60);
            check(num(credited.get("cwd"), "deposit-credited.cwd") == depositCwd, "deposit-credited cwd: " + Json.write(credited));
            long game = num(credited.get("game"), "deposit-credited.game");
            check(game == expectGame, "deposit-credited game " + game + ", the rate gives " + expectGame);
            System.out.println("   deposit-credited through the callback: " + game + " game units (" + depositCwd + " x " + DEPOSIT_GAME + " / " + DEPOSIT_PER_CWD + "), balance " + credited.get("balance"));

            // 6. The game pays a prize.
            Map<String, Object> adj = parse(gw.call("adjust-balance", Json.obj("user", "alice", "delta", 150, "idempotency_key", "round-1", "reason", "won a round")));
            Map<String, Object> acct = parse(gw.call("account", Json.obj("user", "alice")));
            long balance = num(acct.get("balance"), "account.balance");
            check(balance == expectGame + 150 && num(adj.get("balance"), "adjust.balance") == balance,
                    "balance after +150: account says " + balance + ", adjust-balance " + adj.get("balance") + ", expected " + (expectGame + 150));
            System.out.println("6. adjust-balance +150 (won a round): balance " + balance);

            // 7. Alice withdraws 500 game units: paid once, whatever the retries.
            long expectCwd = 500 * WITHDRAWAL_PER_CWD / WITHDRAWAL_GAME;
            long chainBefore = num(parse(devnet.control("balance", Json.obj("account", "alice-cwd"))).get("amount"), "balance.amount");
            String wargs = Json.obj("user", "alice", "game", 500, "idempotency_key", "out-1");
            Map<String, Object> w = parse(gw.call("request-withdrawal", wargs));
            String wid = str(w.get("withdrawal_id"), "withdrawal_id");
            check(num(w.get("cwd"), "withdrawal.cwd") == expectCwd, "request-withdrawal pays " + w.get("cwd") + ", the rate gives " + expectCwd);
            System.out.println("7. request-withdrawal 500 game: " + wid + ", " + w.get("state") + ", pays " + expectCwd + " units");
            Map<String, Object> confirmed = waitEvent(events, "withdrawal-confirmed", e -> wid.equals(Json.get(e.get("withdrawal"), "withdrawal_id")), 60);
            System.out.println("   withdrawal-confirmed through the callback: tx " + confirmed.get("tx_id") + " in block " + confirmed.get("block_num"));
            acct = parse(gw.call("account", Json.obj("user", "alice")));
            check(num(acct.get("balance"), "balance") == balance - 500 && num(acct.get("frozen"), "frozen") == 0,
                    "account after the withdrawal: " + Json.write(acct));
            Map<String, Object> again = parse(gw.call("request-withdrawal", wargs));
            check(wid.equals(again.get("withdrawal_id")), "the same key gave another withdrawal: " + Json.write(again));
            System.out.println("   the same request again: the same " + wid + " (" + again.get("state") + ")");
            try {
                gw.call("request-withdrawal", Json.obj("user", "alice", "game", 400, "idempotency_key", "out-1"));
                throw new StoryFailure("the same key with another amount was accepted");
            } catch (CwdException e) {
                check(e.status() == CwdStatus.GATEWAY && "idempotency-conflict".equals(e.code()), "expected idempotency-conflict, got " + e.getMessage());
                System.out.println("   the same key with another amount: " + e.code() + " (HTTP " + e.httpStatus() + ")");
            }
            Thread.sleep(1500); // a few more ticks and blocks: nothing else may be paid
            long chainAfter = num(parse(devnet.control("balance", Json.obj("account", "alice-cwd"))).get("amount"), "balance.amount");
            check(chainAfter - chainBefore == expectCwd, "alice-cwd received " + (chainAfter - chainBefore) + " units, expected exactly " + expectCwd);
            acct = parse(gw.call("account", Json.obj("user", "alice")));
            check(num(acct.get("balance"), "balance") == balance - 500, "balance moved after the retry: " + Json.write(acct));
            System.out.println("   alice-cwd on chain: +" + (chainAfter - chainBefore) + " units (" + (chainAfter - chainBefore) / 100000.0 + " CWD), exactly once; game balance " + acct.get("balance"));

            // 8. Stop, free.
            gw.stopTimer();
            System.out.println("8. timer stopped");
        } finally {
            if (gw != null) {
                gw.close();
            }
            if (devnet != null) {
                devnet.close();
            }
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static Map<String, Object> waitEvent(BlockingQueue<String> events, String type, Predicate<Map<String, Object>> match, int seconds)
            throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = until - System.nanoTime();
            String json = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
            if (json == null) {
                throw new StoryFailure("no " + type + " event within " + seconds + " s");
            }
            Map<String, Object> e = parse(json);
            System.out.println("   event " + json);
            if (type.equals(e.get("type")) && match.test(e)) {
                return e;
            }
        }
    }

    /** The game's own store, in memory: the semantics of wit/store.wit, as JSON. */
    static final class MemoryStore implements CwdStore {
        record Entry(String value, long version) {
        }

        static final Comparator<String> UTF8_ORDER = (a, b) ->
                Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

        private final NavigableMap<String, Entry> data = new TreeMap<>(UTF8_ORDER);
        private final Map<String, Long> lastVersion = new HashMap<>();

        @Override
        public synchronized String handle(String requestJson) {
            Map<String, Object> r = parse(requestJson);
            Object op = r.get("op");
            if ("get".equals(op)) {
                String k = str(r.get("key"), "key");
                Entry e = data.get(k);
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("entry", e == null ? null : toJson(k, e));
                return Json.write(out);
            }
            if ("scan".equals(op) || "scan_reverse".equals(op)) {
                boolean reverse = "scan_reverse".equals(op);
                String prefix = str(r.get("prefix"), "prefix");
                Object bound = r.get(reverse ? "start_before" : "start_after");
                long limit = num(r.get("limit"), "limit");
                NavigableMap<String, Entry> view = data;
                if (bound instanceof String) {
                    view = reverse ? data.headMap((String) bound, false) : data.tailMap((String) bound, false);
                }
                List<Object> list = new ArrayList<>();
                for (Map.Entry<String, Entry> kv : (reverse ? view.descendingMap() : view).entrySet()) {
                    if (list.size() >= limit) {
                        break;
                    }
                    if (kv.getKey().startsWith(prefix)) {
                        list.add(toJson(kv.getKey(), kv.getValue()));
                    }
                }
                return Json.obj("entries", list);
            }
            if ("commit".equals(op)) {
                List<?> pre = r.get("preconditions") instanceof List ? (List<?>) r.get("preconditions") : List.of();
                List<?> writes = r.get("writes") instanceof List ? (List<?>) r.get("writes") : List.of();
                for (Object p : pre) {
                    Entry e = data.get(str(Json.get(p, "key"), "key"));
                    Object want = Json.get(p, "expected_version");
                    Long have = e == null ? null : e.version();
                    Long expected = want == null ? null : num(want, "expected_version");
                    if (!java.util.Objects.equals(have, expected)) {
                        return "{\"outcome\": \"conflict\"}";
                    }
                }
                for (Object wr : writes) {
                    String k = str(Json.get(wr, "key"), "key");
                    Object v = Json.get(wr, "value");
                    if (v == null) {
                        data.remove(k);
                    } else {
                        long version = lastVersion.getOrDefault(k, 0L) + 1;
                        lastVersion.put(k, version);
                        data.put(k, new Entry(str(v, "value"), version));
                    }
                }
                return "{\"outcome\": \"committed\"}";
            }
            throw new IllegalArgumentException("unknown store op " + op);
        }

        static Map<String, Object> toJson(String key, Entry e) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("key", key);
            m.put("value", e.value());
            m.put("version", e.version());
            return m;
        }
    }
}
