//! What the web wallet (bitshares-ui's fork on bitsharesjs and bitsharesjs-ws) calls when
//! it opens an account, shows balances and history and sends a transfer, in the shapes
//! crowdwiz-core answers them: `broadcast_transaction_with_callback` and its notice,
//! `get_full_accounts` subscriptions and the object notices of each block, the signature
//! helpers, balance objects, account history entries.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use cwd_gateway::keys::PublicKey;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(d: &cwd_devnet::DevnetHandle) -> Ws {
    let (ws, _) = tungstenite::connect(d.ws_url()).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    }
    ws
}

/// Sends a call and returns its answer; notices that come first are kept in `notices`.
fn call(ws: &mut Ws, notices: &mut Vec<Value>, id: u64, params: Value) -> Value {
    ws.send(Message::text(json!({ "jsonrpc": "2.0", "id": id, "method": "call", "params": params }).to_string())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no answer to call {id}");
        let Some(m) = read(ws) else { continue };
        if m["method"] == json!("notice") {
            notices.push(m);
            continue;
        }
        assert_eq!(m["id"], json!(id), "{m}");
        return m;
    }
}

fn read(ws: &mut Ws) -> Option<Value> {
    match ws.read() {
        Ok(Message::Text(t)) => Some(serde_json::from_str(t.as_str()).unwrap()),
        Ok(_) => None,
        Err(tungstenite::Error::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(e) => panic!("WebSocket: {e}"),
    }
}

/// Every notice that arrives within `wait`.
fn notices_for(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Some(m) = read(ws) {
            assert_eq!(m["method"], json!("notice"), "{m}");
            out.push(m);
        }
    }
    out
}

fn of(notices: &[Value], cb: u64) -> Vec<Value> {
    notices.iter().filter(|n| n["params"][0] == json!(cb)).map(|n| n["params"][1].clone()).collect()
}

/// The ids in one object notice (objects, or ids for removed ones).
fn ids(update: &Value) -> Vec<String> {
    update[0].as_array().unwrap().iter().map(|o| o["id"].as_str().or(o.as_str()).unwrap().to_string()).collect()
}

#[test]
fn broadcast_with_callback_is_told_when_its_block_holds_it() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let mut ws = connect(&d);
    let mut notices = Vec::new();
    let net = call(&mut ws, &mut notices, 1, json!([1, "network_broadcast", []]))["result"].as_u64().unwrap();
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    let tx = cwd_gateway::json::write_transaction(&st);
    // bitsharesjs-ws puts its own callback number in place of the function.
    let r = call(&mut ws, &mut notices, 2, json!([net, "broadcast_transaction_with_callback", [5, tx]]));
    assert_eq!(r["result"], Value::Null, "{r}");
    assert!(notices_for(&mut ws, Duration::from_millis(300)).is_empty(), "nothing before a block");
    let num = d.produce_block();
    let got = notices_for(&mut ws, Duration::from_millis(500));
    assert_eq!(got.len(), 1, "{got:?}");
    // api.cpp network_broadcast_api::on_applied_block: [cb, [transaction_confirmation]].
    assert_eq!(got[0]["method"], json!("notice"));
    assert_eq!(got[0]["params"][0], json!(5));
    let c = &got[0]["params"][1][0];
    assert_eq!(c["id"], json!(hex::encode(st.tx.id())));
    assert_eq!((c["block_num"].as_u64(), c["trx_num"].as_u64()), (Some(num as u64), Some(0)));
    assert_eq!(c["trx"], result(&d, "database", "get_transaction", json!([num, 0])));
    assert_eq!(c["trx"]["operation_results"], json!([[0, {}]]));
    // Told once; later blocks say nothing more.
    d.produce_block();
    assert!(notices_for(&mut ws, Duration::from_millis(300)).is_empty());

    // Registered before the push, as api.cpp does: a transaction already pending (here
    // from HTTP) is refused as a duplicate, and its callback is still told.
    let st2 = sign(&d, transfer_tx(&d, alice.id, bob.id, 2 * CWD, fee(&d), 60), &alice.active_private().unwrap());
    let tx2 = cwd_gateway::json::write_transaction(&st2);
    assert_eq!(broadcast(&d, &st2)["result"], Value::Null);
    let r = call(&mut ws, &mut notices, 3, json!(["network_broadcast", "broadcast_transaction_with_callback", [6, tx2]]));
    assert_eq!(rejection(&r), "duplicate");
    let num2 = d.produce_block();
    let got = notices_for(&mut ws, Duration::from_millis(500));
    assert_eq!(of(&got, 6).len(), 1, "{got:?}");
    assert_eq!(of(&got, 6)[0][0]["block_num"], json!(num2));

    // A refused transaction is never told.
    let bad = sign(&d, transfer_tx(&d, bob.id, alice.id, 1_000 * CWD, fee(&d), 60), &bob.active_private().unwrap());
    let r = call(&mut ws, &mut notices, 4, json!([net, "broadcast_transaction_with_callback", [7, cwd_gateway::json::write_transaction(&bad)]]));
    assert!(r.get("error").is_some(), "{r}");
    d.produce_block();
    assert!(notices_for(&mut ws, Duration::from_millis(300)).is_empty());
    assert!(notices.is_empty(), "{notices:?}");

    // Over HTTP the node takes it and has nobody to call back (fc http_api.cpp).
    let st3 = sign(&d, transfer_tx(&d, alice.id, bob.id, 3 * CWD, fee(&d), 60), &alice.active_private().unwrap());
    let r = rpc(&d, "network_broadcast", "broadcast_transaction_with_callback", json!([1, cwd_gateway::json::write_transaction(&st3)]));
    assert_eq!(r["result"], Value::Null, "{r}");
    assert!(d.lock().is_pending(&st3.tx.id()));
    // The callback argument comes first; the transaction second.
    let r = rpc(&d, "network_broadcast", "broadcast_transaction_with_callback", json!([cwd_gateway::json::write_transaction(&st3)]));
    assert!(r.get("error").is_some(), "{r}");
}

