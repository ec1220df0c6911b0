//! Known secrets planted everywhere an operator might put them (key file, token file,
//! webhook secret file, credentials in node URLs, and by mistake in the main
//! configuration); the real `cwd-gateway run` process is driven through success,
//! refusals and node failures; none of the secrets may appear in its output, logs,
//! events (webhook bodies), API answers or database files.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config, Devnet, FaultKind, FaultRule, Production};
use serde_json::{json, Value};
use support::{eventually, free_port, write_private};

mod support;

fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually(what, Duration::from_secs(60), f)
}

const TOKEN: &str = "tok-SECRET-0123456789abcdef";
const WEBHOOK_SECRET: &str = "whsec-SECRET-0123456789abcdef";
const NODE_PASSWORD: &str = "nodepassSECRET4242";
const NODE_API_KEY: &str = "apikeySECRET7777";

/// A webhook receiver that keeps every request it gets, raw.
fn webhook_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_millis(500))).ok();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&raw).into_owned());
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, got)
}

struct Gateway {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &Path, config: &Path, name: &str) -> Gateway {
    run_with(dir, config, name, &[])
}

fn run_with(dir: &Path, config: &Path, name: &str, extra: &[&str]) -> Gateway {
    let stderr = dir.join(format!("{name}.stderr"));
    let child = Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["run", "--config"])
        .arg(config)
        .args(extra)
        .env("CWD_GATEWAY_CACHE_DIR", dir.join("cache"))
        .env("RUST_LOG", "debug")
        .stdout(std::fs::File::create(dir.join(format!("{name}.stdout"))).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    Gateway { child, stderr }
}

