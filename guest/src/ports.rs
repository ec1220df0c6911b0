//! The doors of the deterministic core: everything outside it comes through these
//! traits. The component glue (`component.rs`) implements them over the WIT imports;
//! tests implement them in memory. Given the same answers, the core does the same thing.

use crate::events::Event;

/// One stored value; `version` increases on every write of the key (first write: 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub version: u64,
}

/// A condition a commit requires: `expected_version: None` means "key absent".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    pub key: String,
    pub expected_version: Option<u64>,
}

/// Set (`Some`) or delete (`None`) a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// The store could not answer; transient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

/// `commit` outcome: `Ok(true)` committed, `Ok(false)` a precondition failed.
pub trait Store {
    fn get(&mut self, key: &str) -> Result<Option<Entry>, StoreError>;
    fn scan(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Descending: the prefix's keys below `start_before`.
    fn scan_reverse(
        &mut self,
        prefix: &str,
        start_before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError>;
    fn commit(
        &mut self,
        preconditions: &[Precondition],
        writes: &[Write],
    ) -> Result<bool, StoreError>;
}

/// How a node call failed (mirrors WIT `node-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeError {
    Unreachable(String),
    /// The request may or may not have taken effect.
    Timeout,
    Rpc {
        code: i64,
        message: String,
    },
    BadResponse(String),
}

impl core::fmt::Display for NodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NodeError::Unreachable(s) => write!(f, "node unreachable: {s}"),
            NodeError::Timeout => write!(f, "node timed out"),
            NodeError::Rpc { code, message } => write!(f, "node error {code}: {message}"),
            NodeError::BadResponse(s) => write!(f, "bad node response: {s}"),
        }
    }
}

pub trait Node {
    /// `params_json` is the JSON array of arguments; returns the `result` JSON text.
    fn call(&mut self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError>;

    /// The node that answered the last calls cannot be trusted (`reason`); move later
    /// calls to another node. False when there is no other node.
    fn fail_over(&mut self, reason: &str) -> bool {
        let _ = reason;
        false
    }
}

pub trait Clock {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&mut self) -> u64;
}

pub trait Events {
    fn emit(&mut self, event: Event);
}

pub trait Random {
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Why the signer gave no signature (mirrors WIT `sign-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// Its policy refuses this transaction: `rule` names the rule.
    Refused { rule: String, reason: String },
    /// No answer; ask again later.
    Unavailable(String),
}

/// Signs with the gateway's active key when the core does not hold it (see WIT `signer`).
pub trait Signer {
    /// A 65-byte compact signature over sha256(`chain_id` ‖ `transaction`), `transaction`
    /// being the packed unsigned transaction.
    fn sign(&mut self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// The host has no signer: it gives the core its active key instead.
pub struct NoSigner;

impl Signer for NoSigner {
    fn sign(&mut self, _: &[u8; 32], _: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Unavailable(
            "this host has no signer: configure the gateway with its active key".into(),
        ))
    }
}

/// Everything the core reaches the world through.
pub struct Ports {
    pub store: Box<dyn Store>,
    pub node: Box<dyn Node>,
    pub clock: Box<dyn Clock>,
    pub events: Box<dyn Events>,
    pub random: Box<dyn Random>,
    /// Used only when `configure` was given no active key.
    pub signer: Box<dyn Signer>,
    /// Where events go besides `events` (see [`Outbox`]).
    pub outbox: Outbox,
}

/// The outbox's side of this instance: whether events are written to the store with
/// their change (config `events.live-only` turns it off), and the last event stamp it
/// gave (see `records::outbox`), so its stamps only grow. It also carries the operator
/// action under way, whose audit entry the next commit writes (see `records::audit`),
/// and the records this instance's commits remember ([`Outbox::remembered`]).
#[derive(Clone, Debug)]
pub struct Outbox {
    pub enabled: bool,
    last: u64,
    instance: Option<u64>,
    pub audit: Option<AuditContext>,
    /// Records nearly every commit of a kind depends on and that nearly never change
    /// (the derived data's build marker), as last read: a commit takes one from here
    /// with a precondition on its version instead of reading it, so a change meanwhile
    /// fails that commit, and a failed commit forgets them all (its retry reads the
    /// store). On PostgreSQL that is one round trip a balance change fewer. `None`: the
    /// record was absent (a store before its first build), remembered as such.
    pub remembered: Vec<(String, Option<Entry>)>,
}

/// An operator action being carried out: who, which call, on what, with which
/// arguments (a JSON object, never a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: String,
    pub call: String,
    pub subject: String,
    pub arguments: serde_json::Value,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            enabled: true,
            last: 0,
            instance: None,
            audit: None,
            remembered: Vec::new(),
        }
    }
}

impl Outbox {
    /// This instance's random number for event ids, drawn on first use.
    pub fn instance(&mut self, random: &mut dyn Random) -> u64 {
        *self.instance.get_or_insert_with(|| {
            let mut b = [0u8; 8];
            random.fill(&mut b);
            u64::from_le_bytes(b)
        })
    }

    /// The first of `n` consecutive event stamps: past this instance's last one, past
    /// `after` (the event clocks of the users they name), and no earlier than `now_ms`.
    pub fn stamps(&mut self, now_ms: u64, after: u64, n: u64) -> u64 {
        let first =
            crate::records::outbox::stamp_of(now_ms).max(self.last.max(after).saturating_add(1));
        self.last = first.saturating_add(n.saturating_sub(1));
        first
    }
}
