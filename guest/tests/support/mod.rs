//! Test doubles for the gateway core: an in-memory store with the exact versioned
//! conditional-commit semantics (plus injected conflicts and failures), a small
//! simulated CrowdWiz chain answering the RPC calls the gateway makes (with scripted or
//! random faults), a controllable clock, seeded randomness and an event recorder.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use cwd_gateway_guest::config::{Config, Keys, Rate};
use cwd_gateway_guest::events::{Event, OpPosition};
use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::json::{self, write_i64, write_u64};
use cwd_gateway_guest::keys::{PrivateKey, PublicKey};
use cwd_gateway_guest::memo;
use cwd_gateway_guest::ops::{Operation, SignedTransaction};
use cwd_gateway_guest::ports::*;
use cwd_gateway_guest::records::{DepositRec, UnclaimedRec, WdState, WithdrawalRec};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";
pub const GATEWAY: &str = "game-gateway";
pub const START_MS: u64 = 1_800_000_000_000;
pub const TRANSFER_FEE: i64 = 2_000;
pub const MESSAGE_FEE: i64 = 1_000;
pub const COLD: &str = "cold-store";

// ---------------------------------------------------------------- randomness

/// splitmix64: small, seeded, good enough for tests.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

pub struct SeededRandom(pub Rc<RefCell<Rng>>);

impl Random for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        let mut r = self.0.borrow_mut();
        for chunk in buf.chunks_mut(8) {
            let v = r.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

// ---------------------------------------------------------------- clock, events

#[derive(Clone)]
pub struct TestClock(pub Rc<Cell<u64>>);

impl Clock for TestClock {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
}

#[derive(Clone, Default)]
pub struct Recorder(pub Rc<RefCell<Vec<Event>>>);

impl Events for Recorder {
    fn emit(&mut self, event: Event) {
        self.0.borrow_mut().push(event);
    }
}

// ---------------------------------------------------------------- store

#[derive(Default)]
pub struct MemStoreInner {
    /// key → (value, version). Versions keep increasing across deletes (no ABA).
    pub data: BTreeMap<String, (Vec<u8>, u64)>,
    pub versions: HashMap<String, u64>,
    /// The next N commits fail with `unavailable` before writing.
    pub fail_commits: u32,
    /// The next N commits answer `conflict` without writing.
    pub conflict_commits: u32,
    /// The next N commits are written, then answer `unavailable` (a crash after the
    /// durable write, before the answer reached the gateway).
    pub fail_after_commits: u32,
    /// Random commit failures (per mille), for the property test.
    pub random_fail: Option<(Rng, u64)>,
    pub commits: u64,
    /// Commit calls so far, committed or not.
    pub attempts: u64,
    /// A crash at commit call number N: before writing (`false`) or after (`true`).
    pub crash_at: Option<(u64, bool)>,
    /// Entries scans have answered so far (what a listing read).
    pub scanned: u64,
    /// Gets so far, per key.
    pub gets: HashMap<String, u64>,
}

#[derive(Clone, Default)]
pub struct MemStore(pub Rc<RefCell<MemStoreInner>>);

impl Store for MemStore {
    fn get(&mut self, key: &str) -> Result<Option<Entry>, StoreError> {
        let mut s = self.0.borrow_mut();
        *s.gets.entry(key.to_string()).or_default() += 1;
        Ok(s.data.get(key).map(|(v, ver)| Entry {
            key: key.to_string(),
            value: v.clone(),
            version: *ver,
        }))
    }

    fn scan(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut s = self.0.borrow_mut();
        let page: Vec<Entry> = s
            .data
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|a| k.as_str() > a))
            .take(limit as usize)
            .map(|(k, (v, ver))| Entry {
                key: k.clone(),
                value: v.clone(),
                version: *ver,
            })
            .collect();
        s.scanned += page.len() as u64;
        Ok(page)
    }

    fn scan_reverse(
        &mut self,
        prefix: &str,
        start_before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut s = self.0.borrow_mut();
        let page: Vec<Entry> = s
            .data
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_before.is_none_or(|b| k.as_str() < b))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(limit as usize)
            .map(|(k, (v, ver))| Entry {
                key: k.clone(),
                value: v.clone(),
                version: *ver,
            })
            .collect();
        s.scanned += page.len() as u64;
        Ok(page)
    }

    fn commit(
        &mut self,
        preconditions: &[Precondition],
        writes: &[Write],
    ) -> Result<bool, StoreError> {
        let mut s = self.0.borrow_mut();
        s.attempts += 1;
        let crash = s
            .crash_at
            .filter(|(n, _)| *n == s.attempts)
            .map(|(_, after)| after);
        if crash == Some(false) {
            return Err(StoreError("injected: crash before the write".into()));
        }
        if s.fail_commits > 0 {
            s.fail_commits -= 1;
            return Err(StoreError("injected: database down".into()));
        }
        if let Some((rng, rate)) = s.random_fail.as_mut() {
            let rate = *rate;
            if rng.chance(rate) {
                return Err(StoreError("injected: random failure".into()));
            }
        }
        if s.conflict_commits > 0 {
            s.conflict_commits -= 1;
            return Ok(false);
        }
        for p in preconditions {
            let current = s.data.get(&p.key).map(|(_, v)| *v);
            if current != p.expected_version {
                return Ok(false);
            }
        }
        for w in writes {
            match &w.value {
                Some(v) => {
                    let ver = s.versions.get(&w.key).copied().unwrap_or(0) + 1;
                    s.versions.insert(w.key.clone(), ver);
                    s.data.insert(w.key.clone(), (v.clone(), ver));
                }
                None => {
                    s.data.remove(&w.key);
                }
            }
        }
        s.commits += 1;
        if crash == Some(true) {
            return Err(StoreError("injected: crash after the write".into()));
        }
        if s.fail_after_commits > 0 {
            s.fail_after_commits -= 1;
            return Err(StoreError("injected: lost answer after commit".into()));
        }
        Ok(true)
    }
}

impl MemStore {
    pub fn record<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let s = self.0.borrow();
        s.data
            .get(key)
            .map(|(v, _)| cwd_gateway_guest::records::decode(key, v).unwrap())
    }
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.0
            .borrow()
            .data
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
    pub fn all<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Vec<(String, T)> {
        self.keys(prefix)
            .into_iter()
            .map(|k| (k.clone(), self.record(&k).unwrap()))
            .collect()
    }
    /// Everything stored, as text (to check that no secret is ever written).
    pub fn dump(&self) -> String {
        let s = self.0.borrow();
        s.data
            .iter()
            .map(|(k, (v, _))| format!("{k}={}\n", String::from_utf8_lossy(v)))
            .collect()
    }
}

// ---------------------------------------------------------------- chain

pub struct ChainAccount {
    pub id: u64,
    pub name: String,
    pub active: PrivateKey,
    pub memo: PrivateKey,
    /// asset id → balance
    pub balances: BTreeMap<u64, i64>,
}

