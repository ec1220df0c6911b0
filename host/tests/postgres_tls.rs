//! The PostgreSQL store over the network (issue 32, item 6): TLS against a server the
//! test starts with `ssl = on`, a certificate for `localhost` from a CA made here, and a
//! `pg_hba.conf` that takes TCP clients over TLS only; and a database that stops
//! answering (a listener that never speaks, a proxy that black-holes a live server),
//! which must give `store-unavailable` within the bound, never a hang.
//! The tests needing PostgreSQL skip with a message when it is not installed, unless
//! `$CI` is set (see `support/pg.rs`).

#[path = "support/pg.rs"]
mod pg;
mod support;

use std::io::{Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, Production};
use cwd_gateway_host::bindings::api::{self, GatewayError};
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::{GatewayCallError, Service, ServiceOptions};
use cwd_gateway_host::lease::LeaseConfig;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::{CommitOutcome, PgSslMode, PostgresOptions, PostgresStore, Precondition, Store, Write};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use pg::PgServer;
use support::CWD;

fn options(url: &str, sslmode: Option<PgSslMode>, ca_file: Option<PathBuf>) -> PostgresOptions {
    PostgresOptions {
        sslmode,
        ca_file,
        pool_size: 2,
        connect_timeout: Duration::from_secs(5),
        ..PostgresOptions::new(url)
    }
}

fn open_err(options: &PostgresOptions) -> String {
    match PostgresStore::open(options) {
        Ok(_) => panic!("opened with {options:?}"),
        Err(e) => {
            eprintln!("refused: {e}");
            e.to_string()
        }
    }
}

fn put(key: &str, value: &str) -> Write {
    Write { key: key.into(), value: Some(value.as_bytes().to_vec()) }
}

/// A commit and a read back: the store works over this connection.
fn works(store: &PostgresStore, key: &str) {
    let absent = Precondition { key: key.into(), expected_version: None };
    assert_eq!(store.commit(&[absent], &[put(key, "over tls")]).unwrap(), CommitOutcome::Committed);
    assert_eq!(store.get(key).unwrap().expect("written").value, b"over tls");
}

