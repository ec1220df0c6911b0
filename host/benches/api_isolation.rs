//! Game calls isolated from chain I/O: `account` and `adjust-balance` latency through
//! the HTTP API while the timer ticks, first with a healthy devnet (the same-run
//! baseline), then with every node call delayed 2 s. The tick runs in an instance of
//! its own, so game calls should not notice the slow node.
//!
//! `cargo bench -p cwd-gateway --bench api_isolation` (optionally `-- <seconds>` per
//! phase, default 10).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{FaultKind, FaultRule};
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::RuntimeConfig;
use support::*;

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p).div_ceil(100).saturating_sub(1)]
}

/// Alternating `account` and `adjust-balance` calls for `secs`; latencies per call.
fn phase(addr: std::net::SocketAddr, secs: u64, tag: &str) -> (Vec<Duration>, Vec<Duration>) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let post = |call: &str, body: String| {
        let started = Instant::now();
        let r = agent.post(&format!("http://{addr}/v1/{call}")).set("authorization", &format!("Bearer {TOKEN}")).send_string(&body);
        assert_eq!(r.map(|r| r.status()).unwrap_or_else(|e| panic!("{call}: {e}")), 200);
        started.elapsed()
    };
    let (mut account, mut adjust) = (Vec::new(), Vec::new());
    let end = Instant::now() + Duration::from_secs(secs);
    let mut i = 0u64;
    while Instant::now() < end {
        account.push(post("account", r#"{"user":"bench"}"#.into()));
        adjust.push(post("adjust-balance", format!(r#"{{"user":"bench","delta":1,"idempotency_key":"{tag}-{i}"}}"#)));
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    account.sort();
    adjust.sort();
    (account, adjust)
}

fn report(what: &str, account: &[Duration], adjust: &[Duration]) {
    for (call, v) in [("account", account), ("adjust-balance", adjust)] {
        println!(
            "{what:<28} {call:<15} n={:<5} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
            v.len(),
            percentile(v, 50),
            percentile(v, 99),
            v[v.len() - 1]
        );
    }
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let node_timeout = Duration::from_secs(5);
    let runtime = RuntimeConfig { node_wait_allowance: node_timeout + Duration::from_secs(1), ..RuntimeConfig::default() };
    let gw = start("api isolation bench", runtime, node_timeout);
    let http = HttpApi::bind("127.0.0.1:0").unwrap();
    http.spawn(gw.service.clone(), TOKEN.into(), 2);
    let stop = Arc::new(AtomicBool::new(false));
    let timer = gw.service.spawn_timer(stop.clone(), Duration::from_millis(200));

    phase(http.addr, 1, "warmup");
    let (a0, b0) = phase(http.addr, secs, "base");
    gw.devnet.add_fault(FaultRule::share(1.0, None, FaultKind::Delay(Duration::from_secs(2))));
    // Let ticks start waiting on the slow node.
    std::thread::sleep(Duration::from_millis(500));
    let (a1, b1) = phase(http.addr, secs, "slow");
    let ticks_during = gw.service.counters.ticks_ok.load(Ordering::Relaxed);
    report("healthy node (baseline)", &a0, &b0);
    report("every node call +2 s", &a1, &b1);
    println!(
        "p99 ratio slow/baseline: account {:.2}, adjust-balance {:.2}; ticks completed: {ticks_during}",
        percentile(&a1, 99).as_secs_f64() / percentile(&a0, 99).as_secs_f64(),
        percentile(&b1, 99).as_secs_f64() / percentile(&b0, 99).as_secs_f64()
    );
    stop.store(true, Ordering::Relaxed);
    gw.devnet.clear_faults();
    let _ = timer.join();
}
