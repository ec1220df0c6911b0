//! Ledger, rates and deposits, including the weak spots of the original example.

mod support;

use cwd_gateway_guest::config::Rate;
use cwd_gateway_guest::events::{Alert, Event, UnclaimedReason};
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::ports::NodeError;
use cwd_gateway_guest::rates::WithdrawalAmount;
use cwd_gateway_guest::records::{AdjustRec, DepositRec, Order};
use cwd_gateway_guest::views::UnclaimedStateView;
use support::*;

#[test]
fn adjust_balance_is_idempotent_and_never_negative() {
    let mut w = World::new(20);
    let first = w.gw.adjust_balance("u1", 100, "match-1", "won a match").unwrap();
    assert_eq!((first.balance, first.replayed), (100, false));
    let again = w.gw.adjust_balance("u1", 100, "match-1", "won a match").unwrap();
    assert_eq!((again.balance, again.replayed), (100, true));
    assert_eq!(w.balance("u1").0, 100, "a replay changes nothing");
    assert_eq!(w.gw.adjust_balance("u1", 101, "match-1", "won a match"), Err(GatewayError::IdempotencyConflict));
    assert_eq!(w.gw.adjust_balance("u2", 100, "match-1", "won a match"), Err(GatewayError::IdempotencyConflict));
    assert_eq!(w.gw.adjust_balance("u1", 100, "match-1", "other"), Err(GatewayError::IdempotencyConflict));
    assert_eq!(w.gw.adjust_balance("u1", -101, "buy-1", "shop"), Err(GatewayError::InsufficientBalance(100)));
    assert_eq!(w.gw.adjust_balance("u1", -100, "buy-1", "shop").unwrap().balance, 0);
    assert!(matches!(w.gw.adjust_balance("u1", 0, "zero", "x"), Err(GatewayError::Invalid { .. })));
    assert!(matches!(w.gw.adjust_balance("u1", 1, "", "x"), Err(GatewayError::Invalid { .. })));
    assert!(matches!(w.gw.adjust_balance("u1", 1, "k", &"x".repeat(201)), Err(GatewayError::Invalid { .. })));
    assert_eq!(w.gw.adjust_balance("u1", i64::MAX, "big-1", "x").unwrap().balance, i64::MAX as u64);
    assert_eq!(w.gw.adjust_balance("u1", i64::MAX, "big-2", "x").unwrap().balance, 2 * i64::MAX as u64);
    assert_eq!(w.gw.adjust_balance("u1", 2, "big-3", "x"), Err(GatewayError::Overflow));
    // Each change is stored with the record that explains it.
    let recs: Vec<(String, AdjustRec)> = w.store.all("adj/");
    assert_eq!(recs.len(), 4);
    let n_events = w.events().iter().filter(|e| matches!(e, Event::BalanceAdjusted { .. })).count();
    assert_eq!(n_events, 4);
}

#[test]
fn quotes_round_in_the_operators_favour() {
    let mut cfg = default_config();
    cfg.deposit_rate = Rate { game_units: 3, per_cwd_units: 7 };
    cfg.withdrawal_rate = Rate { game_units: 7, per_cwd_units: 3 };
    let mut w = World::with_config(21, cfg);
    let q = w.gw.quote_deposit(10).unwrap();
    assert_eq!(q.game, 4); // 30/7 = 4.28: floor
    let q = w.gw.quote_withdrawal(WithdrawalAmount::Game(10)).unwrap();
    assert_eq!((q.game, q.cwd), (10, 4)); // 30/7 = 4.28 CWD units: floor
    let q = w.gw.quote_withdrawal(WithdrawalAmount::Cwd(4)).unwrap();
    assert_eq!((q.game, q.cwd), (10, 4)); // 28/3 = 9.33 game units: ceil
    assert_eq!(w.gw.quote_withdrawal(WithdrawalAmount::Game(2)), Err(GatewayError::AmountTooSmall));
    assert_eq!(w.gw.quote_withdrawal(WithdrawalAmount::Cwd(u64::MAX)), Err(GatewayError::Overflow));
}

