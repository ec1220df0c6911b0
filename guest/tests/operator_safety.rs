//! Operator safety (issue 9): a stuck credit never stalls the scan, alerts are worth
//! reading, unsent withdrawals can be cancelled, no blind payout after a restore, and
//! link codes are unreadable from a database copy.

mod support;

use cwd_gateway_guest::alerts::ALERT_EVERY_MS;
use cwd_gateway_guest::events::{Alert, Event, UnclaimedReason};
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::ports::NodeError;
use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::{Cursor, PendingLink, UserRec, WdState};
use sha2::{Digest, Sha256};
use support::*;

fn alerts(w: &World) -> Vec<Alert> {
    w.events()
        .into_iter()
        .filter_map(|e| {
            if let Event::Alert(a) = e {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

fn payouts(w: &World) -> usize {
    w.chain.borrow().gateway_payouts(w.gateway_id()).len()
}

fn set_gateway_cwd(w: &World, cwd: i64) {
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.name == GATEWAY)
        .unwrap()
        .balances
        .insert(0, cwd);
}

/// A copy of the whole database (values with versions, and version counters).
type Backup = (
    std::collections::BTreeMap<String, (Vec<u8>, u64)>,
    std::collections::HashMap<String, u64>,
);

/// A copy of the whole database, as a backup.
fn backup(w: &World) -> Backup {
    let s = w.store.0.borrow();
    (s.data.clone(), s.versions.clone())
}

fn restore(w: &mut World, b: &Backup) {
    {
        let mut s = w.store.0.borrow_mut();
        s.data = b.0.clone();
        s.versions = b.1.clone();
    }
    w.restart();
}

/// u1 on alice and u2 on bob, 10,000 game units each, everything scanned.
fn two_funded_users(seed: u64) -> World {
    let mut w = World::new(seed);
    w.link("u1", "alice");
    w.link("u2", "bob");
    w.gw.adjust_balance("u1", 10_000, "s1", "").unwrap();
    w.gw.adjust_balance("u2", 10_000, "s2", "").unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w
}

#[test]
fn overflow_deposit_followed_by_other_users_deposits_all_credited_or_recorded() {
    let mut w = World::new(90);
    w.link("rich", "alice");
    w.link("u-bob", "bob");
    // Near 2^64: any credit overflows.
    w.gw.adjust_balance("rich", i64::MAX, "k1", "").unwrap();
    w.gw.adjust_balance("rich", i64::MAX, "k2", "").unwrap();
    let rich_before = w.balance("rich").0;
    w.deposit("alice", 1_000_000);
    w.deposit("bob", 200_000);
    w.deposit("carol", 300_000); // unlinked sender
    w.produce();
    w.deposit("bob", 100_000);
    w.settle();
    w.take_events();
    w.gw.tick().unwrap();
    // Bob got both deposits, the overflow is recorded with its reason, carol's too.
    assert_eq!(w.balance("u-bob").0, 270);
    assert_eq!(w.balance("rich").0, rich_before);
    let unc = w.gw.list_unclaimed(false, None, 100).unwrap();
    assert_eq!(unc.len(), 2, "{unc:?}");
    assert_eq!(unc[0].amount, 1_000_000);
    assert_eq!(
        unc[0].reason,
        "crediting it would overflow the user's balance"
    );
    let reasons: Vec<UnclaimedReason> = w
        .events()
        .iter()
        .filter_map(|e| {
            if let Event::DepositUnclaimed { reason, .. } = e {
                Some(*reason)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            UnclaimedReason::CreditOverflow,
            UnclaimedReason::UnlinkedSender
        ]
    );
    // The scan went through: the cursor reached the irreversible block.
    let c: Cursor = w.store.record("cursor").unwrap();
    assert_eq!(c.through_block, w.chain.borrow().lib());
    // The operator can still assign it elsewhere.
    w.gw.assign_unclaimed("operator", &unc[0].deposit_id, "u-bob").unwrap();
    assert_eq!(w.balance("u-bob").0, 270 + 900);
}

#[test]
fn hundred_healthy_withdrawals_deposits_and_links_raise_no_alert() {
    let mut cfg = default_config();
    cfg.low_fee_balance_cwd = 1_000; // far below the gateway's funds
    let mut w = World::with_config(91, cfg);
    let names: Vec<String> = (0..100).map(|i| format!("player{i:03}")).collect();
    for n in &names {
        w.chain.borrow_mut().create_account(n, 100_000_000);
    }
    for (i, n) in names.iter().enumerate() {
        w.link(&format!("u{i}"), n);
        w.deposit(n, 2_000_000);
    }
    w.settle();
    w.gw.tick().unwrap();
    for i in 0..100 {
        assert_eq!(w.balance(&format!("u{i}")).0, 1_800);
        w.gw.request_withdrawal(&format!("u{i}"), Game(1_000), &format!("wd{i}"))
            .unwrap();
    }
    // Tick every block: each sent withdrawal is rebroadcast while it waits.
    for _ in 0..12 {
        w.gw.tick().unwrap();
        w.produce();
    }
    w.gw.tick().unwrap();
    for i in 0..100 {
        assert_eq!(w.balance(&format!("u{i}")), (800, 0), "u{i}");
    }
    assert_eq!(payouts(&w), 100);
    assert_eq!(alerts(&w), vec![], "healthy work raised alerts");
}

#[test]
fn rebroadcast_answered_duplicate_is_success_other_refusals_alert_once_per_hour() {
    let mut w = World::new(92);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "").unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    w.gw.tick().unwrap();
    // The node already has it: "duplicate transaction" on every rebroadcast.
    for _ in 0..3 {
        w.gw.tick().unwrap();
    }
    assert_eq!(alerts(&w), vec![]);
    // A real refusal alerts, once per hour per withdrawal, even across a restart.
    for _ in 0..3 {
        w.chain.borrow_mut().fault(
            "broadcast_transaction",
            Fault::Error(NodeError::Rpc {
                code: 10,
                message: "tx_missing_active_auth".into(),
            }),
        );
        w.gw.tick().unwrap();
        w.restart();
    }
    let refused = |w: &World| {
        alerts(w)
            .iter()
            .filter(|a| matches!(a, Alert::BroadcastRefused { .. }))
            .count()
    };
    assert_eq!(refused(&w), 1);
    w.clock.set(w.clock.get() + ALERT_EVERY_MS);
    w.chain.borrow_mut().fault(
        "broadcast_transaction",
        Fault::Error(NodeError::Rpc {
            code: 10,
            message: "tx_missing_active_auth".into(),
        }),
    );
    w.gw.tick().unwrap();
    assert_eq!(refused(&w), 2);
    let _ = wd;
}

#[test]
fn node_trouble_alerts_are_rate_limited_across_restarts() {
    let mut w = World::new(93);
    for _ in 0..5 {
        w.chain.borrow_mut().fault(
            "get_dynamic_global_properties",
            Fault::Error(NodeError::Unreachable("down".into())),
        );
        w.gw.tick().unwrap();
        w.restart();
        w.clock.set(w.clock.get() + 60_000);
    }
    assert_eq!(alerts(&w).len(), 1, "{:?}", alerts(&w));
    w.clock.set(w.clock.get() + ALERT_EVERY_MS);
    w.chain.borrow_mut().fault(
        "get_dynamic_global_properties",
        Fault::Error(NodeError::Unreachable("down".into())),
    );
    w.gw.tick().unwrap();
    assert_eq!(alerts(&w).len(), 2);
}

#[test]
fn cancel_of_an_unfundable_withdrawal() {
    let mut w = World::new(94);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "").unwrap();
    set_gateway_cwd(&w, 400_000);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    assert_eq!(wd.cwd, 1_000_000);
    // Ticks for most of an hour: one alert, with the shortfall (payout + fee - funds).
    for _ in 0..50 {
        w.gw.tick().unwrap();
        w.clock.set(w.clock.get() + 60_000);
    }
    let unfunded: Vec<Alert> = alerts(&w)
        .into_iter()
        .filter(|a| matches!(a, Alert::PayoutUnfunded { .. }))
        .collect();
    assert_eq!(
        unfunded,
        vec![Alert::PayoutUnfunded {
            withdrawal_id: wd.withdrawal_id.clone(),
            balance: 400_000,
            shortfall: 1_000_000 + TRANSFER_FEE as u64 - 400_000
        }]
    );
    // The books see it too: the gateway holds less than it owes (once an hour).
    let (books, others): (Vec<Alert>, Vec<Alert>) =
        alerts(&w).into_iter().partition(|a| matches!(a, Alert::BooksMismatch { .. }));
    assert_eq!(books.len(), 1, "{books:?}");
    assert_eq!(others.len(), 1, "{others:?}");
    w.clock.set(w.clock.get() + ALERT_EVERY_MS);
    w.gw.tick().unwrap();
    let unfunded = alerts(&w).into_iter().filter(|a| matches!(a, Alert::PayoutUnfunded { .. })).count();
    assert_eq!(unfunded, 2, "repeated after an hour");
    // Neither reject nor unlink can free it; cancel does, in one commit, with an event.
    assert_eq!(
        w.gw.reject_withdrawal("operator", &wd.withdrawal_id, "x"),
        Err(GatewayError::NotAwaitingReview)
    );
    assert_eq!(w.gw.unlink("u1"), Err(GatewayError::WithdrawalsPending));
    assert_eq!(w.balance("u1"), (9_000, 1_000));
    let commits = w.store.0.borrow().commits;
    let c =
        w.gw.cancel_withdrawal("operator", &wd.withdrawal_id, "cannot be funded")
            .unwrap();
    assert_eq!(w.store.0.borrow().commits, commits + 1);
    assert_eq!(
        (c.state, c.note.as_deref()),
        (WdState::Cancelled, Some("cannot be funded"))
    );
    assert_eq!(w.balance("u1"), (10_000, 0));
    assert!(w.events().iter().any(|e| matches!(e, Event::WithdrawalCancelled { withdrawal, reason } if withdrawal.withdrawal_id == wd.withdrawal_id && reason == "cannot be funded")));
    assert_eq!(
        w.gw.cancel_withdrawal("operator", &wd.withdrawal_id, "again"),
        Err(GatewayError::NotCancellable)
    );
    assert_eq!(
        w.gw.cancel_withdrawal("operator", "w9999999999", ""),
        Err(GatewayError::WithdrawalNotFound)
    );
    // Funded again later: nothing goes out for it.
    set_gateway_cwd(&w, 1_000_000_000);
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(payouts(&w), 0);
    assert_eq!(w.gw.status().unwrap().pending_withdrawals, 0);
    w.gw.unlink("u1").unwrap();
}

#[test]
fn a_sent_withdrawal_cannot_be_cancelled() {
    let mut w = World::new(95);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "").unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.cancel_withdrawal("operator", &wd.withdrawal_id, "late"),
        Err(GatewayError::NotCancellable)
    );
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(payouts(&w), 1);
}

