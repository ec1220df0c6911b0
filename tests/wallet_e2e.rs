//! A player's wallet that we did not write: CrowdWiz's own Python library (crowdwiz
//! 0.9.4, default settings, `devnet/tests/wallet/player_wallet.py`) against the devnet on
//! the wall clock, over HTTP and over WebSocket, with the real gateway component running
//! in the host. The wallet decrypts the gateway's link message, the game confirms the
//! code, the wallet pays the gateway twice (plain and `blocking=True`) and streams blocks;
//! the gateway credits each payment exactly once.
//!
//! `.ci/run` installs the library and sets `CWD_REFERENCE_PYTHON`; in CI its absence is a
//! failure, elsewhere the test says so and passes without running.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Production};
use cwd_gateway_e2e::*;
use serde_json::Value;

const CWD: i64 = 100_000;

fn wallet_pays_and_the_gateway_credits_once(transport: &str) {
    let Some(py) = reference_python() else { return };
    // Wall-clock chain time with a block a second: the library sets its own expiration
    // from its own clock and waits for blocks.
    let h = Harness::with(runtime(), |dc| {
        dc.wall_clock = true;
        dc.genesis_time = None;
        dc.production = Production::Timer(Duration::from_secs(1));
    });
    let player = h.devnet.create_account(AccountSpec::new("player-one", 100 * CWD)).unwrap();
    let started = h.api(|a| a.start_link("alice", "player-one", None)).expect("start-link");
    let sent: [u8; 20] = hex::decode(&started.tx_id).unwrap().try_into().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.devnet.lock().location(&sent).is_none() {
        assert!(Instant::now() < deadline, "the link message is included");
        std::thread::sleep(Duration::from_millis(100));
    }

    let url = if transport == "ws" { h.devnet.ws_url() } else { h.devnet.url().to_string() };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../devnet/tests/wallet/player_wallet.py");
    let output = Command::new(&py)
        .arg(&script)
        .args([url.as_str(), "player-one", player.active_wif.as_deref().unwrap(), player.memo_wif.as_deref().unwrap(), GATEWAY, "2.5"])
        // Each run its own wallet data directory: the library creates its default one
        // with a check-then-create that two wallets started at once can lose.
        .env("XDG_DATA_HOME", wallet_data_dir(transport))
        .output()
        .expect("the Python wallet runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "wallet over {transport} failed:\n{stderr}");
    let out: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("wallet output: {e}\n{stderr}"));

    // The player reads the code in the wallet and types it into the game.
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{out}");
    let text = messages[0]["text"].as_str().unwrap();
    let code: String = text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == started.code_digits as usize).expect("a code").into();
    h.api(|a| a.confirm_link("alice", &code)).expect("confirm-link with the code the wallet decrypted");
    assert!(out["blocking"]["block_num"].as_u64().is_some(), "blocking=True returned the block: {out}");
    assert!(out["streamed"]["block_num"].as_u64().is_some(), "Blockchain.stream found the payment: {out}");

    // Both payments (2.5 CWD each) are credited at 90 game units per CWD, once.
    h.settle();
    h.settle();
    let credits: Vec<Value> = h.events.snapshot().into_iter().filter(|e| e["type"] == "deposit-credited").collect();
    assert_eq!(credits.len(), 2, "{credits:?}");
    assert_ne!(credits[0]["deposit_id"], credits[1]["deposit_id"]);
    assert!(credits.iter().all(|c| c["cwd"] == 250_000 && c["user"] == "alice"));
    assert_eq!(h.balance("alice"), (2 * 225, 0));
    assert!(h.api(|a| a.list_unclaimed(true, None, 10)).unwrap().is_empty());
}

#[test]
fn python_wallet_over_http_is_credited_once() {
    wallet_pays_and_the_gateway_credits_once("http");
}

#[test]
fn python_wallet_over_websocket_is_credited_once() {
    wallet_pays_and_the_gateway_credits_once("ws");
}

/// A fresh, private data directory for one run of the Python wallet.
fn wallet_data_dir(transport: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cwd-python-wallet-{}-{transport}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a wallet data directory");
    dir
}
