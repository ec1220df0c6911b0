//! Events to a webhook, as a game server receives them: a loopback HTTP server checks
//! the body and the `X-CWD-Signature` header, and answers errors to see the retries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cwd_gateway_host::events::{sign_body, EventSink, WebhookSink};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// One delivery as the receiver saw it.
#[derive(Clone, Debug)]
struct Delivery {
    method: String,
    content_type: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
    at: Instant,
}

/// A receiver that answers the statuses in `script` in turn (then 200 forever).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    server: Arc<tiny_http::Server>,
}

impl Receiver {
    fn start(script: Vec<u16>) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}/hooks/cwd", server.server_addr().to_ip().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let (s, g) = (server.clone(), got.clone());
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for mut request in s.incoming_requests() {
                let header = |name: &str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                        .map(|h| h.value.to_string())
                };
                let (content_type, signature) = (header("content-type"), header("x-cwd-signature"));
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                g.lock().unwrap().push(Delivery {
                    method: request.method().to_string(),
                    content_type,
                    signature,
                    body,
                    at: Instant::now(),
                });
                let status = script.next().unwrap_or(200);
                let _ =
                    request.respond(tiny_http::Response::from_string("").with_status_code(status));
            }
        });
        Receiver { url, got, server }
    }

    /// Waits (at most 10 s) until `n` deliveries arrived; returns them all.
    fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} deliveries arrived",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What a game server does on receipt: recompute the HMAC of the raw body and compare
/// in constant time.
fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn event() -> Value {
    json!({
        "type": "deposit-credited",
        "user": "alice",
        "account": "alice-cwd",
        "cwd": 2_500_000,
        "game": 2_250,
        "block_num": 42,
    })
}

#[test]
fn events_arrive_signed() {
    let secret = b"webhook-secret-for-tests".to_vec();
    let rx = Receiver::start(vec![]);
    let sink = WebhookSink::start(rx.url.clone(), secret.clone(), 3);
    sink.emit(&event());
    let got = rx.wait_for(1);
    let d = &got[0];
    assert_eq!(d.method, "POST");
    assert_eq!(d.content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(body, event());
    assert_eq!(
        d.body,
        event().to_string().as_bytes(),
        "the body is the event's JSON, as signed"
    );

    let signature = d.signature.as_deref().expect("X-CWD-Signature");
    assert_eq!(signature, sign_body(&secret, &d.body));
    assert!(
        signature.starts_with("sha256=") && signature.len() == 7 + 64,
        "{signature}"
    );
    assert!(verify(&secret, &d.body, signature));
    // Another secret, or a changed body, does not verify.
    assert_ne!(signature, sign_body(b"another-secret", &d.body));
    assert!(!verify(b"another-secret", &d.body, signature));
    let mut tampered = d.body.clone();
    tampered[d.body.len() - 2] ^= 1;
    assert!(!verify(&secret, &tampered, signature));

    // A known vector (RFC 4231 test case 2) so other languages can check their code.
    assert_eq!(
        sign_body(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );

    // Events keep their order.
    for i in 0..5 {
        sink.emit(&json!({ "type": "alert", "n": i }));
    }
    let got = rx.wait_for(6);
    let ns: Vec<i64> = got[1..]
        .iter()
        .map(|d| {
            serde_json::from_slice::<Value>(&d.body).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
    for d in &got {
        assert!(verify(&secret, &d.body, d.signature.as_deref().unwrap()));
    }
}

#[test]
fn failed_deliveries_are_retried_until_accepted() {
    let secret = b"retry-secret".to_vec();
    let rx = Receiver::start(vec![500, 500]);
    let sink = WebhookSink::start(rx.url.clone(), secret.clone(), 3);
    sink.emit(&event());
    let got = rx.wait_for(3);
    // The same body and signature each time.
    for d in &got {
        assert_eq!(d.body, got[0].body);
        assert_eq!(
            d.signature.as_deref(),
            Some(sign_body(&secret, &got[0].body).as_str())
        );
    }
    // With a growing pause between tries (200 ms, then 400 ms).
    let (first, second) = (got[1].at - got[0].at, got[2].at - got[1].at);
    assert!(first >= Duration::from_millis(150), "{first:?}");
    assert!(
        second >= Duration::from_millis(350),
        "{first:?} then {second:?}"
    );
    // Accepted on the third try: not sent again.
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(rx.count(), 3);
    // The next event goes out once.
    sink.emit(&json!({ "type": "alert", "kind": "low-fee-balance" }));
    let got = rx.wait_for(4);
    assert_eq!(
        serde_json::from_slice::<Value>(&got[3].body).unwrap()["type"],
        "alert"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.count(), 4);
}

#[test]
fn gives_up_after_the_retries_and_goes_on() {
    let rx = Receiver::start(vec![500, 503, 404]);
    // One retry: two tries, then the event is given up (it stays in the store).
    let sink = WebhookSink::start(rx.url.clone(), b"s".to_vec(), 1);
    sink.emit(&json!({ "type": "alert", "n": 1 }));
    rx.wait_for(2);
    sink.emit(&json!({ "type": "alert", "n": 2 }));
    // n=2: 404 then 200 — a 4xx is retried too.
    let got = rx.wait_for(4);
    let ns: Vec<i64> = got
        .iter()
        .map(|d| {
            serde_json::from_slice::<Value>(&d.body).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns, vec![1, 1, 2, 2]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rx.count(), 4);
}

#[test]
fn an_unreachable_receiver_does_not_block_the_gateway() {
    // Nothing listens: every try fails at once; emit never waits.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let sink = WebhookSink::start(url, b"s".to_vec(), 5);
    let start = Instant::now();
    for i in 0..2_000 {
        sink.emit(&json!({ "type": "alert", "n": i }));
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "emit blocked for {:?}",
        start.elapsed()
    );
}
