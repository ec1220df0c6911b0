//! The treasury and the ledger's other moves, natively against the simulated chain:
//! exact sweep amounts, a withdrawal racing a sweep, sweeps across restarts, the
//! low-water alert, the fee reserve view, internal transfers and referral rewards.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use cwd_gateway_guest::config::Config;
use cwd_gateway_guest::events::{Alert, Event};
use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::ports::{Node, NodeError, Ports};
use cwd_gateway_guest::rates::WithdrawalAmount;
use cwd_gateway_guest::records::Order;
use cwd_gateway_guest::sweep::{SweepRec, SweepState};
use support::*;

const HIGH: u64 = 50_000_000;
const RESERVE: u64 = 1_000_000;

fn treasury_config() -> Config {
    let mut c = default_config();
    c.treasury.cold_account = COLD.into();
    c.treasury.high_water_cwd = HIGH;
    c.treasury.fee_reserve_cwd = RESERVE;
    c.treasury.low_water_cwd = 10_000_000;
    c.referrals.level_rates_per_mille = vec![100, 50];
    c.referrals.cashback_per_mille = 10;
    c
}

fn hot(w: &World) -> u64 {
    w.chain.borrow().balance(GATEWAY, 0) as u64
}

fn cold(w: &World) -> u64 {
    w.chain.borrow().balance(COLD, 0) as u64
}

#[test]
fn a_sweep_takes_exactly_the_excess_over_needs_and_the_high_water_mark() {
    let mut w = World::with_config(1, treasury_config());
    w.link("u1", "alice");
    w.deposit("alice", 20_000_000);
    w.settle();
    w.gw.tick().unwrap();
    // The first tick credits the deposit and sweeps; hold a withdrawal back first.
    let wd =
        w.gw.request_withdrawal("u1", WithdrawalAmount::Cwd(5_000_000), "w1")
            .unwrap();
    let before = hot(&w);
    let sweeps: Vec<(String, SweepRec)> = w.store.all("sweep/");
    // Whether or not a sweep went out already, none left less than needs + high water.
    let report = w.gw.tick().unwrap();
    let sweeps_now: Vec<(String, SweepRec)> = w.store.all("sweep/");
    let s = &sweeps_now.last().expect("a sweep").1;
    if sweeps.is_empty() {
        assert_eq!(report.sweeps_sent, 1);
    }
    assert_eq!(s.state, SweepState::Sent);
    assert!(s.kept_cwd >= RESERVE, "kept {}", s.kept_cwd);
    assert_eq!(
        s.cwd + s.fee + s.kept_cwd + HIGH,
        s.hot_balance,
        "exactly the excess"
    );
    assert_eq!(s.fee, TRANSFER_FEE as u64);
    w.settle();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    let s: SweepRec = w.store.record(&format!("sweep/{}", s.id)).unwrap();
    assert_eq!(s.state, SweepState::Confirmed);
    assert!(s.block_num.is_some());
    // The withdrawal was paid from what the sweep kept.
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        cwd_gateway_guest::records::WdState::Confirmed
    );
    assert!(cold(&w) > 0);
    assert!(before > hot(&w));
    assert!(w
        .events()
        .iter()
        .any(|e| matches!(e, Event::SweepConfirmed { .. })));
    check_ledger(&w.store, "the end");
}

/// A node that runs `hook` once, at the first `get_required_fees` call: the sweep's fee
/// lookup, between summing the needs and committing the sweep.
struct HookNode {
    inner: SimNode,
    hook: Rc<RefCell<Option<Box<dyn FnOnce()>>>>,
}

impl Node for HookNode {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        if method == "get_required_fees" {
            let hook = self.hook.borrow_mut().take();
            if let Some(h) = hook {
                h();
            }
        }
        self.inner.call(api, method, params)
    }
}