#[test]
fn postgres_over_tls_verifies_the_server_and_refuses_plain_text() {
    let (ca_pem, cert_pem, key_pem) = support::ca_and_server_cert("cwd test CA");
    let Some(server) = PgServer::start_tls("tls", &cert_pem, &key_pem) else {
        return;
    };
    server.create_database("tls");
    let pw = server.password.clone();
    let localhost = format!("postgres://postgres:{pw}@localhost:{}/tls", server.port);
    let ca_file = server.dir().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();

    // verify-full with the CA that signed the server's certificate: connects, and the
    // store works; the server sees this host's sessions encrypted.
    let store = PostgresStore::open(&options(&localhost, Some(PgSslMode::VerifyFull), Some(ca_file.clone()))).expect("verify-full with the right CA");
    works(&store, "tls/verify-full");
    let mut admin = server.admin();
    let (encrypted, plain): (i64, i64) = {
        let row = admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'cwd-gateway'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(encrypted >= 2 && plain == 0, "{encrypted} sessions over TLS, {plain} in plain text");
    drop(store);

    // verify-full with another CA: refused, saying why, the password nowhere.
    let (other_ca, _, _) = support::ca_and_server_cert("someone else's CA");
    let other_file = server.dir().join("other-ca.pem");
    std::fs::write(&other_file, other_ca).unwrap();
    let e = open_err(&options(&localhost, Some(PgSslMode::VerifyFull), Some(other_file)));
    assert!(e.contains("certificate") && e.contains("UnknownIssuer") && e.contains("[store] sslmode and ca_file"), "{e}");
    assert!(!e.contains(&pw), "{e}");

    // verify-full checks the name too: the right CA, but the certificate is for
    // `localhost`, not `127.0.0.1`.
    let by_ip = format!("postgres://postgres:{pw}@127.0.0.1:{}/tls", server.port);
    let e = open_err(&options(&by_ip, Some(PgSslMode::VerifyFull), Some(ca_file.clone())));
    assert!(e.contains("not valid for name") || e.contains("NotValidForName"), "{e}");

    // Without a CA file, verify-full trusts only the public web roots built in: a
    // private CA's certificate is refused.
    let e = open_err(&options(&localhost, Some(PgSslMode::VerifyFull), None));
    assert!(e.contains("UnknownIssuer"), "{e}");

    // require: encrypted, no certificate check (so any CA, any name).
    let store = PostgresStore::open(&options(&by_ip, Some(PgSslMode::Require), None)).expect("require");
    works(&store, "tls/require");
    drop(store);

    // disable against a server taking TCP over TLS only: refused by the server. So is
    // the loopback default, which is plain text.
    for sslmode in [Some(PgSslMode::Disable), None] {
        let e = open_err(&options(&localhost, sslmode, None));
        assert!(e.contains("no pg_hba.conf entry") && e.contains("no encryption") && e.contains("[store] sslmode"), "{sslmode:?}: {e}");
        assert!(!e.contains(&pw), "{e}");
    }

    // A CA file that is not one: refused before connecting, naming the file.
    let junk = server.dir().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = open_err(&options(&localhost, Some(PgSslMode::VerifyFull), Some(junk)));
    assert!(e.contains("ca_file") && e.contains("junk.pem") && e.contains("no certificate"), "{e}");
}

/// `require` (or `verify-full`) against a server without TLS: refused, never a silent
/// fall back to plain text (libpq's default, `prefer`, would).
#[test]
fn tls_required_of_a_server_without_it_is_refused() {
    let Some(server) = PgServer::start("notls", false) else {
        return;
    };
    let url = server.create_database("notls").replace("127.0.0.1", "localhost");
    for sslmode in [PgSslMode::Require, PgSslMode::VerifyFull] {
        let e = open_err(&options(&url, Some(sslmode), None));
        assert!(e.contains("server does not support TLS"), "{sslmode:?}: {e}");
    }
    PostgresStore::open(&options(&url, Some(PgSslMode::Disable), None)).expect("disable, on loopback");
}

/// A listener that accepts connections and reads what they send, and never answers.
fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

/// A database that takes the connection and never says a word: `open` fails after the
/// connect timeout, whatever the TLS mode, instead of waiting forever.
#[test]
fn a_database_that_never_answers_fails_the_open_within_the_connect_timeout() {
    let port = silent_listener();
    for sslmode in [PgSslMode::Disable, PgSslMode::Require] {
        let url = format!("postgres://gw:secret-pw-0xfeed@127.0.0.1:{port}/gw");
        let options = PostgresOptions { connect_timeout: Duration::from_secs(1), ..options(&url, Some(sslmode), None) };
        let started = Instant::now();
        let e = open_err(&options);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{sslmode:?}: {took:?}: {e}");
        assert!(e.contains("no answer while connecting to the database within 1000 ms"), "{e}");
        assert!(!e.contains("secret-pw"), "{e}");
    }
}

/// A TCP proxy to `upstream` that can be switched to a black hole: it keeps every
/// connection open and reads what both sides send, and forwards nothing.
struct Proxy {
    port: u16,
    black_hole: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let black_hole = Arc::new(AtomicBool::new(false));
        let hole = black_hole.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let hole = hole.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            if !hole.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, black_hole }
    }

    fn set_black_hole(&self, on: bool) {
        self.black_hole.store(on, Ordering::SeqCst);
    }
}

/// Waits for `f` to give `Err` and says how long that took.
fn fails_within<T: std::fmt::Debug, E: std::fmt::Display>(bound: Duration, what: &str, f: impl FnOnce() -> Result<T, E>) -> String {
    let started = Instant::now();
    let e = match f() {
        Ok(v) => panic!("{what}: answered {v:?} from a black hole"),
        Err(e) => e.to_string(),
    };
    let took = started.elapsed();
    eprintln!("{what}: failed after {took:?}: {e}");
    assert!(took < bound, "{what} took {took:?} (bound {bound:?}): {e}");
    e
}

