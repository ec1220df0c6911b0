//! Typed calls to the node (Graphene JSON-RPC) over the [`Node`] port. Node JSON is
//! read leniently where the node is lenient (integers as numbers or strings) and every
//! malformed answer is a [`NodeFailure`], never a panic.

use serde_json::{json, Value};

use crate::events::OpPosition;
use crate::gateway_error::NodeFailure;
use crate::json::{self, int_i64, int_u64};
use crate::keys::PublicKey;
use crate::ops::{AccountId, Operation};
use crate::ports::Node;

pub type NResult<T> = Result<T, NodeFailure>;

fn call(node: &mut dyn Node, api: &str, method: &str, params: Value) -> NResult<Value> {
    let name = format!("{api}.{method}");
    let text = node.call(api, method, &params.to_string()).map_err(|error| NodeFailure { call: name.clone(), error })?;
    serde_json::from_str(&text).map_err(|e| NodeFailure::bad(&name, format!("not JSON: {e}")))
}

fn u32_of(v: &Value, path: &str, call: &str) -> NResult<u32> {
    let n = int_u64(v, path).map_err(|e| NodeFailure::bad(call, e.to_string()))?;
    u32::try_from(n).map_err(|_| NodeFailure::bad(call, format!("{path} out of range")))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dgp {
    pub head_block: u32,
    pub head_block_id: String,
    /// Head block time, Unix seconds.
    pub head_time: u32,
    pub last_irreversible_block: u32,
}

pub fn dgp(node: &mut dyn Node) -> NResult<Dgp> {
    const C: &str = "database.get_dynamic_global_properties";
    let v = call(node, "database", "get_dynamic_global_properties", json!([]))?;
    let head_block_id = v["head_block_id"].as_str().ok_or_else(|| NodeFailure::bad(C, "head_block_id missing"))?.to_string();
    let time = v["time"].as_str().ok_or_else(|| NodeFailure::bad(C, "time missing"))?;
    Ok(Dgp {
        head_block: u32_of(&v["head_block_number"], "head_block_number", C)?,
        head_block_id,
        head_time: json::parse_time(time, "time").map_err(|e| NodeFailure::bad(C, e.to_string()))?,
        last_irreversible_block: u32_of(&v["last_irreversible_block_num"], "last_irreversible_block_num", C)?,
    })
}

pub fn chain_id(node: &mut dyn Node) -> NResult<String> {
    let v = call(node, "database", "get_chain_id", json!([]))?;
    v.as_str().map(str::to_ascii_lowercase).ok_or_else(|| NodeFailure::bad("database.get_chain_id", "not a string"))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainAccount {
    pub id: AccountId,
    pub name: String,
    /// `None` when the memo key is not a usable key (e.g. the null key).
    pub memo_key: Option<PublicKey>,
    pub active_threshold: u64,
    pub active_keys: Vec<(String, u64)>,
    /// The account's statistics object, `2.6.N`.
    pub statistics: String,
}

fn account_of(v: &Value, call: &str) -> NResult<Option<ChainAccount>> {
    if v.is_null() {
        return Ok(None);
    }
    let id = json::account_id(&v["id"], "id").map_err(|e| NodeFailure::bad(call, e.to_string()))?;
    let name = v["name"].as_str().ok_or_else(|| NodeFailure::bad(call, "account name missing"))?.to_string();
    let memo_key = v["options"]["memo_key"].as_str().and_then(|k| k.parse::<PublicKey>().ok());
    let active_threshold = int_u64(&v["active"]["weight_threshold"], "weight_threshold").unwrap_or(1);
    let active_keys = v["active"]["key_auths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), int_u64(p.get(1)?, "weight").ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let statistics = match v["statistics"].as_str() {
        Some(s) => s.to_string(),
        None => format!("2.6.{}", id.0),
    };
    Ok(Some(ChainAccount { id, name, memo_key, active_threshold, active_keys, statistics }))
}

/// `database.lookup_account_names([name])`.
pub fn lookup_account(node: &mut dyn Node, name: &str) -> NResult<Option<ChainAccount>> {
    const C: &str = "database.lookup_account_names";
    let v = call(node, "database", "lookup_account_names", json!([[name]]))?;
    let first = v.as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null);
    account_of(&first, C)
}

/// `database.get_objects([id])`: `None` for an unknown id. (Not `get_accounts`, which
/// fails for an unknown id: database_api.cpp `get_account_from_string` asserts.)
pub fn account_by_id(node: &mut dyn Node, id: AccountId) -> NResult<Option<ChainAccount>> {
    const C: &str = "database.get_objects";
    let v = call(node, "database", "get_objects", json!([[format!("1.2.{}", id.0)]]))?;
    let first = v.as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null);
    account_of(&first, C)
}

