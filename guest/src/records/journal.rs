//! The ledger's journal: one line per change of a user's balance or frozen units, never
//! pruned. Lines come from the events the commit reports (each balance change reports
//! one), so no rule can change a balance without its line: with the outbox (the
//! default) the event's outbox entry, in the change's commit, carries them, and the
//! sequencer writes them as it moves the entry to the feed (in one commit), so that a
//! change's commit holds one row for both (`crate::feed`); statements sequence what
//! waits before they are read. With `events.live-only` they are written in the change's
//! commit. A line is one key, `ujrn/<user>/<stamp>/<kind>/<ref>` (a user's statement is one
//! range); `jday/<day>/<user>` marks the users with lines on a UTC day (written with a
//! user's first line of the day), so a day's movements read only that day's users. The
//! stamp is the line's event's (`records::outbox`): a user's lines follow the order of
//! their commits, as the feed's events do. References are the deposit, withdrawal,
//! transfer or reward ids; balance adjustments use their idempotency key's hash, as their
//! `adj/` record does. Statements begin with the release that writes them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{decode, GwResult};
use crate::gateway_error::GatewayError;
use crate::events::Event;
use crate::ports::Store;

pub const USER_JOURNAL: &str = "ujrn/";
pub const JOURNAL_DAYS: &str = "jday/";
const DAY_MS: u64 = 86_400_000;

/// One line (WIT `movement`). Deltas are in game units; `cwd` is the chain amount where
/// one moved (deposits, withdrawals), else 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    /// Its event's stamp (the millisecond, then a count within it).
    pub stamp: u64,
    pub at_ms: u64,
    pub user: String,
    pub kind: String,
    pub reference: String,
    pub balance_delta: i64,
    pub frozen_delta: i64,
    pub cwd: u64,
    pub note: String,
}

/// What a line's key does not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    #[serde(rename = "b", default, skip_serializing_if = "is_zero")]
    balance_delta: i64,
    #[serde(rename = "f", default, skip_serializing_if = "is_zero")]
    frozen_delta: i64,
    #[serde(rename = "c", default, skip_serializing_if = "is_zero")]
    cwd: u64,
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    note: String,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl Movement {
    /// `<stamp>/<user>/<kind>/<ref>`: the line's id, the cursor of listings.
    pub fn id(&self) -> String {
        format!("{:020}/{}/{}/{}", self.stamp, self.user, self.kind, self.reference)
    }

    fn key(&self) -> String {
        format!("{USER_JOURNAL}{}/{:020}/{}/{}", self.user, self.stamp, self.kind, self.reference)
    }

    /// The line stored under `key`.
    pub fn from_entry(key: &str, value: &[u8]) -> GwResult<Movement> {
        let line: Line = decode(key, value)?;
        let bad = || GatewayError::StoreUnavailable(format!("journal key {key} is malformed"));
        let rest = key.strip_prefix(USER_JOURNAL).ok_or_else(bad)?;
        let mut parts = rest.splitn(4, '/');
        let (user, stamp, kind, reference) = (parts.next(), parts.next(), parts.next(), parts.next());
        let (Some(user), Some(stamp), Some(kind), Some(reference)) = (user, stamp, kind, reference) else {
            return Err(bad());
        };
        let stamp: u64 = stamp.parse().map_err(|_| bad())?;
        Ok(Movement {
            stamp,
            at_ms: super::outbox::stamp_ms(stamp),
            user: user.to_string(),
            kind: kind.to_string(),
            reference: reference.to_string(),
            balance_delta: line.balance_delta,
            frozen_delta: line.frozen_delta,
            cwd: line.cwd,
            note: line.note,
        })
    }
}

/// `(stamp, user)` of a line id.
fn parse_id(id: &str) -> Option<(u64, &str)> {
    let mut parts = id.splitn(3, '/');
    let stamp = parts.next()?.parse().ok()?;
    Some((stamp, parts.next()?))
}

/// The user's key of the line with `id`.
fn key_of_id(id: &str) -> Option<String> {
    let (stamp, rest) = id.split_once('/')?;
    let (user, tail) = rest.split_once('/')?;
    Some(format!("{USER_JOURNAL}{user}/{stamp}/{tail}"))
}

