//! The store on a real PostgreSQL server that the test starts itself (see
//! `support/pg.rs`): the store contract, three hosts on one database under parallel API
//! load, and the tick lease holder killed mid-withdrawal with another host finishing it.
//! Skipped with a message when PostgreSQL is not installed, unless `$CI` is set.

#[path = "support/pg.rs"]
mod pg;
mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, FaultKind, FaultRule, Production};
use cwd_gateway_host::bindings::api::{self, GatewayError};
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::{GatewayCallError, Service, ServiceOptions};
use cwd_gateway_host::lease::LeaseConfig;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::{
    contract, CommitOutcome, PostgresOptions, PostgresStore, Precondition, Store, Write,
};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use pg::PgServer;
use serde_json::{json, Value};
use support::{call, eventually, free_port, KillOnDrop, CWD, TOKEN};

fn open(url: &str) -> PostgresStore {
    PostgresStore::open(&PostgresOptions::new(url)).expect("opening the PostgreSQL store")
}

#[test]
fn postgres_meets_the_store_contract() {
    let Some(server) = PgServer::start("contract", false) else {
        return;
    };
    let url = server.create_database("contract");
    contract::check(&open(&url));

    // Three pools (as three processes would have), three threads each, racing on one key.
    let url2 = server.create_database("concurrent");
    let handles: Vec<Arc<dyn Store>> = (0..3)
        .map(|_| Arc::new(open(&url2)) as Arc<dyn Store>)
        .collect();
    contract::check_concurrent(&handles, 3, 30);

    // Two "create if absent" racing from two pools: exactly one wins, many times over.
    let (a, b) = (Arc::new(open(&url2)), Arc::new(open(&url2)));
    for i in 0..50 {
        let key = format!("bind/{i}");
        let create = |s: Arc<PostgresStore>, v: &'static str, key: String| {
            std::thread::spawn(move || {
                s.commit(
                    &[Precondition {
                        key: key.clone(),
                        expected_version: None,
                    }],
                    &[Write {
                        key,
                        value: Some(v.as_bytes().to_vec()),
                    }],
                )
                .unwrap()
            })
        };
        let (ta, tb) = (
            create(a.clone(), "a", key.clone()),
            create(b.clone(), "b", key.clone()),
        );
        let outcomes = [ta.join().unwrap(), tb.join().unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == CommitOutcome::Committed)
                .count(),
            1,
            "{outcomes:?}"
        );
    }

    // Reopening finds the schema and the data; a newer schema is refused.
    let again = open(&url);
    assert_eq!(again.get("b").unwrap().unwrap().value, b"x");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("UPDATE cwd_gateway_meta SET value = 99 WHERE name = 'schema_version'")
        .unwrap();
    let e = PostgresStore::open(&PostgresOptions::new(url.clone()))
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(e.contains("newer") && e.contains("upgrade"), "{e}");

    // The password never shows in an error: a wrong one, an unreachable server.
    let wrong = url.replace(&server.password, "not-the-password-0xdeadbeef");
    let e = PostgresStore::open(&PostgresOptions::new(wrong))
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(
        !e.contains("not-the-password") && !e.contains(&server.password),
        "{e}"
    );
    assert!(
        e.contains("password authentication failed"),
        "says what is wrong: {e}"
    );
    let dead = format!(
        "postgres://postgres:{}@127.0.0.1:{}/contract",
        server.password,
        free_port()
    );
    let e = PostgresStore::open(&PostgresOptions {
        connect_timeout: Duration::from_secs(1),
        ..PostgresOptions::new(dead)
    })
    .err()
    .unwrap()
    .to_string();
    assert!(!e.contains(&server.password), "{e}");
    // A password file's password replaces the URL's.
    let no_pw = url.replace(&format!(":{}@", server.password), "@");
    let store = PostgresStore::open(&PostgresOptions {
        password: Some(format!("{}\n", server.password)),
        ..PostgresOptions::new(no_pw)
    });
    assert!(
        store.err().is_some_and(|e| e.to_string().contains("newer")),
        "connected with the password file's password"
    );
}

