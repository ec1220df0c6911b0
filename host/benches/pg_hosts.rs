//! `adjust-balance` per second with one, two and three hosts on one PostgreSQL database,
//! beside one host on SQLite (the same-run baseline), in one run. Each host is a
//! `Service` with its own instance pool (4 API instances) and its own store connection
//! pool, as a separate process would have; 12 client threads call `adjust-balance`
//! (each on its own users, fresh idempotency keys), spread over the hosts. PostgreSQL
//! runs durable (fsync on, as SQLite's `synchronous = FULL`). Timers are off: this
//! measures the API path.
//!
//! `cargo bench -p cwd-gateway --bench pg_hosts` (optionally `-- <seconds>` per phase,
//! default 10). Needs PostgreSQL's binaries (see `tests/support/pg.rs`).

#[path = "../tests/support/pg.rs"]
mod pg;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api::{self, GatewayError};
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::{GatewayCallError, Service, ServiceOptions};
use cwd_gateway_host::lease::LeaseConfig;
use cwd_gateway_host::node::HttpNode;
use cwd_gateway_host::store::{PostgresOptions, PostgresStore, SqliteStore, Store};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};

const CLIENTS: usize = 12;

struct Chain {
    devnet: cwd_devnet::DevnetHandle,
    keys: api::Keys,
    config: api::Config,
    runtime: Runtime,
}

fn host(chain: &Chain, store: Arc<dyn Store>, name: &str) -> Arc<Service> {
    let node = HttpNode::new(vec![chain.devnet.url().to_string()], Duration::from_secs(5)).verify_chain_id(&chain.devnet.chain_id_hex()).unwrap();
    let caps = Capabilities { store, node: Arc::new(node), clock: Arc::new(SystemClock), events: Arc::new(NullSink) };
    let options = ServiceOptions { api_instances: 4, lease: LeaseConfig { holder: name.into(), duration: Duration::from_secs(30) } };
    Service::start_opts(&chain.runtime, caps, &chain.config, chain.keys.clone(), options).unwrap()
}

/// Calls per second over `secs`, clients spread round-robin over `hosts`.
fn phase(hosts: &[Arc<Service>], secs: u64, tag: &str) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let busy = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (service, stop, busy, tag) = (hosts[t % hosts.len()].clone(), stop.clone(), busy.clone(), tag.to_string());
            std::thread::spawn(move || {
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (user, key) = (format!("{tag}-c{t}-u{}", done % 16), format!("{tag}-c{t}-{done}"));
                    match service.with(|a| a.adjust_balance(&user, 1, &key, "bench")) {
                        Ok(_) => done += 1,
                        Err(GatewayCallError::Refused(GatewayError::Busy)) => {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("adjust-balance: {e}"),
                    }
                }
                done
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    (total as f64 / started.elapsed().as_secs_f64(), busy.load(Ordering::Relaxed))
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let Some(server) = pg::PgServer::start("bench", true) else { return };
    let devnet = Devnet::start(DevnetConfig { production: Production::Timer(Duration::from_millis(500)), ..DevnetConfig::seeded("pg bench") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * support::CWD)).unwrap();
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let config = support::config(devnet.chain_id_hex());
    let chain = Chain { devnet, keys, config, runtime: Runtime::new(RuntimeConfig::default()).unwrap() };

    let sqlite_path = server.dir().join("bench.db");
    let sqlite = host(&chain, Arc::new(SqliteStore::open(&sqlite_path).unwrap()), "sqlite");
    phase(&[sqlite.clone()], 1, "warm-sqlite");
    let (sqlite_rate, sqlite_busy) = phase(&[sqlite], secs, "sqlite");
    println!("{:<32} {:>9.0} adjust-balance/s  (busy answers: {sqlite_busy})", "SQLite, 1 host", sqlite_rate);

    let mut rates = Vec::new();
    for n in 1..=3 {
        let url = server.create_database(&format!("bench{n}"));
        let hosts: Vec<Arc<Service>> = (0..n)
            .map(|i| {
                let store = PostgresStore::open(&PostgresOptions { pool_size: 8, ..PostgresOptions::new(url.clone()) }).unwrap();
                host(&chain, Arc::new(store), &format!("host-{i}"))
            })
            .collect();
        phase(&hosts, 1, &format!("warm-pg{n}"));
        let (rate, busy) = phase(&hosts, secs, &format!("pg{n}"));
        println!("{:<32} {:>9.0} adjust-balance/s  (busy answers: {busy})", format!("PostgreSQL, {n} host{}", if n > 1 { "s" } else { "" }), rate);
        rates.push(rate);
    }
    println!(
        "ratios: PostgreSQL 1 host / SQLite {:.2}; PostgreSQL 2 hosts / 1 host {:.2}; 3 hosts / 1 host {:.2}",
        rates[0] / sqlite_rate,
        rates[1] / rates[0],
        rates[2] / rates[0]
    );
}
