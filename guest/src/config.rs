//! The gateway's configuration (mirrors WIT `config`) with its defaults and checks.

use crate::gateway_error::{GatewayError, GwResult};

/// `game_units` game minor units for every `per_cwd_units` CWD units (1e-5 CWD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    pub game_units: u64,
    pub per_cwd_units: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LinkConfig {
    pub code_digits: u8,
    pub code_ttl_ms: u64,
    pub max_attempts: u32,
    pub message_template: String,
    pub user_interval_ms: u64,
    pub user_daily: u32,
    pub account_daily: u32,
    pub global_daily: u32,
    /// Proof-of-work difficulty for `start-link`, in leading zero bits (0: none).
    pub pow_bits: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WithdrawalConfig {
    pub min_cwd: u64,
    pub max_cwd: u64,
    pub daily_cwd: u64,
    pub review_above_cwd: u64,
    /// Payouts above this need two different approvers (0: one is enough).
    pub four_eyes_above_cwd: u64,
    /// Requests per user and UTC day (0: no limit).
    pub daily_count: u32,
    /// The operator's fee on each withdrawal, CWD units (0: none).
    pub fee_cwd: u64,
    pub expiration_secs: u32,
    pub max_attempts: u32,
}

/// Sweeping to cold storage and the fee reserve (mirrors WIT `treasury-config`).
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TreasuryConfig {
    /// Empty: no sweeps.
    pub cold_account: String,
    pub high_water_cwd: u64,
    pub low_water_cwd: u64,
    pub fee_reserve_cwd: u64,
    pub low_fee_days: u32,
    pub min_sweep_cwd: u64,
    /// Fee ceilings per operation kind (0 in a configuration: [`DEFAULT_MAX_FEE_CWD`]).
    pub max_transfer_fee_cwd: u64,
    pub max_message_fee_cwd: u64,
}

/// The default fee ceiling, per operation: 10 CWD, far above what a transfer or a message
/// costs on CrowdWiz, far below what a lying node could make the gateway pay.
pub const DEFAULT_MAX_FEE_CWD: u64 = 1_000_000;

/// The affiliate programme (mirrors WIT `referral-config`).
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReferralConfig {
    /// Per-mille per level; index 0 is the user's own referrer.
    pub level_rates_per_mille: Vec<u32>,
    pub cashback_per_mille: u32,
    pub pool_user: String,
}

/// The event feed and webhook deliveries (mirrors WIT `event-config`). Zero: default.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EventConfig {
    /// How long the feed keeps an event (default 30 days; at least a day, and at least
    /// `webhook_give_up_ms`, so no delivery outlives its event).
    pub retention_ms: u64,
    /// How long a webhook delivery is retried before it is marked failed (default 3 days).
    pub webhook_give_up_ms: u64,
    /// The longest wait between two attempts (default an hour; at least a second).
    pub webhook_max_interval_ms: u64,
    /// Events go to the host's `events.emit` only: no outbox, no feed, no durable
    /// webhooks (for embedders that keep their own record).
    pub live_only: bool,
}

pub const DAY_MS: u64 = 86_400_000;

pub const MAX_REFERRAL_LEVELS: usize = 10;
pub const DEFAULT_POOL_USER: &str = "referral-pool";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub gateway_account: String,
    pub chain_id: String,
    pub deposit_rate: Rate,
    pub withdrawal_rate: Rate,
    pub link: LinkConfig,
    pub withdrawals: WithdrawalConfig,
    pub low_fee_balance_cwd: u64,
    pub tick_interval_ms: u64,
    /// How long idempotency records are kept (see [`crate::retention`]).
    pub idempotency_window_ms: u64,
    pub treasury: TreasuryConfig,
    pub referrals: ReferralConfig,
    pub events: EventConfig,
    pub texts: PlayerTexts,
}

/// Texts a player reads, per language (mirrors WIT `player-texts`; see [`crate::texts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlayerTexts {
    /// `(language, link message)`.
    pub link_messages: Vec<(String, String)>,
    /// `(language, deposit note)`.
    pub deposit_notes: Vec<(String, String)>,
}

/// What an operator may change while the gateway runs (mirrors WIT `settings`; see
/// [`crate::settings`]): the rates and limits, the treasury's thresholds, the referral
/// rates. Everything else stays as configured.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub deposit_rate: Rate,
    pub withdrawal_rate: Rate,
    pub link: LinkConfig,
    pub withdrawals: WithdrawalConfig,
    pub low_fee_balance_cwd: u64,
    pub treasury: TreasuryConfig,
    pub referrals: ReferralConfig,
}

