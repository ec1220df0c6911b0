//! Shared helpers for the end-to-end tests: the real `.wasm` in the reference host,
//! against a devnet over loopback HTTP, with blocks produced on demand so that every
//! test decides exactly what the chain has done.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cwd_devnet::{AccountSpec, Config as DevnetConfig, CreatedAccount, Devnet, DevnetHandle};
use cwd_gateway_host::bindings::api::{self, WithdrawalState};
use cwd_gateway_host::clock::ManualClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::{GatewayCallError, Service};
use cwd_gateway_host::node::{NodeClient, Node, NodeError};
use cwd_gateway_host::store::{MemoryStore, Store};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use serde_json::Value;

/// One runtime per test binary: compiling the component once is the point of `InstancePre`.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::new(RuntimeConfig::default()).expect("loading the gateway component")
    })
}

/// A runtime whose calls are cut off after `ms`: how the tests "kill" a host mid-call.
pub fn short_fuse_runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::new(RuntimeConfig {
            call_timeout: Duration::from_millis(800),
            ..RuntimeConfig::default()
        })
        .expect("loading the gateway component")
    })
}

pub fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/crowdwiz-public.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reading the reference vectors"))
        .unwrap()
}

/// What the node capability does with a call, decided by the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interference {
    None,
    /// Hang on the next broadcast without sending it, past the call deadline: the host
    /// dies after signing and storing, before broadcasting.
    HangBeforeBroadcast,
    /// Send the next broadcast, then hang past the call deadline: the host dies after
    /// broadcasting, before it learns the answer.
    HangAfterBroadcast,
}

/// The HTTP node client with a switch the test can flip.
pub struct InterferingNode {
    pub inner: NodeClient,
    pub mode: Mutex<Interference>,
    pub hang: Duration,
}

impl Node for InterferingNode {
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        if api == "network_broadcast" {
            let mode = std::mem::replace(&mut *self.mode.lock().unwrap(), Interference::None);
            match mode {
                Interference::HangBeforeBroadcast => {
                    std::thread::sleep(self.hang);
                    return Err(NodeError::Timeout);
                }
                Interference::HangAfterBroadcast => {
                    let r = self.inner.call(api, method, params_json);
                    std::thread::sleep(self.hang);
                    return r;
                }
                Interference::None => {}
            }
        }
        self.inner.call(api, method, params_json)
    }

    fn fail_over(&self, reason: &str) -> bool {
        self.inner.fail_over(reason)
    }
}

pub const GATEWAY: &str = "game-gateway";

pub struct Harness {
    pub devnet: DevnetHandle,
    pub gateway: CreatedAccount,
    pub store: Arc<dyn Store>,
    pub node: Arc<InterferingNode>,
    pub clock: ManualClock,
    pub events: MemorySink,
    pub config: api::Config,
    pub service: Arc<Service>,
    runtime: &'static Runtime,
}

