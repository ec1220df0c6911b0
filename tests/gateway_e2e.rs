//! The gateway story end to end: the real `.wasm` in the reference host, a devnet over
//! loopback HTTP, blocks produced when each test says so.

use cwd_devnet::{AccountSpec, FaultKind, FaultRule};
use cwd_gateway_e2e::*;
use cwd_gateway_host::bindings::api::{GatewayError, WithdrawalAmount, WithdrawalState};
use serde_json::Value;

fn units(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).expect("an integer amount")
}

#[test]
fn whole_story_link_deposit_play_withdraw() {
    let h = Harness::new();
    let alice = h.linked_player("alice", "alice-cwd", 500 * 100_000);
    let chain_before = h.devnet.balance_of("alice-cwd").unwrap();

    let tx = h.devnet.transfer("alice-cwd", GATEWAY, 25 * 100_000, Some("top up"), None).unwrap();
    h.settle();
    assert_eq!(h.balance("alice"), (25 * 90, 0), "25 CWD at 90 per CWD");

    h.api(|a| a.adjust_balance("alice", 500, "match-1", "won")).unwrap();
    h.api(|a| a.adjust_balance("alice", -250, "shop-1", "sword")).unwrap();
    assert_eq!(h.balance("alice").0, 2250 + 250);

    let w = h.api(|a| a.request_withdrawal("alice", WithdrawalAmount::Game(1_000), "w-1")).unwrap();
    assert_eq!(w.cwd, 10 * 100_000);
    assert_eq!(h.balance("alice"), (1_500, 1_000), "frozen at request time");
    let done = h.finish_withdrawal(&w.withdrawal_id);
    assert_eq!(done.state, WithdrawalState::Confirmed);
    assert_eq!(h.balance("alice"), (1_500, 0));

    let chain_after = h.devnet.balance_of("alice-cwd").unwrap();
    assert_eq!(chain_after, chain_before - 25 * 100_000 - tx.fee + 10 * 100_000);
    let payouts = h.payouts_to(&alice.id_string());
    assert_eq!(payouts.len(), 1);
    assert_eq!(units(&payouts[0][1]["amount"]["amount"]), 10 * 100_000);

    // Every state change was announced.
    let kinds: Vec<String> = h.events.snapshot().iter().map(|e| e["type"].as_str().unwrap_or("").to_string()).collect();
    for k in ["link-code-sent", "link-confirmed", "deposit-credited", "balance-adjusted", "withdrawal-requested", "withdrawal-sent", "withdrawal-confirmed"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event in {kinds:?}");
    }
}

#[test]
fn deposit_is_credited_only_once_its_block_is_irreversible() {
    let h = Harness::new();
    h.linked_player("bob", "bob-cwd", 100 * 100_000);
    h.devnet.transfer("bob-cwd", GATEWAY, 10 * 100_000, None, None).unwrap();
    h.devnet.produce_block();
    let head = h.devnet.head_block_number();
    assert!(h.devnet.last_irreversible_block_num() < head);
    for _ in 0..3 {
        h.tick();
    }
    assert_eq!(h.balance("bob").0, 0, "in a reversible block: not credited");
    h.settle();
    assert_eq!(h.balance("bob").0, 900);
    h.settle();
    h.tick();
    assert_eq!(h.balance("bob").0, 900, "credited once");
}

#[test]
fn reorganised_deposit_is_never_credited() {
    let h = Harness::new();
    h.linked_player("rita", "rita-cwd", 100 * 100_000);
    h.devnet.transfer("rita-cwd", GATEWAY, 10 * 100_000, None, None).unwrap();
    h.devnet.produce_block();
    h.tick();
    // The block holding the deposit is dropped and its transaction with it.
    h.devnet.reorg(1, false).unwrap();
    h.settle();
    assert_eq!(h.balance("rita").0, 0);
}

