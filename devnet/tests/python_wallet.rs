//! A player's wallet made of CrowdWiz's own Python library (crowdwiz 0.9.4), default
//! settings, against the devnet over HTTP and over WebSocket (`wallet/player_wallet.py`):
//! it connects, reads the account and balances, decrypts the gateway's link message,
//! pays the gateway with `transfer` (plain and `blocking=True`) and finds the payment by
//! streaming blocks. `.ci/run` sets `CWD_REFERENCE_PYTHON`; in CI its absence is a
//! failure, elsewhere a note.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use cwd_devnet::{AccountSpec, Config, Production};
use serde_json::{json, Value};

fn python() -> Option<String> {
    match std::env::var("CWD_REFERENCE_PYTHON") {
        Ok(py) => Some(py),
        _ if std::env::var_os("CI").is_some() => panic!("CI must set CWD_REFERENCE_PYTHON (see .ci/run)"),
        _ => {
            eprintln!("note: CWD_REFERENCE_PYTHON not set; run .ci/run to include the Python wallet test");
            None
        }
    }
}

const LINK: &str = "Your link code: 424242";

/// What one wallet run did, for the gateway side to check against.
struct WalletRun {
    out: Value,
    gateway_before: i64,
    amount: i64,
}

/// A devnet making a block a second on the wall clock, a gateway that has sent its
/// link message, and a player running the Python wallet against `transport`'s URL.
fn run_wallet(python: &str, transport: &str) -> (cwd_devnet::DevnetHandle, WalletRun) {
    let d = start_with(Config { production: Production::Timer(Duration::from_secs(1)), ..Config::seeded("python-wallet") });
    d.create_account(AccountSpec::new("crowdwiz-gateway", 10 * CWD)).unwrap();
    let player = d.create_account(AccountSpec::new("player-one", 100 * CWD)).unwrap();
    let sent = d.send_message("crowdwiz-gateway", "player-one", LINK, None).unwrap();
    let id: [u8; 20] = hex::decode(&sent.id).unwrap().try_into().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while d.lock().location(&id).is_none() {
        assert!(std::time::Instant::now() < deadline, "the link message is included");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = if transport == "ws" { d.ws_url() } else { d.url().to_string() };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wallet/player_wallet.py");
    let gateway_before = d.balance_of("crowdwiz-gateway").unwrap();
    let output = Command::new(python)
        .arg(&script)
        .args([url.as_str(), "player-one", player.active_wif.as_deref().unwrap(), player.memo_wif.as_deref().unwrap(), "crowdwiz-gateway", "2.5"])
        // Each run its own wallet data directory: the library creates its default one
        // with a check-then-create that two wallets started at once can lose.
        .env("XDG_DATA_HOME", wallet_data_dir(transport))
        .output()
        .expect("the Python wallet runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "wallet over {transport} failed:\n{stderr}");
    let out: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("wallet output: {e}\n{stderr}"));
    (d, WalletRun { out, gateway_before, amount: 250_000 })
}

fn check(d: &cwd_devnet::DevnetHandle, run: &WalletRun) {
    let out = &run.out;
    let player = d.lock().account_by_name("player-one").unwrap().id;
    assert_eq!(out["account_id"], json!(format!("1.2.{}", player.0)));
    assert_eq!(out["balances"], json!({ "CWD": 100 * CWD }), "the wallet read the balance before paying");
    assert_eq!(out["messages"].as_array().unwrap().len(), 1);
    assert_eq!(out["messages"][0]["text"], json!(LINK), "the wallet decrypted the link message");
    // The library built the transfer: its own expiration (wall clock + 30 s) was accepted.
    let op = &out["transfer"]["operations"][0];
    assert_eq!(op[0], json!(0));
    assert_eq!(op[1]["amount"], json!({ "amount": run.amount, "asset_id": "1.3.0" }));
    // Both payments are on chain, where the wallet says they are.
    let blocking_id: [u8; 20] = hex::decode(out["blocking"]["id"].as_str().unwrap()).unwrap().try_into().unwrap();
    let loc = d.lock().location(&blocking_id).expect("the blocking transfer is in a block");
    assert_eq!((out["blocking"]["block_num"].as_u64(), out["blocking"]["trx_num"].as_u64()), (Some(loc.block_num as u64), Some(loc.trx_num as u64)));
    assert_eq!(d.balance_of("crowdwiz-gateway").unwrap(), run.gateway_before + 2 * run.amount);
    let memos = d.received_memos("crowdwiz-gateway", None).unwrap();
    let texts: Vec<&str> = memos.iter().filter_map(|m| m.text.as_deref().ok()).collect();
    assert_eq!(texts, vec!["deposit 424242", "deposit 424242 again"], "the gateway reads the player's memos");
    let first = memos.iter().find(|m| m.text.as_deref() == Ok("deposit 424242")).unwrap();
    assert_eq!(out["streamed"]["block_num"].as_u64(), Some(first.block_num as u64), "Blockchain.stream found the first payment");
    assert_eq!(out["streamed"]["amount"], json!(run.amount));
    assert_conserved(d);
    // The same wallet paying the real gateway component, which credits each payment
    // once: tests/wallet_e2e.rs.
}

#[test]
fn python_wallet_over_http() {
    let Some(py) = python() else { return };
    let (d, run) = run_wallet(&py, "http");
    check(&d, &run);
}

#[test]
fn python_wallet_over_websocket() {
    let Some(py) = python() else { return };
    let (d, run) = run_wallet(&py, "ws");
    check(&d, &run);
}

/// A fresh, private data directory for one run of the Python wallet.
fn wallet_data_dir(transport: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cwd-python-wallet-{}-{transport}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a wallet data directory");
    dir
}