#[test]
fn restore_from_a_backup_taken_before_the_payout_pays_once_and_pauses_until_acknowledged() {
    let mut w = two_funded_users(96);
    let old = backup(&w);
    let paid = w.gw.request_withdrawal("u1", Game(1_000), "a").unwrap();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&paid.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(payouts(&w), 1);

    // The database is restored from the old backup: the payout is forgotten.
    restore(&mut w, &old);
    w.take_events();
    let again = w.gw.request_withdrawal("u2", Game(2_000), "b").unwrap();
    assert_eq!(
        again.withdrawal_id, paid.withdrawal_id,
        "the restored store reuses the id"
    );
    for _ in 0..5 {
        w.gw.tick().unwrap();
        w.produce();
    }
    assert_eq!(
        payouts(&w),
        1,
        "nothing is paid while the unknown payout is not acknowledged"
    );
    assert_eq!(
        w.gw.get_withdrawal(&again.withdrawal_id).unwrap().state,
        WdState::Queued
    );
    let unknown: Vec<Alert> = alerts(&w)
        .into_iter()
        .filter(|a| matches!(a, Alert::UnknownPayout { .. }))
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", alerts(&w));
    let Alert::UnknownPayout {
        deposit_id,
        amount,
        memo_withdrawal_id,
        to_account_id,
        ..
    } = &unknown[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (*amount, memo_withdrawal_id.as_str(), to_account_id.clone()),
        (
            1_000_000,
            paid.withdrawal_id.as_str(),
            format!("1.2.{}", w.id("alice"))
        )
    );
    assert!(w.gw.status().unwrap().payouts_paused);
    let listed = w.gw.list_unknown_payouts(false).unwrap();
    assert_eq!(listed.len(), 1);
    // The nonces differ: the new withdrawal is not mistaken for the old payout.
    let recs: Vec<(String, cwd_gateway_guest::records::WithdrawalRec)> = w.store.all("wd/");
    assert_eq!(recs[0].1.state, WdState::Queued);

    assert_eq!(
        w.gw.acknowledge_unknown_payout("operator", "d-0000000001-00000-00000", ""),
        Err(GatewayError::UnknownPayoutNotFound)
    );
    w.gw.acknowledge_unknown_payout("operator", deposit_id, "restored from backup; u1 paid outside")
        .unwrap();
    assert_eq!(
        w.gw.acknowledge_unknown_payout("operator", deposit_id, ""),
        Err(GatewayError::AlreadyResolved)
    );
    assert!(!w.gw.status().unwrap().payouts_paused);
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&again.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(payouts(&w), 2);
    assert_eq!(
        alerts(&w)
            .iter()
            .filter(|a| matches!(a, Alert::UnknownPayout { .. }))
            .count(),
        1
    );
}

