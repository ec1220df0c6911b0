//! The reference host of the CrowdWiz gateway component: it loads the `.wasm` and gives
//! it its capabilities. `runtime` loads and limits the component; `codec` calls its
//! pure codec export.

pub mod bindings;
pub mod codec;
pub mod runtime;

pub use codec::{CallError, Codec};
pub use runtime::{Instance, Runtime, RuntimeConfig};
