//! Data derived from records and kept in the commits that change them: totals
//! ([`super::totals`]) and per-user indexes ([`super::indexes`]). [`Txn::commit`] calls
//! [`stage`], which diffs each written record against what it replaced and stages the
//! changes to both, so no record changes without them.
//!
//! A store written before they existed gets them built once, in bounded batches
//! ([`build_step`], one a tick), while the gateway serves: a record counts in the
//! totals once its key is at or below the build's cursor, so live commits and the build
//! never count one twice (indexes are idempotent and always kept). Until the build is
//! done, readers fall back to the records themselves. Every host sharing a store must
//! run a release that keeps them.

use serde::{Deserialize, Serialize};

use super::totals::{self, Totals};
use super::*;

/// The build over records written before derived data existed ([`Build`]).
pub const BUILD_KEY: &str = "meta/derived-build";
/// Records derived data is kept for, in key order (the build walks them in this order).
const TRACKED: [&str; 6] = ["adj/", "dep/", "unc/", "upay/", "user/", "wd/"];

/// What the derived data holds: a release that adds a total raises it, and a store
/// built at an older version is built again (its totals from zero) while it serves.
/// 1: balances and sent payouts joined the totals (the books).
pub const BUILD_VERSION: u32 = 1;

/// The build's progress: records at or below `cursor` (all of them once `done`) count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub done: bool,
    pub cursor: Option<String>,
    pub counted: u64,
    #[serde(default)]
    pub version: u32,
}

impl Build {
    fn counts(&self, key: &str) -> bool {
        self.version == BUILD_VERSION
            && (self.done || self.cursor.as_deref().is_some_and(|c| key <= c))
    }

    fn is_done(&self) -> bool {
        self.done && self.version == BUILD_VERSION
    }
}

fn tracked(key: &str) -> bool {
    TRACKED.iter().any(|p| key.starts_with(p))
}

pub fn is_built(store: &mut dyn Store) -> GwResult<bool> {
    Ok(peek::<Build>(store, BUILD_KEY)?.is_some_and(|b| b.is_done()))
}

/// Stages, in `txn`, the changes to derived data its writes make.
pub(super) fn stage(txn: &mut Txn) -> GwResult<()> {
    let changed: Vec<String> = txn.writes.keys().filter(|k| tracked(k)).cloned().collect();
    let mut deltas = Vec::new();
    for key in changed {
        let old = txn.replaced(&key)?;
        let new = txn.writes[&key].clone();
        indexes::stage(txn, &key, old.as_deref(), new.as_deref());
        let mut d = totals::contribution(&key, new.as_deref());
        d.add(&totals::contribution(&key, old.as_deref()), -1);
        if d != Totals::default() {
            deltas.push((key, d));
        }
    }
    if deltas.is_empty() {
        return Ok(()); // most commits (a balance adjustment) change no total
    }
    // Read in the transaction (from the instance's memory when it has it, with the same
    // precondition): the build moving meanwhile makes this commit retry.
    let build: Build = txn.get_remembered(BUILD_KEY)?;
    deltas.retain(|(key, _)| build.counts(key));
    totals::stage(txn, deltas)
}

/// One bounded batch of the build (at most `batch` records): counts the next records
/// after the cursor and writes their index keys, in one commit with the cursor.
/// Answers whether the build is done.
pub fn build_step(store: &mut dyn Store, batch: u32) -> GwResult<bool> {
    Ok(build_batch(store, batch)?.is_none_or(|b| b.done))
}

/// One batch, as [`build_step`]; answers the progress after it (`None`: built already).
pub fn build_batch(store: &mut dyn Store, batch: u32) -> GwResult<Option<Build>> {
    if is_built(store)? {
        return Ok(None);
    }
    transact_store(store, |t| {
        let mut build: Build = t.get_or_default(BUILD_KEY)?;
        if build.is_done() {
            return Ok(Step::Done(None));
        }
        if build.version != BUILD_VERSION {
            // Built by an older release (or never): the totals start again from zero,
            // in this same commit as the first batch.
            for e in t.scan(totals::TOTALS_PREFIX, None, totals::SHARDS + 1)? {
                t.adopt(&e);
                t.delete(&e.key);
            }
            build = Build { version: BUILD_VERSION, ..Build::default() };
        }
        // The next `batch` tracked keys after the cursor, across the prefixes in order.
        let mut keys = Vec::new();
        for prefix in TRACKED {
            if build.cursor.as_deref().is_some_and(|c| behind(prefix, c)) {
                continue; // this prefix is counted already
            }
            let after = build.cursor.as_deref().filter(|c| *c >= prefix);
            let want = batch as usize - keys.len();
            keys.extend(
                t.store
                    .scan(prefix, after, want as u32)?
                    .into_iter()
                    .map(|e| e.key),
            );
            if keys.len() >= batch as usize {
                break;
            }
        }
        let finished = keys.len() < batch as usize;
        let mut deltas = Vec::new();
        for key in &keys {
            // Read in the transaction: a live commit to it meanwhile makes this retry.
            let value = t.fetch(key)?.map(<[u8]>::to_vec);
            indexes::stage(t, key, None, value.as_deref());
            deltas.push((key.clone(), totals::contribution(key, value.as_deref())));
        }
        totals::stage(t, deltas)?;
        build.counted += keys.len() as u64;
        build.cursor = keys.last().cloned().or(build.cursor.take());
        build.done = finished;
        t.put(BUILD_KEY, &build);
        Ok(Step::Commit(Some(build)))
    })
}

/// Whether every key under `prefix` sorts below `cursor` (the prefix is behind it).
fn behind(prefix: &str, cursor: &str) -> bool {
    !cursor.starts_with(prefix) && cursor > prefix
}