#[test]
fn a_reincluded_transaction_is_told_again_and_new_branches_are_announced() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let mut ws = connect(&d);
    let mut notices = Vec::new();
    call(&mut ws, &mut notices, 1, json!([0, "set_block_applied_callback", [40]]));
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    call(&mut ws, &mut notices, 2, json!(["network_broadcast", "broadcast_transaction_with_callback", [41, cwd_gateway::json::write_transaction(&st)]]));
    let first = d.produce_block();
    let got = notices_for(&mut ws, Duration::from_millis(500));
    assert_eq!((of(&got, 40).len(), of(&got, 41).len()), (1, 1), "{got:?}");
    // A reorganisation puts it back in the pool; the replacement block holds it again,
    // and crowdwiz-core never forgets the callback: told again, with the new block.
    d.reorg(1, true).unwrap();
    let again = d.produce_blocks(2);
    let got = notices_for(&mut ws, Duration::from_millis(500));
    let blocks: Vec<String> = of(&got, 40).iter().map(|b| b[0].as_str().unwrap().to_string()).collect();
    let s = d.lock();
    assert_eq!(blocks, vec![s.block(first).unwrap().id_hex(), s.block(again).unwrap().id_hex()], "each block of the new branch");
    drop(s);
    assert_eq!(of(&got, 41).len(), 1, "{got:?}");
    assert_eq!(of(&got, 41)[0][0]["block_num"], json!(first));
    // cancel_all_subscriptions leaves the block callback alone.
    call(&mut ws, &mut notices, 3, json!([0, "cancel_all_subscriptions", []]));
    d.produce_block();
    assert_eq!(of(&notices_for(&mut ws, Duration::from_millis(500)), 40).len(), 1);
}

