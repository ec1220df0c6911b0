//! `cwd-sim`: runs seeds of the deterministic simulator.
//!
//!     cargo run -p cwd-sim --release -- --seeds 100000          # seeds 0..100000
//!     cargo run -p cwd-sim -- --seed 42 --steps 40              # replay one seed
//!     cargo run -p cwd-sim -- --seed 42 --steps 40 --digest     # …and print its digest

use std::process::ExitCode;

fn main() -> ExitCode {
    cwd_sim::quiet_backtraces();
    let mut seeds = 1_000u64;
    let mut first = 0u64;
    let mut one: Option<u64> = None;
    let mut steps = cwd_sim::world::DEFAULT_STEPS;
    let mut digest = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("{name} needs a number");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--seeds" => seeds = value("--seeds"),
            "--first" => first = value("--first"),
            "--seed" => one = Some(value("--seed")),
            "--steps" => steps = value("--steps") as u32,
            "--digest" => digest = true,
            _ => {
                eprintln!("usage: cwd-sim [--seeds N] [--first S] [--seed S] [--steps N] [--digest]");
                return ExitCode::from(2);
            }
        }
    }
    let range = match one {
        Some(s) => s..s + 1,
        None => first..first + seeds,
    };
    let started = std::time::Instant::now();
    let mut summary = cwd_sim::Summary::default();
    for seed in range {
        let r = cwd_sim::run_seed(seed, steps);
        if let (true, Ok(r)) = (digest, &r) {
            println!("seed {seed} digest {}", r.digest);
        }
        if let Err(v) = &r {
            eprintln!("{v}");
        }
        summary.add(r);
        if summary.seeds % 1_000 == 0 {
            eprintln!("{} seeds, {} violations, {:.0} s", summary.seeds, summary.violations.len(), started.elapsed().as_secs_f64());
        }
    }
    summary.print();
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    if summary.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
