//! Compact recoverable signatures in the form Graphene nodes accept.
//!
//! A node accepts a signature only if it is *canonical* (see [`is_canonical`]): about
//! one try in two is not, because of `r` alone. The chain's clients retry with new nonce
//! data, each try a fresh multiplication 𝑘×𝑮. Here the first nonce is derived from key
//! and digest as Ed25519 derives its nonces (one SHA-512, see [`first_nonce`]) and a
//! failed try moves to 𝑘+1, whose point is 𝑹+𝑮: one point addition instead of a
//! multiplication. The same key and digest always give the same signature (the guest
//! stays deterministic), and every published signature still uses a nonce no one can
//! predict without the key, never used for another digest.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::subtle::ConditionallySelectable;
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::bigint::U512;
use k256::{FieldBytes, FieldElement, Scalar, U256};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::error::{CodecError, Result, SignatureProblem};
use crate::{generator, inverse};
use crate::keys::{PrivateKey, PublicKey};

/// 65 bytes: header (27 + 4 + recovery id) ‖ r ‖ s.
pub type CompactSignature = [u8; 65];

/// The Graphene rule (`fc::ecc::public_key::is_canonical`) over the 65 bytes.
pub fn is_canonical(c: &CompactSignature) -> bool {
    c[1] & 0x80 == 0
        && !(c[1] == 0 && c[2] & 0x80 == 0)
        && c[33] & 0x80 == 0
        && !(c[33] == 0 && c[34] & 0x80 == 0)
}

/// The first nonce: SHA-512 of a domain tag, the key and the digest (one 128-byte
/// block), read as a 512-bit integer and reduced modulo 𝑛, so its bias is below 2⁻²⁵⁶.
/// This is Ed25519's construction (a secret prefix hashed with the message). RFC 6979's
/// HMAC-DRBG over SHA-256 gives nonces just as good for 22 SHA-256 blocks, which wasm
/// computes without the hardware help native code has: 7 % of a transfer in the
/// component. The nonce is the signer's choice; nodes and verifiers cannot tell.
fn first_nonce(d_repr: &FieldBytes, z_bytes: &FieldBytes) -> Zeroizing<Scalar> {
    let wide = Zeroizing::new(Sha512::new().chain_update(b"cwd-codec signing nonce\0").chain_update(d_repr).chain_update(z_bytes).finalize());
    Zeroizing::new(<Scalar as Reduce<U512>>::reduce_bytes(&wide))
}

/// Signs a 32-byte digest canonically: ECDSA as `k256` does it
/// (`ecdsa::hazmat::sign_prehashed`, low-S normalized, the same recovery id) with the
/// nonce [`first_nonce`] gives, or the next one after it that makes a canonical signature.
/// `r` comes from 𝑹 alone, so the inversion of 𝑘 and 𝒔 are computed only for an `r`
/// that passes.
pub fn sign_digest(key: &PrivateKey, digest: &[u8; 32]) -> CompactSignature {
    let d = key.secret().to_nonzero_scalar();
    let d_repr = Zeroizing::new(d.to_repr());
    let z_bytes = FieldBytes::from(*digest);
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&z_bytes);
    let mut k = first_nonce(&d_repr, &z_bytes);
    let mut big_r = generator::mul_generator(&k);
    for _ in 0u64.. {
        if let Some(signature) = try_nonce(&k, &big_r, &d, &d_repr, &z) {
            return signature;
        }
        *k += Scalar::ONE;
        big_r = big_r.add_generator();
    }
    unreachable!("the nonce space is never exhausted")
}

/// The canonical signature with nonce 𝑘 (𝑹 = 𝑘×𝑮), if it is one.
fn try_nonce(k: &Scalar, big_r: &generator::Point, d: &Scalar, d_repr: &FieldBytes, z: &Scalar) -> Option<CompactSignature> {
    if bool::from(k.is_zero()) {
        return None;
    }
    let blinding = Blinding::new(d_repr, k);
    let (x, y) = big_r.to_affine_blinded(&blinding.field)?;
    let x_bytes = x.to_bytes();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&x_bytes);
    let mut out = [0u8; 65];
    out[1..33].copy_from_slice(&r.to_bytes());
    if out[1] & 0x80 != 0 || (out[1] == 0 && out[2] & 0x80 == 0) {
        return None; // not canonical whatever s is
    }
    let k_inv = invert_blinded(k, &blinding.scalar)?;
    let s = k_inv * (*z + r * *d);
    if bool::from(r.is_zero() | s.is_zero()) {
        return None;
    }
    let high = s.is_high();
    let s = Scalar::conditional_select(&s, &-s, high);
    let recid = RecoveryId::new(bool::from(y.is_odd()) ^ bool::from(high), r.to_repr() != x_bytes);
    out[0] = 27 + 4 + recid.to_byte();
    out[33..].copy_from_slice(&s.to_bytes());
    is_canonical(&out).then_some(out)
}

