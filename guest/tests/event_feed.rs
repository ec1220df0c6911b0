//! The event feed and webhook deliveries, at the core: every event is committed with its
//! change and numbered into the feed; deliveries are claimed, retried with back-off,
//! given up, redelivered, and never lost to a crash or a second instance.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use cwd_gateway_guest::events::Event;
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::outbox::EventRec;
use cwd_gateway_guest::webhooks::{DeliveryState, CLAIM_MS, FIRST_RETRY_MS};
use support::*;

/// Every event in the feed, sequencing what waits.
fn feed(w: &mut World) -> Vec<EventRec> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &EventRec| e.seq);
        let page = w.gw.list_events(after, 1000).unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// A day of play: links, deposits, game changes, a withdrawal paid, one rejected.
fn a_day_of_play(w: &mut World) {
    w.link("u1", "alice");
    w.link("u2", "bob");
    w.deposit("alice", 500_000);
    w.deposit("bob", 300_000);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    w.gw.adjust_balance("u1", 50, "bonus-1", "daily bonus")
        .unwrap();
    w.gw.adjust_balance("u2", -20, "bet-1", "bet").unwrap();
    w.gw.request_withdrawal("u1", Game(200), "w-1").unwrap();
    w.gw.tick().unwrap();
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    w.gw.transfer_internal("u1", "u2", 10, "gift-1", "")
        .unwrap();
    w.gw.unlink("u2").unwrap();
}

#[test]
fn the_feed_holds_every_event_once_in_commit_order_with_dense_positions() {
    let mut w = World::new(71);
    a_day_of_play(&mut w);
    let live = w.events();
    let fed = feed(&mut w);
    // The live copy and the record agree, event for event, in order.
    let fed_events: Vec<Event> = fed.iter().map(|e| e.event.clone()).collect();
    assert_eq!(fed_events, live);
    assert!(live
        .iter()
        .any(|e| matches!(e, Event::WithdrawalConfirmed { .. })));
    assert!(live
        .iter()
        .any(|e| matches!(e, Event::DepositCredited { .. })));
    // Positions 1..=n, ids unique, times never going back on one instance.
    let seqs: Vec<u64> = fed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=fed.len() as u64).collect::<Vec<_>>());
    let ids: BTreeSet<&str> = fed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), fed.len());
    assert!(fed.windows(2).all(|p| p[0].at_ms <= p[1].at_ms));
    // The outbox is empty once sequenced; a cursor past the end answers nothing.
    assert!(w.store.keys("obx/").is_empty());
    assert_eq!(w.gw.feed_head().unwrap(), fed.len() as u64);
    assert!(w.gw.list_events(fed.len() as u64, 10).unwrap().is_empty());
    // Paging from a cursor gives the rest.
    let rest = w.gw.list_events(3, 1000).unwrap();
    assert_eq!(rest.first().map(|e| e.seq), Some(4));
    assert!(matches!(
        w.gw.list_events(0, 0),
        Err(GatewayError::Invalid { .. })
    ));
    assert!(matches!(
        w.gw.list_events(0, 1001),
        Err(GatewayError::Invalid { .. })
    ));
}

#[test]
fn a_failed_commit_writes_no_event_and_a_replay_writes_none_again() {
    let mut w = World::new(72);
    w.gw.adjust_balance("u1", 100, "k1", "").unwrap();
    // Refused (would go negative): no change, no event.
    assert!(w.gw.adjust_balance("u1", -500, "k2", "").is_err());
    // Replayed: the first answer again, no second event.
    w.gw.adjust_balance("u1", 100, "k1", "").unwrap();
    let fed = feed(&mut w);
    assert_eq!(fed.len(), 1);
    assert!(
        matches!(&fed[0].event, Event::BalanceAdjusted { idempotency_key, delta: 100, .. } if idempotency_key == "k1")
    );
}

