//! One `transfer` with an encrypted memo, memo encrypted, serialized and signed: inside
//! the component and natively, same inputs, measured in one run so the ratio is fair.
//!
//! Run: `cargo bench -p cwd-gateway --bench codec` (optional: iterations as argument).
//! With `CWD_REFERENCE_PYTHON` set (see `.ci/run`), CrowdWiz's Python client does the same
//! work in the same run (`tests/reference/bench_codec.py`) as a baseline.
//!
//! The codec keeps parsed public keys and memo shared secrets in small bounded caches, so
//! the main figure (one recipient, as a gateway paying the same players again) is the
//! warm one; the second line gives every transfer a new recipient (all misses).

use std::time::{Duration, Instant};

use cwd_gateway_host::{Runtime, RuntimeConfig};
use serde_json::json;

const FROM_WIF: &str = "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB";
const TO_PUB: &str = "CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP";
const FROM_PUB: &str = "CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL";
const CHAIN: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";

fn tx(memo_hex: &str, nonce: u64) -> String {
    tx_to(memo_hex, nonce, TO_PUB)
}

fn tx_to(memo_hex: &str, nonce: u64, to_pub: &str) -> String {
    json!({
        "ref_block_num": 37134, "ref_block_prefix": 1592350392u32, "expiration": "2026-11-17T00:22:44",
        "operations": [[0, {
            "fee": {"amount": 130779, "asset_id": "1.3.0"},
            "from": "1.2.2060514", "to": "1.2.1819833",
            "amount": {"amount": "488912486335", "asset_id": "1.3.0"},
            "memo": {"from": FROM_PUB, "to": to_pub, "nonce": nonce.to_string(), "message": memo_hex},
            "extensions": []
        }]],
        "extensions": []
    })
    .to_string()
}

/// Mean time of one `work`, after a warm-up.
fn measure(iterations: u32, work: &mut impl FnMut(u64)) -> Duration {
    for i in 0..iterations / 10 + 1 {
        work(u64::MAX - i as u64); // warm-up
    }
    let start = Instant::now();
    for i in 0..iterations {
        work(i as u64);
    }
    start.elapsed() / iterations
}

/// The machine is shared and its speed wanders within seconds, so the two sides run in
/// alternating rounds and each figure is the median of its rounds' means.
const ROUNDS: u32 = 7;

fn compare(iterations: u32, mut a: impl FnMut(u64), mut b: impl FnMut(u64)) -> (Duration, Duration) {
    let per_round = (iterations / ROUNDS).max(1);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        xs.push(measure(per_round, &mut a));
        ys.push(measure(per_round, &mut b));
    }
    xs.sort();
    ys.sort();
    (xs[xs.len() / 2], ys[ys.len() / 2])
}

