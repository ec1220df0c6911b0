//! The node's JSON-RPC: `{"method":"call","params":[API, METHOD, [args]]}` (or a
//! database method called directly), answered in the shapes a BitShares-family node
//! writes. Never panics on bad input: every problem becomes a JSON-RPC error.

use cwd_gateway::json::{self as cj, int_u64, write_i64};
use cwd_gateway::keys::PublicKey;
use cwd_gateway::ops::{AccountId, AssetId, CORE_ASSET};
use serde_json::{json, Value};

use crate::error::{ChainError, Result};
use crate::faults::FaultKind;
use crate::fees::required_fee;
use crate::node::Node;
use crate::state::State;

const DATABASE: &[&str] = &[
    "get_chain_id",
    "get_chain_properties",
    "get_dynamic_global_properties",
    "get_global_properties",
    "lookup_accounts",
    "verify_authority",
    "get_potential_signatures",
    "get_potential_address_signatures",
    "get_required_signatures",
    "get_transaction",
    "get_recent_transaction_by_id",
    "get_config",
    "lookup_account_names",
    "get_account_by_name",
    "get_accounts",
    "get_full_accounts",
    "get_account_count",
    "get_key_references",
    "get_account_references",
    "get_vesting_balances",
    "get_objects",
    "get_block_header",
    "get_block",
    "get_required_fees",
    "get_account_balances",
    "get_named_account_balances",
    "get_transaction_hex",
    "get_assets",
    "lookup_asset_symbols",
    "set_block_applied_callback",
    "set_subscribe_callback",
    "cancel_all_subscriptions",
];
const HISTORY: &[&str] = &["get_account_history", "get_relative_account_history", "get_account_history_operations"];
const BROADCAST: &[&str] = &["broadcast_transaction", "broadcast_transaction_synchronous", "broadcast_transaction_with_callback"];

/// The APIs one connection has been given ids for, as fc's api_connection numbers them:
/// 0 is the database API and 1 the login API from the start; `call [1, "database", []]`
/// (login_api::database) or a call by name gives the next id. Over HTTP every request
/// is a new connection (fc's http_api), so only 0, 1 and names work there.
#[derive(Clone, Debug)]
pub struct Session {
    apis: Vec<&'static str>,
}

impl Default for Session {
    fn default() -> Self {
        Session { apis: vec!["database", "login"] }
    }
}

impl Session {
    /// login_api::get_api_by_name: the id of `name` on this connection.
    fn api_id(&mut self, name: &str) -> Option<u64> {
        let name = API_NAMES.iter().find(|n| **n == name.trim_end_matches("_api"))?;
        if *name == "login" {
            return Some(1);
        }
        Some(match self.apis.iter().position(|a| a == name) {
            Some(i) => i as u64,
            None => {
                self.apis.push(name);
                (self.apis.len() - 1) as u64
            }
        })
    }

    fn api(&self, id: u64) -> Result<&'static str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.apis.get(i).copied())
            .ok_or_else(|| ChainError::Assert(format!("_local_apis.size() > api_id: api {id} is not registered on this connection")))
    }
}

/// The APIs the devnet serves (login_api's getters).
const API_NAMES: &[&str] = &["database", "login", "network_broadcast", "history"];

/// Answers one request object on a fresh connection (HTTP).
pub fn handle(node: &Node, request: &Value) -> Value {
    handle_in(node, &mut Session::default(), request)
}

/// Answers one request object on a connection with its own API ids (WebSocket).
pub fn handle_in(node: &Node, session: &mut Session, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    respond(id, parse_call(session, request).and_then(|(api, method, args)| run(node, session, api, &method, &args)))
}

/// The response envelope.
pub fn respond(id: Value, outcome: Result<Value>) -> Value {
    match outcome {
        Ok(result) => json!({ "id": id, "jsonrpc": "2.0", "result": result }),
        Err(e) => json!({ "id": id, "jsonrpc": "2.0", "error": e.to_json() }),
    }
}

