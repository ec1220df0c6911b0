//! The reference host of the CrowdWiz gateway component: it loads the `.wasm` and gives
//! it its capabilities. `runtime` loads and limits the component; `codec` calls its
//! pure codec export.

pub mod backup;
pub mod bindings;
pub mod cabinet;
pub mod csv_export;
pub mod catchup;
pub mod clock;
pub mod codec;
pub mod config;
pub mod console;
pub mod demo;
pub mod events;
pub mod files;
pub mod finality;
pub mod gateway;
pub mod health;
pub mod history_prefetch;
pub mod http_api;
pub mod imports;
pub mod lease;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod redact;
pub mod roles;
pub mod runtime;
pub mod serve;
pub mod settings;
pub mod signer;
pub mod store;
pub mod tls;
pub mod webhooks;

pub use codec::{CallError, Codec};
pub use imports::Capabilities;
pub use runtime::{Instance, Runtime, RuntimeConfig};

/// `cwd-gateway --version`'s text: the release, and the component inside (matched against
/// the release's `.wasm` and the npm package's `gen/component.json`).
macro_rules! version_text {
    () => {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (component sha256:",
            env!("CWD_GATEWAY_WASM_SHA256"),
            ", wasmtime ",
            env!("CWD_GATEWAY_WASMTIME_VERSION"),
            ")"
        )
    };
}

pub const VERSION: &str = version_text!();
/// [`VERSION`], NUL-terminated (the C library's `cwd_version`).
pub const VERSION_NUL: &str = concat!(version_text!(), "\0");

