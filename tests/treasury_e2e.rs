//! The treasury and the ledger's other moves, through the real `.wasm` in the reference
//! host against the devnet: sweeps to cold storage (never leaving pending withdrawals
//! unfunded; paid once under node faults and host crashes), internal transfers racing in
//! parallel, referrals (cycles and self-referral refused) and rewards (conserved).

use std::collections::{BTreeMap, HashMap, HashSet};

use cwd_devnet::{AccountSpec, FaultKind, FaultRule};
use cwd_gateway::records::{AdjustRec, DepositRec, UserRec, WdState, WithdrawalRec};
use cwd_gateway::referrals::RewardRec;
use cwd_gateway::sweep::{SweepRec, SweepState};
use cwd_gateway::transfers::TransferRec;
use cwd_gateway_e2e::*;
use cwd_gateway_host::bindings::api::{GatewayError, ListOrder, SweepState as ApiSweepState, WithdrawalAmount};
use cwd_gateway_host::gateway::GatewayCallError;

const CWD: u64 = 100_000;
const COLD: &str = "game-cold";
const HIGH_WATER: u64 = 2_000 * CWD;
const FEE_RESERVE: u64 = 10 * CWD;

/// A gateway holding 100 000 CWD, with a cold account (its `1.2.N` returned), sweeps
/// above 2 000 CWD plus a 10 CWD fee reserve, and three referral levels.
fn treasury(runtime: &'static cwd_gateway_host::Runtime) -> (Harness, String) {
    let mut cold_id = String::new();
    let h = Harness::with_config(runtime, |devnet, config| {
        cold_id = devnet.create_account(AccountSpec::new(COLD, 0)).unwrap().id_string();
        config.treasury.cold_account = COLD.into();
        config.treasury.high_water_cwd = HIGH_WATER;
        config.treasury.low_water_cwd = 500 * CWD;
        config.treasury.fee_reserve_cwd = FEE_RESERVE;
        config.referrals.level_rates_per_mille = vec![100, 50, 25];
        config.referrals.cashback_per_mille = 20;
    });
    (h, cold_id)
}

/// Ticks until no sweep is in flight.
fn settle_sweeps(h: &Harness) {
    for _ in 0..30 {
        if h.api(|a| a.status()).unwrap().open_sweep.is_none() {
            return;
        }
        let lag = h.lag();
        h.devnet.produce_blocks(lag + 1);
        let _ = h.service.tick();
    }
    panic!("a sweep never settled");
}

/// The ledger balances from the store's records: per user, balance + frozen = credited
/// deposits + game changes + transfers in − out + rewards − rewards paid (the pool) −
/// completed withdrawals; frozen is what open withdrawals hold.
fn check_ledger(h: &Harness, ctx: &str) {
    let mut expect: HashMap<String, i128> = HashMap::new();
    for d in h.records::<DepositRec>("dep/") {
        *expect.entry(d.user).or_default() += d.game as i128;
    }
    for a in h.records::<AdjustRec>("adj/") {
        *expect.entry(a.user).or_default() += a.delta as i128;
    }
    for t in h.records::<TransferRec>("xfer/") {
        *expect.entry(t.from_user).or_default() -= t.amount as i128;
        *expect.entry(t.to_user).or_default() += t.amount as i128;
    }
    for r in h.records::<RewardRec>("rwd/") {
        *expect.entry(r.pool_user.clone()).or_default() -= r.paid as i128;
        for s in &r.shares {
            *expect.entry(s.user.clone()).or_default() += s.amount as i128;
        }
        *expect.entry(r.user.clone()).or_default() += r.cashback as i128;
    }
    let mut frozen: HashMap<String, u64> = HashMap::new();
    for w in h.records::<WithdrawalRec>("wd/") {
        match w.state {
            WdState::Confirmed => *expect.entry(w.user).or_default() -= w.game as i128,
            WdState::Failed | WdState::Rejected | WdState::Cancelled => {}
            _ => *frozen.entry(w.user).or_default() += w.game,
        }
    }
    let mut seen = HashSet::new();
    for e in h.store.scan("user/", None, 10_000).unwrap() {
        let user = e.key["user/".len()..].to_string();
        let u: UserRec = cwd_gateway::records::decode(&e.key, &e.value).unwrap();
        assert_eq!(u.balance as i128 + u.frozen as i128, expect.get(&user).copied().unwrap_or(0), "ledger of {user} at {ctx}");
        assert_eq!(u.frozen, frozen.get(&user).copied().unwrap_or(0), "frozen of {user} at {ctx}");
        seen.insert(user);
    }
    for (user, v) in expect {
        assert!(v == 0 || seen.contains(&user), "{user} moved units without a record at {ctx}");
    }
}