pub struct Block {
    pub num: u32,
    pub time: u32,
    pub id: [u8; 20],
}

#[derive(Clone)]
pub enum PendingTx {
    /// A gateway-signed transaction (validated at broadcast).
    Signed { tx: SignedTransaction, id: [u8; 20] },
    /// A player's transfer made directly on the simulated chain.
    Player {
        from: u64,
        to: u64,
        amount: i64,
        asset: u64,
        memo: Option<Value>,
    },
    /// Operations that execute together and share one history position: a proposal's
    /// transfers (after its `proposal_update`), a mass payment's `mass_payment_pay`s.
    /// `at_block_end`: executed after the block's transactions, as proposals reaching
    /// their expiry are (db_update.cpp `clear_expired_proposals`).
    Group {
        ops: Vec<(Value, Vec<u64>)>,
        moves: Vec<(u64, u64, i64, u64)>,
        at_block_end: bool,
    },
}

#[derive(Clone, Debug)]
pub struct HistOp {
    pub pos: OpPosition,
    pub op: Value,
    pub global_id: u64,
}

/// A fault the next call of a method meets.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Fail before doing anything.
    Error(NodeError),
    /// (broadcast) Apply, then answer `timeout`.
    TimeoutAfterApply,
    /// (broadcast) Answer success but never include the transaction.
    Drop,
    /// Answer this instead of the real result.
    Answer(Value),
}

pub struct Chain {
    pub accounts: Vec<ChainAccount>,
    pub blocks: Vec<Block>,
    pub pending: Vec<PendingTx>,
    pub lib_lag: u32,
    pub history: HashMap<u64, Vec<HistOp>>,
    pub next_global: u64,
    pub known_tx: HashSet<[u8; 20]>,
    /// Gateway transactions that made it into a block, with their block number.
    pub included: Vec<([u8; 20], u32, SignedTransaction)>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// Random faults (per mille) for the property test: errors, timeouts, drops.
    pub random_faults: Option<(Rng, u64)>,
    /// Write every integer as a decimal string (nodes may).
    pub ints_as_strings: bool,
    pub max_history_limit: u64,
    pub calls: Vec<String>,
    pub chain_id: String,
    /// How each node the gateway can reach keeps account history (index = node).
    pub history_modes: Vec<HistoryMode>,
    /// The node answering now; `fail_over` moves to the next one.
    pub current_node: usize,
    /// Reasons the gateway gave for each fail-over.
    pub failovers: Vec<String>,
    /// `maximum_time_until_expiration` in the global properties.
    pub max_expiration_secs: u32,
}

/// How a node's account-history plugin keeps history (account_history_plugin.cpp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryMode {
    Full,
    /// `max-ops-per-account`: only the newest N operations of each account stay.
    MaxOps(u64),
    /// The account is not tracked (or `max-ops-per-account = 0`): no history at all.
    None,
}

fn int(v: u64, strings: bool) -> Value {
    if strings {
        Value::String(v.to_string())
    } else {
        write_u64(v)
    }
}

pub fn key_for(name: &str, role: &str) -> PrivateKey {
    let mut seed = Sha256::digest(format!("{name}/{role}").as_bytes()).to_vec();
    loop {
        if let Ok(k) = PrivateKey::from_bytes(&seed) {
            return k;
        }
        seed = Sha256::digest(&seed).to_vec();
    }
}

impl Chain {
    pub fn new(start_secs: u32) -> Self {
        let mut c = Chain {
            accounts: Vec::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            lib_lag: 3,
            history: HashMap::new(),
            next_global: 1,
            known_tx: HashSet::new(),
            included: Vec::new(),
            faults: HashMap::new(),
            random_faults: None,
            ints_as_strings: false,
            max_history_limit: 100,
            calls: Vec::new(),
            chain_id: CHAIN_ID.into(),
            history_modes: vec![HistoryMode::Full],
            current_node: 0,
            failovers: Vec::new(),
            max_expiration_secs: 86_400,
        };
        c.push_block(start_secs);
        c
    }

    fn push_block(&mut self, time: u32) {
        let num = self.blocks.len() as u32 + 1;
        let mut id = [0u8; 20];
        id[..4].copy_from_slice(&num.to_be_bytes());
        let h = Sha256::digest(format!("block {num} {time}").as_bytes());
        id[4..].copy_from_slice(&h[..16]);
        self.blocks.push(Block { num, time, id });
    }

    pub fn head(&self) -> &Block {
        self.blocks.last().unwrap()
    }

    pub fn lib(&self) -> u32 {
        self.head().num.saturating_sub(self.lib_lag)
    }

    pub fn create_account(&mut self, name: &str, cwd: i64) -> u64 {
        let id = 100 + self.accounts.len() as u64;
        let mut balances = BTreeMap::new();
        balances.insert(0, cwd);
        self.accounts.push(ChainAccount {
            id,
            name: name.into(),
            active: key_for(name, "active"),
            memo: key_for(name, "memo"),
            balances,
        });
        // As on chain, the new account's history starts with its account_create.
        let num = self.head().num;
        let op = json!([5, {"fee": {"amount": 0, "asset_id": "1.3.0"}, "registrar": "1.2.1", "name": name}]);
        self.record_op(num, self.accounts.len() as u32, 0, op, &[id]);
        id
    }

    /// (total_ops, removed_ops) of an account on the current node, as the history
    /// plugin keeps them.
    pub fn history_stats(&self, id: u64) -> (u64, u64) {
        let total = self.history.get(&id).map_or(0, |h| h.len() as u64);
        match self.history_modes[self.current_node] {
            HistoryMode::Full => (total, 0),
            HistoryMode::MaxOps(m) => (total, total.saturating_sub(m)),
            HistoryMode::None => (0, 0),
        }
    }

    pub fn account(&self, name: &str) -> &ChainAccount {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no account {name}"))
    }

    pub fn id_of(&self, name: &str) -> u64 {
        self.account(name).id
    }

    fn by_id_mut(&mut self, id: u64) -> Option<&mut ChainAccount> {
        self.accounts.iter_mut().find(|a| a.id == id)
    }

    pub fn balance(&self, name: &str, asset: u64) -> i64 {
        self.account(name)
            .balances
            .get(&asset)
            .copied()
            .unwrap_or(0)
    }

    /// A player transfers to someone (included in the next block).
    pub fn player_transfer(&mut self, from: &str, to: &str, amount: i64, asset: u64) {
        let (from, to) = (self.id_of(from), self.id_of(to));
        self.pending.push(PendingTx::Player {
            from,
            to,
            amount,
            asset,
            memo: None,
        });
    }

