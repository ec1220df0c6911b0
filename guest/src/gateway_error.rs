//! Every way a gateway call can fail (mirrors WIT `gateway-error`); each case says what
//! the caller can do. Never carries a key or a link code.

use crate::ports::{NodeError, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    Active,
    Memo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    BadLength,
    BadCharacter,
    BadLabel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitScope {
    User,
    Account,
    Global,
}

/// Why a proof of work was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofProblem {
    /// Not a challenge this gateway issued (or altered).
    Malformed,
    Expired,
    /// Already spent by an earlier `start-link`.
    Used,
    /// The hash does not start with enough zero bits.
    InsufficientWork,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    NotConfigured,
    Invalid { field: String, detail: String },
    BadKey(KeyRole),
    KeyMismatch(KeyRole),
    WrongChain(String),
    BadUserId,
    /// The user id is one of the gateway's own (the referral pool, `gateway.…`): no
    /// player may use it.
    ReservedUser,
    BadAccountName(NameProblem),
    AccountNotFound,
    AccountTaken,
    AccountReserved { retry_after_ms: u64 },
    AlreadyLinked(String),
    NotLinked,
    RateLimited { scope: LimitScope, retry_after_ms: u64 },
    NoPendingLink,
    LinkExpired,
    WrongCode { attempts_left: u32 },
    TooManyAttempts,
    WithdrawalsPending,
    InsufficientBalance(u64),
    BelowMinimum(u64),
    AboveMaximum(u64),
    DailyLimit { remaining_cwd: u64, requests_left: Option<u32>, retry_after_ms: u64 },
    AmountTooSmall,
    Overflow,
    IdempotencyConflict,
    WithdrawalNotFound,
    NotAwaitingReview,
    NotCancellable,
    UnknownPayoutNotFound,
    ProofRequired { difficulty_bits: u8 },
    BadProof(ProofProblem),
    UnclaimedNotFound,
    AlreadyResolved,
    NotCwd,
    /// The user already has this referrer.
    ReferrerAlreadySet(String),
    SelfReferral,
    ReferralCycle,
    /// The referral pool holds only this many game units.
    PoolInsufficient(u64),
    NodeUnavailable { detail: String, retry_after_ms: u64 },
    StoreUnavailable(String),
    Busy,
    /// A signature just made failed its check against the key (a fault while signing):
    /// nothing was sent, an alert went out. Retry later.
    SigningFailed,
    /// The signer's policy refused the transaction (`rule`, `reason`): nothing was sent.
    SignerRefused { rule: String, reason: String },
    /// The signer did not answer: nothing was sent. Retry later.
    SignerUnavailable(String),
    /// This actor already approved the four-eyes payout: another must.
    SecondApproverNeeded,
    /// The settings' revision is now this one: read them again.
    SettingsChanged(u64),
}

pub type GwResult<T> = Result<T, GatewayError>;

/// How long to suggest waiting after a node failure.
pub const NODE_RETRY_MS: u64 = 5_000;

impl GatewayError {
    /// The error's WIT case name (the API's error code).
    pub fn code(&self) -> &'static str {
        use GatewayError::*;
        match self {
            NotConfigured => "not-configured",
            Invalid { .. } => "invalid",
            BadKey(..) => "bad-key",
            KeyMismatch(..) => "key-mismatch",
            WrongChain(..) => "wrong-chain",
            BadUserId => "bad-user-id",
            ReservedUser => "reserved-user",
            BadAccountName(..) => "bad-account-name",
            AccountNotFound => "account-not-found",
            AccountTaken => "account-taken",
            AccountReserved { .. } => "account-reserved",
            AlreadyLinked(..) => "already-linked",
            NotLinked => "not-linked",
            RateLimited { .. } => "rate-limited",
            NoPendingLink => "no-pending-link",
            LinkExpired => "link-expired",
            WrongCode { .. } => "wrong-code",
            TooManyAttempts => "too-many-attempts",
            WithdrawalsPending => "withdrawals-pending",
            InsufficientBalance(..) => "insufficient-balance",
            BelowMinimum(..) => "below-minimum",
            AboveMaximum(..) => "above-maximum",
            DailyLimit { .. } => "daily-limit",
            AmountTooSmall => "amount-too-small",
            Overflow => "overflow",
            IdempotencyConflict => "idempotency-conflict",
            WithdrawalNotFound => "withdrawal-not-found",
            NotAwaitingReview => "not-awaiting-review",
            NotCancellable => "not-cancellable",
            UnknownPayoutNotFound => "unknown-payout-not-found",
            ProofRequired { .. } => "proof-required",
            BadProof(..) => "bad-proof",
            UnclaimedNotFound => "unclaimed-not-found",
            AlreadyResolved => "already-resolved",
            NotCwd => "not-cwd",
            ReferrerAlreadySet(..) => "referrer-already-set",
            SelfReferral => "self-referral",
            ReferralCycle => "referral-cycle",
            PoolInsufficient(..) => "pool-insufficient",
            NodeUnavailable { .. } => "node-unavailable",
            StoreUnavailable(..) => "store-unavailable",
            Busy => "busy",
            SigningFailed => "signing-failed",
            SignerRefused { .. } => "signer-refused",
            SignerUnavailable(..) => "signer-unavailable",
            SecondApproverNeeded => "second-approver-needed",
            SettingsChanged(..) => "settings-changed",
        }
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        GatewayError::Invalid { field: field.to_string(), detail: detail.into() }
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::StoreUnavailable(e.0)
    }
}

/// A node call that failed, with the call named (for alerts and errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFailure {
    pub call: String,
    pub error: NodeError,
}

impl NodeFailure {
    pub fn bad(call: &str, detail: impl Into<String>) -> Self {
        NodeFailure { call: call.to_string(), error: NodeError::BadResponse(detail.into()) }
    }
    pub fn detail(&self) -> String {
        format!("{}: {}", self.call, self.error)
    }
}

impl From<NodeFailure> for GatewayError {
    fn from(f: NodeFailure) -> Self {
        GatewayError::NodeUnavailable { detail: f.detail(), retry_after_ms: NODE_RETRY_MS }
    }
}
