//! What real CrowdWiz nodes do beyond plain transfers: proposals run on approval or at
//! expiry (their transfers sharing one position), mass payments with virtual payouts,
//! user-issued assets, history pruned by `max-ops-per-account` or not kept, strict
//! `get_accounts`, and reorganisations undoing all of it.

mod common;

use common::*;
use cwd_devnet::scenarios::ProposedTransfer;
use cwd_gateway::ops::{AccountId, Asset, AssetId};
use serde_json::{json, Value};

/// (op number, block_num, trx_in_block, op_in_trx, virtual_op) of each entry, oldest first.
fn positions(d: &cwd_devnet::DevnetHandle, who: &str) -> Vec<(u64, u64, u64, u64, u64)> {
    let h = result(d, "history", "get_account_history", json!([who, "1.11.0", 100, "1.11.0"]));
    let mut v: Vec<_> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{k} in {e}"));
            (e["op"][0].as_u64().unwrap(), n("block_num"), n("trx_in_block"), n("op_in_trx"), n("virtual_op"))
        })
        .collect();
    v.reverse();
    v
}

/// `positions` after the account's first entry, which must be its account_create.
fn positions_since_created(d: &cwd_devnet::DevnetHandle, who: &str) -> Vec<(u64, u64, u64, u64, u64)> {
    let mut v = positions(d, who);
    assert_eq!(v.first().map(|p| p.0), Some(5), "{who}'s history starts with its account_create: {v:?}");
    v.remove(0);
    v
}

fn stats(d: &cwd_devnet::DevnetHandle, id: AccountId) -> Value {
    result(d, "database", "get_objects", json!([[format!("2.6.{}", id.0)]]))[0].clone()
}

fn cwd_transfer(from: &str, to: &str, cwd: i64) -> ProposedTransfer {
    ProposedTransfer { from: from.into(), to: to.into(), amount: Asset::cwd(cwd * CWD) }
}

#[test]
fn proposal_with_two_transfers_to_one_account_runs_on_approval_at_one_position() {
    let d = start();
    let alice = account(&d, "alice", 1000);
    let gw = account(&d, "crowdwiz-gateway", 0);
    account(&d, "bob", 100);
    let expiry = d.lock().head_time() + 3600;
    d.propose_transfers("bob", &[cwd_transfer("alice", "crowdwiz-gateway", 5), cwd_transfer("alice", "crowdwiz-gateway", 5)], expiry)
        .unwrap();
    d.produce_block();
    let ids = d.proposal_ids();
    assert_eq!(ids.len(), 1);
    let prop = result(&d, "database", "get_objects", json!([[format!("1.10.{}", ids[0])]]))[0].clone();
    assert_eq!(prop["required_active_approvals"], json!([alice.id_string()]));
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 0, "nothing moves before approval");
    // alice's history shows the proposal (she must approve it); the gateway's does not.
    assert_eq!(positions_since_created(&d, "alice").iter().map(|p| p.0).collect::<Vec<_>>(), vec![22]);
    assert!(positions_since_created(&d, "crowdwiz-gateway").is_empty());

    // An unrelated transfer first, so the update is not the block's first transaction.
    d.transfer("bob", "alice", CWD, None, None).unwrap();
    d.approve_proposal("alice", ids[0]).unwrap();
    let block = d.produce_block();
    assert!(d.proposal_ids().is_empty(), "an executed proposal is gone");
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 10 * CWD);
    let gw_hist = positions_since_created(&d, "crowdwiz-gateway");
    assert_eq!(gw_hist.len(), 2);
    for p in &gw_hist {
        assert_eq!((p.0, p.1, p.2, p.3), (0, block as u64, 1, 0), "both share the proposal_update's position");
    }
    assert_ne!(gw_hist[0].4, gw_hist[1].4, "virtual_op tells them apart");
    let alice_hist = positions(&d, "alice");
    let update = alice_hist.iter().find(|p| p.0 == 23).expect("the approval is in alice's history");
    assert_eq!((update.1, update.2, update.3), (block as u64, 1, 0));
    assert!(gw_hist.iter().all(|p| p.4 > update.4), "the update is pushed before what it runs");
    let st = stats(&d, gw.id);
    assert_eq!((st["total_ops"].as_u64(), st["removed_ops"].as_u64()), (Some(3), Some(0)), "account_create and two transfers");
    assert_conserved(&d);
}

