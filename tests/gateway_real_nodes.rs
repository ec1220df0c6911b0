//! What real crowdwiz-core nodes do, through the real `.wasm` in the host against the
//! devnet: proposals whose transfers share one history position (on approval and at
//! expiry), CWD arriving by `mass_payment`, user-issued assets, and account history
//! pruned by `max-ops-per-account` or not kept at all. In each: no deposit lost, none
//! credited twice.

use cwd_devnet::scenarios::ProposedTransfer;
use cwd_gateway::ops::Asset;
use cwd_gateway_e2e::*;
use cwd_gateway_host::bindings::api::{UnclaimedDeposit, WithdrawalAmount, WithdrawalState};
use serde_json::Value;

const CWD: i64 = 100_000;

fn to_gateway(from: &str, cwd: i64) -> ProposedTransfer {
    ProposedTransfer { from: from.into(), to: GATEWAY.into(), amount: Asset::cwd(cwd * CWD) }
}

fn events_of(h: &Harness, kind: &str) -> Vec<Value> {
    h.events.snapshot().into_iter().filter(|e| e["type"] == kind).collect()
}

fn unclaimed(h: &Harness) -> Vec<UnclaimedDeposit> {
    h.api(|a| a.list_unclaimed(true, None, 500)).unwrap()
}

/// Every credited deposit id is distinct, and the sum credited is the user's balance.
fn assert_credited_once(h: &Harness, user: &str, expected_count: usize, expected_game: u64) {
    let credits: Vec<Value> = events_of(h, "deposit-credited").into_iter().filter(|e| e["user"] == user).collect();
    let mut ids: Vec<&str> = credits.iter().map(|e| e["deposit_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), expected_count, "{credits:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected_count, "deposit ids are unique: {credits:?}");
    let sum: u64 = credits.iter().map(|e| e["game"].as_u64().unwrap()).sum();
    assert_eq!(sum, expected_game);
    assert_eq!(h.balance(user), (expected_game, 0));
}

#[test]
fn proposal_with_two_transfers_to_the_gateway_credits_each_once() {
    let mut h = Harness::new();
    h.linked_player("alice", "alice-cwd", 500 * CWD);
    h.devnet.create_account(cwd_devnet::AccountSpec::new("proposer", 100 * CWD)).unwrap();
    let expiry = h.devnet.lock().head_time() + 3_600;
    h.devnet.propose_transfers("proposer", &[to_gateway("alice-cwd", 5), to_gateway("alice-cwd", 7)], expiry).unwrap();
    h.devnet.produce_block();
    let id = h.devnet.proposal_ids()[0];
    h.devnet.approve_proposal("alice-cwd", id).unwrap();
    h.settle();
    // A host restart and more ticks change nothing.
    h.restart();
    h.settle();
    assert_credited_once(&h, "alice", 2, 12 * 90);
    assert!(unclaimed(&h).is_empty());
}

#[test]
fn two_proposals_executing_at_expiry_in_one_block_credit_each_once() {
    let h = Harness::new();
    h.linked_player("alice", "alice-cwd", 25 * CWD);
    h.linked_player("carol", "carol-cwd", 25 * CWD);
    h.devnet.create_account(cwd_devnet::AccountSpec::new("proposer", 100 * CWD)).unwrap();
    let expiry = h.devnet.lock().head_time() + 60;
    h.devnet.propose_transfers("proposer", &[to_gateway("alice-cwd", 30), to_gateway("alice-cwd", 1)], expiry).unwrap();
    h.devnet.propose_transfers("proposer", &[to_gateway("carol-cwd", 40)], expiry).unwrap();
    h.devnet.produce_block();
    let ids = h.devnet.proposal_ids();
    // Approved while the payers cannot pay: they stay open until their expiry.
    h.devnet.approve_proposal("alice-cwd", ids[0]).unwrap();
    h.devnet.approve_proposal("carol-cwd", ids[1]).unwrap();
    h.devnet.produce_block();
    assert_eq!(h.devnet.proposal_ids().len(), 2);
    h.devnet.issue("alice-cwd", 40 * CWD).unwrap();
    h.devnet.issue("carol-cwd", 40 * CWD).unwrap();
    h.devnet.advance_time(120);
    h.settle();
    assert!(h.devnet.proposal_ids().is_empty(), "both ran at expiry");
    assert_credited_once(&h, "alice", 2, 31 * 90);
    assert_credited_once(&h, "carol", 1, 40 * 90);
}

#[test]
fn mass_payment_to_the_gateway_is_recorded_unclaimed_never_lost() {
    let h = Harness::new();
    h.linked_player("alice", "alice-cwd", 500 * CWD);
    h.devnet.create_account(cwd_devnet::AccountSpec::new("bob-cwd", 0)).unwrap();
    h.devnet.mass_payment("alice-cwd", "1.3.0", &[(GATEWAY, 3 * CWD), ("bob-cwd", CWD)]).unwrap();
    h.settle();
    assert_eq!(h.balance("alice"), (0, 0), "not a transfer: never credited automatically");
    let open = unclaimed(&h);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].op, open[0].amount, open[0].asset_id.as_str()), (105, 3 * CWD as u64, "1.3.0"));
    assert!(open[0].reason.contains("mass_payment_pay"), "{}", open[0].reason);
    let announced = events_of(&h, "deposit-unclaimed");
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0]["reason"], "not-a-transfer");
    // The operator decides; assigning credits exactly once.
    h.api(|a| a.assign_unclaimed(&open[0].deposit_id, "alice")).unwrap();
    assert!(h.api(|a| a.assign_unclaimed(&open[0].deposit_id, "alice")).is_err());
    h.settle();
    assert_eq!(h.balance("alice"), (270, 0));
}

