//! The HTTP JSON API for game servers that do not embed the component: every gateway
//! call as `POST /v1/<call>` with a JSON object of arguments, answered with JSON.
//! Loopback by default; every request but `/health` and `/ready` needs
//! `Authorization: Bearer <token>`, one of the configured tokens, and a call needs a
//! token whose role allows it ([`crate::roles`]). See `docs/http-api.md` for each call
//! with examples.
//!
//! Served by axum on hyper/tokio. No request, authenticated or not, can hold more than a
//! bounded amount of memory or stop other clients from being served: headers and bodies
//! must arrive within their timeouts, bodies are refused by their declared length before
//! anything is read (and cut off at the limit when undeclared), answers must be read
//! within the write timeout, connections live a bounded time, connections and gateway
//! calls in progress are capped, and gateway calls run off the async workers.
//! [`dispatch`] stays transport-agnostic: caller, call name and JSON arguments in,
//! status and JSON out.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::bindings::api::*;
use crate::gateway::{Api, GatewayCallError, Service};
use crate::roles::{ApiTokens, Caller};

/// Requests larger than this are refused before parsing.
const MAX_BODY: usize = 64 * 1024;

/// Bodies declared up to this size are read and discarded before they are refused.
const DRAIN_MAX: u64 = 1 << 20;

/// Reads a body to its end without keeping it; true if it ended cleanly.
async fn drain(mut body: Body) -> bool {
    use http_body_util::BodyExt;
    loop {
        match body.frame().await {
            None => return true,
            Some(Ok(_)) => {}
            Some(Err(_)) => return false,
        }
    }
}

/// What one client may cost the server.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Time to send the request line and headers (and longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Time to send the whole body, however it is trickled.
    pub body_read_timeout: Duration,
    /// Open connections; more wait in the listen backlog.
    pub max_connections: usize,
    /// A response that makes no progress this long (the client stopped reading) ends
    /// its connection, reset: a client that pipelines requests and never reads their
    /// answers holds a connection slot no longer than this.
    pub write_timeout: Duration,
    /// A connection open this long is closed once its request in progress, if any, is
    /// answered (a keep-alive client reconnects); one still busy `shutdown_grace` later
    /// is cut off.
    pub max_connection_lifetime: Duration,
    /// Gateway calls in progress; more wait up to `call_queue_timeout`, then get 503 busy.
    pub max_concurrent_calls: usize,
    pub call_queue_timeout: Duration,
    /// How long shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 2048,
            write_timeout: Duration::from_secs(10),
            max_connection_lifetime: Duration::from_secs(300),
            max_concurrent_calls: 64,
            call_queue_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

pub struct HttpApi {
    pub addr: SocketAddr,
    listener: Mutex<Option<std::net::TcpListener>>,
    limits: HttpLimits,
    stop: watch::Sender<bool>,
    cabinet: Option<Arc<crate::cabinet::Cabinet>>,
    console: bool,
}

impl HttpApi {
    pub fn bind(listen: &str) -> anyhow::Result<Self> {
        Self::bind_with(listen, HttpLimits::default())
    }

    pub fn bind_with(listen: &str, limits: HttpLimits) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|e| anyhow::anyhow!("binding the HTTP API to {listen}: {e}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, _) = watch::channel(false);
        Ok(HttpApi {
            addr,
            listener: Mutex::new(Some(listener)),
            limits,
            stop,
            cabinet: None,
            console: true,
        })
    }

    /// Also serves the player's web cabinet under `/cabinet/` (see `docs/cabinet.md`).
    pub fn with_cabinet(mut self, cabinet: crate::cabinet::Cabinet) -> Self {
        self.cabinet = Some(Arc::new(cabinet));
        self
    }

    /// Does not serve the operator console (`/console/`, served by default; see
    /// `docs/console.md`).
    pub fn without_console(mut self) -> Self {
        self.console = false;
        self
    }

    /// [`HttpApi::spawn_with_tokens`] with one token, named `default`, of the operator
    /// role.
    pub fn spawn(
        &self,
        service: Arc<Service>,
        token: String,
        threads: usize,
    ) -> Vec<std::thread::JoinHandle<()>> {
        self.spawn_with_tokens(
            service,
            ApiTokens::single(&zeroize::Zeroizing::new(token)),
            threads,
        )
    }

