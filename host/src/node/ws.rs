//! A node over WebSocket (`ws://`, `wss://`): one persistent connection, as wallets keep
//! one, driven on a runtime of its own; calls from any thread are multiplexed on it by
//! id. On connecting it logs in, asks for the API ids (`database`, `network_broadcast`,
//! `history`: login_api in crowdwiz-core's libraries/app/api.cpp) and registers
//! `set_block_applied_callback`, whose notices drive the finality watch.
//!
//! A connection that breaks fails the calls in flight as "may have taken effect" (a
//! broadcast is never resent here: the component decides) and the calls not yet sent as
//! unreachable (the failover may take those elsewhere). The next call opens a new
//! connection; while the node stays unreachable, attempts are spaced 0.1 s doubling to
//! 10 s. A connection silent for three keep-alive periods is taken for dead.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{rpc_result, Endpoint, NodeError};

/// The callback id the block notices carry (ours to choose, as in bitsharesjs).
const BLOCK_CALLBACK: u64 = 1;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const KEEPALIVE: Duration = Duration::from_secs(10);
/// History pages and blocks are large; a node's answer is bounded all the same.
const MAX_MESSAGE: usize = 64 << 20;
const APIS: [&str; 3] = ["database", "network_broadcast", "history"];

type Reply = mpsc::Sender<Result<Value, NodeError>>;

struct Call {
    id: u64,
    text: String,
    reply: Reply,
}

struct Connection {
    calls: tokio::sync::mpsc::UnboundedSender<Call>,
    closed: Arc<AtomicBool>,
    /// What goes first in `call` for each API: the id the node gave, or the name.
    apis: HashMap<&'static str, Value>,
    /// The node accepted `set_block_applied_callback`.
    announces: bool,
}

impl Connection {
    fn target(&self, api: &str) -> Value {
        self.apis.get(api).cloned().unwrap_or_else(|| json!(api))
    }

    fn open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }
}

enum State {
    Never,
    Up(Connection),
    Down { retry_at: Instant, backoff: Duration, why: String },
}

pub(super) struct WsEndpoint {
    url: String,
    timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
    /// Dropped with `shutdown_background` (a runtime may not be dropped in async code).
    runtime: Option<tokio::runtime::Runtime>,
    state: Mutex<State>,
    next_id: AtomicU64,
    blocks: Arc<AtomicU64>,
}

impl WsEndpoint {
    pub(super) fn new(url: &str, timeout: Duration, tls: Arc<rustls::ClientConfig>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("node-websocket")
            .enable_all()
            .build()
            .expect("a one-thread runtime for the node connection");
        WsEndpoint {
            url: url.to_string(),
            timeout,
            tls,
            runtime: Some(runtime),
            state: Mutex::new(State::Never),
            next_id: AtomicU64::new(2),
            blocks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The open connection's call queue and `api`'s target, opening one if needed.
    fn connected(&self, api: &str) -> Result<(tokio::sync::mpsc::UnboundedSender<Call>, Value), NodeError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let backoff = match &*state {
            State::Up(c) if c.open() => return Ok((c.calls.clone(), c.target(api))),
            // It worked until now: try again at once.
            State::Up(_) | State::Never => FIRST_BACKOFF,
            State::Down { retry_at, backoff, why } => {
                let wait = retry_at.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    return Err(NodeError::Unreachable(format!("{why}; trying again in {} ms", wait.as_millis())));
                }
                (*backoff * 2).min(MAX_BACKOFF)
            }
        };
        match self.open() {
            Ok(connection) => {
                // Blocks may have come while there was no connection: the watch looks.
                self.blocks.fetch_add(1, Ordering::Relaxed);
                let out = (connection.calls.clone(), connection.target(api));
                *state = State::Up(connection);
                Ok(out)
            }
            Err(why) => {
                *state = State::Down { retry_at: Instant::now() + backoff, backoff, why: why.clone() };
                Err(NodeError::Unreachable(why))
            }
        }
    }

