//! One TCP port for HTTP and WebSocket, as a node serves them: a connection whose
//! request head asks for a WebSocket upgrade becomes a WebSocket session (see
//! [`crate::websocket`]); any other is HTTP/1.1 (keep-alive): POST / (any path but
//! /devnet) is the node's JSON-RPC, POST /devnet the control API, GET /devnet a status
//! page. Each connection has its own thread, so a delayed call (a fault) never holds up
//! the others. Request heads are parsed with `httparse`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Config, Production};
use crate::error::ChainError;
use crate::node::Node;
use crate::rpc::respond;

/// Largest request body read; a transaction is far smaller.
const MAX_BODY: usize = 1 << 20;
/// Largest request head.
const MAX_HEAD: usize = 16 << 10;
/// How often idle threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

pub struct Devnet;

impl Devnet {
    /// Starts a node serving HTTP and WebSocket on `config.listen` (127.0.0.1:0 by
    /// default), and the block timer if `config.production` is `Timer`.
    pub fn start(config: Config) -> std::io::Result<DevnetHandle> {
        let production = config.production.clone();
        let listener = TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let node = Arc::new(Node::new(config));
        let accept = {
            let node = node.clone();
            std::thread::Builder::new().name("devnet-accept".into()).spawn(move || accept_loop(&node, &listener))?
        };
        let timer = match production {
            Production::Manual => None,
            Production::Timer(period) => {
                let node = node.clone();
                Some(std::thread::Builder::new().name("devnet-blocks".into()).spawn(move || timer_loop(&node, period))?)
            }
        };
        Ok(DevnetHandle { node, addr, url: format!("http://{addr}"), threads: vec![accept].into_iter().chain(timer).collect() })
    }
}

/// A running devnet. Derefs to its [`Node`]; dropping it stops the server.
pub struct DevnetHandle {
    node: Arc<Node>,
    addr: SocketAddr,
    url: String,
    threads: Vec<JoinHandle<()>>,
}