    /// A player's CWD transfer with a memo encrypted from their memo key to the receiver's.
    pub fn player_transfer_memo(&mut self, from: &str, to: &str, amount: i64, text: &str) {
        let (a, b) = (self.account(from), self.account(to));
        let nonce = self.next_global * 7919 + 1;
        let cipher = memo::encrypt(&a.memo, &b.memo.public_key(), nonce, text).unwrap();
        let memo = json!({"from": a.memo.public_key().to_string(), "to": b.memo.public_key().to_string(), "nonce": nonce.to_string(), "message": hex::encode(cipher)});
        let (from, to) = (a.id, b.id);
        self.pending.push(PendingTx::Player {
            from,
            to,
            amount,
            asset: 0,
            memo: Some(memo),
        });
    }

    /// Produces one block at `time` with every pending transaction that still fits.
    pub fn produce_block(&mut self, time: u32) {
        self.push_block(time);
        let num = self.head().num;
        let pending = std::mem::take(&mut self.pending);
        let mut trx_in_block = 0u32;
        let mut at_end = Vec::new();
        for p in pending {
            match p {
                PendingTx::Player {
                    from,
                    to,
                    amount,
                    asset,
                    memo,
                } => {
                    let fee = TRANSFER_FEE;
                    let ok = {
                        let a = self.by_id_mut(from).unwrap();
                        let bal = a.balances.get(&asset).copied().unwrap_or(0);
                        let core = a.balances.get(&0).copied().unwrap_or(0);
                        (asset == 0 && core >= amount + fee)
                            || (asset != 0 && bal >= amount && core >= fee)
                    };
                    if !ok {
                        continue;
                    }
                    self.move_funds(from, to, amount, asset, fee);
                    let mut op = json!([0, {
                        "fee": {"amount": fee, "asset_id": "1.3.0"},
                        "from": format!("1.2.{from}"), "to": format!("1.2.{to}"),
                        "amount": {"amount": write_i64(amount), "asset_id": format!("1.3.{asset}")},
                        "extensions": []
                    }]);
                    if let Some(m) = memo {
                        op[1]["memo"] = m;
                    }
                    self.record_op(num, trx_in_block, 0, op, &[from, to]);
                    trx_in_block += 1;
                }
                PendingTx::Group {
                    ops,
                    moves,
                    at_block_end: false,
                } => {
                    for (from, to, amount, asset) in moves {
                        self.move_funds(from, to, amount, asset, 0);
                    }
                    for (op, accounts) in ops {
                        self.record_op(num, trx_in_block, 0, op, &accounts);
                    }
                    trx_in_block += 1;
                }
                PendingTx::Group { .. } => at_end.push(p),
                PendingTx::Signed { tx, id } => {
                    if tx.tx.expiration < time {
                        continue; // expired before inclusion: gone for good
                    }
                    // Check funds for every operation first (all or nothing).
                    let mut need: HashMap<u64, i64> = HashMap::new();
                    for op in &tx.tx.operations {
                        match op {
                            Operation::Transfer(t) => {
                                *need.entry(t.from.0).or_default() += t.amount.amount + t.fee.amount
                            }
                            Operation::SendMessage(m) => {
                                *need.entry(m.from.0).or_default() += m.fee.amount
                            }
                        }
                    }
                    let funded = need.iter().all(|(a, n)| {
                        self.accounts
                            .iter()
                            .any(|x| x.id == *a && x.balances.get(&0).copied().unwrap_or(0) >= *n)
                    });
                    if !funded {
                        continue;
                    }
                    for (i, op) in tx.tx.operations.iter().enumerate() {
                        match op {
                            Operation::Transfer(t) => {
                                self.move_funds(t.from.0, t.to.0, t.amount.amount, 0, t.fee.amount);
                                self.record_op(
                                    num,
                                    trx_in_block,
                                    i as u32,
                                    json::write_operation(op),
                                    &[t.from.0, t.to.0],
                                );
                            }
                            Operation::SendMessage(m) => {
                                self.by_id_mut(m.from.0)
                                    .unwrap()
                                    .balances
                                    .entry(0)
                                    .and_modify(|b| *b -= m.fee.amount);
                                self.record_op(
                                    num,
                                    trx_in_block,
                                    i as u32,
                                    json::write_operation(op),
                                    &[m.from.0, m.to.0],
                                );
                            }
                        }
                    }
                    self.included.push((id, num, tx));
                    trx_in_block += 1;
                }
            }
        }
        // After the transactions: position (block, transactions in it, the last
        // transaction's op count), shared by everything executed there.
        for p in at_end {
            if let PendingTx::Group { ops, moves, .. } = p {
                for (from, to, amount, asset) in moves {
                    self.move_funds(from, to, amount, asset, 0);
                }
                for (op, accounts) in ops {
                    self.record_op(num, trx_in_block, 1, op, &accounts);
                }
            }
        }
    }

    fn transfer_json(from: u64, to: u64, amount: i64, asset: u64) -> Value {
        json!([0, {
            "fee": {"amount": TRANSFER_FEE, "asset_id": "1.3.0"},
            "from": format!("1.2.{from}"), "to": format!("1.2.{to}"),
            "amount": {"amount": write_i64(amount), "asset_id": format!("1.3.{asset}")},
            "extensions": []
        }])
    }

    /// A proposal holding `transfers` (from, to, CWD units) executes in the next block:
    /// on its last approval (`proposal_update` by `approver`, then the transfers at the
    /// update's position) or at its expiry (after the block's transactions).
    pub fn proposal_transfers(
        &mut self,
        approver: &str,
        transfers: &[(&str, &str, i64)],
        at_expiry: bool,
    ) {
        let mut ops = Vec::new();
        let mut moves = Vec::new();
        if !at_expiry {
            let who = self.id_of(approver);
            let update = json!([23, {"fee": {"amount": 100, "asset_id": "1.3.0"}, "fee_paying_account": format!("1.2.{who}"),
                "proposal": "1.10.7", "active_approvals_to_add": [format!("1.2.{who}")], "active_approvals_to_remove": [],
                "owner_approvals_to_add": [], "owner_approvals_to_remove": [], "key_approvals_to_add": [], "key_approvals_to_remove": [], "extensions": []}]);
            ops.push((update, vec![who]));
        }
        for (from, to, amount) in transfers {
            let (f, t) = (self.id_of(from), self.id_of(to));
            ops.push((Self::transfer_json(f, t, *amount, 0), vec![f, t]));
            moves.push((f, t, *amount, 0));
        }
        self.pending.push(PendingTx::Group {
            ops,
            moves,
            at_block_end: at_expiry,
        });
    }

