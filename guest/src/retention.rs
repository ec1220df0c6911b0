//! Bounded growth. Idempotency records are kept for the configured window
//! (`config.idempotency-window-ms`, default one day) and then pruned by the tick, a
//! bounded batch at a time, so the store stops growing with every game call.
//!
//! What goes and what stays:
//! - `adj/<hash>` (a balance change by its idempotency key): after the window its
//!   amount is folded into the user's total for that UTC day, `adjday/<user>/<day>`
//!   ([`AdjustDayRec`]), in the same commit that deletes it. The ledger still
//!   reconciles (balance + frozen = deposits + adjustments − paid withdrawals, with
//!   adjustments = open `adj/` records + `adjday/` totals); the details of each change
//!   went out in its `balance-adjusted` event. A key replayed after the window is a new
//!   change.
//! - `wdkey/<hash>` (a withdrawal by its idempotency key): deleted once its withdrawal
//!   is final and older than the window. The withdrawal record `wd/<id>` stays.
//! - Deposits, unclaimed deposits, withdrawals and unknown payouts always stay.
//!
//! Balance changes are found through their time index (`adjexp/<at-ms>/<hash>`, kept
//! with the records): a tick reads only those due (the latest due first), at most
//! [`SCAN_PER_TICK`]. Withdrawal
//! keys (and balance changes while a store's index is being built) are looked at up to
//! [`SCAN_PER_TICK`] a tick, resuming where the last tick stopped (`prune/adj`,
//! `prune/wdkey`) and wrapping around at the end.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gateway::Gateway;
use crate::gateway_error::GwResult;
use crate::limits::day;
use crate::records::{self, indexes, transact, AdjustRec, Step, WithdrawalRec};

/// Default window: a day, as payment APIs keep theirs.
pub const DEFAULT_WINDOW_MS: u64 = 86_400_000;
/// Shortest window accepted: an hour (a client retrying for longer must not double-apply).
pub const MIN_WINDOW_MS: u64 = 3_600_000;
/// Keys of each kind examined per tick.
pub const SCAN_PER_TICK: u32 = 2_000;
/// Records deleted per commit.
const PER_COMMIT: usize = 200;

const MARK_ADJ: &str = "prune/adj";
const MARK_WDKEY: &str = "prune/wdkey";

/// Balance changes of one user on one UTC day whose idempotency records were pruned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustDayRec {
    pub count: u64,
    /// Sum of their deltas (game units; i128 so that no sum of i64 deltas overflows).
    pub delta: i128,
}

pub fn adjday_key(user: &str, day: u64) -> String {
    format!("adjday/{user}/{day:08}")
}

impl Gateway {
    /// One bounded pruning step; answers how many records were deleted.
    pub(crate) fn prune_idempotency(&mut self) -> GwResult<u32> {
        let window = self.active()?.config.idempotency_window_ms;
        let now = self.now();
        let Some(cutoff) = now.checked_sub(window) else {
            return Ok(0);
        };
        Ok(self.prune_adjustments(cutoff)? + self.prune_withdrawal_keys(cutoff)?)
    }

    /// The next keys under `prefix` after the mark, and moves the mark past them.
    fn next_keys(&mut self, prefix: &str, mark: &str) -> GwResult<Vec<crate::ports::Entry>> {
        let after: Option<String> = records::peek(self.ports.store.as_mut(), mark)?;
        let page = self
            .ports
            .store
            .scan(prefix, after.as_deref(), SCAN_PER_TICK)?;
        // At the end, start again from the beginning next time.
        let next = if page.len() < SCAN_PER_TICK as usize {
            None
        } else {
            page.last().map(|e| e.key.clone())
        };
        if next != after {
            transact(&mut self.ports, |t| {
                match &next {
                    Some(k) => t.put(mark, k),
                    None => t.delete(mark),
                }
                Ok(Step::Commit(()))
            })?;
        }
        Ok(page)
    }

    /// `adj/` keys whose window has passed, at most [`SCAN_PER_TICK`]: through the time
    /// index (`adjexp/`), a range bounded by the cutoff, so only those are read. A store
    /// whose index is still being built is walked round instead.
    fn expired_adjustments(&mut self, cutoff: u64) -> GwResult<Vec<String>> {
        let store = self.ports.store.as_mut();
        if !records::derived::is_built(store)? {
            let page = self.next_keys("adj/", MARK_ADJ)?;
            return Ok(page
                .into_iter()
                .filter(|e| {
                    records::decode::<AdjustRec>(&e.key, &e.value).is_ok_and(|a| a.at_ms < cutoff)
                })
                .map(|e| e.key)
                .collect());
        }
        let due = store.scan_reverse(
            indexes::ADJUSTMENTS_BY_TIME,
            Some(&indexes::adjustments_before(cutoff)),
            SCAN_PER_TICK,
        )?;
        Ok(due
            .iter()
            .filter_map(|e| indexes::adjustment_of(&e.key))
            .collect())
    }

    fn prune_adjustments(&mut self, cutoff: u64) -> GwResult<u32> {
        let expired = self.expired_adjustments(cutoff)?;
        let mut pruned = 0;
        for chunk in expired.chunks(PER_COMMIT) {
            pruned += transact(&mut self.ports, |t| {
                let mut days: BTreeMap<String, AdjustDayRec> = BTreeMap::new();
                let mut n = 0;
                for key in chunk {
                    let Some(a) = t.get::<AdjustRec>(key)? else {
                        continue;
                    };
                    if a.at_ms >= cutoff {
                        continue;
                    }
                    let d = days.entry(adjday_key(&a.user, day(a.at_ms))).or_default();
                    d.count += 1;
                    d.delta += i128::from(a.delta);
                    t.delete(key);
                    n += 1;
                }
                for (key, add) in days {
                    let mut d: AdjustDayRec = t.get_or_default(&key)?;
                    d.count += add.count;
                    d.delta += add.delta;
                    t.put(&key, &d);
                }
                Ok(if n == 0 {
                    Step::Done(0)
                } else {
                    Step::Commit(n)
                })
            })?;
        }
        Ok(pruned)
    }

    fn prune_withdrawal_keys(&mut self, cutoff: u64) -> GwResult<u32> {
        let page = self.next_keys("wdkey/", MARK_WDKEY)?;
        let mut expired = Vec::new();
        for e in page {
            let Ok(id) = records::decode::<String>(&e.key, &e.value) else {
                continue;
            };
            let w: Option<WithdrawalRec> =
                records::peek(self.ports.store.as_mut(), &records::wd_key(&id))?;
            if w.is_some_and(|w| w.state.is_final() && w.requested_at_ms < cutoff) {
                expired.push(e.key);
            }
        }
        let mut pruned = 0;
        for chunk in expired.chunks(PER_COMMIT) {
            pruned += transact(&mut self.ports, |t| {
                let mut n = 0;
                for key in chunk {
                    if t.get::<String>(key)?.is_some() {
                        t.delete(key);
                        n += 1;
                    }
                }
                Ok(if n == 0 {
                    Step::Done(0)
                } else {
                    Step::Commit(n)
                })
            })?;
        }
        Ok(pruned)
    }
}
