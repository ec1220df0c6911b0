//! The chain state: accounts, balances, blocks, pending transactions and history, and
//! the three things that change it: accepting a transaction into the pending pool,
//! producing a block, and dropping reversible blocks (a reorganisation).

use std::collections::{BTreeMap, HashMap};

use cwd_gateway::json::{format_time, write_i64, write_u64};
use cwd_gateway::keys::{PrivateKey, PublicKey};
use cwd_gateway::ops::{AccountId, Asset, AssetId, Operation, SignedTransaction, CORE_ASSET, MAX_SHARE_SUPPLY};
use serde_json::{json, Value};

use crate::accounts::{Account, KeyRing, SYSTEM_ACCOUNTS};
use crate::assets::AssetInfo;
use crate::blocks::{block_id, Block, BlockTx, ChainTx};
use crate::ops::ChainOp;
use crate::proposals::Proposal;
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

/// One reversible change a block made (the node's undo database, in miniature).
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Balance { account: u64, asset: u64, delta: i64 },
    /// The account's first balance in this asset: its `2.5.N` account_balance_object was
    /// created (db_balance.cpp `adjust_balance` creates one on first credit, never
    /// removes it).
    BalanceCreated { account: u64, asset: u64 },
    FeesBurned(i64),
    /// A `1.11.N` was created (`next_history` moved past it).
    History(u64),
    /// An entry (`2.9.ath`) was appended to this account's history (total_ops grew).
    EntryAdded { account: u64, ath: u64 },
    /// The account's oldest entry was pruned (removed_ops grew).
    EntryRemoved { account: u64, instance: u64, ath: u64 },
    ProposalCreated(u64),
    ProposalRemoved(Proposal),
    ProposalChanged(Proposal),
    /// `_current_op_in_trx` before the block.
    OpInTrx(u32),
}

/// One account's history as the account_history plugin keeps it: the kept entries
/// (oldest first) and the statistics counters (account_statistics_object).
#[derive(Clone, Debug, Default)]
pub struct AccountHistory {
    /// `1.11.N` instances still kept.
    pub ops: Vec<u64>,
    /// `2.9.N` of each kept entry (account_transaction_history_object).
    pub aths: Vec<u64>,
    pub total_ops: u64,
    pub removed_ops: u64,
}

pub struct State {
    pub config: Config,
    accounts: BTreeMap<u64, Account>,
    by_name: HashMap<String, u64>,
    next_account: u64,
    /// (account, asset) → units.
    balances: HashMap<(u64, u64), i64>,
    assets: BTreeMap<u64, AssetInfo>,
    keys: HashMap<u64, KeyRing>,
    /// Index = block number; index 0 is the state before the first block.
    blocks: Vec<Block>,
    lib: u32,
    /// Bumped by every reorganisation, so replacement blocks get new ids.
    fork: u64,
    pending: Vec<BlockTx>,
    included: HashMap<[u8; 20], TxLocation>,
    /// Transactions that failed when their block was made, and why (for synchronous
    /// broadcasts waiting on them).
    failed: HashMap<[u8; 20], Reject>,
    history: BTreeMap<u64, OpHistory>,
    next_history: u64,
    account_history: HashMap<u64, AccountHistory>,
    next_ath: u64,
    proposals: BTreeMap<u64, Proposal>,
    next_proposal: u64,
    /// database.hpp's `_current_virtual_op`: a u16 the node bumps for every operation it
    /// applies (broadcasts included) and never resets, so it differs between nodes.
    virtual_op: u16,
    /// database.hpp's `_current_op_in_trx`: left at the last transaction's operation
    /// count, which is what operations run at a block's end (expiring proposals) get.
    op_in_trx: u32,
    issued: i64,
    fees_burned: i64,
    /// Simulated time: the next block is at max(head time + interval, clock).
    clock: u32,
    pub(crate) rng: Rng,
}

