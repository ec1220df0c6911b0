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

fn measure(iterations: u32, mut work: impl FnMut(u64)) -> Duration {
    for i in 0..iterations / 10 + 1 {
        work(u64::MAX - i as u64); // warm-up
    }
    let start = Instant::now();
    for i in 0..iterations {
        work(i as u64);
    }
    start.elapsed() / iterations
}

fn main() {
    let iterations: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let runtime = Runtime::new(RuntimeConfig::default()).expect("loading the component");
    let mut instance = runtime.instantiate().expect("instantiating");

    // Both sides do the same work and must give the same bytes.
    let native_out = {
        let memo = cwd_gateway::codec::memo_encrypt(FROM_WIF, TO_PUB, 7, "withdrawal w-7").unwrap();
        cwd_gateway::codec::sign_transaction(&tx(&memo, 7), FROM_WIF, CHAIN).unwrap()
    };
    let wasm_out = {
        let mut c = instance.codec();
        let memo = c.memo_encrypt(FROM_WIF, TO_PUB, 7, "withdrawal w-7").unwrap();
        c.sign_transaction(&tx(&memo, 7), FROM_WIF, CHAIN).unwrap()
    };
    assert_eq!(native_out, wasm_out, "component and native disagree");

    let wasm = measure(iterations, |nonce| {
        let mut c = instance.codec();
        let memo = c.memo_encrypt(FROM_WIF, TO_PUB, nonce, "withdrawal w-7").unwrap();
        std::hint::black_box(c.sign_transaction(&tx(&memo, nonce), FROM_WIF, CHAIN).unwrap());
    });
    let native = measure(iterations, |nonce| {
        let memo = cwd_gateway::codec::memo_encrypt(FROM_WIF, TO_PUB, nonce, "withdrawal w-7").unwrap();
        std::hint::black_box(cwd_gateway::codec::sign_transaction(&tx(&memo, nonce), FROM_WIF, CHAIN).unwrap());
    });
    // The two calls apart: where the component's time goes.
    let memo_hex = instance.codec().memo_encrypt(FROM_WIF, TO_PUB, 7, "withdrawal w-7").unwrap();
    let wasm_memo = measure(iterations, |nonce| {
        std::hint::black_box(instance.codec().memo_encrypt(FROM_WIF, TO_PUB, nonce, "withdrawal w-7").unwrap());
    });
    let wasm_sign = measure(iterations, |nonce| {
        std::hint::black_box(instance.codec().sign_transaction(&tx(&memo_hex, nonce), FROM_WIF, CHAIN).unwrap());
    });
    // A new recipient for every transfer: nothing cached helps.
    let recipients: Vec<String> = (0..2 * iterations + iterations / 10 + 2)
        .map(|i| {
            let mut secret = [0x5au8; 32];
            secret[..4].copy_from_slice(&i.to_le_bytes());
            cwd_gateway::keys::PrivateKey::from_bytes(&secret).unwrap().public_key().to_string()
        })
        .collect();
    let mut next = recipients.iter().cycle();
    let wasm_cold = measure(iterations, |nonce| {
        let to = next.next().unwrap();
        let mut c = instance.codec();
        let memo = c.memo_encrypt(FROM_WIF, to, nonce, "withdrawal w-7").unwrap();
        std::hint::black_box(c.sign_transaction(&tx_to(&memo, nonce, to), FROM_WIF, CHAIN).unwrap());
    });
    let native_cold = measure(iterations, |nonce| {
        let to = next.next().unwrap();
        let memo = cwd_gateway::codec::memo_encrypt(FROM_WIF, to, nonce, "withdrawal w-7").unwrap();
        std::hint::black_box(cwd_gateway::codec::sign_transaction(&tx_to(&memo, nonce, to), FROM_WIF, CHAIN).unwrap());
    });

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("transfer + encrypted memo, serialize and sign ({iterations} iterations each, mean per transfer):");
    println!("  inside the component  {:>9.1} µs", us(wasm));
    println!("  native                {:>9.1} µs", us(native));
    println!("  ratio component/native {:>8.2}x", wasm.as_secs_f64() / native.as_secs_f64());
    println!("  of which, in the component: memo-encrypt {:.1} µs, sign-transaction {:.1} µs", us(wasm_memo), us(wasm_sign));
    println!("new recipient every transfer (no cache hits):");
    println!("  inside the component  {:>9.1} µs", us(wasm_cold));
    println!("  native                {:>9.1} µs", us(native_cold));
    println!("  ratio component/native {:>8.2}x", wasm_cold.as_secs_f64() / native_cold.as_secs_f64());
    match python_baseline(iterations.min(50)) {
        Some(py) => println!(
            "CrowdWiz Python client (crowdwiz 0.9.4), same work, same run: {py:>9.1} µs ({:.0}x the component)",
            py / us(wasm)
        ),
        None => println!("(CrowdWiz Python client not configured: set CWD_REFERENCE_PYTHON, see .ci/run)"),
    }
}

/// Mean µs per transfer of `tests/reference/bench_codec.py`, when the client is installed.
fn python_baseline(iterations: u32) -> Option<f64> {
    let python = std::env::var("CWD_REFERENCE_PYTHON").ok()?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/bench_codec.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([FROM_WIF, TO_PUB, FROM_PUB, &iterations.to_string()])
        .output()
        .expect("running the Python client");
    assert!(out.status.success(), "the Python client failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("its JSON report");
    report["mean_us"].as_f64()
}
