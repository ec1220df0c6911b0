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

    fn read_range(&self, range: ScanRange<'_>, limit: u32) -> Vec<Entry> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let lower = if range.strict { Excluded(range.lower) } else { Included(range.lower) };
        let upper = range.end.as_deref().map_or(Unbounded, Excluded);
        if range.end.as_deref().is_some_and(|end| end <= range.lower) {
            return Vec::new(); // an empty range, which BTreeMap::range refuses
        }
        let inner = self.inner.lock().unwrap();
        let entries = inner.entries.range::<str, _>((lower, upper));
        let entry = |(k, (v, ver)): (&String, &(Vec<u8>, u64))| Entry { key: k.clone(), value: v.clone(), version: *ver };
        match range.descending {
            false => entries.take(limit as usize).map(entry).collect(),
            true => entries.rev().take(limit as usize).map(entry).collect(),
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.entries.get(key).map(|(v, ver)| Entry { key: key.into(), value: v.clone(), version: *ver }))
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        Ok(self.read_range(ScanRange::of(prefix, start_after), limit))
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        Ok(self.read_range(ScanRange::reverse(prefix, start_before), limit))
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
