//! A signed transfer is accepted, applied and conserves CWD; every validation rule
//! refuses what a node refuses.

mod common;

use common::*;
use cwd_gateway::json::write_transaction;
use cwd_gateway::keys::PrivateKey;
use cwd_gateway::ops::{AccountId, Operation};
use serde_json::json;

#[test]
fn signed_transfer_is_accepted_applied_and_conserves() {
    let d = start();
    let alice = account(&d, "alice", 1000);
    let bob = account(&d, "bob", 10);
    assert_conserved(&d);
    let f = fee(&d);
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, 250 * CWD, f, 60), &alice.active_private().unwrap());
    let r = broadcast(&d, &st);
    assert_eq!(r["result"], json!(null), "{r}");
    // Like a node, balances include pending transactions.
    let bal = result(&d, "database", "get_account_balances", json!(["bob", ["1.3.0"]]));
    assert_eq!(bal, json!([{ "amount": 260 * CWD, "asset_id": "1.3.0" }]));
    assert_eq!(d.lock().account_ops(bob.id).len(), 1, "history waits for a block: only bob's account_create");
    let num = d.produce_block();
    let s = d.lock();
    assert_eq!(s.balance(alice.id), 750 * CWD - f);
    assert_eq!(s.balance(bob.id), 260 * CWD);
    assert_eq!(s.fees_burned(), f);
    assert_eq!(s.location(&st.tx.id()).unwrap().block_num, num);
    drop(s);
    assert_conserved(&d);
    let block = result(&d, "database", "get_block", json!([num]));
    assert_eq!(block["transactions"][0]["signatures"], write_transaction(&st)["signatures"]);
    assert_eq!(block["transactions"][0]["operation_results"], json!([[0, {}]]));
    // Both sides see it in their history, with block and position, after their
    // account_create.
    for who in ["alice", "bob"] {
        let h = result(&d, "history", "get_account_history", json!([who, "1.11.0", 10, "1.11.0"]));
        assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
        assert_eq!(h[1]["op"][0], json!(5), "{h}");
        assert_eq!(h[0]["block_num"], json!(num));
        assert_eq!(h[0]["trx_in_block"], json!(0));
        assert_eq!(h[0]["op"][0], json!(0));
        assert_eq!(h[0]["op"][1]["amount"]["amount"], json!(250 * CWD));
    }
}

#[test]
fn synchronous_broadcast_reports_block_and_position() {
    let d = start();
    let alice = account(&d, "alice", 100);
    let bob = account(&d, "bob", 0);
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    let r = result(&d, "network_broadcast", "broadcast_transaction_synchronous", json!([write_transaction(&st)]));
    assert_eq!(r["id"], json!(hex::encode(st.tx.id())));
    assert_eq!(r["block_num"], json!(d.head_block_number()));
    assert_eq!(r["trx_num"], json!(0));
    // api.hpp's transaction_confirmation: {id, block_num, trx_num, trx}.
    assert_eq!(r["trx"]["signatures"], write_transaction(&st)["signatures"]);
    assert_eq!(r["trx"]["operation_results"], json!([[0, {}]]));
    assert_eq!(r.as_object().unwrap().len(), 4);
}

fn reject(d: &cwd_devnet::DevnetHandle, st: &cwd_gateway::ops::SignedTransaction) -> String {
    rejection(&broadcast(d, st))
}

