//! Randomized sequences over many seeds: links, deposits (linked and not), game balance
//! changes, withdrawals, reviews, restarts and a second instance, with node errors,
//! timeouts, dropped broadcasts and store failures mixed in. After every step:
//! - no negative balance (balances are u64; frozen equals what open withdrawals hold);
//! - per user, balance + frozen = credited deposits + game changes + internal transfers
//!   in − out + rewards − rewards paid (the pool) − completed withdrawals;
//! - sweeps to cold storage: each paid at most once, and never leaving pending
//!   withdrawals unfunded;
//! - no deposit credited twice, and every credit is a real chain transfer;
//! - no withdrawal paid twice (counting the chain's transfers), none paid after failing.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::ports::{Node, NodeError, Ports};
use cwd_gateway_guest::rates::WithdrawalAmount;
use cwd_gateway_guest::records::{Order, WdState, WithdrawalRec};
use cwd_gateway_guest::sweep::{SweepRec, SweepState};
use support::*;

const USERS: [&str; 4] = ["p1", "p2", "p3", "p4"];
const ACCOUNTS: [&str; 5] = ["alice", "bob", "carol", "mallory", "dave"];

fn check(w: &World, seed: u64, step: usize) {
    check_books(w, &format!("seed {seed} step {step}"), Positions::Exact);
}

/// A node that sometimes lets a second instance run a whole tick in the middle of a
/// call of the first one, so that what the first one read is stale when it commits.
struct RandomInterleave {
    inner: SimNode,
    other: Rc<RefCell<Option<Gateway>>>,
    rng: Rng,
}

impl Node for RandomInterleave {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        let answer = self.inner.call(api, method, params);
        if self.rng.chance(150) {
            let taken = self.other.borrow_mut().take();
            if let Some(mut g) = taken {
                let _ = g.tick();
                *self.other.borrow_mut() = Some(g);
            }
        }
        answer
    }
}

