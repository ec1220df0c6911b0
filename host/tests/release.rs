//! What a release promises before it is built (packaging/release checks it again on the
//! artifacts): one version everywhere, a binary that names the component it holds, and a
//! `devnet` subcommand that serves the npm package's tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sha2::Digest;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn crates_npm_wit_and_changelog_name_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    let npm: serde_json::Value = serde_json::from_str(&repo_file("js/package.json")).unwrap();
    assert_eq!(npm["version"], version, "js/package.json");
    let lock: serde_json::Value = serde_json::from_str(&repo_file("js/package-lock.json")).unwrap();
    assert_eq!(lock["version"], version, "js/package-lock.json (npm install updates it)");
    let wit = repo_file("wit/world.wit");
    assert!(wit.lines().any(|l| l == format!("package crowdwiz:gateway@{version};")), "wit/world.wit's package is not @{version}");
    for other in std::fs::read_dir(format!("{}/../wit", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let text = std::fs::read_to_string(other.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| l.contains("crowdwiz:gateway@")) {
            assert!(line.contains(&format!("crowdwiz:gateway@{version}")), "a WIT file names another version: {line}");
        }
    }
    let changelog = repo_file("CHANGELOG.md");
    assert!(changelog.lines().any(|l| l.starts_with(&format!("## {version} "))), "CHANGELOG.md has no \"## {version}\" entry");
}

#[test]
fn version_names_the_embedded_component() {
    let out = Command::new(env!("CARGO_BIN_EXE_cwd-gateway")).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(cwd_gateway_host::runtime::EMBEDDED_WASM));
    assert!(
        text.starts_with(&format!("cwd-gateway {} (component sha256:{digest}, wasmtime ", env!("CARGO_PKG_VERSION"))),
        "--version printed {text:?}"
    );
}

/// `cwd-gateway devnet` takes `cwd-devnet`'s options and prints what the npm package's
/// `startDevnet` reads: the URL, the chain id, one JSON line per account with its keys.
#[test]
fn devnet_subcommand_serves_what_the_npm_package_reads() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["devnet", "--listen", "127.0.0.1:0", "--block-seconds", "0.5", "--lag", "2", "--account", "crowdwiz-gateway:1000", "--account", "alice-cwd:500"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let url = next().strip_prefix("devnet JSON-RPC: ").expect("the URL first").to_string();
    assert!(next().starts_with("devnet control:  "));
    let chain_id = next().strip_prefix("chain id:        ").expect("then the chain id").to_string();
    let gateway: serde_json::Value = serde_json::from_str(&next()).unwrap();
    let alice: serde_json::Value = serde_json::from_str(&next()).unwrap();
    assert_eq!((gateway["name"].as_str(), alice["name"].as_str()), (Some("crowdwiz-gateway"), Some("alice-cwd")));
    assert!(alice["active_wif"].as_str().is_some_and(|w| w.starts_with('5')));
    // It answers as a node: the chain id it printed, and alice's 500 CWD.
    let ask = |method: &str, params: serde_json::Value| -> serde_json::Value {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "call", "params": [0, method, params]});
        ureq::post(&url).send_json(body).unwrap().into_json::<serde_json::Value>().unwrap()["result"].clone()
    };
    assert_eq!(ask("get_chain_id", serde_json::json!([])), chain_id.as_str());
    let balances = ask("get_named_account_balances", serde_json::json!(["alice-cwd", []]));
    assert_eq!(balances[0]["amount"].as_i64().or_else(|| balances[0]["amount"].as_str()?.parse().ok()), Some(50_000_000), "{balances}");
    child.kill().unwrap();
    child.wait().unwrap();

    let bad = Command::new(env!("CARGO_BIN_EXE_cwd-gateway")).args(["devnet", "--account", "x:1"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid account name"));
}
