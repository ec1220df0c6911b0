//! A history catch-up: the gateway, stopped while `N` (default 100,000) transfers
//! reached its account, ticks until it has applied them all, on a SQLite store
//! (`synchronous = FULL`) on disk, against the devnet over loopback HTTP. Baseline in
//! the same run: reading the same history pages from the node with the host's HTTP
//! client and parsing them, nothing else (what the node and the transport allow).
//!
//! `cargo bench -p cwd-gateway --bench catch_up` (optionally `-- <transfers>`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::node::{NodeClient, Node};
use cwd_gateway_host::store::SqliteStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use serde_json::Value;
use support::*;

const PLAYERS: usize = 8;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    cwd_gateway_host::serve::init_logging(cwd_gateway_host::config::LogFormat::Human);
    let dir = std::env::temp_dir().join(format!("cwd-bench-catch-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let devnet = Devnet::start(DevnetConfig { production: Production::Timer(Duration::from_millis(100)), ..DevnetConfig::seeded("catch-up bench") }).expect("devnet");
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * CWD)).unwrap();
    let node = Arc::new(NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(30)));
    let events = MemorySink::default();
    let store = Arc::new(SqliteStore::open(&dir.join("gateway.db")).unwrap());
    // As `cwd-gateway serve` runs it: the next history page read while one is applied.
    let prefetching = Arc::new(cwd_gateway_host::history_prefetch::HistoryPrefetch::new(node.clone()));
    let caps = Capabilities { store, node: prefetching, clock: Arc::new(SystemClock), events: Arc::new(events.clone()), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let runtime = Runtime::new(RuntimeConfig { call_timeout: Duration::from_secs(120), ..RuntimeConfig::default() }).unwrap();
    let service = Service::start(&runtime, caps, &config(devnet.chain_id_hex()), keys).unwrap();
    let gw = Gw { devnet, gateway, service, events };

    // Linked players (ticking by hand); then the gateway is idle while history piles up.
    for p in 0..PLAYERS {
        gw.funded_player(&format!("user{p}"), &format!("player-{p}"), 1_000_000 * CWD, CWD);
    }
    let before: Vec<u64> = (0..PLAYERS).map(|p| gw.service.with(|a| a.account(&format!("user{p}"))).unwrap().balance).collect();
    let made = Instant::now();
    let mut expected = before.clone();
    for i in 0..n {
        let p = i % PLAYERS;
        let amount = CWD + i as i64; // distinct amounts: distinct transactions
        gw.devnet.transfer(&format!("player-{p}"), "game-gateway", amount, None, None).unwrap();
        expected[p] += amount as u64 * 90 / 100_000;
    }
    let last = gw.devnet.head_block_number() + 1;
    eventually("the transfers irreversible", Duration::from_secs(600), || (gw.devnet.last_irreversible_block_num() > last).then_some(()));
    eprintln!("{n} transfers made and irreversible in {:.1?}", made.elapsed());

    // Baseline: the same pages, read and parsed only.
    let stats_id = format!("2.6.{}", gw.service.info.account_id.rsplit('.').next().unwrap());
    let total = node.call("database", "get_objects", &format!(r#"[["{stats_id}"]]"#)).unwrap();
    let total: u64 = serde_json::from_str::<Value>(&total).unwrap()[0]["total_ops"].as_u64().unwrap();
    let started = Instant::now();
    let mut read = 0u64;
    let mut seq = 0u64;
    while seq < total {
        let params = format!(r#"["{}", {}, 100, {}]"#, gw.service.info.account_id, seq + 1, seq + 100);
        let page: Value = serde_json::from_str(&node.call("history", "get_relative_account_history", &params).unwrap()).unwrap();
        let got = page.as_array().unwrap().len() as u64;
        assert!(got > 0);
        read += got;
        seq += got;
    }
    let baseline = read as f64 / started.elapsed().as_secs_f64();

    // The catch-up: ticks back to back, as the timer runs them while the tick asks for more.
    let started = Instant::now();
    let mut scanned = 0u64;
    let mut ticks = 0;
    loop {
        let report = gw.service.tick().expect("tick");
        ticks += 1;
        scanned += u64::from(report.history_scanned);
        if report.history_behind <= 2 && report.next_tick_ms > 0 {
            break;
        }
    }
    let took = started.elapsed();
    for (p, want) in expected.iter().enumerate() {
        assert_eq!(gw.service.with(|a| a.account(&format!("user{p}"))).unwrap().balance, *want, "user{p} credited exactly once each");
    }
    println!("history catch-up over {scanned} operations (fresh scan of {n} transfers from {PLAYERS} linked players), SQLite synchronous=FULL");
    println!("{:<52} {baseline:>9.0} ops/s", "baseline: node pages read and parsed only");
    println!("{:<52} {:>9.0} ops/s  ({ticks} ticks, {took:.2?}, {:.2} of baseline)", "catch-up (credit + record + cursor, page commits)", scanned as f64 / took.as_secs_f64(), scanned as f64 / took.as_secs_f64() / baseline);
    std::fs::remove_dir_all(&dir).ok();
}
