//! `cwd-gateway`: the reference host's command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cwd_gateway_host::{demo, serve, CallError, Runtime, RuntimeConfig};

const MAIN_CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";


#[derive(Parser)]
#[command(name = "cwd-gateway", version = cwd_gateway_host::VERSION, about = "CrowdWiz gateway: the reference host of the gateway component")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole story on one machine: a simulated chain, the gateway, a player.
    Demo {
        /// Exit after the walk-through instead of leaving the HTTP API up.
        #[arg(long)]
        once: bool,
        /// Print every gateway event as it happens.
        #[arg(long)]
        verbose: bool,
        /// Where the HTTP API listens after the walk-through.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Run the gateway: configuration file, database, nodes, timer, HTTP API.
    Run {
        #[arg(long, short, default_value = "cwd-gateway.toml")]
        config: PathBuf,
        /// Log one JSON object a line (else as `[log] format` says; human by default).
        #[arg(long)]
        log_json: bool,
    },
    /// Copy the store to FILE while the gateway runs (PostgreSQL: prints the pg_dump line).
    ///
    /// SQLite: one consistent snapshot, written 0600 under a temporary name, checked,
    /// fsynced and renamed into place. PostgreSQL: refused, with the pg_dump line to run
    /// instead (README, "Backup and restore").
    Backup {
        #[arg(long, short, default_value = "cwd-gateway.toml")]
        config: PathBuf,
        /// The copy's file.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Check a backup read-only and report what it holds.
    ///
    /// Opens FILE read-only (never creating or changing it), runs SQLite's
    /// integrity_check and reports the schema version, entries per key prefix, the last
    /// commit version and the totals kept. Exits 1 if it is not a gateway store, is
    /// corrupt or truncated, or is at a newer schema than this release knows; 2 if there
    /// is no such file.
    CheckBackup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// One JSON object on stdout (`"ok": false` and `"error"` on failure).
        #[arg(long)]
        json: bool,
    },
    /// Run the signer: the process that alone holds the active key and signs only what
    /// its own policy allows (README, "Key custody"). Gateway hosts reach it through
    /// `[signer]` in their configuration.
    Signer {
        #[arg(long, short, default_value = "signer.toml")]
        config: PathBuf,
    },
    /// Run a simulated CrowdWiz node (JSON-RPC on POST /, control API on POST /devnet):
    /// the same options as `cwd-devnet` ([--listen ADDR] [--block-seconds N] [--manual]
    /// [--lag N] [--seed TEXT] [--history-start N] [--max-ops-per-account N]
    /// [--track-account NAME]... [--account NAME:CWD]...); the seed is "devnet" unless given.
    #[command(disable_help_flag = true)]
    Devnet {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        options: Vec<String>,
    },
    /// Print a player's cabinet link: a session token for `user`, signed with the
    /// configured cabinet secret (what a game server does; see docs/cabinet.md).
    CabinetToken {
        #[arg(long, short, default_value = "cwd-gateway.toml")]
        config: PathBuf,
        /// The game's user id.
        #[arg(long)]
        user: String,
        /// How long the session lasts.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
    },
    /// The chain codec, every call run inside the gateway component.
    #[command(subcommand)]
    Codec(CodecCommand),
}

/// Where a private key (WIF) comes from: exactly one of these.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct WifSource {
    /// The key itself. Every local user can read a command line (ps, /proc): prefer
    /// --wif-file or --wif-env for a key that holds funds.
    #[arg(long)]
    wif: Option<String>,
    /// A file holding the key (mode 0600 or 0400: refused if others may read it).
    #[arg(long)]
    wif_file: Option<PathBuf>,
    /// An environment variable holding the key.
    #[arg(long)]
    wif_env: Option<String>,
}

impl WifSource {
    fn read(self) -> Result<zeroize::Zeroizing<String>, Failure> {
        let text = match (self.wif, self.wif_file, self.wif_env) {
            (Some(w), _, _) => w,
            (_, Some(path), _) => cwd_gateway_host::files::read_secret(&path, "key file").map_err(|e| Failure::Input(format!("{e:#}")))?,
            (_, _, Some(var)) => std::env::var(&var).map_err(|_| Failure::Input(format!("the environment variable {var} is not set")))?,
            _ => return Err(Failure::Input("give the key with --wif, --wif-file or --wif-env".into())),
        };
        Ok(zeroize::Zeroizing::new(text.trim().to_string()))
    }
}