    /// `mass_payment` (op 104) by `from`, executed in the next block: one virtual
    /// `mass_payment_pay` (op 105) per payee at the same position (financial_evaluator.cpp).
    pub fn mass_payment(&mut self, from: &str, payments: &[(&str, i64)]) {
        let f = self.id_of(from);
        let map: Vec<Value> = payments
            .iter()
            .map(|(to, a)| json!([format!("1.2.{}", self.id_of(to)), a]))
            .collect();
        let mut ops = vec![(
            json!([104, {"fee": {"amount": 500000, "asset_id": "1.3.0"}, "from": format!("1.2.{f}"), "asset_id": "1.3.0", "payments": map}]),
            vec![f],
        )];
        let mut moves = Vec::new();
        for (to, amount) in payments {
            let t = self.id_of(to);
            let pay = json!([105, {"fee": {"amount": 0, "asset_id": "1.3.0"}, "from": format!("1.2.{f}"), "to": format!("1.2.{t}"),
                "amount": {"amount": amount, "asset_id": "1.3.0"}}]);
            ops.push((pay, vec![f, t]));
            moves.push((f, t, *amount, 0));
        }
        self.pending.push(PendingTx::Group {
            ops,
            moves,
            at_block_end: false,
        });
    }

    /// Any operation, recorded in the next block in the histories of `accounts`, moving
    /// `moves` (from, to, amount, asset).
    pub fn raw_op(&mut self, op: Value, accounts: &[&str], moves: &[(&str, &str, i64, u64)]) {
        let accounts = accounts.iter().map(|a| self.id_of(a)).collect();
        let moves = moves
            .iter()
            .map(|(f, t, a, s)| (self.id_of(f), self.id_of(t), *a, *s))
            .collect();
        self.pending.push(PendingTx::Group {
            ops: vec![(op, accounts)],
            moves,
            at_block_end: false,
        });
    }

    fn move_funds(&mut self, from: u64, to: u64, amount: i64, asset: u64, fee: i64) {
        let a = self.by_id_mut(from).unwrap();
        *a.balances.entry(asset).or_default() -= amount;
        *a.balances.entry(0).or_default() -= fee;
        *self
            .by_id_mut(to)
            .unwrap()
            .balances
            .entry(asset)
            .or_default() += amount;
    }

    fn record_op(&mut self, block: u32, trx: u32, op_in_trx: u32, op: Value, accounts: &[u64]) {
        let g = self.next_global;
        self.next_global += 1;
        let pos = OpPosition::new(block, trx, op_in_trx);
        for a in accounts.iter().collect::<HashSet<_>>() {
            self.history.entry(*a).or_default().push(HistOp {
                pos,
                op: op.clone(),
                global_id: g,
            });
        }
    }

    /// The last `send_message` text `name` received, decrypted with its memo key.
    pub fn last_message(&self, name: &str) -> Option<String> {
        let a = self.account(name);
        let hist = self.history.get(&a.id)?;
        for h in hist.iter().rev() {
            if h.op[0] == json!(61) && h.op[1]["to"] == json!(format!("1.2.{}", a.id)) {
                let m = &h.op[1]["memo"];
                let from: PublicKey = m["from"].as_str()?.parse().ok()?;
                let nonce = json::int_u64(&m["nonce"], "nonce").ok()?;
                let cipher = hex::decode(m["message"].as_str()?).ok()?;
                return memo::decrypt(&a.memo, &from, nonce, &cipher).ok();
            }
        }
        None
    }

    /// Messages still waiting in the mempool to `name` (sent but not yet in a block).
    pub fn pending_message(&self, name: &str) -> Option<String> {
        let a = self.account(name);
        for p in self.pending.iter().rev() {
            if let PendingTx::Signed { tx, .. } = p {
                for op in &tx.tx.operations {
                    if let Operation::SendMessage(m) = op {
                        if m.to.0 == a.id {
                            return memo::decrypt(
                                &a.memo,
                                &m.memo.from,
                                m.memo.nonce,
                                &m.memo.message,
                            )
                            .ok();
                        }
                    }
                }
            }
        }
        None
    }

    /// Every transfer from the gateway to anyone (count payouts), as (to, amount, memo nonce).
    pub fn gateway_payouts(&self, gateway: u64) -> Vec<(u64, i64, u64, u32)> {
        let mut out = Vec::new();
        for (_, num, tx) in &self.included {
            for op in &tx.tx.operations {
                if let Operation::Transfer(t) = op {
                    if t.from.0 == gateway {
                        out.push((
                            t.to.0,
                            t.amount.amount,
                            t.memo.as_ref().map_or(0, |m| m.nonce),
                            *num,
                        ));
                    }
                }
            }
        }
        out
    }

    pub fn fault(&mut self, method: &str, f: Fault) {
        self.faults
            .entry(method.to_string())
            .or_default()
            .push_back(f);
    }

    fn account_json(&self, a: &ChainAccount) -> Value {
        json!({
            "id": format!("1.2.{}", a.id),
            "name": a.name,
            "active": {"weight_threshold": 1, "account_auths": [], "key_auths": [[a.active.public_key().to_string(), 1]], "address_auths": []},
            "owner": {"weight_threshold": 1, "account_auths": [], "key_auths": [[a.active.public_key().to_string(), 1]], "address_auths": []},
            "options": {"memo_key": a.memo.public_key().to_string(), "voting_account": "1.2.5", "num_witness": 0, "num_committee": 0, "votes": [], "extensions": []},
        })
    }

    fn validate_and_accept(&mut self, params: &Value) -> Result<(), NodeError> {
        let rpc = |m: &str| NodeError::Rpc {
            code: 10,
            message: m.to_string(),
        };
        let st = json::transaction(&params[0]).map_err(|e| rpc(&format!("parse: {e}")))?;
        let id = st.tx.id();
        if self.known_tx.contains(&id) {
            return Err(rpc("duplicate transaction"));
        }
        let head = self.head();
        if st.tx.expiration <= head.time {
            return Err(rpc("transaction expired"));
        }
        if st.tx.expiration > head.time + self.max_expiration_secs {
            return Err(rpc("expiration too far in the future"));
        }
        let tapos_ok = self.blocks.iter().any(|b| {
            let (n, p) = cwd_gateway_guest::ops::tapos_from_block_id(&hex::encode(b.id)).unwrap();
            n == st.tx.ref_block_num && p == st.tx.ref_block_prefix
        });
        if !tapos_ok {
            return Err(rpc("bad tapos"));
        }
        let chain_id: [u8; 32] = hex::decode(&self.chain_id).unwrap().try_into().unwrap();
        let signers = st
            .signers(&chain_id)
            .map_err(|e| rpc(&format!("signature: {e}")))?;
        for op in &st.tx.operations {
            let payer = op.fee_payer();
            let acct = self
                .accounts
                .iter()
                .find(|a| a.id == payer.0)
                .ok_or_else(|| rpc("unknown account"))?;
            if !signers.contains(&acct.active.public_key()) {
                return Err(rpc("missing required active authority"));
            }
            let need = match op {
                Operation::Transfer(_) => TRANSFER_FEE,
                Operation::SendMessage(_) => MESSAGE_FEE,
            };
            if op.fee().amount < need {
                return Err(rpc("insufficient fee"));
            }
        }
        self.known_tx.insert(id);
        self.pending.push(PendingTx::Signed { tx: st, id });
        Ok(())
    }

