//! Fuzzing that runs on stable Rust (no libFuzzer, no nightly): each target takes raw
//! bytes and reads them as structured input (which function, which strings, which lie
//! the node tells); a seeded mutation loop starts from the committed corpus in
//! `fuzz/corpus/<target>/`. There is no coverage feedback; instead each target reports
//! an *outcome* (which path it took: the error kind, the lie told) and an input that
//! reaches an outcome not seen before joins the working corpus, so the loop keeps
//! exploring past the first parse error. A run with a given seed is repeatable.
//!
//! A target fails by panicking: a panic in product code, or a broken invariant asserted
//! by the target (a round trip that does not round-trip, books that do not balance).

// The guest's test support names the guest by its own lib name.
extern crate cwd_gateway as cwd_gateway_guest;

pub mod api;
pub mod codec;
pub mod input;
pub mod node;

/// The gateway core's test doubles (fake store, simulated chain) and its book checks,
/// shared with the guest's own tests.
#[path = "../../guest/tests/support/mod.rs"]
pub mod support;

use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// Runs one input; panics on a failure; returns the outcome it reached.
    pub run: fn(&[u8]) -> String,
    /// Tokens worth splicing in (valid keys, field names, boundary numbers).
    pub dictionary: &'static [&'static str],
}

pub fn targets() -> Vec<Target> {
    vec![
        Target { name: "codec", run: codec::run, dictionary: codec::DICTIONARY },
        Target { name: "node", run: node::run, dictionary: node::DICTIONARY },
        Target { name: "api", run: api::run, dictionary: api::DICTIONARY },
    ]
}

pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target)
}

/// The committed corpus of a target, in file-name order (so runs are repeatable).
pub fn load_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A failing input and what it broke.
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
}

#[derive(Default)]
pub struct Report {
    pub executions: u64,
    pub outcomes: usize,
    pub corpus: usize,
    pub crashes: Vec<Crash>,
}

/// When to stop.
#[derive(Clone, Copy)]
pub enum Budget {
    Executions(u64),
    Time(Duration),
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `input` once, catching a panic (its message and location) instead of unwinding.
pub fn run_one(target: &Target, input: &[u8]) -> Result<String, String> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    panic::set_hook(previous);
    result.map_err(|_| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panic".into()))
}

/// The seeded generator of the guest's tests (splitmix64), repeatable.
pub use support::Rng;

/// A number below `n` (0 when `n` is 0).
fn pick(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

const MAX_INPUT: usize = 16 * 1024;
const MAX_WORKING_CORPUS: usize = 4096;

/// One to four byte-level and token-level mutations of `data`.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>], dictionary: &[&str]) {
    for _ in 0..1 + pick(rng, 4) {
        let len = data.len();
        match pick(rng, 10) {
            0 if len > 0 => {
                let i = pick(rng, len);
                data[i] ^= 1 << pick(rng, 8);
            }
            1 if len > 0 => {
                let i = pick(rng, len);
                data[i] = *b"\0\x01\x7f\x80\xff0129-.\"\n,{}[]:".get(pick(rng, 20)).unwrap_or(&0);
            }
            2 if len > 0 => {
                let at = pick(rng, len);
                let n = 1 + pick(rng, (len - at).min(16));
                data.drain(at..at + n);
            }
            3 => {
                let at = pick(rng, len + 1);
                let n = 1 + pick(rng, 8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            4 | 5 if !dictionary.is_empty() => {
                let token = dictionary[pick(rng, dictionary.len())].as_bytes();
                let at = pick(rng, len + 1);
                if pick(rng, 2) == 0 || len == 0 {
                    data.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    data.splice(at..end, token.iter().copied());
                }
            }
            6 if len > 0 => {
                // Repeat a chunk: long strings, deep nesting, big pages.
                let at = pick(rng, len);
                let n = 1 + pick(rng, (len - at).min(64));
                let chunk = data[at..at + n].to_vec();
                for _ in 0..1 + pick(rng, 16) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            7 if !others.is_empty() => {
                // Splice: our head with another input's tail.
                let other = &others[pick(rng, others.len())];
                let cut = pick(rng, len + 1);
                let from = pick(rng, other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            8 if len > 0 => {
                // A number somewhere becomes a boundary value.
                let at = pick(rng, len);
                let token = ["0", "-1", "18446744073709551615", "18446744073709551616", "9223372036854775807", "-9223372036854775808", "4294967296", "1e300", "0.5", "1000000000000000001"][pick(rng, 10)];
                data.splice(at..at, token.bytes());
            }
            _ if len > 1 => {
                let a = pick(rng, len);
                let b = pick(rng, len);
                data.swap(a, b);
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data.truncate(MAX_INPUT);
}

/// The mutation loop. The committed corpus is run first, unchanged.
pub fn fuzz(target: &Target, seed: u64, budget: Budget) -> Report {
    let mut rng = Rng(seed ^ 0xF0CC_ACC1A);
    let mut corpus: Vec<Vec<u8>> = load_corpus(target.name).into_iter().map(|(_, d)| d).collect();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen = BTreeSet::new();
    let mut report = Report::default();
    let started = Instant::now();
    let done = |r: &Report| match budget {
        Budget::Executions(n) => r.executions >= n,
        Budget::Time(t) => started.elapsed() >= t,
    };
    let initial = corpus.clone();
    let mut pending = initial.into_iter();
    while !done(&report) {
        let input = match pending.next() {
            Some(i) => i,
            None => {
                let mut i = corpus[pick(&mut rng, corpus.len())].clone();
                mutate(&mut rng, &mut i, &corpus, target.dictionary);
                i
            }
        };
        report.executions += 1;
        match run_one(target, &input) {
            Ok(outcome) => {
                if seen.insert(outcome) && corpus.len() < MAX_WORKING_CORPUS {
                    corpus.push(input);
                }
            }
            Err(message) => {
                if report.crashes.len() < 20 {
                    report.crashes.push(Crash { input, message });
                }
            }
        }
    }
    report.outcomes = seen.len();
    report.corpus = corpus.len();
    report
}