    /// Serves on a thread running `threads` async workers until [`HttpApi::shutdown`];
    /// the handle ends once requests in progress are answered (or the grace is over).
    pub fn spawn_with_tokens(
        &self,
        service: Arc<Service>,
        tokens: ApiTokens,
        threads: usize,
    ) -> Vec<std::thread::JoinHandle<()>> {
        let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            tracing::warn!("the HTTP API is already serving");
            return Vec::new();
        };
        let cabinet_share = self.cabinet.as_ref().map_or(1, |c| c.call_share(service.api_instances()));
        let state = Arc::new(AppState {
            service,
            tokens,
            calls: Semaphore::new(self.limits.max_concurrent_calls.max(1)),
            cabinet_calls: Semaphore::new(cabinet_share),
            limits: self.limits.clone(),
            cabinet: self.cabinet.clone(),
            console: self.console,
        });
        let (limits, stop) = (self.limits.clone(), self.stop.subscribe());
        let handle = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads.max(1))
                    .thread_name("http-worker")
                    .enable_all()
                    .build()
                    .expect("starting the HTTP runtime");
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, router(state), limits, stop).await,
                        Err(e) => tracing::error!(error = %e, "the HTTP API cannot use its socket"),
                    }
                });
            })
            .expect("spawning the HTTP thread");
        vec![handle]
    }

    /// Stops accepting, lets requests in progress finish, then ends the serving thread.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for HttpApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(crate) struct AppState {
    service: Arc<Service>,
    tokens: ApiTokens,
    /// Calls in the gateway for the game server and the operator…
    calls: Semaphore,
    /// …and for the cabinet's players, a share of their own ([`crate::cabinet::Cabinet::call_share`]).
    cabinet_calls: Semaphore,
    limits: HttpLimits,
    pub(crate) cabinet: Option<Arc<crate::cabinet::Cabinet>>,
    console: bool,
}

impl AppState {
    pub(crate) fn service(&self) -> &Arc<Service> {
        &self.service
    }
}

pub(crate) type Shared = State<Arc<AppState>>;

/// The address a request's connection comes from (a request extension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub std::net::IpAddr);

fn router(state: Arc<AppState>) -> Router {
    let app = Router::new();
    let app = if state.cabinet.is_some() {
        app.merge(crate::cabinet::routes())
    } else {
        app
    };
    let app = if state.console {
        app.merge(crate::console::routes())
    } else {
        app
    };
    app.route("/health", any(health))
        .route("/ready", any(ready))
        .route("/metrics", any(metrics))
        .route("/v1/openapi.json", any(openapi))
        .route("/v1/{call}", any(call))
        .fallback(not_found)
        .with_state(state)
}

/// Accepts connections (at most `max_connections` at once) and serves each with
/// hyper's HTTP/1: headers must arrive within the header timeout, which also closes
/// idle keep-alive connections; a response must make progress within the write timeout
/// ([`WriteTimeout`]); and a connection lives at most `max_connection_lifetime`, then
/// closes between requests (or is cut off `shutdown_grace` later). So every slot is
/// given back in bounded time whatever the client does.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let open = Arc::new(Semaphore::new(slots));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = stream;
        // The cabinet limits requests per peer address as well as per session.
        let peer = Peer(peer.ip());
        let app = tower::ServiceExt::map_request(app.clone(), move |mut r: axum::http::Request<hyper::body::Incoming>| {
            r.extensions_mut().insert(peer);
            r
        });
        let service = hyper_util::service::TowerToHyperService::new(app);
        let io = WriteTimeout::new(stream, limits.write_timeout);
        let reset = io.reset.clone();
        let conn = http.serve_connection(TokioIo::new(io), service);
        let (lifetime, grace, mut stop) = (limits.max_connection_lifetime, limits.shutdown_grace, stop.clone());
        tokio::spawn(async move {
            let mut conn = Box::pin(conn);
            let ended = tokio::select! {
                _ = conn.as_mut() => true,
                _ = tokio::time::sleep(lifetime) => false,
                _ = stop.wait_for(|s| *s) => false,
            };
            if !ended {
                // Answers the request in progress, if any, then closes.
                conn.as_mut().graceful_shutdown();
                if tokio::time::timeout(grace, conn.as_mut()).await.is_err() {
                    reset.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            drop(conn);
            drop(permit);
        });
    }
    drop(listener);
    // Every connection gives its slot back once it has closed.
    if tokio::time::timeout(limits.shutdown_grace + Duration::from_millis(100), open.acquire_many(slots as u32))
        .await
        .is_err()
    {
        tracing::warn!("HTTP shutdown: requests still running after the grace period were cut off");
    }
}

/// An accepted connection's socket whose writes cannot stall for long: a write or
/// flush still pending `timeout` after it last made progress fails, and the socket is
/// then reset when hyper drops it (its unsent answers discarded, not left to the kernel
/// to retry at a client that does not read).
struct WriteTimeout {
    stream: tokio::net::TcpStream,
    timeout: Duration,
    /// Since when the pending write has made no progress.
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Reset the connection when dropped (set when it is cut off).
    reset: Arc<std::sync::atomic::AtomicBool>,
}

impl WriteTimeout {
    fn new(stream: tokio::net::TcpStream, timeout: Duration) -> Self {
        WriteTimeout { stream, timeout, stalled: None, reset: Arc::default() }
    }

    /// `result` of a write-side poll, or the timeout's error once it has stalled too long.
    fn bound<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        result: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        use std::task::Poll;
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let timeout = self.timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.reset.store(true, std::sync::atomic::Ordering::Relaxed);
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client read nothing within the write timeout",
        )))
    }
}