#[test]
fn a_user_issued_asset_is_recorded_as_other_asset() {
    let h = Harness::new();
    h.linked_player("alice", "alice-cwd", 500 * CWD);
    let asset = h.devnet.create_asset("alice-cwd", "GOLD", 3, 1_000_000_000).unwrap();
    h.devnet.issue_asset("GOLD", "alice-cwd", 50_000).unwrap();
    h.devnet.transfer_asset("alice-cwd", GATEWAY, Asset { amount: 12_345, asset_id: asset }, None, None).unwrap();
    h.settle();
    assert_eq!(h.balance("alice"), (0, 0));
    let open = unclaimed(&h);
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].amount, open[0].asset_id.clone()), (12_345, format!("1.3.{}", asset.0)));
    assert_eq!(events_of(&h, "deposit-unclaimed")[0]["reason"], "other-asset");
}

#[test]
fn pruned_history_is_never_read_as_nothing_new() {
    let h = Harness::new();
    let alice = h.linked_player("alice", "alice-cwd", 500 * CWD);
    h.settle();
    // The node starts keeping only the newest 3 operations per account, and 6 deposits
    // arrive before the next tick: the oldest ones vanish from its history.
    h.devnet.set_history_options(Some(3), &[]).unwrap();
    for _ in 0..6 {
        h.devnet.transfer("alice-cwd", GATEWAY, CWD, None, None).unwrap();
        h.devnet.produce_block();
    }
    h.api(|a| a.adjust_balance("alice", 1_000, "seed", "x")).unwrap();
    let w = h.api(|a| a.request_withdrawal("alice", WithdrawalAmount::Game(1_000), "w1")).unwrap();
    for _ in 0..3 {
        h.devnet.produce_blocks(h.lag() + 1);
        h.tick();
    }
    assert_eq!(h.balance("alice").0, 0, "nothing credited from a pruned history");
    assert!(events_of(&h, "deposit-credited").is_empty());
    let alerts: Vec<Value> = events_of(&h, "alert").into_iter().filter(|a| a["kind"] == "history-untrusted").collect();
    assert!(!alerts.is_empty(), "the operator is told");
    assert!(alerts[0]["detail"].as_str().unwrap().contains("pruned"), "{alerts:?}");
    // No payout while the scan cannot cover everything up to the irreversible block.
    let wd = h.api(|a| a.get_withdrawal(&w.withdrawal_id)).unwrap();
    assert_eq!(wd.state, WithdrawalState::Queued);
    assert!(h.payouts_to(&alice.id_string()).is_empty());
}

#[test]
fn a_node_keeping_no_history_for_the_gateway_is_never_trusted() {
    // The node tracks only the player's account (`track-account`) from the start: it keeps
    // no history for the gateway, not even its account_create, so its statistics say 0
    // operations. The player is the account made after the gateway (1.2.100).
    let player = cwd_gateway::ops::AccountId(101);
    let h = Harness::with(runtime(), |dc| dc.track_accounts = vec![player]);
    let alice = h.devnet.create_account(cwd_devnet::AccountSpec::new("alice-cwd", 500 * CWD)).unwrap();
    assert_eq!(alice.id, player);
    h.link_player("alice", &alice);
    h.devnet.transfer("alice-cwd", GATEWAY, 2 * CWD, None, None).unwrap();
    for _ in 0..3 {
        h.devnet.produce_blocks(h.lag() + 1);
        let report = h.tick();
        assert!(report.node_errors > 0, "the tick says it could not scan");
    }
    assert_eq!(h.balance("alice").0, 0);
    let alerts: Vec<Value> = events_of(&h, "alert").into_iter().filter(|a| a["kind"] == "history-untrusted").collect();
    assert!(alerts.iter().any(|a| a["detail"].as_str().unwrap().contains("keeps no history")), "{alerts:?}");
}