fn call(
    port: u16,
    token: &str,
    name: &str,
    args: Value,
    answers: &Mutex<Vec<String>>,
) -> (u16, Value) {
    let r = ureq::post(&format!("http://127.0.0.1:{port}/v1/{name}"))
        .set("authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(30))
        .send_json(args);
    let (status, text) = match r {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
        Err(e) => (0, e.to_string()),
    };
    answers.lock().unwrap().push(text.clone());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn planted_secrets_appear_nowhere() {
    let devnet = Devnet::start(Config {
        production: Production::Timer(Duration::from_millis(100)),
        ..Config::seeded("secrets")
    })
    .unwrap();
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 1_000 * 100_000))
        .unwrap();
    let (active, memo) = (
        gateway.active_wif.clone().unwrap(),
        gateway.memo_wif.clone().unwrap(),
    );
    let secrets = [
        active.as_str(),
        memo.as_str(),
        TOKEN,
        WEBHOOK_SECRET,
        NODE_PASSWORD,
        NODE_API_KEY,
    ];

    let dir = std::env::temp_dir().join(format!("cwd-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_private(
        &dir.join("keys.toml"),
        &format!("active_wif = \"{active}\"\nmemo_wif = \"{memo}\"\n"),
    );
    write_private(&dir.join("token"), &format!("{TOKEN}\n"));
    write_private(&dir.join("webhook-secret"), &format!("{WEBHOOK_SECRET}\n"));
    let (hook_port, hooks) = webhook_receiver();
    let port = free_port();
    let devnet_port = devnet.addr().port();
    let config = |extra: &str| {
        format!(
            r#"[gateway]
account = "game-gateway"
chain_id = "{chain}"
tick_interval_ms = 200
[node]
urls = ["http://gw:{NODE_PASSWORD}@127.0.0.1:1/?apikey={NODE_API_KEY}", "http://gw:{NODE_PASSWORD}@127.0.0.1:{devnet_port}/?apikey={NODE_API_KEY}"]
timeout_ms = 1000
[rates]
deposit = {{ game_units = 90, per_cwd_units = 100000 }}
withdrawal = {{ game_units = 100, per_cwd_units = 100000 }}
[store]
path = "{db}"
[http]
listen = "127.0.0.1:{port}"
token_file = "{token}"
[events]
webhook_url = "http://127.0.0.1:{hook_port}/hook"
webhook_secret_file = "{hook}"
[keys]
file = "{keys}"
{extra}"#,
            chain = devnet.chain_id_hex(),
            db = dir.join("gateway.db").display(),
            token = dir.join("token").display(),
            hook = dir.join("webhook-secret").display(),
            keys = dir.join("keys.toml").display(),
        )
    };
    let mut outputs: Vec<(String, String)> = Vec::new();

    // Secrets put where they do not belong: refused, and not echoed.
    for (i, extra) in [
        format!("[log]\nformat = \"{TOKEN}\"\n"),
        format!("[runtime]\ncall_timeout_ms = \"{active}\"\n"),
        format!("[events2]\nsecret = \"{WEBHOOK_SECRET}\"\n"),
        format!("[store]\nkey = \"{memo}\"\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, config(&extra)).unwrap();
        let mut gw = run(&dir, &path, &format!("bad{i}"));
        let status = gw.child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "bad config {i} refused");
        outputs.push((
            format!("bad config {i}"),
            std::fs::read_to_string(&gw.stderr).unwrap(),
        ));
    }
    // A key file others may read is refused.
    std::fs::set_permissions(
        dir.join("keys.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(dir.join("gateway.toml"), config("")).unwrap();
    let mut gw = run(&dir, &dir.join("gateway.toml"), "open-keys");
    assert_eq!(gw.child.wait().unwrap().code(), Some(1));
    let err = std::fs::read_to_string(&gw.stderr).unwrap();
    assert!(err.contains("chmod 600"), "{err}");
    outputs.push(("world-readable key file".into(), err));
    std::fs::set_permissions(
        dir.join("keys.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    // The real thing: successes, refusals, and node failures.
    let answers = Mutex::new(Vec::new());
    let gw = run_with(&dir, &dir.join("gateway.toml"), "run", &["--log-json"]);
    wait("the HTTP API", || {
        (call(port, TOKEN, "account", json!({ "user": "x" }), &answers).0 == 200).then_some(())
    });
    call(port, TOKEN, "status", json!({}), &answers);
    call(
        port,
        "wrong-token-0123456789",
        "status",
        json!({}),
        &answers,
    );
    call(
        port,
        TOKEN,
        "start-link",
        json!({ "user": "u1", "account": "no-such-account" }),
        &answers,
    );
    call(
        port,
        TOKEN,
        "start-link",
        json!({ "user": "u1", "account": "bad name!" }),
        &answers,
    );
    let _ = ureq::get(&format!("http://127.0.0.1:{port}/ready"))
        .call()
        .map(|r| answers.lock().unwrap().push(r.into_string().unwrap()));
    // The node answers errors, then answers too late, then is gone.
    devnet.add_fault(FaultRule::share(
        1.0,
        None,
        FaultKind::Error {
            code: 1,
            message: "injected".into(),
        },
    ));
    call(
        port,
        TOKEN,
        "start-link",
        json!({ "user": "u2", "account": "game-gateway" }),
        &answers,
    );
    devnet.clear_faults();
    devnet.add_fault(FaultRule::share(
        1.0,
        None,
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    call(
        port,
        TOKEN,
        "start-link",
        json!({ "user": "u3", "account": "game-gateway" }),
        &answers,
    );
    std::thread::sleep(Duration::from_secs(1));
    drop(devnet);
    let (status, body) = call(
        port,
        TOKEN,
        "start-link",
        json!({ "user": "u4", "account": "game-gateway" }),
        &answers,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("node-unavailable")),
        "{body}"
    );
    let detail = body["error"]["message"].as_str().unwrap().to_string();
    assert!(
        detail.contains("***@127.0.0.1"),
        "the URL is named, without its credentials: {detail}"
    );
    wait("node alerts at the webhook", || {
        hooks
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.contains("node-trouble"))
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    drop(gw);

    // The webhook was signed with the trimmed secret.
    let hooks = hooks.lock().unwrap().clone();
    let first = &hooks[0];
    let (head, body) = first.split_once("\r\n\r\n").unwrap();
    let signature = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-cwd-signature:")
                .map(|v| v.trim().to_string())
        })
        .unwrap();
    let t: u64 = signature
        .split(',')
        .next()
        .and_then(|t| t.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("t=<unix seconds>");
    assert_eq!(
        cwd_gateway_host::webhooks::verify(
            WEBHOOK_SECRET.as_bytes(),
            &signature,
            body.as_bytes(),
            t,
            0
        ),
        Ok(())
    );

    let log = std::fs::read_to_string(dir.join("run.stderr")).unwrap();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--log-json wrote a line that is not JSON ({e})"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "a structured line: {v}"
        );
    }
    outputs.push(("run stderr".into(), log));
    outputs.push((
        "run stdout".into(),
        std::fs::read_to_string(dir.join("run.stdout")).unwrap(),
    ));
    outputs.extend(
        answers
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|a| ("API answer".to_string(), a)),
    );
    outputs.extend(
        hooks
            .into_iter()
            .map(|h| ("webhook request".to_string(), h)),
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("gateway.db") {
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600,
                "{name} is private"
            );
            outputs.push((
                name,
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    assert!(
        outputs
            .iter()
            .any(|(what, text)| what == "run stderr" && text.contains("node-trouble")),
        "the log shows the node trouble"
    );
    for (what, text) in &outputs {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret appears in {what}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