#[test]
fn two_deposits_in_one_block_are_both_credited() {
    let h = Harness::new();
    h.linked_player("carol", "carol-cwd", 100 * 100_000);
    h.devnet.transfer("carol-cwd", GATEWAY, 3 * 100_000, None, None).unwrap();
    h.devnet.transfer("carol-cwd", GATEWAY, 4 * 100_000, Some("second"), None).unwrap();
    let block = h.devnet.produce_block();
    let ops = { h.devnet.lock().account_ops(h.gateway.id).len() };
    assert!(ops >= 2, "both in block {block}");
    h.settle();
    assert_eq!(h.balance("carol").0, 7 * 90);
}

#[test]
fn more_than_100_history_entries_between_ticks() {
    let h = Harness::new();
    h.linked_player("dave", "dave-cwd", 10_000 * 100_000);
    h.tick();
    let n = 150u64;
    for i in 0..n {
        h.devnet.transfer("dave-cwd", GATEWAY, 100_000 + i as i64, None, None).unwrap();
        if i % 40 == 39 {
            h.devnet.produce_block();
        }
    }
    h.settle();
    let expected: u64 = (0..n).map(|i| (100_000 + i) * 90 / 100_000).sum();
    assert_eq!(h.balance("dave").0, expected);
}

#[test]
fn unlinked_sender_is_recorded_unclaimed_and_assignable() {
    let h = Harness::new();
    h.linked_player("erin", "erin-cwd", 100 * 100_000);
    h.devnet.create_account(AccountSpec::new("stranger", 100 * 100_000)).unwrap();
    h.devnet.transfer("stranger", GATEWAY, 5 * 100_000, None, None).unwrap();
    h.settle();
    let open = h.api(|a| a.list_unclaimed(false, None, 10)).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].amount, 5 * 100_000);
    h.api(|a| a.assign_unclaimed("operator", &open[0].deposit_id, "erin")).unwrap();
    assert_eq!(h.balance("erin").0, 450);
    assert!(matches!(refused(h.api(|a| a.assign_unclaimed("operator", &open[0].deposit_id, "erin"))), GatewayError::AlreadyResolved));
    assert_eq!(h.balance("erin").0, 450, "assigned once");
}

fn crash_during_broadcast(mode: Interference) {
    let mut h = Harness::with(short_fuse_runtime(), |_| {});
    let frank = h.linked_player("frank", "frank-cwd", 100 * 100_000);
    h.devnet.transfer("frank-cwd", GATEWAY, 50 * 100_000, None, None).unwrap();
    h.settle();
    let w = h.api(|a| a.request_withdrawal("frank", WithdrawalAmount::Cwd(20 * 100_000), "w-crash")).unwrap();

    *h.node.mode.lock().unwrap() = mode;
    // The tick signs, stores, then is cut off mid-broadcast: the host "dies".
    assert!(h.service.tick().is_err(), "the call deadline interrupts the tick");
    h.restart();
    let done = h.finish_withdrawal(&w.withdrawal_id);
    assert_eq!(done.state, WithdrawalState::Confirmed);
    assert_eq!(done.attempts, 1, "the stored transaction was rebroadcast, not rebuilt");

    let payouts = h.payouts_to(&frank.id_string());
    assert_eq!(payouts.len(), 1, "paid exactly once");
    assert_eq!(units(&payouts[0][1]["amount"]["amount"]), 20 * 100_000);
    assert_eq!(h.balance("frank"), (50 * 90 - 20 * 100, 0));
    // More ticks and restarts change nothing.
    h.restart();
    h.settle();
    assert_eq!(h.payouts_to(&frank.id_string()).len(), 1);
}

#[test]
fn host_killed_after_signing_before_broadcast_pays_once() {
    crash_during_broadcast(Interference::HangBeforeBroadcast);
}

#[test]
fn host_killed_after_broadcast_pays_once() {
    crash_during_broadcast(Interference::HangAfterBroadcast);
}

