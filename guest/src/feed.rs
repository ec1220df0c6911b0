//! The event feed: every event, in order, for `config.events.retention-ms`
//! (30 days by default). Changes write their events to the outbox (`obx/`) in their own commit
//! ([`crate::records::Txn::emit`]); the sequencer moves them to the feed (`evt/<seq>`)
//! in outbox key order, numbering them from `seq/evt`, which only it writes. So a
//! change never contends on a shared key, and feed positions are dense and final. The
//! entries carry their changes' journal lines (`records::journal`), which the sequencer
//! writes in the same commit as the move: a change's commit holds one row for both.
//!
//! Order: by event stamp (`records::outbox`), as the sequencer finds them. One user's
//! events are always in commit order: each commit that reports an event about a user
//! advances that user's event clock in the user's record, so the commits are serialized
//! and their stamps grow, whichever host or instance made them and whatever its clock
//! says. Other events sort by commit time. An event committed after a sequencing pass
//! read the outbox is numbered after the events that pass numbered.

use crate::gateway::Gateway;
use crate::gateway_error::{GatewayError, GwResult};
use crate::records::outbox::{self, EventRec, FEED, FEED_SEQ, OUTBOX};
use crate::records::{self, journal, transact_store, Step};

/// Outbox entries numbered per commit of the sequencer.
pub const SEQUENCE_BATCH: u32 = 2000;
/// Sequencing batches a journal read may run first (beyond them, a flood's newest
/// lines appear with the ticks that sequence them).
pub const READ_ROUNDS: u32 = 4;
/// Feed entries pruned per tick.
pub const PRUNE_PER_TICK: u32 = 1_000;
/// Most events one `list-events` answers.
pub const MAX_PAGE: u32 = 1_000;

impl Gateway {
    /// Sequences up to `rounds` batches, stopping at the first that is not full or when
    /// another instance is sequencing at that moment (no failure); answers whether more
    /// may wait (a batch was full).
    pub(crate) fn sequence_rounds(&mut self, rounds: u32) -> GwResult<bool> {
        let mut more = false;
        for _ in 0..rounds {
            match self.sequence_events() {
                Ok(n) if n < SEQUENCE_BATCH => break,
                Ok(_) => more = true,
                Err(GatewayError::Busy) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(more)
    }

    /// Sequences what waits in the outbox before the journal is read (its lines are
    /// written as their events are sequenced): at most [`READ_ROUNDS`] batches.
    pub(crate) fn sequence_before_reading(&mut self) -> GwResult<()> {
        self.sequence_rounds(READ_ROUNDS).map(|_| ())
    }

    /// Moves up to [`SEQUENCE_BATCH`] outbox entries to the feed, with the journal
    /// lines their commits left to it, in one commit; answers how many.
    /// Safe from any instance: `seq/evt` is read first, so a sequencer that another one
    /// overtook fails its commit on it and retries; outbox entries never change once
    /// written, so they are moved as they are (bytes copied, no precondition).
    pub fn sequence_events(&mut self) -> GwResult<u32> {
        let store = self.ports.store.as_mut();
        if store.scan(OUTBOX, None, 1)?.is_empty() {
            return Ok(0);
        }
        transact_store(store, |t| {
            let mut seq: u64 = t.get_or_default(FEED_SEQ)?;
            let pending = t.scan(OUTBOX, None, SEQUENCE_BATCH)?;
            if pending.is_empty() {
                return Ok(Step::Done(0));
            }
            for e in &pending {
                seq += 1;
                t.put_raw(&outbox::feed_key(seq), e.value.clone());
                t.delete(&e.key);
                let rec: EventRec = records::decode(&e.key, &e.value)?;
                for m in outbox::due_movements(&e.key, &rec) {
                    journal::stage(t, &m)?;
                }
            }
            t.put(FEED_SEQ, &seq);
            Ok(Step::Commit(pending.len() as u32))
        })
    }

    /// Up to `limit` feed events after position `after` (0: from the oldest kept),
    /// sequencing what waits in the outbox first.
    pub fn list_events(&mut self, after: u64, limit: u32) -> GwResult<Vec<EventRec>> {
        self.active()?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(GatewayError::invalid("limit", "must be 1..=1000"));
        }
        self.sequence_events()?;
        let start = (after > 0).then(|| outbox::feed_key(after));
        let page = self.ports.store.scan(FEED, start.as_deref(), limit)?;
        page.iter().map(outbox::feed_entry).collect()
    }

    /// The feed event at `seq`, if still kept.
    pub fn feed_event(&mut self, seq: u64) -> GwResult<Option<EventRec>> {
        self.ports
            .store
            .get(&outbox::feed_key(seq))?
            .as_ref()
            .map(outbox::feed_entry)
            .transpose()
    }

    /// The last position given out (0: none yet), after sequencing what waits.
    pub fn feed_head(&mut self) -> GwResult<u64> {
        self.active()?;
        self.sequence_events()?;
        Ok(records::peek(self.ports.store.as_mut(), FEED_SEQ)?.unwrap_or(0))
    }

    /// Deletes feed events older than the retention window, oldest first, at most
    /// [`PRUNE_PER_TICK`]; with each its webhook delivery record. Answers how many.
    pub(crate) fn prune_feed(&mut self) -> GwResult<u32> {
        const PAGE: u32 = 100;
        let retention = self.active()?.config.events.retention_ms;
        let cutoff = self.now().saturating_sub(retention);
        let store = self.ports.store.as_mut();
        let mut due = Vec::new();
        let mut after: Option<String> = None;
        'scan: while (due.len() as u32) < PRUNE_PER_TICK {
            let page = store.scan(FEED, after.as_deref(), PAGE)?;
            for e in &page {
                let rec = outbox::feed_entry(e)?;
                // Commit times may be out of order by clock skew: stop at the first one kept.
                if rec.at_ms >= cutoff || due.len() as u32 >= PRUNE_PER_TICK {
                    break 'scan;
                }
                due.push((e.key.clone(), rec.seq));
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = Some(last.key.clone()),
                _ => break,
            }
        }
        for chunk in due.chunks(200) {
            transact_store(store, |t| {
                for (key, seq) in chunk {
                    t.delete(key);
                    crate::webhooks::forget(t, *seq)?;
                }
                Ok(Step::Commit(()))
            })?;
        }
        Ok(due.len() as u32)
    }
}