impl Drop for WriteTimeout {
    fn drop(&mut self) {
        if self.reset.load(std::sync::atomic::Ordering::Relaxed) {
            // Closing with SO_LINGER 0 sends a reset and frees the unsent answers.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl tokio::io::AsyncRead for WriteTimeout {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for WriteTimeout {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.stream).poll_write(cx, buf);
        self.bound(cx, r)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.bound(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.stream).poll_flush(cx);
        self.bound(cx, r)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.stream).poll_shutdown(cx);
        self.bound(cx, r)
    }
}

pub(crate) fn respond(status: u16, body: Value) -> Response {
    respond_with(status, body, &[])
}

pub(crate) fn respond_with(status: u16, body: Value, headers: &[(&str, &str)]) -> Response {
    let mut response = axum::http::Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    if let Some(ms) = body
        .pointer("/error/retry_after_ms")
        .and_then(Value::as_u64)
    {
        response = response.header(header::RETRY_AFTER, ms.div_ceil(1000).max(1).to_string());
    }
    response
        .body(Body::from(body.to_string()))
        .expect("static header names and valid values")
}

/// A static asset of the web surfaces (the cabinet, the console). The policy allows
/// only this origin's script, style and calls: no inline script can run even if a value
/// were ever rendered as markup.
pub(crate) fn static_page(content_type: &'static str, text: &'static str) -> Response {
    axum::http::Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
        )
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(text))
        .expect("static headers")
}

fn bad_request(message: impl Into<String>) -> (u16, Value) {
    (
        400,
        json!({ "error": { "code": "bad-request", "message": message.into() } }),
    )
}

/// The caller whose token the request carries (compared in constant time with every
/// configured token: see [`ApiTokens::authenticate`]).
fn authenticate(headers: &HeaderMap, tokens: &ApiTokens) -> Option<Caller> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| tokens.authenticate(t.trim().as_bytes()))
}

fn unauthorized(request: &HeaderMap) -> Response {
    let body = json!({ "error": { "code": "unauthorized", "message": "send Authorization: Bearer <API token>" } });
    refuse_unread(request, 401, body, &[("www-authenticate", "Bearer")])
}

/// An answer given without reading the request's body. hyper closes such a
/// connection once the answer is out, so the answer says so: a client reusing it
/// would otherwise send its next request into a closed socket.
pub(crate) fn refuse_unread(
    request: &HeaderMap,
    status: u16,
    body: Value,
    headers: &[(&str, &str)],
) -> Response {
    let declares_body = request.contains_key(header::TRANSFER_ENCODING)
        || request
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !declares_body {
        return respond_with(status, body, headers);
    }
    let mut with_close = headers.to_vec();
    with_close.push(("connection", "close"));
    respond_with(status, body, &with_close)
}

/// `/health`: the process lives and serves HTTP. No token needed.
async fn health() -> Response {
    respond(200, json!({ "ok": true }))
}

/// `/ready`: the gateway is doing its job (see `docs/http-api.md`); 200 or 503. No
/// token needed for the verdict and its reasons; host names and error texts only with
/// a token, of any role (they help an attacker and mean nothing to a player).
async fn ready(State(st): Shared, headers: HeaderMap) -> Response {
    let service = st.service.clone();
    let full = authenticate(&headers, &st.tokens).is_some();
    let report = match tokio::task::spawn_blocking(move || crate::health::readiness(&service)).await
    {
        Ok(r) if full => r,
        Ok(r) => crate::health::public_view(&r),
        Err(_) => return respond(503, json!({ "ready": false })),
    };
    let status = if report["ready"] == Value::Bool(true) {
        200
    } else {
        503
    };
    respond(status, report)
}

/// `/metrics`: Prometheus text format; needs a token of any role, an observer's is meant
/// for it (Prometheus sends it with `authorization: { credentials_file: … }`).
async fn metrics(State(st): Shared, headers: HeaderMap) -> Response {
    if authenticate(&headers, &st.tokens).is_none() {
        return unauthorized(&headers);
    }
    let service = st.service.clone();
    let text = tokio::task::spawn_blocking(move || crate::metrics::METRICS.render(&service))
        .await
        .unwrap_or_default();
    axum::http::Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(text))
        .expect("static header")
}

/// `/v1/openapi.json`: the API described as OpenAPI 3.1. No token needed, so it costs
/// nothing per request: the document is built once.
async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<axum::body::Bytes> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| crate::openapi::document().to_string().into());
    axum::http::Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(doc.clone()))
        .expect("static header")
}

async fn not_found(State(st): Shared, headers: HeaderMap) -> Response {
    if authenticate(&headers, &st.tokens).is_none() {
        return unauthorized(&headers);
    }
    refuse_unread(
        &headers,
        404,
        json!({ "error": { "code": "not-found", "message": "calls are POST /v1/<call>" } }),
        &[],
    )
}

