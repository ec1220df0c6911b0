//! Helpers for what real chains do beyond a plain transfer, applied as the chain would
//! after a valid transaction (the gateway never signs these operations, so they need no
//! client encoding): user-issued assets, proposals executed on approval or at expiry,
//! mass payments, and the account_history plugin's options.

use std::collections::BTreeMap;

use cwd_gateway::ops::{AccountId, Asset, AssetId, Operation, Transfer};

use crate::error::{ChainError, Result};
use crate::fees::{chain_op_fee, required_fee};
use crate::node::Node;
use crate::ops::ChainOp;
use crate::player::HELPER_EXPIRATION;
use crate::state::State;

/// One transfer inside a proposal.
#[derive(Clone, Debug)]
pub struct ProposedTransfer {
    pub from: String,
    pub to: String,
    pub amount: Asset,
}

fn account(state: &State, who: &str) -> Result<AccountId> {
    state.resolve(who).map(|a| a.id).ok_or_else(|| ChainError::NotFound(format!("account {who}")))
}

fn asset(state: &State, which: &str) -> Result<AssetId> {
    state.resolve_asset(which).map(|a| a.id).ok_or_else(|| ChainError::NotFound(format!("asset {which}")))
}

/// Sets the fee and queues the operation as its own transaction of the next block.
fn queue(state: &mut State, mut op: ChainOp) -> Result<String> {
    let fee = chain_op_fee(&state.config.fees, &op);
    match &mut op {
        ChainOp::ProposalCreate { fee: f, .. } | ChainOp::ProposalUpdate { fee: f, .. } | ChainOp::MassPayment { fee: f, .. } => {
            *f = Asset::cwd(fee)
        }
        ChainOp::Codec(_) | ChainOp::MassPaymentPay { .. } | ChainOp::AccountCreate { .. } => {}
    }
    let expiration = state.head_time().saturating_add(HELPER_EXPIRATION);
    Ok(hex::encode(state.submit_chain_ops(vec![op], expiration)?))
}

impl Node {
    /// A user-issued asset (`1.3.N`), created at once like an account.
    pub fn create_asset(&self, issuer: &str, symbol: &str, precision: u8, max_supply: i64) -> Result<AssetId> {
        let mut state = self.lock();
        let issuer = account(&state, issuer)?;
        state.create_asset(symbol, precision, issuer, max_supply)
    }

    /// New units of a user asset (by symbol or `1.3.N`) for an account; returns its
    /// balance in that asset.
    pub fn issue_asset(&self, which: &str, to: &str, amount: i64) -> Result<i64> {
        let mut state = self.lock();
        let (asset, to) = (asset(&state, which)?, account(&state, to)?);
        state.issue_asset(asset, to, amount)?;
        Ok(state.asset_balance(to, asset))
    }

    /// An asset id by symbol or `1.3.N`.
    pub fn asset_id(&self, which: &str) -> Result<AssetId> {
        asset(&self.lock(), which)
    }

    /// Confirmed balance of `who` in an asset (symbol or `1.3.N`).
    pub fn asset_balance_of(&self, who: &str, which: &str) -> Result<i64> {
        let state = self.lock();
        Ok(state.asset_balance(account(&state, who)?, asset(&state, which)?))
    }

    /// Queues `proposal_create` (op 22) by `proposer` with these transfers (fees set),
    /// expiring at `expiration` (Unix seconds). Returns the transaction id; the proposal
    /// gets the next `1.10.N` when its block is made ([`Node::proposal_ids`]).
    pub fn propose_transfers(&self, proposer: &str, transfers: &[ProposedTransfer], expiration: u32) -> Result<String> {
        let mut state = self.lock();
        let proposer = account(&state, proposer)?;
        let mut proposed_ops = Vec::new();
        for t in transfers {
            let mut op = Operation::Transfer(Transfer {
                fee: Asset::cwd(0),
                from: account(&state, &t.from)?,
                to: account(&state, &t.to)?,
                amount: t.amount,
                memo: None,
            });
            let fee = required_fee(&state.config.fees, &op);
            if let Operation::Transfer(tr) = &mut op {
                tr.fee = Asset::cwd(fee);
            }
            proposed_ops.push(op);
        }
        queue(&mut state, ChainOp::ProposalCreate { fee: Asset::cwd(0), fee_paying_account: proposer, expiration_time: expiration, proposed_ops })
    }

    /// Queues `proposal_update` (op 23) adding `approver`'s active approval to proposal
    /// `1.10.{proposal}`: the proposal runs in that block if it is then fully approved.
    pub fn approve_proposal(&self, approver: &str, proposal: u64) -> Result<String> {
        let mut state = self.lock();
        let approver = account(&state, approver)?;
        queue(
            &mut state,
            ChainOp::ProposalUpdate { fee: Asset::cwd(0), fee_paying_account: approver, proposal, active_approvals_to_add: vec![approver] },
        )
    }

    /// The open proposals' ids.
    pub fn proposal_ids(&self) -> Vec<u64> {
        self.lock().proposals().map(|p| p.id).collect()
    }

    /// Queues CrowdWiz's `mass_payment` (op 104): `from` pays each payee (at most once
    /// each, amounts > 0) in one asset; each payout is a virtual `mass_payment_pay`
    /// (op 105) in the payee's history.
    pub fn mass_payment(&self, from: &str, which: &str, payments: &[(&str, i64)]) -> Result<String> {
        let mut state = self.lock();
        let (from, asset_id) = (account(&state, from)?, asset(&state, which)?);
        let mut map = BTreeMap::new();
        for (to, amount) in payments {
            if *amount <= 0 {
                return Err(ChainError::BadInput("All payments must be greater than zero".into()));
            }
            if map.insert(account(&state, to)?, *amount).is_some() {
                return Err(ChainError::BadInput(format!("{to} is paid twice: a mass payment pays each account once")));
            }
        }
        if map.is_empty() {
            return Err(ChainError::BadInput("a mass payment needs at least one payee".into()));
        }
        queue(&mut state, ChainOp::MassPayment { fee: Asset::cwd(0), from, asset_id, payments: map })
    }

    /// The account_history plugin's options from now on: `max-ops-per-account`
    /// (`None` = unlimited, 0 = no account history) and `track-account` (empty = all).
    pub fn set_history_options(&self, max_ops_per_account: Option<u64>, track: &[&str]) -> Result<()> {
        let mut state = self.lock();
        let tracked = track.iter().map(|t| account(&state, t)).collect::<Result<Vec<_>>>()?;
        state.config.max_ops_per_account = max_ops_per_account.unwrap_or(u64::MAX);
        state.config.track_accounts = tracked;
        Ok(())
    }
}
