//! A WebSocket connection to the node, as fc's websocket_api serves one: JSON-RPC
//! requests with this connection's own API ids ([`crate::rpc::Session`]), and the
//! notifications wallets use, written as `{"method":"notice","params":[callback,[…]]}`
//! (fc websocket_api.cpp `send_notice`), each sent after a block:
//!
//! - `set_block_applied_callback` (database_api.cpp `on_applied_block`): the id of every
//!   block applied since, the blocks of a new branch after a reorganisation included;
//! - `broadcast_transaction_with_callback` (api.cpp `network_broadcast_api::
//!   on_applied_block`): `[cb, [{id, block_num, trx_num, trx}]]` when a block holds the
//!   transaction. As in crowdwiz-core the callback stays registered (a transaction
//!   included again after a reorganisation is told again) until the transaction has
//!   expired and can never be included;
//! - `set_subscribe_callback(cb, notify_remove_create)` (database_api.cpp
//!   `handle_object_changed`): what each block created, changed and removed
//!   ([`crate::objects`]), filtered by what this connection subscribed to: the accounts of
//!   `get_full_accounts(…, true)` (at most 100) and the objects it read with `get_objects`
//!   (not `1.11.N` nor `2.9.N`), `get_accounts` and `get_assets` afterwards. A subscribed
//!   object the devnet changed outside a block (the control API's `issue`) comes with the
//!   next block.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use crate::node::{Confirmation, Node};
use crate::objects::{self, ObjectList};
use crate::rpc::{self, Session};
use crate::state::State;

/// Largest message accepted (a transaction is far smaller).
const MAX_MESSAGE: usize = 1 << 20;
/// database_api.cpp `get_full_accounts`: `if(_subscribed_accounts.size() < 100)`.
const MAX_SUBSCRIBED_ACCOUNTS: usize = 100;
/// Block ids remembered to find where a new branch starts.
const SEEN_BLOCKS: usize = 1024;

#[derive(Default)]
struct Subscriptions {
    block_cb: Option<Value>,
    subscribe_cb: Option<Value>,
    /// `set_subscribe_callback`'s second argument: every new and removed object.
    notify_remove_create: bool,
    /// database_api_impl::_subscribed_accounts (kept even before a callback is set, and
    /// cleared by `set_subscribe_callback`, as there).
    accounts: BTreeSet<u64>,
    /// Subscribed object id → the JSON last sent (or read).
    objects: BTreeMap<String, Value>,
    /// network_broadcast_api::_callbacks: transaction id → (callback, expiration).
    confirmations: HashMap<[u8; 20], (Value, u32)>,
    /// Blocks this connection has been told about: number → id (the newest ones).
    seen: BTreeMap<u32, String>,
}

impl Subscriptions {
    fn wants_blocks(&self) -> bool {
        self.block_cb.is_some() || self.subscribe_cb.is_some() || !self.confirmations.is_empty()
    }
}

