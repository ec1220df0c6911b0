//! One simulated run: the world a seed builds (two nodes of one chain, a store, a
//! clock, the real component in the reference host, players), the workload it drives,
//! and the checks after every step and at the end.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cwd_devnet::scenarios::ProposedTransfer;
use cwd_devnet::{AccountSpec, Config as DevnetConfig, Node as Devnet};
use cwd_gateway::ops::Asset;
use cwd_gateway_host::bindings::api::{self, WithdrawalAmount, WithdrawalFilter, WithdrawalState};
use cwd_gateway_host::clock::{Clock, ManualClock};
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::{Api, GatewayCallError, GwResult, Service};
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use sha2::{Digest, Sha256};

use crate::faults::{Faults, Rates};
use crate::hooks::SimHooks;
use crate::invariants;
use crate::node::{Chain, SimNode};
use crate::rng::Rng;
use crate::store::SimStore;

pub use cwd_gateway_e2e::GATEWAY;
const GATEWAY_CWD: i64 = 1_000_000 * 100_000;
const PLAYER_CWD: i64 = 10_000 * 100_000;
const ASSET: &str = "SIMGOLD";
/// The ledger user that funds referral rewards.
const POOL: &str = "referral-pool";
const API_INSTANCES: usize = 2;
/// Steps per seed unless told otherwise (CI and the long run).
pub const DEFAULT_STEPS: u32 = 40;

/// What the seed chose for this run.
#[derive(Clone, Debug)]
pub struct Params {
    pub rates: Rates,
    pub players: usize,
    pub users: usize,
    pub irreversible_lag: u32,
    /// Node 0 keeps only this many operations per account (`None`: no pruning).
    pub pruning: Option<u64>,
    pub second_host: bool,
    /// Per mille of steps that crash the host at a later import call.
    pub crash: u64,
    pub reorg: u64,
    pub expiration_secs: u32,
    pub max_attempts: u32,
    pub review_above_cwd: u64,
}

impl Params {
    pub fn from_seed(seed: u64) -> Self {
        let mut r = Rng::fork(seed, 1);
        // One seed in eight runs without faults: the workload alone must hold too.
        let calm = r.chance(125);
        let node = if calm { 0 } else { r.below(301) };
        let rates = Rates {
            node,
            broadcast_dropped: if calm { 0 } else { r.below(200) },
            broadcast_lost_answer: if calm { 0 } else { r.below(200) },
            duplicate_answer: if calm { 0 } else { r.below(100) },
            store: if calm { 0 } else { r.below(40) },
            trap: if calm { 0 } else { r.below(6) },
            interleave: if calm { 0 } else { r.below(80) },
        };
        Params {
            rates,
            players: 3 + r.below(4) as usize,
            users: 3 + r.below(3) as usize,
            irreversible_lag: 1 + r.below(6) as u32,
            pruning: r.chance(500).then(|| 6 + r.below(30)),
            second_host: r.chance(500),
            crash: if calm { 0 } else { r.below(60) },
            reorg: if calm { 0 } else { r.below(80) },
            expiration_secs: 30 + r.below(90) as u32,
            max_attempts: r.below(4) as u32,
            review_above_cwd: if r.chance(500) {
                500_000 + r.below(2_000_000)
            } else {
                0
            },
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub steps: u32,
    /// SHA-256 of the event log and of every call's outcome, in order.
    pub digest: String,
    pub injected: BTreeMap<String, u64>,
    pub actions: BTreeMap<&'static str, u64>,
    /// Gateway calls that succeeded, by kind.
    pub succeeded: BTreeMap<&'static str, u64>,
    pub events: u64,
    pub restarts: u64,
    pub credited: u64,
    pub withdrawals_confirmed: u64,
    pub withdrawals_refunded: u64,
}

/// An invariant that did not hold.
#[derive(Clone, Debug)]
pub struct Violation {
    pub seed: u64,
    pub steps: u32,
    /// The step at which it was found (`None`: during the final liveness phase).
    pub step: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = match self.step {
            Some(s) => format!("step {s}"),
            None => "the liveness phase".into(),
        };
        write!(
            f,
            "seed {seed}: invariant violated at {at}: {msg}\n  replay: {env}cargo run -p cwd-sim -- --seed {seed} --steps {steps}",
            env = if std::env::var_os("CWD_SIM_STALE_ANSWERS").is_some() { "CWD_SIM_STALE_ANSWERS=1 " } else { "" },
            seed = self.seed,
            msg = self.message,
            steps = self.steps
        )
    }
}

/// The component, compiled once per process.
fn base_runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Generous: a simulated call is never cut off by wall time, which would make the
        // run depend on the machine's load.
        let config = RuntimeConfig {
            call_timeout: Duration::from_secs(600),
            ..RuntimeConfig::default()
        };
        Runtime::new(config).expect("loading the gateway component")
    })
}

