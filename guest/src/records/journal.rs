//! The ledger's journal: one line per change of a user's balance or frozen units, written
//! in the same commit as the change, never pruned. Lines come from the events the commit
//! reports (each balance change reports one), so no rule can change a balance without its
//! line. Two keys a line: `jrn/<stamp>/<user>/<kind>/<ref>` holds it, in time order (a
//! day's movements), and `ujrn/<user>/<stamp>/<kind>/<ref>` points to it (a user's
//! statement). The stamp is its event's (`records::outbox`): a user's lines follow the
//! order of their commits, as the feed's events do. References are the deposit, withdrawal, transfer or reward ids; balance
//! adjustments use their idempotency key's hash, as their `adj/` record does.
//! Statements begin with the release that writes them: older changes have no line.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{decode, encode, GwResult};
use crate::events::Event;
use crate::ports::Store;

pub const JOURNAL: &str = "jrn/";
pub const USER_JOURNAL: &str = "ujrn/";

/// One line (WIT `movement`). Deltas are in game units; `cwd` is the chain amount where
/// one moved (deposits, withdrawals), else 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// Its event's stamp (the millisecond, then a count within it).
    pub stamp: u64,
    pub at_ms: u64,
    pub user: String,
    pub kind: String,
    pub reference: String,
    pub balance_delta: i64,
    pub frozen_delta: i64,
    #[serde(default)]
    pub cwd: u64,
    #[serde(default)]
    pub note: String,
}

impl Movement {
    /// `<stamp>/<user>/<kind>/<ref>`: the line's id, its key after [`JOURNAL`].
    pub fn id(&self) -> String {
        format!("{:020}/{}/{}/{}", self.stamp, self.user, self.kind, self.reference)
    }
}

/// The user's index key of the line with `id`.
fn user_key_of(id: &str) -> Option<String> {
    let (at, rest) = id.split_once('/')?;
    let (user, tail) = rest.split_once('/')?;
    Some(format!("{USER_JOURNAL}{user}/{at}/{tail}"))
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The lines an event stands for (none for events that move no game units).
pub fn movements_of(event: &Event, stamp: u64) -> Vec<Movement> {
    let line = |user: &str, kind: &str, reference: &str, balance: i64, frozen: i64, cwd: u64, note: &str| Movement {
        stamp,
        at_ms: super::outbox::stamp_ms(stamp),
        user: user.to_string(),
        kind: kind.to_string(),
        reference: reference.to_string(),
        balance_delta: balance,
        frozen_delta: frozen,
        cwd,
        note: note.to_string(),
    };
    match event {
        Event::DepositCredited { user, deposit_id, cwd, game, .. } => {
            vec![line(user, "deposit", deposit_id, signed(*game), 0, *cwd, "")]
        }
        Event::UnclaimedAssigned { deposit_id, user, game, .. } => {
            vec![line(user, "deposit-assigned", deposit_id, signed(*game), 0, 0, "assigned by the operator")]
        }
        Event::BalanceAdjusted { user, delta, idempotency_key, reason, .. } => {
            let hash = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
            vec![line(user, "adjustment", &hash, *delta, 0, 0, reason)]
        }
        Event::WithdrawalRequested(w) => {
            vec![line(&w.user, "withdrawal", &w.withdrawal_id, -signed(w.game), signed(w.game), w.cwd, "")]
        }
        Event::WithdrawalConfirmed { withdrawal: w, tx_id, .. } => {
            vec![line(&w.user, "withdrawal-paid", &w.withdrawal_id, 0, -signed(w.game), w.cwd, tx_id)]
        }
        Event::WithdrawalRejected { withdrawal: w, reason } | Event::WithdrawalCancelled { withdrawal: w, reason } => {
            vec![line(&w.user, "withdrawal-returned", &w.withdrawal_id, signed(w.game), -signed(w.game), 0, reason)]
        }
        Event::WithdrawalFailed { withdrawal: w, .. } => {
            vec![line(&w.user, "withdrawal-returned", &w.withdrawal_id, signed(w.game), -signed(w.game), 0, "failed on chain")]
        }
        Event::InternalTransfer { transfer_id, from_user, to_user, amount, .. } => vec![
            line(from_user, "transfer-out", transfer_id, -signed(*amount), 0, 0, to_user),
            line(to_user, "transfer-in", transfer_id, signed(*amount), 0, 0, from_user),
        ],
        Event::ReferrersRewarded { user, to_referrers, cashback, idempotency_key, pool_user, shares, .. }
            if !pool_user.is_empty() =>
        {
            let id = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
            let mut out = vec![line(pool_user, "reward-paid", &id, -signed(to_referrers + cashback), 0, 0, user)];
            for s in shares {
                out.push(line(&s.user, "referral-reward", &id, signed(s.amount), 0, 0, user));
            }
            if *cashback > 0 {
                out.push(line(user, "cashback", &id, signed(*cashback), 0, 0, ""));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The two writes of `m`: its line and the user's pointer.
pub fn writes(m: &Movement) -> [(String, Vec<u8>); 2] {
    let id = m.id();
    let user_key = user_key_of(&id).expect("ids have a user");
    [(format!("{JOURNAL}{id}"), encode(m)), (user_key, encode(&()))]
}

/// A user's lines, newest first, before the line `start_before` (an id), at most `limit`.
pub fn statement(store: &mut dyn Store, user: &str, start_before: Option<&str>, limit: u32) -> GwResult<Vec<Movement>> {
    let prefix = format!("{USER_JOURNAL}{user}/");
    let from = start_before.and_then(user_key_of).filter(|k| k.starts_with(&prefix));
    let mut out = Vec::new();
    for e in store.scan_reverse(&prefix, from.as_deref(), limit)? {
        let tail = &e.key[prefix.len()..];
        let (at, rest) = tail.split_once('/').unwrap_or((tail, ""));
        let key = format!("{JOURNAL}{at}/{user}/{rest}");
        if let Some(line) = store.get(&key)? {
            out.push(decode(&key, &line.value)?);
        }
    }
    Ok(out)
}

/// Every user's lines in time order from `since_ms` (inclusive) to `before_ms`
/// (exclusive), after the line `start_after` (an id), at most `limit`.
pub fn between(
    store: &mut dyn Store,
    since_ms: u64,
    before_ms: u64,
    start_after: Option<&str>,
    limit: u32,
) -> GwResult<Vec<Movement>> {
    let stamp = super::outbox::stamp_of;
    let floor = format!("{JOURNAL}{:020}", stamp(since_ms));
    let ceiling = format!("{JOURNAL}{:020}", stamp(before_ms));
    // Scans start after a key: just below the floor is the first line at `since_ms`.
    let from = match start_after {
        Some(id) => format!("{JOURNAL}{id}").max(floor.clone()),
        None => floor,
    };
    let mut out = Vec::new();
    for e in store.scan(JOURNAL, Some(&from), limit)? {
        if e.key >= ceiling {
            break;
        }
        out.push(decode(&e.key, &e.value)?);
    }
    Ok(out)
}
