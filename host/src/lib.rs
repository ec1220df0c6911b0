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
