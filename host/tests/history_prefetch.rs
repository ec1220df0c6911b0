//! A history catch-up through the host's [`HistoryPrefetch`] (the next page read while
//! the component applies the current one), against the devnet over loopback HTTP, while
//! the chain keeps moving: every transfer is credited exactly once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::history_prefetch::HistoryPrefetch;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use support::*;

#[test]
fn a_catch_up_with_prefetched_pages_credits_every_transfer_once() {
    const PLAYERS: usize = 3;
    const TRANSFERS: usize = 1_050; // ten full pages and a short one, over several ticks
    let devnet = Devnet::start(DevnetConfig { production: Production::Timer(Duration::from_millis(100)), ..DevnetConfig::seeded("prefetch") }).expect("devnet");
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * CWD)).unwrap();
    let http: Arc<dyn cwd_gateway_host::node::Node> = Arc::new(NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(10)));
    let node = Arc::new(HistoryPrefetch::new(http));
    let events = MemorySink::default();
    let caps = Capabilities { store: Arc::new(MemoryStore::new()), node, clock: Arc::new(SystemClock), events: Arc::new(events.clone()), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let service = Service::start(&runtime, caps, &config(devnet.chain_id_hex()), keys).unwrap();
    let gw = Gw { devnet, gateway, service, events };
    for p in 0..PLAYERS {
        gw.funded_player(&format!("user{p}"), &format!("player-{p}"), 100_000 * CWD, CWD);
    }
    let mut expected: Vec<u64> = (0..PLAYERS).map(|p| gw.service.with(|a| a.account(&format!("user{p}"))).unwrap().balance).collect();
    let mut send = |from: usize, to: usize| {
        for i in from..to {
            let p = i % PLAYERS;
            let amount = CWD + i as i64;
            gw.devnet.transfer(&format!("player-{p}"), "game-gateway", amount, None, None).unwrap();
            expected[p] += amount as u64 * 90 / 100_000;
        }
    };
    send(0, TRANSFERS);
    let last = gw.devnet.head_block_number() + 1;
    eventually("the transfers irreversible", Duration::from_secs(120), || (gw.devnet.last_irreversible_block_num() > last).then_some(()));
    // Ticks while more transfers arrive and blocks keep coming (the timer makes them).
    let mut more = TRANSFERS;
    for _ in 0..200 {
        let report = gw.service.tick().expect("tick");
        if more < TRANSFERS + 60 {
            send(more, more + 20);
            more += 20;
        } else if report.history_behind == 0 && report.next_tick_ms > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = gw.devnet.head_block_number() + 1;
    eventually("everything irreversible and scanned", Duration::from_secs(60), || {
        let report = gw.service.tick().expect("tick");
        (gw.devnet.last_irreversible_block_num() > last && report.history_behind == 0).then_some(())
    });
    for (p, want) in expected.iter().enumerate() {
        assert_eq!(gw.service.with(|a| a.account(&format!("user{p}"))).unwrap().balance, *want, "user{p} credited exactly once each");
    }
    let alerts: Vec<_> = gw.events.take().into_iter().filter(|e| e["type"] == "alert").collect();
    assert!(alerts.is_empty(), "no alert in a catch-up: {alerts:?}");
}
