//! Verify before release: a signature corrupted after signing (a fault injected with
//! `cwd-codec`'s `fault-injection` feature) is caught by the self-check in every path that
//! signs (a payout, a sweep, a link message): a `signing-failed` alert, nothing stored as
//! sent, nothing broadcast; and the next try, with the fault gone, goes out normally.

mod support;

use cwd_gateway_guest::events::{Alert, Event};
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::WdState;
use cwd_gateway_guest::signing::faults::corrupt_next_signatures;
use cwd_gateway_guest::sweep::SweepRec;
use support::*;

fn broadcasts(w: &World) -> usize {
    w.chain.borrow().calls.iter().filter(|c| c.ends_with("broadcast_transaction")).count()
}

fn signing_alerts(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(Alert::SigningFailed { purpose, subject }) => Some((purpose.clone(), subject.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_corrupted_payout_signature_is_never_stored_or_sent() {
    let mut w = World::new(71);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "test funds").unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.take_events();
    let alice_before = w.chain.borrow().balance("alice", 0);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    let sent_before = broadcasts(&w);

    corrupt_next_signatures(1);
    w.gw.tick().unwrap();
    assert_eq!(broadcasts(&w), sent_before, "nothing was broadcast");
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!((v.state, v.tx_id), (WdState::Queued, None), "no transaction stored");
    assert_eq!(w.balance("u1"), (9_000, 1_000), "still frozen, nothing lost");
    let events = w.take_events();
    assert_eq!(signing_alerts(&events), vec![("withdrawal".to_string(), wd.withdrawal_id.clone())]);
    assert!(!events.iter().any(|e| matches!(e, Event::WithdrawalSent { .. })));

    // The fault is gone: the next tick signs anew, and the payout is made once.
    w.gw.tick().unwrap();
    assert_eq!(broadcasts(&w), sent_before + 1);
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    assert_eq!(w.chain.borrow().balance("alice", 0), alice_before + 1_000_000);
    assert_eq!(w.balance("u1"), (9_000, 0));
    check_ledger(&w.store, "after the retry");
}

#[test]
fn a_corrupted_link_message_signature_is_never_sent() {
    let mut w = World::new(72);
    let sent_before = broadcasts(&w);
    corrupt_next_signatures(1);
    assert_eq!(w.gw.start_link("u1", "alice").unwrap_err(), GatewayError::SigningFailed);
    assert_eq!(broadcasts(&w), sent_before, "nothing was broadcast");
    assert_eq!(w.chain.borrow().pending_message("alice"), None);
    let events = w.take_events();
    assert_eq!(signing_alerts(&events), vec![("link-message".to_string(), "u1".to_string())]);
    assert!(!events.iter().any(|e| matches!(e, Event::LinkCodeSent { .. })));
}

#[test]
fn a_corrupted_sweep_signature_is_never_stored_or_sent() {
    let mut c = default_config();
    c.treasury.cold_account = COLD.into();
    c.treasury.high_water_cwd = 50_000_000;
    c.treasury.fee_reserve_cwd = 1_000_000;
    let mut w = World::with_config(73, c);
    let sent_before = broadcasts(&w);
    corrupt_next_signatures(1);
    w.gw.tick().unwrap();
    assert_eq!(broadcasts(&w), sent_before, "nothing was broadcast");
    assert!(w.store.all::<SweepRec>("sweep/").is_empty(), "no sweep stored");
    let alerts = signing_alerts(&w.take_events());
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, "sweep");

    w.gw.tick().unwrap();
    assert_eq!(broadcasts(&w), sent_before + 1);
    assert_eq!(w.store.all::<SweepRec>("sweep/").len(), 1);
}
