//! The signer: a process of its own that holds the gateway's active key and signs a
//! transaction only when its own policy, kept in its own store, allows it. Should every
//! gateway host and the gateway's database be taken over, what the policy allows is all
//! that can be lost.
//!
//! - [`config`]: `signer.toml` ([`SignerConfig`]);
//! - [`policy`]: the rules, a pure function ([`policy::decide`]);
//! - [`store`]: what was signed and the log of every decision (SQLite);
//! - [`server`]: the HTTP face on a Unix socket and optionally TCP ([`Server`], [`run`]);
//! - [`client`]: what gateway hosts call ([`SignerClient`]).
//!
//! HTTP: `POST /v1/sign` `{"chain_id","transaction"}` → 200 `{"signature","tx_id","repeated"}`
//! or 403 `{"error":"refused","rule","reason"}` (400 bad request, 503 store down);
//! `GET /v1/log?after=SEQ&limit=N`; `GET /health`; `GET /metrics`.

pub mod client;
pub mod config;
pub mod policy;
pub mod server;
pub mod store;

pub use client::{SignError, SignerAddress, SignerClient};
pub use config::{ConfigError, SignerConfig};
pub use policy::{decide, Decision, Limits, Policy, Rule};
pub use server::{run, Server};
