//! HTTP: POST / (any path but /devnet) is the node's JSON-RPC, POST /devnet the control
//! API, GET /devnet a status page in JSON. Each request runs on its own thread so a
//! delayed call (a fault) never holds up the others.

use std::io::Read;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::config::{Config, Production};
use crate::error::ChainError;
use crate::node::Node;
use crate::rpc::respond;

/// Largest request body read; a transaction is far smaller.
const MAX_BODY: u64 = 1 << 20;

pub struct Devnet;

impl Devnet {
    /// Starts a node serving HTTP on `config.listen` (127.0.0.1:0 by default), and the
    /// block timer if `config.production` is `Timer`.
    pub fn start(config: Config) -> std::io::Result<DevnetHandle> {
        let production = config.production.clone();
        let server = Server::http(config.listen).map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the server is not on an IP address"))?;
        let node = Arc::new(Node::new(config));
        let server = Arc::new(server);
        let accept = {
            let (node, server) = (node.clone(), server.clone());
            std::thread::Builder::new().name("devnet-http".into()).spawn(move || accept_loop(&node, &server))?
        };
        let timer = match production {
            Production::Manual => None,
            Production::Timer(period) => {
                let node = node.clone();
                Some(std::thread::Builder::new().name("devnet-blocks".into()).spawn(move || timer_loop(&node, period))?)
            }
        };
        Ok(DevnetHandle { node, server, addr, url: format!("http://{addr}"), threads: vec![accept].into_iter().chain(timer).collect() })
    }
}

/// A running devnet. Derefs to its [`Node`]; dropping it stops the server.
pub struct DevnetHandle {
    node: Arc<Node>,
    server: Arc<Server>,
    addr: SocketAddr,
    url: String,
    threads: Vec<JoinHandle<()>>,
}

impl DevnetHandle {
    /// The JSON-RPC URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
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

    /// Stops serving and joins the server and timer threads. Requests still being
    /// answered (a delay fault) finish on their own threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.node.stop();
        self.server.unblock();
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

fn accept_loop(node: &Arc<Node>, server: &Arc<Server>) {
    loop {
        let request = match server.recv() {
            Ok(r) => r,
            Err(_) if node.is_stopping() => return,
            Err(_) => {
                // A failing listener must not spin the CPU.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if node.is_stopping() {
            return;
        }
        let node = node.clone();
        let spawned = std::thread::Builder::new().name("devnet-request".into()).spawn(move || serve(&node, request));
        if spawned.is_err() {
            // Out of threads: the request is dropped (tiny_http answers 500).
            continue;
        }
    }
}

fn timer_loop(node: &Node, period: Duration) {
    let mut next = Instant::now() + period;
    while !node.is_stopping() {
        let now = Instant::now();
        if now >= next {
            // On the wall clock, wait for the next second rather than run ahead of it.
            if node.lock().wall_clock_ready() {
                node.produce_block();
                next = (next + period).max(Instant::now());
                continue;
            }
        }
        std::thread::sleep(next.saturating_duration_since(now).clamp(Duration::from_millis(5), Duration::from_millis(50)));
    }
}

fn json_response(status: u16, body: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    let header = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("static header is valid");
    Response::from_data(body.to_string().into_bytes()).with_status_code(status).with_header(header)
}

fn serve(node: &Node, mut request: Request) {
    let control = {
        let path = request.url().split('?').next().unwrap_or("");
        path == "/devnet" || path == "/devnet/"
    };
    let (status, body) = match (request.method(), control) {
        (Method::Get, true) => (200, crate::control::handle(node, &json!({ "method": "status" }))),
        (Method::Post, _) => {
            let mut bytes = Vec::new();
            let read = request.as_reader().take(MAX_BODY + 1).read_to_end(&mut bytes);
            match read {
                Err(e) => (400, respond(Value::Null, Err(ChainError::InvalidRequest(format!("cannot read the body: {e}"))))),
                Ok(_) if bytes.len() as u64 > MAX_BODY => {
                    (413, respond(Value::Null, Err(ChainError::InvalidRequest("body too large".into()))))
                }
                Ok(_) => match serde_json::from_slice::<Value>(&bytes) {
                    Err(e) => (200, respond(Value::Null, Err(ChainError::Parse(e.to_string())))),
                    Ok(v) if control => (200, crate::control::handle(node, &v)),
                    Ok(v) => (200, crate::rpc::handle(node, &v)),
                },
            }
        }
        _ => (405, json!({ "error": "use POST with a JSON-RPC body (GET /devnet shows the status)" })),
    };
    let _ = request.respond(json_response(status, &body));
}
