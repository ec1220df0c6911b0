//! Two instances over one store, the second running a whole tick in the middle of the
//! first one's (between its node read and its commits): what each read is stale by the
//! time it commits, and the conditional commits must make it harmless.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::ports::{Node, NodeError, Ports};
use cwd_gateway_guest::rates::WithdrawalAmount;
use cwd_gateway_guest::records::WdState;
use support::*;

/// A node that, on the first call of `method`, lets another instance tick before
/// answering (the answer was already computed: it is stale when it arrives).
struct Interleave {
    inner: SimNode,
    method: &'static str,
    other: Rc<RefCell<Option<Gateway>>>,
    fired: bool,
}

impl Node for Interleave {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        let answer = self.inner.call(api, method, params);
        if method == self.method && !self.fired {
            self.fired = true;
            let taken = self.other.borrow_mut().take();
            if let Some(mut g) = taken {
                g.tick().expect("the other instance ticks");
                *self.other.borrow_mut() = Some(g);
            }
        }
        answer
    }
}

fn interleaved(w: &World, method: &'static str) -> Gateway {
    let other = Rc::new(RefCell::new(Some(w.second_instance())));
    let mut g = Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(Interleave {
            inner: SimNode(w.chain.clone()),
            method,
            other,
            fired: false,
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    g.configure(w.config.clone(), gateway_keys()).unwrap();
    g
}

#[test]
fn an_instance_with_a_stale_history_page_never_credits_twice() {
    let mut w = World::new(60);
    w.link("u1", "alice");
    for i in 0..7 {
        w.deposit("alice", 100_000 + i);
    }
    w.produce();
    w.settle();
    let mut a = interleaved(&w, "get_relative_account_history");
    a.tick().unwrap();
    a.tick().unwrap();
    assert_eq!(w.store.keys("dep/").len(), 7);
    assert_eq!(w.balance("u1").0, 7 * 90);
}

#[test]
fn an_instance_with_a_stale_queue_never_sends_a_second_transaction() {
    let mut w = World::new(61);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 5_000, "k", "seed").unwrap();
    let wd =
        w.gw.request_withdrawal("u1", WithdrawalAmount::Game(1_000), "w")
            .unwrap();
    // While this instance builds its transaction, the other builds, stores and sends one.
    let broadcasts = |w: &World| {
        w.chain
            .borrow()
            .calls
            .iter()
            .filter(|c| c.ends_with("broadcast_transaction"))
            .count()
    };
    let before = broadcasts(&w);
    let mut a = interleaved(&w, "get_required_fees");
    a.tick().unwrap();
    assert_eq!(
        broadcasts(&w) - before,
        1,
        "the loser of the race must not broadcast its transaction"
    );
    w.produce();
    w.settle();
    a.tick().unwrap();
    assert_eq!(
        w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state,
        WdState::Confirmed
    );
    assert_eq!(w.chain.borrow().gateway_payouts(w.gateway_id()).len(), 1);
}

#[test]
fn an_expiry_decision_on_stale_state_is_refused() {
    let mut cfg = default_config();
    cfg.withdrawals.expiration_secs = 30;
    cfg.withdrawals.max_attempts = 1;
    let mut w = World::with_config(62, cfg);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 5_000, "k", "seed").unwrap();
    let wd =
        w.gw.request_withdrawal("u1", WithdrawalAmount::Game(1_000), "w")
            .unwrap();
    w.chain
        .borrow_mut()
        .fault("broadcast_transaction", Fault::Drop);
    w.gw.tick().unwrap();
    w.produce_n(12);
    let mut a = interleaved(&w, "get_block_header");
    a.tick().unwrap();
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!(v.state, WdState::Failed);
    // Refunded exactly once although both instances decided it expired.
    assert_eq!(w.balance("u1"), (5_000, 0));
}