fn interleaved_instance(w: &World, other: &Rc<RefCell<Option<Gateway>>>, seed: u64) -> Gateway {
    let mut g = Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(RandomInterleave {
            inner: SimNode(w.chain.clone()),
            other: other.clone(),
            rng: Rng(seed ^ 0xabc),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    for _ in 0..100 {
        if g.configure(w.config.clone(), gateway_keys()).is_ok() {
            break;
        }
    }
    g
}

fn run(seed: u64, steps: usize) {
    let mut cfg = default_config();
    cfg.withdrawals.review_above_cwd = 2_000_000;
    cfg.withdrawals.expiration_secs = 30;
    cfg.withdrawals.max_attempts = 1 + (seed % 2) as u32;
    cfg.withdrawals.daily_cwd = 30_000_000;
    // Sweeps to cold storage, keeping more than a day's withdrawals of every user hot.
    cfg.treasury.cold_account = COLD.into();
    cfg.treasury.high_water_cwd = 150_000_000;
    cfg.treasury.fee_reserve_cwd = 1_000_000;
    cfg.treasury.min_sweep_cwd = 10_000 + (seed % 3) * 1_000_000;
    cfg.referrals.level_rates_per_mille = vec![100, 50, 25];
    cfg.referrals.cashback_per_mille = 10;
    let mut w = World::with_config(seed, cfg);
    let mut rng = Rng(seed ^ 0x5eed);
    let mut other: Option<Gateway> = None;
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    {
        let mut c = w.chain.borrow_mut();
        c.random_faults = Some((Rng(seed.wrapping_mul(31)), 120));
        c.ints_as_strings = seed.is_multiple_of(2);
        // Irreversibility sometimes lags more than a transaction's lifetime (30 s here).
        c.lib_lag = 2 + (seed % 11) as u32;
        c.accounts
            .iter_mut()
            .find(|a| a.name == "dave")
            .unwrap()
            .balances
            .insert(9, 1_000_000);
    }
    w.store.0.borrow_mut().random_fail = Some((Rng(seed.wrapping_mul(17)), 20));
    // Odd seeds: a second instance runs ticks in the middle of the first one's calls.
    let hidden: Rc<RefCell<Option<Gateway>>> = Rc::new(RefCell::new(None));
    if seed % 2 == 1 {
        *hidden.borrow_mut() = Some(w.second_instance());
        w.gw = interleaved_instance(&w, &hidden, seed);
    }
    for step in 0..steps {
        let user = USERS[rng.below(USERS.len() as u64) as usize];
        let account = ACCOUNTS[rng.below(ACCOUNTS.len() as u64) as usize];
        match rng.below(100) {
            0..=9 => {
                // Link (the honest way, when the message made it out).
                if w.gw.start_link(user, account).is_ok() {
                    let code = w.try_read_code(account).unwrap_or_default();
                    let code = if rng.chance(200) {
                        "000000".to_string()
                    } else {
                        code
                    };
                    let _ = w.gw.confirm_link(user, &code);
                }
            }
            10..=12 => {
                let _ = w.gw.unlink(user);
            }
            13..=32 => {
                let amount = 1 + rng.below(3_000_000) as i64;
                if rng.chance(50) {
                    w.chain
                        .borrow_mut()
                        .player_transfer("dave", GATEWAY, 1 + amount % 1000, 9);
                } else {
                    w.deposit(account, amount);
                }
            }
            33..=44 => {
                // Game changes, sometimes retried with the same key.
                let (key, delta, who) = if !keys.is_empty() && rng.chance(300) {
                    keys[rng.below(keys.len() as u64) as usize].clone()
                } else {
                    let delta = rng.below(2_000) as i64 - 800;
                    let k = (
                        format!("k{seed}-{step}"),
                        if delta == 0 { 1 } else { delta },
                        user.to_string(),
                    );
                    keys.push(k.clone());
                    k
                };
                let _ = w.gw.adjust_balance(&who, delta, &key, "play");
            }
            45..=54 => {
                let amount = if rng.chance(500) {
                    WithdrawalAmount::Game(1 + rng.below(3_000))
                } else {
                    WithdrawalAmount::Cwd(1_000 + rng.below(3_000_000))
                };
                let key = if rng.chance(200) {
                    format!("w{seed}-{}", step.saturating_sub(1))
                } else {
                    format!("w{seed}-{step}")
                };
                let _ = w.gw.request_withdrawal(user, amount, &key);
            }
            55..=58 => {
                // The ledger's other moves: internal transfers, referrals, rewards.
                let other = USERS[rng.below(USERS.len() as u64) as usize];
                match rng.below(4) {
                    0 => {
                        let _ = w.gw.transfer_internal(
                            user,
                            other,
                            1 + rng.below(800),
                            &format!("x{seed}-{}", step.saturating_sub(rng.below(2) as usize)),
                            "",
                        );
                    }
                    1 => {
                        let _ = w.gw.set_referrer(user, other);
                    }
                    2 => {
                        let _ = w.gw.adjust_balance(
                            "referral-pool",
                            1 + rng.below(5_000) as i64,
                            &format!("pool{seed}-{step}"),
                            "fund",
                        );
                    }
                    _ => {
                        let _ = w.gw.reward_referrers(
                            user,
                            1 + rng.below(3_000),
                            &format!("r{seed}-{}", step.saturating_sub(rng.below(2) as usize)),
                        );
                    }
                }
            }
            59..=60 => {
                // Review decisions on whatever waits.
                if let Ok(list) =
                    w.gw.list_withdrawals(&Default::default(), Order::OldestFirst, None, 50)
                {
                    if let Some(x) = list.iter().find(|x| x.state == WdState::AwaitingReview) {
                        if rng.chance(500) {
                            let _ = w.gw.approve_withdrawal("operator", &x.withdrawal_id);
                        } else {
                            let _ = w.gw.reject_withdrawal("operator", &x.withdrawal_id, "no");
                        }
                    }
                }
            }
            61..=62 => {
                if let Ok(list) = w.gw.list_unclaimed(false, None, 10) {
                    if let Some(u) = list.first() {
                        if rng.chance(500) {
                            let _ = w.gw.assign_unclaimed("operator", &u.deposit_id, user);
                        } else {
                            let _ = w.gw.refund_unclaimed("operator", &u.deposit_id, "refund");
                        }
                    }
                }
            }
            63..=79 => {
                let n = 1 + rng.below(4) as u32;
                w.produce_n(n);
            }
            80..=93 => {
                let _ = w.gw.tick();
            }
            94..=96 => {
                if other.is_none() {
                    other = Some(w.second_instance());
                }
                let _ = other.as_mut().unwrap().tick();
            }
            _ => {
                w.restart();
                if seed % 2 == 1 {
                    w.gw = interleaved_instance(&w, &hidden, seed + step as u64);
                }
            }
        }
        check(&w, seed, step);
    }
    // Drain: faults off, let everything become irreversible and settle.
    w.chain.borrow_mut().random_faults = None;
    w.store.0.borrow_mut().random_fail = None;
    for _ in 0..40 {
        w.produce_n(6);
        w.gw.tick().unwrap();
        check(&w, seed, steps);
    }
    let wds: Vec<(String, WithdrawalRec)> = w.store.all("wd/");
    for (_, x) in &wds {
        assert!(
            matches!(
                x.state,
                WdState::Confirmed | WdState::Failed | WdState::Rejected | WdState::AwaitingReview
            ),
            "seed {seed}: {} stuck in {:?}",
            x.id,
            x.state
        );
    }
    // Every irreversible transfer to the gateway is accounted for exactly once.
    let c = w.chain.borrow();
    let gid = c.id_of(GATEWAY);
    let incoming = c
        .history
        .get(&gid)
        .map(|h| {
            h.iter()
                .filter(|h| {
                    h.op[0] == serde_json::json!(0)
                        && h.op[1]["to"] == serde_json::json!(format!("1.2.{gid}"))
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        w.store.keys("dep/").len() + w.store.keys("unc/").len(),
        incoming,
        "seed {seed}: deposits lost or doubled"
    );
    let count = |s: WdState| wds.iter().filter(|(_, x)| x.state == s).count();
    let attempts: u32 = wds.iter().map(|(_, x)| x.attempts).sum();
    eprintln!(
        "seed {seed}: links {} deposits {} unclaimed {} adjustments {} withdrawals confirmed {} failed {} rejected {} review {} attempts {attempts} sweeps {}/{} transfers {} referrals {} rewards {}",
        w.store.keys("link/").len(),
        w.store.keys("dep/").len(),
        w.store.keys("unc/").len(),
        w.store.keys("adj/").len(),
        count(WdState::Confirmed),
        count(WdState::Failed),
        count(WdState::Rejected),
        count(WdState::AwaitingReview),
        w.store.all::<SweepRec>("sweep/").iter().filter(|(_, s)| s.state == SweepState::Confirmed).count(),
        w.store.keys("sweep/").len(),
        w.store.keys("xfer/").len(),
        w.store.keys("ref/").len(),
        w.store.keys("rwd/").len(),
    );
}

#[test]
fn randomized_sequences_keep_the_books_balanced() {
    let seeds: u64 = std::env::var("GATEWAY_PROPERTY_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    for seed in 0..seeds {
        run(seed, 160);
    }
}
