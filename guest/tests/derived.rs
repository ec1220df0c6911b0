//! Derived data kept in the commits that change records (`records::derived`): totals
//! equal the recount from the records after every kind of change; per-user listings
//! read through the user's index give what a scan of every record gives; and a store
//! written before either existed gets both built in bounded batches while the gateway
//! serves, across a restart in the middle, to what a fresh store keeps.

mod support;

use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::ports::Store;
use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::derived::{self, Build, BUILD_KEY};
use cwd_gateway_guest::records::Order;
use cwd_gateway_guest::records::totals::{self, Totals, TOTALS_PREFIX};
use support::*;

/// A world with many users, frozen funds, open and finished withdrawals, and unclaimed
/// deposits (a deposit from an unlinked account).
fn busy_world(seed: u64) -> World {
    let mut w = World::new(seed);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 50_000, "seed-u1", "funds").unwrap();
    for i in 0..40 {
        w.gw.adjust_balance(&format!("p{i:02}"), 100 + i, &format!("seed-{i}"), "funds").unwrap();
    }
    for i in 0..6 {
        w.gw.request_withdrawal("u1", Game(1_000 + i), &format!("w-{i}")).unwrap();
    }
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.chain.borrow_mut().player_transfer("bob", GATEWAY, 300_000, 0);
    w.settle();
    w.gw.tick().unwrap();
    w.gw.request_withdrawal("u1", Game(2_000), "w-open").unwrap();
    w
}

fn kept(w: &World) -> Option<Totals> {
    totals::read(&mut w.store.clone()).unwrap()
}

fn recount(w: &World) -> Totals {
    totals::recount(&mut w.store.clone()).unwrap()
}

/// Forgets the totals, as a store written by the release before them has none.
fn as_older_release(w: &World) {
    let mut s = w.store.0.borrow_mut();
    s.data.retain(|k, _| !k.starts_with(TOTALS_PREFIX) && !k.starts_with("udep/") && !k.starts_with("uwd/") && !k.starts_with("adjexp/") && k != BUILD_KEY);
}

#[test]
fn kept_totals_equal_the_recount_through_payouts_claims_and_restarts() {
    let mut w = busy_world(91);
    let t = kept(&w).expect("built on the first tick");
    assert_eq!(t, recount(&w));
    assert!(t.frozen_game > 0 && t.pending_count >= 1 && t.unclaimed_count == 1, "{t:?}");
    let status = w.gw.status().unwrap();
    assert_eq!((status.frozen_game, status.unclaimed_count, status.unclaimed_cwd), (t.frozen_game as u64, 1, 300_000));
    assert_eq!((status.pending_cwd, status.pending_withdrawals as i128), (t.pending_cwd as u64, t.pending_count));
    // Pay everything out; assign the unclaimed deposit: the totals follow.
    for _ in 0..4 {
        w.gw.tick().unwrap();
        w.settle();
    }
    w.gw.tick().unwrap();
    let deposit = w.gw.list_unclaimed(false, None, 10).unwrap().remove(0).deposit_id;
    w.gw.assign_unclaimed("operator", &deposit, "u1").unwrap();
    let t = kept(&w).unwrap();
    assert_eq!(t, recount(&w));
    assert_eq!((t.frozen_game, t.pending_count, t.unclaimed_count, t.unclaimed_cwd), (0, 0, 0, 0), "{t:?}");
    check_ledger(&w.store, "after payouts and a claim");
}

#[test]
fn an_older_store_gets_its_totals_built_in_batches_across_a_restart() {
    let mut w = busy_world(92);
    let expected = recount(&w);
    as_older_release(&w);
    assert_eq!(kept(&w), None, "no totals: readers recount");
    assert_eq!(w.gw.status().unwrap().frozen_game, expected.frozen_game as u64);

    // A few small batches, with changes on both sides of the build's cursor in between.
    let mut store = w.store.clone();
    assert!(!derived::build_step(&mut store, 5).unwrap());
    w.gw.request_withdrawal("u1", Game(700), "w-during-1").unwrap();
    assert!(!derived::build_step(&mut store, 5).unwrap());
    w.gw.adjust_balance("p39", 1, "during", "late user").unwrap();
    w.gw.request_withdrawal("u1", Game(800), "w-during-2").unwrap();
    assert!(!derived::build_step(&mut store, 5).unwrap());

    // The host dies here; a new instance goes on from the stored cursor.
    w.restart();
    assert_eq!(kept(&w), None, "not yet built");
    w.gw.request_withdrawal("u1", Game(900), "w-during-3").unwrap();
    while !derived::build_step(&mut store, 7).unwrap() {}
    let t = kept(&w).expect("built");
    assert_eq!(t, recount(&w), "the build and the live commits counted each record once");
    assert_eq!(t.frozen_game, expected.frozen_game + 700 + 800 + 900);

    // The same figures a store that always kept totals has.
    w.gw.tick().unwrap();
    assert_eq!(kept(&w), Some(recount(&w)));
    check_ledger(&w.store, "after the build");
}

