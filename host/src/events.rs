//! The `events` capability: where the component's notifications go. To the log, to a
//! webhook (HMAC-signed, retried), to memory (tests), or anywhere a game server wants.
//!
//! Events are notifications, not the record: everything they announce is already
//! committed in the store and visible through the gateway's listings, so a game that
//! missed one (webhook down past its retries) can catch up by listing.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub trait EventSink: Send + Sync {
    /// One event as JSON: `{"type": "deposit-credited", …fields}`.
    fn emit(&self, event: &Value);
}

/// One JSON line per event on stderr.
pub struct LogSink;

impl EventSink for LogSink {
    fn emit(&self, event: &Value) {
        tracing::info!(target: "cwd_gateway::event", event = %event, "event");
    }
}

/// Drops events (codec-only hosts).
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _: &Value) {}
}

/// Keeps events in memory, for tests and the demo's narration.
#[derive(Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<Value>>>);

impl MemorySink {
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
    pub fn snapshot(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

impl EventSink for MemorySink {
    fn emit(&self, event: &Value) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// Sends to every sink in turn.
pub struct FanOut(pub Vec<Arc<dyn EventSink>>);

impl EventSink for FanOut {
    fn emit(&self, event: &Value) {
        for s in &self.0 {
            s.emit(event);
        }
    }
}

/// POSTs each event to a URL with `X-CWD-Signature: sha256=<hex HMAC-SHA256 of the
/// body>`, from a background thread, retrying with backoff. A full queue drops the
/// event with a log line rather than stall the gateway.
pub struct WebhookSink {
    queue: SyncSender<String>,
}

pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookSink {
    pub fn start(url: String, secret: Vec<u8>, retries: u32) -> Self {
        let (tx, rx) = sync_channel::<String>(1024);
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
        std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || {
                for body in rx {
                    let signature = sign_body(&secret, body.as_bytes());
                    let mut delay = Duration::from_millis(200);
                    for attempt in 0..=retries {
                        let sent = agent
                            .post(&url)
                            .set("content-type", "application/json")
                            .set("x-cwd-signature", &signature)
                            .send_string(&body);
                        match sent {
                            Ok(_) => break,
                            Err(e) if attempt == retries => tracing::warn!(
                                tries = retries + 1,
                                error = %crate::redact::text(&e.to_string()),
                                "webhook: giving up on an event (it is still in the store)"
                            ),
                            Err(_) => {
                                std::thread::sleep(delay);
                                delay = (delay * 2).min(Duration::from_secs(30));
                            }
                        }
                    }
                }
            })
            .expect("spawning the webhook thread");
        WebhookSink { queue: tx }
    }
}

impl EventSink for WebhookSink {
    fn emit(&self, event: &Value) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send(event.to_string()) {
            tracing::warn!("webhook: queue full, event dropped (it is still in the store)");
        }
    }
}
