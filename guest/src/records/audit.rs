//! The audit trail, as stored. Each operator action writes one entry under `aud/` in
//! the same commit as the action; a refused action writes its entry alone. Entries are
//! numbered from one head record, so the trail is in one order (time, then number) and
//! a missing number shows; operator actions are rare enough that two racing for the
//! head only retry. Entries are never pruned.

use serde::{Deserialize, Serialize};

use super::{decode, GwResult, Txn};
use crate::ports::{AuditContext, Store};

pub const AUDIT: &str = "aud/";
/// The last entry's number and time.
pub const AUDIT_HEAD: &str = "meta/audit-head";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    at_ms: u64,
}

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

/// `<at-ms, 16 digits>-<number, 10 digits>`: sorts in time order, then number.
pub fn entry_id(at_ms: u64, seq: u64) -> String {
    format!("{at_ms:016}-{seq:010}")
}

/// Stages the entry for `ctx` with `outcome` in `t`. Its time never goes back from the
/// last entry's (hosts' clocks may disagree a little), so key order is number order.
pub fn stage(t: &mut Txn, ctx: &AuditContext, now_ms: u64, outcome: &str) -> GwResult<()> {
    let head: Head = t.get_or_default(AUDIT_HEAD)?;
    let head = Head { seq: head.seq + 1, at_ms: now_ms.max(head.at_ms) };
    let rec = AuditRec {
        at_ms: head.at_ms,
        actor: ctx.actor.clone(),
        call: ctx.call.clone(),
        subject: ctx.subject.clone(),
        arguments: ctx.arguments.to_string(),
        outcome: outcome.to_string(),
    };
    t.put(&format!("{AUDIT}{}", entry_id(head.at_ms, head.seq)), &rec);
    t.put(AUDIT_HEAD, &head);
    Ok(())
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
