//! Shared by the resilience tests: a devnet with a funded gateway, a `Service`
//! configured against it through the real `.wasm`, and a linked, funded player.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{
    AccountSpec, Config as DevnetConfig, CreatedAccount, Devnet, DevnetHandle, Production,
};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::MemorySink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use serde_json::Value;

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const CWD: i64 = 100_000;

pub struct Gw {
    pub devnet: DevnetHandle,
    pub gateway: CreatedAccount,
    pub service: Arc<Service>,
    pub events: MemorySink,
}

pub fn config(chain_id: String) -> api::Config {
    api::Config {
        gateway_account: "game-gateway".into(),
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
            message_template: "code {code} for {user}".into(),
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
            expiration_secs: 0,
            max_attempts: 0,
        },
        low_fee_balance_cwd: 0,
        tick_interval_ms: 200,
        idempotency_window_ms: 0,
        treasury: cwd_gateway_host::config::TreasurySection::default().component(),
        referrals: cwd_gateway_host::config::ReferralsSection::default().component(),
        events: cwd_gateway_host::config::EventsSection::default().component(),
        texts: cwd_gateway_host::config::TextsSection::default().component(),
    }
}

/// A devnet making a block every 100 ms, the gateway configured against it with
/// `runtime` limits and a node client timing out after `node_timeout`.
pub fn start(seed: &str, runtime: RuntimeConfig, node_timeout: Duration) -> Gw {
    start_with(seed, runtime, node_timeout, |_| {})
}

/// [`start`] with the gateway configuration changed by `tweak`.
#[allow(dead_code)]
pub fn start_with(
    seed: &str,
    runtime: RuntimeConfig,
    node_timeout: Duration,
    tweak: impl FnOnce(&mut api::Config),
) -> Gw {
    start_with_node(seed, runtime, node_timeout, |n| Arc::new(n), tweak)
}

