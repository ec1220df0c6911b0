//! The operator's configuration: one TOML file, plus the keys from a separate file or
//! the environment (never from the main file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::bindings::api;

pub const MAIN_CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";
pub const ACTIVE_WIF_ENV: &str = "CWD_GATEWAY_ACTIVE_WIF";
pub const MEMO_WIF_ENV: &str = "CWD_GATEWAY_MEMO_WIF";
pub const API_TOKEN_ENV: &str = "CWD_GATEWAY_API_TOKEN";
pub const CABINET_SECRET_ENV: &str = "CWD_GATEWAY_CABINET_SECRET";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub gateway: GatewaySection,
    pub node: NodeSection,
    pub rates: RatesSection,
    #[serde(default)]
    pub link: LinkSection,
    #[serde(default)]
    pub withdrawals: WithdrawalSection,
    #[serde(default)]
    pub treasury: TreasurySection,
    #[serde(default)]
    pub referrals: ReferralsSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub events: EventsSection,
    #[serde(default)]
    pub keys: KeysSection,
    #[serde(default)]
    pub signer: SignerSection,
    #[serde(default)]
    pub runtime: RuntimeSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub lease: LeaseSection,
    #[serde(default)]
    pub cabinet: CabinetSection,
    #[serde(default)]
    pub console: ConsoleSection,
    #[serde(default)]
    pub texts: TextsSection,
}

/// `[texts]`: what players read that the gateway writes, per language (WIT
/// `player-texts`): `link_messages = { ru = "… {code} …" }`, `deposit_notes = { … }`.
/// English and Russian are built in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextsSection {
    pub link_messages: std::collections::BTreeMap<String, String>,
    pub deposit_notes: std::collections::BTreeMap<String, String>,
}

impl TextsSection {
    pub fn component(&self) -> api::PlayerTexts {
        let localized = |texts: &std::collections::BTreeMap<String, String>| {
            texts.iter().map(|(language, text)| api::LocalizedText { language: language.clone(), text: text.clone() }).collect()
        };
        api::PlayerTexts { link_messages: localized(&self.link_messages), deposit_notes: localized(&self.deposit_notes) }
    }
}

/// The tick lease (see `crate::lease`): which host does the tick's work when several
/// share one database.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseSection {
    /// This host's name in the lease; unique per host. Default: the machine's host name
    /// (so a restarted process takes its own lease back at once).
    pub holder: Option<String>,
    /// A holder that has not renewed for this long is taken over.
    pub duration_ms: u64,
}

impl Default for LeaseSection {
    fn default() -> Self {
        LeaseSection {
            holder: None,
            duration_ms: crate::lease::DEFAULT_DURATION.as_millis() as u64,
        }
    }
}

/// The player's web cabinet (`docs/cabinet.md`), off unless enabled.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CabinetSection {
    pub enabled: bool,
    /// A file holding the secret game servers sign session tokens with; else
    /// `$CWD_GATEWAY_CABINET_SECRET`.
    pub session_secret_file: Option<PathBuf>,
    /// Sessions that expire further ahead than this are refused (0: a day).
    pub max_session_secs: u64,
    /// Cabinet calls in the gateway at once (0: half of `[runtime] api_instances`; never
    /// all of them when there are several: the rest stay the game's and operator's).
    pub max_concurrent_calls: usize,
    /// `[cabinet.limits]`: requests per session and per peer address (docs/cabinet.md).
    pub limits: crate::cabinet::admission::AdmissionLimits,
}

/// The operator console (`docs/console.md`), served unless turned off. It has no
/// secret of its own: it signs in with an operator's or an observer's API token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    pub enabled: bool,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection { enabled: true }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// Longest one call into the component may compute. Waits for the node do not
    /// count (they are bounded by `[node] timeout_ms` per node tried): a slow node
    /// gives `node-unavailable`, never a trap.
    pub call_timeout_ms: u64,
    /// Instances serving API calls (the timer ticks in one more of its own).
    pub api_instances: usize,
    pub max_memory_mb: usize,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        RuntimeSection {
            call_timeout_ms: 10_000,
            api_instances: crate::gateway::DEFAULT_API_INSTANCES,
            max_memory_mb: 64,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `human` (the default) or `json` (one JSON object a line).
    pub format: LogFormat,
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// The gateway's chain account name.
    pub account: String,
    #[serde(default = "main_chain")]
    pub chain_id: String,
    /// 0: the component's default (60 s).
    #[serde(default)]
    pub tick_interval_ms: u64,
    #[serde(default)]
    pub low_fee_balance_cwd: u64,
    /// How long idempotency keys are remembered; 0: the component's default (a day).
    #[serde(default)]
    pub idempotency_window_ms: u64,
}

