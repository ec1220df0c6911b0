//! Withdrawals: freezing, limits, review, sending, rebroadcasting, expiry, and the weak
//! spot of the original example (broadcast first, debit after).

mod support;

use cwd_gateway_guest::events::{Event, WithdrawalFailure};
use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::ports::NodeError;
use cwd_gateway_guest::rates::WithdrawalAmount::{Cwd, Game};
use cwd_gateway_guest::records::{Order, WdState, WithdrawalRec};
use cwd_gateway_guest::views::WithdrawalFilter;
use support::*;

fn funded(seed: u64, cfg: cwd_gateway_guest::config::Config) -> World {
    let mut w = World::with_config(seed, cfg);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "test funds")
        .unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.take_events();
    w
}

fn payouts(w: &World) -> Vec<(u64, i64, u64, u32)> {
    w.chain.borrow().gateway_payouts(w.gateway_id())
}

#[test]
fn withdrawal_freezes_then_pays_once_and_completes_when_irreversible() {
    let mut w = funded(40, default_config());
    let alice_before = w.chain.borrow().balance("alice", 0);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    assert_eq!(
        (wd.game, wd.cwd, wd.state),
        (1_000, 1_000_000, WdState::Queued)
    );
    assert_eq!(w.balance("u1"), (9_000, 1_000));
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Sent);
    let tx_id = v.tx_id.clone().unwrap();
    // Included but not irreversible: still frozen, still "sent".
    w.produce();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Sent
    );
    assert_eq!(w.balance("u1"), (9_000, 1_000));
    w.settle();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Confirmed);
    assert_eq!(v.tx_id.as_deref(), Some(tx_id.as_str()));
    assert!(v.block_num.is_some());
    assert_eq!(w.balance("u1"), (9_000, 0));
    assert_eq!(
        w.chain.borrow().balance("alice", 0),
        alice_before + 1_000_000
    );
    assert_eq!(payouts(&w).len(), 1);
    let kinds: Vec<&str> = w
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::WithdrawalRequested(_) => Some("requested"),
            Event::WithdrawalSent { .. } => Some("sent"),
            Event::WithdrawalConfirmed { .. } => Some("confirmed"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec!["requested", "sent", "confirmed"]);
    // The payout's memo names the withdrawal, readable by alice.
    let alice_hist = w.chain.borrow().history[&w.id("alice")].clone();
    let m = &alice_hist.last().unwrap().op[1]["memo"];
    let c = w.chain.borrow();
    let a = c.account("alice");
    let from: cwd_gateway_guest::keys::PublicKey = m["from"].as_str().unwrap().parse().unwrap();
    let text = cwd_gateway_guest::memo::decrypt(
        &a.memo,
        &from,
        cwd_gateway_guest::json::int_u64(&m["nonce"], "n").unwrap(),
        &hex::decode(m["message"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert!(text.contains(&wd.withdrawal_id), "{text}");
}

#[test]
fn weak_spot_withdrawal_timeout_after_broadcast_pays_once() {
    let mut w = funded(41, default_config());
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    // The node applies the broadcast but the answer times out.
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::TimeoutAfterApply);
    let r = w.gw.tick().unwrap();
    assert_eq!(r.node_errors, 1);
    let first = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(first.state, WdState::Sent);
    // The player, impatient, asks again with the same key: same withdrawal, nothing new.
    let again = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    assert_eq!(again.withdrawal_id, wd.withdrawal_id);
    assert_eq!(
        w.balance("u1"),
        (9_000, 1_000),
        "frozen before the broadcast, once"
    );
    // The host crashes and restarts; ticks rebroadcast the same bytes only.
    w.restart();
    for _ in 0..3 {
        w.gw.tick().unwrap();
        let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
        assert_eq!(
            v.tx_id, first.tx_id,
            "never a second transaction while the first may land"
        );
    }
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(payouts(&w).len(), 1);
    assert_eq!(w.balance("u1"), (9_000, 0));
}

#[test]
fn crash_between_signing_and_broadcasting_resends_the_stored_transaction() {
    let mut w = funded(42, default_config());
    let wd = w.gw.request_withdrawal("u1", Game(500), "w-1").unwrap();
    // The broadcast never reaches the node (the process "dies" right after storing).
    w.chain.borrow_mut().fault(
        "broadcast_transaction",
        Fault::Error(NodeError::Unreachable("killed".into())),
    );
    w.gw.tick().unwrap();
    let stored: WithdrawalRec = w.store.record(&format!("wd/{}", wd.withdrawal_id)).unwrap();
    let tx = stored
        .tx
        .clone()
        .expect("signed transaction stored before broadcasting");
    w.restart();
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Confirmed);
    assert_eq!(v.tx_id.unwrap(), tx.tx_id);
    assert_eq!(payouts(&w).len(), 1);
}

