//! Totals kept, not recomputed: what `status` (and the books) sum over every user,
//! unclaimed deposit, withdrawal and unknown payout is kept in `tot/<shard>` records,
//! changed in the same commit as the records they sum (see [`super::derived`]). Only the
//! sum over all shards means anything, so a commit adds all its changes to one shard
//! drawn at random (a housekeeping commit without the random port: the one its first
//! record's key hashes to). Every balance change changes a total, so commits must not
//! meet on one: two commits in flight at once meet on a shard with odds of one in
//! [`SHARDS`], and the loser retries on another. A commit that changes no total writes
//! none. Reading sums the shards.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::derived;
use super::*;

/// Shards per total: enough that concurrent balance changes rarely meet on one, few
/// enough that a read of them all stays one short scan.
pub const SHARDS: u32 = 128;
pub const TOTALS_PREFIX: &str = "tot/";
/// Records the totals sum.
pub const SUMMED: [&str; 4] = ["unc/", "upay/", "user/", "wd/"];

/// Sums over records. A shard holds the changes the commits that drew it made, so a
/// shard may be negative (a payout counted on one shard, its confirmation on another);
/// the sum over all shards is the sum over the records, never negative. i128: no sum
/// of u64 amounts a store can hold overflows it.
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
    /// Game units on users' balances (spendable, not frozen): what the gateway owes.
    #[serde(default)]
    pub balance_game: i128,
    /// The part of `pending_cwd` already sent (a transaction built and broadcast).
    #[serde(default)]
    pub sent_cwd: i128,
}

impl Totals {
    /// Adds `o` times `sign` (1 or −1).
    pub fn add(&mut self, o: &Totals, sign: i128) {
        self.frozen_game += sign * o.frozen_game;
        self.unclaimed_count += sign * o.unclaimed_count;
        self.unclaimed_cwd += sign * o.unclaimed_cwd;
        self.pending_count += sign * o.pending_count;
        self.pending_cwd += sign * o.pending_cwd;
        self.unacked_payouts += sign * o.unacked_payouts;
        self.balance_game += sign * o.balance_game;
        self.sent_cwd += sign * o.sent_cwd;
    }

    /// Every field, for checks that no sum is negative.
    pub fn fields(&self) -> [i128; 8] {
        [
            self.frozen_game,
            self.unclaimed_count,
            self.unclaimed_cwd,
            self.pending_count,
            self.pending_cwd,
            self.unacked_payouts,
            self.balance_game,
            self.sent_cwd,
        ]
    }

    /// A sum as a u64 for views: clamped at the ends (a negative sum would be a bug the
    /// simulator's invariants look for; above 2^64 − 1 cannot be shown).
    pub fn clamp(v: i128) -> u64 {
        v.clamp(0, u64::MAX as i128) as u64
    }

    /// A count as the API reports it (a `u32`, saturating).
    pub fn clamp_count(v: i128) -> u32 {
        v.clamp(0, u32::MAX as i128) as u32
    }
}

pub fn shard_key(record_key: &str) -> String {
    let h = Sha256::digest(record_key.as_bytes());
    shard_name(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
}

fn shard_name(n: u32) -> String {
    format!("{TOTALS_PREFIX}{:03}", n % SHARDS)
}

/// What one record adds to the totals. A record that does not decode adds nothing (it
/// is reported where it is used); the recount in tests uses this same function.
pub fn contribution(key: &str, value: Option<&[u8]>) -> Totals {
    let mut t = Totals::default();
    let Some(v) = value else { return t };
    if key.starts_with("user/") {
        // Only the fields summed: every balance change passes here twice (old and new).
        #[derive(Deserialize)]
        struct Amounts {
            #[serde(default)]
            balance: u64,
            frozen: u64,
        }
        if let Ok(u) = decode::<Amounts>(key, v) {
            t.frozen_game = u.frozen as i128;
            t.balance_game = u.balance as i128;
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
            if w.state == WdState::Sent {
                t.sent_cwd = w.cwd as i128;
            }
        }
    } else if key.starts_with("upay/") {
        if let Ok(p) = decode::<UnknownPayoutRec>(key, v) {
            t.unacked_payouts = p.acknowledged.is_none() as i128;
        }
    }
    t
}

/// The shard changes `deltas` (record key → its change, on records the build has
/// reached) make, staged in `txn`.
pub(super) fn stage(txn: &mut Txn, deltas: Vec<(String, Totals)>) -> GwResult<()> {
    let Some(first) = deltas.first() else {
        return Ok(());
    };
    let shard = match txn.random_u32() {
        Some(r) => shard_name(r),
        None => shard_key(&first.0),
    };
    let mut sum = Totals::default();
    for (_, d) in &deltas {
        sum.add(d, 1);
    }
    let mut t: Totals = txn.get_or_default(&shard)?;
    t.add(&sum, 1);
    txn.put(&shard, &t);
    Ok(())
}

/// The totals summed over the shards, once the build is done (`None` before).
pub fn read(store: &mut dyn Store) -> GwResult<Option<Totals>> {
    if !derived::is_built(store)? {
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
    for prefix in SUMMED {
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
