//! The store's key scheme and value encoding, and the read-then-commit transaction
//! every state change goes through.
//!
//! Keys (all ASCII; user ids cannot contain `/`):
//! - `cursor`                 history scan cursor ([`Cursor`])
//! - `user/<user>`            balance, frozen, link, pending code, limits ([`UserRec`])
//! - `link/<1.2.N>`           who holds a chain account ([`LinkRec`])
//! - `dep/<deposit-id>`       a credited deposit ([`DepositRec`])
//! - `unc/<deposit-id>`       an unclaimed deposit ([`UnclaimedRec`])
//! - `adj/<sha256(key)>`      a balance adjustment, by idempotency key ([`AdjustRec`])
//! - `wd/<id>`                a withdrawal ([`WithdrawalRec`])
//! - `wdkey/<sha256(key)>`    withdrawal id by idempotency key
//! - `wdnonce/<hex nonce>`    withdrawal id by memo nonce (to recognise it in history)
//! - `wdopen/<id>`            index of withdrawals not yet final
//! - `seq/wd`                 the last withdrawal number
//! - `lim/acct/<1.2.N>`, `lim/global`   link-message counters per UTC day
//! - `mlink/<keyed hash>`     user of a pending memo-link code
//! - `pow/<challenge>`        a spent proof-of-work challenge, until it expires
//! - `upay/<deposit-id>`      a payout from the gateway the store did not know ([`UnknownPayoutRec`])
//! - `alert/<kind>/<subject hash>`     when that alert last went out (rate limit)
//! - `sweep/<id>`, `sweepopen`, `seq/sweep`   sweeps to the cold account (`sweep`); a
//!   sweep's nonce is in `wdnonce/` too, so the scan recognises it like a payout
//! - `fees/<day>`             fees paid per UTC day (`fees`)
//! - `xfer/<sha256(key)>`, `xferu/<user>/<id>`   internal transfers (`transfers`)
//! - `ref/<user>`, `refby/<referrer>/<user>`, `refsum/<user>`, `rwd/<sha256(key)>`
//!   referrals and rewards (`referrals`)
//! - `tot/<shard>`             totals over `user/`, `unc/`, `wd/`, `upay/` ([`totals`])
//! - `udep/<user>/<deposit-id>`, `uwd/<user>/<id>`   per-user indexes ([`indexes`])
//! - `meta/derived-build`     the build of both over an older store ([`derived`])
//! - `obx/<at>/<id>`, `evt/<seq>`, `seq/evt`   the event outbox and feed ([`outbox`])
//! - `whd/<seq>`, `whq/<due>/<seq>`, `webhook/cursor`   webhook deliveries (`webhooks`)
//!
//! Values are JSON `{"v":1,"r":<record>}`: the version lets a later release read and
//! migrate older records instead of misreading them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Rate;
use crate::events::{Event, OpPosition, UnclaimedReason};
use crate::gateway_error::{GatewayError, GwResult};
use crate::ports::{Clock, Entry, Events, Ports, Precondition, Random, Store, Write};

pub mod audit;
pub mod derived;
pub mod indexes;
pub mod journal;
pub mod outbox;
pub mod totals;

pub const VALUE_VERSION: u32 = 1;

pub const CURSOR: &str = "cursor";
pub const SEQ_WD: &str = "seq/wd";
pub const LIM_GLOBAL: &str = "lim/global";

pub fn user_key(user: &str) -> String {
    format!("user/{user}")
}
pub fn link_key(account_id: u64) -> String {
    format!("link/1.2.{account_id}")
}
pub fn dep_key(pos: &OpPosition) -> String {
    format!("dep/{}", pos.deposit_id())
}
pub fn unc_key(deposit_id: &str) -> String {
    format!("unc/{deposit_id}")
}
pub fn adj_key(idempotency_key: &str) -> String {
    format!(
        "adj/{}",
        hex::encode(Sha256::digest(idempotency_key.as_bytes()))
    )
}
pub fn wd_key(id: &str) -> String {
    format!("wd/{id}")
}
pub fn wdkey_key(idempotency_key: &str) -> String {
    format!(
        "wdkey/{}",
        hex::encode(Sha256::digest(idempotency_key.as_bytes()))
    )
}
pub fn wdnonce_key(nonce: u64) -> String {
    format!("wdnonce/{nonce:016x}")
}
pub fn wdopen_key(id: &str) -> String {
    format!("wdopen/{id}")
}
pub fn upay_key(deposit_id: &str) -> String {
    format!("upay/{deposit_id}")
}
pub fn lim_acct_key(account_id: u64) -> String {
    format!("lim/acct/1.2.{account_id}")
}