#[test]
fn dropped_broadcast_is_rebuilt_only_after_provable_expiry() {
    let mut w = funded(43, default_config());
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop); // accepted, never included
    w.gw.tick().unwrap();
    let first = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    let stored: WithdrawalRec = w.store.record(&format!("wd/{}", wd.withdrawal_id)).unwrap();
    let expiration = stored.tx.as_ref().unwrap().expiration;
    // Until a block past the expiration is irreversible, only the same bytes go out.
    loop {
        w.produce();
        w.gw.tick().unwrap();
        let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
        let lib = w.chain.borrow().lib();
        let lib_time = w.chain.borrow().blocks[lib as usize - 1].time;
        if v.tx_id != first.tx_id {
            assert!(
                lib_time > expiration,
                "rebuilt before the first could not land any more"
            );
            assert_eq!(v.attempts, 2);
            break;
        }
        assert!(
            w.chain.borrow().head().time < expiration + 200,
            "never rebuilt"
        );
    }
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Confirmed);
    assert_eq!(payouts(&w).len(), 1);
    assert_eq!(w.balance("u1"), (9_000, 0));
}

#[test]
fn withdrawal_fails_and_unfreezes_only_when_every_attempt_expired() {
    let mut cfg = default_config();
    cfg.withdrawals.max_attempts = 2;
    cfg.withdrawals.expiration_secs = 30;
    let mut w = funded(44, cfg);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop);
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop);
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop);
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop);
    for _ in 0..40 {
        w.produce();
        w.gw.tick().unwrap();
        // Drop every broadcast in this test.
        w.chain
            .borrow_mut()
            .fault("broadcast_transaction", Fault::Drop);
        if w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state == WdState::Failed {
            break;
        }
        assert_eq!(
            w.balance("u1"),
            (9_000, 1_000),
            "frozen while it may still be paid"
        );
    }
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!((v.state, v.attempts), (WdState::Failed, 2));
    assert_eq!(w.balance("u1"), (10_000, 0));
    assert!(payouts(&w).is_empty());
    assert!(w.events().iter().any(|e| matches!(
        e,
        Event::WithdrawalFailed {
            reason: WithdrawalFailure::Expired,
            ..
        }
    )));
    // The daily limit share came back too, and the user can withdraw again.
    w.gw.request_withdrawal("u1", Game(1_000), "w-2").unwrap();
}

