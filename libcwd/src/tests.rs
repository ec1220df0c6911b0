//! The C ABI called as C calls it (raw pointers, NUL-terminated texts), against an
//! in-process devnet: calls from 8 threads at once, exactly once; a store callback that
//! fails, panics or answers nonsense; bad input at every door; the header against the
//! OpenAPI document.

use std::collections::BTreeSet;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use cwd_gateway_host::store::{contract, MemoryStore, Precondition, Store, Write};
use serde_json::{json, Value};

use super::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The library's text, freed.
fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string();
    unsafe { cwd_string_free(p) };
    s
}

fn json_of(p: *mut c_char) -> Value {
    serde_json::from_str(&take(p)).unwrap()
}

struct Chain {
    devnet: *mut Devnet,
    info: Value,
}

impl Drop for Chain {
    fn drop(&mut self) {
        unsafe { cwd_devnet_free(self.devnet) };
    }
}

fn chain() -> Chain {
    let mut devnet = std::ptr::null_mut();
    let mut info = std::ptr::null_mut();
    let options = c(r#"{"block_ms": 100, "irreversible_lag": 2, "accounts": {"game-gateway": 1000, "alice-cwd": 500}}"#);
    assert_eq!(unsafe { cwd_devnet_start(options.as_ptr(), &mut devnet, &mut info) }, CWD_OK);
    Chain { devnet, info: json_of(info) }
}

fn config(chain: &Chain, store: &str) -> String {
    format!(
        "[gateway]\naccount = \"game-gateway\"\nchain_id = \"{}\"\ntick_interval_ms = 200\n[node]\nurls = [\"{}\"]\n[rates]\ndeposit = {{ game_units = 90, per_cwd_units = 100000 }}\nwithdrawal = {{ game_units = 100, per_cwd_units = 100000 }}\n[store]\npath = \"{store}\"\n[link]\npow_bits = 0\n",
        chain.info["chain_id"].as_str().unwrap(),
        chain.info["url"].as_str().unwrap()
    )
}

fn keys(chain: &Chain) -> String {
    let g = &chain.info["accounts"]["game-gateway"];
    format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", g["active_wif"].as_str().unwrap(), g["memo_wif"].as_str().unwrap())
}

fn new_gateway(config: &str, keys: &str, store: Option<&StoreCallbacks>) -> Result<*mut Gateway, (i32, Value)> {
    let (config, keys) = (c(config), c(keys));
    let mut gw = std::ptr::null_mut();
    let mut error = std::ptr::null_mut();
    let status = unsafe { cwd_gateway_new(config.as_ptr(), keys.as_ptr(), store.map_or(std::ptr::null(), |s| s as *const _), &mut gw, &mut error) };
    if status == CWD_OK {
        assert!(error.is_null());
        Ok(gw)
    } else {
        assert!(gw.is_null());
        Err((status, json_of(error)))
    }
}

fn call(gw: *const Gateway, function: &str, args: Value) -> Result<Value, (i32, Value)> {
    let (function, args) = (c(function), c(&args.to_string()));
    let mut out = std::ptr::null_mut();
    let status = unsafe { cwd_gateway_call(gw, function.as_ptr(), args.as_ptr(), &mut out) };
    let answer = json_of(out);
    if status == CWD_OK {
        Ok(answer)
    } else {
        Err((status, answer))
    }
}

fn temp_db(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("libcwd-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path.display().to_string()
}

/// A gateway handle shared by threads, as a C program shares its pointer.
#[derive(Clone, Copy)]
struct Shared(*const Gateway);
unsafe impl Send for Shared {}

unsafe extern "C-unwind" fn count_event(user_data: *mut c_void, event: *const c_char) {
    let seen = &*(user_data as *const Mutex<Vec<Value>>);
    seen.lock().unwrap().push(serde_json::from_str(CStr::from_ptr(event).to_str().unwrap()).unwrap());
}

#[test]
fn eight_threads_at_once_apply_each_change_exactly_once() {
    let chain = chain();
    let gw = new_gateway(&config(&chain, &temp_db("threads")), &keys(&chain), None).unwrap();
    let events: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    assert_eq!(unsafe { cwd_gateway_set_event_callback(gw, Some(count_event), &events as *const _ as *mut c_void) }, CWD_OK);
    // Every thread sends the same 100 changes (25 to each of 4 players), in its own order.
    let shared = Shared(gw);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let shared = shared;
                for i in 0..100u64 {
                    let j = (i * 7 + t * 13) % 100;
                    let answer = call(shared.0, "adjust-balance", json!({ "user": format!("player-{}", j % 4), "delta": 1 + j % 3, "idempotency_key": format!("change-{j}"), "reason": "match" }));
                    assert!(answer.is_ok(), "{answer:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for p in 0..4u64 {
        let expected: u64 = (0..100u64).filter(|j| j % 4 == p).map(|j| 1 + j % 3).sum();
        assert_eq!(call(gw, "account", json!({ "user": format!("player-{p}") })).unwrap()["balance"], expected, "player-{p}");
    }
    let adjusted: Vec<Value> = events.lock().unwrap().iter().filter(|e| e["type"] == "balance-adjusted").cloned().collect();
    let keys: BTreeSet<&str> = adjusted.iter().map(|e| e["idempotency_key"].as_str().unwrap()).collect();
    assert_eq!((adjusted.len(), keys.len()), (100, 100), "one event per change, none twice");
    unsafe { cwd_gateway_free(gw) };
}

/// The game's store: a memory store behind the JSON callback, told how to misbehave.
struct GameStore {
    inner: MemoryStore,
    /// 0 answers, 1 fails, 2 panics, 3 answers nonsense.
    mode: AtomicU8,
}

fn answer(store: &MemoryStore, request: &Value) -> Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let entry = |e: cwd_gateway_host::store::Entry| json!({ "key": e.key, "value": b64.encode(&e.value), "version": e.version });
    let s = |k: &str| request[k].as_str().map(str::to_string);
    match request["op"].as_str().unwrap() {
        "get" => json!({ "entry": store.get(&s("key").unwrap()).unwrap().map(entry) }),
        "scan" => json!({ "entries": store.scan(&s("prefix").unwrap(), s("start_after").as_deref(), request["limit"].as_u64().unwrap() as u32).unwrap().into_iter().map(entry).collect::<Vec<_>>() }),
        "scan_reverse" => json!({ "entries": store.scan_reverse(&s("prefix").unwrap(), s("start_before").as_deref(), request["limit"].as_u64().unwrap() as u32).unwrap().into_iter().map(entry).collect::<Vec<_>>() }),
        "commit" => {
            let pre: Vec<Precondition> = request["preconditions"].as_array().unwrap().iter().map(|p| Precondition { key: p["key"].as_str().unwrap().into(), expected_version: p["expected_version"].as_u64() }).collect();
            let writes: Vec<Write> = request["writes"].as_array().unwrap().iter().map(|w| Write { key: w["key"].as_str().unwrap().into(), value: w["value"].as_str().map(|v| b64.decode(v).unwrap()) }).collect();
            let outcome = store.commit(&pre, &writes).unwrap();
            json!({ "outcome": if outcome == cwd_gateway_host::store::CommitOutcome::Committed { "committed" } else { "conflict" } })
        }
        other => panic!("unknown op {other}"),
    }
}

unsafe extern "C-unwind" fn game_store(user_data: *mut c_void, request: *const c_char, response: *mut Buffer) -> i32 {
    let store = &*(user_data as *const GameStore);
    let reply = |text: &str| cwd_buffer_set(response, text.as_ptr().cast(), text.len());
    match store.mode.load(Ordering::Relaxed) {
        1 => {
            reply("the game's database is down");
            return 7;
        }
        2 => panic!("the game's store threw"),
        3 => {
            reply(r#"{"entries": 5, "entry": {"key": 1}}"#);
            return 0;
        }
        _ => {}
    }
    let request: Value = serde_json::from_str(CStr::from_ptr(request).to_str().unwrap()).unwrap();
    reply(&answer(&store.inner, &request).to_string());
    0
}

#[test]
fn the_callback_store_keeps_the_store_contract() {
    let game = GameStore { inner: MemoryStore::new(), mode: AtomicU8::new(0) };
    let store = crate::store::CallbackStore::new(StoreCallbacks { call: Some(game_store), user_data: &game as *const _ as *mut c_void }).unwrap();
    contract::check(&store);
}

#[test]
fn a_store_callback_that_fails_panics_or_talks_nonsense_gives_an_error_and_the_next_call_works() {
    let chain = chain();
    let game = GameStore { inner: MemoryStore::new(), mode: AtomicU8::new(0) };
    let callbacks = StoreCallbacks { call: Some(game_store), user_data: &game as *const _ as *mut c_void };
    let gw = new_gateway(&config(&chain, "unused.db"), &keys(&chain), Some(&callbacks)).unwrap();
    call(gw, "adjust-balance", json!({ "user": "kim", "delta": 5, "idempotency_key": "k0", "reason": "start" })).unwrap();
    for (mode, what) in [(1, "fails"), (2, "panics"), (3, "answers nonsense")] {
        game.mode.store(mode, Ordering::Relaxed);
        let (status, e) = call(gw, "adjust-balance", json!({ "user": "kim", "delta": 1, "idempotency_key": format!("k{mode}"), "reason": what })).unwrap_err();
        assert_eq!((status, e["error"]["code"].as_str(), e["status"].as_u64()), (CWD_ERR_GATEWAY, Some("store-unavailable"), Some(503)), "a store that {what}: {e}");
        game.mode.store(0, Ordering::Relaxed);
        // The same change again, now that the store answers: applied once.
        call(gw, "adjust-balance", json!({ "user": "kim", "delta": 1, "idempotency_key": format!("k{mode}"), "reason": what })).unwrap();
    }
    assert_eq!(call(gw, "account", json!({ "user": "kim" })).unwrap()["balance"], 8);
    unsafe { cwd_gateway_free(gw) };
}

#[test]
fn bad_input_at_every_door_is_refused_with_a_status_and_a_json_error() {
    let chain = chain();
    let gw = new_gateway(&config(&chain, ":memory:"), &keys(&chain), None).unwrap();
    let mut out = std::ptr::null_mut();
    let f = c("account");
    // NULL handle, NULL or non-UTF-8 texts, text that is not JSON, an unknown function.
    assert_eq!(unsafe { cwd_gateway_call(std::ptr::null(), f.as_ptr(), c("{}").as_ptr(), &mut out) }, CWD_ERR_INVALID_ARGUMENT);
    assert_eq!(json_of(out)["error"]["message"], "gw is NULL");
    assert_eq!(unsafe { cwd_gateway_call(gw, std::ptr::null(), c("{}").as_ptr(), &mut out) }, CWD_ERR_INVALID_ARGUMENT);
    take(out);
    let latin1 = [0xe9u8, 0];
    assert_eq!(unsafe { cwd_gateway_call(gw, latin1.as_ptr().cast(), c("{}").as_ptr(), &mut out) }, CWD_ERR_INVALID_ARGUMENT);
    assert_eq!(json_of(out)["error"]["message"], "function is not UTF-8");
    assert_eq!(call(gw, "account", json!([1])).unwrap_err().0, CWD_ERR_INVALID_ARGUMENT);
    let (status, e) = call(gw, "format-disk", json!({})).unwrap_err();
    assert_eq!((status, e["error"]["code"].as_str()), (CWD_ERR_INVALID_ARGUMENT, Some("unknown-call")), "{e}");
    assert_eq!(unsafe { cwd_gateway_call(gw, f.as_ptr(), c("{user:").as_ptr(), &mut out) }, CWD_ERR_INVALID_ARGUMENT);
    assert!(take(out).contains("not JSON"));
    // The gateway's own refusals carry the HTTP API's code and status.
    let (status, e) = call(gw, "adjust-balance", json!({ "user": "kim", "delta": -5, "idempotency_key": "k", "reason": "r" })).unwrap_err();
    assert_eq!((status, e["error"]["code"].as_str(), e["status"].as_u64()), (CWD_ERR_GATEWAY, Some("insufficient-balance"), Some(422)), "{e}");
    assert_eq!(unsafe { cwd_gateway_set_event_callback(std::ptr::null(), None, std::ptr::null_mut()) }, CWD_ERR_INVALID_ARGUMENT);
    assert_eq!(unsafe { cwd_gateway_start_timer(std::ptr::null()) }, CWD_ERR_INVALID_ARGUMENT);
    // A configuration refused, keys that are not the account's, a node that is not there:
    // each its status, the message saying what to change and never quoting a key.
    let (status, e) = new_gateway("[gateway]\naccount = 5\n", &keys(&chain), None).unwrap_err();
    assert_eq!(status, CWD_ERR_CONFIG, "{e}");
    let (status, e) = new_gateway(&config(&chain, ":memory:"), "active_wif = 1", None).unwrap_err();
    assert_eq!(status, CWD_ERR_CONFIG, "{e}");
    let alice = &chain.info["accounts"]["alice-cwd"];
    let wrong = format!("active_wif = \"{}\"\nmemo_wif = \"{}\"\n", alice["active_wif"].as_str().unwrap(), alice["memo_wif"].as_str().unwrap());
    let (status, e) = new_gateway(&config(&chain, ":memory:"), &wrong, None).unwrap_err();
    assert_eq!(status, CWD_ERR_HOST, "{e}");
    assert!(!e.to_string().contains(alice["active_wif"].as_str().unwrap()), "{e}");
    let nowhere = config(&chain, ":memory:").replace(chain.info["url"].as_str().unwrap(), "http://127.0.0.1:9");
    assert_eq!(new_gateway(&nowhere, &keys(&chain), None).unwrap_err().0, CWD_ERR_HOST);
    let mut devnet = std::ptr::null_mut();
    assert_eq!(unsafe { cwd_devnet_start(c(r#"{"blocks": 1}"#).as_ptr(), &mut devnet, &mut out) }, CWD_ERR_INVALID_ARGUMENT);
    assert!(devnet.is_null());
    assert!(take(out).contains("unknown devnet option"));
    unsafe { cwd_gateway_free(gw) };
    unsafe { cwd_gateway_free(std::ptr::null_mut()) };
    unsafe { cwd_string_free(std::ptr::null_mut()) };
}

#[test]
fn the_header_declares_what_the_library_exports_and_the_openapi_calls() {
    let header = include_str!("../include/cwd_gateway.h");
    let listed: BTreeSet<&str> = header.lines().filter_map(|l| l.trim().strip_prefix("X(")?.split('"').nth(1)).collect();
    let api: BTreeSet<&str> = cwd_gateway_host::openapi::CALLS.iter().map(|c| c.name).collect();
    assert_eq!(listed, api, "CWD_FUNCTIONS in cwd_gateway.h and the OpenAPI document's calls differ");
    for c in cwd_gateway_host::openapi::CALLS {
        let ident = c.name.replace('-', "_");
        assert!(header.contains(&format!("X({ident}, \"{}\")", c.name)), "{}", c.name);
    }
    let source = include_str!("lib.rs");
    // Every `cwd_name(` in the header (declarations, and calls in its comments).
    let mut declared = BTreeSet::new();
    for (i, _) in header.match_indices("cwd_") {
        if header[..i].ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_') {
            continue;
        }
        let rest = &header[i..];
        let end = rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(rest.len());
        if rest[end..].starts_with('(') {
            declared.insert(rest[..end].to_string());
        }
    }
    let exported: BTreeSet<String> = source.lines().filter_map(|l| l.split("extern \"C\" fn ").nth(1)).map(|r| r.split('(').next().unwrap().to_string()).collect();
    assert_eq!(declared, exported, "the header's functions and the library's exports differ");
    assert!(unsafe { CStr::from_ptr(cwd_version()) }.to_str().unwrap().starts_with(env!("CARGO_PKG_VERSION")));
}
