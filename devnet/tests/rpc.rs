//! The node's JSON shapes: global properties, accounts, blocks, fees, balances, numbers
//! above 2^32 - 1 as strings, the direct-method form, and errors for bad input.

mod common;

use std::time::Duration;

use common::*;
use cwd_devnet::Config;
use serde_json::{json, Value};

#[test]
fn dynamic_global_properties_like_a_node() {
    let d = start_with(Config::simulated("tests"));
    d.produce_blocks(4);
    let dgp = result(&d, "database", "get_dynamic_global_properties", json!([]));
    for field in [
        "id", "head_block_number", "head_block_id", "time", "current_witness", "next_maintenance_time", "last_budget_time",
        "witness_budget", "accounts_registered_this_interval", "recently_missed_count", "current_aslot",
        "recent_slots_filled", "dynamic_flags", "last_irreversible_block_num",
    ] {
        assert!(dgp.get(field).is_some(), "missing {field}: {dgp}");
    }
    assert_eq!(dgp["id"], json!("2.1.0"));
    assert_eq!(dgp["head_block_number"], json!(5));
    let id = dgp["head_block_id"].as_str().unwrap();
    assert_eq!(id.len(), 40);
    assert_eq!(&id[..8], "00000005");
    let time = cwd_gateway::json::parse_time(dgp["time"].as_str().unwrap(), "time").unwrap();
    assert_eq!(time, 1_782_000_000 + 4 * 3, "chain time advances by the block interval");
    assert_eq!(result(&d, "database", "get_objects", json!([["2.1.0"]]))[0], dgp);
    assert_eq!(result(&d, "database", "get_chain_id", json!([])), json!(cwd_devnet::CROWDWIZ_CHAIN_ID));
    // The direct form: method name with the arguments as params.
    let (_, body) = post(d.url(), r#"{"jsonrpc":"2.0","id":3,"method":"get_dynamic_global_properties","params":[]}"#, Duration::from_secs(5)).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"], dgp);
    assert_eq!(v["id"], json!(3));
}

#[test]
fn accounts_by_name_and_id() {
    let d = start();
    let gw = account(&d, "crowdwiz-gateway", 5);
    let a = result(&d, "database", "lookup_account_names", json!([["crowdwiz-gateway", "nobody"]]));
    assert_eq!(a[1], json!(null));
    let acc = &a[0];
    assert_eq!(acc["id"], json!(gw.id_string()));
    assert_eq!(acc["name"], json!("crowdwiz-gateway"));
    assert_eq!(acc["active"]["key_auths"], json!([[gw.active_key.to_string(), 1]]));
    assert_eq!(acc["owner"]["key_auths"], json!([[gw.owner_key.to_string(), 1]]));
    assert_eq!(acc["active"]["weight_threshold"], json!(1));
    assert_eq!(acc["options"]["memo_key"], json!(gw.memo_key.to_string()));
    assert_eq!(acc["options"]["voting_account"], json!("1.2.5"));
    assert_eq!(acc["statistics"], json!(format!("2.6.{}", gw.id.0)));
    assert_eq!(&result(&d, "database", "get_account_by_name", json!(["crowdwiz-gateway"])), acc);
    assert_eq!(result(&d, "database", "get_account_by_name", json!(["nobody"])), json!(null));
    let by_id = result(&d, "database", "get_accounts", json!([[gw.id_string(), "crowdwiz-gateway"]]));
    assert_eq!(&by_id[0], acc);
    assert_eq!(&by_id[1], acc);
    // As database_api.cpp's get_account_from_string: an unknown account fails the call.
    assert_eq!(error_name(&rpc(&d, "database", "get_accounts", json!([[gw.id_string(), "1.2.999999"]]))), "assert_exception");
    assert_eq!(&result(&d, "database", "get_objects", json!([[gw.id_string()]]))[0], acc);
    let stats = &result(&d, "database", "get_objects", json!([[format!("2.6.{}", gw.id.0)]]))[0];
    assert_eq!(stats["total_ops"], json!(1), "its account_create");
    assert_eq!(result(&d, "database", "get_key_references", json!([[gw.active_key.to_string()]])), json!([[gw.id_string()]]));
    // Names follow Graphene's rules.
    assert!(d.create_account(cwd_devnet::AccountSpec::new("Bad_Name", 0)).is_err());
    assert!(d.create_account(cwd_devnet::AccountSpec::new("crowdwiz-gateway", 0)).is_err());
}

#[test]
fn blocks_and_headers() {
    let d = start();
    account(&d, "alice", 10);
    account(&d, "bob", 0);
    d.transfer("alice", "bob", 1, Some("memo"), None).unwrap();
    let num = d.produce_block();
    let header = result(&d, "database", "get_block_header", json!([num]));
    let prev = result(&d, "database", "get_block_header", json!([num - 1]));
    assert_eq!(header["previous"].as_str().unwrap(), d.lock().block(num - 1).unwrap().id_hex());
    assert!(prev["timestamp"].as_str().unwrap() < header["timestamp"].as_str().unwrap());
    assert_eq!(header["witness"], json!("1.6.1"));
    let block = result(&d, "database", "get_block", json!([num]));
    assert_eq!(block["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(block["transactions"][0]["operations"][0][1]["memo"]["from"].as_str().unwrap().len(), 53);
    assert!(cwd_gateway::json::transaction(&block["transactions"][0]).is_ok(), "block transactions decode");
    assert_eq!(result(&d, "database", "get_block", json!([num + 1])), json!(null));
    assert_eq!(result(&d, "database", "get_block_header", json!([0])), json!(null));
}

#[test]
fn required_fees_and_balances() {
    let d = start();
    let alice = account(&d, "alice", 100_000); // 10^10 units: above 2^32 - 1
    let bob = account(&d, "bob", 1);
    let t = transfer_tx(&d, alice.id, bob.id, 1, 0, 60);
    let op = cwd_gateway::json::write_operation(&t.operations[0]);
    let fees = result(&d, "database", "get_required_fees", json!([[op], "1.3.0"]));
    assert_eq!(fees, json!([{ "amount": fee(&d), "asset_id": "1.3.0" }]));
    // A memo costs per kilobyte; send_message has its own fee.
    let with_memo = d.transfer("bob", "alice", 1, Some(&"x".repeat(900)), None).unwrap();
    assert!(with_memo.fee > fee(&d));
    let msg = d.send_message("alice", "bob", "hi", None).unwrap();
    let msg_op = cwd_gateway::json::write_operation(&msg.signed.tx.operations[0]);
    assert_eq!(result(&d, "database", "get_required_fees", json!([[msg_op], "1.3.0"]))[0]["amount"], json!(msg.fee));
    // Numbers above 2^32 - 1 are strings, as a node writes them.
    d.produce_block();
    let bal = result(&d, "database", "get_account_balances", json!([alice.id_string(), ["1.3.0"]]));
    let expected = 10_000_000_000i64 + 1 - msg.fee;
    assert_eq!(bal, json!([{ "amount": expected.to_string(), "asset_id": "1.3.0" }]));
    assert_eq!(result(&d, "database", "get_account_balances", json!(["bob", []])).as_array().unwrap().len(), 1);
    let big = d.transfer("alice", "bob", 5_000_000_000, None, None).unwrap();
    d.produce_block();
    let h = result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 1, "1.11.0"]));
    assert_eq!(h[0]["op"][1]["amount"]["amount"], json!("5000000000"));
    assert_eq!(h[0]["op"][1]["fee"]["amount"], json!(big.fee));
    let stats = &result(&d, "database", "get_objects", json!([["2.6.101"]]))[0];
    assert!(stats["core_in_balance"].is_string(), "{stats}");
    assert!(result(&d, "database", "get_dynamic_global_properties", json!([]))["recent_slots_filled"].is_string());
    // Fees are configurable at run time; a pending transaction that no longer pays
    // enough is dropped when the block is made, as a node re-applies it.
    let cheap = d.transfer("alice", "bob", 1, None, None).unwrap();
    d.lock().config.fees.transfer = 12_345;
    assert_eq!(result(&d, "database", "get_required_fees", json!([[op], "1.3.0"]))[0]["amount"], json!(12_345));
    d.produce_block();
    assert!(matches!(d.lock().failure(&cheap.signed.tx.id()), Some(cwd_devnet::Reject::FeeTooLow { .. })));
}

