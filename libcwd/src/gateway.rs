//! A gateway handle: the host built from a configuration as `cwd-gateway run` builds it
//! (store, nodes, signer, runtime, timer, webhooks), without the HTTP server; calls go
//! through the HTTP API's own dispatcher, so names, shapes and errors are the same.

use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::config::FileConfig;
use cwd_gateway_host::events::EventSink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::roles::{Caller, Role};
use cwd_gateway_host::runtime::Runtime;
use cwd_gateway_host::serve::{AssembleError, Assembled};
use cwd_gateway_host::store::Store;
use cwd_gateway_host::webhooks::WebhookTarget;
use serde_json::{json, Value};

use crate::store::CallbackStore;
use crate::{EventFn, Failure, StoreCallbacks, CWD_ERR_CONFIG, CWD_ERR_GATEWAY, CWD_ERR_HOST};

pub(crate) const VERSION: &str = cwd_gateway_host::VERSION_NUL;

/// The longest the timer sleeps without ticking (the component usually asks sooner).
const MAX_TICK_INTERVAL: Duration = Duration::from_secs(300);

/// The event callback and its `user_data` (an address: the caller vouches it may be
/// used from any thread).
#[derive(Default)]
struct CallbackSink(Mutex<Option<(EventFn, usize)>>);

impl EventSink for CallbackSink {
    fn emit(&self, event: &Value) {
        // Copied out: the callback runs without the lock (it may replace itself).
        let Some((callback, user_data)) = *self.0.lock().unwrap_or_else(|e| e.into_inner()) else { return };
        let Ok(text) = CString::new(event.to_string()) else { return };
        // SAFETY: the caller registered a function taking these arguments.
        let _ = std::panic::catch_unwind(|| unsafe { callback(user_data as *mut c_void, text.as_ptr()) });
    }
}

struct Timer {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

pub struct Gateway {
    service: Arc<Service>,
    caller: Caller,
    events: Arc<CallbackSink>,
    webhook: Option<WebhookTarget>,
    timer: Mutex<Option<Timer>>,
    /// The engine the service's instances run in: dropped after them.
    _runtime: Runtime,
}

fn config_error(e: anyhow::Error) -> Failure {
    Failure::new(CWD_ERR_CONFIG, "config", format!("{e:#}"))
}

fn host_error(e: anyhow::Error) -> Failure {
    Failure::new(CWD_ERR_HOST, "host", format!("{e:#}"))
}

impl Gateway {
    pub(crate) fn new(config: &str, keys: Option<&str>, store: Option<StoreCallbacks>) -> Result<Gateway, Failure> {
        let cfg = FileConfig::parse(config).map_err(config_error)?;
        let keys = match keys {
            Some(text) => cfg.keys_from_text(text),
            None => cfg.load_keys(),
        }
        .map_err(config_error)?;
        let store: Option<Arc<dyn Store>> = match store {
            Some(callbacks) => Some(Arc::new(CallbackStore::new(callbacks)?)),
            None => None,
        };
        let events = Arc::new(CallbackSink::default());
        let assembled = cwd_gateway_host::serve::assemble(&cfg, keys, store, events.clone()).map_err(|e| match e {
            AssembleError::Config(e) => config_error(e),
            AssembleError::Host(e) => host_error(e),
        })?;
        let Assembled { service, webhook, runtime } = assembled;
        Ok(Gateway { service, caller: Caller::new("library", Role::Operator), events, webhook, timer: Mutex::new(None), _runtime: runtime })
    }

    pub(crate) fn call(&self, function: &str, args: &Value) -> Result<Value, Failure> {
        if !cwd_gateway_host::openapi::CALLS.iter().any(|c| c.name == function) {
            // The HTTP API's code for it, with the library's status.
            return Err(Failure::new(crate::CWD_ERR_INVALID_ARGUMENT, "unknown-call", format!("{function:?} is not a gateway function (CWD_FUNCTIONS in cwd_gateway.h lists them)")));
        }
        if !args.is_object() {
            return Err(Failure::invalid("args_json must be a JSON object"));
        }
        let (status, mut body) = cwd_gateway_host::http_api::dispatch(&self.service, &self.caller, function, args);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            body["status"] = json!(status);
            Err(Failure(CWD_ERR_GATEWAY, body))
        }
    }

    pub(crate) fn set_event_callback(&self, callback: Option<EventFn>, user_data: *mut c_void) {
        *self.events.0.lock().unwrap_or_else(|e| e.into_inner()) = callback.map(|f| (f, user_data as usize));
    }

    pub(crate) fn start_timer(&self) {
        let mut timer = self.timer.lock().unwrap_or_else(|e| e.into_inner());
        if timer.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = vec![self.service.spawn_timer(stop.clone(), MAX_TICK_INTERVAL)];
        if let Some(target) = &self.webhook {
            threads.push(cwd_gateway_host::webhooks::spawn(self.service.clone(), target.clone(), Arc::new(SystemClock), stop.clone()));
        }
        *timer = Some(Timer { stop, threads });
    }

    pub(crate) fn stop_timer(&self) {
        let taken = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(timer) = taken {
            timer.stop.store(true, Ordering::Relaxed);
            for thread in timer.threads {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop_timer();
    }
}
