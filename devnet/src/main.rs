//! `cwd-devnet`: a simulated CrowdWiz node as a process.
//!
//!     cwd-devnet [--listen 127.0.0.1:8090] [--block-seconds 3] [--manual] [--lag 5]
//!                [--seed TEXT] [--history-start N] [--max-ops-per-account N]
//!                [--track-account NAME]... [--account NAME:CWD]...
//!
//! Prints the URLs and the created accounts (with their keys) and serves until killed.

use std::time::Duration;

use cwd_devnet::player::parse_cwd;
use cwd_devnet::{AccountSpec, Config, Devnet, Production};

fn usage() -> ! {
    eprintln!(
        "usage: cwd-devnet [--listen ADDR] [--block-seconds N] [--manual] [--lag N] [--seed TEXT] [--history-start N] [--max-ops-per-account N] [--track-account NAME]... [--account NAME:CWD]..."
    );
    std::process::exit(2)
}

fn main() {
    let mut config = Config { genesis_time: None, seed: None, ..Config::default() };
    let mut period = Some(Duration::from_secs(3));
    let mut accounts = Vec::new();
    let mut tracked = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => config.listen = value().parse().unwrap_or_else(|_| usage()),
            "--block-seconds" => {
                let s: u32 = value().parse().unwrap_or_else(|_| usage());
                config.block_interval = s.max(1);
                period = period.map(|_| Duration::from_secs(s.max(1) as u64));
            }
            "--manual" => period = None,
            "--lag" => config.irreversible_lag = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => config.seed = Some(value().into_bytes()),
            "--history-start" => config.history_id_start = value().parse().unwrap_or_else(|_| usage()),
            "--max-ops-per-account" => config.max_ops_per_account = value().parse().unwrap_or_else(|_| usage()),
            "--track-account" => tracked.push(value()),
            "--account" => {
                let v = value();
                let (name, cwd) = v.split_once(':').unwrap_or((v.as_str(), "0"));
                let units = parse_cwd(cwd).unwrap_or_else(|e| {
                    eprintln!("{e}");
                    usage()
                });
                accounts.push(AccountSpec::new(name, units));
            }
            _ => usage(),
        }
    }
    config.production = match period {
        Some(p) => Production::Timer(p),
        None => Production::Manual,
    };
    let devnet = Devnet::start(config).unwrap_or_else(|e| {
        eprintln!("cannot start: {e}");
        std::process::exit(1)
    });
    println!("devnet JSON-RPC: {}", devnet.url());
    println!("devnet control:  {}", devnet.control_url());
    println!("chain id:        {}", devnet.chain_id_hex());
    for spec in accounts {
        match devnet.create_account(spec) {
            Ok(a) => println!("{}", a.to_json()),
            Err(e) => eprintln!("{e}"),
        }
    }
    if !tracked.is_empty() {
        let names: Vec<&str> = tracked.iter().map(String::as_str).collect();
        let max = Some(devnet.lock().config.max_ops_per_account);
        if let Err(e) = devnet.set_history_options(max, &names) {
            eprintln!("--track-account: {e}");
            std::process::exit(2);
        }
    }
    loop {
        std::thread::park();
    }
}