/// Every shape of scan asks the primary key's index for the range between both bounds
/// (PostgreSQL's generic plan, the one a prepared statement keeps whatever the
/// arguments): a prefix with few rows costs what it returns, however many rows follow.
#[test]
fn prefix_scans_use_both_bounds() {
    let Some(server) = PgServer::start("plans", false) else {
        return;
    };
    let store = open(&server.create_database("plans"));
    let writes: Vec<Write> = (0..3000)
        .map(|i| Write {
            key: format!("zz/{i:05}"),
            value: Some(vec![1]),
        })
        .collect();
    store.commit(&[], &writes).unwrap();
    for (prefix, after) in [
        ("dep/", None),
        ("dep/", Some("dep/00042")),
        ("user/", Some("a")),
        ("pow/", Some("zzz")),
    ] {
        let plan = store.scan_plan(prefix, after).unwrap();
        let cond = plan
            .lines()
            .find(|l| l.contains("Index Cond"))
            .unwrap_or_else(|| panic!("no index range for {prefix}: {plan}"));
        assert!(
            cond.contains("(key >") && cond.contains("(key < $2)"),
            "{prefix} after {after:?}: {plan}"
        );
        assert!(
            !plan.contains("Filter"),
            "{prefix}: a bound left to a filter: {plan}"
        );
    }
    let plan = store.scan_plan("\u{10FFFF}", None).unwrap();
    assert!(plan.contains("Index Cond: (key >= $1)"), "{plan}");
    for (prefix, before) in [
        ("udep/alice/", None),
        ("udep/alice/", Some("udep/alice/d-0000000042")),
        ("uwd/", Some("zzz")),
    ] {
        let plan = store.scan_reverse_plan(prefix, before).unwrap();
        assert!(
            plan.contains("Index Scan Backward"),
            "{prefix} before {before:?}: {plan}"
        );
        let cond = plan
            .lines()
            .find(|l| l.contains("Index Cond"))
            .unwrap_or_else(|| panic!("no index range for {prefix}: {plan}"));
        assert!(
            cond.contains("(key >= $1)") && cond.contains("(key < $2)"),
            "{prefix} before {before:?}: {plan}"
        );
    }
    // The plans were asked for on pooled connections that go on serving.
    assert_eq!(store.scan("zz/", Some("zz/02997"), 10).unwrap().len(), 2);
}

fn put(key: &str, value: &str) -> Write {
    Write {
        key: key.into(),
        value: Some(value.as_bytes().to_vec()),
    }
}

fn at(key: &str, version: Option<u64>) -> Precondition {
    Precondition {
        key: key.into(),
        expected_version: version,
    }
}

