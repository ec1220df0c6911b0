//! Playing the other side: accounts, transfers with memos and messages, reading them,
//! in-process and over the control API.

mod common;

use common::*;
use serde_json::json;

#[test]
fn player_sends_cwd_with_a_memo_and_reads_messages() {
    let d = start();
    let gw = account(&d, "crowdwiz-gateway", 100);
    let player = account(&d, "player-one", 50);
    // The gateway tells the player a link code with send_message.
    d.send_message("crowdwiz-gateway", "player-one", "Your link code: 123456", None).unwrap();
    // The player deposits to the gateway with a memo.
    let dep = d.transfer("player-one", "crowdwiz-gateway", 10 * CWD, Some("link 123456"), None).unwrap();
    d.produce_block();
    let got = d.received_memos("player-one", None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].op, "send_message");
    assert_eq!(got[0].from_name, "crowdwiz-gateway");
    assert_eq!(got[0].text.as_deref(), Ok("Your link code: 123456"));
    // The gateway decrypts with its own memo WIF, as the real gateway would.
    let gw_memo = gw.memo_private().unwrap();
    let at_gw = d.received_memos("crowdwiz-gateway", Some(&gw_memo)).unwrap();
    assert_eq!(at_gw[0].text.as_deref(), Ok("link 123456"));
    assert_eq!(at_gw[0].amount, Some(10 * CWD));
    // The wrong key says so instead of giving garbage.
    let stranger = cwd_gateway::keys::PrivateKey::from_bytes(&[3; 32]).unwrap();
    let wrong = d.received_memos("crowdwiz-gateway", Some(&stranger)).unwrap();
    assert!(wrong[0].text.is_err());
    // The sender can read its own memo too (ECDH works from both sides).
    let own = d.received_memos("crowdwiz-gateway", Some(&player.memo_private().unwrap())).unwrap();
    assert_eq!(own[0].text.as_deref(), Ok("link 123456"));
    let message_fee = msg_fee(&d);
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), 110 * CWD - message_fee);
    assert_eq!(d.balance_of("player-one").unwrap(), 40 * CWD - dep.fee);
    assert_conserved(&d);
}

fn msg_fee(d: &cwd_devnet::DevnetHandle) -> i64 {
    // The fee of the one message the gateway sent, from its history.
    let s = d.lock();
    let gw = s.account_by_name("crowdwiz-gateway").unwrap().id;
    let message = s
        .account_ops(gw)
        .iter()
        .filter_map(|&i| s.history_object(i))
        .find(|h| matches!(h.op, cwd_devnet::ops::ChainOp::Codec(cwd_gateway::ops::Operation::SendMessage(_))))
        .expect("the gateway's history holds its message");
    let fee = message.op.fee().amount;
    assert!(fee > s.config.fees.send_message, "a memo adds the per-kilobyte part");
    fee
}

#[test]
fn control_api_plays_the_whole_side() {
    let d = start();
    let r = control(&d, "create_account", json!({ "name": "alice", "balance_cwd": "12.5" }));
    let alice = &r["result"];
    assert_eq!(alice["name"], json!("alice"));
    assert!(alice["active_wif"].as_str().unwrap().starts_with('5'));
    assert!(alice["memo_key"].as_str().unwrap().starts_with("CWD"));
    // Keys given by the caller: a public active key only.
    let bob_key = cwd_gateway::keys::PrivateKey::from_bytes(&[9; 32]).unwrap();
    let r = control(&d, "create_account", json!({ "name": "bob", "memo_wif": bob_key.to_wif(), "active_key": bob_key.public_key().to_string() }));
    assert_eq!(r["result"]["active_wif"], json!(null), "{r}");
    assert_eq!(r["result"]["memo_wif"], json!(bob_key.to_wif()));
    assert_eq!(r["result"]["active_key"], json!(bob_key.public_key().to_string()));
    let r = control(&d, "create_account", json!({ "name": "alice" }));
    assert_eq!(r["error"]["data"]["name"], json!("bad_input"));
    let r = control(&d, "transfer", json!({ "from": "alice", "to": "bob", "amount_cwd": "2", "memo": "hello bob", "produce_block": true }));
    assert!(r["result"]["id"].as_str().unwrap().len() == 40, "{r}");
    let msgs = control(&d, "messages", json!({ "account": "bob" }));
    assert_eq!(msgs["result"][0]["message"], json!("hello bob"), "{msgs}");
    assert_eq!(msgs["result"][0]["amount"], json!(200_000));
    assert_eq!(control(&d, "balance", json!({ "account": "bob" }))["result"]["amount"], json!(200_000));
    // bob's active key is not held by the devnet: the helper needs it.
    let r = control(&d, "send_message", json!({ "from": "bob", "to": "alice", "message": "hi" }));
    assert_eq!(r["error"]["data"]["name"], json!("bad_input"));
    let r = control(&d, "send_message", json!({ "from": "bob", "to": "alice", "message": "hi", "active_wif": bob_key.to_wif(), "produce_block": true }));
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(control(&d, "messages", json!({ "account": "alice" }))["result"][0]["message"], json!("hi"));
    // A transfer the chain refuses comes back with the node's reason.
    let r = control(&d, "transfer", json!({ "from": "alice", "to": "bob", "amount_cwd": "1000" }));
    assert_eq!(rejection(&r), "insufficient_balance", "{r}");
    // Blocks, time, faucet, status.
    let head = control(&d, "produce_block", json!({ "count": 3 }))["result"]["head_block_number"].as_u64().unwrap();
    let before_time = d.lock().head_time();
    control(&d, "advance_time", json!({ "seconds": 3600 }));
    control(&d, "produce_block", json!({}));
    let status = control(&d, "status", json!({}))["result"].clone();
    assert_eq!(status["head_block_number"], json!(head + 1));
    let t = cwd_gateway::json::parse_time(status["time"].as_str().unwrap(), "t").unwrap();
    assert!(t >= before_time + 3600);
    let before = d.balance_of("bob").unwrap();
    assert_eq!(control(&d, "issue", json!({ "account": "bob", "amount": 5 }))["result"]["balance"], json!(before + 5));
    assert_eq!(control(&d, "nope", json!({}))["error"]["code"], json!(-32601));
    // Every included transaction, as broadcast, for checking with another client.
    let txs = control(&d, "transactions", json!({}))["result"].clone();
    assert_eq!(txs.as_array().unwrap().len(), 2);
    assert!(cwd_gateway::json::transaction(&txs[0]).is_ok());
    assert_conserved(&d);
}
