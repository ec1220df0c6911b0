//! WebSocket and HTTP on one port: the api-id handshake, strict `call`, and the block and
//! object notices wallets subscribe to.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(d: &cwd_devnet::DevnetHandle) -> Ws {
    let (ws, _) = tungstenite::connect(d.ws_url()).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    ws
}

fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

fn call(ws: &mut Ws, id: u64, params: Value) -> Value {
    ws.send(Message::text(json!({ "jsonrpc": "2.0", "id": id, "method": "call", "params": params }).to_string())).unwrap();
    let r = next_json(ws);
    assert_eq!(r["id"], json!(id), "replies come in order: {r}");
    r
}

#[test]
fn api_ids_are_per_connection_and_call_is_strict() {
    let d = start();
    let alice = account(&d, "alice", 10);
    let bob = account(&d, "bob", 0);
    let mut ws = connect(&d);
    assert_eq!(call(&mut ws, 1, json!([1, "login", ["", ""]]))["result"], json!(true));
    assert_eq!(call(&mut ws, 2, json!([1, "database", []]))["result"], json!(0));
    let broadcast_id = call(&mut ws, 3, json!([1, "network_broadcast", []]))["result"].as_u64().unwrap();
    let history_id = call(&mut ws, 4, json!([1, "history", []]))["result"].as_u64().unwrap();
    assert_eq!((broadcast_id, history_id), (2, 3));
    assert_eq!(call(&mut ws, 5, json!([1, "network_broadcast", []]))["result"], json!(2), "the same API keeps its id");
    assert_eq!(call(&mut ws, 6, json!([0, "get_chain_id", []]))["result"], json!(cwd_devnet::CROWDWIZ_CHAIN_ID));
    // api 0 is the database API only.
    let r = call(&mut ws, 7, json!([0, "get_account_history", ["alice", "1.11.0", 10, "1.11.0"]]));
    assert!(r["error"]["message"].as_str().unwrap().contains("no method with name 'get_account_history'"), "{r}");
    let h = call(&mut ws, 8, json!([history_id, "get_account_history", ["alice", "1.11.0", 10, "1.11.0"]]))["result"].clone();
    assert_eq!(h, result(&d, "history", "get_account_history", json!(["alice", "1.11.0", 10, "1.11.0"])));
    assert_eq!(h.as_array().map(|a| a.len()), Some(1), "{h}");
    assert_eq!(h[0]["op"][0], json!(5), "alice's account_create: {h}");
    // Exactly three params, the third an array.
    assert_eq!(error_name(&call(&mut ws, 9, json!([0, "get_chain_id"]))), "assert_exception");
    assert_eq!(error_name(&call(&mut ws, 10, json!([0, "get_chain_id", [], 1]))), "assert_exception");
    assert_eq!(error_name(&call(&mut ws, 11, json!([9, "get_chain_id", []]))), "assert_exception");
    // A broadcast by id, then by name.
    let st = sign(&d, transfer_tx(&d, alice.id, bob.id, CWD, fee(&d), 60), &alice.active_private().unwrap());
    let tx = cwd_gateway::json::write_transaction(&st);
    assert_eq!(call(&mut ws, 12, json!([broadcast_id, "broadcast_transaction", [tx]]))["result"], json!(null));
    assert_eq!(rejection(&call(&mut ws, 13, json!(["network_broadcast", "broadcast_transaction", [tx]]))), "duplicate");
    // Over HTTP every request is a new connection: ids beyond 1 are unknown there.
    let (_, body) = post(d.url(), &json!({ "id": 1, "method": "call", "params": [2, "broadcast_transaction", [tx]] }).to_string(), Duration::from_secs(5)).unwrap();
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error_name(&r), "assert_exception");
}

#[test]
fn block_and_object_notices() {
    let d = start();
    account(&d, "alice", 10);
    let mut ws = connect(&d);
    assert_eq!(call(&mut ws, 1, json!([0, "set_block_applied_callback", [77]]))["result"], json!(null));
    d.produce_blocks(2);
    let heads: Vec<String> = (0..2).map(|_| next_json(&mut ws)).map(|n| {
        assert_eq!(n["method"], json!("notice"));
        assert_eq!(n["params"][0], json!(77));
        n["params"][1][0].as_str().unwrap().to_string()
    }).collect();
    let head = d.lock().head().id_hex();
    assert_eq!(heads[1], head, "one notice per block, the newest last");
    assert_ne!(heads[0], heads[1]);
    // Objects read after set_subscribe_callback come back when they change.
    assert_eq!(call(&mut ws, 2, json!([0, "set_subscribe_callback", [78, false]]))["result"], json!(null));
    let dgp = call(&mut ws, 3, json!([0, "get_objects", [["2.1.0", "1.2.100"]]]))["result"][0].clone();
    d.produce_block();
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(next_json(&mut ws));
    }
    let objects = got.iter().find(|n| n["params"][0] == json!(78)).expect("an object notice");
    let changed = objects["params"][1][0].as_array().unwrap();
    assert_eq!(changed.len(), 1, "only what changed: {changed:?}");
    assert_eq!(changed[0]["id"], json!("2.1.0"));
    assert_eq!(changed[0]["head_block_number"], json!(dgp["head_block_number"].as_u64().unwrap() + 1));
    // Over HTTP there is no connection to call back on.
    assert_eq!(error_name(&rpc(&d, "database", "set_block_applied_callback", json!([1]))), "assert_exception");
    // HTTP and WebSocket share the port.
    assert_eq!(result(&d, "database", "get_chain_id", json!([])), json!(cwd_devnet::CROWDWIZ_CHAIN_ID));
    ws.close(None).unwrap();
}

#[test]
fn http_keep_alive_and_expect_continue() {
    use std::io::{Read, Write};
    let d = start();
    let mut s = TcpStream::connect(d.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = json!({ "id": 1, "method": "call", "params": [0, "get_chain_id", []] }).to_string();
    // Two requests on one connection, the second with Expect: 100-continue.
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    let mut first = vec![0u8; 0];
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&first).contains("100 Continue") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the server answers before the second body");
        first.extend_from_slice(&buf[..n]);
    }
    s.write_all(body.as_bytes()).unwrap();
    let mut all = first;
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches(cwd_devnet::CROWDWIZ_CHAIN_ID).count(), 2, "{text}");
    assert!(text.contains("Connection: keep-alive") && text.contains("Connection: close"), "{text}");
}
