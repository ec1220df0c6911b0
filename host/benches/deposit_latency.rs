//! How long after its block becomes irreversible a deposit is credited, with the
//! gateway's default settings (a 60 s tick interval) and the timer's finality watch, on a
//! devnet making a block a second on the wall clock (irreversible 5 blocks behind).
//!
//! `cargo bench -p cwd-gateway --bench deposit_latency` (optionally `-- <deposits>`,
//! default 30).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use support::*;

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    let devnet = Devnet::start(DevnetConfig { production: Production::Timer(Duration::from_secs(1)), block_interval: 1, ..DevnetConfig::seeded("deposit latency") })
        .expect("devnet");
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * CWD)).unwrap();
    let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5));
    let events = MemorySink::default();
    let caps = Capabilities { store: Arc::new(MemoryStore::new()), node: Arc::new(node), clock: Arc::new(SystemClock), events: Arc::new(events.clone()), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
    let mut config = config(devnet.chain_id_hex());
    config.tick_interval_ms = 0; // the default: 60 s
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let service = Service::start(&Runtime::new(RuntimeConfig::default()).unwrap(), caps, &config, keys).unwrap();
    let gw = Gw { devnet, gateway, service, events };
    gw.funded_player("ann", "ann-cwd", 10_000 * CWD, CWD);
    let stop = Arc::new(AtomicBool::new(false));
    let timer = gw.service.spawn_timer(stop.clone(), Duration::from_secs(300));

    let mut latencies = Vec::new();
    let mut expected = gw.service.with(|a| a.account("ann")).unwrap().balance;
    for _ in 0..n {
        let tx = gw.devnet.transfer("ann-cwd", "game-gateway", CWD, None, None).unwrap();
        let id: [u8; 20] = hex::decode(&tx.id).unwrap().try_into().unwrap();
        let block = eventually("the deposit in a block", Duration::from_secs(30), || gw.devnet.lock().location(&id).map(|l| l.block_num));
        eventually("its block irreversible", Duration::from_secs(60), || (gw.devnet.last_irreversible_block_num() >= block).then_some(()));
        let irreversible = Instant::now();
        expected += 90;
        eventually("the credit", Duration::from_secs(120), || {
            (gw.service.with(|a| a.account("ann")).ok()?.balance == expected).then_some(())
        });
        latencies.push(irreversible.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let _ = timer.join();
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p).div_ceil(100).saturating_sub(1)];
    println!(
        "deposit credited after its block is irreversible (n={n}, 1 s blocks, default 60 s tick interval): p50={:.2?} p99={:.2?} max={:.2?}",
        pct(50),
        pct(99),
        latencies[latencies.len() - 1]
    );
}
