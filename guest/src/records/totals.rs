//! Totals kept, not recomputed: what `status` (and the books) sum over every user,
//! unclaimed deposit, withdrawal and unknown payout is kept in `tot/<shard>` records,
//! changed in the same commit as the records they sum ([`Txn::commit`] diffs each
//! written record against what it replaced). A record always counts in the shard its
//! key hashes to, so commits conflict on a shard only when both change a total and
//! their records share one of [`SHARDS`] shards; a commit that changes no total (a
//! balance adjustment) writes none. Reading sums the shards.
//!
//! A store written before totals existed is counted once, in bounded batches
//! ([`build_step`], one a tick), while the gateway serves: a record counts once its key
//! is at or below the build's cursor, so live commits and the build never count one
//! twice. Until the build is done, readers recompute (page by page). Every host sharing
//! a store must run a release that keeps totals.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::*;

/// Shards per total: enough that concurrent payouts and claims rarely meet on one.
pub const SHARDS: u32 = 32;
pub const TOTALS_PREFIX: &str = "tot/";
/// The build of totals over records written before they existed ([`Build`]).
pub const TOTALS_BUILD: &str = "meta/totals-build";
/// Records the totals sum, in key order (the build walks them in this order).
const TRACKED: [&str; 4] = ["unc/", "upay/", "user/", "wd/"];

/// Sums over records; each field of a shard is the sum of its records' contributions,
/// so never negative. i128: no sum of u64 amounts a store can hold overflows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Game units frozen for withdrawals not yet final, over all users.
    pub frozen_game: i128,
    /// Unclaimed deposits still open, and their CWD (other assets count, carry 0).
    pub unclaimed_count: i128,
    pub unclaimed_cwd: i128,
    /// Withdrawals not yet final, and their CWD.
    pub pending_count: i128,
    pub pending_cwd: i128,
    /// Unknown payouts not acknowledged (payouts pause while any is).
    pub unacked_payouts: i128,
}

impl Totals {
    fn add(&mut self, o: &Totals, sign: i128) {
        self.frozen_game += sign * o.frozen_game;
        self.unclaimed_count += sign * o.unclaimed_count;
        self.unclaimed_cwd += sign * o.unclaimed_cwd;
        self.pending_count += sign * o.pending_count;
        self.pending_cwd += sign * o.pending_cwd;
        self.unacked_payouts += sign * o.unacked_payouts;
    }

    /// A sum as a u64 for views: clamped at the ends (a negative sum would be a bug the
    /// simulator's invariants look for; above 2^64 − 1 cannot be shown).
    pub fn clamp(v: i128) -> u64 {
        v.clamp(0, u64::MAX as i128) as u64
    }
}

/// The build's progress: records at or below `cursor` (all of them once `done`) count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub done: bool,
    pub cursor: Option<String>,
    pub counted: u64,
}

impl Build {
    fn counts(&self, key: &str) -> bool {
        self.done || self.cursor.as_deref().is_some_and(|c| key <= c)
    }
}

pub fn tracked(key: &str) -> bool {
    TRACKED.iter().any(|p| key.starts_with(p))
}

pub fn shard_key(record_key: &str) -> String {
    let h = Sha256::digest(record_key.as_bytes());
    format!("{TOTALS_PREFIX}{:02}", u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % SHARDS)
}

/// What one record adds to the totals. A record that does not decode adds nothing (it
/// is reported where it is used); the recount in tests uses this same function.
pub fn contribution(key: &str, value: Option<&[u8]>) -> Totals {
    let mut t = Totals::default();
    let Some(v) = value else { return t };
    if key.starts_with("user/") {
        if let Ok(u) = decode::<UserRec>(key, v) {
            t.frozen_game = u.frozen as i128;
        }
    } else if key.starts_with("unc/") {
        if let Ok(u) = decode::<UnclaimedRec>(key, v) {
            if u.state == UnclaimedState::Open {
                t.unclaimed_count = 1;
                t.unclaimed_cwd = if u.asset_id == 0 { u.amount as i128 } else { 0 };
            }
        }
    } else if key.starts_with("wd/") {
        if let Ok(w) = decode::<WithdrawalRec>(key, v) {
            if !w.state.is_final() {
                t.pending_count = 1;
                t.pending_cwd = w.cwd as i128;
            }
        }
    } else if key.starts_with("upay/") {
        if let Ok(p) = decode::<UnknownPayoutRec>(key, v) {
            t.unacked_payouts = p.acknowledged.is_none() as i128;
        }
    }
    t
}

