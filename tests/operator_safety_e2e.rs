//! Operator safety (issue 9) end to end: the real `.wasm` in the reference host against
//! the devnet. A stuck credit never stalls the scan; healthy work raises no alert (the
//! devnet's "duplicate transaction" on a rebroadcast is success); an unfundable
//! withdrawal alerts once with its shortfall and can be cancelled; a store restored
//! from an old backup pays nothing blindly; linking by memo and proof of work.

use std::sync::Arc;

use cwd_devnet::AccountSpec;
use cwd_gateway::pow;
use cwd_gateway_e2e::*;
use cwd_gateway_host::bindings::api::{GatewayError, PowProof, ProofProblem, WithdrawalAmount, WithdrawalState};
use cwd_gateway_host::http_api::dispatch;
use cwd_gateway_host::roles::{Caller, Role};
use cwd_gateway_host::store::{CommitOutcome, MemoryStore, Store, Write};
use serde_json::{json, Value};

/// The caller these calls are made as: the operator, who may make every call.
fn operator() -> Caller {
    Caller::new("operator", Role::Operator)
}

fn alerts(h: &Harness) -> Vec<Value> {
    h.events.snapshot().into_iter().filter(|e| e["type"] == "alert").collect()
}

/// Every record of the store, as a backup holds it.
fn backup(store: &Arc<dyn Store>) -> Vec<Write> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.scan("", after.as_deref(), 500).unwrap();
        let n = page.len();
        after = page.last().map(|e| e.key.clone());
        out.extend(page.into_iter().map(|e| Write { key: e.key, value: Some(e.value) }));
        if n < 500 {
            return out;
        }
    }
}

fn restored(b: &[Write]) -> Arc<dyn Store> {
    let s = MemoryStore::new();
    assert_eq!(s.commit(&[], b).unwrap(), CommitOutcome::Committed);
    Arc::new(s)
}

#[test]
fn e2e_overflow_deposit_followed_by_other_users_deposits_all_credited_or_recorded() {
    let h = Harness::new();
    h.linked_player("rich", "rich-cwd", 100 * 100_000);
    h.linked_player("bob", "bob-cwd", 100 * 100_000);
    h.api(|a| a.adjust_balance("rich", i64::MAX, "k1", "")).unwrap();
    h.api(|a| a.adjust_balance("rich", i64::MAX, "k2", "")).unwrap();
    h.devnet.transfer("rich-cwd", GATEWAY, 10 * 100_000, None, None).unwrap();
    h.devnet.transfer("bob-cwd", GATEWAY, 2 * 100_000, None, None).unwrap();
    h.devnet.produce_block();
    h.devnet.transfer("bob-cwd", GATEWAY, 100_000, None, None).unwrap();
    h.settle();
    assert_eq!(h.balance("bob").0, 270);
    let unc = h.api(|a| a.list_unclaimed(false, None, 10)).unwrap();
    assert_eq!(unc.len(), 1);
    assert_eq!(unc[0].amount, 10 * 100_000);
    let ev: Vec<Value> = h.events.snapshot().into_iter().filter(|e| e["type"] == "deposit-unclaimed").collect();
    assert_eq!(ev[0]["reason"], "credit-overflow");
    let st = h.api(|a| a.status()).unwrap();
    assert_eq!(st.scanned_through_block, h.devnet.last_irreversible_block_num());
}

#[test]
fn e2e_healthy_withdrawals_deposits_and_links_raise_no_alert() {
    let h = Harness::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (user, account) = (format!("p{i}"), format!("player-{i}"));
        h.linked_player(&user, &account, 100 * 100_000);
        h.devnet.transfer(&account, GATEWAY, 20 * 100_000, None, None).unwrap();
    }
    h.settle();
    for i in 0..5 {
        ids.push(h.api(|a| a.request_withdrawal(&format!("p{i}"), WithdrawalAmount::Game(1_000), &format!("w{i}"))).unwrap().withdrawal_id);
    }
    // Tick several times before the payouts are irreversible: every tick rebroadcasts,
    // and the devnet answers "duplicate transaction".
    h.tick();
    for _ in 0..4 {
        h.devnet.produce_block();
        h.tick();
    }
    for id in &ids {
        assert_eq!(h.finish_withdrawal(id).state, WithdrawalState::Confirmed);
    }
    assert_eq!(alerts(&h), Vec::<Value>::new());
}

