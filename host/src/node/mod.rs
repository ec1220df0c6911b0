//! The `node` capability: Graphene JSON-RPC over HTTP to one or more nodes, with a
//! timeout per request and failover to the next node when one cannot be reached.
//! Every error text is passed through [`crate::redact`]: node URLs may carry
//! credentials, and these texts reach the component, its events and API answers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeError {
    /// No node could be reached.
    Unreachable(String),
    /// No answer in time; the request may have taken effect.
    Timeout,
    /// The node answered with a JSON-RPC error.
    Rpc { code: i64, message: String },
    /// The node answered something that is not JSON-RPC.
    BadResponse(String),
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::Unreachable(m) => write!(f, "no node reachable: {m}"),
            NodeError::Timeout => write!(f, "the node did not answer in time"),
            NodeError::Rpc { code, message } => write!(f, "node error {code}: {message}"),
            NodeError::BadResponse(m) => write!(f, "bad answer from node: {m}"),
        }
    }
}

impl std::error::Error for NodeError {}

pub trait Node: Send + Sync {
    /// Calls `api.method(params…)`; `params_json` is a JSON array. Returns the `result`
    /// member as JSON text.
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError>;

    /// The component distrusts the node that answered last (`reason`, e.g. its history
    /// was pruned): move later calls to the next node. False when there is none.
    fn fail_over(&self, reason: &str) -> bool {
        let _ = reason;
        false
    }
}

/// For hosts that only use the pure codec: every call says no node is configured.
pub struct NoNode;

impl Node for NoNode {
    fn call(&self, _: &str, _: &str, _: &str) -> Result<String, NodeError> {
        Err(NodeError::Unreachable("no node is configured".into()))
    }
}

pub struct HttpNode {
    urls: Vec<String>,
    agent: ureq::Agent,
    /// Index of the node that answered last; calls start there.
    current: AtomicUsize,
    next_id: AtomicU64,
}

impl HttpNode {
    pub fn new(urls: Vec<String>, timeout: Duration) -> Self {
        assert!(!urls.is_empty(), "at least one node URL");
        let agent = ureq::AgentBuilder::new().timeout(timeout).build();
        HttpNode { urls, agent, current: AtomicUsize::new(0), next_id: AtomicU64::new(1) }
    }

    /// The node URLs, credentials masked (for messages).
    pub fn urls(&self) -> Vec<String> {
        self.urls.iter().map(|u| crate::redact::url(u)).collect()
    }

    /// Keeps only the nodes whose chain id is `expected`; fails if none is left, so a
    /// gateway never signs for the wrong chain.
    pub fn verify_chain_id(mut self, expected: &str) -> anyhow::Result<Self> {
        let mut problems = Vec::new();
        let mut good = Vec::new();
        for url in &self.urls {
            match self.post(url, "database", "get_chain_id", &json!([])) {
                Ok(Value::String(id)) if id.eq_ignore_ascii_case(expected) => good.push(url.clone()),
                Ok(other) => problems.push(format!("{} serves chain {other}, not {expected}", crate::redact::url(url))),
                Err(e) => problems.push(format!("{}: {e}", crate::redact::url(url))),
            }
        }
        if good.is_empty() {
            anyhow::bail!("no node serves the expected chain: {}", problems.join("; "));
        }
        for p in problems {
            tracing::warn!(problem = %p, "node skipped");
        }
        self.urls = good;
        Ok(self)
    }

    fn post(&self, url: &str, api: &str, method: &str, params: &Value) -> Result<Value, NodeError> {
        self.post_raw(url, api, method, params).map_err(|e| match e {
            NodeError::Unreachable(m) => NodeError::Unreachable(crate::redact::text(&m)),
            NodeError::BadResponse(m) => NodeError::BadResponse(crate::redact::text(&m)),
            NodeError::Rpc { code, message } => NodeError::Rpc { code, message: crate::redact::text(&message) },
            NodeError::Timeout => NodeError::Timeout,
        })
    }

    fn post_raw(&self, url: &str, api: &str, method: &str, params: &Value) -> Result<Value, NodeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "call", "params": [api, method, params] });
        let response = match self.agent.post(url).send_json(body) {
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
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(NodeError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
            });
        }
        v.get("result").cloned().ok_or_else(|| NodeError::BadResponse(truncate(&text)))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
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

impl Node for HttpNode {
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        let params: Value = serde_json::from_str(params_json)
            .map_err(|e| NodeError::Rpc { code: -32602, message: format!("params are not JSON: {e}") })?;
        // A broadcast that may have been delivered (timeout, broken answer) is reported,
        // never resent elsewhere behind the component's back: it decides whether to
        // rebroadcast the same bytes.
        let idempotent = api != "network_broadcast";
        let start = self.current.load(Ordering::Relaxed);
        let mut last = NodeError::Unreachable("no node tried".into());
        for i in 0..self.urls.len() {
            let index = (start + i) % self.urls.len();
            match self.post(&self.urls[index], api, method, &params) {
                Ok(v) => {
                    self.current.store(index, Ordering::Relaxed);
                    return Ok(v.to_string());
                }
                // A node without the history plugin (or with the account untracked)
                // answers history calls with an error another node may not give.
                Err(e @ NodeError::Rpc { .. }) if api != "history" => return Err(e),
                // Only a node never reached may be replaced for a broadcast.
                Err(e @ (NodeError::Timeout | NodeError::BadResponse(_))) if !idempotent => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn fail_over(&self, reason: &str) -> bool {
        let n = self.urls.len();
        if n < 2 {
            eprintln!("warning: the only node is distrusted: {reason}");
            return false;
        }
        let from = self.current.load(Ordering::Relaxed) % n;
        let to = (from + 1) % n;
        self.current.store(to, Ordering::Relaxed);
        eprintln!("warning: node {} of {n} distrusted ({reason}); now using node {}", from + 1, to + 1);
        true
    }
}