#[test]
fn each_validation_rule_rejects() {
    let d = start();
    let alice = account(&d, "alice", 100);
    let bob = account(&d, "bob", 1);
    let key = alice.active_private().unwrap();
    let f = fee(&d);
    let tx = |amount, fee, ttl| transfer_tx(&d, alice.id, bob.id, amount, fee, ttl);

    // Malformed signature (bad header byte) and non-canonical (high bit of r).
    let mut st = sign(&d, tx(CWD, f, 60), &key);
    st.signatures[0][0] = 26;
    assert_eq!(reject(&d, &st), "bad_signature");
    let mut st = sign(&d, tx(CWD, f, 60), &key);
    st.signatures[0][1] |= 0x80;
    assert_eq!(reject(&d, &st), "non_canonical");
    // Signed by the wrong key, by alice for another chain, or by alice's memo key.
    let st = sign(&d, tx(CWD, f, 60), &bob.active_private().unwrap());
    assert_eq!(reject(&d, &st), "tx_missing_active_auth");
    let st = tx(CWD, f, 60).sign(&key, &[7u8; 32]).unwrap();
    assert_eq!(reject(&d, &st), "tx_missing_active_auth");
    let st = sign(&d, tx(CWD, f, 60), &alice.memo_private().unwrap());
    assert_eq!(reject(&d, &st), "tx_missing_active_auth");
    // An extra, unneeded signature; the same signature twice.
    let mut st = sign(&d, tx(CWD, f, 60), &key);
    st.signatures.push(sign(&d, tx(CWD, f, 60), &bob.active_private().unwrap()).signatures[0]);
    assert_eq!(reject(&d, &st), "tx_irrelevant_sig");
    let mut st = sign(&d, tx(CWD, f, 60), &key);
    st.signatures.push(st.signatures[0]);
    assert_eq!(reject(&d, &st), "tx_duplicate_sig");
    // TaPoS naming no block we have.
    let mut t = tx(CWD, f, 60);
    t.ref_block_prefix ^= 1;
    assert_eq!(reject(&d, &sign(&d, t, &key)), "tapos");
    let mut t = tx(CWD, f, 60);
    t.ref_block_num = t.ref_block_num.wrapping_add(5);
    assert_eq!(reject(&d, &sign(&d, t, &key)), "tapos");
    // Expired (before head time; at head time is fine, see rpc.rs) and too far ahead.
    let mut t = tx(CWD, f, 0);
    t.expiration -= 1;
    assert_eq!(reject(&d, &sign(&d, t, &key)), "expired");
    assert_eq!(reject(&d, &sign(&d, tx(CWD, f, 86_401), &key)), "too_far");
    assert_eq!(broadcast(&d, &sign(&d, tx(2, f, 86_400), &key))["result"], json!(null));
    // Duplicate, also once included in a block.
    let st = sign(&d, tx(CWD, f, 60), &key);
    assert_eq!(broadcast(&d, &st)["result"], json!(null));
    assert_eq!(reject(&d, &st), "duplicate");
    d.produce_block();
    assert_eq!(reject(&d, &st), "duplicate");
    // Insufficient balance (amount + fee), counting what is pending.
    let have = d.lock().balance(alice.id);
    assert_eq!(reject(&d, &sign(&d, tx(have - f + 1, f, 60), &key)), "insufficient_balance");
    assert_eq!(reject(&d, &sign(&d, tx(3, f - 1, 60), &key)), "insufficient_fee");
    // Unknown account.
    let st = sign(&d, transfer_tx(&d, alice.id, AccountId(99_999), 1, f, 60), &key);
    assert_eq!(reject(&d, &st), "unknown_object");
    // Unknown operation and from == to do not decode.
    let mut v = write_transaction(&sign(&d, tx(4, f, 60), &key));
    v["operations"][0][0] = json!(1);
    let r = rpc(&d, "network_broadcast", "broadcast_transaction", json!([v]));
    assert_eq!(error_name(&r), "parse_error_exception");
    assert!(r["error"]["message"].as_str().unwrap().contains("operation 1"), "{r}");
    let mut v = write_transaction(&sign(&d, tx(4, f, 60), &key));
    v["operations"][0][1]["to"] = v["operations"][0][1]["from"].clone();
    assert_eq!(error_name(&rpc(&d, "network_broadcast", "broadcast_transaction", json!([v]))), "parse_error_exception");
    // Fees and amounts in another asset.
    let mut t = tx(5, f, 60);
    if let Operation::Transfer(x) = &mut t.operations[0] {
        x.amount.asset_id = cwd_gateway::ops::AssetId(1);
    }
    assert_eq!(reject(&d, &sign(&d, t, &key)), "unknown_object");
    assert_conserved(&d);
}

#[test]
fn owner_key_may_sign_for_active_and_given_keys_are_used() {
    let d = start();
    let owner = PrivateKey::from_bytes(&[5; 32]).unwrap();
    let spec = cwd_devnet::AccountSpec {
        owner: cwd_devnet::KeySpec::Private(owner.clone()),
        active: cwd_devnet::KeySpec::Public(PrivateKey::from_bytes(&[6; 32]).unwrap().public_key()),
        ..cwd_devnet::AccountSpec::new("carol", 10 * CWD)
    };
    let carol = d.create_account(spec).unwrap();
    assert_eq!(carol.active_wif, None);
    assert_eq!(carol.owner_wif.as_deref(), Some(owner.to_wif().as_str()));
    let dave = account(&d, "dave", 0);
    let st = sign(&d, transfer_tx(&d, carol.id, dave.id, CWD, fee(&d), 60), &owner);
    assert_eq!(broadcast(&d, &st)["result"], json!(null));
    // The helper needs the active key it does not hold.
    assert!(d.transfer("carol", "dave", 1, None, None).is_err());
    let active = PrivateKey::from_bytes(&[6; 32]).unwrap();
    assert!(d.transfer("carol", "dave", 1, None, Some(&active)).is_ok());
}

#[test]
fn pending_transaction_that_no_longer_fits_is_dropped_at_block_time() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 5), &alice.active_private().unwrap());
    assert_eq!(broadcast(&d, &st)["result"], json!(null));
    d.advance_time(60); // the next block is after its expiration
    d.produce_block();
    let s = d.lock();
    assert!(s.location(&st.tx.id()).is_none());
    assert!(matches!(s.failure(&st.tx.id()), Some(cwd_devnet::Reject::Expired { .. })));
    assert_eq!(s.balance(bob.id), 0);
}
