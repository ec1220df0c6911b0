//! Linking cannot be griefed or farmed (issue 9): proof of work in front of the call that
//! costs a fee, memo linking that strangers cannot block, and budgets that hold against
//! a thousand throwaway users.

mod support;

use cwd_gateway_guest::events::Event;
use cwd_gateway_guest::gateway_error::{GatewayError, LimitScope, ProofProblem};
use cwd_gateway_guest::memo_link::{MEMO_LINK_GRACE_MS, MEMO_LINK_TTL_MS};
use cwd_gateway_guest::pow::{self, Proof, CHALLENGE_TTL_MS};
use support::*;

fn solved(w: &mut World) -> Proof {
    let c = w.gw.link_challenge().unwrap();
    Proof { nonce: pow::solve(&c.challenge, c.difficulty_bits), challenge: c.challenge }
}

fn gateway_cwd(w: &World) -> i64 {
    w.chain.borrow().balance(GATEWAY, 0)
}

#[test]
fn memo_link_links_the_sender_once_irreversible_and_credits_the_transfer() {
    let mut w = World::new(120);
    let m = w.gw.start_memo_link("u1").unwrap();
    assert_eq!(m.gateway_account, GATEWAY);
    assert!(!w.store.dump().contains(&m.code), "the code is not in the database");
    w.chain.borrow_mut().player_transfer_memo("alice", GATEWAY, 100_000, &m.code);
    w.produce();
    w.gw.tick().unwrap();
    assert!(w.gw.account("u1").unwrap().linked.is_none(), "not before the transfer is irreversible");
    w.settle();
    w.take_events();
    w.gw.tick().unwrap();
    let v = w.gw.account("u1").unwrap();
    assert_eq!(v.linked.unwrap().account, "alice");
    assert_eq!(v.balance, 90);
    let kinds: Vec<&str> = w
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::LinkConfirmed { user, account, .. } if user == "u1" && account == "alice" => Some("linked"),
            Event::DepositCredited { user, game: 90, .. } if user == "u1" => Some("credited"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec!["linked", "credited"]);
    // The code is spent: the same memo from another account links nothing.
    w.chain.borrow_mut().player_transfer_memo("bob", GATEWAY, 100_000, &m.code);
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.list_unclaimed(false, None, 10).unwrap().len(), 1);
    assert_eq!(w.balance("u1").0, 90);
    assert_eq!(w.gw.start_memo_link("u1"), Err(GatewayError::AlreadyLinked("alice".into())));
}

#[test]
fn memo_link_to_an_account_held_by_another_user_is_that_users_deposit() {
    let mut w = World::new(121);
    w.link("holder", "alice");
    let m = w.gw.start_memo_link("intruder").unwrap();
    w.chain.borrow_mut().player_transfer_memo("alice", GATEWAY, 100_000, &m.code);
    w.settle();
    w.gw.tick().unwrap();
    assert!(w.gw.account("intruder").unwrap().linked.is_none());
    assert_eq!(w.balance("holder").0, 90);
}

#[test]
fn wrong_replaced_or_expired_memo_codes_link_nobody() {
    let mut w = World::new(122);
    let first = w.gw.start_memo_link("u1").unwrap();
    w.clock.set(w.clock.get() + 61_000); // the per-user interval
    let second = w.gw.start_memo_link("u1").unwrap();
    assert_ne!(first.code, second.code);
    w.chain.borrow_mut().player_transfer_memo("alice", GATEWAY, 100_000, &first.code); // replaced
    w.chain.borrow_mut().player_transfer_memo("bob", GATEWAY, 100_000, "link-aaaaaaaaaaaaaaaa"); // guessed
    w.settle();
    w.gw.tick().unwrap();
    assert!(w.gw.account("u1").unwrap().linked.is_none());
    assert_eq!(w.gw.list_unclaimed(false, None, 10).unwrap().len(), 2);
    // Expired (past the grace for irreversibility): cleaned up, links nobody.
    w.clock.set(w.clock.get() + MEMO_LINK_TTL_MS + MEMO_LINK_GRACE_MS);
    w.gw.tick().unwrap();
    assert!(w.store.keys("mlink/").is_empty());
    w.chain.borrow_mut().player_transfer_memo("carol", GATEWAY, 100_000, &second.code);
    w.settle();
    w.gw.tick().unwrap();
    assert!(w.gw.account("u1").unwrap().linked.is_none());
    assert_eq!(w.gw.list_unclaimed(false, None, 10).unwrap().len(), 3);
}