#[test]
fn two_proposals_run_at_expiry_in_one_block_after_failing_on_approval() {
    let d = start();
    // Enough for the approval's fee, not for the proposed transfers.
    account(&d, "alice", 25);
    account(&d, "carol", 25);
    account(&d, "crowdwiz-gateway", 0);
    account(&d, "bob", 100);
    let expiry = d.lock().head_time() + 60;
    d.propose_transfers("bob", &[cwd_transfer("alice", "crowdwiz-gateway", 7)], expiry).unwrap();
    d.propose_transfers("bob", &[cwd_transfer("carol", "crowdwiz-gateway", 8)], expiry).unwrap();
    d.produce_block();
    let ids = d.proposal_ids();
    assert_eq!(ids.len(), 2);
    // Approved while alice and carol cannot pay: the proposals stay, with the reason.
    d.approve_proposal("alice", ids[0]).unwrap();
    d.approve_proposal("carol", ids[1]).unwrap();
    d.produce_block();
    assert_eq!(d.proposal_ids(), ids);
    let p = result(&d, "database", "get_objects", json!([[format!("1.10.{}", ids[0])]]))[0].clone();
    assert!(p["fail_reason"].as_str().unwrap().contains("insufficient"), "{p}");
    assert!(positions_since_created(&d, "crowdwiz-gateway").is_empty());
    d.issue("alice", 10 * CWD).unwrap();
    d.issue("carol", 10 * CWD).unwrap();
    // A block with one one-operation transaction, then the expiry.
    d.advance_time(120);
    d.transfer("bob", "alice", CWD, None, None).unwrap();
    let block = d.produce_block();
    assert!(d.proposal_ids().is_empty());
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 15 * CWD);
    let gw_hist = positions_since_created(&d, "crowdwiz-gateway");
    assert_eq!(gw_hist.len(), 2);
    // clear_expired_proposals runs after the block's transactions: trx_in_block is their
    // count and op_in_trx what the last transaction left (its operation count).
    for p in &gw_hist {
        assert_eq!((p.1, p.2, p.3), (block as u64, 1, 1), "{gw_hist:?}");
    }
    assert_ne!(gw_hist[0].4, gw_hist[1].4);
    assert_conserved(&d);
}

#[test]
fn unapproved_proposal_expires_without_running() {
    let d = start();
    account(&d, "alice", 100);
    account(&d, "crowdwiz-gateway", 0);
    let expiry = d.lock().head_time() + 30;
    d.propose_transfers("alice", &[cwd_transfer("alice", "crowdwiz-gateway", 5)], expiry).unwrap();
    d.produce_block();
    assert_eq!(d.proposal_ids().len(), 1);
    d.advance_time(60);
    d.produce_block();
    assert!(d.proposal_ids().is_empty());
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 0);
    // Approving a proposal that is gone fails when the block is made.
    let tx = d.approve_proposal("alice", 0).unwrap();
    d.produce_block();
    let why = d.lock().failure(&hex::decode(&tx).unwrap().try_into().unwrap()).cloned();
    assert_eq!(why.map(|r| r.name()), Some("assert_exception"));
}

#[test]
fn mass_payment_credits_through_virtual_payouts() {
    let d = start();
    let payer = account(&d, "payer", 100);
    let gw = account(&d, "crowdwiz-gateway", 0);
    account(&d, "bob", 0);
    d.mass_payment("payer", "CWD", &[("crowdwiz-gateway", 3 * CWD), ("bob", 2 * CWD)]).unwrap();
    let block = d.produce_block();
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 3 * CWD);
    assert_eq!(d.balance_of("bob").unwrap(), 2 * CWD);
    let fees = d.lock().config.fees;
    assert_eq!(d.balance_of("payer").unwrap(), 95 * CWD - fees.mass_payment - 2 * fees.mass_payment_per_transfer);
    // The payer sees op 104 only; each payee only its own 105, at the 104's position.
    assert_eq!(positions_since_created(&d, "payer").iter().map(|p| p.0).collect::<Vec<_>>(), vec![104]);
    let gw_hist = positions_since_created(&d, "crowdwiz-gateway");
    assert_eq!(gw_hist.len(), 1);
    assert_eq!((gw_hist[0].0, gw_hist[0].1, gw_hist[0].2, gw_hist[0].3), (105, block as u64, 0, 0));
    let entry = result(&d, "history", "get_account_history", json!(["crowdwiz-gateway", "1.11.0", 1, "1.11.0"]))[0].clone();
    assert_eq!(entry["op"][1]["from"], json!(payer.id_string()));
    assert_eq!(entry["op"][1]["to"], json!(gw.id_string()));
    assert_eq!(entry["op"][1]["amount"], json!({ "amount": 3 * CWD, "asset_id": "1.3.0" }));
    assert_eq!(entry["result"], json!([0, {}]));
    // Paying more than the balance fails at the block, and nothing moves.
    d.mass_payment("payer", "CWD", &[("bob", 1_000 * CWD)]).unwrap();
    d.produce_block();
    assert_eq!(d.balance_of("bob").unwrap(), 2 * CWD);
    assert!(d.mass_payment("payer", "CWD", &[("bob", 0)]).is_err());
    assert_conserved(&d);
}

