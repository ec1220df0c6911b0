//! A node that lies about history (found by the `node` fuzz target, `fuzz/`): the scan
//! must refuse the page, raise an alert and credit nothing, and credit exactly once when
//! the node tells the truth again. Before the fix each of these lost or misplaced a deposit.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cwd_gateway_guest::events::{Alert, Event};
use cwd_gateway_guest::gateway::Gateway;
use cwd_gateway_guest::ports::{Node, NodeError, Ports};
use cwd_gateway_guest::records::DepositRec;
use serde_json::Value;
use support::*;

type Lie = Rc<RefCell<Option<Box<dyn Fn(&mut Vec<Value>)>>>>;

/// The simulated node, with history pages rewritten while a lie is set.
struct Liar {
    honest: SimNode,
    lie: Lie,
    told: Rc<Cell<u32>>,
}

impl Node for Liar {
    fn call(&mut self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
        let answer = self.honest.call(api, method, params)?;
        match (&*self.lie.borrow(), method) {
            (Some(lie), "get_relative_account_history") => {
                let mut page: Vec<Value> = serde_json::from_str(&answer).unwrap();
                if page.is_empty() {
                    return Ok(answer);
                }
                lie(&mut page);
                self.told.set(self.told.get() + 1);
                Ok(Value::Array(page).to_string())
            }
            _ => Ok(answer),
        }
    }
}

fn lying_world() -> (World, Lie, Rc<Cell<u32>>) {
    let mut w = World::new(5);
    w.link("p1", "alice");
    w.settle();
    w.gw.tick().unwrap();
    let lie: Lie = Rc::new(RefCell::new(None));
    let told = Rc::new(Cell::new(0));
    let mut g = Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(Liar {
            honest: SimNode(w.chain.clone()),
            lie: lie.clone(),
            told: told.clone(),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway_guest::ports::NoSigner),
        outbox: Default::default(),
    });
    g.configure(w.config.clone(), gateway_keys()).unwrap();
    w.gw = g;
    (w, lie, told)
}

fn node_alerts(w: &World) -> Vec<String> {
    w.take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Alert(Alert::NodeTrouble { detail, .. }) => Some(detail),
            _ => None,
        })
        .collect()
}

/// Deposits `amounts` from alice, lets the node lie while the gateway ticks, then checks
/// nothing was credited, an alert names the lie, and the truth credits each exactly once.
fn refused_then_credited_once(
    lie_about: impl Fn(&mut Vec<Value>) + 'static,
    amounts: &[i64],
    expected_alert: &str,
) {
    let (mut w, lie, told) = lying_world();
    for a in amounts {
        w.deposit("alice", *a);
        w.produce();
    }
    w.settle();
    *lie.borrow_mut() = Some(Box::new(lie_about));
    for _ in 0..3 {
        let _ = w.gw.tick();
    }
    assert!(told.get() > 0, "the lie was told");
    assert!(
        w.store.keys("dep/").is_empty() && w.store.keys("unc/").is_empty(),
        "nothing is credited from a lying page"
    );
    let alerts = node_alerts(&w);
    assert!(
        alerts.iter().any(|a| a.contains(expected_alert)),
        "alerts: {alerts:?}"
    );
    *lie.borrow_mut() = None;
    w.gw.tick().unwrap();
    let deps: Vec<(String, DepositRec)> = w.store.all("dep/");
    let mut got: Vec<i64> = deps.iter().map(|(_, d)| d.cwd as i64).collect();
    got.sort();
    let mut want = amounts.to_vec();
    want.sort();
    assert_eq!(
        got, want,
        "each deposit credited exactly once after the truth"
    );
    check_books(&w, "after the truth", Positions::Exact);
}

fn transfers_to_gateway(page: &mut [Value]) -> Vec<&mut Value> {
    page.iter_mut()
        .filter(|e| e["op"][0] == 0 && e["op"][1]["amount"].is_object())
        .collect()
}

#[test]
fn a_transfer_whose_amount_is_not_an_amount_is_not_passed_over() {
    refused_then_credited_once(
        |page| {
            if let Some(e) = transfers_to_gateway(page).pop() {
                e["op"][1]["amount"] = Value::Bool(true);
            }
        },
        &[300_000],
        "is not what the chain writes",
    );
}

#[test]
fn a_deposit_claimed_in_block_zero_is_refused() {
    refused_then_credited_once(
        |page| {
            for e in transfers_to_gateway(page) {
                e["block_num"] = 0.into();
            }
        },
        &[300_000, 400_000],
        "block 0",
    );
}

#[test]
fn one_operation_listed_twice_is_refused() {
    refused_then_credited_once(
        |page| {
            if let Some(i) = page
                .iter()
                .position(|e| e["op"][0] == 0 && e["op"][1]["amount"].is_object())
            {
                let copy = page[i].clone();
                page.insert(i, copy);
            }
        },
        &[300_000],
        "the same operation twice",
    );
}

/// A node that quotes 1,000 times the fee: not believed. Nothing is signed or sent, the
/// payout waits with a `fee-above-ceiling` alert, a link message is refused; once the
/// node quotes sanely again the payout goes once, at the real fee.
#[test]
fn a_fee_quote_above_the_ceiling_is_not_paid() {
    use cwd_gateway_guest::gateway_error::GatewayError;
    use cwd_gateway_guest::rates::WithdrawalAmount::Game;
    use cwd_gateway_guest::records::WdState;
    let mut w = World::new(91);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 10_000, "seed", "").unwrap();
    w.settle();
    w.gw.tick().unwrap();
    w.take_events();
    let lie = |fee: i64| Fault::Answer(serde_json::json!([{ "amount": fee, "asset_id": "1.3.0" }]));
    for _ in 0..6 {
        w.chain.borrow_mut().fault("get_required_fees", lie(TRANSFER_FEE * 1000));
    }
    let wd = w.gw.request_withdrawal("u1", Game(1_000), "w-1").unwrap();
    for _ in 0..3 {
        w.gw.tick().unwrap();
        w.produce();
    }
    let v = w.gw.get_withdrawal(&wd.withdrawal_id).unwrap();
    assert_eq!((v.state, v.tx_id.as_deref()), (WdState::Queued, None), "nothing built with the lie");
    assert!(w.chain.borrow().gateway_payouts(w.gateway_id()).is_empty());
    assert!(w.take_events().iter().any(|e| matches!(e, Event::Alert(Alert::FeeAboveCeiling { operation, fee, ceiling })
        if operation == "transfer" && *fee == (TRANSFER_FEE * 1000) as u64 && *ceiling == 1_000_000)));
    // A link message is refused the same way, nothing sent.
    w.chain.borrow_mut().faults.clear();
    w.chain.borrow_mut().fault("get_required_fees", lie(MESSAGE_FEE * 10_000));
    assert!(matches!(w.gw.start_link("u2", "bob"), Err(GatewayError::NodeUnavailable { .. })));
    assert!(w.chain.borrow().pending_message("bob").is_none());
    // The node tells the truth again: paid once, at the real fee.
    w.gw.tick().unwrap();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.gw.get_withdrawal(&wd.withdrawal_id).unwrap().state, WdState::Confirmed);
    let payouts = w.chain.borrow().gateway_payouts(w.gateway_id());
    assert_eq!(payouts.len(), 1);
    let fee = w.chain.borrow().included.last().unwrap().2.tx.operations[0].fee().amount;
    assert_eq!(fee, TRANSFER_FEE);
}
