//! A real signer on a Unix socket (and TCP), asked by a real client.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use cwd_codec::signing::recover;
use cwd_signer::{ConfigError, Server, SignError, SignerAddress, SignerClient, SignerConfig};
use serde_json::Value;

#[track_caller]
fn refused(result: Result<[u8; 65], SignError>, rule: &str) -> String {
    match result {
        Err(SignError::Refused { rule: r, reason }) if r == rule => reason,
        other => panic!("expected a refusal by {rule}, got {other:?}"),
    }
}

fn spent(client: &SignerClient) -> u64 {
    client.health().unwrap()["signed_last_24h"].as_u64().unwrap()
}

fn log(client: &SignerClient) -> Vec<Value> {
    client.log(0, 1000).unwrap()["entries"].as_array().unwrap().clone()
}

#[test]
fn a_transfer_is_signed_by_the_active_key_and_a_repeat_gets_the_same_signature() {
    let setup = Setup::standard();
    let (server, client) = setup.start();
    let tx = transfer_tx(30, 500_000, 100, 1);
    let signature = client.sign(&CHAIN, &tx.to_bytes()).unwrap();
    assert_eq!(recover(&tx.digest(&CHAIN), &signature).unwrap(), key().public_key());

    let health = client.health().unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["account"], "1.2.17");
    assert_eq!(health["public_key"], key().public_key().to_string());
    assert_eq!(health["signed_last_24h"], 500_100);
    assert_eq!(health["max_per_day"], 3_000_000);

    assert_eq!(client.sign(&CHAIN, &tx.to_bytes()).unwrap(), signature);
    let (status, _, body) = raw(
        Via::Unix(server.socket_path()),
        "POST",
        "/v1/sign",
        &[],
        sign_body(&CHAIN, &tx.to_bytes()),
    );
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["repeated"], true);
    assert_eq!(body["signature"], hex::encode(signature));
    assert_eq!(body["tx_id"], hex::encode(tx.id()));
    assert_eq!(spent(&client), 500_100, "a repeat is not counted again");

    let outcomes: Vec<Value> = log(&client).iter().map(|e| e["outcome"].clone()).collect();
    assert_eq!(outcomes, ["signed", "repeated", "repeated"]);
    server.shutdown();
}

#[test]
fn the_daily_total_holds() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    for (i, to) in [30, 31, 32].into_iter().enumerate() {
        client.sign(&CHAIN, &transfer(to, 990_000, 10_000, i as u16)).unwrap();
    }
    assert_eq!(spent(&client), 3_000_000);
    let reason = refused(client.sign(&CHAIN, &transfer(33, 1, 0, 9)), "daily-total");
    assert!(reason.contains("max_per_day"), "{reason}");
    // A message's fee is spending too.
    refused(client.sign(&CHAIN, &message(33, 1, 10)), "daily-total");
    client.sign(&CHAIN, &message(33, 0, 11)).unwrap();
    assert_eq!(spent(&client), 3_000_000);
}

#[test]
fn the_per_destination_total_holds() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    client.sign(&CHAIN, &transfer(30, 990_000, 10_000, 1)).unwrap();
    client.sign(&CHAIN, &transfer(30, 990_000, 10_000, 2)).unwrap();
    // Exactly at the limit passes; one unit more does not.
    client.sign(&CHAIN, &transfer(30, 20_000, 10_000, 3)).unwrap();
    refused(client.sign(&CHAIN, &transfer(30, 1, 10, 4)), "destination-daily-total");
    client.sign(&CHAIN, &transfer(31, 1, 10, 5)).unwrap();
}

#[test]
fn the_per_transaction_limit_holds() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    refused(
        client.sign(&CHAIN, &transfer(30, 990_001, 10_000, 1)),
        "per-transaction",
    );
    client.sign(&CHAIN, &transfer(30, 990_000, 10_000, 1)).unwrap();
    refused(client.sign(&CHAIN, &transfer(30, 10, 10_001, 2)), "fee-too-high");
}

