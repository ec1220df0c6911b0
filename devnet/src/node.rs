//! The node shared by the HTTP threads, the block timer and tests: the state behind a
//! mutex, a condition variable that wakes whoever waits for a block, and the fault rules.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use cwd_gateway::ops::SignedTransaction;
use serde_json::{json, Value};

use crate::config::{Config, Production};
use crate::error::{ChainError, Result};
use crate::faults::{FaultKind, FaultRule, Faults};
use crate::state::{ReorgOutcome, State};

/// What `broadcast_transaction_synchronous` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    /// Transaction id, hex.
    pub id: String,
    pub block_num: u32,
    pub trx_num: u32,
    /// The transaction as its block holds it (with `operation_results`).
    pub trx: Value,
}

impl Confirmation {
    /// api.hpp's `transaction_confirmation`: `{id, block_num, trx_num, trx}`.
    pub fn to_json(&self) -> Value {
        json!({ "id": self.id, "block_num": self.block_num, "trx_num": self.trx_num, "trx": self.trx })
    }
}

pub struct Node {
    state: Mutex<State>,
    new_block: Condvar,
    faults: Mutex<Faults>,
    stopping: AtomicBool,
}

impl Node {
    pub fn new(config: Config) -> Self {
        let faults = Faults::new(config.seed.as_deref());
        Node {
            state: Mutex::new(State::new(config)),
            new_block: Condvar::new(),
            faults: Mutex::new(faults),
            stopping: AtomicBool::new(false),
        }
    }

    /// The state, for reading or changing directly. A panic elsewhere while holding the
    /// lock does not make the node unusable. Do not call another `Node` method while
    /// holding the guard (it locks too): bind values first, then assert.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one JSON-RPC request (faults included), as over HTTP.
    pub fn call(&self, request: &Value) -> Value {
        crate::rpc::handle(self, request)
    }

    /// Convenience: `call` with `["api", "method", params]`, returning the result or the
    /// error object.
    pub fn call_api(&self, api: &str, method: &str, params: Value) -> core::result::Result<Value, Value> {
        let resp = self.call(&json!({ "jsonrpc": "2.0", "id": 1, "method": "call", "params": [api, method, params] }));
        match resp.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(resp.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Every transaction in the current chain's blocks, oldest first, in the JSON form
    /// `broadcast_transaction` takes (for checking them with the reference client).
    pub fn included_transactions(&self) -> Vec<Value> {
        self.lock().included_transactions().into_iter().map(cwd_gateway::json::write_transaction).collect()
    }

    /// Transactions accepted but not yet in a block (their effect already shows in
    /// `balance_of`, as in a node's pending state).
    pub fn pending_transactions(&self) -> Vec<Value> {
        self.lock().pending().iter().filter_map(crate::blocks::BlockTx::signed).map(cwd_gateway::json::write_transaction).collect()
    }

    pub fn chain_id_hex(&self) -> String {
        hex::encode(self.lock().chain_id())
    }

    pub fn head_block_number(&self) -> u32 {
        self.lock().head_num()
    }

    pub fn last_irreversible_block_num(&self) -> u32 {
        self.lock().last_irreversible()
    }

    pub fn produce_block(&self) -> u32 {
        let num = self.lock().produce_block();
        self.new_block.notify_all();
        num
    }

    /// Produces `n` blocks; returns the new head number.
    pub fn produce_blocks(&self, n: u32) -> u32 {
        let mut state = self.lock();
        for _ in 0..n {
            state.produce_block();
        }
        let head = state.head_num();
        drop(state);
        self.new_block.notify_all();
        head
    }

    /// Drops the newest `depth` reversible blocks; see [`State::reorg`].
    pub fn reorg(&self, depth: u32, requeue: bool) -> Result<ReorgOutcome> {
        let out = self.lock().reorg(depth, requeue);
        self.new_block.notify_all();
        out
    }

    pub fn advance_time(&self, secs: u32) {
        self.lock().advance_time(secs)
    }

    /// Sets the time of the next block (Unix seconds; never before head + interval).
    pub fn set_time(&self, secs: u32) {
        self.lock().set_time(secs)
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.faults().add(rule)
    }

    pub fn clear_faults(&self) {
        self.faults().clear()
    }

    pub fn fault_rules(&self) -> Vec<FaultRule> {
        self.faults().rules().to_vec()
    }

    pub fn faults_fired(&self) -> u64 {
        self.faults().fired
    }

    pub(crate) fn decide_fault(&self, method: &str) -> Option<FaultKind> {
        self.faults().decide(method)
    }

    /// `broadcast_transaction`: validate and queue for the next block. With `drop`, the
    /// transaction is validated and then lost, as if the node had crashed.
    pub fn broadcast(&self, st: SignedTransaction, drop: bool) -> Result<[u8; 20]> {
        let mut state = self.lock();
        if drop {
            state.check(&st)?;
            return Ok(st.tx.id());
        }
        Ok(state.submit(st)?)
    }

    /// `broadcast_transaction_synchronous`: broadcast, then wait (real time, at most
    /// `sync_wait`) for the block that includes it. In manual production that block is
    /// made at once.
    pub fn broadcast_synchronous(&self, st: SignedTransaction, drop: bool) -> Result<Confirmation> {
        let id = self.broadcast(st, drop)?;
        let id_hex = hex::encode(id);
        let (wait, manual) = {
            let s = self.lock();
            (s.config.sync_wait, s.config.production == Production::Manual)
        };
        if drop {
            std::thread::sleep(wait);
            return Err(ChainError::NotIncluded { id: id_hex, why: "no block included it in time".into() });
        }
        if manual {
            self.produce_block();
        }
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        loop {
            if let Some(loc) = state.location(&id) {
                let trx = state.block(loc.block_num).map_or(Value::Null, |b| b.transaction_json(loc.trx_num as usize));
                return Ok(Confirmation { id: id_hex, block_num: loc.block_num, trx_num: loc.trx_num, trx });
            }
            if !state.is_pending(&id) {
                let why = state.failure(&id).map_or("dropped by a reorganisation".to_string(), |r| r.to_string());
                return Err(ChainError::NotIncluded { id: id_hex, why });
            }
            let now = Instant::now();
            if now >= deadline || self.is_stopping() {
                return Err(ChainError::NotIncluded { id: id_hex, why: "no block included it in time".into() });
            }
            state = self.new_block.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.new_block.notify_all();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}
