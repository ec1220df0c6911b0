//! The CrowdWiz gateway guest: everything that speaks the chain's language, and (later)
//! the gateway rules, as a deterministic core. It performs no I/O of its own; built for
//! `wasm32-wasip2` it is a component whose imports are its only doors, and built
//! natively it is an ordinary library for tests, benchmarks and tools.

pub mod codec;
pub mod error;
pub mod json;
pub mod keys;
pub mod memo;
pub mod ops;
pub mod signing;

#[cfg(target_arch = "wasm32")]
mod component;

pub use error::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
