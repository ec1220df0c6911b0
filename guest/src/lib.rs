//! The gateway layer: the gateway rules (linking, ledger, rates, deposits, withdrawals) as a
//! deterministic core behind the traits of [`ports`], on top of the chain layer
//! (`cwd-codec`, re-exported here); [`gateway::Gateway`] is its façade. It performs no I/O of its own; built for
//! `wasm32-wasip2` it is a component whose imports are its only doors, and built
//! natively it is an ordinary library for tests, benchmarks and tools.

// The chain layer lives in its own crate; re-exported so `crate::keys` and
// `cwd_gateway::codec` keep meaning the same thing.
pub use cwd_codec::{codec, error, json, keys, memo, ops, signing};

// The gateway: a deterministic core behind the ports.
pub mod alerts;
pub mod books;
pub mod chain;
pub mod config;
pub mod deposits;
pub mod events;
pub mod feed;
pub mod fees;
pub mod gateway;
pub mod gateway_error;
pub mod ids;
pub mod ledger;
pub mod limits;
pub mod linking;
pub mod memo_link;
pub mod ports;
pub mod pow;
pub mod rates;
pub mod records;
pub mod referrals;
pub mod retention;
pub mod settings;
pub mod signatures;
pub mod sweep;
pub mod texts;
pub mod transfers;
pub mod views;
pub mod webhooks;
pub mod withdrawals;

#[cfg(target_arch = "wasm32")]
mod component;

pub use cwd_codec::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