#[derive(Subcommand)]
enum CodecCommand {
    /// Print the public key (CWD…) of a WIF private key.
    Key {
        /// The key itself (visible to every local user; see --wif-file, --wif-env).
        #[arg(conflicts_with_all = ["wif_file", "wif_env"])]
        key: Option<String>,
        #[arg(long)]
        wif_file: Option<PathBuf>,
        #[arg(long)]
        wif_env: Option<String>,
    },
    /// Encrypt a memo; prints `{"nonce": "<decimal>", "message": "<hex>"}`, the memo's
    /// fields as they go into an operation.
    MemoEncrypt {
        #[command(flatten)]
        wif: WifSource,
        /// The recipient's public key (CWD…).
        #[arg(long)]
        to: String,
        /// Leave it out: a random one is drawn. Never reuse one between the same keys.
        #[arg(long)]
        nonce: Option<u64>,
        #[arg(long)]
        message: String,
    },
    /// Decrypt a memo; prints the text.
    MemoDecrypt {
        #[command(flatten)]
        wif: WifSource,
        /// The other side's public key (CWD…).
        #[arg(long)]
        from: String,
        #[arg(long)]
        nonce: u64,
        /// The ciphertext hex.
        #[arg(long)]
        message: String,
    },
    /// Read a transaction (JSON) on stdin; print its unsigned hex, digest and id.
    TxDigest {
        #[arg(long, default_value = MAIN_CHAIN_ID)]
        chain_id: String,
    },
    /// Read a transaction (JSON) on stdin; print it signed, as broadcast_transaction takes it.
    TxSign {
        #[command(flatten)]
        wif: WifSource,
        #[arg(long, default_value = MAIN_CHAIN_ID)]
        chain_id: String,
    },
    /// Read a signed transaction (JSON) on stdin; print the public keys that signed it.
    TxSigners {
        #[arg(long, default_value = MAIN_CHAIN_ID)]
        chain_id: String,
    },
}

/// Exit codes: 0 ok, 1 the host or component failed, 2 bad input.
fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        serve::init_logging(cwd_gateway_host::config::LogFormat::Human);
    }
    let result = match cli.command {
        Command::Codec(cmd) => codec(cmd).map(|out| println!("{out}")),
        Command::Demo { once, verbose, listen } => run_demo(once, verbose, &listen).map_err(Failure::Host),
        Command::Run { config, log_json } => serve::run(&config, log_json).map_err(Failure::Host),
        Command::Signer { config } => cwd_signer::run(&config).map_err(Failure::Host),
        Command::CabinetToken { config, user, ttl_secs } => cabinet_token(&config, &user, ttl_secs),
        Command::Backup { config, to, force } => backup(&config, &to, force),
        Command::CheckBackup { file, json } => check_backup(&file, json),
        Command::Devnet { options } => run_devnet(options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Host(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_demo(once: bool, verbose: bool, listen: &str) -> anyhow::Result<()> {
    let opts = demo::DemoOptions { verbose, ..Default::default() };
    let d = demo::run(&opts, &mut |line| println!("{line}"))?;
    if once {
        println!("\nDone (--once).");
        return Ok(());
    }
    let cabinet = cwd_gateway_host::cabinet::Cabinet::new(format!("{}{}", demo_token(), demo_token()).into_bytes())?;
    let http = cwd_gateway_host::http_api::HttpApi::bind(listen)?;
    // A second player, not linked yet, to click through the whole journey.
    let bob = d.devnet.create_account(cwd_devnet::AccountSpec::new("bob-cwd", 500 * 100_000))?;
    let control = format!("{}/devnet", d.devnet.url().trim_end_matches('/'));
    println!("\nThe player's cabinet (sessions last an hour):");
    println!("  alice (linked, with history): http://{}/cabinet/#session={}", http.addr, cabinet.mint("alice", 3600));
    println!("  bob (to link bob-cwd, {}):    http://{}/cabinet/#session={}", bob.id_string(), http.addr, cabinet.mint("bob", 3600));
    println!("  bob's wallet on the devnet — read the code, then top up:");
    println!("    curl -s {control} -d '{{\"method\":\"messages\",\"params\":{{\"account\":\"bob-cwd\"}}}}'");
    println!("    curl -s {control} -d '{{\"method\":\"transfer\",\"params\":{{\"from\":\"bob-cwd\",\"to\":\"game-gateway\",\"amount_cwd\":\"10\"}}}}'");
    let http = http.with_cabinet(cabinet);
    let token = demo_token();
    println!("\nThe gateway's HTTP API is up at http://{} (Ctrl-C to stop). Try:", http.addr);
    println!("  curl -s -H 'Authorization: Bearer {token}' -X POST http://{}/v1/account -d '{{\"user\":\"alice\"}}'", http.addr);
    println!("  curl -s -H 'Authorization: Bearer {token}' -X POST http://{}/v1/status", http.addr);
    println!("The operator console: http://{}/console/ (sign in with the token above).", http.addr);
    println!("The devnet is at {} (control API: POST {}/devnet).", d.devnet.url(), d.devnet.url().trim_end_matches('/'));
    for t in http.spawn(d.service.clone(), token, 2) {
        let _ = t.join();
    }
    Ok(())
}

/// A fresh API token for this demo run (the OS's randomness, as hex).
fn demo_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    } else {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = t.to_le_bytes();
    }
    hex::encode(bytes)
}

fn cabinet_token(config: &std::path::Path, user: &str, ttl_secs: u64) -> Result<(), Failure> {
    let cfg = cwd_gateway_host::config::FileConfig::load(config).map_err(|e| Failure::Input(format!("{e:#}")))?;
    let cabinet = cfg.cabinet()?.ok_or_else(|| Failure::Input("the cabinet is not enabled: set [cabinet] enabled = true".into()))?;
    if user.is_empty() || ttl_secs == 0 {
        return Err(Failure::Input("--user must not be empty and --ttl-secs must be at least 1".into()));
    }
    // The gateway's own users (guest `ids::is_system_user`) are no player's.
    let pool = match cfg.referrals.pool_user.as_str() {
        "" => "referral-pool",
        p => p,
    };
    let max = match cfg.cabinet.max_session_secs {
        0 => cwd_gateway_host::cabinet::DEFAULT_MAX_SESSION_SECS,
        s => s,
    };
    if ttl_secs > max {
        return Err(Failure::Input(format!("--ttl-secs {ttl_secs} is longer than the cabinet accepts ([cabinet] max_session_secs = {max})")));
    }
    if user == pool || user.starts_with("gateway.") {
        return Err(Failure::Input(format!("{user} is one of the gateway's own users (the referral pool, or gateway.…): no player's session")));
    }
    println!("http://{}/cabinet/#session={}", cfg.http.listen, cabinet.mint(user, ttl_secs));
    Ok(())
}

fn backup(config: &std::path::Path, to: &std::path::Path, force: bool) -> Result<(), Failure> {
    use cwd_gateway_host::backup::{self, BackupError};
    let cfg = cwd_gateway_host::config::FileConfig::load(config).map_err(|e| Failure::Input(format!("{e:#}")))?;
    if let Some(url) = &cfg.store.url {
        return Err(Failure::Input(backup::pg_dump_advice(url, to)));
    }
    match backup::backup_sqlite(&cfg.store.path, to, force) {
        Ok(done) => {
            let r = &done.report;
            println!(
                "backed up {} to {}: {} entries, last commit version {}, {} bytes, integrity ok (cwd-gateway check-backup {} for the details)",
                cfg.store.path.display(),
                to.display(),
                r.entries,
                r.last_version,
                r.bytes,
                to.display()
            );
            Ok(())
        }
        Err(BackupError::Usage(m)) => Err(Failure::Input(m)),
        Err(BackupError::Failed(m)) => Err(Failure::Host(anyhow::anyhow!(m))),
    }
}

fn check_backup(file: &std::path::Path, json: bool) -> Result<(), Failure> {
    use cwd_gateway_host::backup::{self, BackupError};
    match backup::check(file) {
        Ok(report) => {
            match json {
                true => {
                    let mut out = serde_json::json!({ "ok": true });
                    if let (Some(o), serde_json::Value::Object(fields)) = (out.as_object_mut(), serde_json::json!(report)) {
                        o.extend(fields);
                    }
                    println!("{out}");
                }
                false => print!("{}", report.human()),
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "ok": false, "file": file, "error": e.to_string() }));
            }
            Err(match e {
                BackupError::Usage(m) => Failure::Input(m),
                BackupError::Failed(m) => Failure::Host(anyhow::anyhow!(m)),
            })
        }
    }
}