/// (api, method, args), as fc's websocket_api/http_api read them: `call` takes exactly
/// `[api id or name, method, [args]]`; any other method goes to the database API
/// (`on_unhandled` → api 0).
pub(crate) fn parse_call(session: &mut Session, request: &Value) -> Result<(&'static str, String, Vec<Value>)> {
    let obj = request.as_object().ok_or_else(|| ChainError::InvalidRequest("the request must be a JSON object".into()))?;
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ChainError::InvalidRequest("\"method\" must be a string".into()))?;
    let params = obj.get("params").cloned().unwrap_or(Value::Array(Vec::new()));
    if method != "call" {
        let args = match params {
            Value::Array(a) => a,
            _ => return Err(ChainError::InvalidParams("\"params\" must be an array".into())),
        };
        return Ok(("database", method.to_string(), args));
    }
    let p = params
        .as_array()
        .filter(|p| p.len() == 3 && p[2].is_array())
        .ok_or_else(|| ChainError::Assert("args.size() == 3 && args[2].is_array(): ".into()))?;
    let api = match &p[0] {
        Value::String(s) => {
            let id = session.api_id(s).ok_or_else(|| ChainError::Assert(format!("false: No API named {s}")))?;
            session.api(id)?
        }
        v => session.api(v.as_u64().ok_or_else(|| ChainError::InvalidParams("the api must be an id or a name".into()))?)?,
    };
    let method = p[1].as_str().ok_or_else(|| ChainError::InvalidParams("method must be a string".into()))?;
    let args = p[2].as_array().cloned().unwrap_or_default();
    Ok((api, method.to_string(), args))
}

fn methods_of(api: &str) -> &'static [&'static str] {
    match api {
        "database" => DATABASE,
        "history" => HISTORY,
        "network_broadcast" => BROADCAST,
        "login" => LOGIN,
        _ => &[],
    }
}

const LOGIN: &[&str] = &["login", "database", "network_broadcast", "history", "get_api_by_name"];

fn run(node: &Node, session: &mut Session, api: &str, method: &str, args: &[Value]) -> Result<Value> {
    if !methods_of(api).contains(&method) {
        return Err(ChainError::MethodNotFound { api: api.into(), method: method.into() });
    }
    if api == "login" {
        return match method {
            "login" => Ok(json!(true)),
            "get_api_by_name" => {
                let name = str_arg(args, 0, "api_name")?;
                Ok(session.api_id(name).map_or(Value::Null, |id| json!(id)))
            }
            other => Ok(json!(session.api_id(other).expect("login's getters are API names"))),
        };
    }
    let mut drop = false;
    let mut lose = None;
    match node.decide_fault(method) {
        Some(FaultKind::Error { code, message }) => return Err(ChainError::Injected { code, message }),
        Some(FaultKind::Delay(d)) => std::thread::sleep(d),
        Some(FaultKind::LoseResponse { code, message }) => lose = Some(ChainError::Injected { code, message }),
        Some(FaultKind::Drop) => drop = true,
        None => {}
    }
    let out = match method {
        "broadcast_transaction" => {
            node.broadcast(decode_tx(args, 0)?, drop)?;
            Ok(Value::Null)
        }
        "broadcast_transaction_synchronous" => Ok(node.broadcast_synchronous(decode_tx(args, 0)?, drop)?.to_json()),
        // api.cpp `network_broadcast_api::broadcast_transaction_with_callback(cb, trx)`:
        // the callback (a number the client picked) is registered, the transaction pushed,
        // and the answer is null; the notice comes when a block includes it (websocket.rs).
        // Over HTTP the node accepts it too and never calls back (fc's http_api.cpp
        // `send_notice`: "HTTP has no way to do this, so do nothing").
        "broadcast_transaction_with_callback" => {
            arg(args, 0, "cb")?;
            node.broadcast(decode_tx(args, 1)?, drop)?;
            Ok(Value::Null)
        }
        _ => {
            let state = node.lock();
            query(&state, method, args)
        }
    };
    match lose {
        Some(e) => Err(e),
        None => out,
    }
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str) -> Result<&'a Value> {
    args.get(i).ok_or_else(|| ChainError::InvalidParams(format!("missing argument {i} ({name})")))
}