fn main() {
    let iterations: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2100);
    let runtime = Runtime::new(RuntimeConfig::default()).expect("loading the component");
    let mut instance = runtime.instantiate().expect("instantiating");

    // Both sides do the same work and must give the same bytes.
    let native_out = {
        let memo = cwd_gateway::codec::memo_encrypt(FROM_WIF, TO_PUB, Some(7), "withdrawal w-7", || unreachable!()).unwrap().message_hex;
        cwd_gateway::codec::sign_transaction(&tx(&memo, 7), FROM_WIF, CHAIN).unwrap()
    };
    let wasm_out = {
        let mut c = instance.codec();
        let memo = c.memo_encrypt(FROM_WIF, TO_PUB, Some(7), "withdrawal w-7").unwrap().message_hex;
        c.sign_transaction(&tx(&memo, 7), FROM_WIF, CHAIN).unwrap()
    };
    assert_eq!(native_out, wasm_out, "component and native disagree");

    // The transactions are made before timing: the figures are the codec's work alone.
    let memo_hex = instance.codec().memo_encrypt(FROM_WIF, TO_PUB, Some(7), "withdrawal w-7").unwrap().message_hex;
    let txs: Vec<String> = (0..64).map(|n| tx(&memo_hex, n)).collect();
    let wasm_transfer = |instance: &mut cwd_gateway_host::Instance, nonce: u64| {
        let mut c = instance.codec();
        std::hint::black_box(c.memo_encrypt(FROM_WIF, TO_PUB, Some(nonce), "withdrawal w-7").unwrap().message_hex);
        std::hint::black_box(c.sign_transaction(&txs[nonce as usize % txs.len()], FROM_WIF, CHAIN).unwrap());
    };

    let native_transfer = |nonce: u64| {
        std::hint::black_box(cwd_gateway::codec::memo_encrypt(FROM_WIF, TO_PUB, Some(nonce), "withdrawal w-7", || unreachable!()).unwrap().message_hex);
        std::hint::black_box(cwd_gateway::codec::sign_transaction(&txs[nonce as usize % txs.len()], FROM_WIF, CHAIN).unwrap());
    };

    // One side's warm loop alone, for `perf record` or `valgrind --tool=callgrind`
    // (instruction counts do not wander with the machine; BENCHMARKS.md, Profiling).
    match std::env::var("CWD_BENCH_ONLY").as_deref() {
        Ok("component") => {
            let wasm = measure(iterations, &mut |nonce| wasm_transfer(&mut instance, nonce));
            return println!("inside the component {:.1} µs", wasm.as_secs_f64() * 1e6);
        }
        Ok("native") => {
            let native = measure(iterations, &mut |nonce| native_transfer(nonce));
            return println!("native {:.1} µs", native.as_secs_f64() * 1e6);
        }
        _ => {}
    }

    let (wasm, native) = compare(iterations, |nonce| wasm_transfer(&mut instance, nonce), native_transfer);
    // The two calls apart: where the component's time goes.
    let shared = std::cell::RefCell::new(&mut instance);
    let (wasm_memo, wasm_sign) = compare(
        iterations,
        |nonce| {
            std::hint::black_box(shared.borrow_mut().codec().memo_encrypt(FROM_WIF, TO_PUB, Some(nonce), "withdrawal w-7").unwrap().message_hex);
        },
        |nonce| {
            std::hint::black_box(shared.borrow_mut().codec().sign_transaction(&txs[nonce as usize % txs.len()], FROM_WIF, CHAIN).unwrap());
        },
    );
    // A new recipient for every transfer: nothing cached helps.
    let recipients: Vec<(String, String)> = (0..600u32)
        .map(|i| {
            let mut secret = [0x5au8; 32];
            secret[..4].copy_from_slice(&i.to_le_bytes());
            let to = cwd_gateway::keys::PrivateKey::from_bytes(&secret).unwrap().public_key().to_string();
            (to.clone(), tx_to(&memo_hex, i as u64, &to))
        })
        .collect();
    let mut next_wasm = recipients.iter().cycle();
    let mut next_native = recipients.iter().cycle().skip(128);
    let (wasm_cold, native_cold) = compare(
        iterations / 2,
        |nonce| {
            let (to, tx) = next_wasm.next().unwrap();
            let mut c = instance.codec();
            std::hint::black_box(c.memo_encrypt(FROM_WIF, to, Some(nonce), "withdrawal w-7").unwrap().message_hex);
            std::hint::black_box(c.sign_transaction(tx, FROM_WIF, CHAIN).unwrap());
        },
        |nonce| {
            let (to, tx) = next_native.next().unwrap();
            std::hint::black_box(cwd_gateway::codec::memo_encrypt(FROM_WIF, to, Some(nonce), "withdrawal w-7", || unreachable!()).unwrap().message_hex);
            std::hint::black_box(cwd_gateway::codec::sign_transaction(tx, FROM_WIF, CHAIN).unwrap());
        },
    );

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("transfer + encrypted memo, serialize and sign ({iterations} transfers a side in {ROUNDS} alternating rounds; medians of the rounds' means):");
    println!("  inside the component  {:>9.1} µs", us(wasm));
    println!("  native                {:>9.1} µs", us(native));
    println!("  ratio component/native {:>8.2}x", wasm.as_secs_f64() / native.as_secs_f64());
    println!("  of which, in the component: memo-encrypt {:.1} µs, sign-transaction {:.1} µs", us(wasm_memo), us(wasm_sign));
    println!("new recipient every transfer (no cache hits; 600 recipients, more than the caches hold):");
    println!("  inside the component  {:>9.1} µs", us(wasm_cold));
    println!("  native                {:>9.1} µs", us(native_cold));
    println!("  ratio component/native {:>8.2}x", wasm_cold.as_secs_f64() / native_cold.as_secs_f64());
    match python_baseline(50) {
        Some(py) => println!(
            "CrowdWiz Python client (crowdwiz 0.9.4), same work, same run: {py:>9.1} µs ({:.0}x the component)",
            py / us(wasm)
        ),
        None => println!("(CrowdWiz Python client not configured: set CWD_REFERENCE_PYTHON, see .ci/run)"),
    }
}

/// Mean µs per transfer of `tests/reference/bench_codec.py`, when the client is installed.
fn python_baseline(iterations: u32) -> Option<f64> {
    let python = std::path::PathBuf::from(std::env::var("CWD_REFERENCE_PYTHON").ok()?);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // `cargo bench` runs in host/: a relative path is meant from the workspace root.
    let python = if python.is_relative() && !python.exists() { root.join(python) } else { python };
    let script = root.join("tests/reference/bench_codec.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([FROM_WIF, TO_PUB, FROM_PUB, &iterations.to_string()])
        .output()
        .expect("running the Python client");
    assert!(out.status.success(), "the Python client failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("its JSON report");
    report["mean_us"].as_f64()
}