fn main_chain() -> String {
    MAIN_CHAIN_ID.into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub urls: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Allows `http://` to a node on another host. Anyone on the path could forge the
    /// node's answers, and so deposits: only for a network you control end to end.
    #[serde(default)]
    pub insecure_plain_http_to_remote_nodes: bool,
    /// PEM CA certificates that `https://` and `wss://` nodes' certificates must chain
    /// to, instead of the webpki roots (the operator's own nodes behind a private CA).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

impl NodeSection {
    /// Refuses a URL that is not HTTP(S), and plain HTTP to a node that is not on this
    /// machine unless the operator said so. Errors name the host, never the whole URL
    /// (it may hold credentials).
    pub fn check_urls(&self) -> Result<()> {
        for (i, text) in self.urls.iter().enumerate() {
            let url = url::Url::parse(text).map_err(|_| anyhow::anyhow!("[node] urls[{i}] is not a URL"))?;
            let host = url.host_str().unwrap_or("");
            let loopback = match url.host() {
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            match url.scheme() {
                "https" | "wss" => {}
                "http" | "ws" if loopback => {}
                "http" | "ws" if self.insecure_plain_http_to_remote_nodes => {
                    tracing::warn!(host, "[node] insecure_plain_http_to_remote_nodes: plain HTTP to another host; anyone on the path can forge deposits");
                }
                scheme @ ("http" | "ws") => bail!("[node] urls[{i}]: plain {scheme}:// to {host}, another host: anyone on the path could forge the node's answers, and so deposits. Use https:// or wss://, or set [node] insecure_plain_http_to_remote_nodes = true on a network you control end to end"),
                other => bail!("[node] urls[{i}]: the scheme {other}:// is not supported (https:// or wss://, or http:// or ws:// to this machine)"),
            }
        }
        Ok(())
    }
}

fn default_timeout() -> u64 {
    10_000
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub game_units: u64,
    pub per_cwd_units: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatesSection {
    pub deposit: Rate,
    pub withdrawal: Rate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSection {
    pub code_digits: u8,
    pub code_ttl_ms: u64,
    pub max_attempts: u32,
    pub message_template: String,
    pub user_interval_ms: u64,
    pub user_daily: u32,
    pub account_daily: u32,
    pub global_daily: u32,
    /// Proof-of-work bits `start-link` requires (0: none). Unset: [`DEFAULT_CABINET_POW_BITS`]
    /// when the cabinet is enabled (a page anyone can script), else none.
    pub pow_bits: Option<u8>,
}

/// The work `start-link` costs by default once players reach it from the web: about a
/// second in a browser, so that scripted link attempts (each a chain fee) cost time.
pub const DEFAULT_CABINET_POW_BITS: u8 = 18;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WithdrawalSection {
    pub min_cwd: u64,
    pub max_cwd: u64,
    pub daily_cwd: u64,
    pub review_above_cwd: u64,
    /// Payouts above this need two different operators' approvals (0: one is enough).
    pub four_eyes_above_cwd: u64,
    /// Requests one user may make per UTC day (0: no limit).
    pub daily_count: u32,
    /// The operator's fee on each withdrawal, CWD units, paid by the user (0: none).
    pub fee_cwd: u64,
    pub expiration_secs: u32,
    pub max_attempts: u32,
}

/// `[treasury]`: sweeping the hot account to cold storage and the fee reserve (CWD
/// units; 0 = off / default). See WIT `treasury-config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TreasurySection {
    /// Empty: no sweeps.
    pub cold_account: String,
    pub high_water_cwd: u64,
    pub low_water_cwd: u64,
    pub fee_reserve_cwd: u64,
    pub low_fee_days: u32,
    pub min_sweep_cwd: u64,
    /// Fee ceilings per operation (0: 10 CWD each); see WIT `treasury-config`.
    pub max_transfer_fee_cwd: u64,
    pub max_message_fee_cwd: u64,
}

impl TreasurySection {
    pub fn component(&self) -> api::TreasuryConfig {
        api::TreasuryConfig {
            cold_account: self.cold_account.clone(),
            high_water_cwd: self.high_water_cwd,
            low_water_cwd: self.low_water_cwd,
            fee_reserve_cwd: self.fee_reserve_cwd,
            low_fee_days: self.low_fee_days,
            min_sweep_cwd: self.min_sweep_cwd,
            max_transfer_fee_cwd: self.max_transfer_fee_cwd,
            max_message_fee_cwd: self.max_message_fee_cwd,
        }
    }
}

/// `[referrals]`: levels (per mille of the base amount, first = the user's own
/// referrer), cashback and the pool user. See WIT `referral-config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReferralsSection {
    pub level_rates_per_mille: Vec<u32>,
    pub cashback_per_mille: u32,
    /// Empty: `referral-pool`.
    pub pool_user: String,
}

impl ReferralsSection {
    pub fn component(&self) -> api::ReferralConfig {
        api::ReferralConfig {
            level_rates_per_mille: self.level_rates_per_mille.clone(),
            cashback_per_mille: self.cashback_per_mille,
            pool_user: self.pool_user.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// SQLite file; `:memory:` for a throwaway in-memory store.
    pub path: PathBuf,
    /// `postgres://user@host:port/database`: PostgreSQL instead of `path`.
    pub url: Option<String>,
    /// A file holding the database password (mode 0600), instead of one in `url`.
    pub password_file: Option<PathBuf>,
    /// Most connections to PostgreSQL this host opens for reads, and as many again for
    /// commits (a pool of its own: their sessions are SERIALIZABLE).
    pub pool_size: u32,
    /// TLS to PostgreSQL: `disable`, `require` (encrypted, certificate unchecked) or
    /// `verify-full`. Unset: `verify-full` unless every host is loopback or a Unix socket.
    pub sslmode: Option<crate::store::PgSslMode>,
    /// PEM certificates the server's must chain to under `verify-full` (else the public
    /// web roots built in).
    pub ca_file: Option<PathBuf>,
    /// The server cancels a statement running longer; a connection silent for this long
    /// plus 2 s is given up (`store-unavailable`, never a hang).
    pub statement_timeout_ms: u64,
    /// Opening a connection (TCP, TLS, authentication), or waiting for a pooled one.
    pub connect_timeout_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: "cwd-gateway.db".into(),
            url: None,
            password_file: None,
            pool_size: 8,
            sslmode: None,
            ca_file: None,
            statement_timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Loopback by default: expose it deliberately, behind TLS.
    pub listen: String,
    /// A file holding the API token; else `$CWD_GATEWAY_API_TOKEN`. Either is the
    /// token named `default`, with the operator role.
    pub token_file: Option<PathBuf>,
    /// Named tokens, each with a role (`[[http.tokens]]`).
    pub tokens: Vec<TokenEntry>,
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    pub max_connections: usize,
    /// A response making no progress this long (a client that stopped reading) ends
    /// its connection.
    pub write_timeout_ms: u64,
    /// A connection open this long is closed between requests.
    pub max_connection_lifetime_secs: u64,
    pub max_concurrent_calls: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        let limits = crate::http_api::HttpLimits::default();
        HttpSection {
            listen: "127.0.0.1:8080".into(),
            token_file: None,
            tokens: Vec::new(),
            header_read_timeout_ms: limits.header_read_timeout.as_millis() as u64,
            body_read_timeout_ms: limits.body_read_timeout.as_millis() as u64,
            max_connections: limits.max_connections,
            write_timeout_ms: limits.write_timeout.as_millis() as u64,
            max_connection_lifetime_secs: limits.max_connection_lifetime.as_secs(),
            max_concurrent_calls: limits.max_concurrent_calls,
        }
    }
}

/// One `[[http.tokens]]` entry: a token in its own file (mode 0600), with a name (the
/// actor calls are made as) and a role (`game`, `operator` or `observer`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub role: String,
    pub file: PathBuf,
}

/// `[events]`: the feed's retention and the webhook (see WIT `event-config`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSection {
    pub webhook_url: Option<String>,
    /// A file holding the webhook HMAC secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// Days the feed keeps an event (0: 30).
    pub retention_days: u32,
    /// Hours a delivery is retried before it is marked failed (0: 72).
    pub webhook_give_up_hours: u32,
    /// The longest wait between two attempts, seconds (0: 3600).
    pub webhook_max_interval_secs: u32,
    /// Events go to the log only: no feed, no webhook.
    pub live_only: bool,
}

impl EventsSection {
    pub fn component(&self) -> api::EventConfig {
        api::EventConfig {
            retention_ms: self.retention_days as u64 * 86_400_000,
            webhook_give_up_ms: self.webhook_give_up_hours as u64 * 3_600_000,
            webhook_max_interval_ms: self.webhook_max_interval_secs as u64 * 1000,
            live_only: self.live_only,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// A TOML file with `active_wif` and `memo_wif`; else the environment variables
    /// `CWD_GATEWAY_ACTIVE_WIF` and `CWD_GATEWAY_MEMO_WIF`.
    pub file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// Absent when `[signer]` is configured: the signer alone holds it.
    #[serde(default)]
    active_wif: String,
    memo_wif: String,
}

/// The signer process (`cwd-gateway signer`) that holds the active key, when this host
/// must not: then the key file holds only `memo_wif`. One of `socket` and `tcp`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignerSection {
    /// Its Unix socket.
    pub socket: Option<PathBuf>,
    /// Or its loopback TCP address (`127.0.0.1:7081`), with `token_file`.
    pub tcp: Option<String>,
    pub token_file: Option<PathBuf>,
    /// How long to wait for an answer.
    pub timeout_ms: u64,
}

impl Default for SignerSection {
    fn default() -> Self {
        SignerSection { socket: None, tcp: None, token_file: None, timeout_ms: 10_000 }
    }
}

impl SignerSection {
    pub fn configured(&self) -> bool {
        self.socket.is_some() || self.tcp.is_some()
    }

    /// The signing capability: the signer process's client, or none (the component
    /// holds the key).
    pub fn capability(&self) -> Result<std::sync::Arc<dyn crate::signer::Signer>> {
        use crate::signer::{RemoteSigner, SignerAddress};
        let timeout = std::time::Duration::from_millis(self.timeout_ms.max(1));
        let address = match (&self.socket, &self.tcp, &self.token_file) {
            (None, None, _) => return Ok(std::sync::Arc::new(crate::signer::NoSigner)),
            (Some(path), None, None) => SignerAddress::Unix(path.clone()),
            (None, Some(addr), Some(token)) => SignerAddress::Tcp {
                addr: addr.parse().with_context(|| format!("[signer] tcp = {addr:?} is not an address like 127.0.0.1:7081"))?,
                token: zeroize::Zeroizing::new(crate::files::read_secret(token, "signer token file")?),
            },
            (None, Some(_), None) => bail!("[signer] tcp needs token_file (the signer's bearer token)"),
            _ => bail!("[signer]: set either socket, or tcp with token_file"),
        };
        Ok(std::sync::Arc::new(RemoteSigner::new(address, timeout)))
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        // Refuse secrets in the main file before anything else, without echoing them.
        if text.lines().any(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            key.ends_with("wif") || key.contains("private")
        }) {
            bail!("private keys do not belong in the main configuration: put them in the [keys] file or the {ACTIVE_WIF_ENV} / {MEMO_WIF_ENV} environment variables");
        }
        let cfg: FileConfig = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}", describe_toml_error(text, &e)))?;
        if cfg.node.urls.is_empty() {
            bail!("[node] urls must name at least one node");
        }
        cfg.node.check_urls()?;
        if !(100..=120_000).contains(&cfg.node.timeout_ms) {
            bail!("[node] timeout_ms must be 100..=120000 (a node slower than that is down)");
        }
        if !(100..=600_000).contains(&cfg.runtime.call_timeout_ms) {
            bail!("[runtime] call_timeout_ms must be 100..=600000");
        }
        if !(1..=64).contains(&cfg.runtime.api_instances) {
            bail!("[runtime] api_instances must be 1..=64");
        }
        if !(16..=4096).contains(&cfg.runtime.max_memory_mb) {
            bail!("[runtime] max_memory_mb must be 16..=4096");
        }
        if cfg.http.max_connections == 0 || cfg.http.max_concurrent_calls == 0 {
            bail!("[http] max_connections and max_concurrent_calls must be at least 1");
        }
        if cfg.http.header_read_timeout_ms < 100 || cfg.http.body_read_timeout_ms < 100 {
            bail!("[http] header_read_timeout_ms and body_read_timeout_ms must be at least 100");
        }
        if !(100..=3_600_000).contains(&cfg.http.write_timeout_ms) {
            bail!("[http] write_timeout_ms must be 100..=3600000");
        }
        if !(1..=31_536_000).contains(&cfg.http.max_connection_lifetime_secs) {
            bail!("[http] max_connection_lifetime_secs must be 1..=31536000");
        }
        cfg.check_tokens()?;
        if let Some(url) = &cfg.store.url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("[store] url must start with postgres:// or postgresql://");
            }
        }
        if !(1..=256).contains(&cfg.store.pool_size) {
            bail!("[store] pool_size must be 1..=256");
        }
        if !(100..=600_000).contains(&cfg.store.statement_timeout_ms) {
            bail!("[store] statement_timeout_ms must be 100..=600000");
        }
        if !(100..=120_000).contains(&cfg.store.connect_timeout_ms) {
            bail!("[store] connect_timeout_ms must be 100..=120000");
        }
        if cfg.store.url.is_none() && (cfg.store.sslmode.is_some() || cfg.store.ca_file.is_some()) {
            bail!("[store] sslmode and ca_file apply to PostgreSQL: set [store] url too");
        }
        if cfg.store.url.is_some() {
            // The URL, the TLS mode and the CA file checked together (no file read).
            cfg.postgres_options_unread().effective_sslmode().map_err(|e| anyhow::anyhow!("{}", e.0))?;
        }
        if !(500..=3_600_000).contains(&cfg.lease.duration_ms) {
            bail!("[lease] duration_ms must be 500..=3600000");
        }
        if cfg
            .lease
            .holder
            .as_ref()
            .is_some_and(|h| h.trim().is_empty() || h.len() > 200)
        {
            bail!("[lease] holder must be 1..=200 characters");
        }
        Ok(cfg)
    }

    /// The PostgreSQL connection, when `[store] url` is set.
    pub fn postgres_options(&self) -> Result<Option<crate::store::PostgresOptions>> {
        if self.store.url.is_none() {
            return Ok(None);
        }
        let mut options = self.postgres_options_unread();
        if let Some(path) = &self.store.password_file {
            options.password = Some(
                crate::files::read_secret(path, "database password file")?
                    .trim()
                    .to_string(),
            );
        }
        Ok(Some(options))
    }

    /// The PostgreSQL options without the password file read (`[store] url` set).
    fn postgres_options_unread(&self) -> crate::store::PostgresOptions {
        crate::store::PostgresOptions {
            pool_size: self.store.pool_size,
            sslmode: self.store.sslmode,
            ca_file: self.store.ca_file.clone(),
            statement_timeout: Duration::from_millis(self.store.statement_timeout_ms),
            connect_timeout: Duration::from_millis(self.store.connect_timeout_ms),
            ..crate::store::PostgresOptions::new(self.store.url.clone().unwrap_or_default())
        }
    }

    /// This host's part in the tick lease.
    pub fn lease_config(&self) -> crate::lease::LeaseConfig {
        crate::lease::LeaseConfig {
            holder: self
                .lease
                .holder
                .clone()
                .unwrap_or_else(crate::lease::machine_name),
            duration: Duration::from_millis(self.lease.duration_ms),
        }
    }

    pub fn node_timeout(&self) -> Duration {
        Duration::from_millis(self.node.timeout_ms)
    }

    /// The component's limits. Each node call may take up to the node timeout for every
    /// configured node (failover), so that much of each wait is not counted against the
    /// call's budget: a slow node ends in `node-unavailable`, not in a trap.
    pub fn runtime_config(&self) -> crate::runtime::RuntimeConfig {
        let nodes = u32::try_from(self.node.urls.len()).unwrap_or(u32::MAX);
        crate::runtime::RuntimeConfig {
            max_memory_bytes: self.runtime.max_memory_mb << 20,
            call_timeout: Duration::from_millis(self.runtime.call_timeout_ms),
            node_wait_allowance: self.node_timeout().saturating_mul(nodes) + Duration::from_secs(1),
            ..crate::runtime::RuntimeConfig::default()
        }
    }

    pub fn http_limits(&self) -> crate::http_api::HttpLimits {
        crate::http_api::HttpLimits {
            header_read_timeout: Duration::from_millis(self.http.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(self.http.body_read_timeout_ms),
            max_connections: self.http.max_connections,
            write_timeout: Duration::from_millis(self.http.write_timeout_ms),
            max_connection_lifetime: Duration::from_secs(self.http.max_connection_lifetime_secs),
            max_concurrent_calls: self.http.max_concurrent_calls,
            ..crate::http_api::HttpLimits::default()
        }
    }

    /// The component's configuration record.
    pub fn component_config(&self) -> api::Config {
        let rate = |r: Rate| api::Rate {
            game_units: r.game_units,
            per_cwd_units: r.per_cwd_units,
        };
        api::Config {
            gateway_account: self.gateway.account.clone(),
            chain_id: self.gateway.chain_id.clone(),
            deposit_rate: rate(self.rates.deposit),
            withdrawal_rate: rate(self.rates.withdrawal),
            link: api::LinkConfig {
                code_digits: self.link.code_digits,
                code_ttl_ms: self.link.code_ttl_ms,
                max_attempts: self.link.max_attempts,
                message_template: self.link.message_template.clone(),
                user_interval_ms: self.link.user_interval_ms,
                user_daily: self.link.user_daily,
                account_daily: self.link.account_daily,
                global_daily: self.link.global_daily,
                pow_bits: self.link.pow_bits.unwrap_or(match self.cabinet.enabled {
                    true => DEFAULT_CABINET_POW_BITS,
                    false => 0,
                }),
            },
            withdrawals: api::WithdrawalConfig {
                min_cwd: self.withdrawals.min_cwd,
                max_cwd: self.withdrawals.max_cwd,
                daily_cwd: self.withdrawals.daily_cwd,
                review_above_cwd: self.withdrawals.review_above_cwd,
                four_eyes_above_cwd: self.withdrawals.four_eyes_above_cwd,
                daily_count: self.withdrawals.daily_count,
                fee_cwd: self.withdrawals.fee_cwd,
                expiration_secs: self.withdrawals.expiration_secs,
                max_attempts: self.withdrawals.max_attempts,
            },
            low_fee_balance_cwd: self.gateway.low_fee_balance_cwd,
            tick_interval_ms: self.gateway.tick_interval_ms,
            idempotency_window_ms: self.gateway.idempotency_window_ms,
            treasury: self.treasury.component(),
            referrals: self.referrals.component(),
            events: self.events.component(),
            texts: self.texts.component(),
        }
    }

    /// The keys, from the key file or the environment. Errors never include them.
    /// The keys from a key file's text (`active_wif`, `memo_wif`), as an embedder
    /// passes them (the C library); the errors never quote the text.
    pub fn keys_from_text(&self, text: &str) -> Result<api::Keys> {
        let k: KeyFile = toml::from_str(text).map_err(|_| anyhow::anyhow!("the keys must hold exactly active_wif and memo_wif (TOML)"))?;
        self.keys_for_signer(api::Keys { active_wif: k.active_wif, memo_wif: k.memo_wif })
    }

    pub fn load_keys(&self) -> Result<api::Keys> {
        if let Some(path) = &self.keys.file {
            let text = zeroize::Zeroizing::new(crate::files::read_secret(path, "key file")?);
            let k: KeyFile = toml::from_str(&text).map_err(|_| {
                anyhow::anyhow!(
                    "the key file {} must hold exactly active_wif and memo_wif",
                    path.display()
                )
            })?;
            return self.keys_for_signer(api::Keys {
                active_wif: k.active_wif,
                memo_wif: k.memo_wif,
            });
        }
        let active = std::env::var(ACTIVE_WIF_ENV).unwrap_or_default();
        match std::env::var(MEMO_WIF_ENV) {
            Ok(memo_wif) => self.keys_for_signer(api::Keys { active_wif: active, memo_wif }),
            _ => bail!("no keys: set [keys] file in the configuration, or {ACTIVE_WIF_ENV} and {MEMO_WIF_ENV}"),
        }
    }

    /// With a signer the host holds no active key; without one it must.
    fn keys_for_signer(&self, keys: api::Keys) -> Result<api::Keys> {
        match (self.signer.configured(), keys.active_wif.is_empty()) {
            (true, false) => bail!("[signer] is configured, so this host must not hold the active key: remove active_wif from the key file (or unset {ACTIVE_WIF_ENV}); the signer holds it"),
            (false, true) => bail!("no active key: set active_wif in the key file (or {ACTIVE_WIF_ENV}), or configure [signer]"),
            _ => Ok(keys),
        }
    }

    /// `[[http.tokens]]` as far as the file alone tells: names, roles, unique names.
    fn check_tokens(&self) -> Result<()> {
        for (i, t) in self.http.tokens.iter().enumerate() {
            let n = i + 1;
            crate::roles::check_name(&t.name)
                .with_context(|| format!("[[http.tokens]] number {n}: name"))?;
            if crate::roles::Role::parse(&t.role).is_none() {
                bail!("[[http.tokens]] `{}`: role must be game, operator or observer", t.name);
            }
            if self.http.tokens[..i].iter().any(|o| o.name == t.name) {
                bail!("[[http.tokens]]: two tokens are named `{}`; give each its own name", t.name);
            }
            if t.name == crate::roles::DEFAULT_NAME && self.http.token_file.is_some() {
                bail!("[[http.tokens]] `default`: that name is the [http] token_file's token; choose another");
            }
        }
        Ok(())
    }

    /// The API's tokens: `[http] token_file` (else `$CWD_GATEWAY_API_TOKEN`), if set, as
    /// `default` with the operator role, and every `[[http.tokens]]` entry. Each file
    /// private (0600), each token 16+ characters (trimmed) and different from the
    /// others. Errors never include a token.
    pub fn api_tokens(&self) -> Result<crate::roles::ApiTokens> {
        use crate::roles::{ApiToken, Role};
        let mut tokens = Vec::new();
        let single = match &self.http.token_file {
            Some(p) => Some(zeroize::Zeroizing::new(crate::files::read_secret(p, "API token file")?)),
            None => std::env::var(API_TOKEN_ENV).ok().map(zeroize::Zeroizing::new),
        };
        if let Some(secret) = single {
            let from = match &self.http.token_file {
                Some(p) => format!("[http] token_file {}", p.display()),
                None => API_TOKEN_ENV.to_string(),
            };
            tokens.push(
                ApiToken::new(crate::roles::DEFAULT_NAME, Role::Operator, &secret)
                    .with_context(|| format!("the API token in {from}"))?,
            );
        }
        for t in &self.http.tokens {
            let what = format!("API token file of `{}`", t.name);
            let secret = zeroize::Zeroizing::new(crate::files::read_secret(&t.file, &what)?);
            let role = Role::parse(&t.role).context("checked by parse")?;
            tokens.push(
                ApiToken::new(&t.name, role, &secret)
                    .with_context(|| format!("[[http.tokens]] `{}` ({})", t.name, t.file.display()))?,
            );
        }
        if tokens.is_empty() {
            bail!("no API token: set [http] token_file, add [[http.tokens]] entries, or set {API_TOKEN_ENV}");
        }
        crate::roles::ApiTokens::new(tokens).context("[http] tokens")
    }

    /// The cabinet, when enabled, with its session secret (trimmed, 32+ bytes).
    pub fn cabinet(&self) -> Result<Option<crate::cabinet::Cabinet>> {
        if !self.cabinet.enabled {
            return Ok(None);
        }
        let secret = match &self.cabinet.session_secret_file {
            Some(p) => crate::files::read_secret(p, "cabinet session secret file")?,
            None => std::env::var(CABINET_SECRET_ENV).map_err(|_| {
                anyhow::anyhow!(
                    "[cabinet] enabled needs session_secret_file or {CABINET_SECRET_ENV}"
                )
            })?,
        };
        let secret = zeroize::Zeroizing::new(secret);
        let max = match self.cabinet.max_session_secs {
            0 => crate::cabinet::DEFAULT_MAX_SESSION_SECS,
            s => s,
        };
        if max > crate::cabinet::MAX_SESSION_SECS_BOUND {
            anyhow::bail!("[cabinet] max_session_secs must be at most {} (30 days)", crate::cabinet::MAX_SESSION_SECS_BOUND);
        }
        let c = &self.cabinet;
        crate::cabinet::Cabinet::new(secret.trim().as_bytes().to_vec()).map(|cabinet| {
            Some(cabinet.with_max_session_secs(max).with_admission(c.limits).with_max_concurrent_calls(c.max_concurrent_calls))
        })
    }

    /// The webhook's HMAC key, trimmed like the token (a trailing newline would
    /// otherwise silently change every signature).
    pub fn webhook_secret(&self) -> Result<Option<Vec<u8>>> {
        let Some(_) = &self.events.webhook_url else {
            return Ok(None);
        };
        let Some(path) = &self.events.webhook_secret_file else {
            bail!("[events] webhook_url needs webhook_secret_file (the HMAC key)");
        };
        let secret = crate::files::read_secret(path, "webhook secret file")?;
        let secret = secret.trim();
        if secret.len() < 16 {
            bail!("the webhook secret must be at least 16 characters");
        }
        Ok(Some(secret.as_bytes().to_vec()))
    }

    /// Where webhooks go, when one is configured.
    pub fn webhook_target(&self) -> Result<Option<crate::webhooks::WebhookTarget>> {
        let (Some(url), Some(secret)) = (&self.events.webhook_url, self.webhook_secret()?) else {
            return Ok(None);
        };
        if self.events.live_only {
            bail!("[events] live_only keeps no feed, so webhook_url cannot be delivered from it: remove one of them");
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("[events] webhook_url must be an http:// or https:// URL");
        }
        Ok(Some(crate::webhooks::WebhookTarget {
            url: url.clone(),
            secret: zeroize::Zeroizing::new(secret),
        }))
    }
}