/// Stages, in `txn`, the shard changes its writes make. Called by [`Txn::commit`].
pub(super) fn stage(txn: &mut Txn) -> GwResult<()> {
    let changed: Vec<String> = txn.writes.keys().filter(|k| tracked(k)).cloned().collect();
    if changed.is_empty() {
        return Ok(());
    }
    let mut deltas: BTreeMap<String, (String, Totals)> = BTreeMap::new();
    for key in changed {
        // What the write replaces: read now when the transaction did not (a precondition
        // on it then holds the commit to that value).
        let old = match txn.seen.get(&key) {
            Some(v) => v.clone(),
            None => {
                let entry = txn.store.get(&key)?;
                txn.reads.entry(key.clone()).or_insert(entry.as_ref().map(|e| e.version));
                entry.map(|e| e.value)
            }
        };
        let mut d = contribution(&key, txn.writes[&key].as_deref());
        d.add(&contribution(&key, old.as_deref()), -1);
        if d != Totals::default() {
            deltas.insert(key.clone(), (shard_key(&key), d));
        }
    }
    if deltas.is_empty() {
        return Ok(()); // most commits (a balance adjustment) change no total
    }
    // Read in the transaction: the build moving meanwhile makes this commit retry.
    let build: Build = txn.get_or_default(TOTALS_BUILD)?;
    let mut shards: BTreeMap<String, Totals> = BTreeMap::new();
    for (key, (shard, d)) in deltas {
        if build.counts(&key) {
            shards.entry(shard).or_default().add(&d, 1);
        }
    }
    for (shard, d) in shards {
        let mut t: Totals = txn.get_or_default(&shard)?;
        t.add(&d, 1);
        txn.put(&shard, &t);
    }
    Ok(())
}

/// The totals summed over the shards, once the build is done (`None` before).
pub fn read(store: &mut dyn Store) -> GwResult<Option<Totals>> {
    if !peek::<Build>(store, TOTALS_BUILD)?.unwrap_or_default().done {
        return Ok(None);
    }
    let mut sum = Totals::default();
    for e in store.scan(TOTALS_PREFIX, None, SHARDS + 1)? {
        sum.add(&decode::<Totals>(&e.key, &e.value)?, 1);
    }
    Ok(Some(sum))
}

/// The totals recounted from the records themselves, page by page (bounded memory): for
/// readers while the build runs, and for tests.
pub fn recount(store: &mut dyn Store) -> GwResult<Totals> {
    let mut sum = Totals::default();
    for prefix in TRACKED {
        let mut after: Option<String> = None;
        loop {
            let page = store.scan(prefix, after.as_deref(), 500)?;
            for e in &page {
                sum.add(&contribution(&e.key, Some(&e.value)), 1);
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.key.clone()),
                _ => break,
            }
        }
    }
    Ok(sum)
}

/// One bounded batch of the build (at most `batch` records): counts the next records
/// after the cursor, in one commit with the cursor. Answers whether the build is done.
pub fn build_step(store: &mut dyn Store, batch: u32) -> GwResult<bool> {
    if peek::<Build>(store, TOTALS_BUILD)?.is_some_and(|b| b.done) {
        return Ok(true);
    }
    transact(store, |t| {
        let mut build: Build = t.get_or_default(TOTALS_BUILD)?;
        if build.done {
            return Ok(Step::Done(true));
        }
        // The next `batch` tracked keys after the cursor, across the prefixes in order.
        let mut keys = Vec::new();
        for prefix in TRACKED {
            let after = build.cursor.as_deref().filter(|c| *c >= prefix);
            if build.cursor.as_deref().is_some_and(|c| prefix_end_below(prefix, c)) {
                continue; // this prefix is counted already
            }
            let want = batch as usize - keys.len();
            keys.extend(t.store.scan(prefix, after, want as u32)?.into_iter().map(|e| e.key));
            if keys.len() >= batch as usize {
                break;
            }
        }
        let finished = keys.len() < batch as usize;
        let mut deltas: BTreeMap<String, Totals> = BTreeMap::new();
        for key in &keys {
            // Read in the transaction: a live commit to it meanwhile makes this retry.
            let value = t.fetch(key)?.map(<[u8]>::to_vec);
            deltas.entry(shard_key(key)).or_default().add(&contribution(key, value.as_deref()), 1);
        }
        for (shard, d) in deltas {
            let mut total: Totals = t.get_or_default(&shard)?;
            total.add(&d, 1);
            t.put(&shard, &total);
        }
        build.counted += keys.len() as u64;
        build.cursor = keys.last().cloned().or(build.cursor.take());
        build.done = finished;
        t.put(TOTALS_BUILD, &build);
        Ok(Step::Commit(finished))
    })
}

/// Whether every key under `prefix` sorts below `cursor` (the prefix is behind it).
fn prefix_end_below(prefix: &str, cursor: &str) -> bool {
    !cursor.starts_with(prefix) && cursor > prefix
}