    pub fn handle(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        self.calls.push(format!("{api}.{method}"));
        let params: Value = serde_json::from_str(params).map_err(|e| NodeError::Rpc {
            code: 1,
            message: e.to_string(),
        })?;
        let scripted = self.faults.get_mut(method).and_then(|q| q.pop_front());
        let random = match self.random_faults.as_mut() {
            Some((rng, rate)) if scripted.is_none() => {
                let rate = *rate;
                if rng.chance(rate) {
                    Some(match rng.below(4) {
                        0 => Fault::Error(NodeError::Unreachable("injected".into())),
                        1 => Fault::Error(NodeError::Timeout),
                        2 if method == "broadcast_transaction" => Fault::Drop,
                        2 => Fault::Error(NodeError::BadResponse("garbage".into())),
                        _ if method == "broadcast_transaction" => Fault::TimeoutAfterApply,
                        _ => Fault::Error(NodeError::Rpc {
                            code: 7,
                            message: "injected".into(),
                        }),
                    })
                } else {
                    None
                }
            }
            _ => None,
        };
        let fault = scripted.or(random);
        match &fault {
            Some(Fault::Error(e)) => return Err(e.clone()),
            Some(Fault::Answer(v)) => return Ok(v.to_string()),
            _ => {}
        }
        let s = self.ints_as_strings;
        let result = match (api, method) {
            ("database", "get_chain_id") => json!(self.chain_id),
            ("database", "get_dynamic_global_properties") => {
                let h = self.head();
                json!({
                    "id": "2.1.0",
                    "head_block_number": int(h.num as u64, s),
                    "head_block_id": hex::encode(h.id),
                    "time": json::format_time(h.time),
                    "last_irreversible_block_num": int(self.lib() as u64, s),
                })
            }
            ("database", "lookup_account_names") => {
                let names = params[0].as_array().cloned().unwrap_or_default();
                json!(names
                    .iter()
                    .map(|n| self
                        .accounts
                        .iter()
                        .find(|a| Some(a.name.as_str()) == n.as_str())
                        .map_or(Value::Null, |a| self.account_json(a)))
                    .collect::<Vec<_>>())
            }
            ("database", "get_global_properties") => {
                json!({"id": "2.0.0", "parameters": {"block_interval": 5, "maximum_time_until_expiration": self.max_expiration_secs}})
            }
            ("database", "get_objects") => {
                let ids = params[0].as_array().cloned().unwrap_or_default();
                json!(ids
                    .iter()
                    .map(|v| {
                        let text = v.as_str().unwrap_or("");
                        let n = text.rsplit('.').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(u64::MAX);
                        if text.starts_with("2.6.") && self.accounts.iter().any(|a| a.id == n) {
                            let (total, removed) = self.history_stats(n);
                            json!({"id": text, "owner": format!("1.2.{n}"), "total_ops": int(total, s), "removed_ops": int(removed, s)})
                        } else if text == "2.1.0" {
                            json!({"id": "2.1.0", "last_irreversible_block_num": int(self.lib() as u64, s)})
                        } else if text.starts_with("1.2.") {
                            self.accounts.iter().find(|a| a.id == n).map_or(Value::Null, |a| self.account_json(a))
                        } else {
                            Value::Null
                        }
                    })
                    .collect::<Vec<_>>())
            }
            ("database", "get_accounts") => {
                let ids = params[0].as_array().cloned().unwrap_or_default();
                json!(ids
                    .iter()
                    .map(|n| self
                        .accounts
                        .iter()
                        .find(|a| Some(format!("1.2.{}", a.id)) == n.as_str().map(String::from))
                        .map_or(Value::Null, |a| self.account_json(a)))
                    .collect::<Vec<_>>())
            }
            ("database", "get_required_fees") => {
                let ops = params[0].as_array().cloned().unwrap_or_default();
                json!(ops
                    .iter()
                    .map(|o| {
                        let fee = if o[0] == json!(61) {
                            MESSAGE_FEE
                        } else {
                            TRANSFER_FEE
                        };
                        json!({"amount": int(fee as u64, s), "asset_id": "1.3.0"})
                    })
                    .collect::<Vec<_>>())
            }
            ("database", "get_account_balances") => {
                let who = params[0].as_str().unwrap_or("");
                let a = self
                    .accounts
                    .iter()
                    .find(|a| format!("1.2.{}", a.id) == who)
                    .ok_or(NodeError::Rpc {
                        code: 10,
                        message: "no such account".into(),
                    })?;
                json!([{"amount": int(a.balances.get(&0).copied().unwrap_or(0) as u64, s), "asset_id": "1.3.0"}])
            }
            ("database", "get_block_header") => {
                let n = json::int_u64(&params[0], "n").unwrap_or(0) as usize;
                match n.checked_sub(1).and_then(|i| self.blocks.get(i)) {
                    None => Value::Null,
                    Some(b) => json!({"timestamp": json::format_time(b.time), "previous": "00"}),
                }
            }
            ("history", "get_relative_account_history") => {
                let who = params[0].as_str().unwrap_or("");
                let stop = json::int_u64(&params[1], "stop").unwrap_or(0);
                let limit = json::int_u64(&params[2], "limit").unwrap_or(0);
                let start = json::int_u64(&params[3], "start").unwrap_or(0);
                if limit > self.max_history_limit {
                    return Err(NodeError::Rpc {
                        code: 10,
                        message: format!(
                            "limit can not be greater than {}",
                            self.max_history_limit
                        ),
                    });
                }
                let id = who
                    .strip_prefix("1.2.")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                let ops = self.history.get(&id).cloned().unwrap_or_default();
                let (total, removed) = self.history_stats(id);
                let stop = stop.max(removed + 1);
                let start = if start == 0 { total } else { start.min(total) };
                let mut out = Vec::new();
                if start >= stop && start > 0 && limit > 0 {
                    let low = stop.max(1);
                    for seq in (low..=start).rev().take(limit as usize) {
                        let h = &ops[(seq - 1) as usize];
                        out.push(json!({
                            "id": format!("1.11.{}", h.global_id),
                            "op": h.op,
                            "result": [0, {}],
                            "block_num": int(h.pos.block_num as u64, s),
                            "trx_in_block": int(h.pos.trx_in_block as u64, s),
                            "op_in_trx": int(h.pos.op_in_trx as u64, s),
                            "virtual_op": 0,
                        }));
                    }
                }
                json!(out)
            }
            ("network_broadcast", "broadcast_transaction") => {
                match fault {
                    Some(Fault::Drop) => {
                        // Accepted, never included (and known, so a rebroadcast is a duplicate).
                        if let Ok(st) = json::transaction(&params[0]) {
                            self.known_tx.insert(st.tx.id());
                        }
                        return Ok("null".into());
                    }
                    Some(Fault::TimeoutAfterApply) => {
                        let _ = self.validate_and_accept(&params);
                        return Err(NodeError::Timeout);
                    }
                    _ => {}
                }
                self.validate_and_accept(&params)?;
                Value::Null
            }
            _ => {
                return Err(NodeError::Rpc {
                    code: -32601,
                    message: format!("no method {api}.{method}"),
                })
            }
        };
        Ok(result.to_string())
    }
}

