//! `cargo run -p cwd-fuzz --release -- [TARGET|all] [--secs N | --execs N] [--seed S]`
//! `cargo run -p cwd-fuzz --release -- replay TARGET FILE`
//!
//! Failing inputs are written to `fuzz/artifacts/<target>/`; keep one as a regression by
//! copying it into `fuzz/corpus/<target>/` once the bug is fixed.

use std::time::Duration;

use cwd_fuzz::{fuzz, run_one, targets, Budget};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<u64>().ok());
    if args.first().map(String::as_str) == Some("replay") {
        let (Some(name), Some(file)) = (args.get(1), args.get(2)) else {
            eprintln!("usage: replay TARGET FILE");
            std::process::exit(2);
        };
        let target = targets().into_iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no target {name}"));
        let data = std::fs::read(file).expect("reading the input");
        match run_one(&target, &data) {
            Ok(outcome) => println!("ok: {outcome}"),
            Err(message) => {
                println!("FAILED: {message}");
                std::process::exit(1);
            }
        }
        return;
    }
    let which = args.first().filter(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "all".into());
    let seed = flag("--seed").unwrap_or(1);
    let budget = match (flag("--execs"), flag("--secs")) {
        (Some(n), _) => Budget::Executions(n),
        (None, Some(s)) => Budget::Time(Duration::from_secs(s)),
        (None, None) => Budget::Time(Duration::from_secs(60)),
    };
    let mut failed = false;
    for target in targets().into_iter().filter(|t| which == "all" || t.name == which) {
        let report = fuzz(&target, seed, budget);
        println!(
            "{:6} seed {seed}: {} executions, {} outcomes, working corpus {}, {} failing inputs",
            target.name,
            report.executions,
            report.outcomes,
            report.corpus,
            report.crashes.len()
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts").join(target.name);
        for crash in &report.crashes {
            use sha2::Digest;
            std::fs::create_dir_all(&dir).expect("artifacts dir");
            let path = dir.join(format!("crash-{}", hex::encode(&sha2::Sha256::digest(&crash.input)[..8])));
            std::fs::write(&path, &crash.input).expect("writing the input");
            println!("  {}: {}\n  replay: cargo run -p cwd-fuzz --release -- replay {} {}", path.display(), crash.message, target.name, path.display());
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
