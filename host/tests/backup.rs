//! `cwd-gateway backup` and `check-backup` as an operator runs them: a copy taken while
//! the real `cwd-gateway run` serves `adjust-balance` calls, checked, refused where it
//! must be, and restored by the README's procedure ("Backup and restore") without paying
//! anything twice.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config, Devnet, Production};
use serde_json::{json, Value};
use support::{call, eventually, free_port, CWD};

mod support;

fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually(what, Duration::from_secs(60), f)
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cwd-gateway")).args(args).output().expect("running cwd-gateway")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `check-backup --json FILE`: the exit code and the JSON object.
fn check_json(file: &Path) -> (Option<i32>, Value) {
    let out = cli(&["check-backup", "--json", file.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {} / {}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), v)
}

fn backup(config: &Path, to: &Path, force: bool) -> Output {
    let mut args = vec!["backup", "--config", config.to_str().unwrap(), "--to", to.to_str().unwrap()];
    if force {
        args.push("--force");
    }
    cli(&args)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Entries per top-level prefix, all entries and the last version, read from the live
/// store directly (read-only).
fn live_counts(db: &Path) -> (Value, u64, u64) {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut prefixes = serde_json::Map::new();
    let mut total = 0;
    let keys: Vec<String> = conn.prepare("SELECT key FROM kv").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for k in keys {
        let p = k.split('/').next().unwrap().to_string();
        let n = prefixes.get(&p).and_then(Value::as_u64).unwrap_or(0);
        prefixes.insert(p, json!(n + 1));
        total += 1;
    }
    let seq: i64 = conn.query_row("SELECT seq FROM kv_seq WHERE id = 0", [], |r| r.get(0)).unwrap();
    (Value::Object(prefixes), total, seq as u64)
}

/// SIGTERM, then wait: the gateway's own clean stop.
fn stop(gw: &mut support::KillOnDrop) {
    // SAFETY: a signal to our own child's pid.
    unsafe { libc::kill(gw.0.id() as i32, libc::SIGTERM) };
    gw.0.wait().unwrap();
}

fn balance(port: u16, user: &str) -> (u64, u64) {
    let a = call(port, "account", json!({ "user": user })).unwrap();
    (a["balance"].as_u64().unwrap(), a["frozen"].as_u64().unwrap())
}

fn confirmed(port: u16, id: &str) -> Value {
    wait("the withdrawal to be final", || {
        let w = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (w["state"] == "confirmed" || w["state"] == "failed").then_some(w)
    })
}

/// `adjust-balance` of +1 on `user` with key `<user>-<i>`, retried until answered.
fn bump(port: u16, user: &str, i: u64) {
    let args = json!({ "user": user, "delta": 1, "idempotency_key": format!("{user}-{i}"), "reason": "match" });
    wait("an adjust-balance answer", || call(port, "adjust-balance", args.clone()).ok());
}

#[test]
fn backup_taken_while_serving_checks_and_restores_without_paying_twice() {
    let devnet = Devnet::start(Config { production: Production::Timer(Duration::from_millis(100)), ..Config::simulated("backup-online") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * CWD)).unwrap();
    let player = devnet.create_account(AccountSpec::new("kim-cwd", 100 * CWD)).unwrap();
    let dir = std::env::temp_dir().join(format!("cwd-backup-online-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    support::write_private(&dir.join("keys.toml"), &format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", gateway.active_wif.clone().unwrap(), gateway.memo_wif.clone().unwrap()));
    let config = dir.join("gateway.toml");
    std::fs::write(&config, support::run_config(&devnet.chain_id_hex(), devnet.url(), &dir, port, "")).unwrap();
    let db = dir.join("gateway.db");

    let mut gw = support::spawn_run(&dir);
    wait("the HTTP API", || call(port, "status", json!({})).ok());
    let started = call(port, "start-link", json!({ "user": "kim", "account": "kim-cwd" })).unwrap();
    let code = support::link_code(&devnet, &player, started["code_digits"].as_u64().unwrap() as usize, Duration::from_secs(60));
    call(port, "confirm-link", json!({ "user": "kim", "code": code })).unwrap();
    devnet.transfer("kim-cwd", "game-gateway", 20 * CWD, None, None).unwrap();
    wait("the deposit", || (call(port, "account", json!({ "user": "kim" })).ok()?["balance"] == 1_800).then_some(()));
    // A payout the backup knows of.
    let w1 = call(port, "request-withdrawal", json!({ "user": "kim", "cwd": 5 * CWD, "idempotency_key": "w1" })).unwrap();
    assert_eq!(confirmed(port, w1["withdrawal_id"].as_str().unwrap())["state"], "confirmed");

    // Two game servers credit their players without pause; the backup is taken meanwhile.
    let stop_writing = Arc::new(AtomicBool::new(false));
    let done: Vec<Arc<std::sync::atomic::AtomicU64>> = (0..2).map(|_| Arc::new(std::sync::atomic::AtomicU64::new(0))).collect();
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (stop_writing, done) = (stop_writing.clone(), done[t].clone());
            std::thread::spawn(move || {
                let user = format!("p{t}");
                while !stop_writing.load(Ordering::Relaxed) {
                    bump(port, &user, done.load(Ordering::Relaxed));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let applied = || done.iter().map(|d| d.load(Ordering::Relaxed)).sum::<u64>();
    wait("the first credits", || (applied() >= 10).then_some(()));
    let online = dir.join("online.db");
    let before = applied();
    let out = backup(&config, &online, false);
    assert!(out.status.success(), "backup: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("integrity ok"), "{}", text(&out.stdout));
    let during = applied();
    eprintln!("credits before the backup {before}, when it returned {during}");
    wait("more credits after the backup", || (applied() >= during + 10).then_some(()));
    stop_writing.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let credited: Vec<u64> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
    assert!(before < during, "the gateway answered credits while the backup was taken ({before} before, {during} after)");
    assert_eq!(mode(&online), 0o600, "the copy holds the ledger");
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")), "no temporary file left");

    // A payout the backup does not know of.
    let w2 = call(port, "request-withdrawal", json!({ "user": "kim", "cwd": 5 * CWD, "idempotency_key": "w2" })).unwrap();
    let w2_id = w2["withdrawal_id"].as_str().unwrap().to_string();
    assert_eq!(confirmed(port, &w2_id)["state"], "confirmed");
    assert_eq!(support::payouts(&devnet, &player.id_string()).len(), 2);

    let (code, report) = check_json(&online);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!((report["ok"].as_bool(), report["integrity"].as_str(), report["schema_version"].as_i64()), (Some(true), Some("ok"), Some(1)), "{report}");
    assert!(report["prefixes"]["adj"].as_u64().unwrap() >= 10 && report["prefixes"]["user"].as_u64().unwrap() == 3, "{report}");
    assert_eq!(report["entries"].as_u64(), Some(report["prefixes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum()));
    assert!(report["scanned_through_block"].as_u64().unwrap() > 0, "{report}");
    let human = cli(&["check-backup", online.to_str().unwrap()]);
    assert!(human.status.success() && text(&human.stdout).contains("integrity ok") && text(&human.stdout).contains("entries by key prefix"), "{}", text(&human.stdout));

    // Quiescent: the gateway stopped, a copy holds exactly what the store holds.
    stop(&mut gw);
    let online_bytes = std::fs::read(&online).unwrap();
    let out = backup(&config, &online, false);
    assert_eq!(out.status.code(), Some(2), "an existing file is not overwritten");
    assert!(text(&out.stderr).contains("exists: give --force"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&online).unwrap(), online_bytes, "left as it was");
    let quiet = dir.join("quiet.db");
    assert!(backup(&config, &quiet, false).status.success());
    let out = backup(&config, &quiet, true);
    assert!(out.status.success(), "--force replaces: {}", text(&out.stderr));
    assert_eq!(mode(&quiet), 0o600);
    let (prefixes, entries, last_version) = live_counts(&db);
    let (code, report) = check_json(&quiet);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!((&report["prefixes"], report["entries"].as_u64(), report["last_version"].as_u64()), (&prefixes, Some(entries), Some(last_version)));

    // Not a store, a truncated copy: refused, saying which.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not a database at all, just some words about the gateway\n".repeat(10)).unwrap();
    let out = cli(&["check-backup", notes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not an SQLite database"), "{}", text(&out.stderr));
    let half = dir.join("half.db");
    let bytes = std::fs::read(&quiet).unwrap();
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let (code, report) = check_json(&half);
    assert_eq!((code, report["ok"].as_bool()), (Some(1), Some(false)), "{report}");
    assert!(report["error"].as_str().unwrap().contains("truncated"), "{report}");

    // The restore procedure: the service stopped (above), the copy checked, moved into
    // place private, the old files moved aside, the gateway started.
    let aside = dir.join("replaced");
    std::fs::create_dir_all(&aside).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let f = dir.join(format!("gateway.db{suffix}"));
        if f.exists() {
            std::fs::rename(&f, aside.join(format!("gateway.db{suffix}"))).unwrap();
        }
    }
    assert!(cli(&["check-backup", online.to_str().unwrap()]).status.success());
    std::fs::copy(&online, &db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, restored_report) = check_json(&online);
    let _gw2 = support::spawn_run(&dir);
    wait("the restored HTTP API", || call(port, "status", json!({})).ok());

    // The balances are the copy's: its totals sum them, and kim has W2's units back.
    let (kim, kim_frozen) = balance(port, "kim");
    assert_eq!((kim, kim_frozen), (1_800 - 500, 0), "the copy predates W2");
    let (b0, b1) = (balance(port, "p0").0, balance(port, "p1").0);
    assert_eq!(restored_report["totals"]["balance_game"].as_u64(), Some(kim + b0 + b1), "{restored_report}");

    // W2, paid on chain and unknown to the copy, pauses payouts.
    let unknown = wait("the unknown payout", || {
        let listed = call(port, "list-unknown-payouts", json!({})).ok()?;
        (!listed.as_array()?.is_empty()).then_some(listed)
    });
    assert_eq!(unknown.as_array().unwrap().len(), 1, "{unknown}");
    assert_eq!((unknown[0]["memo_withdrawal_id"].as_str(), unknown[0]["amount"].as_u64()), (Some(w2_id.as_str()), Some(5 * CWD as u64)));
    assert_eq!(call(port, "status", json!({})).unwrap()["payouts_paused"], true);
    let w3 = call(port, "request-withdrawal", json!({ "user": "kim", "cwd": 3 * CWD, "idempotency_key": "w3" })).unwrap();
    let w3_id = w3["withdrawal_id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(support::payouts(&devnet, &player.id_string()).len(), 2, "paused: nothing paid blindly");

    // Every credit replayed by its key: those in the copy are not applied again, those
    // after it are; each player ends with exactly one unit per key.
    for (t, n) in credited.iter().enumerate() {
        for i in 0..*n {
            bump(port, &format!("p{t}"), i);
        }
        assert_eq!(balance(port, &format!("p{t}")).0, *n, "p{t}: every credit exactly once");
    }

    // Settled with kim, acknowledged: payouts resume, and W3 is paid once.
    call(port, "adjust-balance", json!({ "user": "kim", "delta": -500, "idempotency_key": "settle-w2", "reason": "W2 was paid before the restore" })).unwrap();
    let deposit_id = unknown[0]["deposit_id"].as_str().unwrap();
    let ack = call(port, "acknowledge-unknown-payout", json!({ "deposit_id": deposit_id, "note": "restore: W2 paid, settled" })).unwrap();
    assert_eq!(ack["acknowledged"], true);
    assert_eq!(confirmed(port, &w3_id)["state"], "confirmed");
    assert_eq!(support::payouts(&devnet, &player.id_string()).len(), 3, "W1, W2 and W3, each once");
    assert_eq!(balance(port, "kim"), (1_800 - 500 - 300 - 500, 0));
    drop(_gw2);
    std::fs::remove_dir_all(&dir).ok();
}

/// A PostgreSQL store is not copied: the pg_dump line, without the password. An
/// in-memory one has nothing to copy. A missing file is a usage error.
#[test]
fn backup_refuses_postgres_with_the_pg_dump_line_and_memory_stores() {
    let dir = std::env::temp_dir().join(format!("cwd-backup-refusals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    let base = support::run_config(&"00".repeat(32), "http://127.0.0.1:1", &dir, 1, "");
    let with_store = |store: &str| base.replace(&format!("[store]\npath = \"{}\"", dir.join("gateway.db").display()), store);
    std::fs::write(&config, with_store("[store]\nurl = \"postgres://gw:hunter2-secret@127.0.0.1:5432/gateway\"")).unwrap();
    let to = dir.join("pg.dump");
    let out = backup(&config, &to, false);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pg_dump --format=custom --table=cwd_kv --table=cwd_kv_version --table=cwd_gateway_meta"), "{err}");
    assert!(err.contains("postgres://gw@127.0.0.1:5432/gateway") && err.contains("pg_restore"), "{err}");
    assert!(!err.contains("hunter2") && !text(&out.stdout).contains("hunter2"), "{err}");
    assert!(!to.exists());

    std::fs::write(&config, with_store("[store]\npath = \":memory:\"")).unwrap();
    let out = backup(&config, &to, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("in-memory"), "{}", text(&out.stderr));

    // No store at [store] path: refused, nothing created.
    std::fs::write(&config, &base).unwrap();
    let out = backup(&config, &to, false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.join("gateway.db").exists(), "the store is never created");
    let out = cli(&["check-backup", dir.join("nothing.db").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