#[derive(Clone)]
pub struct SimNode(pub Rc<RefCell<Chain>>);

impl Node for SimNode {
    fn call(&mut self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        self.0.borrow_mut().handle(api, method, params_json)
    }

    fn fail_over(&mut self, reason: &str) -> bool {
        let mut c = self.0.borrow_mut();
        c.failovers.push(reason.to_string());
        if c.history_modes.len() < 2 {
            return false;
        }
        c.current_node = (c.current_node + 1) % c.history_modes.len();
        true
    }
}

// ---------------------------------------------------------------- the world

pub struct World {
    pub gw: Gateway,
    pub chain: Rc<RefCell<Chain>>,
    pub store: MemStore,
    pub clock: Rc<Cell<u64>>,
    pub events: Recorder,
    pub rng: Rc<RefCell<Rng>>,
    pub config: Config,
}

pub fn default_config() -> Config {
    let mut c = Config::new(
        GATEWAY,
        CHAIN_ID,
        Rate {
            game_units: 90,
            per_cwd_units: 100_000,
        },
        Rate {
            game_units: 100,
            per_cwd_units: 100_000,
        },
    );
    c.withdrawals.min_cwd = 1_000;
    c
}

pub fn gateway_keys() -> Keys {
    Keys {
        active_wif: key_for(GATEWAY, "active").to_wif(),
        memo_wif: key_for(GATEWAY, "memo").to_wif(),
    }
}

impl World {
    pub fn new(seed: u64) -> World {
        Self::with_config(seed, default_config())
    }

    pub fn with_config(seed: u64, config: Config) -> World {
        let clock = Rc::new(Cell::new(START_MS));
        let mut chain = Chain::new((START_MS / 1000) as u32);
        chain.create_account(GATEWAY, 1_000_000_000);
        for name in ["alice", "bob", "carol", "mallory", "dave"] {
            chain.create_account(name, 100_000_000);
        }
        // The operator's cold storage (sweeps go here when a test configures it).
        chain.create_account(COLD, 0);
        let chain = Rc::new(RefCell::new(chain));
        let store = MemStore::default();
        let events = Recorder::default();
        let rng = Rc::new(RefCell::new(Rng(seed)));
        let gw = Self::instance(&chain, &store, &clock, &events, &rng);
        let mut w = World {
            gw,
            chain,
            store,
            clock,
            events,
            rng,
            config: config.clone(),
        };
        for _ in 0..5 {
            w.produce();
        }
        w.gw.configure(config, gateway_keys()).expect("configure");
        w
    }

    pub fn instance(
        chain: &Rc<RefCell<Chain>>,
        store: &MemStore,
        clock: &Rc<Cell<u64>>,
        events: &Recorder,
        rng: &Rc<RefCell<Rng>>,
    ) -> Gateway {
        Gateway::new(Ports {
            store: Box::new(store.clone()),
            node: Box::new(SimNode(chain.clone())),
            clock: Box::new(TestClock(clock.clone())),
            events: Box::new(events.clone()),
            random: Box::new(SeededRandom(rng.clone())),
            signer: Box::new(cwd_gateway_guest::ports::NoSigner),
            outbox: Default::default(),
        })
    }

    /// A second gateway instance over the same store and chain (another host process).
    pub fn second_instance(&self) -> Gateway {
        let mut g = Self::instance(
            &self.chain,
            &self.store,
            &self.clock,
            &self.events,
            &self.rng,
        );
        // A host retries `configure` while the node is unavailable.
        for _ in 0..100 {
            match g.configure(self.config.clone(), gateway_keys()) {
                Ok(_) => return g,
                Err(cwd_gateway_guest::gateway_error::GatewayError::NodeUnavailable { .. }) => continue,
                Err(e) => panic!("configure: {e:?}"),
            }
        }
        panic!("configure never succeeded")
    }

    /// Simulates a crash and restart: a fresh instance over the same store.
    pub fn restart(&mut self) {
        self.gw = self.second_instance();
    }

    /// Advances 5 s and produces a block.
    pub fn produce(&mut self) {
        self.clock.set(self.clock.get() + 5_000);
        let t = (self.clock.get() / 1000) as u32;
        self.chain.borrow_mut().produce_block(t);
    }

    pub fn produce_n(&mut self, n: u32) {
        for _ in 0..n {
            self.produce();
        }
    }

    /// Produces enough blocks for everything so far to become irreversible.
    pub fn settle(&mut self) {
        let lag = self.chain.borrow().lib_lag;
        self.produce_n(lag + 1);
    }

    pub fn id(&self, name: &str) -> u64 {
        self.chain.borrow().id_of(name)
    }

    pub fn gateway_id(&self) -> u64 {
        self.id(GATEWAY)
    }

    /// Links `user` to `account` the honest way: start, read the code in the wallet, confirm.
    pub fn link(&mut self, user: &str, account: &str) {
        self.gw.start_link(user, account).expect("start-link");
        let code = self.read_code(account);
        self.gw.confirm_link(user, &code).expect("confirm-link");
    }

    /// The code as the account owner sees it in their wallet.
    pub fn read_code(&mut self, account: &str) -> String {
        self.try_read_code(account).expect("a message with a code")
    }

    /// `None` when no message reached the account (e.g. a dropped broadcast).
    pub fn try_read_code(&mut self, account: &str) -> Option<String> {
        let msg = {
            let c = self.chain.borrow();
            c.pending_message(account)
                .or_else(|| c.last_message(account))?
        };
        msg.split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
            .find(|w| w.len() >= 6 && w.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    }

    pub fn deposit(&mut self, from: &str, cwd: i64) {
        self.chain
            .borrow_mut()
            .player_transfer(from, GATEWAY, cwd, 0);
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.0.borrow().clone()
    }

    pub fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.0.borrow_mut())
    }

    pub fn balance(&mut self, user: &str) -> (u64, u64) {
        let v = self.gw.account(user).unwrap();
        (v.balance, v.frozen)
    }
}

// ---------------------------------------------------------------- the ledger invariant

