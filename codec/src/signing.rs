//! Compact recoverable signatures in the form Graphene nodes accept.
//!
//! Every step on the secret key is `k256`'s (RustCrypto, audited): RFC 6979 nonces,
//! 𝑘×𝑮, the inversion of 𝑘 and the scalar arithmetic (`ecdsa::hazmat::sign_prehashed`).
//! k256's field and scalar code is constant time by construction (`subtle` choices, no
//! secret-dependent branches or table indexes); `subtle`'s barrier is its default volatile
//! read, not `core::hint::black_box`, which the compiler may see through.
//!
//! A node accepts a signature only if it is *canonical* ([`is_canonical`]): about one try
//! in two is not. Each try draws a new, independent RFC 6979 nonce: the first is RFC
//! 6979's own (no additional data, the signature `k256`'s `SigningKey` gives), and try
//! 𝑗 ≥ 1 passes 𝑗 as RFC 6979's additional data (§3.6), as Graphene's clients pass a
//! counter to libsecp256k1. No two tries share a nonce or relate theirs by a known
//! amount, so no two signatures ever published over one digest give the key away.
//!
//! Deterministic, not hedged with random bytes: the same key and digest always give the
//! same signature, so the gateway stays a deterministic core (its simulator replays
//! runs by seed). Hedging guards against faults in the signing computation; here every
//! signature is checked before it leaves ([`sign_digest`]), which catches them.

use k256::ecdsa::hazmat::SignPrimitive;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::{FieldBytes, Scalar};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{CodecError, Result, SignatureProblem};
use crate::keys::{PrivateKey, PublicKey};

/// 65 bytes: header (27 + 4 + recovery id) ‖ r ‖ s.
pub type CompactSignature = [u8; 65];

/// Tries before giving up on a canonical signature: each passes with probability about
/// ½, so running out is a fault, never chance (2⁻²⁵⁶).
const MAX_TRIES: u32 = 256;

/// The Graphene rule (`fc::ecc::public_key::is_canonical`) over the 65 bytes.
pub fn is_canonical(c: &CompactSignature) -> bool {
    c[1] & 0x80 == 0
        && !(c[1] == 0 && c[2] & 0x80 == 0)
        && c[33] & 0x80 == 0
        && !(c[33] == 0 && c[34] & 0x80 == 0)
}

/// RFC 6979's additional data for try `attempt`: none for the first, then the counter.
fn additional_data(attempt: u32) -> ([u8; 4], usize) {
    (attempt.to_be_bytes(), if attempt == 0 { 0 } else { 4 })
}

/// Signs a 32-byte digest canonically (low S, Graphene's header byte), then checks the
/// signature before giving it out: it must be canonical and recover to `key`'s public
/// key. A signature that fails (a fault in the computation, which with deterministic
/// nonces could give the key away together with the correct one) is never returned:
/// [`SignatureProblem::SelfCheckFailed`].
pub fn sign_digest(key: &PrivateKey, digest: &[u8; 32]) -> Result<CompactSignature> {
    let d = Zeroizing::new(*key.secret().to_nonzero_scalar());
    let z = FieldBytes::from(*digest);
    let signature = (0..MAX_TRIES)
        .filter_map(|attempt| sign_try(&d, &z, attempt))
        .find(is_canonical)
        .ok_or(CodecError::Signature { problem: SignatureProblem::SelfCheckFailed })?;
    #[cfg(feature = "fault-injection")]
    let signature = faults::apply(signature);
    match recover(digest, &signature) {
        Ok(signer) if signer == key.public_key() => Ok(signature),
        _ => Err(CodecError::Signature { problem: SignatureProblem::SelfCheckFailed }),
    }
}

/// The signature of try `attempt` (canonical or not), with its own RFC 6979 nonce.
fn sign_try(d: &Scalar, z: &FieldBytes, attempt: u32) -> Option<CompactSignature> {
    let (data, len) = additional_data(attempt);
    let (signature, recid) = d.try_sign_prehashed_rfc6979::<Sha256>(z, &data[..len]).ok()?;
    let recid: RecoveryId = recid?;
    let mut out = [0u8; 65];
    out[0] = 27 + 4 + recid.to_byte();
    out[1..].copy_from_slice(&signature.to_bytes());
    Some(out)
}