    fn open(&self) -> Result<Connection, String> {
        let runtime = self.runtime.as_ref().expect("the runtime lives as long as the endpoint");
        let (calls, queue) = tokio::sync::mpsc::unbounded_channel();
        let closed = Arc::new(AtomicBool::new(false));
        let (ready, opened) = mpsc::channel();
        let (url, tls, timeout) = (self.url.clone(), self.tls.clone(), self.timeout);
        let (blocks, done) = (self.blocks.clone(), closed.clone());
        runtime.spawn(async move {
            match tokio::time::timeout(timeout, connect(&url, tls)).await {
                Ok(Ok(ws)) => {
                    let _ = ready.send(Ok(()));
                    drive(ws, queue, blocks, done).await;
                }
                Ok(Err(e)) => {
                    let _ = ready.send(Err(e));
                }
                Err(_) => {
                    let _ = ready.send(Err("the node did not accept the connection in time".into()));
                }
            }
        });
        opened.recv_timeout(self.timeout + Duration::from_secs(1)).map_err(|_| "the node did not accept the connection in time".to_string())??;
        let mut connection = Connection { calls, closed, apis: HashMap::new(), announces: false };
        // As a wallet does: login, then each API's id. A node that refuses one leaves
        // its name (nodes also take names) and the calls say why they fail. A node that
        // does not answer one is given up at once (dropping `connection` ends it), not
        // waited on for each of the five in turn.
        let step = |connection: &Connection, target: Value, method: &str, params: Value| match self.exchange(&connection.calls, target, method, &params) {
            Ok(v) => Ok(Some(v)),
            Err(NodeError::Rpc { .. }) => Ok(None),
            Err(e) => Err(format!("the node accepted the connection, then `{method}` failed: {e}")),
        };
        step(&connection, json!(1), "login", json!(["", ""]))?;
        for api in APIS {
            if let Some(id @ Value::Number(_)) = step(&connection, json!(1), api, json!([]))? {
                connection.apis.insert(api, id);
            }
        }
        let target = connection.target("database");
        connection.announces = step(&connection, target, "set_block_applied_callback", json!([BLOCK_CALLBACK]))?.is_some();
        Ok(connection)
    }

    fn exchange(&self, calls: &tokio::sync::mpsc::UnboundedSender<Call>, target: Value, method: &str, params: &Value) -> Result<Value, NodeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let text = json!({ "jsonrpc": "2.0", "id": id, "method": "call", "params": [target, method, params] }).to_string();
        let (reply, answer) = mpsc::channel();
        calls
            .send(Call { id, text, reply })
            .map_err(|_| NodeError::Unreachable("the connection to the node closed; the request was not sent".into()))?;
        match answer.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(NodeError::Timeout),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(NodeError::BadResponse("the connection to the node closed before it answered; the request may have taken effect".into()))
            }
        }
    }
}

impl Endpoint for WsEndpoint {
    fn request(&self, api: &str, method: &str, params: &Value) -> Result<Value, NodeError> {
        let (calls, target) = self.connected(api)?;
        self.exchange(&calls, target, method, params)
    }

    fn blocks_announced(&self) -> Option<u64> {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Up(c) if c.announces && c.open() => Some(self.blocks.load(Ordering::Relaxed)),
            _ => None,
        }
    }
}

