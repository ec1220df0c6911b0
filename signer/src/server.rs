//! The signer's HTTP face: one axum router, served on the Unix socket and, when
//! configured, on TCP, where every route needs the bearer token.

use std::convert::Infallible;
use std::fs::{self, DirBuilder, Permissions};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use cwd_codec::keys::PrivateKey;
use cwd_codec::signing::sign_digest;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower_service::Service;
use zeroize::Zeroizing;

use crate::config::SignerConfig;
use crate::policy::{account, Policy, Rule, DAY_MS};
use crate::store::{Outcome, Store, StoreError};

/// The largest request body: a transaction is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_CONNECTIONS: usize = 256;
/// Headers must arrive within this; it also closes idle keep-alive connections.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

struct App {
    policy: Policy,
    key: PrivateKey,
    public_key: String,
    /// Decide + sign + record run one at a time: two requests cannot both pass a limit.
    store: Mutex<Store>,
    signed: AtomicU64,
    repeated: AtomicU64,
    refused: [AtomicU64; Rule::ALL.len()],
}

/// Who asked, for the log: `unix uid=… pid=…` or `tcp <address>`.
#[derive(Clone)]
struct Peer(Arc<str>);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl App {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic under the lock rolled its SQLite transaction back: the store is sound.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sign(&self, chain_id: &[u8; 32], transaction: &[u8], peer: &str) -> Result<Outcome, StoreError> {
        let outcome = self
            .store()
            .decide_and_record(&self.policy, chain_id, transaction, now_ms(), peer, |digest| {
                sign_digest(&self.key, digest).map_err(|e| e.to_string())
            });
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, tx_id = %hex::encode(crate::policy::id_of(transaction)), "signer: nothing signed");
                return Err(e);
            }
        };
        let f = outcome.facts();
        let tx_id = hex::encode(f.tx_id);
        let to = f.to.map(account);
        match &outcome {
            Outcome::Signed { sweep, spend, .. } => {
                self.signed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(outcome = "signed", %tx_id, amount = ?f.amount, fee = ?f.fee, spend, to = ?to, sweep, peer, "signer decision");
            }
            Outcome::Repeated { .. } => {
                self.repeated.fetch_add(1, Ordering::Relaxed);
                tracing::info!(outcome = "repeated", %tx_id, amount = ?f.amount, to = ?to, peer, "signer decision");
            }
            Outcome::Refused { rule, reason, .. } => {
                self.refused[*rule as usize].fetch_add(1, Ordering::Relaxed);
                tracing::warn!(outcome = "refused", rule = rule.as_str(), %reason, %tx_id, amount = ?f.amount, to = ?to, peer, "signer decision");
            }
        }
        Ok(outcome)
    }

    fn spent_24h(&self) -> Result<u64, StoreError> {
        let spent = self.store().spent_since(now_ms().saturating_sub(DAY_MS))?;
        Ok(u64::try_from(spent).unwrap_or(u64::MAX))
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn bad_request(status: StatusCode, reason: impl Into<String>) -> Response {
    answer(status, json!({ "error": "bad-request", "reason": reason.into() }))
}

fn unavailable(reason: impl std::fmt::Display) -> Response {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "error": "unavailable", "reason": reason.to_string() }),
    )
}

/// Runs store work off the async threads: SQLite waits for fsync.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the signer's worker failed: {e}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    chain_id: String,
    transaction: String,
}

