//! The bounded fuzz run CI makes on every `cargo test --workspace`: every committed
//! corpus entry (regressions included) replays clean, then a fixed-seed mutation run per
//! target. The longer run is `cargo run -p cwd-fuzz --release -- all --secs 600` (see
//! RELIABILITY.md). Budgets are executions, not time: the run is the same everywhere.

use cwd_fuzz::{fuzz, load_corpus, run_one, targets, Budget};

fn bounded(name: &str, executions: u64) {
    let target = targets().into_iter().find(|t| t.name == name).expect("target");
    let corpus = load_corpus(name);
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ is committed");
    for (file, data) in &corpus {
        if let Err(message) = run_one(&target, data) {
            panic!("corpus entry fuzz/corpus/{name}/{file} fails: {message}");
        }
    }
    let report = fuzz(&target, 20261123, Budget::Executions(executions));
    let failures: Vec<String> = report.crashes.iter().map(|c| format!("{}\n  input: {:?}", c.message, String::from_utf8_lossy(&c.input))).collect();
    assert!(failures.is_empty(), "{name}: {} failing inputs:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{name}: {} executions without a failure, {} outcomes", report.executions, report.outcomes);
}

#[test]
fn codec_decoders_and_text_inputs() {
    bounded("codec", 6_000);
}

#[test]
fn gateway_behind_a_lying_node() {
    bounded("node", 150);
}

#[test]
fn every_api_input() {
    bounded("api", 300);
}