#[test]
fn restore_from_a_backup_with_the_withdrawal_queued_confirms_it_instead_of_paying_again() {
    let mut w = World::new(97);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "s1", "").unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "a").unwrap();
    let old = backup(&w);
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(payouts(&w), 1);
    restore(&mut w, &old);
    w.take_events();
    for _ in 0..5 {
        w.gw.tick().unwrap();
        w.produce();
    }
    assert_eq!(payouts(&w), 1);
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(w.balance("u1"), (9_000, 0));
    assert_eq!(alerts(&w), vec![]);
}

#[test]
fn no_withdrawal_is_sent_before_the_scan_reaches_the_irreversible_block() {
    let mut w = World::new(98);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "s1", "").unwrap();
    w.settle();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "a").unwrap();
    // The history call fails: the scan is incomplete, so nothing is sent.
    w.chain.borrow_mut().fault(
        "get_relative_account_history",
        Fault::Error(NodeError::Timeout),
    );
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Queued
    );
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Sent
    );
}

#[test]
fn recovering_a_code_from_a_database_copy_fails_without_the_key() {
    let mut w = World::new(99);
    w.gw.start_link("u1", "alice").unwrap();
    let code = w.read_code("alice");
    let copy = w.store.dump();
    assert!(!copy.contains(&code), "the code is not in the database");
    let u: UserRec = w.store.record("user/u1").unwrap();
    let p: PendingLink = u.pending.unwrap();
    let salt = hex::decode(&p.salt).unwrap();
    let stored = hex::decode(&p.code_hash).unwrap();
    // An attacker with the copy tries every 6-digit code with every hash they can
    // compute from it: plain salted SHA-256, and HMAC under the keys a copy offers.
    let candidates_keys: Vec<[u8; 32]> = vec![
        [0u8; 32],
        Sha256::digest(&salt).into(),
        Sha256::digest(copy.as_bytes()).into(),
    ];
    let mut found = Vec::new();
    for n in 0..1_000_000u32 {
        let guess = format!("{n:06}");
        let mut h = Sha256::new();
        h.update(b"crowdwiz-gateway/link-code/v1\0");
        h.update(&salt);
        h.update(b"u1\0");
        h.update(p.account_id.to_le_bytes());
        h.update(guess.as_bytes());
        if h.finalize().as_slice() == stored.as_slice() {
            found.push(guess.clone());
        }
    }
    // Keyed guesses: the real code itself does not match under any key a copy offers.
    for k in &candidates_keys {
        assert_ne!(
            cwd_gateway_guest::linking::code_hash(k, &salt, "u1", p.account_id, &code).as_slice(),
            stored.as_slice()
        );
    }
    assert!(found.is_empty(), "recovered {found:?}");
    // With the gateway's memo key (never stored) the stored hash is the code's.
    let key = cwd_gateway_guest::linking::code_key(&key_for(GATEWAY, "memo"));
    assert_eq!(
        cwd_gateway_guest::linking::code_hash(&key, &salt, "u1", p.account_id, &code).as_slice(),
        stored.as_slice()
    );
    w.gw.confirm_link("u1", &code).unwrap();
}

