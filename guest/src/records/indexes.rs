//! Index keys, kept in the same commit as the records they point to (see
//! [`super::derived`]), so a listing reads what it returns and nothing else:
//! `udep/<user>/<deposit-id>` for deposits credited to the user (and unclaimed ones
//! assigned to them), `uwd/<user>/<withdrawal-id>` for the user's withdrawals. Ids sort
//! in chain order and in request order, so the index pages in the listings' order.
//! `adjexp/<at-ms>/<hash>` orders balance changes by time, so the tick's pruning reads
//! only the idempotency records whose window has passed.
//! One key per record, not one row per user and block: a row of ids is rewritten on
//! every append, and a block can hold thousands of one player's transfers (measured: a
//! catch-up then ran at 0.15 of its baseline, against 0.42 with a key per record).

use super::*;

pub fn deposits_prefix(user: &str) -> String {
    format!("udep/{user}/")
}

pub fn withdrawals_prefix(user: &str) -> String {
    format!("uwd/{user}/")
}

pub const ADJUSTMENTS_BY_TIME: &str = "adjexp/";

/// The time-index key of a balance change made at `at_ms` (fixed width: keys sort by time).
fn adjustment_index(at_ms: u64, hash: &str) -> String {
    format!("{}/{hash}", adjustments_before(at_ms))
}

/// Above every time-index key of a change made before `at_ms`, below the others: the
/// bound of a scan that reads only what is due.
pub fn adjustments_before(at_ms: u64) -> String {
    format!("{ADJUSTMENTS_BY_TIME}{at_ms:020}")
}

/// The `adj/` key an `adjexp/` key points to.
pub fn adjustment_of(index: &str) -> Option<String> {
    let (_, hash) = index.strip_prefix(ADJUSTMENTS_BY_TIME)?.split_once('/')?;
    Some(format!("adj/{hash}"))
}

/// The index key a record has (`None`: none, or it does not decode).
pub fn index_key(key: &str, value: Option<&[u8]>) -> Option<String> {
    let v = value?;
    if let Some(id) = key.strip_prefix("dep/") {
        let d = decode::<DepositRec>(key, v).ok()?;
        Some(format!("{}{id}", deposits_prefix(&d.user)))
    } else if let Some(id) = key.strip_prefix("unc/") {
        match decode::<UnclaimedRec>(key, v).ok()?.state {
            UnclaimedState::Assigned { user, .. } => Some(format!("{}{id}", deposits_prefix(&user))),
            _ => None,
        }
    } else if let Some(hash) = key.strip_prefix("adj/") {
        Some(adjustment_index(decode::<AdjustAt>(key, v).ok()?.at_ms, hash))
    } else if let Some(id) = key.strip_prefix("wd/") {
        let w = decode::<WithdrawalRec>(key, v).ok()?;
        Some(format!("{}{id}", withdrawals_prefix(&w.user)))
    } else {
        None
    }
}

/// The one field of an `AdjustRec` the index needs.
#[derive(serde::Deserialize)]
struct AdjustAt {
    at_ms: u64,
}

/// Stages the index change of one record going from `old` to `new`.
pub(super) fn stage(txn: &mut Txn, key: &str, old: Option<&[u8]>, new: Option<&[u8]>) {
    let (was, is) = (index_key(key, old), index_key(key, new));
    if was == is {
        return;
    }
    if let Some(k) = was {
        txn.delete(&k);
    }
    if let Some(k) = is {
        txn.put(&k, &());
    }
}