/// What the chain shows against what the store owes: the gateway's balance, less the
/// sweeps still in flight, covers every withdrawal not yet paid on chain.
fn check_funded(h: &Harness, ctx: &str) {
    // Pending transfers already show in `balance_of`: count them as paid.
    let paid: HashSet<u64> = h.gateway_transfers().into_iter().chain(h.gateway_transfers_pending()).map(|t| t.2).collect();
    let unpaid: u64 = h.records::<WithdrawalRec>("wd/").iter().filter(|w| !w.state.is_final() && !paid.contains(&w.nonce)).map(|w| w.cwd).sum();
    let sweeping: u64 = h.records::<SweepRec>("sweep/").iter().filter(|s| s.state == SweepState::Sent && !paid.contains(&s.nonce)).map(|s| s.cwd + s.fee).sum();
    let hot = h.devnet.balance_of(GATEWAY).unwrap() as u64;
    assert!(hot >= sweeping + unpaid, "hot {hot} − sweeping {sweeping} does not cover {unpaid} of pending withdrawals at {ctx}");
}

/// Each sweep paid at most once, to the cold account; confirmed ones exactly once;
/// expired ones never. Answers the CWD the cold account received from the gateway.
fn check_sweeps_paid_once(h: &Harness, cold_id: &str) -> u64 {
    let transfers = h.gateway_transfers();
    let mut by_nonce: BTreeMap<u64, Vec<(String, u64)>> = BTreeMap::new();
    for (to, amount, nonce) in &transfers {
        by_nonce.entry(*nonce).or_default().push((to.clone(), *amount));
    }
    let sweeps = h.records::<SweepRec>("sweep/");
    for s in &sweeps {
        let pays = by_nonce.get(&s.nonce).cloned().unwrap_or_default();
        match s.state {
            SweepState::Confirmed => assert_eq!(pays, vec![(cold_id.to_string(), s.cwd)], "sweep {} paid exactly once", s.id),
            SweepState::Expired => assert!(pays.is_empty(), "sweep {} expired yet paid", s.id),
            SweepState::Sent => assert!(pays.len() <= 1, "sweep {} paid twice", s.id),
        }
    }
    let to_cold: u64 = transfers.iter().filter(|t| t.0 == cold_id).map(|t| t.1).sum();
    let confirmed: u64 = sweeps.iter().filter(|s| s.state == SweepState::Confirmed).map(|s| s.cwd).sum();
    assert_eq!(to_cold, confirmed, "every CWD in the cold account is a confirmed sweep");
    to_cold
}

