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

/// A key on the command line is visible to every local user: the codec commands also
/// take it from a private file or an environment variable, with the same answers.
#[test]
fn keys_from_a_private_file_or_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    let v = vectors();
    let (wif, public) = (s(&v["keys"][0]["wif"]), s(&v["keys"][0]["public_key"]));
    let dir = std::env::temp_dir().join(format!("cwd-cli-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("key.wif");
    std::fs::write(&file, format!("{wif}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(ok(&["codec", "key", "--wif-file", path], ""), public);
    assert_eq!(ok(&["codec", "key", wif], ""), public);
    let by_env = Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["codec", "key", "--wif-env", "TEST_CWD_KEY"])
        .env("TEST_CWD_KEY", wif)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&by_env.stdout).trim(), public);
    // The same for signing: the key from a file signs as the key given whole.
    let m = &v["memos"][0];
    let args = |key: &[&str]| {
        let mut a = vec!["codec", "memo-decrypt", "--from", s(&m["to"]), "--nonce", s(&m["nonce"]), "--message", s(&m["message"])];
        a.extend_from_slice(key);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let from_wif = s(&m["from_wif"]);
    std::fs::write(&file, from_wif).unwrap();
    let a1 = args(&["--wif-file", path]);
    let a2 = args(&["--wif", from_wif]);
    assert_eq!(ok(&a1.iter().map(String::as_str).collect::<Vec<_>>(), ""), s(&m["plaintext"]));
    assert_eq!(ok(&a2.iter().map(String::as_str).collect::<Vec<_>>(), ""), s(&m["plaintext"]));
    // A key file others may read is refused, naming the file, never the key.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["codec", "key", "--wif-file", path], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains(from_wif), "{err}");
    // No key at all, or two sources: a usage error.
    assert_eq!(run(&["codec", "key"], "").status.code(), Some(2));
    assert_eq!(run(&["codec", "memo-decrypt", "--wif", wif, "--wif-env", "X", "--from", "x", "--nonce", "1", "--message", "00"], "").status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
