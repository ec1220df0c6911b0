//! The player's web cabinet, served by the HTTP API under `/cabinet/` when enabled:
//! plain HTML and one script (`host/cabinet/`, embedded), and `POST /cabinet/api/<call>`
//! for them. The browser proves who it acts for with a session token the game server
//! signed ([`session`]); every call is then made server-side, through the same
//! [`dispatch`](crate::http_api::dispatch) as the API, with the user id taken from the
//! token and only the arguments a player may choose taken from the browser. The API
//! token never reaches the browser. It calls as its own caller, `cabinet`, whose role
//! allows exactly the calls it makes ([`crate::roles::CABINET_CALLS`]). See
//! `docs/cabinet.md`.

pub mod admission;
pub mod feed_watch;
pub mod revocation;
pub mod session;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::http_api::{read_args, refuse_unread, respond_with, AppState, Shared};
use crate::roles::{Caller, Role};
use session::{Session, SessionError};

const INDEX_HTML: &str = include_str!("../../cabinet/index.html");
const APP_JS: &str = include_str!("../../cabinet/app.js");
const STYLE_CSS: &str = include_str!("../../cabinet/cabinet.css");

/// The page's message catalogues: one plain JSON object per language (key → text with
/// `{name}` placeholders), served as `/cabinet/i18n/<code>.json`, English first. The
/// build script lists every `host/cabinet/i18n/<code>.json`: adding a language is adding
/// its file; a test checks every catalogue has every key.
pub const LANGUAGES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/cabinet_languages.rs"));

/// `/cabinet/i18n/languages.json`: `[{code, name}]`, the name being each catalogue's
/// `language.name`, in [`LANGUAGES`] order (the page's language menu).
fn languages_json() -> &'static str {
    static LIST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let list: Vec<Value> = LANGUAGES
            .iter()
            .map(|(code, text)| {
                let name = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v["language.name"].as_str().map(str::to_string))
                    .unwrap_or_else(|| code.to_string());
                json!({ "code": code, "name": name })
            })
            .collect();
        Value::Array(list).to_string()
    })
}

/// `GET /cabinet/i18n/<file>`: a catalogue, or the list of them.
async fn catalogue(Path(file): Path<String>) -> Response {
    if file == "languages.json" {
        return page("application/json; charset=utf-8", languages_json());
    }
    match LANGUAGES.iter().find(|(code, _)| file.strip_suffix(".json") == Some(*code)) {
        Some((_, text)) => page("application/json; charset=utf-8", text),
        None => json_reply(404, error("not-found", "no such language in the cabinet")),
    }
}

/// Deposits or withdrawals listed per page of the history.
const HISTORY_PAGE: u64 = 20;

/// The longest a `wait` holds its request. It looks at the account when the event feed
/// names the player ([`feed_watch`]), and at least every `WAIT_STEP` in case an event
/// was missed or a change (a wrong code counted) reports none.
const WAIT_MAX: Duration = Duration::from_secs(25);
const WAIT_STEP: Duration = Duration::from_secs(5);

/// The cabinet's own configuration: the secret game servers sign sessions with.
pub struct Cabinet {
    secret: Zeroizing<Vec<u8>>,
    watch: feed_watch::FeedWatch,
    /// Sessions expiring further ahead than this are refused (`session-too-long`).
    max_session_secs: u64,
    admission: admission::Admission,
    /// Cabinet calls running in the gateway at once (0: half its API instances): the
    /// rest are the game server's and the operator's, whatever players do.
    max_concurrent_calls: usize,
}

/// The longest session a cabinet accepts unless configured otherwise: a day.
pub const DEFAULT_MAX_SESSION_SECS: u64 = 86_400;
/// The most `[cabinet] max_session_secs` may be: 30 days (a revocation is kept this long).
pub const MAX_SESSION_SECS_BOUND: u64 = 30 * 86_400;