/// What a node's account-history plugin knows of an account (`2.6.N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryStats {
    /// Operations ever added to the account's history on this node (its highest
    /// sequence number); 0 when the node keeps no history for the account.
    pub total_ops: u64,
    /// Oldest operations dropped by `max-ops-per-account`: sequence numbers
    /// `1..=removed_ops` are gone from this node.
    pub removed_ops: u64,
    /// The last irreversible block in the same answer: the statistics and the block come
    /// from one node at one moment, so a lagging node cannot pair old statistics with a
    /// newer irreversible block and let the scan pass over an operation it never saw.
    pub last_irreversible_block: u32,
}

/// `database.get_objects([stats_id])`, as account_history_plugin.cpp
/// `add_account_history` keeps it.
pub fn history_stats(node: &mut dyn Node, stats_id: &str) -> NResult<HistoryStats> {
    const C: &str = "database.get_objects";
    let v = call(node, "database", "get_objects", json!([[stats_id, "2.1.0"]]))?;
    let o = v.as_array().and_then(|a| a.first()).filter(|o| !o.is_null()).ok_or_else(|| NodeFailure::bad(C, format!("no object {stats_id}")))?;
    let d = v.as_array().and_then(|a| a.get(1)).filter(|o| !o.is_null()).ok_or_else(|| NodeFailure::bad(C, "no object 2.1.0"))?;
    let last_irreversible_block = u32_of(&d["last_irreversible_block_num"], "last_irreversible_block_num", C)?;
    let total_ops = int_u64(&o["total_ops"], "total_ops").map_err(|e| NodeFailure::bad(C, e.to_string()))?;
    // Older nodes lack `removed_ops`: nothing was removed.
    let removed_ops = if o.get("removed_ops").is_some_and(|r| !r.is_null()) {
        int_u64(&o["removed_ops"], "removed_ops").map_err(|e| NodeFailure::bad(C, e.to_string()))?
    } else {
        0
    };
    if removed_ops > total_ops {
        return Err(NodeFailure::bad(C, "removed_ops above total_ops"));
    }
    Ok(HistoryStats { total_ops, removed_ops, last_irreversible_block })
}

/// The chain parameters the gateway plans with (`2.0.0`'s `parameters`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainParams {
    pub block_interval_secs: u32,
    /// How far in the future a transaction's expiration may be (chain_parameters.hpp
    /// `maximum_time_until_expiration`, a day by default).
    pub max_expiration_secs: u32,
}

/// `database.get_global_properties()`.
pub fn chain_params(node: &mut dyn Node) -> NResult<ChainParams> {
    const C: &str = "database.get_global_properties";
    let v = call(node, "database", "get_global_properties", json!([]))?;
    let p = &v["parameters"];
    let block_interval_secs = u32_of(&p["block_interval"], "block_interval", C)?.max(1);
    let max_expiration_secs = u32_of(&p["maximum_time_until_expiration"], "maximum_time_until_expiration", C)?;
    Ok(ChainParams { block_interval_secs, max_expiration_secs })
}

/// The fee the node requires for `op`, in CWD units.
pub fn required_fee(node: &mut dyn Node, op: &Operation) -> NResult<i64> {
    const C: &str = "database.get_required_fees";
    let v = call(node, "database", "get_required_fees", json!([[json::write_operation(op)], "1.3.0"]))?;
    let first = v.as_array().and_then(|a| a.first()).ok_or_else(|| NodeFailure::bad(C, "empty answer"))?;
    let amount = int_i64(&first["amount"], "amount").map_err(|e| NodeFailure::bad(C, e.to_string()))?;
    if !(0..=crate::ops::MAX_SHARE_SUPPLY).contains(&amount) {
        return Err(NodeFailure::bad(C, "fee out of range"));
    }
    Ok(amount)
}

