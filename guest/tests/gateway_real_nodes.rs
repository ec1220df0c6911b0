//! What real crowdwiz-core nodes do that a naive node does not (issue: "a gateway that
//! survives what real nodes do"): operations sharing one history position (proposals,
//! mass payments), CWD arriving by operations other than `transfer`, pruned or absent
//! account history, and the chain's real maximum expiration.

mod support;

use cwd_gateway_guest::events::{Alert, Event, UnclaimedReason};
use cwd_gateway_guest::records::{Cursor, DepositRec, UnclaimedRec};
use serde_json::json;
use support::*;

fn credited(w: &World) -> Vec<(String, u64)> {
    w.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::DepositCredited { deposit_id, cwd, .. } => Some((deposit_id, cwd)),
            _ => None,
        })
        .collect()
}

fn untrusted_alerts(w: &World) -> Vec<(String, bool)> {
    w.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Alert(Alert::HistoryUntrusted { detail, switched }) => Some((detail, switched)),
            _ => None,
        })
        .collect()
}

/// Balance + frozen of every user equals what the deposit records credited (no game
/// changes or withdrawals in these tests).
fn assert_ledger_matches_deposits(w: &mut World, users: &[&str]) {
    let deposits: Vec<(String, DepositRec)> = w.store.all("dep/");
    for user in users {
        let credited: u64 = deposits.iter().filter(|(_, d)| d.user == *user).map(|(_, d)| d.game).sum();
        let (balance, frozen) = w.balance(user);
        assert_eq!(balance + frozen, credited, "ledger of {user}");
    }
}

#[test]
fn two_transfers_in_one_executed_proposal_each_credit_once() {
    let mut w = World::new(200);
    w.link("u1", "alice");
    w.chain.borrow_mut().proposal_transfers("alice", &[("alice", GATEWAY, 100_000), ("alice", GATEWAY, 200_000)], false);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    // A crash and a second tick change nothing.
    w.restart();
    w.gw.tick().unwrap();
    let got = credited(&w);
    assert_eq!(got.len(), 2, "both transfers credited: {got:?}");
    assert_ne!(got[0].0, got[1].0, "distinct deposit ids");
    assert!(got[1].0.starts_with(&got[0].0) && got[1].0.ends_with("-00001"), "the second is the next occurrence: {got:?}");
    assert_eq!(w.balance("u1").0, 90 + 180);
    assert_eq!(w.store.keys("dep/").len(), 2);
    assert_ledger_matches_deposits(&mut w, &["u1"]);
}

#[test]
fn two_proposals_expiring_in_one_block_each_credit_once() {
    let mut w = World::new(201);
    w.link("u1", "alice");
    w.link("u2", "bob");
    w.deposit("carol", 50_000); // an ordinary transaction in the same block
    w.chain.borrow_mut().proposal_transfers("alice", &[("alice", GATEWAY, 100_000), ("alice", GATEWAY, 100_000)], true);
    w.chain.borrow_mut().proposal_transfers("bob", &[("bob", GATEWAY, 300_000)], true);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let got = credited(&w);
    assert_eq!(got.len(), 3, "{got:?}");
    let mut ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(w.balance("u1").0, 180);
    assert_eq!(w.balance("u2").0, 270);
    assert_eq!(w.gw.list_unclaimed(false, None, 100).unwrap().len(), 1, "carol is not linked");
    assert_ledger_matches_deposits(&mut w, &["u1", "u2"]);
}

#[test]
fn shared_positions_across_history_pages_and_restarts_are_numbered_once() {
    let mut w = World::new(202);
    w.link("u1", "alice");
    // 150 transfers in one proposal: more than a history page (100) at one position.
    let transfers: Vec<(&str, &str, i64)> = (0..150).map(|_| ("alice", GATEWAY, 2_000)).collect();
    w.chain.borrow_mut().proposal_transfers("alice", &transfers, false);
    w.produce();
    w.settle();
    // The instance is replaced after every tick (a crash between pages).
    let cursor_before: Cursor = w.store.record("cursor").unwrap_or_default();
    for _ in 0..4 {
        w.gw.tick().unwrap();
        w.restart();
    }
    let cursor: Cursor = w.store.record("cursor").unwrap();
    assert!(cursor.seq > cursor_before.seq + 150);
    let deps: Vec<(String, DepositRec)> = w.store.all("dep/");
    assert_eq!(deps.len(), 150, "each transfer credited exactly once");
    let mut ids: Vec<String> = credited(&w).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 150);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 150, "no two operations share a deposit id");
    assert_eq!(w.balance("u1").0, 150); // 2 000 units at 90 per CWD: 1.8 → 1 each
    assert_ledger_matches_deposits(&mut w, &["u1"]);
}

#[test]
fn mass_payment_and_approved_transfer_are_recorded_not_credited_and_never_lost() {
    let mut w = World::new(203);
    w.link("u1", "alice");
    w.chain.borrow_mut().mass_payment("alice", &[(GATEWAY, 500_000), ("bob", 1_000), (GATEWAY, 700_000)]);
    w.produce();
    let approve = json!([100, {"fee": {"amount": 0, "asset_id": "1.3.0"}, "from": format!("1.2.{}", w.id("alice")),
        "to": format!("1.2.{}", w.gateway_id()), "arbitr": format!("1.2.{}", w.id("carol")),
        "amount": {"amount": 250_000, "asset_id": "1.3.0"}, "ato": "1.20.3"}]);
    w.chain.borrow_mut().raw_op(approve, &["alice", GATEWAY, "carol"], &[]);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 0, "funds that did not come by transfer are never credited automatically");
    let unclaimed: Vec<(String, UnclaimedRec)> = w.store.all("unc/");
    let mut seen: Vec<(u64, u64)> = unclaimed.iter().map(|(_, u)| (u.op_id, u.amount)).collect();
    seen.sort();
    assert_eq!(seen, vec![(100, 250_000), (105, 500_000), (105, 700_000)]);
    assert!(unclaimed.iter().all(|(_, u)| u.reason == UnclaimedReason::NotATransfer && u.from_account_id == w.id("alice")));
    let events = w.events();
    let announced = events.iter().filter(|e| matches!(e, Event::DepositUnclaimed { reason: UnclaimedReason::NotATransfer, .. })).count();
    assert_eq!(announced, 3);
    // The operator can still assign them: the amounts are exact.
    let views = w.gw.list_unclaimed(false, None, 10).unwrap();
    assert!(views.iter().all(|v| v.reason.contains("not by a transfer")), "{views:?}");
    for v in &views {
        w.gw.assign_unclaimed("operator", &v.deposit_id, "u1").unwrap();
    }
    assert_eq!(w.balance("u1").0, 90 * 5 + 90 * 7 + 225);
}

