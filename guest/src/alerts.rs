//! Alerts worth reading: every alert goes through [`Gateway::raise`], which lets one
//! alert of a kind about one subject (a withdrawal, a node method, a payout…) through
//! per [`ALERT_EVERY_MS`]. The last time is kept in the store (`alert/<kind>/<subject>`)
//! so that restarted or parallel instances do not repeat it; while the store itself is
//! failing, an in-memory copy keeps the limit for this instance.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::events::{Alert, Event};
use crate::gateway::Gateway;
use crate::gateway_error::GwResult;
use crate::records::{self, transact, Step};

/// At most one alert per kind and subject in this window.
pub const ALERT_EVERY_MS: u64 = 3_600_000;

/// The kind (as in WIT) and the subject an alert is about.
pub fn kind_and_subject(a: &Alert) -> (&'static str, String) {
    match a {
        Alert::LowFeeBalance { .. } => ("low-fee-balance", String::new()),
        Alert::NodeTrouble { call, .. } => ("node-trouble", call.clone()),
        Alert::BroadcastRefused { withdrawal_id, .. } => {
            ("broadcast-refused", withdrawal_id.clone())
        }
        Alert::StoreTrouble(detail) => ("store-trouble", detail.clone()),
        Alert::PayoutUnfunded { withdrawal_id, .. } => ("payout-unfunded", withdrawal_id.clone()),
        Alert::UnknownPayout { deposit_id, .. } => ("unknown-payout", deposit_id.clone()),
        Alert::HotBalanceLow { .. } => ("hot-balance-low", String::new()),
        Alert::FeeReserveLow { .. } => ("fee-reserve-low", String::new()),
        Alert::SigningFailed { purpose, subject } => {
            ("signing-failed", format!("{purpose} {subject}"))
        }
        Alert::SignerRefused {
            purpose,
            subject,
            rule,
            ..
        } => ("signer-refused", format!("{purpose} {subject} {rule}")),
        Alert::SignerUnavailable(_) => ("signer-unavailable", String::new()),
        Alert::FeeAboveCeiling { operation, .. } => ("fee-above-ceiling", operation.clone()),
        Alert::BooksMismatch { .. } => ("books-mismatch", String::new()),
        // The same cause again (whatever the operation counts) is not news.
        Alert::HistoryUntrusted { detail, switched } => (
            "history-untrusted",
            format!(
                "{switched} {}",
                detail.replace(|c: char| c.is_ascii_digit(), "")
            ),
        ),
    }
}

pub fn alert_key(kind: &str, subject: &str) -> String {
    let h = Sha256::digest(subject.as_bytes());
    format!("alert/{kind}/{}", hex::encode(&h[..12]))
}

/// In-memory last-sent times, for when the store cannot be written.
#[derive(Default)]
pub struct AlertMemory(HashMap<String, u64>);

impl Gateway {
    /// Emits `alert` unless the same kind about the same subject went out less than
    /// [`ALERT_EVERY_MS`] ago (here or in any instance sharing the store).
    pub(crate) fn raise(&mut self, alert: Alert) {
        let now = self.now();
        let (kind, subject) = kind_and_subject(&alert);
        let key = alert_key(kind, &subject);
        let due = |last: u64| now >= last.saturating_add(ALERT_EVERY_MS);
        self.alert_memory.0.retain(|_, t| !due(*t));
        if self.alert_memory.0.contains_key(&key) {
            return;
        }
        let stored = transact(&mut self.ports, |t| {
            let last: Option<u64> = t.get(&key)?;
            if last.is_some_and(|l| !due(l)) {
                return Ok(Step::Done(false));
            }
            t.put(&key, &now);
            t.emit(Event::Alert(alert.clone()));
            Ok(Step::Commit(true))
        });
        match stored {
            Ok(false) => {}
            Ok(true) => {
                self.alert_memory.0.insert(key, now);
            }
            // The store is failing: the alert reaches the live sink only (it cannot be in
            // the feed), and the in-memory limit holds.
            Err(_) => {
                self.alert_memory.0.insert(key, now);
                self.ports.events.emit(Event::Alert(alert));
            }
        }
    }
}

impl Gateway {
    /// Forgets rate-limit marks older than the window (at most 1000 per tick), so the
    /// store does not grow with every withdrawal that was ever alerted about.
    pub(crate) fn expire_alert_marks(&mut self) -> GwResult<()> {
        let now = self.now();
        for e in records::scan_all(self.ports.store.as_mut(), "alert/", None, 1000)? {
            let last: u64 = records::decode(&e.key, &e.value)?;
            if now < last.saturating_add(ALERT_EVERY_MS) {
                continue;
            }
            transact(&mut self.ports, |t| match t.get::<u64>(&e.key)? {
                Some(l) if now >= l.saturating_add(ALERT_EVERY_MS) => {
                    t.delete(&e.key);
                    Ok(Step::Commit(()))
                }
                _ => Ok(Step::Done(())),
            })?;
        }
        Ok(())
    }
}
