//! The chain layer: everything that speaks CrowdWiz's language and nothing else. Keys and
//! addresses ([`keys`]), operations and transactions in Graphene's binary form ([`ops`]),
//! their JSON as nodes write it ([`json`]), canonical signatures ([`signing`]) and
//! encrypted memos ([`memo`]); [`codec`] is the text-in, text-out face the components
//! export. Pure functions, no I/O: the gateway rules (crate `cwd-gateway-guest`) build on it.

mod cache;
pub mod codec;
pub mod error;
// The field 𝑘×𝑮 uses inside wasm; natively only its tests (against k256) run it.
#[cfg(any(target_arch = "wasm32", test))]
mod field29;
mod generator;
mod inverse;
pub mod json;
pub mod keys;
pub mod memo;
pub mod ops;
pub mod signing;

pub use error::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