#[test]
fn user_asset_transfers_and_balances() {
    let d = start();
    account(&d, "issuer", 10);
    let alice = account(&d, "alice", 10);
    let gw = account(&d, "crowdwiz-gateway", 0);
    let gold = d.create_asset("issuer", "GOLD", 3, 1_000_000).unwrap();
    assert_eq!(gold, AssetId(1));
    assert!(d.create_asset("issuer", "GOLD", 3, 10).is_err(), "symbols are unique");
    assert!(d.create_asset("issuer", "gold", 3, 10).is_err());
    d.issue_asset("GOLD", "alice", 5_000).unwrap();
    assert!(d.issue_asset("GOLD", "alice", 1_000_000).is_err(), "beyond max_supply");
    d.transfer_asset("alice", "crowdwiz-gateway", Asset { amount: 1_200, asset_id: gold }, None, None).unwrap();
    d.produce_block();
    assert_eq!(d.asset_balance_of("crowdwiz-gateway", "GOLD").unwrap(), 1_200);
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 0);
    let bal = result(&d, "database", "get_account_balances", json!([alice.id_string(), []]));
    let fee = fee(&d);
    assert_eq!(bal, json!([{ "amount": 10 * CWD - fee, "asset_id": "1.3.0" }, { "amount": 3_800, "asset_id": "1.3.1" }]));
    let found = result(&d, "database", "lookup_asset_symbols", json!([["GOLD", "1.3.1", "NOPE"]]));
    assert_eq!(found[0]["id"], json!("1.3.1"));
    assert_eq!(found[0]["precision"], json!(3));
    assert_eq!(found[1]["symbol"], json!("GOLD"));
    assert_eq!(found[2], Value::Null);
    assert_eq!(result(&d, "database", "get_objects", json!([["2.3.1"]]))[0]["current_supply"], json!(5_000));
    let r = rpc(&d, "database", "get_assets", json!([["NOPE"]]));
    assert_eq!(error_name(&r), "assert_exception");
    let h = result(&d, "history", "get_account_history", json!(["crowdwiz-gateway", "1.11.0", 1, "1.11.0"]));
    assert_eq!(h[0]["op"][1]["amount"], json!({ "amount": 1_200, "asset_id": "1.3.1" }));
    // An asset that does not exist is refused at broadcast.
    let bad = cwd_gateway::ops::Transaction {
        operations: vec![cwd_gateway::ops::Operation::Transfer(cwd_gateway::ops::Transfer {
            fee: Asset::cwd(fee),
            from: alice.id,
            to: gw.id,
            amount: Asset { amount: 1, asset_id: AssetId(9) },
            memo: None,
        })],
        ..transfer_tx(&d, alice.id, gw.id, 1, fee, 60)
    };
    let st = sign(&d, bad, &alice.active_private().unwrap());
    assert_eq!(rejection(&broadcast(&d, &st)), "unknown_object");
}

#[test]
fn max_ops_per_account_prunes_oldest_and_counts_removed() {
    let mut config = cwd_devnet::Config::seeded("prune");
    config.max_ops_per_account = 3;
    let d = start_with(config);
    account(&d, "alice", 100);
    let gw = account(&d, "crowdwiz-gateway", 0);
    let mut all = Vec::new();
    for i in 1..=5 {
        d.transfer("alice", "crowdwiz-gateway", i, None, None).unwrap();
        d.produce_block();
        all.push(*d.lock().account_ops(gw.id).last().unwrap());
    }
    // The account_create and five transfers, of which the oldest three are pruned.
    let st = stats(&d, gw.id);
    assert_eq!((st["total_ops"].as_u64(), st["removed_ops"].as_u64()), (Some(6), Some(3)));
    assert_eq!(d.lock().account_ops(gw.id), &all[2..]);
    let h = result(&d, "history", "get_account_history", json!(["crowdwiz-gateway", "1.11.0", 100, "1.11.0"]));
    assert_eq!(h.as_array().unwrap().len(), 3);
    // Relative sequence numbers keep counting; the pruned ones are gone.
    let r = result(&d, "history", "get_relative_account_history", json!(["crowdwiz-gateway", 0, 100, 0]));
    assert_eq!(r.as_array().unwrap().len(), 3);
    assert_eq!(result(&d, "history", "get_relative_account_history", json!(["crowdwiz-gateway", 0, 100, 3])), json!([]));
    let r = result(&d, "history", "get_relative_account_history", json!(["crowdwiz-gateway", 0, 100, 4]));
    assert_eq!(r[0]["id"], json!(format!("1.11.{}", all[2])));
    // The operation objects themselves stay (partial-operations is off).
    let o = result(&d, "database", "get_objects", json!([[format!("1.11.{}", all[0])]]));
    assert_eq!(o[0]["id"], json!(format!("1.11.{}", all[0])));
    // Undone by a reorganisation, exactly (the account_create stays pruned: the third
    // transfer's block, which pruned it, is kept).
    d.lock().set_irreversible_lag(10);
    d.reorg(2, false).unwrap();
    let st = stats(&d, gw.id);
    assert_eq!((st["total_ops"].as_u64(), st["removed_ops"].as_u64()), (Some(4), Some(1)));
    assert_eq!(d.lock().account_ops(gw.id), &all[..3]);
    assert_conserved(&d);
}