/// A commit is one statement: a precondition that fails anywhere in it (an absent key
/// present, a stale version, a version of a deleted key) leaves every key of its batch
/// as it was, puts, new keys and deletes alike, and answers `conflict`.
#[test]
fn a_failed_precondition_in_the_one_statement_writes_nothing() {
    let Some(server) = PgServer::start("noop", false) else {
        return;
    };
    let store = open(&server.create_database("noop"));
    assert_eq!(
        store
            .commit(
                &[],
                &[
                    put("a", "1"),
                    put("b", "1"),
                    put("c", "1"),
                    put("gone", "1")
                ]
            )
            .unwrap(),
        CommitOutcome::Committed
    );
    let gone = store.get("gone").unwrap().unwrap().version;
    store
        .commit(
            &[],
            &[Write {
                key: "gone".into(),
                value: None,
            }],
        )
        .unwrap();
    let before: Vec<_> = ["a", "b", "c", "new"]
        .iter()
        .map(|k| store.get(k).unwrap())
        .collect();
    let (a, b) = (
        before[0].clone().unwrap().version,
        before[1].clone().unwrap().version,
    );
    let writes = [
        put("a", "2"),
        put("new", "2"),
        Write {
            key: "c".into(),
            value: None,
        },
        put("b", "2"),
    ];
    for failing in [
        at("b", None),
        at("b", Some(b + 1000)),
        at("b", Some(a)),
        at("gone", Some(gone)),
    ] {
        let pres = [at("a", Some(a)), at("new", None), failing.clone()];
        assert_eq!(
            store.commit(&pres, &writes).unwrap(),
            CommitOutcome::Conflict,
            "{failing:?}"
        );
        let after: Vec<_> = ["a", "b", "c", "new"]
            .iter()
            .map(|k| store.get(k).unwrap())
            .collect();
        assert_eq!(after, before, "{failing:?} wrote something");
    }
    // The same batch with every precondition holding applies all of it.
    assert_eq!(
        store
            .commit(
                &[
                    at("a", Some(a)),
                    at("new", None),
                    at("b", Some(b)),
                    at("gone", None)
                ],
                &writes
            )
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(store.get("a").unwrap().unwrap().value, b"2");
    assert_eq!(store.get("new").unwrap().unwrap().value, b"2");
    assert_eq!(store.get("c").unwrap(), None);
    assert!(store.get("b").unwrap().unwrap().version > b);
    // Preconditions alone: checked, nothing written.
    assert_eq!(
        store.commit(&[at("c", None)], &[]).unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        store.commit(&[at("a", Some(a))], &[]).unwrap(),
        CommitOutcome::Conflict
    );
}

/// Two pools (two processes) racing, many rounds, each round released together: two
/// commits guarded by the same version of one key never both commit (no lost update),
/// and two commits each requiring the other's key absent (write skew, which row locks
/// alone would let through) never both commit either. Exactly one of each pair wins.
#[test]
fn racing_commits_never_both_commit() {
    let Some(server) = PgServer::start("race", false) else {
        return;
    };
    let url = server.create_database("race");
    let stores = [Arc::new(open(&url)), Arc::new(open(&url))];
    let race = |batches: [(Vec<Precondition>, Vec<Write>); 2]| -> usize {
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = batches
            .into_iter()
            .zip(stores.iter().cloned())
            .map(|((pres, writes), store)| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.commit(&pres, &writes).unwrap()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|o| *o == CommitOutcome::Committed)
            .count()
    };
    for i in 0..60 {
        let key = format!("k/{i}");
        stores[0].commit(&[], &[put(&key, "0")]).unwrap();
        let v = stores[0].get(&key).unwrap().unwrap().version;
        let won = race([
            (vec![at(&key, Some(v))], vec![put(&key, "a")]),
            (
                vec![at(&key, Some(v))],
                vec![put(&key, "b"), put(&format!("x/{i}"), "b")],
            ),
        ]);
        assert_eq!(won, 1, "round {i}: same version");
        let (a, b) = (format!("skew-a/{i}"), format!("skew-b/{i}"));
        let won = race([
            (vec![at(&a, None)], vec![put(&b, "1")]),
            (vec![at(&b, None)], vec![put(&a, "1")]),
        ]);
        assert_eq!(won, 1, "round {i}: write skew");
    }
}

/// A commit is one round trip: one statement, whatever it holds and however it ends
/// (counted in the server's statement log; the sessions' setup statement aside).
/// The statements every call runs, a get and a commit, read `cwd_kv` by its key only,
/// however small the table: on a fresh store the planner's generic plan would be a
/// sequential scan, which a prepared statement keeps as the table grows (until the
/// statistics change), and which cost PostgreSQL more than the rest of a call in
/// `pg_hosts`.
#[test]
fn gets_and_commits_read_the_table_by_its_key_however_small() {
    let Some(server) = PgServer::start("point-plans", false) else {
        return;
    };
    let store = open(&server.create_database("pointplans"));
    let writes: Vec<Write> = (0..20).map(|i| put(&format!("k/{i:02}"), "v")).collect();
    store.commit(&[], &writes).unwrap();
    let mut admin = postgres::Client::connect(&server.url("pointplans"), postgres::NoTls).unwrap();
    admin.batch_execute("ANALYZE cwd_kv").unwrap();
    let plans = store.point_plans().unwrap();
    assert!(!plans.contains("Seq Scan"), "{plans}");
    // The get, the preconditions of both commit statements, and the delete.
    assert_eq!(plans.matches("Index Scan using cwd_kv_pkey").count(), 4, "{plans}");
    // The sessions that asked go on serving, both kinds of commit.
    let v = store.get("k/00").unwrap().unwrap().version;
    assert_eq!(
        store
            .commit(&[at("k/00", Some(v))], &[put("k/00", "w"), Write { key: "k/01".into(), value: None }])
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(store.get("k/01").unwrap(), None);
    assert_eq!(store.get("k/00").unwrap().unwrap().value, b"w");
}

/// The last handle on a store may be dropped in async code (the HTTP server's, when it
/// stops): its sessions' runtimes must not panic there.
#[test]
fn a_store_dropped_in_async_code_closes_quietly() {
    let Some(server) = PgServer::start("async-drop", false) else {
        return;
    };
    let store = open(&server.create_database("asyncdrop"));
    store.commit(&[], &[put("k", "v")]).unwrap();
    assert!(store.get("k").unwrap().is_some());
    // The pools' background work (opening their idle sessions) over, so that the drop
    // below is the last handle's.
    std::thread::sleep(Duration::from_millis(500));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(async move { drop(store) })));
    assert!(dropped.is_ok(), "dropping the store panicked");
}

