//! The HTTP JSON API for game servers that do not embed the component: every gateway
//! call as `POST /v1/<call>` with a JSON object of arguments, answered with JSON.
//! Loopback by default; every request needs `Authorization: Bearer <token>`.
//! See `docs/http-api.md` for each call with examples.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::bindings::api::*;
use crate::gateway::{GatewayCallError, Service};

/// Requests larger than this are refused before parsing.
const MAX_BODY: u64 = 64 * 1024;

pub struct HttpApi {
    server: Arc<Server>,
    pub addr: SocketAddr,
    /// Serving threads spawned; each needs its own wake-up to stop.
    threads: std::sync::atomic::AtomicUsize,
}

impl HttpApi {
    pub fn bind(listen: &str) -> anyhow::Result<Self> {
        let server = Server::http(listen).map_err(|e| anyhow::anyhow!("binding the HTTP API to {listen}: {e}"))?;
        let addr = server.server_addr().to_ip().ok_or_else(|| anyhow::anyhow!("HTTP API is not on an IP address"))?;
        Ok(HttpApi { server: Arc::new(server), addr, threads: Default::default() })
    }

    /// Serves on `threads` threads until `unblock` is called on the server.
    pub fn spawn(&self, service: Arc<Service>, token: String, threads: usize) -> Vec<std::thread::JoinHandle<()>> {
        self.threads.fetch_add(threads.max(1), std::sync::atomic::Ordering::SeqCst);
        (0..threads.max(1))
            .map(|i| {
                let (server, service, token) = (self.server.clone(), service.clone(), token.clone());
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || {
                        for request in server.incoming_requests() {
                            handle(&service, &token, request);
                        }
                    })
                    .expect("spawning an HTTP thread")
            })
            .collect()
    }

    /// Stops every serving thread (tiny_http wakes one waiting thread per `unblock`).
    pub fn shutdown(&self) {
        for _ in 0..self.threads.load(std::sync::atomic::Ordering::SeqCst).max(1) {
            self.server.unblock();
        }
    }
}

impl Drop for HttpApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn respond(request: Request, status: u16, body: Value) {
    respond_with(request, status, body, &[])
}

fn respond_with(request: Request, status: u16, body: Value, headers: &[(&str, &str)]) {
    let mut response = Response::from_string(body.to_string()).with_status_code(status);
    response.add_header(Header::from_bytes("content-type", "application/json").unwrap());
    for (name, value) in headers {
        response.add_header(Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap());
    }
    if let Some(ms) = body.pointer("/error/retry_after_ms").and_then(Value::as_u64) {
        let secs = ms.div_ceil(1000).max(1).to_string();
        response.add_header(Header::from_bytes("retry-after", secs.as_bytes()).unwrap());
    }
    let _ = request.respond(response);
}

fn bad_request(message: impl Into<String>) -> (u16, Value) {
    (400, json!({ "error": { "code": "bad-request", "message": message.into() } }))
}

/// Constant-time comparison: the token must not leak through timing.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn handle(service: &Service, token: &str, mut request: Request) {
    let url = request.url().to_string();
    if url == "/health" {
        return respond(request, 200, json!({ "ok": true }));
    }
    let authorized = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("authorization"))
        .and_then(|h| h.value.as_str().strip_prefix("Bearer "))
        .is_some_and(|t| token_matches(t.trim().as_bytes(), token.as_bytes()));
    if !authorized {
        let body = json!({ "error": { "code": "unauthorized", "message": "send Authorization: Bearer <API token>" } });
        return respond_with(request, 401, body, &[("www-authenticate", "Bearer")]);
    }
    let Some(call) = url.strip_prefix("/v1/") else {
        return respond(request, 404, json!({ "error": { "code": "not-found", "message": "calls are POST /v1/<call>" } }));
    };
    let call = call.split('?').next().unwrap_or("").to_string();
    if *request.method() != Method::Post && !(call == "status" && *request.method() == Method::Get) {
        let allow = if call == "status" { "GET, POST" } else { "POST" };
        let body = json!({ "error": { "code": "method-not-allowed", "message": "use POST with a JSON object" } });
        return respond_with(request, 405, body, &[("allow", allow)]);
    }
    let mut body = String::new();
    if request.body_length().is_some_and(|n| n as u64 > MAX_BODY)
        || request.as_reader().take(MAX_BODY + 1).read_to_string(&mut body).is_err()
        || body.len() as u64 > MAX_BODY
    {
        let (s, v) = bad_request("the body must be UTF-8 JSON of at most 64 KiB");
        return respond(request, s, v);
    }
    let args: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return { let (s, v) = bad_request("the body must be a JSON object"); respond(request, s, v) },
            Err(e) => return { let (s, v) = bad_request(format!("the body is not JSON: {e}")); respond(request, s, v) },
        }
    };
    let (status, value) = dispatch(service, &call, &args);
    respond(request, status, value);
}

