//! The codec on the command line, as a user runs it: the real binary, the embedded `.wasm`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/crowdwiz-public.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim_end().to_string()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn key_and_memos() {
    let v = vectors();
    let k = &v["keys"][0];
    assert_eq!(ok(&["codec", "key", s(&k["wif"])], ""), s(&k["public_key"]));
    let m = &v["memos"][2];
    let nonce = s(&m["nonce"]);
    let enc: Value = serde_json::from_str(&ok(&["codec", "memo-encrypt", "--wif", s(&m["from_wif"]), "--to", s(&m["to"]), "--nonce", nonce, "--message", s(&m["plaintext"])], "")).unwrap();
    assert_eq!((s(&enc["nonce"]), s(&enc["message"])), (nonce, s(&m["message"])));
    let dec = ok(&["codec", "memo-decrypt", "--wif", s(&m["to_wif"]), "--from", s(&m["from"]), "--nonce", nonce, "--message", s(&enc["message"])], "");
    assert_eq!(dec, s(&m["plaintext"]));
    // No --nonce: a random one, reported with the ciphertext.
    let drawn: Value = serde_json::from_str(&ok(&["codec", "memo-encrypt", "--wif", s(&m["from_wif"]), "--to", s(&m["to"]), "--message", "hi"], "")).unwrap();
    assert_ne!(s(&drawn["nonce"]), nonce);
    let dec = ok(&["codec", "memo-decrypt", "--wif", s(&m["to_wif"]), "--from", s(&m["from"]), "--nonce", s(&drawn["nonce"]), "--message", s(&drawn["message"])], "");
    assert_eq!(dec, "hi");
}

#[test]
fn digest_and_sign() {
    let v = vectors();
    for case in v["transactions"].as_array().unwrap() {
        let mut tx = case["signed_json"].clone();
        tx.as_object_mut().unwrap().remove("signatures");
        let info: Value = serde_json::from_str(&ok(&["codec", "tx-digest"], &tx.to_string())).unwrap();
        assert_eq!(info["unsigned_hex"], case["unsigned_tx_hex"]);
        assert_eq!(info["digest"], case["digest"]);
        assert_eq!(info["tx_id"], case["tx_id"]);

        let signer = s(&case["signer_public_key"]);
        let wif = v["keys"].as_array().unwrap().iter().find(|k| s(&k["public_key"]) == signer).unwrap();
        let signed = ok(&["codec", "tx-sign", "--wif", s(&wif["wif"])], &tx.to_string());
        let signers: Value = serde_json::from_str(&ok(&["codec", "tx-signers"], &signed)).unwrap();
        assert_eq!(signers, serde_json::json!([signer]));
        // Signed over another chain id, the same keys no longer recover the signer.
        let other = "00".repeat(32);
        let signers: Value = serde_json::from_str(&ok(&["codec", "tx-signers", "--chain-id", &other], &signed)).unwrap();
        assert_ne!(signers, serde_json::json!([signer]));
    }
}

#[test]
fn errors_go_to_stderr_with_exit_2_and_never_echo_the_key() {
    let v = vectors();
    let wif = s(&v["keys"][0]["wif"]);
    let bad = format!("{}1", &wif[..wif.len() - 1]);
    let out = run(&["codec", "key", &bad], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("checksum") && !err.contains(&bad), "{err}");

    let out = run(&["codec", "tx-digest"], "{\"operations\": 5}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("operations"));

    let out = run(&["codec", "tx-digest", "--chain-id", "zz"], "{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chain id"));

    let m = &v["memos"][1];
    let out = run(&["codec", "memo-decrypt", "--wif", wif, "--from", s(&m["from"]), "--nonce", "1", "--message", s(&m["message"])], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not decrypt"));
}