#[test]
fn an_opened_account_hears_of_its_balance_and_history() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 10);
    let carol = account(&d, "carol", 10);
    let mut ws = connect(&d);
    let mut n = Vec::new();
    // ChainStore: get_objects 2.1.0, set_subscribe_callback, get_full_accounts(subscribe).
    call(&mut ws, &mut n, 1, json!([0, "get_objects", [["2.1.0"]]]));
    call(&mut ws, &mut n, 2, json!([0, "set_subscribe_callback", [9, false]]));
    let full = call(&mut ws, &mut n, 3, json!([0, "get_full_accounts", [["alice"], true]]))["result"].clone();
    let fa = &full[0][1];
    assert_eq!(full[0][0], json!("alice"));
    let balance_id = fa["balances"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(fa["balances"][0]["asset_type"], json!("1.3.0"));
    // Balance objects are objects a wallet reads (and so subscribes to) by id.
    let obj = call(&mut ws, &mut n, 4, json!([0, "get_objects", [[balance_id]]]))["result"][0].clone();
    assert_eq!(obj, fa["balances"][0]);
    assert_eq!(obj["balance"], json!(10 * CWD));

    // A block that does not concern alice: only what she subscribed to by id (nothing
    // of hers changed; 2.1.0 was read before the callback, so it is not subscribed).
    d.transfer("bob", "carol", CWD, None, None).unwrap();
    d.produce_block();
    let got = notices_for(&mut ws, Duration::from_millis(500));
    assert!(got.is_empty(), "{got:?}");

    // Bob pays alice: the block's new objects (operation 1.11.N, both accounts' 2.9.N)
    // and changed objects (2.1.0, the block summary, balances, statistics) all come,
    // since the lists concern alice; nothing was removed.
    let paid = d.transfer("bob", "alice", 2 * CWD, Some("for you"), None).unwrap();
    let num = d.produce_block();
    let got = of(&notices_for(&mut ws, Duration::from_millis(500)), 9);
    assert_eq!(got.len(), 2, "new, then changed: {got:?}");
    let (new, changed) = (ids(&got[0]), ids(&got[1]));
    let op = result(&d, "history", "get_account_history", json!(["alice", "1.11.0", 1, "1.11.0"]))[0].clone();
    assert_eq!(op["block_num"], json!(num));
    assert_eq!(op["op"][1]["amount"]["amount"], json!(2 * CWD));
    assert_eq!(new[0], op["id"].as_str().unwrap(), "{new:?}");
    assert_eq!(new.iter().filter(|i| i.starts_with("2.9.")).count(), 2, "{new:?}");
    assert_eq!(got[0][0][0], op, "objects as get_objects gives them");
    let stats = result(&d, "database", "get_objects", json!([[format!("2.6.{}", alice.id.0)]]))[0].clone();
    let ath = stats["most_recent_op"].as_str().unwrap();
    assert!(new.iter().any(|i| i == ath), "{new:?} {ath}");
    let entry = result(&d, "database", "get_objects", json!([[ath]]))[0].clone();
    assert_eq!(entry["operation_id"], op["id"]);
    assert_eq!(entry["account"], json!(alice.id_string()));
    assert_eq!(entry["sequence"], stats["total_ops"]);
    let bob_balance = format!("2.5.{}", d.lock().balance_object_id(bob.id, cwd_gateway::ops::CORE_ASSET));
    for want in ["2.1.0".to_string(), balance_id.clone(), bob_balance, format!("2.6.{}", alice.id.0), format!("2.6.{}", bob.id.0)] {
        assert!(changed.contains(&want), "{want} in {changed:?}");
    }
    let mine = got[1][0].as_array().unwrap().iter().find(|o| o["id"] == json!(balance_id)).unwrap().clone();
    assert_eq!(mine["balance"], json!(12 * CWD));
    let _ = (paid, carol);
    assert!(n.is_empty(), "{n:?}");

    // Ids are ordered as object_id_type (space, type, instance) within each list.
    let mut sorted = changed.clone();
    sorted.sort_by_key(|i| i.split('.').map(|p| p.parse::<u64>().unwrap()).collect::<Vec<_>>());
    assert_eq!(changed, sorted);
}

#[test]
fn notify_remove_create_brings_every_new_object_and_objects_changed_outside_blocks_come_too() {
    let d = start();
    account(&d, "alice", 10);
    let bob = account(&d, "bob", 10);
    let mut ws = connect(&d);
    let mut n = Vec::new();
    call(&mut ws, &mut n, 1, json!([0, "set_subscribe_callback", [3, true]]));
    d.transfer("alice", "bob", CWD, None, None).unwrap();
    d.produce_block();
    let got = of(&notices_for(&mut ws, Duration::from_millis(500)), 3);
    assert_eq!(got.len(), 1, "only the new objects: {got:?}");
    assert!(ids(&got[0]).iter().any(|i| i.starts_with("1.11.")), "{got:?}");
    // Read by id: bob's statistics; the faucet changes them outside any block: they come
    // with the next block.
    call(&mut ws, &mut n, 2, json!([0, "get_objects", [[format!("2.6.{}", bob.id.0)]]]));
    control(&d, "issue", json!({ "account": "bob", "amount": CWD }));
    d.produce_block();
    let got = of(&notices_for(&mut ws, Duration::from_millis(500)), 3);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(ids(&got[0]), vec![format!("2.6.{}", bob.id.0)]);
    // cancel_all_subscriptions: nothing more.
    call(&mut ws, &mut n, 3, json!([0, "cancel_all_subscriptions", []]));
    d.transfer("alice", "bob", CWD, None, None).unwrap();
    d.produce_block();
    assert!(notices_for(&mut ws, Duration::from_millis(300)).is_empty());
}