#[test]
fn e2e_sweeps_never_leave_pending_withdrawals_unfunded() {
    let (h, cold_id) = treasury(runtime());
    let players: Vec<_> = (0..3).map(|i| h.linked_player(&format!("u{i}"), &format!("player-{i}"), 5_000 * CWD as i64)).collect();
    // A seeded walk: deposits and withdrawals of every size around the sweeps.
    let mut seed: u64 = 0x7ea5_0e11;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut withdrawals = Vec::new();
    for step in 0..60 {
        let i = next(3) as usize;
        match next(4) {
            0 => {
                let amount = (1 + next(600)) * CWD;
                h.devnet.transfer(&players[i].name, GATEWAY, amount as i64, None, None).unwrap();
            }
            1 | 2 => {
                // Small enough that all of them together stay under the high-water mark:
                // only the margin kept hot funds withdrawals requested after a sweep.
                let amount = WithdrawalAmount::Cwd((1 + next(60)) * CWD);
                if let Ok(w) = h.api(|a| a.request_withdrawal(&format!("u{i}"), amount, &format!("w-{step}"))) {
                    withdrawals.push(w.withdrawal_id);
                }
            }
            _ => {}
        }
        h.devnet.produce_blocks(1 + next(3) as u32);
        let _ = h.tick();
        check_funded(&h, &format!("step {step}"));
        check_ledger(&h, &format!("step {step}"));
    }
    h.settle();
    for id in &withdrawals {
        let w = h.finish_withdrawal(id);
        assert!(matches!(w.state, cwd_gateway_host::bindings::api::WithdrawalState::Confirmed), "{id}: {:?}", w.state);
        check_funded(&h, id);
    }
    h.settle();
    settle_sweeps(&h);
    check_ledger(&h, "the end");
    let swept = check_sweeps_paid_once(&h, &cold_id);
    let sweeps = h.api(|a| a.list_sweeps(None, 500)).unwrap();
    assert!(sweeps.len() >= 2, "the walk swept several times: {}", sweeps.len());
    assert!(swept > 0);
    assert_eq!(h.devnet.balance_of(COLD).unwrap() as u64, swept);
    assert!(!h.events.snapshot().iter().any(|e| e["kind"] == "payout-unfunded"), "no withdrawal ever lacked funds");
    // Once idle, the hot account keeps what it may need: the high-water mark and the fee
    // reserve, less the fees paid since the last sweep, plus less than a minimum sweep.
    let hot = h.devnet.balance_of(GATEWAY).unwrap() as u64;
    assert!(hot >= HIGH_WATER, "hot {hot}");
    assert!(hot < HIGH_WATER + FEE_RESERVE + 2 * CWD, "hot {hot}: the excess was swept");
    assert!(h.events.snapshot().iter().any(|e| e["type"] == "sweep-confirmed"), "sweeps are announced");
}

fn sweep_once_despite(mode: Interference) {
    let (mut h, cold_id) = treasury(short_fuse_runtime());
    // The gateway holds 100 000 CWD: everything above 2 000 + 10 CWD goes cold.
    let lag = h.lag();
    h.devnet.produce_blocks(lag + 1);
    *h.node.mode.lock().unwrap() = mode;
    assert!(h.service.tick().is_err(), "the call deadline interrupts the tick mid-broadcast");
    h.restart();
    let first = h.records::<SweepRec>("sweep/");
    assert_eq!(first.len(), 1, "signed and stored before the broadcast");
    for _ in 0..30 {
        let lag = h.lag();
        h.devnet.produce_blocks(lag + 1);
        let _ = h.service.tick();
    }
    let sweeps = h.api(|a| a.list_sweeps(None, 10)).unwrap();
    assert_eq!(sweeps.len(), 1, "one sweep: the stored one, rebroadcast");
    assert!(matches!(sweeps[0].state, ApiSweepState::Confirmed));
    assert_eq!(sweeps[0].tx_id, first[0].tx.tx_id, "the same bytes");
    let swept = check_sweeps_paid_once(&h, &cold_id);
    assert_eq!(swept, sweeps[0].cwd);
    assert_eq!(swept, 100_000 * CWD - HIGH_WATER - FEE_RESERVE - sweeps[0].fee);
    // Another restart and more ticks change nothing.
    h.restart();
    h.settle();
    settle_sweeps(&h);
    assert_eq!(check_sweeps_paid_once(&h, &cold_id), swept);
}

