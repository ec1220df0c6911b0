//! A gateway configured without its active key: every transaction goes to the host's
//! signer (WIT `signer`), whole, and what comes back is checked before anything is stored
//! or sent. A refusal holds a withdrawal for review; a signer that does not answer holds
//! nothing and loses nothing; a signer that answers with a wrong signature gets nothing
//! sent.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cwd_gateway_guest::config::Keys;
use cwd_gateway_guest::events::{Alert, Event};
use cwd_gateway_guest::gateway_error::GatewayError;
use cwd_gateway_guest::ops::{Operation, Transaction};
use cwd_gateway_guest::ports::{Ports, SignError, Signer};
use cwd_gateway_guest::rates::WithdrawalAmount::Game;
use cwd_gateway_guest::records::WdState;
use cwd_gateway_guest::signing::sign_digest;
use sha2::{Digest, Sha256};
use support::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Sign,
    Refuse,
    Down,
    OtherKey,
}

/// The signer double: holds the key the gateway was not given, records what it read.
#[derive(Clone)]
struct TestSigner {
    mode: Rc<Cell<Mode>>,
    read: Rc<RefCell<Vec<Transaction>>>,
}

impl Signer for TestSigner {
    fn sign(&mut self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<Vec<u8>, SignError> {
        let tx = Transaction::from_bytes(transaction).expect("the gateway sends packed transactions");
        self.read.borrow_mut().push(tx);
        let key = match self.mode.get() {
            Mode::Sign => key_for(GATEWAY, "active"),
            Mode::OtherKey => key_for(GATEWAY, "owner"),
            Mode::Refuse => {
                return Err(SignError::Refused {
                    rule: "daily-total".into(),
                    reason: "the rolling 24-hour total would pass 10 CWD".into(),
                })
            }
            Mode::Down => return Err(SignError::Unavailable("connection refused".into())),
        };
        let digest: [u8; 32] = Sha256::new().chain_update(chain_id).chain_update(transaction).finalize().into();
        Ok(sign_digest(&key, &digest).unwrap().to_vec())
    }
}

fn with_signer(seed: u64) -> (World, TestSigner) {
    let mut w = World::new(seed);
    let signer = TestSigner {
        mode: Rc::new(Cell::new(Mode::Sign)),
        read: Rc::default(),
    };
    let mut gw = cwd_gateway_guest::gateway::Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(SimNode(w.chain.clone())),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(signer.clone()),
        outbox: Default::default(),
    });
    let keys = Keys {
        active_wif: String::new(),
        memo_wif: gateway_keys().memo_wif.clone(),
    };
    gw.configure(w.config.clone(), keys).expect("configure without the active key");
    w.gw = gw;
    (w, signer)
}

fn funded(seed: u64) -> (World, TestSigner) {
    let (mut w, s) = with_signer(seed);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "test funds").unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.take_events();
    (w, s)
}

fn payouts(w: &World) -> usize {
    w.chain.borrow().gateway_payouts(w.gateway_id()).len()
}

#[test]
fn the_signer_reads_every_transaction_and_the_payout_goes_once() {
    let (mut w, signer) = funded(1);
    // The link message went through the signer: a send_message from the gateway.
    let first = signer.read.borrow()[0].clone();
    assert!(matches!(&first.operations[..], [Operation::SendMessage(m)] if m.from.0 == w.gateway_id()));
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    assert_eq!(payouts(&w), 1);
    let read = signer.read.borrow();
    let last = read.last().unwrap();
    assert!(matches!(&last.operations[..], [Operation::Transfer(t)] if t.from.0 == w.gateway_id() && t.amount.amount == 1_000_000));
}

#[test]
fn a_refusal_holds_the_withdrawal_for_review_and_nothing_is_sent() {
    let (mut w, signer) = funded(2);
    signer.mode.set(Mode::Refuse);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::AwaitingReview);
    assert!(v.note.as_deref().unwrap().contains("signer refused"), "{:?}", v.note);
    assert_eq!(payouts(&w), 0);
    assert_eq!(w.balance("u1"), (9_000, 1_000), "still frozen, never lost");
    let events = w.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::Alert(Alert::SignerRefused { rule, purpose, .. }) if rule == "daily-total" && purpose == "withdrawal")));
    assert!(events.iter().any(|e| matches!(e, Event::WithdrawalAwaitingReview(_))));
    // Ticks do not ask again while it is held.
    let asked = signer.read.borrow().len();
    w.gw.tick().unwrap();
    assert_eq!(signer.read.borrow().len(), asked);
    // The operator approves once the signer's limit allows: paid once.
    signer.mode.set(Mode::Sign);
    w.gw.approve_withdrawal("operator", &wd.withdrawal_id).unwrap();
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    assert_eq!(payouts(&w), 1);
    assert_eq!(w.balance("u1"), (9_000, 0));
}

#[test]
fn a_signer_that_does_not_answer_holds_nothing_and_loses_nothing() {
    let (mut w, signer) = funded(3);
    signer.mode.set(Mode::Down);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    for _ in 0..3 {
        w.gw.tick().unwrap();
        w.produce();
    }
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Queued);
    assert_eq!(payouts(&w), 0);
    assert!(w.take_events().iter().any(|e| matches!(e, Event::Alert(Alert::SignerUnavailable(_)))));
    signer.mode.set(Mode::Sign);
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    assert_eq!(payouts(&w), 1);
}

#[test]
fn a_signature_by_another_key_is_never_stored_or_sent() {
    let (mut w, signer) = funded(4);
    signer.mode.set(Mode::OtherKey);
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    w.gw.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!((v.state, v.tx_id), (WdState::Queued, None));
    assert_eq!(payouts(&w), 0);
    assert!(w.take_events().iter().any(|e| matches!(e, Event::Alert(Alert::SigningFailed { purpose, .. }) if purpose == "withdrawal")));
    // A link message signed by another key is not sent either.
    assert_eq!(w.gw.start_link("u2", "bob").unwrap_err(), GatewayError::SigningFailed);
    assert!(w.chain.borrow().pending_message("bob").is_none());
}

#[test]
fn a_refused_link_message_is_an_error_the_caller_can_read() {
    let (mut w, signer) = with_signer(5);
    signer.mode.set(Mode::Refuse);
    match w.gw.start_link("u1", "alice") {
        Err(GatewayError::SignerRefused { rule, .. }) => assert_eq!(rule, "daily-total"),
        other => panic!("{other:?}"),
    }
    signer.mode.set(Mode::Down);
    assert!(matches!(w.gw.start_link("u2", "bob"), Err(GatewayError::SignerUnavailable(_))));
}

#[test]
fn a_wrong_active_key_is_still_refused_at_configure() {
    let w = World::new(6);
    let mut gw = w.second_instance();
    let keys = Keys {
        active_wif: key_for(GATEWAY, "owner").to_wif(),
        memo_wif: gateway_keys().memo_wif.clone(),
    };
    assert!(matches!(gw.configure(w.config.clone(), keys), Err(GatewayError::KeyMismatch(_))));
}
