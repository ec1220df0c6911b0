//! `adjust-balance` per second with one, two and three hosts on one PostgreSQL database,
//! beside one host on SQLite, in one run. Each host is a `Service` with its own instance
//! pool (4 API instances) and its own store connection pool, as a separate process would
//! have; 12 client threads call `adjust-balance` (each on its own users, fresh
//! idempotency keys), spread over the hosts. PostgreSQL runs durable (fsync on, as
//! SQLite's `synchronous = FULL`). Timers are off: this measures the API path.
//!
//! The physical baseline: the same 12 clients doing raw single-row durable commits
//! (an upsert of one row each, autocommit, one round trip) on the same server, measured
//! before and after the PostgreSQL phases; each phase is printed as a ratio of their
//! mean. Each phase also reports the CPU time it cost per call, in the bench process
//! (hosts and clients) and in PostgreSQL's processes, and how busy the machine was: the
//! measured per-commit costs a model of hosts on separate machines starts from. A short
//! sequential run with `log_statement = all` counts the statements (each one round
//! trip) a commit takes.
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
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::{CommitOutcome, Entry, PostgresOptions, PostgresStore, Precondition, SqliteStore, Store, StoreError, Write};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};

const CLIENTS: usize = 12;

struct Chain {
    devnet: cwd_devnet::DevnetHandle,
    keys: api::Keys,
    config: api::Config,
    runtime: Runtime,
}

fn host(chain: &Chain, store: Arc<dyn Store>, name: &str) -> Arc<Service> {
    let node = NodeClient::new(vec![chain.devnet.url().to_string()], Duration::from_secs(5)).verify_chain_id(&chain.devnet.chain_id_hex()).unwrap();
    let caps = Capabilities { store, node: Arc::new(node), clock: Arc::new(SystemClock), events: Arc::new(NullSink), signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner) };
    let options = ServiceOptions { api_instances: 4, lease: LeaseConfig { holder: name.into(), duration: Duration::from_secs(30) } };
    let service = Service::start_opts(&chain.runtime, caps, &chain.config, chain.keys.clone(), options).unwrap();
    // As a running gateway has: its first tick builds the derived data's marker (a fresh
    // store's build is empty), and from then on every balance change keeps the totals.
    // (Another host holding the tick's lease has done it.)
    match service.tick() {
        Ok(_) | Err(cwd_gateway_host::gateway::GatewayCallError::Standby { .. }) => {}
        Err(e) => panic!("the first tick: {e}"),
    }
    service
}

/// The bench's PostgreSQL server (its postmaster's pid): only its processes count, not
/// other servers on the machine.
static POSTMASTER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// CPU time so far (µs): this process, the bench's PostgreSQL processes, and the
/// machine's busy and total time (from `/proc`; other work on the machine shows there).
#[derive(Clone, Copy, Default)]
struct Cpu {
    own: f64,
    pg: f64,
    busy: f64,
    total: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let tick_us = 1e6 / 100.0; // USER_HZ is 100 on Linux
        // (pid, ppid, utime + stime + cutime + cstime): children that exited and were
        // reaped (PostgreSQL's closed sessions) count in their parent.
        let times = |stat: &str| -> Option<(f64, f64, f64)> {
            let pid: f64 = stat.split_once(" (")?.0.parse().ok()?;
            let f: Vec<f64> = stat.rsplit_once(')')?.1.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
            Some((pid, *f.get(1)?, f.get(11..15)?.iter().sum::<f64>() * tick_us))
        };
        let own = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| times(&s)).map_or(0.0, |t| t.2);
        let postmaster = POSTMASTER.get().map_or(-1.0, |p| *p as f64);
        let pg = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| times(&std::fs::read_to_string(e.path().join("stat")).ok()?))
            .filter(|(pid, ppid, _)| *pid == postmaster || *ppid == postmaster)
            .map(|(_, _, t)| t)
            .sum();
        let line = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let f: Vec<f64> = line.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        let total: f64 = f.iter().take(8).sum::<f64>() * tick_us;
        let idle = (f.get(3).unwrap_or(&0.0) + f.get(4).unwrap_or(&0.0)) * tick_us;
        Cpu { own, pg, busy: total - idle, total }
    }

    /// "host X µs + PostgreSQL Y µs CPU a call, machine Z % busy" since `before`.
    fn per_call(self, before: Cpu, calls: u64) -> String {
        let n = calls.max(1) as f64;
        format!(
            "CPU a call: bench process {:.0} µs, PostgreSQL {:.0} µs; machine {:.0} % busy",
            (self.own - before.own) / n,
            (self.pg - before.pg) / n,
            100.0 * (self.busy - before.busy) / (self.total - before.total).max(1.0)
        )
    }
}

/// Calls per second over `secs`, clients spread round-robin over `hosts`; the busy
/// answers; the CPU the phase cost a call.
fn phase(hosts: &[Arc<Service>], secs: u64, tag: &str) -> (f64, u64, String) {
    let cpu = Cpu::now();
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
    (total as f64 / started.elapsed().as_secs_f64(), busy.load(Ordering::Relaxed), Cpu::now().per_call(cpu, total))
}

/// The physical baseline: CLIENTS connections, each upserting its own row in autocommit
/// (one round trip, one durable commit each), for `secs`: commits per second.
fn raw_phase(url: &str, secs: u64) -> (f64, String) {
    let cpu = Cpu::now();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (url, stop) = (url.to_string(), stop.clone());
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let upsert = client.prepare("INSERT INTO raw (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v").unwrap();
                let mut done = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    client.execute(&upsert, &[&(t as i64), &done]).unwrap();
                    done += 1;
                }
                done as u64
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    (total as f64 / started.elapsed().as_secs_f64(), Cpu::now().per_call(cpu, total))
}

