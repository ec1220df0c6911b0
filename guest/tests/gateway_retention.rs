//! Bounded growth: idempotency records live for the configured window, then the tick
//! prunes them in bounded batches. What explains money stays: an adjustment's amount
//! moves into the user's daily total, withdrawals stay, and the ledger reconciles.

mod support;

use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::{AdjustRec, DepositRec, WdState, WithdrawalRec};
use cwd_gateway_guest::retention::{AdjustDayRec, DEFAULT_WINDOW_MS, SCAN_PER_TICK};
use support::*;

const HOUR: u64 = 3_600_000;

/// balance + frozen = deposits + adjustments (open records and pruned daily totals)
/// − confirmed withdrawals, for `user`.
fn reconciles(w: &mut World, user: &str) {
    let deps: i128 = w.store.all::<DepositRec>("dep/").iter().filter(|(_, d)| d.user == user).map(|(_, d)| d.game as i128).sum();
    let adj: i128 = w.store.all::<AdjustRec>("adj/").iter().filter(|(_, a)| a.user == user).map(|(_, a)| a.delta as i128).sum();
    let days: i128 = w.store.all::<AdjustDayRec>(&format!("adjday/{user}/")).iter().map(|(_, d)| d.delta).sum();
    let paid: i128 = w
        .store
        .all::<WithdrawalRec>("wd/")
        .iter()
        .filter(|(_, x)| x.user == user && x.state == WdState::Confirmed)
        .map(|(_, x)| x.game as i128)
        .sum();
    let (balance, frozen) = w.balance(user);
    assert_eq!(balance as i128 + frozen as i128, deps + adj + days - paid, "the ledger reconciles for {user}");
}

/// Moves the clock (and the chain) forward by `ms`.
fn advance(w: &mut World, ms: u64) {
    w.clock.set(w.clock.get() + ms);
    w.produce();
}

#[test]
fn idempotency_records_expire_after_the_window_and_the_money_stays_explained() {
    let mut w = World::new(80);
    assert_eq!(w.config.idempotency_window_ms, DEFAULT_WINDOW_MS, "a day by default");
    w.link("u1", "alice");
    w.deposit("alice", 2_000_000);
    w.settle();
    w.gw.tick().unwrap();
    w.gw.adjust_balance("u1", 500, "a-1", "won").unwrap();
    w.gw.adjust_balance("u1", -200, "a-2", "shop").unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    advance(&mut w, 12 * HOUR);
    w.gw.adjust_balance("u1", 7, "a-3", "later").unwrap();
    reconciles(&mut w, "u1");

    // Inside the window: everything is remembered, replays are replays.
    advance(&mut w, 11 * HOUR);
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("adj/").len(), 3);
    assert!(w.gw.adjust_balance("u1", 500, "a-1", "won").unwrap().replayed);
    assert_eq!(w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap().withdrawal_id, wd.withdrawal_id);

    // Past the window for the first three, not for `a-3`.
    advance(&mut w, 2 * HOUR);
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("adj/").len(), 1, "only a-3 is still inside its window");
    assert!(w.store.keys("wdkey/").is_empty(), "the final withdrawal's key is gone");
    assert_eq!(w.store.keys("wd/").len(), 1, "the withdrawal itself stays");
    assert_eq!(w.store.keys("dep/").len(), 1, "deposits stay");
    let days: Vec<(String, AdjustDayRec)> = w.store.all("adjday/u1/");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].1, AdjustDayRec { count: 2, delta: 300 });
    reconciles(&mut w, "u1");
    assert!(w.gw.adjust_balance("u1", 7, "a-3", "later").unwrap().replayed);
    // Past the window a key is new again: the documented contract.
    let balance = w.balance("u1").0;
    assert!(!w.gw.adjust_balance("u1", 500, "a-1", "won").unwrap().replayed);
    assert_eq!(w.balance("u1").0, balance + 500);
    reconciles(&mut w, "u1");
}

#[test]
fn pruning_goes_in_bounded_batches_and_keeps_the_books() {
    let mut cfg = default_config();
    cfg.idempotency_window_ms = 2 * HOUR;
    let mut w = World::with_config(81, cfg);
    let total = SCAN_PER_TICK as usize + 500;
    for i in 0..total {
        let user = format!("p{}", i % 7);
        w.gw.adjust_balance(&user, 10 + i as i64, &format!("k-{i}"), "bulk").unwrap();
    }
    advance(&mut w, 3 * HOUR);
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("adj/").len(), total - SCAN_PER_TICK as usize, "one tick looks at a bounded number");
    for i in 0..7 {
        reconciles(&mut w, &format!("p{i}"));
    }
    w.gw.tick().unwrap();
    assert!(w.store.keys("adj/").is_empty());
    let count: u64 = w.store.all::<AdjustDayRec>("adjday/").iter().map(|(_, d)| d.count).sum();
    assert_eq!(count, total as u64);
    for i in 0..7 {
        reconciles(&mut w, &format!("p{i}"));
    }
}

#[test]
fn a_window_shorter_than_an_hour_is_refused() {
    let mut cfg = default_config();
    cfg.idempotency_window_ms = HOUR - 1;
    assert!(cfg.normalized().is_err());
}