#[test]
fn what_the_signer_must_never_sign_is_refused() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    // An account_update (op 6, which could change the account's keys): the first op's tag.
    let mut update = transfer(30, 10, 10, 1);
    update[11] = 6;
    let reason = refused(client.sign(&CHAIN, &update), "operation-not-allowed");
    assert_eq!(reason, "operation 6 is not allowed: only transfer and send_message");
    update[11] = 22; // proposal_create
    refused(client.sign(&CHAIN, &update), "operation-not-allowed");

    refused(client.sign(&[0x11; 32], &transfer(30, 10, 10, 2)), "wrong-chain");

    let mut other = transfer_tx(30, 10, 10, 3);
    let cwd_codec::ops::Operation::Transfer(op) = &mut other.operations[0] else {
        unreachable!()
    };
    op.from = cwd_codec::ops::AccountId(18);
    refused(client.sign(&CHAIN, &other.to_bytes()), "wrong-account");

    let mut two = transfer_tx(30, 10, 10, 4);
    two.operations.push(two.operations[0].clone());
    refused(client.sign(&CHAIN, &two.to_bytes()), "one-operation-only");

    let mut late = transfer_tx(30, 10, 10, 5);
    late.expiration = now_s() + 7200;
    refused(client.sign(&CHAIN, &late.to_bytes()), "expiration");

    refused(client.sign(&CHAIN, b"not a transaction"), "unreadable");
    assert_eq!(spent(&client), 0);
    let rules: Vec<Value> = log(&client).iter().map(|e| e["rule"].clone()).collect();
    assert_eq!(
        rules,
        [
            "operation-not-allowed",
            "operation-not-allowed",
            "wrong-chain",
            "wrong-account",
            "one-operation-only",
            "expiration",
            "unreadable"
        ]
    );
}

#[test]
fn sweeps_to_the_cold_account_pass_the_limits_and_do_not_count() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    let sweep = transfer_tx(COLD, 50_000_000, 10_000, 1);
    let signature = client.sign(&CHAIN, &sweep.to_bytes()).unwrap();
    assert_eq!(recover(&sweep.digest(&CHAIN), &signature).unwrap(), key().public_key());
    assert_eq!(spent(&client), 0);
    refused(
        client.sign(&CHAIN, &transfer(COLD, 50_000_000, 10_001, 2)),
        "fee-too-high",
    );
    // The day's limits are still whole.
    for i in 0..3 {
        client
            .sign(&CHAIN, &transfer(30 + i, 990_000, 10_000, 10 + i as u16))
            .unwrap();
    }
}

#[test]
fn the_log_lists_every_decision_in_order_and_pages() {
    let setup = Setup::standard();
    let (server, client) = setup.start();
    let first = transfer_tx(30, 1_000, 10, 1);
    client.sign(&CHAIN, &first.to_bytes()).unwrap();
    client.sign(&CHAIN, &first.to_bytes()).unwrap();
    refused(
        client.sign(&CHAIN, &transfer(30, 990_001, 10_000, 2)),
        "per-transaction",
    );
    client.sign(&CHAIN, &message(31, 5, 3)).unwrap();
    refused(client.sign(&[0; 32], &transfer(30, 1, 1, 4)), "wrong-chain");

    let entries = log(&client);
    let summary: Vec<(String, Option<String>)> = entries
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_string(),
                e["rule"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("signed".into(), None),
            ("repeated".into(), None),
            ("refused".into(), Some("per-transaction".into())),
            ("signed".into(), None),
            ("refused".into(), Some("wrong-chain".into())),
        ]
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let e = &entries[0];
    assert_eq!(e["tx_id"], hex::encode(first.id()));
    assert_eq!(
        (e["operation"].as_str(), e["from"].as_str(), e["to"].as_str()),
        (Some("transfer"), Some("1.2.17"), Some("1.2.30"))
    );
    assert_eq!((e["amount"].as_i64(), e["fee"].as_i64()), (Some(1_000), Some(10)));
    assert_eq!(e["expiration"].as_u64(), Some(u64::from(first.expiration)));
    assert!(e["peer"].as_str().unwrap().starts_with("unix uid="), "{e}");
    assert_eq!(entries[3]["operation"], "send_message");
    assert!(entries[2]["reason"].as_str().unwrap().contains("max_per_transaction"));

    let page = client.log(0, 2).unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], seqs[1]);
    let last = client.log(seqs[1], 3).unwrap();
    assert_eq!(last["entries"].as_array().unwrap().len(), 3);
    assert_eq!(last["next"], Value::Null);
    let (status, _, _) = raw(Via::Unix(server.socket_path()), "GET", "/v1/log?limit=0", &[], vec![]);
    assert_eq!(status, 400);
    let (status, _, _) = raw(
        Via::Unix(server.socket_path()),
        "GET",
        "/v1/log?limit=1001",
        &[],
        vec![],
    );
    assert_eq!(status, 400);
}

