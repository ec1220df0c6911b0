//! The HTTP API against hostile and unlucky clients, over real loopback sockets:
//! absurd declared lengths, bodies trickled a byte a second, a thousand idle
//! connections, more clients than connection slots that never read their answers. In
//! each case authenticated probes keep being answered and the process
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
    (0..n).map(|i| probe_with(&agent, addr, i)).collect()
}

/// One authenticated `account` call through `agent`, which must be answered 200.
fn probe_with(agent: &ureq::Agent, addr: SocketAddr, i: usize) -> Duration {
    let started = Instant::now();
    let r = agent
        .post(&format!("http://{addr}/v1/account"))
        .set("authorization", &format!("Bearer {TOKEN}"))
        .send_string(r#"{"user":"probe"}"#)
        .unwrap_or_else(|e| panic!("probe {i} was not answered: {e}"));
    assert_eq!(r.status(), 200);
    started.elapsed()
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

/// Raises this process's soft open-file limit to its hard limit; an error if that is
/// still below `needed`.
#[cfg(unix)]
fn raise_fd_limit(needed: u64) -> Result<u64, String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write only the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    match limit.rlim_cur as u64 {
        have if have >= needed => Ok(have),
        have => Err(format!("the hard open-file limit is {have}, this test needs {needed} (raise it: ulimit -Hn)")),
    }
}

/// Whether the peer has closed or reset `s`, asked without reading anything from it.
#[cfg(unix)]
fn closed_by_peer(s: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Sets the largest TCP segment `socket` announces (before it connects).
#[cfg(unix)]
fn set_mss(socket: &impl std::os::fd::AsRawFd, mss: libc::c_int) {
    // SAFETY: a valid socket and an int option.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            (&mss as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "TCP_MAXSEG: {}", std::io::Error::last_os_error());
}

/// One authenticated call on a connection of its own; its latency.
fn fresh_probe(addr: SocketAddr, i: usize) -> Duration {
    probe_with(&ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build(), addr, i)
}

/// 2,100 sockets (more than the 2,048 connection slots), each pipelining requests for
/// `/v1/openapi.json` (no token needed) and never reading an answer, reconnecting as soon
/// as the server drops it, for the whole run. The server resets each after the write
/// timeout, so its slot comes back, and authenticated calls, each on a new connection,
/// keep being answered throughout.
#[cfg(unix)]
#[test]
fn clients_that_never_read_their_answers_lose_their_slots() {
    use tokio::io::AsyncWriteExt;

    const SOCKETS: usize = 2_100;
    match raise_fd_limit(2 * SOCKETS as u64 + 1_000) {
        Ok(n) => println!("open-file limit {n}"),
        Err(why) => {
            println!("SKIPPED clients_that_never_read_their_answers_lose_their_slots: {why}");
            return;
        }
    }
    let gw = start("hostile non-readers", RuntimeConfig::default(), Duration::from_secs(5));
    let write_timeout = Duration::from_secs(1);
    let limits = HttpLimits { write_timeout, ..HttpLimits::default() };
    assert!(limits.max_connections < SOCKETS, "the attack must outnumber the slots");
    let http = serve(&gw, limits);
    let addr = http.addr;
    // Enough requests that their answers (megabytes) cannot all sit in socket buffers.
    let doc = ureq::get(&format!("http://{addr}/v1/openapi.json")).call().unwrap().into_string().unwrap();
    let per_socket = ((4 << 20) / doc.len()).clamp(32, 1_000);
    let pipeline: &'static [u8] = "GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(per_socket).leak().as_bytes();
    println!("each socket pipelines {per_socket} requests, {} bytes of answers", per_socket * doc.len());

    let attack_for = Duration::from_secs(8);
    let started = Instant::now();
    let attack = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let attackers: Vec<_> = (0..SOCKETS)
                .map(|_| {
                    tokio::spawn(async move {
                        // How long each connection lasted; what went wrong.
                        let mut held = Vec::new();
                        let mut failures = Vec::new();
                        while started.elapsed() < attack_for {
                            let socket = tokio::net::TcpSocket::new_v4().unwrap();
                            // A small receive buffer, and segments of Ethernet's size
                            // rather than loopback's 64 KiB (the server's kernel sizes
                            // its send buffer by them): the server's writes stall at once.
                            socket.set_recv_buffer_size(4096).unwrap();
                            set_mss(&socket, 1460);
                            let mut stream = match tokio::time::timeout(Duration::from_secs(30), socket.connect(addr)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    failures.push(format!("connect: {e}"));
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                    continue;
                                }
                                Err(_) => {
                                    failures.push("connect timed out".to_string());
                                    continue;
                                }
                            };
                            let connected = Instant::now();
                            if stream.write_all(pipeline).await.is_err() {
                                continue;
                            }
                            // Never read; wait for the server to close the connection.
                            let stream = stream.into_std().unwrap();
                            loop {
                                if closed_by_peer(&stream) {
                                    held.push(connected.elapsed());
                                    break;
                                }
                                if connected.elapsed() > Duration::from_secs(30) {
                                    failures.push("not closed within 30 s".to_string());
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                        (held, failures)
                    })
                })
                .collect();
            let mut held = Vec::new();
            let mut failures = Vec::new();
            for a in attackers {
                let (h, f) = a.await.unwrap();
                held.extend(h);
                failures.extend(f);
            }
            (held, failures)
        })
    });
    // Let the attackers take every slot, then keep calling while they hold on.
    std::thread::sleep(Duration::from_secs(1));
    let mut latencies = Vec::new();
    while started.elapsed() < attack_for {
        latencies.push(fresh_probe(addr, latencies.len()));
    }
    let (mut held, failures) = attack.join().unwrap();
    let attack_took = started.elapsed();
    held.sort();
    let max_probe = *latencies.iter().max().unwrap();
    println!(
        "{} probes during {attack_for:?} of {SOCKETS} non-reading sockets: p50 {:?}, p99 {:?}, max {max_probe:?}",
        latencies.len(),
        { let mut l = latencies.clone(); l.sort(); l[l.len() / 2] },
        p99(latencies.clone()),
    );
    println!(
        "{} attacking connections closed by the server, connect to close: min {:?}, p50 {:?}, p99 {:?}, max {:?} ({} before the write timeout); attack over after {attack_took:?}; {} failures",
        held.len(),
        held[0],
        held[held.len() / 2],
        p99(held.clone()),
        held[held.len() - 1],
        held.iter().filter(|h| **h < write_timeout).count(),
        failures.len(),
    );
    assert!(failures.is_empty(), "{} failures, e.g. {:?}", failures.len(), &failures[..failures.len().min(5)]);
    assert!(held.len() > SOCKETS, "every socket was closed and came back at least once: {}", held.len());
    // Each held its slot about the write timeout: none for longer than the timeout plus a
    // wait for a slot behind the others. (Without the write timeout the slots stay held:
    // a probe then waits until the attackers give up, 30 s.)
    assert!(held[held.len() - 1] < 4 * write_timeout + Duration::from_secs(4), "{:?}", held[held.len() - 1]);
    assert!(max_probe < 4 * write_timeout + Duration::from_secs(4), "{max_probe:?}");
    assert!(latencies.len() >= 5, "{}", latencies.len());
    assert_eq!(probes(addr, 5).len(), 5);
}

