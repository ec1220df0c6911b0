//! The operator's side (issue 25) in the component: operator actions audited in the
//! same commit, four-eyes approvals, settings changed at runtime and in force on every
//! instance at once, and books that reconcile against the chain.

mod support;

use cwd_gateway_guest::events::{Alert, Event};
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::rates::WithdrawalAmount::{Cwd, Game};
use cwd_gateway_guest::records::audit::{self, AuditFilter};
use cwd_gateway_guest::records::derived::{self, Build, BUILD_KEY};
use cwd_gateway_guest::records::totals::{self, Totals, TOTALS_PREFIX};
use cwd_gateway_guest::records::WdState;
use support::*;

fn audit(w: &mut World) -> Vec<cwd_gateway_guest::records::audit::AuditEntry> {
    w.gw.list_audit(&AuditFilter::default(), None, 500).unwrap()
}

fn review_config(review: u64, four_eyes: u64) -> cwd_gateway_guest::config::Config {
    let mut c = default_config();
    c.withdrawals.review_above_cwd = review;
    c.withdrawals.four_eyes_above_cwd = four_eyes;
    c
}

fn funded(w: &mut World, user: &str, account: &str) {
    w.link(user, account);
    w.gw.adjust_balance(user, 100_000, &format!("seed-{user}"), "funds").unwrap();
}

#[test]
fn an_operator_action_and_its_audit_entry_are_one_commit() {
    let mut w = World::with_config(1, review_config(500_000, 0));
    funded(&mut w, "u1", "alice");
    let wd = w.gw.request_withdrawal("u1", Cwd(600_000), "w1").unwrap();
    assert_eq!(wd.state, WdState::AwaitingReview);
    let commits = w.store.0.borrow().commits;
    let approved = w.gw.approve_withdrawal("ops-anna", &wd.withdrawal_id).unwrap();
    assert_eq!(approved.state, WdState::Queued);
    assert_eq!(approved.approved_by, vec!["ops-anna".to_string()]);
    assert_eq!(w.store.0.borrow().commits, commits + 1, "the approval and its entry: one commit");
    let entries = audit(&mut w);
    assert_eq!(entries.len(), 1);
    let e = &entries[0].rec;
    assert_eq!((e.actor.as_str(), e.call.as_str(), e.subject.as_str(), e.outcome.as_str()),
        ("ops-anna", "approve-withdrawal", wd.withdrawal_id.as_str(), "ok"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&e.arguments).unwrap(), serde_json::json!({ "withdrawal_id": wd.withdrawal_id }));
    assert_eq!(e.at_ms, w.clock.get());

    // A refused action is recorded alone, with the error it answered.
    let again = w.gw.approve_withdrawal("ops-bob", &wd.withdrawal_id);
    assert_eq!(again, Err(GatewayError::NotAwaitingReview));
    let entries = audit(&mut w);
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].rec.actor.as_str(), entries[0].rec.outcome.as_str()), ("ops-bob", "not-awaiting-review"));

    // The store failing the action's commit: nothing changes, and the attempt is recorded.
    let wd2 = w.gw.request_withdrawal("u1", Cwd(700_000), "w2").unwrap();
    w.store.0.borrow_mut().fail_commits = 1;
    let failed = w.gw.reject_withdrawal("ops-anna", &wd2.withdrawal_id, "too much");
    assert!(matches!(failed, Err(GatewayError::StoreUnavailable(_))), "{failed:?}");
    assert_eq!(w.gw.get_withdrawal(&wd2.withdrawal_id).unwrap().state, WdState::AwaitingReview);
    let entries = audit(&mut w);
    assert_eq!((entries[0].rec.call.as_str(), entries[0].rec.outcome.as_str()), ("reject-withdrawal", "store-unavailable"));

    // A commit lost to a race is retried: still exactly one entry for the action.
    w.store.0.borrow_mut().conflict_commits = 2;
    w.gw.cancel_withdrawal("ops-anna", &wd2.withdrawal_id, "on second thought").unwrap();
    let entries = audit(&mut w);
    assert_eq!(entries.len(), 4);
    assert_eq!((entries[0].rec.call.as_str(), entries[0].rec.outcome.as_str()), ("cancel-withdrawal", "ok"));
    check_ledger(&w.store, "after audited actions");
}

