//! The component's imports, answered by the host's capabilities.

use std::sync::Arc;

use serde_json::Value;

use crate::bindings::{wit_clock, wit_events, wit_node, wit_signer, wit_store};
use crate::clock::{Clock, SystemClock};
use crate::events::{EventSink, NullSink};
use crate::node::{NoNode, Node, NodeError};
use crate::runtime::HostState;
use crate::store::{self, MemoryStore, Store};

/// What an instance may reach. Cloning shares the same backends.
#[derive(Clone)]
pub struct Capabilities {
    pub store: Arc<dyn Store>,
    pub node: Arc<dyn Node>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventSink>,
    /// Asked only when the component was configured without an active key.
    pub signer: Arc<dyn crate::signer::Signer>,
}

impl Capabilities {
    /// For codec-only use: an empty memory store, no node, the system clock, no events.
    pub fn offline() -> Self {
        Capabilities {
            store: Arc::new(MemoryStore::new()),
            node: Arc::new(NoNode),
            clock: Arc::new(SystemClock),
            events: Arc::new(NullSink),
            signer: std::sync::Arc::new(crate::signer::NoSigner),
        }
    }
}

// Every import passes two trap points (before the capability acts, and after it acted
// but before the component sees the answer); only simulation hooks ever trap there.
impl wit_store::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<wit_store::Entry>, wit_store::StoreError>> {
        self.trap_point("store.get", false)?;
        let out = self.caps.store.get(&key).map(|e| e.map(entry)).map_err(store_error);
        self.trap_point("store.get", true)?;
        Ok(out)
    }

    fn scan(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<wit_store::Entry>, wit_store::StoreError>> {
        self.trap_point("store.scan", false)?;
        let limit = limit.min(10_000);
        let out = self
            .caps
            .store
            .scan(&prefix, start_after.as_deref(), limit)
            .map(|es| es.into_iter().map(entry).collect())
            .map_err(store_error);
        self.trap_point("store.scan", true)?;
        Ok(out)
    }

    fn scan_reverse(
        &mut self,
        prefix: String,
        start_before: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<wit_store::Entry>, wit_store::StoreError>> {
        self.trap_point("store.scan-reverse", false)?;
        let limit = limit.min(10_000);
        let out = self
            .caps
            .store
            .scan_reverse(&prefix, start_before.as_deref(), limit)
            .map(|es| es.into_iter().map(entry).collect())
            .map_err(store_error);
        self.trap_point("store.scan-reverse", true)?;
        Ok(out)
    }

    fn commit(
        &mut self,
        preconditions: Vec<wit_store::Precondition>,
        writes: Vec<wit_store::Write>,
    ) -> wasmtime::Result<Result<wit_store::CommitOutcome, wit_store::StoreError>> {
        self.trap_point("store.commit", false)?;
        let pre: Vec<_> = preconditions
            .into_iter()
            .map(|p| store::Precondition { key: p.key, expected_version: p.expected_version })
            .collect();
        let writes: Vec<_> = writes.into_iter().map(|w| store::Write { key: w.key, value: w.value }).collect();
        let out = self.caps.store.commit(&pre, &writes).map_err(store_error).map(|o| match o {
            store::CommitOutcome::Committed => wit_store::CommitOutcome::Committed,
            store::CommitOutcome::Conflict => wit_store::CommitOutcome::Conflict,
        });
        self.trap_point("store.commit", true)?;
        Ok(out)
    }
}

fn entry(e: store::Entry) -> wit_store::Entry {
    wit_store::Entry { key: e.key, value: e.value, version: e.version }
}

fn store_error(e: store::StoreError) -> wit_store::StoreError {
    wit_store::StoreError::Unavailable(e.0)
}

impl wit_node::Host for HostState {
    fn call(&mut self, api: String, method: String, params_json: String) -> wasmtime::Result<Result<String, wit_node::NodeError>> {
        self.trap_point("node.call", false)?;
        let started = std::time::Instant::now();
        let result = self.caps.node.call(&api, &method, &params_json);
        self.node_waited(started.elapsed());
        if let Err(e) = &result {
            let kind = match e {
                NodeError::Unreachable(_) => "unreachable",
                NodeError::Timeout => "timeout",
                NodeError::Rpc { .. } => "rpc",
                NodeError::BadResponse(_) => "bad-response",
            };
            crate::metrics::METRICS.node_error(&method, kind);
        }
        self.trap_point("node.call", true)?;
        Ok(result.map_err(|e| match e {
            NodeError::Unreachable(m) => wit_node::NodeError::Unreachable(m),
            NodeError::Timeout => wit_node::NodeError::Timeout,
            NodeError::Rpc { code, message } => wit_node::NodeError::Rpc(wit_node::RpcError { code, message }),
            NodeError::BadResponse(m) => wit_node::NodeError::BadResponse(m),
        }))
    }

    fn fail_over(&mut self, reason: String) -> wasmtime::Result<bool> {
        self.trap_point("node.fail-over", false)?;
        let out = self.caps.node.fail_over(&reason);
        self.trap_point("node.fail-over", true)?;
        Ok(out)
    }
}

impl wit_signer::Host for HostState {
    fn sign(&mut self, chain_id: Vec<u8>, transaction: Vec<u8>) -> wasmtime::Result<Result<Vec<u8>, wit_signer::SignError>> {
        self.trap_point("signer.sign", false)?;
        let started = std::time::Instant::now();
        let result = match <[u8; 32]>::try_from(chain_id.as_slice()) {
            Ok(chain) => self.caps.signer.sign(&chain, &transaction),
            Err(_) => Err(crate::signer::SignError::Unavailable("the chain id must be 32 bytes".into())),
        };
        // Like a node's answer, a signer's wait is not the call's own work.
        self.node_waited(started.elapsed());
        self.trap_point("signer.sign", true)?;
        Ok(result.map(|s| s.to_vec()).map_err(|e| match e {
            crate::signer::SignError::Refused { rule, reason } => {
                wit_signer::SignError::Refused(wit_signer::SignRefusal { rule, reason })
            }
            crate::signer::SignError::Unavailable(d) => wit_signer::SignError::Unavailable(d),
        }))
    }
}

impl wit_clock::Host for HostState {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        self.trap_point("clock.now-ms", false)?;
        Ok(self.caps.clock.now_ms())
    }
}