impl Drop for WsEndpoint {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<WebSocketStream<Box<dyn Io>>, String> {
    let parsed = url::Url::parse(url).map_err(|_| "the node URL is not a URL".to_string())?;
    let port = parsed.port_or_known_default().ok_or("the node URL has no port")?;
    let (tcp, name) = match parsed.host().ok_or("the node URL has no host")? {
        url::Host::Domain(d) => (tokio::net::TcpStream::connect((d, port)).await, ServerName::try_from(d.to_string()).ok()),
        url::Host::Ipv4(a) => (tokio::net::TcpStream::connect((a, port)).await, Some(ServerName::IpAddress(IpAddr::V4(a).into()))),
        url::Host::Ipv6(a) => (tokio::net::TcpStream::connect((a, port)).await, Some(ServerName::IpAddress(IpAddr::V6(a).into()))),
    };
    let tcp = tcp.map_err(|e| format!("connecting: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if parsed.scheme().eq_ignore_ascii_case("wss") {
        let name = name.ok_or("the node's host name is not a valid TLS server name")?;
        Box::new(tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?)
    } else {
        Box::new(tcp)
    };
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let request = handshake_request(&parsed)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, io, Some(config)).await.map_err(|e| format!("WebSocket handshake: {e}"))?;
    Ok(ws)
}

/// The handshake's request: the URL without its user and password, which go as HTTP
/// Basic auth (as over HTTP), for nodes behind an authenticating proxy. Errors never
/// quote the URL (it may hold them).
fn handshake_request(url: &url::Url) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    use base64::Engine;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let mut request = bare.as_str().into_client_request().map_err(|_| "the node URL is not a WebSocket URL".to_string())?;
    if !url.username().is_empty() || url.password().is_some() {
        // Every copy we make is wiped when dropped; the header's own (in the request) is
        // the HTTP library's.
        let decode = |s: &str| zeroize::Zeroizing::new(percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned());
        let (user, password) = (decode(url.username()), decode(url.password().unwrap_or("")));
        let pair = zeroize::Zeroizing::new(format!("{}:{}", *user, *password));
        let token = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
        let header = zeroize::Zeroizing::new(format!("Basic {}", *token));
        let mut value = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(&header)
            .map_err(|_| "the node URL's credentials cannot go in a header".to_string())?;
        value.set_sensitive(true);
        request.headers_mut().insert(tokio_tungstenite::tungstenite::http::header::AUTHORIZATION, value);
    }
    Ok(request)
}

/// Sends the queued calls, routes the answers by id, counts the block notices, until
/// the connection ends; then fails what is left.
async fn drive(
    ws: WebSocketStream<Box<dyn Io>>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Call>,
    blocks: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
) {
    let (mut sink, mut stream) = ws.split();
    let mut pending: HashMap<u64, Reply> = HashMap::new();
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            call = queue.recv() => {
                let Some(call) = call else { break };
                pending.insert(call.id, call.reply);
                if sink.send(Message::text(call.text)).await.is_err() {
                    break;
                }
            }
            message = stream.next() => {
                heard = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => route(text.as_str(), &mut pending, &blocks),
                    Some(Ok(Message::Binary(bytes))) => route(&String::from_utf8_lossy(&bytes), &mut pending, &blocks),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                }
            }
            _ = keepalive.tick() => {
                if heard.elapsed() > KEEPALIVE * 3 {
                    break;
                }
                if heard.elapsed() >= KEEPALIVE && sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    closed.store(true, Ordering::Relaxed);
    // The calls in flight: their senders drop with `pending` (may have taken effect).
    drop(pending);
    queue.close();
    while let Ok(call) = queue.try_recv() {
        let _ = call.reply.send(Err(NodeError::Unreachable("the connection to the node closed; the request was not sent".into())));
    }
}

fn route(text: &str, pending: &mut HashMap<u64, Reply>, blocks: &AtomicU64) {
    let Ok(v) = serde_json::from_str::<Value>(text) else { return };
    if v.get("method").and_then(Value::as_str) == Some("notice") {
        if v["params"][0].as_u64() == Some(BLOCK_CALLBACK) {
            blocks.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    let id = v.get("id").and_then(|i| i.as_u64().or_else(|| i.as_str()?.parse().ok()));
    if let Some(reply) = id.and_then(|id| pending.remove(&id)) {
        let _ = reply.send(rpc_result(v, text));
    }
}