#[test]
fn every_operator_call_is_audited_and_a_bad_actor_is_refused() {
    let mut w = World::with_config(2, review_config(500_000, 0));
    funded(&mut w, "u1", "alice");
    // An unclaimed deposit (from an unlinked sender) to assign, another to refund.
    w.deposit("bob", 300_000);
    w.deposit("carol", 200_000);
    w.settle();
    w.gw.tick().unwrap();
    let unclaimed = w.gw.list_unclaimed(false, None, 10).unwrap();
    assert_eq!(unclaimed.len(), 2);
    w.gw.assign_unclaimed("ops-anna", &unclaimed[0].deposit_id, "u1").unwrap();
    w.gw.refund_unclaimed("ops-anna", &unclaimed[1].deposit_id, "sent back").unwrap();
    for actor in ["", "two words", &"x".repeat(65), "tab\t"] {
        let e = w.gw.approve_withdrawal(actor, "w0000000001");
        assert!(matches!(e, Err(GatewayError::Invalid { ref field, .. }) if field == "actor"), "{actor:?}: {e:?}");
    }
    let calls: Vec<String> = audit(&mut w).into_iter().map(|e| e.rec.call).collect();
    assert_eq!(calls, ["refund-unclaimed", "assign-unclaimed"], "refused actors leave no entry");
}

#[test]
fn the_audit_trail_lists_by_actor_call_subject_and_time_with_paging() {
    let mut w = World::with_config(3, review_config(500_000, 0));
    funded(&mut w, "u1", "alice");
    let mut ids = Vec::new();
    for i in 0..7u64 {
        let wd = w.gw.request_withdrawal("u1", Cwd(600_000 + i), &format!("w{i}")).unwrap();
        let actor = if i % 2 == 0 { "even" } else { "odd" };
        w.clock.set(w.clock.get() + 1_000);
        w.gw.reject_withdrawal(actor, &wd.withdrawal_id, "no").unwrap();
        ids.push(wd.withdrawal_id);
    }
    let all = audit(&mut w);
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|p| p[0].id > p[1].id && p[0].rec.at_ms >= p[1].rec.at_ms), "newest first");
    // Pages of 3 cover everything once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = w.gw.list_audit(&AuditFilter::default(), cursor.as_deref(), 3).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = Some(page.last().unwrap().id.clone());
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let by = |f: AuditFilter, w: &mut World| w.gw.list_audit(&f, None, 100).unwrap();
    let odd = by(AuditFilter { actor: Some("odd".into()), ..Default::default() }, &mut w);
    assert_eq!(odd.len(), 3);
    assert!(odd.iter().all(|e| e.rec.actor == "odd"));
    let one = by(AuditFilter { subject: Some(ids[4].clone()), ..Default::default() }, &mut w);
    assert_eq!(one.len(), 1);
    assert_eq!(by(AuditFilter { call: Some("approve-withdrawal".into()), ..Default::default() }, &mut w), vec![]);
    // A time window: entries at or after `since`, strictly before `before`.
    let (since, before) = (all[5].rec.at_ms, all[1].rec.at_ms);
    let window = by(AuditFilter { since_ms: Some(since), before_ms: Some(before), ..Default::default() }, &mut w);
    assert_eq!(window, all[2..=5].to_vec());
    assert!(matches!(w.gw.list_audit(&AuditFilter::default(), None, 0), Err(GatewayError::Invalid { .. })));
}

/// Entries scans answer while `f` runs.
fn scanned_by<T>(w: &mut World, f: impl FnOnce(&mut World) -> T) -> (T, u64) {
    let before = w.store.0.borrow().scanned;
    let out = f(w);
    (out, w.store.0.borrow().scanned - before)
}

/// A trail of `busy` refusals by one actor, and three entries by another whose subjects
/// hold `/` and `%` (escaped in the index).
fn long_trail(w: &mut World, busy: u64) -> Vec<String> {
    for i in 0..busy {
        let _ = w.gw.reject_withdrawal("busy", &format!("nope-{i}"), "no");
    }
    let subjects = vec!["a/b".to_string(), "a%2Fb".to_string(), "a".to_string()];
    for s in &subjects {
        w.clock.set(w.clock.get() + 1_000);
        let _ = w.gw.reject_withdrawal("rare", s, "no");
    }
    subjects
}