#[test]
fn a_commit_is_one_statement() {
    let Some(server) = PgServer::start("trips", false) else {
        return;
    };
    let url = server.create_database("trips");
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls).unwrap();
    admin
        .batch_execute("ALTER DATABASE trips SET log_statement = 'all'")
        .unwrap();
    let store = open(&url);
    let statements = || {
        let log = std::fs::read_to_string(server.dir().join("log")).unwrap_or_default();
        log.lines()
            .filter(|l| {
                (l.contains("LOG:  statement: ") || l.contains("LOG:  execute "))
                    && !l.contains("SET SESSION CHARACTERISTICS")
                    && !l.contains("SET statement_timeout")
                    && !l.contains("SET enable_seqscan")
            })
            .count()
    };
    store.commit(&[], &[put("warm", "1")]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = statements();
    let v = store.get("warm").unwrap().unwrap().version;
    assert_eq!(
        store
            .commit(
                &[at("warm", Some(v)), at("a", None)],
                &[
                    put("warm", "2"),
                    put("a", "1"),
                    Write {
                        key: "b".into(),
                        value: None
                    }
                ]
            )
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        store
            .commit(&[at("warm", Some(v))], &[put("warm", "3")])
            .unwrap(),
        CommitOutcome::Conflict
    );
    assert_eq!(
        store.commit(&[], &[put("c", "1")]).unwrap(),
        CommitOutcome::Committed
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(statements() - before, 1 + 3, "a get and three commits");
}

fn host(
    runtime: &Runtime,
    url: &str,
    node_url: &str,
    chain_id: &str,
    config: &api::Config,
    keys: &api::Keys,
    name: &str,
    lease: Duration,
) -> Arc<Service> {
    let node = NodeClient::new(vec![node_url.to_string()], Duration::from_secs(5))
        .verify_chain_id(chain_id)
        .unwrap();
    let caps = Capabilities {
        store: Arc::new(open(url)),
        node: Arc::new(node),
        clock: Arc::new(SystemClock),
        events: Arc::new(NullSink),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let options = ServiceOptions {
        api_instances: 4,
        lease: LeaseConfig {
            holder: name.into(),
            duration: lease,
        },
    };
    Service::start_opts(runtime, caps, config, keys.clone(), options).unwrap()
}

/// Three hosts on one database, their timers running, twelve threads moving balances
/// through all three at once: every change applied exactly once, one tick worker.
#[test]
fn three_hosts_under_parallel_load_lose_no_update() {
    let Some(server) = PgServer::start("load", false) else {
        return;
    };
    let url = server.create_database("load");
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded("pg-load")
    })
    .unwrap();
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 1_000 * CWD))
        .unwrap();
    let keys = api::Keys {
        active_wif: gateway.active_wif.clone().unwrap(),
        memo_wif: gateway.memo_wif.clone().unwrap(),
    };
    let config = support::config(devnet.chain_id_hex());
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let hosts: Vec<Arc<Service>> = (0..3)
        .map(|i| {
            host(
                &runtime,
                &url,
                devnet.url(),
                &devnet.chain_id_hex(),
                &config,
                &keys,
                &format!("host-{i}"),
                Duration::from_secs(10),
            )
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let timers: Vec<_> = hosts
        .iter()
        .map(|h| h.spawn_timer(stop.clone(), Duration::from_millis(200)))
        .collect();

    const USERS: usize = 4;
    const CALLS: usize = 30;
    let threads: Vec<_> = (0..12)
        .map(|t| {
            let service = hosts[t % 3].clone();
            std::thread::spawn(move || {
                let mut retries = 0;
                for i in 0..CALLS {
                    let (user, delta, key) = (
                        format!("p{}", (t + i) % USERS),
                        (1 + t * CALLS + i) as i64,
                        format!("t{t}-{i}"),
                    );
                    loop {
                        match service.with(|a| a.adjust_balance(&user, delta, &key, "load")) {
                            Ok(c) => {
                                assert!(!c.replayed, "a fresh key is applied, not replayed");
                                break;
                            }
                            Err(GatewayCallError::Refused(
                                GatewayError::Busy | GatewayError::StoreUnavailable(_),
                            )) => retries += 1,
                            Err(e) => panic!("adjust-balance: {e}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut expected = [0u64; USERS];
    for t in 0..12 {
        for i in 0..CALLS {
            expected[(t + i) % USERS] += (1 + t * CALLS + i) as u64;
        }
    }
    for (u, want) in expected.iter().enumerate() {
        for h in &hosts {
            let view = h.with(|a| a.account(&format!("p{u}"))).unwrap();
            assert_eq!(
                view.balance, *want,
                "user p{u}: every change exactly once ({retries} busy retries)"
            );
        }
    }
    // Replays through another host change nothing.
    for t in 0..12 {
        let c = hosts[(t + 1) % 3]
            .with(|a| {
                a.adjust_balance(
                    &format!("p{}", t % USERS),
                    (1 + t * CALLS) as i64,
                    &format!("t{t}-0"),
                    "load",
                )
            })
            .unwrap();
        assert!(c.replayed);
    }
    assert_eq!(
        hosts[0].with(|a| a.account("p0")).unwrap().balance,
        expected[0]
    );

    // One host held the tick lease and ticked; the others only watched. (The load can
    // be over before the holder's first tick is: give it a moment.)
    let ticks = |h: &Arc<Service>| {
        h.counters.ticks_ok.load(Ordering::Relaxed)
            + h.counters.ticks_failed.load(Ordering::Relaxed)
    };
    let started = std::time::Instant::now();
    while !hosts.iter().any(|h| h.lease_status().held && ticks(h) > 0) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no host ticked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let holders: Vec<String> = hosts
        .iter()
        .filter(|h| h.lease_status().held)
        .map(|h| h.lease_status().this_host)
        .collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    for h in &hosts {
        assert_eq!(
            ticks(h) > 0,
            h.lease_status().held,
            "only the holder ticks ({})",
            h.lease_status().this_host
        );
        assert_eq!(
            h.lease_status().holder.as_deref(),
            Some(holders[0].as_str())
        );
    }
    // A standby asked to tick says who does.
    let standby = hosts.iter().find(|h| !h.lease_status().held).unwrap();
    match standby.tick() {
        Err(GatewayCallError::Standby { holder }) => {
            assert_eq!(holder.as_deref(), Some(holders[0].as_str()))
        }
        other => panic!("a standby host must not tick: {other:?}"),
    }

    // The feed holds every change once, and each user's in commit order (balances only
    // grow here), though three hosts committed them.
    let mut feed = Vec::new();
    loop {
        let after = feed.last().map_or(0, |e: &api::FeedEvent| e.seq);
        let page = hosts[1].with(|a| a.list_events(after, 1000)).unwrap();
        if page.is_empty() {
            break;
        }
        feed.extend(page);
    }
    let mut last = std::collections::HashMap::new();
    let mut adjusted = 0;
    for e in &feed {
        if let api::Event::BalanceAdjusted(b) = &e.event {
            adjusted += 1;
            let prev = last.insert(b.user.clone(), b.balance).unwrap_or(0);
            assert!(
                b.balance > prev,
                "{}: {} after {prev} in the feed",
                b.user,
                b.balance
            );
        }
    }
    assert_eq!(adjusted, 12 * CALLS, "one event per change");
    // Three webhook senders at once, one per host: each event delivered once.
    let receiver = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}/hook", receiver.server_addr().to_ip().unwrap());
    let got = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let collector = {
        let (r, g) = (receiver.clone(), got.clone());
        std::thread::spawn(move || {
            for request in r.incoming_requests() {
                let id = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("x-cwd-event-id"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                g.lock().unwrap().push(id);
                let _ = request.respond(tiny_http::Response::from_string(""));
            }
        })
    };
    let senders: Vec<_> = hosts
        .iter()
        .map(|h| {
            let target = cwd_gateway_host::webhooks::WebhookTarget {
                url: url.clone(),
                secret: zeroize::Zeroizing::new(b"pg-webhook-secret-0123".to_vec()),
            };
            cwd_gateway_host::webhooks::spawn(
                h.clone(),
                target,
                Arc::new(SystemClock),
                stop.clone(),
            )
        })
        .collect();
    let want: std::collections::BTreeSet<String> = feed.iter().map(|e| e.id.clone()).collect();
    eventually(
        "every event at the webhook",
        Duration::from_secs(60),
        || {
            let seen: std::collections::BTreeSet<String> =
                got.lock().unwrap().iter().cloned().collect();
            want.is_subset(&seen).then_some(())
        },
    );
    stop.store(true, Ordering::Relaxed);
    for t in senders {
        t.join().unwrap();
    }
    let got = got.lock().unwrap().clone();
    let mut counts = std::collections::BTreeMap::new();
    for id in &got {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    receiver.unblock();
    collector.join().unwrap();
    for t in timers {
        t.join().unwrap();
    }
}

fn ready(port: u16) -> Option<Value> {
    match ureq::get(&format!("http://127.0.0.1:{port}/ready"))
        .set("authorization", &format!("Bearer {TOKEN}"))
        .timeout(Duration::from_secs(10))
        .call()
    {
        Ok(r) => r.into_json().ok(),
        Err(ureq::Error::Status(_, r)) => r.into_json().ok(),
        Err(_) => None,
    }
}

fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually(what, Duration::from_secs(60), f)
}

/// Three `cwd-gateway run` processes on one database. The lease holder is SIGKILLed
/// while its withdrawal broadcast is in flight; another host takes the lease over when
/// it lapses and finishes the withdrawal with the stored transaction: paid once.
#[test]
fn lease_holder_killed_mid_withdrawal_another_host_pays_once() {
    let Some(server) = PgServer::start("kill", false) else {
        return;
    };
    let url = server.create_database("kill");
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::simulated("pg-kill")
    })
    .unwrap();
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 1_000 * CWD))
        .unwrap();
    let player = devnet
        .create_account(AccountSpec::new("kim-cwd", 100 * CWD))
        .unwrap();
    let dir = server.dir().join("hosts");
    std::fs::create_dir_all(&dir).unwrap();
    let keys_path = dir.join("keys.toml");
    let mut keys = std::fs::File::create(&keys_path).unwrap();
    std::fs::set_permissions(
        &keys_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    writeln!(
        keys,
        "active_wif = \"{}\"\nmemo_wif = \"{}\"",
        gateway.active_wif.clone().unwrap(),
        gateway.memo_wif.clone().unwrap()
    )
    .unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let start = |i: usize| {
        let cfg = dir.join(format!("host-{i}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[gateway]\naccount = \"game-gateway\"\nchain_id = \"{chain}\"\ntick_interval_ms = 200\n[node]\nurls = [\"{node}\"]\ntimeout_ms = 5000\n\
                 [rates]\ndeposit = {{ game_units = 90, per_cwd_units = 100000 }}\nwithdrawal = {{ game_units = 100, per_cwd_units = 100000 }}\n\
                 [store]\nurl = \"{url}\"\n[lease]\nholder = \"host-{i}\"\nduration_ms = 4000\n[http]\nlisten = \"127.0.0.1:{port}\"\n[keys]\nfile = \"{keys}\"\n",
                chain = devnet.chain_id_hex(),
                node = devnet.url(),
                port = ports[i],
                keys = keys_path.display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("host-{i}.log"))).unwrap();
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
                .args(["run", "--config"])
                .arg(&cfg)
                .env("CWD_GATEWAY_API_TOKEN", TOKEN)
                .env("CWD_GATEWAY_CACHE_DIR", dir.join("cache"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting cwd-gateway run"),
        )
    };
    // The first host compiles the component into the shared cache; the others load it.
    let mut procs: Vec<Option<KillOnDrop>> = vec![Some(start(0))];
    eventually(
        "the first host's HTTP API",
        Duration::from_secs(180),
        || call(ports[0], "status", json!({})).ok(),
    );
    procs.extend((1..3).map(|i| Some(start(i))));
    for &p in &ports {
        wait("the HTTP API", || call(p, "status", json!({})).ok());
    }
    let holder_of = |port: u16| {
        ready(port).and_then(|r| r["tick_lease"]["holder"].as_str().map(str::to_string))
    };
    let holder = wait("a lease holder", || holder_of(ports[0]));
    let h: usize = holder.strip_prefix("host-").unwrap().parse().unwrap();
    let (other, third) = ((h + 1) % 3, (h + 2) % 3);
    for &p in &ports {
        wait("all hosts agree on the holder", || {
            (holder_of(p)? == holder).then_some(())
        });
        assert_eq!(
            ready(p).unwrap()["ready"],
            true,
            "holder and standbys are ready"
        );
    }

    // Link and deposit through the standby hosts' APIs; the holder's ticks credit it.
    let started = call(
        ports[other],
        "start-link",
        json!({ "user": "kim", "account": "kim-cwd" }),
    )
    .unwrap();
    let digits = started["code_digits"].as_u64().unwrap() as usize;
    let code = support::link_code(&devnet, &player, digits, Duration::from_secs(60));
    call(
        ports[third],
        "confirm-link",
        json!({ "user": "kim", "code": code }),
    )
    .unwrap();
    devnet
        .transfer("kim-cwd", "game-gateway", 20 * CWD, None, None)
        .unwrap();
    wait("the deposit", || {
        (call(ports[other], "account", json!({ "user": "kim" })).ok()?["balance"] == 1_800)
            .then_some(())
    });

    // Only the holder ticks.
    let ticks = |port: u16| -> u64 {
        let text = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with("cwd_gateway_ticks_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert!(ticks(ports[h]) > 0);
    assert_eq!(
        (ticks(ports[other]), ticks(ports[third])),
        (0, 0),
        "standby hosts do not tick"
    );

    // The holder's next broadcast hangs at the node (which applies it afterwards); the
    // holder is killed while waiting for the answer.
    let fired = devnet.faults_fired();
    devnet.add_fault(FaultRule::next(
        1,
        Some("broadcast_transaction"),
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let w = call(
        ports[other],
        "request-withdrawal",
        json!({ "user": "kim", "cwd": 500_000, "idempotency_key": "w-kill" }),
    )
    .unwrap();
    wait("the broadcast to reach the node", || {
        (devnet.faults_fired() > fired).then_some(())
    });
    let mut killed = procs[h].take().unwrap();
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();

    let id = w["withdrawal_id"].as_str().unwrap();
    let done = wait("another host to finish the withdrawal", || {
        let w = call(
            ports[third],
            "get-withdrawal",
            json!({ "withdrawal_id": id }),
        )
        .ok()?;
        (w["state"] == "confirmed" || w["state"] == "failed").then_some(w)
    });
    assert_eq!(done["state"], "confirmed");
    assert_eq!(done["attempts"], 1, "the stored transaction, not a new one");
    assert_eq!(
        support::payouts(&devnet, &player.id_string()).len(),
        1,
        "paid exactly once"
    );
    let account = call(ports[other], "account", json!({ "user": "kim" })).unwrap();
    assert_eq!(
        (account["balance"].as_u64(), account["frozen"].as_u64()),
        (Some(1_800 - 500), Some(0))
    );

    // A survivor holds the lease now, took it over once, and both survivors say so.
    let new_holder = wait("a new holder", || {
        holder_of(ports[other]).filter(|x| *x != holder)
    });
    assert!(
        new_holder == format!("host-{other}") || new_holder == format!("host-{third}"),
        "{new_holder}"
    );
    let takeovers: u64 = [other, third]
        .iter()
        .map(|&i| {
            ready(ports[i]).unwrap()["tick_lease"]["takeovers"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(takeovers, 1);

    // The database password never reached a log.
    drop(procs);
    for i in 0..3 {
        let log = std::fs::read_to_string(dir.join(format!("host-{i}.log"))).unwrap();
        assert!(
            !log.contains(&server.password),
            "host-{i}'s log shows the database password"
        );
        assert!(
            log.contains("store: PostgreSQL"),
            "host-{i} used PostgreSQL"
        );
    }
}

/// Two hosts on one database, neither holding the active key, one signer for both: its
/// daily total holds whichever host asks (link messages from either host's API, payouts
/// from the lease holder's tick), and what it refuses is held, never lost or paid.
#[test]
fn two_hosts_share_one_signer_whose_limits_hold_whichever_host_asks() {
    let Some(server) = PgServer::start("signer", false) else {
        return;
    };
    let url = server.create_database("signer");
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded("pg-signer")
    })
    .unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * CWD)).unwrap();
    let players: Vec<_> = ["ann-cwd", "ben-cwd", "cid-cwd"]
        .iter()
        .map(|n| devnet.create_account(AccountSpec::new(n, 10 * CWD)).unwrap())
        .collect();
    // The signer, in this process (its own process in tests/signer.rs): 25 CWD a day.
    let dir = server.dir().join("signer");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("active.wif");
    std::fs::write(&key, gateway.active_wif.as_deref().unwrap()).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(
        dir.join("signer.toml"),
        format!(
            "chain_id = \"{}\"\naccount = \"{}\"\nactive_key_file = \"active.wif\"\n[policy]\nmax_per_transaction = {}\nmax_per_day = {}\nmax_per_destination_per_day = {}\nmax_fee = 100000\nmax_expiration_secs = 3600\n",
            devnet.chain_id_hex(),
            gateway.id_string(),
            20 * CWD,
            25 * CWD,
            100 * CWD,
        ),
    )
    .unwrap();
    let signer = cwd_signer::Server::start(cwd_signer::SignerConfig::load(&dir.join("signer.toml")).unwrap()).unwrap();
    let keys = api::Keys { active_wif: String::new(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let config = support::config(devnet.chain_id_hex());
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let hosts: Vec<Arc<Service>> = (0..2)
        .map(|i| {
            let caps = Capabilities {
                store: Arc::new(open(&url)),
                node: Arc::new(NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5))),
                clock: Arc::new(SystemClock),
                events: Arc::new(NullSink),
                signer: Arc::new(cwd_gateway_host::signer::RemoteSigner::new(
                    cwd_gateway_host::signer::SignerAddress::Unix(signer.socket_path().to_path_buf()),
                    Duration::from_secs(5),
                )),
            };
            let options = ServiceOptions { api_instances: 2, lease: LeaseConfig { holder: format!("host-{i}"), duration: Duration::from_secs(10) } };
            Service::start_opts(&runtime, caps, &config, keys.clone(), options).unwrap()
        })
        .collect();
    // Each host's API sends a link message through the signer.
    for (i, user) in ["ann", "ben"].iter().enumerate() {
        let host = &hosts[i];
        let started = host.with(|a| a.start_link(user, &players[i].name, None)).unwrap();
        let code = support::link_code(&devnet, &players[i], started.code_digits as usize, Duration::from_secs(30));
        host.with(|a| a.confirm_link(user, &code)).unwrap();
        host.with(|a| a.adjust_balance(user, 5_000, &format!("fund-{user}"), "test")).unwrap();
    }
    // Three payouts of 10 CWD asked through both hosts; the holder's ticks pay them.
    let ids: Vec<String> = [(0, "ann", "w1"), (1, "ben", "w2"), (0, "ann", "w3")]
        .iter()
        .map(|(h, user, key)| hosts[*h].with(|a| a.request_withdrawal(user, api::WithdrawalAmount::Cwd(10 * CWD as u64), key)).unwrap().withdrawal_id)
        .collect();
    let state = |id: &str| hosts[1].with(|a| a.get_withdrawal(id)).unwrap();
    wait("two paid and the third held", || {
        for h in &hosts {
            let _ = h.tick();
        }
        let states: Vec<_> = ids.iter().map(|id| state(id).state).collect();
        let paid = states.iter().filter(|s| matches!(s, api::WithdrawalState::Sent | api::WithdrawalState::Confirmed)).count();
        (paid == 2 && states.contains(&api::WithdrawalState::AwaitingReview)).then_some(())
    });
    let held = ids.iter().map(|id| state(id)).find(|w| w.state == api::WithdrawalState::AwaitingReview).unwrap();
    assert!(held.note.as_deref().unwrap_or("").contains("daily-total"), "{:?}", held.note);
    // The limit is the signer's, not the gateway's: approved by an operator through the
    // other host, the payout is refused again and held again.
    hosts[1].with(|a| a.approve_withdrawal("operator", &held.withdrawal_id)).unwrap();
    wait("the approved payout held again", || {
        for h in &hosts {
            let _ = h.tick();
        }
        (state(&held.withdrawal_id).state == api::WithdrawalState::AwaitingReview).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let paid_out: i64 = support::payouts(&devnet, &players[0].id_string())
        .iter()
        .chain(support::payouts(&devnet, &players[1].id_string()).iter())
        .map(|op| op[1]["amount"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(paid_out, 20 * CWD, "exactly the two payouts the signer allowed");
    signer.shutdown();
}

/// Settings changed through one host's HTTP API are in force on another host sharing the
/// database at its next call, and the change is in the audit trail both hosts read.
#[test]
fn a_settings_change_is_in_force_on_the_other_host_at_once() {
    let Some(server) = PgServer::start("settings", false) else {
        return;
    };
    let url = server.create_database("settings");
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded("pg-settings")
    })
    .unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * CWD)).unwrap();
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let config = support::config(devnet.chain_id_hex());
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let hosts: Vec<Arc<Service>> = (0..2)
        .map(|i| host(&runtime, &url, devnet.url(), &devnet.chain_id_hex(), &config, &keys, &format!("host-{i}"), Duration::from_secs(10)))
        .collect();
    let mut serving = Vec::new();
    let apis: Vec<cwd_gateway_host::http_api::HttpApi> = hosts
        .iter()
        .map(|h| {
            let http = cwd_gateway_host::http_api::HttpApi::bind("127.0.0.1:0").unwrap();
            serving.extend(http.spawn(h.clone(), TOKEN.to_string(), 2));
            http
        })
        .collect();
    let (a, b) = (apis[0].addr.port(), apis[1].addr.port());
    // Both hosts quote at the configured rate (each has read the settings already).
    for port in [a, b] {
        assert_eq!(call(port, "quote-deposit", json!({ "cwd": CWD })).unwrap()["game"], 90);
    }
    let changed = call(a, "update-settings", json!({ "revision": 0, "settings": { "deposit_rate": { "game_units": 150 }, "withdrawals": { "review_above_cwd": 3 * CWD } } })).unwrap();
    let revision = changed["revision"].as_u64().unwrap();
    assert!(revision > 0, "{changed}");
    // The other host, at once: no restart, no wait.
    assert_eq!(call(b, "quote-deposit", json!({ "cwd": CWD })).unwrap()["game"], 150);
    let seen = call(b, "get-settings", json!({})).unwrap();
    assert_eq!((seen["revision"].as_u64(), seen["changed_by"].as_str()), (Some(revision), Some("default")));
    assert_eq!(seen["settings"]["withdrawals"]["review_above_cwd"].as_u64(), Some(3 * CWD as u64));
    // A stale change through the other host is refused with the current revision.
    let stale = call(b, "update-settings", json!({ "revision": 0, "settings": { "deposit_rate": { "game_units": 1 } } })).unwrap_err();
    assert!(stale.starts_with("409 ") && stale.contains("settings-changed") && stale.contains(&format!("\"revision\":{revision}")), "{stale}");
    // Both hosts read the same trail: the change, then the refused one.
    for port in [a, b] {
        let trail = call(port, "list-audit", json!({ "call": "update-settings" })).unwrap();
        let outcomes: Vec<&str> = trail.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["settings-changed", "ok"], "{trail}");
        let args: Value = serde_json::from_str(trail[1]["arguments"].as_str().unwrap()).unwrap();
        // The entry keeps what changed, before and after, and nothing else.
        assert_eq!(args["changed"], json!({ "deposit_rate.game_units": [90, 150], "withdrawals.review_above_cwd": [0, 3 * CWD] }), "{args}");
    }
    // The servers end before the hosts they hold: a PostgreSQL client must not be
    // dropped on an async worker.
    for api in &apis {
        api.shutdown();
    }
    for t in serving {
        t.join().unwrap();
    }
}
