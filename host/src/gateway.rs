//! The component's `api` export, as plain Rust calls on an [`Instance`], and a
//! [`Service`]: configured instances shared by the HTTP API and the timer. The timer
//! ticks in an instance of its own; API calls are served by a pool, so a game call
//! never waits behind the tick's node calls. The instances share the store, whose
//! optimistic commits make this as safe as several processes. An instance in which a
//! call trapped is dropped and replaced, with an alert.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use zeroize::Zeroizing;

use crate::bindings::api::*;
use crate::imports::Capabilities;
use crate::lease::{FencedStore, Lease, LeaseConfig, LeaseStatus, Role};
use crate::runtime::{Instance, Runtime};

/// A gateway call failed: the gateway said no (`Refused`, with what to do), or the
/// component itself failed (trap, time budget, memory).
#[derive(Debug)]
pub enum GatewayCallError {
    Refused(GatewayError),
    Component(anyhow::Error),
    /// Another host holds the tick lease (named when known): it does the tick's work.
    Standby {
        holder: Option<String>,
    },
}

impl std::fmt::Display for GatewayCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayCallError::Refused(e) => write!(f, "{}", crate::http_api::error_message(e)),
            GatewayCallError::Component(e) => write!(f, "the gateway component failed: {e:#}"),
            GatewayCallError::Standby { holder: Some(h) } => write!(
                f,
                "this host does not hold the tick lease; {h} does the tick's work"
            ),
            GatewayCallError::Standby { holder: None } => write!(
                f,
                "this host does not hold the tick lease; another host does the tick's work"
            ),
        }
    }
}

impl std::error::Error for GatewayCallError {}

pub type GwResult<T> = Result<T, GatewayCallError>;

/// Borrows an instance to call its gateway API.
pub struct Api<'a>(&'a mut Instance);

impl Instance {
    pub fn api(&mut self) -> Api<'_> {
        Api(self)
    }
}

macro_rules! api_calls {
    ($( fn $name:ident => $call:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        impl Api<'_> {
            $(
                pub fn $name(&mut self, $($arg: $ty),*) -> GwResult<$ret> {
                    self.0.arm();
                    let inst = &mut *self.0;
                    inst.gateway
                        .crowdwiz_gateway_api()
                        .$call(&mut inst.store, $($arg),*)
                        .map_err(|e| inst.trapped(e.into()))?
                        .map_err(GatewayCallError::Refused)
                }
            )*
        }
    };
}

