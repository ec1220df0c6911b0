//! A host that stays up when calls go wrong: a slow node gives `node-unavailable`
//! (never a trap) when the budget and node timeouts are chosen together; a call that
//! does trap costs only that call (a clear 5xx), its instance is replaced, an alert
//! says so, and money stays exact (a withdrawal in flight is paid exactly once).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cwd_devnet::{FaultKind, FaultRule};
use cwd_gateway_host::bindings::api::{WithdrawalAmount, WithdrawalState};
use cwd_gateway_host::gateway::GatewayCallError;
use cwd_gateway_host::http_api::{dispatch, HttpApi};
use cwd_gateway_host::roles::{Caller, Role};
use cwd_gateway_host::RuntimeConfig;
use serde_json::json;
use support::*;

/// The caller these calls are made as: the operator, who may make every call.
fn operator() -> Caller {
    Caller::new("operator", Role::Operator)
}

fn finish(gw: &Gw, id: &str) -> cwd_gateway_host::bindings::api::Withdrawal {
    eventually("the withdrawal to finish", Duration::from_secs(60), || {
        let w = gw.service.with(|a| a.get_withdrawal(id)).ok()?;
        matches!(w.state, WithdrawalState::Confirmed | WithdrawalState::Failed).then_some(w)
    })
}

#[test]
fn a_node_slower_than_the_call_budget_gives_node_unavailable_not_a_trap() {
    // The budget (1 s) is shorter than the node's delay (3 s), but node waits up to
    // the node client's own bound (1 s timeout × 1 node + 1 s) do not count against it,
    // as `cwd-gateway run` configures it.
    let node_timeout = Duration::from_secs(1);
    let runtime = RuntimeConfig { call_timeout: Duration::from_secs(1), node_wait_allowance: node_timeout + Duration::from_secs(1), ..RuntimeConfig::default() };
    let gw = start("recovery slow node", runtime, node_timeout);
    let player = gw.funded_player("sam", "sam-cwd", 100 * CWD, 30 * CWD);
    let w = gw.service.with(|a| a.request_withdrawal("sam", WithdrawalAmount::Cwd(10 * CWD as u64), "w-slow")).unwrap();

    gw.devnet.add_fault(FaultRule::share(1.0, None, FaultKind::Delay(Duration::from_secs(3))));
    for _ in 0..2 {
        let report = gw.service.tick().expect("a slow node fails node calls, not the tick");
        assert!(report.node_errors > 0, "{report:?}");
    }
    // Game calls still answer from the store; node calls say the node is unavailable.
    assert_eq!(gw.service.with(|a| a.account("sam")).unwrap().frozen, 1_000);
    match gw.service.with(|a| a.start_link("sam2", "sam-cwd", None)) {
        Err(GatewayCallError::Refused(cwd_gateway_host::bindings::api::GatewayError::NodeUnavailable(_))) => {}
        other => panic!("expected node-unavailable, got {other:?}"),
    }
    assert!(gw.restarts().is_empty(), "no instance trapped: {:?}", gw.restarts());
    assert_eq!(gw.service.counters.recoveries.load(Ordering::Relaxed), 0);

    // The node is healthy again: the withdrawal completes, once.
    gw.devnet.clear_faults();
    let stop = Arc::new(AtomicBool::new(false));
    let timer = gw.service.spawn_timer(stop.clone(), Duration::from_millis(200));
    let done = finish(&gw, &w.withdrawal_id);
    stop.store(true, Ordering::Relaxed);
    timer.join().unwrap();
    assert_eq!(done.state, WithdrawalState::Confirmed);
    assert_eq!(gw.payouts_to(&player.id_string()).len(), 1, "paid exactly once");
    assert_eq!(gw.service.with(|a| a.account("sam")).unwrap().frozen, 0);
}

