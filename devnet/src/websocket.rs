//! A WebSocket connection to the node, as fc's websocket_api serves one: JSON-RPC
//! requests with this connection's own API ids ([`crate::rpc::Session`]), and the
//! notifications wallets use, written as `{"method":"notice","params":[callback,[…]]}`
//! (database_api.cpp): `set_block_applied_callback` (the new head block's id after each
//! block) and `set_subscribe_callback` (objects read with `get_objects` since, sent
//! again whenever they change).

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use crate::node::Node;
use crate::rpc::{self, Session};

/// Largest message accepted (a transaction is far smaller).
const MAX_MESSAGE: usize = 1 << 20;

#[derive(Default)]
struct Subscriptions {
    block_cb: Option<Value>,
    subscribe_cb: Option<Value>,
    /// Object id → the JSON last sent (or read).
    objects: BTreeMap<String, Value>,
    /// Head block id when notices were last considered.
    last_head: Option<(u32, String)>,
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
    if let Ok(("database", method, args)) = rpc::parse_call(&mut probe, &request) {
        match method.as_str() {
            "set_block_applied_callback" => {
                subs.block_cb = Some(args.first().cloned().unwrap_or(Value::Null));
                subs.last_head = Some(head(node));
                return rpc::respond(id, Ok(Value::Null));
            }
            "set_subscribe_callback" => {
                subs.subscribe_cb = Some(args.first().cloned().unwrap_or(Value::Null));
                subs.objects.clear();
                subs.last_head.get_or_insert_with(|| head(node));
                return rpc::respond(id, Ok(Value::Null));
            }
            "cancel_all_subscriptions" => {
                *subs = Subscriptions::default();
                return rpc::respond(id, Ok(Value::Null));
            }
            _ => {}
        }
    }
    let reply = rpc::handle_in(node, session, &request);
    if subs.subscribe_cb.is_some() {
        remember_objects(&request, &reply, subs);
    }
    reply
}

/// Objects a `get_objects` answer carried become subscribed (database_api.cpp
/// `subscribe_to_item`).
fn remember_objects(request: &Value, reply: &Value, subs: &mut Subscriptions) {
    let params = &request["params"];
    if params.get(1).and_then(Value::as_str) != Some("get_objects") {
        return;
    }
    for obj in reply["result"].as_array().into_iter().flatten() {
        if let Some(id) = obj["id"].as_str() {
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

/// After a new head block: the block notice, then the subscribed objects that changed.
fn notify(node: &Node, ws: &mut WebSocket<TcpStream>, subs: &mut Subscriptions) -> tungstenite::Result<()> {
    let Some(last) = subs.last_head.clone() else { return Ok(()) };
    let now = head(node);
    if now.1 == last.1 {
        return Ok(());
    }
    subs.last_head = Some(now.clone());
    if let Some(cb) = &subs.block_cb {
        // One notice per block applied since (the newest only after a reorganisation).
        let ids: Vec<String> = {
            let s = node.lock();
            let from = if now.0 > last.0 { last.0 + 1 } else { now.0 };
            (from..=now.0).filter_map(|n| s.block(n).map(|b| b.id_hex())).collect()
        };
        for id in ids {
            ws.send(notice(cb, json!([id])))?;
        }
    }
    if let Some(cb) = &subs.subscribe_cb {
        // Read from the state, not through a call: fault rules are for the client's calls.
        let fresh: Vec<Value> = {
            let s = node.lock();
            subs.objects.keys().map(|id| rpc::object(&s, id)).collect()
        };
        let mut changed = Vec::new();
        for obj in &fresh {
            if let Some(id) = obj["id"].as_str() {
                if subs.objects.get(id) != Some(obj) {
                    subs.objects.insert(id.to_string(), obj.clone());
                    changed.push(obj.clone());
                }
            }
        }
        if !changed.is_empty() {
            ws.send(notice(cb, json!([changed])))?;
        }
    }
    Ok(())
}