#[test]
fn weak_spot_amounts_are_integers() {
    let mut w = World::new(22);
    w.chain.borrow_mut().ints_as_strings = true; // the node writes every integer as a string
    w.chain.borrow_mut().accounts.iter_mut().find(|a| a.name == "alice").unwrap().balances.insert(0, 20_000_000_000);
    w.link("u1", "alice");
    // 71 000.00000 CWD: above 2^32 units, where floats and JS numbers start to lie.
    w.deposit("alice", 7_100_000_001);
    w.produce();
    w.settle();
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 1);
    let expected = (7_100_000_001u128 * 90 / 100_000) as u64; // 6 390 000.0009 → 6 390 000
    assert_eq!(w.balance("u1").0, expected);
    let recs: Vec<(String, DepositRec)> = w.store.all("dep/");
    assert_eq!(recs[0].1.cwd, 7_100_000_001);
    // A withdrawal's transfer carries an exact integer amount.
    let wd = w.gw.request_withdrawal("u1", WithdrawalAmount::Cwd(5_000_000_007), "w1").unwrap();
    assert_eq!(wd.game, 5_000_001); // ceil(5 000 000 007 × 100 / 100 000)
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let payouts = w.chain.borrow().gateway_payouts(w.gateway_id());
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0].1, 5_000_000_007);
    assert_eq!(w.balance("u1"), (expected - 5_000_001, 0));
}

#[test]
fn weak_spot_head_block_deposits_not_credited() {
    let mut w = World::new(23);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.produce(); // in the head block, not irreversible
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 0);
    assert_eq!(w.balance("u1").0, 0);
    w.produce(); // still within the irreversibility lag
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 0);
    w.settle();
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 1);
    assert_eq!(w.balance("u1").0, 90);
    assert!(w.events().iter().any(|e| matches!(e, Event::DepositCredited { user, game: 90, cwd: 100_000, .. } if user == "u1")));
}

#[test]
fn weak_spot_crash_between_credit_and_cursor_never_double_credits() {
    let mut w = World::new(24);
    w.link("u1", "alice");
    w.settle();
    w.gw.tick().unwrap(); // past the link message: the next commits are the deposits'
    w.deposit("alice", 100_000);
    w.deposit("alice", 200_000);
    w.produce();
    w.settle();
    // The database goes down mid-tick: nothing half-written.
    w.store.0.borrow_mut().fail_commits = 1;
    assert!(matches!(w.gw.tick(), Err(GatewayError::StoreUnavailable(_))));
    assert_eq!(w.balance("u1").0, 0);
    // The commit lands but the process dies before learning it: credits, records and
    // cursor went together (one commit for the page), so the restarted instance does
    // not credit again.
    w.store.0.borrow_mut().fail_after_commits = 1;
    assert!(w.gw.tick().is_err());
    assert_eq!(w.balance("u1").0, 270);
    assert_eq!(w.store.keys("dep/").len(), 2);
    w.restart();
    w.gw.tick().unwrap();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 270);
    assert_eq!(w.store.keys("dep/").len(), 2);
    // A second instance ticking over the same store credits nothing again.
    let mut other = w.second_instance();
    other.tick().unwrap();
    assert_eq!(w.balance("u1").0, 270);
}

#[test]
fn two_instances_interleaving_credit_each_deposit_once() {
    let mut w = World::new(25);
    w.link("u1", "alice");
    for i in 0..30 {
        w.deposit("alice", 100_000 + i);
    }
    w.produce();
    w.settle();
    let mut other = w.second_instance();
    // Every other commit of the first instance loses a race it must re-read.
    for _ in 0..5 {
        w.store.0.borrow_mut().conflict_commits = 1;
        let _ = w.gw.tick();
        let _ = other.tick();
    }
    assert_eq!(w.store.keys("dep/").len(), 30);
    assert_eq!(w.balance("u1").0, 30 * 90);
}

