//! The fee reserve: what the gateway pays the chain in fees (link messages, payouts,
//! sweeps), counted per UTC day in the same commit that stores the signed transaction,
//! and how long the fee balance lasts at the last week's rate.
//!
//! Keys: `fees/<UTC day, 8 digits>` ([`FeeDay`]). A transaction that expires unincluded
//! is counted too (its fee was committed to); the figures lean towards caution.

use serde::{Deserialize, Serialize};

use crate::events::Alert;
use crate::gateway::Gateway;
use crate::gateway_error::GwResult;
use crate::records::{self, Txn};
use crate::views::FeeReserveView;

pub const DAY_MS: u64 = 86_400_000;
/// "Last week": this many UTC days, today included.
pub const WINDOW_DAYS: u64 = 7;

pub fn fee_day_key(day: u64) -> String {
    format!("fees/{day:08}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeKind {
    LinkMessage,
    /// A withdrawal's or a sweep's transfer.
    Payout,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeDay {
    pub link_messages: u32,
    pub link_fees: u64,
    pub payouts: u32,
    pub payout_fees: u64,
}

/// Counts one fee in the commit `t` (which also stores the transaction paying it).
pub fn note(t: &mut Txn, kind: FeeKind, fee: u64, now_ms: u64) -> GwResult<()> {
    let key = fee_day_key(now_ms / DAY_MS);
    let mut d: FeeDay = t.get_or_default(&key)?;
    match kind {
        FeeKind::LinkMessage => {
            d.link_messages = d.link_messages.saturating_add(1);
            d.link_fees = d.link_fees.saturating_add(fee);
        }
        FeeKind::Payout => {
            d.payouts = d.payouts.saturating_add(1);
            d.payout_fees = d.payout_fees.saturating_add(fee);
        }
    }
    t.put(&key, &d);
    Ok(())
}

/// The last week's fees, summed.
pub fn last_week(days: &[FeeDay]) -> FeeDay {
    days.iter().fold(FeeDay::default(), |a, d| FeeDay {
        link_messages: a.link_messages.saturating_add(d.link_messages),
        link_fees: a.link_fees.saturating_add(d.link_fees),
        payouts: a.payouts.saturating_add(d.payouts),
        payout_fees: a.payout_fees.saturating_add(d.payout_fees),
    })
}

/// Whole days `fee_balance` lasts when `week_fees` are spent every `WINDOW_DAYS` days
/// (rounded down; none when nothing was spent).
pub fn days_left(fee_balance: u64, week_fees: u64) -> Option<u32> {
    if week_fees == 0 {
        return None;
    }
    let days = fee_balance as u128 * WINDOW_DAYS as u128 / week_fees as u128;
    Some(u32::try_from(days).unwrap_or(u32::MAX))
}

fn avg(total: u64, n: u32) -> u64 {
    if n == 0 { 0 } else { total / n as u64 }
}

impl Gateway {
    /// The fee reserve view. `cwd_balance`: the gateway account's balance (none when the
    /// node could not say); `pending_cwd`: what withdrawals not yet final will pay.
    pub(crate) fn fee_reserve(&mut self, cwd_balance: Option<u64>, pending_cwd: u64) -> GwResult<FeeReserveView> {
        let (reserve, low_days) = {
            let t = &self.active()?.config.treasury;
            (t.fee_reserve_cwd, t.low_fee_days)
        };
        let today = self.now() / DAY_MS;
        let first = today.saturating_sub(WINDOW_DAYS - 1);
        let store = self.ports.store.as_mut();
        let mut days = Vec::new();
        for e in records::scan_all(store, "fees/", Some(fee_day_key(first.saturating_sub(1))), 10)? {
            let day: u64 = e.key["fees/".len()..].parse().unwrap_or(0);
            if (first..=today).contains(&day) {
                days.push(records::decode::<FeeDay>(&e.key, &e.value)?);
            }
        }
        let week = last_week(&days);
        let fees = week.link_fees.saturating_add(week.payout_fees);
        let fee_balance = cwd_balance.map(|b| b.saturating_sub(pending_cwd));
        let days_left = fee_balance.and_then(|b| days_left(b, fees));
        Ok(FeeReserveView {
            fee_balance,
            reserve_cwd: reserve,
            link_messages: week.link_messages,
            avg_link_fee: avg(week.link_fees, week.link_messages),
            payouts: week.payouts,
            avg_payout_fee: avg(week.payout_fees, week.payouts),
            fees_last_week: fees,
            days_left,
            low: low_days > 0 && days_left.is_some_and(|d| d < low_days),
        })
    }

    /// Raises `fee-reserve-low` (rate-limited) when the reserve runs short.
    pub(crate) fn check_fee_reserve(&mut self, cwd_balance: u64, pending_cwd: u64) -> GwResult<()> {
        let threshold_days = self.active()?.config.treasury.low_fee_days;
        if threshold_days == 0 {
            return Ok(());
        }
        let view = self.fee_reserve(Some(cwd_balance), pending_cwd)?;
        if let (true, Some(days_left)) = (view.low, view.days_left) {
            self.raise(Alert::FeeReserveLow { fee_balance: view.fee_balance.unwrap_or(0), days_left, threshold_days });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_rounds_down_and_never_overflows() {
        assert_eq!(days_left(100, 0), None);
        assert_eq!(days_left(100, 70), Some(10));
        assert_eq!(days_left(99, 70), Some(9));
        assert_eq!(days_left(u64::MAX, 1), Some(u32::MAX));
    }
}

/// A fee a node quoted that the gateway will not pay.
#[derive(Debug)]
pub(crate) enum FeeQuoteError {
    Node(crate::gateway_error::NodeFailure),
    /// Above `[treasury]`'s ceiling for the operation's kind; the alert is raised.
    AboveCeiling { fee: u64, ceiling: u64 },
}

impl Gateway {
    /// The fee a node quotes for `op`, unless it is above the configured ceiling for
    /// its kind: a lying or misconfigured node is not believed (a `fee-above-ceiling`
    /// alert, and nothing is built with it).
    pub(crate) fn quoted_fee(&mut self, op: &crate::ops::Operation) -> Result<i64, FeeQuoteError> {
        use crate::ops::Operation;
        let tr = &self.active.as_ref().expect("configured").config.treasury;
        let (operation, ceiling) = match op {
            Operation::Transfer(_) => ("transfer", tr.max_transfer_fee_cwd),
            Operation::SendMessage(_) => ("send_message", tr.max_message_fee_cwd),
        };
        let fee = crate::chain::required_fee(self.ports.node.as_mut(), op).map_err(FeeQuoteError::Node)?;
        if fee as u64 > ceiling {
            self.raise(Alert::FeeAboveCeiling {
                operation: operation.into(),
                fee: fee as u64,
                ceiling,
            });
            return Err(FeeQuoteError::AboveCeiling { fee: fee as u64, ceiling });
        }
        Ok(fee)
    }
}