/// The ledger balances, from the store's records alone: per user, balance + frozen =
/// credited deposits + assigned unclaimed + game changes + internal transfers in − out +
/// rewards received − rewards paid (the pool) − completed withdrawals; frozen is what
/// open withdrawals hold; and the units in users' hands equal the units that entered
/// (deposits, assignments, game changes) less those paid out: transfers and rewards
/// only move units. Panics with `ctx` on any mismatch.
pub fn check_ledger(store: &MemStore, ctx: &str) {
    use cwd_gateway_guest::records::{
        AdjustRec, DepositRec, UnclaimedRec, UnclaimedState, UserRec, WdState, WithdrawalRec,
    };
    use cwd_gateway_guest::referrals::RewardRec;
    use cwd_gateway_guest::transfers::TransferRec;
    let users: Vec<(String, UserRec)> = store.all("user/");
    let mut expect: HashMap<String, i128> = HashMap::new();
    let mut entered: i128 = 0;
    for (_, d) in store.all::<DepositRec>("dep/") {
        *expect.entry(d.user.clone()).or_default() += d.game as i128;
        entered += d.game as i128;
    }
    for (_, u) in store.all::<UnclaimedRec>("unc/") {
        if let UnclaimedState::Assigned { user, game, .. } = &u.state {
            *expect.entry(user.clone()).or_default() += *game as i128;
            entered += *game as i128;
        }
    }
    for (_, a) in store.all::<AdjustRec>("adj/") {
        *expect.entry(a.user.clone()).or_default() += a.delta as i128;
        entered += a.delta as i128;
    }
    // Adjustments whose idempotency records were pruned: their daily totals.
    for (key, d) in store.all::<cwd_gateway_guest::retention::AdjustDayRec>("adjday/") {
        let user = key["adjday/".len()..]
            .split('/')
            .next()
            .unwrap()
            .to_string();
        *expect.entry(user).or_default() += d.delta;
        entered += d.delta;
    }
    for (_, t) in store.all::<TransferRec>("xfer/") {
        *expect.entry(t.from_user.clone()).or_default() -= t.amount as i128;
        *expect.entry(t.to_user.clone()).or_default() += t.amount as i128;
    }
    for (_, r) in store.all::<RewardRec>("rwd/") {
        let shares: u64 = r.shares.iter().map(|s| s.amount).sum();
        assert_eq!(
            shares + r.cashback,
            r.paid,
            "reward {} does not add up at {ctx}",
            r.idempotency_key
        );
        assert!(
            r.paid <= r.base,
            "reward {} pays more than its base at {ctx}",
            r.idempotency_key
        );
        *expect.entry(r.pool_user.clone()).or_default() -= r.paid as i128;
        for s in &r.shares {
            *expect.entry(s.user.clone()).or_default() += s.amount as i128;
        }
        *expect.entry(r.user.clone()).or_default() += r.cashback as i128;
    }
    let mut frozen: HashMap<String, u64> = HashMap::new();
    for (_, x) in store.all::<WithdrawalRec>("wd/") {
        match x.state {
            WdState::Confirmed => {
                *expect.entry(x.user.clone()).or_default() -= x.game as i128;
                entered -= x.game as i128;
            }
            WdState::Failed | WdState::Rejected | WdState::Cancelled => {}
            _ => *frozen.entry(x.user.clone()).or_default() += x.game,
        }
    }
    let mut held: i128 = 0;
    for (key, u) in &users {
        let user = &key["user/".len()..];
        let have = u.balance as i128 + u.frozen as i128;
        held += have;
        assert_eq!(
            have,
            expect.get(user).copied().unwrap_or(0),
            "ledger does not reconcile for {user} at {ctx}"
        );
        assert_eq!(
            u.frozen,
            frozen.get(user).copied().unwrap_or(0),
            "frozen mismatch for {user} at {ctx}"
        );
    }
    for (user, e) in &expect {
        if *e != 0 {
            assert!(
                users.iter().any(|(k, _)| &k["user/".len()..] == user),
                "a move without a user record ({user}) at {ctx}"
            );
        }
    }
    assert_eq!(
        held, entered,
        "units were created or lost by transfers or rewards at {ctx}"
    );
    check_journal(store, ctx);
    check_totals(store, ctx);
}

/// The journal explains every balance: per user, its lines' deltas and those its outbox
/// entries still carry sum to the balance and the frozen units, and each line has its
/// day mark.
pub fn check_journal(store: &MemStore, ctx: &str) {
    use cwd_gateway_guest::records::journal::{Movement, JOURNAL_DAYS, USER_JOURNAL};
    use cwd_gateway_guest::records::UserRec;
    let mut sums: HashMap<String, (i128, i128)> = HashMap::new();
    let days: HashSet<String> = store.keys(JOURNAL_DAYS).into_iter().collect();
    for key in store.keys(USER_JOURNAL) {
        let value = store.0.borrow().data[&key].0.clone();
        let m = Movement::from_entry(&key, &value).unwrap_or_else(|e| panic!("{key}: {e:?} at {ctx}"));
        assert!(days.contains(&format!("{JOURNAL_DAYS}{:06}/{}", m.at_ms / 86_400_000, m.user)), "no day mark for {key} at {ctx}");
        let s = sums.entry(m.user.clone()).or_default();
        s.0 += m.balance_delta as i128;
        s.1 += m.frozen_delta as i128;
    }
    // Lines the outbox still carries: the sequencer writes them as it moves the entry.
    for (key, rec) in store.all::<cwd_gateway_guest::records::outbox::EventRec>(cwd_gateway_guest::records::outbox::OUTBOX) {
        for m in cwd_gateway_guest::records::outbox::due_movements(&key, &rec) {
            let s = sums.entry(m.user.clone()).or_default();
            s.0 += m.balance_delta as i128;
            s.1 += m.frozen_delta as i128;
        }
    }
    for (key, u) in store.all::<UserRec>("user/") {
        let user = &key["user/".len()..];
        let (b, f) = sums.remove(user).unwrap_or_default();
        assert_eq!((b, f), (u.balance as i128, u.frozen as i128), "the journal and the outbox's due lines do not explain {user}'s balance at {ctx}");
    }
    assert!(sums.values().all(|s| *s == (0, 0)), "lines for users without a record at {ctx}: {sums:?}");
}

/// The totals kept in commits (`tot/` shards) equal the same sums recounted from the
/// records, once they are built; and no sum is negative.
pub fn check_totals(store: &MemStore, ctx: &str) {
    use cwd_gateway_guest::records::totals;
    let mut s = store.clone();
    if let Some(kept) = totals::read(&mut s).unwrap() {
        // Per-user index keys: exactly those the records call for.
        let mut want = std::collections::BTreeSet::new();
        for prefix in ["adj/", "dep/", "unc/", "wd/"] {
            for k in store.keys(prefix) {
                let v = store.0.borrow().data[&k].0.clone();
                want.extend(cwd_gateway_guest::records::indexes::index_key(&k, Some(&v)));
            }
        }
        let have: std::collections::BTreeSet<String> = ["udep/", "uwd/", "adjexp/"]
            .into_iter()
            .flat_map(|p| store.keys(p))
            .collect();
        assert_eq!(
            have, want,
            "per-user indexes differ from the records at {ctx}"
        );
        assert_eq!(
            kept,
            totals::recount(&mut s).unwrap(),
            "kept totals differ from the records at {ctx}"
        );
        assert!(kept.fields().iter().all(|f| *f >= 0), "a kept total went negative at {ctx}: {kept:?}");
        let shards = store.keys(totals::TOTALS_PREFIX).len();
        assert!(shards <= totals::SHARDS as usize, "{shards} shards at {ctx}");
    }
}

