//! A simulated CrowdWiz node ("devnet"), like Bitcoin's regtest: it answers the JSON-RPC
//! calls the gateway makes exactly as a Graphene node does, keeps accounts, balances,
//! blocks, history and an irreversible block that lags the head, validates and applies
//! `transfer` and `send_message`, and injects faults on demand.
//!
//! Use it in-process ([`Devnet::start`] gives a [`DevnetHandle`] serving HTTP on
//! loopback) or as the `cwd-devnet` process. All chain encoding is the guest crate's
//! codec (`cwd_gateway`), never a second implementation.

pub mod accounts;
pub mod assets;
pub mod blocks;
pub mod cli;
pub mod config;
pub mod control;
pub mod error;
pub mod faults;
pub mod fees;
pub mod history;
pub mod node;
pub mod objects;
pub mod ops;
pub mod player;
pub mod proposals;
pub mod rng;
pub mod rpc;
pub mod scenarios;
pub mod server;
pub mod state;
pub mod validate;
pub mod websocket;

pub use config::{Config, Fees, Production};
pub use error::{ChainError, Reject};
pub use faults::{FaultKind, FaultRule};
pub use node::{Confirmation, Node};
pub use player::{AccountSpec, CreatedAccount, KeySpec, ReceivedMemo, SubmittedTx};
pub use server::{Devnet, DevnetHandle};
pub use state::{ReorgOutcome, State};

/// The chain id of CrowdWiz mainnet, which the devnet uses unless told otherwise, so that
/// signatures made for it verify with the reference client.
pub const CROWDWIZ_CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";