#[test]
fn start_link_requires_a_fresh_solved_challenge_when_configured() {
    let mut cfg = default_config();
    cfg.link.pow_bits = 8;
    let mut w = World::with_config(123, cfg);
    assert_eq!(w.gw.start_link("u1", "alice"), Err(GatewayError::ProofRequired { difficulty_bits: 8 }));
    let c = w.gw.link_challenge().unwrap();
    assert_eq!((c.difficulty_bits, c.challenge.len()), (8, 80));
    let weak = (0u64..).find(|n| pow::leading_zero_bits(&pow::work_hash(&c.challenge, *n)) < 8).unwrap();
    let bad = Proof { challenge: c.challenge.clone(), nonce: weak };
    assert_eq!(w.gw.start_link_with_proof("u1", "alice", Some(&bad)), Err(GatewayError::BadProof(ProofProblem::InsufficientWork)));
    let good = Proof { challenge: c.challenge.clone(), nonce: pow::solve(&c.challenge, 8) };
    w.gw.start_link_with_proof("u1", "alice", Some(&good)).unwrap();
    // Single use, even by another user.
    assert_eq!(w.gw.start_link_with_proof("u2", "bob", Some(&good)), Err(GatewayError::BadProof(ProofProblem::Used)));
    // Forged: another challenge's work on a changed expiry.
    let forged = Proof { challenge: format!("ff{}", &c.challenge[2..]), nonce: 0 };
    assert_eq!(w.gw.start_link_with_proof("u2", "bob", Some(&forged)), Err(GatewayError::BadProof(ProofProblem::Malformed)));
    // Expired.
    let late = solved(&mut w);
    w.clock.set(w.clock.get() + CHALLENGE_TTL_MS);
    assert_eq!(w.gw.start_link_with_proof("u2", "bob", Some(&late)), Err(GatewayError::BadProof(ProofProblem::Expired)));
    // Spent challenges are forgotten once expired.
    w.gw.tick().unwrap();
    assert!(w.store.keys("pow/").is_empty());
}

#[test]
fn thousand_throwaway_users_cannot_lock_out_the_owner_nor_overspend_the_budget() {
    let mut cfg = default_config();
    cfg.link.account_daily = 5;
    cfg.link.global_daily = 40;
    cfg.link.pow_bits = 4;
    let mut w = World::with_config(124, cfg);
    let before = gateway_cwd(&w);
    // 1,000 throwaway users ask for codes to the owner's account…
    let mut sent = 0;
    for i in 0..1000 {
        let p = solved(&mut w);
        match w.gw.start_link_with_proof(&format!("throwaway-a{i}"), "alice", Some(&p)) {
            Ok(_) => sent += 1,
            Err(GatewayError::RateLimited { scope: LimitScope::Account, .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(sent, 5);
    // …and 1,000 more, each to an account of its own.
    for i in 0..1000 {
        w.chain.borrow_mut().create_account(&format!("sock{i}"), 0);
    }
    for i in 0..1000 {
        let p = solved(&mut w);
        match w.gw.start_link_with_proof(&format!("throwaway-b{i}"), &format!("sock{i}"), Some(&p)) {
            Ok(_) => sent += 1,
            Err(GatewayError::RateLimited { scope: LimitScope::Global, .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(sent, 40, "the daily budget of link messages");
    w.settle();
    assert_eq!(before - gateway_cwd(&w), 40 * MESSAGE_FEE, "the gateway spent exactly its budget");
    // Without the proof of work, none of it is possible.
    assert!(matches!(w.gw.start_link("throwaway-c", "bob"), Err(GatewayError::ProofRequired { .. })));

    // The owner cannot get a message today, but links by memo: nobody can block that.
    let p = solved(&mut w);
    assert!(matches!(w.gw.start_link_with_proof("owner", "alice", Some(&p)), Err(GatewayError::RateLimited { .. })));
    let m = w.gw.start_memo_link("owner").unwrap();
    w.chain.borrow_mut().player_transfer_memo("alice", GATEWAY, 100_000, &m.code);
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.account("owner").unwrap().linked.unwrap().account, "alice");
    // The throwaways' pending codes to alice are now useless to them.
    for i in 0..5 {
        assert!(matches!(w.gw.confirm_link(&format!("throwaway-a{i}"), "000000"), Err(GatewayError::WrongCode { .. } | GatewayError::AccountTaken)));
    }
    // Nothing more was spent (the owner's transfer came in).
    assert_eq!(gateway_cwd(&w) - before, 100_000 - 40 * MESSAGE_FEE);
}

/// The referral pool and every `gateway.…` id are the gateway's own users: a player given
/// one (by a careless or compromised game call, or a cabinet session minted for it)
/// cannot link it, withdraw from it or move its units, and the pool keeps every unit.
#[test]
fn the_gateways_own_users_cannot_be_played() {
    use cwd_gateway_guest::rates::WithdrawalAmount::Game;
    let mut w = World::new(77);
    w.gw.adjust_balance("referral-pool", 10_000, "fund-pool", "pool").unwrap();
    w.gw.adjust_balance("gateway.fees", 500, "fund-fees", "").unwrap();
    for user in ["referral-pool", "gateway.fees", "gateway.anything"] {
        let reserved = |r: Result<(), GatewayError>| assert_eq!(r, Err(GatewayError::ReservedUser), "{user}");
        reserved(w.gw.start_link(user, "mallory").map(drop));
        reserved(w.gw.confirm_link(user, "123456").map(drop));
        reserved(w.gw.start_memo_link(user).map(drop));
        reserved(w.gw.request_withdrawal(user, Game(100), &format!("w-{user}")).map(drop));
        reserved(w.gw.transfer_internal(user, "alice-user", 100, &format!("t-{user}"), "").map(drop));
        reserved(w.gw.transfer_internal("alice-user", user, 1, &format!("t2-{user}"), "").map(drop));
    }
    assert!(w.chain.borrow().pending_message("mallory").is_none(), "no link message went out");
    assert_eq!(w.balance("referral-pool"), (10_000, 0));
    assert_eq!(w.balance("gateway.fees"), (500, 0));
    // Players are unaffected, and ids merely containing the prefix are players.
    w.gw.start_link("my.gateway.user", "mallory").unwrap();
}
