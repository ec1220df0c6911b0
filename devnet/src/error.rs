//! Typed errors, and their JSON-RPC form as a Graphene node writes it (fc's
//! websocket_api/http_api: `{"code":1,"message":<to_detail_string>,"data":<exception>}`,
//! HTTP 200), JSON-RPC's own codes only for requests that are not JSON-RPC.

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
    /// The fc exception name a node puts in `data.name`.
    pub fn name(&self) -> &'static str {
        self.fc().name
    }

    /// The numeric fc code.
    pub fn fc_code(&self) -> i64 {
        self.fc().code
    }

    /// The exception a CrowdWiz node raises for this, with its wording: the assertion
    /// text of the `FC_ASSERT`/`GRAPHENE_ASSERT` that fails (db_block.cpp
    /// `_apply_transaction`, protocol/transaction.cpp `verify_authority`,
    /// transfer_evaluator.cpp, db.get's "Unable to find Object").
    pub fn fc(&self) -> Fc {
        use Reject::*;
        let time = |t: &u32| cwd_gateway::json::format_time(*t);
        let assert = |format: String, file: &'static str, method: &'static str, data: Value| Fc::assert(format, file, method, data);
        match self {
            Decode(e) => Fc { code: 4, name: "parse_error_exception", what: "Parse Error", format: e.to_string(), data: json!({}), file: "json.cpp", method: "from_string" },
            BadTapos { .. } => assert(
                "trx.ref_block_prefix == tapos_block_summary.block_id._hash[1]: ".into(),
                "db_block.cpp",
                "_apply_transaction",
                json!({}),
            ),
            Expired { expiration, head_time } => assert(
                "now <= trx.expiration: ".into(),
                "db_block.cpp",
                "_apply_transaction",
                json!({ "now": time(head_time), "trx.exp": time(expiration) }),
            ),
            TooFarInFuture { expiration, limit } => assert(
                "trx.expiration <= now + chain_parameters.maximum_time_until_expiration: ".into(),
                "db_block.cpp",
                "_apply_transaction",
                json!({ "trx.expiration": time(expiration), "limit": time(limit) }),
            ),
            Duplicate { .. } => assert(
                "trx_idx.indices().get<by_trx_id>().find(trx.id()) == trx_idx.indices().get<by_trx_id>().end(): ".into(),
                "db_block.cpp",
                "_apply_transaction",
                json!({}),
            ),
            NotCanonical => assert("is_canonical( c ): signature is not canonical".into(), "elliptic_common.cpp", "public_key", json!({})),
            BadSignature(e) => assert(format!("signature recovers no key: {e}"), "elliptic_secp256k1.cpp", "public_key", json!({})),
            DuplicateSignature => Fc::tx(3030005, "tx_duplicate_sig", "duplicate signature included", "Duplicate Signature detected".into()),
            MissingActiveAuth { account } => Fc::tx(
                3030001,
                "tx_missing_active_auth",
                "missing required active authority",
                format!("Missing Active Authority 1.2.{}", account.0),
            ),
            IrrelevantSignature => Fc::tx(3030004, "tx_irrelevant_sig", "irrelevant signature included", "Unnecessary signature(s) detected".into()),
            UnknownAccount { account } => assert(
                "maybe_found != nullptr: Unable to find Object".into(),
                "index.hpp",
                "get",
                json!({ "id": format!("1.2.{}", account.0) }),
            ),
            WrongAsset { asset, .. } => {
                assert("maybe_found != nullptr: Unable to find Object".into(), "index.hpp", "get", json!({ "id": asset }))
            }
            FeeTooLow { required, paid, .. } => Fc {
                code: 3030007,
                name: "insufficient_fee",
                what: "insufficient fee",
                format: format!("Insufficient Fee Paid: core_fee_paid {paid}, required {required}"),
                data: json!({}),
                file: "evaluator.cpp",
                method: "prepare_fee",
            },
            InsufficientBalance { account, needed, available } => assert(
                format!(
                    "insufficient_balance: Insufficient Balance: {available}, unable to transfer '{needed}' from account '1.2.{}'",
                    account.0
                ),
                "transfer_evaluator.cpp",
                "do_evaluate",
                json!({}),
            ),
            Assert(d) => assert(d.clone(), "evaluator.cpp", "evaluate", json!({})),
        }
    }
}

