//! A game server's first contact with the component: load it once, instantiate, and use
//! the pure codec to prepare a signed payout it could hand to any node.
//!
//! Run: `cargo run -p embed-codec`

use anyhow::Result;
use cwd_gateway_host::{Runtime, RuntimeConfig};
use serde_json::json;

fn main() -> Result<()> {
    // Compiled once (and cached on disk); instances are cheap.
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut instance = runtime.instantiate()?;
    let mut codec = instance.codec();

    // Demo keys from the public reference vectors: never use them for real funds.
    let gateway_wif = "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB";
    let player_memo_key = "CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP";
    let gateway_key = codec.public_key_of(gateway_wif)?;
    println!("gateway public key: {gateway_key}");

    // No nonce given: the component draws one from wasi:random (a reused one leaks).
    let memo = codec.memo_encrypt(gateway_wif, player_memo_key, None, "withdrawal #42")?;
    let tx = json!({
        "ref_block_num": 1234, "ref_block_prefix": 3735928559u32, "expiration": "2026-11-22T12:00:00",
        "operations": [[0, {
            "fee": {"amount": 2000, "asset_id": "1.3.0"},
            "from": "1.2.100", "to": "1.2.200",
            "amount": {"amount": 1_250_000, "asset_id": "1.3.0"},
            "memo": {"from": gateway_key, "to": player_memo_key, "nonce": memo.nonce.to_string(), "message": memo.message_hex},
            "extensions": []
        }]],
        "extensions": []
    });
    let chain_id = codec.main_chain_id()?;
    let info = codec.transaction_info(&tx.to_string(), &chain_id)?;
    let signed = codec.sign_transaction(&tx.to_string(), gateway_wif, &chain_id)?;
    println!("transaction id: {}", info.id);
    println!("signed, ready for broadcast_transaction:\n{signed}");

    // Bad input is a typed error, not a trap: the instance stays usable.
    match codec.public_key_of("not-a-key") {
        Err(e) => println!("rejected as expected: {e}"),
        Ok(_) => unreachable!(),
    }
    Ok(())
}
