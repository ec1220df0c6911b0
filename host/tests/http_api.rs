//! The HTTP JSON API as a game server uses it: a real HTTP client (ureq) against
//! `HttpApi` serving a `Service` configured against an in-process devnet, all on
//! loopback. Every call answers at least once, with its status and JSON shape checked;
//! bad requests get the right 4xx and a JSON error.
//!
//! Set `CWD_HTTP_API_TRANSCRIPT=/some/file.json` to write every exchange of the story
//! test (call, request, status, response) and the events raised to that file:
//! `docs/http-api.md` takes its examples from it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, CreatedAccount, Devnet, DevnetHandle};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use serde_json::{json, Value};
use support::eventually;

use support::{CWD, TOKEN};

/// One HTTP answer: status, JSON body, and the Retry-After header if any.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<String>,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    allow: Option<String>,
    connection: Option<String>,
}

struct Env {
    devnet: DevnetHandle,
    players: Vec<CreatedAccount>,
    _service: Arc<Service>,
    http: HttpApi,
    agent: ureq::Agent,
    events: MemorySink,
    transcript: Mutex<Vec<Value>>,
}

/// The shared test configuration, with payouts above 5 CWD waiting for an operator.
fn gateway_config(chain_id: String) -> api::Config {
    let mut config = support::config(chain_id);
    config.referrals.level_rates_per_mille = vec![100, 50];
    config.referrals.cashback_per_mille = 20;
    config.link.message_template = "Your Dragon Quest link code: {code} (for player {user})".into();
    config.withdrawals.review_above_cwd = 5 * 100_000;
    config.tick_interval_ms = 1_000;
    config
}

impl Env {
    /// A manual-block devnet with a funded gateway account and `players` (10 CWD… each),
    /// the component configured against it, the HTTP API on an ephemeral loopback port.
    /// No timer: the tests tick through the API, so every step is deterministic.
    fn start(seed: &str, players: &[&str]) -> Env {
        let devnet = Devnet::start(DevnetConfig::seeded(seed)).expect("devnet");
        let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * CWD)).unwrap();
        let players = players.iter().map(|p| devnet.create_account(AccountSpec::new(p, 500 * CWD)).unwrap()).collect();
        devnet.produce_block();
        let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5))
            .verify_chain_id(&devnet.chain_id_hex())
            .unwrap();
        let events = MemorySink::default();
        let caps = Capabilities {
            store: Arc::new(MemoryStore::new()),
            node: Arc::new(node),
            clock: Arc::new(SystemClock),
            events: Arc::new(events.clone()),
            signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
        };
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let keys = api::Keys { active_wif: gateway.active_wif.clone().unwrap(), memo_wif: gateway.memo_wif.clone().unwrap() };
        let service = Service::start(&runtime, caps, &gateway_config(devnet.chain_id_hex()), keys).unwrap();
        let http = HttpApi::bind("127.0.0.1:0").unwrap();
        assert!(http.addr.ip().is_loopback());
        http.spawn(service.clone(), TOKEN.to_string(), 2);
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(15)).build();
        Env { devnet, players, _service: service, http, agent, events, transcript: Mutex::new(Vec::new()) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http.addr)
    }

    fn player(&self, name: &str) -> &CreatedAccount {
        self.players.iter().find(|p| p.name == name).unwrap()
    }

    /// Any request: method, path, optional Authorization value, body bytes.
    fn raw(&self, method: &str, path: &str, auth: Option<&str>, body: Option<&[u8]>) -> Reply {
        let mut req = self.agent.request(method, &self.url(path));
        if let Some(a) = auth {
            req = req.set("authorization", a);
        }
        let result = match body {
            Some(b) => req.set("content-type", "application/json").send_bytes(b),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let header = |name: &str| response.header(name).map(str::to_string);
        let (status, retry_after, content_type, www_authenticate, allow, connection) = (
            response.status(),
            header("retry-after"),
            header("content-type"),
            header("www-authenticate"),
            header("allow"),
            header("connection"),
        );
        let text = response.into_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path} answered non-JSON ({e}): {text:?}"));
        Reply { status, body, retry_after, content_type, www_authenticate, allow, connection }
    }

    /// `POST /v1/<call>` with the right token, recorded for the docs.
    fn call(&self, name: &str, args: Value) -> Reply {
        let body = args.to_string();
        let reply = self.raw("POST", &format!("/v1/{name}"), Some(&format!("Bearer {TOKEN}")), Some(body.as_bytes()));
        assert_eq!(reply.content_type.as_deref(), Some("application/json"), "{name}");
        self.transcript.lock().unwrap().push(json!({
            "call": name, "request": args, "status": reply.status, "response": reply.body,
            "retry_after": reply.retry_after,
        }));
        reply
    }

    /// A call that must succeed: its JSON.
    fn ok(&self, name: &str, args: Value) -> Value {
        let r = self.call(name, args.clone());
        assert_eq!(r.status, 200, "{name} {args} → {}", r.body);
        assert!(r.body.get("error").is_none(), "{name}: {}", r.body);
        r.body
    }

    /// A call that must be refused with `status` and error `code`: the error object.
    fn refused(&self, name: &str, args: Value, status: u16, code: &str) -> Value {
        let r = self.call(name, args.clone());
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (status, Some(code)), "{name} {args} → {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        r.body["error"].clone()
    }

    /// Produces blocks until everything so far is irreversible, then ticks (over HTTP).
    fn settle(&self) -> Value {
        let lag = self.devnet.head_block_number() + 6;
        while self.devnet.last_irreversible_block_num() < lag {
            self.devnet.produce_block();
        }
        self.ok("tick", json!({}))
    }

    /// The link code the gateway sent to `account`, read in its wallet.
    fn link_code(&self, account: &str, digits: usize) -> String {
        let key = self.player(account).memo_private().unwrap();
        eventually("the link message", Duration::from_secs(10), || {
            self.devnet.produce_block();
            let memos = self.devnet.received_memos(account, Some(&key)).unwrap();
            let text = memos.into_iter().rev().find(|m| m.op == "send_message")?.text.ok()?;
            text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == digits).map(str::to_string)
        })
    }

    fn write_transcript(&self) {
        if let Ok(path) = std::env::var("CWD_HTTP_API_TRANSCRIPT") {
            let t = json!({ "exchanges": self.transcript.lock().unwrap().clone(), "events": self.events.snapshot() });
            std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
        }
    }
}

fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn sorted<'a>(mut k: Vec<&'a str>) -> Vec<&'a str> {
    k.sort_unstable();
    k
}

const WITHDRAWAL_FIELDS: &[&str] =
    &["account", "approved_by", "attempts", "block_num", "cwd", "fee_cwd", "game", "note", "requested_at_ms", "state", "tx_id", "user", "withdrawal_id"];
const UNCLAIMED_FIELDS: &[&str] = &[
    "amount", "asset_id", "block_num", "deposit_id", "from_account_id", "occurrence", "op", "op_in_trx", "reason", "resolution", "state", "trx_in_block",
];

/// The whole story through HTTP: every call, successes and the refusals a game meets.
#[test]
fn every_call_over_http() {
    let env = Env::start("http-api story", &["alice-cwd", "bob-cwd", "stranger-cwd"]);

    // Health needs no token.
    let h = env.raw("GET", "/health", None, None);
    assert_eq!((h.status, h.body.clone()), (200, json!({ "ok": true })));

    // status (POST, and GET for dashboards)
    let s = env.ok("status", json!({}));
    assert_eq!(
        keys_of(&s),
        sorted(vec![
            "cwd_balance", "fee_reserve", "frozen_game", "gateway_account", "low_fee_balance", "open_sweep", "payouts_paused", "pending_cwd",
            "pending_withdrawals", "scanned_through_block", "unclaimed_count", "unclaimed_cwd"
        ])
    );
    assert_eq!(s["gateway_account"], "game-gateway");
    assert_eq!(s["cwd_balance"], json!(10_000 * CWD));
    let g = env.raw("GET", "/v1/status", Some(&format!("Bearer {TOKEN}")), None);
    assert_eq!(g.status, 200);
    assert_eq!(g.body["gateway_account"], "game-gateway");

    // start-link → the code arrives in the wallet → confirm-link
    let started = env.ok("start-link", json!({ "user": "alice", "account": "alice-cwd" }));
    assert_eq!(keys_of(&started), vec!["account", "code_digits", "expires_at_ms", "tx_id"]);
    assert_eq!(started["account"], "alice-cwd");
    assert_eq!(started["code_digits"], 6);
    assert_eq!(started["tx_id"].as_str().unwrap().len(), 40);
    let code = env.link_code("alice-cwd", 6);
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!(view["pending_link"]["account"], "alice-cwd");
    assert_eq!(view["pending_link"]["attempts_left"], 5);
    assert_eq!(view["linked"], Value::Null);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = env.refused("confirm-link", json!({ "user": "alice", "code": wrong }), 422, "wrong-code");
    assert_eq!(e["attempts_left"], 4);
    let linked = env.ok("confirm-link", json!({ "user": "alice", "code": code }));
    assert_eq!(keys_of(&linked), vec!["account", "account_id", "linked_at_ms"]);
    assert_eq!(linked["account"], "alice-cwd");
    assert_eq!(linked["account_id"], env.player("alice-cwd").id_string());
    env.refused("confirm-link", json!({ "user": "alice", "code": code }), 409, "no-pending-link");
    env.refused("start-link", json!({ "user": "mallory", "account": "alice-cwd" }), 409, "account-taken");
    // Each refusal after a lookup counts as an attempt (issue 32): another user.
    env.refused("start-link", json!({ "user": "mallet", "account": "no-such-account" }), 404, "account-not-found");
    let e = env.refused("start-link", json!({ "user": "mallory", "account": "Bad_Name" }), 400, "bad-account-name");
    assert_eq!(e["message"], "not a valid chain account name (bad-character)");
    env.refused("account", json!({ "user": "no spaces allowed" }), 400, "bad-user-id");

    // Rate limit: a user may ask for a code once a minute → 429 with Retry-After.
    env.ok("start-link", json!({ "user": "bob", "account": "bob-cwd" }));
    let r = env.call("start-link", json!({ "user": "bob", "account": "bob-cwd" }));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "rate-limited");
    assert_eq!(r.body["error"]["scope"], "user");
    assert_eq!(r.body["error"]["message"], "too many link requests (user); retry later");
    let retry_ms = r.body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(retry_ms > 0 && retry_ms <= 60_000, "{retry_ms}");
    let secs: u64 = r.retry_after.as_deref().expect("Retry-After header").parse().unwrap();
    assert_eq!(secs, retry_ms.div_ceil(1000));
    // bob links with the code he did get, and unlinks.
    let bob_code = env.link_code("bob-cwd", 6);
    env.ok("confirm-link", json!({ "user": "bob", "code": bob_code }));
    let u = env.ok("unlink", json!({ "user": "bob" }));
    assert_eq!(u, json!({ "unlinked": true }));
    env.refused("unlink", json!({ "user": "bob" }), 409, "not-linked");

    // account, deposit-instructions
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!(keys_of(&view), vec!["balance", "frozen", "language", "linked", "pending_link", "revision", "user"]);
    assert_eq!(view["language"], Value::Null);
    // The player's language: the deposit note comes in it.
    assert_eq!(env.ok("set-language", json!({ "user": "alice", "language": "ru" })), json!({ "language": "ru" }));
    assert_eq!(env.ok("account", json!({ "user": "alice" }))["language"], "ru");
    assert!(env.ok("deposit-instructions", json!({ "user": "alice" }))["note"].as_str().unwrap().starts_with("Переведите CWD"));
    env.refused("set-language", json!({ "user": "alice", "language": "Russian" }), 400, "invalid");
    env.ok("set-language", json!({ "user": "alice", "language": "" }));
    assert_eq!((view["balance"].as_u64(), view["frozen"].as_u64()), (Some(0), Some(0)));
    assert_eq!(view["linked"]["account"], "alice-cwd");
    assert_eq!(view["pending_link"], Value::Null);
    let unknown = env.ok("account", json!({ "user": "never-seen" }));
    assert_eq!((unknown["balance"].as_u64(), unknown["linked"].clone()), (Some(0), Value::Null));
    let info = env.ok("deposit-instructions", json!({ "user": "alice" }));
    assert_eq!(keys_of(&info), vec!["asset", "from_account", "gateway_account", "note", "rate"]);
    assert_eq!((info["gateway_account"].as_str(), info["from_account"].as_str()), (Some("game-gateway"), Some("alice-cwd")));
    assert_eq!(info["asset"], "CWD");
    assert_eq!(info["rate"], json!({ "game_units": 90, "per_cwd_units": 100_000 }));
    env.refused("deposit-instructions", json!({ "user": "bob" }), 409, "not-linked");

    // quotes
    let q = env.ok("quote-deposit", json!({ "cwd": 250_000 }));
    assert_eq!(q, json!({ "cwd": 250_000, "game": 225, "rate": { "game_units": 90, "per_cwd_units": 100_000 }, "fee_cwd": 0 }));
    let q = env.ok("quote-withdrawal", json!({ "game": 1_000 }));
    assert_eq!((q["cwd"].as_u64(), q["game"].as_u64()), (Some(1_000_000), Some(1_000)));
    let q = env.ok("quote-withdrawal", json!({ "cwd": 150_001 }));
    assert_eq!((q["cwd"].as_u64(), q["game"].as_u64()), (Some(150_001), Some(151)), "game units needed round up");
    env.refused("quote-withdrawal", json!({ "game": 0 }), 422, "amount-too-small");

    // Deposits: alice (linked) is credited; a stranger's two transfers are unclaimed.
    env.devnet.transfer("alice-cwd", "game-gateway", 25 * CWD, Some("top up"), None).unwrap();
    env.devnet.transfer("stranger-cwd", "game-gateway", 3 * CWD, None, None).unwrap();
    env.devnet.produce_block();
    env.devnet.transfer("stranger-cwd", "game-gateway", 2 * CWD, Some("for my friend"), None).unwrap();
    env.devnet.produce_block();
    // Not irreversible yet: nothing credited.
    env.ok("tick", json!({}));
    assert_eq!(env.ok("account", json!({ "user": "alice" }))["balance"], 0);
    let report = env.settle();
    assert_eq!(
        keys_of(&report),
        sorted(vec![
            "deposits_credited", "deposits_unclaimed", "derived_build", "history_behind", "history_scanned", "last_irreversible_block", "next_tick_ms",
            "node_errors", "scanned_through_block", "sweeps_confirmed", "sweeps_sent", "withdrawals_confirmed", "withdrawals_failed", "withdrawals_sent"
        ])
    );
    assert_eq!((report["deposits_credited"].as_u64(), report["deposits_unclaimed"].as_u64()), (Some(1), Some(2)), "{report}");
    assert_eq!(report["derived_build"], Value::Null, "a fresh store keeps its totals from the start");
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!(view["balance"], 25 * 90);
    let deposits = env.ok("list-deposits", json!({ "user": "alice" }));
    assert_eq!(deposits.as_array().unwrap().len(), 1, "{deposits}");
    assert_eq!(
        sorted(deposits[0].as_object().unwrap().keys().map(String::as_str).collect()),
        sorted(vec!["assigned", "credited_at_ms", "cwd", "deposit_id", "from_account_id", "game", "user"])
    );
    assert_eq!((deposits[0]["cwd"].as_i64(), deposits[0]["game"].as_u64(), deposits[0]["assigned"].as_bool()), (Some(25 * CWD), Some(25 * 90), Some(false)));
    assert_eq!(env.ok("list-deposits", json!({ "user": "alice", "start_after": deposits[0]["deposit_id"] })), json!([]));
    env.refused("list-deposits", json!({ "user": "alice", "limit": 0 }), 400, "invalid");

    // adjust-balance, with replay and idempotency conflict
    let won = env.ok("adjust-balance", json!({ "user": "alice", "delta": 500, "idempotency_key": "match-1001", "reason": "won the arena match" }));
    assert_eq!(won, json!({ "balance": 2_750, "frozen": 0, "replayed": false }));
    let again = env.ok("adjust-balance", json!({ "user": "alice", "delta": 500, "idempotency_key": "match-1001", "reason": "won the arena match" }));
    assert_eq!(again, json!({ "balance": 2_750, "frozen": 0, "replayed": true }));
    env.refused("adjust-balance", json!({ "user": "alice", "delta": 900, "idempotency_key": "match-1001", "reason": "won the arena match" }), 409, "idempotency-conflict");
    let spent = env.ok("adjust-balance", json!({ "user": "alice", "delta": -250, "idempotency_key": "shop-2002" }));
    assert_eq!(spent["balance"], 2_500);
    let e = env.refused("adjust-balance", json!({ "user": "alice", "delta": -1_000_000, "idempotency_key": "shop-2003" }), 422, "insufficient-balance");
    assert_eq!(e["available"], 2_500);

    // request-withdrawal: small ones are queued, large ones wait for review.
    let small = env.ok("request-withdrawal", json!({ "user": "alice", "game": 200, "idempotency_key": "withdraw-1" }));
    assert_eq!(keys_of(&small), sorted(WITHDRAWAL_FIELDS.to_vec()));
    assert_eq!((small["state"].as_str(), small["cwd"].as_u64(), small["game"].as_u64()), (Some("queued"), Some(200_000), Some(200)));
    assert_eq!((small["account"].as_str(), small["tx_id"].clone(), small["attempts"].as_u64()), (Some("alice-cwd"), Value::Null, Some(0)));
    let replay = env.ok("request-withdrawal", json!({ "user": "alice", "game": 200, "idempotency_key": "withdraw-1" }));
    assert_eq!(replay["withdrawal_id"], small["withdrawal_id"]);
    env.refused("request-withdrawal", json!({ "user": "alice", "game": 300, "idempotency_key": "withdraw-1" }), 409, "idempotency-conflict");
    let big = env.ok("request-withdrawal", json!({ "user": "alice", "cwd": 600_000, "idempotency_key": "withdraw-2" }));
    assert_eq!((big["state"].as_str(), big["cwd"].as_u64(), big["game"].as_u64()), (Some("awaiting-review"), Some(600_000), Some(600)));
    let bigger = env.ok("request-withdrawal", json!({ "user": "alice", "cwd": 700_000, "idempotency_key": "withdraw-3" }));
    assert_eq!(bigger["state"], "awaiting-review");
    let e = env.refused("request-withdrawal", json!({ "user": "alice", "cwd": 50_000, "idempotency_key": "withdraw-4" }), 422, "below-minimum");
    assert_eq!(e["minimum_cwd"], 100_000);
    env.refused("request-withdrawal", json!({ "user": "bob", "game": 200, "idempotency_key": "withdraw-5" }), 409, "not-linked");
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!((view["balance"].as_u64(), view["frozen"].as_u64()), (Some(2_500 - 1_500), Some(1_500)));
    env.refused("unlink", json!({ "user": "alice" }), 409, "withdrawals-pending");

    // get / list withdrawals
    let (small_id, big_id, bigger_id) =
        (small["withdrawal_id"].as_str().unwrap(), big["withdrawal_id"].as_str().unwrap(), bigger["withdrawal_id"].as_str().unwrap());
    assert_eq!(env.ok("get-withdrawal", json!({ "withdrawal_id": big_id })), big);
    env.refused("get-withdrawal", json!({ "withdrawal_id": "w-nope" }), 404, "withdrawal-not-found");
    let all = env.ok("list-withdrawals", json!({ "user": "alice" }));
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|w| w["withdrawal_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![small_id, big_id, bigger_id]);
    let review = env.ok("list-withdrawals", json!({ "state": "awaiting-review" }));
    assert_eq!(review.as_array().unwrap().len(), 2);
    let page = env.ok("list-withdrawals", json!({ "start_after": small_id, "limit": 1 }));
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["withdrawal_id"], big_id);
    assert_eq!(env.ok("list-withdrawals", json!({ "user": "bob" })), json!([]));
    env.refused("list-withdrawals", json!({ "state": "pending" }), 400, "bad-request");
    env.refused("list-withdrawals", json!({ "limit": 0 }), 400, "invalid");

    // approve / reject
    let approved = env.ok("approve-withdrawal", json!({ "withdrawal_id": big_id }));
    assert_eq!((approved["withdrawal_id"].as_str(), approved["state"].as_str()), (Some(big_id), Some("queued")));
    env.refused("approve-withdrawal", json!({ "withdrawal_id": big_id }), 409, "not-awaiting-review");
    let rejected = env.ok("reject-withdrawal", json!({ "withdrawal_id": bigger_id, "reason": "unusual activity" }));
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["note"], "unusual activity");
    env.refused("reject-withdrawal", json!({ "withdrawal_id": "w-nope", "reason": "x" }), 404, "withdrawal-not-found");
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!((view["balance"].as_u64(), view["frozen"].as_u64()), (Some(1_700), Some(800)), "the rejected one is unfrozen");

    // unclaimed deposits: list, assign one, refund the other
    let open = env.ok("list-unclaimed", json!({}));
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(keys_of(&open[0]), sorted(UNCLAIMED_FIELDS.to_vec()));
    assert_eq!((open[0]["amount"].as_i64(), open[0]["state"].as_str()), (Some(3 * CWD), Some("open")));
    assert_eq!(open[0]["from_account_id"], env.player("stranger-cwd").id_string());
    assert_eq!(open[0]["asset_id"], "1.3.0");
    let (first, second) = (open[0]["deposit_id"].as_str().unwrap(), open[1]["deposit_id"].as_str().unwrap());
    let assigned = env.ok("assign-unclaimed", json!({ "deposit_id": first, "user": "carol" }));
    assert_eq!((assigned["state"].as_str(), assigned["resolution"].as_str()), (Some("assigned"), Some("carol")));
    assert_eq!(env.ok("account", json!({ "user": "carol" }))["balance"], 3 * 90);
    let carols = env.ok("list-deposits", json!({ "user": "carol" }));
    assert_eq!((carols[0]["deposit_id"].as_str(), carols[0]["game"].as_u64(), carols[0]["assigned"].as_bool()), (Some(first), Some(3 * 90), Some(true)));
    env.refused("assign-unclaimed", json!({ "deposit_id": first, "user": "dave" }), 409, "already-resolved");
    env.refused("assign-unclaimed", json!({ "deposit_id": "nope", "user": "dave" }), 404, "unclaimed-not-found");
    let refunded = env.ok("refund-unclaimed", json!({ "deposit_id": second, "note": "sent back in tx 1a2b" }));
    assert_eq!((refunded["state"].as_str(), refunded["resolution"].as_str()), (Some("refund-marked"), Some("sent back in tx 1a2b")));
    assert_eq!(env.ok("list-unclaimed", json!({})), json!([]));
    let resolved = env.ok("list-unclaimed", json!({ "include_resolved": true, "limit": 10 }));
    assert_eq!(resolved.as_array().unwrap().len(), 2);

    // tick sends the queued withdrawals; once irreversible they are confirmed.
    let before = env.devnet.balance_of("alice-cwd").unwrap();
    let sent = env.ok("tick", json!({}));
    assert_eq!(sent["withdrawals_sent"], 2, "{sent}");
    let w = env.ok("get-withdrawal", json!({ "withdrawal_id": small_id }));
    assert_eq!((w["state"].as_str(), w["attempts"].as_u64()), (Some("sent"), Some(1)));
    assert_eq!(w["tx_id"].as_str().unwrap().len(), 40);
    env.devnet.produce_block();
    let confirmed = env.settle();
    assert_eq!(confirmed["withdrawals_confirmed"], 2, "{confirmed}");
    let w = env.ok("get-withdrawal", json!({ "withdrawal_id": small_id }));
    assert_eq!(w["state"], "confirmed");
    assert!(w["block_num"].as_u64().unwrap() > 0);
    assert_eq!(env.devnet.balance_of("alice-cwd").unwrap(), before + 800_000);
    let view = env.ok("account", json!({ "user": "alice" }));
    assert_eq!((view["balance"].as_u64(), view["frozen"].as_u64()), (Some(1_700), Some(0)));
    let s = env.ok("status", json!({}));
    assert_eq!((s["pending_withdrawals"].as_u64(), s["frozen_game"].as_u64(), s["unclaimed_count"].as_u64()), (Some(0), Some(0), Some(0)));

    // cancel-withdrawal: a queued withdrawal is unfrozen; a confirmed one cannot be.
    let q = env.ok("request-withdrawal", json!({ "user": "alice", "game": 200, "idempotency_key": "alice-w3" }));
    assert_eq!(env.ok("account", json!({ "user": "alice" }))["frozen"], 200);
    let c = env.ok("cancel-withdrawal", json!({ "withdrawal_id": q["withdrawal_id"], "reason": "changed my mind" }));
    assert_eq!(sorted(keys_of(&c)), sorted(WITHDRAWAL_FIELDS.to_vec()));
    assert_eq!((c["state"].as_str(), c["note"].as_str()), (Some("cancelled"), Some("changed my mind")));
    assert_eq!(env.ok("account", json!({ "user": "alice" }))["frozen"], 0);
    env.refused("cancel-withdrawal", json!({ "withdrawal_id": small_id, "reason": "" }), 409, "not-cancellable");
    env.refused("cancel-withdrawal", json!({ "withdrawal_id": "w9999999999", "reason": "" }), 404, "withdrawal-not-found");
    let cancelled = env.ok("list-withdrawals", json!({ "state": "cancelled" }));
    assert_eq!(cancelled.as_array().unwrap().len(), 1);

    // Unknown payouts: none here; acknowledging a made-up one is refused.
    assert_eq!(env.ok("list-unknown-payouts", json!({})), json!([]));
    env.refused("acknowledge-unknown-payout", json!({ "deposit_id": "d-0000000001-00000-00000", "note": "" }), 404, "unknown-payout-not-found");

    // link-challenge (pow_bits is 0 here, so start-link needs no proof) and start-memo-link;
    // a `nonce` without its `challenge` is a bad request.
    let ch = env.ok("link-challenge", json!({}));
    assert_eq!(keys_of(&ch), vec!["challenge", "difficulty_bits", "expires_at_ms"]);
    assert_eq!(ch["challenge"].as_str().unwrap().len(), 80);
    let m = env.ok("start-memo-link", json!({ "user": "erin" }));
    assert_eq!(keys_of(&m), vec!["code", "expires_at_ms", "gateway_account"]);
    assert!(m["code"].as_str().unwrap().starts_with("link-"));
    env.refused("start-memo-link", json!({ "user": "alice" }), 409, "already-linked");
    let bad = env.raw("POST", "/v1/start-link", Some(&format!("Bearer {TOKEN}")), Some(br#"{"user": "erin", "account": "bob-cwd", "nonce": 5}"#));
    assert_eq!((bad.status, bad.body["error"]["code"].as_str()), (400, Some("bad-request")));

    // The ledger's other moves: an internal transfer, a referral and a reward from the
    // pool; no cold account here, so no sweeps.
    let bob0 = env.ok("account", json!({ "user": "bob" }))["balance"].as_u64().unwrap();
    let t = env.ok("transfer-internal", json!({ "from_user": "alice", "to_user": "bob", "amount": 100, "idempotency_key": "gift-1", "memo": "welcome gift" }));
    assert_eq!(
        keys_of(&t),
        sorted(vec!["amount", "at_ms", "from_balance", "from_user", "memo", "replayed", "to_balance", "to_user", "transfer_id"])
    );
    assert_eq!((t["from_balance"].as_u64(), t["to_balance"].as_u64()), (Some(1_600), Some(bob0 + 100)));
    assert_eq!(env.ok("transfer-internal", json!({ "from_user": "alice", "to_user": "bob", "amount": 100, "idempotency_key": "gift-1", "memo": "welcome gift" }))["replayed"], true);
    env.refused("transfer-internal", json!({ "from_user": "bob", "to_user": "alice", "amount": bob0 + 101, "idempotency_key": "gift-2" }), 422, "insufficient-balance");
    assert_eq!(env.ok("list-transfers", json!({ "user": "bob" })).as_array().unwrap().len(), 1);
    let r = env.ok("set-referrer", json!({ "user": "bob", "referrer": "alice" }));
    assert_eq!(keys_of(&r), vec!["referrer", "since_ms", "user"]);
    env.refused("set-referrer", json!({ "user": "alice", "referrer": "bob" }), 422, "referral-cycle");
    env.refused("set-referrer", json!({ "user": "alice", "referrer": "alice" }), 422, "self-referral");
    env.refused("set-referrer", json!({ "user": "bob", "referrer": "erin" }), 409, "referrer-already-set");
    env.refused("reward-referrers", json!({ "user": "bob", "base_amount": 1_000, "idempotency_key": "fee-bob-1" }), 422, "pool-insufficient");
    env.ok("adjust-balance", json!({ "user": "referral-pool", "delta": 10_000, "idempotency_key": "pool-1", "reason": "operator funds the pool" }));
    let reward = env.ok("reward-referrers", json!({ "user": "bob", "base_amount": 1_000, "idempotency_key": "fee-bob-1" }));
    assert_eq!(
        keys_of(&reward),
        sorted(vec!["at_ms", "base_amount", "cashback", "paid", "pool_balance", "replayed", "shares", "user"])
    );
    assert_eq!(reward["shares"], json!([{ "level": 1, "user": "alice", "amount": 100 }]));
    assert_eq!((reward["cashback"].as_u64(), reward["paid"].as_u64(), reward["pool_balance"].as_u64()), (Some(20), Some(120), Some(9_880)));
    assert_eq!(env.ok("list-referrals", json!({ "referrer": "alice" }))[0]["user"], "bob");
    let earned = env.ok("referral-earnings", json!({ "user": "alice" }));
    assert_eq!((earned["referrals"].as_u64(), earned["by_level"].clone()), (Some(1), json!([100])));
    assert_eq!(env.ok("list-sweeps", json!({})), json!([]));

    // The events the component raised along the way went to the host's sink.
    let types: Vec<String> = env.events.snapshot().iter().filter_map(|e| e["type"].as_str().map(str::to_string)).collect();
    for t in ["link-confirmed", "deposit-credited", "deposit-unclaimed", "withdrawal-confirmed"] {
        assert!(types.iter().any(|x| x == t), "no {t} event in {types:?}");
    }
    env.write_transcript();
}

/// Requests the API refuses before the gateway sees them, each with a 4xx and JSON error.
#[test]
fn bad_requests_get_4xx_and_json_errors() {
    let env = Env::start("http-api bad requests", &["alice-cwd"]);
    let auth = format!("Bearer {TOKEN}");
    let post = |path: &str, body: &[u8]| env.raw("POST", path, Some(&auth), Some(body));
    let code = |r: &Reply| r.body["error"]["code"].as_str().map(str::to_string);

    // Authentication
    for (what, header) in [
        ("no token", None),
        ("wrong token", Some("Bearer not-the-token-0123456789ab".to_string())),
        ("token prefix", Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]))),
        ("token plus more", Some(format!("Bearer {TOKEN}x"))),
        ("another scheme", Some(format!("Basic {TOKEN}"))),
        ("bare token", Some(TOKEN.to_string())),
    ] {
        let r = env.raw("POST", "/v1/status", header.as_deref(), Some(b"{}"));
        assert_eq!((r.status, code(&r).as_deref()), (401, Some("unauthorized")), "{what}: {}", r.body);
        assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"), "{what}");
        // Refused unread, the body leaves the connection unusable: the answer says so,
        // or a client reusing it would send its next request into a closed socket.
        assert_eq!(r.connection.as_deref(), Some("close"), "{what}");
    }
    let r = env.raw("GET", "/v1/status", None, None);
    assert_eq!((r.status, r.connection), (401, None), "no body, nothing unread: the connection stays open");
    // Unknown calls and paths; no token is checked before anything is revealed.
    let r = post("/v1/no-such-call", b"{}");
    assert_eq!((r.status, code(&r).as_deref()), (404, Some("unknown-call")), "{}", r.body);
    let r = post("/v2/status", b"{}");
    assert_eq!((r.status, code(&r).as_deref()), (404, Some("not-found")), "{}", r.body);
    let r = env.raw("POST", "/v1/no-such-call", None, Some(b"{}"));
    assert_eq!(r.status, 401);
    // Methods
    for method in ["GET", "PUT", "DELETE"] {
        let r = env.raw(method, "/v1/account", Some(&auth), None);
        assert_eq!((r.status, code(&r).as_deref()), (405, Some("method-not-allowed")), "{method}: {}", r.body);
        assert_eq!(r.allow.as_deref(), Some("POST"));
    }
    // Body: JSON object, UTF-8, at most 64 KiB
    let r = post("/v1/account", b"user=alice");
    assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("not JSON"));
    for not_object in [&b"[\"alice\"]"[..], b"\"alice\"", b"42", b"null"] {
        let r = post("/v1/account", not_object);
        assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("JSON object"));
    }
    let r = post("/v1/account", &[b'{', 0xff, 0xfe, b'}']);
    assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{}", r.body);
    // Exactly 64 KiB is fine (an unknown field is ignored); one byte more is not.
    let padded = |len: usize| {
        let head = r#"{"user":"alice","pad":""#;
        let mut s = String::from(head);
        s.push_str(&"x".repeat(len - head.len() - 2));
        s.push_str("\"}");
        assert_eq!(s.len(), len);
        s
    };
    let r = post("/v1/account", padded(64 * 1024).as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post("/v1/account", padded(64 * 1024 + 1).as_bytes());
    assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("64 KiB"));
    let r = post("/v1/account", padded(1 << 20).as_bytes());
    assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{}", r.body);
    // The connection pool still works after refusing bodies it did not read.
    assert_eq!(post("/v1/status", b"{}").status, 200);

    // Arguments: missing or ill-typed → 400 bad-request naming the argument.
    let bad_args: &[(&str, Value, &str)] = &[
        ("account", json!({}), "user"),
        ("account", json!({ "user": 5 }), "user"),
        ("start-link", json!({ "user": "alice" }), "account"),
        ("confirm-link", json!({ "user": "alice", "code": 123456 }), "code"),
        ("quote-deposit", json!({ "cwd": -1 }), "cwd"),
        ("quote-deposit", json!({ "cwd": "100000" }), "cwd"),
        ("quote-deposit", json!({ "cwd": 1.5 }), "cwd"),
        ("adjust-balance", json!({ "user": "alice", "delta": "5", "idempotency_key": "k" }), "delta"),
        ("adjust-balance", json!({ "user": "alice", "delta": 5 }), "idempotency_key"),
        ("adjust-balance", json!({ "user": "alice", "delta": 5, "idempotency_key": "k", "reason": 7 }), "reason"),
        ("adjust-balance", json!({ "user": "alice", "delta": u64::MAX, "idempotency_key": "k" }), "delta"),
        ("request-withdrawal", json!({ "user": "alice", "idempotency_key": "k" }), "game"),
        ("request-withdrawal", json!({ "user": "alice", "game": 100, "cwd": 100_000, "idempotency_key": "k" }), "game"),
        ("request-withdrawal", json!({ "user": "alice", "game": "100", "cwd": 100_000, "idempotency_key": "k" }), "game"),
        ("request-withdrawal", json!({ "user": "alice", "game": 100 }), "idempotency_key"),
        ("quote-withdrawal", json!({ "game": 100, "cwd": 100_000 }), "game"),
        ("quote-withdrawal", json!({ "cwd": -5 }), "cwd"),
        ("quote-withdrawal", json!({}), "game"),
        ("approve-withdrawal", json!({}), "withdrawal_id"),
        ("reject-withdrawal", json!({ "withdrawal_id": "w" }), "reason"),
        ("get-withdrawal", json!({ "withdrawal_id": null }), "withdrawal_id"),
        ("list-withdrawals", json!({ "user": 1 }), "user"),
        ("list-withdrawals", json!({ "limit": "ten" }), "limit"),
        ("list-withdrawals", json!({ "limit": -1 }), "limit"),
        ("list-withdrawals", json!({ "state": "done" }), "state"),
        ("list-unclaimed", json!({ "start_after": 3 }), "start_after"),
        ("list-unclaimed", json!({ "include_resolved": "yes" }), "include_resolved"),
        ("assign-unclaimed", json!({ "deposit_id": "d" }), "user"),
        ("refund-unclaimed", json!({ "deposit_id": "d" }), "note"),
    ];
    for (call, args, arg) in bad_args {
        let r = env.call(call, args.clone());
        assert_eq!((r.status, code(&r).as_deref()), (400, Some("bad-request")), "{call} {args}: {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{arg}`")), "{call} {args}: {message}");
    }
    // An empty body is an empty object.
    let r = post("/v1/status", b"");
    assert_eq!(r.status, 200, "{}", r.body);

    // Refusals by the gateway itself carry their own codes and fields.
    let r = env.call("adjust-balance", json!({ "user": "alice", "delta": 0, "idempotency_key": "k" }));
    assert_eq!((r.status, code(&r).as_deref()), (400, Some("invalid")), "{}", r.body);
    assert_eq!(r.body["error"]["field"], "delta");
    env.refused("account", json!({ "user": "" }), 400, "bad-user-id");
    env.refused("quote-withdrawal", json!({ "game": u64::MAX }), 422, "overflow");
}