/// Every filter, listed page by page: the trail's own answer, the oracle.
fn every_filter(w: &mut World) -> Vec<Vec<cwd_gateway_guest::records::audit::AuditEntry>> {
    let mut answers = Vec::new();
    for actor in [None, Some("busy"), Some("rare")] {
        for call in [None, Some("reject-withdrawal"), Some("approve-withdrawal")] {
            for subject in [None, Some("a/b"), Some("a%2Fb"), Some("nope-7")] {
                let filter = AuditFilter { actor: actor.map(Into::into), call: call.map(Into::into), subject: subject.map(Into::into), ..Default::default() };
                let mut all = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let page = w.gw.list_audit(&filter, cursor.as_deref(), 150).unwrap();
                    cursor = page.last().map(|e| e.id.clone());
                    all.extend(page);
                    if cursor.is_none() {
                        break;
                    }
                }
                answers.push(all);
            }
        }
    }
    answers
}

#[test]
fn a_filtered_audit_listing_reads_only_the_entries_it_lists() {
    let mut w = World::with_config(6, review_config(500_000, 0));
    w.gw.tick().unwrap();
    let subjects = long_trail(&mut w, 1_200);
    let rare = AuditFilter { actor: Some("rare".into()), ..Default::default() };
    let (listed, read) = scanned_by(&mut w, |w| w.gw.list_audit(&rare, None, 100).unwrap());
    let got: Vec<&str> = listed.iter().map(|e| e.rec.subject.as_str()).collect();
    assert_eq!(got, subjects.iter().rev().map(String::as_str).collect::<Vec<_>>(), "newest first");
    assert!(read <= 3, "read {read} entries to list 3 of 1,203");
    // Escaped values match exactly, not by prefix or by their escaped form.
    let one = AuditFilter { subject: Some("a/b".into()), call: Some("reject-withdrawal".into()), ..Default::default() };
    let (listed, read) = scanned_by(&mut w, |w| w.gw.list_audit(&one, None, 100).unwrap());
    assert_eq!(listed.iter().map(|e| e.rec.subject.as_str()).collect::<Vec<_>>(), vec!["a/b"]);
    assert!(read <= 1, "read {read}");
    // No match reads nothing; a time window reads only inside it.
    let none = AuditFilter { actor: Some("nobody".into()), ..Default::default() };
    assert_eq!(scanned_by(&mut w, |w| w.gw.list_audit(&none, None, 100).unwrap()), (vec![], 0));
    let at = listed[0].rec.at_ms;
    let window = AuditFilter { actor: Some("rare".into()), since_ms: Some(at), before_ms: Some(at + 1), ..Default::default() };
    let (listed, read) = scanned_by(&mut w, |w| w.gw.list_audit(&window, None, 100).unwrap());
    assert_eq!(listed.len(), 1);
    assert!(read <= 2, "read {read}");
    // Paging a filter through the index: 1,200 entries in pages, each once, newest first.
    let busy = AuditFilter { actor: Some("busy".into()), ..Default::default() };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, read) = scanned_by(&mut w, |w| w.gw.list_audit(&busy, cursor.as_deref(), 250).unwrap());
        assert!(read <= page.len() as u64 + 1, "read {read} for a page of {}", page.len());
        let Some(last) = page.last() else { break };
        cursor = Some(last.id.clone());
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), 1_200);
    assert!(seen.windows(2).all(|p| p[0] > p[1]));
}

#[test]
fn an_older_trail_gets_its_index_built_in_batches_across_a_restart() {
    let mut w = World::with_config(7, review_config(500_000, 0));
    w.gw.tick().unwrap();
    long_trail(&mut w, 700);
    let fresh = every_filter(&mut w);
    let index: Vec<String> = w.store.keys("audf/");
    assert_eq!(index.len(), 703 * 7, "seven keys an entry");

    // The same trail as the release before the index wrote it: no index, no build.
    w.store.0.borrow_mut().data.retain(|k, _| !k.starts_with("audf/") && k != "meta/audit-index");
    assert_eq!(every_filter(&mut w), fresh, "unindexed, filters read the trail");
    let mut store = w.store.clone();
    assert!(!audit::build_index_batch(&mut store, 200).unwrap());
    long_trail(&mut w, 5); // written live, indexed at once, while the build runs
    assert!(!audit::build_index_batch(&mut store, 200).unwrap());
    // The host dies mid-build; a new instance's ticks go on from the stored cursor.
    w.restart();
    assert_eq!(every_filter(&mut w).len(), fresh.len());
    w.gw.tick().unwrap(); // one tick's batch (500) finishes the rest
    let build: audit::IndexBuild = w.store.record(audit::AUDIT_INDEX_BUILD).unwrap();
    assert!(build.done, "{build:?}");
    assert!(audit::build_index_batch(&mut store, 200).unwrap());
    let rebuilt = w.store.keys("audf/");
    assert!(index.iter().all(|k| rebuilt.contains(k)), "every key the fresh store had");
    assert_eq!(rebuilt.len(), (703 + 8) * 7);
    // Once built, a tick does not build again, and the filters answer what the trail does.
    let after = every_filter(&mut w);
    w.store.0.borrow_mut().data.retain(|k, _| !k.starts_with("audf/") && k != "meta/audit-index");
    assert_eq!(every_filter(&mut w), after, "the index answers what the trail answers");
}