#[test]
fn weak_spot_unlinked_deposit_recorded() {
    let mut w = World::new(26);
    w.link("u1", "alice");
    w.deposit("bob", 300_000); // bob is linked to nobody
    w.chain.borrow_mut().accounts.iter_mut().find(|a| a.name == "alice").unwrap().balances.insert(7, 1_000);
    w.chain.borrow_mut().player_transfer("alice", GATEWAY, 500, 7); // another asset
    w.deposit("alice", 1_000); // 0.9 game units: too small to credit
    w.produce();
    w.settle();
    let r = w.gw.tick().unwrap();
    assert_eq!((r.deposits_credited, r.deposits_unclaimed), (0, 3));
    let reasons: Vec<UnclaimedReason> = w
        .events()
        .iter()
        .filter_map(|e| if let Event::DepositUnclaimed { reason, .. } = e { Some(*reason) } else { None })
        .collect();
    assert_eq!(reasons, vec![UnclaimedReason::UnlinkedSender, UnclaimedReason::OtherAsset, UnclaimedReason::TooSmall]);
    let open = w.gw.list_unclaimed(false, None, 10).unwrap();
    assert_eq!(open.len(), 3);
    assert_eq!(open[0].amount, 300_000);
    assert_eq!(open[0].from_account_id, format!("1.2.{}", w.id("bob")));
    let status = w.gw.status().unwrap();
    assert_eq!((status.unclaimed_count, status.unclaimed_cwd), (3, 301_000));

    // The operator assigns bob's deposit to a user, and marks the other asset for refund.
    let a = w.gw.assign_unclaimed("operator", &open[0].deposit_id, "u7").unwrap();
    assert_eq!(a.state, UnclaimedStateView::Assigned);
    assert_eq!(w.balance("u7").0, 270);
    assert_eq!(w.gw.assign_unclaimed("operator", &open[0].deposit_id, "u7"), Err(GatewayError::AlreadyResolved));
    assert_eq!(w.gw.assign_unclaimed("operator", &open[1].deposit_id, "u7"), Err(GatewayError::NotCwd));
    assert_eq!(w.gw.assign_unclaimed("operator", &open[2].deposit_id, "u7"), Err(GatewayError::AmountTooSmall));
    let r = w.gw.refund_unclaimed("operator", &open[1].deposit_id, "sent back by hand").unwrap();
    assert_eq!(r.state, UnclaimedStateView::RefundMarked);
    assert_eq!(w.gw.refund_unclaimed("operator", &open[1].deposit_id, "again"), Err(GatewayError::AlreadyResolved));
    assert_eq!(w.gw.refund_unclaimed("operator", "d-nope", "x"), Err(GatewayError::UnclaimedNotFound));
    assert_eq!(w.gw.list_unclaimed(false, None, 10).unwrap().len(), 1);
    assert_eq!(w.gw.list_unclaimed(true, None, 10).unwrap().len(), 3);
    assert_eq!(w.gw.list_unclaimed(true, Some(&open[0].deposit_id), 10).unwrap().len(), 2);
}

#[test]
fn weak_spot_history_paging_beyond_100() {
    let mut w = World::new(27);
    w.link("u1", "alice");
    w.link("u2", "bob");
    for i in 0..130 {
        w.deposit("alice", 100_000 + i);
        w.deposit("bob", 200_000 + i);
    }
    w.deposit("carol", 100_000);
    w.produce();
    w.produce();
    w.settle();
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 260);
    assert_eq!(r.deposits_unclaimed, 1);
    assert_eq!(w.balance("u1").0, 130 * 90);
    assert_eq!(w.balance("u2").0, 130 * 180);
    // Every history call stayed within the node's limit of 100 (the node refuses more).
    assert!(w.events().iter().all(|e| !matches!(e, Event::Alert(_))), "{:?}", w.events().iter().filter(|e| matches!(e, Event::Alert(_))).collect::<Vec<_>>());
    // Nothing new: nothing more.
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 0);
}

#[test]
fn two_deposits_in_one_block_are_both_credited() {
    let mut w = World::new(28);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.deposit("alice", 100_000); // same amount, same block: distinct positions
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 180);
    let ids = w.store.keys("dep/");
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn weak_spot_node_error_does_not_end_the_process() {
    let mut w = World::new(29);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    // Every kind of node failure on the tick's first call: the tick still answers.
    for e in [
        NodeError::Unreachable("connection refused".into()),
        NodeError::Timeout,
        NodeError::Rpc { code: 1, message: "boom".into() },
        NodeError::BadResponse("<html>".into()),
    ] {
        w.chain.borrow_mut().fault("get_dynamic_global_properties", Fault::Error(e));
        let r = w.gw.tick().unwrap();
        assert_eq!(r.node_errors, 1);
        assert!(r.next_tick_ms <= 10_000, "come back soon");
    }
    // History failing mid-scan, then garbage: no panic, no credit, an alert.
    w.chain.borrow_mut().fault("get_relative_account_history", Fault::Error(NodeError::Timeout));
    let r = w.gw.tick().unwrap();
    assert_eq!((r.node_errors, r.deposits_credited), (1, 0));
    assert!(w.events().iter().any(|e| matches!(e, Event::Alert(Alert::NodeTrouble { .. }))));
    // API calls answer a typed error that says when to retry.
    w.chain.borrow_mut().fault("lookup_account_names", Fault::Error(NodeError::Unreachable("down".into())));
    assert!(matches!(w.gw.start_link("u2", "bob"), Err(GatewayError::NodeUnavailable { retry_after_ms, .. }) if retry_after_ms > 0));
    // And everything carries on once the node is back.
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 1);
    w.gw.start_link("u2", "bob").unwrap();
    // A broken status answer is a `none` balance, not an error.
    w.chain.borrow_mut().fault("get_account_balances", Fault::Error(NodeError::Timeout));
    assert_eq!(w.gw.status().unwrap().cwd_balance, None);
}