#[test]
fn e2e_sweep_paid_once_when_the_host_dies_before_broadcast() {
    sweep_once_despite(Interference::HangBeforeBroadcast);
}

#[test]
fn e2e_sweep_paid_once_when_the_host_dies_after_broadcast() {
    sweep_once_despite(Interference::HangAfterBroadcast);
}

#[test]
fn e2e_sweep_rebuilt_only_after_provable_expiry_and_under_node_errors() {
    let (h, cold_id) = treasury(runtime());
    let lag = h.lag();
    h.devnet.produce_blocks(lag + 1);
    // Every broadcast is accepted and silently never included.
    h.devnet.add_fault(FaultRule::next(1_000, Some("broadcast_transaction"), FaultKind::Drop));
    h.tick();
    let first = h.records::<SweepRec>("sweep/");
    assert_eq!(first.len(), 1);
    for _ in 0..15 {
        h.devnet.produce_block();
        h.tick();
    }
    let still = h.records::<SweepRec>("sweep/");
    assert_eq!(still.len(), 1, "no second sweep before the first provably expired");
    assert_eq!(still[0].state, SweepState::Sent);
    // Past its expiration (60 s = 20 blocks), still dropped: it can never be included.
    for _ in 0..10 {
        h.devnet.produce_block();
        h.tick();
    }
    assert_eq!(h.records::<SweepRec>("sweep/").len(), 1);
    // Errors and timeouts on a share of every call while the sweep settles.
    h.devnet.clear_faults();
    h.devnet.add_fault(FaultRule::share(0.25, None, FaultRule::error("injected")));
    for _ in 0..60 {
        let lag = h.lag();
        h.devnet.produce_blocks(lag + 1);
        let _ = h.service.tick();
        check_funded(&h, "faults");
    }
    h.devnet.clear_faults();
    h.settle();
    settle_sweeps(&h);
    let sweeps = h.records::<SweepRec>("sweep/");
    assert_eq!(sweeps[0].state, SweepState::Expired, "the dropped one expired");
    assert!(sweeps.iter().filter(|s| s.state == SweepState::Confirmed).count() >= 1, "{sweeps:?}");
    let swept = check_sweeps_paid_once(&h, &cold_id);
    let hot = h.devnet.balance_of(GATEWAY).unwrap() as u64;
    assert_eq!(hot + swept + sweeps.iter().filter(|s| s.state == SweepState::Confirmed).map(|s| s.fee).sum::<u64>(), 100_000 * CWD, "nothing else left");
    assert!(h.events.snapshot().iter().any(|e| e["type"] == "sweep-expired"));
}