api_calls! {
    fn configure => call_configure(config: &Config, keys: &Keys) -> GatewayInfo;
    fn start_link => call_start_link(user: &str, account: &str, proof: Option<&PowProof>) -> LinkStarted;
    fn link_challenge => call_link_challenge() -> PowChallenge;
    fn start_memo_link => call_start_memo_link(user: &str) -> MemoLink;
    fn confirm_link => call_confirm_link(user: &str, code: &str) -> LinkedAccount;
    fn unlink => call_unlink(user: &str) -> ();
    fn set_language => call_set_language(user: &str, language: &str) -> ();
    fn account => call_account(user: &str) -> AccountView;
    fn deposit_instructions => call_deposit_instructions(user: &str) -> DepositInfo;
    fn quote_deposit => call_quote_deposit(cwd: u64) -> Quote;
    fn quote_withdrawal => call_quote_withdrawal(amount: WithdrawalAmount) -> Quote;
    fn adjust_balance => call_adjust_balance(user: &str, delta: i64, idempotency_key: &str, reason: &str) -> BalanceChange;
    fn request_withdrawal => call_request_withdrawal(user: &str, amount: WithdrawalAmount, idempotency_key: &str) -> Withdrawal;
    fn approve_withdrawal => call_approve_withdrawal(actor: &str, withdrawal_id: &str) -> Withdrawal;
    fn reject_withdrawal => call_reject_withdrawal(actor: &str, withdrawal_id: &str, reason: &str) -> Withdrawal;
    fn cancel_withdrawal => call_cancel_withdrawal(actor: &str, withdrawal_id: &str, reason: &str) -> Withdrawal;
    fn list_unknown_payouts => call_list_unknown_payouts(include_acknowledged: bool) -> Vec<UnknownPayout>;
    fn acknowledge_unknown_payout => call_acknowledge_unknown_payout(actor: &str, deposit_id: &str, note: &str) -> UnknownPayout;
    fn get_withdrawal => call_get_withdrawal(withdrawal_id: &str) -> Withdrawal;
    fn list_withdrawals => call_list_withdrawals(filter: &WithdrawalFilter, order: ListOrder, start_after: Option<&str>, limit: u32) -> Vec<Withdrawal>;
    fn list_deposits => call_list_deposits(user: &str, order: ListOrder, start_after: Option<&str>, limit: u32) -> Vec<CreditedDeposit>;
    fn list_unclaimed => call_list_unclaimed(include_resolved: bool, start_after: Option<&str>, limit: u32) -> Vec<UnclaimedDeposit>;
    fn assign_unclaimed => call_assign_unclaimed(actor: &str, deposit_id: &str, user: &str) -> UnclaimedDeposit;
    fn refund_unclaimed => call_refund_unclaimed(actor: &str, deposit_id: &str, note: &str) -> UnclaimedDeposit;
    fn status => call_status() -> GatewayStatus;
    fn transfer_internal => call_transfer_internal(from_user: &str, to_user: &str, amount: u64, idempotency_key: &str, memo: &str) -> InternalTransfer;
    fn list_transfers => call_list_transfers(user: &str, order: ListOrder, start_after: Option<&str>, limit: u32) -> Vec<InternalTransfer>;
    fn set_referrer => call_set_referrer(user: &str, referrer: &str) -> Referral;
    fn reward_referrers => call_reward_referrers(user: &str, base_amount: u64, idempotency_key: &str) -> Reward;
    fn list_referrals => call_list_referrals(referrer: &str, start_after: Option<&str>, limit: u32) -> Vec<Referral>;
    fn referral_earnings => call_referral_earnings(user: &str) -> ReferralTotals;
    fn list_sweeps => call_list_sweeps(start_after: Option<&str>, limit: u32) -> Vec<Sweep>;
    fn list_events => call_list_events(after: u64, limit: u32) -> Vec<FeedEvent>;
    fn feed_position => call_feed_position() -> u64;
    fn claim_webhook_deliveries => call_claim_webhook_deliveries(limit: u32) -> Vec<WebhookClaim>;
    fn report_webhook_delivery => call_report_webhook_delivery(seq: u64, delivered: bool, status: u16, detail: &str) -> WebhookDelivery;
    fn redeliver_event => call_redeliver_event(actor: &str, seq: u64) -> WebhookDelivery;
    fn list_webhook_deliveries => call_list_webhook_deliveries(state: Option<DeliveryState>, start_after: Option<u64>, limit: u32) -> Vec<WebhookDelivery>;
    fn get_settings => call_get_settings() -> SettingsView;
    fn update_settings => call_update_settings(actor: &str, settings: &Settings, revision: u64) -> SettingsView;
    fn list_audit => call_list_audit(filter: &AuditFilter, start_before: Option<&str>, limit: u32) -> Vec<AuditEntry>;
    fn reconcile => call_reconcile() -> Books;
    fn statement => call_statement(user: &str, start_before: Option<&str>, limit: u32) -> Vec<Movement>;
    fn list_movements => call_list_movements(since_ms: u64, before_ms: u64, start_after: Option<&str>, limit: u32) -> Vec<Movement>;
    fn tick => call_tick() -> TickReport;
}

impl Instance {
    /// A call trapped: the instance may be half-way through anything, so it is marked
    /// for replacement.
    fn trapped(&mut self, e: anyhow::Error) -> GatewayCallError {
        // The first trap is the cause; later calls only find the instance unusable.
        self.poisoned
            .get_or_insert_with(|| trap_cause(&e).to_string());
        GatewayCallError::Component(e)
    }
}

/// The kind of trap, for alerts and metrics: `time-budget`, `memory-limit`, `panic`
/// (a Rust panic in the component is an `unreachable` trap) or `trap`.
pub fn trap_cause(e: &anyhow::Error) -> &'static str {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "time-budget",
        Some(wasmtime::Trap::UnreachableCodeReached) => "panic",
        _ if e.chain().any(|c| {
            c.to_string().contains("growing memory") || c.to_string().contains("memory growth")
        }) =>
        {
            "memory-limit"
        }
        _ => "trap",
    }
}