pub struct Player {
    pub name: String,
    pub id: u64,
}

pub struct World {
    pub seed: u64,
    pub params: Params,
    pub faults: Faults,
    pub chain: Arc<Chain>,
    pub node: Arc<SimNode>,
    pub store: Arc<SimStore>,
    pub clock: ManualClock,
    pub events: MemorySink,
    runtime: Runtime,
    config: api::Config,
    keys: (String, String),
    service: Option<Arc<Service>>,
    second: Option<Arc<Service>>,
    pub gateway_id: u64,
    pub players: Vec<Player>,
    pub users: Vec<String>,
    rng: Rng,
    digest: Sha256,
    events_seen: usize,
    adj_keys: Vec<(String, String, i64)>,
    wd_keys: Vec<(String, String, u64)>,
    xfer_keys: Vec<String>,
    reward_keys: Vec<String>,
    report: Report,
}

impl World {
    pub fn new(seed: u64) -> Self {
        let params = Params::from_seed(seed);
        let faults = Faults::new(params.rates.clone(), Rng::fork(seed, 2));
        let label = format!("sim-{seed}");
        let mut c0 = DevnetConfig::simulated(&label);
        c0.irreversible_lag = params.irreversible_lag;
        let mut c1 = c0.clone();
        // Two nodes of one chain number history differently.
        c1.history_id_start = 1_000_000;
        let chain = Arc::new(Chain {
            nodes: [Devnet::new(c0), Devnet::new(c1)],
        });
        let gw = chain.both(|n| {
            n.create_account(AccountSpec::new(GATEWAY, GATEWAY_CWD))
                .expect("gateway account")
        });
        let gateway = gw[1].clone();
        let mut players = Vec::new();
        for i in 0..params.players {
            let name = format!("player-{i}");
            let a = chain.both(|n| {
                n.create_account(AccountSpec::new(&name, PLAYER_CWD))
                    .expect("player account")
            });
            players.push(Player {
                name,
                id: a[1].id.0,
            });
        }
        chain.both(|n| {
            n.create_asset(&players[0].name, ASSET, 3, 1_000_000_000_000)
                .expect("asset");
            for p in &players {
                n.issue_asset(ASSET, &p.name, 1_000_000_000).expect("issue");
            }
        });
        if let Some(max_ops) = params.pruning {
            chain.nodes[0]
                .set_history_options(Some(max_ops), &[])
                .expect("pruning");
        }
        chain.both(|n| n.produce_blocks(params.irreversible_lag + 1));
        let clock = ManualClock::new(0);
        let store = Arc::new(SimStore::new(faults.clone()));
        let node = Arc::new(SimNode::new(chain.clone(), faults.clone()));
        let runtime = base_runtime().with_simulation(Arc::new(SimHooks {
            faults: faults.clone(),
        }));
        // The end-to-end tests' configuration (90 game units per CWD in, 100 out).
        let mut config = cwd_gateway_e2e::config(chain.nodes[1].chain_id_hex());
        config.withdrawals.expiration_secs = params.expiration_secs;
        config.withdrawals.max_attempts = params.max_attempts;
        config.withdrawals.review_above_cwd = params.review_above_cwd;
        // Two referral levels and a cashback, paid from the pool user's balance.
        config.referrals = api::ReferralConfig {
            level_rates_per_mille: vec![100, 30],
            cashback_per_mille: 20,
            pool_user: POOL.into(),
        };
        // The shortest idempotency window, so that long clock jumps prune records.
        config.idempotency_window_ms = cwd_gateway::retention::MIN_WINDOW_MS;
        let keys = (
            gateway.active_wif.clone().expect("devnet key"),
            gateway.memo_wif.clone().expect("devnet key"),
        );
        let users = (0..params.users).map(|i| format!("user-{i}")).collect();
        let mut w = World {
            seed,
            params,
            faults,
            chain,
            node,
            store,
            clock,
            events: MemorySink::default(),
            runtime,
            config,
            keys,
            service: None,
            second: None,
            gateway_id: gateway.id.0,
            players,
            users,
            rng: Rng::fork(seed, 3),
            digest: Sha256::new(),
            events_seen: 0,
            adj_keys: Vec::new(),
            wd_keys: Vec::new(),
            xfer_keys: Vec::new(),
            reward_keys: Vec::new(),
            report: Report {
                seed,
                ..Report::default()
            },
        };
        w.sync_clock();
        w
    }

