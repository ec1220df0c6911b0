//! `scale`: the gateway's hot calls as the store grows, on SQLite and on PostgreSQL.
//!
//! The store is filled to 1,000, then 100,000, then 1,000,000 users, about ten records
//! each (a link, four credited deposits, three balance adjustments, a paid withdrawal,
//! and one open dust deposit per ten users: 10,100,000 records at the last size). The
//! records are the gateway's own (its record types, written through its own
//! transactions, so every commit also writes the user indexes and the sharded totals a
//! live gateway keeps), in commits of 500 users. At each size, through the real
//! component in the real host: a tick with nothing new on chain, `status`, `account`, the
//! first page (20, newest first) of `list-deposits` and `list-withdrawals` for a user,
//! `adjust-balance` p50/p99 under 16 clients, the store's size per user and per record,
//! and the process's resident memory. Timers are off; the devnet makes no blocks.
//!
//! The baseline is a second gateway on a store of 1,000 users (same kind, same server),
//! measured beside each size in alternating calls, so that both see the same machine
//! (these machines are shared; their page cache and CPU come and go). The calls are
//! timed twice: in-process (the component in the host, no HTTP: the store's share
//! undiluted) and through the HTTP API as a game server calls it.
//!
//! `cargo bench -p cwd-gateway --bench scale` (all sizes, both stores; about half an
//! hour on 2 cores), or `-- --sizes 1000,100000 --stores sqlite --seconds 5`.
//! `--dir DIR` keeps the SQLite store in DIR and goes on from what it holds (filling a
//! million users takes about ten minutes; this measures a store again without it).
//! PostgreSQL needs its binaries (see `tests/support/pg.rs`); without them that store
//! is skipped. `--pg-settings shared_buffers=6GB,…` starts its server with those
//! settings (the defaults otherwise: 128 MB of shared buffers).

#[path = "support/http_client.rs"]
mod http_client;
#[path = "../tests/support/pg.rs"]
mod pg;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway::config::Rate;
use cwd_gateway::events::{OpPosition, UnclaimedReason};
use cwd_gateway::records::{self, derived, AdjustRec, DepositRec, LinkRec, Linked, Step, UnclaimedRec, UnclaimedState, UserRec, WdState, WithdrawalRec};
use cwd_gateway_host::bindings::api::{self, GatewayError, ListOrder, WithdrawalFilter};
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::{GatewayCallError, Service, ServiceOptions};
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::lease::LeaseConfig;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::{Entry, PostgresOptions, PostgresStore, SqliteStore, Store};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};

const CLIENTS: usize = 16;
/// The baseline's users.
const BASE_USERS: u64 = 1_000;
const FILL_BATCH: u64 = 500;
const DEPOSITS_PER_USER: u32 = 4;
const ADJUSTMENTS_PER_USER: u32 = 3;

/// The host's store seen through the gateway's own store port, for the fill.
struct Port(Arc<dyn Store>);