/// `POST /v1/<call>`: token, role, method, body, then the call on a blocking thread.
async fn call(
    State(st): Shared,
    Path(call): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(caller) = authenticate(&headers, &st.tokens) else {
        return unauthorized(&headers);
    };
    // Before the body is read: a call outside the role costs nothing more.
    if let Some((status, refusal)) = caller.refusal(&call) {
        crate::metrics::METRICS.forbidden(caller.role.name(), &call);
        return refuse_unread(&headers, status, refusal, &[]);
    }
    if method != Method::POST && !(call == "status" && method == Method::GET) {
        let allow = if call == "status" {
            "GET, POST"
        } else {
            "POST"
        };
        let body = json!({ "error": { "code": "method-not-allowed", "message": "use POST with a JSON object" } });
        return refuse_unread(&headers, 405, body, &[("allow", allow)]);
    }
    let args = match read_args(&st, &headers, body).await {
        Ok(args) => args,
        Err(refusal) => return refusal,
    };
    let csv = match args.get("format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "json" => false,
        Some(Value::String(f)) if f == "csv" && crate::csv_export::CALLS.contains(&call.as_str()) => true,
        Some(_) => {
            let (s, v) = bad_request("`format` is json (the default), or csv for list-audit, statement and list-movements");
            return respond(s, v);
        }
    };
    let (status, value) = run_call(&st, &caller, &call, args).await;
    match (status, csv) {
        (200, true) => match crate::csv_export::to_csv(&value) {
            Some(text) => axum::http::Response::builder()
                .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
                .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{call}.csv\""))
                .body(Body::from(text))
                .expect("static headers"),
            None => respond(status, value),
        },
        _ => respond(status, value),
    }
}

/// Reads a request body as a JSON object (empty: `{}`), within the body limits.
pub(crate) async fn read_args(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, Response> {
    let too_large = |close: bool| {
        let (s, v) = bad_request("the body must be UTF-8 JSON of at most 64 KiB");
        // An unread rest of the body makes the connection unusable.
        respond_with(
            s,
            v,
            if close {
                &[("connection", "close")]
            } else {
                &[]
            },
        )
    };
    // The declared length is compared, never allocated. A modest excess is read and
    // discarded first (a client still writing would otherwise see the connection reset
    // instead of the answer); beyond that the connection is closed at once.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u64>());
    match declared {
        Some(Ok(n)) if n > MAX_BODY as u64 && n <= DRAIN_MAX => {
            let drained = tokio::time::timeout(st.limits.body_read_timeout, drain(body)).await;
            return Err(too_large(!matches!(drained, Ok(true))));
        }
        Some(Ok(n)) if n > MAX_BODY as u64 => return Err(too_large(true)),
        Some(Err(_)) => return Err(too_large(true)),
        _ => {}
    }
    let bytes = match tokio::time::timeout(
        st.limits.body_read_timeout,
        axum::body::to_bytes(body, MAX_BODY),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(too_large(true)),
        Err(_) => {
            let body = json!({ "error": { "code": "request-timeout", "message": "the body did not arrive in time; send it at once" } });
            return Err(respond_with(408, body, &[("connection", "close")]));
        }
    };
    let refuse = |message: String| {
        let (s, v) = bad_request(message);
        Err(respond(s, v))
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return refuse("the body must be UTF-8 JSON of at most 64 KiB".into());
    };
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => refuse("the body must be a JSON object".into()),
        Err(e) => refuse(format!("the body is not JSON: {e}")),
    }
}

/// Runs one call for `caller` within the concurrency limit, off the async workers, and
/// counts it.
pub(crate) async fn run_call(
    st: &AppState,
    caller: &Caller,
    call: &str,
    args: Value,
) -> (u16, Value) {
    let calls = match caller.role {
        crate::roles::Role::Cabinet => &st.cabinet_calls,
        _ => &st.calls,
    };
    let Ok(Ok(_permit)) =
        tokio::time::timeout(st.limits.call_queue_timeout, calls.acquire()).await
    else {
        return (
            503,
            json!({ "error": { "code": "busy", "message": "too many calls in progress; retry shortly", "retry_after_ms": 1000 } }),
        );
    };
    // Store-only reads run here when an instance is idle: a hand-off to a blocking
    // thread costs more than the call itself (see BENCHMARKS.md).
    let inline = match READS_INLINE.contains(&call) {
        true => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            dispatch_in(&st.service, caller, call, &args, Run::IfReady)
        }))
        .transpose(),
        false => None,
    };
    let service = st.service.clone();
    let (caller, name) = (caller.clone(), call.to_string());
    let answer = match inline {
        Some(answer) => answer.map_err(|_| "panicked inline".to_string()),
        None => tokio::task::spawn_blocking(move || dispatch(&service, &caller, &name, &args))
            .await
            .map_err(|e| e.to_string()),
    };
    match answer {
        Ok((status, value)) => {
            let outcome = value
                .pointer("/error/code")
                .and_then(Value::as_str)
                .unwrap_or("ok");
            // Unknown names are not labels: a client must not grow the metrics at will.
            crate::metrics::METRICS.call(
                if outcome == "unknown-call" {
                    "unknown"
                } else {
                    call
                },
                outcome,
            );
            (status, value)
        }
        Err(e) => {
            tracing::error!(error = %e, "an API call panicked in the host");
            (
                500,
                json!({ "error": { "code": "host-failed", "message": "the host failed on this call; see its log" } }),
            )
        }
    }
}