#[test]
fn malformed_history_is_refused_not_trusted() {
    let mut w = World::new(30);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    // Break the op of the entry: the gateway does not crash and does not guess.
    {
        let mut c = w.chain.borrow_mut();
        let gid = c.id_of(GATEWAY);
        let h = c.history.get_mut(&gid).unwrap();
        let last = h.last_mut().unwrap();
        last.op = serde_json::json!("not an op");
    }
    let r = w.gw.tick().unwrap();
    assert_eq!(r.deposits_credited, 0);
    assert_eq!(r.node_errors, 1);
}

#[test]
fn unreadable_records_are_typed_errors_not_panics() {
    let mut w = World::new(31);
    w.gw.adjust_balance("u1", 5, "k", "r").unwrap();
    {
        let mut s = w.store.0.borrow_mut();
        s.data.get_mut("user/u1").unwrap().0 = b"{\"v\":99,\"r\":{}}".to_vec();
    }
    assert!(matches!(w.gw.account("u1"), Err(GatewayError::StoreUnavailable(m)) if m.contains("version 99")));
    {
        let mut s = w.store.0.borrow_mut();
        s.data.get_mut("user/u1").unwrap().0 = b"garbage".to_vec();
    }
    assert!(matches!(w.gw.adjust_balance("u1", 5, "k2", "r"), Err(GatewayError::StoreUnavailable(_))));
    assert_eq!(w.gw.deposit_instructions("u2"), Err(GatewayError::NotLinked));
    w.store.0.borrow_mut().fail_commits = 100;
    assert!(matches!(w.gw.adjust_balance("u3", 5, "k3", "r"), Err(GatewayError::StoreUnavailable(_))));
    w.store.0.borrow_mut().fail_commits = 0;
    w.store.0.borrow_mut().conflict_commits = 100;
    assert_eq!(w.gw.adjust_balance("u3", 5, "k3", "r"), Err(GatewayError::Busy));
}

#[test]
fn list_deposits_shows_a_users_credits_in_chain_order() {
    let mut w = World::new(27);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.produce();
    w.deposit("bob", 300_000); // bob is linked to nobody: unclaimed, then assigned to u1
    w.produce();
    w.deposit("alice", 200_000);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let open = w.gw.list_unclaimed(false, None, 10).unwrap();
    w.gw.assign_unclaimed("operator", &open[0].deposit_id, "u1").unwrap();

    let all = w.gw.list_deposits("u1", Order::OldestFirst, None, 10).unwrap();
    let seen: Vec<(u64, u64, bool)> = all.iter().map(|d| (d.cwd, d.game, d.assigned)).collect();
    assert_eq!(seen, vec![(100_000, 90, false), (300_000, 270, true), (200_000, 180, false)]);
    assert!(all.windows(2).all(|p| p[0].deposit_id < p[1].deposit_id), "chain order");
    assert_eq!(all[1].from_account_id, format!("1.2.{}", w.id("bob")));
    assert!(all.iter().all(|d| d.user == "u1" && d.credited_at_ms > 0));
    // What the list shows is what the balance holds.
    assert_eq!(all.iter().map(|d| d.game).sum::<u64>(), w.balance("u1").0);

    // Pages follow on from the last id.
    let first = w.gw.list_deposits("u1", Order::OldestFirst, None, 2).unwrap();
    assert_eq!(first, all[..2]);
    assert_eq!(w.gw.list_deposits("u1", Order::OldestFirst, Some(&first[1].deposit_id), 2).unwrap(), all[2..]);
    assert_eq!(w.gw.list_deposits("u1", Order::OldestFirst, Some(&all[2].deposit_id), 2).unwrap(), vec![]);

    assert_eq!(w.gw.list_deposits("u2", Order::OldestFirst, None, 10).unwrap(), vec![]);
    assert_eq!(w.gw.list_deposits("not a user!", Order::OldestFirst, None, 10), Err(GatewayError::BadUserId));
    assert!(matches!(w.gw.list_deposits("u1", Order::OldestFirst, None, 0), Err(GatewayError::Invalid { .. })));
    assert!(matches!(w.gw.list_deposits("u1", Order::OldestFirst, None, 501), Err(GatewayError::Invalid { .. })));
}
