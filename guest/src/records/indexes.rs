//! Per-user indexes, kept in the same commit as the records they point to (see
//! [`super::derived`]), so a user's listing reads that user's keys and nothing else.
//! An index row is a sorted list of ids under a key that sorts in the listing's order:
//! - `udep/<user>/<block>`: the deposits credited to the user (and unclaimed ones
//!   assigned to them) in that block. One row per user and block, not per deposit: a
//!   catch-up page of a hundred deposits from a few players writes a few rows.
//! - `uwd/<user>/<withdrawal-id>`: one withdrawal.

use super::*;

pub fn deposits_prefix(user: &str) -> String {
    format!("udep/{user}/")
}

pub fn withdrawals_prefix(user: &str) -> String {
    format!("uwd/{user}/")
}

/// The row of the user's deposits in `block`.
pub fn deposits_row(user: &str, block: u32) -> String {
    format!("{}{block:010}", deposits_prefix(user))
}

/// The index row a record belongs to and its id there (`None`: in no index, or it does
/// not decode).
pub fn index_entry(key: &str, value: Option<&[u8]>) -> Option<(String, String)> {
    let v = value?;
    let in_block = |user: &str, id: &str| Some((deposits_row(user, OpPosition::parse_deposit_id(id)?.block_num), id.to_string()));
    if let Some(id) = key.strip_prefix("dep/") {
        in_block(&decode::<DepositRec>(key, v).ok()?.user, id)
    } else if let Some(id) = key.strip_prefix("unc/") {
        match decode::<UnclaimedRec>(key, v).ok()?.state {
            UnclaimedState::Assigned { user, .. } => in_block(&user, id),
            _ => None,
        }
    } else if let Some(id) = key.strip_prefix("wd/") {
        let w = decode::<WithdrawalRec>(key, v).ok()?;
        Some((format!("{}{id}", withdrawals_prefix(&w.user)), id.to_string()))
    } else {
        None
    }
}

/// Stages the index change of one record going from `old` to `new`.
pub(super) fn stage(txn: &mut Txn, key: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> GwResult<()> {
    let (was, is) = (index_entry(key, old), index_entry(key, new));
    if was == is {
        return Ok(());
    }
    if let Some((row, id)) = was {
        let mut ids: Vec<String> = txn.get_or_default(&row)?;
        ids.retain(|x| *x != id);
        if ids.is_empty() {
            txn.delete(&row);
        } else {
            txn.put(&row, &ids);
        }
    }
    if let Some((row, id)) = is {
        let mut ids: Vec<String> = txn.get_or_default(&row)?;
        if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
            txn.put(&row, &ids);
        }
    }
    Ok(())
}
