//! The benches' HTTP client, shared by `throughput` and `scale` (each uses part of it).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

/// A minimal HTTP/1.1 keep-alive client: the load generator shares the two cores with
/// the server, so it must cost as little as possible per request (a general client such
/// as ureq spent more CPU per request than the server did).
pub struct Client {
    stream: std::io::BufReader<std::net::TcpStream>,
    out: Vec<u8>,
    token: String,
    body: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr, token: &str) -> Self {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            stream: std::io::BufReader::new(stream),
            out: Vec::with_capacity(512),
            token: token.to_string(),
            body: Vec::new(),
        }
    }

    /// Sends one request and reads its whole answer; the status code.
    pub fn send(&mut self, path: &str, body: Option<&str>) -> u16 {
        use std::io::{BufRead, Read, Write};
        self.out.clear();
        match body {
            Some(b) => write!(
                self.out,
                "POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
                self.token,
                b.len()
            ),
            None => write!(self.out, "GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n"),
        }
        .unwrap();
        self.stream.get_mut().write_all(&self.out).unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{path}: bad status line {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).unwrap();
        status
    }

    /// The last answer's body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}