/// The account's CWD balance.
pub fn cwd_balance(node: &mut dyn Node, id: AccountId) -> NResult<u64> {
    const C: &str = "database.get_account_balances";
    let v = call(node, "database", "get_account_balances", json!([format!("1.2.{}", id.0), ["1.3.0"]]))?;
    let list = v.as_array().ok_or_else(|| NodeFailure::bad(C, "not a list"))?;
    for b in list {
        if b["asset_id"].as_str() == Some("1.3.0") {
            let a = int_i64(&b["amount"], "amount").map_err(|e| NodeFailure::bad(C, e.to_string()))?;
            return Ok(a.max(0) as u64);
        }
    }
    Ok(0)
}

/// Timestamp (Unix seconds) of a block, `None` when the node does not have it.
pub fn block_time(node: &mut dyn Node, num: u32) -> NResult<Option<u32>> {
    const C: &str = "database.get_block_header";
    let v = call(node, "database", "get_block_header", json!([num]))?;
    if v.is_null() {
        return Ok(None);
    }
    let t = v["timestamp"].as_str().ok_or_else(|| NodeFailure::bad(C, "timestamp missing"))?;
    json::parse_time(t, "timestamp").map(Some).map_err(|e| NodeFailure::bad(C, e.to_string()))
}

/// `network_broadcast.broadcast_transaction(tx)`.
pub fn broadcast(node: &mut dyn Node, tx_json: &str) -> NResult<()> {
    let tx: Value = serde_json::from_str(tx_json).map_err(|e| NodeFailure::bad("network_broadcast.broadcast_transaction", e.to_string()))?;
    call(node, "network_broadcast", "broadcast_transaction", json!([tx])).map(|_| ())
}

/// One entry of an account's history, as far as the gateway cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub position: OpPosition,
    pub op_id: u64,
    pub body: Value,
}

/// Maximum entries per history call: nodes refuse more.
pub const HISTORY_PAGE: u64 = 100;

/// `history.get_relative_account_history(account, stop, limit, start)`: sequence numbers
/// `stop..=start` of the account's history, newest first. Returned oldest first.
pub fn history_window(node: &mut dyn Node, account: AccountId, stop: u64, start: u64) -> NResult<Vec<HistoryEntry>> {
    const C: &str = "history.get_relative_account_history";
    let v = call(
        node,
        "history",
        "get_relative_account_history",
        json!([format!("1.2.{}", account.0), stop, HISTORY_PAGE, start]),
    )?;
    let list = v.as_array().ok_or_else(|| NodeFailure::bad(C, "not a list"))?;
    if list.len() as u64 > HISTORY_PAGE {
        return Err(NodeFailure::bad(C, "more entries than asked for"));
    }
    let mut out = Vec::with_capacity(list.len());
    for h in list.iter().rev() {
        let op = h["op"].as_array().filter(|a| a.len() == 2).ok_or_else(|| NodeFailure::bad(C, "op is not [id, body]"))?;
        out.push(HistoryEntry {
            position: OpPosition::new(
                u32_of(&h["block_num"], "block_num", C)?,
                u32_of(&h["trx_in_block"], "trx_in_block", C)?,
                u32_of(&h["op_in_trx"], "op_in_trx", C)?,
            ),
            op_id: int_u64(&op[0], "op[0]").map_err(|e| NodeFailure::bad(C, e.to_string()))?,
            body: op[1].clone(),
        });
    }
    // History is in chain order: refuse an answer that is not (a node bug would
    // otherwise move the cursor over operations it never showed).
    if out.windows(2).any(|w| w[0].position > w[1].position) {
        return Err(NodeFailure::bad(C, "entries out of chain order"));
    }
    // Block 0 does not exist, and one operation (one `1.11.N`) listed twice would be
    // applied twice: operations sharing a position have distinct ids.
    if out.iter().any(|e| e.position.block_num == 0) {
        return Err(NodeFailure::bad(C, "an entry in block 0"));
    }
    let mut ids: Vec<&str> = list.iter().filter_map(|h| h["id"].as_str()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(NodeFailure::bad(C, "the same operation twice in one page"));
    }
    Ok(out)
}