#[test]
fn signature_helpers_answer_as_transaction_cpp() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let unsigned = cwd_gateway::ops::SignedTransaction { tx: transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), signatures: vec![] };
    let tx = cwd_gateway::json::write_transaction(&unsigned);
    let by_bytes = |mut keys: Vec<PublicKey>| {
        keys.sort_by_key(PublicKey::to_compressed);
        json!(keys.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    // With no key available both authorities are looked at: active and owner keys, as a
    // set<public_key_type> (ordered by the keys' bytes).
    assert_eq!(result(&d, "database", "get_potential_signatures", json!([tx])), by_bytes(vec![alice.active_key, alice.owner_key]));
    assert_eq!(result(&d, "database", "get_potential_address_signatures", json!([tx])), json!([]));
    let keys = |k: &[PublicKey]| json!(k.iter().map(ToString::to_string).collect::<Vec<_>>());
    let required = |avail: Value| result(&d, "database", "get_required_signatures", json!([tx, avail]));
    assert_eq!(required(keys(&[alice.active_key, alice.owner_key, bob.active_key])), keys(&[alice.active_key]));
    // The owner key when the active one is not available; nothing when neither is.
    assert_eq!(required(keys(&[alice.owner_key])), keys(&[alice.owner_key]));
    assert_eq!(required(keys(&[bob.active_key])), json!([]));
    // A key that already signed is not asked for again.
    let signed = sign(&d, unsigned.tx.clone(), &alice.active_private().unwrap());
    let stx = cwd_gateway::json::write_transaction(&signed);
    assert_eq!(result(&d, "database", "get_required_signatures", json!([stx, keys(&[alice.active_key])])), json!([]));
    let r = rpc(&d, "database", "get_required_signatures", json!([tx, ["not a key"]]));
    assert!(r.get("error").is_some(), "{r}");
}

#[test]
fn account_pages_read_references_vesting_and_balance_objects() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    assert_eq!(result(&d, "database", "get_account_references", json!(["alice"])), json!([]));
    assert_eq!(result(&d, "database", "get_vesting_balances", json!([alice.id_string()])), json!([]));
    for m in ["get_account_references", "get_vesting_balances"] {
        let r = rpc(&d, "database", m, json!(["nobody"]));
        assert!(r["error"]["message"].as_str().unwrap().contains("no such account"), "{m}: {r}");
    }
    // get_key_references: owner, active and memo keys name their account.
    let refs = result(&d, "database", "get_key_references", json!([[alice.memo_key.to_string(), bob.owner_key.to_string()]]));
    assert_eq!(refs, json!([[alice.id_string()], [bob.id_string()]]));
    // An account created empty has no balance object; one spent to zero keeps it.
    assert_eq!(result(&d, "database", "get_account_balances", json!(["bob", []])), json!([]));
    assert_eq!(result(&d, "database", "get_full_accounts", json!([["bob"], false]))[0][1]["balances"], json!([]));
    let all = 10 * CWD - fee(&d);
    d.transfer("alice", "bob", all, None, None).unwrap();
    d.produce_block();
    assert_eq!(result(&d, "database", "get_account_balances", json!(["alice", []])), json!([{ "amount": 0, "asset_id": "1.3.0" }]));
    let fa = result(&d, "database", "get_full_accounts", json!([["alice"], false]))[0][1].clone();
    assert_eq!(fa["balances"][0]["balance"], json!(0));
    assert_eq!(result(&d, "database", "get_objects", json!([[fa["balances"][0]["id"]]]))[0], fa["balances"][0]);
    // The assets asked for are a flat_set: ordered, each once.
    let gold = d.create_asset("alice", "GOLD", 3, 1_000).unwrap();
    d.issue_asset("GOLD", "bob", 7).unwrap();
    let named = result(&d, "database", "get_named_account_balances", json!(["bob", [format!("1.3.{}", gold.0), "1.3.0", "1.3.0"]]));
    assert_eq!(named, json!([{ "amount": all, "asset_id": "1.3.0" }, { "amount": 7, "asset_id": format!("1.3.{}", gold.0) }]));
    // A reorganisation takes back a balance object its blocks created.
    let carol = account(&d, "carol", 0);
    d.transfer("bob", "carol", CWD, None, None).unwrap();
    d.produce_block();
    let id = format!("2.5.{}", d.lock().balance_object_id(carol.id, cwd_gateway::ops::CORE_ASSET));
    assert_eq!(result(&d, "database", "get_objects", json!([[id]]))[0]["balance"], json!(CWD));
    d.reorg(1, false).unwrap();
    assert_eq!(result(&d, "database", "get_objects", json!([[id]]))[0], Value::Null);
    assert_eq!(result(&d, "database", "get_account_balances", json!(["carol", []])), json!([]));
    // …but keeps what the faucet put there since, outside any block.
    d.transfer("bob", "carol", CWD, None, None).unwrap();
    d.produce_block();
    control(&d, "issue", json!({ "account": "carol", "amount": 5 }));
    d.reorg(1, false).unwrap();
    assert_eq!(result(&d, "database", "get_objects", json!([[id]]))[0]["balance"], json!(5));
    assert_conserved(&d);
}