/// An fc exception as a node serialises it: `code name: what`, then the log message
/// (the assertion text) with its data and where it was raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fc {
    pub code: i64,
    pub name: &'static str,
    pub what: &'static str,
    /// The log message, already formatted.
    pub format: String,
    pub data: Value,
    pub file: &'static str,
    pub method: &'static str,
}

impl Fc {
    pub fn assert(format: String, file: &'static str, method: &'static str, data: Value) -> Self {
        Fc { code: 10, name: "assert_exception", what: "Assert Exception", format, data, file, method }
    }

    fn tx(code: i64, name: &'static str, what: &'static str, format: String) -> Self {
        Fc { code, name, what, format, data: json!({}), file: "transaction.cpp", method: "verify_authority" }
    }

    /// fc's `exception::to_detail_string`, the JSON-RPC error's `message`.
    pub fn detail(&self) -> String {
        format!(
            "{} {}: {}\n{}\n    {}\n    th_a  {}:1 {}",
            self.code, self.name, self.what, self.format, self.data, self.file, self.method
        )
    }

    /// The JSON-RPC error object: code 1, the detail string, the exception as data.
    pub fn to_json(&self) -> Value {
        json!({
            "code": 1,
            "message": self.detail(),
            "data": {
                "code": self.code,
                "name": self.name,
                "message": self.what,
                "stack": [{
                    "context": {
                        "level": "error",
                        "file": self.file,
                        "line": 1,
                        "method": self.method,
                        "hostname": "",
                        "thread_name": "th_a",
                        "timestamp": cwd_gateway::json::format_time(crate::state::wall_clock_secs()),
                    },
                    "format": self.format,
                    "data": self.data,
                }],
            },
        })
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
    /// A control API method that does not exist (the control API is JSON-RPC proper).
    UnknownControl(String),
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
            UnknownControl(m) => write!(f, "no control method {m}"),
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
    /// The JSON-RPC `error` object: fc's shape for everything a node raises, JSON-RPC's
    /// codes only for requests that are not JSON-RPC at all.
    pub fn to_json(&self) -> Value {
        use ChainError::*;
        let message = self.to_string();
        let devnet = |name: &'static str| Fc::assert(format!("{name}: {message}"), "devnet", "devnet", json!({}));
        let fc = match self {
            Parse(_) => return json!({ "code": -32700, "message": message }),
            InvalidRequest(_) => return json!({ "code": -32600, "message": message }),
            InvalidParams(_) => return json!({ "code": -32602, "message": message }),
            UnknownControl(_) => return json!({ "code": -32601, "message": message }),
            // fc's api_connection.hpp, generic_api::call.
            MethodNotFound { method, .. } => Fc::assert(
                format!("itr != _by_name.end(): no method with name '{method}'"),
                "api_connection.hpp",
                "call",
                json!({ "name": method }),
            ),
            Assert(d) => Fc::assert(d.clone(), "database_api.cpp", "call", json!({})),
            Tx(r) => r.fc(),
            Injected { code, message } => {
                return json!({
                    "code": code,
                    "message": message,
                    "data": { "code": 0, "name": "injected_fault", "message": message, "stack": [] },
                })
            }
            NotIncluded { .. } => devnet("transaction_not_included"),
            Reorg(_) => devnet("reorg_refused"),
            NotFound(_) => devnet("not_found"),
            BadInput(_) => devnet("bad_input"),
        };
        let mut v = fc.to_json();
        // The devnet's own errors say which in data.name, for the control API's users.
        if let NotIncluded { .. } | Reorg(_) | NotFound(_) | BadInput(_) = self {
            v["data"]["name"] = json!(match self {
                NotIncluded { .. } => "transaction_not_included",
                Reorg(_) => "reorg_refused",
                NotFound(_) => "not_found",
                _ => "bad_input",
            });
        }
        v
    }
}

pub type Result<T> = core::result::Result<T, ChainError>;