impl DevnetHandle {
    /// The JSON-RPC URL over HTTP (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same node over WebSocket (`ws://127.0.0.1:PORT`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The control API URL (`…/devnet`).
    pub fn control_url(&self) -> String {
        format!("{}/devnet", self.url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stops serving and joins the accept and timer threads. Connections close at their
    /// next look at the stop flag; a request being answered (a delay fault) finishes.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.node.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Deref for DevnetHandle {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl Drop for DevnetHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(node: &Arc<Node>, listener: &TcpListener) {
    while !node.is_stopping() {
        match listener.accept() {
            Ok((stream, _)) => {
                let node = node.clone();
                // Out of threads: the connection is dropped.
                let _ = std::thread::Builder::new().name("devnet-conn".into()).spawn(move || serve_connection(&node, stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            // A failing listener must not spin the CPU.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn timer_loop(node: &Node, period: Duration) {
    // On the wall clock with whole seconds between blocks, blocks come at the start of
    // their second, as a witness makes them: crowdwiz-core's witness plugin
    // (libraries/plugins/witness/witness.cpp, `schedule_production_loop`) wakes at each
    // wall-clock second boundary and produces when its slot has come. A client may aim
    // its polls at a block's timestamp plus the interval.
    let aligned = node.lock().config.wall_clock && period >= Duration::from_secs(1) && period.subsec_nanos() == 0;
    let mut next = if aligned { next_slot(period) } else { Instant::now() + period };
    while !node.is_stopping() {
        let now = Instant::now();
        if now >= next {
            // On the wall clock, wait for the next second rather than run ahead of it.
            if node.lock().wall_clock_ready() {
                node.produce_block();
                next = if aligned { next_slot(period) } else { (next + period).max(Instant::now()) };
                continue;
            }
        }
        std::thread::sleep(next.saturating_duration_since(now).clamp(Duration::from_millis(1), POLL));
    }
}

/// The next wall-clock multiple of `period` (whole seconds since the Unix epoch).
fn next_slot(period: Duration) -> Instant {
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = period.as_secs().max(1);
    let slot = Duration::from_secs((wall.as_secs() / secs + 1) * secs);
    Instant::now() + slot.saturating_sub(wall)
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    len: usize,
    content_length: usize,
    close: bool,
    websocket: bool,
    /// `Expect: 100-continue` (curl sends it for larger bodies).
    expect_continue: bool,
}

/// Peeks (without consuming) until a whole request head is there. `None` = the peer
/// closed or the devnet stops.
fn peek_head(node: &Node, stream: &TcpStream) -> Option<Result<Head, String>> {
    let mut buf = vec![0u8; MAX_HEAD];
    loop {
        if node.is_stopping() {
            return None;
        }
        let n = match stream.peek(&mut buf) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return None,
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..n]) {
            Ok(httparse::Status::Complete(len)) => {
                let header = |name: &str| {
                    req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                };
                let content_length = match header("content-length") {
                    None => 0,
                    Some(v) => match v.trim().parse() {
                        Ok(n) => n,
                        Err(_) => return Some(Err("bad Content-Length".into())),
                    },
                };
                return Some(Ok(Head {
                    method: req.method.unwrap_or("").to_string(),
                    path: req.path.unwrap_or("/").to_string(),
                    len,
                    content_length,
                    close: header("connection").is_some_and(|c| c.contains("close")) || req.version == Some(0),
                    websocket: header("upgrade").is_some_and(|u| u.contains("websocket")),
                    expect_continue: header("expect").is_some_and(|e| e.contains("100-continue")),
                }));
            }
            Ok(httparse::Status::Partial) if n < MAX_HEAD => std::thread::sleep(Duration::from_millis(2)),
            Ok(httparse::Status::Partial) => return Some(Err("request head too large".into())),
            Err(e) => return Some(Err(format!("bad request head: {e}"))),
        }
    }
}

fn serve_connection(node: &Arc<Node>, stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let mut stream = stream;
    loop {
        let head = match peek_head(node, &stream) {
            None => return,
            Some(Err(e)) => {
                let _ = write_response(&mut stream, 400, &respond(Value::Null, Err(ChainError::InvalidRequest(e))), true);
                return;
            }
            Some(Ok(h)) => h,
        };
        if head.websocket {
            crate::websocket::serve(node, stream);
            return;
        }
        let mut skip = vec![0u8; head.len];
        if read_full(node, &mut stream, &mut skip).is_err() {
            return;
        }
        let (status, body) = if head.content_length > MAX_BODY {
            (413, respond(Value::Null, Err(ChainError::InvalidRequest("body too large".into()))))
        } else {
            if head.expect_continue && stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
            let mut body = vec![0u8; head.content_length];
            if read_full(node, &mut stream, &mut body).is_err() {
                return;
            }
            answer(node, &head, &body)
        };
        let close = head.close || status == 413;
        if write_response(&mut stream, status, &body, close).is_err() || close {
            return;
        }
    }
}

fn read_full(node: &Node, stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        if node.is_stopping() {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        match stream.read(&mut buf[done..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn answer(node: &Node, head: &Head, body: &[u8]) -> (u16, Value) {
    let path = head.path.split('?').next().unwrap_or("");
    let control = path == "/devnet" || path == "/devnet/";
    match (head.method.as_str(), control) {
        ("GET", true) => (200, crate::control::handle(node, &json!({ "method": "status" }))),
        ("POST", _) => match serde_json::from_slice::<Value>(body) {
            Err(e) => (200, respond(Value::Null, Err(ChainError::Parse(e.to_string())))),
            Ok(v) if control => (200, crate::control::handle(node, &v)),
            Ok(v) => (200, crate::rpc::handle(node, &v)),
        },
        _ => (405, json!({ "error": "use POST with a JSON-RPC body, or a WebSocket (GET /devnet shows the status)" })),
    }
}

fn write_response(stream: &mut TcpStream, status: u16, body: &Value, close: bool) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let body = body.to_string();
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    // One write: a head and a body sent apart wait for the client's delayed ACK (Nagle),
    // about 40 ms a response on a keep-alive connection.
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    stream.write_all(&out)?;
    stream.flush()
}