/// Calls that only read the store (one or two keys) and never call the node.
const READS_INLINE: [&str; 5] = [
    "whoami",
    "account",
    "deposit-instructions",
    "quote-deposit",
    "quote-withdrawal",
];

/// How [`dispatch_in`] gets an API instance.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    /// Waits for one (a blocking thread).
    Wait,
    /// Only an idle, configured one on a store with brief reads; `None` otherwise.
    IfReady,
}

/// Runs one call for `caller`; `(HTTP status, JSON body)`. A call outside the caller's
/// role is `403 forbidden` (see [`crate::roles`]).
pub fn dispatch(service: &Service, caller: &Caller, call: &str, a: &Value) -> (u16, Value) {
    dispatch_in(service, caller, call, a, Run::Wait).expect("a waiting run always answers")
}

fn dispatch_in(
    service: &Service,
    caller: &Caller,
    call: &str,
    a: &Value,
    run: Run,
) -> Option<(u16, Value)> {
    if let Some(refusal) = caller.refusal(call) {
        return Some(refusal);
    }
    // Operator calls record who acted: the token's name.
    let actor = caller.name.as_str();
    // An argument that is present (not null) but of the wrong type is refused, never
    // read as absent or as a default.
    macro_rules! arg {
        (str $name:literal) => {
            match a.get($name) {
                Some(Value::String(s)) => s.as_str(),
                None | Some(Value::Null) => {
                    return Err(bad_request(concat!(
                        "missing string argument `",
                        $name,
                        "`"
                    )))
                }
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
        (opt_u64 $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_u64() {
                    Some(n) => Some(n),
                    None => {
                        return Err(bad_request(concat!(
                            "`",
                            $name,
                            "` must be a non-negative integer (at most 2^64-1)"
                        )))
                    }
                },
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
                None | Some(Value::Null) => {
                    return Err(bad_request(concat!(
                        "missing non-negative integer argument `",
                        $name,
                        "`"
                    )))
                }
                Some(v) => match v.as_u64() {
                    Some(n) => n,
                    None => {
                        return Err(bad_request(concat!(
                            "`",
                            $name,
                            "` must be a non-negative integer (at most 2^64-1)"
                        )))
                    }
                },
            }
        };
        (i64 $name:literal) => {
            match a.get($name) {
                None | Some(Value::Null) => {
                    return Err(bad_request(concat!(
                        "missing integer argument `",
                        $name,
                        "`"
                    )))
                }
                Some(v) => match v.as_i64() {
                    Some(n) => n,
                    None => {
                        return Err(bad_request(concat!(
                            "`",
                            $name,
                            "` must be an integer (-2^63..2^63-1)"
                        )))
                    }
                },
            }
        };
        (order) => {
            match a.get("order") {
                None | Some(Value::Null) => ListOrder::OldestFirst,
                Some(Value::String(s)) if s == "oldest-first" => ListOrder::OldestFirst,
                Some(Value::String(s)) if s == "newest-first" => ListOrder::NewestFirst,
                Some(_) => {
                    return Err(bad_request(
                        "`order` is oldest-first (the default) or newest-first",
                    ))
                }
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
            (Some(g), None) => g
                .as_u64()
                .map(WithdrawalAmount::Game)
                .ok_or_else(|| bad_request("`game` must be a non-negative integer")),
            (None, Some(c)) => c
                .as_u64()
                .map(WithdrawalAmount::Cwd)
                .ok_or_else(|| bad_request("`cwd` must be a non-negative integer")),
            _ => Err(bad_request(
                "give exactly one of `game` (game units) or `cwd` (1e-5 CWD units)",
            )),
        }
    };
    // The tick runs in the tick instance, under the tick lease: on a host that does not
    // hold it, the holder does the work.
    let outcome: Result<Result<Value, GatewayCallError>, (u16, Value)> = match call {
        "tick" if run == Run::IfReady => return None,
        "tick" => Ok(service.tick().map(to_json)),
        // Waiting holds no instance: each look at the feed takes one briefly.
        "list-events" if run == Run::IfReady => return None,
        "list-events" => (|| {
            let after = arg!(opt_u64 "after").unwrap_or(0);
            let limit = arg!(limit);
            let wait_ms = arg!(opt_u64 "wait_ms").unwrap_or(0);
            if wait_ms > MAX_WAIT_MS {
                return Err(bad_request("`wait_ms` is at most 25000"));
            }
            Ok(list_events_waiting(
                service,
                after,
                limit,
                Duration::from_millis(wait_ms),
            ))
        })(),
        // The host's own records (outside the component's key space).
        "revoke-cabinet-sessions" => (|| {
            let user = arg!(str "user");
            if !(1..=64).contains(&user.len()) {
                return Err(bad_request("`user` must be the game's user id (1 to 64 bytes)"));
            }
            let now = crate::cabinet::now_secs();
            match crate::cabinet::revocation::revoke_user(service.host_store().as_ref(), user, now) {
                Ok(()) => Ok(Ok(json!({ "revoked_until_secs": now }))),
                Err(e) => {
                    tracing::warn!(error = %e, "revoking cabinet sessions failed");
                    Err((503, json!({ "error": { "code": "store-unavailable", "message": "the database cannot be reached; retry shortly", "retry_after_ms": 1000 } })))
                }
            }
        })(),
        // Who the token is: its name (the actor operator calls record) and its role.
        "whoami" => Ok(Ok(
            json!({ "name": caller.name, "role": caller.role.name() }),
        )),
        _ => with_api(service, run, |api| {
            Ok(match call {
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
                    api.start_link(arg!(str "user"), arg!(str "account"), proof.as_ref())
                        .map(to_json)
                }
                "link-challenge" => api.link_challenge().map(to_json),
                "start-memo-link" => api.start_memo_link(arg!(str "user")).map(to_json),
                "confirm-link" => api
                    .confirm_link(arg!(str "user"), arg!(str "code"))
                    .map(to_json),
                "set-language" => {
                    let (user, language) = (arg!(str "user"), arg!(str "language"));
                    api.set_language(user, language).map(|()| json!({ "language": language }))
                }
                "unlink" => api
                    .unlink(arg!(str "user"))
                    .map(|()| json!({ "unlinked": true })),
                "account" => api.account(arg!(str "user")).map(to_json),
                "deposit-instructions" => api.deposit_instructions(arg!(str "user")).map(to_json),
                "quote-deposit" => api.quote_deposit(arg!(u64 "cwd")).map(to_json),
                "quote-withdrawal" => match amount() {
                    Ok(am) => api.quote_withdrawal(am).map(to_json),
                    Err(e) => return Err(e),
                },
                "adjust-balance" => api
                    .adjust_balance(
                        arg!(str "user"),
                        arg!(i64 "delta"),
                        arg!(str "idempotency_key"),
                        arg!(opt_str "reason").unwrap_or(""),
                    )
                    .map(to_json),
                "request-withdrawal" => match amount() {
                    Ok(am) => api
                        .request_withdrawal(arg!(str "user"), am, arg!(str "idempotency_key"))
                        .map(to_json),
                    Err(e) => return Err(e),
                },
                "approve-withdrawal" => api
                    .approve_withdrawal(actor, arg!(str "withdrawal_id"))
                    .map(to_json),
                "reject-withdrawal" => api
                    .reject_withdrawal(actor, arg!(str "withdrawal_id"), arg!(str "reason"))
                    .map(to_json),
                "cancel-withdrawal" => api
                    .cancel_withdrawal(actor, arg!(str "withdrawal_id"), arg!(str "reason"))
                    .map(to_json),
                "list-unknown-payouts" => api
                    .list_unknown_payouts(arg!(opt_bool "include_acknowledged").unwrap_or(false))
                    .map(to_json),
                "acknowledge-unknown-payout" => api
                    .acknowledge_unknown_payout(actor, arg!(str "deposit_id"), arg!(str "note"))
                    .map(to_json),
                "get-withdrawal" => api.get_withdrawal(arg!(str "withdrawal_id")).map(to_json),
                "list-withdrawals" => {
                    let state = match arg!(opt_str "state") {
                None => None,
                Some(s) => match parse_state(s) {
                    Some(st) => Some(st),
                    None => return Err(bad_request("`state` is one of awaiting-review, queued, sent, confirmed, failed, rejected, cancelled")),
                },
            };
                    let filter = WithdrawalFilter {
                        user: arg!(opt_str "user").map(str::to_string),
                        state,
                    };
                    api.list_withdrawals(
                        &filter,
                        arg!(order),
                        arg!(opt_str "start_after"),
                        arg!(limit),
                    )
                    .map(to_json)
                }
                "list-deposits" => api
                    .list_deposits(
                        arg!(str "user"),
                        arg!(order),
                        arg!(opt_str "start_after"),
                        arg!(limit),
                    )
                    .map(to_json),
                "list-unclaimed" => api
                    .list_unclaimed(
                        arg!(opt_bool "include_resolved").unwrap_or(false),
                        arg!(opt_str "start_after"),
                        arg!(limit),
                    )
                    .map(to_json),
                "assign-unclaimed" => api
                    .assign_unclaimed(actor, arg!(str "deposit_id"), arg!(str "user"))
                    .map(to_json),
                "refund-unclaimed" => api
                    .refund_unclaimed(actor, arg!(str "deposit_id"), arg!(str "note"))
                    .map(to_json),
                "transfer-internal" => api
                    .transfer_internal(
                        arg!(str "from_user"),
                        arg!(str "to_user"),
                        arg!(u64 "amount"),
                        arg!(str "idempotency_key"),
                        arg!(opt_str "memo").unwrap_or(""),
                    )
                    .map(to_json),
                "list-transfers" => api
                    .list_transfers(
                        arg!(str "user"),
                        arg!(order),
                        arg!(opt_str "start_after"),
                        arg!(limit),
                    )
                    .map(to_json),
                "set-referrer" => api
                    .set_referrer(arg!(str "user"), arg!(str "referrer"))
                    .map(to_json),
                "reward-referrers" => api
                    .reward_referrers(
                        arg!(str "user"),
                        arg!(u64 "base_amount"),
                        arg!(str "idempotency_key"),
                    )
                    .map(to_json),
                "list-referrals" => api
                    .list_referrals(
                        arg!(str "referrer"),
                        arg!(opt_str "start_after"),
                        arg!(limit),
                    )
                    .map(to_json),
                "referral-earnings" => api.referral_earnings(arg!(str "user")).map(to_json),
                "list-sweeps" => api
                    .list_sweeps(arg!(opt_str "start_after"), arg!(limit))
                    .map(to_json),
                "list-webhook-deliveries" => {
                    let state = match arg!(opt_str "state") {
                        None => None,
                        Some("pending") => Some(DeliveryState::Pending),
                        Some("delivered") => Some(DeliveryState::Delivered),
                        Some("failed") => Some(DeliveryState::Failed),
                        Some(_) => {
                            return Err(bad_request("`state` is one of pending, delivered, failed"))
                        }
                    };
                    api.list_webhook_deliveries(state, arg!(opt_u64 "start_after"), arg!(limit))
                        .map(to_json)
                }
                "redeliver-event" => api.redeliver_event(actor, arg!(u64 "seq")).map(to_json),
                "get-settings" => api.get_settings().map(to_json),
                "update-settings" => {
                    let Some(given) = a.get("settings").filter(|v| v.is_object()) else {
                        return Err(bad_request("`settings` must be an object: the settings to change (any part of get-settings' `settings`)"));
                    };
                    let revision = arg!(u64 "revision");
                    let current = match api.get_settings() {
                        Ok(v) => v,
                        Err(e) => return Ok(Err(e)),
                    };
                    let settings = match crate::settings::merged(&current.settings, given) {
                        Ok(s) => s,
                        Err(problem) => return Err(bad_request(problem)),
                    };
                    api.update_settings(actor, &settings, revision).map(to_json)
                }
                "list-audit" => {
                    let filter = AuditFilter {
                        actor: arg!(opt_str "actor").map(str::to_string),
                        call: arg!(opt_str "call").map(str::to_string),
                        subject: arg!(opt_str "subject").map(str::to_string),
                        since_ms: arg!(opt_u64 "since_ms"),
                        before_ms: arg!(opt_u64 "before_ms"),
                    };
                    api.list_audit(&filter, arg!(opt_str "start_before"), arg!(limit))
                        .map(to_json)
                }
                "reconcile" => api.reconcile().map(to_json),
                "statement" => api
                    .statement(arg!(str "user"), arg!(opt_str "start_before"), arg!(limit))
                    .map(to_json),
                "list-movements" => {
                    // A UTC day (`2026-12-05`), or a range in ms.
                    let (since, before) = match arg!(opt_str "day") {
                        Some(day) => match utc_day_ms(day) {
                            Some(start) => (start, start + 86_400_000),
                            None => return Err(bad_request("`day` is a UTC date, YYYY-MM-DD")),
                        },
                        None => match (arg!(opt_u64 "since_ms"), arg!(opt_u64 "before_ms")) {
                            (Some(since), Some(before)) => (since, before),
                            (None, None) => {
                                // Today, UTC, by this host's clock.
                                let now = crate::cabinet::now_secs() * 1000;
                                let start = now - now % 86_400_000;
                                (start, start + 86_400_000)
                            }
                            _ => return Err(bad_request("give `day`, or both `since_ms` and `before_ms`, or neither (today)")),
                        },
                    };
                    api.list_movements(since, before, arg!(opt_str "start_after"), arg!(limit))
                        .map(to_json)
                }
                "feed-position" => api.feed_position().map(|seq| json!({ "seq": seq })),
                other => {
                    return Err((
                        404,
                        json!({ "error": { "code": "unknown-call", "message": format!("no call named {other:?}") } }),
                    ))
                }
            })
        })?,
    };
    let result = match outcome {
        Ok(r) => r,
        Err(reply) => return Some(reply),
    };
    Some(match result {
        Ok(v) => (200, v),
        Err(GatewayCallError::Refused(e)) => error_json(&e),
        Err(e @ GatewayCallError::Standby { .. }) => {
            let GatewayCallError::Standby { holder } = &e else {
                unreachable!()
            };
            (
                409,
                json!({ "error": { "code": "not-tick-holder", "message": e.to_string(), "holder": holder } }),
            )
        }
        Err(GatewayCallError::Component(e)) => {
            tracing::error!(call, cause = crate::gateway::trap_cause(&e), error = %format!("{e:#}"), "the gateway component failed");
            (
                500,
                json!({ "error": { "code": "component-failed", "message": "the gateway component failed on this call and was replaced; the call may or may not have taken effect: retry it (with the same idempotency key) or read the state" } }),
            )
        }
    })
}

/// Longest `wait_ms` of `list-events`.
pub const MAX_WAIT_MS: u64 = 25_000;

/// `list-events`, waiting up to `wait` for a first event after `after`.
fn list_events_waiting(
    service: &Service,
    after: u64,
    limit: u32,
    wait: Duration,
) -> Result<Value, GatewayCallError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let page = service.with(|api| api.list_events(after, limit))?;
        if !page.is_empty() || std::time::Instant::now() >= deadline {
            return Ok(Value::Array(
                page.iter().map(crate::webhooks::body).collect(),
            ));
        }
        std::thread::sleep(
            FEED_POLL.min(deadline.saturating_duration_since(std::time::Instant::now())),
        );
    }
}

