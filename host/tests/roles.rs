//! Scoped API tokens over real HTTP (issue 25): every call refused to the roles outside
//! its entry of the role table (`403 forbidden`, with the roles that may) and served to
//! those inside; the game server's token cannot approve the withdrawal it asked for;
//! `/metrics` with an observer's token; configuration errors that say what to fix and
//! never show a token; the single token of earlier versions still an operator's, also
//! in the real `cwd-gateway run` process.

mod support;

use std::path::Path;
use std::time::Duration;

use cwd_gateway_host::config::FileConfig;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::roles::{ApiTokens, Caller, Role, TABLE};
use cwd_gateway_host::RuntimeConfig;
use serde_json::{json, Value};
use support::{call_as, eventually, write_private, Gw, CWD, TOKEN};

const GAME: &str = "game-SECRET-token-0123456789";
const OBSERVER: &str = "observer-SECRET-token-0123456789";
/// The operator's is the tests' usual token.
const OPERATOR: &str = TOKEN;

const TOKENS: [(Role, &str, &str); 3] = [
    (Role::Game, "game-server", GAME),
    (Role::Observer, "prometheus", OBSERVER),
    (Role::Operator, "ops", OPERATOR),
];

/// The HTTP API on an ephemeral loopback port, with a token of each role.
fn serve(gw: &Gw) -> HttpApi {
    gw.serve_tokens(&TOKENS)
}

