//! The player's cabinet over HTTP, as its page calls it: sessions signed by the game
//! (forged, expired, missing ones refused), the user always the session's, the whole
//! journey (link with proof of work, deposit, withdrawal to confirmed) against a devnet
//! through the real `.wasm`, and nothing of the API token reachable from the browser.

mod cabinet_env;
mod support;

use std::time::Duration;

use cabinet_env::{CabinetEnv, SECRET};
use cwd_gateway_host::cabinet::{now_secs, session};
use serde_json::{json, Value};
use support::{eventually, CWD, TOKEN};

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build()
}

/// `POST /cabinet/api/<call>` with `auth` as the Authorization value: status and JSON.
fn post(env: &CabinetEnv, call: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = agent().post(&env.url(&format!("/cabinet/api/{call}")));
    if let Some(a) = auth {
        req = req.set("authorization", a);
    }
    let response = match req.send_string(&body.to_string()) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{call}: {e}"),
    };
    assert_eq!(response.header("cache-control"), Some("no-store"), "{call}");
    let status = response.status();
    let text = response.into_string().unwrap();
    assert!(!text.contains(TOKEN), "{call} answered with the API token");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{call}: not JSON ({e}): {text}")),
    )
}

fn as_user(env: &CabinetEnv, session: &str, call: &str, body: Value) -> Value {
    let (mut status, mut v) = post(env, call, Some(&format!("Bearer {session}")), body.clone());
    // This test polls faster than the page: past the session's rate it waits, as told.
    while status == 429 && v["error"]["code"] == "too-many-requests" {
        std::thread::sleep(std::time::Duration::from_millis(v["error"]["retry_after_ms"].as_u64().unwrap_or(1000)));
        (status, v) = post(env, call, Some(&format!("Bearer {session}")), body.clone());
    }
    assert_eq!(status, 200, "{call} {body} → {v}");
    v
}

fn refused_as(
    env: &CabinetEnv,
    session: &str,
    call: &str,
    body: Value,
    status: u16,
    code: &str,
) -> Value {
    let (mut s, mut v) = post(env, call, Some(&format!("Bearer {session}")), body.clone());
    // Past the session's rate (this test polls faster than the page) it waits, as told.
    while s == 429 && v["error"]["code"] == "too-many-requests" && code != "too-many-requests" {
        std::thread::sleep(Duration::from_millis(v["error"]["retry_after_ms"].as_u64().unwrap_or(1000)));
        (s, v) = post(env, call, Some(&format!("Bearer {session}")), body.clone());
    }
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (status, Some(code)),
        "{call} {body} → {v}"
    );
    v["error"].clone()
}

