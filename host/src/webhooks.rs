//! The webhook sender: delivers the feed to one URL. The component decides what is due
//! (`claim-webhook-deliveries`: new events in feed order, retries whose back-off has
//! passed, each held by one host at a time) and keeps every attempt's outcome
//! (`report-webhook-delivery`); this module only does the HTTP. Nothing is kept in
//! memory, so a restart, a full receiver or a long outage loses nothing.
//!
//! Each delivery is `POST <url>` with the body `{"id", "seq", "at_ms", "event"}` (the
//! event as in the HTTP API) and the headers
//! - `x-cwd-event-id`: the event's id (deduplicate on it: delivery is at least once),
//! - `x-cwd-event-seq`, `x-cwd-delivery-attempt`,
//! - `x-cwd-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! Only a 2xx answer counts as delivered; a redirect is a failure (it is not followed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::bindings::api::{FeedEvent, WebhookClaim};
use crate::clock::Clock;
use crate::gateway::Service;

/// Deliveries claimed at once.
pub const BATCH: u32 = 20;
/// How long the sender rests when nothing was due.
pub const IDLE: Duration = Duration::from_secs(1);
/// The receiver's time to answer one delivery (well inside the component's 60 s claim).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// What `verify` accepts by default: a signature at most five minutes old (or ahead).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Where and how to deliver (the secret is wiped when each copy drops).
#[derive(Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: zeroize::Zeroizing<Vec<u8>>,
}

/// The delivery body of a feed event.
pub fn body(e: &FeedEvent) -> Value {
    json!({ "id": e.id, "seq": e.seq, "at_ms": e.at_ms, "event": crate::imports::event_json(&e.event) })
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `x-cwd-signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The header is not `t=<digits>,v1=<64 hex>`.
    Malformed,
    /// The timestamp is further than the tolerance from now: a replay, or a clock off.
    OutsideTolerance,
    /// No `v1` matches: another secret, or the body was changed.
    BadSignature,
}

/// The receiver's check (the recipe in the README, in Rust): the signature over
/// `"<t>.<body>"` with the shared secret, and `t` within `tolerance_secs` of `now_secs`.
/// A delivery captured and replayed later fails the second test.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<u64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if now_secs.abs_diff(t) > tolerance_secs {
        return Err(VerifyError::OutsideTolerance);
    }
    let expected = mac(secret, t, body).finalize().into_bytes();
    if sigs
        .iter()
        .any(|s| bool::from(s.as_slice().ct_eq(expected.as_slice())))
    {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// One delivery's outcome: (delivered, status, detail).
fn send(
    agent: &ureq::Agent,
    target: &WebhookTarget,
    clock: &dyn Clock,
    claim: &WebhookClaim,
) -> (bool, u16, String) {
    let text = body(&claim.event).to_string();
    let signature = sign(&target.secret, clock.now_ms() / 1000, text.as_bytes());
    let sent = agent
        .post(&target.url)
        .set("content-type", "application/json")
        .set("x-cwd-event-id", &claim.event.id)
        .set("x-cwd-event-seq", &claim.event.seq.to_string())
        .set("x-cwd-delivery-attempt", &claim.attempt.to_string())
        .set("x-cwd-signature", &signature)
        .send_string(&text);
    match sent {
        Ok(r) if (200..300).contains(&r.status()) => (true, r.status(), String::new()),
        Ok(r) => (
            false,
            r.status(),
            format!(
                "answered {} {} (only 2xx counts; redirects are not followed)",
                r.status(),
                r.status_text()
            ),
        ),
        Err(ureq::Error::Status(code, r)) => {
            (false, code, format!("answered {code} {}", r.status_text()))
        }
        Err(e) => (false, 0, crate::redact::text(&e.to_string())),
    }
}

/// The HTTP agent deliveries go through: no redirects, a bounded wait.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        .build()
}

/// Claims what is due and delivers it, reporting each outcome; answers how many were
/// claimed (a full batch: call again at once). A component error (store down, a race
/// lost) claims nothing and is logged.
pub fn deliver_due(
    service: &Service,
    agent: &ureq::Agent,
    target: &WebhookTarget,
    clock: &dyn Clock,
) -> u32 {
    let claims = match service.with(|a| a.claim_webhook_deliveries(BATCH)) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "webhook: claiming deliveries failed; trying again shortly");
            return 0;
        }
    };
    for claim in &claims {
        let (delivered, status, detail) = send(agent, target, clock, claim);
        if !delivered {
            tracing::info!(seq = claim.event.seq, attempt = claim.attempt, status, detail = %detail, "webhook: delivery failed; it will be retried");
        }
        // Unreported (store down): the claim runs out and it is due again.
        if let Err(e) =
            service.with(|a| a.report_webhook_delivery(claim.event.seq, delivered, status, &detail))
        {
            tracing::warn!(seq = claim.event.seq, error = %e, "webhook: recording a delivery failed; it will be sent again");
        }
    }
    claims.len() as u32
}

/// Runs [`deliver_due`] until `stop`: at once again after a full batch, else every [`IDLE`].
pub fn spawn(
    service: Arc<Service>,
    target: WebhookTarget,
    clock: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("webhook".into())
        .spawn(move || {
            let agent = agent();
            while !stop.load(Ordering::Relaxed) {
                if deliver_due(&service, &agent, &target, clock.as_ref()) == BATCH {
                    continue;
                }
                let mut left = IDLE;
                while !left.is_zero() && !stop.load(Ordering::Relaxed) {
                    let step = left.min(Duration::from_millis(50));
                    std::thread::sleep(step);
                    left -= step;
                }
            }
        })
        .expect("spawning the webhook thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123";

    #[test]
    fn the_documented_vector() {
        // docs/http-api.md, "Webhooks": other languages check their code against it.
        assert_eq!(
            sign(b"whsec-test-0123456789", 1_700_000_000, b"{}"),
            "t=1700000000,v1=8f00bede6099409acba8e67a061e61a5dabdef4c544c5ca15ba8b42128020cfb"
        );
    }

    #[test]
    fn a_signature_verifies_within_the_tolerance_only() {
        let body = br#"{"id":"ev_1"}"#;
        let header = sign(SECRET, 1_000_000, body);
        assert_eq!(verify(SECRET, &header, body, 1_000_000, 300), Ok(()));
        assert_eq!(verify(SECRET, &header, body, 1_000_300, 300), Ok(()));
        // The same delivery replayed later than the tolerance.
        assert_eq!(
            verify(SECRET, &header, body, 1_000_301, 300),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            verify(SECRET, &header, b"{\"id\":\"ev_2\"}", 1_000_000, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(b"another secret!!", &header, body, 1_000_000, 300),
            Err(VerifyError::BadSignature)
        );
        // A replay with a fresh timestamp but the old signature.
        let forged = header.replacen("t=1000000", "t=1000400", 1);
        assert_eq!(
            verify(SECRET, &forged, body, 1_000_400, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, "sha256=00", body, 1_000_000, 300),
            Err(VerifyError::Malformed)
        );
    }
}
