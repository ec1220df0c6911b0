//! Game calls through the HTTP API with 16 clients, against a SQLite store
//! (`synchronous = FULL`) on disk, next to baselines measured in the same run:
//!
//! - `adjust-balance` (one conditional commit each; concurrent ones share a group
//!   commit) beside raw single-row SQLite commits with the same settings, one thread;
//! - `account` (reads only) beside `GET /health` through the same server (the HTTP
//!   stack's own ceiling);
//! - `adjust-balance` writing its event to the outbox (the default) beside the same
//!   calls on a gateway configured `events.live-only` (no outbox, no feed): two more
//!   gateways on fresh files, the same warm-up, phases alternated, the feed's
//!   sequencing by the timer included.
//!
//! `cargo bench -p cwd-gateway --bench throughput` (optionally `-- <seconds>` per
//! phase, default 5).

#[path = "support/http_client.rs"]
mod http_client;
#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::SqliteStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use http_client::Client;
use support::*;

const CLIENTS: usize = 16;

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p).div_ceil(100).saturating_sub(1)]
}

/// Single-row commits, one after another, for `secs`: commits a second.
fn raw_sqlite(path: &Path, secs: f64) -> f64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let tx = conn.unchecked_transaction().unwrap();
        tx.prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")
            .unwrap()
            .execute(rusqlite::params![n as i64, vec![7u8; 200]])
            .unwrap();
        tx.commit().unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `CLIENTS` threads sending requests made by `request(client, i)` for `secs`: calls a