#[test]
fn a_withdrawal_requested_while_a_sweep_is_built_voids_it() {
    let mut w = World::with_config(2, treasury_config());
    w.link("u1", "alice");
    w.deposit("alice", 50_000_000);
    w.settle();
    // Credit the deposit without sweeping yet: no cold account in this instance.
    let mut plain = treasury_config();
    plain.treasury.cold_account.clear();
    let mut g0 = World::instance(&w.chain, &w.store, &w.clock, &w.events, &w.rng);
    g0.configure(plain, gateway_keys()).unwrap();
    g0.tick().unwrap();
    assert!(w.store.keys("sweep/").is_empty());
    let (balance, _) = w.balance("u1");
    assert!(balance > 0);

    // While the sweeping instance looks up its fee, another one takes a withdrawal.
    let hook: Rc<RefCell<Option<Box<dyn FnOnce()>>>> = Rc::new(RefCell::new(None));
    let other = Rc::new(RefCell::new(w.second_instance()));
    let o = other.clone();
    *hook.borrow_mut() = Some(Box::new(move || {
        o.borrow_mut()
            .request_withdrawal("u1", WithdrawalAmount::Cwd(30_000_000), "racing")
            .unwrap();
    }));
    let mut g = Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(HookNode {
            inner: SimNode(w.chain.clone()),
            hook: hook.clone(),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    g.configure(treasury_config(), gateway_keys()).unwrap();
    let report = g.tick().unwrap();
    assert!(hook.borrow().is_none(), "the hook ran");
    assert_eq!(
        report.sweeps_sent, 0,
        "the sweep built before the withdrawal is not stored"
    );
    assert!(w.store.keys("sweep/").is_empty());
    // The next tick counts the withdrawal.
    g.tick().unwrap();
    let sweeps: Vec<(String, SweepRec)> = w.store.all("sweep/");
    let s = &sweeps.first().expect("a sweep now").1;
    assert!(s.kept_cwd >= 30_000_000 + RESERVE, "kept {}", s.kept_cwd);
    w.settle();
    g.tick().unwrap();
    w.settle();
    g.tick().unwrap();
    let racing =
        w.gw.list_withdrawals(&Default::default(), Order::OldestFirst, None, 10)
            .unwrap();
    assert_eq!(racing[0].state, cwd_gateway_guest::records::WdState::Confirmed);
    check_ledger(&w.store, "the end");
}

#[test]
fn sweeps_survive_restarts_and_a_low_hot_balance_alerts_once_with_the_refill() {
    let mut cfg = treasury_config();
    // Higher than what the gateway holds: nothing to sweep, and the hot account is low.
    cfg.treasury.high_water_cwd = 2_000_000_000;
    cfg.treasury.low_water_cwd = 1_500_000_000;
    let mut w = World::with_config(3, cfg);
    w.settle();
    for _ in 0..3 {
        w.gw.tick().unwrap();
        w.restart();
    }
    assert!(w.store.keys("sweep/").is_empty());
    let alerts: Vec<(u64, u64)> = w
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Alert(Alert::HotBalanceLow {
                balance,
                refill_cwd,
                ..
            }) => Some((*balance, *refill_cwd)),
            _ => None,
        })
        .collect();
    assert_eq!(alerts.len(), 1, "rate-limited across restarts: {alerts:?}");
    let (balance, refill) = alerts[0];
    assert_eq!(
        balance + refill,
        2_000_000_000 + RESERVE,
        "the refill brings it to needs plus the high-water mark"
    );
}

#[test]
fn a_sweep_in_flight_is_rebroadcast_by_a_restarted_instance_and_paid_once() {
    // The broadcast never reached the node, or reached it and the answer was lost.
    for (seed, fault) in [
        (4, Fault::Error(NodeError::Timeout)),
        (5, Fault::TimeoutAfterApply),
    ] {
        sweep_rebroadcast_after(seed, fault);
    }
}

fn sweep_rebroadcast_after(seed: u64, fault: Fault) {
    let mut w = World::with_config(seed, treasury_config());
    w.settle();
    w.chain.borrow_mut().fault("broadcast_transaction", fault);
    w.gw.tick().unwrap();
    let first: Vec<(String, SweepRec)> = w.store.all("sweep/");
    assert_eq!(first.len(), 1);
    w.restart();
    w.produce();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    let sweeps: Vec<(String, SweepRec)> = w.store.all("sweep/");
    assert_eq!(sweeps.len(), 1, "the same sweep, rebroadcast");
    assert_eq!(sweeps[0].1.state, SweepState::Confirmed);
    assert_eq!(sweeps[0].1.tx.tx_id, first[0].1.tx.tx_id);
    let paid = w.chain.borrow().gateway_payouts(w.gateway_id());
    assert_eq!(paid.iter().filter(|p| p.2 == sweeps[0].1.nonce).count(), 1);
    assert_eq!(cold(&w), sweeps[0].1.cwd);
}

#[test]
fn the_fee_reserve_counts_last_weeks_fees() {
    let mut cfg = treasury_config();
    cfg.treasury.low_fee_days = 4_000_000_000; // any rate at all is "low"
    let mut w = World::with_config(5, cfg);
    w.link("u1", "alice");
    w.link("u2", "bob");
    w.settle();
    w.gw.tick().unwrap();
    let st = w.gw.status().unwrap();
    let f = st.fee_reserve;
    assert_eq!((f.link_messages, f.avg_link_fee), (2, MESSAGE_FEE as u64));
    assert_eq!(
        (f.payouts, f.avg_payout_fee),
        (1, TRANSFER_FEE as u64),
        "the sweep"
    );
    assert_eq!(
        f.fees_last_week,
        2 * MESSAGE_FEE as u64 + TRANSFER_FEE as u64
    );
    let fb = f.fee_balance.unwrap();
    assert_eq!(
        f.days_left,
        Some((fb as u128 * 7 / f.fees_last_week as u128) as u32)
    );
    assert!(f.low);
    assert!(w
        .events()
        .iter()
        .any(|e| matches!(e, Event::Alert(Alert::FeeReserveLow { .. }))));
    // Eight days later last week's fees are gone.
    w.clock.set(w.clock.get() + 8 * 86_400_000);
    let f = w.gw.status().unwrap().fee_reserve;
    assert_eq!((f.fees_last_week, f.days_left, f.low), (0, None, false));
}

