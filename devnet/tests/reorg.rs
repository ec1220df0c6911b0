//! Reorganisations drop reversible blocks: their history and balance changes vanish,
//! their transactions are requeued or forgotten, and nothing irreversible moves.

mod common;

use common::*;
use cwd_devnet::{ChainError, Config};
use serde_json::json;

#[test]
fn reorg_removes_history_and_balances_of_dropped_blocks() {
    let d = start_with(Config { irreversible_lag: 3, ..Config::seeded("reorg") });
    let alice = account(&d, "alice", 100);
    let bob = account(&d, "bob", 0);
    d.produce_blocks(5);
    let before_ops = result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"]));
    assert_eq!(before_ops.as_array().map(|a| a.len()), Some(1));
    assert_eq!(before_ops[0]["op"][0], json!(5), "only bob's account_create: {before_ops}");
    let before_relative = result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 0]));
    assert_eq!(before_relative, before_ops);
    let sent = d.transfer("alice", "bob", 7 * CWD, Some("hello"), None).unwrap();
    let num = d.produce_block();
    let old_id = d.lock().block(num).unwrap().id;
    assert_eq!(d.lock().balance(bob.id), 7 * CWD);
    assert_eq!(result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"])).as_array().unwrap().len(), 2);
    // Too deep: would cross the irreversible block.
    let lib = d.last_irreversible_block_num();
    assert!(matches!(d.reorg(d.head_block_number() - lib + 1, false), Err(ChainError::Reorg(_))));
    let out = d.reorg(1, false).unwrap();
    assert_eq!(out.discarded, vec![sent.id.clone()]);
    assert_eq!(d.head_block_number(), num - 1);
    // The transfer's entry is gone; the account_create (outside any block) stays.
    assert_eq!(result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"])), before_ops);
    assert_eq!(result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 0])), before_relative);
    assert_eq!(d.lock().balance(bob.id), 0);
    assert_eq!(d.lock().balance(alice.id), 100 * CWD);
    assert_eq!(result(&d, "database", "get_block", json!([num])), json!(null));
    assert!(d.received_memos("bob", None).unwrap().is_empty());
    assert_conserved(&d);
    // The replacement block at the same height has another id.
    d.produce_block();
    assert_ne!(d.lock().block(num).unwrap().id, old_id);
    assert_eq!(d.lock().balance(bob.id), 0, "discarded transactions stay gone");
    // The forgotten transaction may be broadcast again.
    let r = broadcast(&d, &sent.signed);
    assert_eq!(r["result"], json!(null), "{r}");
}

#[test]
fn requeued_transactions_come_back_in_the_new_chain() {
    let d = start_with(Config { irreversible_lag: 10, ..Config::seeded("reorg2") });
    let _alice = account(&d, "alice", 100);
    let bob = account(&d, "bob", 0);
    d.produce_blocks(2);
    let a = d.transfer("alice", "bob", CWD, None, None).unwrap();
    let first = d.produce_block();
    let b = d.transfer("alice", "bob", 2 * CWD, None, None).unwrap();
    d.produce_block();
    let out = d.reorg(2, true).unwrap();
    assert_eq!(out.requeued, vec![a.id.clone(), b.id.clone()]);
    assert_eq!(d.lock().pending().len(), 2);
    // While pending, a rebroadcast is a duplicate.
    assert_eq!(rejection(&broadcast(&d, &a.signed)), "duplicate");
    let replay = d.produce_block();
    assert_eq!(replay, first);
    let s = d.lock();
    assert_eq!(s.location(&a.signed.tx.id()).unwrap().block_num, replay);
    // b named the dropped block `first` in its TaPoS: like a node, the new chain refuses it.
    assert!(s.location(&b.signed.tx.id()).is_none());
    assert!(matches!(s.failure(&b.signed.tx.id()), Some(cwd_devnet::Reject::BadTapos { .. })));
    assert_eq!(s.balance(bob.id), CWD);
    assert_eq!(s.account_ops(bob.id).len(), 2, "bob's account_create and a, once");
}

#[test]
fn tapos_naming_a_dropped_block_is_refused() {
    let d = start_with(Config { irreversible_lag: 10, ..Config::seeded("reorg3") });
    let alice = account(&d, "alice", 100);
    let bob = account(&d, "bob", 0);
    d.produce_blocks(3);
    let tx = transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60);
    d.reorg(1, false).unwrap();
    d.produce_block();
    let st = sign(&d, tx, &alice.active_private().unwrap());
    assert_eq!(rejection(&broadcast(&d, &st)), "tapos");
}

#[test]
fn reorg_over_the_control_api() {
    let d = start_with(Config { irreversible_lag: 2, ..Config::seeded("reorg4") });
    d.produce_blocks(5);
    let r = control(&d, "reorg", json!({ "depth": 2 }));
    assert_eq!(r["result"]["dropped_blocks"], json!(2), "{r}");
    let r = control(&d, "reorg", json!({ "depth": 1 }));
    assert_eq!(r["error"]["data"]["name"], json!("reorg_refused"), "{r}");
}