/// A live database whose connections go silent mid-session (a network that drops
/// everything, a stopped server): every call answers `store-unavailable` within
/// `statement_timeout` plus the 2 s grace, through the store and through the gateway's
/// own API; the store recovers once the database answers again; and the server's own
/// `statement_timeout` ends a statement stuck behind a lock.
#[test]
fn a_black_holed_database_gives_store_unavailable_not_a_hang() {
    let Some(server) = PgServer::start("blackhole", false) else {
        return;
    };
    let url = server.create_database("blackhole");
    let proxy = Proxy::start(server.port);
    let proxied = url.replace(&format!(":{}/", server.port), &format!(":{}/", proxy.port));
    let options = PostgresOptions {
        statement_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..options(&proxied, None, None)
    };
    let store = Arc::new(PostgresStore::open(&options).expect("through the proxy"));
    store.commit(&[], &[put("k", "v")]).unwrap();

    // The server's statement_timeout: a read stuck behind a lock is cancelled by the
    // server after 1 s, and the session goes on serving.
    let mut admin_db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut tx = admin_db.transaction().unwrap();
    tx.batch_execute("LOCK TABLE cwd_kv IN ACCESS EXCLUSIVE MODE").unwrap();
    let e = fails_within(Duration::from_millis(2900), "a read behind a lock", || store.get("k"));
    assert!(e.contains("statement timeout") && e.contains("57014"), "{e}");
    tx.rollback().unwrap();
    assert_eq!(store.get("k").unwrap().unwrap().value, b"v");

    // The gateway on this store, before the database goes silent.
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded("pg-black-hole")
    })
    .unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 100 * CWD)).unwrap();
    let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
    let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5)).verify_chain_id(&devnet.chain_id_hex()).unwrap();
    let caps = Capabilities {
        store: store.clone(),
        node: Arc::new(node),
        clock: Arc::new(SystemClock),
        events: Arc::new(NullSink),
        signer: Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let options_gw = ServiceOptions { api_instances: 2, lease: LeaseConfig { holder: "h".into(), duration: Duration::from_secs(10) } };
    let service = Service::start_opts(&runtime, caps, &support::config(devnet.chain_id_hex()), keys, options_gw).unwrap();
    service.with(|a| a.adjust_balance("p1", 5, "before", "test")).expect("the gateway works before");

    // Silence. Sessions in the pools, and any opened meanwhile, hear nothing back.
    proxy.set_black_hole(true);
    let bound = Duration::from_secs(5); // 1 s statement_timeout + 2 s grace, and slack
    let e = fails_within(bound, "get", || store.get("k"));
    assert!(e.contains("no answer from the database within 3000 ms"), "{e}");
    let e = fails_within(bound, "commit", || store.commit(&[], &[put("k2", "v")]));
    assert!(e.contains("within"), "{e}");
    fails_within(bound, "scan", || store.scan("", None, 10));
    // Through the gateway: store-unavailable (HTTP 503), not a hang.
    let e = fails_within(Duration::from_secs(12), "adjust-balance", || {
        match service.with(|a| a.adjust_balance("p1", 5, "during", "test")) {
            Err(GatewayCallError::Refused(GatewayError::StoreUnavailable(d))) => Err(format!("store-unavailable: {d}")),
            other => Ok(format!("{other:?}")),
        }
    });
    assert!(e.starts_with("store-unavailable"), "{e}");
    let e = fails_within(Duration::from_secs(12), "account", || match service.with(|a| a.account("p1")) {
        Err(GatewayCallError::Refused(GatewayError::StoreUnavailable(d))) => Err(format!("store-unavailable: {d}")),
        other => Ok(format!("{other:?}")),
    });
    assert!(e.starts_with("store-unavailable"), "{e}");

    // The database answers again: the broken sessions were dropped, new ones serve.
    proxy.set_black_hole(false);
    let started = Instant::now();
    let value = loop {
        match store.get("k") {
            Ok(v) => break v,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                eprintln!("recovering: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    };
    assert_eq!(value.unwrap().value, b"v");
    let started = Instant::now();
    loop {
        match service.with(|a| a.adjust_balance("p1", 5, "after", "test")) {
            Ok(_) => break,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                eprintln!("recovering: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the gateway did not recover: {e}"),
        }
    }
    assert_eq!(service.with(|a| a.account("p1")).unwrap().balance, 10, "before and after, not during");
}
