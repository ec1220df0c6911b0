//! Webhooks from the event feed, as a game server receives them, through the real
//! `.wasm` in the reference host against the devnet: a loopback receiver that can be
//! down, redirect, or keep what it got; deliveries driven with a manual clock so that a
//! day of outage takes a moment.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, CreatedAccount, Devnet, DevnetHandle};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::{Clock, ManualClock};
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::webhooks::{self, deliver_due, verify, VerifyError, WebhookTarget};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use serde_json::{json, Value};

const SECRET: &[u8] = b"webhook-secret-for-tests";
const DAY_MS: u64 = 86_400_000;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Got {
    method: String,
    event_id: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
    /// What it answered.
    status: u16,
}

/// A receiver answering `status` (changeable at any time); a 3xx carries a `Location`.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Got>>>,
    server: Arc<tiny_http::Server>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let base = format!("http://{}", server.server_addr().to_ip().unwrap());
        let url = format!("{base}/hooks/cwd");
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        let (s, g, st) = (server.clone(), got.clone(), status.clone());
        std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let header = |name: &str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                        .map(|h| h.value.to_string())
                };
                let (event_id, signature) = (header("x-cwd-event-id"), header("x-cwd-signature"));
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                let status = st.load(Ordering::SeqCst);
                g.lock().unwrap().push(Got {
                    method: request.method().to_string(),
                    event_id,
                    signature,
                    body,
                    status,
                });
                let mut answer = tiny_http::Response::from_string("").with_status_code(status);
                if (300..400).contains(&status) {
                    answer.add_header(
                        tiny_http::Header::from_bytes("location", format!("{base}/elsewhere"))
                            .unwrap(),
                    );
                }
                let _ = request.respond(answer);
            }
        });
        Receiver {
            url,
            status,
            got,
            server,
        }
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A devnet with the gateway account; hosts are started on it by [`host`].
struct Chain {
    devnet: DevnetHandle,
    gateway: CreatedAccount,
    runtime: Runtime,
}

fn chain(seed: &str) -> Chain {
    let devnet = Devnet::start(DevnetConfig::seeded(seed)).expect("devnet");
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 10_000 * support::CWD))
        .unwrap();
    Chain {
        devnet,
        gateway,
        runtime: Runtime::new(RuntimeConfig::default()).unwrap(),
    }
}

/// One host process: the real component over `store`, on `clock`.
fn host(c: &Chain, store: Arc<MemoryStore>, clock: &ManualClock) -> Arc<Service> {
    let node = NodeClient::new(vec![c.devnet.url().to_string()], Duration::from_secs(5))
        .verify_chain_id(&c.devnet.chain_id_hex())
        .unwrap();
    let caps = Capabilities {
        store,
        node: Arc::new(node),
        clock: Arc::new(clock.clone()),
        events: Arc::new(MemorySink::default()),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let keys = api::Keys {
        active_wif: c.gateway.active_wif.clone().unwrap(),
        memo_wif: c.gateway.memo_wif.clone().unwrap(),
    };
    Service::start(
        &c.runtime,
        caps,
        &support::config(c.devnet.chain_id_hex()),
        keys,
    )
    .unwrap()
}

fn target(rx: &Receiver) -> WebhookTarget {
    WebhookTarget {
        url: rx.url.clone(),
        secret: zeroize::Zeroizing::new(SECRET.to_vec()),
    }
}

fn now_ms() -> u64 {
    cwd_gateway_host::clock::SystemClock.now_ms()
}

/// `n` balance changes: `n` events.
fn play(service: &Service, n: usize, tag: &str) {
    for i in 0..n {
        service
            .with(|a| a.adjust_balance(&format!("u{}", i % 3), 10, &format!("{tag}-{i}"), "play"))
            .unwrap();
    }
}

/// The whole feed, as the HTTP API and webhooks show each event.
fn feed(service: &Service) -> Vec<Value> {
    service
        .with(|a| a.list_events(0, 1000))
        .unwrap()
        .iter()
        .map(webhooks::body)
        .collect()
}

/// Deliveries the receiver accepted, by event id, after checking each one's signature
/// (at the time it was sent) and that its header names its body's id.
fn accepted(rx: &Receiver) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for g in rx.got().iter().filter(|g| g.status == 200) {
        let body: Value = serde_json::from_slice(&g.body).unwrap();
        let id = body["id"].as_str().unwrap().to_string();
        assert_eq!(g.event_id.as_deref(), Some(id.as_str()));
        let sig = g.signature.as_deref().unwrap();
        let t: u64 = sig
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(verify(SECRET, sig, &g.body, t, 300), Ok(()));
        *out.entry(id).or_default() += 1;
    }
    out
}

