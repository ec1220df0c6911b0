//! The store behind the host's `Store` capability: the host's own in-memory store (the
//! exact versioned conditional-commit semantics), with the plan's failures: a commit
//! that fails before writing, and one that is written but whose answer is lost.

use std::sync::Arc;

use cwd_gateway_host::store::{CommitOutcome, Entry, MemoryStore, Precondition, Store, StoreError, Write};

use crate::faults::Faults;

pub struct SimStore {
    pub inner: Arc<MemoryStore>,
    faults: Faults,
}

impl SimStore {
    pub fn new(faults: Faults) -> Self {
        SimStore { inner: Arc::new(MemoryStore::new()), faults }
    }
}

impl Store for SimStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.inner.get(key)
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(prefix, start_after, limit)
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_reverse(prefix, start_before, limit)
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let rate = self.faults.rates.store;
        if self.faults.fire("store-unavailable-before-commit", rate / 2) {
            return Err(StoreError("simulated: database unavailable".into()));
        }
        let out = self.inner.commit(preconditions, writes)?;
        if self.faults.fire("store-answer-lost-after-commit", rate / 2) {
            return Err(StoreError("simulated: connection lost after the commit was sent".into()));
        }
        Ok(out)
    }
}
