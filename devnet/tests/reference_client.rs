//! Every transaction the devnet accepted, checked by CrowdWiz's own Python client
//! (`verify_tx.py`, crowdwiz 0.9.4): it parses, its id is ours, and it recovers to the
//! sender's active key. `.ci/run` sets `CWD_REFERENCE_PYTHON` and `CWD_REFERENCE_VERIFY`;
//! in CI their absence is a failure, elsewhere a note.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn reference() -> Option<(String, String)> {
    match (std::env::var("CWD_REFERENCE_PYTHON"), std::env::var("CWD_REFERENCE_VERIFY")) {
        (Ok(py), Ok(script)) => Some((py, script)),
        _ if std::env::var_os("CI").is_some() => panic!("CI must set CWD_REFERENCE_PYTHON and CWD_REFERENCE_VERIFY (see .ci/run)"),
        _ => {
            eprintln!("note: reference client not configured; run .ci/run to include this check");
            None
        }
    }
}

#[test]
fn accepted_transactions_verify_with_the_reference_client() {
    let Some((python, script)) = reference() else { return };
    let d = start();
    let gw = account(&d, "crowdwiz-gateway", 100);
    let player = account(&d, "player-one", 100_000);
    d.send_message("crowdwiz-gateway", "player-one", "Your link code: 424242", None).unwrap();
    d.transfer("player-one", "crowdwiz-gateway", 71_000 * CWD, Some("link 424242"), None).unwrap();
    d.transfer("crowdwiz-gateway", "player-one", 3 * CWD, None, None).unwrap();
    d.produce_block();
    let txs = d.lock().included_transactions().into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(txs.len(), 3);
    let dir = std::env::temp_dir().join(format!("cwd-devnet-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, st) in txs.iter().enumerate() {
        let signer = if st.tx.operations[0].fee_payer() == gw.id { gw.active_key } else { player.active_key };
        let path = dir.join(format!("tx{i}.json"));
        std::fs::write(&path, cwd_gateway::json::write_transaction(st).to_string()).unwrap();
        let out = Command::new(&python).arg(&script).arg(&path).arg(signer.to_string()).output().unwrap();
        assert!(out.status.success(), "reference client rejected tx {i}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["tx_id"], serde_json::json!(hex::encode(st.tx.id())), "tx {i}");
        assert_eq!(report["signers_compressed_hex"], serde_json::json!([hex::encode(signer.to_compressed())]), "tx {i}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