async fn sign(
    State(app): State<Arc<App>>,
    Extension(peer): Extension<Peer>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.status(), e.body_text()),
    };
    let request: SignBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("the body must be {{\"chain_id\":\"<64 hex>\",\"transaction\":\"<hex>\"}}: {e}");
            return bad_request(StatusCode::BAD_REQUEST, reason);
        }
    };
    let mut chain_id = [0u8; 32];
    if hex::decode_to_slice(&request.chain_id, &mut chain_id).is_err() {
        return bad_request(StatusCode::BAD_REQUEST, "chain_id must be 64 hex digits");
    }
    let Ok(transaction) = hex::decode(&request.transaction) else {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "transaction must be the packed unsigned transaction in hex",
        );
    };
    let outcome = blocking(move || app.sign(&chain_id, &transaction, &peer.0)).await;
    match outcome {
        Ok(Outcome::Signed { facts, signature, .. }) => answer(
            StatusCode::OK,
            json!({ "signature": hex::encode(signature), "tx_id": hex::encode(facts.tx_id), "repeated": false }),
        ),
        Ok(Outcome::Repeated { facts, signature }) => answer(
            StatusCode::OK,
            json!({ "signature": hex::encode(signature), "tx_id": hex::encode(facts.tx_id), "repeated": true }),
        ),
        Ok(Outcome::Refused { rule, reason, .. }) => answer(
            StatusCode::FORBIDDEN,
            json!({ "error": "refused", "rule": rule.as_str(), "reason": reason }),
        ),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

async fn log(State(app): State<Arc<App>>, query: Result<Query<LogQuery>, QueryRejection>) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                format!("{}: use ?after=SEQ&limit=1..1000", e.body_text()),
            )
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return bad_request(StatusCode::BAD_REQUEST, "limit must be 1..=1000");
    }
    let after = q.after.unwrap_or(0);
    match blocking(move || app.store().log_page(after, limit)).await {
        Ok((entries, more)) => {
            let next = entries.last().filter(|_| more).map(|e| e.seq);
            answer(StatusCode::OK, json!({ "entries": entries, "next": next }))
        }
        Err(e) => unavailable(e),
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let spent = {
        let app = app.clone();
        blocking(move || app.spent_24h()).await
    };
    match spent {
        Ok(spent) => answer(
            StatusCode::OK,
            json!({
                "status": "ok",
                "account": account(app.policy.account),
                "public_key": app.public_key,
                "signed_last_24h": spent,
                "max_per_day": app.policy.limits.max_per_day,
            }),
        ),
        Err(e) => unavailable(e),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let spent = {
        let app = app.clone();
        match blocking(move || app.spent_24h()).await {
            Ok(spent) => spent,
            Err(e) => return unavailable(e),
        }
    };
    let mut out = String::new();
    let signed = app.signed.load(Ordering::Relaxed);
    let repeated = app.repeated.load(Ordering::Relaxed);
    family(
        &mut out,
        "cwd_signer_signed_total",
        "counter",
        "Transactions signed (first time) since the signer started.",
        [format!("{signed}")],
    );
    family(
        &mut out,
        "cwd_signer_repeated_total",
        "counter",
        "Requests answered with a signature given before.",
        [format!("{repeated}")],
    );
    let refused = Rule::ALL.iter().map(|r| {
        format!(
            "{{rule=\"{}\"}} {}",
            r.as_str(),
            app.refused[*r as usize].load(Ordering::Relaxed)
        )
    });
    family(
        &mut out,
        "cwd_signer_refused_total",
        "counter",
        "Requests refused, by the rule that refused them.",
        refused,
    );
    let help = "Amount + fee signed in the last 24 h, sweeps excluded (CWD base units).";
    family(&mut out, "cwd_signer_spent_24h", "gauge", help, [format!("{spent}")]);
    let max = app.policy.limits.max_per_day;
    family(
        &mut out,
        "cwd_signer_max_per_day",
        "gauge",
        "The policy's max_per_day (CWD base units).",
        [format!("{max}")],
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// One metric family: its help, its type, and samples given as `{labels} value` or `value`.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: impl IntoIterator<Item = String>) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for sample in samples {
        let separator = if sample.starts_with('{') { "" } else { " " };
        out.push_str(&format!("{name}{separator}{sample}\n"));
    }
}

async fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        json!({ "error": "not-found", "reason": "routes: POST /v1/sign, GET /v1/log, GET /health, GET /metrics" }),
    )
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/sign", post(sign))
        .route("/v1/log", get(log))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        // Only the length can leak, and the token's length is no secret worth keeping.
        .is_some_and(|given| given.trim().as_bytes().ct_eq(token.as_bytes()).into())
}

