//! Everything a devnet can be told at start; most of it can also be changed at run time.

use std::net::SocketAddr;
use std::time::Duration;

/// How blocks come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Production {
    /// Only when asked (`produce_block`), except that a synchronous broadcast produces
    /// the block it waits for, so it never hangs a test.
    Manual,
    /// A block every so much real time. On the wall clock a block never comes within
    /// the second of the previous one (its time would run ahead); on a simulated clock
    /// each block advances chain time by `block_interval`.
    Timer(Duration),
}

/// The fee schedule, in CWD units (5 decimals). A memo adds `per_kbyte * size / 1024`,
/// as Graphene's `calculate_data_fee` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    pub transfer: i64,
    pub transfer_per_kbyte: i64,
    pub send_message: i64,
    pub send_message_per_kbyte: i64,
    /// `proposal_create` and `proposal_update` (protocol/proposal.hpp: 20 CWD).
    pub proposal: i64,
    /// `mass_payment`: `fee + price_per_transfer` per payee (protocol/financial.hpp).
    pub mass_payment: i64,
    pub mass_payment_per_transfer: i64,
}

impl Default for Fees {
    fn default() -> Self {
        Fees { transfer: 2_000, transfer_per_kbyte: 10_000, send_message: 1_000, send_message_per_kbyte: 10_000,
            proposal: 2_000_000,
            mass_payment: 500_000,
            mass_payment_per_transfer: 10_000,
        }
    }
}

/// 2026-06-21T00:00:00, the first block time of a simulated clock.
pub const SIMULATED_GENESIS: u32 = 1_782_000_000;

#[derive(Clone, Debug)]
pub struct Config {
    /// 32 bytes; the CrowdWiz chain id by default.
    pub chain_id: [u8; 32],
    /// Seed for every key and nonce the devnet makes; `None` = different every run.
    pub seed: Option<Vec<u8>>,
    /// Chain time of the first block (Unix seconds); `None` = the wall clock at start.
    pub genesis_time: Option<u32>,
    /// Block timestamps follow the wall clock (as a node's: the real time a block is
    /// made), never behind it; a block asked for within the second of the previous one
    /// gets the next second. Off (`Config::simulated`), chain time starts at
    /// `genesis_time` and moves by `block_interval` per block, for tests that pair the
    /// devnet with a manual clock.
    pub wall_clock: bool,
    /// Chain seconds between blocks.
    pub block_interval: u32,
    pub production: Production,
    /// The last irreversible block is this many blocks behind the head.
    pub irreversible_lag: u32,
    /// Instance of the first `1.11.N` this node writes: two nodes of the same chain can
    /// number history differently, and a client must not depend on it.
    pub history_id_start: u64,
    /// Instance of the first account created after the six system accounts.
    pub first_account_instance: u64,
    pub fees: Fees,
    /// Graphene's `maximum_time_until_expiration`.
    pub max_expiration: u32,
    /// `api_limit_get_account_history` and `api_limit_get_relative_account_history`.
    pub history_limit: u32,
    /// How long (real time) `broadcast_transaction_synchronous` waits for its block.
    pub sync_wait: Duration,
    /// Where to listen; loopback with an ephemeral port by default.
    pub listen: SocketAddr,
    /// The account_history plugin's `max-ops-per-account`: older entries of an account
    /// are dropped (its `removed_ops` grows); 0 keeps no account history at all.
    pub max_ops_per_account: u64,
    /// The plugin's `track-account`: only these accounts get history (empty = all).
    pub track_accounts: Vec<cwd_gateway::ops::AccountId>,
}

impl Default for Config {
    fn default() -> Self {
        let mut chain_id = [0u8; 32];
        hex::decode_to_slice(crate::CROWDWIZ_CHAIN_ID, &mut chain_id).expect("constant is 32 bytes of hex");
        Config {
            chain_id,
            seed: Some(b"cwd-devnet".to_vec()),
            genesis_time: None,
            wall_clock: true,
            block_interval: 3,
            production: Production::Manual,
            irreversible_lag: 5,
            history_id_start: 0,
            first_account_instance: 100,
            fees: Fees::default(),
            max_expiration: 86_400,
            history_limit: 100,
            sync_wait: Duration::from_secs(30),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_ops_per_account: u64::MAX,
            track_accounts: Vec::new(),
        }
    }
}

impl Config {
    /// Deterministic keys for tests: manual blocks, the given seed, wall-clock time.
    pub fn seeded(seed: &str) -> Self {
        Config { seed: Some(seed.as_bytes().to_vec()), ..Config::default() }
    }

    /// Like [`Config::seeded`], with a simulated chain clock starting at
    /// 2026-06-21T00:00:00 and moving `block_interval` per block: for tests whose other
    /// side runs on a manual clock too. Wallets that use their own clock need
    /// [`Config::seeded`].
    pub fn simulated(seed: &str) -> Self {
        Config { genesis_time: Some(SIMULATED_GENESIS), wall_clock: false, ..Config::seeded(seed) }
    }
}