#[test]
fn e2e_cancel_of_an_unfundable_withdrawal() {
    let h = Harness::new();
    let gw_cwd = h.devnet.balance_of(GATEWAY).unwrap() as u64;
    let whale = h.linked_player("whale", "whale-cwd", 100 * 100_000);
    let game = (gw_cwd / 100_000 + 10) * 100; // more CWD than the gateway holds
    h.api(|a| a.adjust_balance("whale", game as i64, "big", "")).unwrap();
    let w = h.api(|a| a.request_withdrawal("whale", WithdrawalAmount::Game(game), "w")).unwrap();
    for _ in 0..5 {
        h.devnet.produce_block();
        h.tick();
    }
    let unfunded: Vec<Value> = alerts(&h).into_iter().filter(|a| a["kind"] == "payout-unfunded").collect();
    assert_eq!(unfunded.len(), 1, "{:?}", alerts(&h));
    let shortfall = unfunded[0]["shortfall"].as_u64().unwrap();
    let balance = unfunded[0]["balance"].as_u64().unwrap();
    assert!(shortfall < w.cwd && shortfall > w.cwd - balance, "the shortfall (payout + fee - funds), not the amount");
    assert!(matches!(refused(h.api(|a| a.unlink("whale"))), GatewayError::WithdrawalsPending));
    // Over HTTP, as an operator would.
    let (status, body) = dispatch(&h.service, &operator(), "cancel-withdrawal", &json!({ "withdrawal_id": w.withdrawal_id, "reason": "cannot be funded" }));
    assert_eq!((status, body["state"].as_str()), (200, Some("cancelled")), "{body}");
    assert_eq!(h.balance("whale"), (game, 0));
    assert!(h.events.snapshot().iter().any(|e| e["type"] == "withdrawal-cancelled"));
    let (status, body) = dispatch(&h.service, &operator(), "cancel-withdrawal", &json!({ "withdrawal_id": w.withdrawal_id, "reason": "" }));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not-cancellable")));
    h.settle();
    assert!(h.payouts_to(&whale.id_string()).is_empty());
    h.api(|a| a.unlink("whale")).unwrap();
}

