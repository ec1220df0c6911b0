//! `cwd-gateway`: the reference host's command line.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cwd_gateway_host::{CallError, Runtime, RuntimeConfig};

const MAIN_CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";

#[derive(Parser)]
#[command(name = "cwd-gateway", version, about = "CrowdWiz gateway: the reference host of the gateway component")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The chain codec, every call run inside the gateway component.
    #[command(subcommand)]
    Codec(CodecCommand),
}

#[derive(Subcommand)]
enum CodecCommand {
    /// Print the public key (CWD…) of a WIF private key.
    Key { wif: String },
    /// Encrypt a memo; prints the ciphertext hex.
    MemoEncrypt {
        #[arg(long)]
        wif: String,
        /// The recipient's public key (CWD…).
        #[arg(long)]
        to: String,
        #[arg(long)]
        nonce: u64,
        #[arg(long)]
        message: String,
    },
    /// Decrypt a memo; prints the text.
    MemoDecrypt {
        #[arg(long)]
        wif: String,
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
        #[arg(long)]
        wif: String,
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
    match run(cli) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
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

fn run(cli: Cli) -> Result<String, Failure> {
    let Command::Codec(cmd) = cli.command;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut instance = runtime.instantiate()?;
    let mut codec = instance.codec();
    Ok(match cmd {
        CodecCommand::Key { wif } => codec.public_key_of(&wif)?,
        CodecCommand::MemoEncrypt { wif, to, nonce, message } => codec.memo_encrypt(&wif, &to, nonce, &message)?,
        CodecCommand::MemoDecrypt { wif, from, nonce, message } => codec.memo_decrypt(&wif, &from, nonce, &message)?,
        CodecCommand::TxDigest { chain_id } => {
            let info = codec.transaction_info(&stdin()?, &chain_id)?;
            serde_json::json!({ "unsigned_hex": info.unsigned_hex, "digest": info.digest, "tx_id": info.id }).to_string()
        }
        CodecCommand::TxSign { wif, chain_id } => codec.sign_transaction(&stdin()?, &wif, &chain_id)?,
        CodecCommand::TxSigners { chain_id } => {
            serde_json::json!(codec.transaction_signers(&stdin()?, &chain_id)?).to_string()
        }
    })
}