#[test]
fn limits_hold_across_a_restart() {
    let setup = Setup::standard();
    let (server, client) = setup.start();
    let first = transfer(30, 990_000, 10_000, 1);
    let signature = client.sign(&CHAIN, &first).unwrap();
    client.sign(&CHAIN, &transfer(31, 990_000, 10_000, 2)).unwrap();
    client.sign(&CHAIN, &transfer(32, 990_000, 10_000, 3)).unwrap();
    server.shutdown();
    assert!(
        !setup.dir.path().join("signer.sock").exists(),
        "shutdown releases the socket"
    );

    let (server, client) = setup.start();
    assert_eq!(spent(&client), 3_000_000);
    refused(client.sign(&CHAIN, &transfer(33, 1, 0, 4)), "daily-total");
    assert_eq!(client.sign(&CHAIN, &first).unwrap(), signature);
    assert_eq!(log(&client).len(), 5);
    server.shutdown();
}

#[test]
fn a_key_file_others_can_read_is_refused_at_start() {
    let setup = Setup::standard();
    let key_file = setup.dir.path().join("active.wif");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    match SignerConfig::load(&setup.config) {
        Err(
            e @ ConfigError::SecretPermissions {
                field: "active_key_file",
                mode: 0o644,
                ..
            },
        ) => {
            assert!(e.to_string().contains("chmod 600"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let err = cwd_signer::run(&setup.config).unwrap_err();
    assert!(err.to_string().contains("active_key_file"), "{err}");
    assert!(!setup.dir.path().join("signer.sock").exists());
    assert!(!setup.dir.path().join("signer.db").exists());
}

#[test]
fn the_socket_is_private_and_a_stale_one_is_replaced_but_a_live_one_is_not() {
    let setup = Setup::standard();
    let socket = setup.dir.path().join("signer.sock");
    // A stale socket file nobody listens on, as a crash leaves it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let (server, client) = setup.start();
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(setup.dir.path().join("signer.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    client.health().unwrap();

    let err = Server::start(setup.load())
        .err()
        .expect("a second signer on a live socket is refused");
    assert!(err.to_string().contains("another process listens"), "{err}");
    client.health().unwrap();
    // Nothing of the private binding directories is left behind.
    let names: Vec<String> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".signer-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    server.shutdown();
    assert!(!socket.exists());
    assert!(matches!(client.health(), Err(SignError::Unavailable(_))));

    std::fs::write(&socket, "not a socket").unwrap();
    let err = Server::start(setup.load())
        .err()
        .expect("a regular file is not replaced");
    assert!(err.to_string().contains("not a socket"), "{err}");
}

#[test]
fn tcp_needs_the_token_on_every_route() {
    let setup = Setup::with_tcp();
    let (server, unix_client) = setup.start();
    let addr = server.tcp_addr().expect("tcp is configured");
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let tx = transfer(30, 1_000, 10, 1);

    for (method, path) in [
        ("POST", "/v1/sign"),
        ("GET", "/v1/log"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/nowhere"),
    ] {
        let body = if method == "POST" {
            sign_body(&CHAIN, &tx)
        } else {
            vec![]
        };
        let (status, headers, text) = raw(Via::Tcp(addr), method, path, &[], body.clone());
        assert_eq!(status, 401, "{path}: {text}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        let wrong = format!("Bearer {}x", TOKEN);
        let (status, _, _) = raw(Via::Tcp(addr), method, path, &[("authorization", &wrong)], body.clone());
        assert_eq!(status, 401, "{path}");
        let (status, _, _) = raw(Via::Tcp(addr), method, path, &[("authorization", TOKEN)], body);
        assert_eq!(status, 401, "{path}: the token without `Bearer`");
    }
    let wrong = SignerClient::new(
        SignerAddress::Tcp {
            addr,
            token: zeroize::Zeroizing::new("not-the-token-0123456789".into()),
        },
        Duration::from_secs(5),
    );
    match wrong.sign(&CHAIN, &tx) {
        Err(SignError::Unavailable(why)) => {
            assert!(why.contains("token"), "{why}");
            assert!(!why.contains("not-the-token"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(log(&unix_client).is_empty(), "nothing was even considered");
    assert_eq!(spent(&unix_client), 0);

    let right = SignerClient::new(
        SignerAddress::Tcp {
            addr,
            token: zeroize::Zeroizing::new(TOKEN.into()),
        },
        Duration::from_secs(5),
    );
    let signature = right.sign(&CHAIN, &tx).unwrap();
    assert_eq!(
        recover(&cwd_signer::policy::digest_of(&CHAIN, &tx), &signature).unwrap(),
        key().public_key()
    );
    assert_eq!(right.health().unwrap()["signed_last_24h"], 1_010);
    let entries = log(&unix_client);
    assert_eq!(entries.len(), 1);
    assert!(entries[0]["peer"].as_str().unwrap().starts_with("tcp 127.0.0.1:"));
}

#[test]
fn concurrent_requests_cannot_pass_the_daily_total_together() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    let client = Arc::new(client);
    let threads: Vec<_> = (0..8u16)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..2u16)
                    .map(|j| {
                        client.sign(
                            &CHAIN,
                            &transfer(100 + u64::from(i * 2 + j), 990_000, 10_000, i * 2 + j),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let signed = results.iter().filter(|r| r.is_ok()).count();
    let daily = results
        .iter()
        .filter(|r| matches!(r, Err(SignError::Refused { rule, .. }) if rule == "daily-total"))
        .count();
    assert_eq!((signed, daily), (3, 13), "{results:?}");
    assert_eq!(spent(&client), 3_000_000);
}

#[test]
fn a_failed_record_releases_no_signature() {
    let setup = Setup::standard();
    let (_server, client) = setup.start();
    let db = rusqlite::Connection::open(setup.dir.path().join("signer.db")).unwrap();
    db.execute_batch("CREATE TRIGGER full BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    let tx = transfer(30, 1_000, 10, 1);
    match client.sign(&CHAIN, &tx) {
        Err(SignError::Unavailable(why)) => assert!(why.contains("503") && why.contains("disk full"), "{why}"),
        other => panic!("{other:?}"),
    }
    db.execute_batch("DROP TRIGGER full").unwrap();
    assert_eq!(spent(&client), 0, "the signed row went with the log row");
    let (status, _, body) = raw(
        Via::Unix(_server.socket_path()),
        "POST",
        "/v1/sign",
        &[],
        sign_body(&CHAIN, &tx),
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"repeated\":false"), "{body}");
}

#[test]
fn bad_requests_are_told_so() {
    let setup = Setup::standard();
    let (server, client) = setup.start();
    let socket = server.socket_path();
    for body in [
        &b"{}"[..],
        b"not json",
        br#"{"chain_id":"zz","transaction":"00"}"#,
        br#"{"chain_id":"00","transaction":"00","x":1}"#,
    ] {
        let (status, _, text) = raw(Via::Unix(socket), "POST", "/v1/sign", &[], body.to_vec());
        assert_eq!(status, 400, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"], "bad-request");
        assert!(v["reason"].is_string());
    }
    let chain = hex::encode(CHAIN);
    let body = format!(r#"{{"chain_id":"{chain}","transaction":"zz"}}"#);
    assert_eq!(
        raw(Via::Unix(socket), "POST", "/v1/sign", &[], body.into_bytes()).0,
        400
    );
    let huge = sign_body(&CHAIN, &vec![0u8; 40 * 1024]);
    let (status, _, text) = raw(Via::Unix(socket), "POST", "/v1/sign", &[], huge);
    assert_eq!(status, 413, "{text}");
    assert_eq!(raw(Via::Unix(socket), "GET", "/v2/sign", &[], vec![]).0, 404);
    assert!(log(&client).is_empty());
}

#[test]
fn metrics_count_the_decisions() {
    let setup = Setup::standard();
    let (server, client) = setup.start();
    let tx = transfer(30, 1_000, 10, 1);
    client.sign(&CHAIN, &tx).unwrap();
    client.sign(&CHAIN, &tx).unwrap();
    refused(client.sign(&[1; 32], &tx), "wrong-chain");
    let (status, headers, text) = raw(Via::Unix(server.socket_path()), "GET", "/metrics", &[], vec![]);
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    for line in [
        "cwd_signer_signed_total 1",
        "cwd_signer_repeated_total 1",
        "cwd_signer_refused_total{rule=\"wrong-chain\"} 1",
        "cwd_signer_refused_total{rule=\"daily-total\"} 0",
        "cwd_signer_spent_24h 1010",
        "cwd_signer_max_per_day 3000000",
        "# TYPE cwd_signer_refused_total counter",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
}

#[test]
fn the_binary_serves_until_sigterm() {
    use std::io::{BufRead, BufReader};
    let setup = Setup::standard();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cwd-signer"))
        .arg(&setup.config)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let socket = setup.dir.path().join("signer.sock");
    assert_eq!(line.trim_end(), format!("signer listening on {}", socket.display()));
    let client = SignerClient::new(SignerAddress::Unix(socket.clone()), Duration::from_secs(5));
    client.sign(&CHAIN, &transfer(30, 1_000, 10, 1)).unwrap();

    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(!socket.exists(), "the socket is removed on the way out");
}
