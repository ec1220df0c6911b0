//! Typed errors, and their JSON-RPC form as a Graphene node writes it: HTTP 200 with
//! `{"code":1,"message":…,"data":{"code":…,"name":…,"message":…,"stack":[]}}` for chain
//! errors, JSON-RPC's own codes for malformed requests.

use core::fmt;

use cwd_gateway::ops::AccountId;
use cwd_gateway::CodecError;
use serde_json::{json, Value};

/// Why a node refuses a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The JSON does not decode to a transaction we know (includes unknown operations,
    /// bad fields, `from == to`).
    Decode(CodecError),
    /// No block among the last 65536 has this number and prefix.
    BadTapos { ref_block_num: u16, ref_block_prefix: u32 },
    /// Expiration is not after the head block time.
    Expired { expiration: u32, head_time: u32 },
    /// Expiration is more than `max_expiration` after the head block time.
    TooFarInFuture { expiration: u32, limit: u32 },
    Duplicate { id: String },
    NotCanonical,
    /// A signature that recovers no key or is malformed.
    BadSignature(CodecError),
    DuplicateSignature,
    MissingActiveAuth { account: AccountId },
    /// A signature from a key no operation needs.
    IrrelevantSignature,
    UnknownAccount { account: AccountId },
    /// Fees and transfers here are in CWD (1.3.0) only.
    WrongAsset { field: String, asset: String },
    FeeTooLow { op_index: usize, required: i64, paid: i64 },
    InsufficientBalance { account: AccountId, needed: i64, available: i64 },
    /// An evaluator's `FC_ASSERT` (proposal missing, expiration in the past…).
    Assert(String),
}

impl Reject {
    /// The fc exception name a node would put in `data.name`.
    pub fn name(&self) -> &'static str {
        use Reject::*;
        match self {
            Decode(_) => "parse_error_exception",
            BadTapos { .. } => "tx_bad_tapos",
            Expired { .. } => "tx_expired",
            TooFarInFuture { .. } => "tx_expiration_too_far",
            Duplicate { .. } => "tx_duplicate",
            NotCanonical => "tx_non_canonical_signature",
            BadSignature(_) => "tx_bad_signature",
            DuplicateSignature => "tx_duplicate_sig",
            MissingActiveAuth { .. } => "tx_missing_active_auth",
            IrrelevantSignature => "tx_irrelevant_sig",
            UnknownAccount { .. } => "unknown_account",
            WrongAsset { .. } => "wrong_asset",
            FeeTooLow { .. } => "insufficient_fee",
            InsufficientBalance { .. } => "insufficient_balance",
            Assert(_) => "assert_exception",
        }
    }

    /// The numeric fc code (Graphene's where one exists).
    pub fn fc_code(&self) -> i64 {
        use Reject::*;
        match self {
            Decode(_) => 4,
            MissingActiveAuth { .. } => 3030001,
            DuplicateSignature => 3030003,
            IrrelevantSignature => 3030004,
            _ => 10,
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reject::*;
        match self {
            Decode(e) => write!(f, "transaction does not decode: {e}"),
            BadTapos { ref_block_num, ref_block_prefix } => write!(
                f,
                "TaPoS: no recent block matches ref_block_num {ref_block_num} and ref_block_prefix {ref_block_prefix}"
            ),
            Expired { expiration, head_time } => write!(
                f,
                "transaction expired: expiration {} is not after head block time {}",
                cwd_gateway::json::format_time(*expiration),
                cwd_gateway::json::format_time(*head_time)
            ),
            TooFarInFuture { expiration, limit } => write!(
                f,
                "expiration {} is later than the maximum {}",
                cwd_gateway::json::format_time(*expiration),
                cwd_gateway::json::format_time(*limit)
            ),
            Duplicate { id } => write!(f, "duplicate transaction {id}"),
            NotCanonical => write!(f, "signature is not canonical"),
            BadSignature(e) => write!(f, "bad signature: {e}"),
            DuplicateSignature => write!(f, "duplicate signature included"),
            MissingActiveAuth { account } => write!(f, "missing required active authority of 1.2.{}", account.0),
            IrrelevantSignature => write!(f, "unnecessary signature(s) detected"),
            UnknownAccount { account } => write!(f, "account 1.2.{} does not exist", account.0),
            WrongAsset { field, asset } => {
                write!(f, "{field}: asset {asset} cannot be used here (fees are paid in CWD 1.3.0, amounts in an existing asset)")
            }
            FeeTooLow { op_index, required, paid } => {
                write!(f, "insufficient fee for operation {op_index}: paid {paid}, required {required}")
            }
            InsufficientBalance { account, needed, available } => write!(
                f,
                "insufficient balance: 1.2.{} has {available}, needs {needed} (amount + fee)",
                account.0
            ),
            Assert(d) => write!(f, "Assert Exception: {d}"),
        }
    }
}

