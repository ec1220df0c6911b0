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
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt;

    use super::{EventSink, LogSink};
    use crate::config::LogFormat;

    /// Records the size of every `write` call.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_event_is_one_write_of_one_whole_line() {
        for format in [LogFormat::Human, LogFormat::Json] {
            let writes = Writes::default();
            let w = writes.clone();
            let subscriber = tracing_subscriber::registry()
                .with(crate::serve::log_layer(format, move || w.clone()));
            tracing::subscriber::with_default(subscriber, || {
                for i in 0..3 {
                    LogSink.emit(&json!({"type": "deposit-credited", "user": format!("u{i}"), "cwd": 100_000, "reason": "x".repeat(300)}));
                }
            });
            let lines = writes.0.lock().unwrap().clone();
            assert_eq!(lines.len(), 3, "{format:?}: one write per event");
            for line in lines {
                let text = String::from_utf8(line).unwrap();
                assert!(
                    text.ends_with('\n') && text.matches('\n').count() == 1,
                    "{format:?}: {text}"
                );
                assert!(text.contains("deposit-credited"), "{format:?}: {text}");
            }
        }
    }
}