/// A TOML error without the source line the `toml` crate quotes, and with any value it
/// quotes masked (`"…"`, and the `` `…` `` of an unknown variant): the line may hold a
/// secret put in the wrong place. Field names are kept: they say what to fix.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let raw = e.message();
    let mut message = String::new();
    let mut quote: Option<char> = None;
    for (i, c) in raw.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || (c == '`' && raw[..i].ends_with("variant ")) => {
                message.push_str("<value not shown>");
                quote = Some(c);
            }
            None => message.push(c),
        }
    }
    let message = message.trim().replace('\n', "; ");
    match line {
        Some(n) => format!("line {n}: {message}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[gateway]
account = "game-gateway"
[node]
urls = ["http://127.0.0.1:8090"]
[rates]
deposit = { game_units = 90, per_cwd_units = 100000 }
withdrawal = { game_units = 100, per_cwd_units = 100000 }
"#;

    /// [`MIN`] without its `[node]` section.
    const MIN_NODELESS: &str = r#"
[gateway]
account = "game-gateway"
[rates]
deposit = { game_units = 90, per_cwd_units = 100000 }
withdrawal = { game_units = 100, per_cwd_units = 100000 }
"#;

    #[test]
    fn minimal_config_has_sensible_defaults() {
        let c = FileConfig::parse(MIN).unwrap();
        assert_eq!(c.gateway.chain_id, MAIN_CHAIN_ID);
        assert_eq!(c.http.listen, "127.0.0.1:8080");
        assert_eq!(c.component_config().deposit_rate.game_units, 90);
    }

    #[test]
    fn keys_in_the_main_file_are_refused_without_echo() {
        let text = format!("{MIN}\n[keys]\nactive_wif = \"5Jsecret\"\n");
        let e = FileConfig::parse(&text).unwrap_err().to_string();
        assert!(
            e.contains("do not belong") && !e.contains("5Jsecret"),
            "{e}"
        );
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").expect("README has a TOML example") + 8;
        let end = start + readme[start..].find("```").unwrap();
        let c = FileConfig::parse(&readme[start..end]).unwrap();
        assert_eq!(c.withdrawals.review_above_cwd, 100_000_000);
        assert_eq!(c.node.urls.len(), 2);
    }

    #[test]
    fn plain_http_to_another_host_is_refused_unless_said_loudly() {
        let with = |urls: &str, extra: &str| FileConfig::parse(&format!("{MIN_NODELESS}[node]\nurls = [{urls}]\n{extra}"));
        for ok in [r#""https://node.example/rpc""#, r#""http://127.0.0.1:8090""#, r#""http://[::1]:8090/""#, r#""http://localhost:8090""#] {
            with(ok, "").unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        let e = format!("{:#}", with(r#""https://a.example", "http://gw:s3cret@node.example:8090/?apikey=k3y""#, "").unwrap_err());
        assert!(e.contains("urls[1]") && e.contains("node.example") && e.contains("insecure_plain_http_to_remote_nodes"), "{e}");
        assert!(!e.contains("s3cret") && !e.contains("k3y"), "the error echoes credentials: {e}");
        with(r#""http://node.example""#, "insecure_plain_http_to_remote_nodes = true").unwrap();
        assert!(format!("{:#}", with(r#""ftp://node.example""#, "").unwrap_err()).contains("ftp"));
    }

    #[test]
    fn toml_errors_never_echo_values() {
        let secret = "5KsecretSECRETsecret0123456789";
        for text in [
            format!("{MIN}\n[http]\nlisten = 5\ntoken = \"{secret}\"\n"),
            format!("{MIN}\n[http]\nmax_connections = \"{secret}\"\n"),
            format!("{MIN}\n[events]\nwebhook_secret = \"{secret}\"\n"),
            format!("{MIN}\n[link]\ncode_digits = \"{secret}\"\n"),
            format!("{MIN}\n[gateway2]\nx = \"{secret}\"\n"),
            format!("{MIN}\nbroken = \"{secret}\n"),
            format!("{MIN}\n[log]\nformat = \"{secret}\"\n"),
        ] {
            let e = format!("{:#}", FileConfig::parse(&text).unwrap_err());
            assert!(!e.contains(secret) && !e.contains("5Ksecret"), "{e}");
            assert!(e.contains("line "), "{e}");
        }
    }

    #[test]
    fn the_cabinet_turns_proof_of_work_on_unless_set() {
        let pow = |extra: &str| FileConfig::parse(&format!("{MIN}\n{extra}")).unwrap().component_config().link.pow_bits;
        assert_eq!(pow(""), 0);
        assert_eq!(pow("[cabinet]\nenabled = true\n"), DEFAULT_CABINET_POW_BITS);
        assert_eq!(pow("[link]\npow_bits = 0\n[cabinet]\nenabled = true\n"), 0, "said explicitly");
        assert_eq!(pow("[link]\npow_bits = 12\n"), 12);
        let c = FileConfig::parse(&format!("{MIN}\n[withdrawals]\ndaily_count = 5\nfee_cwd = 20000\n")).unwrap().component_config();
        assert_eq!((c.withdrawals.daily_count, c.withdrawals.fee_cwd), (5, 20_000));
        let f = FileConfig::parse(&format!("{MIN}\n[cabinet]\nenabled = true\n[cabinet.limits]\nsession_in_flight = 2\n")).unwrap();
        assert_eq!(f.cabinet.limits.or_defaults().session_in_flight, 2);
        assert_eq!(f.cabinet.limits.or_defaults().peer_in_flight, 32);
        assert!(FileConfig::parse(&format!("{MIN}\n[cabinet.limits]\nsession_inflight = 2\n")).is_err(), "a misspelt limit is refused");
        let t = FileConfig::parse(&format!("{MIN}\n[texts.link_messages]\nru = \"Код {{code}}\"\n[texts.deposit_notes]\ntr = \"x\"\n")).unwrap().component_config().texts;
        assert_eq!((t.link_messages[0].language.as_str(), t.link_messages[0].text.as_str()), ("ru", "Код {code}"));
        assert_eq!(t.deposit_notes[0].language, "tr");
    }

    #[test]
    fn the_console_is_on_unless_turned_off() {
        assert!(FileConfig::parse(MIN).unwrap().console.enabled);
        let off = FileConfig::parse(&format!("{MIN}\n[console]\nenabled = false\n")).unwrap();
        assert!(!off.console.enabled);
        assert!(FileConfig::parse(&format!("{MIN}\n[console]\nenable = true\n")).is_err());
    }

    #[test]
    fn http_write_timeout_and_connection_lifetime_are_configurable() {
        let d = FileConfig::parse(MIN).unwrap().http_limits();
        assert_eq!((d.write_timeout, d.max_connection_lifetime), (Duration::from_secs(10), Duration::from_secs(300)));
        let text = format!("{MIN}\n[http]\nwrite_timeout_ms = 2500\nmax_connection_lifetime_secs = 60\n");
        let c = FileConfig::parse(&text).unwrap().http_limits();
        assert_eq!((c.write_timeout, c.max_connection_lifetime), (Duration::from_millis(2500), Duration::from_secs(60)));
        for bad in ["write_timeout_ms = 10", "write_timeout_ms = 3600001", "max_connection_lifetime_secs = 0"] {
            assert!(FileConfig::parse(&format!("{MIN}\n[http]\n{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn postgres_tls_is_on_by_default_for_other_hosts() {
        use crate::store::PgSslMode::*;
        let with = |store: &str| FileConfig::parse(&format!("{MIN}\n[store]\n{store}\n"));
        let mode = |store: &str| with(store).unwrap().postgres_options().unwrap().unwrap().effective_sslmode().unwrap();
        assert_eq!(mode(r#"url = "postgres://gw@db.internal:5432/gw""#), VerifyFull);
        assert_eq!(mode(r#"url = "postgres://gw@10.0.0.7/gw""#), VerifyFull);
        assert_eq!(mode(r#"url = "postgres://gw@localhost/gw""#), Disable);
        assert_eq!(mode(r#"url = "postgres://gw@127.0.0.2:5433/gw""#), Disable);
        assert_eq!(mode(r#"url = "postgres://gw@[::1]/gw""#), Disable);
        assert_eq!(mode(r#"url = "postgres://gw@/gw?host=/run/postgresql""#), Disable);
        assert_eq!(mode("url = \"postgres://gw@db.internal/gw\"\nsslmode = \"require\""), Require);
        assert_eq!(mode("url = \"postgres://gw@localhost/gw\"\nsslmode = \"verify-full\"\nca_file = \"ca.pem\""), VerifyFull);
        let o = with("url = \"postgres://gw@db.internal/gw\"\nstatement_timeout_ms = 2500\nconnect_timeout_ms = 1500").unwrap().postgres_options().unwrap().unwrap();
        assert_eq!((o.statement_timeout, o.connect_timeout), (Duration::from_millis(2500), Duration::from_secs(1) + Duration::from_millis(500)));
        let d = with(r#"url = "postgres://gw@db.internal/gw""#).unwrap().postgres_options().unwrap().unwrap();
        assert_eq!((d.statement_timeout, d.connect_timeout), (Duration::from_secs(10), Duration::from_secs(5)));
        for (bad, says) in [
            (r#"url = "postgres://gw:pw0xdead@db.internal/gw?sslmode=require""#, "[store] sslmode"),
            ("url = \"postgres://gw@/gw?host=/run/postgresql\"\nsslmode = \"verify-full\"", "Unix socket"),
            ("url = \"postgres://gw@db.internal/gw\"\nsslmode = \"require\"\nca_file = \"ca.pem\"", "verify-full"),
            ("url = \"postgres://gw@db.internal/gw\"\nsslmode = \"verify-ca\"", "verify-full"),
            ("sslmode = \"require\"", "url"),
            ("url = \"postgres://gw@db.internal/gw\"\nstatement_timeout_ms = 0", "statement_timeout_ms"),
        ] {
            let e = format!("{:#}", with(bad).unwrap_err());
            assert!(e.contains(says) && !e.contains("pw0xdead"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_errors() {
        let text = MIN.replace("account = ", "acount = ");
        assert!(FileConfig::parse(&text).is_err());
    }
}
