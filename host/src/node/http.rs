//! A node over HTTP(S): one POST per call (ureq, rustls with ring).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{rpc_result, truncate, Endpoint, NodeError};

pub(super) struct HttpEndpoint {
    url: String,
    agent: ureq::Agent,
    next_id: AtomicU64,
}

impl HttpEndpoint {
    pub(super) fn new(url: &str, timeout: Duration, tls: Arc<rustls::ClientConfig>) -> Self {
        let agent = ureq::AgentBuilder::new().timeout(timeout).tls_config(tls).build();
        HttpEndpoint { url: url.to_string(), agent, next_id: AtomicU64::new(1) }
    }
}

impl Endpoint for HttpEndpoint {
    fn request(&self, api: &str, method: &str, params: &Value) -> Result<Value, NodeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "call", "params": [api, method, params] });
        let response = match self.agent.post(&self.url).send_json(body) {
            Ok(r) => r,
            // Nodes may answer JSON-RPC errors with an HTTP error status.
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                let text = t.to_string();
                return Err(if is_timeout(&t) {
                    NodeError::Timeout
                } else if matches!(t.kind(), ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns) {
                    NodeError::Unreachable(text)
                } else {
                    // The request may have been delivered (connection reset mid-answer).
                    NodeError::BadResponse(text)
                });
            }
        };
        let text = response.into_string().map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
                NodeError::Timeout
            } else {
                NodeError::BadResponse(e.to_string())
            }
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|_| NodeError::BadResponse(truncate(&text)))?;
        rpc_result(v, &text)
    }
}

fn is_timeout(t: &ureq::Transport) -> bool {
    use std::error::Error;
    let mut source = t.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
                return true;
            }
        }
        source = e.source();
    }
    t.to_string().contains("timed out")
}
