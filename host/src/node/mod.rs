//! The `node` capability: Graphene JSON-RPC to one or more nodes, over HTTP(S) (a POST
//! per call: [`http`]) or one persistent WebSocket per node (`ws://`, `wss://`: [`ws`]),
//! with a timeout per request and failover to the next node when one cannot be reached.
//! Every error text is passed through [`crate::redact`]: node URLs may carry
//! credentials, and these texts reach the component, its events and API answers.

mod http;
mod ws;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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

    /// How many blocks the node in use has announced (`set_block_applied_callback`
    /// notices, and one more at each reconnection), when it announces them: the finality
    /// watch then asks for the irreversible block only when a block came. `None`: poll.
    fn blocks_announced(&self) -> Option<u64> {
        None
    }
}

/// For hosts that only use the pure codec: every call says no node is configured.
pub struct NoNode;

impl Node for NoNode {
    fn call(&self, _: &str, _: &str, _: &str) -> Result<String, NodeError> {
        Err(NodeError::Unreachable("no node is configured".into()))
    }
}

/// One node, however it is reached.
trait Endpoint: Send + Sync {
    /// The JSON-RPC `result` of `api.method(params…)`.
    fn request(&self, api: &str, method: &str, params: &Value) -> Result<Value, NodeError>;

    fn blocks_announced(&self) -> Option<u64> {
        None
    }
}

/// The nodes of `[node] urls`, in order, each over its own transport.
pub struct NodeClient {
    nodes: Vec<(String, Box<dyn Endpoint>)>,
    /// Index of the node that answered last; calls start there.
    current: AtomicUsize,
}

fn is_websocket(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("wss")
}

impl NodeClient {
    /// Nodes at `urls` (`http://`, `https://`, `ws://`, `wss://`); certificates are
    /// verified against the webpki roots.
    pub fn new(urls: Vec<String>, timeout: Duration) -> Self {
        Self::with_tls(urls, timeout, crate::tls::verifying_client(None, "").expect("the webpki roots make a TLS configuration"))
    }

    /// As [`NodeClient::new`], certificates verified against `ca_file`'s when given
    /// (`[node] ca_file`: a private CA in front of the operator's own nodes).
    pub fn with_ca_file(urls: Vec<String>, timeout: Duration, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let tls = crate::tls::verifying_client(ca_file, "[node] ca_file").map_err(anyhow::Error::msg)?;
        Ok(Self::with_tls(urls, timeout, tls))
    }

    fn with_tls(urls: Vec<String>, timeout: Duration, tls: Arc<rustls::ClientConfig>) -> Self {
        assert!(!urls.is_empty(), "at least one node URL");
        let nodes = urls
            .into_iter()
            .map(|url| {
                let endpoint: Box<dyn Endpoint> = if is_websocket(&url) {
                    Box::new(ws::WsEndpoint::new(&url, timeout, tls.clone()))
                } else {
                    Box::new(http::HttpEndpoint::new(&url, timeout, tls.clone()))
                };
                (url, endpoint)
            })
            .collect();
        NodeClient { nodes, current: AtomicUsize::new(0) }
    }

    /// The node URLs, credentials masked (for messages).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|(u, _)| crate::redact::url(u)).collect()
    }

    /// Keeps only the nodes whose chain id is `expected`; fails if none is left, so a
    /// gateway never signs for the wrong chain.
    pub fn verify_chain_id(mut self, expected: &str) -> anyhow::Result<Self> {
        let mut problems = Vec::new();
        let mut good = Vec::new();
        for (url, endpoint) in std::mem::take(&mut self.nodes) {
            match redacted(endpoint.request("database", "get_chain_id", &json!([]))) {
                Ok(Value::String(id)) if id.eq_ignore_ascii_case(expected) => good.push((url, endpoint)),
                Ok(other) => problems.push(format!("{} serves chain {other}, not {expected}", crate::redact::url(&url))),
                Err(e) => problems.push(format!("{}: {e}", crate::redact::url(&url))),
            }
        }
        if good.is_empty() {
            anyhow::bail!("no node serves the expected chain: {}", problems.join("; "));
        }
        for p in problems {
            tracing::warn!(problem = %p, "node skipped");
        }
        self.nodes = good;
        Ok(self)
    }
}

/// Error texts may quote a URL or a node's answer: masked before they go anywhere.
fn redacted(result: Result<Value, NodeError>) -> Result<Value, NodeError> {
    result.map_err(|e| match e {
        NodeError::Unreachable(m) => NodeError::Unreachable(crate::redact::text(&m)),
        NodeError::BadResponse(m) => NodeError::BadResponse(crate::redact::text(&m)),
        NodeError::Rpc { code, message } => NodeError::Rpc { code, message: crate::redact::text(&message) },
        NodeError::Timeout => NodeError::Timeout,
    })
}

/// The `result` of a JSON-RPC answer (`text` is the answer as received, for messages).
fn rpc_result(v: Value, text: &str) -> Result<Value, NodeError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(NodeError::Rpc {
            code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: err.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
        });
    }
    v.get("result").cloned().ok_or_else(|| NodeError::BadResponse(truncate(text)))
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

impl Node for NodeClient {
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        let params: Value = serde_json::from_str(params_json)
            .map_err(|e| NodeError::Rpc { code: -32602, message: format!("params are not JSON: {e}") })?;
        // A broadcast that may have been delivered (timeout, broken answer) is reported,
        // never resent elsewhere behind the component's back: it decides whether to
        // rebroadcast the same bytes.
        let idempotent = api != "network_broadcast";
        let start = self.current.load(Ordering::Relaxed);
        let mut last = NodeError::Unreachable("no node tried".into());
        for i in 0..self.nodes.len() {
            let index = (start + i) % self.nodes.len();
            match redacted(self.nodes[index].1.request(api, method, &params)) {
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
        let n = self.nodes.len();
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

    fn blocks_announced(&self) -> Option<u64> {
        let n = self.nodes.len();
        self.nodes[self.current.load(Ordering::Relaxed) % n].1.blocks_announced()
    }
}
