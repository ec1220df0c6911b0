//! The control API (POST /devnet): the player helpers and the test switches over HTTP,
//! for a person with curl or a test in another language. Request
//! `{"id":…,"method":"create_account","params":{…}}`, answer in the JSON-RPC envelope.
//! Faults never apply here.

use cwd_gateway::json::{format_time, int_i64, parse_time, write_i64};
use cwd_gateway::keys::{PrivateKey, PublicKey};
use serde_json::{json, Value};

use crate::error::{ChainError, Result};
use crate::faults::FaultRule;
use crate::node::Node;
use crate::player::{parse_cwd, AccountSpec, KeySpec};
use crate::rpc::respond;

pub const METHODS: &[&str] = &[
    "status", "create_account", "issue", "balance", "transfer", "send_message", "messages", "produce_block",
    "advance_time", "set_time", "reorg", "set_irreversible_lag", "set_fees", "fault_add", "faults_clear", "faults_list", "transactions",
    "create_asset", "issue_asset", "propose_transfers", "approve_proposal", "proposals", "mass_payment", "set_history",
];

pub fn handle(node: &Node, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let out = (|| {
        let method = request
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| ChainError::InvalidRequest("\"method\" must be a string".into()))?;
        let empty = json!({});
        let params = match request.get("params") {
            None | Some(Value::Null) => &empty,
            Some(p @ Value::Object(_)) => p,
            Some(_) => return Err(ChainError::InvalidParams("\"params\" must be an object".into())),
        };
        run(node, method, params)
    })();
    respond(id, out)
}

fn opt_str<'a>(p: &'a Value, name: &str) -> Result<Option<&'a str>> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ChainError::InvalidParams(format!("\"{name}\" must be a string"))),
    }
}

fn req_str<'a>(p: &'a Value, name: &str) -> Result<&'a str> {
    opt_str(p, name)?.ok_or_else(|| ChainError::InvalidParams(format!("\"{name}\" is required")))
}

fn opt_u32(p: &Value, name: &str) -> Result<Option<u32>> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| ChainError::InvalidParams(format!("\"{name}\" must be a u32"))),
    }
}

/// "amount" in units (number or string) or "amount_cwd" as a decimal ("12.5").
fn amount(p: &Value, units: &str, cwd: &str) -> Result<Option<i64>> {
    if let Some(v) = p.get(units).filter(|v| !v.is_null()) {
        return int_i64(v, units).map(Some).map_err(|e| ChainError::InvalidParams(e.to_string()));
    }
    opt_str(p, cwd)?.map(parse_cwd).transpose()
}

fn private(p: &Value, name: &str) -> Result<Option<PrivateKey>> {
    opt_str(p, name)?
        .map(|w| PrivateKey::from_wif(w).map_err(|e| ChainError::InvalidParams(format!("{name}: {e}"))))
        .transpose()
}

fn key_spec(p: &Value, role: &str) -> Result<KeySpec> {
    if let Some(k) = private(p, &format!("{role}_wif"))? {
        return Ok(KeySpec::Private(k));
    }
    match opt_str(p, &format!("{role}_key"))? {
        Some(text) => text
            .parse::<PublicKey>()
            .map(KeySpec::Public)
            .map_err(|e| ChainError::InvalidParams(format!("{role}_key: {e}"))),
        None => Ok(KeySpec::Generate),
    }
}

fn status(node: &Node) -> Value {
    let s = node.lock();
    json!({
        "chain_id": hex::encode(s.chain_id()),
        "head_block_number": s.head_num(),
        "head_block_id": s.head().id_hex(),
        "time": format_time(s.head_time()),
        "last_irreversible_block_num": s.last_irreversible(),
        "pending_transactions": s.pending().len(),
        "issued": write_i64(s.issued()),
        "fees_burned": write_i64(s.fees_burned()),
        "accounts": s.accounts().map(|a| json!({ "id": format!("1.2.{}", a.id.0), "name": a.name })).collect::<Vec<_>>(),
    })
}

