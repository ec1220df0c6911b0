//! One `transfer` with an encrypted memo, memo encrypted, serialized and signed: inside
//! the component and natively, same inputs, measured in one run so the ratio is fair.
//!
//! Run: `cargo bench -p cwd-gateway --bench codec` (optional: iterations as argument).

use std::time::{Duration, Instant};

use cwd_gateway_host::{Runtime, RuntimeConfig};
use serde_json::json;

const FROM_WIF: &str = "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB";
const TO_PUB: &str = "CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP";
const FROM_PUB: &str = "CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL";
const CHAIN: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";

fn tx(memo_hex: &str, nonce: u64) -> String {
    json!({
        "ref_block_num": 37134, "ref_block_prefix": 1592350392u32, "expiration": "2026-11-17T00:22:44",
        "operations": [[0, {
            "fee": {"amount": 130779, "asset_id": "1.3.0"},
            "from": "1.2.2060514", "to": "1.2.1819833",
            "amount": {"amount": "488912486335", "asset_id": "1.3.0"},
            "memo": {"from": FROM_PUB, "to": TO_PUB, "nonce": nonce.to_string(), "message": memo_hex},
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
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("transfer + encrypted memo, serialize and sign ({iterations} iterations each, mean per transfer):");
    println!("  inside the component  {:>9.1} µs", us(wasm));
    println!("  native                {:>9.1} µs", us(native));
    println!("  ratio component/native {:>8.2}x", wasm.as_secs_f64() / native.as_secs_f64());
    println!("  (CrowdWiz Python client, for reference: about 28 ms for the same work)");
}
