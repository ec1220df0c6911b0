//! Two simulated nodes of one chain behind the host's `Node` capability, answered
//! in-process by the devnet's JSON-RPC dispatcher (no sockets). Both nodes apply the
//! same blocks (every chain change is made on both; a broadcast reaching one is relayed
//! to the other), but they number history differently and one may prune it, as two
//! real nodes do. The capability fails over between them like the HTTP client does.
//! Faults come from the run's plan: errors and timeouts at any call, dropped
//! broadcasts, broadcasts applied but answered with an error, duplicate answers, and a
//! second host process ticking in the middle of a call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cwd_devnet::{FaultKind, FaultRule, Node as Devnet};
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::node::{Node, NodeError};
use serde_json::Value;

use crate::faults::Faults;

pub struct Chain {
    /// Node 0 may prune history; node 1 keeps all of it (the reference for checks).
    pub nodes: [Devnet; 2],
}

impl Chain {
    /// The node that keeps all history: what the invariants read.
    pub fn full(&self) -> &Devnet {
        &self.nodes[1]
    }

    /// Applies `f` to both nodes (they stay identical block for block).
    pub fn both<R>(&self, mut f: impl FnMut(&Devnet) -> R) -> [R; 2] {
        [f(&self.nodes[0]), f(&self.nodes[1])]
    }
}

/// What the chain looked like: head block and pending transactions. An answer repeated
/// at the same moment is a true duplicate; at a later one it is stale.
type ChainMoment = (u32, [u8; 20], usize);

fn moment(chain: &Chain) -> ChainMoment {
    let s = chain.full().lock();
    (s.head_num(), s.head().id, s.pending().len())
}

pub struct SimNode {
    pub chain: Arc<Chain>,
    faults: Faults,
    current: Mutex<usize>,
    /// The last answer per identical request, for duplicate answers.
    answers: Mutex<BTreeMap<(String, String, String), (String, ChainMoment)>>,
    /// Duplicate answers may be stale (an answer from before the chain moved), as from
    /// a lagging node or a cache; off by default (see RELIABILITY.md, open findings).
    pub stale_answers: bool,
    /// The second host process, ticked in the middle of a call when the plan says so.
    pub second: Mutex<Option<Arc<Service>>>,
}

impl SimNode {
    pub fn new(chain: Arc<Chain>, faults: Faults) -> Self {
        let stale_answers = std::env::var_os("CWD_SIM_STALE_ANSWERS").is_some();
        SimNode { chain, faults, current: Mutex::new(0), answers: Mutex::default(), stale_answers, second: Mutex::new(None) }
    }

    fn current(&self) -> usize {
        *self.current.lock().unwrap()
    }

    fn ask(&self, index: usize, api: &str, method: &str, params: &Value) -> Result<String, NodeError> {
        match self.chain.nodes[index].call_api(api, method, params.clone()) {
            Ok(v) => Ok(v.to_string()),
            Err(e) => Err(NodeError::Rpc {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
            }),
        }
    }

    /// A broadcast: sent to the current node, relayed to the other one (gossip), with
    /// the plan's broadcast faults applied to both alike.
    fn broadcast(&self, method: &str, params: &Value) -> Result<String, NodeError> {
        let rates = self.faults.rates.clone();
        if self.faults.fire("node-timeout-before-broadcast", rates.node / 4) {
            return Err(NodeError::Timeout);
        }
        let dropped = self.faults.fire("broadcast-dropped", rates.broadcast_dropped);
        let lost = !dropped && self.faults.fire("broadcast-lost-answer", rates.broadcast_lost_answer);
        let first = self.current();
        let mut answer = None;
        for i in [first, 1 - first] {
            if dropped {
                self.chain.nodes[i].add_fault(FaultRule::next(1, Some(method), FaultKind::Drop));
            }
            let a = self.ask(i, "network_broadcast", method, params);
            if i == first {
                answer = Some(a);
            }
        }
        let answer = answer.expect("asked the first node");
        if lost {
            // Applied on chain; the answer that reaches the gateway says otherwise.
            return Err(if self.faults.draw() % 2 == 0 {
                NodeError::Timeout
            } else {
                NodeError::BadResponse("connection reset while reading the answer".into())
            });
        }
        answer
    }

    fn interleave(&self) {
        let second = self.second.lock().unwrap().clone();
        let Some(second) = second else { return };
        if self.faults.state().in_second_host || !self.faults.fire("second-host-tick-mid-call", self.faults.rates.interleave) {
            return;
        }
        self.faults.state().in_second_host = true;
        let _ = second.tick();
        self.faults.state().in_second_host = false;
    }
}

impl Node for SimNode {
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        let params: Value = serde_json::from_str(params_json)
            .map_err(|e| NodeError::Rpc { code: -32602, message: format!("params are not JSON: {e}") })?;
        let rates = self.faults.rates.clone();
        self.interleave();
        if api == "network_broadcast" {
            return self.broadcast(method, &params);
        }
        let key = (api.to_string(), method.to_string(), params_json.to_string());
        let now = moment(&self.chain);
        let previous = self.answers.lock().unwrap().get(&key).cloned();
        if let Some((previous, then)) = previous.filter(|(_, then)| self.stale_answers || *then == now) {
            let kind = if then == now { "duplicate-answer" } else { "stale-answer" };
            if self.faults.fire(kind, rates.duplicate_answer) {
                if std::env::var_os("CWD_SIM_TRACE").is_some() {
                    eprintln!("  {kind} to {method} {params_json}");
                }
                return Ok(previous);
            }
        }
        // An unreachable node is skipped for the other one, as the HTTP client does.
        let first = self.current();
        let mut last = NodeError::Unreachable("no node tried".into());
        for i in [first, 1 - first] {
            if self.faults.fire("node-unreachable", rates.node / 2) {
                last = NodeError::Unreachable(format!("simulated node {i} is down"));
                continue;
            }
            if self.faults.fire("node-timeout", rates.node / 4) {
                return Err(NodeError::Timeout);
            }
            let answer = self.ask(i, api, method, &params);
            if self.faults.fire("node-answer-lost", rates.node / 8) {
                return Err(NodeError::Timeout);
            }
            if let Ok(a) = &answer {
                *self.current.lock().unwrap() = i;
                self.answers.lock().unwrap().insert(key, (a.clone(), now));
            }
            return answer;
        }
        Err(last)
    }

    fn fail_over(&self, _reason: &str) -> bool {
        let mut current = self.current.lock().unwrap();
        *current = 1 - *current;
        self.faults.count("fail-over-asked");
        true
    }
}