/// second and the sorted latencies.
fn load(
    addr: SocketAddr,
    secs: f64,
    request: impl Fn(usize, u64) -> (String, Option<String>) + Send + Sync,
) -> (f64, Vec<Duration>) {
    let request = &request;
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let mut client = Client::connect(addr, TOKEN);
                    let mut lat = Vec::new();
                    let mut i = 0u64;
                    while start.elapsed().as_secs_f64() < secs {
                        let (path, body) = request(c, i);
                        let t = Instant::now();
                        assert_eq!(client.send(&path, body.as_deref()), 200, "{path}");
                        lat.push(t.elapsed());
                        i += 1;
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

fn line(what: &str, rate: f64, lat: &[Duration]) {
    println!(
        "{what:<44} {rate:>9.0}/s  p50={:>9.2?} p99={:>9.2?}",
        pct(lat, 50),
        pct(lat, 99)
    );
}

fn main() {
    let secs: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5.0);
    let dir = std::env::temp_dir().join(format!("cwd-bench-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let raw = raw_sqlite(&dir.join("raw.db"), secs);

    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(500)),
        ..DevnetConfig::seeded("throughput bench")
    })
    .expect("devnet");
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 10_000 * CWD))
        .unwrap();
    let keys = || api::Keys {
        active_wif: gateway.active_wif.clone().unwrap(),
        memo_wif: gateway.memo_wif.clone().unwrap(),
    };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // One gateway on its own SQLite file, served over HTTP, ticking.
    let start = |file: &str, live_only: bool| {
        let store = Arc::new(SqliteStore::open(&dir.join(file)).unwrap());
        let caps = Capabilities {
            store: store.clone(),
            node: Arc::new(NodeClient::new(
                vec![devnet.url().to_string()],
                Duration::from_secs(5),
            )),
            clock: Arc::new(SystemClock),
            events: Arc::new(NullSink),
            signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
        };
        let mut cfg = config(devnet.chain_id_hex());
        cfg.events.live_only = live_only;
        let service = Service::start_with(&runtime, caps, &cfg, keys(), CLIENTS).unwrap();
        let http = HttpApi::bind("127.0.0.1:0").unwrap();
        http.spawn(service.clone(), TOKEN.into(), 2);
        let timer = service.spawn_timer(stop.clone(), Duration::from_secs(5));
        (store, http, timer)
    };
    let (store, http, timer) = start("gateway.db", false);
    // The outbox's cost: two more gateways on fresh files, the same load on each.
    // CWD_BENCH_AA=1: both live-only, to see the harness's own bias (about 1.00).
    let (outbox_store, outbox_http, outbox_timer) = start("outbox.db", std::env::var_os("CWD_BENCH_AA").is_some());
    let (live_store, live_http, live_timer) = start("live-only.db", true);
    let addr = http.addr;

    let adjust = |c: usize, i: u64| {
        (
            "/v1/adjust-balance".to_string(),
            Some(format!(
                r#"{{"user":"bench-{c}","delta":1,"idempotency_key":"k-{c}-{i}"}}"#
            )),
        )
    };
    let account = |c: usize, _| {
        (
            "/v1/account".to_string(),
            Some(format!(r#"{{"user":"bench-{c}"}}"#)),
        )
    };
    let health = |_, _| ("/health".to_string(), None);
    load(addr, 1.0, adjust); // warm-up: every instance created, users exist
    let (groups0, writing0, t0) = (store.groups_written(), store.time_writing(), Instant::now());
    let (adj_rate, adj_lat) = load(addr, secs, |c, i| adjust(c, i + 1_000_000));
    let groups = store.groups_written() - groups0;
    let writer_busy = (store.time_writing() - writing0).as_secs_f64() / t0.elapsed().as_secs_f64();
    let (acc_rate, acc_lat) = load(addr, secs, account);
    let (health_rate, health_lat) = load(addr, secs, health);

    println!("{CLIENTS} clients over HTTP, SQLite synchronous=FULL on disk, {secs} s a phase");
    println!(
        "{:<44} {raw:>9.0}/s",
        "baseline: raw single-row SQLite commits"
    );
    line("adjust-balance", adj_rate, &adj_lat);
    println!(
        "  ratio to raw commits {:.2}; {:.1} commits per fsync ({groups} groups); the writer busy {:.0} % of the time",
        adj_rate / raw,
        adj_lat.len() as f64 / groups.max(1) as f64,
        writer_busy * 100.0
    );
    line("baseline: GET /health", health_rate, &health_lat);
    line("account", acc_rate, &acc_lat);
    println!("  ratio to /health {:.2}", acc_rate / health_rate);

    // The outbox's cost: alternating phases on the two gateways, fresh keys each.
    load(live_http.addr, 1.0, adjust);
    load(outbox_http.addr, 1.0, adjust);
    let (mut with_n, mut with_t, mut without_n, mut without_t) = (0usize, 0.0, 0usize, 0.0);
    let writing = |outbox: bool| if outbox { outbox_store.time_writing() } else { live_store.time_writing() };
    let (mut with_w, mut without_w) = (0.0, 0.0);
    let mut with_lat = Vec::new();
    // ABBA order, so neither gateway always runs right after the other (a 4-phase A/A
    // run, both gateways live-only, measured 0.95 with plain alternation).
    for round in 0..4u64 {
        for outbox in [round % 2 == 1, round % 2 == 0] {
            let (t, w) = (Instant::now(), writing(outbox));
            let (addr, base) = match outbox {
                true => (outbox_http.addr, 3_000_000),
                false => (live_http.addr, 2_000_000),
            };
            let (_, lat) = load(addr, secs / 4.0, |c, i| {
                adjust(c, i + base + round * 1_000_000_000)
            });
            let took = t.elapsed().as_secs_f64();
            let wrote = (writing(outbox) - w).as_secs_f64();
            if outbox {
                with_w += wrote;
                with_t += took;
                with_n += lat.len();
                with_lat.extend(lat);
            } else {
                without_w += wrote;
                without_t += took;
                without_n += lat.len();
            }
        }
    }
    with_lat.sort();
    let (with_rate, without_rate) = (with_n as f64 / with_t, without_n as f64 / without_t);
    println!(
        "{:<44} {without_rate:>9.0}/s",
        "baseline: adjust-balance, events.live-only"
    );
    line(
        "adjust-balance with the outbox (the feed)",
        with_rate,
        &with_lat,
    );
    for (what, store) in [("with the outbox", &outbox_store), ("live-only", &live_store)] {
        let (commits, conflicts) = store.commits_and_conflicts();
        println!("  {what}: {commits} commits written, {conflicts} refused on a changed precondition");
    }
    println!(
        "  ratio to live-only {:.2} (goal: at least 0.90); the writer busy {:.0} % (live-only {:.0} %), {:.1} µs a call (live-only {:.1} µs)",
        with_rate / without_rate,
        100.0 * with_w / with_t,
        100.0 * without_w / without_t,
        1e6 * with_w / with_n.max(1) as f64,
        1e6 * without_w / without_n.max(1) as f64,
    );

    stop.store(true, Ordering::Relaxed);
    let _ = timer.join();
    let _ = live_timer.join();
    let _ = outbox_timer.join();
    http.shutdown();
    live_http.shutdown();
    outbox_http.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}