/// Recovers the public key that made `sig` over `digest`. Refuses non-canonical
/// signatures, as a node does.
pub fn recover(digest: &[u8; 32], sig: &CompactSignature) -> Result<PublicKey> {
    let malformed = CodecError::Signature { problem: SignatureProblem::Malformed };
    let header = sig[0];
    if !(27..=34).contains(&header) {
        return Err(malformed);
    }
    if !is_canonical(sig) {
        return Err(CodecError::Signature { problem: SignatureProblem::NotCanonical });
    }
    let recid = RecoveryId::from_byte((header - 27) & 3).ok_or(malformed.clone())?;
    let signature = Signature::from_slice(&sig[1..]).map_err(|_| malformed)?;
    let key = VerifyingKey::recover_from_prehash(digest, &signature, recid)
        .map_err(|_| CodecError::Signature { problem: SignatureProblem::Unrecoverable })?;
    Ok(PublicKey::from_inner(key.into()))
}

/// Faults on purpose, for tests that show a bad signature never leaves (feature
/// `fault-injection`, which no shipped build enables).
#[cfg(feature = "fault-injection")]
pub mod faults {
    use super::CompactSignature;
    use std::cell::Cell;

    thread_local! {
        static CORRUPT: Cell<u32> = const { Cell::new(0) };
    }

    /// The next `n` signatures made on this thread get one bit of `s` flipped after
    /// signing and before the self-check (they stay canonical, and recover to another key).
    pub fn corrupt_next_signatures(n: u32) {
        CORRUPT.with(|c| c.set(n));
    }