/// The keys, kept to configure replacement instances; zeroed when the service goes.
struct SecretKeys {
    active_wif: Zeroizing<String>,
    memo_wif: Zeroizing<String>,
}

impl SecretKeys {
    /// A copy for one `configure` call, zeroed when it returns.
    fn with_keys<R>(&self, f: impl FnOnce(&Keys) -> R) -> R {
        let keys = Keys {
            active_wif: (*self.active_wif).clone(),
            memo_wif: (*self.memo_wif).clone(),
        };
        let keys = Zeroizing::new(KeysZeroOnDrop(keys));
        f(&keys.0)
    }
}

/// `Keys` is generated without `Zeroize`: its strings are wiped here.
struct KeysZeroOnDrop(Keys);

impl zeroize::Zeroize for KeysZeroOnDrop {
    fn zeroize(&mut self) {
        self.0.active_wif.zeroize();
        self.0.memo_wif.zeroize();
    }
}

/// How the service is doing, for `/ready` and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// When the last tick succeeded (no trap, no refusal).
    pub last_tick_ok: Option<Instant>,
    pub last_tick: Option<TickReport>,
    pub last_tick_duration: Option<Duration>,
    /// The last tick's error, if it failed.
    pub last_tick_error: Option<String>,
    /// The last block fully scanned, as of the last tick.
    pub scanned_through_block: Option<u32>,
}

/// Counters since the process started.
#[derive(Default)]
pub struct Counters {
    /// Instances dropped after a trap and replaced.
    pub recoveries: AtomicU64,
    pub ticks_ok: AtomicU64,
    pub ticks_failed: AtomicU64,
}

/// An API instance and whether `configure` succeeded in it.
struct Slot {
    instance: Instance,
    configured: bool,
}

/// The API instances not in use, and how many exist.
struct Pool {
    idle: Vec<Slot>,
    total: usize,
}

/// Configured instances sharing one store: one for the timer's ticks, a pool for API
/// calls. Several `Service`s (processes) may share one database safely.
pub struct Service {
    runtime: Runtime,
    caps: Capabilities,
    /// `caps` with the store fenced by the tick lease: what the tick instance gets.
    tick_caps: Capabilities,
    lease: Lease,
    /// The lease version the tick instance's commits require (0: none held).
    fence: Arc<AtomicU64>,
    config: Config,
    keys: SecretKeys,
    tick_instance: Mutex<Option<Instance>>,
    /// Whether the tick instance exists and is configured; read without waiting for a
    /// tick in progress.
    tick_configured: AtomicBool,
    pool: Mutex<Pool>,
    pool_free: Condvar,
    pool_size: usize,
    /// No reconfiguration attempt before this time of the capability clock (when the
    /// node is down, every call would otherwise wait for it). The capability clock, not
    /// `Instant`, so that a simulated host is driven by simulated time alone.
    next_configure_ms: AtomicU64,
    health: Mutex<Health>,
    catch_up: Mutex<crate::catchup::CatchUp>,
    pub counters: Counters,
    pub info: GatewayInfo,
    pub tick_interval: Duration,
}

/// API instances by default: calls beyond this many at once wait for one.
pub const DEFAULT_API_INSTANCES: usize = 4;

/// How a [`Service`] runs beside others.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Instances serving API calls (the tick has its own).
    pub api_instances: usize,
    /// This host's part in the tick lease.
    pub lease: LeaseConfig,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            api_instances: DEFAULT_API_INSTANCES,
            lease: LeaseConfig::default(),
        }
    }
}

const RECONFIGURE_EVERY: Duration = Duration::from_secs(1);

impl Service {
    /// Instantiates and configures. The keys are kept in memory that is zeroed on
    /// drop, to configure replacement instances; they are never written anywhere.
    pub fn start(
        runtime: &Runtime,
        caps: Capabilities,
        config: &Config,
        keys: Keys,
    ) -> anyhow::Result<Arc<Self>> {
        Self::start_with(runtime, caps, config, keys, DEFAULT_API_INSTANCES)
    }