fn unauthorized() -> Response {
    let mut response = answer(
        StatusCode::UNAUTHORIZED,
        json!({ "error": "unauthorized", "reason": "send authorization: Bearer <the signer's token>" }),
    );
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    // The body was not read: the connection cannot carry another request.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

enum Listener {
    Unix(tokio::net::UnixListener),
    /// With the token every request on it must carry.
    Tcp(tokio::net::TcpListener, Arc<Zeroizing<String>>),
}

enum Accepted {
    Unix(tokio::net::UnixStream, Peer),
    Tcp(tokio::net::TcpStream, Peer, Arc<Zeroizing<String>>),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            Listener::Unix(l) => {
                let (stream, _) = l.accept().await?;
                let peer = match stream.peer_cred() {
                    Ok(c) => format!(
                        "unix uid={} pid={}",
                        c.uid(),
                        c.pid().map_or("?".into(), |p| p.to_string())
                    ),
                    Err(_) => "unix".into(),
                };
                Ok(Accepted::Unix(stream, Peer(peer.into())))
            }
            Listener::Tcp(l, token) => {
                let (stream, addr) = l.accept().await?;
                Ok(Accepted::Tcp(stream, Peer(format!("tcp {addr}").into()), token.clone()))
            }
        }
    }
}

fn connection<S>(
    graceful: &GracefulShutdown,
    stream: S,
    peer: Peer,
    token: Option<Arc<Zeroizing<String>>>,
    router: Router,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let allowed = token.as_deref().is_none_or(|t| bearer_matches(request.headers(), t));
        if !allowed {
            tracing::warn!(
                peer = &*peer.0,
                path = request.uri().path(),
                "signer: request without the right bearer token"
            );
        }
        request.extensions_mut().insert(peer.clone());
        let mut router = router.clone();
        async move {
            if !allowed {
                return Ok::<_, Infallible>(unauthorized());
            }
            router.call(request).await
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BODY);
    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
    tokio::spawn(async move {
        let _ = conn.await;
        drop(permit);
    });
}

async fn serve(listener: Listener, router: Router, mut stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok(Accepted::Unix(stream, peer)) => connection(&graceful, stream, peer, None, router.clone(), permit),
            Ok(Accepted::Tcp(stream, peer, token)) => {
                connection(&graceful, stream, peer, Some(token), router.clone(), permit)
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "signer: accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("signer: requests still running after the grace period were cut off");
    }
}

/// Names the private directories sockets are bound in, unique within the process.
static BINDS: AtomicU64 = AtomicU64::new(0);

/// Binds the socket at `path`, mode 0600, replacing a stale socket file (one nobody
/// listens on). Returns the listener and the socket file's (device, inode).
fn bind_unix(path: &Path) -> anyhow::Result<(std::os::unix::net::UnixListener, (u64, u64))> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                bail!(
                    "{}: another process listens on this socket (a signer already running?); stop it or set another `socket`",
                    path.display()
                );
            }
            fs::remove_file(path).with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a socket: move it away or set another `socket`",
            path.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("checking the socket path {}", path.display())),
    }
    // Bound inside a private directory, made 0600, then moved into place: at no moment
    // can another user connect.
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let private = parent.join(format!(
        ".signer-{}-{}",
        std::process::id(),
        BINDS.fetch_add(1, Ordering::Relaxed)
    ));
    DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("creating {} to bind the socket in", private.display()))?;
    let staged = private.join("s");
    let bound = (|| -> std::io::Result<_> {
        let listener = std::os::unix::net::UnixListener::bind(&staged)?;
        fs::set_permissions(&staged, Permissions::from_mode(0o600))?;
        fs::rename(&staged, path)?;
        listener.set_nonblocking(true)?;
        let meta = fs::metadata(path)?;
        Ok((listener, (meta.dev(), meta.ino())))
    })();
    let _ = fs::remove_file(&staged);
    let _ = fs::remove_dir(&private);
    bound.with_context(|| format!("binding the signer socket {}", path.display()))
}

