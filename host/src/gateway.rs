//! The component's `api` export, as plain Rust calls on an [`Instance`], and a
//! [`Service`]: one configured instance shared by the HTTP API and the timer, which
//! never ticks twice at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bindings::api::*;
use crate::imports::Capabilities;
use crate::runtime::{Instance, Runtime};

/// A gateway call failed: the gateway said no (`Refused`, with what to do), or the
/// component itself failed (trap, time budget, memory).
#[derive(Debug)]
pub enum GatewayCallError {
    Refused(GatewayError),
    Component(anyhow::Error),
}

impl std::fmt::Display for GatewayCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayCallError::Refused(e) => write!(f, "{}", crate::http_api::error_message(e)),
            GatewayCallError::Component(e) => write!(f, "the gateway component failed: {e:#}"),
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
                        .map_err(|e| GatewayCallError::Component(e.into()))?
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
    fn account => call_account(user: &str) -> AccountView;
    fn deposit_instructions => call_deposit_instructions(user: &str) -> DepositInfo;
    fn quote_deposit => call_quote_deposit(cwd: u64) -> Quote;
    fn quote_withdrawal => call_quote_withdrawal(amount: WithdrawalAmount) -> Quote;
    fn adjust_balance => call_adjust_balance(user: &str, delta: i64, idempotency_key: &str, reason: &str) -> BalanceChange;
    fn request_withdrawal => call_request_withdrawal(user: &str, amount: WithdrawalAmount, idempotency_key: &str) -> Withdrawal;
    fn approve_withdrawal => call_approve_withdrawal(withdrawal_id: &str) -> Withdrawal;
    fn reject_withdrawal => call_reject_withdrawal(withdrawal_id: &str, reason: &str) -> Withdrawal;
    fn cancel_withdrawal => call_cancel_withdrawal(withdrawal_id: &str, reason: &str) -> Withdrawal;
    fn list_unknown_payouts => call_list_unknown_payouts(include_acknowledged: bool) -> Vec<UnknownPayout>;
    fn acknowledge_unknown_payout => call_acknowledge_unknown_payout(deposit_id: &str, note: &str) -> UnknownPayout;
    fn get_withdrawal => call_get_withdrawal(withdrawal_id: &str) -> Withdrawal;
    fn list_withdrawals => call_list_withdrawals(filter: &WithdrawalFilter, start_after: Option<&str>, limit: u32) -> Vec<Withdrawal>;
    fn list_unclaimed => call_list_unclaimed(include_resolved: bool, start_after: Option<&str>, limit: u32) -> Vec<UnclaimedDeposit>;
    fn assign_unclaimed => call_assign_unclaimed(deposit_id: &str, user: &str) -> UnclaimedDeposit;
    fn refund_unclaimed => call_refund_unclaimed(deposit_id: &str, note: &str) -> UnclaimedDeposit;
    fn status => call_status() -> GatewayStatus;
    fn tick => call_tick() -> TickReport;
}

/// One configured instance, shared. Calls take turns (the component is single-threaded);
/// several `Service`s (processes) may share one database safely.
pub struct Service {
    instance: Mutex<Instance>,
    pub info: GatewayInfo,
    pub tick_interval: Duration,
}

impl Service {
    /// Instantiates and configures. The keys are passed to the component and dropped
    /// here; the host keeps no copy.
    pub fn start(runtime: &Runtime, caps: Capabilities, config: &Config, keys: Keys) -> anyhow::Result<Arc<Self>> {
        let mut instance = runtime.instantiate_with(caps)?;
        let info = instance.api().configure(config, &keys).map_err(|e| anyhow::anyhow!("configuring the gateway: {e}"))?;
        drop(keys);
        Ok(Arc::new(Service {
            instance: Mutex::new(instance),
            info,
            tick_interval: Duration::from_millis(config.tick_interval_ms.max(1)),
        }))
    }

    /// Runs `f` with exclusive use of the instance.
    pub fn with<R>(&self, f: impl FnOnce(&mut Api<'_>) -> R) -> R {
        let mut guard = self.instance.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard.api())
    }

    pub fn tick(&self) -> GwResult<TickReport> {
        self.with(|api| api.tick())
    }

    /// Ticks until `stop` is set, at the interval the component asks for (bounded to
    /// 50 ms..=`max_interval`). A failed tick is logged and retried at the usual interval.
    pub fn spawn_timer(self: &Arc<Self>, stop: Arc<AtomicBool>, max_interval: Duration) -> std::thread::JoinHandle<()> {
        let service = self.clone();
        std::thread::Builder::new()
            .name("gateway-timer".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let wait = match service.tick() {
                        Ok(report) => Duration::from_millis(report.next_tick_ms),
                        Err(e) => {
                            eprintln!("tick failed: {e}");
                            service.tick_interval
                        }
                    };
                    let wait = wait.clamp(Duration::from_millis(50), max_interval);
                    // Sleep in slices so that stopping is prompt.
                    let mut left = wait;
                    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
                        let step = left.min(Duration::from_millis(50));
                        std::thread::sleep(step);
                        left -= step;
                    }
                }
            })
            .expect("spawning the timer thread")
    }
}