#[test]
fn a_receiver_down_for_a_simulated_day_gets_every_event_afterwards_once_per_id() {
    let c = chain("webhook-outage");
    let clock = ManualClock::new(now_ms());
    let service = host(&c, Arc::new(MemoryStore::new()), &clock);
    let rx = Receiver::start(503);
    let agent = webhooks::agent();
    play(&service, 12, "before");
    // A day down: each event is tried on its back-off (10 s doubling to an hour).
    let start = clock.now_ms();
    let mut step = 0;
    while clock.now_ms() < start + DAY_MS {
        deliver_due(&service, &agent, &target(&rx), &clock);
        if step == 40 {
            play(&service, 6, "during"); // events keep coming while it is down
        }
        clock.advance(5 * 60_000);
        step += 1;
    }
    let down = rx.got();
    assert!(down.iter().all(|g| g.status == 503 && g.method == "POST"));
    let tries_per_event = down.len() / 18;
    assert!(
        (20..=40).contains(&tries_per_event),
        "about 30 tries each over a day, got {tries_per_event}"
    );
    let pending = service
        .with(|a| a.list_webhook_deliveries(Some(api::DeliveryState::Pending), None, 100))
        .unwrap();
    assert_eq!(pending.len(), 18, "nothing given up within a day");
    assert!(pending
        .iter()
        .all(|d| d.log.iter().all(|a| a.status == 503)));
    // Back up: within the capped interval every event arrives.
    rx.set(200);
    for _ in 0..20 {
        clock.advance(5 * 60_000);
        deliver_due(&service, &agent, &target(&rx), &clock);
    }
    let ids: BTreeSet<String> = feed(&service)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let got = accepted(&rx);
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "every event, after deduplication"
    );
    assert!(got.values().all(|&n| n == 1), "accepted once each: {got:?}");
    let all = service
        .with(|a| a.list_webhook_deliveries(None, None, 100))
        .unwrap();
    assert!(all
        .iter()
        .all(|d| d.state == api::DeliveryState::Delivered && d.log.last().unwrap().status == 200));
    // Nothing more goes out.
    let before = rx.got().len();
    clock.advance(DAY_MS);
    deliver_due(&service, &agent, &target(&rx), &clock);
    assert_eq!(rx.got().len(), before);
}

#[test]
fn a_host_killed_mid_delivery_loses_nothing() {
    let c = chain("webhook-kill");
    let clock = ManualClock::new(now_ms());
    let store = Arc::new(MemoryStore::new());
    let rx = Receiver::start(200);
    let first = host(&c, store.clone(), &clock);
    play(&first, 25, "k");
    // The first host claims a batch, sends part of it, and dies before reporting any.
    let claims = first
        .with(|a| a.claim_webhook_deliveries(webhooks::BATCH))
        .unwrap();
    assert_eq!(claims.len(), webhooks::BATCH as usize);
    let agent = webhooks::agent();
    for claim in &claims[..7] {
        let body = webhooks::body(&claim.event).to_string();
        agent
            .post(&rx.url)
            .set("x-cwd-event-id", &claim.event.id)
            .set(
                "x-cwd-signature",
                &webhooks::sign(SECRET, clock.now_ms() / 1000, body.as_bytes()),
            )
            .send_string(&body)
            .unwrap();
    }
    drop(claims);
    drop(first);
    // Another host (or the same one restarted) on the same store.
    let second = host(&c, store, &clock);
    deliver_due(&second, &agent, &target(&rx), &clock);
    // Only the five the first host never claimed went out: the rest are still held.
    assert_eq!(accepted(&rx).len(), 7 + 5);
    clock.advance(60_000);
    while deliver_due(&second, &agent, &target(&rx), &clock) > 0 {}
    let got = accepted(&rx);
    let ids: BTreeSet<String> = feed(&second)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "every event arrived"
    );
    // The seven sent before the crash arrived twice: the id lets the receiver drop one.
    assert_eq!(got.values().filter(|&&n| n == 2).count(), 7);
    assert!(got.values().all(|&n| n <= 2));
}

