//! Webhook deliveries, driven from the feed: which events are due, who holds them, and
//! the log of every attempt. The host does the HTTP; the rules (order, back-off, giving
//! up, one delivery at a time across hosts) live here.
//!
//! - `webhook/cursor`: the last feed position handed to delivery. A new event is claimed
//!   once, from the cursor; a host that claims writes the cursor, so two hosts claiming
//!   at once conflict and one retries.
//! - `whd/<seq>`: one event's delivery ([`DeliveryRec`]): state, attempts, the last
//!   [`MAX_LOG`] attempts.
//! - `whq/<due>/<seq>`: while pending, when it is due. A claim moves it [`CLAIM_MS`]
//!   ahead, so a host that dies mid-delivery leaves it due again after that.
//!
//! Back-off after the n-th failed attempt: [`FIRST_RETRY_MS`]·2ⁿ⁻¹, at most
//! `config.events.webhook-max-interval-ms`; after `webhook-give-up-ms` since the first
//! attempt the delivery is `failed` (kept, listed, and `redeliver-event` starts it again).
//! Delivery is at least once: a receiver deduplicates by event id.

use serde::{Deserialize, Serialize};

use crate::gateway::Gateway;
use crate::gateway_error::{GatewayError, GwResult};
use crate::records::outbox::{self, EventRec, FEED};
use crate::records::{self, transact, transact_store, Order, Step, Txn};

pub const CURSOR: &str = "webhook/cursor";
const DELIVERIES: &str = "whd/";
const DUE: &str = "whq/";
/// How long a claimed delivery is held by the host that claimed it.
pub const CLAIM_MS: u64 = 60_000;
/// The wait after the first failed attempt; it doubles with each failure.
pub const FIRST_RETRY_MS: u64 = 10_000;
/// Attempts kept in a delivery's log (the latest ones).
pub const MAX_LOG: usize = 20;
/// Most deliveries one claim hands out.
pub const MAX_CLAIM: u32 = 100;
const MAX_DETAIL_BYTES: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Due, claimed by a host, or waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Retried for `webhook-give-up-ms` without success.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at_ms: u64,
    /// The receiver's HTTP status; 0 when there was no answer (refused, timed out).
    pub status: u16,
    /// What went wrong, for a person (empty on success).
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRec {
    pub seq: u64,
    pub event_id: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// When delivery (or the last `redeliver-event`) started.
    pub first_at_ms: u64,
    /// While pending: when it is due (or when its claim runs out).
    pub next_at_ms: u64,
    pub log: Vec<Attempt>,
}

/// A delivery a host now holds: send `event`, then report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub event: EventRec,
    /// 1 for the first attempt.
    pub attempt: u32,
}

fn delivery_key(seq: u64) -> String {
    format!("{DELIVERIES}{seq:020}")
}

fn due_key(due_ms: u64, seq: u64) -> String {
    format!("{DUE}{due_ms:020}/{seq:020}")
}

fn parse_due(key: &str) -> Option<(u64, u64)> {
    let (due, seq) = key.strip_prefix(DUE)?.split_once('/')?;
    Some((due.parse().ok()?, seq.parse().ok()?))
}

fn backoff_ms(failures: u32, max_ms: u64) -> u64 {
    FIRST_RETRY_MS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(40))
        .min(max_ms)
}

fn clip(detail: &str) -> String {
    let mut end = detail.len().min(MAX_DETAIL_BYTES);
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    detail[..end].to_string()
}

/// Drops an event's delivery record (and its due entry) with the event.
pub(crate) fn forget(t: &mut Txn, seq: u64) -> GwResult<()> {
    if let Some(d) = t.get::<DeliveryRec>(&delivery_key(seq))? {
        if d.state == DeliveryState::Pending {
            t.delete(&due_key(d.next_at_ms, seq));
        }
        t.delete(&delivery_key(seq));
    }
    Ok(())
}

