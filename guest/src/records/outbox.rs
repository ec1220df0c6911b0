//! The event outbox and the feed, as stored. An event is written under `obx/` in the
//! same commit as the change it reports, keyed by its commit time and id, so commits
//! never contend on a shared key. The sequencer (`crate::feed`) moves outbox entries in
//! key order to `evt/<seq>`, numbering them from the one counter it alone writes.

use serde::{Deserialize, Serialize};

use crate::events::Event;

pub const OUTBOX: &str = "obx/";
pub const FEED: &str = "evt/";
/// The last feed position given out.
pub const FEED_SEQ: &str = "seq/evt";

/// One event, in the outbox (`seq` 0) or the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRec {
    /// Unique: `ev_` and 16 hex digits drawn when it was committed.
    pub id: String,
    /// The committing host's clock at commit.
    pub at_ms: u64,
    /// Its position in the feed, from 1 (the feed key's; 0 and left out as stored).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    pub event: Event,
    /// Its journal lines are the sequencer's to write (entries of this release's
    /// outbox); an entry without it had them written in its own commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub journal_due: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The stamp an outbox key names.
pub fn outbox_stamp(key: &str) -> Option<u64> {
    key.strip_prefix(OUTBOX)?.split('/').next()?.parse().ok()
}

/// The journal lines an outbox entry still owes the journal (none once sequenced, or
/// when its commit wrote them).
pub fn due_movements(key: &str, rec: &EventRec) -> Vec<super::journal::Movement> {
    match (rec.journal_due, outbox_stamp(key)) {
        (true, Some(stamp)) => super::journal::movements_of(&rec.event, stamp),
        _ => Vec::new(),
    }
}

/// `ev_` and 16 hex digits: the stamp mixed with the instance's random number
/// (SplitMix64's finalizer, a bijection), so ids reveal neither and never repeat within
/// an instance.
pub fn event_id(instance: u64, stamp: u64) -> String {
    let mut z = instance.wrapping_add(stamp.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("ev_{:016x}", z ^ (z >> 31))
}

/// Event stamps: milliseconds shifted left by [`STAMP_BITS`], plus a count, so a stamp
/// can be one past another within the same millisecond. An event's stamp is past the
/// last stamp of every user it names (`UserRec::event_clock`, advanced in the same
/// commit): one user's events sort in commit order, whatever the clocks of the hosts
/// that committed them. Other events sort by commit time.
pub const STAMP_BITS: u32 = 12;

/// The smallest stamp of a millisecond.
pub fn stamp_of(ms: u64) -> u64 {
    ms.saturating_mul(1 << STAMP_BITS)
}

/// The millisecond a stamp falls in.
pub fn stamp_ms(stamp: u64) -> u64 {
    stamp >> STAMP_BITS
}

/// Sorted by stamp.
pub fn outbox_key(stamp: u64, id: &str) -> String {
    format!("{OUTBOX}{stamp:020}/{id}")
}

pub fn feed_key(seq: u64) -> String {
    format!("{FEED}{seq:020}")
}

/// The position a feed key names.
pub fn feed_seq(key: &str) -> Option<u64> {
    key.strip_prefix(FEED)?.parse().ok()
}

/// A feed entry as read: the record moved from the outbox as it was, its position taken
/// from its key.
pub fn feed_entry(e: &crate::ports::Entry) -> crate::gateway_error::GwResult<EventRec> {
    let mut rec: EventRec = super::decode(&e.key, &e.value)?;
    rec.seq = feed_seq(&e.key).unwrap_or(0);
    Ok(rec)
}
