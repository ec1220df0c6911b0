//! Proof of work in front of `start-link`, the call that costs the operator a chain fee.
//!
//! `link-challenge` hands out a challenge that is self-authenticating: its expiry and 16
//! random bytes, MACed with a key derived from the memo key (never stored). Issuing one
//! writes nothing. The client finds a `nonce` such that
//! `SHA-256(challenge ‖ ":" ‖ decimal(nonce))` (ASCII) starts with `pow-bits` zero bits
//! and passes both to `start-link`, which checks the MAC, the expiry and the work, then
//! spends the challenge in one conditional commit (`pow/<challenge>`, absent before):
//! a challenge works once, and only until it expires.

use sha2::{Digest, Sha256};

use crate::gateway::Gateway;
use crate::gateway_error::{GatewayError, GwResult, ProofProblem};
use crate::linking::{constant_time_eq, derived_key};
use crate::records::{self, transact, Step};

/// How long a challenge may be used.
pub const CHALLENGE_TTL_MS: u64 = 300_000;
/// The largest difficulty a configuration may ask for.
pub const MAX_BITS: u8 = 32;

/// `link-challenge` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// 80 lowercase hex digits.
    pub challenge: String,
    pub difficulty_bits: u8,
    pub expires_at_ms: u64,
}

/// A solved challenge, as `start-link` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub challenge: String,
    pub nonce: u64,
}

/// The hash the work is measured on.
pub fn work_hash(challenge: &str, nonce: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(b":");
    h.update(nonce.to_string().as_bytes());
    h.finalize().into()
}

pub fn leading_zero_bits(d: &[u8]) -> u32 {
    let mut n = 0;
    for b in d {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Finds the smallest nonce that meets `bits` (what a client does; about 2^bits hashes).
pub fn solve(challenge: &str, bits: u8) -> u64 {
    (0u64..)
        .find(|n| leading_zero_bits(&work_hash(challenge, *n)) >= bits as u32)
        .expect("a nonce exists")
}

fn mac(key: &[u8; 32], body: &[u8]) -> [u8; 16] {
    use hmac::Mac;
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(body);
    m.finalize().into_bytes()[..16].try_into().unwrap()
}

/// `expires (8, BE) ‖ random (16) ‖ mac (16)`, hex.
fn issue(key: &[u8; 32], expires_at_ms: u64, random: [u8; 16]) -> String {
    let mut body = expires_at_ms.to_be_bytes().to_vec();
    body.extend_from_slice(&random);
    let m = mac(key, &body);
    body.extend_from_slice(&m);
    hex::encode(body)
}

/// Checks a proof without spending it; the challenge's expiry on success.
pub fn check(key: &[u8; 32], proof: &Proof, bits: u8, now: u64) -> Result<u64, ProofProblem> {
    let raw = (proof.challenge.len() == 80
        && proof
            .challenge
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| hex::decode(&proof.challenge).ok())
    .flatten()
    .ok_or(ProofProblem::Malformed)?;
    let (body, m) = raw.split_at(24);
    if !constant_time_eq(&mac(key, body), m) {
        return Err(ProofProblem::Malformed);
    }
    let expires = u64::from_be_bytes(body[..8].try_into().unwrap());
    if now >= expires {
        return Err(ProofProblem::Expired);
    }
    if leading_zero_bits(&work_hash(&proof.challenge, proof.nonce)) < bits as u32 {
        return Err(ProofProblem::InsufficientWork);
    }
    Ok(expires)
}

pub fn pow_key_of(memo_key: &crate::keys::PrivateKey) -> zeroize::Zeroizing<[u8; 32]> {
    derived_key(memo_key, b"crowdwiz-gateway/pow-key/v1")
}

fn spent_key(challenge: &str) -> String {
    format!("pow/{challenge}")
}

impl Gateway {
    /// A fresh challenge for `start-link` (writes nothing).
    pub fn link_challenge(&mut self) -> GwResult<Challenge> {
        self.refresh_settings()?;
        let (key, bits) = {
            let a = self.active()?;
            (a.pow_key.clone(), a.config.link.pow_bits)
        };
        let expires_at_ms = self.now().saturating_add(CHALLENGE_TTL_MS);
        let random: [u8; 16] = self.random_bytes();
        Ok(Challenge {
            challenge: issue(&key, expires_at_ms, random),
            difficulty_bits: bits,
            expires_at_ms,
        })
    }

    /// Checks and spends a proof when the configuration asks for one.
    pub(crate) fn spend_proof(&mut self, proof: Option<&Proof>) -> GwResult<()> {
        let (key, bits) = {
            let a = self.active()?;
            (a.pow_key.clone(), a.config.link.pow_bits)
        };
        if bits == 0 {
            return Ok(());
        }
        let proof = proof.ok_or(GatewayError::ProofRequired {
            difficulty_bits: bits,
        })?;
        let now = self.now();
        let expires = check(&key, proof, bits, now).map_err(GatewayError::BadProof)?;
        let k = spent_key(&proof.challenge);
        transact(&mut self.ports, |t| {
            if t.get::<u64>(&k)?.is_some() {
                return Err(GatewayError::BadProof(ProofProblem::Used));
            }
            t.put(&k, &expires);
            Ok(Step::Commit(()))
        })
    }

    /// Forgets spent challenges once expired (they can no longer be replayed anyway).
    pub(crate) fn expire_proofs(&mut self) -> GwResult<()> {
        let now = self.now();
        for e in records::scan_all(self.ports.store.as_mut(), "pow/", None, 1000)? {
            let expires: u64 = records::decode(&e.key, &e.value)?;
            if now < expires {
                continue;
            }
            transact(&mut self.ports, |t| {
                if t.get::<u64>(&e.key)?.is_some() {
                    t.delete(&e.key);
                }
                Ok(Step::Commit(()))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_check_mac_expiry_and_work() {
        let key = [3u8; 32];
        let c = issue(&key, 1_000, [9u8; 16]);
        let n = solve(&c, 8);
        assert_eq!(
            check(
                &key,
                &Proof {
                    challenge: c.clone(),
                    nonce: n
                },
                8,
                999
            ),
            Ok(1_000)
        );
        assert_eq!(
            check(
                &key,
                &Proof {
                    challenge: c.clone(),
                    nonce: n
                },
                8,
                1_000
            ),
            Err(ProofProblem::Expired)
        );
        assert_eq!(
            check(
                &[4u8; 32],
                &Proof {
                    challenge: c.clone(),
                    nonce: n
                },
                8,
                999
            ),
            Err(ProofProblem::Malformed)
        );
        // A forged expiry breaks the MAC.
        let forged = format!("{}{}", "ff", &c[2..]);
        assert_eq!(
            check(
                &key,
                &Proof {
                    challenge: forged,
                    nonce: n
                },
                8,
                999
            ),
            Err(ProofProblem::Malformed)
        );
        let weak = (0u64..)
            .find(|x| leading_zero_bits(&work_hash(&c, *x)) < 8)
            .unwrap();
        assert_eq!(
            check(
                &key,
                &Proof {
                    challenge: c.clone(),
                    nonce: weak
                },
                8,
                999
            ),
            Err(ProofProblem::InsufficientWork)
        );
        assert_eq!(
            check(
                &key,
                &Proof {
                    challenge: c.to_uppercase(),
                    nonce: n
                },
                8,
                999
            ),
            Err(ProofProblem::Malformed)
        );
        assert_eq!(leading_zero_bits(&[0, 0x10, 0xff]), 11);
    }
}