/// The gateway's private keys, WIF. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub active_wif: String,
    pub memo_wif: String,
}

/// The keys' text is wiped when the value goes (after `configure` has parsed it).
impl Drop for Keys {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.active_wif.zeroize();
        self.memo_wif.zeroize();
    }
}

impl core::fmt::Debug for Keys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Keys(<hidden>)")
    }
}

pub const DEFAULT_MESSAGE: &str = "Your CrowdWiz link code is {code}. Enter it in the game to link your account. If you did not ask for it, ignore this message.";

impl Config {
    /// A configuration with every limit at its default; handy for hosts and tests.
    pub fn new(
        gateway_account: &str,
        chain_id: &str,
        deposit_rate: Rate,
        withdrawal_rate: Rate,
    ) -> Self {
        Config {
            gateway_account: gateway_account.to_string(),
            chain_id: chain_id.to_string(),
            deposit_rate,
            withdrawal_rate,
            link: LinkConfig::default(),
            withdrawals: WithdrawalConfig::default(),
            low_fee_balance_cwd: 0,
            tick_interval_ms: 0,
            idempotency_window_ms: 0,
            treasury: TreasuryConfig::default(),
            referrals: ReferralConfig::default(),
            events: EventConfig::default(),
            texts: PlayerTexts::default(),
        }
        .normalized()
        .expect("defaults are valid")
    }

    /// The settings this configuration holds.
    pub fn settings(&self) -> Settings {
        Settings {
            deposit_rate: self.deposit_rate,
            withdrawal_rate: self.withdrawal_rate,
            link: self.link.clone(),
            withdrawals: self.withdrawals.clone(),
            low_fee_balance_cwd: self.low_fee_balance_cwd,
            treasury: self.treasury.clone(),
            referrals: self.referrals.clone(),
        }
    }

    /// This configuration with `s` in force, checked as [`Config::normalized`] checks a
    /// configuration. The cold account and the pool user are not settings: `s` must
    /// keep them as they are.
    pub fn with_settings(&self, s: &Settings) -> GwResult<Config> {
        let changed = Config {
            deposit_rate: s.deposit_rate,
            withdrawal_rate: s.withdrawal_rate,
            link: s.link.clone(),
            withdrawals: s.withdrawals.clone(),
            low_fee_balance_cwd: s.low_fee_balance_cwd,
            treasury: s.treasury.clone(),
            referrals: s.referrals.clone(),
            ..self.clone()
        }
        .normalized()?;
        if changed.treasury.cold_account != self.treasury.cold_account {
            return Err(GatewayError::invalid(
                "config.treasury.cold-account",
                "not a setting: it changes with the configuration (and a restart) only",
            ));
        }
        if changed.referrals.pool_user != self.referrals.pool_user {
            return Err(GatewayError::invalid(
                "config.referrals.pool-user",
                "not a setting: it changes with the configuration (and a restart) only",
            ));
        }
        Ok(changed)
    }