#[test]
fn transaction_hex_matches_the_reference_vectors() {
    let d = start();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/crowdwiz-public.json")).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(vectors["chain_id"], json!(d.chain_id_hex()));
    for case in vectors["transactions"].as_array().unwrap() {
        let hex = result(&d, "database", "get_transaction_hex", json!([case["signed_json"]]));
        let unsigned = case["unsigned_tx_hex"].as_str().unwrap();
        let hex = hex.as_str().unwrap();
        assert!(hex.starts_with(unsigned), "{hex}");
        assert_eq!(&hex[unsigned.len()..unsigned.len() + 2], "01");
        // The node recovers the reference signer from the reference signature.
        let st = cwd_gateway::json::transaction(&case["signed_json"]).unwrap();
        let chain_id = *d.lock().chain_id();
        assert_eq!(st.signers(&chain_id).unwrap()[0].to_string(), case["signer_public_key"].as_str().unwrap());
    }
}

#[test]
fn bad_input_is_an_error_never_a_panic() {
    let d = start();
    let cases = [
        "not json",
        "[]",
        "{}",
        r#"{"method":5}"#,
        r#"{"method":"call","params":"x"}"#,
        r#"{"method":"call","params":["database"]}"#,
        r#"{"method":"call","params":["database","get_block",["x"]]}"#,
        r#"{"method":"call","params":["database","get_block",[-1]]}"#,
        r#"{"method":"call","params":["database","nope",[]]}"#,
        r#"{"method":"call","params":["history","get_chain_id",[]]}"#,
        r#"{"method":"call","params":["database","get_objects",[5]]}"#,
        r#"{"method":"call","params":["database","get_required_fees",[[[0,{}]],"1.3.0"]]}"#,
        r#"{"method":"call","params":["history","get_account_history",["bob","1.2.3",10,"1.11.0"]]}"#,
        r#"{"method":"call","params":["history","get_account_history",[5]]}"#,
        r#"{"method":"call","params":["network_broadcast","broadcast_transaction",[{}]]}"#,
        r#"{"method":"call","params":["network_broadcast","broadcast_transaction",[]]}"#,
        r#"{"method":"call","params":["database","get_account_balances",["nobody",["1.3.0"]]]}"#,
        r#"{"method":"call","params":["database","get_key_references",[["CWDnope"]]]}"#,
    ];
    for body in cases {
        let (status, text) = post(d.url(), body, Duration::from_secs(5)).unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["error"]["code"].is_i64(), "{body} -> {text}");
        assert!(v["error"]["message"].is_string(), "{body} -> {text}");
    }
    let (_, text) = post(d.url(), "not json", Duration::from_secs(5)).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"]["code"], json!(-32700));
    // Still serving.
    assert_eq!(result(&d, "database", "get_chain_id", json!([])), json!(cwd_devnet::CROWDWIZ_CHAIN_ID));
}

