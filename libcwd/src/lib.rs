//! libcwd_gateway: the reference host as a native library with a C ABI
//! (`include/cwd_gateway.h` is the contract; `README.md` the rules). Every exported
//! function checks its pointers, turns every failure into a status and a JSON error, and
//! catches panics at the boundary. Nothing here is global: each handle owns its runtime,
//! store, nodes, timer and callbacks.

mod devnet;
mod gateway;
mod store;
#[cfg(test)]
mod tests;

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value};

pub use devnet::Devnet;
pub use gateway::Gateway;
pub use store::Buffer;

pub const CWD_OK: i32 = 0;
pub const CWD_ERR_INVALID_ARGUMENT: i32 = 1;
pub const CWD_ERR_CONFIG: i32 = 2;
pub const CWD_ERR_GATEWAY: i32 = 3;
pub const CWD_ERR_HOST: i32 = 4;
pub const CWD_ERR_PANIC: i32 = 5;

/// `typedef void (*cwd_event_fn)(void *user_data, const char *event_json)`. "C-unwind":
/// a callback written in Rust that panics is caught here rather than aborting.
pub type EventFn = unsafe extern "C-unwind" fn(*mut c_void, *const c_char);

/// `typedef int32_t (*cwd_store_fn)(void *, const char *, cwd_buffer *)`.
pub type StoreFn = unsafe extern "C-unwind" fn(*mut c_void, *const c_char, *mut Buffer) -> i32;

/// `cwd_store`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StoreCallbacks {
    pub call: Option<StoreFn>,
    pub user_data: *mut c_void,
}

/// A status and its JSON error.
#[derive(Debug)]
pub(crate) struct Failure(pub i32, pub Value);

impl Failure {
    pub(crate) fn new(status: i32, code: &str, message: impl Into<String>) -> Failure {
        Failure(status, json!({ "error": { "code": code, "message": message.into() } }))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(CWD_ERR_INVALID_ARGUMENT, "invalid-argument", message)
    }
}

/// Borrowed UTF-8 text from the caller.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    CStr::from_ptr(ptr).to_str().map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// Text handed to the caller (freed with `cwd_string_free`).
fn give(text: String) -> *mut c_char {
    // JSON text never holds a NUL byte (it would be escaped); strip one defensively.
    CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|b| *b != 0);
        CString::new(bytes).expect("no NUL left")
    })
    .into_raw()
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
    format!("a bug in libcwd_gateway (please report it): {}", what.unwrap_or_else(|| "panic".into()))
}

/// Runs `f` at the boundary: its answer or error goes to `*out` (when `out` is not NULL),
/// and a panic becomes `CWD_ERR_PANIC`.
pub(crate) fn boundary(out: *mut *mut c_char, f: impl FnOnce() -> Result<Value, Failure>) -> i32 {
    let (status, value) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => (CWD_OK, v),
        Ok(Err(Failure(status, v))) => (status, v),
        Err(panic) => (CWD_ERR_PANIC, json!({ "error": { "code": "panic", "message": panic_message(panic) } })),
    };
    if !out.is_null() {
        // SAFETY: the caller passes a pointer to a `char *` it owns.
        unsafe { *out = give(value.to_string()) };
    }
    status
}

/// `cwd_version`: static text.
#[no_mangle]
pub extern "C" fn cwd_version() -> *const c_char {
    gateway::VERSION.as_ptr().cast()
}

/// # Safety
/// `s` is NULL or a string this library returned, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn cwd_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}

/// # Safety
/// See the header: NUL-terminated UTF-8 texts, `store` NULL or valid for the gateway's
/// life, `out` and `error` valid pointers.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_new(
    config_toml: *const c_char,
    keys_toml: *const c_char,
    store: *const StoreCallbacks,
    out: *mut *mut Gateway,
    error: *mut *mut c_char,
) -> i32 {
    if !error.is_null() {
        *error = std::ptr::null_mut();
    }
    let mut made = None;
    let status = boundary(error, || {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        let config = text(config_toml, "config_toml")?;
        let keys = if keys_toml.is_null() { None } else { Some(text(keys_toml, "keys_toml")?) };
        let store = if store.is_null() { None } else { Some(*store) };
        made = Some(Gateway::new(config, keys, store)?);
        Ok(Value::Null)
    });
    if status == CWD_OK {
        *out = Box::into_raw(Box::new(made.expect("made on success")));
        if !error.is_null() {
            cwd_string_free(*error);
            *error = std::ptr::null_mut();
        }
    } else if !out.is_null() {
        *out = std::ptr::null_mut();
    }
    status
}