#[test]
fn a_trapped_call_gets_a_5xx_its_instance_is_replaced_and_the_withdrawal_is_paid_once() {
    // Every node wait counts here (no allowance): a broadcast answered after 2 s
    // blows the 1 s budget, after the node has applied it.
    let runtime = RuntimeConfig { call_timeout: Duration::from_secs(1), node_wait_allowance: Duration::ZERO, ..RuntimeConfig::default() };
    let gw = start("recovery trap", runtime, Duration::from_secs(5));
    let player = gw.funded_player("tia", "tia-cwd", 100 * CWD, 30 * CWD);
    let w = gw.service.with(|a| a.request_withdrawal("tia", WithdrawalAmount::Cwd(10 * CWD as u64), "w-trap")).unwrap();

    // 1. A trap in an API call (through the HTTP API's dispatch): a clear 500, an alert,
    // and the next call is served by a fresh instance. (`tick` runs in the tick instance,
    // under the tick lease: `start-link`'s message broadcast is the API call that waits.)
    gw.devnet.create_account(cwd_devnet::AccountSpec::new("tib-cwd", 10 * CWD)).unwrap();
    gw.devnet.add_fault(FaultRule::next(1, Some("broadcast_transaction"), FaultKind::Delay(Duration::from_secs(2))));
    let (status, body) = dispatch(&gw.service, &operator(), "start-link", &json!({ "user": "tib", "account": "tib-cwd" }));
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("component-failed")), "{body}");
    let restarts = gw.restarts();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    assert_eq!((restarts[0]["role"].as_str(), restarts[0]["cause"].as_str()), (Some("api"), Some("time-budget")));
    let (status, body) = dispatch(&gw.service, &operator(), "account", &json!({ "user": "tia" }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["frozen"], 1_000);

    // 2. A trap in the timer's tick: the timer goes on by itself with a fresh instance.
    gw.devnet.add_fault(FaultRule::next(1, None, FaultKind::Delay(Duration::from_secs(2))));
    let stop = Arc::new(AtomicBool::new(false));
    let timer = gw.service.spawn_timer(stop.clone(), Duration::from_millis(200));
    eventually("the tick instance to be replaced", Duration::from_secs(30), || {
        gw.restarts().iter().any(|e| e["role"] == "tick").then_some(())
    });
    let done = finish(&gw, &w.withdrawal_id);
    stop.store(true, Ordering::Relaxed);
    timer.join().unwrap();
    assert_eq!(done.state, WithdrawalState::Confirmed);
    assert_eq!(done.attempts, 1, "the stored transaction was rebroadcast, not rebuilt");
    assert_eq!(gw.payouts_to(&player.id_string()).len(), 1, "paid exactly once");
    assert_eq!(gw.service.with(|a| a.account("tia")).unwrap().frozen, 0);
    assert!(gw.service.counters.recoveries.load(Ordering::Relaxed) >= 2);
    assert!(gw.service.health().last_tick_ok.is_some());
}