#[test]
fn withdrawal_rules_min_max_daily_balance_and_link() {
    let mut cfg = default_config();
    cfg.withdrawals.min_cwd = 100_000;
    cfg.withdrawals.max_cwd = 5_000_000;
    cfg.withdrawals.daily_cwd = 6_000_000;
    let mut w = funded(45, cfg);
    assert_eq!(
        w.gw.request_withdrawal("u1", Game(99), "a"),
        Err(GatewayError::BelowMinimum(100_000))
    );
    assert_eq!(
        w.gw.request_withdrawal("u1", Cwd(5_000_001), "b"),
        Err(GatewayError::AboveMaximum(5_000_000))
    );
    assert_eq!(
        w.gw.request_withdrawal("u1", Game(0), "c"),
        Err(GatewayError::AmountTooSmall)
    );
    assert_eq!(
        w.gw.request_withdrawal("nobody", Game(100), "d"),
        Err(GatewayError::NotLinked)
    );
    w.gw.request_withdrawal("u1", Cwd(5_000_000), "e").unwrap();
    match w.gw.request_withdrawal("u1", Cwd(2_000_000), "f") {
        Err(GatewayError::DailyLimit {
            remaining_cwd,
            requests_left,
            retry_after_ms,
        }) => {
            assert_eq!((remaining_cwd, requests_left), (1_000_000, None));
            assert!(retry_after_ms > 0 && retry_after_ms <= 86_400_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.gw.request_withdrawal("u1", Cwd(1_000_000), "g")
            .unwrap()
            .game,
        1_000
    );
    // Tomorrow the limit is fresh, but the balance is what it is.
    w.clock.set(w.clock.get() + 86_400_000);
    assert_eq!(
        w.gw.request_withdrawal("u1", Game(4_001), "h"),
        Err(GatewayError::InsufficientBalance(4_000))
    );
    assert_eq!(w.balance("u1"), (4_000, 6_000));
}

#[test]
fn withdrawal_idempotency_key_returns_the_first_request() {
    let mut w = funded(46, default_config());
    let a = w.gw.request_withdrawal("u1", Game(100), "same").unwrap();
    let b = w.gw.request_withdrawal("u1", Game(100), "same").unwrap();
    assert_eq!(a.withdrawal_id, b.withdrawal_id);
    assert_eq!(
        w.gw.request_withdrawal("u1", Game(101), "same"),
        Err(GatewayError::IdempotencyConflict)
    );
    assert_eq!(
        w.gw.request_withdrawal("u1", Cwd(100_000), "same"),
        Err(GatewayError::IdempotencyConflict)
    );
    assert_eq!(w.balance("u1"), (9_900, 100));
    assert_eq!(
        w.events()
            .iter()
            .filter(|e| matches!(e, Event::WithdrawalRequested(_)))
            .count(),
        1
    );
}

#[test]
fn large_withdrawals_wait_for_review() {
    let mut cfg = default_config();
    cfg.withdrawals.review_above_cwd = 2_000_000;
    let mut w = funded(47, cfg);
    let small = w.gw.request_withdrawal("u1", Game(2_000), "s").unwrap();
    assert_eq!(small.state, WdState::Queued);
    let big = w.gw.request_withdrawal("u1", Game(3_000), "b").unwrap();
    assert_eq!(big.state, WdState::AwaitingReview);
    let big2 = w.gw.request_withdrawal("u1", Game(4_000), "b2").unwrap();
    assert!(w.events().iter().any(
        |e| matches!(e, Event::WithdrawalAwaitingReview(r) if r.withdrawal_id == big.withdrawal_id)
    ));
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&big.withdrawal_id).unwrap().state,
        WdState::AwaitingReview,
        "not sent without approval"
    );
    let listed =
        w.gw.list_withdrawals(
            &WithdrawalFilter {
                user: None,
                state: Some(WdState::AwaitingReview),
            },
            Order::OldestFirst,
            None,
            10,
        )
        .unwrap();
    assert_eq!(listed.len(), 2);
    w.gw.approve_withdrawal("operator", &big.withdrawal_id).unwrap();
    assert_eq!(
        w.gw.approve_withdrawal("operator", &big.withdrawal_id),
        Err(GatewayError::NotAwaitingReview)
    );
    let rejected =
        w.gw.reject_withdrawal("operator", &big2.withdrawal_id, "looks odd")
            .unwrap();
    assert_eq!(
        (rejected.state, rejected.note.as_deref()),
        (WdState::Rejected, Some("looks odd"))
    );
    assert_eq!(
        w.gw.reject_withdrawal("operator", &big2.withdrawal_id, "again"),
        Err(GatewayError::NotAwaitingReview)
    );
    assert_eq!(
        w.gw.approve_withdrawal("operator", "w9999999999"),
        Err(GatewayError::WithdrawalNotFound)
    );
    assert_eq!(w.balance("u1"), (5_000, 5_000));
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&big.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(w.balance("u1"), (5_000, 0));
    assert_eq!(payouts(&w).len(), 2);
    let all =
        w.gw.list_withdrawals(&WithdrawalFilter::default(), Order::OldestFirst, None, 10)
            .unwrap();
    assert_eq!(all.len(), 3);
    let page =
        w.gw.list_withdrawals(
            &WithdrawalFilter::default(),
            Order::OldestFirst,
            Some(&all[0].withdrawal_id),
            1,
        )
        .unwrap();
    assert_eq!(page[0].withdrawal_id, all[1].withdrawal_id);
    assert!(matches!(
        w.gw.list_withdrawals(&WithdrawalFilter::default(), Order::OldestFirst, None, 0),
        Err(GatewayError::Invalid { .. })
    ));
}

#[test]
fn low_gateway_funds_keep_withdrawals_queued_and_alert() {
    let mut cfg = default_config();
    cfg.low_fee_balance_cwd = 10_000_000_000;
    let mut w = funded(48, cfg);
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.name == GATEWAY)
        .unwrap()
        .balances
        .insert(0, 500_000);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Queued
    );
    // The alert names the withdrawal and what is missing (payout + fee - funds).
    assert!(w.events().iter().any(|e| matches!(e, Event::Alert(cwd_gateway_guest::events::Alert::PayoutUnfunded { shortfall, .. }) if *shortfall == 1_000_000 + 2_000 - 500_000)));
    let st = w.gw.status().unwrap();
    assert!(st.low_fee_balance);
    assert_eq!(
        (st.pending_withdrawals, st.pending_cwd, st.frozen_game),
        (1, 1_000_000, 1_000)
    );
    // Topped up: it goes out.
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.name == GATEWAY)
        .unwrap()
        .balances
        .insert(0, 50_000_000);
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
}

#[test]
fn two_instances_racing_pay_each_withdrawal_once() {
    let mut w = funded(49, default_config());
    let mut other = w.second_instance();
    for i in 0..5 {
        w.gw.request_withdrawal("u1", Game(100 + i), &format!("w{i}"))
            .unwrap();
    }
    for _ in 0..4 {
        let _ = other.tick();
        let _ = w.gw.tick();
        w.produce();
    }
    w.settle();
    w.gw.tick().unwrap();
    other.tick().unwrap();
    assert_eq!(payouts(&w).len(), 5);
    let mut nonces: Vec<u64> = payouts(&w).iter().map(|p| p.2).collect();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 5);
    assert_eq!(w.balance("u1").1, 0);
}