#[test]
fn e2e_restore_from_an_old_backup_pays_once_and_pauses_until_acknowledged() {
    let mut h = Harness::new();
    let alice = h.linked_player("alice", "alice-cwd", 100 * 100_000);
    let bob = h.linked_player("bob", "bob-cwd", 100 * 100_000);
    h.api(|a| a.adjust_balance("alice", 5_000, "s1", "")).unwrap();
    h.api(|a| a.adjust_balance("bob", 5_000, "s2", "")).unwrap();
    h.settle();
    let old = backup(&h.store);
    let paid = h.api(|a| a.request_withdrawal("alice", WithdrawalAmount::Game(1_000), "a")).unwrap();
    assert_eq!(h.finish_withdrawal(&paid.withdrawal_id).state, WithdrawalState::Confirmed);

    // The operator restores the old backup and starts the gateway on it.
    h.store = restored(&old);
    h.restart();
    let again = h.api(|a| a.request_withdrawal("bob", WithdrawalAmount::Game(2_000), "b")).unwrap();
    assert_eq!(again.withdrawal_id, paid.withdrawal_id, "the restored store reuses the id");
    for _ in 0..4 {
        let lag = h.lag();
        h.devnet.produce_blocks(lag + 1);
        h.tick();
    }
    assert_eq!(h.payouts_to(&alice.id_string()).len(), 1);
    assert_eq!(h.payouts_to(&bob.id_string()).len(), 0, "paused: nothing paid blindly");
    let unknown: Vec<Value> = alerts(&h).into_iter().filter(|a| a["kind"] == "unknown-payout").collect();
    assert_eq!(unknown.len(), 1, "{:?}", alerts(&h));
    assert_eq!(unknown[0]["memo_withdrawal_id"], paid.withdrawal_id.as_str());
    let (_, status) = dispatch(&h.service, &operator(), "status", &json!({}));
    assert_eq!(status["payouts_paused"], true);
    let (_, listed) = dispatch(&h.service, &operator(), "list-unknown-payouts", &json!({}));
    let deposit_id = listed[0]["deposit_id"].as_str().unwrap().to_string();
    assert_eq!(deposit_id, unknown[0]["deposit_id"].as_str().unwrap());
    let (code, body) = dispatch(&h.service, &operator(), "acknowledge-unknown-payout", &json!({ "deposit_id": "d-0000000001-00000-00000", "note": "" }));
    assert_eq!((code, body["error"]["code"].as_str()), (404, Some("unknown-payout-not-found")));
    let (code, body) = dispatch(&h.service, &operator(), "acknowledge-unknown-payout", &json!({ "deposit_id": deposit_id, "note": "restore; alice paid" }));
    assert_eq!((code, body["acknowledged"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(h.finish_withdrawal(&again.withdrawal_id).state, WithdrawalState::Confirmed);
    assert_eq!(h.payouts_to(&bob.id_string()).len(), 1);
    assert_eq!(h.payouts_to(&alice.id_string()).len(), 1);
}

#[test]
fn e2e_memo_link_and_proof_of_work() {
    let mut h = Harness::new();
    h.config.link.pow_bits = 8;
    h.restart();
    h.devnet.create_account(AccountSpec::new("carol-cwd", 100 * 100_000)).unwrap();
    // Proof of work in front of start-link.
    assert!(matches!(refused(h.api(|a| a.start_link("carol", "carol-cwd", None))), GatewayError::ProofRequired(8)));
    let c = h.api(|a| a.link_challenge()).unwrap();
    let proof = PowProof { challenge: c.challenge.clone(), nonce: pow::solve(&c.challenge, c.difficulty_bits) };
    h.api(|a| a.start_link("carol", "carol-cwd", Some(&proof))).unwrap();
    assert!(matches!(refused(h.api(|a| a.start_link("carol2", "carol-cwd", Some(&proof)))), GatewayError::BadProof(ProofProblem::Used)));
    let (code, body) = dispatch(&h.service, &operator(), "start-link", &json!({ "user": "x", "account": "carol-cwd", "challenge": c.challenge }));
    assert_eq!((code, body["error"]["code"].as_str()), (400, Some("bad-request")));
    let (code, body) = dispatch(&h.service, &operator(), "link-challenge", &json!({}));
    assert_eq!((code, body["difficulty_bits"].as_u64()), (200, Some(8)));

    // Memo linking: no fee, the sender's transfer is the proof.
    h.devnet.create_account(AccountSpec::new("dave-cwd", 100 * 100_000)).unwrap();
    let (code, m) = dispatch(&h.service, &operator(), "start-memo-link", &json!({ "user": "dave" }));
    assert_eq!(code, 200, "{m}");
    let memo = m["code"].as_str().unwrap().to_string();
    assert_eq!(m["gateway_account"], GATEWAY);
    h.devnet.transfer("dave-cwd", GATEWAY, 3 * 100_000, Some(&memo), None).unwrap();
    h.settle();
    let v = h.api(|a| a.account("dave")).unwrap();
    assert_eq!(v.linked.unwrap().account, "dave-cwd");
    assert_eq!(v.balance, 270);
    assert!(h.events.snapshot().iter().all(|e| !e.to_string().contains(&memo)), "the code is in no event");
}