impl wit_events::Host for HostState {
    fn emit(&mut self, event: wit_events::Event) -> wasmtime::Result<()> {
        self.trap_point("events.emit", false)?;
        self.caps.events.emit(&event_json(&event));
        self.trap_point("events.emit", true)?;
        Ok(())
    }
}

/// `{"type": "deposit-credited", …fields}` from a generated event value: the variant
/// name in kebab-case, fields in snake_case (as in the HTTP API), a nested variant (an
/// alert's kind) as `kind`, and enum-valued reasons in kebab-case.
pub fn event_json(event: &wit_events::Event) -> Value {
    let mut out = flatten_variant(serde_json::to_value(event).unwrap_or(Value::Null));
    let enum_reason = matches!(out["type"].as_str(), Some("link-failed" | "deposit-unclaimed" | "withdrawal-failed"));
    if let (true, Some(Value::String(r))) = (enum_reason, out.get_mut("reason")) {
        *r = crate::http_api::kebab(r);
    }
    out
}

fn is_variant_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
}

fn flatten_variant(v: Value) -> Value {
    let mut out = serde_json::Map::new();
    match v {
        // Serde's externally tagged form: {"VariantName": payload}.
        Value::Object(map) if map.len() == 1 && map.keys().all(|k| is_variant_name(k)) => {
            let (name, payload) = map.into_iter().next().unwrap();
            out.insert("type".into(), Value::String(crate::http_api::kebab(&name)));
            match payload {
                Value::Object(fields) if fields.len() == 1 && fields.keys().all(|k| is_variant_name(k)) => {
                    if let Value::Object(inner) = flatten_variant(Value::Object(fields)) {
                        for (k, v) in inner {
                            out.insert(if k == "type" { "kind".into() } else { k }, v);
                        }
                    }
                }
                Value::Object(fields) => out.extend(fields),
                Value::Null => {}
                Value::String(s) if is_variant_name(&s) => {
                    out.insert("kind".into(), Value::String(crate::http_api::kebab(&s)));
                }
                other => {
                    out.insert("value".into(), other);
                }
            }
        }
        Value::String(s) => {
            out.insert("type".into(), Value::String(crate::http_api::kebab(&s)));
        }
        other => {
            out.insert("value".into(), other);
        }
    }
    Value::Object(out)
}