    /// Fills defaults (zero = default) and checks every field.
    pub fn normalized(mut self) -> GwResult<Config> {
        let bad = |f: &str, d: &str| Err(GatewayError::invalid(f, d));
        if crate::linking::check_account_name(&self.gateway_account).is_err() {
            return bad("config.gateway-account", "not a valid chain account name");
        }
        if self.chain_id.len() != 64 || hex::decode(&self.chain_id).is_err() {
            return bad("config.chain-id", "must be 64 hex digits");
        }
        self.chain_id = self.chain_id.to_ascii_lowercase();
        for (name, r) in [
            ("config.deposit-rate", self.deposit_rate),
            ("config.withdrawal-rate", self.withdrawal_rate),
        ] {
            if r.game_units == 0 || r.per_cwd_units == 0 {
                return bad(name, "game-units and per-cwd-units must both be non-zero");
            }
        }
        let l = &mut self.link;
        if l.code_digits == 0 {
            l.code_digits = 6;
        }
        if !(6..=12).contains(&l.code_digits) {
            return bad("config.link.code-digits", "must be 6..=12");
        }
        if l.code_ttl_ms == 0 {
            l.code_ttl_ms = 600_000;
        }
        if l.max_attempts == 0 {
            l.max_attempts = 5;
        }
        crate::texts::check(&self.texts)?;
        if l.message_template.is_empty() {
            l.message_template = DEFAULT_MESSAGE.to_string();
        }
        if !l.message_template.contains("{code}") {
            return bad("config.link.message-template", "must contain {code}");
        }
        if l.message_template.len() > 1000 {
            return bad("config.link.message-template", "at most 1000 bytes");
        }
        if l.user_interval_ms == 0 {
            l.user_interval_ms = 60_000;
        }
        if l.user_daily == 0 {
            l.user_daily = 10;
        }
        if l.account_daily == 0 {
            l.account_daily = 5;
        }
        if l.global_daily == 0 {
            l.global_daily = 1000;
        }
        if l.pow_bits > crate::pow::MAX_BITS {
            return bad("config.link.pow-bits", "must be 0..=32");
        }
        let w = &mut self.withdrawals;
        if w.min_cwd == 0 {
            w.min_cwd = 100_000;
        }
        if w.max_cwd != 0 && w.max_cwd < w.min_cwd {
            return bad("config.withdrawals.max-cwd", "must be at least min-cwd");
        }
        if w.fee_cwd > crate::rates::MAX_FEE_CWD {
            return bad("config.withdrawals.fee-cwd", "must be at most 1000000000 (10,000 CWD)");
        }
        if w.expiration_secs == 0 {
            w.expiration_secs = 120;
        }
        if !(30..=3600).contains(&w.expiration_secs) {
            return bad("config.withdrawals.expiration-secs", "must be 30..=3600");
        }
        if w.max_attempts == 0 {
            w.max_attempts = 3;
        }
        if self.tick_interval_ms == 0 {
            self.tick_interval_ms = 60_000;
        }
        if self.idempotency_window_ms == 0 {
            self.idempotency_window_ms = crate::retention::DEFAULT_WINDOW_MS;
        }
        if self.idempotency_window_ms < crate::retention::MIN_WINDOW_MS {
            return bad(
                "config.idempotency-window-ms",
                "must be at least 3600000 (an hour)",
            );
        }
        let tr = &mut self.treasury;
        if !tr.cold_account.is_empty() {
            if crate::linking::check_account_name(&tr.cold_account).is_err() {
                return bad(
                    "config.treasury.cold-account",
                    "not a valid chain account name",
                );
            }
            if tr.cold_account == self.gateway_account {
                return bad(
                    "config.treasury.cold-account",
                    "must not be the gateway account",
                );
            }
        }
        if tr.min_sweep_cwd == 0 {
            tr.min_sweep_cwd = 100_000;
        }
        for ceiling in [&mut tr.max_transfer_fee_cwd, &mut tr.max_message_fee_cwd] {
            if *ceiling == 0 {
                *ceiling = DEFAULT_MAX_FEE_CWD;
            }
        }
        let r = &mut self.referrals;
        if r.pool_user.is_empty() {
            r.pool_user = DEFAULT_POOL_USER.to_string();
        }
        if crate::gateway::check_user(&r.pool_user).is_err() {
            return bad("config.referrals.pool-user", "not a valid user id");
        }
        if r.level_rates_per_mille.len() > MAX_REFERRAL_LEVELS {
            return bad(
                "config.referrals.level-rates-per-mille",
                "at most 10 levels",
            );
        }
        let total: u64 = r
            .level_rates_per_mille
            .iter()
            .map(|&x| x as u64)
            .sum::<u64>()
            + r.cashback_per_mille as u64;
        if total > 1000 {
            return bad(
                "config.referrals",
                "level rates and cashback must sum to at most 1000 per mille",
            );
        }
        let ev = &mut self.events;
        if ev.retention_ms == 0 {
            ev.retention_ms = 30 * DAY_MS;
        }
        if ev.webhook_give_up_ms == 0 {
            ev.webhook_give_up_ms = 3 * DAY_MS;
        }
        if ev.webhook_max_interval_ms == 0 {
            ev.webhook_max_interval_ms = 3_600_000;
        }
        if ev.retention_ms < DAY_MS {
            return bad(
                "config.events.retention-ms",
                "must be at least 86400000 (a day)",
            );
        }
        if ev.webhook_give_up_ms > ev.retention_ms {
            return bad(
                "config.events.webhook-give-up-ms",
                "must not exceed retention-ms (a delivery must not outlive its event)",
            );
        }
        if ev.webhook_max_interval_ms < 1000 {
            return bad(
                "config.events.webhook-max-interval-ms",
                "must be at least 1000",
            );
        }
        Ok(self)
    }
}