impl cwd_gateway::ports::Store for Port {
    fn get(&mut self, key: &str) -> Result<Option<cwd_gateway::ports::Entry>, cwd_gateway::ports::StoreError> {
        self.0.get(key).map(|e| e.map(entry)).map_err(|e| cwd_gateway::ports::StoreError(e.0))
    }
    fn scan(&mut self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<cwd_gateway::ports::Entry>, cwd_gateway::ports::StoreError> {
        self.0.scan(prefix, start_after, limit).map(|v| v.into_iter().map(entry).collect()).map_err(|e| cwd_gateway::ports::StoreError(e.0))
    }
    fn scan_reverse(&mut self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<cwd_gateway::ports::Entry>, cwd_gateway::ports::StoreError> {
        self.0.scan_reverse(prefix, start_before, limit).map(|v| v.into_iter().map(entry).collect()).map_err(|e| cwd_gateway::ports::StoreError(e.0))
    }
    fn commit(&mut self, pre: &[cwd_gateway::ports::Precondition], writes: &[cwd_gateway::ports::Write]) -> Result<bool, cwd_gateway::ports::StoreError> {
        use cwd_gateway_host::store::{CommitOutcome, Precondition, Write};
        let pre: Vec<_> = pre.iter().map(|p| Precondition { key: p.key.clone(), expected_version: p.expected_version }).collect();
        let writes: Vec<_> = writes.iter().map(|w| Write { key: w.key.clone(), value: w.value.clone() }).collect();
        self.0.commit(&pre, &writes).map(|o| o == CommitOutcome::Committed).map_err(|e| cwd_gateway::ports::StoreError(e.0))
    }
}

fn entry(e: Entry) -> cwd_gateway::ports::Entry {
    cwd_gateway::ports::Entry { key: e.key, value: e.value, version: e.version }
}

fn user_id(n: u64) -> String {
    format!("u{n:07}")
}

/// Users `from..to` and their records, in the gateway's transactions.
fn fill(store: &Arc<dyn Store>, from: u64, to: u64, now_ms: u64) {
    let mut port = Port(store.clone());
    if from == 0 {
        // A store that kept its totals and indexes from its first commit.
        records::transact_store(&mut port, |t| {
            t.put(derived::BUILD_KEY, &derived::Build { done: true, cursor: None, counted: 0, version: derived::BUILD_VERSION });
            Ok(Step::Commit(()))
        })
        .unwrap();
    }
    let rate = Rate { game_units: 90, per_cwd_units: 100_000 };
    let mut start = from;
    while start < to {
        let end = (start + FILL_BATCH).min(to);
        records::transact_store(&mut port, |t| {
            for n in start..end {
                let (user, account_id) = (user_id(n), 1_000_000 + n);
                // Every key is new: required absent, so no old value is read.
                macro_rules! put {
                    ($key:expr, $value:expr) => {{
                        let key = $key;
                        t.require_absent(&key);
                        t.put(&key, &$value);
                    }};
                }
                let linked = Linked { account: format!("p{n}"), account_id, linked_at_ms: now_ms };
                put!(records::user_key(&user), UserRec { balance: 1_000_000, linked: Some(linked), ..Default::default() });
                put!(records::link_key(account_id), LinkRec::Linked { user: user.clone(), account: format!("p{n}"), since_ms: now_ms });
                for k in 0..DEPOSITS_PER_USER {
                    // Blocks far past the devnet's, so the tick's scan never meets them.
                    let pos = OpPosition { block_num: 10_000_000 + n as u32, trx_in_block: k, op_in_trx: 0, occurrence: 0 };
                    let d = DepositRec { user: user.clone(), from_account_id: account_id, cwd: 100_000, game: 90, rate: rate.clone(), credited_at_ms: now_ms };
                    put!(records::dep_key(&pos), d);
                }
                for k in 0..ADJUSTMENTS_PER_USER {
                    let key = format!("fill:{user}:{k}");
                    let a = AdjustRec { user: user.clone(), idempotency_key: key.clone(), delta: 1, reason: "fill".into(), balance_after: 1_000_000, frozen_after: 0, at_ms: now_ms };
                    put!(records::adj_key(&key), a);
                }
                let id = format!("w{n:010}");
                let w = WithdrawalRec {
                    id: id.clone(),
                    user: user.clone(),
                    account: format!("p{n}"),
                    account_id,
                    game: 100,
                    cwd: 100_000,
                    rate: rate.clone(),
                    idempotency_key: format!("fill-w:{user}"),
                    asked: "game:100".into(),
                    nonce: n,
                    state: WdState::Confirmed,
                    requested_at_ms: now_ms,
                    day: now_ms / 86_400_000,
                    tx: None,
                    attempts: 1,
                    block_num: Some(1),
                    note: None,
                    approved_by: Vec::new(),
                    fee_cwd: 0,
                };
                put!(records::wd_key(&id), w);
                if n % 10 == 0 {
                    let pos = OpPosition { block_num: 10_000_000 + n as u32, trx_in_block: 99, op_in_trx: 0, occurrence: 0 };
                    let u = UnclaimedRec {
                        position: pos.clone(),
                        from_account_id: 9_000_000 + n,
                        asset_id: 0,
                        amount: 1,
                        reason: UnclaimedReason::UnlinkedSender,
                        state: UnclaimedState::Open,
                        recorded_at_ms: now_ms,
                        op_id: 0,
                    };
                    put!(records::unc_key(&pos.deposit_id()), u);
                }
            }
            t.put(records::SEQ_WD, &end);
            Ok(Step::Commit(()))
        })
        .unwrap();
        start = end;
    }
}

/// Records per user the fill writes (index keys and totals not counted).
fn records_per_user() -> f64 {
    (2 + DEPOSITS_PER_USER + ADJUSTMENTS_PER_USER + 1) as f64 + 0.1
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Medians of `n` runs of `base` and of `big`, called in turn (which goes first
/// alternates), so that both meet the same machine.
fn paired(n: usize, mut base: impl FnMut(usize), mut big: impl FnMut(usize)) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let time = |f: &mut dyn FnMut(usize), i: usize, into: &mut Vec<Duration>| {
        let t = Instant::now();
        f(i);
        into.push(t.elapsed());
    };
    for i in 0..n {
        if i % 2 == 0 {
            time(&mut base, i, &mut a);
            time(&mut big, i, &mut b);
        } else {
            time(&mut big, i, &mut b);
            time(&mut base, i, &mut a);
        }
    }
    a.sort();
    b.sort();
    (percentile(&a, 0.5), percentile(&b, 0.5))
}

/// `adjust-balance` latencies from 16 clients over `secs`, on existing users.
fn adjust_under_load(service: &Arc<Service>, users: u64, secs: u64, tag: &str) -> (Duration, Duration, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let all = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (service, stop, all, tag) = (service.clone(), stop.clone(), all.clone(), tag.to_string());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let user = user_id((i * 7_919 + c as u64 * 104_729) % users);
                    let key = format!("{tag}-{c}-{i}");
                    let t = Instant::now();
                    match service.with(|a| a.adjust_balance(&user, 1, &key, "bench")) {
                        Ok(_) => mine.push(t.elapsed()),
                        Err(GatewayCallError::Refused(GatewayError::Busy)) => {}
                        Err(e) => panic!("adjust-balance: {e}"),
                    }
                    i += 1;
                }
                all.lock().unwrap().extend(mine);
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let mut all = std::mem::take(&mut *all.lock().unwrap());
    all.sort();
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (percentile(&all, 0.5), percentile(&all, 0.99), rate)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// A gateway under measurement: its service, its HTTP API, and how many users it holds.
struct Subject {
    service: Arc<Service>,
    http: HttpApi,
    users: u64,
}

impl Subject {
    fn pick(&self, i: usize) -> String {
        user_id((i as u64 * 7_919 + 13) % self.users)
    }
}

/// One figure at a size and the baseline's beside it.
#[derive(Clone, Copy)]
struct Pair {
    base: Duration,
    big: Duration,
}

impl Pair {
    fn ratio(&self) -> f64 {
        self.big.as_secs_f64() / self.base.as_secs_f64()
    }
}

const CALLS: [&str; 4] = ["status", "account", "list-deposits", "list-withdrawals"];

struct Row {
    users: u64,
    tick: Pair,
    /// In-process, then through HTTP, in the order of [`CALLS`].
    local: [Pair; 4],
    http: [Pair; 4],
    adjust_p50: Pair,
    adjust_p99: Pair,
    rate: f64,
    bytes: u64,
    rss: f64,
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// One call of `CALLS[call]` in-process, for user `i`; checks the answer.
fn call_local(s: &Subject, call: usize, i: usize) {
    let user = s.pick(i);
    match call {
        0 => assert!(s.service.with(|a| a.status()).unwrap().unclaimed_count as u64 >= s.users / 10, "the kept totals count the dust"),
        1 => assert!(s.service.with(|a| a.account(&user)).unwrap().linked.is_some()),
        2 => assert_eq!(s.service.with(|a| a.list_deposits(&user, ListOrder::NewestFirst, None, 20)).unwrap().len(), DEPOSITS_PER_USER as usize),
        _ => {
            let filter = WithdrawalFilter { user: Some(user), state: None };
            assert_eq!(s.service.with(|a| a.list_withdrawals(&filter, ListOrder::NewestFirst, None, 20)).unwrap().len(), 1);
        }
    }
}

/// The same call through the HTTP API; checks the answer.
fn call_http(s: &Subject, client: &mut http_client::Client, call: usize, i: usize) {
    let user = s.pick(i);
    let body = match call {
        0 => "{}".to_string(),
        1 => format!(r#"{{"user":"{user}"}}"#),
        _ => format!(r#"{{"user":"{user}","order":"newest-first","limit":20}}"#),
    };
    assert_eq!(client.send(&format!("/v1/{}", CALLS[call]), Some(&body)), 200, "{}", CALLS[call]);
    let answer: serde_json::Value = serde_json::from_slice(client.body()).unwrap();
    match call {
        0 => assert!(answer["unclaimed_count"].as_u64().unwrap() >= s.users / 10),
        1 => assert!(answer["linked"].is_object(), "{answer}"),
        2 => assert_eq!(answer.as_array().map(Vec::len), Some(DEPOSITS_PER_USER as usize), "{answer}"),
        _ => assert_eq!(answer.as_array().map(Vec::len), Some(1), "{answer}"),
    }
}

fn measure(base: &Subject, big: &Subject, secs: u64, bytes: u64) -> Row {
    // Warm the instances, the connections and the database's cache.
    for s in [base, big] {
        for i in 0..50 {
            let _ = s.service.with(|a| a.account(&user_id(i * 37 % s.users)));
        }
        s.service.tick().unwrap();
    }
    let tick = |s: &Subject| {
        let r = s.service.tick().unwrap();
        assert_eq!(r.deposits_credited + r.withdrawals_sent, 0, "nothing new on chain");
    };
    let (b, g) = paired(30, |_| tick(base), |_| tick(big));
    let tick = Pair { base: b, big: g };
    let runs = [100, 200, 100, 100];
    let local = std::array::from_fn(|call| {
        let (b, g) = paired(runs[call], |i| call_local(base, call, i), |i| call_local(big, call, i));
        Pair { base: b, big: g }
    });
    let (mut cb, mut cg) = (http_client::Client::connect(base.http.addr, support::TOKEN), http_client::Client::connect(big.http.addr, support::TOKEN));
    let http = std::array::from_fn(|call| {
        let (b, g) = paired(runs[call], |i| call_http(base, &mut cb, call, i), |i| call_http(big, &mut cg, call, i));
        Pair { base: b, big: g }
    });
    // Under load one gateway at a time: the baseline's, then this size's.
    let tag = format!("{}-{}", big.users, std::process::id());
    let (b50, b99, _) = adjust_under_load(&base.service, base.users, secs, &format!("base{tag}"));
    let (p50, p99, rate) = adjust_under_load(&big.service, big.users, secs, &format!("adj{tag}"));
    Row {
        users: big.users,
        tick,
        local,
        http,
        adjust_p50: Pair { base: b50, big: p50 },
        adjust_p99: Pair { base: b99, big: p99 },
        rate,
        bytes,
        rss: rss_mib(),
    }
}

fn print(store: &str, rows: &[Row]) {
    println!("\n{store}: each size, and (in brackets) its ratio to the 1,000-user baseline measured beside it (goal: at most 1.5)");
    println!("| users | records | tick ms | status ms | account ms | list-deposits ms | list-withdrawals ms | HTTP status ms | HTTP account ms | HTTP list-deposits ms | HTTP list-withdrawals ms | adjust p50 ms | p99 ms | adjust/s | bytes/user | bytes/record | host RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let cell = |p: &Pair| format!("{} ({:.2})", ms(p.big), p.ratio());
    for r in rows {
        let records = r.users as f64 * records_per_user();
        let local: Vec<String> = r.local.iter().map(cell).collect();
        let http: Vec<String> = r.http.iter().map(cell).collect();
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.users,
            records,
            cell(&r.tick),
            local.join(" | "),
            http.join(" | "),
            cell(&r.adjust_p50),
            cell(&r.adjust_p99),
            r.rate,
            r.bytes as f64 / r.users as f64,
            r.bytes as f64 / records,
            r.rss
        );
    }
    let worst = |f: &dyn Fn(&Row) -> Vec<f64>| rows.iter().flat_map(f).fold(0.0f64, f64::max);
    println!(
        "worst ratio to the baseline: tick {:.2}; in-process calls {:.2}; through HTTP {:.2}; adjust p50 {:.2}, p99 {:.2} (goal: each at most 1.5)",
        worst(&|r| vec![r.tick.ratio()]),
        worst(&|r| r.local.iter().map(Pair::ratio).collect()),
        worst(&|r| r.http.iter().map(Pair::ratio).collect()),
        worst(&|r| vec![r.adjust_p50.ratio()]),
        worst(&|r| vec![r.adjust_p99.ratio()])
    );
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path).map(|d| d.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn main() {
    let sizes: Vec<u64> = arg("--sizes").map(|s| s.split(',').map(|n| n.parse().expect("--sizes 1000,100000")).collect()).unwrap_or(vec![1_000, 100_000, 1_000_000]);
    let stores = arg("--stores").unwrap_or("sqlite,postgres".into());
    let secs: u64 = arg("--seconds").map(|s| s.parse().expect("--seconds N")).unwrap_or(5);
    let devnet = Devnet::start(DevnetConfig { production: Production::Manual, ..DevnetConfig::seeded("scale bench") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * support::CWD)).unwrap();
    devnet.produce_block();
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let config = support::config(devnet.chain_id_hex());
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let host = |store: Arc<dyn Store>| {
        let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5)).verify_chain_id(&devnet.chain_id_hex()).unwrap();
        let caps = Capabilities { store, node: Arc::new(node), clock: Arc::new(SystemClock), events: Arc::new(NullSink), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
        let options = ServiceOptions { api_instances: 4, lease: LeaseConfig { holder: "scale".into(), duration: Duration::from_secs(600) } };
        Service::start_opts(&runtime, caps, &config, keys.clone(), options).unwrap()
    };
    let subject = |store: Arc<dyn Store>, users: u64| {
        let service = host(store);
        let http = HttpApi::bind("127.0.0.1:0").unwrap();
        http.spawn(service.clone(), support::TOKEN.into(), 2);
        Subject { service, http, users }
    };
    // `settle`: brings both stores to the state their database keeps them in between
    // bursts (PostgreSQL: vacuumed), before each size is measured.
    let run = |name: &str, base_store: Arc<dyn Store>, store: Arc<dyn Store>, size: &dyn Fn() -> u64, settle: &dyn Fn()| {
        fill(&base_store, 0, BASE_USERS, now_ms);
        let base = subject(base_store, BASE_USERS);
        // A gateway that has served: its commits have drawn every totals shard (the
        // fill's few large commits drew a handful, and `status` reads them all).
        for i in 0..2_000u64 {
            base.service.with(|a| a.adjust_balance(&user_id(i % BASE_USERS), 1, &format!("served-{i}-{}", std::process::id()), "bench")).unwrap();
        }
        let mut big = subject(store.clone(), 0);
        let mut rows = Vec::new();
        // A kept store (`--dir`) holds the users of an earlier run: the fill goes on from them.
        let mut filled: u64 = store.get(records::SEQ_WD).unwrap().map_or(0, |e| records::decode::<u64>(&e.key, &e.value).unwrap());
        for &users in &sizes {
            if users < filled {
                println!("{name}: the store holds {filled} users already; {users} skipped");
                continue;
            }
            let t = Instant::now();
            fill(&store, filled, users, now_ms);
            filled = users;
            big.users = users;
            println!("{name}: filled to {users} users in {:.1} s", t.elapsed().as_secs_f64());
            let t = Instant::now();
            settle();
            println!("{name}: settled in {:.1} s", t.elapsed().as_secs_f64());
            let row = measure(&base, &big, secs, size());
            println!("{name}: {users} users: tick {} ms ({:.2}), account {} ms ({:.2})", ms(row.tick.big), row.tick.ratio(), ms(row.local[1].big), row.local[1].ratio());
            rows.push(row);
        }
        print(name, &rows);
        for s in [&base, &big] {
            s.http.shutdown();
        }
    };
    if stores.contains("sqlite") {
        let kept = arg("--dir").map(std::path::PathBuf::from);
        let dir = kept.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("cwd-scale-{}", std::process::id())));
        let base_dir = std::env::temp_dir().join(format!("cwd-scale-base-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&base_dir).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("scale.db")).unwrap());
        let base: Arc<dyn Store> = Arc::new(SqliteStore::open(&base_dir.join("base.db")).unwrap());
        run("SQLite", base, store, &|| dir_bytes(&dir), &|| {});
        std::fs::remove_dir_all(&base_dir).ok();
        if kept.is_none() {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    if stores.contains("postgres") {
        let settings = arg("--pg-settings").unwrap_or_default();
        let settings: Vec<&str> = settings.split(',').filter(|s| !s.is_empty()).collect();
        match pg::PgServer::start_with("scale", true, &settings) {
            Some(server) => {
                let url = server.create_database("scale");
                let open = |url: &str| -> Arc<dyn Store> { Arc::new(PostgresStore::open(&PostgresOptions { pool_size: 8, ..PostgresOptions::new(url.to_string()) }).unwrap()) };
                let base_url = server.create_database("base");
                let (base, store) = (open(&base_url), open(&url));
                // What autovacuum does in time: the updates of the previous size's load
                // (and the baseline's) leave dead row versions that every read then skips.
                let settle = || {
                    for url in [&base_url, &url] {
                        postgres::Client::connect(url, postgres::NoTls).unwrap().batch_execute("VACUUM ANALYZE cwd_kv").unwrap();
                    }
                };
                let sizer = Mutex::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
                let size = || {
                    let row = sizer.lock().unwrap().query_one("SELECT pg_total_relation_size('cwd_kv')", &[]).unwrap();
                    row.get::<_, i64>(0) as u64
                };
                run("PostgreSQL", base, store, &size, &settle);
            }
            None => println!("PostgreSQL: no binaries found; skipped"),
        }
    }
}