#[test]
fn ready_tells_a_supervisor_whether_the_gateway_works() {
    let node_timeout = Duration::from_millis(500);
    let runtime = RuntimeConfig { node_wait_allowance: node_timeout + Duration::from_secs(1), ..RuntimeConfig::default() };
    let gw = start("recovery ready", runtime, node_timeout);
    let http = HttpApi::bind("127.0.0.1:0").unwrap();
    http.spawn(gw.service.clone(), TOKEN.into(), 2);
    let get = |path: &str| match ureq::get(&format!("http://{}{path}", http.addr)).timeout(Duration::from_secs(10)).call() {
        Ok(r) => (r.status(), r.into_json::<serde_json::Value>().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap()),
        Err(e) => panic!("{path}: {e}"),
    };
    assert_eq!(get("/health").0, 200);
    let (status, before) = get("/ready");
    assert_eq!((status, before["ready"].as_bool(), before["tick_recent"].as_bool()), (503, Some(false), Some(false)), "no tick yet: {before}");
    gw.service.tick().unwrap();
    let (status, ok) = get("/ready");
    assert_eq!(status, 200, "{ok}");
    assert_eq!((ok["node_reachable"].as_bool(), ok["configured"].as_bool()), (Some(true), Some(true)));
    assert!(ok["scan_lag_blocks"].as_u64().is_some(), "{ok}");
    // The node stops answering in time: the process lives, but it is not ready.
    gw.devnet.add_fault(FaultRule::share(1.0, None, FaultKind::Delay(Duration::from_secs(2))));
    gw.service.tick().unwrap();
    let (status, down) = get("/ready");
    assert_eq!((status, down["node_reachable"].as_bool()), (503, Some(false)), "{down}");
    assert_eq!(get("/health").0, 200);
    gw.devnet.clear_faults();
    gw.service.tick().unwrap();
    assert_eq!(get("/ready").0, 200);
    // Without the token no host name or error text: the lease holder and the last tick
    // error are for the operator (with the token).
    let public = get("/ready").1;
    assert!(public.get("tick_lease").is_none() && public.get("last_tick_error").is_none(), "{public}");
    assert_eq!(public["role"], "holder");
    let full: serde_json::Value = ureq::get(&format!("http://{}/ready", http.addr)).set("authorization", &format!("Bearer {TOKEN}")).call().unwrap().into_json().unwrap();
    assert!(full["tick_lease"]["this_host"].is_string(), "{full}");

    // Metrics: Prometheus text with the token, 401 without.
    let metrics = |auth: Option<&str>| {
        let mut req = ureq::get(&format!("http://{}/metrics", http.addr));
        if let Some(a) = auth {
            req = req.set("authorization", a);
        }
        match req.call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(metrics(None).0, 401);
    let (status, text) = metrics(Some(&format!("Bearer {TOKEN}")));
    assert_eq!(status, 200);
    for series in [
        "cwd_gateway_ticks_total{outcome=\"ok\"} 3",
        "cwd_gateway_node_errors_total{method=\"get_dynamic_global_properties\",kind=\"timeout\"}",
        "cwd_gateway_instance_recoveries_total 0",
        "cwd_gateway_scan_lag_blocks ",
        "cwd_gateway_tick_duration_seconds ",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
    let before = text.lines().find(|l| l.starts_with("cwd_gateway_calls_total{call=\"account\",outcome=\"ok\"}")).map(str::to_string);
    let r = ureq::post(&format!("http://{}/v1/account", http.addr)).set("authorization", &format!("Bearer {TOKEN}")).send_string(r#"{"user":"m"}"#);
    assert_eq!(r.unwrap().status(), 200);
    let after = metrics(Some(&format!("Bearer {TOKEN}"))).1;
    let count = |l: Option<String>| l.and_then(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok())).unwrap_or(0);
    let after_line = after.lines().find(|l| l.starts_with("cwd_gateway_calls_total{call=\"account\",outcome=\"ok\"}")).map(str::to_string);
    assert_eq!(count(after_line), count(before) + 1, "{after}");
}

#[test]
fn game_calls_do_not_wait_behind_a_tick_blocked_on_the_node() {
    let node_timeout = Duration::from_secs(10);
    let runtime = RuntimeConfig { node_wait_allowance: node_timeout + Duration::from_secs(1), ..RuntimeConfig::default() };
    let gw = start("recovery isolation", runtime, node_timeout);
    gw.service.with(|a| a.adjust_balance("uma", 50, "k-1", "")).unwrap();
    let fired = gw.devnet.faults_fired();
    gw.devnet.add_fault(FaultRule::next(1, None, FaultKind::Delay(Duration::from_secs(4))));
    let service = gw.service.clone();
    let tick = std::thread::spawn(move || service.tick());
    eventually("the tick to wait on the node", Duration::from_secs(10), || (gw.devnet.faults_fired() > fired).then_some(()));
    // The tick instance is busy for seconds; the API pool serves game calls meanwhile.
    assert_eq!(gw.service.with(|a| a.adjust_balance("uma", -20, "k-2", "")).unwrap().balance, 30);
    assert_eq!(gw.service.with(|a| a.account("uma")).unwrap().balance, 30);
    assert!(!tick.is_finished(), "the game calls were answered while the tick still waited");
    tick.join().unwrap().unwrap();
}

/// A tick longer than the tick lease (a slow node here; a long catch-up in life) keeps
/// the lease renewed: the other host stays standby for the whole tick instead of taking
/// over and redoing the work the first host's fence then refuses.
#[test]
fn a_tick_longer_than_the_lease_keeps_it() {
    use cwd_gateway_host::clock::SystemClock;
    use cwd_gateway_host::events::NullSink;
    use cwd_gateway_host::gateway::{Service, ServiceOptions};
    use cwd_gateway_host::lease::LeaseConfig;
    use cwd_gateway_host::node::NodeClient;
    use cwd_gateway_host::store::MemoryStore;
    use cwd_gateway_host::{Capabilities, Runtime};
    let gw = start("recovery long tick", RuntimeConfig::default(), Duration::from_secs(5));
    let store = Arc::new(MemoryStore::new());
    let runtime = Runtime::new(RuntimeConfig { node_wait_allowance: Duration::from_secs(30), ..RuntimeConfig::default() }).unwrap();
    let keys = cwd_gateway_host::bindings::api::Keys {
        active_wif: gw.gateway.active_wif.clone().unwrap(),
        memo_wif: gw.gateway.memo_wif.clone().unwrap(),
    };
    let host = |name: &str| {
        let caps = Capabilities {
            store: store.clone(),
            node: Arc::new(NodeClient::new(vec![gw.devnet.url().to_string()], Duration::from_secs(5))),
            clock: Arc::new(SystemClock),
            events: Arc::new(NullSink),
            signer: Arc::new(cwd_gateway_host::signer::NoSigner),
        };
        let options = ServiceOptions { api_instances: 1, lease: LeaseConfig { holder: name.into(), duration: Duration::from_millis(900) } };
        Service::start_opts(&runtime, caps, &config(gw.devnet.chain_id_hex()), keys.clone(), options).unwrap()
    };
    let (a, b) = (host("host-a"), host("host-b"));
    a.tick().unwrap();
    assert!(matches!(b.tick(), Err(GatewayCallError::Standby { .. })));
    // Every node answer now takes 0.6 s: a tick makes several calls, far past 0.9 s.
    gw.devnet.add_fault(FaultRule::share(1.0, None, FaultKind::Delay(Duration::from_millis(600))));
    let ticking = Arc::new(AtomicBool::new(true));
    let slow = {
        let (a, ticking) = (a.clone(), ticking.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let r = a.tick();
            ticking.store(false, Ordering::SeqCst);
            (r, started.elapsed())
        })
    };
    let mut tries = 0;
    while ticking.load(Ordering::SeqCst) {
        assert!(matches!(b.tick(), Err(GatewayCallError::Standby { .. })), "host-b took the lease during host-a's tick");
        tries += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let (result, took) = slow.join().unwrap();
    gw.devnet.clear_faults();
    result.unwrap();
    assert!(took > Duration::from_millis(1_800), "the tick took only {took:?}: no test");
    assert!(tries >= 10, "{tries}");
    assert_eq!((b.lease_status().takeovers, a.lease_status().held), (0, true));
}