    fn caps(&self) -> Capabilities {
        Capabilities {
            store: self.store.clone(),
            node: self.node.clone(),
            clock: Arc::new(self.clock.clone()),
            events: Arc::new(self.events.clone()),
            signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
        }
    }

    fn start_service(&mut self) -> Arc<Service> {
        for attempt in 0.. {
            // A start that keeps failing under heavy faults is retried without them
            // (the operator would restart it until it comes up).
            let calm = attempt >= 50;
            let was_active = self.faults.state().active;
            if calm {
                self.faults.state().active = false;
            }
            let keys = api::Keys {
                active_wif: self.keys.0.clone(),
                memo_wif: self.keys.1.clone(),
            };
            let started = Service::start_with(
                &self.runtime,
                self.caps(),
                &self.config,
                keys,
                API_INSTANCES,
            );
            self.faults.state().active = was_active;
            self.faults.state().crashed = false;
            match started {
                Ok(s) => return s,
                Err(e) => {
                    if calm {
                        panic!("the host does not start even without faults: {e:#}");
                    }
                    self.note("start-failed");
                    self.clock.advance(1_000);
                }
            }
        }
        unreachable!()
    }

    /// The main host, started (or restarted from the store) as needed.
    fn host(&mut self) -> Arc<Service> {
        if self.service.is_none() {
            let s = self.start_service();
            self.service = Some(s);
        }
        self.service.clone().expect("set above")
    }

    /// The host crashed during the last call: everything it held in memory is gone.
    fn after_call(&mut self) {
        let crashed = std::mem::take(&mut self.faults.state().crashed);
        if crashed {
            self.service = None;
            self.report.restarts += 1;
            self.note("host-crashed");
        }
    }

