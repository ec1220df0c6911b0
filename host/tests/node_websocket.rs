//! Nodes over WebSocket (issue 28): `cwd-gateway run` plays the whole story against a
//! `ws://` devnet and a `wss://` one (a TLS endpoint in front of it, signed by a test CA
//! the host is told to trust); a connection dropped mid-call and mid-broadcast; block
//! notices driving the finality watch.

mod support;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config, Devnet, DevnetHandle, Production};
use cwd_gateway_host::finality::FinalityWatch;
use cwd_gateway_host::node::{Node, NodeClient, NodeError};
use serde_json::{json, Value};
use support::{call, eventually, free_port, write_private, CWD};
use tokio_tungstenite::tungstenite::{self, Message};


/// A TLS endpoint for `localhost` on a loopback port that relays to `upstream`: what an
/// operator puts in front of a node. Runs until the test process ends.
fn tls_relay(upstream: u16, cert_pem: &str, key_pem: &str) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    let Ok(mut node) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut node).await;
                });
            }
        });
    });
    port
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// Link, deposit, a balance change and a withdrawal through `cwd-gateway run`'s HTTP API,
/// the gateway reaching the devnet at `node_url` only; `node_extra` goes in `[node]`.
fn story(devnet: &DevnetHandle, gateway: &cwd_devnet::CreatedAccount, name: &str, node_url: &str, node_extra: &str) {
    let player = devnet.create_account(AccountSpec::new(&format!("{name}-player"), 100 * CWD)).unwrap();
    let dir = support::temp_dir(&format!("node-ws-{name}"));
    let port = free_port();
    write_private(&dir.join("keys.toml"), &format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", gateway.active_wif.clone().unwrap(), gateway.memo_wif.clone().unwrap()));
    let config = support::run_config(&devnet.chain_id_hex(), node_url, &dir, port, "").replace("timeout_ms = 5000\n", &format!("timeout_ms = 5000\n{node_extra}\n"));
    std::fs::write(dir.join("gateway.toml"), config).unwrap();
    let _gw = support::spawn_run(&dir);
    let wait = Duration::from_secs(60);
    eventually("the HTTP API", wait, || call(port, "status", json!({})).ok());
    let user = format!("{name}-user");
    let started = call(port, "start-link", json!({ "user": user, "account": player.name })).unwrap();
    let code = support::link_code(devnet, &player, started["code_digits"].as_u64().unwrap() as usize, wait);
    call(port, "confirm-link", json!({ "user": user, "code": code })).unwrap();
    devnet.transfer(&player.name, "game-gateway", 20 * CWD, None, None).unwrap();
    eventually("the deposit credited", wait, || (call(port, "account", json!({ "user": user })).ok()?["balance"] == 1_800).then_some(()));
    call(port, "adjust-balance", json!({ "user": user, "delta": 200, "idempotency_key": "won", "reason": "won a round" })).unwrap();
    let w = call(port, "request-withdrawal", json!({ "user": user, "game": 1_000, "idempotency_key": "out" })).unwrap();
    let id = w["withdrawal_id"].as_str().unwrap().to_string();
    let done = eventually("the withdrawal final", wait, || {
        let w = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (w["state"] == "confirmed" || w["state"] == "failed").then_some(w)
    });
    assert_eq!(done["state"], "confirmed", "{done}");
    let paid = support::payouts(devnet, &player.id_string());
    assert_eq!(paid.len(), 1, "paid exactly once: {paid:?}");
    let amount = &paid[0][1]["amount"]["amount"];
    assert_eq!(amount.as_i64().or_else(|| amount.as_str()?.parse().ok()), Some(10 * CWD), "{paid:?}");
    assert_eq!(call(port, "account", json!({ "user": user })).unwrap()["balance"], 1_000);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cwd_gateway_run_plays_the_story_over_ws_and_over_wss() {
    // A chain each: a second gateway on a fresh store would take the first one's payout
    // for one it does not know of, and rightly pause.
    let chain = |seed: &str| {
        let devnet = Devnet::start(Config { production: Production::Timer(Duration::from_millis(100)), ..Config::seeded(seed) }).unwrap();
        let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * CWD)).unwrap();
        (devnet, gateway)
    };
    let (devnet, gateway) = chain("node over ws://");
    story(&devnet, &gateway, "ws", &devnet.ws_url(), "");
    let (devnet, gateway) = chain("node over wss://");

    let (ca, cert, key) = support::ca_and_server_cert("node test CA");
    let relay = tls_relay(port_of(devnet.url()), &cert, &key);
    let dir = support::temp_dir("node-ws-wss-ca");
    let ca_file = dir.join("node-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let wss = format!("wss://localhost:{relay}/");

    // Without the CA the host does not trust the endpoint: it refuses to start, and says why.
    let untrusted = dir.join("untrusted");
    std::fs::create_dir_all(&untrusted).unwrap();
    write_private(&untrusted.join("keys.toml"), &format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", gateway.active_wif.clone().unwrap(), gateway.memo_wif.clone().unwrap()));
    std::fs::write(untrusted.join("gateway.toml"), support::run_config(&devnet.chain_id_hex(), &wss, &untrusted, free_port(), "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["run", "--config"])
        .arg(untrusted.join("gateway.toml"))
        .env("CWD_GATEWAY_API_TOKEN", support::TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no node serves the expected chain") && stderr.contains("TLS"), "{stderr}");

    story(&devnet, &gateway, "wss", &wss, &format!("ca_file = \"{}\"", ca_file.display()));
    std::fs::remove_dir_all(&dir).ok();
}

/// A node over WebSocket that answers as a node does, except that it closes the
/// connection, unanswered, when asked one of `drop_on`, and never answers one of
/// `stall_on`.
struct FakeNode {
    port: u16,
    connections: AtomicUsize,
    calls: Mutex<HashMap<String, usize>>,
    drop_on: Mutex<Vec<&'static str>>,
    stall_on: Mutex<Vec<&'static str>>,
    stopped: AtomicBool,
    /// Each connection's `Authorization` header, in order.
    auth: Mutex<Vec<Option<String>>>,
}

impl FakeNode {
    fn start() -> Arc<FakeNode> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let node = Arc::new(FakeNode {
            port: listener.local_addr().unwrap().port(),
            connections: AtomicUsize::new(0),
            calls: Mutex::new(HashMap::new()),
            drop_on: Mutex::new(Vec::new()),
            stall_on: Mutex::new(vec!["get_block"]),
            stopped: AtomicBool::new(false),
            auth: Mutex::new(Vec::new()),
        });
        let served = node.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if served.stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let node = served.clone();
                std::thread::spawn(move || node.serve(stream));
            }
        });
        node
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Refuses every connection from now on (and drops nothing already open).
    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }

    fn serve(&self, stream: TcpStream) {
        let seen = |request: &tungstenite::handshake::server::Request, response| {
            let auth = request.headers().get("authorization").map(|v| v.to_str().unwrap().to_string());
            self.auth.lock().unwrap().push(auth);
            Ok(response)
        };
        let Ok(mut ws) = tungstenite::accept_hdr(stream, seen) else { return };
        self.connections.fetch_add(1, Ordering::Relaxed);
        loop {
            let text = match ws.read() {
                Ok(Message::Text(t)) => t.to_string(),
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => continue,
            };
            let request: Value = serde_json::from_str(&text).unwrap();
            let method = request["params"][1].as_str().unwrap_or("").to_string();
            *self.calls.lock().unwrap().entry(method.clone()).or_default() += 1;
            if self.drop_on.lock().unwrap().contains(&method.as_str()) {
                let _ = ws.get_mut().shutdown(std::net::Shutdown::Both);
                return;
            }
            if self.stall_on.lock().unwrap().contains(&method.as_str()) {
                continue;
            }
            let result = match method.as_str() {
                "login" => json!(true),
                "database" => json!(2),
                "network_broadcast" => json!(3),
                "history" => json!(4),
                "get_chain_id" => json!("fake-chain"),
                "set_block_applied_callback" => Value::Null,
                _ => json!({ "answered_by": "fake" }),
            };
            if ws.send(Message::text(json!({ "id": request["id"], "jsonrpc": "2.0", "result": result }).to_string())).is_err() {
                return;
            }
        }
    }
}

/// The second node: a devnet over WebSocket, counting the broadcasts it includes.
fn devnet_ws() -> DevnetHandle {
    Devnet::start(Config { production: Production::Manual, ..Config::seeded("node over websocket, second") }).unwrap()
}

#[test]
fn a_connection_dropped_mid_call_or_mid_broadcast() {
    let fake = FakeNode::start();
    let devnet = devnet_ws();
    let nodes = NodeClient::new(vec![fake.url(), devnet.ws_url()], Duration::from_secs(2));

    // The connection: login, the API ids, the block callback, then the call.
    assert_eq!(nodes.call("database", "get_objects", "[[\"2.1.0\"]]").unwrap(), r#"{"answered_by":"fake"}"#);
    assert_eq!(fake.connections.load(Ordering::Relaxed), 1);
    for handshake in ["login", "database", "network_broadcast", "history", "set_block_applied_callback"] {
        assert_eq!(fake.calls(handshake), 1, "{handshake}");
    }
    assert!(nodes.blocks_announced().is_some(), "the node took the block callback");

    // A read whose connection drops: answered by the next node.
    fake.drop_on.lock().unwrap().push("get_objects");
    let answer = nodes.call("database", "get_objects", "[[\"2.1.0\"]]").unwrap();
    assert!(answer.contains("\"2.1.0\""), "the devnet's answer: {answer}");
    assert_eq!(fake.calls("get_objects"), 2);

    // A broadcast whose connection drops: reported as possibly delivered, and sent to no
    // other node (the devnet includes nothing).
    let nodes = NodeClient::new(vec![fake.url(), devnet.ws_url()], Duration::from_secs(2));
    fake.drop_on.lock().unwrap().push("broadcast_transaction");
    let e = nodes.call("network_broadcast", "broadcast_transaction", "[{}]").unwrap_err();
    assert!(matches!(&e, NodeError::BadResponse(m) if m.contains("may have taken effect")), "{e:?}");
    assert_eq!(fake.calls("broadcast_transaction"), 1);
    devnet.produce_block();
    assert!(devnet.included_transactions().is_empty(), "nothing was resent to the second node");

    // The next call opens a new connection to the first node (it works again).
    fake.drop_on.lock().unwrap().clear();
    let before = fake.connections.load(Ordering::Relaxed);
    assert_eq!(nodes.call("database", "get_dynamic_global_properties", "[]").unwrap(), r#"{"answered_by":"fake"}"#);
    assert_eq!(fake.connections.load(Ordering::Relaxed), before + 1);

    // No answer in time: a timeout, and the connection stays.
    let started = Instant::now();
    assert_eq!(nodes.call("network_broadcast", "get_block", "[1]").unwrap_err(), NodeError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(nodes.call("database", "get_dynamic_global_properties", "[]").unwrap(), r#"{"answered_by":"fake"}"#);
    assert_eq!(fake.connections.load(Ordering::Relaxed), before + 1);
}

#[test]
fn a_node_silent_in_the_handshake_is_given_up_at_its_first_timeout() {
    // The node accepts the WebSocket, then answers nothing: the host gives it up after
    // the login's timeout (not one timeout for each of the five handshake calls) and
    // the call goes to the next node.
    let fake = FakeNode::start();
    fake.stall_on.lock().unwrap().push("login");
    let devnet = devnet_ws();
    let nodes = NodeClient::new(vec![fake.url(), devnet.ws_url()], Duration::from_secs(1));
    let answer = nodes.call("database", "get_objects", "[[\"2.1.0\"]]").unwrap();
    assert!(answer.contains("\"2.1.0\""), "the devnet's answer: {answer}");
    assert_eq!(fake.calls("login"), 1);
    for never in ["database", "network_broadcast", "history", "set_block_applied_callback", "get_objects"] {
        assert_eq!(fake.calls(never), 0, "{never} was sent to a node that had not answered the login");
    }
    // Given up, so backed off: the next call does not wait on it again.
    assert_eq!(nodes.call("database", "get_chain_id", "[]").unwrap(), format!("\"{}\"", devnet.chain_id_hex()));
    assert_eq!((fake.calls("login"), fake.connections.load(Ordering::Relaxed)), (1, 1));
}

#[test]
fn a_user_and_password_in_the_url_go_as_basic_auth_and_nowhere_else() {
    let fake = FakeNode::start();
    let with = format!("ws://gamer:p%40ss%3Aword@127.0.0.1:{}/", fake.port);
    NodeClient::new(vec![with], Duration::from_secs(2)).call("database", "get_chain_id", "[]").unwrap();
    NodeClient::new(vec![fake.url()], Duration::from_secs(2)).call("database", "get_chain_id", "[]").unwrap();
    // base64("gamer:p@ss:word"): percent-escapes decoded, the first colon the separator.
    assert_eq!(*fake.auth.lock().unwrap(), [Some("Basic Z2FtZXI6cEBzczp3b3Jk".to_string()), None]);
    // A node that cannot be reached: the error does not quote the credentials.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://gamer:s3cret@127.0.0.1:{}/", dead.local_addr().unwrap().port());
    drop(dead);
    let e = NodeClient::new(vec![url], Duration::from_secs(1)).call("database", "get_chain_id", "[]").unwrap_err();
    assert!(!format!("{e} {e:?}").contains("s3cret"), "{e:?}");
}

#[test]
fn an_unreachable_node_is_retried_after_a_back_off_not_on_every_call() {
    let fake = FakeNode::start();
    let nodes = NodeClient::new(vec![fake.url()], Duration::from_secs(2));
    nodes.call("database", "get_chain_id", "[]").unwrap();
    fake.drop_on.lock().unwrap().push("get_objects");
    fake.stop();
    // The connection drops mid-call; the node then refuses connections.
    assert!(matches!(nodes.call("database", "get_objects", "[]"), Err(NodeError::BadResponse(_))));
    let first = nodes.call("database", "get_chain_id", "[]").unwrap_err();
    assert!(matches!(&first, NodeError::Unreachable(_)), "{first:?}");
    // At once again: not even tried (the back-off), and it says when it will be.
    let again = nodes.call("database", "get_chain_id", "[]").unwrap_err();
    assert!(matches!(&again, NodeError::Unreachable(m) if m.contains("trying again in")), "{again:?}");
    assert_eq!(fake.connections.load(Ordering::Relaxed), 1);
    assert_eq!(nodes.blocks_announced(), None, "no connection, no announcements: the watch polls");
}

#[test]
fn block_notices_drive_the_finality_watch() {
    // Blocks every 60 s of chain time: a watch that polled on the interval would look
    // once a minute. Over WebSocket it looks when a block is announced.
    let devnet = Devnet::start(Config { production: Production::Manual, block_interval: 60, irreversible_lag: 1, ..Config::seeded("finality notices") }).unwrap();
    let nodes = NodeClient::new(vec![devnet.ws_url()], Duration::from_secs(2));
    nodes.call("database", "get_chain_id", "[]").unwrap();
    let mut watch = FinalityWatch::default();
    assert!(!watch.moved(&nodes), "the first look only learns where the chain is");
    let announced = nodes.blocks_announced().expect("the devnet announces its blocks");
    for _ in 0..3 {
        let before = nodes.blocks_announced().unwrap();
        devnet.produce_block();
        eventually("the block notice", Duration::from_secs(5), || (nodes.blocks_announced().unwrap() > before).then_some(()));
        assert!(watch.moved(&nodes), "each block moves the irreversible block (lag 1), seen at once");
        assert!(!watch.moved(&nodes), "and nothing more until the next notice");
    }
    assert!(nodes.blocks_announced().unwrap() >= announced + 3);
}