fn str_arg<'a>(args: &'a [Value], i: usize, name: &str) -> Result<&'a str> {
    arg(args, i, name)?.as_str().ok_or_else(|| ChainError::InvalidParams(format!("argument {i} ({name}) must be a string")))
}

fn list_arg<'a>(args: &'a [Value], i: usize, name: &str) -> Result<&'a Vec<Value>> {
    arg(args, i, name)?.as_array().ok_or_else(|| ChainError::InvalidParams(format!("argument {i} ({name}) must be an array")))
}

fn u64_arg(args: &[Value], i: usize, name: &str, default: u64) -> Result<u64> {
    match args.get(i) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => int_u64(v, name).map_err(|e| ChainError::InvalidParams(e.to_string())),
    }
}

fn public_key_arg(k: &Value) -> Result<PublicKey> {
    k.as_str()
        .ok_or_else(|| ChainError::InvalidParams("keys must be strings".into()))?
        .parse()
        .map_err(|e: cwd_gateway::CodecError| ChainError::InvalidParams(e.to_string()))
}

/// protocol/transaction.cpp `signed_transaction::get_required_signatures`, as
/// database_api.cpp calls it. `available` None: `get_potential_signatures`, every key of
/// the active and owner authorities the operations need (with no key available, both are
/// looked at). Some: `get_required_signatures`, for each account the active key if
/// available, else the owner key if available, leaving out keys that already signed.
/// Both answer a `set<public_key_type>`, ordered by the keys' bytes.
fn signature_keys(state: &State, st: &cwd_gateway::ops::SignedTransaction, available: Option<&[PublicKey]>) -> Vec<PublicKey> {
    let mut accounts: Vec<AccountId> = st.tx.operations.iter().map(cwd_gateway::ops::Operation::fee_payer).collect();
    accounts.sort();
    accounts.dedup();
    let signed: Vec<[u8; 33]> = {
        let digest = st.tx.digest(state.chain_id());
        st.signatures.iter().filter_map(|s| cwd_gateway::signing::recover(&digest, s).ok()).map(|k| k.to_compressed()).collect()
    };
    let mut out: Vec<PublicKey> = Vec::new();
    for a in accounts.iter().filter_map(|id| state.account(*id)) {
        match available {
            None => out.extend([a.active, a.owner]),
            Some(keys) => {
                let has = |k: &PublicKey| keys.contains(k) || signed.contains(&k.to_compressed());
                let pick = if has(&a.active) { a.active } else if has(&a.owner) { a.owner } else { continue };
                if !signed.contains(&pick.to_compressed()) {
                    out.push(pick);
                }
            }
        }
    }
    out.sort_by_key(PublicKey::to_compressed);
    out.dedup();
    out
}

/// A `1.11.N` argument; absent = `1.11.0`.
fn history_id_arg(args: &[Value], i: usize, name: &str) -> Result<u64> {
    match args.get(i) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => cj::object_id(v, name, 1, 11).map_err(|e| ChainError::InvalidParams(e.to_string())),
    }
}

fn decode_tx(args: &[Value], i: usize) -> Result<cwd_gateway::ops::SignedTransaction> {
    let v = arg(args, i, "trx")?;
    Ok(cj::transaction(v).map_err(crate::error::Reject::Decode)?)
}

fn limit_arg(state: &State, args: &[Value], i: usize) -> Result<usize> {
    let max = state.config.history_limit as u64;
    let limit = u64_arg(args, i, "limit", max)?;
    if limit > max {
        return Err(ChainError::Assert(format!("limit <= {max}: ")));
    }
    Ok(limit as usize)
}

/// database_api.cpp, `get_account_from_string`: an unknown account is an assertion.
fn account_from_string<'a>(state: &'a State, key: &Value) -> Result<&'a crate::accounts::Account> {
    let k = key.as_str().ok_or_else(|| ChainError::InvalidParams("account names and ids must be strings".into()))?;
    if k.is_empty() {
        return Err(ChainError::Assert("name_or_id.size() > 0: ".into()));
    }
    state.resolve(k).ok_or_else(|| ChainError::Assert("account: no such account".into()))
}