impl State {
    /// A fresh chain with the six system accounts and one block.
    pub fn new(config: Config) -> Self {
        let genesis_time = config.genesis_time.unwrap_or_else(wall_clock_secs);
        let rng = Rng::new(config.seed.as_deref());
        let mut s = State {
            accounts: BTreeMap::new(),
            by_name: HashMap::new(),
            next_account: config.first_account_instance.max(SYSTEM_ACCOUNTS.len() as u64),
            balances: HashMap::new(),
            assets: BTreeMap::from([(0, AssetInfo::core())]),
            keys: HashMap::new(),
            blocks: vec![Block::genesis(genesis_time.saturating_sub(config.block_interval))],
            lib: 0,
            fork: 0,
            pending: Vec::new(),
            included: HashMap::new(),
            failed: HashMap::new(),
            history: BTreeMap::new(),
            next_history: config.history_id_start,
            account_history: HashMap::new(),
            next_ath: 1,
            proposals: BTreeMap::new(),
            next_proposal: 0,
            virtual_op: 0,
            op_in_trx: 0,
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

    /// Every client-signed transaction in the current chain's blocks, oldest first (to
    /// check them with another client, for example).
    pub fn included_transactions(&self) -> Vec<&SignedTransaction> {
        self.blocks.iter().flat_map(|b| b.transactions.iter().filter_map(BlockTx::signed)).collect()
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
        self.asset_balance(id, CORE_ASSET)
    }

    /// Confirmed balance in any asset, in its units.
    pub fn asset_balance(&self, id: AccountId, asset: AssetId) -> i64 {
        self.balances.get(&(id.0, asset.0)).copied().unwrap_or(0)
    }

    /// Every asset `id` holds a non-zero confirmed balance of, by asset id.
    pub fn holdings(&self, id: AccountId) -> BTreeMap<u64, i64> {
        self.balances.iter().filter(|((a, _), v)| *a == id.0 && **v != 0).map(|((_, asset), v)| (*asset, *v)).collect()
    }

    /// Every `2.5.N` account_balance_object `id` has, by asset id: each asset it ever
    /// held in a block or was issued, zero balances included (a node never removes one).
    pub fn balance_objects(&self, id: AccountId) -> BTreeMap<u64, i64> {
        self.balances.iter().filter(|((a, _), _)| *a == id.0).map(|((_, asset), v)| (*asset, *v)).collect()
    }

    /// `2.5.N` (account_object.hpp, account_balance_object), if it exists.
    pub fn balance_object_json(&self, instance: u64) -> Option<Value> {
        let (account, asset) = (instance / 1_000, instance % 1_000);
        let balance = *self.balances.get(&(account, asset))?;
        Some(json!({
            "id": format!("2.5.{instance}"),
            "owner": format!("1.2.{account}"),
            "asset_type": format!("1.3.{asset}"),
            "balance": write_i64(balance),
            "maintenance_flag": false,
        }))
    }

    /// `2.9.N` (operation_history_object.hpp, account_transaction_history_object), while
    /// the account keeps that entry: `sequence` is its position in the account's history
    /// (1 = its first operation) and `next` the entry before it (`2.9.0` for the oldest
    /// kept, as account_history_plugin.cpp leaves it after pruning).
    pub fn account_history_entry_json(&self, ath: u64) -> Option<Value> {
        let (account, h) = self.account_history.iter().find(|(_, h)| h.aths.binary_search(&ath).is_ok())?;
        let i = h.aths.binary_search(&ath).ok()?;
        Some(json!({
            "id": format!("2.9.{ath}"),
            "account": format!("1.2.{account}"),
            "operation_id": format!("1.11.{}", h.ops[i]),
            "sequence": write_u64(h.removed_ops + i as u64 + 1),
            "next": format!("2.9.{}", if i == 0 { 0 } else { h.aths[i - 1] }),
        }))
    }

    /// The oldest `2.9.N` `account` still keeps.
    pub(crate) fn oldest_history_entry(&self, account: u64) -> Option<u64> {
        self.account_history.get(&account).and_then(|h| h.aths.first().copied())
    }

    /// What pending transactions will change `id`'s CWD balance by.
    pub fn pending_net(&self, id: AccountId) -> i64 {
        self.pending_delta(id, CORE_ASSET)
    }

    /// What pending transactions will change `id`'s balance in `asset` by (what their
    /// operations do directly; proposals they might run are not foreseen).
    pub fn pending_delta(&self, id: AccountId, asset: AssetId) -> i64 {
        let mut net = 0i64;
        for tx in &self.pending {
            for op in tx.ops() {
                net += expanded(&op).iter().flat_map(ChainOp::deltas).filter(|(a, s, _)| *a == id && *s == asset).map(|(_, _, d)| d).sum::<i64>();
            }
        }
        net
    }

    /// Assets pending transactions change `id`'s balance in (their operations' direct
    /// effects).
    pub fn holdings_pending(&self, id: AccountId) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .pending
            .iter()
            .flat_map(|tx| tx.ops())
            .flat_map(|op| expanded(&op).iter().flat_map(ChainOp::deltas).collect::<Vec<_>>())
            .filter(|(a, _, d)| *a == id && *d != 0)
            .map(|(_, asset, _)| asset.0)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Number of transactions waiting for a block.
    pub fn pending(&self) -> &[BlockTx] {
        &self.pending
    }

    pub fn is_pending(&self, id: &[u8; 20]) -> bool {
        self.pending.iter().any(|t| &t.id() == id)
    }

    pub fn location(&self, id: &[u8; 20]) -> Option<TxLocation> {
        self.included.get(id).copied()
    }

    pub fn failure(&self, id: &[u8; 20]) -> Option<&Reject> {
        self.failed.get(id)
    }

    /// Total CWD ever issued; always equals the sum of CWD balances plus fees burned.
    pub fn issued(&self) -> i64 {
        self.issued
    }

    pub fn fees_burned(&self) -> i64 {
        self.fees_burned
    }

    /// Sum of every account's CWD.
    pub fn total_balances(&self) -> i64 {
        self.balances.iter().filter(|((_, asset), _)| *asset == CORE_ASSET.0).map(|(_, v)| v).sum()
    }

    /// Sum of every account's balance in `asset` (equals its supply for a user asset).
    pub fn total_of(&self, asset: AssetId) -> i64 {
        self.balances.iter().filter(|((_, a), _)| *a == asset.0).map(|(_, v)| v).sum()
    }

    pub fn history_object(&self, instance: u64) -> Option<&OpHistory> {
        self.history.get(&instance)
    }

    /// One account's kept history instances, oldest first.
    pub fn account_ops(&self, id: AccountId) -> &[u64] {
        self.account_history.get(&id.0).map(|h| h.ops.as_slice()).unwrap_or(&[])
    }

    pub fn account_history_of(&self, id: AccountId) -> AccountHistory {
        self.account_history.get(&id.0).cloned().unwrap_or_default()
    }

    /// `get_account_history` after the limit check.
    pub fn account_history(&self, id: AccountId, stop: u64, limit: usize, start: u64) -> Vec<&OpHistory> {
        history::absolute(self.account_ops(id), stop, limit, start).into_iter().filter_map(|i| self.history.get(&i)).collect()
    }

    /// `get_relative_account_history` after the limit check: sequence numbers run
    /// 1..=total_ops, of which the first removed_ops are gone.
    pub fn relative_account_history(&self, id: AccountId, stop: u64, limit: usize, start: u64) -> Vec<&OpHistory> {
        let h = self.account_history.get(&id.0);
        let (total, removed) = h.map_or((0, 0), |h| (h.total_ops, h.removed_ops));
        history::relative(total, removed, stop, limit, start)
            .into_iter()
            .filter_map(|seq| h.and_then(|h| h.ops.get((seq - 1 - removed) as usize)).and_then(|i| self.history.get(i)))
            .collect()
    }

    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// The instance of the `2.5.N` account_balance_object of (account, asset): stable
    /// for the chain's life (derived from both ids, as this devnet never deletes one).
    pub fn balance_object_id(&self, account: AccountId, asset: AssetId) -> u64 {
        account.0.saturating_mul(1_000).saturating_add(asset.0)
    }

    /// The user assets `issuer` created.
    pub fn assets_issued_by(&self, issuer: AccountId) -> impl Iterator<Item = &AssetInfo> {
        self.assets.values().filter(move |a| a.id != CORE_ASSET && a.issuer == issuer)
    }

    pub fn asset(&self, id: AssetId) -> Option<&AssetInfo> {
        self.assets.get(&id.0)
    }

    /// An asset by `1.3.N` or symbol, as the node's `get_asset_from_string`.
    pub fn resolve_asset(&self, id_or_symbol: &str) -> Option<&AssetInfo> {
        if let Some(rest) = id_or_symbol.strip_prefix("1.3.") {
            return rest.parse::<u64>().ok().and_then(|n| self.assets.get(&n));
        }
        self.assets.values().find(|a| a.symbol == id_or_symbol)
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

    /// `2.0.0`, global_property_object with the chain parameters a wallet reads
    /// (protocol/chain_parameters.hpp) and the fee schedule (`current_fees`: the
    /// devnet's fees for the operations it knows, as fee_schedule.hpp writes them).
    pub fn global_properties(&self) -> Value {
        let f = &self.config.fees;
        json!({
            "id": "2.0.0",
            "parameters": {
                "current_fees": {
                    "parameters": [
                        [0, { "fee": f.transfer, "price_per_kbyte": f.transfer_per_kbyte }],
                        [22, { "fee": f.proposal, "price_per_kbyte": 10 }],
                        [23, { "fee": f.proposal, "price_per_kbyte": 10 }],
                        [61, { "fee": f.send_message, "price_per_kbyte": f.send_message_per_kbyte }],
                        [104, { "fee": f.mass_payment, "price_per_transfer": f.mass_payment_per_transfer }],
                        [105, { "fee": 0 }],
                    ],
                    "scale": 10000,
                },
                "block_interval": self.config.block_interval,
                "maintenance_interval": 86400,
                "maintenance_skip_slots": 3,
                "committee_proposal_review_period": 1_209_600,
                "maximum_transaction_size": 2048,
                "maximum_block_size": 2_000_000,
                "maximum_time_until_expiration": self.config.max_expiration,
                "maximum_proposal_lifetime": 2_419_200,
                "maximum_asset_whitelist_authorities": 10,
                "maximum_asset_feed_publishers": 10,
                "maximum_witness_count": 1001,
                "maximum_committee_count": 1001,
                "maximum_authority_membership": 10,
                "reserve_percent_of_fee": 2000,
                "network_percent_of_fee": 2000,
                "lifetime_referrer_percent_of_fee": 3000,
                "cashback_vesting_period_seconds": 31_536_000,
                "cashback_vesting_threshold": 10_000_000,
                "count_non_member_votes": true,
                "allow_non_member_whitelists": false,
                "witness_pay_per_block": 1_000_000,
                "worker_budget_per_day": "50000000000",
                "max_predicate_opcode": 1,
                "fee_liquidation_threshold": 10_000_000,
                "accounts_per_fee_scale": 1000,
                "account_fee_scale_bitshifts": 4,
                "max_authority_depth": 2,
                "extensions": [],
            },
            "next_available_vote_id": 0,
            "active_committee_members": [],
            "active_witnesses": [crate::blocks::WITNESS],
        })
    }

    /// `2.8.N`, block_summary_object: the newest block whose number's low 16 bits are N
    /// (what TaPoS checks against).
    pub fn block_summary(&self, n: u64) -> Option<Value> {
        if n > 0xffff {
            return None;
        }
        let head = self.head_num() as u64;
        let back = (head as u16).wrapping_sub(n as u16) as u64;
        let num = head.checked_sub(back)?;
        let b = self.block_or_genesis(num as u32)?;
        Some(json!({ "id": format!("2.8.{n}"), "block_id": b.id_hex() }))
    }

    /// `2.6.N` (account_object.hpp, account_statistics_object; the matrix, credit and
    /// vote fields CrowdWiz adds after `current_month_income` are left out).
    pub fn statistics(&self, account: &Account) -> Value {
        let empty = AccountHistory::default();
        let h = self.account_history.get(&account.id.0).unwrap_or(&empty);
        json!({
            "id": account.statistics_id(),
            "owner": format!("1.2.{}", account.id.0),
            "name": account.name,
            "most_recent_op": format!("2.9.{}", h.aths.last().copied().unwrap_or(0)),
            "total_ops": write_u64(h.total_ops),
            "removed_ops": write_u64(h.removed_ops),
            "total_core_in_orders": 0,
            "core_in_balance": write_i64(self.balance(account.id)),
            "has_cashback_vb": false,
            "is_voting": false,
            "last_vote_time": format_time(0),
            "lifetime_fees_paid": 0,
            "pending_fees": 0,
            "pending_vested_fees": 0,
            "personal_volume_in_period": 0,
            "network_volume_in_period": 0,
            "last_pv_update_date": format_time(0),
            "last_nv_update_date": format_time(0),
            "matrix_active_levels": 1,
            "matrix_cells_opened": 0,
            "matrix_rooms_opened": 0,
            "lottery_goods_rating": 0,
            "p2p_complete_deals": 0,
            "p2p_canceled_deals": 0,
            "p2p_arbitrage_loose": 0,
            "p2p_deals_volume": 0,
            "p2p_banned": format_time(0),
            "p2p_gateway_active": true,
            "p2p_first_month_rating": 0,
            "p2p_current_month_rating": 0,
            "first_month_income": 0,
            "second_month_income": 0,
            "third_month_income": 0,
            "current_month_income": 0,
        })
    }

    /// `1.3.0`.
    pub fn core_asset(&self) -> Value {
        self.asset_info(CORE_ASSET).to_json()
    }

    /// An asset with its current supply filled in.
    pub fn asset_info(&self, id: AssetId) -> AssetInfo {
        let mut a = self.assets.get(&id.0).cloned().unwrap_or_else(AssetInfo::core);
        a.current_supply = if id == CORE_ASSET { self.issued - self.fees_burned } else { self.total_of(id) };
        a
    }

    // ---- changing ----

    /// Creates an account outside of any block (not undone by a reorganisation), its
    /// history starting with an `account_create` at the head block, and gives it
    /// `balance` new CWD.
    pub fn create_account(
        &mut self,
        name: &str,
        owner: PublicKey,
        active: PublicKey,
        memo: PublicKey,
        balance: i64,
        keys: KeyRing,
    ) -> Result<AccountId> {
        if let Some(why) = crate::accounts::invalid_name(name) {
            return Err(ChainError::BadInput(why));
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
        // Its history starts with its account_create, as on chain; outside any block's
        // undo log, like the account itself.
        let create = ChainOp::AccountCreate {
            registrar: AccountId(1),
            name: name.to_string(),
            created: id,
            owner: owner.to_string(),
            active: active.to_string(),
            memo: memo.to_string(),
        };
        let head = self.head_num();
        self.push_applied(create, json!([1, format!("1.2.{}", id.0)]), head, 0, &mut Vec::new());
        self.issue(id, balance)?;
        Ok(id)
    }

    /// New CWD for `id` (a faucet).
    pub fn issue(&mut self, id: AccountId, amount: i64) -> Result<()> {
        if amount < 0 || self.issued.checked_add(amount).is_none_or(|t| t > MAX_SHARE_SUPPLY) {
            return Err(ChainError::BadInput(format!("cannot issue {amount}: beyond the maximum supply")));
        }
        self.issued += amount;
        // Nothing issued, no balance object (an account created empty has none).
        if amount != 0 {
            *self.balances.entry((id.0, CORE_ASSET.0)).or_insert(0) += amount;
        }
        Ok(())
    }

    /// Creates a user-issued asset outside of any block (as `asset_create` would, without
    /// its history; not undone by a reorganisation).
    pub fn create_asset(&mut self, symbol: &str, precision: u8, issuer: AccountId, max_supply: i64) -> Result<AssetId> {
        if !AssetInfo::is_valid_symbol(symbol) {
            return Err(ChainError::BadInput(format!(
                "{symbol:?} is not a valid asset symbol (3..16 of A-Z, 0-9, one inner '.', starting with a letter)"
            )));
        }
        if self.assets.values().any(|a| a.symbol == symbol) {
            return Err(ChainError::BadInput(format!("asset symbol {symbol} is taken")));
        }
        if precision > 12 || !(1..=MAX_SHARE_SUPPLY).contains(&max_supply) {
            return Err(ChainError::BadInput("precision must be 0..=12 and max_supply 1..=10^15".into()));
        }
        if self.account(issuer).is_none() {
            return Err(ChainError::NotFound(format!("account 1.2.{}", issuer.0)));
        }
        let id = AssetId(self.assets.keys().next_back().map_or(0, |k| k + 1));
        self.assets.insert(id.0, AssetInfo { id, symbol: symbol.into(), precision, issuer, max_supply, current_supply: 0 });
        Ok(id)
    }

    /// New units of a user asset for `to` (as `asset_issue` would, outside any block).
    pub fn issue_asset(&mut self, asset: AssetId, to: AccountId, amount: i64) -> Result<()> {
        let max = self.assets.get(&asset.0).filter(|_| asset != CORE_ASSET).map(|a| a.max_supply).ok_or_else(|| {
            ChainError::NotFound(format!("user asset 1.3.{} (CWD comes from `issue`)", asset.0))
        })?;
        if amount < 0 || self.total_of(asset).checked_add(amount).is_none_or(|t| t > max) {
            return Err(ChainError::BadInput(format!("cannot issue {amount}: beyond the asset's max_supply {max}")));
        }
        if amount != 0 {
            *self.balances.entry((to.0, asset.0)).or_insert(0) += amount;
        }
        Ok(())
    }

    /// Validates `st` as `broadcast_transaction` does and adds it to the pending pool.
    pub fn submit(&mut self, st: SignedTransaction) -> core::result::Result<[u8; 20], Reject> {
        validate::check(self, &st, Mode::Broadcast)?;
        let id = st.tx.id();
        self.failed.remove(&id);
        // The node applies a broadcast to its pending state: the counter moves.
        self.virtual_op = self.virtual_op.wrapping_add(st.tx.operations.len() as u16);
        self.pending.push(BlockTx::Signed(st));
        Ok(id)
    }

    /// Queues operations the devnet applies itself (proposals, mass payments) as one
    /// transaction of the next block. They are checked when the block is made; one that
    /// fails then is dropped with its reason, like a signed transaction.
    pub fn submit_chain_ops(&mut self, ops: Vec<ChainOp>, expiration: u32) -> Result<[u8; 20]> {
        if ops.is_empty() {
            return Err(ChainError::BadInput("a transaction needs at least one operation".into()));
        }
        for op in &ops {
            if self.account(op.fee_payer()).is_none() {
                return Err(ChainError::NotFound(format!("account 1.2.{}", op.fee_payer().0)));
            }
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&self.rng.bytes("chain-tx")[..20]);
        self.pending.push(BlockTx::Chain(ChainTx { id, expiration, ops }));
        Ok(id)
    }

    /// Validates without keeping (the checks of `submit`).
    pub fn check(&self, st: &SignedTransaction) -> core::result::Result<(), Reject> {
        validate::check(self, st, Mode::Broadcast)
    }

    /// Whether the wall clock has reached a second after the head block, so a block made
    /// now gets the real time.
    pub fn wall_clock_ready(&self) -> bool {
        !self.config.wall_clock || wall_clock_secs() > self.head_time()
    }

    /// Moves chain time forward without a block (a test's fast-forward): the next block
    /// is `secs` later.
    pub fn advance_time(&mut self, secs: u32) {
        self.clock = self.clock.max(self.head_time()).saturating_add(secs);
    }

    /// Sets the time of the next block (never before head time + interval).
    pub fn set_time(&mut self, secs: u32) {
        self.clock = secs;
    }

    /// Produces the next block from the pending pool, as `database::_apply_block`
    /// (db_block.cpp) applies it: each transaction is checked again at the block's time
    /// and dropped if it no longer holds; then expired proposals run or go
    /// (`clear_expired_proposals`).
    pub fn produce_block(&mut self) -> u32 {
        let prev = self.head();
        let (prev_id, prev_time, num) = (prev.id, prev.time, prev.num + 1);
        let time = if self.config.wall_clock {
            prev_time.saturating_add(1).max(self.clock).max(wall_clock_secs())
        } else {
            prev_time.saturating_add(self.config.block_interval.max(1)).max(self.clock)
        };
        self.clock = time;
        let mut undo = vec![Change::OpInTrx(self.op_in_trx)];
        let mut txs = Vec::new();
        let mut results = Vec::new();
        for tx in std::mem::take(&mut self.pending) {
            let id = tx.id();
            let checked = match &tx {
                BlockTx::Signed(st) => validate::check(self, st, Mode::Apply { block_time: time }),
                BlockTx::Chain(c) => self.check_chain_tx(c, time),
            };
            if let Err(why) = checked {
                self.failed.insert(id, why);
                continue;
            }
            let trx_in_block = txs.len() as u32;
            let mut tx_results = Vec::new();
            for (op_in_trx, op) in tx.ops().into_iter().enumerate() {
                self.op_in_trx = op_in_trx as u32;
                tx_results.push(self.apply_op(op, num, trx_in_block, &mut undo));
            }
            self.op_in_trx = tx_results.len() as u32;
            self.included.insert(id, TxLocation { block_num: num, trx_num: trx_in_block });
            txs.push(tx);
            results.push(tx_results);
        }
        self.clear_expired_proposals(time, num, txs.len() as u32, &mut undo);
        let ids: Vec<[u8; 20]> = txs.iter().map(BlockTx::id).collect();
        let id = block_id(num, &prev_id, time, &ids, self.fork);
        self.blocks.push(Block { num, id, previous: prev_id, time, transactions: txs, results, undo });
        self.lib = self.lib.max(num.saturating_sub(self.config.irreversible_lag));
        self.forget_expired(time);
        num
    }

    /// Drops the newest `depth` blocks (never the irreversible one or below). Their
    /// transactions go back to the pending pool (`requeue`) or are forgotten, and their
    /// history, balance and proposal changes vanish, as after a switch to another fork.
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
            for change in block.undo.into_iter().rev() {
                self.revert(change);
            }
            for tx in &block.transactions {
                self.included.remove(&tx.id());
            }
            dropped_txs.splice(0..0, block.transactions);
        }
        if depth > 0 {
            self.fork += 1;
        }
        let ids: Vec<String> = dropped_txs.iter().map(|t| hex::encode(t.id())).collect();
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

    /// The checks a helper's transaction must pass at `time`: not expired, accounts and
    /// proposals exist, fees paid in CWD, every debit covered (in operation order).
    fn check_chain_tx(&self, c: &ChainTx, time: u32) -> core::result::Result<(), Reject> {
        if c.expiration < time {
            return Err(Reject::Expired { expiration: c.expiration, head_time: time });
        }
        let mut spent: HashMap<(u64, u64), i64> = HashMap::new();
        for (i, op) in c.ops.iter().enumerate() {
            let required = crate::fees::chain_op_fee(&self.config.fees, op);
            if op.fee().asset_id != CORE_ASSET || op.fee().amount < required {
                return Err(Reject::FeeTooLow { op_index: i, required, paid: op.fee().amount });
            }
            match op {
                ChainOp::ProposalUpdate { proposal, .. } if !self.proposals.contains_key(proposal) => {
                    return Err(Reject::Assert(format!("proposal 1.10.{proposal} does not exist")));
                }
                ChainOp::ProposalCreate { expiration_time, .. } if *expiration_time <= time => {
                    return Err(Reject::Assert("expiration_time > d.head_block_time()".into()));
                }
                _ => {}
            }
            for (account, asset, d) in expanded(op).iter().flat_map(ChainOp::deltas) {
                if self.account(account).is_none() {
                    return Err(Reject::UnknownAccount { account });
                }
                let s = spent.entry((account.0, asset.0)).or_insert(0);
                *s += d;
                let available = self.asset_balance(account, asset);
                if d < 0 && available + *s < 0 {
                    return Err(Reject::InsufficientBalance { account, needed: -*s, available });
                }
            }
        }
        Ok(())
    }

    /// `database::push_applied_operation`: the history object, at this position.
    fn push_applied(&mut self, op: ChainOp, result: Value, block_num: u32, trx_in_block: u32, undo: &mut Vec<Change>) {
        let impacted = op.impacted();
        let instance = self.next_history;
        self.next_history += 1;
        undo.push(Change::History(instance));
        let virtual_op = self.virtual_op as u32;
        self.virtual_op = self.virtual_op.wrapping_add(1);
        let op_in_trx = self.op_in_trx;
        self.history.insert(instance, OpHistory { instance, op, result, block_num, trx_in_block, op_in_trx, virtual_op });
        for account in impacted {
            self.add_account_history(account, instance, undo);
        }
    }

    /// account_history_plugin.cpp, `update_account_histories` and
    /// `add_account_history`: only tracked accounts, nothing with
    /// `max-ops-per-account` 0, and beyond it the account's oldest entry goes.
    fn add_account_history(&mut self, account: AccountId, instance: u64, undo: &mut Vec<Change>) {
        let max = self.config.max_ops_per_account;
        if max == 0 || (!self.config.track_accounts.is_empty() && !self.config.track_accounts.contains(&account)) {
            return;
        }
        let ath = self.next_ath;
        self.next_ath += 1;
        let h = self.account_history.entry(account.0).or_default();
        h.ops.push(instance);
        h.aths.push(ath);
        h.total_ops += 1;
        undo.push(Change::EntryAdded { account: account.0, ath });
        if h.total_ops - h.removed_ops > max && h.ops.len() > 1 {
            let (instance, ath) = (h.ops.remove(0), h.aths.remove(0));
            h.removed_ops += 1;
            undo.push(Change::EntryRemoved { account: account.0, instance, ath });
        }
    }

    fn adjust(&mut self, account: AccountId, asset: AssetId, delta: i64, undo: &mut Vec<Change>) {
        if !self.balances.contains_key(&(account.0, asset.0)) {
            undo.push(Change::BalanceCreated { account: account.0, asset: asset.0 });
        }
        *self.balances.entry((account.0, asset.0)).or_insert(0) += delta;
        undo.push(Change::Balance { account: account.0, asset: asset.0, delta });
    }

    fn apply_balances(&mut self, op: &ChainOp, undo: &mut Vec<Change>) {
        for (account, asset, d) in op.deltas() {
            self.adjust(account, asset, d, undo);
        }
        let fee = op.fee();
        if fee.asset_id == CORE_ASSET && fee.amount != 0 {
            self.fees_burned += fee.amount;
            undo.push(Change::FeesBurned(fee.amount));
        }
    }

    /// `database::apply_operation`: history first, then the evaluator. Returns the
    /// operation result.
    fn apply_op(&mut self, op: ChainOp, block_num: u32, trx_in_block: u32, undo: &mut Vec<Change>) -> Value {
        let void = json!([0, {}]);
        self.apply_balances(&op, undo);
        match &op {
            ChainOp::ProposalCreate { fee_paying_account, expiration_time, proposed_ops, .. } => {
                let id = self.next_proposal;
                self.next_proposal += 1;
                let p = Proposal {
                    id,
                    proposer: *fee_paying_account,
                    expiration: *expiration_time,
                    ops: proposed_ops.clone(),
                    approvals: Default::default(),
                    fail_reason: None,
                };
                self.proposals.insert(id, p);
                undo.push(Change::ProposalCreated(id));
                let result = json!([1, format!("1.10.{id}")]);
                self.push_applied(op, result.clone(), block_num, trx_in_block, undo);
                result
            }
            ChainOp::ProposalUpdate { proposal, active_approvals_to_add, .. } => {
                let id = *proposal;
                self.push_applied(op.clone(), void.clone(), block_num, trx_in_block, undo);
                let Some(p) = self.proposals.get_mut(&id) else { return void };
                undo.push(Change::ProposalChanged(p.clone()));
                p.approvals.extend(active_approvals_to_add.iter().copied());
                if p.is_authorized() {
                    self.push_proposal(id, block_num, trx_in_block, undo);
                }
                void
            }
            ChainOp::MassPayment { from, asset_id, payments, .. } => {
                let (from, asset_id, payments) = (*from, *asset_id, payments.clone());
                self.push_applied(op, void.clone(), block_num, trx_in_block, undo);
                for (to, amount) in payments {
                    let pay = ChainOp::MassPaymentPay { from, to, amount: Asset { amount, asset_id } };
                    self.apply_balances(&pay, undo);
                    self.push_applied(pay, void.clone(), block_num, trx_in_block, undo);
                }
                void
            }
            ChainOp::Codec(_) | ChainOp::MassPaymentPay { .. } | ChainOp::AccountCreate { .. } => {
                self.push_applied(op, void.clone(), block_num, trx_in_block, undo);
                void
            }
        }
    }

    /// `database::push_proposal`: runs every proposed operation or none (a failure keeps
    /// the proposal, with its reason, for another try at expiry). Returns whether it ran.
    fn push_proposal(&mut self, id: u64, block_num: u32, trx_in_block: u32, undo: &mut Vec<Change>) -> bool {
        let Some(p) = self.proposals.get(&id).cloned() else { return false };
        let ops: Vec<ChainOp> = p.ops.iter().cloned().map(ChainOp::Codec).collect();
        if let Err(why) = self.covers(&ops) {
            let q = self.proposals.get_mut(&id).expect("present");
            undo.push(Change::ProposalChanged(q.clone()));
            q.fail_reason = Some(why.to_string());
            return false;
        }
        for op in ops {
            self.apply_op(op, block_num, trx_in_block, undo);
        }
        self.proposals.remove(&id);
        undo.push(Change::ProposalRemoved(p));
        true
    }

    /// Whether the balances cover `ops` applied in order.
    fn covers(&self, ops: &[ChainOp]) -> core::result::Result<(), Reject> {
        let mut spent: HashMap<(u64, u64), i64> = HashMap::new();
        for op in ops {
            for (account, asset, d) in op.deltas() {
                let s = spent.entry((account.0, asset.0)).or_insert(0);
                *s += d;
                let available = self.asset_balance(account, asset);
                if d < 0 && available + *s < 0 {
                    return Err(Reject::InsufficientBalance { account, needed: -*s, available });
                }
            }
        }
        Ok(())
    }

    /// db_update.cpp, `clear_expired_proposals`, run after the block's transactions:
    /// every proposal expiring by `time`, oldest expiration first, runs if approved, and
    /// goes either way. Its operations get the block's end as position.
    fn clear_expired_proposals(&mut self, time: u32, block_num: u32, trx_in_block: u32, undo: &mut Vec<Change>) {
        let mut expiring: Vec<(u32, u64)> =
            self.proposals.values().filter(|p| p.expiration <= time).map(|p| (p.expiration, p.id)).collect();
        expiring.sort();
        for (_, id) in expiring {
            let authorized = self.proposals.get(&id).is_some_and(Proposal::is_authorized);
            if authorized && self.push_proposal(id, block_num, trx_in_block, undo) {
                continue;
            }
            if let Some(p) = self.proposals.remove(&id) {
                undo.push(Change::ProposalRemoved(p));
            }
        }
    }

    /// The exact inverse of one recorded change.
    fn revert(&mut self, change: Change) {
        match change {
            Change::Balance { account, asset, delta } => *self.balances.entry((account, asset)).or_insert(0) -= delta,
            // Unless the faucet has put something there since (outside any block).
            Change::BalanceCreated { account, asset } => {
                if self.balances.get(&(account, asset)) == Some(&0) {
                    self.balances.remove(&(account, asset));
                }
            }
            Change::FeesBurned(f) => self.fees_burned -= f,
            // The counters move back only while nothing outside the undo log (an
            // account_create) took a later number: reusing it would overwrite that entry.
            Change::History(instance) => {
                self.history.remove(&instance);
                if self.next_history == instance + 1 {
                    self.next_history = instance;
                }
            }
            Change::EntryAdded { account, .. } => {
                if let Some(h) = self.account_history.get_mut(&account) {
                    h.ops.pop();
                    let ath = h.aths.pop();
                    h.total_ops -= 1;
                    if ath.is_some_and(|a| self.next_ath == a + 1) {
                        self.next_ath -= 1;
                    }
                }
            }
            Change::EntryRemoved { account, instance, ath } => {
                let h = self.account_history.entry(account).or_default();
                h.ops.insert(0, instance);
                h.aths.insert(0, ath);
                h.removed_ops -= 1;
            }
            Change::ProposalCreated(id) => {
                self.proposals.remove(&id);
                self.next_proposal = id;
            }
            Change::ProposalRemoved(p) | Change::ProposalChanged(p) => {
                self.proposals.insert(p.id, p);
            }
            Change::OpInTrx(n) => self.op_in_trx = n,
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
                    .is_none_or(|t| t.expiration() < time)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.included.remove(&id);
        }
    }
}

/// The wall clock in Unix seconds (u32 like fc's time_point_sec).
pub fn wall_clock_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32)
        .unwrap_or(0)
}

/// An operation with the virtual operations its evaluator pushes (a mass payment's
/// payouts), for balance checks.
fn expanded(op: &ChainOp) -> Vec<ChainOp> {
    let mut v = vec![op.clone()];
    if let ChainOp::MassPayment { from, asset_id, payments, .. } = op {
        v.extend(payments.iter().map(|(to, amount)| ChainOp::MassPaymentPay {
            from: *from,
            to: *to,
            amount: Asset { amount: *amount, asset_id: *asset_id },
        }));
    }
    v
}

/// How `op` changes `account`'s CWD balance.
pub fn op_delta(op: &Operation, account: AccountId) -> i64 {
    ChainOp::Codec(op.clone()).cwd_delta(account)
}