fn run(node: &Node, method: &str, p: &Value) -> Result<Value> {
    let produce = |p: &Value| -> Result<()> {
        if p.get("produce_block").and_then(Value::as_bool).unwrap_or(false) {
            node.produce_block();
        }
        Ok(())
    };
    Ok(match method {
        "status" => {
            let mut v = status(node);
            v["faults"] = json!(node.fault_rules().iter().map(FaultRule::to_json).collect::<Vec<_>>());
            v
        }
        "create_account" => {
            let spec = AccountSpec {
                name: req_str(p, "name")?.to_string(),
                owner: key_spec(p, "owner")?,
                active: key_spec(p, "active")?,
                memo: key_spec(p, "memo")?,
                balance: amount(p, "balance", "balance_cwd")?.unwrap_or(0),
            };
            node.create_account(spec)?.to_json()
        }
        "issue" => {
            let amt = amount(p, "amount", "amount_cwd")?.ok_or_else(|| ChainError::InvalidParams("\"amount\" is required".into()))?;
            json!({ "balance": write_i64(node.issue(req_str(p, "account")?, amt)?) })
        }
        "balance" => json!({ "amount": write_i64(node.balance_of(req_str(p, "account")?)?), "asset_id": "1.3.0" }),
        "transfer" => {
            let amt = amount(p, "amount", "amount_cwd")?.ok_or_else(|| ChainError::InvalidParams("\"amount\" is required".into()))?;
            let signer = private(p, "active_wif")?;
            let asset_id = match opt_str(p, "asset")? {
                Some(a) => node.asset_id(a)?,
                None => cwd_gateway::ops::CORE_ASSET,
            };
            let out = node.transfer_asset(
                req_str(p, "from")?,
                req_str(p, "to")?,
                cwd_gateway::ops::Asset { amount: amt, asset_id },
                opt_str(p, "memo")?,
                signer.as_ref(),
            )?;
            produce(p)?;
            out.to_json()
        }
        "send_message" => {
            let signer = private(p, "active_wif")?;
            let out = node.send_message(req_str(p, "from")?, req_str(p, "to")?, req_str(p, "message")?, signer.as_ref())?;
            produce(p)?;
            out.to_json()
        }
        "messages" => {
            let key = private(p, "memo_wif")?;
            json!(node.received_memos(req_str(p, "account")?, key.as_ref())?.iter().map(|m| m.to_json()).collect::<Vec<_>>())
        }
        "produce_block" => json!({ "head_block_number": node.produce_blocks(opt_u32(p, "count")?.unwrap_or(1)) }),
        "advance_time" => {
            node.advance_time(opt_u32(p, "seconds")?.ok_or_else(|| ChainError::InvalidParams("\"seconds\" is required".into()))?);
            Value::Null
        }
        "set_time" => {
            let t = parse_time(req_str(p, "time")?, "time").map_err(|e| ChainError::InvalidParams(e.to_string()))?;
            node.lock().set_time(t);
            Value::Null
        }
        "reorg" => {
            let depth = opt_u32(p, "depth")?.ok_or_else(|| ChainError::InvalidParams("\"depth\" is required".into()))?;
            let requeue = p.get("requeue").and_then(Value::as_bool).unwrap_or(false);
            let o = node.reorg(depth, requeue)?;
            json!({ "dropped_blocks": o.dropped_blocks, "requeued": o.requeued, "discarded": o.discarded, "head_block_number": o.head_block_number })
        }
        "set_irreversible_lag" => {
            node.lock().set_irreversible_lag(opt_u32(p, "lag")?.ok_or_else(|| ChainError::InvalidParams("\"lag\" is required".into()))?);
            Value::Null
        }
        "set_fees" => {
            let mut s = node.lock();
            let f = &mut s.config.fees;
            for (name, slot) in [
                ("transfer", &mut f.transfer),
                ("transfer_per_kbyte", &mut f.transfer_per_kbyte),
                ("send_message", &mut f.send_message),
                ("send_message_per_kbyte", &mut f.send_message_per_kbyte),
                ("proposal", &mut f.proposal),
                ("mass_payment", &mut f.mass_payment),
                ("mass_payment_per_transfer", &mut f.mass_payment_per_transfer),
            ] {
                if let Some(v) = amount(p, name, "-")? {
                    *slot = v.max(0);
                }
            }
            Value::Null
        }
        "fault_add" => {
            node.add_fault(FaultRule::from_json(p)?);
            Value::Null
        }
        "faults_clear" => {
            node.clear_faults();
            Value::Null
        }
        "transactions" => json!(node.included_transactions()),
        "create_asset" => {
            let precision = opt_u32(p, "precision")?.unwrap_or(5);
            let precision = u8::try_from(precision).map_err(|_| ChainError::InvalidParams("\"precision\" must be 0..=12".into()))?;
            let max = amount(p, "max_supply", "-")?.unwrap_or(cwd_gateway::ops::MAX_SHARE_SUPPLY);
            let id = node.create_asset(req_str(p, "issuer")?, req_str(p, "symbol")?, precision, max)?;
            json!({ "id": format!("1.3.{}", id.0) })
        }
        "issue_asset" => {
            let amt = amount(p, "amount", "-")?.ok_or_else(|| ChainError::InvalidParams("\"amount\" is required".into()))?;
            json!({ "balance": write_i64(node.issue_asset(req_str(p, "asset")?, req_str(p, "account")?, amt)?) })
        }
        "propose_transfers" => {
            let list = p.get("transfers").and_then(Value::as_array).ok_or_else(|| ChainError::InvalidParams("\"transfers\" must be an array".into()))?;
            let mut transfers = Vec::new();
            for t in list {
                let amt = amount(t, "amount", "amount_cwd")?.ok_or_else(|| ChainError::InvalidParams("each transfer needs \"amount\"".into()))?;
                let asset_id = match opt_str(t, "asset")? {
                    Some(a) => node.asset_id(a)?,
                    None => cwd_gateway::ops::CORE_ASSET,
                };
                transfers.push(crate::scenarios::ProposedTransfer {
                    from: req_str(t, "from")?.to_string(),
                    to: req_str(t, "to")?.to_string(),
                    amount: cwd_gateway::ops::Asset { amount: amt, asset_id },
                });
            }
            let expiration = match opt_str(p, "expiration")? {
                Some(t) => parse_time(t, "expiration").map_err(|e| ChainError::InvalidParams(e.to_string()))?,
                None => {
                    let secs = opt_u32(p, "expires_in")?.ok_or_else(|| ChainError::InvalidParams("\"expiration\" or \"expires_in\" is required".into()))?;
                    node.lock().head_time().saturating_add(secs)
                }
            };
            let id = node.propose_transfers(req_str(p, "proposer")?, &transfers, expiration)?;
            produce(p)?;
            json!({ "id": id })
        }
        "approve_proposal" => {
            let text = req_str(p, "proposal")?;
            let n = text.strip_prefix("1.10.").unwrap_or(text).parse::<u64>().map_err(|_| ChainError::InvalidParams("\"proposal\" must be 1.10.N".into()))?;
            let id = node.approve_proposal(req_str(p, "approver")?, n)?;
            produce(p)?;
            json!({ "id": id })
        }
        "proposals" => json!(node.lock().proposals().map(|x| x.to_json()).collect::<Vec<_>>()),
        "mass_payment" => {
            let list = p.get("payments").and_then(Value::as_array).ok_or_else(|| ChainError::InvalidParams("\"payments\" must be an array".into()))?;
            let mut payments = Vec::new();
            for x in list {
                let amt = amount(x, "amount", "amount_cwd")?.ok_or_else(|| ChainError::InvalidParams("each payment needs \"amount\"".into()))?;
                payments.push((req_str(x, "to")?, amt));
            }
            let id = node.mass_payment(req_str(p, "from")?, opt_str(p, "asset")?.unwrap_or("1.3.0"), &payments)?;
            produce(p)?;
            json!({ "id": id })
        }
        "set_history" => {
            let max = match p.get("max_ops_per_account") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| ChainError::InvalidParams("\"max_ops_per_account\" must be a u64".into()))?),
            };
            let track: Vec<&str> = match p.get("track_accounts") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str().ok_or_else(|| ChainError::InvalidParams("track_accounts are names".into()))).collect::<Result<_>>()?,
                Some(_) => return Err(ChainError::InvalidParams("\"track_accounts\" must be an array".into())),
            };
            node.set_history_options(max, &track)?;
            Value::Null
        }
        "faults_list" => json!(node.fault_rules().iter().map(FaultRule::to_json).collect::<Vec<_>>()),
        other => return Err(ChainError::UnknownControl(other.into())),
    })
}