/// database_api.cpp, `get_asset_from_string`.
fn asset_from_string<'a>(state: &'a State, key: &Value) -> Result<&'a crate::assets::AssetInfo> {
    let k = key.as_str().ok_or_else(|| ChainError::InvalidParams("asset symbols and ids must be strings".into()))?;
    state.resolve_asset(k).ok_or_else(|| ChainError::Assert("asset: no such asset".into()))
}

fn asset_json(amount: i64) -> Value {
    json!({ "amount": write_i64(amount), "asset_id": "1.3.0" })
}

/// full_account.hpp's `full_account`, as `get_full_accounts` fills it.
fn full_account(state: &State, a: &crate::accounts::Account) -> Value {
    let name = |id: AccountId| state.account(id).map(|a| a.name.clone()).unwrap_or_default();
    let balances: Vec<Value> = state
        .balance_objects(a.id)
        .into_keys()
        .filter_map(|asset| state.balance_object_json(state.balance_object_id(a.id, AssetId(asset))))
        .collect();
    let proposals: Vec<Value> = state.proposals().filter(|p| p.required().contains(&a.id)).map(|p| p.to_json()).collect();
    let assets: Vec<Value> = state.assets_issued_by(a.id).map(|x| json!(x.id_string())).collect();
    json!({
        "account": a.to_json(),
        "statistics": state.statistics(a),
        "registrar_name": name(a.registrar),
        "referrer_name": name(a.registrar),
        "lifetime_referrer_name": name(a.registrar),
        "votes": [],
        "balances": balances,
        "vesting_balances": [],
        "limit_orders": [],
        "call_orders": [],
        "settle_orders": [],
        "proposals": proposals,
        "assets": assets,
        "withdraws": [],
    })
}

