//! An in-memory backend: the same semantics as SQLite, nothing durable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<String, (Vec<u8>, u64)>,
    /// Last version handed out, store-wide, so versions are never reused.
    seq: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.entries.get(key).map(|(v, ver)| Entry { key: key.into(), value: v.clone(), version: *ver }))
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let range = ScanRange::of(prefix, start_after);
        let lower = if range.strict { Excluded(range.lower) } else { Included(range.lower) };
        let upper = range.end.as_deref().map_or(Unbounded, Excluded);
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .entries
            .range::<str, _>((lower, upper))
            .take(limit as usize)
            .map(|(k, (v, ver))| Entry { key: k.clone(), value: v.clone(), version: *ver })
            .collect())
    }

    fn reads_are_brief(&self) -> bool {
        true
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let mut inner = self.inner.lock().unwrap();
        for p in preconditions {
            if inner.entries.get(&p.key).map(|(_, v)| *v) != p.expected_version {
                return Ok(CommitOutcome::Conflict);
            }
        }
        for w in writes {
            inner.seq += 1;
            let version = inner.seq;
            match &w.value {
                Some(v) => {
                    inner.entries.insert(w.key.clone(), (v.clone(), version));
                }
                None => {
                    inner.entries.remove(&w.key);
                }
            }
        }
        Ok(CommitOutcome::Committed)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&super::MemoryStore::new());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        super::super::contract::check_concurrent(&[std::sync::Arc::new(super::MemoryStore::new())], 4, 50);
    }
}