/// Runs one call; `(HTTP status, JSON body)`.
pub fn dispatch(service: &Service, call: &str, a: &Value) -> (u16, Value) {
    // An argument that is present (not null) but of the wrong type is refused, never
    // read as absent or as a default.
    macro_rules! arg {
        (str $name:literal) => {
            match a.get($name) {
                Some(Value::String(s)) => s.as_str(),
                None | Some(Value::Null) => return Err(bad_request(concat!("missing string argument `", $name, "`"))),
                Some(_) => return Err(bad_request(concat!("`", $name, "` must be a string"))),
            }
        };
        (opt_str $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.as_str()),
                Some(_) => return Err(bad_request(concat!("`", $name, "` must be a string"))),
            }
        };
        (opt_bool $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(bad_request(concat!("`", $name, "` must be true or false"))),
            }
        };
        (u64 $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => return Err(bad_request(concat!("missing non-negative integer argument `", $name, "`"))),
                Some(v) => match v.as_u64() {
                    Some(n) => n,
                    None => return Err(bad_request(concat!("`", $name, "` must be a non-negative integer (at most 2^64-1)"))),
                },
            }
        };
        (i64 $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => return Err(bad_request(concat!("missing integer argument `", $name, "`"))),
                Some(v) => match v.as_i64() {
                    Some(n) => n,
                    None => return Err(bad_request(concat!("`", $name, "` must be an integer (-2^63..2^63-1)"))),
                },
            }
        };
        (limit) => {
            match a.get("limit") {
                None | Some(Value::Null) => 100,
                Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => n,
                    None => return Err(bad_request("`limit` must be an integer")),
                },
            }
        };
    }
    let amount = || -> Result<WithdrawalAmount, (u16, Value)> {
        let given = |name| a.get(name).filter(|v| !v.is_null());
        match (given("game"), given("cwd")) {
            (Some(g), None) => g.as_u64().map(WithdrawalAmount::Game).ok_or_else(|| bad_request("`game` must be a non-negative integer")),
            (None, Some(c)) => c.as_u64().map(WithdrawalAmount::Cwd).ok_or_else(|| bad_request("`cwd` must be a non-negative integer")),
            _ => Err(bad_request("give exactly one of `game` (game units) or `cwd` (1e-5 CWD units)")),
        }
    };
    let outcome: Result<Result<Value, GatewayCallError>, (u16, Value)> = service.with(|api| Ok(match call {
        "status" => api.status().map(to_json),
        "start-link" => {
            let proof = match (arg!(opt_str "challenge"), a.get("nonce").filter(|v| !v.is_null())) {
                (None, None) => None,
                (Some(c), Some(n)) => match n.as_u64() {
                    Some(nonce) => Some(PowProof { challenge: c.to_string(), nonce }),
                    None => return Err(bad_request("`nonce` must be a non-negative integer (at most 2^64-1)")),
                },
                _ => return Err(bad_request("give both `challenge` and `nonce` (a solved link-challenge), or neither")),
            };
            api.start_link(arg!(str "user"), arg!(str "account"), proof.as_ref()).map(to_json)
        }
        "link-challenge" => api.link_challenge().map(to_json),
        "start-memo-link" => api.start_memo_link(arg!(str "user")).map(to_json),
        "confirm-link" => api.confirm_link(arg!(str "user"), arg!(str "code")).map(to_json),
        "unlink" => api.unlink(arg!(str "user")).map(|()| json!({ "unlinked": true })),
        "account" => api.account(arg!(str "user")).map(to_json),
        "deposit-instructions" => api.deposit_instructions(arg!(str "user")).map(to_json),
        "quote-deposit" => api.quote_deposit(arg!(u64 "cwd")).map(to_json),
        "quote-withdrawal" => match amount() {
            Ok(am) => api.quote_withdrawal(am).map(to_json),
            Err(e) => return Err(e),
        },
        "adjust-balance" => api
            .adjust_balance(arg!(str "user"), arg!(i64 "delta"), arg!(str "idempotency_key"), arg!(opt_str "reason").unwrap_or(""))
            .map(to_json),
        "request-withdrawal" => match amount() {
            Ok(am) => api.request_withdrawal(arg!(str "user"), am, arg!(str "idempotency_key")).map(to_json),
            Err(e) => return Err(e),
        },
        "approve-withdrawal" => api.approve_withdrawal(arg!(str "withdrawal_id")).map(to_json),
        "reject-withdrawal" => api.reject_withdrawal(arg!(str "withdrawal_id"), arg!(str "reason")).map(to_json),
        "cancel-withdrawal" => api.cancel_withdrawal(arg!(str "withdrawal_id"), arg!(str "reason")).map(to_json),
        "list-unknown-payouts" => api.list_unknown_payouts(arg!(opt_bool "include_acknowledged").unwrap_or(false)).map(to_json),
        "acknowledge-unknown-payout" => api.acknowledge_unknown_payout(arg!(str "deposit_id"), arg!(str "note")).map(to_json),
        "get-withdrawal" => api.get_withdrawal(arg!(str "withdrawal_id")).map(to_json),
        "list-withdrawals" => {
            let state = match arg!(opt_str "state") {
                None => None,
                Some(s) => match parse_state(s) {
                    Some(st) => Some(st),
                    None => return Err(bad_request("`state` is one of awaiting-review, queued, sent, confirmed, failed, rejected, cancelled")),
                },
            };
            let filter = WithdrawalFilter { user: arg!(opt_str "user").map(str::to_string), state };
            api.list_withdrawals(&filter, arg!(opt_str "start_after"), arg!(limit)).map(to_json)
        }
        "list-unclaimed" => api
            .list_unclaimed(arg!(opt_bool "include_resolved").unwrap_or(false), arg!(opt_str "start_after"), arg!(limit))
            .map(to_json),
        "assign-unclaimed" => api.assign_unclaimed(arg!(str "deposit_id"), arg!(str "user")).map(to_json),
        "refund-unclaimed" => api.refund_unclaimed(arg!(str "deposit_id"), arg!(str "note")).map(to_json),
        "tick" => api.tick().map(to_json),
        other => return Err((404, json!({ "error": { "code": "unknown-call", "message": format!("no call named {other:?}") } }))),
    }));
    let result = match outcome {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match result {
        Ok(v) => (200, v),
        Err(GatewayCallError::Refused(e)) => error_json(&e),
        Err(GatewayCallError::Component(e)) => {
            eprintln!("component failure in {call}: {e:#}");
            (500, json!({ "error": { "code": "component-failed", "message": "the gateway component failed; see the host log" } }))
        }
    }
}