    pub(super) fn apply(mut sig: CompactSignature) -> CompactSignature {
        if CORRUPT.with(|c| c.replace(c.get().saturating_sub(1))) > 0 {
            sig[64] ^= 1;
        }
        sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;
    use k256::elliptic_curve::ops::Reduce;
    use k256::U256;

    #[test]
    fn signs_canonically_deterministically_and_recovers() {
        let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
        for i in 0u8..64 {
            let digest = [i; 32];
            let sig = sign_digest(&key, &digest).unwrap();
            assert!(is_canonical(&sig));
            assert_eq!(sig, sign_digest(&key, &digest).unwrap());
            assert_eq!(recover(&digest, &sig).unwrap(), key.public_key());
            let mut other = digest;
            other[0] ^= 1;
            assert_ne!(recover(&other, &sig).ok(), Some(key.public_key()));
        }
    }

    /// The first try is exactly k256's deterministic ECDSA (RFC 6979, no additional
    /// data); when it is not canonical, a later try is taken; retries do happen here.
    #[test]
    fn the_first_try_is_k256s_own_signature() {
        let mut retried = 0;
        for seed in 1u8..=60 {
            let key = PrivateKey::from_bytes(&[seed; 32]).unwrap();
            let digest = [seed.wrapping_mul(37); 32];
            let (sig, recid) = SigningKey::from(key.secret()).sign_prehash_recoverable(&digest).unwrap();
            let mut first = [0u8; 65];
            first[0] = 27 + 4 + recid.to_byte();
            first[1..].copy_from_slice(&sig.to_bytes());
            let ours = sign_digest(&key, &digest).unwrap();
            if is_canonical(&first) {
                assert_eq!(ours, first, "seed {seed}");
            } else {
                retried += 1;
                assert_ne!(ours, first);
                assert_eq!(recover(&digest, &ours).unwrap(), key.public_key());
            }
        }
        assert!(retried > 10, "the retry path ran {retried} times");
    }

    /// The nonce behind a signature, with the key: 𝑘 = 𝒔⁻¹(𝑧 + 𝑟𝑑), up to the sign
    /// low-S normalization may have flipped.
    fn nonce_of(key: &PrivateKey, digest: &[u8; 32], sig: &CompactSignature) -> Scalar {
        let d = *key.secret().to_nonzero_scalar();
        let z = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*digest));
        let r = <Scalar as Reduce<U256>>::reduce_bytes(FieldBytes::from_slice(&sig[1..33]));
        let s = <Scalar as Reduce<U256>>::reduce_bytes(FieldBytes::from_slice(&sig[33..65]));
        s.invert().unwrap() * (z + r * d)
    }

    /// Tries over one digest use nonces with no known relation: no two are equal, equal
    /// up to sign, a small distance apart (the old 𝑘+1 retry), or small multiples.
    #[test]
    fn retries_of_one_digest_use_unrelated_nonces() {
        let key = PrivateKey::from_bytes(&[0x5a; 32]).unwrap();
        let d = Zeroizing::new(*key.secret().to_nonzero_scalar());
        for n in 0u8..8 {
            let digest = [n ^ 0xc3; 32];
            let z = FieldBytes::from(digest);
            let nonces: Vec<Scalar> = (0..12).map(|j| nonce_of(&key, &digest, &sign_try(&d, &z, j).unwrap())).collect();
            for (i, a) in nonces.iter().enumerate() {
                for b in &nonces[i + 1..] {
                    for sign in [Scalar::ONE, -Scalar::ONE] {
                        let b = *b * sign;
                        for c in 0u64..1024 {
                            let c = Scalar::from(c);
                            assert!(*a != b + c && b != *a + c, "nonces a small distance apart");
                        }
                        for m in 2u64..64 {
                            assert!(*a != b * Scalar::from(m) && b != *a * Scalar::from(m), "nonces small multiples");
                        }
                    }
                }
            }
        }
    }

    /// Each try's nonce is RFC 6979's with the try's additional data (and the key and
    /// digest), computed here by the `rfc6979` crate directly.
    #[test]
    fn each_try_is_rfc6979_with_its_counter() {
        use k256::elliptic_curve::{Curve, FieldBytesEncoding, PrimeField};
        let key = PrivateKey::from_bytes(&[0x77; 32]).unwrap();
        let d = Zeroizing::new(*key.secret().to_nonzero_scalar());
        let digest = [0x42u8; 32];
        let z = FieldBytes::from(digest);
        for j in 0..6 {
            let (data, len) = additional_data(j);
            let k = rfc6979::generate_k::<Sha256, _>(&d.to_repr(), &k256::Secp256k1::ORDER.encode_field_bytes(), &z, &data[..len]);
            let k = Scalar::from_repr(k).unwrap();
            let found = nonce_of(&key, &digest, &sign_try(&d, &z, j).unwrap());
            assert!(found == k || found == -k, "try {j}");
        }
    }

    #[test]
    fn rejects_bad_headers_and_non_canonical() {
        let key = PrivateKey::from_bytes(&[0x22; 32]).unwrap();
        let digest = [9u8; 32];
        let mut sig = sign_digest(&key, &digest).unwrap();
        sig[0] = 26;
        assert_eq!(recover(&digest, &sig), Err(CodecError::Signature { problem: SignatureProblem::Malformed }));
        let mut sig = sign_digest(&key, &digest).unwrap();
        sig[1] |= 0x80;
        assert_eq!(recover(&digest, &sig), Err(CodecError::Signature { problem: SignatureProblem::NotCanonical }));
    }

    #[cfg(feature = "fault-injection")]
    #[test]
    fn a_corrupted_signature_never_leaves() {
        let key = PrivateKey::from_bytes(&[0x33; 32]).unwrap();
        faults::corrupt_next_signatures(1);
        assert_eq!(sign_digest(&key, &[1; 32]), Err(CodecError::Signature { problem: SignatureProblem::SelfCheckFailed }));
        assert_eq!(recover(&[1; 32], &sign_digest(&key, &[1; 32]).unwrap()).unwrap(), key.public_key());
    }
}