#[test]
fn seeded_devnets_are_deterministic() {
    let a = start_with(Config::seeded("same"));
    let b = start_with(Config::seeded("same"));
    let c = start_with(Config::seeded("other"));
    let (ka, kb, kc) = (account(&a, "alice", 1), account(&b, "alice", 1), account(&c, "alice", 1));
    assert_eq!(ka.active_wif, kb.active_wif);
    assert_ne!(ka.active_wif, kc.active_wif);
    a.produce_blocks(3);
    b.produce_blocks(3);
    assert_eq!(a.lock().head().id, b.lock().head().id);
}

#[test]
fn timer_produces_blocks_on_its_own() {
    let d = start_with(Config { production: cwd_devnet::Production::Timer(Duration::from_millis(50)), ..Config::simulated("timer") });
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    let r = result(&d, "network_broadcast", "broadcast_transaction_synchronous", json!([cwd_gateway::json::write_transaction(&st)]));
    assert!(r["block_num"].as_u64().unwrap() >= 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.head_block_number() >= 4);
    d.shutdown();
}

#[test]
fn wall_clock_timer_stamps_blocks_with_real_time_and_never_runs_ahead() {
    let d = start_with(Config { production: cwd_devnet::Production::Timer(Duration::from_millis(50)), ..Config::seeded("wall") });
    let first = d.lock().head_time();
    std::thread::sleep(Duration::from_millis(2_500));
    let (head, time) = {
        let s = d.lock();
        (s.head_num(), s.head_time())
    };
    let now = cwd_devnet::state::wall_clock_secs();
    // A 50 ms timer still makes at most one block per second of wall clock.
    assert!(head >= 2 && time > first, "blocks come");
    assert!(time <= now, "a block is never stamped after the wall clock ({time} > {now})");
    assert!((head as u64) <= 2 + (time - first) as u64, "at most one block per second: {head} blocks over {} s", time - first);
    // A wallet's expiration of its own clock + 30 s is accepted, and so is the head time.
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let mut tx = transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 0);
    tx.expiration = now + 30;
    assert_eq!(broadcast(&d, &sign(&d, tx, &alice.active_private().unwrap()))["result"], json!(null));
    d.shutdown();
}