/// Where the deposit scan stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Per-account history sequence number of the last processed operation (0: none).
    pub seq: u64,
    /// Every gateway operation in blocks up to this one has been processed.
    pub through_block: u32,
    /// Position of the last processed operation, to number the operations that share
    /// it (see [`OpPosition::occurrence`]).
    #[serde(default)]
    pub last_position: Option<OpPosition>,
}

impl Cursor {
    /// `pos` with its occurrence: one more than the last processed operation's when both
    /// share a (block, trx, op), else 0.
    pub fn place(&self, pos: OpPosition) -> OpPosition {
        let occurrence = match &self.last_position {
            Some(last) if last.same_site(&pos) => last.occurrence + 1,
            _ => 0,
        };
        OpPosition { occurrence, ..pos }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linked {
    pub account: String,
    pub account_id: u64,
    pub linked_at_ms: u64,
}

/// A link code waiting for confirmation: only a salted hash of the code is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLink {
    pub account: String,
    pub account_id: u64,
    pub salt: String,
    pub code_hash: String,
    pub expires_at_ms: u64,
    pub attempts: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRec {
    pub balance: u64,
    pub frozen: u64,
    pub linked: Option<Linked>,
    pub pending: Option<PendingLink>,
    /// Link-code requests: last time, and count on `link_day` (UTC day number).
    pub link_last_ms: u64,
    pub link_day: u64,
    pub link_day_count: u32,
    /// Withdrawals counted against the daily limit on `wd_day`.
    pub wd_day: u64,
    pub wd_day_cwd: u64,
    /// Requests made on `wd_day` (never given back: each may have cost a fee).
    pub wd_day_count: u32,
    /// Withdrawals not yet final.
    pub open_withdrawals: u32,
    /// The stamp of the last event about this user (see [`outbox`]): every commit that
    /// reports an event about the user advances it, so the user's events sort in
    /// commit order whatever the hosts' clocks say.
    #[serde(default)]
    pub event_clock: u64,
    /// A memo-link code waiting for the user's transfer (absent in older records).
    #[serde(default)]
    pub memo_link: Option<MemoLinkPending>,
    /// The language the player reads (`set-language`; absent: English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A memo-link code: only its keyed hash is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoLinkPending {
    pub code_hash: String,
    pub expires_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LinkRec {
    Linked {
        user: String,
        account: String,
        since_ms: u64,
    },
    /// Released by `user`; deposits in blocks up to `through_block` are still theirs and
    /// nobody else may link until the scan has passed that block.
    Reserved {
        user: String,
        account: String,
        through_block: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositRec {
    pub user: String,
    pub from_account_id: u64,
    pub cwd: u64,
    pub game: u64,
    pub rate: Rate,
    pub credited_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum UnclaimedState {
    Open,
    Assigned {
        user: String,
        game: u64,
        rate: Rate,
        at_ms: u64,
    },
    RefundMarked {
        note: String,
        at_ms: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnclaimedRec {
    pub position: OpPosition,
    pub from_account_id: u64,
    pub asset_id: u64,
    pub amount: u64,
    pub reason: UnclaimedReason,
    pub state: UnclaimedState,
    pub recorded_at_ms: u64,
    /// The operation that moved the funds (0: `transfer`).
    #[serde(default)]
    pub op_id: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustRec {
    pub user: String,
    pub idempotency_key: String,
    pub delta: i64,
    pub reason: String,
    pub balance_after: u64,
    pub frozen_after: u64,
    pub at_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WdState {
    AwaitingReview,
    Queued,
    Sent,
    Confirmed,
    Failed,
    Rejected,
    Cancelled,
}

impl WdState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            WdState::Confirmed | WdState::Failed | WdState::Rejected | WdState::Cancelled
        )
    }
}

/// A transfer from the gateway account with the gateway's withdrawal memo that no
/// withdrawal in the store matches. Payouts stay paused while one is not acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownPayoutRec {
    pub position: OpPosition,
    pub to_account_id: u64,
    pub asset_id: u64,
    pub amount: u64,
    /// The withdrawal id the memo names (it may now name another withdrawal).
    pub memo_withdrawal_id: String,
    pub recorded_at_ms: u64,
    /// The operator's note and time, once acknowledged.
    pub acknowledged: Option<(String, u64)>,
}

/// The signed transaction of one attempt, stored before it is broadcast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentTx {
    pub tx_id: String,
    /// `broadcast_transaction`'s argument, exactly the bytes signed.
    pub tx_json: String,
    /// Chain time (seconds) after which it can no longer be included.
    pub expiration: u32,
    pub attempt: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRec {
    pub id: String,
    pub user: String,
    pub account: String,
    pub account_id: u64,
    pub game: u64,
    pub cwd: u64,
    /// The operator's withdrawal fee (CWD units) that `game` bought besides `cwd`.
    #[serde(default, skip_serializing_if = "crate::records::is_zero")]
    pub fee_cwd: u64,
    pub rate: Rate,
    pub idempotency_key: String,
    /// What was asked: `game:<n>` or `cwd:<n>` (idempotency compares it).
    pub asked: String,
    pub nonce: u64,
    pub state: WdState,
    pub requested_at_ms: u64,
    /// UTC day it counts against.
    pub day: u64,
    pub tx: Option<SentTx>,
    pub attempts: u32,
    pub block_num: Option<u32>,
    pub note: Option<String>,
    /// The actors who approved it under review (left out while none has).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounter {
    pub day: u64,
    pub count: u32,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    r: T,
}

pub fn encode<T: Serialize>(r: &T) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: VALUE_VERSION,
        r,
    })
    .expect("records serialize")
}

pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> GwResult<T> {
    let unreadable = |e: serde_json::Error| {
        GatewayError::StoreUnavailable(format!("record {key} is unreadable: {e}"))
    };
    let unknown =
        |v: u32| GatewayError::StoreUnavailable(format!("record {key} has unknown version {v}"));
    // One pass straight into `T` (the history scan decodes several records per
    // operation; going through a `serde_json::Value` cost twice as much). A record of
    // another version is still reported as such, never misread: the version is checked
    // whether or not its body happened to fit `T`.
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(env) if env.v == VALUE_VERSION => Ok(env.r),
        Ok(env) => Err(unknown(env.v)),
        Err(e) => match serde_json::from_slice::<VersionOnly>(bytes) {
            Ok(only) if only.v != VALUE_VERSION => Err(unknown(only.v)),
            _ => Err(unreadable(e)),
        },
    }
}

/// The envelope's version alone (its body skipped).
#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Reads and returns a record without registering a precondition.
pub fn peek<T: DeserializeOwned>(store: &mut dyn Store, key: &str) -> GwResult<Option<T>> {
    match store.get(key)? {
        None => Ok(None),
        Some(e) => decode(key, &e.value).map(Some),
    }
}

/// A record and its store version, read outside any transaction.
pub fn peek_entry<T: DeserializeOwned>(store: &mut dyn Store, key: &str) -> GwResult<Option<(T, u64)>> {
    match store.get(key)? {
        None => Ok(None),
        Some(e) => Ok(Some((decode(key, &e.value)?, e.version))),
    }
}

/// A read-then-commit transaction: every key read becomes a precondition (its version,
/// or "absent"), so the commit applies only if nothing read has changed meanwhile.
/// Reads see the transaction's own staged writes, so several steps (a page of history)
/// can be staged in one transaction and committed together. Events staged with
/// [`Txn::emit`] go into the outbox in the same commit, then to the live sink.
pub struct Txn<'a> {
    store: &'a mut dyn Store,
    doors: Option<EventDoors<'a>>,
    reads: BTreeMap<String, Option<u64>>,
    /// Values read from the store, so a key reads the same all through the transaction.
    seen: BTreeMap<String, Option<Vec<u8>>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    events: Vec<Event>,
}

/// What a transaction that reports events needs besides the store: the time and a
/// nonce for each event's outbox entry, and the live sink told once it is committed.
struct EventDoors<'a> {
    clock: &'a mut dyn Clock,
    random: &'a mut dyn Random,
    sink: &'a mut dyn Events,
    outbox: &'a mut crate::ports::Outbox,
}