#[test]
fn a_redirect_is_a_failure_to_retry_never_a_delivery() {
    let c = chain("webhook-redirect");
    let clock = ManualClock::new(now_ms());
    let service = host(&c, Arc::new(MemoryStore::new()), &clock);
    let rx = Receiver::start(302);
    let agent = webhooks::agent();
    play(&service, 1, "r");
    deliver_due(&service, &agent, &target(&rx), &clock);
    let d = &service
        .with(|a| a.list_webhook_deliveries(None, None, 10))
        .unwrap()[0];
    assert_eq!(
        (d.state, d.attempts, d.log[0].status),
        (api::DeliveryState::Pending, 1, 302)
    );
    assert!(
        d.log[0].detail.contains("redirects are not followed"),
        "{}",
        d.log[0].detail
    );
    // The redirect was not followed (no GET, no second request).
    assert_eq!(
        rx.got()
            .iter()
            .map(|g| g.method.as_str())
            .collect::<Vec<_>>(),
        vec!["POST"]
    );
    rx.set(200);
    clock.advance(10_000);
    deliver_due(&service, &agent, &target(&rx), &clock);
    let d = &service
        .with(|a| a.list_webhook_deliveries(None, None, 10))
        .unwrap()[0];
    assert_eq!((d.state, d.attempts), (api::DeliveryState::Delivered, 2));
}

#[test]
fn a_delivery_replayed_outside_the_tolerance_fails_verification() {
    let c = chain("webhook-replay");
    let clock = ManualClock::new(now_ms());
    let service = host(&c, Arc::new(MemoryStore::new()), &clock);
    let rx = Receiver::start(200);
    play(&service, 1, "p");
    deliver_due(&service, &webhooks::agent(), &target(&rx), &clock);
    let g = rx.got().remove(0);
    let sig = g.signature.unwrap();
    let sent = clock.now_ms() / 1000;
    assert!(sig.starts_with(&format!("t={sent},v1=")), "{sig}");
    let body: Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(body["event"]["type"], "balance-adjusted");
    assert_eq!(body["seq"], 1);
    assert_eq!(verify(SECRET, &sig, &g.body, sent, 300), Ok(()));
    assert_eq!(verify(SECRET, &sig, &g.body, sent + 300, 300), Ok(()));
    // Captured and replayed six minutes later: refused.
    assert_eq!(
        verify(SECRET, &sig, &g.body, sent + 301, 300),
        Err(VerifyError::OutsideTolerance)
    );
    // Or with another body under the captured signature.
    let other = g
        .body
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect::<Vec<u8>>();
    assert_eq!(
        verify(SECRET, &sig, &other, sent, 300),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn the_feed_and_deliveries_over_http_with_long_polling() {
    let c = chain("webhook-http");
    let clock = ManualClock::new(now_ms());
    let service = host(&c, Arc::new(MemoryStore::new()), &clock);
    let http = HttpApi::bind("127.0.0.1:0").unwrap();
    http.spawn(service.clone(), support::TOKEN.to_string(), 2);
    let port = http.addr.port();
    let call = |name: &str, args: Value| support::call(port, name, args);
    play(&service, 3, "h");
    let page = call("list-events", json!({})).unwrap();
    let events = page.as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"]["type"], "balance-adjusted");
    assert_eq!(events[2]["seq"], 3);
    assert!(events[0]["id"].as_str().unwrap().starts_with("ev_"));
    assert_eq!(call("feed-position", json!({})).unwrap(), json!({ "seq": 3 }));
    // Nothing newer: a long poll waits, and answers as soon as an event comes.
    let waiter = {
        let s = service.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            play(&s, 1, "late");
        })
    };
    let t0 = std::time::Instant::now();
    let next = call("list-events", json!({ "after": 3, "wait_ms": 10_000 })).unwrap();
    let waited = t0.elapsed();
    waiter.join().unwrap();
    assert_eq!(next.as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next[0]["seq"], 4);
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(9),
        "{waited:?}"
    );
    // A wait with nothing to show answers an empty page at its end.
    let empty = call("list-events", json!({ "after": 4, "wait_ms": 300 })).unwrap();
    assert_eq!(empty, json!([]));
    for bad in [
        json!({ "wait_ms": 25_001 }),
        json!({ "after": -1 }),
        json!({ "limit": 0 }),
        json!({ "after": "x" }),
    ] {
        let e = call("list-events", bad.clone()).unwrap_err();
        assert!(e.starts_with("400"), "{bad}: {e}");
    }
    // Deliveries and redeliver.
    let rx = Receiver::start(500);
    deliver_due(&service, &webhooks::agent(), &target(&rx), &clock);
    let failing = call("list-webhook-deliveries", json!({ "state": "pending" })).unwrap();
    assert_eq!(failing.as_array().unwrap().len(), 4);
    assert_eq!(failing[0]["log"][0]["status"], 500);
    let again = call("redeliver-event", json!({ "seq": 2 })).unwrap();
    assert_eq!(again["state"], "pending");
    assert!(call("redeliver-event", json!({ "seq": 99 }))
        .unwrap_err()
        .starts_with("400"));
    assert!(call("list-webhook-deliveries", json!({ "state": "lost" }))
        .unwrap_err()
        .starts_with("400"));
    http.shutdown();
}