impl Gateway {
    /// Up to `limit` deliveries due now, held for [`CLAIM_MS`] by the caller: retries
    /// that are due first, then events new since the last claim, in feed order.
    pub fn claim_webhook_deliveries(&mut self, limit: u32) -> GwResult<Vec<Claim>> {
        self.active()?;
        if limit == 0 || limit > MAX_CLAIM {
            return Err(GatewayError::invalid("limit", "must be 1..=100"));
        }
        self.sequence_events()?;
        let now = self.now();
        let store = self.ports.store.as_mut();
        let due: Vec<_> = store
            .scan(DUE, None, limit)?
            .into_iter()
            .filter(|e| parse_due(&e.key).is_some_and(|(at, _)| at <= now))
            .collect();
        transact_store(store, |t| {
            let mut out = Vec::new();
            let hold = now.saturating_add(CLAIM_MS);
            for e in &due {
                let Some((at, seq)) = parse_due(&e.key) else {
                    continue;
                };
                t.adopt(e);
                t.delete(&e.key);
                let Some(mut d) = t.get::<DeliveryRec>(&delivery_key(seq))? else {
                    continue;
                };
                if d.state != DeliveryState::Pending || d.next_at_ms != at {
                    continue; // a stale entry: dropped
                }
                let Some(event) = t
                    .get::<EventRec>(&outbox::feed_key(seq))?
                    .map(|e| EventRec { seq, ..e })
                else {
                    d.state = DeliveryState::Failed;
                    d.log.push(Attempt {
                        at_ms: now,
                        status: 0,
                        detail: "the event is no longer in the feed".into(),
                    });
                    t.put(&delivery_key(seq), &d);
                    continue;
                };
                d.next_at_ms = hold;
                t.put(&due_key(hold, seq), &seq);
                t.put(&delivery_key(seq), &d);
                out.push(Claim {
                    event,
                    attempt: d.attempts + 1,
                });
            }
            let room = limit as usize - out.len();
            if room > 0 {
                let cursor: u64 = t.get_or_default(CURSOR)?;
                let start = (cursor > 0).then(|| outbox::feed_key(cursor));
                let fresh = t.scan(FEED, start.as_deref(), room as u32)?;
                let mut last = cursor;
                for e in &fresh {
                    let event = outbox::feed_entry(e)?;
                    last = event.seq;
                    if t.get::<DeliveryRec>(&delivery_key(event.seq))?.is_some() {
                        continue; // redelivered before its turn: already queued
                    }
                    let d = DeliveryRec {
                        seq: event.seq,
                        event_id: event.id.clone(),
                        state: DeliveryState::Pending,
                        attempts: 0,
                        first_at_ms: now,
                        next_at_ms: hold,
                        log: Vec::new(),
                    };
                    t.put(&due_key(hold, event.seq), &event.seq);
                    t.put(&delivery_key(event.seq), &d);
                    out.push(Claim { event, attempt: 1 });
                }
                if last != cursor {
                    t.put(CURSOR, &last);
                }
            }
            Ok(if t.has_writes() {
                Step::Commit(out)
            } else {
                Step::Done(out)
            })
        })
    }

    /// Records the outcome of a claimed delivery: delivered, or failed and due again
    /// after its back-off (or given up). A report for a delivery no longer pending (a
    /// second host's late answer) changes nothing and answers the record as it is.
    pub fn report_webhook_delivery(
        &mut self,
        seq: u64,
        delivered: bool,
        status: u16,
        detail: &str,
    ) -> GwResult<DeliveryRec> {
        let ev = self.active()?.config.events.clone();
        let now = self.now();
        let detail = clip(detail);
        transact_store(self.ports.store.as_mut(), |t| {
            let key = delivery_key(seq);
            let mut d: DeliveryRec = t.get(&key)?.ok_or_else(|| {
                GatewayError::invalid("seq", "no delivery of this event was claimed")
            })?;
            if d.state != DeliveryState::Pending {
                return Ok(Step::Done(d));
            }
            d.attempts = d.attempts.saturating_add(1);
            d.log.push(Attempt {
                at_ms: now,
                status,
                detail: detail.clone(),
            });
            if d.log.len() > MAX_LOG {
                d.log.remove(0);
            }
            t.delete(&due_key(d.next_at_ms, seq));
            if delivered {
                d.state = DeliveryState::Delivered;
            } else if now.saturating_sub(d.first_at_ms) >= ev.webhook_give_up_ms {
                d.state = DeliveryState::Failed;
            } else {
                d.next_at_ms =
                    now.saturating_add(backoff_ms(d.attempts, ev.webhook_max_interval_ms));
                t.put(&due_key(d.next_at_ms, seq), &seq);
            }
            t.put(&key, &d);
            Ok(Step::Commit(d))
        })
    }