pub fn config(chain_id: String) -> api::Config {
    api::Config {
        gateway_account: GATEWAY.into(),
        chain_id,
        deposit_rate: api::Rate {
            game_units: 90,
            per_cwd_units: 100_000,
        },
        withdrawal_rate: api::Rate {
            game_units: 100,
            per_cwd_units: 100_000,
        },
        link: api::LinkConfig {
            code_digits: 0,
            code_ttl_ms: 0,
            max_attempts: 0,
            message_template: String::new(),
            user_interval_ms: 0,
            user_daily: 0,
            account_daily: 0,
            global_daily: 0,
            pow_bits: 0,
        },
        withdrawals: api::WithdrawalConfig {
            min_cwd: 100_000,
            max_cwd: 0,
            daily_cwd: 0,
            review_above_cwd: 0,
            four_eyes_above_cwd: 0,
            daily_count: 0,
            fee_cwd: 0,
            expiration_secs: 60,
            max_attempts: 0,
        },
        low_fee_balance_cwd: 0,
        tick_interval_ms: 1_000,
        idempotency_window_ms: 0,
        treasury: cwd_gateway_host::config::TreasurySection::default().component(),
        referrals: cwd_gateway_host::config::ReferralsSection::default().component(),
        events: cwd_gateway_host::config::EventsSection::default().component(),
        texts: cwd_gateway_host::config::TextsSection::default().component(),
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with(runtime(), |_| {})
    }

    pub fn with(runtime: &'static Runtime, tweak: impl FnOnce(&mut DevnetConfig)) -> Self {
        Self::with_nodes(runtime, tweak, |devnet| vec![devnet.url().to_string()])
    }

    /// With the node URLs the host fails over between, made from the devnet (e.g. a
    /// proxy in front of it, then the devnet itself).
    pub fn with_nodes(
        runtime: &'static Runtime,
        tweak: impl FnOnce(&mut DevnetConfig),
        nodes: impl FnOnce(&DevnetHandle) -> Vec<String>,
    ) -> Self {
        Self::with_setup(runtime, tweak, nodes, |_, _| {})
    }

    /// Like [`Harness::with`], with a `setup` that may create chain accounts (a cold
    /// account…) and change the gateway's configuration before it is configured.
    pub fn with_config(
        runtime: &'static Runtime,
        setup: impl FnOnce(&DevnetHandle, &mut api::Config),
    ) -> Self {
        Self::with_setup(
            runtime,
            |_| {},
            |devnet| vec![devnet.url().to_string()],
            setup,
        )
    }

    fn with_setup(
        runtime: &'static Runtime,
        tweak: impl FnOnce(&mut DevnetConfig),
        nodes: impl FnOnce(&DevnetHandle) -> Vec<String>,
        setup: impl FnOnce(&DevnetHandle, &mut api::Config),
    ) -> Self {
        // The gateway runs on a manual clock here: the devnet's chain clock is simulated too.
        let mut dc = DevnetConfig::simulated("e2e");
        tweak(&mut dc);
        let devnet = Devnet::start(dc).expect("starting a devnet");
        let gateway = devnet
            .create_account(AccountSpec::new(GATEWAY, 100_000 * 100_000))
            .unwrap();
        let inner = NodeClient::new(nodes(&devnet), Duration::from_secs(2));
        let node = Arc::new(InterferingNode {
            inner,
            mode: Mutex::new(Interference::None),
            hang: Duration::from_millis(1_500),
        });
        let clock = ManualClock::new(1_782_000_000_000);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let events = MemorySink::default();
        let mut config = config(devnet.chain_id_hex());
        setup(&devnet, &mut config);
        let service = start(runtime, &store, &node, &clock, &events, &config, &gateway);
        Harness {
            devnet,
            gateway,
            store,
            node,
            clock,
            events,
            config,
            service,
            runtime,
        }
    }

    /// The host process dies and a new one starts on the same database: the old
    /// instance (and everything it held in memory) is gone.
    pub fn restart(&mut self) {
        self.service = start(
            self.runtime,
            &self.store,
            &self.node,
            &self.clock,
            &self.events,
            &self.config,
            &self.gateway,
        );
    }

    pub fn api<R>(&self, f: impl FnOnce(&mut cwd_gateway_host::gateway::Api<'_>) -> R) -> R {
        self.service.with(f)
    }

    pub fn tick(&self) -> api::TickReport {
        self.service.tick().expect("tick")
    }

    /// Makes every block so far irreversible, then ticks until a tick does nothing.
    pub fn settle(&self) {
        for _ in 0..20 {
            let lag = self.lag();
            self.devnet.produce_blocks(lag + 1);
            let r = self.tick();
            if r.deposits_credited
                + r.deposits_unclaimed
                + r.withdrawals_sent
                + r.withdrawals_confirmed
                + r.withdrawals_failed
                == 0
            {
                return;
            }
        }
        panic!("the gateway never settled");
    }

    /// A player account on chain, linked to `user` through the real link flow.
    pub fn linked_player(&self, user: &str, account: &str, cwd_units: i64) -> CreatedAccount {
        let player = self
            .devnet
            .create_account(AccountSpec::new(account, cwd_units))
            .unwrap();
        self.link_player(user, &player);
        player
    }

    /// Links an existing chain account to `user` through the real link flow.
    pub fn link_player(&self, user: &str, player: &CreatedAccount) {
        let account = player.name.as_str();
        let started = self
            .api(|a| a.start_link(user, account, None))
            .expect("start-link");
        self.devnet.produce_block();
        let memo_key = player.memo_private().unwrap();
        let text = self
            .devnet
            .received_memos(account, Some(&memo_key))
            .unwrap()
            .into_iter()
            .rev()
            .find(|m| m.op == "send_message")
            .and_then(|m| m.text.ok())
            .expect("the link message arrived");
        let code: String = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == started.code_digits as usize)
            .unwrap()
            .into();
        self.api(|a| a.confirm_link(user, &code))
            .expect("confirm-link");
    }

    /// The devnet's irreversibility lag. (Never call a devnet method while holding its
    /// lock guard: that deadlocks.)
    pub fn lag(&self) -> u32 {
        let state = self.devnet.lock();
        state.config.irreversible_lag
    }

    pub fn balance(&self, user: &str) -> (u64, u64) {
        let v = self.api(|a| a.account(user)).unwrap();
        (v.balance, v.frozen)
    }

    /// Ticks (making blocks irreversible) until the withdrawal reaches a final state.
    pub fn finish_withdrawal(&self, id: &str) -> api::Withdrawal {
        for _ in 0..40 {
            let w = self.api(|a| a.get_withdrawal(id)).unwrap();
            if matches!(
                w.state,
                WithdrawalState::Confirmed
                    | WithdrawalState::Failed
                    | WithdrawalState::Rejected
                    | WithdrawalState::Cancelled
            ) {
                return w;
            }
            let lag = self.lag();
            self.devnet.produce_blocks(lag + 1);
            let _ = self.service.tick();
        }
        panic!("withdrawal {id} never finished");
    }

    /// Transfers the chain included from the gateway to `account_id`.
    pub fn payouts_to(&self, account_id: &str) -> Vec<Value> {
        let gateway_id = self.gateway.id_string();
        self.devnet
            .included_transactions()
            .into_iter()
            .flat_map(|tx| tx["operations"].as_array().cloned().unwrap_or_default())
            .filter(|op| {
                op[0] == 0 && op[1]["from"] == gateway_id.as_str() && op[1]["to"] == account_id
            })
            .collect()
    }
}

