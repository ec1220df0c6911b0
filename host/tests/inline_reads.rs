//! Store-only reads (`account`, quotes) may run on the HTTP API's async threads, but
//! only on an idle, configured instance and a store whose reads are brief: never
//! waiting for an instance, never on a store that reads over a network.

mod support;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::{CommitOutcome, Entry, MemoryStore, Precondition, Store, StoreError, Write};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use support::*;

/// A store that does not promise brief reads (as PostgreSQL does not).
struct NetworkLike(MemoryStore);

impl Store for NetworkLike {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.0.get(key)
    }
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.0.scan(prefix, start_after, limit)
    }
    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.0.scan_reverse(prefix, start_before, limit)
    }
    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        self.0.commit(preconditions, writes)
    }
}

fn service(store: Arc<dyn Store>) -> (cwd_devnet::DevnetHandle, Arc<Service>) {
    let devnet = Devnet::start(DevnetConfig::seeded("inline-reads")).expect("devnet");
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * CWD)).unwrap();
    devnet.produce_block();
    let node = Arc::new(NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(10)));
    let caps = Capabilities { store, node, clock: Arc::new(SystemClock), events: Arc::new(MemorySink::default()), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let service = Service::start_with(&runtime, caps, &config(devnet.chain_id_hex()), keys, 1).unwrap();
    (devnet, service)
}

#[test]
fn reads_run_at_once_on_an_idle_configured_instance_and_never_wait_for_one() {
    let (_devnet, service) = service(Arc::new(MemoryStore::new()));
    // The one API instance, made and configured by a waiting call.
    let waited = service.with(|a| a.account("u1")).unwrap();
    let inline = service.try_with_ready(|a| a.account("u1")).expect("an idle configured instance").unwrap();
    assert_eq!((inline.balance, inline.linked.is_none()), (waited.balance, true));

    // While another call holds the only instance, a read does not wait for it.
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let svc = &service;
        s.spawn(move || {
            svc.with(|_| {
                held_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            })
        });
        held_rx.recv().unwrap();
        assert!(service.try_with_ready(|a| a.account("u1")).is_none(), "no idle instance: the caller must wait elsewhere");
        release_tx.send(()).unwrap();
    });
    assert!(service.try_with_ready(|a| a.account("u1")).is_some(), "the instance is back");
}

#[test]
fn a_store_without_brief_reads_never_runs_calls_inline() {
    let (_devnet, service) = service(Arc::new(NetworkLike(MemoryStore::new())));
    service.with(|a| a.account("u1")).unwrap();
    assert!(service.try_with_ready(|a| a.account("u1")).is_none());
}