fn day_key(day: u64, user: &str) -> String {
    format!("{JOURNAL_DAYS}{day:06}/{user}")
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

/// Stages `m` in `t`: its line, and its day's mark for its user if not there yet (read
/// in the transaction: the user's record is in it already, so no new contention).
pub fn stage(t: &mut super::Txn, m: &Movement) -> GwResult<()> {
    let line = Line { balance_delta: m.balance_delta, frozen_delta: m.frozen_delta, cwd: m.cwd, note: m.note.clone() };
    t.put(&m.key(), &line);
    let day = day_key(m.at_ms / DAY_MS, &m.user);
    if t.get::<()>(&day)?.is_none() {
        t.put(&day, &());
    }
    Ok(())
}

/// A user's lines, newest first, before the line `start_before` (an id), at most `limit`.
pub fn statement(store: &mut dyn Store, user: &str, start_before: Option<&str>, limit: u32) -> GwResult<Vec<Movement>> {
    let prefix = format!("{USER_JOURNAL}{user}/");
    let from = start_before.and_then(key_of_id).filter(|k| k.starts_with(&prefix));
    store
        .scan_reverse(&prefix, from.as_deref(), limit)?
        .iter()
        .map(|e| Movement::from_entry(&e.key, &e.value))
        .collect()
}

/// The lines with `since_ms <= at-ms < before_ms`, day by day, each day's users in id
/// order and each user's lines in commit order, after the line `start_after` (an id),
/// at most `limit`. Reads only the users with lines on those days.
pub fn between(
    store: &mut dyn Store,
    since_ms: u64,
    before_ms: u64,
    start_after: Option<&str>,
    limit: u32,
) -> GwResult<Vec<Movement>> {
    let stamp = super::outbox::stamp_of;
    let mut out = Vec::new();
    // Where to go on from: the cursor's day and user, and its line.
    let resume = start_after.and_then(|id| Some((parse_id(id)?, key_of_id(id)?)));
    let mut day = match &resume {
        Some(((s, _), _)) => super::outbox::stamp_ms(*s) / DAY_MS,
        None => since_ms / DAY_MS,
    };
    let mut resume = resume.map(|((_, user), key)| (user.to_string(), key));
    while day <= before_ms.saturating_sub(1) / DAY_MS {
        let (lo, hi) = (since_ms.max(day * DAY_MS), before_ms.min((day + 1) * DAY_MS));
        let prefix = format!("{JOURNAL_DAYS}{day:06}/");
        // The day's users from the cursor's on (its own remaining lines first).
        let mut user_after = resume.as_ref().map(|(u, _)| format!("{prefix}{u}"));
        let mut first_user = resume.as_ref().map(|(u, _)| u.clone());
        loop {
            let mut users: Vec<String> = Vec::new();
            if let Some(u) = first_user.take() {
                users.push(u);
            }
            let page = store.scan(&prefix, user_after.as_deref(), 200)?;
            users.extend(page.iter().map(|e| e.key[prefix.len()..].to_string()));
            for user in &users {
                let user_prefix = format!("{USER_JOURNAL}{user}/");
                // Scans start after a key: `<stamp>` alone sorts before that stamp's lines.
                let floor = format!("{user_prefix}{:020}", stamp(lo));
                let ceiling = format!("{user_prefix}{:020}", stamp(hi));
                let mut after = match resume.take() {
                    Some((u, key)) if &u == user => key.max(floor),
                    _ => floor,
                };
                loop {
                    let want = limit - out.len() as u32;
                    let lines = store.scan(&user_prefix, Some(&after), want)?;
                    for e in &lines {
                        if e.key >= ceiling {
                            break;
                        }
                        out.push(Movement::from_entry(&e.key, &e.value)?);
                    }
                    if out.len() as u32 >= limit {
                        return Ok(out);
                    }
                    match lines.last() {
                        Some(last) if lines.len() as u32 == want && last.key < ceiling => after = last.key.clone(),
                        _ => break,
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() == 200 => user_after = Some(last.key.clone()),
                _ => break,
            }
        }
        resume = None;
        day += 1;
    }
    Ok(out)
}