/// Secret factors that hide 𝑘 and 𝑹's 𝑍 from the variable-time inversions
/// ([`crate::inverse`]): derived from the private key and 𝑘 (so as secret as they are,
/// and signing stays deterministic), non-zero, and multiplied back out, so no signature
/// byte depends on them.
struct Blinding {
    scalar: Zeroizing<Scalar>,
    field: Zeroizing<FieldElement>,
}

impl Blinding {
    fn new(d_repr: &FieldBytes, k: &Scalar) -> Self {
        let bytes = Zeroizing::new(Sha512::new().chain_update(b"cwd-codec signing blinding\0").chain_update(d_repr).chain_update(k.to_bytes()).finalize());
        let scalar = <Scalar as Reduce<U256>>::reduce_bytes(FieldBytes::from_slice(&bytes[..32]));
        let field = Option::<FieldElement>::from(FieldElement::from_bytes(FieldBytes::from_slice(&bytes[32..]))).unwrap_or(FieldElement::ONE);
        Blinding {
            scalar: Zeroizing::new(if bool::from(scalar.is_zero()) { Scalar::ONE } else { scalar }),
            field: Zeroizing::new(if bool::from(field.normalizes_to_zero()) { FieldElement::ONE } else { field }),
        }
    }
}

/// 𝑘⁻¹ as 𝑏·(𝑘𝑏)⁻¹: a constant-time inversion (an addition chain of about 290
/// multiplications) replaced by a variable-time one ([`crate::inverse`]) that only ever
/// sees 𝑘𝑏, which tells nothing of 𝑘. The value is exactly 𝑘⁻¹.
fn invert_blinded(k: &Scalar, b: &Scalar) -> Option<Scalar> {
    let inv = Zeroizing::new(inverse::invert_scalar_vartime(&Zeroizing::new(*k * *b))?);
    Some(*inv * *b)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_canonically_deterministically_and_recovers() {
        let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
        for i in 0u8..64 {
            let digest = [i; 32];
            let sig = sign_digest(&key, &digest);
            assert!(is_canonical(&sig));
            assert_eq!(sig, sign_digest(&key, &digest));
            assert_eq!(recover(&digest, &sig).unwrap(), key.public_key());
            let mut other = digest;
            other[0] ^= 1;
            assert_ne!(recover(&other, &sig).ok(), Some(key.public_key()));
        }
    }

    #[test]
    fn blinded_inversion_is_the_inversion() {
        let d = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let d_repr = d.secret().to_nonzero_scalar().to_repr();
        for i in 1u64..200 {
            let k = Scalar::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * Scalar::from(i + 7);
            let blinding = Blinding::new(&d_repr, &k);
            assert_eq!(invert_blinded(&k, &blinding.scalar), Option::<Scalar>::from(k.invert()), "k #{i}");
        }
        assert_eq!(invert_blinded(&Scalar::ZERO, &Scalar::ONE), None);
    }

    /// The bytes `k256`'s own ECDSA gives with our first nonce or the first one after
    /// it that makes a canonical signature; retries do happen in this range.
    #[test]
    fn same_bytes_as_k256_signing_with_the_same_nonce() {
        use k256::ecdsa::hazmat::SignPrimitive;
        let mut retried = 0;
        for seed in 1u8..=60 {
            let key = PrivateKey::from_bytes(&[seed; 32]).unwrap();
            let digest = [seed.wrapping_mul(37); 32];
            let scalar = key.secret().to_nonzero_scalar();
            let z = FieldBytes::from(digest);
            let k0 = *first_nonce(&scalar.to_repr(), &z);
            let (tries, expected) = (0u64..)
                .find_map(|j| {
                    let (sig, recid) = scalar.try_sign_prehashed(k0 + Scalar::from(j), &z).ok()?;
                    let mut out = [0u8; 65];
                    out[0] = 27 + 4 + recid?.to_byte();
                    out[1..].copy_from_slice(&sig.to_bytes());
                    is_canonical(&out).then_some((j, out))
                })
                .unwrap();
            retried += (tries > 0) as u32;
            assert_eq!(sign_digest(&key, &digest), expected, "seed {seed}");
        }
        assert!(retried > 10, "the retry path ran {retried} times");
    }

    #[test]
    fn rejects_bad_headers_and_non_canonical() {
        let key = PrivateKey::from_bytes(&[0x22; 32]).unwrap();
        let digest = [9u8; 32];
        let mut sig = sign_digest(&key, &digest);
        sig[0] = 26;
        assert_eq!(recover(&digest, &sig), Err(CodecError::Signature { problem: SignatureProblem::Malformed }));
        let mut sig = sign_digest(&key, &digest);
        sig[1] |= 0x80;
        assert_eq!(recover(&digest, &sig), Err(CodecError::Signature { problem: SignatureProblem::NotCanonical }));
    }
}