/// A store that counts the calls it passes on.
struct Counted {
    inner: PostgresStore,
    gets: AtomicU64,
    scans: AtomicU64,
    commits: AtomicU64,
}

impl Store for Counted {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key)
    }
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.scans.fetch_add(1, Ordering::Relaxed);
        self.inner.scan(prefix, start_after, limit)
    }
    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.scans.fetch_add(1, Ordering::Relaxed);
        self.inner.scan_reverse(prefix, start_before, limit)
    }
    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(preconditions, writes)
    }
}

/// Statements (each one round trip: the store sends every statement on its own) per
/// `adjust-balance` and per commit, from one client, sequentially, with the server
/// logging every statement of one database.
fn round_trips(chain: &Chain, server: &pg::PgServer) -> String {
    let url = server.create_database("roundtrips");
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute("ALTER DATABASE roundtrips SET log_statement = 'all'").unwrap();
    let counted = Arc::new(Counted {
        inner: PostgresStore::open(&PostgresOptions { pool_size: 2, ..PostgresOptions::new(url) }).unwrap(),
        gets: AtomicU64::new(0),
        scans: AtomicU64::new(0),
        commits: AtomicU64::new(0),
    });
    let service = host(chain, counted.clone(), "roundtrips");
    let call = |i: u32| {
        service.with(|a| a.adjust_balance(&format!("rt-u{}", i % 4), 1, &format!("rt-{i}"), "bench")).unwrap();
    };
    (0..20).for_each(call); // configuration, first records
    let log = server.dir().join("log");
    let statements = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().filter(|l| l.contains("LOG:  statement: ") || l.contains("LOG:  execute ")).count() as u64
    };
    let counts = |c: &Counted| [&c.gets, &c.scans, &c.commits].map(|a| a.load(Ordering::Relaxed));
    let (s0, c0) = (statements(), counts(&counted));
    const CALLS: u32 = 200;
    (20..20 + CALLS).for_each(call);
    std::thread::sleep(Duration::from_millis(200)); // the log written
    let (s1, c1) = (statements(), counts(&counted));
    let [gets, scans, commits] = [c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2]];
    let in_commits = (s1 - s0) - gets - scans; // a get or a scan is one statement
    format!(
        "round trips: {:.2} a call ({:.2} gets, {:.2} scans, {:.2} commits of {:.2} statements each)",
        (s1 - s0) as f64 / CALLS as f64,
        gets as f64 / CALLS as f64,
        scans as f64 / CALLS as f64,
        commits as f64 / CALLS as f64,
        in_commits as f64 / commits.max(1) as f64
    )
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let Some(server) = pg::PgServer::start("bench", true) else { return };
    let pid = std::fs::read_to_string(server.dir().join("data/postmaster.pid")).unwrap_or_default();
    let _ = POSTMASTER.set(pid.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0));
    let devnet = Devnet::start(DevnetConfig { production: Production::Timer(Duration::from_millis(500)), ..DevnetConfig::seeded("pg bench") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * support::CWD)).unwrap();
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let config = support::config(devnet.chain_id_hex());
    let chain = Chain { devnet, keys, config, runtime: Runtime::new(RuntimeConfig::default()).unwrap() };

    let sqlite_path = server.dir().join("bench.db");
    let sqlite = host(&chain, Arc::new(SqliteStore::open(&sqlite_path).unwrap()), "sqlite");
    phase(&[sqlite.clone()], 1, "warm-sqlite");
    let (sqlite_rate, sqlite_busy, sqlite_cpu) = phase(&[sqlite], secs, "sqlite");
    println!("{:<32} {:>9.0} adjust-balance/s  (busy answers: {sqlite_busy}; {sqlite_cpu})", "SQLite, 1 host", sqlite_rate);

    println!("{}", round_trips(&chain, &server));

    let raw_url = server.create_database("raw");
    postgres::Client::connect(&raw_url, postgres::NoTls).unwrap().batch_execute("CREATE TABLE raw (k INT8 PRIMARY KEY, v INT8 NOT NULL)").unwrap();
    raw_phase(&raw_url, 1);
    let (raw_before, raw_cpu) = raw_phase(&raw_url, secs);
    println!("{:<32} {:>9.0} commits/s          ({raw_cpu})", format!("PostgreSQL raw, {CLIENTS} clients"), raw_before);

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
        let (rate, busy, cpu) = phase(&hosts, secs, &format!("pg{n}"));
        println!("{:<32} {:>9.0} adjust-balance/s  (busy answers: {busy}; {cpu})", format!("PostgreSQL, {n} host{}", if n > 1 { "s" } else { "" }), rate);
        rates.push(rate);
    }
    let (raw_after, raw_cpu) = raw_phase(&raw_url, secs);
    println!("{:<32} {:>9.0} commits/s          ({raw_cpu})", format!("PostgreSQL raw, {CLIENTS} clients"), raw_after);
    let raw = (raw_before + raw_after) / 2.0;
    println!(
        "ratios to raw commits ({raw:.0}/s, the mean of both): PostgreSQL 1 host {:.2}, 2 hosts {:.2}, 3 hosts {:.2}; SQLite 1 host {:.2}",
        rates[0] / raw,
        rates[1] / raw,
        rates[2] / raw,
        sqlite_rate / raw
    );
    println!(
        "ratios: PostgreSQL 1 host / SQLite {:.2}; PostgreSQL 2 hosts / 1 host {:.2}; 3 hosts / 1 host {:.2}",
        rates[0] / sqlite_rate,
        rates[1] / rates[0],
        rates[2] / rates[0]
    );
}
