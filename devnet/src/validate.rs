//! The checks a node makes before it accepts a transaction (`Mode::Broadcast`), and again
//! when it puts one in a block (`Mode::Apply`).

use std::collections::{HashMap, HashSet};

use cwd_gateway::error::SignatureProblem;
use cwd_gateway::ops::{AccountId, Operation, SignedTransaction, CORE_ASSET};
use cwd_gateway::signing::{is_canonical, recover};
use cwd_gateway::CodecError;

use crate::blocks::tapos_prefix;
use crate::error::Reject;
use crate::fees::required_fee;
use crate::ops::ChainOp;
use crate::state::State;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Against the head block and the pending pool.
    Broadcast,
    /// Inside a block at `block_time`, against the balances so far.
    Apply { block_time: u32 },
}

pub fn check(state: &State, st: &SignedTransaction, mode: Mode) -> Result<(), Reject> {
    let tx = &st.tx;
    tx.validate().map_err(Reject::Decode)?;
    let id = tx.id();
    if mode == Mode::Broadcast && (state.location(&id).is_some() || state.is_pending(&id)) {
        return Err(Reject::Duplicate { id: hex::encode(id) });
    }
    check_tapos(state, tx.ref_block_num, tx.ref_block_prefix)?;
    let head_time = state.head_time();
    match mode {
        Mode::Broadcast => {
            // db_block.cpp, _apply_transaction: `now <= trx.expiration`.
            if tx.expiration < head_time {
                return Err(Reject::Expired { expiration: tx.expiration, head_time });
            }
            let limit = head_time.saturating_add(state.config.max_expiration);
            if tx.expiration > limit {
                return Err(Reject::TooFarInFuture { expiration: tx.expiration, limit });
            }
        }
        Mode::Apply { block_time } => {
            if tx.expiration < block_time {
                return Err(Reject::Expired { expiration: tx.expiration, head_time: block_time });
            }
        }
    }
    check_operations(state, st, mode)?;
    check_signatures(state, st)
}

/// The block numbered like `ref_block_num` (low 16 bits) among the last 65536 must
/// have `ref_block_prefix` at bytes 4..8 of its id.
fn check_tapos(state: &State, ref_block_num: u16, ref_block_prefix: u32) -> Result<(), Reject> {
    let head = state.head_num();
    let back = (head as u16).wrapping_sub(ref_block_num) as u32;
    let bad = Reject::BadTapos { ref_block_num, ref_block_prefix };
    if back > head {
        return Err(bad);
    }
    match state.block_or_genesis(head - back) {
        Some(b) if tapos_prefix(&b.id) == ref_block_prefix => Ok(()),
        _ => Err(bad),
    }
}

fn check_operations(state: &State, st: &SignedTransaction, mode: Mode) -> Result<(), Reject> {
    let mut spend: HashMap<(u64, u64), i64> = HashMap::new();
    for (i, op) in st.tx.operations.iter().enumerate() {
        let (from, to) = match op {
            Operation::Transfer(t) => (t.from, t.to),
            Operation::SendMessage(m) => (m.from, m.to),
        };
        for acc in [from, to] {
            if state.account(acc).is_none() {
                return Err(Reject::UnknownAccount { account: acc });
            }
        }
        let fee = op.fee();
        if fee.asset_id != CORE_ASSET {
            return Err(Reject::WrongAsset {
                field: format!("operations[{i}].fee"),
                asset: format!("1.3.{}", fee.asset_id.0),
            });
        }
        if let Operation::Transfer(t) = op {
            if state.asset(t.amount.asset_id).is_none() {
                return Err(Reject::WrongAsset {
                    field: format!("operations[{i}].amount"),
                    asset: format!("1.3.{}", t.amount.asset_id.0),
                });
            }
        }
        let required = required_fee(&state.config.fees, op);
        if fee.amount < required {
            return Err(Reject::FeeTooLow { op_index: i, required, paid: fee.amount });
        }
        // Debits and credits in operation order, as the evaluator applies them.
        for (acc, asset, d) in ChainOp::Codec(op.clone()).deltas() {
            let entry = spend.entry((acc.0, asset.0)).or_insert(0);
            *entry += d;
            if d < 0 {
                let available = state.asset_balance(acc, asset)
                    + if mode == Mode::Broadcast { state.pending_delta(acc, asset) } else { 0 };
                if available + *entry < 0 {
                    return Err(Reject::InsufficientBalance { account: acc, needed: -*entry, available });
                }
            }
        }
    }
    Ok(())
}

/// Every signature canonical and distinct; the fee payers' active (or owner) keys all
/// among the signers; no signer that nobody needs.
pub fn check_signatures(state: &State, st: &SignedTransaction) -> Result<(), Reject> {
    let digest = st.tx.digest(state.chain_id());
    let mut signers = HashSet::new();
    for sig in &st.signatures {
        if !is_canonical(sig) {
            return Err(Reject::NotCanonical);
        }
        let key = recover(&digest, sig).map_err(|e| match e {
            CodecError::Signature { problem: SignatureProblem::NotCanonical } => Reject::NotCanonical,
            other => Reject::BadSignature(other),
        })?;
        if !signers.insert(key.to_compressed()) {
            return Err(Reject::DuplicateSignature);
        }
    }
    let payers: Vec<AccountId> = {
        let mut v: Vec<AccountId> = st.tx.operations.iter().map(Operation::fee_payer).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut used = HashSet::new();
    for payer in payers {
        let account = state.account(payer).ok_or(Reject::UnknownAccount { account: payer })?;
        let active = account.active.to_compressed();
        let owner = account.owner.to_compressed();
        if signers.contains(&active) {
            used.insert(active);
        } else if signers.contains(&owner) {
            used.insert(owner);
        } else {
            return Err(Reject::MissingActiveAuth { account: payer });
        }
    }
    if signers.len() > used.len() {
        return Err(Reject::IrrelevantSignature);
    }
    Ok(())
}