/// Every error a call to the devnet can end in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The HTTP body is not JSON.
    Parse(String),
    /// JSON, but not a JSON-RPC request.
    InvalidRequest(String),
    MethodNotFound { api: String, method: String },
    /// An argument has the wrong type or is missing.
    InvalidParams(String),
    /// An `FC_ASSERT` a node would raise (limit too high, bad object id…).
    Assert(String),
    Tx(Reject),
    /// An error a fault rule injected.
    Injected { code: i64, message: String },
    /// A broadcast waited for and never included.
    NotIncluded { id: String, why: String },
    /// A reorganisation that would cross the irreversible block.
    Reorg(String),
    /// A helper asked about something that does not exist (unknown account name…).
    NotFound(String),
    /// A helper given bad input (bad name, bad key, amount out of range).
    BadInput(String),
}

impl From<Reject> for ChainError {
    fn from(r: Reject) -> Self {
        ChainError::Tx(r)
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChainError::*;
        match self {
            Parse(d) => write!(f, "parse error: {d}"),
            InvalidRequest(d) => write!(f, "invalid request: {d}"),
            MethodNotFound { api, method } => write!(f, "method {method} not found in API {api}"),
            InvalidParams(d) => write!(f, "invalid parameters: {d}"),
            Assert(d) => write!(f, "Assert Exception: {d}"),
            Tx(r) => write!(f, "{r}"),
            Injected { message, .. } => write!(f, "{message}"),
            NotIncluded { id, why } => write!(f, "transaction {id} was not included: {why}"),
            Reorg(d) => write!(f, "cannot reorganise: {d}"),
            NotFound(d) => write!(f, "not found: {d}"),
            BadInput(d) => write!(f, "bad input: {d}"),
        }
    }
}

impl std::error::Error for ChainError {}
impl std::error::Error for Reject {}

impl ChainError {
    /// The JSON-RPC `error` object.
    pub fn to_json(&self) -> Value {
        use ChainError::*;
        let message = self.to_string();
        let (code, fc_code, name) = match self {
            Parse(_) => (-32700, 0, "parse_error"),
            InvalidRequest(_) => (-32600, 0, "invalid_request"),
            MethodNotFound { .. } => (-32601, 0, "method_not_found"),
            InvalidParams(_) => (-32602, 0, "invalid_params"),
            Assert(_) => (1, 10, "assert_exception"),
            Tx(r) => (1, r.fc_code(), r.name()),
            Injected { code, .. } => (*code, 0, "injected_fault"),
            NotIncluded { .. } => (1, 10, "transaction_not_included"),
            Reorg(_) => (1, 10, "reorg_refused"),
            NotFound(_) => (1, 10, "not_found"),
            BadInput(_) => (1, 10, "bad_input"),
        };
        if code < 0 {
            return json!({ "code": code, "message": message });
        }
        json!({
            "code": code,
            "message": message,
            "data": { "code": fc_code, "name": name, "message": message, "stack": [] },
        })
    }
}

pub type Result<T> = core::result::Result<T, ChainError>;