// ---------------------------------------------------------------- invariants

/// How far the history the gateway read can be trusted for where operations are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// An honest node: every credit is at the exact position of a real transfer.
    Exact,
    /// A node that lies about positions, ids, order and types but not about what was
    /// transferred: every credit still matches a distinct real transfer (from, amount,
    /// asset), so no lie creates money.
    Untrusted,
}

/// The books after any step: no negative balance; per user, balance + frozen equals
/// credited deposits + game changes − completed withdrawals; no deposit credited twice
/// and each a real chain transfer; no withdrawal paid twice, none paid after failing.
pub fn check_books(w: &World, ctx: &str, positions: Positions) {
    let ctx = || ctx.to_string();
    check_ledger(&w.store, &ctx());
    let deps: Vec<(String, DepositRec)> = w.store.all("dep/");
    let uncs: Vec<(String, UnclaimedRec)> = w.store.all("unc/");
    let wds: Vec<(String, WithdrawalRec)> = w.store.all("wd/");
    let sweeps: Vec<(String, cwd_gateway_guest::sweep::SweepRec)> = w.store.all("sweep/");

    // Deposits: each record is a distinct, real, irreversible transfer to the gateway.
    let c = w.chain.borrow();
    let gid = c.id_of(GATEWAY);
    let lib = c.lib();
    let empty = Vec::new();
    let incoming: BTreeMap<OpPosition, (u64, i64, u64)> = c
        .history
        .get(&gid)
        .unwrap_or(&empty)
        .iter()
        .filter(|h| {
            h.op[0] == serde_json::json!(0)
                && h.op[1]["to"] == serde_json::json!(format!("1.2.{gid}"))
        })
        .map(|h| {
            let from = h.op[1]["from"].as_str().unwrap()[4..].parse().unwrap();
            let amount = cwd_gateway_guest::json::int_i64(&h.op[1]["amount"]["amount"], "a").unwrap();
            let asset = h.op[1]["amount"]["asset_id"].as_str().unwrap()[4..]
                .parse()
                .unwrap();
            (h.pos, (from, amount, asset))
        })
        .collect();
    if positions == Positions::Untrusted {
        let mut real: HashMap<(u64, i64, u64), usize> = HashMap::new();
        for (from, amount, asset) in incoming.values() {
            *real.entry((*from, *amount, *asset)).or_default() += 1;
        }
        let claims = deps
            .iter()
            .map(|(_, d)| (d.from_account_id, d.cwd as i64, 0))
            .chain(
                uncs.iter()
                    .map(|(_, u)| (u.from_account_id, u.amount as i64, u.asset_id)),
            );
        for claim in claims {
            let left = real.get_mut(&claim).filter(|n| **n > 0).unwrap_or_else(|| {
                panic!(
                    "credit {claim:?} matches no real transfer not already credited at {}",
                    ctx()
                )
            });
            *left -= 1;
        }
    }
    for (key, d) in deps.iter().filter(|_| positions == Positions::Exact) {
        let pos = OpPosition::parse_deposit_id(&key["dep/".len()..]).unwrap();
        let (from, amount, asset) = incoming
            .get(&pos)
            .unwrap_or_else(|| panic!("credited deposit {key} is not on chain at {}", ctx()));
        assert!(
            pos.block_num <= lib,
            "credited a reversible deposit at {}",
            ctx()
        );
        assert_eq!(
            (d.from_account_id, d.cwd as i64, *asset),
            (*from, *amount, 0),
            "at {}",
            ctx()
        );
        assert!(
            !uncs
                .iter()
                .any(|(k, _)| k["unc/".len()..] == key["dep/".len()..]),
            "credited and unclaimed at {}",
            ctx()
        );
    }

    // Withdrawals: at most one payout per withdrawal, none for failed or rejected ones,
    // and every payout belongs to a withdrawal.
    let pays = c.gateway_payouts(gid);
    let mut by_nonce: HashMap<u64, Vec<(u64, i64)>> = HashMap::new();
    for (to, amount, nonce, _) in &pays {
        by_nonce.entry(*nonce).or_default().push((*to, *amount));
    }
    for (_, x) in &wds {
        let n = by_nonce.get(&x.nonce).map_or(0, |v| v.len());
        assert!(n <= 1, "withdrawal {} paid {n} times at {}", x.id, ctx());
        if matches!(
            x.state,
            WdState::Failed | WdState::Rejected | WdState::Queued | WdState::AwaitingReview
        ) {
            assert_eq!(
                n,
                0,
                "withdrawal {} is {:?} but was paid at {}",
                x.id,
                x.state,
                ctx()
            );
        }
        if x.state == WdState::Confirmed {
            assert_eq!(
                n,
                1,
                "withdrawal {} confirmed without a payout at {}",
                x.id,
                ctx()
            );
            assert_eq!(by_nonce[&x.nonce][0], (x.account_id, x.cwd as i64));
        }
    }
    // Sweeps: each paid at most once, to the cold account, never after it expired.
    use cwd_gateway_guest::sweep::SweepState;
    for (_, s) in &sweeps {
        let n = by_nonce.get(&s.nonce).map_or(0, |v| v.len());
        assert!(n <= 1, "sweep {} paid {n} times at {}", s.id, ctx());
        match s.state {
            SweepState::Confirmed => assert_eq!(
                by_nonce[&s.nonce][0],
                (s.cold_account_id, s.cwd as i64),
                "at {}",
                ctx()
            ),
            SweepState::Expired => {
                assert_eq!(n, 0, "sweep {} expired but was paid at {}", s.id, ctx())
            }
            SweepState::Sent => {}
        }
    }
    for nonce in by_nonce.keys() {
        assert!(
            wds.iter().any(|(_, x)| x.nonce == *nonce)
                || sweeps.iter().any(|(_, s)| s.nonce == *nonce),
            "a payout matches no withdrawal or sweep at {}",
            ctx()
        );
    }
    // A sweep never leaves pending withdrawals unfunded: what the gateway holds, less
    // sweeps still in flight, covers every withdrawal not yet paid on chain.
    let paid: std::collections::HashSet<u64> = pays.iter().map(|p| p.2).collect();
    let unpaid: i128 = wds
        .iter()
        .filter(|(_, x)| !x.state.is_final() && !paid.contains(&x.nonce))
        .map(|(_, x)| x.cwd as i128)
        .sum();
    let sweeping: i128 = sweeps
        .iter()
        .filter(|(_, s)| s.state == SweepState::Sent && !paid.contains(&s.nonce))
        .map(|(_, s)| (s.cwd + s.fee) as i128)
        .sum();
    let hot = c.balance(GATEWAY, 0) as i128;
    assert!(
        hot - sweeping >= unpaid,
        "sweeps left {} for {unpaid} of pending withdrawals at {}",
        hot - sweeping,
        ctx()
    );
}