#[test]
fn e2e_hundred_parallel_internal_transfers_conserve_the_total() {
    let (h, _) = treasury(runtime());
    let users = ["ann", "ben", "cat", "dan"];
    for u in users {
        h.api(|a| a.adjust_balance(u, 1_000, &format!("fund-{u}"), "start")).unwrap();
    }
    let total = |h: &Harness| users.iter().map(|u| h.balance(u).0).sum::<u64>();
    assert_eq!(total(&h), 4_000);
    let threads: Vec<_> = (0..10u64)
        .map(|t| {
            let service = h.service.clone();
            std::thread::spawn(move || {
                let mut done = Vec::new();
                for i in 0..10u64 {
                    let n = t * 10 + i;
                    let (from, to) = (users[(n % 4) as usize], users[((n / 4 + 1 + n) % 4) as usize]);
                    let to = if to == from { users[((n + 1) % 4) as usize] } else { to };
                    let amount = 1 + (n * 37) % 200;
                    let key = format!("t-{n}");
                    loop {
                        match service.with(|a| a.transfer_internal(from, to, amount, &key, "race")) {
                            Ok(x) => {
                                done.push((key, x.replayed));
                                break;
                            }
                            Err(GatewayCallError::Refused(GatewayError::Busy)) => continue,
                            Err(GatewayCallError::Refused(GatewayError::InsufficientBalance(_))) => break,
                            Err(e) => panic!("transfer {key}: {e}"),
                        }
                    }
                }
                done
            })
        })
        .collect();
    let done: Vec<(String, bool)> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(done.len() >= 60, "most transfers went through: {}", done.len());
    assert!(done.iter().all(|(_, replayed)| !replayed));
    assert_eq!(total(&h), 4_000, "the total is conserved exactly");
    check_ledger(&h, "after the race");
    let applied = h.records::<TransferRec>("xfer/");
    assert_eq!(applied.len(), done.len(), "each successful call applied once, refused ones not at all");
    // Retrying every key changes nothing and answers the first result.
    for (key, _) in &done {
        let t = applied.iter().find(|t| &t.idempotency_key == key).unwrap();
        let again = h.api(|a| a.transfer_internal(&t.from_user, &t.to_user, t.amount, key, "race")).unwrap();
        assert!(again.replayed);
        assert_eq!((again.from_balance, again.to_balance), (t.from_balance, t.to_balance));
    }
    assert_eq!(total(&h), 4_000);
    let listed: usize = users.iter().map(|u| h.api(|a| a.list_transfers(u, ListOrder::NewestFirst, None, 500)).unwrap().len()).sum();
    assert_eq!(listed, 2 * applied.len(), "listed once for each side");
    assert!(matches!(refused(h.api(|a| a.transfer_internal("ann", "ann", 1, "self", ""))), GatewayError::Invalid(_)));
    assert!(matches!(refused(h.api(|a| a.transfer_internal("ann", "ben", 1_000_000, "too-much", ""))), GatewayError::InsufficientBalance(_)));
    assert!(matches!(refused(h.api(|a| a.transfer_internal("ann", "ben", 2, &done[0].0, "race"))), GatewayError::IdempotencyConflict));
}