fn parse_state(s: &str) -> Option<WithdrawalState> {
    Some(match s {
        "awaiting-review" => WithdrawalState::AwaitingReview,
        "queued" => WithdrawalState::Queued,
        "sent" => WithdrawalState::Sent,
        "confirmed" => WithdrawalState::Confirmed,
        "failed" => WithdrawalState::Failed,
        "rejected" => WithdrawalState::Rejected,
        "cancelled" => WithdrawalState::Cancelled,
        _ => return None,
    })
}

/// Generated types as JSON: snake_case fields; enum values (`state`) in kebab-case.
pub fn to_json<T: Serialize>(v: T) -> Value {
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    kebab_enum_fields(&mut v);
    v
}

fn kebab_enum_fields(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(kebab_enum_fields),
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "state" {
                    if let Value::String(s) = val {
                        *s = kebab(s);
                    }
                } else {
                    kebab_enum_fields(val);
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A WIT enum case as its WIT name (`bad-length`). Not through `Debug`: the generated
/// `Debug` writes `NameProblem::BadLength`.
fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => kebab(&s),
        _ => "unknown".into(),
    }
}

/// A sentence for a person about a refusal.
pub fn error_message(e: &GatewayError) -> String {
    error_parts(e).2
}

/// `(HTTP status, code, message, extra fields)`.
fn error_parts(e: &GatewayError) -> (u16, &'static str, String, Value) {
    use GatewayError as E;
    let none = json!({});
    match e {
        E::NotConfigured => (503, "not-configured", "the gateway is not configured yet".into(), none),
        E::Invalid(i) => (400, "invalid", format!("{}: {}", i.field, i.detail), json!({ "field": i.field })),
        E::BadKey(r) => (500, "bad-key", format!("the {} key is not valid WIF", role(r)), none),
        E::KeyMismatch(r) => (500, "key-mismatch", format!("the {} key does not belong to the gateway account", role(r)), none),
        E::WrongChain(c) => (502, "wrong-chain", format!("the node serves chain {c}, not the configured one"), none),
        E::BadUserId => (400, "bad-user-id", "user ids are 1 to 64 characters from A-Z a-z 0-9 _ - . : @".into(), none),
        E::BadAccountName(p) => (400, "bad-account-name", format!("not a valid chain account name ({})", enum_name(p)), none),
        E::AccountNotFound => (404, "account-not-found", "no such chain account; check the spelling".into(), none),
        E::AccountTaken => (409, "account-taken", "that chain account is linked to another user".into(), none),
        E::AccountReserved(r) => (409, "account-reserved", "that chain account still has deposits in flight for its previous user; retry later".into(), json!({ "retry_after_ms": r.retry_after_ms })),
        E::AlreadyLinked(acc) => (409, "already-linked", format!("the user is already linked to {acc}; unlink first"), json!({ "account": acc })),
        E::NotLinked => (409, "not-linked", "the user has no linked chain account; start a link first".into(), none),
        E::RateLimited(r) => (429, "rate-limited", format!("too many link requests ({}); retry later", enum_name(&r.scope)), json!({ "scope": enum_name(&r.scope), "retry_after_ms": r.retry_after_ms })),
        E::NoPendingLink => (409, "no-pending-link", "no link code is pending; start a link again".into(), none),
        E::LinkExpired => (410, "link-expired", "the code expired; start a link again".into(), none),
        E::WrongCode(w) => (422, "wrong-code", format!("wrong code; {} attempts left", w.attempts_left), json!({ "attempts_left": w.attempts_left })),
        E::TooManyAttempts => (422, "too-many-attempts", "too many wrong codes; the code is void, start a link again".into(), none),
        E::WithdrawalsPending => (409, "withdrawals-pending", "the user has withdrawals in progress; unlink after they finish".into(), none),
        E::InsufficientBalance(avail) => (422, "insufficient-balance", format!("balance too low; {avail} available"), json!({ "available": avail })),
        E::BelowMinimum(min) => (422, "below-minimum", format!("below the minimum payout of {min} CWD units"), json!({ "minimum_cwd": min })),
        E::AboveMaximum(max) => (422, "above-maximum", format!("above the maximum payout of {max} CWD units"), json!({ "maximum_cwd": max })),
        E::DailyLimit(d) => (429, "daily-limit", format!("daily withdrawal limit reached; {} CWD units left today", d.remaining_cwd), json!({ "remaining_cwd": d.remaining_cwd, "retry_after_ms": d.retry_after_ms })),
        E::AmountTooSmall => (422, "amount-too-small", "the amount converts to zero; use a larger amount".into(), none),
        E::Overflow => (422, "overflow", "the amount is too large".into(), none),
        E::IdempotencyConflict => (409, "idempotency-conflict", "this idempotency key was used with other arguments; use a new key".into(), none),
        E::WithdrawalNotFound => (404, "withdrawal-not-found", "no such withdrawal".into(), none),
        E::NotAwaitingReview => (409, "not-awaiting-review", "the withdrawal is not awaiting review".into(), none),
        E::NotCancellable => (409, "not-cancellable", "the withdrawal was already sent or is final; wait for it to confirm or fail".into(), none),
        E::ProofRequired(bits) => (403, "proof-required", format!("solve a link-challenge ({bits} bits) and pass `challenge` and `nonce`"), json!({ "difficulty_bits": bits })),
        E::BadProof(p) => (403, "bad-proof", format!("the proof of work was refused ({}); get a new link-challenge", enum_name(p)), json!({ "problem": enum_name(p) })),
        E::UnknownPayoutNotFound => (404, "unknown-payout-not-found", "no such unknown payout; see list-unknown-payouts".into(), none),
        E::UnclaimedNotFound => (404, "unclaimed-not-found", "no such unclaimed deposit".into(), none),
        E::AlreadyResolved => (409, "already-resolved", "the deposit was already assigned or marked for refund".into(), none),
        E::NotCwd => (422, "not-cwd", "only CWD deposits can be assigned; mark it for refund".into(), none),
        E::NodeUnavailable(n) => (503, "node-unavailable", format!("the node is unavailable: {}", n.detail), json!({ "retry_after_ms": n.retry_after_ms })),
        E::StoreUnavailable(d) => (503, "store-unavailable", format!("the database is unavailable: {d}"), json!({ "retry_after_ms": 1000 })),
        E::Busy => (503, "busy", "concurrent updates; retry shortly".into(), json!({ "retry_after_ms": 100 })),
    }
}

fn role(r: &KeyRole) -> &'static str {
    match r {
        KeyRole::Active => "active",
        KeyRole::Memo => "memo",
    }
}

pub fn error_json(e: &GatewayError) -> (u16, Value) {
    let (status, code, message, extra) = error_parts(e);
    let mut err = json!({ "code": code, "message": message });
    if let (Value::Object(m), Value::Object(x)) = (&mut err, extra) {
        m.extend(x);
    }
    (status, json!({ "error": err }))
}