#[test]
fn ten_thousand_dust_deposits_make_ten_thousand_events_and_deliveries() {
    let mut w = World::new(73);
    w.link("u1", "alice");
    w.take_events();
    const N: usize = 10_000;
    for i in 0..N {
        // Dust: 1 unit converts to no game units (unclaimed, too small); 2 000 to 1.
        w.deposit("alice", if i % 2 == 0 { 1 } else { 2_000 });
        if i % 500 == 499 {
            w.produce();
        }
    }
    w.produce();
    w.settle();
    for _ in 0..200 {
        let r = w.gw.tick().unwrap();
        if r.next_tick_ms != 0 && w.store.keys("obx/").is_empty() {
            break;
        }
    }
    let fed = feed(&mut w);
    let deposits: BTreeSet<String> = fed
        .iter()
        .filter_map(|e| match &e.event {
            Event::DepositCredited { deposit_id, .. }
            | Event::DepositUnclaimed { deposit_id, .. } => Some(deposit_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(deposits.len(), N, "one event per deposit, none lost");
    assert_eq!(w.store.keys("dep/").len() + w.store.keys("unc/").len(), N);
    // And every one of them is handed to the webhook once.
    let mut delivered = BTreeMap::new();
    loop {
        let claims = w.gw.claim_webhook_deliveries(100).unwrap();
        if claims.is_empty() {
            break;
        }
        for c in claims {
            assert_eq!(c.attempt, 1);
            *delivered.entry(c.event.seq).or_insert(0) += 1;
            w.gw.report_webhook_delivery(c.event.seq, true, 200, "")
                .unwrap();
        }
    }
    assert_eq!(delivered.len(), fed.len());
    assert!(delivered.values().all(|&n| n == 1));
}

#[test]
fn failed_deliveries_back_off_then_give_up_and_redeliver_starts_again() {
    let mut w = World::new(74);
    w.gw.adjust_balance("u1", 5, "k1", "").unwrap();
    let c = w.gw.claim_webhook_deliveries(10).unwrap();
    assert_eq!(c.len(), 1);
    let seq = c[0].event.seq;
    // Claimed: not handed out again while held.
    assert!(w.gw.claim_webhook_deliveries(10).unwrap().is_empty());
    let d =
        w.gw.report_webhook_delivery(seq, false, 503, "answered 503")
            .unwrap();
    assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 1));
    assert_eq!(d.next_at_ms, w.clock.get() + FIRST_RETRY_MS);
    // Not due before its back-off; due after.
    w.clock.set(w.clock.get() + FIRST_RETRY_MS - 1);
    assert!(w.gw.claim_webhook_deliveries(10).unwrap().is_empty());
    w.clock.set(w.clock.get() + 1);
    let again = w.gw.claim_webhook_deliveries(10).unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 2));
    let d =
        w.gw.report_webhook_delivery(seq, false, 302, "a redirect")
            .unwrap();
    assert_eq!(
        d.next_at_ms,
        w.clock.get() + 2 * FIRST_RETRY_MS,
        "the wait doubles"
    );
    // Three days of failures: then failed, with the latest attempts in its log.
    let start = d.first_at_ms;
    let mut last = d;
    while last.state == DeliveryState::Pending {
        w.clock.set(last.next_at_ms);
        let c = w.gw.claim_webhook_deliveries(10).unwrap();
        assert_eq!(c.len(), 1);
        last =
            w.gw.report_webhook_delivery(seq, false, 0, "connection refused")
                .unwrap();
        assert!(
            last.next_at_ms - w.clock.get() <= 3_600_000 || last.state != DeliveryState::Pending,
            "capped at an hour"
        );
    }
    assert_eq!(last.state, DeliveryState::Failed);
    assert!(w.clock.get() - start >= 3 * 86_400_000);
    assert!(last.log.len() <= 20 && last.attempts as usize > last.log.len());
    assert!(w.gw.claim_webhook_deliveries(10).unwrap().is_empty());
    let failed =
        w.gw.list_webhook_deliveries(Some(DeliveryState::Failed), None, 10)
            .unwrap();
    assert_eq!(failed.len(), 1);
    // The operator redelivers: due now, delivered on the next claim.
    let r = w.gw.redeliver_event("operator", seq).unwrap();
    assert_eq!(r.state, DeliveryState::Pending);
    let c = w.gw.claim_webhook_deliveries(10).unwrap();
    assert_eq!(c.len(), 1);
    let d = w.gw.report_webhook_delivery(seq, true, 200, "").unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    // A late report from another holder changes nothing.
    let d2 =
        w.gw.report_webhook_delivery(seq, false, 500, "late")
            .unwrap();
    assert_eq!(d2, d);
    assert!(matches!(
        w.gw.redeliver_event("operator", 999),
        Err(GatewayError::Invalid { .. })
    ));
}

#[test]
fn a_delivery_held_by_a_crashed_instance_is_due_again_and_two_instances_never_share_one() {
    let mut w = World::new(75);
    for i in 0..30 {
        w.gw.adjust_balance("u1", 1, &format!("k{i}"), "").unwrap();
    }
    let mut other = w.second_instance();
    // Two hosts claim at once: disjoint sets.
    let a = w.gw.claim_webhook_deliveries(20).unwrap();
    let b = other.claim_webhook_deliveries(20).unwrap();
    let sa: BTreeSet<u64> = a.iter().map(|c| c.event.seq).collect();
    let sb: BTreeSet<u64> = b.iter().map(|c| c.event.seq).collect();
    assert_eq!((sa.len(), sb.len()), (20, 10));
    assert!(sa.is_disjoint(&sb));
    // The first host dies holding its 20: the second delivers its own, then, once the
    // claims run out, the first host's too.
    for c in &b {
        other
            .report_webhook_delivery(c.event.seq, true, 200, "")
            .unwrap();
    }
    w.restart();
    assert!(other.claim_webhook_deliveries(100).unwrap().is_empty());
    w.clock.set(w.clock.get() + CLAIM_MS);
    let redo = other.claim_webhook_deliveries(100).unwrap();
    assert_eq!(
        redo.iter().map(|c| c.event.seq).collect::<BTreeSet<_>>(),
        sa
    );
    assert!(
        redo.iter().all(|c| c.attempt == 1),
        "no attempt was reported for them"
    );
    for c in &redo {
        other
            .report_webhook_delivery(c.event.seq, true, 200, "")
            .unwrap();
    }
    let all = w.gw.list_webhook_deliveries(None, None, 100).unwrap();
    assert_eq!(all.len(), 30);
    assert!(all.iter().all(|d| d.state == DeliveryState::Delivered));
}