#[test]
fn e2e_referral_cycles_and_self_referral_refused() {
    let (h, _) = treasury(runtime());
    // a ← b ← c ← d: each referred by the one before.
    h.api(|a| a.set_referrer("b", "a")).unwrap();
    h.api(|a| a.set_referrer("c", "b")).unwrap();
    h.api(|a| a.set_referrer("d", "c")).unwrap();
    assert!(matches!(refused(h.api(|a| a.set_referrer("a", "a"))), GatewayError::SelfReferral));
    assert!(matches!(refused(h.api(|a| a.set_referrer("a", "d"))), GatewayError::ReferralCycle), "a → d → c → b → a");
    assert!(matches!(refused(h.api(|a| a.set_referrer("a", "b"))), GatewayError::ReferralCycle));
    assert!(matches!(refused(h.api(|a| a.set_referrer("b", "c"))), GatewayError::ReferrerAlreadySet(r) if r == "a"));
    assert!(matches!(refused(h.api(|a| a.set_referrer("e", "referral-pool"))), GatewayError::Invalid(_)));
    // The same referrer again is the same answer.
    let again = h.api(|a| a.set_referrer("b", "a")).unwrap();
    assert_eq!(again.referrer, "a");
    let listed = h.api(|a| a.list_referrals("a", None, 10)).unwrap();
    assert_eq!(listed.iter().map(|r| r.user.as_str()).collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(h.api(|a| a.referral_earnings("a")).unwrap().referrals, 1);
    // Racing pairs that would close a two-cycle: at most one of each pair commits.
    let pairs: Vec<_> = (0..8)
        .map(|i| {
            let (x, y) = (format!("x{i}"), format!("y{i}"));
            let (h1, h2) = (h.service.clone(), h.service.clone());
            let (x1, y1, x2, y2) = (x.clone(), y.clone(), x, y);
            let t1 = std::thread::spawn(move || loop {
                match h1.with(|a| a.set_referrer(&x1, &y1)) {
                    Err(GatewayCallError::Refused(GatewayError::Busy)) => continue,
                    r => return r.is_ok(),
                }
            });
            let t2 = std::thread::spawn(move || loop {
                match h2.with(|a| a.set_referrer(&y2, &x2)) {
                    Err(GatewayCallError::Refused(GatewayError::Busy)) => continue,
                    r => return r.is_ok(),
                }
            });
            (t1, t2)
        })
        .collect();
    for (t1, t2) in pairs {
        let (a, b) = (t1.join().unwrap(), t2.join().unwrap());
        assert!(a ^ b, "exactly one side of a would-be cycle commits ({a}, {b})");
    }
}

#[test]
fn e2e_rewards_conserve_pool_and_balances() {
    let (h, _) = treasury(runtime());
    for (user, referrer) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d")] {
        h.api(|a| a.set_referrer(user, referrer)).unwrap();
    }
    let everyone = ["referral-pool", "a", "b", "c", "d", "e", "f"];
    let sum = |h: &Harness| everyone.iter().map(|u| h.balance(u).0).sum::<u64>();
    // Unfunded: nothing is created from nothing.
    assert!(matches!(refused(h.api(|a| a.reward_referrers("e", 1_000, "r-0"))), GatewayError::PoolInsufficient(0)));
    h.api(|a| a.adjust_balance("referral-pool", 50_000, "fund-pool", "operator")).unwrap();
    let before = sum(&h);
    let mut last_pool = 50_000;
    for (i, (user, base)) in [("e", 1_000u64), ("d", 999), ("b", 7), ("a", 1_000), ("f", 12_345), ("e", 3_001)].into_iter().enumerate() {
        let r = h.api(|a| a.reward_referrers(user, base, &format!("r-{}", i + 1))).unwrap();
        assert_eq!(sum(&h), before, "pool + balances constant across reward-referrers");
        assert_eq!(r.paid, r.shares.iter().map(|s| s.amount).sum::<u64>() + r.cashback);
        assert_eq!(last_pool - r.paid, r.pool_balance);
        last_pool = r.pool_balance;
        // Rounding down per share, in the pool's favour.
        for s in &r.shares {
            let rate = [100u64, 50, 25][s.level as usize - 1];
            assert_eq!(s.amount, base * rate / 1000);
        }
        assert_eq!(r.cashback, base * 20 / 1000);
        check_ledger(&h, &format!("reward {i}"));
    }
    // e's reward of 1000: d 100, c 50, b 25 (three levels; a is the fourth, unpaid), e 20.
    let first = h.records::<RewardRec>("rwd/").into_iter().find(|r| r.idempotency_key == "r-1").unwrap();
    assert_eq!(first.shares.iter().map(|s| (s.user.as_str(), s.amount)).collect::<Vec<_>>(), vec![("d", 100), ("c", 50), ("b", 25)]);
    assert_eq!(first.cashback, 20);
    // A replay pays nothing more; another base with the same key is a conflict.
    let again = h.api(|a| a.reward_referrers("e", 1_000, "r-1")).unwrap();
    assert!(again.replayed);
    assert_eq!(sum(&h), before);
    assert!(matches!(refused(h.api(|a| a.reward_referrers("e", 2_000, "r-1"))), GatewayError::IdempotencyConflict));
    // Earnings by level, as listed.
    let d = h.api(|a| a.referral_earnings("d")).unwrap();
    assert_eq!(d.referrer.as_deref(), Some("c"));
    assert_eq!(d.by_level.first().copied(), Some(100 + 300));
    // A pool that cannot pay refuses the whole reward.
    assert!(matches!(refused(h.api(|a| a.reward_referrers("e", 10_000_000, "r-big"))), GatewayError::PoolInsufficient(p) if p == last_pool));
    assert_eq!(sum(&h), before);
    // Rewards can be spent like any balance: withdrawn, for one.
    check_ledger(&h, "the end");
}