impl Cabinet {
    pub fn new(secret: Vec<u8>) -> anyhow::Result<Self> {
        let secret = Zeroizing::new(secret);
        if secret.len() < session::MIN_SECRET_LEN {
            anyhow::bail!(
                "the cabinet's session secret must be at least {} bytes",
                session::MIN_SECRET_LEN
            );
        }
        Ok(Cabinet {
            secret,
            watch: Default::default(),
            max_session_secs: DEFAULT_MAX_SESSION_SECS,
            admission: admission::Admission::new(admission::AdmissionLimits::default()),
            max_concurrent_calls: 0,
        })
    }

    /// Per-session and per-peer request limits (see [`admission`]).
    pub fn with_admission(mut self, limits: admission::AdmissionLimits) -> Self {
        self.admission = admission::Admission::new(limits);
        self
    }

    /// At most `n` cabinet calls in the gateway at once (0: half the API instances).
    pub fn with_max_concurrent_calls(mut self, n: usize) -> Self {
        self.max_concurrent_calls = n;
        self
    }

    /// The cabinet's share of `api_instances`: at least one, and one fewer than all
    /// when there are several, so one instance always stays for the game and operator.
    pub(crate) fn call_share(&self, api_instances: usize) -> usize {
        let all = api_instances.max(1);
        let share = match self.max_concurrent_calls {
            0 => all.div_ceil(2),
            n => n,
        };
        share.clamp(1, (all - 1).max(1))
    }

    /// Refuses sessions that expire more than `secs` from now.
    pub fn with_max_session_secs(mut self, secs: u64) -> Self {
        self.max_session_secs = secs;
        self
    }

    /// A session token for `user`, valid for `ttl_secs` from now (for the demo and the
    /// `cabinet-token` command; games sign their own).
    pub fn mint(&self, user: &str, ttl_secs: u64) -> String {
        session::mint(&self.secret, user, now_secs().saturating_add(ttl_secs))
    }

    fn session(&self, headers: &HeaderMap) -> Result<Session, SessionError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let now = now_secs();
        let s = session::verify(&self.secret, given.unwrap_or(""), now)?;
        if s.expires_at_secs.saturating_sub(now) > self.max_session_secs {
            return Err(SessionError::TooLong);
        }
        Ok(s)
    }
}