#[test]
fn the_feed_forgets_events_after_its_retention_in_bounded_batches() {
    let mut w = World::new(76);
    for i in 0..1_500 {
        w.gw.adjust_balance("u1", 1, &format!("k{i}"), "").unwrap();
    }
    assert_eq!(feed(&mut w).len(), 1_500);
    w.gw.claim_webhook_deliveries(5).unwrap();
    // 29 days on: all kept.
    w.clock.set(w.clock.get() + 29 * 86_400_000);
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("evt/").len(), 1_500);
    // Past 30 days: pruned a thousand a tick, with their delivery records.
    w.clock.set(w.clock.get() + 2 * 86_400_000);
    w.gw.tick().unwrap();
    let left = w.store.keys("evt/").len();
    // The tick's own events (none here) aside, a bounded batch went.
    assert_eq!(left, 500);
    w.gw.tick().unwrap();
    assert!(w.store.keys("evt/").is_empty());
    assert!(w.store.keys("whd/").is_empty() && w.store.keys("whq/").is_empty());
    // Positions are never reused: the next event continues the count.
    w.gw.adjust_balance("u1", 1, "after", "").unwrap();
    let next = w.gw.list_events(0, 10).unwrap();
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1_501]);
}

#[test]
fn live_only_keeps_no_outbox() {
    let mut config = default_config();
    config.events.live_only = true;
    let mut w = World::with_config(77, config);
    w.gw.adjust_balance("u1", 100, "k1", "").unwrap();
    assert_eq!(w.events().len(), 1, "the live copy still goes out");
    assert!(w.store.keys("obx/").is_empty());
    assert!(w.gw.list_events(0, 10).unwrap().is_empty());
    assert_eq!(w.store.keys("ujrn/u1/").len(), 1, "without an outbox the line is in the change's commit");
    check_ledger(&w.store, "live-only");
}

#[test]
fn the_outbox_entry_carries_the_journal_line_until_the_sequencer_writes_it() {
    let mut w = World::new(78);
    w.gw.adjust_balance("u1", 100, "k1", "prize").unwrap();
    w.gw.transfer_internal("u1", "u2", 30, "t1", "gift").unwrap();
    // The changes' commits hold their outbox entries and no line; the ledger's check
    // counts the lines the entries carry.
    assert_eq!(w.store.keys("obx/").len(), 2);
    assert!(w.store.keys("ujrn/").is_empty() && w.store.keys("jday/").is_empty());
    check_ledger(&w.store, "lines carried by the outbox");
    // A statement sequences what waits first: every line is there at once.
    let lines = w.gw.statement("u1", None, 10).unwrap();
    assert_eq!(lines.iter().map(|m| (m.kind.as_str(), m.balance_delta)).collect::<Vec<_>>(), [("transfer-out", -30), ("adjustment", 100)]);
    assert!(w.store.keys("obx/").is_empty());
    assert_eq!((w.store.keys("ujrn/u1/").len(), w.store.keys("ujrn/u2/").len(), w.store.keys("evt/").len()), (2, 1, 2));
    check_ledger(&w.store, "sequenced");
    // Sequencing again (the tick) writes no line twice.
    w.gw.tick().unwrap();
    assert_eq!(w.store.keys("ujrn/").len(), 3);
    // An entry of the previous release, whose commit wrote its line: moved, no line.
    w.gw.adjust_balance("u1", 5, "k2", "").unwrap();
    let key = w.store.keys("obx/").pop().unwrap();
    let mut old: EventRec = w.store.record(&key).unwrap();
    assert!(old.journal_due);
    old.journal_due = false;
    {
        let mut s = w.store.0.borrow_mut();
        let v = s.data[&key].1;
        s.data.insert(key.clone(), (cwd_gateway_guest::records::encode(&old), v + 1));
    }
    w.gw.tick().unwrap();
    assert!(w.store.keys("obx/").is_empty());
    assert_eq!(w.store.keys("ujrn/u1/").len(), 2, "no line for an entry that had one");
}