#[test]
fn a_four_eyes_payout_needs_two_different_operators() {
    let mut w = World::with_config(4, review_config(500_000, 800_000));
    funded(&mut w, "u1", "alice");
    // Above review, below four eyes: one approval sends it.
    let small = w.gw.request_withdrawal("u1", Cwd(600_000), "small").unwrap();
    assert_eq!(w.gw.approve_withdrawal("ops-anna", &small.withdrawal_id).unwrap().state, WdState::Queued);
    // Above four eyes: held, first approval recorded, the same operator again refused.
    let big = w.gw.request_withdrawal("u1", Cwd(900_000), "big").unwrap();
    assert_eq!(big.state, WdState::AwaitingReview);
    let first = w.gw.approve_withdrawal("ops-anna", &big.withdrawal_id).unwrap();
    assert_eq!((first.state, first.approved_by.clone()), (WdState::AwaitingReview, vec!["ops-anna".to_string()]));
    assert_eq!(w.gw.approve_withdrawal("ops-anna", &big.withdrawal_id), Err(GatewayError::SecondApproverNeeded));
    // Ticks do not send it on one approval.
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&big.withdrawal_id).unwrap().state, WdState::AwaitingReview);
    let approved = w.gw.approve_withdrawal("ops-bob", &big.withdrawal_id).unwrap();
    assert_eq!((approved.state, approved.approved_by.len()), (WdState::Queued, 2));
    let approvals = w.events().iter().filter(|e| matches!(e, Event::WithdrawalApproved(r) if r.withdrawal_id == big.withdrawal_id)).count();
    assert_eq!(approvals, 1, "approved once, on the second approval");
    for _ in 0..3 {
        w.gw.tick().unwrap();
        w.settle();
    }
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&big.withdrawal_id).unwrap().state, WdState::Confirmed);
    let paid = w.chain.borrow().gateway_payouts(w.gateway_id());
    assert_eq!(paid.iter().filter(|p| p.1 == 900_000).count(), 1, "paid once: {paid:?}");
    let outcomes: Vec<(String, String)> = audit(&mut w).into_iter().map(|e| (e.rec.actor, e.rec.outcome)).collect();
    assert_eq!(&outcomes[..3], &[("ops-bob".into(), "ok".into()), ("ops-anna".into(), "second-approver-needed".into()), ("ops-anna".into(), "ok".into())]);
    check_ledger(&w.store, "after four eyes");
}