#[test]
fn a_tick_builds_at_most_one_batch() {
    let mut w = busy_world(93);
    as_older_release(&w);
    // 2,500 more users: several ticks' batches of 500.
    let mut store = w.store.clone();
    for i in 0..2_500u32 {
        let key = format!("user/bulk{i:05}");
        let rec = cwd_gateway_guest::records::UserRec { frozen: 1, ..Default::default() };
        store.commit(&[], &[cwd_gateway_guest::ports::Write { key, value: Some(cwd_gateway_guest::records::encode(&rec)) }]).unwrap();
    }
    let report = w.gw.tick().unwrap();
    assert_eq!(kept(&w), None, "one batch of 500 does not finish 2,500 records and more");
    let build: Build = cwd_gateway_guest::records::peek(&mut store, BUILD_KEY).unwrap().unwrap();
    assert_eq!(build.counted, 500);
    assert_eq!(report.derived_build.as_ref().map(|b| (b.counted, b.done)), Some((500, false)), "the tick reports its progress");
    let mut ticks = 1;
    let mut last = report;
    while kept(&w).is_none() {
        last = w.gw.tick().unwrap();
        ticks += 1;
        assert!(ticks <= 7, "2,500 users and a few dozen records take six batches");
    }
    assert_eq!(ticks, 6);
    let finished = last.derived_build.expect("the finishing tick reports it");
    assert!(finished.done && finished.counted > 2_500, "{finished:?}");
    assert_eq!(w.gw.tick().unwrap().derived_build, None, "nothing more once built");
    assert_eq!(kept(&w).unwrap(), recount(&w));
    let _: &Gateway = &w.gw;
}

/// Pages through a listing three at a time (so cursors are exercised), in `order`.
fn paged<T>(order: Order, mut page: impl FnMut(Order, Option<&str>) -> Vec<T>, id: impl Fn(&T) -> String) -> Vec<T> {
    let (mut out, mut after) = (Vec::new(), None::<String>);
    loop {
        let p = page(order, after.as_deref());
        let full = p.len() == 3;
        after = p.last().map(&id);
        out.extend(p);
        if !full {
            return out;
        }
    }
}

/// Both orders of one listing: newest first is oldest first backwards, page for page.
fn both_orders<T: std::fmt::Debug + PartialEq>(mut page: impl FnMut(Order, Option<&str>) -> Vec<T>, id: impl Fn(&T) -> String) -> Vec<T> {
    let oldest = paged(Order::OldestFirst, &mut page, &id);
    let mut newest = paged(Order::NewestFirst, &mut page, &id);
    newest.reverse();
    assert_eq!(newest, oldest, "newest first is oldest first reversed");
    oldest
}

/// Every user's listings, and the open withdrawals by state, in both orders.
fn listings(w: &mut World, users: &[&str]) -> Vec<String> {
    use cwd_gateway_guest::records::WdState;
    use cwd_gateway_guest::views::WithdrawalFilter;
    let mut out = Vec::new();
    for user in users {
        let deposits = both_orders(|o, after| w.gw.list_deposits(user, o, after, 3).unwrap(), |d| d.deposit_id.clone());
        out.extend(deposits.iter().map(|d| format!("{user} dep {} {} {}", d.deposit_id, d.game, d.assigned)));
        let filter = WithdrawalFilter { user: Some(user.to_string()), state: None };
        let withdrawals = both_orders(|o, after| w.gw.list_withdrawals(&filter, o, after, 3).unwrap(), |x| x.withdrawal_id.clone());
        out.extend(withdrawals.iter().map(|x| format!("{user} wd {} {:?}", x.withdrawal_id, x.state)));
        let transfers = both_orders(|o, after| w.gw.list_transfers(user, o, after, 3).unwrap(), |x| x.transfer_id.clone());
        out.extend(transfers.iter().map(|x| format!("{user} xfer {} {}", x.transfer_id, x.amount)));
    }
    for state in [WdState::Queued, WdState::AwaitingReview, WdState::Sent, WdState::Confirmed] {
        // Open states are read from the open set; every state equals the full filter.
        let filter = WithdrawalFilter { user: None, state: Some(state) };
        let listed = both_orders(|o, after| w.gw.list_withdrawals(&filter, o, after, 3).unwrap(), |x| x.withdrawal_id.clone());
        let all = paged(Order::OldestFirst, |o, after| w.gw.list_withdrawals(&Default::default(), o, after, 3).unwrap(), |x| x.withdrawal_id.clone());
        let expected: Vec<_> = all.into_iter().filter(|x| x.state == state).collect();
        assert_eq!(listed, expected, "{state:?}");
        out.extend(listed.iter().map(|x| format!("state {state:?} {}", x.withdrawal_id)));
    }
    out
}

