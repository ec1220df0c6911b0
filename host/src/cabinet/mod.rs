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
use crate::roles::Caller;
use session::{Session, SessionError};

const INDEX_HTML: &str = include_str!("../../cabinet/index.html");
const APP_JS: &str = include_str!("../../cabinet/app.js");
const STYLE_CSS: &str = include_str!("../../cabinet/cabinet.css");

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
    let _admitted = match cabinet.admission.admit(&session.user, peer, std::time::Instant::now()) {
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