#[test]
fn forged_expired_and_missing_sessions_are_refused() {
    let env = CabinetEnv::start("cabinet-sessions", 0, &[]);
    let good = env.session("alice");
    let expired = session::mint_at(SECRET.as_bytes(), "alice", now_secs() - 100, now_secs() - 1);
    let forged = session::mint(
        b"not-the-game-secret-not-the-game-secret",
        "alice",
        now_secs() + 3600,
    );
    // Same MAC, another user: the classic tampering.
    let retargeted = good.replace(":alice", ":bob");
    // Signed by the game, but for a year: nobody could take it back.
    let too_long = session::mint(SECRET.as_bytes(), "alice", now_secs() + 365 * 86_400);
    for (auth, code) in [
        (None, "session-missing"),
        (Some("Bearer ".to_string()), "session-missing"),
        (Some(format!("Bearer {expired}")), "session-expired"),
        (Some(format!("Bearer {forged}")), "session-forged"),
        (Some(format!("Bearer {retargeted}")), "session-forged"),
        (Some(format!("Bearer {too_long}")), "session-too-long"),
        (Some("Bearer alice".to_string()), "session-malformed"),
        // The API token is not a session, and a session is not an API token.
        (Some(format!("Bearer {TOKEN}")), "session-malformed"),
        (Some(format!("Basic {good}")), "session-missing"),
    ] {
        let (status, v) = post(&env, "me", auth.as_deref(), json!({}));
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (401, Some(code)),
            "{auth:?}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("open the cabinet"), "{message}");
        assert!(
            !message.contains(&good) && !message.contains(SECRET),
            "{message}"
        );
    }
    // Refused before the gateway is asked anything: no link was started.
    let (status, _) = post(
        &env,
        "start-link",
        Some(&format!("Bearer {forged}")),
        json!({ "account": "alice-cwd" }),
    );
    assert_eq!(status, 401);
    assert!(env
        .gw
        .service
        .with(|a| a.account("alice"))
        .unwrap()
        .pending_link
        .is_none());
    let r = agent()
        .post(&env.url("/v1/account"))
        .set("authorization", &format!("Bearer {good}"))
        .send_string(r#"{"user":"alice"}"#);
    assert!(
        matches!(r, Err(ureq::Error::Status(401, _))),
        "a session opened the game's API"
    );
    // And the good one works.
    assert_eq!(as_user(&env, &good, "me", json!({}))["user"], "alice");
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_no_secret() {
    let env = CabinetEnv::start("cabinet-page", 0, &[]);
    let r = agent().get(&env.url("/cabinet")).call();
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((r.status(), r.header("location")), (308, Some("/cabinet/")));
    for (path, kind) in [
        ("/cabinet/", "text/html"),
        ("/cabinet/app.js", "text/javascript"),
        ("/cabinet/cabinet.css", "text/css"),
        ("/cabinet/i18n/languages.json", "application/json"),
        ("/cabinet/i18n/en.json", "application/json"),
        ("/cabinet/i18n/ru.json", "application/json"),
    ] {
        let r = agent().get(&env.url(path)).call().unwrap();
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap().to_string();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let text = r.into_string().unwrap();
        assert!(!text.contains(TOKEN) && !text.contains(SECRET));
    }
    let r = agent().get(&env.url("/cabinet/nothing-here")).call();
    assert!(matches!(r, Err(ureq::Error::Status(404, _))));
    // The languages: the list, and each catalogue in the player's words.
    let list: Value = agent().get(&env.url("/cabinet/i18n/languages.json")).call().unwrap().into_json().unwrap();
    assert_eq!(list, json!([{ "code": "en", "name": "English" }, { "code": "ru", "name": "Русский" }]));
    let ru: Value = agent().get(&env.url("/cabinet/i18n/ru.json")).call().unwrap().into_json().unwrap();
    assert_eq!(ru["balance.title"], "Баланс");
    for missing in ["/cabinet/i18n/de.json", "/cabinet/i18n/en", "/cabinet/i18n/..%2fapp.js"] {
        let r = agent().get(&env.url(missing)).call();
        assert!(matches!(r, Err(ureq::Error::Status(404, _))), "{missing}");
    }
    let r = agent().get(&env.url("/cabinet/api/me")).call();
    assert!(matches!(r, Err(ureq::Error::Status(405, _))));
    let (status, v) = post(
        &env,
        "tick",
        Some(&format!("Bearer {}", env.session("alice"))),
        json!({}),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown-call")),
        "operator calls are not the player's"
    );
}

#[test]
fn without_the_cabinet_there_is_no_cabinet() {
    let gw = support::start(
        "cabinet-off",
        cwd_gateway_host::RuntimeConfig::default(),
        Duration::from_secs(5),
    );
    let http = cwd_gateway_host::http_api::HttpApi::bind("127.0.0.1:0").unwrap();
    http.spawn(gw.service.clone(), TOKEN.to_string(), 1);
    let r = agent()
        .get(&format!("http://{}/cabinet/", http.addr))
        .call();
    assert!(
        matches!(r, Err(ureq::Error::Status(401, _))),
        "the API's own refusal, not a page"
    );
}

#[test]
fn a_player_links_with_proof_of_work_tops_up_and_withdraws() {
    let env = CabinetEnv::start("cabinet-journey", 8, &["alice-cwd", "bob-cwd"]);
    let alice = env.session("alice");
    let me = as_user(&env, &alice, "me", json!({}));
    assert!(
        me["account"]["linked"].is_null() && me["deposit"].is_null(),
        "{me}"
    );

    // Link. The browser's `user` is ignored: the session says who this is.
    let refused = refused_as(
        &env,
        &alice,
        "start-link",
        json!({ "account": "alice-cwd" }),
        403,
        "proof-required",
    );
    assert_eq!(refused["difficulty_bits"], 8);
    let ch = as_user(&env, &alice, "link-challenge", json!({}));
    let challenge = ch["challenge"].as_str().unwrap().to_string();
    let nonce = cwd_gateway::pow::solve(&challenge, 8);
    let started = as_user(
        &env,
        &alice,
        "start-link",
        json!({ "user": "mallory", "account": "alice-cwd", "challenge": challenge, "nonce": nonce }),
    );
    assert_eq!(started["account"], "alice-cwd");
    assert!(env
        .gw
        .service
        .with(|a| a.account("mallory"))
        .unwrap()
        .pending_link
        .is_none());
    let code = env.link_code(
        "alice-cwd",
        started["code_digits"].as_u64().unwrap() as usize,
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    refused_as(
        &env,
        &alice,
        "confirm-link",
        json!({ "code": wrong }),
        422,
        "wrong-code",
    );
    let linked = as_user(
        &env,
        &alice,
        "confirm-link",
        json!({ "code": code, "user": "mallory" }),
    );
    assert_eq!(linked["account"], "alice-cwd");

    // Top up: the panel's facts, a live quote, then a transfer from the wallet.
    let me = as_user(&env, &alice, "me", json!({}));
    assert_eq!(me["deposit"]["gateway_account"], "game-gateway");
    assert_eq!(me["deposit"]["from_account"], "alice-cwd");
    assert_eq!(
        me["withdrawal_rate"],
        json!({ "game_units": 100, "per_cwd_units": 100000 })
    );
    let q = as_user(&env, &alice, "quote-deposit", json!({ "cwd": 25 * CWD }));
    assert_eq!(q["game"], 25 * 90);
    // Long polling: nothing changes, so the wait runs out; a bad revision is refused.
    let revision = me["account"]["revision"].as_u64().unwrap();
    let idle = as_user(
        &env,
        &alice,
        "wait",
        json!({ "revision": revision, "wait_ms": 200 }),
    );
    assert_eq!(idle, json!({ "revision": revision, "changed": false }));
    refused_as(
        &env,
        &alice,
        "wait",
        json!({ "revision": "x" }),
        400,
        "bad-request",
    );
    let chain_before = env.gw.devnet.balance_of("alice-cwd").unwrap();
    // A page waiting while the deposit arrives is answered when it is credited.
    let waiter = {
        let (url, alice) = (env.url("/cabinet/api/wait"), alice.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let r: Value = agent()
                .post(&url)
                .set("authorization", &format!("Bearer {alice}"))
                .send_json(json!({ "revision": revision }))
                .unwrap()
                .into_json()
                .unwrap();
            (r, started.elapsed())
        })
    };
    env.gw
        .devnet
        .transfer("alice-cwd", "game-gateway", 25 * CWD, Some("top up"), None)
        .unwrap();
    let (woke, _) = waiter.join().unwrap();
    assert_eq!(woke["changed"], true, "{woke}");
    assert!(woke["revision"].as_u64() > Some(revision), "{woke}");
    eventually("the deposit credited", Duration::from_secs(60), || {
        (as_user(&env, &alice, "me", json!({}))["account"]["balance"] == 25 * 90).then_some(())
    });
    // The event feed wakes a waiting page: a game's change to the balance answers it at
    // once, well before the 5 s periodic look.
    let revision = as_user(&env, &alice, "me", json!({}))["account"]["revision"]
        .as_u64()
        .unwrap();
    let waiter = {
        let (url, alice) = (env.url("/cabinet/api/wait"), alice.clone());
        std::thread::spawn(move || {
            let r: Value = agent()
                .post(&url)
                .set("authorization", &format!("Bearer {alice}"))
                .send_json(json!({ "revision": revision }))
                .unwrap()
                .into_json()
                .unwrap();
            (r, std::time::Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(1_500)); // the page is waiting
    let changed_at = std::time::Instant::now();
    env.gw
        .service
        .with(|a| a.adjust_balance("alice", 1, "cabinet-wake", "a prize"))
        .unwrap();
    let (woke, answered_at) = waiter.join().unwrap();
    assert_eq!(woke["changed"], true, "{woke}");
    let after = answered_at.duration_since(changed_at);
    assert!(
        after < Duration::from_millis(2_500),
        "woken by the feed, not the 5 s look: {after:?}"
    );
    env.gw
        .service
        .with(|a| a.adjust_balance("alice", -1, "cabinet-wake-back", ""))
        .unwrap();

    // Withdraw 10 CWD worth, given in CWD; a retry with the same request id is the same
    // withdrawal, not a second one.
    let q = as_user(&env, &alice, "quote-withdrawal", json!({ "cwd": 10 * CWD }));
    assert_eq!(
        (q["game"].as_u64(), q["cwd"].as_u64()),
        (Some(1000), Some(10 * CWD as u64))
    );
    refused_as(
        &env,
        &alice,
        "request-withdrawal",
        json!({ "cwd": 10 * CWD }),
        400,
        "bad-request",
    );
    let w = as_user(
        &env,
        &alice,
        "request-withdrawal",
        json!({ "cwd": 10 * CWD, "request_id": "r1", "user": "mallory" }),
    );
    assert_eq!(
        (w["user"].as_str(), w["game"].as_u64()),
        (Some("alice"), Some(1000))
    );
    let again = as_user(
        &env,
        &alice,
        "request-withdrawal",
        json!({ "cwd": 10 * CWD, "request_id": "r1" }),
    );
    assert_eq!(again["withdrawal_id"], w["withdrawal_id"]);
    refused_as(
        &env,
        &alice,
        "request-withdrawal",
        json!({ "game": 100_000, "request_id": "r2" }),
        422,
        "insufficient-balance",
    );
    let id = w["withdrawal_id"].as_str().unwrap().to_string();
    let done = eventually("the withdrawal confirmed", Duration::from_secs(60), || {
        let w = as_user(&env, &alice, "withdrawal", json!({ "withdrawal_id": id }));
        (w["state"] == "confirmed").then_some(w)
    });
    assert!(
        done["tx_id"].is_string() && done["block_num"].is_u64(),
        "{done}"
    );
    let me = as_user(&env, &alice, "me", json!({}));
    assert_eq!(
        (
            me["account"]["balance"].as_u64(),
            me["account"]["frozen"].as_u64()
        ),
        (Some(25 * 90 - 1000), Some(0))
    );
    let deposits = as_user(&env, &alice, "deposits", json!({ "user": "mallory" }));
    assert_eq!(deposits.as_array().unwrap().len(), 1, "{deposits}");
    assert_eq!(
        (deposits[0]["cwd"].as_i64(), deposits[0]["game"].as_u64()),
        (Some(25 * CWD), Some(25 * 90))
    );
    assert_eq!(deposits[0]["assigned"], false);
    let history = as_user(&env, &alice, "withdrawals", json!({}));
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["state"], "confirmed");
    // On chain: the deposit and its fee left, the payout came back, nothing else
    // (read before the next withdrawal, which may be paid by the end).
    let chain_after = env.gw.devnet.balance_of("alice-cwd").unwrap();
    let fee = chain_before - 25 * CWD - (chain_after - 10 * CWD);
    assert!(
        fee > 0 && fee < CWD,
        "alice paid {fee} units beyond the deposit"
    );
    // Newest first, paged by the last id seen.
    let w2 = as_user(
        &env,
        &alice,
        "request-withdrawal",
        json!({ "cwd": 5 * CWD, "request_id": "r3" }),
    );
    let history = as_user(&env, &alice, "withdrawals", json!({}));
    let ids: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["withdrawal_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [w2["withdrawal_id"].as_str().unwrap(), id.as_str()]);
    let older = as_user(
        &env,
        &alice,
        "withdrawals",
        json!({ "start_after": ids[0] }),
    );
    assert_eq!(older.as_array().unwrap().len(), 1);
    assert_eq!(older[0]["withdrawal_id"], id.as_str());


    // Bob sees none of it.
    let bob = env.session("bob");
    refused_as(
        &env,
        &bob,
        "withdrawal",
        json!({ "withdrawal_id": id }),
        404,
        "withdrawal-not-found",
    );
    assert_eq!(as_user(&env, &bob, "withdrawals", json!({})), json!([]));
    assert_eq!(as_user(&env, &bob, "deposits", json!({})), json!([]));
    refused_as(
        &env,
        &bob,
        "request-withdrawal",
        json!({ "game": 100, "request_id": "r1" }),
        409,
        "not-linked",
    );
    let me = as_user(&env, &bob, "me", json!({}));
    assert_eq!(me["account"]["balance"], 0);
    refused_as(
        &env,
        &bob,
        "quote-withdrawal",
        json!({ "game": 1, "cwd": 1 }),
        400,
        "bad-request",
    );
}

/// The gateway's machinery is the operator's business: with the node down, a player's
/// call fails with its code and a plain sentence, never the node's address or its error.
#[test]
fn a_player_never_sees_the_nodes_address_or_error() {
    use cwd_devnet::{FaultKind, FaultRule};
    let env = CabinetEnv::start("cabinet machinery", 0, &["pia-cwd"]);
    let session = env.session("pia");
    env.gw.devnet.add_fault(FaultRule::share(1.0, None, FaultKind::Delay(Duration::from_secs(30))));
    let (status, v) = post(&env, "start-link", Some(&format!("Bearer {session}")), json!({ "account": "pia-cwd" }));
    env.gw.devnet.clear_faults();
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("node-unavailable")), "{v}");
    let text = v.to_string();
    let node = env.gw.devnet.url().trim_start_matches("http://").trim_end_matches('/').to_string();
    assert!(!text.contains(&node) && !text.contains("127.0.0.1") && !text.contains("timed out"), "{text}");
    assert_eq!(v["error"]["message"], "the gateway cannot do this right now; try again in a moment");
}

/// Strangers spending an account's daily codes (five sessions asking for codes to it)
/// cannot lock its owner out: the cabinet offers the memo route, which links by a
/// transfer only the owner can sign (issue 32, item 2).
#[test]
fn strangers_spending_an_accounts_codes_leave_the_owner_the_memo_route() {
    let env = CabinetEnv::start("cabinet-memo-route", 0, &["owner-cwd"]);
    for i in 0..5 {
        as_user(&env, &env.session(&format!("stranger{i}")), "start-link", json!({ "account": "owner-cwd" }));
    }
    let owner = env.session("owner");
    let (status, v) = post(&env, "start-link", Some(&format!("Bearer {owner}")), json!({ "account": "owner-cwd" }));
    assert_eq!((status, v["error"]["code"].as_str(), v["error"]["scope"].as_str()), (429, Some("rate-limited"), Some("account")), "{v}");
    // Not the owner's doing: the memo route is open at once.
    let m = as_user(&env, &owner, "start-memo-link", json!({ "user": "someone-else" }));
    assert_eq!(m["gateway_account"], "game-gateway");
    let code = m["code"].as_str().unwrap();
    assert!(env.gw.service.with(|a| a.account("someone-else")).unwrap().linked.is_none(), "the user is always the session's");
    env.gw.devnet.transfer("owner-cwd", "game-gateway", 2 * CWD, Some(code), None).unwrap();
    let me = eventually("linked by the memo route", std::time::Duration::from_secs(30), || {
        let me = as_user(&env, &owner, "me", json!({}));
        (!me["account"]["linked"].is_null()).then_some(me)
    });
    assert_eq!(me["account"]["linked"]["account"], "owner-cwd");
    assert_eq!(me["account"]["balance"], 2 * 90, "the transfer was credited as a top-up");
}

/// Links `user`'s session to `account` (no proof of work in this gateway).
fn link(env: &CabinetEnv, session: &str, account: &str) {
    let started = as_user(env, session, "start-link", json!({ "account": account }));
    let code = env.link_code(account, started["code_digits"].as_u64().unwrap() as usize);
    as_user(env, session, "confirm-link", json!({ "code": code }));
}

#[test]
fn players_cancel_their_own_unsent_withdrawals_unlink_and_see_their_referrals() {
    let env = CabinetEnv::start_with("cabinet-player-actions", 0, &["alice-cwd", "bob-cwd"], |c| {
        c.withdrawals.review_above_cwd = 5 * CWD as u64;
        c.referrals.level_rates_per_mille = vec![100, 50];
        c.referrals.cashback_per_mille = 20;
    });
    let (alice, bob) = (env.session("alice"), env.session("bob"));
    link(&env, &alice, "alice-cwd");
    link(&env, &bob, "bob-cwd");
    env.game("adjust-balance", json!({ "user": "alice", "delta": 5000, "idempotency_key": "seed-alice" }));

    // 10 CWD is above the review threshold: it waits, frozen.
    let held = as_user(&env, &alice, "request-withdrawal", json!({ "game": 1000, "request_id": "r1" }));
    assert_eq!(held["state"], "awaiting-review", "{held}");
    let id = held["withdrawal_id"].as_str().unwrap().to_string();
    // Another player cannot cancel it, nor learn that it exists; the browser's user is ignored.
    refused_as(&env, &bob, "cancel-withdrawal", json!({ "withdrawal_id": id, "user": "alice" }), 404, "withdrawal-not-found");
    refused_as(&env, &bob, "cancel-withdrawal", json!({ "withdrawal_id": "w9999999999" }), 404, "withdrawal-not-found");
    assert_eq!(as_user(&env, &alice, "withdrawal", json!({ "withdrawal_id": id }))["state"], "awaiting-review");
    // Its owner can; the units are spendable again, and the audit says who acted.
    let cancelled = as_user(&env, &alice, "cancel-withdrawal", json!({ "withdrawal_id": id, "reason": "ignored" }));
    assert_eq!((cancelled["state"].as_str(), cancelled["note"].as_str()), (Some("cancelled"), Some("cancelled by the player")), "{cancelled}");
    let me = as_user(&env, &alice, "me", json!({}));
    assert_eq!((me["account"]["balance"].as_i64(), me["account"]["frozen"].as_i64()), (Some(5000), Some(0)), "{me}");
    let audit = env.game("list-audit", json!({ "call": "cancel-withdrawal" }));
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!((audit[0]["actor"].as_str(), audit[0]["subject"].as_str()), (Some("player:alice"), Some(id.as_str())), "{audit}");
    // Cancelling it again: it is final.
    refused_as(&env, &alice, "cancel-withdrawal", json!({ "withdrawal_id": id }), 409, "not-cancellable");

    // A withdrawal below the threshold is sent by the next ticks: no longer cancellable.
    let quick = as_user(&env, &alice, "request-withdrawal", json!({ "game": 300, "request_id": "r2" }));
    let quick_id = quick["withdrawal_id"].as_str().unwrap().to_string();
    // Unlinking waits for it.
    refused_as(&env, &alice, "unlink", json!({}), 409, "withdrawals-pending");
    eventually("the withdrawal sent", Duration::from_secs(60), || {
        let w = as_user(&env, &alice, "withdrawal", json!({ "withdrawal_id": quick_id }));
        (w["state"] != "queued").then_some(())
    });
    refused_as(&env, &alice, "cancel-withdrawal", json!({ "withdrawal_id": quick_id }), 409, "not-cancellable");
    eventually("the withdrawal confirmed", Duration::from_secs(90), || {
        let w = as_user(&env, &alice, "withdrawal", json!({ "withdrawal_id": quick_id }));
        (w["state"] == "confirmed").then_some(())
    });

    // Referrals: bob was referred by alice; alice earns from bob's fees, bob a cashback.
    env.game("set-referrer", json!({ "user": "bob", "referrer": "alice" }));
    env.game("adjust-balance", json!({ "user": "referral-pool", "delta": 10_000, "idempotency_key": "fund-pool" }));
    env.game("reward-referrers", json!({ "user": "bob", "base_amount": 1000, "idempotency_key": "fee-bob-1" }));
    let mine = as_user(&env, &alice, "referrals", json!({ "user": "bob" }));
    assert_eq!(mine["referrer"], Value::Null, "{mine}");
    assert_eq!(mine["referrals"], 1);
    assert_eq!(mine["referred"][0]["user"], "bob");
    assert_eq!(mine["by_level"][0], 100);
    let his = as_user(&env, &bob, "referrals", json!({}));
    assert_eq!((his["referrer"].as_str(), his["referrals"].as_u64(), his["cashback"].as_i64()), (Some("alice"), Some(0), Some(20)), "{his}");
    assert_eq!(his["referred"], json!([]));

    // The page's language, for the link message and the deposit note: the player's own,
    // one the cabinet has a catalogue for.
    refused_as(&env, &alice, "set-language", json!({ "language": "de" }), 400, "bad-request");
    refused_as(&env, &alice, "set-language", json!({}), 400, "bad-request");
    assert_eq!(as_user(&env, &alice, "set-language", json!({ "language": "ru", "user": "bob" })), json!({ "language": "ru" }));
    assert_eq!(env.game("account", json!({ "user": "alice" }))["language"], "ru");
    assert_ne!(env.game("account", json!({ "user": "bob" }))["language"], "ru");

    // Unlink: the player's own account only, whatever the browser says.
    let unlinked = as_user(&env, &bob, "unlink", json!({ "user": "alice" }));
    assert!(unlinked.is_object(), "{unlinked}");
    assert!(as_user(&env, &bob, "me", json!({}))["account"]["linked"].is_null());
    assert_eq!(as_user(&env, &alice, "me", json!({}))["account"]["linked"]["account"], "alice-cwd");
    as_user(&env, &alice, "unlink", json!({}));
    assert!(as_user(&env, &alice, "me", json!({}))["account"]["linked"].is_null());
    refused_as(&env, &alice, "unlink", json!({}), 409, "not-linked");
}
