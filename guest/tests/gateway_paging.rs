//! History is applied a page at a time, one commit per page, with the same guarantees
//! as one commit per operation: a crash at any commit of a catch-up (before or after
//! the write) loses nothing and credits nothing twice. (Two instances racing over the
//! same page: gateway_interleaving.rs.)

mod support;

use std::collections::HashMap;

use cwd_gateway_guest::events::Event;
use cwd_gateway_guest::records::{Cursor, DepositRec, UnclaimedRec};
use support::*;

/// 125 deposits from a linked account and 125 from an unlinked one, in a few blocks:
/// three pages of history (with the link's own operations), all irreversible.
fn world_with_history(seed: u64) -> (World, u64) {
    let mut w = World::new(seed);
    w.link("u1", "alice");
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    let mut credited = 0;
    for i in 0..250i64 {
        if i % 2 == 0 {
            w.deposit("alice", 100_000 + i);
            credited += (100_000 + i as u64) * 90 / 100_000;
        } else {
            w.deposit("mallory", 50_000 + i);
        }
        if i % 60 == 59 {
            w.produce();
        }
    }
    w.settle();
    (w, credited)
}

fn ticks_until_caught_up(w: &mut World) {
    for _ in 0..50 {
        if w.gw.tick().is_ok_and(|r| r.history_behind <= 1) {
            let c: Cursor = w.store.record("cursor").unwrap();
            if c.through_block >= w.chain.borrow().lib() {
                return;
            }
        }
    }
    panic!("the scan never caught up");
}

/// Every incoming transfer is recorded once (credited or unclaimed), the balance is
/// the sum of the credits, and no deposit was announced twice.
fn check_exactly_once(w: &mut World, credited: u64) {
    let deps: Vec<(String, DepositRec)> = w.store.all("dep/");
    let uncs: Vec<(String, UnclaimedRec)> = w.store.all("unc/");
    assert_eq!(deps.len(), 125, "credited deposits");
    assert_eq!(uncs.len(), 125, "unclaimed deposits");
    assert_eq!(deps.iter().map(|(_, d)| d.game).sum::<u64>(), credited);
    assert_eq!(w.balance("u1"), (credited, 0));
    let mut announced: HashMap<String, u32> = HashMap::new();
    for e in w.events() {
        if let Event::DepositCredited { deposit_id, .. } | Event::DepositUnclaimed { deposit_id, .. } = e {
            *announced.entry(deposit_id).or_default() += 1;
        }
    }
    assert!(announced.values().all(|n| *n == 1), "a deposit announced twice");
}

#[test]
fn a_catch_up_commits_once_per_page() {
    let (mut w, credited) = world_with_history(70);
    let before = w.store.0.borrow().commits;
    let report = w.gw.tick().unwrap();
    let commits = w.store.0.borrow().commits - before;
    assert_eq!(report.deposits_credited + report.deposits_unclaimed, 250);
    assert!(report.history_scanned >= 250);
    assert_eq!(report.history_behind, 0);
    // Three pages, the end-of-scan mark and the tick's own housekeeping: nowhere near
    // one commit per operation.
    assert!(commits <= 8, "{commits} commits for 250 operations");
    check_exactly_once(&mut w, credited);
}

#[test]
fn a_crash_at_any_commit_of_a_catch_up_loses_nothing_and_credits_nothing_twice() {
    // How many commit calls a clean catch-up makes.
    let (mut clean, _) = world_with_history(71);
    let start = clean.store.0.borrow().attempts;
    clean.gw.tick().unwrap();
    let calls = clean.store.0.borrow().attempts - start;
    assert!(calls >= 3);
    for after_write in [false, true] {
        for k in 1..=calls {
            let (mut w, credited) = world_with_history(71);
            let at = w.store.0.borrow().attempts + k;
            w.store.0.borrow_mut().crash_at = Some((at, after_write));
            let _ = w.gw.tick(); // may fail at the crash, or not (a housekeeping commit)
            w.restart();
            ticks_until_caught_up(&mut w);
            check_exactly_once(&mut w, credited);
        }
    }
}

#[test]
fn a_page_that_keeps_conflicting_is_applied_one_operation_at_a_time() {
    let (mut w, credited) = world_with_history(73);
    // Every page commit loses (as if game calls kept changing what it read); the
    // per-operation fallback still gets through.
    w.store.0.borrow_mut().conflict_commits = 3;
    ticks_until_caught_up(&mut w);
    check_exactly_once(&mut w, credited);
}

/// The second lock: a page's commit requires the records of its operations to be
/// absent instead of reading them one by one. If they exist after all (a cursor put
/// back behind what was applied), the page commit fails, the per-operation retry reads
/// them and steps over each operation: nothing is credited or announced twice.
#[test]
fn operations_already_recorded_are_stepped_over_when_the_cursor_goes_back() {
    let (mut w, credited) = world_with_history(74);
    let (old_cursor, _) = w.store.0.borrow().data.get("cursor").cloned().expect("a cursor after the link");
    ticks_until_caught_up(&mut w);
    check_exactly_once(&mut w, credited);
    {
        let mut s = w.store.0.borrow_mut();
        let version = s.versions.get("cursor").copied().unwrap_or(0) + 1;
        s.versions.insert("cursor".into(), version);
        s.data.insert("cursor".into(), (old_cursor, version));
    }
    ticks_until_caught_up(&mut w);
    check_exactly_once(&mut w, credited);
}