#[test]
fn settings_changed_on_one_instance_are_in_force_on_another_at_once() {
    let mut w = World::new(5);
    funded(&mut w, "u1", "alice");
    let mut other = w.second_instance();
    let before = w.gw.get_settings().unwrap();
    assert_eq!((before.revision, before.changed_by.as_str()), (0, ""));
    assert_eq!(other.quote_deposit(100_000).unwrap().game, 90);

    let mut s = before.settings.clone();
    s.deposit_rate.game_units = 120;
    s.withdrawals.review_above_cwd = 500_000;
    w.clock.set(w.clock.get() + 7);
    let after = w.gw.update_settings("ops-anna", &s, 0).unwrap();
    assert!(after.revision > 0);
    assert_eq!((after.changed_by.as_str(), after.changed_at_ms), ("ops-anna", w.clock.get()));
    assert_eq!(after.settings.deposit_rate.game_units, 120);

    // The other instance quotes, credits and reviews with them at its next call.
    assert_eq!(other.quote_deposit(100_000).unwrap().game, 120);
    assert_eq!(other.request_withdrawal("u1", Cwd(600_000), "big").unwrap().state, WdState::AwaitingReview);
    w.deposit("alice", 200_000);
    w.settle();
    other.tick().unwrap();
    let credited = w.events().into_iter().find_map(|e| match e {
        Event::DepositCredited { game, cwd, .. } => Some((cwd, game)),
        _ => None,
    });
    assert_eq!(credited, Some((200_000, 240)));
    // A record keeps the rate it used: earlier quotes and deposits are not rewritten.
    let deposits = other.list_deposits("u1", cwd_gateway_guest::records::Order::OldestFirst, None, 10).unwrap();
    assert_eq!(deposits.iter().map(|d| d.game).collect::<Vec<_>>(), vec![240]);

    // A stale revision is refused with the current one; nothing changes.
    let mut stale = s.clone();
    stale.deposit_rate.game_units = 1;
    assert_eq!(other.update_settings("ops-bob", &stale, 0), Err(GatewayError::SettingsChanged(after.revision)));
    assert_eq!(w.gw.quote_deposit(100_000).unwrap().game, 120);
    // Checked exactly as the configuration is; the cold account and the pool are not settings.
    let mut bad = s.clone();
    bad.withdrawal_rate.per_cwd_units = 0;
    assert!(matches!(w.gw.update_settings("ops-anna", &bad, after.revision), Err(GatewayError::Invalid { ref field, .. }) if field == "config.withdrawal-rate"));
    let mut bad = s.clone();
    bad.treasury.cold_account = COLD.into();
    assert!(matches!(w.gw.update_settings("ops-anna", &bad, after.revision), Err(GatewayError::Invalid { ref field, .. }) if field == "config.treasury.cold-account"));
    let mut bad = s.clone();
    bad.referrals.pool_user = "someone".into();
    assert!(matches!(w.gw.update_settings("ops-anna", &bad, after.revision), Err(GatewayError::Invalid { ref field, .. }) if field == "config.referrals.pool-user"));
    // A restart keeps the stored settings over the configuration's.
    w.restart();
    assert_eq!(w.gw.quote_deposit(100_000).unwrap().game, 120);
    assert_eq!(w.gw.get_settings().unwrap().revision, after.revision);
    let calls: Vec<(String, String)> = audit(&mut w).into_iter().map(|e| (e.rec.call, e.rec.outcome)).collect();
    assert_eq!(calls[4], ("update-settings".into(), "ok".into()));
    assert_eq!(calls[3], ("update-settings".into(), "settings-changed".into()));
    assert!(calls[..3].iter().all(|(_, o)| o == "invalid"), "{calls:?}");
    check_ledger(&w.store, "after settings changes");
}