#[test]
fn restore_right_after_a_payout_still_reversible_sends_nothing_until_it_is_seen() {
    let mut w = two_funded_users(100);
    let old = backup(&w);
    w.gw.request_withdrawal("u1", Game(1_000), "a").unwrap();
    w.gw.tick().unwrap();
    w.produce(); // included, not irreversible
    restore(&mut w, &old);
    w.gw.request_withdrawal("u2", Game(2_000), "b").unwrap();
    w.gw.tick().unwrap();
    assert_eq!(
        payouts(&w),
        1,
        "the reversible unknown payout holds new payouts"
    );
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(payouts(&w), 1);
    assert!(w.gw.status().unwrap().payouts_paused);
    assert_eq!(
        alerts(&w)
            .iter()
            .filter(|a| matches!(a, Alert::UnknownPayout { .. }))
            .count(),
        1
    );
}

/// A node that lets the operator cancel a withdrawal (through another instance) while
/// a tick is building its transaction.
struct CancelDuring {
    inner: SimNode,
    other: std::rc::Rc<std::cell::RefCell<Option<cwd_gateway_guest::gateway::Gateway>>>,
    id: String,
}

impl cwd_gateway_guest::ports::Node for CancelDuring {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        if method == "get_required_fees" {
            if let Some(mut g) = self.other.borrow_mut().take() {
                g.cancel_withdrawal("operator", &self.id, "operator")
                    .expect("cancelled while being built");
            }
        }
        self.inner.call(api, method, params)
    }
}

