//! What the component signs, checked by CrowdWiz's own Python client (`crowdwiz` 0.9.4,
//! `verify_tx.py`). `.ci/run` installs the client and sets `CWD_REFERENCE_PYTHON` and
//! `CWD_REFERENCE_VERIFY`; in CI their absence is a failure, elsewhere a note.

use std::process::Command;

use cwd_gateway_e2e::{runtime, vectors};
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
fn signed_by_the_component_verified_by_the_reference_client() {
    let Some((python, script)) = reference() else { return };
    let v = vectors();
    let chain = v["chain_id"].as_str().unwrap();
    let dir = std::env::temp_dir().join(format!("cwd-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut instance = runtime().instantiate().unwrap();
    for (i, case) in v["transactions"].as_array().unwrap().iter().enumerate() {
        let signer = case["signer_public_key"].as_str().unwrap();
        let wif = v["keys"].as_array().unwrap().iter().find(|k| k["public_key"] == signer).unwrap()["wif"].as_str().unwrap();
        let mut unsigned = case["signed_json"].clone();
        unsigned.as_object_mut().unwrap().remove("signatures");
        let signed = instance.codec().sign_transaction(&unsigned.to_string(), wif, chain).unwrap();
        let path = dir.join(format!("tx{i}.json"));
        std::fs::write(&path, &signed).unwrap();
        let out = Command::new(&python).arg(&script).arg(&path).arg(signer).output().unwrap();
        assert!(out.status.success(), "reference client rejected tx {i}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["tx_id"], case["tx_id"], "tx {i}");
        let key_hex = instance.codec().public_key_to_hex(signer).unwrap();
        assert_eq!(report["signers_compressed_hex"], serde_json::json!([key_hex]), "tx {i}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every transaction the devnet included during a gateway story (link message, player
/// deposits, withdrawal payout) verifies with the reference client.
#[test]
fn every_transaction_the_devnet_accepted_verifies_with_the_reference_client() {
    use cwd_gateway_e2e::{Harness, GATEWAY};
    use cwd_gateway_host::bindings::api::WithdrawalAmount;
    let Some((python, script)) = reference() else { return };
    let h = Harness::new();
    h.linked_player("ivy", "ivy-cwd", 100 * 100_000);
    h.devnet.transfer("ivy-cwd", GATEWAY, 20 * 100_000, Some("deposit"), None).unwrap();
    h.settle();
    let w = h.api(|a| a.request_withdrawal("ivy", WithdrawalAmount::Cwd(5 * 100_000), "w-ref")).unwrap();
    h.finish_withdrawal(&w.withdrawal_id);

    let chain = h.devnet.chain_id_hex();
    let dir = std::env::temp_dir().join(format!("cwd-reference-devnet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let txs = h.devnet.included_transactions();
    assert!(txs.len() >= 3, "link message, deposit, payout");
    let mut instance = runtime().instantiate().unwrap();
    for (i, tx) in txs.iter().enumerate() {
        let path = dir.join(format!("tx{i}.json"));
        std::fs::write(&path, tx.to_string()).unwrap();
        let out = Command::new(&python).arg(&script).arg(&path).output().unwrap();
        assert!(out.status.success(), "reference client rejected devnet tx {i}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = instance.codec().transaction_info(&tx.to_string(), &chain).unwrap();
        assert_eq!(report["tx_id"], ours.id.as_str(), "tx {i}: same id in both implementations");
        let signers = instance.codec().transaction_signers(&tx.to_string(), &chain).unwrap();
        let hex: Vec<String> = signers.iter().map(|k| instance.codec().public_key_to_hex(k).unwrap()).collect();
        assert_eq!(report["signers_compressed_hex"], serde_json::json!(hex), "tx {i}: same signers");
    }
    std::fs::remove_dir_all(&dir).ok();
}
