//! The HTTP API against hostile and unlucky clients, over real loopback sockets:
//! absurd declared lengths, bodies trickled a byte a second, a thousand idle
//! connections. In each case authenticated probes keep being answered and the process
//! (this test process) lives. The bounds are generous; latency figures are printed,
//! and measured properly by the `api_isolation` load test.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cwd_gateway_host::http_api::{HttpApi, HttpLimits};
use cwd_gateway_host::RuntimeConfig;
use support::*;

fn serve(gw: &Gw, limits: HttpLimits) -> HttpApi {
    let http = HttpApi::bind_with("127.0.0.1:0", limits).unwrap();
    http.spawn(gw.service.clone(), TOKEN.into(), 2);
    http
}

/// `n` authenticated `account` calls one after another; each must be answered 200.
/// Returns the latencies.
fn probes(addr: SocketAddr, n: usize) -> Vec<Duration> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    (0..n)
        .map(|i| {
            let started = Instant::now();
            let r = agent
                .post(&format!("http://{addr}/v1/account"))
                .set("authorization", &format!("Bearer {TOKEN}"))
                .send_string(r#"{"user":"probe"}"#)
                .unwrap_or_else(|e| panic!("probe {i} was not answered: {e}"));
            assert_eq!(r.status(), 200);
            started.elapsed()
        })
        .collect()
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99).div_ceil(100).saturating_sub(1)]
}

/// Sends `head` (and nothing else) and reads the status line of the answer.
fn raw_status(addr: SocketAddr, head: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn absurd_content_lengths_are_refused_without_allocating_them() {
    let gw = start("hostile lengths", RuntimeConfig::default(), Duration::from_secs(5));
    let http = serve(&gw, HttpLimits::default());
    for length in ["1099511627776", "18446744073709551615", "18446744073709551616", "-1", "12abc"] {
        for auth in [format!("Authorization: Bearer {TOKEN}\r\n"), String::new()] {
            for _ in 0..20 {
                let head = format!("POST /v1/account HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {length}\r\n\r\n{{");
                let status = raw_status(http.addr, &head);
                // 400 (too large or malformed) or 401 from the API; hyper itself refuses
                // lengths it cannot represent (400, or 431 for 2^64-1). Never a crash,
                // never a hang.
                assert!(matches!(status, Some(400 | 401 | 431)), "Content-Length {length}: {status:?}");
            }
        }
        assert_eq!(probes(http.addr, 3).len(), 3);
    }
    let latencies = probes(http.addr, 50);
    println!("probes after absurd lengths: p99 {:?}", p99(latencies));
}

#[test]
fn bodies_trickled_a_byte_a_second_do_not_stop_anyone_else() {
    let gw = start("hostile slow bodies", RuntimeConfig::default(), Duration::from_secs(5));
    let limits = HttpLimits { body_read_timeout: Duration::from_secs(4), ..HttpLimits::default() };
    let http = serve(&gw, limits);
    let addr = http.addr;
    let trickles: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let head = format!("POST /v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 64\r\n\r\n");
                s.write_all(head.as_bytes()).unwrap();
                let started = Instant::now();
                // One byte a second until the server answers or closes.
                while started.elapsed() < Duration::from_secs(15) {
                    if s.write_all(b" ").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    s.set_nonblocking(true).unwrap();
                    let mut buf = [0u8; 256];
                    let got = s.read(&mut buf);
                    s.set_nonblocking(false).unwrap();
                    match got {
                        Ok(0) => return None,
                        Ok(n) => return String::from_utf8_lossy(&buf[..n]).get(9..12).map(str::to_string),
                        Err(_) => {}
                    }
                }
                None
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let latencies = probes(addr, 40);
    let answers: Vec<_> = trickles.into_iter().map(|t| t.join().unwrap()).collect();
    println!("probes during 50 trickled bodies: p99 {:?}", p99(latencies));
    // Every trickler was cut off by the body timeout, with a 408 where it read one.
    assert!(answers.iter().all(|a| a.as_deref().is_none_or(|s| s == "408")), "{answers:?}");
    assert!(answers.iter().any(|a| a.as_deref() == Some("408")), "{answers:?}");
}

#[test]
fn a_thousand_idle_connections_do_not_stop_anyone_else() {
    let gw = start("hostile idle", RuntimeConfig::default(), Duration::from_secs(5));
    let http = serve(&gw, HttpLimits::default());
    let idle: Vec<TcpStream> = (0..1_000).map(|_| TcpStream::connect(http.addr).unwrap()).collect();
    // Half of them start a request and stop mid-header.
    for s in idle.iter().step_by(2) {
        let mut s = s;
        s.write_all(b"POST /v1/account HTTP/1.1\r\nHost: x\r\n").unwrap();
    }
    let latencies = probes(http.addr, 50);
    println!("probes with 1,000 idle connections: p99 {:?}", p99(latencies));
    // The header timeout closes them, so they hold nothing for long.
    let mut first = &idle[0];
    first.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 64];
    assert!(matches!(first.read(&mut buf), Ok(_) | Err(_)));
    drop(idle);
    assert_eq!(probes(http.addr, 5).len(), 5);
}

#[test]
fn shutdown_answers_requests_in_progress_then_stops() {
    let gw = start("hostile shutdown", RuntimeConfig::default(), Duration::from_secs(5));
    let http = HttpApi::bind("127.0.0.1:0").unwrap();
    let handles = http.spawn(gw.service.clone(), TOKEN.into(), 2);
    assert_eq!(probes(http.addr, 2).len(), 2);
    http.shutdown();
    for h in handles {
        h.join().unwrap();
    }
    assert!(TcpStream::connect_timeout(&http.addr, Duration::from_secs(2)).is_err(), "the listener is closed");
}

/// `/v1/openapi.json` describes what the server does: every documented call exists,
/// and a call missing a documented required argument is refused naming it.
#[test]
fn the_openapi_document_matches_the_server() {
    let gw = start("openapi", RuntimeConfig::default(), Duration::from_secs(5));
    let http = serve(&gw, HttpLimits::default());
    let doc: serde_json::Value = ureq::get(&format!("http://{}/v1/openapi.json", http.addr)).call().unwrap().into_json().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
    let mut calls = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(post) = item.get("post") else { continue };
        calls += 1;
        let body = &post["requestBody"]["content"]["application/json"]["schema"];
        let required: Vec<&str> = body["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let r = agent.post(&format!("http://{}{path}", http.addr)).set("authorization", &format!("Bearer {TOKEN}")).send_string("{}");
        let (status, answer): (u16, serde_json::Value) = match r {
            Ok(r) => (r.status(), r.into_json().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap()),
            Err(e) => panic!("{path}: {e}"),
        };
        assert_ne!(answer["error"]["code"], "unknown-call", "{path} is documented but not served");
        if body.get("oneOf").is_some() {
            assert_eq!(status, 400, "{path}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("`game`"), "{path}: {answer}");
        } else if let Some(first) = required.first() {
            assert_eq!(status, 400, "{path}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains(&format!("`{first}`")), "{path}: {answer}");
        } else {
            assert_eq!(status, 200, "{path}: {answer}");
        }
    }
    assert_eq!(calls, cwd_gateway_host::openapi::CALLS.len());
}