#[test]
fn the_books_reconcile_exactly_and_report_a_shortfall() {
    let mut cfg = default_config();
    cfg.treasury.cold_account = COLD.into();
    cfg.treasury.high_water_cwd = 10_000_000;
    let mut w = World::with_config(6, cfg);
    w.link("u1", "alice");
    w.link("u2", "bob");
    w.deposit("alice", 5_000_000);
    w.deposit("bob", 3_000_000);
    w.deposit("carol", 250_000); // unlinked: unclaimed
    w.settle();
    w.gw.tick().unwrap();
    w.gw.adjust_balance("u1", -500, "spend", "bought a sword").unwrap();
    w.gw.adjust_balance("referral-pool", 1_000, "pool", "funds").unwrap();
    let wd = w.gw.request_withdrawal("u2", Game(1_000), "w1").unwrap();
    let b = w.gw.reconcile().unwrap();
    // u1: 4500 - 500, u2: 2700 - 1000, pool 1000 (game units at 90 per CWD on deposit).
    let balances = 4_000 + 1_700 + 1_000;
    assert_eq!((b.balances_game, b.pool_game), (balances, 1_000));
    assert_eq!(b.balances_cwd, balances * 100_000 / 100, "withdrawal rate: 100 game units per CWD");
    assert_eq!((b.unsent_cwd, b.sent_cwd, b.unclaimed_cwd), (wd.cwd, 0, 250_000));
    assert_eq!(b.owed_cwd, b.balances_cwd + wd.cwd + 250_000);
    let hot = w.chain.borrow().balance(GATEWAY, 0) as u64;
    let cold = w.chain.borrow().balance(COLD, 0) as u64;
    assert_eq!((b.hot_cwd, b.cold_cwd), (Some(hot), Some(cold)));
    assert_eq!(b.surplus_cwd, Some(hot as i64 + cold as i64 - b.owed_cwd as i64));
    assert!(!b.mismatch);
    // Sent, not final: left out of what is owed.
    w.gw.tick().unwrap();
    let b2 = w.gw.reconcile().unwrap();
    assert_eq!((b2.unsent_cwd, b2.sent_cwd), (0, wd.cwd));
    assert_eq!(b2.owed_cwd, b.owed_cwd - wd.cwd);

    // Planted: the accounts lose funds the books do not know of, one unit short.
    for (name, cwd) in [(COLD, 0), (GATEWAY, b2.owed_cwd as i64 - 1)] {
        w.chain.borrow_mut().accounts.iter_mut().find(|a| a.name == name).unwrap().balances.insert(0, cwd);
    }
    let short = w.gw.reconcile().unwrap();
    assert!(short.mismatch, "{short:?}");
    assert_eq!(short.surplus_cwd, Some(-1));
    assert!(short.explanation.iter().any(|l| l.starts_with("SHORT by ")), "{:?}", short.explanation);
    let alerts: Vec<Alert> = w.events().into_iter().filter_map(|e| match e {
        Event::Alert(a @ Alert::BooksMismatch { .. }) => Some(a),
        _ => None,
    }).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    // The node down: no verdict, no error.
    w.chain.borrow_mut().fault("get_account_balances", Fault::Error(cwd_gateway_guest::ports::NodeError::Unreachable("down".into())));
    let unknown = w.gw.reconcile().unwrap();
    assert_eq!((unknown.hot_cwd, unknown.surplus_cwd, unknown.mismatch), (None, None, false));
}

#[test]
fn a_store_built_by_the_previous_release_gets_its_totals_rebuilt() {
    let mut w = World::new(7);
    funded(&mut w, "u1", "alice");
    w.gw.request_withdrawal("u1", Game(1_000), "w1").unwrap();
    w.gw.tick().unwrap();
    let want = totals::recount(&mut w.store.clone()).unwrap();
    assert_eq!(totals::read(&mut w.store.clone()).unwrap(), Some(want));
    // As the previous release left it: built at version 0, shards without the new sums.
    {
        let mut s = w.store.0.borrow_mut();
        let keys: Vec<String> = s.data.keys().filter(|k| k.starts_with(TOTALS_PREFIX)).cloned().collect();
        for k in keys {
            let (bytes, v) = s.data[&k].clone();
            let mut t: Totals = cwd_gateway_guest::records::decode(&k, &bytes).unwrap();
            t.balance_game = 0;
            t.sent_cwd = 0;
            s.data.insert(k, (cwd_gateway_guest::records::encode(&t), v + 1));
        }
        let old = Build { done: true, cursor: None, counted: 9, version: 0 };
        let v = s.data[BUILD_KEY].1;
        s.data.insert(BUILD_KEY.into(), (cwd_gateway_guest::records::encode(&old), v + 1));
    }
    assert_eq!(totals::read(&mut w.store.clone()).unwrap(), None, "an older build counts as not built");
    // Readers recount meanwhile; a live change between batches is counted once.
    assert_eq!(w.gw.reconcile().unwrap().balances_game as i128, want.balance_game);
    let mut store = w.store.clone();
    assert!(!derived::build_step(&mut store, 3).unwrap());
    w.gw.adjust_balance("u1", 5, "during", "").unwrap();
    w.restart();
    while !derived::build_step(&mut store, 3).unwrap() {}
    let rebuilt = totals::read(&mut w.store.clone()).unwrap().expect("built again");
    assert_eq!(rebuilt.balance_game, want.balance_game + 5);
    check_totals(&w.store, "after the rebuild");
}

