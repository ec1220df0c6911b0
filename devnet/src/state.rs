//! The chain state: accounts, balances, blocks, pending transactions and history, and
//! the three things that change it: accepting a transaction into the pending pool,
//! producing a block, and dropping reversible blocks (a reorganisation).

use std::collections::{BTreeMap, HashMap};

use cwd_gateway::json::{format_time, write_i64, write_u64};
use cwd_gateway::keys::{PrivateKey, PublicKey};
use cwd_gateway::ops::{AccountId, Operation, SignedTransaction, MAX_SHARE_SUPPLY};
use serde_json::{json, Value};

use crate::accounts::{is_valid_name, Account, KeyRing, SYSTEM_ACCOUNTS};
use crate::blocks::{block_id, Block};
use crate::config::Config;
use crate::error::{ChainError, Reject, Result};
use crate::history::{self, OpHistory};
use crate::rng::Rng;
use crate::validate::{self, Mode};

/// What a reorganisation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReorgOutcome {
    /// Blocks removed from the top.
    pub dropped_blocks: u32,
    /// Transactions (ids, hex) put back into the pending pool.
    pub requeued: Vec<String>,
    /// Transactions (ids, hex) forgotten.
    pub discarded: Vec<String>,
    pub head_block_number: u32,
}

/// Where an included transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub block_num: u32,
    pub trx_num: u32,
}

pub struct State {
    pub config: Config,
    accounts: BTreeMap<u64, Account>,
    by_name: HashMap<String, u64>,
    next_account: u64,
    balances: HashMap<u64, i64>,
    keys: HashMap<u64, KeyRing>,
    /// Index = block number; index 0 is the state before the first block.
    blocks: Vec<Block>,
    lib: u32,
    /// Bumped by every reorganisation, so replacement blocks get new ids.
    fork: u64,
    pending: Vec<SignedTransaction>,
    included: HashMap<[u8; 20], TxLocation>,
    /// Transactions that failed when their block was made, and why (for synchronous
    /// broadcasts waiting on them).
    failed: HashMap<[u8; 20], Reject>,
    history: BTreeMap<u64, OpHistory>,
    next_history: u64,
    account_ops: HashMap<u64, Vec<u64>>,
    issued: i64,
    fees_burned: i64,
    /// Simulated time: the next block is at max(head time + interval, clock).
    clock: u32,
    pub(crate) rng: Rng,
}