/// Any request: `(status, body text)`.
fn request(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, String) {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.set("authorization", &format!("Bearer {t}"));
    }
    let result = match body {
        Some(b) => req.send_json(b.clone()),
        None => req.call(),
    };
    match result {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// `POST /v1/<call>` with `token`: `(status, JSON body)`.
fn post(port: u16, token: Option<&str>, call: &str, args: Value) -> (u16, Value) {
    let (status, text) = request("POST", &format!("http://127.0.0.1:{port}/v1/{call}"), token, Some(&args));
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{call}: not JSON ({e}): {text}")))
}

/// The error object of a `"<status> <body>"` from [`call_as`].
fn refusal(e: &str) -> (u16, Value) {
    let (status, body) = e.split_once(' ').unwrap();
    (status.parse().unwrap(), serde_json::from_str::<Value>(body).unwrap()["error"].clone())
}

fn start(seed: &str) -> Gw {
    support::start_with(seed, RuntimeConfig::default(), Duration::from_secs(5), |c| {
        c.withdrawals.review_above_cwd = 5 * CWD as u64;
    })
}

#[test]
fn every_role_is_refused_outside_its_calls_and_served_inside() {
    let gw = start("roles table");
    let http = serve(&gw);
    let port = http.addr.port();
    for (call, allowed) in TABLE {
        let needs: Vec<&str> = allowed.iter().map(|r| r.name()).collect();
        for (role, name, token) in TOKENS {
            let (status, body) = post(port, Some(token), call, json!({}));
            let code = body["error"]["code"].as_str();
            if allowed.contains(&role) {
                // Served: any answer but a refusal of the role (`{}` lacks most arguments).
                assert!(status != 403 && code != Some("forbidden"), "{call} as {role}: {status} {body}");
                continue;
            }
            assert_eq!((status, code), (403, Some("forbidden")), "{call} as {role}: {body}");
            assert_eq!(body["error"]["needs"], json!(needs), "{call} as {role}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(&format!("{call} needs the ")), "{message}");
            assert!(message.ends_with(&format!("(this token is `{name}`, role {role})")), "{message}");
            assert!(!message.contains(token) && !body.to_string().contains(token), "the token is echoed: {body}");
        }
        // Without a valid token it stays 401, whatever the call.
        for token in [None, Some("not-a-token-0123456789abcdef")] {
            let (status, body) = post(port, token, call, json!({}));
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{call} with {token:?}");
        }
    }
    // whoami: any token, its own name and role.
    for (role, name, token) in TOKENS {
        let (status, body) = post(port, Some(token), "whoami", json!({}));
        assert_eq!((status, body), (200, json!({ "name": name, "role": role.name() })));
    }
    // The operator may call everything; each role has something it may not.
    assert!(TABLE.iter().all(|(_, roles)| roles.contains(&Role::Operator)));
    for role in [Role::Game, Role::Observer] {
        assert!(TABLE.iter().any(|(_, roles)| !roles.contains(&role)), "{role}");
    }

    // Unknown calls: 401 without a token, today's unknown-call with any valid one.
    let (status, _) = post(port, None, "no-such-call", json!({}));
    assert_eq!(status, 401);
    for (_, _, token) in TOKENS {
        let (status, body) = post(port, Some(token), "no-such-call", json!({}));
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown-call")), "{body}");
    }
    // The role is checked before the method and the body: a GET or a broken body to a
    // call outside the role is a 403 too.
    let url = format!("http://127.0.0.1:{port}/v1/approve-withdrawal");
    let (status, text) = request("GET", &url, Some(GAME), None);
    assert_eq!(status, 403, "{text}");
    let (status, text) = request("POST", &url, Some(OBSERVER), Some(&json!("not an object")));
    assert_eq!(status, 403, "{text}");

    // /metrics: any valid token (an observer's is the one meant for it), none is 401.
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let (status, text) = request("GET", &metrics, Some(OBSERVER), None);
    assert_eq!(status, 200);
    assert!(text.contains("cwd_gateway_forbidden_total{role=\"observer\",call=\"adjust-balance\"}"), "{text}");
    assert!(text.contains("cwd_gateway_forbidden_total{role=\"game\",call=\"approve-withdrawal\"}"), "{text}");
    assert!(!text.contains(GAME) && !text.contains(OBSERVER));
    assert_eq!(request("GET", &metrics, Some(GAME), None).0, 200);
    assert_eq!(request("GET", &metrics, None, None).0, 401);
    assert_eq!(request("GET", &metrics, Some("wrong-token-0123456789abcdef"), None).0, 401);

    // /ready: the operator's detail with any valid token, the verdict only without.
    let ready = format!("http://127.0.0.1:{port}/ready");
    for (with, token) in [(true, Some(OBSERVER)), (true, Some(GAME)), (false, None), (false, Some("wrong-token-0123456789abcdef"))] {
        let (_, text) = request("GET", &ready, token, None);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body.get("instance_recoveries").is_some(), with, "{token:?}: {body}");
    }
}

#[test]
fn the_game_token_cannot_approve_the_withdrawal_it_requested() {
    let gw = start("roles approve");
    gw.funded_player("alice", "alice-cwd", 100 * CWD, 20 * CWD);
    let http = serve(&gw);
    let port = http.addr.port();
    let w = call_as(port, GAME, "request-withdrawal", json!({ "user": "alice", "cwd": 10 * CWD, "idempotency_key": "big-1" })).unwrap();
    assert_eq!(w["state"], "awaiting-review", "{w}");
    let id = w["withdrawal_id"].as_str().unwrap();

    let (status, e) = refusal(&call_as(port, GAME, "approve-withdrawal", json!({ "withdrawal_id": id })).unwrap_err());
    assert_eq!((status, e["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(e["needs"], json!(["operator"]));
    assert_eq!(e["message"], "approve-withdrawal needs the operator role (this token is `game-server`, role game)");
    for (call, args) in [
        ("reject-withdrawal", json!({ "withdrawal_id": id, "reason": "mine" })),
        ("cancel-withdrawal", json!({ "withdrawal_id": id, "reason": "mine" })),
    ] {
        assert_eq!(refusal(&call_as(port, GAME, call, args).unwrap_err()).0, 403, "{call}");
    }
    let (status, _) = refusal(&call_as(port, OBSERVER, "approve-withdrawal", json!({ "withdrawal_id": id })).unwrap_err());
    assert_eq!(status, 403);
    // Still waiting for an operator; the game may read it.
    let seen = call_as(port, GAME, "get-withdrawal", json!({ "withdrawal_id": id })).unwrap();
    assert_eq!(seen["state"], "awaiting-review");

    let approved = call_as(port, OPERATOR, "approve-withdrawal", json!({ "withdrawal_id": id })).unwrap();
    assert_eq!(approved["state"], "queued", "{approved}");
}

/// A `cwd-gateway run` configuration (not started) with `extra` sections, in `dir`.
fn config_with(dir: &Path, extra: &str) -> anyhow::Result<FileConfig> {
    let text = support::run_config(&"00".repeat(32), "http://127.0.0.1:1", dir, 1, extra);
    FileConfig::parse(&text)
}

fn entry(name: &str, role: &str, file: &Path) -> String {
    format!("[[http.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nfile = \"{}\"\n", file.display())
}


#[test]
fn configuration_errors_say_what_to_fix_and_never_show_a_token() {
    let dir = support::temp_dir("roles-config");
    let (game, observer, other) = (dir.join("game.token"), dir.join("observer.token"), dir.join("other.token"));
    write_private(&game, &format!("{GAME}\n"));
    write_private(&observer, OBSERVER);
    write_private(&other, GAME);
    let err = |r: anyhow::Result<ApiTokens>| format!("{:#}", r.unwrap_err());
    let no_secret = |e: &str| {
        for s in [GAME, OBSERVER, OPERATOR] {
            assert!(!e.contains(s), "a token in the error: {e}");
        }
    };
    assert!(std::env::var(cwd_gateway_host::config::API_TOKEN_ENV).is_err(), "these cases assume no token in the environment");

    // Fine: two named tokens, each its caller.
    let cfg = config_with(&dir, &(entry("game-server", "game", &game) + &entry("prometheus", "observer", &observer))).unwrap();
    let tokens = cfg.api_tokens().unwrap();
    assert_eq!(tokens.authenticate(GAME.as_bytes()), Some(Caller::new("game-server", Role::Game)));
    assert_eq!(tokens.authenticate(OBSERVER.as_bytes()), Some(Caller::new("prometheus", Role::Observer)));
    no_secret(&format!("{tokens:?} {cfg:?}"));

    // The same token twice, under two names.
    let cfg = config_with(&dir, &(entry("game-server", "game", &game) + &entry("ops", "operator", &other))).unwrap();
    let e = err(cfg.api_tokens());
    assert!(e.contains("`game-server` and `ops` are the same token"), "{e}");
    no_secret(&e);
    // Two names alike.
    let e = format!("{:#}", config_with(&dir, &(entry("game", "game", &game) + &entry("game", "observer", &observer))).unwrap_err());
    assert!(e.contains("two tokens are named `game`"), "{e}");
    // A role that is none.
    let e = format!("{:#}", config_with(&dir, &entry("ops", "admin", &game)).unwrap_err());
    assert!(e.contains("`ops`: role must be game, operator or observer"), "{e}");
    // A name out of bounds: not echoed (it may be a token pasted in the wrong place).
    let e = format!("{:#}", config_with(&dir, &entry(GAME, "game", &game)).unwrap_err());
    assert!(e.contains("number 1: name") && e.contains("1 to 32 characters of a-z 0-9 . _ -"), "{e}");
    no_secret(&e);
    // A token inline, where a file belongs: refused, not echoed.
    let e = format!("{:#}", config_with(&dir, &format!("[[http.tokens]]\nname = \"x\"\nrole = \"game\"\ntoken = \"{GAME}\"\n")).unwrap_err());
    no_secret(&e);
    // A token file others may read.
    let open = dir.join("open.token");
    std::fs::write(&open, OBSERVER).unwrap();
    let cfg = config_with(&dir, &entry("prometheus", "observer", &open)).unwrap();
    let e = err(cfg.api_tokens());
    assert!(e.contains("may be read by others") && e.contains(&format!("chmod 600 {}", open.display())), "{e}");
    no_secret(&e);
    // Too short.
    let short = dir.join("short.token");
    write_private(&short, "short-token\n");
    let e = err(config_with(&dir, &entry("prometheus", "observer", &short)).unwrap().api_tokens());
    assert!(e.contains("`prometheus`") && e.contains("at least 16 characters"), "{e}");
    assert!(!e.contains("short-token"), "{e}");
    // No token at all.
    let e = err(config_with(&dir, "").unwrap().api_tokens());
    assert!(e.contains("[http] token_file") && e.contains("[[http.tokens]]"), "{e}");

    // The single token of earlier versions: `default`, an operator; next to named ones.
    let single = dir.join("api.token");
    write_private(&single, &format!("{OPERATOR}\n"));
    let old = |extra: &str| {
        let text = support::run_config(&"00".repeat(32), "http://127.0.0.1:1", &dir, 1, "")
            .replace("[http]\n", &format!("[http]\ntoken_file = \"{}\"\n", single.display()));
        FileConfig::parse(&format!("{text}{extra}"))
    };
    let tokens = old("").unwrap().api_tokens().unwrap();
    assert_eq!(tokens.authenticate(OPERATOR.as_bytes()), Some(Caller::new("default", Role::Operator)));
    assert_eq!(tokens.iter().count(), 1);
    let tokens = old(&entry("game-server", "game", &game)).unwrap().api_tokens().unwrap();
    assert_eq!(tokens.authenticate(OPERATOR.as_bytes()).map(|c| c.role), Some(Role::Operator));
    assert_eq!(tokens.authenticate(GAME.as_bytes()).map(|c| c.role), Some(Role::Game));
    let e = format!("{:#}", old(&entry("default", "game", &game)).unwrap_err());
    assert!(e.contains("`default`") && e.contains("token_file"), "{e}");
    let e = err(old(&entry("ops", "operator", &single)).unwrap().api_tokens());
    assert!(e.contains("`default` and `ops` are the same token"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The real process: named tokens from `[[http.tokens]]` next to the environment's
/// single token, which is still the operator's; a token file others may read stops it.
#[test]
fn cwd_gateway_run_serves_named_tokens_beside_the_old_one() {
    use cwd_devnet::{AccountSpec, Config, Devnet, Production};
    let devnet = Devnet::start(Config { production: Production::Timer(Duration::from_millis(100)), ..Config::seeded("roles run") }).unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 1_000 * CWD)).unwrap();
    let dir = support::temp_dir("roles-run");
    write_private(
        &dir.join("keys.toml"),
        &format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", gateway.active_wif.clone().unwrap(), gateway.memo_wif.clone().unwrap()),
    );
    let (game, observer) = (dir.join("game.token"), dir.join("observer.token"));
    write_private(&game, GAME);
    write_private(&observer, OBSERVER);
    let port = support::free_port();
    let tokens = entry("game-server", "game", &game) + &entry("prometheus", "observer", &observer);
    let config = |tokens: &str| support::run_config(&devnet.chain_id_hex(), devnet.url(), &dir, port, tokens);

    // A token file others may read: refused at start, with the fix, without the token.
    std::fs::set_permissions(&observer, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(dir.join("gateway.toml"), config(&tokens)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["run", "--config"])
        .arg(dir.join("gateway.toml"))
        .env("CWD_GATEWAY_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("chmod 600") && stderr.contains("observer.token"), "{stderr}");
    assert!(!stderr.contains(OBSERVER) && !stderr.contains(TOKEN), "{stderr}");
    std::fs::set_permissions(&observer, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let _gw = support::spawn_run(&dir);
    eventually("the HTTP API", Duration::from_secs(60), || call_as(port, GAME, "status", json!({})).ok());
    let e = call_as(port, GAME, "approve-withdrawal", json!({ "withdrawal_id": "w-none" })).unwrap_err();
    let (status, e) = refusal(&e);
    assert_eq!((status, e["needs"].clone()), (403, json!(["operator"])), "{e}");
    // The environment's token is `default`, an operator: served (there is no such withdrawal).
    let e = call_as(port, TOKEN, "approve-withdrawal", json!({ "withdrawal_id": "w-none" })).unwrap_err();
    assert_eq!(refusal(&e).1["code"], "withdrawal-not-found", "{e}");
    let e = call_as(port, OBSERVER, "adjust-balance", json!({ "user": "u", "delta": 5, "idempotency_key": "k" })).unwrap_err();
    assert!(refusal(&e).1["message"].as_str().unwrap().ends_with("(this token is `prometheus`, role observer)"), "{e}");
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    assert_eq!(request("GET", &metrics, Some(OBSERVER), None).0, 200);
    assert_eq!(request("GET", &metrics, None, None).0, 401);
    std::fs::remove_dir_all(&dir).ok();
}