#[test]
fn dropped_broadcast_is_rebuilt_only_after_provable_expiry() {
    let h = Harness::new();
    let gina = h.linked_player("gina", "gina-cwd", 100 * 100_000);
    h.devnet.transfer("gina-cwd", GATEWAY, 50 * 100_000, None, None).unwrap();
    h.settle();
    // Every broadcast is accepted and then silently never included.
    h.devnet.add_fault(FaultRule::next(1_000, Some("broadcast_transaction"), FaultKind::Drop));
    let w = h.api(|a| a.request_withdrawal("gina", WithdrawalAmount::Cwd(10 * 100_000), "w-drop")).unwrap();
    h.tick();
    let first = h.api(|a| a.get_withdrawal(&w.withdrawal_id)).unwrap();
    assert_eq!((first.state, first.attempts), (WithdrawalState::Sent, 1));
    // 60 s expiration = 20 blocks of 3 s. Before it is provably past, only the same
    // bytes are rebroadcast: no second transaction.
    for _ in 0..15 {
        h.devnet.produce_block();
        h.tick();
    }
    let still = h.api(|a| a.get_withdrawal(&w.withdrawal_id)).unwrap();
    assert_eq!((still.attempts, still.tx_id.clone()), (1, first.tx_id.clone()), "not rebuilt before expiry");
    h.devnet.clear_faults();
    let done = h.finish_withdrawal(&w.withdrawal_id);
    assert_eq!(done.state, WithdrawalState::Confirmed);
    assert_eq!(done.attempts, 2, "a second transaction once the first provably expired unincluded");
    assert_ne!(done.tx_id, first.tx_id);
    assert_eq!(h.payouts_to(&gina.id_string()).len(), 1, "paid once");
}

#[test]
fn node_errors_and_timeouts_on_every_call_type() {
    let h = Harness::new();
    let hank = h.linked_player("hank", "hank-cwd", 1_000 * 100_000);
    // From now on a share of every JSON-RPC call errors, and some time out.
    h.devnet.add_fault(FaultRule::share(0.25, None, FaultRule::error("injected")));
    h.devnet.add_fault(FaultRule::share(0.05, None, FaultKind::Delay(std::time::Duration::from_millis(2_500))));
    for i in 0..5 {
        h.devnet.transfer("hank-cwd", GATEWAY, (10 + i) * 100_000, None, None).unwrap();
    }
    let mut ids = Vec::new();
    for round in 0..60 {
        h.devnet.produce_blocks(6);
        let _ = h.service.tick(); // errors are reported, never fatal
        if round % 10 == 5 && ids.len() < 2 {
            // Calls that need the node may be refused; the game just retries.
            if let Ok(w) = h.api(|a| a.request_withdrawal("hank", WithdrawalAmount::Cwd(5 * 100_000), &format!("w-{round}"))) {
                ids.push(w.withdrawal_id);
            }
        }
    }
    h.devnet.clear_faults();
    h.settle();
    for id in &ids {
        assert_eq!(h.finish_withdrawal(id).state, WithdrawalState::Confirmed);
    }
    let credited: u64 = (0..5).map(|i| (10 + i) * 90).sum();
    let (balance, frozen) = h.balance("hank");
    assert_eq!(frozen, 0);
    assert_eq!(balance, credited - ids.len() as u64 * 500, "ledger reconciles");
    assert_eq!(h.payouts_to(&hank.id_string()).len(), ids.len(), "each withdrawal paid exactly once");
    assert!(h.events.snapshot().iter().any(|e| e["type"] == "alert"), "node trouble was alerted");
}