#[test]
fn listings_through_the_index_equal_listings_over_every_record() {
    let mut w = busy_world(94);
    w.link("u2", "carol");
    for i in 0..7 {
        w.deposit("alice", 100_000 + i);
        w.deposit("carol", 200_000 + i);
    }
    w.settle();
    w.gw.tick().unwrap();
    let deposit = w.gw.list_unclaimed(false, None, 10).unwrap().remove(0).deposit_id;
    w.gw.assign_unclaimed("operator", &deposit, "u2").unwrap();
    w.gw.adjust_balance("u2", 5_000, "u2-funds", "funds").unwrap();
    w.gw.request_withdrawal("u2", Game(1_000), "u2-w").unwrap();
    for i in 0..5 {
        w.gw.transfer_internal("u1", "u2", 10 + i, &format!("x{i}"), "").unwrap();
    }
    let users = ["u1", "u2", "p00", "nobody"];
    let indexed = listings(&mut w, &users);
    assert!(indexed.iter().filter(|l| l.contains(" dep ")).count() >= 15, "{indexed:?}");
    assert!(indexed.iter().any(|l| l.starts_with("u2 dep") && l.ends_with("true")), "the assigned deposit is listed");
    assert_eq!(indexed.iter().filter(|l| l.contains(" xfer ")).count(), 10, "each transfer under both users");
    assert!(indexed.iter().any(|l| l.starts_with("state Queued")) && indexed.iter().any(|l| l.starts_with("state Confirmed")), "{indexed:?}");
    check_ledger(&w.store, "indexed");
    as_older_release(&w);
    assert_eq!(listings(&mut w, &users), indexed, "the fallback over every record answers the same");
    assert!(derived::build_step(&mut w.store.clone(), 1_000).unwrap());
    assert_eq!(listings(&mut w, &users), indexed, "rebuilt indexes answer the same");
    check_ledger(&w.store, "rebuilt");
}

fn marker_reads(w: &World) -> u64 {
    w.store.0.borrow().gets.get(BUILD_KEY).copied().unwrap_or(0)
}

#[test]
fn a_balance_change_takes_the_build_marker_from_memory_and_retries_when_it_changed() {
    let mut w = busy_world(94);
    w.gw.adjust_balance("u1", 5, "first", "read it once").unwrap();
    let reads = marker_reads(&w);
    for i in 0..20 {
        w.gw.adjust_balance("u1", 1, &format!("k{i}"), "remembered").unwrap();
    }
    assert_eq!(marker_reads(&w), reads, "twenty balance changes, no read of the marker");

    // Another host rewrites the marker (same build, a new version): the next change's
    // commit fails its precondition, forgets it, and its retry reads it again.
    let commits = w.store.0.borrow().attempts;
    {
        let mut s = w.store.0.borrow_mut();
        let value = s.data[BUILD_KEY].0.clone();
        let version = s.versions[BUILD_KEY] + 1;
        s.versions.insert(BUILD_KEY.to_string(), version);
        s.data.insert(BUILD_KEY.to_string(), (value, version));
    }
    w.gw.adjust_balance("u1", 1, "after", "retried").unwrap();
    assert_eq!(w.store.0.borrow().attempts, commits + 2, "one failed commit, one retry");
    assert_eq!(marker_reads(&w), reads + 1);
    assert_eq!(kept(&w), Some(recount(&w)), "counted once");

    // A store the marker says is not built (an older release's): the remembered marker
    // fails the next commit, whose retry reads that, and counts nothing in the totals.
    as_older_release(&w);
    w.gw.adjust_balance("u1", 1, "older", "not counted").unwrap();
    assert_eq!(kept(&w), None, "no totals until they are built");
    // Its absence is remembered too, and the build writing it fails the next change once.
    let reads = marker_reads(&w);
    w.gw.adjust_balance("u1", 1, "older-2", "absent, remembered").unwrap();
    assert_eq!(marker_reads(&w), reads);
    while !derived::build_step(&mut w.store.clone(), 50).unwrap() {}
    let commits = w.store.0.borrow().attempts;
    w.gw.adjust_balance("u1", 1, "built", "counted").unwrap();
    assert_eq!(w.store.0.borrow().attempts, commits + 2, "one failed commit, one retry");
    assert_eq!(kept(&w), Some(recount(&w)));
    check_ledger(&w.store, "after the marker changed under the instance");
}
