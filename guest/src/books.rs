//! The books: what the gateway owes its players against what it holds on chain. The
//! sums come from the kept totals (`records::totals`), so reconciling costs a few
//! reads whatever the store holds; the balances come from the node.
//!
//! Owed: the players' balances converted at the withdrawal rate (rounded down on the
//! total, which is at least what they could withdraw together, each payout rounding
//! down), the withdrawals not sent yet, and the open unclaimed CWD deposits. Held: the
//! hot and cold accounts' CWD. Withdrawals already sent are left out of both sides'
//! comparison: once their block is in, the hot balance no longer shows them.

use crate::config::Rate;
use crate::records::totals::Totals;

/// The books at one moment (WIT `books`), CWD units unless named `_game`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Books {
    pub balances_game: u64,
    pub balances_cwd: u64,
    pub pool_game: u64,
    pub unsent_cwd: u64,
    pub sent_cwd: u64,
    pub unclaimed_cwd: u64,
    pub owed_cwd: u64,
    pub hot_cwd: Option<u64>,
    pub cold_cwd: Option<u64>,
    pub surplus_cwd: Option<i64>,
    pub mismatch: bool,
    pub explanation: Vec<String>,
}

/// The books from the kept totals, the pool's balance, the withdrawal rate and the
/// chain balances (`None`: the node did not answer). Sums past u64 saturate: no real
/// ledger comes near, and a saturated owed side can only report a mismatch.
pub fn reckon(
    t: &Totals,
    pool_game: u64,
    withdrawal_rate: Rate,
    hot_cwd: Option<u64>,
    cold_cwd: Option<u64>,
) -> Books {
    let balances_game = Totals::clamp(t.balance_game);
    let balances_cwd = ((balances_game as u128 * withdrawal_rate.per_cwd_units as u128)
        / withdrawal_rate.game_units as u128)
        .min(u64::MAX as u128) as u64;
    let sent_cwd = Totals::clamp(t.sent_cwd);
    let unsent_cwd = Totals::clamp(t.pending_cwd).saturating_sub(sent_cwd);
    let unclaimed_cwd = Totals::clamp(t.unclaimed_cwd);
    let owed_cwd = balances_cwd
        .saturating_add(unsent_cwd)
        .saturating_add(unclaimed_cwd);
    let held = hot_cwd.zip(cold_cwd).map(|(h, c)| h as i128 + c as i128);
    let surplus = held.map(|h| h - owed_cwd as i128);
    let mismatch = surplus.is_some_and(|s| s < 0);
    let rate = format!("{} game units per {} CWD units", withdrawal_rate.game_units, withdrawal_rate.per_cwd_units);
    let shown = |v: Option<u64>| v.map_or("unknown (the node did not answer)".to_string(), |v| v.to_string());
    let mut explanation = vec![
        format!("players' balances: {balances_game} game units (the referral pool's {pool_game} included), {balances_cwd} CWD units at the withdrawal rate ({rate}), rounded down"),
        format!("withdrawals not sent yet (queued or under review): {unsent_cwd} CWD units"),
        format!("unclaimed deposits to assign or refund: {unclaimed_cwd} CWD units"),
        format!("owed in all: {owed_cwd} CWD units"),
        format!("held: hot account {}, cold account {} CWD units", shown(hot_cwd), shown(cold_cwd)),
        format!("withdrawals sent and not final: {sent_cwd} CWD units (left out: the hot balance shows them paid once their block is in)"),
    ];
    explanation.push(match surplus {
        Some(s) if s < 0 => format!("SHORT by {} CWD units: the chain holds less than the gateway owes", -s),
        Some(s) => format!("surplus {s} CWD units: the operator's own (fee reserve, rate margins, deposits not yet irreversible)"),
        None => "no verdict: a balance is unknown".to_string(),
    });
    Books {
        balances_game,
        balances_cwd,
        pool_game,
        unsent_cwd,
        sent_cwd,
        unclaimed_cwd,
        owed_cwd,
        hot_cwd,
        cold_cwd,
        surplus_cwd: surplus.map(|s| s.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        mismatch,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate { game_units: 100, per_cwd_units: 100_000 };

    fn totals(balance: i128, pending: i128, sent: i128, unclaimed: i128) -> Totals {
        Totals { balance_game: balance, pending_cwd: pending, sent_cwd: sent, unclaimed_cwd: unclaimed, ..Totals::default() }
    }

    #[test]
    fn owed_sums_balances_unsent_and_unclaimed() {
        let b = reckon(&totals(250, 700_000, 200_000, 30_000), 50, RATE, Some(2_000_000), Some(1_000_000));
        assert_eq!(b.balances_cwd, 250_000);
        assert_eq!(b.unsent_cwd, 500_000);
        assert_eq!(b.owed_cwd, 250_000 + 500_000 + 30_000);
        assert_eq!(b.surplus_cwd, Some(3_000_000 - 780_000));
        assert!(!b.mismatch);
    }

    #[test]
    fn less_held_than_owed_is_a_mismatch() {
        let b = reckon(&totals(1_000, 0, 0, 0), 0, RATE, Some(999_999), Some(0));
        assert_eq!(b.surplus_cwd, Some(-1));
        assert!(b.mismatch);
        assert!(b.explanation.iter().any(|l| l.starts_with("SHORT by 1 ")));
    }

    #[test]
    fn an_unknown_balance_gives_no_verdict() {
        let b = reckon(&totals(1_000, 0, 0, 0), 0, RATE, None, Some(0));
        assert_eq!(b.surplus_cwd, None);
        assert!(!b.mismatch);
    }

    #[test]
    fn conversion_rounds_the_total_down() {
        let r3 = Rate { game_units: 3, per_cwd_units: 1 };
        let b = reckon(&totals(5, 0, 0, 0), 0, r3, Some(1), Some(0));
        assert_eq!(b.balances_cwd, 1);
        assert!(!b.mismatch);
    }
}