/// Each node method the gateway uses, in turn, errors and then times out while the whole
/// story runs: nothing is lost, nothing is paid or credited twice, and calls that need
/// the node say so with a retry time instead of failing the host.
#[test]
fn each_node_method_failing_in_turn() {
    const METHODS: [&str; 8] = [
        "get_dynamic_global_properties",
        "get_relative_account_history",
        "get_required_fees",
        "broadcast_transaction",
        "get_account_balances",
        "lookup_account_names",
        "get_accounts",
        "get_block_header",
    ];
    let h = Harness::new();
    let mut paid = 0u64;
    let mut credited = 0u64;
    for (i, method) in METHODS.iter().enumerate() {
        let user = format!("user{i}");
        let account = format!("player-{i}");
        let player = h.linked_player(&user, &account, 100 * 100_000);
        for (times, kind) in [(3, FaultKind::Error { code: 1, message: "injected".into() }), (1, FaultKind::Delay(std::time::Duration::from_millis(2_500)))] {
            h.devnet.add_fault(FaultRule::next(times, Some(method), kind));
            h.devnet.transfer(&account, GATEWAY, 10 * 100_000, None, None).unwrap();
            credited += 900;
            let key = format!("w-{i}-{}", h.devnet.head_block_number());
            loop {
                let r = h.api(|a| a.request_withdrawal(&user, WithdrawalAmount::Cwd(2 * 100_000), &key));
                let e = match r {
                    Ok(_) => break,
                    Err(e) => refused::<()>(Err(e)),
                };
                match e {
                    GatewayError::NodeUnavailable(n) => assert!(n.retry_after_ms > 0),
                    // The deposit is not credited yet: let the chain move on.
                    GatewayError::InsufficientBalance(_) => {
                        h.devnet.produce_blocks(6);
                        let _ = h.service.tick();
                    }
                    other => panic!("{method}: unexpected refusal {other:?}"),
                }
            }
            for _ in 0..4 {
                h.devnet.produce_blocks(6);
                let _ = h.service.tick();
            }
            h.devnet.clear_faults();
            h.settle();
            let done = h.finish_withdrawal(&key_to_id(&h, &user, &key));
            assert_eq!(done.state, WithdrawalState::Confirmed, "{method}");
            paid += 200;
        }
        assert_eq!(h.payouts_to(&player.id_string()).len(), 2, "{method}: each withdrawal paid once");
        let (balance, frozen) = h.balance(&user);
        assert_eq!((balance, frozen), (2 * 900 - 2 * 200, 0), "{method}: ledger reconciles");
    }
    assert_eq!(credited - paid, METHODS.len() as u64 * (2 * 900 - 2 * 200));
}

/// The withdrawal a request with `key` made (the same key returns the same withdrawal).
fn key_to_id(h: &Harness, user: &str, key: &str) -> String {
    h.api(|a| a.request_withdrawal(user, WithdrawalAmount::Cwd(2 * 100_000), key)).unwrap().withdrawal_id
}

#[test]
fn host_refuses_to_start_with_keys_that_are_not_the_gateway_accounts() {
    use cwd_gateway_host::bindings::api::Keys;
    use cwd_gateway_host::gateway::Service;
    use cwd_gateway_host::{Capabilities, clock::SystemClock, events::NullSink, store::MemoryStore};
    use std::sync::Arc;
    let h = Harness::new();
    let other = h.devnet.create_account(AccountSpec::new("someone-else", 100_000)).unwrap();
    let caps = || Capabilities {
        store: Arc::new(MemoryStore::new()),
        node: h.node.clone(),
        clock: Arc::new(SystemClock),
        events: Arc::new(NullSink),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let active = h.gateway.active_wif.clone().unwrap();
    let memo = h.gateway.memo_wif.clone().unwrap();
    let wrong_active = Keys { active_wif: other.active_wif.clone().unwrap(), memo_wif: memo.clone() };
    let e = Service::start(runtime(), caps(), &h.config, wrong_active).err().expect("wrong active key refused").to_string();
    assert!(e.contains("active") && !e.contains(other.active_wif.as_deref().unwrap()), "{e}");
    let wrong_memo = Keys { active_wif: active.clone(), memo_wif: other.memo_wif.clone().unwrap() };
    let e = Service::start(runtime(), caps(), &h.config, wrong_memo).err().expect("wrong memo key refused").to_string();
    assert!(e.contains("memo"), "{e}");
    let mut wrong_chain = h.config.clone();
    wrong_chain.chain_id = "00".repeat(32);
    assert!(Service::start(runtime(), caps(), &wrong_chain, Keys { active_wif: active, memo_wif: memo }).is_err());
}
