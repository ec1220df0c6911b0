//! A store the game supplies through one callback (`cwd_store`): each operation as JSON,
//! values in base64, with the WIT `store` interface's semantics. Whatever the callback
//! does wrong (fails, panics, answers nonsense or what the operation cannot return) is
//! `store-unavailable` for the call in progress; the next call asks it again.

use std::ffi::{c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cwd_gateway_host::store::{CommitOutcome, Entry, Precondition, Store, StoreError, Write};
use serde_json::{json, Value};

use crate::{Failure, StoreCallbacks, StoreFn};

/// `cwd_buffer`: where the callback's answer is copied.
pub struct Buffer(pub(crate) Vec<u8>);

pub(crate) struct CallbackStore {
    call: StoreFn,
    /// The caller's `user_data`, as an address: it vouches that it may be used from any
    /// thread.
    user_data: usize,
}

impl CallbackStore {
    pub(crate) fn new(callbacks: StoreCallbacks) -> Result<CallbackStore, Failure> {
        let call = callbacks.call.ok_or_else(|| Failure::invalid("store->call is NULL"))?;
        Ok(CallbackStore { call, user_data: callbacks.user_data as usize })
    }

    fn ask(&self, request: Value) -> Result<Value, StoreError> {
        let request = CString::new(request.to_string()).map_err(|_| StoreError("a key holds a NUL byte".into()))?;
        let mut answer = Buffer(Vec::new());
        // SAFETY: the caller registered a function taking these arguments.
        let status = catch_unwind(AssertUnwindSafe(|| unsafe { (self.call)(self.user_data as *mut c_void, request.as_ptr(), &mut answer) }))
            .map_err(|_| StoreError("the store callback panicked".into()))?;
        if status != 0 {
            let why = String::from_utf8_lossy(&answer.0).chars().take(200).collect::<String>();
            return Err(StoreError(format!("the store callback failed ({status}){}", if why.is_empty() { String::new() } else { format!(": {why}") })));
        }
        serde_json::from_slice(&answer.0).map_err(|e| StoreError(format!("the store callback's answer is not JSON: {e}")))
    }

    /// The entries of a scan's answer, checked against what the scan may return.
    fn entries(answer: &Value, prefix: &str, limit: u32, in_order: impl Fn(&str, &str) -> bool, bound: impl Fn(&str) -> bool) -> Result<Vec<Entry>, StoreError> {
        let list = answer.get("entries").and_then(Value::as_array).ok_or_else(|| bad("a scan's answer has no \"entries\" array"))?;
        if list.len() > limit as usize {
            return Err(bad("a scan answered more entries than its limit"));
        }
        let entries = list.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        for (i, e) in entries.iter().enumerate() {
            if !e.key.starts_with(prefix) || !bound(&e.key) {
                return Err(bad("a scan answered a key outside its range"));
            }
            if i > 0 && !in_order(&entries[i - 1].key, &e.key) {
                return Err(bad("a scan's entries are not in key order"));
            }
        }
        Ok(entries)
    }
}

fn bad(what: &str) -> StoreError {
    StoreError(format!("the store callback answered wrongly: {what}"))
}

fn entry(v: &Value) -> Result<Entry, StoreError> {
    let key = v.get("key").and_then(Value::as_str).ok_or_else(|| bad("an entry has no \"key\""))?;
    let value = v.get("value").and_then(Value::as_str).ok_or_else(|| bad("an entry has no base64 \"value\""))?;
    let version = v.get("version").and_then(Value::as_u64).ok_or_else(|| bad("an entry has no \"version\""))?;
    let value = BASE64.decode(value).map_err(|_| bad("an entry's \"value\" is not base64"))?;
    Ok(Entry { key: key.to_string(), value, version })
}

impl Store for CallbackStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let answer = self.ask(json!({ "op": "get", "key": key }))?;
        match answer.get("entry") {
            Some(Value::Null) => Ok(None),
            Some(e) => {
                let e = entry(e)?;
                if e.key != key {
                    return Err(bad("get answered another key"));
                }
                Ok(Some(e))
            }
            None => Err(bad("get's answer has no \"entry\"")),
        }
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let answer = self.ask(json!({ "op": "scan", "prefix": prefix, "start_after": start_after, "limit": limit }))?;
        Self::entries(&answer, prefix, limit, |a, b| a < b, |k| start_after.is_none_or(|s| k > s))
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let answer = self.ask(json!({ "op": "scan_reverse", "prefix": prefix, "start_before": start_before, "limit": limit }))?;
        Self::entries(&answer, prefix, limit, |a, b| a > b, |k| start_before.is_none_or(|s| k < s))
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let preconditions: Vec<Value> = preconditions.iter().map(|p| json!({ "key": p.key, "expected_version": p.expected_version })).collect();
        let writes: Vec<Value> = writes.iter().map(|w| json!({ "key": w.key, "value": w.value.as_ref().map(|v| BASE64.encode(v)) })).collect();
        let answer = self.ask(json!({ "op": "commit", "preconditions": preconditions, "writes": writes }))?;
        match answer.get("outcome").and_then(Value::as_str) {
            Some("committed") => Ok(CommitOutcome::Committed),
            Some("conflict") => Ok(CommitOutcome::Conflict),
            _ => Err(bad("commit's answer has no \"outcome\" of \"committed\" or \"conflict\"")),
        }
    }
}