/// A connection lives `max_connection_lifetime`: a keep-alive client calling without
/// pause is closed between two answers; a client reading many pipelined answers slowly
/// (progress within the write timeout, so never cut off by it) is closed once the
/// lifetime is over (after the answer in progress, or cut off after the grace).
#[cfg(unix)]
#[test]
fn connections_end_after_their_lifetime() {
    let gw = start("hostile lifetime", RuntimeConfig::default(), Duration::from_secs(5));
    let (lifetime, grace) = (Duration::from_secs(2), Duration::from_secs(1));
    let limits = HttpLimits {
        write_timeout: Duration::from_secs(5),
        max_connection_lifetime: lifetime,
        shutdown_grace: grace,
        ..HttpLimits::default()
    };
    let http = serve(&gw, limits);

    // Keep-alive, a request every 50 ms: each answer whole, then the end of the stream.
    let mut s = TcpStream::connect(http.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut answers = 0;
    let closed_after = loop {
        if s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
            break started.elapsed();
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let whole = loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.ends_with(b"{\"ok\":true}") {
                break true;
            }
        };
        if !whole {
            assert!(got.is_empty(), "an answer was cut: {:?}", String::from_utf8_lossy(&got));
            break started.elapsed();
        }
        answers += 1;
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("keep-alive client: {answers} answers, closed after {closed_after:?}");
    assert!(closed_after >= lifetime && closed_after < lifetime + Duration::from_secs(1), "{closed_after:?}");
    assert!(answers >= 10, "{answers}");

    // A slow reader: 64 KiB every 200 ms of many megabytes of answers.
    let mut s = TcpStream::connect(http.addr).unwrap();
    let doc_len = ureq::get(&format!("http://{}/v1/openapi.json", http.addr)).call().unwrap().into_string().unwrap().len();
    let n = (16 << 20) / doc_len + 1;
    s.write_all("GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n.min(1_000)).as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    let mut read = 0;
    let cut_after = loop {
        if closed_by_peer(&s) {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not cut off");
        let mut buf = vec![0u8; 64 << 10];
        if let Ok(got) = s.read(&mut buf) {
            read += got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("slow reader: read {read} bytes, cut off after {cut_after:?}");
    assert!(cut_after >= lifetime && cut_after < lifetime + grace + Duration::from_secs(2), "{cut_after:?}");
    assert!(read > 256 << 10, "the reader made progress: {read}");
}
