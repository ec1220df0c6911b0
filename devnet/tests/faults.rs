//! Fault switches: errors for the next N calls or a share of calls (per method or all),
//! delays past the client's timeout, lost responses, dropped broadcasts.

mod common;

use std::time::{Duration, Instant};

use common::*;
use cwd_devnet::{Config, FaultKind, FaultRule};
use serde_json::json;

#[test]
fn next_n_errors_on_one_method_then_normal() {
    let d = start();
    d.add_fault(FaultRule::next(2, Some("get_dynamic_global_properties"), FaultRule::error("node is syncing")));
    let r = rpc(&d, "database", "get_dynamic_global_properties", json!([]));
    assert_eq!(r["error"]["message"], json!("node is syncing"));
    assert_eq!(r["error"]["code"], json!(1));
    assert!(rpc(&d, "database", "get_chain_id", json!([])).get("error").is_none(), "other methods unaffected");
    assert!(rpc(&d, "database", "get_dynamic_global_properties", json!([])).get("error").is_some());
    assert!(rpc(&d, "database", "get_dynamic_global_properties", json!([])).get("error").is_none());
    assert_eq!(d.faults_fired(), 2);
}

#[test]
fn a_share_of_calls_fail() {
    let d = start();
    d.add_fault(FaultRule::share(0.5, None, FaultRule::error("flaky")));
    let failed = (0..60).filter(|_| rpc(&d, "database", "get_chain_id", json!([])).get("error").is_some()).count();
    assert!((15..=45).contains(&failed), "{failed}");
    d.clear_faults();
    assert!(rpc(&d, "database", "get_chain_id", json!([])).get("error").is_none());
}

#[test]
fn delay_longer_than_the_client_timeout_times_out() {
    let d = start();
    d.add_fault(FaultRule::next(1, Some("get_chain_id"), FaultKind::Delay(Duration::from_millis(1500))));
    let req = json!({ "jsonrpc": "2.0", "id": 1, "method": "get_chain_id", "params": [] }).to_string();
    let t = Instant::now();
    let err = post(d.url(), &req, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
    assert!(t.elapsed() < Duration::from_millis(1400));
    // Other calls are not held up meanwhile, and the next one is normal.
    let (status, body) = post(d.url(), &req, Duration::from_secs(5)).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(cwd_devnet::CROWDWIZ_CHAIN_ID));
}

#[test]
fn lost_response_still_accepts_the_broadcast() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    d.add_fault(FaultRule::next(1, Some("broadcast_transaction"), FaultKind::LoseResponse { code: 1, message: "connection reset".into() }));
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    assert!(broadcast(&d, &st).get("error").is_some());
    d.produce_block();
    assert!(d.lock().location(&st.tx.id()).is_some(), "it happened although the client saw an error");
    assert_eq!(rejection(&broadcast(&d, &st)), "duplicate");
}

#[test]
fn dropped_broadcast_is_accepted_but_never_included() {
    let d = start_with(Config { sync_wait: Duration::from_millis(200), ..Config::seeded("drop") });
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    d.add_fault(FaultRule::next(2, None, FaultKind::Drop));
    // A drop rule never hits other calls.
    assert!(rpc(&d, "database", "get_chain_id", json!([])).get("error").is_none());
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    assert_eq!(broadcast(&d, &st)["result"], json!(null));
    d.produce_blocks(3);
    assert!(d.lock().location(&st.tx.id()).is_none());
    assert_eq!(d.lock().balance(bob.id), 0);
    // Synchronous: waits, then says it was not included.
    let r = rpc(&d, "network_broadcast", "broadcast_transaction_synchronous", json!([cwd_gateway::json::write_transaction(&st)]));
    assert_eq!(error_name(&r), "transaction_not_included");
    // Still invalid transactions are refused even when dropping.
    d.add_fault(FaultRule::next(1, None, FaultKind::Drop));
    let mut bad = st.clone();
    bad.signatures[0][1] |= 0x80;
    assert_eq!(rejection(&broadcast(&d, &bad)), "non_canonical");
    d.clear_faults();
    // Rebroadcast after the loss works.
    assert_eq!(broadcast(&d, &st)["result"], json!(null));
    d.produce_block();
    assert_eq!(d.lock().balance(bob.id), CWD);
}

#[test]
fn faults_over_the_control_api() {
    let d = start();
    let r = control(&d, "fault_add", json!({ "kind": "error", "method": "get_block", "count": 1, "code": 7, "message": "boom" }));
    assert_eq!(r["result"], json!(null), "{r}");
    let list = control(&d, "faults_list", json!({}));
    assert_eq!(list["result"][0]["method"], json!("get_block"));
    let r = rpc(&d, "database", "get_block", json!([1]));
    assert_eq!(r["error"]["code"], json!(7));
    assert!(rpc(&d, "database", "get_block", json!([1])).get("error").is_none());
    // Faults never touch the control API itself.
    control(&d, "fault_add", json!({ "kind": "error" }));
    assert!(control(&d, "status", json!({}))["result"]["head_block_number"].is_number());
    control(&d, "faults_clear", json!({}));
    assert!(rpc(&d, "database", "get_chain_id", json!([])).get("error").is_none());
    assert!(control(&d, "fault_add", json!({ "kind": "bogus" })).get("error").is_some());
}
