//! Process-wide counters in the Prometheus text format, served at `/metrics`. One
//! registry per process, like Prometheus clients' default one: the figures describe the
//! process, whatever number of services it runs.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

use crate::events::EventSink;
use crate::gateway::Service;

#[derive(Default)]
pub struct Metrics {
    /// Per API call: answers by HTTP status class and error code.
    calls: Mutex<BTreeMap<(String, String), u64>>,
    /// Node calls that failed, by JSON-RPC method and error kind.
    node_errors: Mutex<BTreeMap<(String, String), u64>>,
    /// Events raised, by type (withdrawals by state, deposits, alerts…).
    events: Mutex<BTreeMap<String, u64>>,
    /// Requests to the signer process, by outcome (signed, refused, unavailable).
    signer: Mutex<BTreeMap<String, u64>>,
    /// Calls refused to a token's role, by role and call (both from fixed lists).
    forbidden: Mutex<BTreeMap<(String, String), u64>>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// One API answer: `code` is `ok` or the error code.
    pub fn call(&self, call: &str, code: &str) {
        bump(&self.calls, (call.to_string(), code.to_string()));
    }

    /// A call refused to a token's role (`403 forbidden`). Only calls the role table
    /// names are refused, so the labels stay bounded.
    pub fn forbidden(&self, role: &str, call: &str) {
        bump(&self.forbidden, (role.to_string(), call.to_string()));
    }

    pub fn node_error(&self, method: &str, kind: &str) {
        bump(&self.node_errors, (method.to_string(), kind.to_string()));
    }

    pub fn signer_answer(&self, outcome: &str) {
        bump(&self.signer, outcome.to_string());
    }

    pub fn event(&self, event: &Value) {
        let kind = match (event["type"].as_str(), event["kind"].as_str()) {
            (Some("alert"), Some(k)) => format!("alert:{k}"),
            (Some(t), _) => t.to_string(),
            _ => "unknown".into(),
        };
        bump(&self.events, kind);
    }

    /// The Prometheus text exposition of these counters and of `service`'s state.
    pub fn render(&self, service: &Service) -> String {
        let mut out = String::new();
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        out.push_str("# HELP cwd_gateway_calls_total API calls answered, by call and outcome (ok or the error code).\n# TYPE cwd_gateway_calls_total counter\n");
        for ((call, code), n) in &calls {
            let _ = writeln!(out, "cwd_gateway_calls_total{{call=\"{}\",outcome=\"{}\"}} {n}", label(call), label(code));
        }
        out.push_str("# HELP cwd_gateway_call_errors_total API calls answered with an error, by call.\n# TYPE cwd_gateway_call_errors_total counter\n");
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for ((call, code), n) in &calls {
            if code != "ok" {
                *errors.entry(call).or_default() += n;
            }
        }
        for (call, n) in errors {
            let _ = writeln!(out, "cwd_gateway_call_errors_total{{call=\"{}\"}} {n}", label(call));
        }
        out.push_str("# HELP cwd_gateway_forbidden_total API calls refused to a token's role (403 forbidden), by role and call.\n# TYPE cwd_gateway_forbidden_total counter\n");
        for ((role, call), n) in self.forbidden.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "cwd_gateway_forbidden_total{{role=\"{}\",call=\"{}\"}} {n}", label(role), label(call));
        }
        out.push_str("# HELP cwd_gateway_node_errors_total Node calls that failed, by JSON-RPC method and kind.\n# TYPE cwd_gateway_node_errors_total counter\n");
        for ((method, kind), n) in self.node_errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "cwd_gateway_node_errors_total{{method=\"{}\",kind=\"{}\"}} {n}", label(method), label(kind));
        }
        out.push_str("# HELP cwd_gateway_events_total Events raised, by type (withdrawal-requested, withdrawal-sent, withdrawal-confirmed… count withdrawals by state; alerts by kind).\n# TYPE cwd_gateway_events_total counter\n");
        for (kind, n) in self.events.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "cwd_gateway_events_total{{type=\"{}\"}} {n}", label(kind));
        }
        if let Some(up) = service.signer_reachable() {
            out.push_str("# HELP cwd_gateway_signer_requests_total Requests to the signer process, by outcome.\n# TYPE cwd_gateway_signer_requests_total counter\n");
            for (outcome, n) in self.signer.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = writeln!(out, "cwd_gateway_signer_requests_total{{outcome=\"{}\"}} {n}", label(outcome));
            }
            let _ = writeln!(out, "# HELP cwd_gateway_signer_reachable Whether the signer answered its last request (a refusal is an answer).\n# TYPE cwd_gateway_signer_reachable gauge\ncwd_gateway_signer_reachable {}", u8::from(up));
        }
        let c = &service.counters;
        let h = service.health();
        let _ = writeln!(out, "# HELP cwd_gateway_instance_recoveries_total Component instances dropped after a trap and replaced.\n# TYPE cwd_gateway_instance_recoveries_total counter\ncwd_gateway_instance_recoveries_total {}", c.recoveries.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP cwd_gateway_ticks_total Ticks run by the timer, by outcome.\n# TYPE cwd_gateway_ticks_total counter\ncwd_gateway_ticks_total{{outcome=\"ok\"}} {}\ncwd_gateway_ticks_total{{outcome=\"failed\"}} {}", c.ticks_ok.load(Ordering::Relaxed), c.ticks_failed.load(Ordering::Relaxed));
        let lease = service.lease_status();
        let _ = writeln!(out, "# HELP cwd_gateway_tick_lease_held Whether this host holds the tick lease (does the tick's work), with the holder it last saw.\n# TYPE cwd_gateway_tick_lease_held gauge\ncwd_gateway_tick_lease_held{{this_host=\"{}\",holder=\"{}\"}} {}", label(&lease.this_host), label(lease.holder.as_deref().unwrap_or("")), u8::from(lease.held));
        let _ = writeln!(out, "# HELP cwd_gateway_tick_lease_takeovers_total Times this host took the tick lease over from a holder that stopped renewing it.\n# TYPE cwd_gateway_tick_lease_takeovers_total counter\ncwd_gateway_tick_lease_takeovers_total {}", lease.takeovers);
        if let Some(d) = h.last_tick_duration {
            let _ = writeln!(out, "# HELP cwd_gateway_tick_duration_seconds How long the last tick took.\n# TYPE cwd_gateway_tick_duration_seconds gauge\ncwd_gateway_tick_duration_seconds {:.6}", d.as_secs_f64());
        }
        if let (Some(report), Some(scanned)) = (&h.last_tick, h.scanned_through_block) {
            let _ = writeln!(out, "# HELP cwd_gateway_scan_lag_blocks Irreversible block minus the last block fully scanned.\n# TYPE cwd_gateway_scan_lag_blocks gauge\ncwd_gateway_scan_lag_blocks {}", report.last_irreversible_block.saturating_sub(scanned));
        }
        if let Some(t) = h.last_tick_ok {
            let _ = writeln!(out, "# HELP cwd_gateway_last_tick_ok_age_seconds Seconds since the last successful tick.\n# TYPE cwd_gateway_last_tick_ok_age_seconds gauge\ncwd_gateway_last_tick_ok_age_seconds {:.3}", t.elapsed().as_secs_f64());
        }
        out
    }
}

/// Counts events on their way to `inner`.
pub struct CountingSink(pub std::sync::Arc<dyn EventSink>);

impl EventSink for CountingSink {
    fn emit(&self, event: &Value) {
        METRICS.event(event);
        self.0.emit(event);
    }
}