    /// Starts the delivery of feed event `seq` again, due now (the operator's
    /// redeliver): whatever its state, the attempts so far stay in its log.
    pub fn redeliver_event(&mut self, actor: &str, seq: u64) -> GwResult<DeliveryRec> {
        let args = serde_json::json!({ "seq": seq });
        self.audited(actor, "redeliver-event", &seq.to_string(), args, |g| g.redeliver_event_now(seq))
    }

    fn redeliver_event_now(&mut self, seq: u64) -> GwResult<DeliveryRec> {
        let now = self.now();
        // With the event doors (it reports none): the audit entry joins this commit.
        transact(&mut self.ports, |t| {
            let event: EventRec = t.get(&outbox::feed_key(seq))?.ok_or_else(|| {
                GatewayError::invalid(
                    "seq",
                    "no such event in the feed (pruned, or not numbered yet)",
                )
            })?;
            let key = delivery_key(seq);
            let mut d = match t.get::<DeliveryRec>(&key)? {
                Some(d) => {
                    if d.state == DeliveryState::Pending {
                        t.delete(&due_key(d.next_at_ms, seq));
                    }
                    d
                }
                None => DeliveryRec {
                    seq,
                    event_id: event.id,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    first_at_ms: now,
                    next_at_ms: now,
                    log: Vec::new(),
                },
            };
            d.state = DeliveryState::Pending;
            d.first_at_ms = now;
            d.next_at_ms = now;
            t.put(&due_key(now, seq), &seq);
            t.put(&key, &d);
            Ok(Step::Commit(d))
        })
    }

    /// Deliveries in feed order after position `after`, in one state or all.
    pub fn list_webhook_deliveries(
        &mut self,
        state: Option<DeliveryState>,
        after: Option<u64>,
        limit: u32,
    ) -> GwResult<Vec<DeliveryRec>> {
        self.active()?;
        crate::gateway::check_limit(limit)?;
        let cursor = after.map(|a| format!("{a:020}"));
        records::page_matching(
            self.ports.store.as_mut(),
            DELIVERIES,
            Order::OldestFirst,
            cursor.as_deref(),
            limit as usize,
            |_, e| {
                let d: DeliveryRec = records::decode(&e.key, &e.value)?;
                Ok(state.is_none_or(|s| s == d.state).then_some(d))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_the_cap() {
        let hour = 3_600_000;
        assert_eq!(backoff_ms(1, hour), 10_000);
        assert_eq!(backoff_ms(2, hour), 20_000);
        assert_eq!(backoff_ms(9, hour), hour.min(10_000 << 8));
        assert_eq!(backoff_ms(200, hour), hour);
    }

    #[test]
    fn details_are_clipped_on_a_character_boundary() {
        let s = "é".repeat(150);
        let c = clip(&s);
        assert!(c.len() <= MAX_DETAIL_BYTES && s.starts_with(&c));
    }

    #[test]
    fn due_keys_sort_by_time_and_parse_back() {
        assert!(due_key(9, 100) < due_key(10, 1));
        assert_eq!(parse_due(&due_key(123, 45)), Some((123, 45)));
    }
}