/// A running signer (for tests and embedding): serves on a thread of its own with its
/// own tokio runtime until [`Server::shutdown`] or drop.
pub struct Server {
    socket: PathBuf,
    socket_id: (u64, u64),
    tcp: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Opens the store, binds the socket (and TCP), and starts serving.
    pub fn start(config: SignerConfig) -> anyhow::Result<Server> {
        let store = Store::open(&config.store)?;
        let tcp = match config.tcp {
            Some(addr) => {
                let listener = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("binding the signer's tcp address {addr} (config field `tcp`)"))?;
                listener.set_nonblocking(true)?;
                if !addr.ip().is_loopback() {
                    tracing::warn!(%addr, "signer: TCP on a non-loopback address carries the token without TLS");
                }
                Some(listener)
            }
            None => None,
        };
        let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
        let (unix, socket_id) = bind_unix(&config.socket)?;
        let socket = config.socket.clone();
        let remove_socket = |e: anyhow::Error| {
            let _ = fs::remove_file(&socket);
            e
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cwd-signer")
            .enable_all()
            .build()
            .context("starting the signer's runtime")
            .map_err(remove_socket)?;
        let app = Arc::new(App {
            policy: config.policy,
            key: config.key().clone(),
            public_key: config.public_key(),
            store: Mutex::new(store),
            signed: AtomicU64::new(0),
            repeated: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
        });
        let router = router(app);
        let (stop, stopped) = watch::channel(false);
        let tasks = {
            let _inside = runtime.enter();
            let mut listeners = vec![Listener::Unix(
                tokio::net::UnixListener::from_std(unix).map_err(|e| remove_socket(e.into()))?,
            )];
            if let Some(l) = tcp {
                let token = Arc::new(config.token().cloned().expect("a tcp address comes with its token"));
                listeners.push(Listener::Tcp(
                    tokio::net::TcpListener::from_std(l).map_err(|e| remove_socket(e.into()))?,
                    token,
                ));
            }
            listeners
                .into_iter()
                .map(|l| runtime.spawn(serve(l, router.clone(), stopped.clone())))
                .collect::<Vec<_>>()
        };
        let thread = std::thread::Builder::new()
            .name("cwd-signer".into())
            .spawn(move || {
                runtime.block_on(async {
                    for task in tasks {
                        let _ = task.await;
                    }
                });
                // Dropping the runtime waits for a signing in progress to be recorded.
                drop(runtime);
            })
            .context("starting the signer's thread")
            .map_err(remove_socket)?;
        tracing::info!(account = %account(config.policy.account), public_key = %config.public_key(), socket = %config.socket.display(), tcp = ?tcp_addr, "signer serving");
        Ok(Server {
            socket: config.socket,
            socket_id,
            tcp: tcp_addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The bound TCP address (the real port when the config said port 0).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// Stops accepting, lets requests in progress finish (a few seconds at most), and
    /// removes the socket file.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            // Only our own socket: another signer may have replaced it since.
            if fs::symlink_metadata(&self.socket).is_ok_and(|m| (m.dev(), m.ino()) == self.socket_id) {
                let _ = fs::remove_file(&self.socket);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Loads the config, serves until SIGINT or SIGTERM, then stops cleanly.
pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = SignerConfig::load(config_path)?;
    // The embedding program may have set up tracing already; then that one is used.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let server = Server::start(config)?;
    match server.tcp_addr() {
        Some(tcp) => eprintln!("signer listening on {} and {tcp}", server.socket_path().display()),
        None => eprintln!("signer listening on {}", server.socket_path().display()),
    }
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    signals.block_on(async {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = terminate.recv() => Ok(()),
        }
    })?;
    eprintln!("signer stopping");
    server.shutdown();
    Ok(())
}
