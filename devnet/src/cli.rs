//! The devnet as a process: the options of `cwd-devnet` and of `cwd-gateway devnet` (one
//! parser, so the release's single binary serves the npm package's tests too).
//!
//! ```text
//! [--listen 127.0.0.1:8090] [--block-seconds 3] [--manual] [--lag 5] [--seed TEXT]
//! [--history-start N] [--max-ops-per-account N] [--track-account NAME]...
//! [--account NAME:CWD]...
//! ```
//!
//! Prints the URLs, the chain id and each created account (a JSON line with its keys),
//! then serves until killed.

use std::time::Duration;

use crate::player::parse_cwd;
use crate::{AccountSpec, Config, Devnet, Production};

pub const USAGE: &str = "[--listen ADDR] [--block-seconds N] [--manual] [--lag N] [--seed TEXT] [--history-start N] [--max-ops-per-account N] [--track-account NAME]... [--account NAME:CWD]...";

/// What the options ask for.
pub struct Options {
    pub config: Config,
    pub accounts: Vec<AccountSpec>,
    pub tracked: Vec<String>,
}

/// Parses the options; `seed` is the seed when none is given (`None`: random keys).
/// `--block-seconds` takes fractions (real time between blocks); each block moves the
/// chain's clock by the whole seconds, at least one.
pub fn parse(args: impl IntoIterator<Item = String>, seed: Option<&str>) -> Result<Options, String> {
    let mut config = Config { genesis_time: None, seed: seed.map(|s| s.as_bytes().to_vec()), ..Config::default() };
    let mut period = Some(Duration::from_secs(3));
    let mut accounts = Vec::new();
    let mut tracked = Vec::new();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{a}: {v:?} is not a whole number"));
        match a.as_str() {
            "--listen" => {
                let v = value()?;
                config.listen = v.parse().map_err(|_| format!("--listen: {v:?} is not ADDRESS:PORT"))?;
            }
            "--block-seconds" => {
                let v = value()?;
                let s: f64 = v.parse().ok().filter(|s: &f64| *s > 0.0 && *s <= 3600.0).ok_or_else(|| format!("--block-seconds: {v:?} is not in (0, 3600]"))?;
                config.block_interval = (s.round() as u32).max(1);
                period = period.map(|_| Duration::from_secs_f64(s));
            }
            "--manual" => period = None,
            "--lag" => config.irreversible_lag = u32::try_from(number(value()?)?).map_err(|_| "--lag is too large".to_string())?,
            "--seed" => config.seed = Some(value()?.into_bytes()),
            "--history-start" => config.history_id_start = number(value()?)?,
            "--max-ops-per-account" => config.max_ops_per_account = number(value()?)?,
            "--track-account" => tracked.push(value()?),
            "--account" => {
                let v = value()?;
                let (name, cwd) = v.split_once(':').unwrap_or((v.as_str(), "0"));
                if let Some(why) = crate::accounts::invalid_name(name) {
                    return Err(format!("--account: {why}"));
                }
                accounts.push(AccountSpec::new(name, parse_cwd(cwd).map_err(|e| format!("--account {v}: {e}"))?));
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    config.production = match period {
        Some(p) => Production::Timer(p),
        None => Production::Manual,
    };
    Ok(Options { config, accounts, tracked })
}

/// Starts the devnet, prints what a client needs, and serves until the process is killed.
pub fn serve(options: Options) -> Result<std::convert::Infallible, String> {
    let devnet = Devnet::start(options.config).map_err(|e| format!("cannot start: {e}"))?;
    println!("devnet JSON-RPC: {}", devnet.url());
    println!("devnet control:  {}", devnet.control_url());
    println!("chain id:        {}", devnet.chain_id_hex());
    for spec in options.accounts {
        let made = devnet.create_account(spec).map_err(|e| format!("--account: {e}"))?;
        println!("{}", made.to_json());
    }
    if !options.tracked.is_empty() {
        let names: Vec<&str> = options.tracked.iter().map(String::as_str).collect();
        let max = Some(devnet.lock().config.max_ops_per_account);
        devnet.set_history_options(max, &names).map_err(|e| format!("--track-account: {e}"))?;
    }
    loop {
        std::thread::park();
    }
}
