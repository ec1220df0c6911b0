//! The operator's side over real HTTP (issue 25), against a devnet through the real
//! `.wasm`: four eyes needs two different operator tokens (and never the game's), every
//! operator action is in the audit trail under its token's name, settings change at
//! runtime (partial, checked, guarded by their revision), and the books reconcile with
//! the chain to the unit, then report a planted shortfall.

mod support;

use std::time::Duration;

use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::roles::Role;
use cwd_gateway_host::RuntimeConfig;
use serde_json::{json, Value};
use support::{call_as, eventually, Gw, CWD};

const ANNA: &str = "anna-SECRET-operator-token-0123";
const BOB: &str = "bob-SECRET-operator-token-01234";
const GAME: &str = "game-SECRET-token-0123456789";
const OBSERVER: &str = "observer-SECRET-token-0123456789";

fn serve(gw: &Gw) -> HttpApi {
    gw.serve_tokens(&[
        (Role::Operator, "ops-anna", ANNA),
        (Role::Operator, "ops-bob", BOB),
        (Role::Game, "game-server", GAME),
        (Role::Observer, "dashboard", OBSERVER),
    ])
}

/// The refusal of a failed call: `(status, error object)`.
fn refused(r: Result<Value, String>) -> (u16, Value) {
    let e = r.expect_err("refused");
    let (status, body) = e.split_once(' ').unwrap();
    (status.parse().unwrap(), serde_json::from_str::<Value>(body).unwrap()["error"].clone())
}