    /// The store the component uses, for the host's own records (outside the component's
    /// key space: `host/…`, as the tick lease).
    pub(crate) fn host_store(&self) -> Arc<dyn crate::store::Store> {
        self.caps.store.clone()
    }

    /// How many instances serve API calls.
    pub fn api_instances(&self) -> usize {
        self.pool_size
    }

    /// As [`Service::start`], with `api_instances` instances serving API calls.
    pub fn start_with(
        runtime: &Runtime,
        caps: Capabilities,
        config: &Config,
        keys: Keys,
        api_instances: usize,
    ) -> anyhow::Result<Arc<Self>> {
        Self::start_opts(
            runtime,
            caps,
            config,
            keys,
            ServiceOptions {
                api_instances,
                ..Default::default()
            },
        )
    }

    /// As [`Service::start`], with explicit options.
    pub fn start_opts(
        runtime: &Runtime,
        mut caps: Capabilities,
        config: &Config,
        keys: Keys,
        options: ServiceOptions,
    ) -> anyhow::Result<Arc<Self>> {
        let api_instances = options.api_instances;
        caps.events = Arc::new(crate::metrics::CountingSink(caps.events));
        let mut keys = KeysZeroOnDrop(keys);
        let secret = SecretKeys {
            active_wif: Zeroizing::new(std::mem::take(&mut keys.0.active_wif)),
            memo_wif: Zeroizing::new(std::mem::take(&mut keys.0.memo_wif)),
        };
        drop(Zeroizing::new(keys));
        let fence = Arc::new(AtomicU64::new(0));
        let tick_caps = Capabilities {
            store: Arc::new(FencedStore::new(caps.store.clone(), fence.clone())),
            ..caps.clone()
        };
        let lease = Lease::new(caps.store.clone(), options.lease);
        let mut tick = runtime.instantiate_with(tick_caps.clone())?;
        // `configure` checks the chain, the account and that the keys are its keys: a
        // mismatch refuses to start.
        let info = secret
            .with_keys(|k| tick.api().configure(config, k))
            .map_err(|e| anyhow::anyhow!("configuring the gateway: {e}"))?;
        let service = Service {
            runtime: runtime.clone(),
            caps,
            tick_caps,
            lease,
            fence,
            config: config.clone(),
            keys: secret,
            tick_instance: Mutex::new(Some(tick)),
            tick_configured: AtomicBool::new(true),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                total: 0,
            }),
            pool_free: Condvar::new(),
            pool_size: api_instances.max(1),
            next_configure_ms: AtomicU64::new(0),
            health: Mutex::new(Health::default()),
            catch_up: Mutex::new(crate::catchup::CatchUp::default()),
            counters: Counters::default(),
            info,
            tick_interval: Duration::from_millis(config.tick_interval_ms.max(1)),
        };
        // One API instance now, so that a bad start shows at once; more on demand.
        let slot = service.new_slot()?;
        if !slot.configured {
            anyhow::bail!("configuring the gateway's API instance failed; see the log");
        }
        Self::lock(&service.pool).total = 1;
        service.checkin(slot);
        Ok(Arc::new(service))
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh instance, configured if the node lets it be.
    fn new_slot(&self) -> anyhow::Result<Slot> {
        let mut instance = self.runtime.instantiate_with(self.caps.clone())?;
        let configured = self.configure(&mut instance);
        Ok(Slot {
            instance,
            configured,
        })
    }

    fn configure(&self, instance: &mut Instance) -> bool {
        let next = self
            .caps
            .clock
            .now_ms()
            .saturating_add(RECONFIGURE_EVERY.as_millis() as u64);
        self.next_configure_ms.store(next, Ordering::Relaxed);
        match self
            .keys
            .with_keys(|k| instance.api().configure(&self.config, k))
        {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "configuring a gateway instance failed; it answers not-configured until a retry succeeds");
                false
            }
        }
    }

    /// Whether the backoff after a failed configuration is over; a clock that went back
    /// by more than the backoff does not postpone it.
    fn reconfigure_due(&self) -> bool {
        let now = self.caps.clock.now_ms();
        let next = self.next_configure_ms.load(Ordering::Relaxed);
        now >= next || next > now.saturating_add(RECONFIGURE_EVERY.as_millis() as u64)
    }

    /// Takes an idle API instance, creating one if the pool is not full, else waits.
    fn checkout(&self) -> anyhow::Result<Slot> {
        let mut pool = Self::lock(&self.pool);
        loop {
            // A configured instance first: one that could not configure (the node was
            // down when it was made) answers nothing, not even the store-only calls (the
            // feed, webhook claims) that matter most while the node is down.
            let pick = pool
                .idle
                .iter()
                .rposition(|s| s.configured)
                .or(pool.idle.len().checked_sub(1));
            if let Some(i) = pick {
                return Ok(pool.idle.swap_remove(i));
            }
            if pool.total < self.pool_size {
                pool.total += 1;
                drop(pool);
                return self
                    .new_slot()
                    .inspect_err(|_| Self::lock(&self.pool).total -= 1);
            }
            pool = self.pool_free.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn checkin(&self, slot: Slot) {
        let mut pool = Self::lock(&self.pool);
        pool.idle.push(slot);
        drop(pool);
        self.pool_free.notify_one();
    }

    /// Runs `f` with exclusive use of an API instance. If a call in it trapped, the
    /// instance is dropped (the next call gets a fresh, configured one) and an alert
    /// is raised.
    pub fn with<R>(&self, f: impl FnOnce(&mut Api<'_>) -> R) -> R {
        let mut slot = loop {
            match self.checkout() {
                Ok(slot) => break slot,
                // Instantiating a pre-linked component fails only when the host is out
                // of resources: wait and try again rather than fail the call.
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "instantiating the gateway component failed; retrying");
                    std::thread::sleep(RECONFIGURE_EVERY);
                }
            }
        };
        if !slot.configured && self.reconfigure_due() {
            slot.configured = self.configure(&mut slot.instance);
        }
        let out = f(&mut slot.instance.api());
        match slot.instance.poisoned().map(str::to_string) {
            None => self.checkin(slot),
            Some(cause) => {
                self.recovered("api", &cause);
                Self::lock(&self.pool).total -= 1;
                self.pool_free.notify_one();
                // Replace it now, so that the next call finds it ready.
                if let Ok(fresh) = self.checkout() {
                    self.checkin(fresh);
                }
            }
        }
        out
    }

    /// Runs `f` at once on an idle, configured API instance, or returns `None` without
    /// waiting when there is none (then use [`Service::with`]). For calls that only read
    /// the store, on a store whose reads never wait on a network or a lock for long
    /// ([`Store::reads_are_brief`]): the HTTP API runs those on its async threads, sparing
    /// a hand-off to a blocking thread per call.
    pub fn try_with_ready<R>(&self, f: impl FnOnce(&mut Api<'_>) -> R) -> Option<R> {
        if !self.caps.store.reads_are_brief() {
            return None;
        }
        let mut slot = {
            let mut pool = Self::lock(&self.pool);
            let at = pool.idle.iter().rposition(|s| s.configured)?;
            pool.idle.swap_remove(at)
        };
        let out = f(&mut slot.instance.api());
        match slot.instance.poisoned().map(str::to_string) {
            None => self.checkin(slot),
            Some(cause) => {
                // The replacement is made by the next call that needs one (`checkout`).
                self.recovered("api", &cause);
                Self::lock(&self.pool).total -= 1;
                self.pool_free.notify_one();
            }
        }
        Some(out)
    }

    /// An instance was dropped after a trap: count it and tell the operator.
    fn recovered(&self, role: &str, cause: &str) {
        self.counters.recoveries.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            role,
            cause,
            "a call trapped in the gateway component; the instance was dropped and is replaced"
        );
        self.caps.events.emit(&json!({
            "type": "alert",
            "kind": "instance-restarted",
            "role": role,
            "cause": cause,
            "detail": format!("a call in the {role} instance trapped ({cause}); the instance was replaced by a fresh one"),
        }));
    }

    /// Takes or renews the tick lease and arms the tick instance's fence with it. Callers
    /// hold the tick instance's lock, so that no tick runs while the version changes.
    fn lease_step(&self) -> GwResult<()> {
        let now_ms = self.caps.clock.now_ms();
        match self.lease.acquire(now_ms) {
            Ok(Role::Holder(version)) => {
                self.fence.store(version, Ordering::SeqCst);
                Ok(())
            }
            Ok(Role::Standby(holder)) => {
                self.fence.store(0, Ordering::SeqCst);
                Err(GatewayCallError::Standby { holder })
            }
            Err(e) => {
                self.fence.store(0, Ordering::SeqCst);
                Err(GatewayCallError::Refused(GatewayError::StoreUnavailable(
                    e.0,
                )))
            }
        }
    }

    /// Renews the lease if the holder's renewal is due (between ticks). False when this
    /// host does not hold it (any more).
    pub fn renew_lease_if_due(&self) -> bool {
        if self.lease.renewal_due() {
            let _guard = Self::lock(&self.tick_instance);
            return self.lease_step().is_ok();
        }
        self.lease.held()
    }

    pub fn lease_config(&self) -> &LeaseConfig {
        self.lease.config()
    }

    /// Who holds the tick lease, as this host last saw it.
    pub fn lease_status(&self) -> LeaseStatus {
        self.lease.status()
    }

    /// Gives up the tick lease (a clean stop): another host takes it at once.
    pub fn release_lease(&self) {
        let _guard = Self::lock(&self.tick_instance);
        self.fence.store(0, Ordering::SeqCst);
        self.lease.release();
    }

    /// Runs `f` on the timer's instance under the tick lease, replacing the instance
    /// first if the last tick trapped.
    fn with_tick_instance<R>(&self, f: impl FnOnce(&mut Api<'_>) -> GwResult<R>) -> GwResult<R> {
        let mut guard = Self::lock(&self.tick_instance);
        self.lease_step()?;
        if guard.is_none() {
            let mut fresh = self
                .runtime
                .instantiate_with(self.tick_caps.clone())
                .map_err(GatewayCallError::Component)?;
            self.keys
                .with_keys(|k| fresh.api().configure(&self.config, k))
                .map_err(|e| {
                    GatewayCallError::Component(anyhow::anyhow!(
                        "configuring a fresh tick instance: {e}"
                    ))
                })?;
            *guard = Some(fresh);
            self.tick_configured.store(true, Ordering::Relaxed);
        }
        let instance = guard.as_mut().expect("set above");
        let out = f(&mut instance.api());
        if let Some(cause) = instance.poisoned().map(str::to_string) {
            *guard = None;
            self.tick_configured.store(false, Ordering::Relaxed);
            self.recovered("tick", &cause);
        }
        out
    }

    /// Keeps the lease renewed while a tick runs (a catch-up or a slow node can make one
    /// longer than the lease: another host would take over and the rest of this tick's
    /// work would be fenced off and done again there). The fence follows each renewal;
    /// a commit in flight across one conflicts once and is retried by the component.
    fn renew_while_ticking(&self, done: &std::sync::atomic::AtomicBool) {
        const STEP: Duration = Duration::from_millis(50);
        while !done.load(Ordering::SeqCst) {
            // Woken when the tick ends (see `tick`): a sleep here made every tick last
            // at least one step.
            std::thread::park_timeout(STEP);
            if done.load(Ordering::SeqCst) || !self.lease.renewal_due() {
                continue;
            }
            match self.lease.acquire(self.caps.clock.now_ms()) {
                Ok(Role::Holder(version)) => self.fence.store(version, Ordering::SeqCst),
                // Lost or unreadable: this tick's remaining commits must not land.
                _ => self.fence.store(0, Ordering::SeqCst),
            }
        }
    }

    /// One tick in the timer's instance, recorded for `/ready` and `/metrics`.
    pub fn tick(&self) -> GwResult<TickReport> {
        let started = Instant::now();
        let done = std::sync::atomic::AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            let renewer = s.spawn(|| self.renew_while_ticking(&done));
            let result = self.with_tick_instance(|api| {
                let report = api.tick()?;
                // The scan position, for the lag figure: in the report, no status call.
                let scanned = Some(report.scanned_through_block);
                Ok((report, scanned))
            });
            done.store(true, Ordering::SeqCst);
            renewer.thread().unpark();
            result
        });
        if let Err(GatewayCallError::Standby { holder }) = result {
            return Err(GatewayCallError::Standby { holder });
        }
        let mut health = Self::lock(&self.health);
        health.last_tick_duration = Some(started.elapsed());
        match result {
            Ok((report, scanned)) => {
                Self::lock(&self.catch_up).observe(
                    Instant::now(),
                    report.history_scanned,
                    report.history_behind,
                );
                match &report.derived_build {
                    Some(b) if b.done => tracing::info!(
                        records = b.counted,
                        "totals and indexes built over the older store"
                    ),
                    Some(b) => tracing::info!(
                        records = b.counted,
                        "building totals and indexes over an older store (a batch a tick)"
                    ),
                    None => {}
                }
                self.counters.ticks_ok.fetch_add(1, Ordering::Relaxed);
                health.last_tick_ok = Some(Instant::now());
                health.last_tick = Some(report.clone());
                health.last_tick_error = None;
                if scanned.is_some() {
                    health.scanned_through_block = scanned;
                }
                Ok(report)
            }
            Err(e) => {
                self.counters.ticks_failed.fetch_add(1, Ordering::Relaxed);
                health.last_tick_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// The tick interval the component uses when nothing is pending (its default,
    /// 60 s, when the configuration leaves it at 0).
    pub fn expected_tick_interval(&self) -> Duration {
        match self.config.tick_interval_ms {
            0 => Duration::from_secs(60),
            ms => Duration::from_millis(ms),
        }
    }

    /// False between a trap in the tick instance and a successful reconfiguration.
    pub fn is_configured(&self) -> bool {
        self.tick_configured.load(Ordering::Relaxed)
    }

    /// Whether the signer process answered its last request; `None` without one.
    pub fn signer_reachable(&self) -> Option<bool> {
        self.caps.signer.reachable()
    }

    pub fn health(&self) -> Health {
        Self::lock(&self.health).clone()
    }

    /// Ticks until `stop` is set, at the interval the component asks for (at most
    /// `max_interval`; at once when it asks for 0, as in a catch-up, else at least
    /// 50 ms apart). A failed tick is logged and retried at the usual interval.
    pub fn spawn_timer(
        self: &Arc<Self>,
        stop: Arc<AtomicBool>,
        max_interval: Duration,
    ) -> std::thread::JoinHandle<()> {
        let service = self.clone();
        std::thread::Builder::new()
            .name("gateway-timer".into())
            .spawn(move || {
                let mut finality = crate::finality::FinalityWatch::default();
                while !stop.load(Ordering::Relaxed) {
                    let wait = match service.tick() {
                        // More history to read right now: no pause, not even a poll.
                        Ok(report) if report.next_tick_ms == 0 => continue,
                        Ok(report) => Duration::from_millis(report.next_tick_ms),
                        // Another host does the work: look again soon whether it still does.
                        Err(GatewayCallError::Standby { .. }) => {
                            service.lease.config().poll_every()
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "tick failed");
                            service.tick_interval
                        }
                    };
                    let wait = wait.clamp(Duration::from_millis(50), max_interval);
                    // Sleep in slices so that stopping is prompt; tick at once when the
                    // irreversible block moves (deposits to credit, payouts to confirm).
                    let mut left = wait;
                    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
                        // Only the holder watches the chain (one host's worth of node load),
                        // and it keeps its lease while idle.
                        if service.lease.held()
                            && (!service.renew_lease_if_due()
                                || finality.moved(service.caps.node.as_ref()))
                        {
                            break;
                        }
                        let step = left.min(Duration::from_millis(50));
                        std::thread::sleep(step);
                        left -= step;
                    }
                }
                service.release_lease();
            })
            .expect("spawning the timer thread")
    }
}

#[cfg(test)]
mod tests {
    use super::trap_cause;

    #[test]
    fn traps_are_named_by_cause() {
        assert_eq!(
            trap_cause(&anyhow::Error::new(wasmtime::Trap::Interrupt)),
            "time-budget"
        );
        assert_eq!(
            trap_cause(&anyhow::Error::new(wasmtime::Trap::UnreachableCodeReached)),
            "panic"
        );
        let grow = anyhow::anyhow!("forcing trap when growing memory to 70000000 bytes")
            .context("error while executing at wasm backtrace");
        assert_eq!(trap_cause(&grow), "memory-limit");
        assert_eq!(
            trap_cause(&anyhow::Error::new(wasmtime::Trap::StackOverflow)),
            "trap"
        );
    }
}