impl State {
    /// A fresh chain with the six system accounts and one block.
    pub fn new(config: Config) -> Self {
        let genesis_time = config.genesis_time.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as u32)
                .unwrap_or(1_782_000_000)
        });
        let rng = Rng::new(config.seed.as_deref());
        let mut s = State {
            accounts: BTreeMap::new(),
            by_name: HashMap::new(),
            next_account: config.first_account_instance.max(SYSTEM_ACCOUNTS.len() as u64),
            balances: HashMap::new(),
            keys: HashMap::new(),
            blocks: vec![Block::genesis(genesis_time.saturating_sub(config.block_interval))],
            lib: 0,
            fork: 0,
            pending: Vec::new(),
            included: HashMap::new(),
            failed: HashMap::new(),
            history: BTreeMap::new(),
            next_history: config.history_id_start,
            account_ops: HashMap::new(),
            issued: 0,
            fees_burned: 0,
            clock: genesis_time,
            rng,
            config,
        };
        for (i, name) in SYSTEM_ACCOUNTS.iter().enumerate() {
            let key = s.generate_key("system").public_key();
            let id = AccountId(i as u64);
            s.by_name.insert(name.to_string(), id.0);
            s.accounts.insert(
                id.0,
                Account { id, name: name.to_string(), registrar: AccountId(0), owner: key, active: key, memo: key },
            );
        }
        s.produce_block();
        s
    }

    /// A private key from the seed (sha256 counter), retried in the rare case the
    /// bytes are not a valid scalar.
    pub fn generate_key(&mut self, label: &str) -> PrivateKey {
        loop {
            if let Ok(k) = PrivateKey::from_bytes(&self.rng.bytes(label)) {
                return k;
            }
        }
    }

    pub fn next_nonce(&mut self) -> u64 {
        self.rng.u64("memo-nonce")
    }

    // ---- reading ----

    pub fn chain_id(&self) -> &[u8; 32] {
        &self.config.chain_id
    }

    pub fn head(&self) -> &Block {
        self.blocks.last().expect("there is always block 0")
    }

    pub fn head_num(&self) -> u32 {
        self.head().num
    }

    pub fn head_time(&self) -> u32 {
        self.head().time
    }

    pub fn last_irreversible(&self) -> u32 {
        self.lib
    }

    /// A produced block (1..=head).
    pub fn block(&self, num: u32) -> Option<&Block> {
        if num == 0 {
            return None;
        }
        self.blocks.get(num as usize)
    }

    /// Block `num` including the pre-chain block 0 (for TaPoS).
    pub(crate) fn block_or_genesis(&self, num: u32) -> Option<&Block> {
        self.blocks.get(num as usize)
    }

    /// Every transaction in the current chain's blocks, oldest first (to check them
    /// with another client, for example).
    pub fn included_transactions(&self) -> Vec<&SignedTransaction> {
        self.blocks.iter().flat_map(|b| b.transactions.iter()).collect()
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id.0)
    }

    pub fn account_by_name(&self, name: &str) -> Option<&Account> {
        self.by_name.get(name).and_then(|i| self.accounts.get(i))
    }

    /// An account by `1.2.N` or by name, as the node's `get_account_from_string`.
    pub fn resolve(&self, id_or_name: &str) -> Option<&Account> {
        if let Some(rest) = id_or_name.strip_prefix("1.2.") {
            return rest.parse::<u64>().ok().and_then(|n| self.accounts.get(&n));
        }
        self.account_by_name(id_or_name)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn keys(&self, id: AccountId) -> Option<&KeyRing> {
        self.keys.get(&id.0)
    }

    /// Confirmed balance (in blocks), in CWD units.
    pub fn balance(&self, id: AccountId) -> i64 {
        self.balances.get(&id.0).copied().unwrap_or(0)
    }

    /// What pending transactions will change `id`'s balance by.
    pub fn pending_net(&self, id: AccountId) -> i64 {
        let mut net = 0i64;
        for st in &self.pending {
            for op in &st.tx.operations {
                net += op_delta(op, id);
            }
        }
        net
    }

    pub fn pending(&self) -> &[SignedTransaction] {
        &self.pending
    }

    pub fn is_pending(&self, id: &[u8; 20]) -> bool {
        self.pending.iter().any(|st| &st.tx.id() == id)
    }

    pub fn location(&self, id: &[u8; 20]) -> Option<TxLocation> {
        self.included.get(id).copied()
    }

    pub fn failure(&self, id: &[u8; 20]) -> Option<&Reject> {
        self.failed.get(id)
    }

    /// Total CWD ever issued; always equals the sum of balances plus fees burned.
    pub fn issued(&self) -> i64 {
        self.issued
    }

    pub fn fees_burned(&self) -> i64 {
        self.fees_burned
    }

    pub fn total_balances(&self) -> i64 {
        self.balances.values().sum()
    }

    pub fn history_object(&self, instance: u64) -> Option<&OpHistory> {
        self.history.get(&instance)
    }

    /// One account's history instances, oldest first.
    pub fn account_ops(&self, id: AccountId) -> &[u64] {
        self.account_ops.get(&id.0).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `get_account_history` after the limit check.
    pub fn account_history(&self, id: AccountId, stop: u64, limit: usize, start: u64) -> Vec<&OpHistory> {
        history::absolute(self.account_ops(id), stop, limit, start).into_iter().filter_map(|i| self.history.get(&i)).collect()
    }

    /// `get_relative_account_history` after the limit check.
    pub fn relative_account_history(&self, id: AccountId, stop: u64, limit: usize, start: u64) -> Vec<&OpHistory> {
        let ops = self.account_ops(id);
        history::relative(ops.len() as u64, stop, limit, start)
            .into_iter()
            .filter_map(|pos| ops.get(pos as usize).and_then(|i| self.history.get(i)))
            .collect()
    }

    // ---- JSON of state objects ----

    /// `2.1.0`.
    pub fn dynamic_global_properties(&self) -> Value {
        let head = self.head();
        let interval = self.config.block_interval.max(1);
        let aslot = (head.time / interval) as u64;
        // Next maintenance: the next whole day of chain time.
        let next_maintenance = ((head.time as u64 / 86_400 + 1) * 86_400).min(u32::MAX as u64) as u32;
        json!({
            "id": "2.1.0",
            "head_block_number": head.num,
            "head_block_id": head.id_hex(),
            "time": format_time(head.time),
            "current_witness": crate::blocks::WITNESS,
            "next_maintenance_time": format_time(next_maintenance),
            "last_budget_time": format_time(next_maintenance.saturating_sub(86_400)),
            "witness_budget": 0,
            "accounts_registered_this_interval": 0,
            "recently_missed_count": 0,
            "current_aslot": write_u64(aslot),
            // uint128 with every slot filled: a node writes it as a string.
            "recent_slots_filled": u128::MAX.to_string(),
            "dynamic_flags": 0,
            "last_irreversible_block_num": self.lib,
        })
    }

    /// `2.6.N`.
    pub fn statistics(&self, account: &Account) -> Value {
        let ops = self.account_ops(account.id);
        json!({
            "id": account.statistics_id(),
            "owner": format!("1.2.{}", account.id.0),
            "name": account.name,
            "most_recent_op": format!("2.9.{}", ops.last().copied().unwrap_or(0)),
            "total_ops": ops.len(),
            "removed_ops": 0,
            "total_core_in_orders": 0,
            "core_in_balance": write_i64(self.balance(account.id)),
            "has_cashback_vb": false,
            "is_voting": false,
            "lifetime_fees_paid": 0,
            "pending_fees": 0,
            "pending_vested_fees": 0,
        })
    }

    /// `1.3.0`.
    pub fn core_asset(&self) -> Value {
        json!({
            "id": "1.3.0",
            "symbol": "CWD",
            "precision": cwd_gateway::ops::CORE_ASSET_PRECISION,
            "issuer": "1.2.3",
            "options": {
                "max_supply": write_i64(MAX_SHARE_SUPPLY),
                "market_fee_percent": 0,
                "max_market_fee": write_i64(MAX_SHARE_SUPPLY),
                "issuer_permissions": 0,
                "flags": 0,
                "core_exchange_rate": {
                    "base": { "amount": 1, "asset_id": "1.3.0" },
                    "quote": { "amount": 1, "asset_id": "1.3.0" },
                },
                "whitelist_authorities": [],
                "blacklist_authorities": [],
                "whitelist_markets": [],
                "blacklist_markets": [],
                "description": "",
                "extensions": [],
            },
            "dynamic_asset_data_id": "2.3.0",
        })
    }

    // ---- changing ----

    /// Creates an account outside of any block (like genesis: no history, not undone by
    /// a reorganisation) and gives it `balance` new CWD.
    pub fn create_account(
        &mut self,
        name: &str,
        owner: PublicKey,
        active: PublicKey,
        memo: PublicKey,
        balance: i64,
        keys: KeyRing,
    ) -> Result<AccountId> {
        if !is_valid_name(name) {
            return Err(ChainError::BadInput(format!(
                "{name:?} is not a valid account name (3..63 lowercase letters, digits, '-', dot-separated labels starting with a letter)"
            )));
        }
        if self.by_name.contains_key(name) {
            return Err(ChainError::BadInput(format!("account name {name:?} is taken")));
        }
        let id = AccountId(self.next_account);
        if balance < 0 || self.issued.checked_add(balance).is_none_or(|t| t > MAX_SHARE_SUPPLY) {
            return Err(ChainError::BadInput(format!("initial balance {balance} is out of range")));
        }
        self.next_account += 1;
        self.by_name.insert(name.to_string(), id.0);
        self.accounts.insert(id.0, Account { id, name: name.to_string(), registrar: AccountId(1), owner, active, memo });
        self.keys.insert(id.0, keys);
        self.issue(id, balance)?;
        Ok(id)
    }

    /// New CWD for `id` (a faucet).
    pub fn issue(&mut self, id: AccountId, amount: i64) -> Result<()> {
        if amount < 0 || self.issued.checked_add(amount).is_none_or(|t| t > MAX_SHARE_SUPPLY) {
            return Err(ChainError::BadInput(format!("cannot issue {amount}: beyond the maximum supply")));
        }
        self.issued += amount;
        *self.balances.entry(id.0).or_insert(0) += amount;
        Ok(())
    }

    /// Validates `st` as `broadcast_transaction` does and adds it to the pending pool.
    pub fn submit(&mut self, st: SignedTransaction) -> core::result::Result<[u8; 20], Reject> {
        validate::check(self, &st, Mode::Broadcast)?;
        let id = st.tx.id();
        self.failed.remove(&id);
        self.pending.push(st);
        Ok(id)
    }

    /// Validates without keeping (the checks of `submit`).
    pub fn check(&self, st: &SignedTransaction) -> core::result::Result<(), Reject> {
        validate::check(self, st, Mode::Broadcast)
    }

    /// Moves chain time forward without a block: the next block is `secs` later.
    pub fn advance_time(&mut self, secs: u32) {
        self.clock = self.clock.max(self.head_time()).saturating_add(secs);
    }

    /// Sets the time of the next block (never before head time + interval).
    pub fn set_time(&mut self, secs: u32) {
        self.clock = secs;
    }

    /// Produces the next block from the pending pool: each transaction is checked again
    /// at the block's time (a node re-applies them) and dropped if it no longer holds.
    pub fn produce_block(&mut self) -> u32 {
        let prev = self.head();
        let (prev_id, prev_time, num) = (prev.id, prev.time, prev.num + 1);
        let time = prev_time.saturating_add(self.config.block_interval.max(1)).max(self.clock);
        self.clock = time;
        let mut txs = Vec::new();
        let mut virtual_op = 0u32;
        for st in std::mem::take(&mut self.pending) {
            let id = st.tx.id();
            if let Err(why) = validate::check(self, &st, Mode::Apply { block_time: time }) {
                self.failed.insert(id, why);
                continue;
            }
            let trx_in_block = txs.len() as u32;
            for (op_in_trx, op) in st.tx.operations.iter().enumerate() {
                self.apply(op, num, trx_in_block, op_in_trx as u32, virtual_op);
                virtual_op += 1;
            }
            self.included.insert(id, TxLocation { block_num: num, trx_num: trx_in_block });
            txs.push(st);
        }
        let ids: Vec<[u8; 20]> = txs.iter().map(|t| t.tx.id()).collect();
        let id = block_id(num, &prev_id, time, &ids, self.fork);
        self.blocks.push(Block { num, id, previous: prev_id, time, transactions: txs });
        self.lib = self.lib.max(num.saturating_sub(self.config.irreversible_lag));
        self.forget_expired(time);
        num
    }

    /// Drops the newest `depth` blocks (never the irreversible one or below). Their
    /// transactions go back to the pending pool (`requeue`) or are forgotten, and their
    /// history and balance changes vanish, as after a switch to another fork.
    pub fn reorg(&mut self, depth: u32, requeue: bool) -> Result<ReorgOutcome> {
        let reversible = self.head_num() - self.lib;
        if depth > reversible {
            return Err(ChainError::Reorg(format!(
                "depth {depth} crosses the last irreversible block {} (head {}, {reversible} reversible)",
                self.lib,
                self.head_num()
            )));
        }
        let mut dropped_txs = Vec::new();
        for _ in 0..depth {
            let block = self.blocks.pop().expect("depth is at most head - lib");
            for st in block.transactions.iter().rev() {
                for op in st.tx.operations.iter().rev() {
                    self.undo(op);
                }
                self.included.remove(&st.tx.id());
            }
            dropped_txs.splice(0..0, block.transactions);
        }
        if depth > 0 {
            self.fork += 1;
        }
        let ids: Vec<String> = dropped_txs.iter().map(|t| hex::encode(t.tx.id())).collect();
        let (requeued, discarded) = if requeue {
            let later = std::mem::take(&mut self.pending);
            self.pending = dropped_txs;
            self.pending.extend(later);
            (ids, Vec::new())
        } else {
            (Vec::new(), ids)
        };
        Ok(ReorgOutcome { dropped_blocks: depth, requeued, discarded, head_block_number: self.head_num() })
    }

    /// Changes the irreversibility lag; the irreversible block never moves back.
    pub fn set_irreversible_lag(&mut self, lag: u32) {
        self.config.irreversible_lag = lag;
        self.lib = self.lib.max(self.head_num().saturating_sub(lag));
    }

    fn apply(&mut self, op: &Operation, block_num: u32, trx_in_block: u32, op_in_trx: u32, virtual_op: u32) {
        let (from, to) = parties(op);
        *self.balances.entry(from.0).or_insert(0) += op_delta(op, from);
        if to != from {
            *self.balances.entry(to.0).or_insert(0) += op_delta(op, to);
        }
        self.fees_burned += op.fee().amount;
        let instance = self.next_history;
        self.next_history += 1;
        self.history.insert(instance, OpHistory { instance, op: op.clone(), block_num, trx_in_block, op_in_trx, virtual_op });
        self.account_ops.entry(from.0).or_default().push(instance);
        if to != from {
            self.account_ops.entry(to.0).or_default().push(instance);
        }
    }

    /// The exact inverse of `apply` for the newest applied operation.
    fn undo(&mut self, op: &Operation) {
        let (from, to) = parties(op);
        *self.balances.entry(from.0).or_insert(0) -= op_delta(op, from);
        if to != from {
            *self.balances.entry(to.0).or_insert(0) -= op_delta(op, to);
        }
        self.fees_burned -= op.fee().amount;
        self.next_history -= 1;
        let instance = self.next_history;
        self.history.remove(&instance);
        for acc in [from, to] {
            if let Some(list) = self.account_ops.get_mut(&acc.0) {
                if list.last() == Some(&instance) {
                    list.pop();
                }
            }
        }
    }

    /// Ids of transactions expired before `time` can never come again: forget them.
    fn forget_expired(&mut self, time: u32) {
        if self.included.len() < 4096 {
            return;
        }
        let expired: Vec<[u8; 20]> = self
            .included
            .iter()
            .filter(|(_, loc)| {
                self.blocks
                    .get(loc.block_num as usize)
                    .and_then(|b| b.transactions.get(loc.trx_num as usize))
                    .is_none_or(|st| st.tx.expiration < time)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.included.remove(&id);
        }
    }
}

fn parties(op: &Operation) -> (AccountId, AccountId) {
    match op {
        Operation::Transfer(t) => (t.from, t.to),
        Operation::SendMessage(m) => (m.from, m.to),
    }
}

/// How `op` changes `account`'s CWD balance.
pub fn op_delta(op: &Operation, account: AccountId) -> i64 {
    let mut d = 0;
    match op {
        Operation::Transfer(t) => {
            if t.from == account {
                d -= t.amount.amount + t.fee.amount;
            }
            if t.to == account {
                d += t.amount.amount;
            }
        }
        Operation::SendMessage(m) => {
            if m.from == account {
                d -= m.fee.amount;
            }
        }
    }
    d
}