impl<'a> Txn<'a> {
    /// A transaction that reports no events (derived data, housekeeping).
    pub fn new(store: &'a mut dyn Store) -> Self {
        Txn {
            store,
            doors: None,
            reads: BTreeMap::new(),
            seen: BTreeMap::new(),
            writes: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// A transaction that may report events ([`Txn::emit`]).
    pub fn with_events(ports: &'a mut Ports) -> Self {
        let Ports {
            store,
            clock,
            random,
            events,
            outbox,
            ..
        } = ports;
        let doors = EventDoors {
            clock: clock.as_mut(),
            random: random.as_mut(),
            sink: events.as_mut(),
            outbox,
        };
        Txn {
            doors: Some(doors),
            ..Txn::new(store.as_mut())
        }
    }

    /// Reports `event` as part of this commit: written to the outbox with the change,
    /// and told to the live sink once committed. Nothing if the commit does not happen.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Takes an entry just scanned as read: a precondition on its version, without
    /// reading it again.
    pub fn adopt(&mut self, entry: &Entry) {
        self.reads
            .entry(entry.key.clone())
            .or_insert(Some(entry.version));
        self.seen
            .entry(entry.key.clone())
            .or_insert_with(|| Some(entry.value.clone()));
    }

    /// The value the transaction sees: its own staged write, else the store's (read
    /// once; the first read fixes the precondition). Borrowed, not copied: a page of
    /// history reads the same few records once per operation.
    fn fetch(&mut self, key: &str) -> GwResult<Option<&[u8]>> {
        if !self.writes.contains_key(key) && !self.seen.contains_key(key) {
            let entry = self.store.get(key)?;
            self.reads
                .entry(key.to_string())
                .or_insert(entry.as_ref().map(|e| e.version));
            self.seen.insert(key.to_string(), entry.map(|e| e.value));
        }
        Ok(self
            .writes
            .get(key)
            .or_else(|| self.seen.get(key))
            .and_then(|v| v.as_deref()))
    }

    /// A random number, when the transaction has the random port (`None` for
    /// housekeeping transactions opened over the store alone).
    pub fn random_u32(&mut self) -> Option<u32> {
        let doors = self.doors.as_mut()?;
        let mut b = [0u8; 4];
        doors.random.fill(&mut b);
        Some(u32::from_le_bytes(b))
    }

    /// The store's version of `key` as this transaction read it (`None`: absent),
    /// reading it first if need be.
    pub fn version(&mut self, key: &str) -> GwResult<Option<u64>> {
        self.fetch(key)?;
        Ok(self.reads.get(key).copied().flatten())
    }

    /// Up to `limit` entries under `prefix` after `start_after`, as the store holds them
    /// (not the transaction's staged writes, and not preconditions: [`Txn::adopt`] those
    /// the commit depends on).
    pub fn scan(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<Entry>> {
        Ok(self.store.scan(prefix, start_after, limit)?)
    }

    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> GwResult<Option<T>> {
        match self.fetch(key)? {
            None => Ok(None),
            Some(v) => decode(key, v).map(Some),
        }
    }

    /// Like [`Txn::get`], but a record that cannot be decoded is `Ok(Err(detail))`, told
    /// apart from a store that cannot answer (`Err`).
    pub fn get_decoded<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> GwResult<Result<Option<T>, String>> {
        Ok(match self.fetch(key)? {
            None => Ok(None),
            Some(v) => decode(key, v).map(Some).map_err(|e| format!("{e:?}")),
        })
    }

    pub fn get_or_default<T: DeserializeOwned + Default>(&mut self, key: &str) -> GwResult<T> {
        Ok(self.get(key)?.unwrap_or_default())
    }

    /// [`Txn::get_or_default`] for a record this instance remembers (see
    /// `ports::Outbox::remembered`): from memory, with a precondition on the version it
    /// had, when a transaction with events has it; else from the store, then
    /// remembered. Only housekeeping transactions (no events) always read it.
    pub fn get_remembered<T: DeserializeOwned + Default>(&mut self, key: &str) -> GwResult<T> {
        let untouched = !self.writes.contains_key(key) && !self.seen.contains_key(key);
        if untouched {
            let kept = self.doors.as_ref().and_then(|d| d.outbox.remembered.iter().find(|(k, _)| k == key).cloned());
            match kept {
                Some((_, Some(entry))) => self.adopt(&entry),
                Some((_, None)) => {
                    self.require_absent(key);
                    self.seen.insert(key.to_string(), None);
                }
                None => {}
            }
        }
        let value = self.get_or_default(key)?;
        if let (Some(doors), Some(version), Some(bytes)) = (self.doors.as_mut(), self.reads.get(key), self.seen.get(key)) {
            let remembered = &mut doors.outbox.remembered;
            if !remembered.iter().any(|(k, _)| k == key) {
                let entry = match (version, bytes) {
                    (Some(version), Some(value)) => Some(Entry { key: key.to_string(), value: value.clone(), version: *version }),
                    _ => None,
                };
                remembered.push((key.to_string(), entry));
            }
        }
        Ok(value)
    }

    /// What a staged write of `key` replaces: the value read, or read now (a
    /// precondition on it then holds the commit to that value).
    fn replaced(&mut self, key: &str) -> GwResult<Option<Vec<u8>>> {
        if let Some(v) = self.seen.get(key) {
            return Ok(v.clone());
        }
        if let Some(None) = self.reads.get(key) {
            return Ok(None); // required absent: the commit applies only if it is
        }
        let entry = self.store.get(key)?;
        self.reads
            .entry(key.to_string())
            .or_insert(entry.as_ref().map(|e| e.version));
        let value = entry.map(|e| e.value);
        self.seen.insert(key.to_string(), value.clone());
        Ok(value)
    }

    /// Requires `key` to be absent at commit (for keys written without a read).
    pub fn require_absent(&mut self, key: &str) {
        self.reads.insert(key.to_string(), None);
    }

    pub fn put<T: Serialize>(&mut self, key: &str, r: &T) {
        self.writes.insert(key.to_string(), Some(encode(r)));
    }

    /// Stages bytes already encoded (a record moved as it is).
    pub fn put_raw(&mut self, key: &str, value: Vec<u8>) {
        self.writes.insert(key.to_string(), Some(value));
    }

    pub fn delete(&mut self, key: &str) {
        self.writes.insert(key.to_string(), None);
    }

    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Writes `events` to the outbox with their stamps: above this instance's last stamp
    /// and the wall clock, and above the event clock of every user they name, which
    /// advances with them (so that user's record is part of this commit).
    fn stage_outbox(&mut self, events: &[Event]) -> GwResult<()> {
        let mut users: Vec<&str> = events.iter().flat_map(Event::users).collect();
        users.sort_unstable();
        users.dedup();
        let mut recs = Vec::with_capacity(users.len());
        let mut after = 0;
        for user in &users {
            let key = user_key(user);
            let rec: UserRec = self.get_or_default(&key)?;
            after = after.max(rec.event_clock);
            recs.push((key, rec));
        }
        let doors = self.doors.as_mut().expect("checked by the caller");
        let now = doors.clock.now_ms();
        let first = doors.outbox.stamps(now, after, events.len() as u64);
        let last = first + events.len() as u64 - 1;
        let instance = doors.outbox.instance(&mut *doors.random);
        for (key, mut rec) in recs {
            rec.event_clock = last;
            self.put(&key, &rec);
        }
        for (i, event) in events.iter().enumerate() {
            let stamp = first + i as u64;
            // Unique without a read: the stamp is new in this instance, and instances
            // differ by 64 random bits.
            let id = outbox::event_id(instance, stamp);
            let key = outbox::outbox_key(stamp, &id);
            let rec = outbox::EventRec {
                id,
                at_ms: outbox::stamp_ms(stamp),
                seq: 0,
                event: event.clone(),
                journal_due: true,
            };
            self.writes.insert(key, Some(encode(&rec)));
        }
        Ok(())
    }

    /// Commits; `Ok(false)` when a precondition failed (re-read and retry).
    pub fn commit(mut self) -> GwResult<bool> {
        let events = std::mem::take(&mut self.events);
        if !events.is_empty() {
            if self.doors.is_none() {
                return Err(GatewayError::invalid(
                    "event",
                    "reported from a transaction opened without `Txn::with_events`",
                ));
            }
            // The journal: a line for each balance change the events report, stamped
            // as the feed orders events. With an outbox the entries carry them and the
            // sequencer writes them (`crate::feed`): the commit holds one row, not two.
            // Without one, they are written here (stamped with the commit's
            // millisecond, then the event's place).
            if self.doors.as_ref().is_some_and(|d| d.outbox.enabled) {
                self.stage_outbox(&events)?;
            } else {
                let first = outbox::stamp_of(self.doors.as_mut().expect("checked above").clock.now_ms());
                for (i, event) in events.iter().enumerate() {
                    for m in journal::movements_of(event, first + i as u64) {
                        journal::stage(&mut self, &m)?;
                    }
                }
            }
        }
        // The operator action under way is recorded with its first commit.
        let audit = self.doors.as_mut().and_then(|d| {
            let ctx = d.outbox.audit.clone()?;
            Some((ctx, d.clock.now_ms()))
        });
        let audited = audit.is_some();
        if let Some((ctx, now)) = audit {
            audit::stage(&mut self, &ctx, now, "ok")?;
        }
        derived::stage(&mut self)?;
        let pre: Vec<Precondition> = self
            .reads
            .into_iter()
            .map(|(key, expected_version)| Precondition {
                key,
                expected_version,
            })
            .collect();
        let writes: Vec<Write> = self
            .writes
            .into_iter()
            .map(|(key, value)| Write { key, value })
            .collect();
        let committed = self.store.commit(&pre, &writes);
        if let Some(doors) = self.doors.as_mut() {
            // A failed commit may have met a remembered record changed: forget them all.
            // One this commit wrote has a version only the store knows.
            let remembered = &mut doors.outbox.remembered;
            match committed {
                Ok(true) => remembered.retain(|(key, _)| writes.iter().all(|w| &w.key != key)),
                _ => remembered.clear(),
            }
        }
        let committed = committed?;
        if let (true, Some(doors)) = (committed, self.doors) {
            if audited {
                doors.outbox.audit = None;
            }
            for event in events {
                doors.sink.emit(event);
            }
        }
        Ok(committed)
    }
}

/// How many times a call re-reads and retries after losing a race before `busy`.
pub const MAX_RETRIES: usize = 8;

/// What one attempt of a transactional step decided.
pub enum Step<T> {
    /// Commit the transaction, then answer `T`.
    Commit(T),
    /// Answer `T` without writing anything.
    Done(T),
}

/// Runs `f` (which reads through the `Txn`, stages writes and reports events) until its
/// commit goes through, retrying on conflict. Errors from `f` are final and write nothing.
pub fn transact<T>(ports: &mut Ports, mut f: impl FnMut(&mut Txn) -> GwResult<Step<T>>) -> GwResult<T> {
    for _ in 0..MAX_RETRIES {
        if let Some(t) = attempt(Txn::with_events(ports), &mut f)? {
            return Ok(t);
        }
    }
    Err(GatewayError::Busy)
}

/// [`transact`] over the store alone, for changes that report no event.
pub fn transact_store<T>(store: &mut dyn Store, mut f: impl FnMut(&mut Txn) -> GwResult<Step<T>>) -> GwResult<T> {
    for _ in 0..MAX_RETRIES {
        if let Some(t) = attempt(Txn::new(store), &mut f)? {
            return Ok(t);
        }
    }
    Err(GatewayError::Busy)
}

/// One try: the answer, or `None` when the commit met a changed precondition.
fn attempt<T>(mut txn: Txn, f: &mut impl FnMut(&mut Txn) -> GwResult<Step<T>>) -> GwResult<Option<T>> {
    match f(&mut txn)? {
        Step::Done(t) => Ok(Some(t)),
        Step::Commit(t) => Ok(txn.commit()?.then_some(t)),
    }
}

/// Like [`transact`], but an error decided inside `f` may still commit its staged writes
/// (e.g. a wrong link code must count the attempt, then answer the error).
pub fn transact_with_error<T>(
    ports: &mut Ports,
    mut f: impl FnMut(&mut Txn) -> GwResult<(Step<()>, GwResult<T>)>,
) -> GwResult<T> {
    for _ in 0..MAX_RETRIES {
        let mut txn = Txn::with_events(ports);
        let (step, answer) = f(&mut txn)?;
        match step {
            Step::Done(()) => return answer,
            Step::Commit(()) => {
                if txn.commit()? {
                    return answer;
                }
            }
        }
    }
    Err(GatewayError::Busy)
}

/// The order of a listing. Ids sort in time (chain order, request order), so keys under
/// one prefix are oldest first; newest first walks them backwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    OldestFirst,
    NewestFirst,
}

/// Up to `limit` values that `keep` makes of the entries under `prefix` in `order`,
/// starting past `prefix<cursor>` (the id a previous page ended with). `keep` gets the
/// store (to follow an index key to its record) and the entry; `None` skips it. Reads
/// in pages of 200: what a filter skips is read, nothing beyond the last value.
pub fn page_matching<T>(
    store: &mut dyn Store,
    prefix: &str,
    order: Order,
    cursor: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&mut dyn Store, &crate::ports::Entry) -> GwResult<Option<T>>,
) -> GwResult<Vec<T>> {
    const PAGE: u32 = 200;
    let mut out = Vec::new();
    let mut from = cursor.map(|id| format!("{prefix}{id}"));
    loop {
        let page = match order {
            Order::OldestFirst => store.scan(prefix, from.as_deref(), PAGE)?,
            Order::NewestFirst => store.scan_reverse(prefix, from.as_deref(), PAGE)?,
        };
        for e in &page {
            if let Some(v) = keep(&mut *store, e)? {
                out.push(v);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => from = Some(last.key.clone()),
            _ => return Ok(out),
        }
    }
}

/// All entries under `prefix` after `start_after`, in pages (the store limits a scan).
pub fn scan_all(
    store: &mut dyn Store,
    prefix: &str,
    start_after: Option<String>,
    max: usize,
) -> GwResult<Vec<crate::ports::Entry>> {
    let mut out = Vec::new();
    let mut after = start_after;
    loop {
        let page = store.scan(prefix, after.as_deref(), 200)?;
        let n = page.len();
        if let Some(last) = page.last() {
            after = Some(last.key.clone());
        }
        out.extend(page);
        if n < 200 || out.len() >= max {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_refuses_other_versions_whether_or_not_the_body_fits() {
        let rec = DayCounter { day: 3, count: 4 };
        assert_eq!(decode::<DayCounter>("k", &encode(&rec)).unwrap(), rec);
        // Same shape, newer version: refused, not misread.
        let newer = br#"{"v":2,"r":{"day":3,"count":4}}"#;
        assert!(
            matches!(decode::<DayCounter>("k", newer), Err(GatewayError::StoreUnavailable(m)) if m.contains("unknown version 2"))
        );
        // Other shape, newer version: still reported as the version.
        let other = br#"{"r":{"renamed":1},"v":7}"#;
        assert!(
            matches!(decode::<DayCounter>("k", other), Err(GatewayError::StoreUnavailable(m)) if m.contains("unknown version 7"))
        );
        // Current version, broken body: unreadable.
        let broken = br#"{"v":1,"r":{"day":"x"}}"#;
        assert!(
            matches!(decode::<DayCounter>("k", broken), Err(GatewayError::StoreUnavailable(m)) if m.contains("unreadable"))
        );
    }
}

/// Leaves a zero field out of a record, so records written without it read the same.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}