/// A session that is valid and neither signed out nor revoked (the store is read on a
/// blocking thread: PostgreSQL answers over the network).
async fn checked_session(st: &AppState, cabinet: &Cabinet, headers: &HeaderMap) -> Result<Session, SessionError> {
    let session = cabinet.session(headers)?;
    let (store, max) = (st.service().host_store(), cabinet.max_session_secs);
    tokio::task::spawn_blocking(move || revocation::check(store.as_ref(), &session, max).map(|()| session))
        .await
        .unwrap_or(Err(SessionError::Unchecked))
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The cabinet's routes, merged into the API's router when it is enabled.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cabinet", get(redirect))
        .route(
            "/cabinet/",
            get(|| async { page("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/cabinet/app.js",
            get(|| async { page("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/cabinet/cabinet.css",
            get(|| async { page("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/cabinet/i18n/{file}", get(catalogue))
        .route("/cabinet/api/{call}", any(api))
        .route(
            "/cabinet/{*rest}",
            any(|| async { json_reply(404, error("not-found", "no such page in the cabinet")) }),
        )
}

async fn redirect() -> Response {
    axum::http::Response::builder()
        .status(308)
        .header(header::LOCATION, "/cabinet/")
        .body(Body::empty())
        .expect("static header")
}

/// A static asset, with the surfaces' strict policy.
fn page(content_type: &'static str, text: &'static str) -> Response {
    crate::http_api::static_page(content_type, text)
}

/// A gateway call made for a player, as the cabinet's own caller.
async fn run_call(st: &AppState, call: &str, args: Value) -> (u16, Value) {
    crate::http_api::run_call(st, &Caller::cabinet(), call, args).await
}

/// A gateway call made for a player as `caller` (a cabinet-role caller named for the
/// player, so the audit log says who acted).
async fn run_call_as(st: &AppState, caller: &Caller, call: &str, args: Value) -> (u16, Value) {
    crate::http_api::run_call(st, caller, call, args).await
}

fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

fn json_reply(status: u16, body: Value) -> Response {
    respond_with(status, body, &[("cache-control", "no-store")])
}

/// The arguments the browser may choose for a call, copied as given (the gateway
/// checks their types), plus the session's user where the call takes one.
fn args_for(browser: &Value, fields: &[&str], user: Option<&str>) -> Value {
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = browser.get(*f) {
            out.insert((*f).to_string(), v.clone());
        }
    }
    if let Some(u) = user {
        out.insert("user".into(), Value::String(u.to_string()));
    }
    Value::Object(out)
}

/// `POST /cabinet/api/<call>` with `Authorization: Bearer <session token>`.
async fn api(
    State(st): Shared,
    Path(call): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, headers) = (parts.method, parts.headers);
    let peer = parts.extensions.get::<crate::http_api::Peer>().map(|p| p.0);
    let Some(cabinet) = st.cabinet.clone() else {
        return json_reply(404, error("not-found", "the cabinet is not enabled"));
    };
    if method != Method::POST {
        return refuse_unread(
            &headers,
            405,
            error("method-not-allowed", "use POST with a JSON object"),
            &[("allow", "POST")],
        );
    }
    let session = match checked_session(&st, &cabinet, &headers).await {
        Ok(s) => s,
        Err(e) => {
            return refuse_unread(
                &headers,
                if e == SessionError::Unchecked { 503 } else { 401 },
                error(e.code(), e.message()),
                &[
                    ("www-authenticate", "Bearer"),
                    ("cache-control", "no-store"),
                ],
            )
        }
    };
    // Before the body is read: a flood costs a map lookup per request.
    let admit = match call.as_str() {
        "wait" => admission::Admission::admit_long_poll,
        _ => admission::Admission::admit,
    };
    let _admitted = match admit(&cabinet.admission, &session.user, peer, std::time::Instant::now()) {
        Ok(a) => a,
        Err(admission::Refusal::TooFast { retry_after_ms }) => {
            let body = json!({ "error": { "code": "too-many-requests", "message": "too many requests from this session or address; slow down", "retry_after_ms": retry_after_ms } });
            let secs = retry_after_ms.div_ceil(1000).to_string();
            return refuse_unread(&headers, 429, body, &[("retry-after", secs.as_str()), ("cache-control", "no-store")]);
        }
        Err(admission::Refusal::TooMany) => {
            let body = json!({ "error": { "code": "too-many-requests", "message": "too many requests from this session or address in progress; wait for them", "retry_after_ms": 1000 } });
            return refuse_unread(&headers, 429, body, &[("retry-after", "1"), ("cache-control", "no-store")]);
        }
    };
    let browser = match read_args(&st, &headers, body).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let user = session.user.as_str();
    let (status, value) = match call.as_str() {
        "me" => me(&st, &session).await,
        "sign-out" => {
            let (store, s, now) = (st.service().host_store(), session.clone(), now_secs());
            match tokio::task::spawn_blocking(move || revocation::sign_out(store.as_ref(), &s, now)).await {
                Ok(Ok(())) => (200, json!({ "signed_out": true })),
                _ => (503, error("store-unavailable", "the gateway cannot do this right now; try again in a moment")),
            }
        }
        "wait" => wait(&st, user, &browser).await,
        "link-challenge" => run_call(&st, "link-challenge", json!({})).await,
        "start-link" => {
            run_call(
                &st,
                "start-link",
                args_for(&browser, &["account", "challenge", "nonce"], Some(user)),
            )
            .await
        }
        // The route nobody else can block: a transfer with a one-time memo code.
        "start-memo-link" => run_call(&st, "start-memo-link", args_for(&browser, &[], Some(user))).await,
        "confirm-link" => {
            run_call(
                &st,
                "confirm-link",
                args_for(&browser, &["code"], Some(user)),
            )
            .await
        }
        "quote-deposit" => run_call(&st, "quote-deposit", args_for(&browser, &["cwd"], None)).await,
        "quote-withdrawal" => {
            run_call(
                &st,
                "quote-withdrawal",
                args_for(&browser, &["game", "cwd"], None),
            )
            .await
        }
        "request-withdrawal" => {
            // Namespaced by user (length-prefixed: user ids may contain `:`), so one
            // player's key can never meet another's.
            let Some(key) = browser
                .get("request_id")
                .and_then(Value::as_str)
                .filter(|k| (1..=100).contains(&k.len()))
            else {
                return json_reply(400, error("bad-request", "`request_id` must be a string of 1 to 100 bytes, the same when a request is retried"));
            };
            let mut args = args_for(&browser, &["game", "cwd"], Some(user));
            args["idempotency_key"] = Value::String(format!("cabinet:{}:{user}:{key}", user.len()));
            run_call(&st, "request-withdrawal", args).await
        }
        "withdrawal" => {
            let (status, value) = run_call(
                &st,
                "get-withdrawal",
                args_for(&browser, &["withdrawal_id"], None),
            )
            .await;
            if status == 200 && value.get("user").and_then(Value::as_str) != Some(user) {
                // Another player's withdrawal is, to this player, no withdrawal.
                (404, error("withdrawal-not-found", "no such withdrawal"))
            } else {
                (status, value)
            }
        }
        "unlink" => run_call(&st, "unlink", args_for(&browser, &[], Some(user))).await,
        // The page's language, so the link message and the deposit note come in it: one
        // the cabinet has a catalogue for.
        "set-language" => match browser.get("language").and_then(Value::as_str) {
            Some(l) if LANGUAGES.iter().any(|(code, _)| *code == l) => {
                run_call(&st, "set-language", json!({ "user": user, "language": l })).await
            }
            _ => (400, error("bad-request", "`language` must be one of the cabinet's languages (see /cabinet/i18n/languages.json)")),
        },
        "cancel-withdrawal" => cancel_withdrawal(&st, user, &browser).await,
        "referrals" => referrals(&st, user).await,
        "deposits" => {
            let mut args = args_for(&browser, &["start_after"], Some(user));
            (args["limit"], args["order"]) = (json!(HISTORY_PAGE), json!("newest-first"));
            run_call(&st, "list-deposits", args).await
        }
        "withdrawals" => {
            let mut args = args_for(&browser, &["start_after"], Some(user));
            (args["limit"], args["order"]) = (json!(HISTORY_PAGE), json!("newest-first"));
            run_call(&st, "list-withdrawals", args).await
        }
        _ => (404, error("unknown-call", "the cabinet has no such call")),
    };
    json_reply(status, for_player(value))
}

/// Cancels one of the player's own withdrawals that has not been sent (`queued` or
/// `awaiting-review`). Another player's is `404 withdrawal-not-found`, as for
/// `withdrawal`; a sent or final one is the gateway's `409 not-cancellable`. The
/// gateway's call is an audited operator call: its actor is recorded as
/// `player:<user>` ([`player_actor`]), never `cabinet`.
async fn cancel_withdrawal(st: &AppState, user: &str, browser: &Value) -> (u16, Value) {
    let (status, value) = run_call(st, "get-withdrawal", args_for(browser, &["withdrawal_id"], None)).await;
    if status != 200 {
        return (status, value);
    }
    if value.get("user").and_then(Value::as_str) != Some(user) {
        return (404, error("withdrawal-not-found", "no such withdrawal"));
    }
    let args = json!({ "withdrawal_id": value["withdrawal_id"], "reason": "cancelled by the player" });
    run_call_as(st, &Caller::new(player_actor(user), Role::Cabinet), "cancel-withdrawal", args).await
}

/// The actor the audit log records for a player's own operator-kind call:
/// `player:<user>`, or, when that is over the 64 bytes an actor may have,
/// `player:<the user's first 40 bytes>~<16 hex digits of its SHA-256>`.
pub fn player_actor(user: &str) -> String {
    let whole = format!("player:{user}");
    if whole.len() <= 64 {
        return whole;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(user.as_bytes());
    let head = &user[..user.char_indices().map(|(i, _)| i).take_while(|&i| i <= 40).last().unwrap_or(0)];
    format!("player:{head}~{}", hex::encode(&digest[..8]))
}

/// The referral panel: who referred the player, whom they referred (the first 100), and
/// what they earned by level and as cashback.
async fn referrals(st: &AppState, user: &str) -> (u16, Value) {
    let (status, earnings) = run_call(st, "referral-earnings", json!({ "user": user })).await;
    if status != 200 {
        return (status, earnings);
    }
    let (status, referred) = run_call(st, "list-referrals", json!({ "referrer": user, "limit": 100 })).await;
    if status != 200 {
        return (status, referred);
    }
    (
        200,
        json!({
            "referrer": earnings["referrer"],
            "referrals": earnings["referrals"],
            "referred": referred,
            "by_level": earnings["by_level"],
            "cashback": earnings["cashback"],
        }),
    )
}

/// Errors about the gateway's own machinery (its node, database, signer) keep their code
/// for the page but lose their detail: node addresses and database errors are the
/// operator's, who has them in the log and in `/ready` with the token.
fn for_player(mut value: Value) -> Value {
    let generic = match value["error"]["code"].as_str() {
        Some("node-unavailable" | "store-unavailable" | "signer-unavailable" | "busy") => {
            "the gateway cannot do this right now; try again in a moment"
        }
        Some("signing-failed" | "signer-refused" | "internal") => {
            "the gateway cannot do this right now; the operator has been told"
        }
        _ => return value,
    };
    value["error"]["message"] = json!(generic);
    value
}

/// Long polling: answers as soon as the player's account revision differs from the
/// one the page has (`revision`), or after `wait_ms` (at most 25 s) with `changed: false`.
/// The page then re-reads. It looks again when the event feed names the player, so
/// between changes a waiting page costs one key read every five seconds.
async fn wait(st: &AppState, user: &str, browser: &Value) -> (u16, Value) {
    let Some(known) = browser.get("revision").and_then(Value::as_u64) else {
        return (
            400,
            error(
                "bad-request",
                "`revision` (from me.account.revision) must be a non-negative integer",
            ),
        );
    };
    let wait = match browser.get("wait_ms") {
        None | Some(Value::Null) => WAIT_MAX,
        Some(v) => match v.as_u64() {
            Some(ms) => Duration::from_millis(ms).min(WAIT_MAX),
            None => {
                return (
                    400,
                    error("bad-request", "`wait_ms` must be a non-negative integer"),
                )
            }
        },
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut news = st.cabinet.as_ref().map(|c| c.watch.subscribe(st.service()));
    loop {
        let (status, account) = run_call(st, "account", json!({ "user": user })).await;
        if status != 200 {
            return (status, account);
        }
        let revision = account["revision"].as_u64().unwrap_or(0);
        let now = tokio::time::Instant::now();
        if revision != known || now >= deadline {
            return (
                200,
                json!({ "revision": revision, "changed": revision != known }),
            );
        }
        let pause = tokio::time::sleep(WAIT_STEP.min(deadline - now));
        match news.as_mut() {
            Some(rx) => tokio::select! {
                _ = pause => {}
                _ = feed_watch::news_for(rx, user) => {}
            },
            None => pause.await,
        }
    }
}

/// Everything the cabinet shows at once: the account, and once linked how to top up and
/// the withdrawal rate.
async fn me(st: &AppState, session: &Session) -> (u16, Value) {
    let user = session.user.as_str();
    let (status, account) = run_call(st, "account", json!({ "user": user })).await;
    if status != 200 {
        return (status, account);
    }
    let (mut deposit, mut withdrawal_rate) = (Value::Null, Value::Null);
    if !account["linked"].is_null() {
        let (s, d) = run_call(st, "deposit-instructions", json!({ "user": user })).await;
        if s != 200 {
            return (s, d);
        }
        deposit = d;
        let (s, q) = run_call(st, "quote-withdrawal", json!({ "cwd": 100_000 })).await;
        if s != 200 {
            return (s, q);
        }
        withdrawal_rate = q["rate"].clone();
    }
    (
        200,
        json!({
            "user": user,
            "session_expires_at_secs": session.expires_at_secs,
            "account": account,
            "deposit": deposit,
            "withdrawal_rate": withdrawal_rate,
        }),
    )
}

#[cfg(test)]
mod i18n_tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Adding a language is adding its file: every catalogue in the directory is served.
    #[test]
    fn every_catalogue_file_is_a_language() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/cabinet/i18n");
        let files: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .collect();
        let served: BTreeSet<String> = LANGUAGES.iter().map(|(code, _)| code.to_string()).collect();
        assert_eq!(files, served);
        assert_eq!(LANGUAGES[0].0, "en", "English first: the fallback");
    }

    /// Every error code a player can meet in the cabinet: the session refusals, the
    /// cabinet's own, the HTTP layer's, and the gateway's for the calls it makes.
    const PLAYER_ERROR_CODES: &[&str] = &[
        // sessions (`session::SessionError`) and the cabinet's own refusals
        "session-missing", "session-malformed", "session-forged", "session-expired",
        "session-too-long", "session-revoked", "session-unchecked", "too-many-requests",
        // the HTTP layer's
        "bad-request", "not-found", "unknown-call", "method-not-allowed", "request-timeout",
        "component-failed", "host-failed", "busy", "forbidden", "unauthorized",
        // the page's own (no answer)
        "offline", "unreachable",
        // the gateway's, for the calls the cabinet makes
        "not-configured", "node-unavailable", "store-unavailable", "signer-unavailable",
        "signing-failed", "signer-refused", "internal", "invalid", "bad-user-id",
        "reserved-user", "bad-account-name", "account-not-found", "account-taken",
        "account-reserved", "already-linked", "not-linked", "no-pending-link", "link-expired",
        "wrong-code", "too-many-attempts", "proof-required", "bad-proof", "rate-limited",
        "withdrawals-pending", "insufficient-balance", "below-minimum", "above-maximum",
        "daily-limit", "amount-too-small", "overflow", "idempotency-conflict",
        "withdrawal-not-found", "not-cancellable", "not-awaiting-review",
    ];

    fn catalogue(lang: &str, text: &str) -> serde_json::Map<String, Value> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => {
                for (k, v) in &m {
                    assert!(v.is_string(), "{lang}.json: {k} is not a string");
                }
                m
            }
            other => panic!("{lang}.json is not a JSON object: {other:?}"),
        }
    }

    fn placeholders(text: &str) -> BTreeSet<String> {
        text.split('{').skip(1).filter_map(|r| r.split_once('}')).map(|(name, _)| name.to_string()).collect()
    }

    #[test]
    fn every_catalogue_has_every_key_and_the_same_placeholders() {
        let (_, en) = LANGUAGES[0];
        assert_eq!(LANGUAGES[0].0, "en", "English first: the page's fallback");
        let en = catalogue("en", en);
        // A plural form ("key#few", as the page's `t()` picks it) belongs to a key of
        // en.json, is one of CLDR's categories, and has that key's placeholders; each
        // language has the forms its grammar needs, so forms are not compared.
        for (lang, text) in LANGUAGES {
            for (k, v) in catalogue(lang, text).iter().filter_map(|(k, v)| Some((k.split_once('#')?, v))) {
                let (base, form) = k;
                assert!(["zero", "one", "two", "few", "many", "other"].contains(&form), "{lang}.json: {base}#{form} is not a plural category");
                let base_text = en.get(base).unwrap_or_else(|| panic!("{lang}.json: {base}#{form} is the form of no key of en.json"));
                assert_eq!(placeholders(v.as_str().unwrap()), placeholders(base_text.as_str().unwrap()), "{lang}.json: {base}#{form}");
            }
        }
        let en: serde_json::Map<String, Value> = en.into_iter().filter(|(k, _)| !k.contains('#')).collect();
        for (lang, text) in &LANGUAGES[1..] {
            let other: serde_json::Map<String, Value> = catalogue(lang, text).into_iter().filter(|(k, _)| !k.contains('#')).collect();
            let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang}.json lacks {missing:?}");
            assert!(extra.is_empty(), "{lang}.json has keys en.json lacks: {extra:?}");
            for (k, v) in &en {
                assert_eq!(
                    placeholders(v.as_str().unwrap()),
                    placeholders(other[k].as_str().unwrap()),
                    "{lang}.json: {k} has other placeholders than en.json"
                );
            }
        }
        let codes: BTreeSet<&str> = LANGUAGES.iter().map(|(c, _)| *c).collect();
        assert!(codes.contains("en") && codes.contains("ru") && codes.len() == LANGUAGES.len());
    }

    #[test]
    fn every_error_a_player_can_meet_has_a_text_in_every_language() {
        for (lang, text) in LANGUAGES {
            let c = catalogue(lang, text);
            let missing: Vec<_> = PLAYER_ERROR_CODES
                .iter()
                .filter(|code| !c.contains_key(&format!("error.{code}")))
                .collect();
            assert!(missing.is_empty(), "{lang}.json has no text for {missing:?}");
        }
        // The session refusals are the ones the host gives.
        use session::SessionError as S;
        for e in [S::Missing, S::Malformed, S::BadSignature, S::Expired, S::TooLong, S::Revoked, S::Unchecked] {
            assert!(PLAYER_ERROR_CODES.contains(&e.code()), "{}", e.code());
        }
    }

    /// Every key the page uses (data-i18n attributes, t("…") calls) is in the catalogues.
    #[test]
    fn every_key_the_page_uses_is_in_the_catalogue() {
        let en = catalogue("en", LANGUAGES[0].1);
        let mut used = BTreeSet::new();
        for attr in ["data-i18n=\"", "data-i18n-slots=\""] {
            for rest in INDEX_HTML.split(attr).skip(1) {
                used.insert(rest.split('"').next().unwrap().to_string());
            }
        }
        // `t("key"` where `t` is the whole name (not `createElement("…"`).
        for (at, _) in APP_JS.match_indices("t(\"") {
            let before = APP_JS[..at].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || "_$.".contains(before) {
                continue;
            }
            let key = APP_JS[at + 3..].split('"').next().unwrap();
            if !key.ends_with('.') {
                // `t("state." + …)`: the states are listed below
                used.insert(key.to_string());
            }
        }
        for state in ["awaiting-review", "queued", "sent", "confirmed", "failed", "rejected", "cancelled", "credited"] {
            used.insert(format!("state.{state}"));
        }
        used.insert("error.daily-limit-count".into());
        let missing: Vec<_> = used.iter().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty(), "used by the page, not in en.json: {missing:?}");
        assert!(used.len() > 60, "the page's keys were found ({})", used.len());
    }

    #[test]
    fn the_language_list_names_each_catalogue() {
        let list: Value = serde_json::from_str(languages_json()).unwrap();
        assert_eq!(list[0], json!({ "code": "en", "name": "English" }));
        assert_eq!(list[1], json!({ "code": "ru", "name": "Русский" }));
    }

    #[test]
    fn long_user_ids_still_give_a_valid_actor() {
        assert_eq!(player_actor("alice"), "player:alice");
        let long = "u".repeat(64);
        let actor = player_actor(&long);
        assert!(actor.len() <= 64 && actor.starts_with("player:uuuu") && actor.contains('~'), "{actor}");
        assert_ne!(player_actor(&"u".repeat(63)), actor);
    }
}