/// How often a waiting `list-events` looks at the feed.
const FEED_POLL: Duration = Duration::from_millis(200);

fn with_api<R>(service: &Service, run: Run, f: impl FnOnce(&mut Api<'_>) -> R) -> Option<R> {
    match run {
        Run::Wait => Some(service.with(f)),
        Run::IfReady => service.try_with_ready(f),
    }
}

/// Midnight UTC of `YYYY-MM-DD`, in ms since the epoch (days from the civil calendar).
fn utc_day_ms(day: &str) -> Option<u64> {
    let mut parts = day.splitn(3, '-');
    let (y, m, d): (i64, i64, i64) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if day.len() != 10 || !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days_in = [31, if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > days_in[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400_000).ok()
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
        E::ReservedUser => (422, "reserved-user", "that user id is one of the gateway's own (the referral pool, or gateway.…): no player may use it".into(), none),
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
        E::DailyLimit(d) => {
            let message = match d.requests_left {
                Some(0) => "daily withdrawal limit reached: no more requests today".to_string(),
                _ => format!("daily withdrawal limit reached; {} CWD units left today", d.remaining_cwd),
            };
            (429, "daily-limit", message, json!({ "remaining_cwd": d.remaining_cwd, "requests_left": d.requests_left, "retry_after_ms": d.retry_after_ms }))
        }
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
        E::ReferrerAlreadySet(r) => (409, "referrer-already-set", format!("the user's referrer is already {r}; it is set once"), json!({ "referrer": r })),
        E::SelfReferral => (422, "self-referral", "a user cannot refer themselves".into(), none),
        E::ReferralCycle => (422, "referral-cycle", "the referrer is the user's own referral (directly or up the chain)".into(), none),
        E::PoolInsufficient(avail) => (422, "pool-insufficient", format!("the referral pool holds {avail}; fund it with adjust-balance on the pool user"), json!({ "available": avail })),
        E::NodeUnavailable(n) => (503, "node-unavailable", format!("the node is unavailable: {}", n.detail), json!({ "retry_after_ms": n.retry_after_ms })),
        E::StoreUnavailable(d) => (503, "store-unavailable", format!("the database is unavailable: {d}"), json!({ "retry_after_ms": 1000 })),
        E::Busy => (503, "busy", "concurrent updates; retry shortly".into(), json!({ "retry_after_ms": 100 })),
        E::SigningFailed => (503, "signing-failed", "a signature failed its self-check and nothing was sent; the operator was alerted; retry later".into(), json!({ "retry_after_ms": 5000 })),
        E::SignerRefused(r) => (409, "signer-refused", format!("the signer's policy refused it ({}): {}; nothing was sent, the operator was alerted", r.rule, r.reason), json!({ "rule": r.rule })),
        E::SignerUnavailable(d) => (503, "signer-unavailable", format!("the signer did not answer: {d}; nothing was sent"), json!({ "retry_after_ms": 5000 })),
        E::SecondApproverNeeded => (409, "second-approver-needed", "this operator already approved this payout; a second, different operator must approve it".into(), json!({})),
        E::SettingsChanged(r) => (409, "settings-changed", format!("the settings changed since they were read (revision {r} now): read them again, reapply the change, retry"), json!({ "revision": r })),
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

#[cfg(test)]
mod day_tests {
    use super::utc_day_ms;

    #[test]
    fn utc_days_from_the_calendar() {
        assert_eq!(utc_day_ms("1970-01-01"), Some(0));
        assert_eq!(utc_day_ms("2026-12-05"), Some(1_796_428_800_000));
        assert_eq!(utc_day_ms("2024-02-29"), Some(1_709_164_800_000));
        for bad in ["2023-02-29", "2026-13-01", "2026-12-5", "26-12-05", "1969-12-31", "2026-12-05x", "x"] {
            assert_eq!(utc_day_ms(bad), None, "{bad}");
        }
    }
}