#[test]
fn four_eyes_audit_settings_and_books_over_http() {
    let gw = support::start_with("operator api", RuntimeConfig::default(), Duration::from_secs(5), |c| {
        c.withdrawals.review_above_cwd = 5 * CWD as u64;
        c.withdrawals.four_eyes_above_cwd = 8 * CWD as u64;
    });
    let alice = gw.funded_player("alice", "alice-cwd", 100 * CWD, 20 * CWD);
    let http = serve(&gw);
    let port = http.addr.port();
    let ok = |token: &str, call: &str, args: Value| call_as(port, token, call, args).unwrap_or_else(|e| panic!("{call}: {e}"));
    ok(GAME, "adjust-balance", json!({ "user": "alice", "delta": 2_000, "idempotency_key": "prize-1", "reason": "tournament" }));

    // Four eyes: above 8 CWD, two different operators; the game's token never.
    let w = ok(GAME, "request-withdrawal", json!({ "user": "alice", "cwd": 9 * CWD, "idempotency_key": "big-1" }));
    assert_eq!(w["state"], "awaiting-review", "{w}");
    let id = w["withdrawal_id"].as_str().unwrap().to_string();
    assert_eq!(refused(call_as(port, GAME, "approve-withdrawal", json!({ "withdrawal_id": id }))).0, 403);
    let first = ok(ANNA, "approve-withdrawal", json!({ "withdrawal_id": id }));
    assert_eq!((first["state"].as_str(), first["approved_by"].clone()), (Some("awaiting-review"), json!(["ops-anna"])));
    let (status, e) = refused(call_as(port, ANNA, "approve-withdrawal", json!({ "withdrawal_id": id })));
    assert_eq!((status, e["code"].as_str()), (409, Some("second-approver-needed")), "{e}");
    let released = ok(BOB, "approve-withdrawal", json!({ "withdrawal_id": id }));
    assert_eq!((released["state"].as_str(), released["approved_by"].clone()), (Some("queued"), json!(["ops-anna", "ops-bob"])));
    eventually("the payout confirmed", Duration::from_secs(60), || {
        let _ = gw.service.tick();
        (ok(OBSERVER, "get-withdrawal", json!({ "withdrawal_id": id }))["state"] == "confirmed").then_some(())
    });
    let paid: Vec<i64> = gw.payouts_to(&alice.id_string()).iter().map(|op| op[1]["amount"]["amount"].as_i64().unwrap()).collect();
    assert_eq!(paid, vec![9 * CWD], "paid once");

    // The audit trail names each token; the observer reads it, the game may not.
    let trail = ok(OBSERVER, "list-audit", json!({ "subject": id }));
    let seen: Vec<(&str, &str)> = trail.as_array().unwrap().iter().map(|e| (e["actor"].as_str().unwrap(), e["outcome"].as_str().unwrap())).collect();
    assert_eq!(seen, [("ops-bob", "ok"), ("ops-anna", "second-approver-needed"), ("ops-anna", "ok")]);
    assert!(trail.as_array().unwrap().iter().all(|e| e["call"] == "approve-withdrawal"));
    assert_eq!(refused(call_as(port, GAME, "list-audit", json!({}))).0, 403);
    assert!(!trail.to_string().contains("SECRET"), "no token in the trail");

    // Settings: partial, revision-guarded, checked; the observer may read, not write.
    let settings = ok(OBSERVER, "get-settings", json!({}));
    assert_eq!((settings["revision"].as_u64(), settings["settings"]["deposit_rate"]["game_units"].as_u64()), (Some(0), Some(90)));
    assert_eq!(refused(call_as(port, OBSERVER, "update-settings", json!({ "revision": 0, "settings": { "deposit_rate": { "game_units": 120 } } }))).0, 403);
    let (status, e) = refused(call_as(port, ANNA, "update-settings", json!({ "revision": 0, "settings": { "deposit_rte": {} } })));
    assert_eq!((status, e["code"].as_str()), (400, Some("bad-request")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("settings.deposit_rte"), "{e}");
    let (status, e) = refused(call_as(port, ANNA, "update-settings", json!({ "revision": 0, "settings": { "withdrawal_rate": { "per_cwd_units": 0 } } })));
    assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (400, Some("invalid"), Some("config.withdrawal-rate")), "{e}");
    let changed = ok(ANNA, "update-settings", json!({ "revision": 0, "settings": { "deposit_rate": { "game_units": 120 } } }));
    assert_eq!((changed["changed_by"].as_str(), changed["settings"]["deposit_rate"]["game_units"].as_u64()), (Some("ops-anna"), Some(120)));
    assert_eq!(changed["settings"]["withdrawals"]["four_eyes_above_cwd"].as_u64(), Some(8 * CWD as u64), "the rest unchanged");
    let (status, e) = refused(call_as(port, BOB, "update-settings", json!({ "revision": 0, "settings": { "deposit_rate": { "game_units": 1 } } })));
    assert_eq!((status, e["code"].as_str(), e["revision"].clone()), (409, Some("settings-changed"), changed["revision"].clone()), "{e}");
    // The next deposit is credited at the new rate.
    let before = ok(GAME, "account", json!({ "user": "alice" }))["balance"].as_u64().unwrap();
    gw.devnet.transfer("alice-cwd", "game-gateway", 10 * CWD, None, None).unwrap();
    let after = eventually("the deposit credited", Duration::from_secs(30), || {
        let _ = gw.service.tick();
        let b = ok(GAME, "account", json!({ "user": "alice" }))["balance"].as_u64().unwrap();
        (b != before).then_some(b)
    });
    assert_eq!(after - before, 10 * 120, "10 CWD at 120 game units per CWD");

    // The books, to the unit: owed against the gateway's balance on chain.
    let books = ok(OBSERVER, "reconcile", json!({}));
    let balance = ok(GAME, "account", json!({ "user": "alice" }))["balance"].as_u64().unwrap();
    assert_eq!(books["balances_game"].as_u64(), Some(balance));
    assert_eq!(books["balances_cwd"].as_u64(), Some(balance * 1_000), "100 game units per CWD");
    assert_eq!((books["unsent_cwd"].as_u64(), books["sent_cwd"].as_u64(), books["unclaimed_cwd"].as_u64()), (Some(0), Some(0), Some(0)));
    let hot = gw.devnet.balance_of("game-gateway").unwrap();
    assert_eq!(books["hot_cwd"].as_i64(), Some(hot));
    assert_eq!(books["cold_cwd"].as_i64(), Some(0), "no cold account");
    assert_eq!(books["surplus_cwd"].as_i64(), Some(hot - (balance * 1_000) as i64));
    assert_eq!(books["mismatch"], false);
    // Planted: the hot account pays out what the books do not know of.
    let surplus = books["surplus_cwd"].as_i64().unwrap();
    let mallory = gw.devnet.create_account(cwd_devnet::AccountSpec::new("mallory", 0)).unwrap();
    gw.devnet.transfer("game-gateway", &mallory.name, surplus + 1, None, None).unwrap();
    let short = eventually("the shortfall seen", Duration::from_secs(30), || {
        let b = ok(OBSERVER, "reconcile", json!({}));
        (b["mismatch"] == true).then_some(b)
    });
    assert!(short["surplus_cwd"].as_i64().unwrap() < 0, "{short}");
    assert!(short["explanation"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().starts_with("SHORT by ")), "{short}");
    let alerts: Vec<Value> = gw.events.snapshot().into_iter().filter(|e| e["type"] == "alert" && e["kind"] == "books-mismatch").collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");

    // Statements and the day's movements: the journal explains the balance; CSV too.
    let lines = ok(GAME, "statement", json!({ "user": "alice" }));
    let lines = lines.as_array().unwrap();
    let sum: i64 = lines.iter().map(|m| m["balance_delta"].as_i64().unwrap()).sum();
    assert_eq!(sum as u64, balance, "{lines:?}");
    let kinds: Vec<&str> = lines.iter().rev().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["deposit", "adjustment", "withdrawal", "withdrawal-paid", "deposit"]);
    let csv = csv_of(port, ANNA, "statement", json!({ "user": "alice", "format": "csv" }));
    let rows: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(rows[0], "id,at_ms,user,kind,reference,balance_delta,frozen_delta,cwd,note");
    assert_eq!(rows.len(), lines.len() + 1);
    let today = ok(OBSERVER, "list-movements", json!({}));
    assert!(today.as_array().unwrap().len() >= lines.len(), "{today}");
    let (status, e) = refused(call_as(port, OBSERVER, "list-movements", json!({ "day": "2026-02-30" })));
    assert_eq!((status, e["code"].as_str()), (400, Some("bad-request")));
    let audit_csv = csv_of(port, OBSERVER, "list-audit", json!({ "format": "csv" }));
    assert!(audit_csv.starts_with("id,at_ms,actor,call,subject,arguments,outcome\r\n"), "{audit_csv}");
    assert!(audit_csv.contains(",ops-anna,update-settings,settings,"), "{audit_csv}");
    let (status, e) = refused(call_as(port, OBSERVER, "reconcile", json!({ "format": "csv" })));
    assert_eq!((status, e["code"].as_str()), (400, Some("bad-request")), "csv only for listings");
}

/// `POST /v1/<call>` answered as CSV: the text.
fn csv_of(port: u16, token: &str, call: &str, args: Value) -> String {
    let r = ureq::post(&format!("http://127.0.0.1:{port}/v1/{call}"))
        .set("authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(20))
        .send_json(args)
        .unwrap_or_else(|e| panic!("{call}: {e}"));
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    r.into_string().unwrap()
}