/// Serves one upgraded connection until it closes or the devnet stops.
pub fn serve(node: &Node, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let config = tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let Ok(mut ws) = tungstenite::accept_with_config(stream, Some(config)) else { return };
    let _ = ws.get_ref().set_read_timeout(Some(Duration::from_millis(50)));
    let mut session = Session::default();
    let mut subs = Subscriptions::default();
    while !node.is_stopping() {
        match ws.read() {
            Ok(Message::Text(text)) => {
                let reply = answer(node, &mut session, &mut subs, text.as_str());
                if ws.send(Message::text(reply.to_string())).is_err() {
                    return;
                }
            }
            Ok(Message::Binary(bytes)) => {
                let reply = answer(node, &mut session, &mut subs, &String::from_utf8_lossy(&bytes));
                if ws.send(Message::text(reply.to_string())).is_err() {
                    return;
                }
            }
            Ok(Message::Close(_)) => {
                let _ = ws.flush();
                return;
            }
            Ok(_) => {
                // Ping/pong: tungstenite queues the pong; send it.
                let _ = ws.flush();
            }
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        if notify(node, &mut ws, &mut subs).is_err() {
            return;
        }
    }
    let _ = ws.close(None);
    let _ = ws.flush();
}

fn answer(node: &Node, session: &mut Session, subs: &mut Subscriptions, text: &str) -> Value {
    let request: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return rpc::respond(Value::Null, Err(crate::error::ChainError::Parse(e.to_string()))),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let mut probe = session.clone();
    let parsed = rpc::parse_call(&mut probe, &request).ok();
    if let Some((api, method, args)) = &parsed {
        match (*api, method.as_str()) {
            ("database", "set_block_applied_callback") => {
                subs.block_cb = Some(args.first().cloned().unwrap_or(Value::Null));
                start_watching(node, subs);
                return rpc::respond(id, Ok(Value::Null));
            }
            ("database", "set_subscribe_callback") => {
                // cancel_all_subscriptions(false, false), then the new callback.
                subs.accounts.clear();
                subs.objects.clear();
                subs.subscribe_cb = Some(args.first().cloned().unwrap_or(Value::Null));
                subs.notify_remove_create = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                start_watching(node, subs);
                return rpc::respond(id, Ok(Value::Null));
            }
            ("database", "cancel_all_subscriptions") => {
                // The object subscriptions only: block and broadcast callbacks stay.
                subs.subscribe_cb = None;
                subs.notify_remove_create = false;
                subs.accounts.clear();
                subs.objects.clear();
                return rpc::respond(id, Ok(Value::Null));
            }
            ("network_broadcast", "broadcast_transaction_with_callback") => {
                // Registered before the transaction is pushed, as api.cpp does: a push
                // that fails leaves it registered.
                if let (Some(cb), Some(Ok(st))) = (args.first(), args.get(1).map(cwd_gateway::json::transaction)) {
                    start_watching(node, subs);
                    subs.confirmations.insert(st.tx.id(), (cb.clone(), st.tx.expiration));
                }
            }
            _ => {}
        }
    }
    let reply = rpc::handle_in(node, session, &request);
    if let Some((api, method, args)) = &parsed {
        remember(api, method, args, &reply, subs);
    }
    reply
}

/// From now on, blocks after the current head are news to this connection.
fn start_watching(node: &Node, subs: &mut Subscriptions) {
    if subs.seen.is_empty() {
        let (num, id) = head(node);
        subs.seen.insert(num, id);
    }
}

/// What a call subscribed this connection to (database_api.cpp `subscribe_to_item` in
/// `get_objects`, `get_accounts`, `get_assets`; `get_full_accounts` with `subscribe`).
fn remember(api: &str, method: &str, args: &[Value], reply: &Value, subs: &mut Subscriptions) {
    if api != "database" {
        return;
    }
    let result = &reply["result"];
    if method == "get_full_accounts" && args.get(1).and_then(Value::as_bool) == Some(true) {
        for pair in result.as_array().into_iter().flatten() {
            let account = &pair[1]["account"];
            let Some(n) = account["id"].as_str().and_then(|i| i.strip_prefix("1.2.")).and_then(|n| n.parse().ok()) else { continue };
            if subs.accounts.len() < MAX_SUBSCRIBED_ACCOUNTS {
                subs.accounts.insert(n);
                if subs.subscribe_cb.is_some() {
                    subs.objects.insert(format!("1.2.{n}"), account.clone());
                }
            }
        }
        return;
    }
    if subs.subscribe_cb.is_none() || !matches!(method, "get_objects" | "get_accounts" | "get_assets") {
        return;
    }
    for obj in result.as_array().into_iter().flatten() {
        if let Some(id) = obj["id"].as_str() {
            // get_objects leaves operation history (1.11.N) and account history (2.9.N) out.
            if method == "get_objects" && (id.starts_with("1.11.") || id.starts_with("2.9.")) {
                continue;
            }
            subs.objects.insert(id.to_string(), obj.clone());
        }
    }
}

fn head(node: &Node) -> (u32, String) {
    let s = node.lock();
    (s.head_num(), s.head().id_hex())
}

fn notice(callback: &Value, args: Value) -> Message {
    Message::text(json!({ "method": "notice", "params": [callback, args] }).to_string())
}

/// After new blocks: for each, the block notice, the broadcast callbacks of its
/// transactions, and the object notices (new, changed, removed: three notices, as the node
/// sends them); then subscribed objects changed outside any block.
fn notify(node: &Node, ws: &mut WebSocket<TcpStream>, subs: &mut Subscriptions) -> tungstenite::Result<()> {
    if !subs.wants_blocks() {
        // Nothing to tell: the next callback starts from the head of its time.
        subs.seen.clear();
        return Ok(());
    }
    let messages = {
        let state = node.lock();
        news(&state, subs)
    };
    for m in messages {
        ws.send(m)?;
    }
    Ok(())
}

fn news(state: &State, subs: &mut Subscriptions) -> Vec<Message> {
    let head = state.head_num();
    let head_id = state.head().id_hex();
    if subs.seen.get(&head) == Some(&head_id) && subs.seen.keys().next_back() == Some(&head) {
        return Vec::new();
    }
    // The newest block this connection saw that is still in the chain.
    let fork = subs
        .seen
        .iter()
        .rev()
        .find(|(n, id)| **n <= head && state.block(**n).is_some_and(|b| &b.id_hex() == *id))
        .map_or(head.saturating_sub(1), |(n, _)| *n);
    subs.seen.retain(|n, _| *n <= fork);
    let mut out = Vec::new();
    let mut sent = BTreeSet::new();
    for num in fork + 1..=head {
        let Some(block) = state.block(num) else { continue };
        subs.seen.insert(num, block.id_hex());
        if let Some(cb) = &subs.block_cb {
            out.push(notice(cb, json!([block.id_hex()])));
        }
        for (i, tx) in block.transactions.iter().enumerate() {
            if let Some((cb, _)) = subs.confirmations.get(&tx.id()) {
                let c = Confirmation { id: hex::encode(tx.id()), block_num: num, trx_num: i as u32, trx: block.transaction_json(i) };
                out.push(notice(cb, json!([c.to_json()])));
            }
        }
        if let Some(cb) = subs.subscribe_cb.clone() {
            let changes = objects::block_changes(state, num);
            for (list, forced, whole) in [
                (&changes.new, subs.notify_remove_create, true),
                (&changes.changed, false, true),
                (&changes.removed, subs.notify_remove_create, false),
            ] {
                let updates = object_updates(state, subs, list, forced, whole, &mut sent);
                if !updates.is_empty() {
                    out.push(notice(&cb, json!([updates])));
                }
            }
        }
    }
    while subs.seen.len() > SEEN_BLOCKS {
        subs.seen.pop_first();
    }
    let time = state.head_time();
    subs.confirmations.retain(|_, (_, expiration)| *expiration >= time);
    if let Some(cb) = &subs.subscribe_cb {
        // Subscribed objects the lists did not name but that changed (outside a block).
        let mut changed = Vec::new();
        for (id, last) in subs.objects.iter_mut() {
            if sent.contains(id) {
                continue;
            }
            let now = rpc::object(state, id);
            if !now.is_null() && &now != last {
                *last = now.clone();
                changed.push(now);
            }
        }
        if !changed.is_empty() {
            out.push(notice(cb, json!([changed])));
        }
    }
    out
}

/// database_api.cpp `handle_object_changed`: every id of the list when `forced` or when
/// the list concerns a subscribed account, else the subscribed ids; objects as `get_objects`
/// gives them (`whole`), or ids (removed objects).
fn object_updates(state: &State, subs: &mut Subscriptions, list: &ObjectList, forced: bool, whole: bool, sent: &mut BTreeSet<String>) -> Vec<Value> {
    let impacted = list.accounts.iter().any(|a| subs.accounts.contains(a));
    let mut updates = Vec::new();
    for id in list.ids.iter().map(objects::ObjectId::text) {
        let subscribed = subs.objects.contains_key(&id);
        if !(forced || impacted || subscribed) {
            continue;
        }
        if !whole {
            subs.objects.remove(&id);
            updates.push(json!(id));
            continue;
        }
        let obj = rpc::object(state, &id);
        if obj.is_null() {
            continue;
        }
        if subscribed {
            subs.objects.insert(id.clone(), obj.clone());
        }
        sent.insert(id);
        updates.push(obj);
    }
    updates
}