/// # Safety
/// `gw` from `cwd_gateway_new`, not freed; texts NUL-terminated UTF-8; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_call(gw: *const Gateway, function: *const c_char, args_json: *const c_char, out: *mut *mut c_char) -> i32 {
    boundary(out, || {
        let gw = gw.as_ref().ok_or_else(|| Failure::invalid("gw is NULL"))?;
        let function = text(function, "function")?;
        let args: Value = if args_json.is_null() {
            json!({})
        } else {
            serde_json::from_str(text(args_json, "args_json")?).map_err(|e| Failure::invalid(format!("args_json is not JSON: {e}")))?
        };
        gw.call(function, &args)
    })
}

/// # Safety
/// `gw` from `cwd_gateway_new`, not freed; `callback` callable from any thread with
/// `user_data` until replaced or the gateway is freed.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_set_event_callback(gw: *const Gateway, callback: Option<EventFn>, user_data: *mut c_void) -> i32 {
    boundary(std::ptr::null_mut(), || {
        let gw = gw.as_ref().ok_or_else(|| Failure::invalid("gw is NULL"))?;
        gw.set_event_callback(callback, user_data);
        Ok(Value::Null)
    })
}

/// # Safety
/// `gw` from `cwd_gateway_new`, not freed.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_start_timer(gw: *const Gateway) -> i32 {
    boundary(std::ptr::null_mut(), || {
        let gw = gw.as_ref().ok_or_else(|| Failure::invalid("gw is NULL"))?;
        gw.start_timer();
        Ok(Value::Null)
    })
}

/// # Safety
/// `gw` from `cwd_gateway_new`, not freed.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_stop_timer(gw: *const Gateway) -> i32 {
    boundary(std::ptr::null_mut(), || {
        let gw = gw.as_ref().ok_or_else(|| Failure::invalid("gw is NULL"))?;
        gw.stop_timer();
        Ok(Value::Null)
    })
}

/// # Safety
/// `gw` NULL or from `cwd_gateway_new`, not freed, no call in progress on it.
#[no_mangle]
pub unsafe extern "C" fn cwd_gateway_free(gw: *mut Gateway) {
    if !gw.is_null() {
        let gw = Box::from_raw(gw);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(gw)));
    }
}

/// # Safety
/// `response` is the pointer the store callback received; `data` points at `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cwd_buffer_set(response: *mut Buffer, data: *const c_char, len: usize) {
    if let Some(buffer) = response.as_mut() {
        buffer.0 = if data.is_null() { Vec::new() } else { std::slice::from_raw_parts(data.cast::<u8>(), len).to_vec() };
    }
}

/// # Safety
/// `options_json` NULL or NUL-terminated UTF-8; `out` and `info` valid pointers.
#[no_mangle]
pub unsafe extern "C" fn cwd_devnet_start(options_json: *const c_char, out: *mut *mut Devnet, info: *mut *mut c_char) -> i32 {
    let mut made = None;
    let status = boundary(info, || {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        let options: Value = if options_json.is_null() {
            json!({})
        } else {
            serde_json::from_str(text(options_json, "options_json")?).map_err(|e| Failure::invalid(format!("options_json is not JSON: {e}")))?
        };
        let (devnet, described) = Devnet::start(&options)?;
        made = Some(devnet);
        Ok(described)
    });
    if !out.is_null() {
        *out = made.map_or(std::ptr::null_mut(), |d| Box::into_raw(Box::new(d)));
    }
    status
}

/// # Safety
/// `devnet` from `cwd_devnet_start`, not freed; texts NUL-terminated UTF-8; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn cwd_devnet_control(devnet: *const Devnet, method: *const c_char, params_json: *const c_char, out: *mut *mut c_char) -> i32 {
    boundary(out, || {
        let devnet = devnet.as_ref().ok_or_else(|| Failure::invalid("devnet is NULL"))?;
        let method = text(method, "method")?;
        let params: Value = if params_json.is_null() {
            json!({})
        } else {
            serde_json::from_str(text(params_json, "params_json")?).map_err(|e| Failure::invalid(format!("params_json is not JSON: {e}")))?
        };
        devnet.control(method, params)
    })
}

/// # Safety
/// `devnet` NULL or from `cwd_devnet_start`, not freed.
#[no_mangle]
pub unsafe extern "C" fn cwd_devnet_free(devnet: *mut Devnet) {
    if !devnet.is_null() {
        let devnet = Box::from_raw(devnet);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(devnet)));
    }
}
