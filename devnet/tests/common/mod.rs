//! Shared test helpers: a tiny loopback HTTP client and transaction builders.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config, CreatedAccount, Devnet, DevnetHandle};
use cwd_gateway::keys::PrivateKey;
use cwd_gateway::ops::{AccountId, Asset, Operation, SignedTransaction, Transaction, Transfer};
use serde_json::{json, Value};

pub const CWD: i64 = 100_000;

pub fn start() -> DevnetHandle {
    start_with(Config::seeded("tests"))
}

pub fn start_with(config: Config) -> DevnetHandle {
    Devnet::start(config).expect("devnet starts on loopback")
}

/// POSTs `body` to `url` (loopback only) and returns (status, body).
pub fn post(url: &str, body: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    assert!(host.starts_with("127.0.0.1:"), "tests talk to loopback only");
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

/// A JSON-RPC `call` over HTTP; returns the whole response object.
pub fn rpc(d: &DevnetHandle, api: &str, method: &str, params: Value) -> Value {
    let req = json!({ "jsonrpc": "2.0", "id": 7, "method": "call", "params": [api, method, params] });
    let (status, body) = post(d.url(), &req.to_string(), Duration::from_secs(20)).expect("HTTP works");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON body")
}

pub fn result(d: &DevnetHandle, api: &str, method: &str, params: Value) -> Value {
    let r = rpc(d, api, method, params);
    assert!(r.get("error").is_none(), "{method} failed: {r}");
    assert_eq!(r["id"], json!(7));
    r["result"].clone()
}

/// The `data.name` of an error response.
pub fn error_name(r: &Value) -> String {
    r["error"]["data"]["name"].as_str().unwrap_or_else(|| panic!("expected an error, got {r}")).to_string()
}

pub fn control(d: &DevnetHandle, method: &str, params: Value) -> Value {
    let req = json!({ "id": 1, "method": method, "params": params });
    let (status, body) = post(&d.control_url(), &req.to_string(), Duration::from_secs(20)).expect("HTTP works");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON body")
}

pub fn account(d: &DevnetHandle, name: &str, cwd: i64) -> CreatedAccount {
    d.create_account(AccountSpec::new(name, cwd * CWD)).expect("account created")
}

/// An unsigned transfer with TaPoS from the head and expiration `ttl` seconds after it.
pub fn transfer_tx(d: &DevnetHandle, from: AccountId, to: AccountId, amount: i64, fee: i64, ttl: u32) -> Transaction {
    let s = d.lock();
    let head = s.head();
    let (num, prefix) = cwd_gateway::ops::tapos_from_block_id(&head.id_hex()).unwrap();
    Transaction {
        ref_block_num: num,
        ref_block_prefix: prefix,
        expiration: head.time + ttl,
        operations: vec![Operation::Transfer(Transfer { fee: Asset::cwd(fee), from, to, amount: Asset::cwd(amount), memo: None })],
    }
}

pub fn sign(d: &DevnetHandle, tx: Transaction, key: &PrivateKey) -> SignedTransaction {
    let chain_id = *d.lock().chain_id();
    tx.sign(key, &chain_id).expect("valid transaction signs")
}

pub fn fee(d: &DevnetHandle) -> i64 {
    d.lock().config.fees.transfer
}

pub fn broadcast(d: &DevnetHandle, st: &SignedTransaction) -> Value {
    rpc(d, "network_broadcast", "broadcast_transaction", json!([cwd_gateway::json::write_transaction(st)]))
}

/// Sum of balances plus fees burned equals everything ever issued.
pub fn assert_conserved(d: &DevnetHandle) {
    let s = d.lock();
    assert_eq!(s.total_balances() + s.fees_burned(), s.issued());
}

/// What a node's error says, read from its wording as a client does: the fc name, or for
/// an `assert_exception` the assertion that failed (db_block.cpp, transfer_evaluator.cpp).
pub fn rejection(r: &Value) -> String {
    let name = error_name(r);
    let format = r["error"]["data"]["stack"][0]["format"].as_str().unwrap_or("");
    assert!(r["error"]["message"].as_str().unwrap_or("").contains(format), "message carries the detail: {r}");
    if name != "assert_exception" {
        return name;
    }
    let kinds = [
        ("find(trx.id())", "duplicate"),
        ("now <= trx.expiration", "expired"),
        ("maximum_time_until_expiration", "too_far"),
        ("ref_block_prefix", "tapos"),
        ("Insufficient Balance", "insufficient_balance"),
        ("Unable to find Object", "unknown_object"),
        ("is_canonical", "non_canonical"),
        ("signature recovers no key", "bad_signature"),
    ];
    kinds.iter().find(|(k, _)| format.contains(k)).map_or(format!("assert: {format}"), |(_, v)| v.to_string())
}
