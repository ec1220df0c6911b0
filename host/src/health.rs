//! What `/ready` reports: whether the gateway is doing its job, so that a supervisor
//! can act (restart the process, page someone, take it out of a load balancer).
//!
//! Ready means all of: configured (the tick instance is; false between a trap in it
//! and its successful replacement), the last
//! tick succeeded within three tick intervals plus a minute (the tick itself may wait
//! for slow nodes), and the last tick reached the node without errors. The scan lag
//! (irreversible block minus the last block fully scanned) is reported, not judged:
//! how much lag is acceptable is the operator's call. A standby host (another host holds
//! the tick lease) is ready when configured and reading the lease: it ticks nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::gateway::Service;

/// Slack on top of three tick intervals before the last tick counts as stale.
const TICK_SLACK: Duration = Duration::from_secs(60);

/// What `/ready` tells anyone without the token: the verdict and its reasons, without
/// host names, lease holders or error texts.
pub fn public_view(full: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["ready", "configured", "tick_recent", "node_reachable", "signer_reachable", "scan_lag_blocks"] {
        out.insert(key.into(), full[key].clone());
    }
    out.insert("role".into(), full["tick_lease"]["role"].clone());
    Value::Object(out)
}

pub fn readiness(service: &Service) -> Value {
    let h = service.health();
    let lease = service.lease_status();
    // A standby host (another holds the tick lease) is ready when it serves calls and
    // reads the lease: the holder's ticks are the holder's to report.
    let lease_recent = lease.last_ok.is_some_and(|t| t.elapsed() <= service.lease_config().duration + TICK_SLACK);
    let standby = !lease.held && lease.holder.as_ref().is_some_and(|h| *h != lease.this_host) && lease_recent;
    let stale_after = service.expected_tick_interval() * 3 + TICK_SLACK;
    let since_ok = h.last_tick_ok.map(|t| t.elapsed());
    let tick_recent = since_ok.is_some_and(|d| d <= stale_after);
    let node_reachable = h.last_tick.as_ref().is_some_and(|r| r.node_errors == 0);
    let irreversible = h.last_tick.as_ref().map(|r| r.last_irreversible_block);
    let lag = match (irreversible, h.scanned_through_block) {
        (Some(irr), Some(scanned)) => Some(irr.saturating_sub(scanned)),
        _ => None,
    };
    // A host with a signer is ready only while the signer answers: payouts need it.
    let signer_reachable = service.signer_reachable();
    let ready = service.is_configured()
        && (standby || (tick_recent && node_reachable))
        && signer_reachable != Some(false);
    json!({
        "ready": ready,
        "tick_lease": {
            "this_host": lease.this_host,
            "holder": lease.holder,
            "role": if lease.held { "holder" } else { "standby" },
            "takeovers": lease.takeovers,
            "last_error": lease.last_error,
        },
        "configured": service.is_configured(),
        "tick_recent": tick_recent,
        "node_reachable": node_reachable,
        "signer_reachable": signer_reachable,
        "last_tick_ok_ms_ago": since_ok.map(|d| d.as_millis() as u64),
        "last_tick_error": h.last_tick_error,
        "last_irreversible_block": irreversible,
        "scanned_through_block": h.scanned_through_block,
        "scan_lag_blocks": lag,
        "instance_recoveries": service.counters.recoveries.load(std::sync::atomic::Ordering::Relaxed),
    })
}