    fn call<R: std::fmt::Debug>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Api<'_>) -> GwResult<R>,
    ) -> Option<R> {
        *self.report.actions.entry(what).or_default() += 1;
        let host = self.host();
        let out = host.with(f);
        self.after_call();
        self.record(what, &out);
        out.ok()
    }

    fn tick(&mut self) {
        *self.report.actions.entry("tick").or_default() += 1;
        let host = self.host();
        let out = host.tick();
        self.after_call();
        self.record("tick", &out);
    }

    fn tick_second(&mut self) {
        if let Some(b) = self.second.clone() {
            *self.report.actions.entry("tick-second-host").or_default() += 1;
            self.faults.state().in_second_host = true;
            let out = b.tick();
            self.faults.state().in_second_host = false;
            self.record("tick-second-host", &out);
        }
    }

    fn record<R: std::fmt::Debug>(&mut self, what: &'static str, out: &GwResult<R>) {
        if out.is_ok() {
            *self.report.succeeded.entry(what).or_default() += 1;
        }
        let line = match out {
            Ok(v) => format!("{what} ok {v:?}\n"),
            Err(GatewayCallError::Refused(e)) => format!("{what} refused {e:?}\n"),
            Err(GatewayCallError::Standby { holder }) => format!("{what} standby {holder:?}\n"),
            // The trap's text names wasm offsets, not state: its kind is enough.
            Err(GatewayCallError::Component(e)) => format!(
                "{what} trapped {}\n",
                cwd_gateway_host::gateway::trap_cause(e)
            ),
        };
        self.trace(&line);
        self.digest.update(line.as_bytes());
    }

    fn note(&mut self, what: &str) {
        let line = format!("{what}\n");
        self.trace(&line);
        self.digest.update(line.as_bytes());
    }

    /// `CWD_SIM_TRACE=1`: every call's outcome and every chain action on stderr, to read
    /// what a replayed seed did.
    fn trace(&self, line: &str) {
        static ON: OnceLock<bool> = OnceLock::new();
        if *ON.get_or_init(|| std::env::var_os("CWD_SIM_TRACE").is_some()) {
            eprint!("[{} ms] {line}", self.clock.now_ms());
        }
    }

    /// Folds new events into the digest.
    fn absorb_events(&mut self) {
        let all = self.events.snapshot();
        for e in &all[self.events_seen..] {
            self.digest.update(e.to_string().as_bytes());
            self.digest.update(b"\n");
        }
        self.report.events += (all.len() - self.events_seen) as u64;
        self.events_seen = all.len();
    }

    // ------------------------------------------------------------------ chain

    fn head_time(&self) -> u32 {
        self.chain.full().lock().head_time()
    }

    /// The gateway's clock follows chain time (never behind the head block).
    fn sync_clock(&mut self) {
        let head_ms = self.head_time() as u64 * 1_000;
        if self.clock.now_ms() < head_ms {
            self.clock.set(head_ms + self.rng.below(1_000));
        }
    }

    fn produce(&mut self, n: u32) -> Result<(), String> {
        self.chain.both(|node| node.produce_blocks(n));
        self.same_chain()?;
        self.sync_clock();
        self.note(&format!("blocks {n}"));
        Ok(())
    }

    /// Self-check of the simulation: both nodes hold the same blocks.
    fn same_chain(&self) -> Result<(), String> {
        let [a, b] = self.chain.both(|n| {
            let s = n.lock();
            (s.head_num(), s.head().id, s.last_irreversible())
        });
        if a != b {
            return Err(format!(
                "simulator fault: the two nodes diverged ({a:?} vs {b:?})"
            ));
        }
        Ok(())
    }

    /// A player's chain action, made on both nodes; both must make the same transaction.
    fn on_chain(
        &mut self,
        what: &'static str,
        f: impl FnMut(&Devnet) -> Option<String>,
    ) -> Result<(), String> {
        *self.report.actions.entry(what).or_default() += 1;
        let [a, b] = self.chain.both(f);
        if a != b {
            return Err(format!("simulator fault: {what} made different transactions on the two nodes ({a:?} vs {b:?})"));
        }
        self.note(&format!("{what} {}", a.is_some()));
        Ok(())
    }

    fn reorg(&mut self) -> Result<(), String> {
        let (head, lib) = {
            let s = self.chain.full().lock();
            (s.head_num(), s.last_irreversible())
        };
        if head <= lib {
            return Ok(());
        }
        let depth = 1 + self.rng.below((head - lib) as u64) as u32;
        let requeue = self.rng.chance(500);
        self.faults.count("reorg");
        let [a, b] = self.chain.both(|n| {
            n.reorg(depth, requeue)
                .map(|o| o.head_block_number)
                .map_err(|e| e.to_string())
        });
        if a != b {
            return Err(format!(
                "simulator fault: reorganisation differs between nodes ({a:?} vs {b:?})"
            ));
        }
        self.note(&format!("reorg {depth} {requeue}"));
        Ok(())
    }

    // ------------------------------------------------------------------ workload

    fn pick_user(&mut self) -> String {
        let i = self.rng.below(self.users.len() as u64) as usize;
        self.users[i].clone()
    }

    fn pick_player(&mut self) -> String {
        let i = self.rng.below(self.players.len() as u64) as usize;
        self.players[i].name.clone()
    }

    /// The newest link code the gateway sent to `account`, read with its memo key.
    fn read_code(&self, account: &str, digits: u8) -> Option<String> {
        let memos = self.chain.full().received_memos(account, None).ok()?;
        let text = memos
            .into_iter()
            .rev()
            .find(|m| m.op == "send_message")?
            .text
            .ok()?;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == digits as usize)
            .map(str::to_string)
    }

    /// The link flow: the gateway sends a code on chain, the player reads it with its
    /// memo key and types it back (sometimes wrongly).
    fn link(&mut self, user: &str, account: &str) -> Result<(), String> {
        if let Some(started) = self.call("start-link", |a| a.start_link(user, account, None)) {
            self.produce(1)?;
            let right = self.read_code(account, started.code_digits);
            let code = match right {
                Some(c) if !self.rng.chance(150) => c,
                _ => format!(
                    "{:0width$}",
                    self.rng.below(1_000_000),
                    width = started.code_digits as usize
                ),
            };
            self.call("confirm-link", |a| a.confirm_link(user, &code));
        }
        Ok(())
    }

    fn step(&mut self, step: u32) -> Result<(), String> {
        // The first steps link user i to player i (under faults, so not always).
        if (step as usize) < self.users.len().min(self.players.len()) {
            let (user, account) = (
                self.users[step as usize].clone(),
                self.players[step as usize].name.clone(),
            );
            return self.link(&user, &account);
        }
        let roll = self.rng.below(110);
        match roll {
            0..=7 => {
                let (user, account) = (self.pick_user(), self.pick_player());
                self.link(&user, &account)?;
            }
            8..=10 => {
                let (user, account) = (self.pick_user(), self.pick_player());
                if let Some(link) = self.call("start-memo-link", |a| a.start_memo_link(&user)) {
                    let amount = 1_000 + self.rng.below(500_000) as i64;
                    let memo = if self.rng.chance(850) {
                        link.code
                    } else {
                        "link-AAAAAAAAAAAAAAAA".to_string()
                    };
                    self.on_chain("memo-link-transfer", |n| {
                        n.transfer(&account, GATEWAY, amount, Some(&memo), None)
                            .ok()
                            .map(|t| t.id)
                    })?;
                }
            }
            11 => {
                let user = self.pick_user();
                self.call("unlink", |a| a.unlink(&user));
            }
            12..=27 => {
                let account = self.pick_player();
                let amount = 1 + self.rng.below(3_000_000) as i64;
                let memo = self.rng.chance(300).then(|| format!("deposit {amount}"));
                self.on_chain("deposit", |n| {
                    n.transfer(&account, GATEWAY, amount, memo.as_deref(), None)
                        .ok()
                        .map(|t| t.id)
                })?;
            }
            28..=29 => {
                let account = self.pick_player();
                let amount = 1 + self.rng.below(100_000) as i64;
                self.on_chain("deposit-other-asset", |n| {
                    let asset = n.asset_id(ASSET).ok()?;
                    n.transfer_asset(
                        &account,
                        GATEWAY,
                        Asset {
                            amount,
                            asset_id: asset,
                        },
                        None,
                        None,
                    )
                    .ok()
                    .map(|t| t.id)
                })?;
            }
            30..=31 => {
                // A deposit by proposal: proposed, then approved (it runs in that block).
                let account = self.pick_player();
                let amounts = [
                    1 + self.rng.below(2_000_000) as i64,
                    1 + self.rng.below(2_000_000) as i64,
                ];
                let two = self.rng.chance(400);
                let expiration = self.head_time() + 3_600;
                let transfers: Vec<ProposedTransfer> = amounts[..if two { 2 } else { 1 }]
                    .iter()
                    .map(|a| ProposedTransfer {
                        from: account.clone(),
                        to: GATEWAY.into(),
                        amount: Asset::cwd(*a),
                    })
                    .collect();
                self.on_chain("deposit-proposal", |n| {
                    n.propose_transfers(&account, &transfers, expiration).ok()
                })?;
                self.produce(1)?;
                let [a, b] = self.chain.both(|n| n.proposal_ids().last().copied());
                if a != b {
                    return Err("simulator fault: proposal ids differ between nodes".into());
                }
                if let Some(id) = a {
                    self.on_chain("approve-proposal", |n| {
                        n.approve_proposal(&account, id).ok()
                    })?;
                }
            }
            32 => {
                let account = self.pick_player();
                let amount = 1 + self.rng.below(1_000_000) as i64;
                self.on_chain("deposit-mass-payment", |n| {
                    n.mass_payment(&account, "CWD", &[(GATEWAY, amount)]).ok()
                })?;
            }
            33..=44 => {
                let (key, user, delta) = if !self.adj_keys.is_empty() && self.rng.chance(250) {
                    let i = self.rng.below(self.adj_keys.len() as u64) as usize;
                    let mut k = self.adj_keys[i].clone();
                    // Mostly the same request again; sometimes the same key with another amount.
                    if self.rng.chance(200) {
                        k.2 += 1;
                    }
                    k
                } else {
                    let delta = self.rng.below(3_500) as i64 - 500;
                    let k = (
                        format!("adj-{}", self.rng.next()),
                        self.pick_user(),
                        if delta == 0 { 1 } else { delta },
                    );
                    self.adj_keys.push(k.clone());
                    k
                };
                self.call("adjust-balance", |a| {
                    a.adjust_balance(&user, delta, &key, "play")
                });
            }
            45..=56 => {
                let (key, user, cwd) = if !self.wd_keys.is_empty() && self.rng.chance(200) {
                    let i = self.rng.below(self.wd_keys.len() as u64) as usize;
                    self.wd_keys[i].clone()
                } else {
                    let k = (
                        format!("wd-{}", self.rng.next()),
                        self.pick_user(),
                        100_000 + self.rng.below(1_500_000),
                    );
                    self.wd_keys.push(k.clone());
                    k
                };
                let amount = if cwd % 3 == 0 {
                    WithdrawalAmount::Game(cwd / 1_000)
                } else {
                    WithdrawalAmount::Cwd(cwd)
                };
                self.call("request-withdrawal", |a| {
                    a.request_withdrawal(&user, amount, &key)
                });
            }
            57..=59 => {
                let approve = self.rng.chance(600);
                self.review(approve);
            }
            60..=61 => {
                let filter = WithdrawalFilter {
                    user: None,
                    state: None,
                };
                if let Some(list) = self.call("list-withdrawals", |a| {
                    a.list_withdrawals(&filter, api::ListOrder::OldestFirst, None, 100)
                }) {
                    let open: Vec<_> = list
                        .iter()
                        .filter(|w| !is_final(w.state))
                        .map(|w| w.withdrawal_id.clone())
                        .collect();
                    if !open.is_empty() {
                        let id = open[self.rng.below(open.len() as u64) as usize].clone();
                        self.call("cancel-withdrawal", |a| {
                            a.cancel_withdrawal("operator", &id, "changed my mind")
                        });
                    }
                }
            }
            62..=63 => {
                if let Some(list) =
                    self.call("list-unclaimed", |a| a.list_unclaimed(false, None, 20))
                {
                    if !list.is_empty() {
                        let id = list[self.rng.below(list.len() as u64) as usize]
                            .deposit_id
                            .clone();
                        if self.rng.chance(500) {
                            let user = self.pick_user();
                            self.call("assign-unclaimed", |a| a.assign_unclaimed("operator", &id, &user));
                        } else {
                            self.call("refund-unclaimed", |a| {
                                a.refund_unclaimed("operator", &id, "refunded by hand")
                            });
                        }
                    }
                }
            }
            64..=77 => {
                let n = 1 + self.rng.below(3) as u32;
                self.produce(n)?;
            }
            78..=92 => {
                self.tick();
                if self.rng.chance(300) {
                    self.tick_second();
                }
            }
            93..=94 => {
                let ms = self.rng.below(20_000);
                self.clock.advance(ms);
                self.note(&format!("clock +{ms}"));
            }
            95..=96 => {
                if self.rng.chance(self.params.reorg * 10) {
                    self.reorg()?;
                }
            }
            97..=98 => {
                if self.rng.chance(self.params.crash * 10) && self.faults.state().active {
                    let n = self.rng.below(60) as u32;
                    self.faults.state().crash_in = Some(n);
                    self.note(&format!("crash armed {n}"));
                }
            }
            99..=100 => {
                let (from, to) = (self.pick_user(), self.pick_user());
                // Mostly affordable; sometimes more than the sender holds.
                let cap = if self.rng.chance(900) { 500 } else { 200_000 };
                let amount = 1 + self.rng.below(cap);
                let key = if !self.xfer_keys.is_empty() && self.rng.chance(200) {
                    self.xfer_keys[self.rng.below(self.xfer_keys.len() as u64) as usize].clone()
                } else {
                    let k = format!("xfer-{}", self.rng.next());
                    self.xfer_keys.push(k.clone());
                    k
                };
                self.call("transfer-internal", |a| {
                    a.transfer_internal(&from, &to, amount, &key, "gift")
                });
            }
            101 => {
                let (user, referrer) = (self.pick_user(), self.pick_user());
                self.call("set-referrer", |a| a.set_referrer(&user, &referrer));
            }
            102..=103 => {
                // The game funds the referral pool from its own revenue.
                let amount = 1 + self.rng.below(200_000) as i64;
                let key = format!("pool-{}", self.rng.next());
                self.call("adjust-balance", |a| {
                    a.adjust_balance(POOL, amount, &key, "pool")
                });
            }
            104..=105 => {
                let user = self.pick_user();
                let base = self.rng.below(20_000);
                let key = if !self.reward_keys.is_empty() && self.rng.chance(200) {
                    self.reward_keys[self.rng.below(self.reward_keys.len() as u64) as usize].clone()
                } else {
                    let k = format!("rwd-{}", self.rng.next());
                    self.reward_keys.push(k.clone());
                    k
                };
                self.call("reward-referrers", |a| {
                    a.reward_referrers(&user, base, &key)
                });
            }
            106 => {
                // Past the idempotency window: the next ticks prune records (guest/src/retention.rs).
                if self.rng.chance(400) {
                    let ms = cwd_gateway::retention::MIN_WINDOW_MS + self.rng.below(600_000);
                    self.clock.advance(ms);
                    self.note(&format!("clock +{ms}"));
                }
            }
            _ => {
                let user = self.pick_user();
                self.call("account", |a| a.account(&user));
                self.call("status", |a| a.status());
            }
        }
        Ok(())
    }

    /// An operator decision on one withdrawal awaiting review.
    fn review(&mut self, approve: bool) {
        let filter = WithdrawalFilter {
            user: None,
            state: Some(WithdrawalState::AwaitingReview),
        };
        if let Some(list) = self.call("list-withdrawals", |a| {
            a.list_withdrawals(&filter, api::ListOrder::OldestFirst, None, 100)
        }) {
            if let Some(w) = list.first() {
                let id = w.withdrawal_id.clone();
                if approve {
                    self.call("approve-withdrawal", |a| a.approve_withdrawal("operator", &id));
                } else {
                    self.call("reject-withdrawal", |a| {
                        a.reject_withdrawal("operator", &id, "not today")
                    });
                }
            }
        }
    }

    pub fn check(&self) -> Result<(), String> {
        invariants::safety(self)
    }

    /// Faults stop; the operator decides every review; blocks come and the host ticks
    /// until nothing is left to do.
    fn settle(&mut self) -> Result<(), String> {
        {
            let mut s = self.faults.state();
            s.active = false;
            s.crash_in = None;
        }
        for _ in 0..80 {
            self.review(true);
            let lag = self.params.irreversible_lag;
            self.produce(lag + 1)?;
            self.clock.advance(1_000);
            self.tick();
            self.tick_second();
            self.absorb_events();
            self.check()?;
            if invariants::settled(self)?.is_none() {
                return Ok(());
            }
        }
        match invariants::settled(self)? {
            None => Ok(()),
            Some(what) => Err(format!(
                "liveness: after faults stopped the gateway never settled: {what}"
            )),
        }
    }

    /// Plays `steps` steps with faults, then settles, keeping the world for a look at
    /// the store afterwards; answers how many events the host saw.
    pub fn play(&mut self, steps: u32) -> Result<u64, String> {
        self.faults.state().active = true;
        for step in 0..steps {
            self.step(step).and_then(|_| self.check())?;
            self.absorb_events();
        }
        self.settle()?;
        self.absorb_events();
        Ok(self.report.events)
    }

    pub fn run(mut self, steps: u32) -> Result<Report, Violation> {
        let violation = |w: &World, step: Option<u32>, message: String| Violation {
            seed: w.seed,
            steps,
            step,
            message,
        };
        self.faults.state().active = true;
        let host = self.host();
        drop(host);
        if self.params.second_host {
            let s = self.start_service();
            *self.node.second.lock().unwrap() = Some(s.clone());
            self.second = Some(s);
        }
        for step in 0..steps {
            if let Err(m) = self.step(step).and_then(|_| self.check()) {
                return Err(violation(&self, Some(step), m));
            }
            self.absorb_events();
        }
        if let Err(m) = self.settle() {
            return Err(violation(&self, None, m));
        }
        self.absorb_events();
        let mut report = std::mem::take(&mut self.report);
        report.steps = steps;
        report.injected = self
            .faults
            .state()
            .injected
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let totals = invariants::totals(&self);
        report.credited = totals.0;
        report.withdrawals_confirmed = totals.1;
        report.withdrawals_refunded = totals.2;
        report.digest = hex::encode(std::mem::take(&mut self.digest).finalize());
        // The second host's node reference would keep it alive in a cycle.
        *self.node.second.lock().unwrap() = None;
        Ok(report)
    }
}

pub fn is_final(s: WithdrawalState) -> bool {
    matches!(
        s,
        WithdrawalState::Confirmed
            | WithdrawalState::Failed
            | WithdrawalState::Rejected
            | WithdrawalState::Cancelled
    )
}

/// Runs one seed: a report, or the first invariant that failed. A panic anywhere (the
/// host, the simulator) is a violation too.
pub fn run_seed(seed: u64, steps: u32) -> Result<Report, Violation> {
    match std::panic::catch_unwind(|| World::new(seed).run(steps)) {
        Ok(r) => r,
        Err(p) => {
            let message = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            Err(Violation {
                seed,
                steps,
                step: None,
                message: format!("panic: {message}"),
            })
        }
    }
}
