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
    h.api(|a| a.assign_unclaimed("operator", &open[0].deposit_id, "alice")).unwrap();
    assert!(h.api(|a| a.assign_unclaimed("operator", &open[0].deposit_id, "alice")).is_err());
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
    // The node was started tracking only the player's account (`--track-account`; the
    // gateway is 1.2.100, the player 1.2.101): it keeps no history for the gateway, whose
    // statistics say 0 operations.
    let h = Harness::with(runtime(), |dc| dc.track_accounts = vec![cwd_gateway::ops::AccountId(101)]);
    let alice = h.devnet.create_account(cwd_devnet::AccountSpec::new("alice-cwd", 500 * CWD)).unwrap();
    assert_eq!(alice.id_string(), "1.2.101");
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

/// A public node with `max-ops-per-account = keep` in front of the devnet (which keeps
/// everything): it answers as the devnet does, except that each account's statistics
/// count the pruned operations in `removed_ops` and its history no longer has them
/// (account_history_plugin.cpp `add_account_history`). A test double of a node.
struct PruningNode {
    url: String,
    server: std::sync::Arc<tiny_http::Server>,
}

impl PruningNode {
    fn start(upstream: String, keep: u64) -> PruningNode {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let s = server.clone();
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(5)).build();
            let int = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|t| t.parse().ok())).unwrap_or(0);
            let call = |method: &str, args: Value| -> Value {
                let body = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "call", "params": ["database", method, args] });
                agent.post(&upstream).send_json(body).unwrap().into_json::<Value>().unwrap()["result"].clone()
            };
            for mut request in s.incoming_requests() {
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(request.as_reader(), &mut text);
                let req: Value = serde_json::from_str(&text).unwrap_or_default();
                let mut reply: Value = agent.post(&upstream).send_string(&text).map(|r| r.into_json().unwrap()).unwrap_or_default();
                let (method, args) = (req["params"][1].as_str().unwrap_or(""), &req["params"][2]);
                if method == "get_objects" {
                    if let Some(objects) = reply["result"].as_array_mut() {
                        for o in objects.iter_mut().filter(|o| o["id"].as_str().is_some_and(|id| id.starts_with("2.6."))) {
                            let total = int(&o["total_ops"]);
                            o["removed_ops"] = serde_json::json!(int(&o["removed_ops"]).max(total.saturating_sub(keep)));
                        }
                    }
                }
                if method == "get_relative_account_history" {
                    // Entries come newest first from sequence min(start, total) down.
                    let stats_id = args[0].as_str().unwrap_or("").replacen("1.2.", "2.6.", 1);
                    let total = int(&call("get_objects", serde_json::json!([[stats_id]]))[0]["total_ops"]);
                    let start = match int(&args[3]) { 0 => total, s => s.min(total) };
                    let removed = total.saturating_sub(keep);
                    if let Some(entries) = reply["result"].as_array_mut() {
                        let kept: Vec<Value> = entries.iter().enumerate().filter(|(i, _)| start - *i as u64 > removed).map(|(_, e)| e.clone()).collect();
                        *entries = kept;
                    }
                }
                let _ = request.respond(tiny_http::Response::from_string(reply.to_string()));
            }
        });
        PruningNode { url, server }
    }
}

impl Drop for PruningNode {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

#[test]
fn a_pruned_node_is_left_for_the_next_node_and_every_deposit_is_credited_once() {
    // The host's first node prunes to the newest 3 operations per account; the second
    // keeps the whole history.
    let mut pruning = None;
    let h = Harness::with_nodes(runtime(), |_| {}, |devnet| {
        let p = PruningNode::start(devnet.url().to_string(), 3);
        let urls = vec![p.url.clone(), devnet.url().to_string()];
        pruning = Some(p);
        urls
    });
    h.linked_player("alice", "alice-cwd", 500 * CWD);
    h.settle();
    assert!(events_of(&h, "alert").is_empty(), "the pruned node is fine while the scan keeps up");
    for _ in 0..6 {
        h.devnet.transfer("alice-cwd", GATEWAY, CWD, None, None).unwrap();
        h.devnet.produce_block();
    }
    h.settle();
    let alerts: Vec<Value> = events_of(&h, "alert").into_iter().filter(|a| a["kind"] == "history-untrusted").collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["detail"].as_str().unwrap().contains("pruned") && alerts[0]["switched"] == true, "{alerts:?}");
    assert_credited_once(&h, "alice", 6, 6 * 90);
    drop(pruning);
}