#[test]
fn cancel_racing_a_tick_that_builds_the_transfer_sends_nothing() {
    let mut w = World::new(101);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "").unwrap();
    w.settle();
    w.gw.tick().unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    let other = std::rc::Rc::new(std::cell::RefCell::new(Some(w.second_instance())));
    let mut g = cwd_gateway_guest::gateway::Gateway::new(cwd_gateway_guest::ports::Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(CancelDuring {
            inner: SimNode(w.chain.clone()),
            other: other.clone(),
            id: wd.withdrawal_id.clone(),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    g.configure(w.config.clone(), gateway_keys()).unwrap();
    let broadcasts = |w: &World| {
        w.chain
            .borrow()
            .calls
            .iter()
            .filter(|c| *c == "network_broadcast.broadcast_transaction")
            .count()
    };
    let before = broadcasts(&w);
    let r = g.tick().unwrap();
    assert!(other.borrow().is_none(), "the cancel ran during the tick");
    assert_eq!(r.withdrawals_sent, 0);
    assert_eq!(
        broadcasts(&w),
        before,
        "nothing broadcast for a cancelled withdrawal"
    );
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(payouts(&w), 0);
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Cancelled
    );
    assert_eq!(w.balance("u1"), (10_000, 0));
}

#[test]
fn alert_marks_are_forgotten_after_the_window() {
    let mut w = World::new(102);
    w.chain.borrow_mut().fault(
        "get_dynamic_global_properties",
        Fault::Error(NodeError::Unreachable("down".into())),
    );
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("alert/").len(), 1);
    w.clock.set(w.clock.get() + ALERT_EVERY_MS);
    w.gw.tick().unwrap();
    assert!(w.store.keys("alert/").is_empty());
}

#[test]
fn an_unreadable_user_record_does_not_stall_other_users_deposits() {
    let mut w = World::new(103);
    w.link("broken", "alice");
    w.link("u-bob", "bob");
    // The user's record is damaged in the database.
    w.store
        .0
        .borrow_mut()
        .data
        .get_mut("user/broken")
        .unwrap()
        .0 = b"{not json".to_vec();
    w.deposit("alice", 1_000_000);
    w.deposit("bob", 200_000);
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u-bob").0, 180);
    let unc = w.gw.list_unclaimed(false, None, 10).unwrap();
    assert_eq!(
        (unc.len(), unc[0].reason.as_str()),
        (1, "the user's record could not be read")
    );
    let c: Cursor = w.store.record("cursor").unwrap();
    assert_eq!(c.through_block, w.chain.borrow().lib());
}