#[test]
fn keys_never_leave_the_instance_and_configure_checks_them() {
    let keys = gateway_keys();
    let mut w = World::new(50);
    let bad = cwd_gateway_guest::config::Keys {
        active_wif: "5Jnot-a-key".into(),
        memo_wif: keys.memo_wif.clone(),
    };
    let e = w.gw.configure(default_config(), bad).unwrap_err();
    assert_eq!(
        e,
        GatewayError::BadKey(cwd_gateway_guest::gateway_error::KeyRole::Active)
    );
    // Swapped keys: each valid WIF, neither in its place.
    let swapped = cwd_gateway_guest::config::Keys {
        active_wif: keys.memo_wif.clone(),
        memo_wif: keys.active_wif.clone(),
    };
    let e = w.gw.configure(default_config(), swapped).unwrap_err();
    assert_eq!(
        e,
        GatewayError::KeyMismatch(cwd_gateway_guest::gateway_error::KeyRole::Active)
    );
    assert!(!format!("{e:?}").contains(&keys.active_wif));
    assert_eq!(format!("{keys:?}"), "Keys(<hidden>)");
    let mut cfg = default_config();
    cfg.chain_id = "00".repeat(32);
    assert!(matches!(
        w.gw.configure(cfg, gateway_keys()),
        Err(GatewayError::WrongChain(_))
    ));
    let mut fresh = World::instance(&w.chain, &w.store, &w.clock, &w.events, &w.rng);
    assert_eq!(fresh.tick(), Err(GatewayError::NotConfigured));
    // Run a whole story and look everywhere for the keys.
    let mut w = funded(51, default_config());
    w.gw.request_withdrawal("u1", Game(100), "x").unwrap();
    w.gw.tick().unwrap();
    let everything = format!("{}{:?}", w.store.dump(), w.events());
    assert!(!everything.contains(&keys.active_wif) && !everything.contains(&keys.memo_wif));
}

/// Checks, at the moment a transfer reaches the node, that the store already holds the
/// freeze and the exact signed bytes (the original example broadcast first).
struct Watchful {
    inner: SimNode,
    store: MemStore,
    seen: std::rc::Rc<std::cell::Cell<u32>>,
}

impl cwd_gateway_guest::ports::Node for Watchful {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        if method == "broadcast_transaction" && params.contains("\"amount\"") {
            let sent: serde_json::Value = serde_json::from_str(params).unwrap();
            let wds: Vec<(String, WithdrawalRec)> = self.store.all("wd/");
            let w = wds
                .iter()
                .map(|(_, w)| w)
                .find(|w| {
                    w.tx.as_ref().is_some_and(|t| {
                        serde_json::from_str::<serde_json::Value>(&t.tx_json).unwrap() == sent[0]
                    })
                })
                .expect("the broadcast transaction was stored before it was sent");
            assert_eq!(w.state, WdState::Sent);
            let u: cwd_gateway_guest::records::UserRec =
                self.store.record(&format!("user/{}", w.user)).unwrap();
            assert!(
                u.frozen >= w.game,
                "the amount was frozen before the broadcast"
            );
            self.seen.set(self.seen.get() + 1);
        }
        self.inner.call(api, method, params)
    }
}

#[test]
fn weak_spot_withdrawal_debited_and_stored_before_broadcast() {
    let w = funded(52, default_config());
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut g = Gateway::new(cwd_gateway_guest::ports::Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(Watchful {
            inner: SimNode(w.chain.clone()),
            store: w.store.clone(),
            seen: seen.clone(),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    g.configure(w.config.clone(), gateway_keys()).unwrap();
    g.request_withdrawal("u1", Game(1_000), "w").unwrap();
    g.tick().unwrap();
    g.tick().unwrap(); // a rebroadcast is checked the same way
    assert_eq!(seen.get(), 2);
}

#[test]
fn withdrawal_to_a_vanished_account_fails_and_unfreezes() {
    let mut w = funded(53, default_config());
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w").unwrap();
    // The node no longer knows alice (a node on another chain, a wiped devnet…).
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.name == "alice")
        .unwrap()
        .name = "gone-away".into();
    let id = w.id("gone-away");
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.id == id)
        .unwrap()
        .id = 99_999;
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Failed);
    assert_eq!(w.balance("u1"), (10_000, 0));
    assert!(w.events().iter().any(|e| matches!(
        e,
        Event::WithdrawalFailed {
            reason: WithdrawalFailure::AccountUnusable,
            ..
        }
    )));
}