#[test]
fn an_unknown_operation_naming_an_amount_is_recorded() {
    let mut w = World::new(204);
    // flipcoin_win (52): a game payout to the gateway account, unknown to the gateway.
    let win = json!([52, {"fee": {"amount": 0, "asset_id": "1.3.0"}, "flipcoin": "1.21.9", "winner": format!("1.2.{}", w.gateway_id()),
        "payout": {"amount": 42_000, "asset_id": "1.3.0"}, "referral_payout": {"amount": 0, "asset_id": "1.3.0"}}]);
    w.chain.borrow_mut().raw_op(win, &[GATEWAY], &[]);
    // A proposal the gateway is asked to approve moves nothing by itself.
    let prop = json!([22, {"fee": {"amount": 100, "asset_id": "1.3.0"}, "fee_paying_account": format!("1.2.{}", w.id("bob")),
        "expiration_time": "2030-01-01T00:00:00", "proposed_ops": [], "extensions": []}]);
    w.chain.borrow_mut().raw_op(prop, &["bob", GATEWAY], &[]);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let unclaimed: Vec<(String, UnclaimedRec)> = w.store.all("unc/");
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    let u = &unclaimed[0].1;
    assert_eq!((u.op_id, u.amount, u.reason), (52, 42_000, UnclaimedReason::UnrecognisedOperation));
}

#[test]
fn pruned_history_is_never_read_as_nothing_new_and_the_scan_moves_to_another_node() {
    let mut w = World::new(205);
    w.link("u1", "alice");
    w.gw.tick().unwrap();
    let cursor: Cursor = w.store.record("cursor").unwrap();
    // Many deposits arrive while the gateway is down; the node keeps only 5 operations.
    for _ in 0..12 {
        w.deposit("alice", 100_000);
        w.produce();
    }
    w.settle();
    {
        let mut c = w.chain.borrow_mut();
        c.history_modes = vec![HistoryMode::MaxOps(5)];
        let gw = c.id_of(GATEWAY);
        assert!(c.history_stats(gw).1 > cursor.seq, "the node pruned past the cursor");
    }
    w.take_events();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 0, "nothing credited from a pruned history");
    let after: Cursor = w.store.record("cursor").unwrap();
    assert_eq!(after.seq, cursor.seq, "the cursor never jumps over pruned operations");
    let alerts = untrusted_alerts(&w);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].0.contains("pruned") && !alerts[0].1, "{alerts:?}");
    // Withdrawals wait for a complete scan.
    w.gw.adjust_balance("u1", 1_000, "seed", "x").unwrap();
    w.gw.request_withdrawal("u1", cwd_gateway_guest::rates::WithdrawalAmount::Game(1_000), "w1").unwrap();
    w.gw.tick().unwrap();
    assert!(w.chain.borrow().gateway_payouts(w.gateway_id()).is_empty(), "no payout while the scan is incomplete");

    // With a second, full node configured the gateway fails over and catches up.
    w.chain.borrow_mut().history_modes = vec![HistoryMode::MaxOps(5), HistoryMode::Full];
    w.take_events();
    w.gw.tick().unwrap();
    let alerts = untrusted_alerts(&w);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].1, "switched to the other node");
    assert_eq!(w.chain.borrow().current_node, 1);
    assert_eq!(w.balance("u1").0, 12 * 90, "every deposit credited once");
    assert_eq!(w.store.keys("dep/").len(), 12);
    // And the withdrawal waiting for the scan goes out.
    w.produce();
    w.gw.tick().unwrap();
    assert_eq!(w.chain.borrow().gateway_payouts(w.gateway_id()).len(), 1);
}

#[test]
fn a_node_keeping_no_history_for_the_gateway_is_never_trusted() {
    let mut w = World::new(206);
    w.link("u1", "alice");
    w.chain.borrow_mut().history_modes = vec![HistoryMode::None];
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    w.take_events();
    let report = w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 0);
    assert!(report.node_errors > 0, "the tick says it could not scan");
    let alerts = untrusted_alerts(&w);
    assert!(alerts.iter().any(|(d, _)| d.contains("keeps no history")), "{alerts:?}");
    // Once a node with history is there, the deposit is credited.
    w.chain.borrow_mut().history_modes = vec![HistoryMode::None, HistoryMode::Full];
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 90);
}

#[test]
fn a_short_history_page_is_not_trusted() {
    let mut w = World::new(207);
    w.link("u1", "alice");
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    // The statistics promise entries that the history call does not return (a node
    // that pruned between the two calls, or a broken one).
    w.chain.borrow_mut().fault("get_relative_account_history", Fault::Answer(json!([])));
    w.take_events();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 0);
    assert!(untrusted_alerts(&w).iter().any(|(d, _)| d.contains("statistics promise")));
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 90);
}
