//! The chain layer: everything that speaks CrowdWiz's language and nothing else. Keys and
//! addresses ([`keys`]), operations and transactions in Graphene's binary form ([`ops`]),
//! their JSON as nodes write it ([`json`]), canonical signatures ([`signing`]) and
//! encrypted memos ([`memo`]); [`codec`] is the text-in, text-out face the components
//! export. Pure functions, no I/O: the gateway rules (crate `cwd-gateway-guest`) build on it.

mod cache;
pub mod codec;
pub mod error;
pub mod json;
pub mod keys;
pub mod memo;
pub mod ops;
pub mod signing;

pub use error::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