#[test]
fn internal_transfers_are_one_commit_idempotent_and_never_negative() {
    let mut w = World::with_config(6, treasury_config());
    w.gw.adjust_balance("p1", 1_000, "f1", "").unwrap();
    let t = w.gw.transfer_internal("p1", "p2", 400, "t1", "hi").unwrap();
    assert_eq!(
        (t.from_balance, t.to_balance, t.replayed),
        (600, 400, false)
    );
    let again = w.gw.transfer_internal("p1", "p2", 400, "t1", "hi").unwrap();
    assert!(again.replayed);
    assert_eq!(w.balance("p1").0, 600);
    assert!(matches!(
        w.gw.transfer_internal("p1", "p2", 401, "t1", "hi"),
        Err(GatewayError::IdempotencyConflict)
    ));
    assert!(matches!(
        w.gw.transfer_internal("p1", "p2", 601, "t2", ""),
        Err(GatewayError::InsufficientBalance(600))
    ));
    assert!(matches!(
        w.gw.transfer_internal("p1", "p1", 1, "t3", ""),
        Err(GatewayError::Invalid { .. })
    ));
    assert!(matches!(
        w.gw.transfer_internal("p1", "p2", 0, "t4", ""),
        Err(GatewayError::Invalid { .. })
    ));
    assert!(matches!(
        w.gw.transfer_internal("p1", "bad/user", 1, "t5", ""),
        Err(GatewayError::BadUserId)
    ));
    // A failing store writes nothing.
    w.store.0.borrow_mut().random_fail = Some((Rng(9), 1000));
    assert!(w.gw.transfer_internal("p1", "p2", 1, "t6", "").is_err());
    w.store.0.borrow_mut().random_fail = None;
    assert_eq!((w.balance("p1").0, w.balance("p2").0), (600, 400));
    let listed =
        w.gw.list_transfers("p2", Order::OldestFirst, None, 10)
            .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        w.gw.list_transfers("p2", Order::OldestFirst, Some(&listed[0].transfer_id), 10)
            .unwrap()
            .len(),
        0
    );
    check_ledger(&w.store, "transfers");
}

#[test]
fn referral_rewards_round_down_and_what_is_unpaid_stays_in_the_pool() {
    let mut w = World::with_config(7, treasury_config());
    w.gw.set_referrer("b", "a").unwrap();
    assert!(matches!(
        w.gw.set_referrer("a", "b"),
        Err(GatewayError::ReferralCycle)
    ));
    assert!(matches!(
        w.gw.set_referrer("b", "b"),
        Err(GatewayError::SelfReferral)
    ));
    assert!(matches!(
        w.gw.reward_referrers("b", 999, "r1"),
        Err(GatewayError::PoolInsufficient(0))
    ));
    w.gw.adjust_balance("referral-pool", 10_000, "pool", "")
        .unwrap();
    // b's referrer a gets 10 % of 999 = 99 (rounded down); there is no level 2, so its
    // 5 % stays in the pool; b gets 1 % = 9 back.
    let r = w.gw.reward_referrers("b", 999, "r1").unwrap();
    assert_eq!(r.shares.len(), 1);
    assert_eq!(
        (
            r.shares[0].user.as_str(),
            r.shares[0].level,
            r.shares[0].amount
        ),
        ("a", 1, 99)
    );
    assert_eq!((r.cashback, r.paid, r.pool_balance), (9, 108, 10_000 - 108));
    assert_eq!(
        w.balance("a").0 + w.balance("b").0 + w.balance("referral-pool").0,
        10_000
    );
    let e = w.gw.referral_earnings("a").unwrap();
    assert_eq!(
        (e.referrals, e.by_level.clone(), e.cashback),
        (1, vec![99], 0)
    );
    assert_eq!(w.gw.referral_earnings("b").unwrap().cashback, 9);
    // Levels and cashback above 1000 per mille are refused at configuration.
    let mut bad = treasury_config();
    bad.referrals.level_rates_per_mille = vec![600, 400];
    bad.referrals.cashback_per_mille = 1;
    assert!(matches!(
        bad.normalized(),
        Err(GatewayError::Invalid { .. })
    ));
    check_ledger(&w.store, "rewards");
}
