//! The audit trail, as stored. Each operator action writes one entry under `aud/`,
//! keyed by its time and a random suffix (so concurrent actions never contend on a
//! key), in the same commit as the action; a refused action writes its entry alone.
//! Entries are never pruned.

use serde::{Deserialize, Serialize};

use super::{decode, encode, GwResult};
use crate::ports::{AuditContext, Store};

pub const AUDIT: &str = "aud/";

/// One entry; its id is its key after [`AUDIT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRec {
    pub at_ms: u64,
    pub actor: String,
    pub call: String,
    pub subject: String,
    /// The call's arguments, a JSON object.
    pub arguments: String,
    /// `ok` or the error code answered.
    pub outcome: String,
}

/// Which entries to list (every given field must match).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub call: Option<String>,
    pub subject: Option<String>,
    pub since_ms: Option<u64>,
    pub before_ms: Option<u64>,
}

/// An entry as listed: its id and the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub rec: AuditRec,
}

/// `<at-ms, 16 digits>-<8 hex digits>`: time order, unique without a read.
pub fn entry_id(at_ms: u64, nonce: u32) -> String {
    format!("{at_ms:016}-{nonce:08x}")
}

/// The key and value of the entry for `ctx` with `outcome`.
pub fn entry(ctx: &AuditContext, at_ms: u64, nonce: u32, outcome: &str) -> (String, Vec<u8>) {
    let rec = AuditRec {
        at_ms,
        actor: ctx.actor.clone(),
        call: ctx.call.clone(),
        subject: ctx.subject.clone(),
        arguments: ctx.arguments.to_string(),
        outcome: outcome.to_string(),
    };
    (format!("{AUDIT}{}", entry_id(at_ms, nonce)), encode(&rec))
}

/// Entries matching `filter`, newest first, before the entry `start_before`, at most
/// `limit`. Reads only the time range the filter allows.
pub fn list(
    store: &mut dyn Store,
    filter: &AuditFilter,
    start_before: Option<&str>,
    limit: usize,
) -> GwResult<Vec<AuditEntry>> {
    const PAGE: u32 = 200;
    // The upper bound: the cursor or `before_ms`, whichever is lower.
    let mut from: Option<String> = [
        start_before.map(|id| format!("{AUDIT}{id}")),
        filter.before_ms.map(|ms| format!("{AUDIT}{ms:016}")),
    ]
    .into_iter()
    .flatten()
    .min();
    let floor = filter.since_ms.map(|ms| format!("{AUDIT}{ms:016}"));
    let mut out = Vec::new();
    loop {
        let page = store.scan_reverse(AUDIT, from.as_deref(), PAGE)?;
        for e in &page {
            if floor.as_deref().is_some_and(|f| e.key.as_str() < f) {
                return Ok(out);
            }
            let rec: AuditRec = decode(&e.key, &e.value)?;
            let keep = filter.actor.as_ref().is_none_or(|a| *a == rec.actor)
                && filter.call.as_ref().is_none_or(|c| *c == rec.call)
                && filter.subject.as_ref().is_none_or(|s| *s == rec.subject);
            if keep {
                out.push(AuditEntry { id: e.key[AUDIT.len()..].to_string(), rec });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => from = Some(last.key.clone()),
            _ => return Ok(out),
        }
    }
}