/// [`start_with`] with the node the component gets made from the devnet's by `node`
/// (a test double wrapping it: slow, failing…).
#[allow(dead_code)]
pub fn start_with_node(
    seed: &str,
    runtime: RuntimeConfig,
    node_timeout: Duration,
    node: impl FnOnce(NodeClient) -> Arc<dyn cwd_gateway_host::node::Node>,
    tweak: impl FnOnce(&mut api::Config),
) -> Gw {
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded(seed)
    })
    .expect("devnet");
    let gateway = devnet
        .create_account(AccountSpec::new("game-gateway", 10_000 * CWD))
        .unwrap();
    let http_node = NodeClient::new(vec![devnet.url().to_string()], node_timeout)
        .verify_chain_id(&devnet.chain_id_hex())
        .unwrap();
    let events = MemorySink::default();
    let caps = Capabilities {
        store: Arc::new(MemoryStore::new()),
        node: node(http_node),
        clock: Arc::new(SystemClock),
        events: Arc::new(events.clone()),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let runtime = Runtime::new(runtime).unwrap();
    let keys = api::Keys {
        active_wif: gateway.active_wif.clone().unwrap(),
        memo_wif: gateway.memo_wif.clone().unwrap(),
    };
    let mut config = config(devnet.chain_id_hex());
    tweak(&mut config);
    let service = Service::start(&runtime, caps, &config, keys).unwrap();
    Gw {
        devnet,
        gateway,
        service,
        events,
    }
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 50 ms until it gives a value, failing after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `cwd-gateway run` child process, killed (if still running) when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `POST /v1/<name>` on a gateway at `127.0.0.1:port`: the answer, or `"<status> <body>"`.
pub fn call(port: u16, name: &str, args: Value) -> Result<Value, String> {
    call_as(port, TOKEN, name, args)
}

/// [`call`] with another API token.
pub fn call_as(port: u16, token: &str, name: &str, args: Value) -> Result<Value, String> {
    match ureq::post(&format!("http://127.0.0.1:{port}/v1/{name}"))
        .set("authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(20))
        .send_json(args)
    {
        Ok(r) => Ok(r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{code} {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The `digits`-digit link code the gateway sent to `player`, read with its memo key.
pub fn link_code(
    devnet: &DevnetHandle,
    player: &CreatedAccount,
    digits: usize,
    timeout: Duration,
) -> String {
    let memo_key = player.memo_private().expect("the player's memo key");
    eventually("the link code", timeout, || {
        let memos = devnet.received_memos(&player.name, Some(&memo_key)).ok()?;
        let text = memos
            .into_iter()
            .find(|m| m.op == "send_message")?
            .text
            .ok()?;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == digits)
            .map(str::to_string)
    })
}

/// Transfers to `account_id` included on chain.
pub fn payouts(devnet: &DevnetHandle, account_id: &str) -> Vec<Value> {
    devnet
        .included_transactions()
        .into_iter()
        .flat_map(|tx| tx["operations"].as_array().cloned().unwrap_or_default())
        .filter(|op| op[0] == 0 && op[1]["to"] == account_id)
        .collect()
}

impl Gw {
    /// `user` linked to a new chain account holding `cwd` units, of which `deposit`
    /// were deposited and credited. Ticks by hand.
    pub fn funded_player(
        &self,
        user: &str,
        account: &str,
        cwd: i64,
        deposit: i64,
    ) -> CreatedAccount {
        let player = self
            .devnet
            .create_account(AccountSpec::new(account, cwd))
            .unwrap();
        let started = self
            .service
            .with(|a| a.start_link(user, account, None))
            .unwrap();
        let digits = started.code_digits as usize;
        let code = link_code(&self.devnet, &player, digits, Duration::from_secs(20));
        self.service.with(|a| a.confirm_link(user, &code)).unwrap();
        self.devnet
            .transfer(account, "game-gateway", deposit, None, None)
            .unwrap();
        let expected = (deposit as u64) * 90 / 100_000;
        eventually("the deposit", Duration::from_secs(30), || {
            let _ = self.service.tick();
            (self.service.with(|a| a.account(user)).ok()?.balance == expected).then_some(())
        });
        player
    }

    /// Transfers from the gateway to `account_id` included on chain.
    pub fn payouts_to(&self, account_id: &str) -> Vec<Value> {
        payouts(&self.devnet, account_id)
    }

    pub fn restarts(&self) -> Vec<Value> {
        self.events
            .snapshot()
            .into_iter()
            .filter(|e| e["type"] == "alert" && e["kind"] == "instance-restarted")
            .collect()
    }
}

/// A fresh directory for one test's files, named for the test binary's process.
#[allow(dead_code)]
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cwd-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `path`, readable by its owner only (the host refuses key, token and
/// secret files that others may read).
pub fn write_private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, "").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A `cwd-gateway run` configuration for the tests' gateway account on one node, ticking
/// every 200 ms, at the rates `config` uses, its SQLite file in `dir`, its HTTP API on
/// `port` and its keys in `dir/keys.toml`; `extra` adds sections.
pub fn run_config(chain_id: &str, node_url: &str, dir: &std::path::Path, port: u16, extra: &str) -> String {
    format!(
        r#"[gateway]
account = "game-gateway"
chain_id = "{chain_id}"
tick_interval_ms = 200
[node]
urls = ["{node_url}"]
timeout_ms = 5000
[rates]
deposit = {{ game_units = 90, per_cwd_units = 100000 }}
withdrawal = {{ game_units = 100, per_cwd_units = 100000 }}
[store]
path = "{db}"
[http]
listen = "127.0.0.1:{port}"
[keys]
file = "{keys}"
{extra}"#,
        db = dir.join("gateway.db").display(),
        keys = dir.join("keys.toml").display(),
    )
}

/// `cwd-gateway run --config dir/gateway.toml`, with the API token from the environment
/// and the compiled component cached in `dir/cache`.
pub fn spawn_run(dir: &std::path::Path) -> KillOnDrop {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
        .args(["run", "--config"])
        .arg(dir.join("gateway.toml"))
        .env("CWD_GATEWAY_API_TOKEN", TOKEN)
        .env("CWD_GATEWAY_CACHE_DIR", dir.join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting cwd-gateway run");
    KillOnDrop(child)
}

impl Gw {
    /// The HTTP API on an ephemeral loopback port, with these tokens (role, name, secret).
    #[allow(dead_code)]
    pub fn serve_tokens(&self, tokens: &[(cwd_gateway_host::roles::Role, &str, &str)]) -> cwd_gateway_host::http_api::HttpApi {
        use cwd_gateway_host::roles::{ApiToken, ApiTokens};
        let tokens = tokens.iter().map(|(role, name, secret)| ApiToken::new(name, *role, secret).unwrap()).collect();
        let http = cwd_gateway_host::http_api::HttpApi::bind("127.0.0.1:0").unwrap();
        http.spawn_with_tokens(self.service.clone(), ApiTokens::new(tokens).unwrap(), 2);
        http
    }
}

#[allow(dead_code)]
/// A CA, and a certificate for `localhost` it signed: `(ca_pem, cert_pem, key_pem)`.
pub fn ca_and_server_cert(ca_name: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}
