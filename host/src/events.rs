//! The `events` capability: the live copy of the component's events. To the log, to
//! memory (tests), or anywhere a game server wants.
//!
//! The record is the feed: every event is committed with its change and numbered there
//! (`list-events`), and webhooks are delivered from it (`crate::webhooks`), so nothing
//! depends on this copy arriving.

use std::sync::{Arc, Mutex};

use serde_json::Value;

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