fn run_devnet(options: Vec<String>) -> Result<(), Failure> {
    if options.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: cwd-gateway devnet {}", cwd_devnet::cli::USAGE);
        return Ok(());
    }
    let options = cwd_devnet::cli::parse(options, Some("devnet")).map_err(|e| Failure::Input(format!("{e}\nusage: cwd-gateway devnet {}", cwd_devnet::cli::USAGE)))?;
    match cwd_devnet::cli::serve(options) {
        Ok(never) => match never {},
        Err(e) => Err(Failure::Host(anyhow::anyhow!(e))),
    }
}

enum Failure {
    Input(String),
    Host(anyhow::Error),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Invalid(_) => Failure::Input(e.to_string()),
            CallError::Component(e) => Failure::Host(e),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Host(e)
    }
}

fn stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::Input(format!("reading the transaction from stdin: {e}")))?;
    Ok(text)
}

fn codec(cmd: CodecCommand) -> Result<String, Failure> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut instance = runtime.instantiate()?;
    let mut codec = instance.codec();
    Ok(match cmd {
        CodecCommand::Key { key, wif_file, wif_env } => {
            let wif = WifSource { wif: key, wif_file, wif_env }.read()?;
            codec.public_key_of(&wif)?
        }
        CodecCommand::MemoEncrypt { wif, to, nonce, message } => {
            let memo = codec.memo_encrypt(&wif.read()?, &to, nonce, &message)?;
            serde_json::json!({ "nonce": memo.nonce.to_string(), "message": memo.message_hex }).to_string()
        }
        CodecCommand::MemoDecrypt { wif, from, nonce, message } => codec.memo_decrypt(&wif.read()?, &from, nonce, &message)?,
        CodecCommand::TxDigest { chain_id } => {
            let info = codec.transaction_info(&stdin()?, &chain_id)?;
            serde_json::json!({ "unsigned_hex": info.unsigned_hex, "digest": info.digest, "tx_id": info.id }).to_string()
        }
        CodecCommand::TxSign { wif, chain_id } => {
            let wif = wif.read()?;
            codec.sign_transaction(&stdin()?, &wif, &chain_id)?
        }
        CodecCommand::TxSigners { chain_id } => serde_json::json!(codec.transaction_signers(&stdin()?, &chain_id)?).to_string(),
    })
}