/// Every read-only database and history call.
fn query(state: &State, method: &str, args: &[Value]) -> Result<Value> {
    Ok(match method {
        "get_chain_id" => json!(hex::encode(state.chain_id())),
        "get_chain_properties" => chain_properties(state),
        "get_dynamic_global_properties" => state.dynamic_global_properties(),
        "get_global_properties" => state.global_properties(),
        "lookup_accounts" => {
            let lower = str_arg(args, 0, "lower_bound_name")?;
            let limit = u64_arg(args, 1, "limit", 0)?;
            if limit > 1000 {
                return Err(ChainError::Assert("limit <= 1000: ".into()));
            }
            let mut names: Vec<(&str, String)> =
                state.accounts().filter(|a| a.name.as_str() >= lower).map(|a| (a.name.as_str(), format!("1.2.{}", a.id.0))).collect();
            names.sort();
            json!(names.into_iter().take(limit as usize).map(|(n, id)| json!([n, id])).collect::<Vec<_>>())
        }
        "verify_authority" => {
            let st = cj::transaction(arg(args, 0, "trx")?).map_err(crate::error::Reject::Decode)?;
            crate::validate::check_signatures(state, &st)?;
            json!(true)
        }
        "get_potential_signatures" | "get_required_signatures" => {
            let st = cj::transaction(arg(args, 0, "trx")?).map_err(crate::error::Reject::Decode)?;
            let available = if method == "get_required_signatures" {
                let mut keys = Vec::new();
                for k in list_arg(args, 1, "available_keys")? {
                    keys.push(public_key_arg(k)?);
                }
                Some(keys)
            } else {
                None
            };
            json!(signature_keys(state, &st, available.as_deref()).iter().map(PublicKey::to_string).collect::<Vec<_>>())
        }
        // Addresses in the authorities (`address_auths`): the devnet's accounts have none.
        "get_potential_address_signatures" => {
            cj::transaction(arg(args, 0, "trx")?).map_err(crate::error::Reject::Decode)?;
            json!([])
        }
        "get_transaction" => {
            let num = u64_arg(args, 0, "block_num", 0)?;
            let trx = u64_arg(args, 1, "trx_in_block", 0)?;
            let block = u32::try_from(num).ok().and_then(|n| state.block(n)).ok_or_else(|| ChainError::Assert("opt_block: ".into()))?;
            if trx as usize >= block.transactions.len() {
                return Err(ChainError::Assert("opt_block->transactions.size() > trx_num: ".into()));
            }
            block.transaction_json(trx as usize)
        }
        "get_recent_transaction_by_id" => {
            let id_hex = str_arg(args, 0, "id")?;
            let mut id = [0u8; 20];
            hex::decode_to_slice(id_hex, &mut id).map_err(|_| ChainError::InvalidParams("id must be 40 hex digits".into()))?;
            match state.location(&id).and_then(|l| state.block(l.block_num).and_then(|b| b.transactions.get(l.trx_num as usize))) {
                Some(tx) if tx.expiration() >= state.head_time() => tx.to_json(),
                _ => Value::Null,
            }
        }
        "get_config" => json!({
            "GRAPHENE_SYMBOL": "CWD",
            "GRAPHENE_ADDRESS_PREFIX": "CWD",
            "GRAPHENE_MIN_ACCOUNT_NAME_LENGTH": crate::accounts::MIN_NAME_LENGTH,
            "GRAPHENE_MAX_ACCOUNT_NAME_LENGTH": crate::accounts::MAX_NAME_LENGTH,
            "GRAPHENE_MAX_SHARE_SUPPLY": write_i64(cwd_gateway::ops::MAX_SHARE_SUPPLY),
            "GRAPHENE_BLOCKCHAIN_PRECISION": 100000,
            "GRAPHENE_BLOCKCHAIN_PRECISION_DIGITS": 5,
            "GRAPHENE_DEFAULT_BLOCK_INTERVAL": state.config.block_interval,
            "GRAPHENE_DEFAULT_MAX_TIME_UNTIL_EXPIRATION": state.config.max_expiration,
            "GRAPHENE_100_PERCENT": 10000,
        }),
        "lookup_account_names" => {
            let names = list_arg(args, 0, "account_names")?;
            json!(names.iter().map(|n| n.as_str().and_then(|n| state.account_by_name(n)).map_or(Value::Null, |a| a.to_json())).collect::<Vec<_>>())
        }
        "get_account_by_name" => {
            let name = str_arg(args, 0, "name")?;
            state.account_by_name(name).map_or(Value::Null, |a| a.to_json())
        }
        "get_accounts" => {
            let mut out = Vec::new();
            for k in list_arg(args, 0, "account_names_or_ids")? {
                out.push(account_from_string(state, k)?.to_json());
            }
            json!(out)
        }
        "get_full_accounts" => {
            // A std::map: fc writes it as [[key, value], …], sorted by key.
            let mut out = std::collections::BTreeMap::new();
            for k in list_arg(args, 0, "names_or_ids")? {
                let a = account_from_string(state, k)?;
                out.insert(k.as_str().unwrap_or_default().to_string(), full_account(state, a));
            }
            json!(out.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>())
        }
        "get_account_count" => json!(state.accounts().count()),
        "get_key_references" => {
            let keys = list_arg(args, 0, "keys")?;
            let mut out = Vec::new();
            for k in keys {
                let key = public_key_arg(k)?;
                let ids: Vec<String> = state
                    .accounts()
                    .filter(|a| a.owner == key || a.active == key || a.memo == key)
                    .map(|a| format!("1.2.{}", a.id.0))
                    .collect();
                out.push(json!(ids));
            }
            json!(out)
        }
        // Accounts naming this one in their owner or active authority (account_auths,
        // account_member_index): the devnet's authorities are single keys.
        "get_account_references" => {
            account_from_string(state, arg(args, 0, "account_id_or_name")?)?;
            json!([])
        }
        // vesting_balance_objects (`1.13.N`) of the account: the devnet makes none.
        "get_vesting_balances" => {
            account_from_string(state, arg(args, 0, "account_id_or_name")?)?;
            json!([])
        }
        "get_objects" => {
            let ids = list_arg(args, 0, "ids")?;
            json!(ids.iter().map(|id| object(state, id.as_str().unwrap_or(""))).collect::<Vec<_>>())
        }
        "get_block_header" | "get_block" => {
            let num = u64_arg(args, 0, "block_num", 0)?;
            let block = u32::try_from(num).ok().and_then(|n| state.block(n));
            match block {
                None => Value::Null,
                Some(b) if method == "get_block" => b.to_json(),
                Some(b) => b.header_json(),
            }
        }
        "get_required_fees" => {
            let ops = list_arg(args, 0, "ops")?;
            let asset = asset_from_string(state, args.get(1).unwrap_or(&json!("1.3.0")))?;
            if asset.id != CORE_ASSET {
                return Err(ChainError::Assert(format!("fees can only be paid in CWD (1.3.0), not {}", asset.symbol)));
            }
            let mut out = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                let op = cj::operation(op, &format!("ops[{i}]")).map_err(|e| ChainError::InvalidParams(e.to_string()))?;
                out.push(asset_json(required_fee(&state.config.fees, &op)));
            }
            json!(out)
        }
        "get_account_balances" | "get_named_account_balances" => {
            let who = str_arg(args, 0, "account")?;
            let account = state.resolve(who).ok_or_else(|| ChainError::Assert("account: no such account".into()))?;
            // Like a node, balances include the pending transactions it has applied.
            let of = |asset: u64| {
                let id = cwd_gateway::ops::AssetId(asset);
                state.asset_balance(account.id, id) + state.pending_delta(account.id, id)
            };
            let amount = |asset: u64, v: i64| json!({ "amount": write_i64(v), "asset_id": format!("1.3.{asset}") });
            let assets = match args.get(1) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => return Err(ChainError::InvalidParams("assets must be an array".into())),
            };
            if assets.is_empty() {
                // Every balance object the account has (zero ones too), by asset, and
                // the assets pending transactions are about to give it.
                let mut held: Vec<u64> = state.balance_objects(account.id).into_keys().collect();
                held.extend(state.holdings_pending(account.id));
                held.sort();
                held.dedup();
                json!(held.into_iter().map(|a| amount(a, of(a))).collect::<Vec<_>>())
            } else {
                // A flat_set<asset_id_type>: ordered, each asset once.
                let mut ids = Vec::new();
                for a in &assets {
                    ids.push(cj::object_id(a, "assets", 1, 3).map_err(|e| ChainError::InvalidParams(e.to_string()))?);
                }
                ids.sort();
                ids.dedup();
                json!(ids.into_iter().map(|id| amount(id, of(id))).collect::<Vec<_>>())
            }
        }
        "get_transaction_hex" => {
            let st = cj::transaction(arg(args, 0, "trx")?).map_err(|e| ChainError::InvalidParams(e.to_string()))?;
            let mut bytes = st.tx.to_bytes();
            let mut w = cwd_gateway::ops::Writer::default();
            w.varint(st.signatures.len() as u64);
            bytes.extend_from_slice(&w.0);
            for s in &st.signatures {
                bytes.extend_from_slice(s);
            }
            json!(hex::encode(bytes))
        }
        "get_assets" => {
            let mut out = Vec::new();
            for a in list_arg(args, 0, "asset_symbols_or_ids")? {
                out.push(state.asset_info(asset_from_string(state, a)?.id).to_json());
            }
            json!(out)
        }
        "lookup_asset_symbols" => {
            let syms = list_arg(args, 0, "symbols_or_ids")?;
            json!(syms
                .iter()
                .map(|a| a.as_str().and_then(|k| state.resolve_asset(k)).map_or(Value::Null, |x| state.asset_info(x.id).to_json()))
                .collect::<Vec<_>>())
        }
        "get_account_history" => {
            let limit = limit_arg(state, args, 2)?;
            let who = str_arg(args, 0, "account_id_or_name")?;
            let stop = history_id_arg(args, 1, "stop")?;
            let start = history_id_arg(args, 3, "start")?;
            match state.resolve(who) {
                None => json!([]),
                Some(a) => json!(state.account_history(a.id, stop, limit, start).iter().map(|h| h.to_json()).collect::<Vec<_>>()),
            }
        }
        "get_account_history_operations" => {
            let who = str_arg(args, 0, "account_id_or_name")?;
            let op_type = u64_arg(args, 1, "operation_type", 0)?;
            let start = history_id_arg(args, 2, "start")?;
            let stop = history_id_arg(args, 3, "stop")?;
            let limit = limit_arg(state, args, 4)?;
            let start = if start == 0 { u64::MAX } else { start };
            match state.resolve(who) {
                None => json!([]),
                Some(a) => json!(state
                    .account_ops(a.id)
                    .iter()
                    .rev()
                    .take_while(|&&i| i > stop)
                    .filter(|&&i| i <= start)
                    .filter_map(|i| state.history_object(*i))
                    .filter(|h| h.op.which() == op_type)
                    .take(limit)
                    .map(|h| h.to_json())
                    .collect::<Vec<_>>()),
            }
        }
        "get_relative_account_history" => {
            let limit = limit_arg(state, args, 2)?;
            let who = str_arg(args, 0, "account_id_or_name")?;
            let stop = u64_arg(args, 1, "stop", 0)?;
            let start = u64_arg(args, 3, "start", 0)?;
            match state.resolve(who) {
                None => json!([]),
                Some(a) => json!(state
                    .relative_account_history(a.id, stop, limit, start)
                    .iter()
                    .map(|h| h.to_json())
                    .collect::<Vec<_>>()),
            }
        }
        // Served by the WebSocket session (websocket.rs); a plain HTTP request has no
        // connection to call back on.
        "set_block_applied_callback" | "set_subscribe_callback" | "cancel_all_subscriptions" => {
            return Err(ChainError::Assert(format!("{method}: notifications need a WebSocket connection")))
        }
        other => return Err(ChainError::MethodNotFound { api: "database".into(), method: other.into() }),
    })
}

