//! What a hostile player can make the operator pay (issue 32, item 2): refused link
//! attempts are counted before the node is asked, withdrawal requests are counted per
//! day, and an optional withdrawal fee is paid by the user, shown in the quote.

mod support;

use cwd_gateway_guest::gateway_error::{GatewayError, LimitScope};
use cwd_gateway_guest::rates::WithdrawalAmount::{Cwd, Game};
use cwd_gateway_guest::records::WdState;
use support::*;

fn lookups(w: &World) -> usize {
    w.chain.borrow().calls.iter().filter(|c| c.contains("lookup_account_names") || c.contains("get_account_by_name")).count()
}

#[test]
fn refused_link_attempts_are_counted_before_the_node_is_asked() {
    let mut c = default_config();
    c.link.user_daily = 4;
    let mut w = World::with_config(61, c);
    let before = lookups(&w);
    // Accounts that do not exist: each attempt asks the node once, and counts.
    for i in 0..4 {
        w.clock.set(w.clock.get() + 60_000);
        let r = w.gw.start_link("u1", &format!("nobody{i}"));
        assert_eq!(r, Err(GatewayError::AccountNotFound), "attempt {i}");
    }
    assert_eq!(lookups(&w) - before, 4);
    // The fifth is refused by the user's limit without a node call: no oracle for
    // "does this account exist, is it a customer".
    w.clock.set(w.clock.get() + 60_000);
    let r = w.gw.start_link("u1", "alice");
    assert!(matches!(r, Err(GatewayError::RateLimited { scope: LimitScope::User, .. })), "{r:?}");
    assert_eq!(lookups(&w) - before, 4, "a refused attempt asks the node nothing");
    assert!(w.chain.borrow().last_message("alice").is_none(), "no code was sent");

    // Another user is not affected, and an account already taken counts as well.
    w.link("u2", "alice");
    let mut tries = 0;
    loop {
        w.clock.set(w.clock.get() + 60_000);
        match w.gw.start_link("u3", "alice") {
            Err(GatewayError::RateLimited { scope: LimitScope::User, .. }) => break,
            Err(_) => tries += 1,
            Ok(_) => panic!("alice is taken"),
        }
        assert!(tries <= 4);
    }
    assert_eq!(tries, 4, "refusals for a taken account count too");
    check_ledger(&w.store, "after refused links");
}

#[test]
fn withdrawal_requests_per_day_are_limited_and_not_given_back() {
    let mut c = default_config();
    c.withdrawals.daily_count = 3;
    c.withdrawals.review_above_cwd = 500_000;
    let mut w = World::with_config(62, c);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "funds").unwrap();
    let first = w.gw.request_withdrawal("u1", Cwd(600_000), "w1").unwrap();
    assert_eq!(first.state, WdState::AwaitingReview);
    w.gw.reject_withdrawal("ops", &first.withdrawal_id, "no").unwrap();
    w.gw.request_withdrawal("u1", Cwd(1_000), "w2").unwrap();
    w.gw.request_withdrawal("u1", Cwd(1_000), "w3").unwrap();
    // A rejected request still counts: it was a request the operator had to handle.
    match w.gw.request_withdrawal("u1", Cwd(1_000), "w4") {
        Err(GatewayError::DailyLimit { requests_left: Some(0), retry_after_ms, .. }) => assert!(retry_after_ms > 0),
        other => panic!("{other:?}"),
    }
    // A replay of an accepted request still answers it.
    assert!(w.gw.request_withdrawal("u1", Cwd(1_000), "w3").is_ok());
    // The next UTC day, requests are allowed again.
    w.clock.set(w.clock.get() + 86_400_000);
    w.gw.request_withdrawal("u1", Cwd(1_000), "w5").unwrap();
    check_ledger(&w.store, "after counted requests");
}

#[test]
fn a_withdrawal_fee_is_quoted_paid_by_the_user_and_refunded_with_the_rest() {
    let mut c = default_config();
    c.withdrawals.fee_cwd = 20_000; // 0.2 CWD; the withdrawal rate is 100 game units a CWD
    c.withdrawals.review_above_cwd = 500_000;
    let mut w = World::with_config(63, c);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "funds").unwrap();

    let q = w.gw.quote_withdrawal(Cwd(100_000)).unwrap();
    assert_eq!((q.cwd, q.game, q.fee_cwd), (100_000, 120, 20_000));
    let q = w.gw.quote_withdrawal(Game(120)).unwrap();
    assert_eq!((q.cwd, q.game, q.fee_cwd), (100_000, 120, 20_000));
    assert_eq!(w.gw.quote_withdrawal(Game(20)), Err(GatewayError::AmountTooSmall), "the fee eats it all");
    assert_eq!(w.gw.quote_deposit(100_000).unwrap().fee_cwd, 0);

    let alice = w.chain.borrow().balance("alice", 0);
    let wd = w.gw.request_withdrawal("u1", Cwd(100_000), "w1").unwrap();
    assert_eq!((wd.game, wd.cwd, wd.fee_cwd), (120, 100_000, 20_000));
    assert_eq!(w.balance("u1"), (9_880, 120));
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    assert_eq!(w.balance("u1"), (9_880, 0), "the fee was spent with the payout");
    assert_eq!(w.chain.borrow().balance("alice", 0) - alice, 100_000, "the player receives the payout, not the fee");

    // Rejected: every game unit comes back, the fee's too.
    let big = w.gw.request_withdrawal("u1", Cwd(600_000), "w2").unwrap();
    assert_eq!(big.game, 620);
    w.gw.reject_withdrawal("ops", &big.withdrawal_id, "no").unwrap();
    assert_eq!(w.balance("u1"), (9_880, 0));
    check_ledger(&w.store, "after fees");
    check_totals(&w.store, "after fees");
}