#[test]
fn expiration_equal_to_head_time_is_accepted_and_one_second_earlier_is_not() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let at_head = transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 0);
    let mut before = transfer_tx(&d, alice.id, bob.id, 2 * CWD, fee(&d), 0);
    before.expiration -= 1;
    let key = alice.active_private().unwrap();
    assert_eq!(broadcast(&d, &sign(&d, at_head, &key))["result"], json!(null));
    assert_eq!(rejection(&broadcast(&d, &sign(&d, before, &key))), "expired");
}

#[test]
fn every_method_survives_arguments_of_every_type() {
    let d = start();
    account(&d, "alice", 10);
    d.lock().set_time(u32::MAX - 10);
    d.produce_blocks(2); // time saturates at the end of u32 and nothing overflows
    let methods = [
        "get_chain_id", "get_chain_properties", "get_dynamic_global_properties", "get_config", "lookup_account_names",
        "get_account_by_name", "get_accounts", "get_account_count", "get_key_references", "get_objects",
        "get_block_header", "get_block", "get_required_fees", "get_account_balances", "get_transaction_hex",
        "get_assets", "lookup_asset_symbols", "get_account_history", "get_relative_account_history",
        "broadcast_transaction", "broadcast_transaction_synchronous", "login",
    ];
    let values = [
        json!(null), json!(true), json!(-1), json!(u64::MAX), json!(1.5), json!("x"), json!("1.11.18446744073709551615"),
        json!("alice"), json!([]), json!([null]), json!([["alice"]]), json!({}), json!([0, {}]), json!("99999999999999999999999"),
    ];
    for m in methods {
        for a in &values {
            for args in [json!([a]), json!([a, a]), json!(["alice", a, a, a]), json!([a, "1.11.0", 5, a])] {
                let r = d.call(&json!({ "id": 1, "method": "call", "params": ["", m, args] }));
                assert!(r.get("result").is_some() || r["error"]["message"].is_string(), "{m} {args}: {r}");
            }
        }
    }
    assert!(d.call_api("database", "get_chain_id", json!([])).is_ok());
}
