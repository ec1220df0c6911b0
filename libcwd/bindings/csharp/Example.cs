// Example.cs: a game server's whole story through the C# binding, against the library's
// in-process devnet: link, a deposit credited (heard through the event callback), a
// balance change, a withdrawal paid once. Exits 0 on success, 1 with a message otherwise.
//
//   mono example.exe                  the gateway's store is SQLite in a temp file
//   mono example.exe --memory-store   the game's own store (ICwdStore, in memory)
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using CrowdWiz;

internal static class Example
{
    private const long DepositGame = 90, DepositPerCwd = 100000;
    private const long WithdrawalGame = 100, WithdrawalPerCwd = 100000;

    private static int Main(string[] args)
    {
        bool memoryStore = args.Contains("--memory-store");
        try
        {
            Run(memoryStore);
            Console.WriteLine("OK: the C# story passed (" + (memoryStore ? "the game's own store" : "SQLite") + ")");
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("FAILED: " + (e is StoryFailure ? e.Message : e.ToString()));
            return 1;
        }
    }

    private sealed class StoryFailure : Exception
    {
        public StoryFailure(string m) : base(m) { }
    }

    private static void Check(bool ok, string what)
    {
        if (!ok) throw new StoryFailure(what);
    }

    private static Dictionary<string, object> Obj(object v, string what)
    {
        var d = v as Dictionary<string, object>;
        if (d == null) throw new StoryFailure(what + ": expected a JSON object, got " + Json.Serialize(v));
        return d;
    }

    private static Dictionary<string, object> Parse(string text)
    {
        return Obj(Json.Parse(text), "answer");
    }

    // An integer from the JSON (the devnet writes amounts beyond 2^31 as strings).
    private static long Int(object v, string what)
    {
        if (v is long) return (long)v;
        if (v is ulong) return checked((long)(ulong)v);
        long l;
        if (v is string && long.TryParse((string)v, out l)) return l;
        throw new StoryFailure(what + ": expected an integer, got " + Json.Serialize(v));
    }

    private static string Str(object v, string what)
    {
        var s = v as string;
        if (s == null) throw new StoryFailure(what + ": expected a string, got " + Json.Serialize(v));
        return s;
    }

    private static string Args(params object[] kv)
    {
        var d = new Dictionary<string, object>();
        for (int i = 0; i < kv.Length; i += 2) d[(string)kv[i]] = kv[i + 1];
        return Json.Serialize(d);
    }