#[test]
fn a_statement_lists_every_movement_and_a_day_lists_every_user() {
    let mut cfg = default_config();
    cfg.referrals.level_rates_per_mille = vec![100];
    cfg.referrals.cashback_per_mille = 50;
    let mut w = World::with_config(8, cfg);
    let start = w.clock.get();
    w.link("u1", "alice");
    w.deposit("alice", 1_000_000);
    w.settle();
    w.gw.tick().unwrap(); // deposit: +900
    w.gw.adjust_balance("u1", 100, "prize", "won").unwrap();
    w.gw.adjust_balance("referral-pool", 1_000, "fund", "").unwrap();
    w.gw.set_referrer("u2", "u1").unwrap();
    w.gw.adjust_balance("u2", 50, "u2-seed", "").unwrap();
    w.gw.reward_referrers("u2", 200, "fee-1").unwrap(); // u1 +20, u2 +10, pool -30
    w.gw.transfer_internal("u1", "u2", 70, "t1", "gift").unwrap();
    let wd = w.gw.request_withdrawal("u1", Game(300), "w1").unwrap();
    let rejected = w.gw.request_withdrawal("u1", Game(200), "w2").unwrap();
    w.gw.cancel_withdrawal("ops", &rejected.withdrawal_id, "changed mind").unwrap();
    for _ in 0..3 {
        w.gw.tick().unwrap();
        w.settle();
    }
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);

    let lines = w.gw.statement("u1", None, 500).unwrap();
    let kinds: Vec<&str> = lines.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["withdrawal-paid", "withdrawal-returned", "withdrawal", "withdrawal", "transfer-out", "referral-reward", "adjustment", "deposit"]);
    assert!(lines.windows(2).all(|p| p[0].at_ms >= p[1].at_ms), "newest first");
    let (balance, frozen) = w.balance("u1");
    let sum = |f: fn(&cwd_gateway_guest::records::journal::Movement) -> i64| lines.iter().map(f).sum::<i64>();
    assert_eq!((sum(|m| m.balance_delta), sum(|m| m.frozen_delta)), (balance as i64, frozen as i64));
    assert_eq!(balance, 900 + 100 + 20 - 70 - 300);
    let deposit = lines.last().unwrap();
    assert_eq!((deposit.balance_delta, deposit.cwd), (900, 1_000_000));
    assert_eq!(lines[4].note, "u2", "a transfer names the other user");
    assert_eq!(lines[1].note, "changed mind");
    // Paging by id gives the same lines.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = w.gw.statement("u1", cursor.as_deref(), 3).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = Some(page.last().unwrap().id());
        paged.extend(page);
    }
    assert_eq!(paged, lines);
    let pool = w.gw.statement("referral-pool", None, 10).unwrap();
    assert_eq!(pool.iter().map(|m| (m.kind.as_str(), m.balance_delta)).collect::<Vec<_>>(), [("reward-paid", -30), ("adjustment", 1_000)]);

    // The day: every user's lines, day by day, user by user, each in commit order;
    // paging with `start_after` from any line gives the rest, once.
    let end = w.clock.get() + 1;
    let day = w.gw.list_movements(start, end, None, 500).unwrap();
    assert_eq!(day.len(), lines.len() + pool.len() + w.gw.statement("u2", None, 500).unwrap().len());
    let order = |m: &cwd_gateway_guest::records::journal::Movement| (m.at_ms / 86_400_000, m.user.clone(), m.stamp);
    assert!(day.windows(2).all(|p| order(&p[0]) < order(&p[1])), "{day:?}");
    for k in 1..day.len() {
        let first = w.gw.list_movements(start, end, None, k as u32).unwrap();
        let rest = w.gw.list_movements(start, end, Some(&first[k - 1].id()), 500).unwrap();
        assert_eq!([first, rest].concat(), day, "split after {k}");
    }
    // A window inside the day: only its lines.
    let mut times: Vec<u64> = day.iter().map(|m| m.at_ms).collect();
    times.sort_unstable();
    times.dedup();
    assert!(times.len() >= 2, "{times:?}");
    for (lo, hi) in [(times[0], times[1]), (times[1], end)] {
        let window = w.gw.list_movements(lo, hi, None, 500).unwrap();
        let want: Vec<_> = day.iter().filter(|m| m.at_ms >= lo && m.at_ms < hi).cloned().collect();
        assert!(!want.is_empty());
        assert_eq!(window, want);
    }
    assert_eq!(w.gw.list_movements(start, start, None, 10).map_err(|e| e.code()), Err("invalid"));
    assert_eq!(w.gw.list_movements(0, start, None, 10).unwrap(), vec![], "nothing before the first change");
    check_ledger(&w.store, "after every kind of movement");
}
