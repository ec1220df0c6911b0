//! Proof-of-work solve times natively: the hash rate of `pow::work_hash` on this
//! machine, and the mean time to solve challenges at several difficulties (the number
//! of tries is geometric with mean 2^bits, so the mean over many challenges is shown).
//!
//! Run: `cargo bench -p cwd-gateway-guest --bench pow` (optional: challenges per
//! difficulty as argument, default 20).

use std::time::Instant;

use cwd_gateway_guest::pow::{leading_zero_bits, work_hash};

fn main() {
    let per: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    // Hash rate.
    let n = 2_000_000u64;
    let start = Instant::now();
    let mut acc = 0u32;
    for i in 0..n {
        acc = acc.wrapping_add(leading_zero_bits(&work_hash("00000190d2a3c4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5", i)));
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("work_hash: {:.2} M hashes/s (checksum {acc})", rate / 1e6);
    for bits in [12u8, 16, 18, 20] {
        let start = Instant::now();
        let mut tries = 0u64;
        for c in 0..per {
            let challenge = format!("{:080x}", c as u128 * 0x9e37_79b9_7f4a_7c15 + bits as u128);
            let nonce = (0u64..).find(|x| leading_zero_bits(&work_hash(&challenge, *x)) >= bits as u32).unwrap();
            tries += nonce + 1;
        }
        let mean = start.elapsed().as_secs_f64() / per as f64;
        println!(
            "{bits:2} bits: mean {:8.1} ms per solve over {per} challenges ({:.0} tries each; expected 2^{bits} = {})",
            mean * 1e3,
            tries as f64 / per as f64,
            1u64 << bits
        );
    }
}