    private static void Run(bool memoryStore)
    {
        Console.WriteLine("library: " + CwdGateway.Version);
        string dir = Path.Combine(Path.GetTempPath(), "cwd-csharp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var events = new BlockingCollection<string>();
        CwdDevnet devnet = null;
        CwdGateway gw = null;
        try
        {
            // 1. A devnet in this process.
            devnet = CwdDevnet.Start(Args("block_ms", 200, "irreversible_lag", 2,
                "accounts", new Dictionary<string, object> { { "game-gateway", 1000 }, { "alice-cwd", 500 } }));
            var info = Parse(devnet.Info);
            var accounts = Obj(Json.Get(info, "accounts"), "info.accounts");
            var gwKeys = Obj(Json.Get(accounts, "game-gateway"), "info.accounts.game-gateway");
            var alice = Obj(Json.Get(accounts, "alice-cwd"), "info.accounts.alice-cwd");
            Console.WriteLine("1. devnet at " + Json.Get(info, "url") + ", chain " + Json.Get(info, "chain_id"));

            // 2. The configuration and the keys.
            string config =
                "[gateway]\n" +
                "account = \"game-gateway\"\n" +
                "chain_id = " + Json.Quote(Str(Json.Get(info, "chain_id"), "chain_id")) + "\n" +
                "tick_interval_ms = 200\n" +
                "[node]\n" +
                "urls = [" + Json.Quote(Str(Json.Get(info, "url"), "url")) + "]\n" +
                "[rates]\n" +
                "deposit = { game_units = " + DepositGame + ", per_cwd_units = " + DepositPerCwd + " }\n" +
                "withdrawal = { game_units = " + WithdrawalGame + ", per_cwd_units = " + WithdrawalPerCwd + " }\n" +
                "[store]\n" +
                "path = " + Json.Quote(Path.Combine(dir, "gateway.db")) + "\n" +
                "[link]\n" +
                "pow_bits = 0\n";
            string keys =
                "active_wif = " + Json.Quote(Str(Json.Get(gwKeys, "active_wif"), "active_wif")) + "\n" +
                "memo_wif = " + Json.Quote(Str(Json.Get(gwKeys, "memo_wif"), "memo_wif")) + "\n";

            // 3. The gateway, its event callback (it only queues), its timer.
            gw = new CwdGateway(config, keys, memoryStore ? new MemoryStore() : null);
            gw.SetEventCallback(json => events.Add(json));
            gw.StartTimer();
            Console.WriteLine("2-3. gateway created (" + (memoryStore ? "store: the game's own, in memory" : "store: SQLite") + "), timer started");

            // 4. Link alice's chain account: the code arrives in her wallet as a message.
            var link = Parse(gw.Call("start-link", Args("user", "alice", "account", "alice-cwd")));
            long digits = Int(Json.Get(link, "code_digits"), "start-link.code_digits");
            Console.WriteLine("4. start-link sent a " + digits + "-digit code to alice-cwd (tx " + Json.Get(link, "tx_id") + ")");
            var codeRe = new Regex("(?<![0-9])[0-9]{" + digits + "}(?![0-9])");
            string code = null;
            var until = DateTime.UtcNow.AddSeconds(30);
            while (code == null)
            {
                Check(DateTime.UtcNow < until, "no link code reached alice-cwd's wallet within 30 s");
                Thread.Sleep(200);
                var inbox = Json.Parse(devnet.Control("messages", Args("account", "alice-cwd", "memo_wif", Json.Get(alice, "memo_wif")))) as List<object>;
                Check(inbox != null, "devnet messages: expected a list");
                foreach (var m in inbox)
                {
                    if (!"send_message".Equals(Json.Get(m, "op"))) continue;
                    var text = (Json.Get(m, "message") ?? Json.Get(m, "text")) as string;
                    var match = text != null ? codeRe.Match(text) : Match.Empty;
                    if (match.Success) code = match.Value;
                }
            }
            try
            {
                gw.Call("confirm-link", Args("user", "alice", "code", "x"));
                throw new StoryFailure("confirm-link with a wrong code was accepted");
            }
            catch (CwdException e)
            {
                Check(e.Status == CwdStatus.Gateway && e.Code != null && e.HttpStatus >= 400,
                    "a wrong code should be a gateway error, got " + e.Message);
                Console.WriteLine("   a wrong code is refused: status " + e.Status + ", code " + e.Code + ", HTTP " + e.HttpStatus + ": " + e.ErrorMessage);
            }
            var linked = Parse(gw.Call("confirm-link", Args("user", "alice", "code", code)));
            Check("alice-cwd".Equals(Json.Get(linked, "account")), "confirm-link linked " + Json.Serialize(linked));
            Console.WriteLine("   confirm-link with the code from the wallet: linked " + Json.Get(linked, "account") + " (" + Json.Get(linked, "account_id") + ")");

            // 5. Alice deposits 10 CWD; the gateway credits it once irreversible.
            const long depositCwd = 10 * 100000;
            long expectGame = depositCwd * DepositGame / DepositPerCwd;
            devnet.Control("transfer", Args("from", "alice-cwd", "to", "game-gateway", "amount", depositCwd, "active_wif", Json.Get(alice, "active_wif")));
            Console.WriteLine("5. alice-cwd sent " + depositCwd + " units (10 CWD) to game-gateway");
            var credited = WaitEvent(events, "deposit-credited", e => "alice".Equals(Json.Get(e, "user")), 60);
            Check(Int(Json.Get(credited, "cwd"), "deposit-credited.cwd") == depositCwd, "deposit-credited cwd: " + Json.Serialize(credited));
            long game = Int(Json.Get(credited, "game"), "deposit-credited.game");
            Check(game == expectGame, "deposit-credited game " + game + ", the rate gives " + expectGame);
            Console.WriteLine("   deposit-credited through the callback: " + game + " game units (" + depositCwd + " x " + DepositGame + " / " + DepositPerCwd + "), balance " + Json.Get(credited, "balance"));

            // 6. The game pays a prize.
            var adj = Parse(gw.Call("adjust-balance", Args("user", "alice", "delta", 150, "idempotency_key", "round-1", "reason", "won a round")));
            var acct = Parse(gw.Call("account", Args("user", "alice")));
            long balance = Int(Json.Get(acct, "balance"), "account.balance");
            Check(balance == expectGame + 150 && Int(Json.Get(adj, "balance"), "adjust.balance") == balance,
                "balance after +150: account says " + balance + ", adjust-balance " + Json.Get(adj, "balance") + ", expected " + (expectGame + 150));
            Console.WriteLine("6. adjust-balance +150 (won a round): balance " + balance);

            // 7. Alice withdraws 500 game units: paid once, whatever the retries.
            long expectCwd = 500 * WithdrawalPerCwd / WithdrawalGame;
            long chainBefore = Int(Json.Get(Parse(devnet.Control("balance", Args("account", "alice-cwd"))), "amount"), "balance.amount");
            string wargs = Args("user", "alice", "game", 500, "idempotency_key", "out-1");
            var w = Parse(gw.Call("request-withdrawal", wargs));
            string wid = Str(Json.Get(w, "withdrawal_id"), "withdrawal_id");
            Check(Int(Json.Get(w, "cwd"), "withdrawal.cwd") == expectCwd, "request-withdrawal pays " + Json.Get(w, "cwd") + ", the rate gives " + expectCwd);
            Console.WriteLine("7. request-withdrawal 500 game: " + wid + ", " + Json.Get(w, "state") + ", pays " + expectCwd + " units");
            var confirmed = WaitEvent(events, "withdrawal-confirmed", e => wid.Equals(Json.Get(Json.Get(e, "withdrawal"), "withdrawal_id")), 60);
            Console.WriteLine("   withdrawal-confirmed through the callback: tx " + Json.Get(confirmed, "tx_id") + " in block " + Json.Get(confirmed, "block_num"));
            acct = Parse(gw.Call("account", Args("user", "alice")));
            Check(Int(Json.Get(acct, "balance"), "balance") == balance - 500 && Int(Json.Get(acct, "frozen"), "frozen") == 0,
                "account after the withdrawal: " + Json.Serialize(acct));
            var again = Parse(gw.Call("request-withdrawal", wargs));
            Check(wid.Equals(Json.Get(again, "withdrawal_id")), "the same key gave another withdrawal: " + Json.Serialize(again));
            Console.WriteLine("   the same request again: the same " + wid + " (" + Json.Get(again, "state") + ")");
            try
            {
                gw.Call("request-withdrawal", Args("user", "alice", "game", 400, "idempotency_key", "out-1"));
                throw new StoryFailure("the same key with another amount was accepted");
            }
            catch (CwdException e)
            {
                Check(e.Status == CwdStatus.Gateway && e.Code == "idempotency-conflict", "expected idempotency-conflict, got " + e.Message);
                Console.WriteLine("   the same key with another amount: " + e.Code + " (HTTP " + e.HttpStatus + ")");
            }
            Thread.Sleep(1500); // a few more ticks and blocks: nothing else may be paid
            long chainAfter = Int(Json.Get(Parse(devnet.Control("balance", Args("account", "alice-cwd"))), "amount"), "balance.amount");
            Check(chainAfter - chainBefore == expectCwd, "alice-cwd received " + (chainAfter - chainBefore) + " units, expected exactly " + expectCwd);
            acct = Parse(gw.Call("account", Args("user", "alice")));
            Check(Int(Json.Get(acct, "balance"), "balance") == balance - 500, "balance moved after the retry: " + Json.Serialize(acct));
            Console.WriteLine("   alice-cwd on chain: +" + (chainAfter - chainBefore) + " units (" + (chainAfter - chainBefore) / 100000.0 + " CWD), exactly once; game balance " + Json.Get(acct, "balance"));

            // 8. Stop, free.
            gw.StopTimer();
            Console.WriteLine("8. timer stopped");
        }
        finally
        {
            if (gw != null) gw.Dispose();
            if (devnet != null) devnet.Dispose();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static Dictionary<string, object> WaitEvent(BlockingCollection<string> events, string type,
        Func<Dictionary<string, object>, bool> match, int seconds)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var left = until - DateTime.UtcNow;
            string json;
            if (left <= TimeSpan.Zero || !events.TryTake(out json, left))
                throw new StoryFailure("no " + type + " event within " + seconds + " s");
            var e = Parse(json);
            Console.WriteLine("   event " + json);
            if (type.Equals(Json.Get(e, "type")) && match(e)) return e;
        }
    }

    /// <summary>The game's own store, in memory: the semantics of wit/store.wit, as JSON.</summary>
    private sealed class MemoryStore : ICwdStore
    {
        private sealed class Entry
        {
            public string Value; // base64, as it came
            public long Version;
        }

        private sealed class Utf8Order : IComparer<string>
        {
            public int Compare(string a, string b)
            {
                byte[] x = Encoding.UTF8.GetBytes(a), y = Encoding.UTF8.GetBytes(b);
                for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
                    if (x[i] != y[i]) return x[i].CompareTo(y[i]);
                return x.Length.CompareTo(y.Length);
            }
        }

        private static readonly Utf8Order Order = new Utf8Order();
        private readonly SortedDictionary<string, Entry> data = new SortedDictionary<string, Entry>(Order);
        private readonly Dictionary<string, long> lastVersion = new Dictionary<string, long>();
        private readonly object gate = new object();

        public string Handle(string requestJson)
        {
            var r = Parse(requestJson);
            lock (gate)
            {
                switch (Json.Get(r, "op") as string)
                {
                    case "get":
                    {
                        string k = Str(Json.Get(r, "key"), "key");
                        Entry e;
                        return Json.Serialize(new Dictionary<string, object> { { "entry", data.TryGetValue(k, out e) ? ToJson(k, e) : null } });
                    }
                    case "scan":
                    case "scan_reverse":
                    {
                        bool reverse = "scan_reverse".Equals(Json.Get(r, "op"));
                        string prefix = Str(Json.Get(r, "prefix"), "prefix");
                        var bound = Json.Get(r, reverse ? "start_before" : "start_after") as string;
                        long limit = Int(Json.Get(r, "limit"), "limit");
                        IEnumerable<KeyValuePair<string, Entry>> all = reverse ? data.Reverse() : data;
                        var list = all
                            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                            .Where(kv => bound == null || (reverse ? Order.Compare(kv.Key, bound) < 0 : Order.Compare(kv.Key, bound) > 0))
                            .Take((int)Math.Min(limit, int.MaxValue))
                            .Select(kv => (object)ToJson(kv.Key, kv.Value))
                            .ToList();
                        return Json.Serialize(new Dictionary<string, object> { { "entries", list } });
                    }
                    case "commit":
                    {
                        foreach (var p in (Json.Get(r, "preconditions") as List<object>) ?? new List<object>())
                        {
                            Entry e;
                            long? have = data.TryGetValue(Str(Json.Get(p, "key"), "key"), out e) ? e.Version : (long?)null;
                            object want = Json.Get(p, "expected_version");
                            long? expected = want == null ? (long?)null : Int(want, "expected_version");
                            if (have != expected) return "{\"outcome\": \"conflict\"}";
                        }
                        foreach (var wr in (Json.Get(r, "writes") as List<object>) ?? new List<object>())
                        {
                            string k = Str(Json.Get(wr, "key"), "key");
                            var v = Json.Get(wr, "value") as string;
                            long last;
                            lastVersion.TryGetValue(k, out last);
                            if (v == null) data.Remove(k);
                            else
                            {
                                lastVersion[k] = last + 1;
                                data[k] = new Entry { Value = v, Version = last + 1 };
                            }
                        }
                        return "{\"outcome\": \"committed\"}";
                    }
                    default:
                        throw new InvalidOperationException("unknown store op " + Json.Get(r, "op"));
                }
            }
        }

        private static Dictionary<string, object> ToJson(string key, Entry e)
        {
            return new Dictionary<string, object> { { "key", key }, { "value", e.Value }, { "version", e.Version } };
        }
    }
}