impl Harness {
    /// Every record under `prefix` in the gateway's store, decoded as the component
    /// wrote it (for invariants over the whole ledger).
    pub fn records<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Vec<T> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .scan(prefix, after.as_deref(), 200)
                .expect("store scan");
            for e in &page {
                out.push(
                    cwd_gateway::records::decode(&e.key, &e.value).expect("a readable record"),
                );
            }
            match page.last() {
                Some(last) if page.len() == 200 => after = Some(last.key.clone()),
                _ => return out,
            }
        }
    }

    /// Every transfer the chain included from the gateway: (to `1.2.N`, amount, memo nonce).
    pub fn gateway_transfers(&self) -> Vec<(String, u64, u64)> {
        self.gateway_transfers_in(self.devnet.included_transactions())
    }

    /// The gateway's transfers still waiting for a block (already in `balance_of`).
    pub fn gateway_transfers_pending(&self) -> Vec<(String, u64, u64)> {
        self.gateway_transfers_in(self.devnet.pending_transactions())
    }

    fn gateway_transfers_in(&self, txs: Vec<Value>) -> Vec<(String, u64, u64)> {
        let gateway_id = self.gateway.id_string();
        txs.into_iter()
            .flat_map(|tx| tx["operations"].as_array().cloned().unwrap_or_default())
            .filter(|op| op[0] == 0 && op[1]["from"] == gateway_id.as_str())
            .map(|op| {
                let int = |v: &Value| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .unwrap_or(0)
                };
                (
                    op[1]["to"].as_str().unwrap_or("").to_string(),
                    int(&op[1]["amount"]["amount"]),
                    int(&op[1]["memo"]["nonce"]),
                )
            })
            .collect()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

fn start(
    runtime: &Runtime,
    store: &Arc<dyn Store>,
    node: &Arc<InterferingNode>,
    clock: &ManualClock,
    events: &MemorySink,
    config: &api::Config,
    gateway: &CreatedAccount,
) -> Arc<Service> {
    let caps = Capabilities {
        store: store.clone(),
        node: node.clone(),
        clock: Arc::new(clock.clone()),
        events: Arc::new(events.clone()),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let keys = api::Keys {
        active_wif: gateway.active_wif.clone().unwrap(),
        memo_wif: gateway.memo_wif.clone().unwrap(),
    };
    Service::start(runtime, caps, config, keys).expect("configuring the gateway")
}

/// The refusal inside a gateway call error.
pub fn refused<T: std::fmt::Debug>(r: Result<T, GatewayCallError>) -> api::GatewayError {
    match r {
        Err(GatewayCallError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// CrowdWiz's Python client (`crowdwiz` 0.9.4), which `.ci/run` installs and names in
/// `CWD_REFERENCE_PYTHON`. In CI its absence is a failure; elsewhere the caller is told
/// and skips.
pub fn reference_python() -> Option<String> {
    match std::env::var("CWD_REFERENCE_PYTHON") {
        Ok(py) => Some(py),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI must set CWD_REFERENCE_PYTHON (see .ci/run)")
        }
        _ => {
            eprintln!("note: CWD_REFERENCE_PYTHON not set; run .ci/run to include the tests that use CrowdWiz's Python client");
            None
        }
    }
}
