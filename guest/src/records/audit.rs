//! The audit trail, as stored. Each operator action writes one entry under `aud/` in
//! the same commit as the action; a refused action writes its entry alone. Entries are
//! numbered from one head record, so the trail is in one order (time, then number) and
//! a missing number shows; operator actions are rare enough that two racing for the
//! head only retry. Entries are never pruned.
//!
//! A listing filtered by actor, call or subject reads an index, not the trail: each
//! entry has one key under `audf/` per non-empty set of those fields (seven), written
//! with it, so every filter is one prefix and a listing reads what it returns. A trail
//! written before the index gets it built once, in bounded batches a tick; until then
//! filtered listings read the trail.

use serde::{Deserialize, Serialize};

use super::{decode, GwResult, Txn};
use crate::ports::{AuditContext, Store};

pub const AUDIT: &str = "aud/";
/// The last entry's number and time.
pub const AUDIT_HEAD: &str = "meta/audit-head";
/// `audf/<fields>/<value>/…/<entry id>`: `<fields>` says which of actor (1), call (2),
/// subject (4) follow, each escaped so it holds no `/`.
pub const AUDIT_INDEX: &str = "audf/";
/// How far the index build over an older trail has come ([`IndexBuild`]).
pub const AUDIT_INDEX_BUILD: &str = "meta/audit-index";

/// Entries up to `cursor` (all once `done`) have their index keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBuild {
    pub done: bool,
    pub cursor: Option<String>,
}

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
    let id = entry_id(head.at_ms, head.seq);
    stage_index(t, &id, &rec);
    t.put(&format!("{AUDIT}{id}"), &rec);
    t.put(AUDIT_HEAD, &head);
    Ok(())
}

/// Keeps `/` out of a value, so values and the id stay apart in an index key.
fn escape(v: &str) -> String {
    v.replace('%', "%25").replace('/', "%2F")
}

/// The index prefix of the entries whose given fields equal these (`None`: no field
/// given, the trail itself is the listing).
fn index_prefix(actor: Option<&str>, call: Option<&str>, subject: Option<&str>) -> Option<String> {
    let fields = [actor, call, subject];
    let set: u8 = (0..3).filter(|&i| fields[i].is_some()).map(|i| 1u8 << i).sum();
    if set == 0 {
        return None;
    }
    let mut prefix = format!("{AUDIT_INDEX}{set}/");
    for value in fields.into_iter().flatten() {
        prefix.push_str(&escape(value));
        prefix.push('/');
    }
    Some(prefix)
}

fn stage_index(t: &mut Txn, id: &str, rec: &AuditRec) {
    for set in 1u8..8 {
        let has = |i: u8| set & (1 << i) != 0;
        let prefix = index_prefix(
            has(0).then_some(rec.actor.as_str()),
            has(1).then_some(rec.call.as_str()),
            has(2).then_some(rec.subject.as_str()),
        );
        if let Some(prefix) = prefix {
            t.put(&format!("{prefix}{id}"), &());
        }
    }
}

/// Whether filtered listings may read the index (built over the whole trail).
fn index_built(store: &mut dyn Store) -> GwResult<bool> {
    Ok(super::peek::<IndexBuild>(store, AUDIT_INDEX_BUILD)?.is_some_and(|b| b.done))
}

/// One bounded batch of the index build over entries written before it: the next
/// `batch` entries after the cursor get their keys, in one commit with the cursor.
/// Answers whether the build is done. Keys are idempotent, so entries written live
/// meanwhile (which have theirs) may be indexed again.
pub fn build_index_batch(store: &mut dyn Store, batch: u32) -> GwResult<bool> {
    if index_built(store)? {
        return Ok(true);
    }
    super::transact_store(store, |t| {
        let mut build: IndexBuild = t.get_or_default(AUDIT_INDEX_BUILD)?;
        if build.done {
            return Ok(super::Step::Done(true));
        }
        let page = t.scan(AUDIT, build.cursor.as_deref(), batch)?;
        for e in &page {
            let rec: AuditRec = decode(&e.key, &e.value)?;
            stage_index(t, &e.key[AUDIT.len()..], &rec);
        }
        build.done = page.len() < batch as usize;
        build.cursor = page.last().map(|e| e.key.clone()).or(build.cursor.take());
        t.put(AUDIT_INDEX_BUILD, &build);
        Ok(super::Step::Commit(build.done))
    })
}

/// Entries matching `filter`, newest first, before the entry `start_before`, at most
/// `limit`. Reads only the time range the filter allows, and (once the index is built)
/// only the entries it lists.
pub fn list(
    store: &mut dyn Store,
    filter: &AuditFilter,
    start_before: Option<&str>,
    limit: usize,
) -> GwResult<Vec<AuditEntry>> {
    const PAGE: u32 = 200;
    // `lists_all`: every entry read is listed (the index, or the trail unfiltered).
    let (index, lists_all) = match index_prefix(filter.actor.as_deref(), filter.call.as_deref(), filter.subject.as_deref()) {
        None => (None, true),
        Some(prefix) if index_built(store)? => (Some(prefix), true),
        Some(_) => (None, false),
    };
    let prefix = index.as_deref().unwrap_or(AUDIT);
    // The upper bound: the cursor or `before_ms`, whichever is lower.
    let mut from: Option<String> = [
        start_before.map(|id| format!("{prefix}{id}")),
        filter.before_ms.map(|ms| format!("{prefix}{ms:016}")),
    ]
    .into_iter()
    .flatten()
    .min();
    let floor = filter.since_ms.map(|ms| format!("{prefix}{ms:016}"));
    let mut out = Vec::new();
    loop {
        // Read no more than is listed; a filter over the trail (index not built yet)
        // skips entries: full pages.
        let want = if lists_all { (limit - out.len()).min(PAGE as usize) as u32 } else { PAGE };
        let page = store.scan_reverse(prefix, from.as_deref(), want)?;
        for e in &page {
            if floor.as_deref().is_some_and(|f| e.key.as_str() < f) {
                return Ok(out);
            }
            let id = &e.key[prefix.len()..];
            let rec: AuditRec = if index.is_some() {
                let key = format!("{AUDIT}{id}");
                match super::peek(store, &key)? {
                    Some(rec) => rec,
                    None => return Err(super::GatewayError::StoreUnavailable(format!("{key}: indexed, not stored"))),
                }
            } else {
                decode(&e.key, &e.value)?
            };
            let keep = filter.actor.as_ref().is_none_or(|a| *a == rec.actor)
                && filter.call.as_ref().is_none_or(|c| *c == rec.call)
                && filter.subject.as_ref().is_none_or(|s| *s == rec.subject);
            if keep {
                out.push(AuditEntry { id: id.to_string(), rec });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == want as usize => from = Some(last.key.clone()),
            _ => return Ok(out),
        }
    }
}