/// `2.11.0`, chain_property_object.
fn chain_properties(state: &State) -> Value {
    json!({
        "id": "2.11.0",
        "chain_id": hex::encode(state.chain_id()),
        "immutable_parameters": { "min_committee_member_count": 11, "min_witness_count": 11, "num_special_accounts": 0, "num_special_assets": 0 },
    })
}

/// `get_objects` for one id: what this node keeps, null for the rest.
pub(crate) fn object(state: &State, id: &str) -> Value {
    let parts: Vec<&str> = id.split('.').collect();
    let [space, kind, n] = parts.as_slice() else { return Value::Null };
    let Ok(n) = n.parse::<u64>() else { return Value::Null };
    match (*space, *kind) {
        ("2", "0") if n == 0 => state.global_properties(),
        ("2", "1") if n == 0 => state.dynamic_global_properties(),
        ("2", "8") => state.block_summary(n).unwrap_or(Value::Null),
        ("2", "11") if n == 0 => chain_properties(state),
        ("1", "2") => state.account(AccountId(n)).map_or(Value::Null, |a| a.to_json()),
        ("2", "5") => state.balance_object_json(n).unwrap_or(Value::Null),
        ("2", "6") => state.account(AccountId(n)).map_or(Value::Null, |a| state.statistics(a)),
        ("2", "9") => state.account_history_entry_json(n).unwrap_or(Value::Null),
        ("1", "11") => state.history_object(n).map_or(Value::Null, |h| h.to_json()),
        ("1", "3") => state.asset(AssetId(n)).map_or(Value::Null, |a| state.asset_info(a.id).to_json()),
        ("2", "3") => state.asset(AssetId(n)).map_or(Value::Null, |a| state.asset_info(a.id).dynamic_json()),
        ("1", "10") => state.proposal(n).map_or(Value::Null, |p| p.to_json()),
        _ => Value::Null,
    }
}