#[test]
fn node_that_keeps_no_history_for_an_account() {
    let d = start();
    let alice = account(&d, "alice", 100);
    // Tracking only alice before the gateway exists: not even its account_create is kept.
    d.set_history_options(None, &["alice"]).unwrap();
    let gw = account(&d, "crowdwiz-gateway", 0);
    d.transfer("alice", "crowdwiz-gateway", CWD, None, None).unwrap();
    d.produce_block();
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), CWD);
    assert_eq!(result(&d, "history", "get_account_history", json!(["crowdwiz-gateway", "1.11.0", 100, "1.11.0"])), json!([]));
    assert_eq!(stats(&d, gw.id)["total_ops"].as_u64(), Some(0), "statistics count only what the plugin recorded");
    assert_eq!(stats(&d, alice.id)["total_ops"].as_u64(), Some(2), "alice's account_create and the transfer");
    // max-ops-per-account 0: no account history at all.
    control(&d, "set_history", json!({ "max_ops_per_account": 0 }));
    d.transfer("alice", "crowdwiz-gateway", CWD, None, None).unwrap();
    d.produce_block();
    assert_eq!(stats(&d, alice.id)["total_ops"].as_u64(), Some(2));
    assert_eq!(stats(&d, gw.id)["total_ops"].as_u64(), Some(0));
}

#[test]
fn get_accounts_fails_for_unknown_ids_and_full_accounts_has_statistics() {
    let d = start();
    let alice = account(&d, "alice", 100);
    let r = rpc(&d, "database", "get_accounts", json!([[alice.id_string(), "1.2.999"]]));
    assert_eq!(error_name(&r), "assert_exception");
    assert!(r["error"]["message"].as_str().unwrap().contains("no such account"), "{r}");
    let r = rpc(&d, "database", "get_accounts", json!([["nobody-here"]]));
    assert_eq!(error_name(&r), "assert_exception");
    let ok = result(&d, "database", "get_accounts", json!([[alice.id_string(), "alice"]]));
    assert_eq!(ok[1]["name"], json!("alice"));
    let full = result(&d, "database", "get_full_accounts", json!([["alice"], false]));
    assert_eq!(full[0][0], json!("alice"));
    assert_eq!(full[0][1]["statistics"]["id"], json!(format!("2.6.{}", alice.id.0)));
    assert_eq!(full[0][1]["balances"][0]["balance"], json!(100 * CWD));
    assert_eq!(full[0][1]["balances"][0]["asset_type"], json!("1.3.0"));
    assert_eq!(error_name(&rpc(&d, "database", "get_full_accounts", json!([["1.2.999"], false]))), "assert_exception");
}

#[test]
fn reorg_undoes_proposal_execution_and_mass_payment() {
    let d = start();
    account(&d, "alice", 100);
    account(&d, "crowdwiz-gateway", 0);
    let expiry = d.lock().head_time() + 3600;
    d.propose_transfers("alice", &[cwd_transfer("alice", "crowdwiz-gateway", 5)], expiry).unwrap();
    d.produce_block();
    let id = d.proposal_ids()[0];
    let before = {
        let s = d.lock();
        (s.balance(AccountId(100)), s.account_ops(AccountId(101)).to_vec())
    };
    d.approve_proposal("alice", id).unwrap();
    d.mass_payment("alice", "CWD", &[("crowdwiz-gateway", CWD)]).unwrap();
    d.produce_block();
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 6 * CWD);
    let out = d.reorg(1, true).unwrap();
    assert_eq!(out.requeued.len(), 2);
    assert_eq!(d.proposal_ids(), vec![id], "the proposal is back, unapproved");
    let (approvals, gw_balance) = {
        let s = d.lock();
        (s.proposal(id).unwrap().approvals.len(), s.balance(AccountId(101)))
    };
    assert_eq!((approvals, gw_balance), (0, 0));
    let after = {
        let s = d.lock();
        (s.balance(AccountId(100)), s.account_ops(AccountId(101)).to_vec())
    };
    assert_eq!(after, before);
    // Replayed in the next block: the same outcome again.
    d.produce_block();
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 6 * CWD);
    assert!(d.proposal_ids().is_empty());
    assert_conserved(&d);
}
