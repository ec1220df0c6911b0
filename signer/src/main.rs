//! `cwd-signer <signer.toml>`: the signer as a process of its own.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(config), None) = (args.next(), args.next()) else {
        eprintln!("usage: cwd-signer <signer.toml>");
        return ExitCode::from(2);
    };
    match cwd_signer::run(&PathBuf::from(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cwd-signer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
