//! The real `cwd-gateway run` process, SIGKILLed while its withdrawal broadcast is in
//! flight, then started again on the same SQLite file: the player is paid exactly once.

use std::time::Duration;

use cwd_devnet::{AccountSpec, Config, Devnet, FaultKind, FaultRule, Production};
use serde_json::json;
use support::{call, eventually, free_port};

mod support;

fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually(what, Duration::from_secs(45), f)
}


#[test]
fn killed_mid_broadcast_and_restarted_pays_once() {
    let devnet = Devnet::start(Config { production: Production::Timer(Duration::from_millis(100)), ..Config::simulated("process-kill") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * 100_000)).unwrap();
    let player = devnet.create_account(AccountSpec::new("kim-cwd", 100 * 100_000)).unwrap();

    let dir = std::env::temp_dir().join(format!("cwd-process-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    // The host refuses a key file that others may read.
    support::write_private(&dir.join("keys.toml"), &format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", gateway.active_wif.clone().unwrap(), gateway.memo_wif.clone().unwrap()));
    std::fs::write(dir.join("gateway.toml"), support::run_config(&devnet.chain_id_hex(), devnet.url(), &dir, port, "")).unwrap();

    let mut gw = support::spawn_run(&dir);
    wait("the HTTP API", || call(port, "status", json!({})).ok());

    // Link through the HTTP API, reading the code in the player's wallet.
    let started = call(port, "start-link", json!({ "user": "kim", "account": "kim-cwd" })).unwrap();
    let digits = started["code_digits"].as_u64().unwrap() as usize;
    let code = support::link_code(&devnet, &player, digits, Duration::from_secs(45));
    call(port, "confirm-link", json!({ "user": "kim", "code": code })).unwrap();

    devnet.transfer("kim-cwd", "game-gateway", 20 * 100_000, None, None).unwrap();
    wait("the deposit", || {
        let a = call(port, "account", json!({ "user": "kim" })).ok()?;
        (a["balance"] == 1_800).then_some(())
    });

    // The next broadcast hangs at the node (which applies it afterwards); the host is
    // killed while waiting for the answer.
    let fired = devnet.faults_fired();
    devnet.add_fault(FaultRule::next(1, Some("broadcast_transaction"), FaultKind::Delay(Duration::from_secs(3))));
    let w = call(port, "request-withdrawal", json!({ "user": "kim", "cwd": 500_000, "idempotency_key": "w-kill" })).unwrap();
    wait("the broadcast to reach the node", || (devnet.faults_fired() > fired).then_some(()));
    gw.0.kill().unwrap();
    gw.0.wait().unwrap();

    let _gw2 = support::spawn_run(&dir);
    wait("the restarted HTTP API", || call(port, "status", json!({})).ok());
    let id = w["withdrawal_id"].as_str().unwrap();
    let done = wait("the withdrawal to confirm", || {
        let w = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (w["state"] == "confirmed" || w["state"] == "failed").then_some(w)
    });
    assert_eq!(done["state"], "confirmed");
    assert_eq!(done["attempts"], 1, "the stored transaction, not a new one");

    assert_eq!(support::payouts(&devnet, &player.id_string()).len(), 1, "paid exactly once");
    let account = call(port, "account", json!({ "user": "kim" })).unwrap();
    assert_eq!((account["balance"].as_u64(), account["frozen"].as_u64()), (Some(1_800 - 500), Some(0)));
    std::fs::remove_dir_all(&dir).ok();
}
