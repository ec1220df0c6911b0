//! Compact recoverable signatures in the form Graphene nodes accept.
//!
//! A node accepts a signature only if it is *canonical* (see [`is_canonical`]); about one
//! signature in four is not, whatever its S. Like the chain's own clients we retry with new
//! nonce data until one is. The nonce is RFC 6979 with a counter as extra data, so the same
//! key and digest always give the same signature: the guest stays deterministic.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::elliptic_curve::ops::{Invert, MulByGenerator, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::subtle::ConditionallySelectable;
use k256::elliptic_curve::{Curve, FieldBytesEncoding, PrimeField};
use k256::{FieldBytes, ProjectivePoint, Scalar, Secp256k1, U256};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{CodecError, Result, SignatureProblem};
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

/// Signs a 32-byte digest, retrying with new nonce data until the signature is canonical.
///
/// ECDSA as `k256` does it (`ecdsa::hazmat::sign_prehashed`, low-S normalized, the same
/// recovery id), in an order that suits the retry: a try fails on `r` alone about half
/// the time, and `r` comes from 𝑘×𝑮 only, so the inversion of 𝑘 and 𝒔 are computed
/// only for an `r` that passes. Same bytes, one scalar inversion fewer per failed try.
pub fn sign_digest(key: &PrivateKey, digest: &[u8; 32]) -> CompactSignature {
    let d = key.secret().to_nonzero_scalar();
    let d_repr = Zeroizing::new(d.to_repr());
    let order = <U256 as FieldBytesEncoding<Secp256k1>>::encode_field_bytes(&Secp256k1::ORDER);
    let z_bytes = FieldBytes::from(*digest);
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&z_bytes);
    for counter in 0u64.. {
        // Counter 0 is plain RFC 6979; later tries add the counter as extra data.
        let extra = if counter == 0 { Vec::new() } else { counter.to_le_bytes().to_vec() };
        let k = Zeroizing::new(Scalar::from_repr(rfc6979::generate_k::<Sha256, _>(&d_repr, &order, &z_bytes, &extra)).unwrap());
        if bool::from(k.is_zero()) {
            continue;
        }
        let big_r = ProjectivePoint::mul_by_generator(&*k).to_affine();
        let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
        let mut out = [0u8; 65];
        out[1..33].copy_from_slice(&r.to_bytes());
        if out[1] & 0x80 != 0 || (out[1] == 0 && out[2] & 0x80 == 0) {
            continue; // not canonical whatever s is
        }
        let Some(k_inv) = invert_blinded(&k, &d_repr) else { continue };
        let s = k_inv * (z + r * *d);
        if bool::from(r.is_zero() | s.is_zero()) {
            continue;
        }
        let high = s.is_high();
        let s = Scalar::conditional_select(&s, &-s, high);
        let recid = RecoveryId::new(bool::from(big_r.y_is_odd()) ^ bool::from(high), r.to_repr() != big_r.x());
        out[0] = 27 + 4 + recid.to_byte();
        out[33..].copy_from_slice(&s.to_bytes());
        if is_canonical(&out) {
            return out;
        }
    }
    unreachable!("the counter space is never exhausted")
}

/// 𝑘⁻¹ as 𝑏·(𝑘𝑏)⁻¹: the constant-time inversion (an addition chain of about 290
/// multiplications, a fifth of a signature inside the component) replaced by a
/// variable-time one that only ever sees 𝑘𝑏. The blinding 𝑏 is derived from the private
/// key and 𝑘, so it is as secret as they are and signing stays deterministic; 𝑘𝑏 then
/// tells nothing of 𝑘. The value is exactly 𝑘⁻¹, so no signature byte changes.
fn invert_blinded(k: &Scalar, d_repr: &FieldBytes) -> Option<Scalar> {
    let b_bytes = Zeroizing::new(Sha256::new().chain_update(b"cwd-codec nonce blinding\0").chain_update(d_repr).chain_update(k.to_bytes()).finalize());
    let b = Zeroizing::new(<Scalar as Reduce<U256>>::reduce_bytes(&b_bytes));
    if bool::from(b.is_zero()) {
        return k.invert().into();
    }
    let kb = Zeroizing::new(*k * *b);
    let inv = Zeroizing::new(Option::<Scalar>::from(kb.invert_vartime())?);
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

    /// The reordered signing gives the bytes `k256`'s own signing gives.
    #[test]
    fn blinded_inversion_is_the_inversion() {
        let d = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let d_repr = d.secret().to_nonzero_scalar().to_repr();
        for i in 1u64..200 {
            let k = Scalar::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * Scalar::from(i + 7);
            assert_eq!(invert_blinded(&k, &d_repr), Option::<Scalar>::from(k.invert()), "k #{i}");
        }
        assert_eq!(invert_blinded(&Scalar::ZERO, &d_repr), None);
    }

    #[test]
    fn same_bytes_as_k256_signing() {
        use k256::ecdsa::hazmat::SignPrimitive;
        for seed in 1u8..=40 {
            let key = PrivateKey::from_bytes(&[seed; 32]).unwrap();
            let digest = [seed.wrapping_mul(37); 32];
            let scalar = key.secret().to_nonzero_scalar();
            let expected = (0u64..)
                .find_map(|counter| {
                    let extra = if counter == 0 { Vec::new() } else { counter.to_le_bytes().to_vec() };
                    let (sig, recid) = scalar.try_sign_prehashed_rfc6979::<Sha256>(&FieldBytes::from(digest), &extra).ok()?;
                    let mut out = [0u8; 65];
                    out[0] = 27 + 4 + recid?.to_byte();
                    out[1..].copy_from_slice(&sig.to_bytes());
                    is_canonical(&out).then_some(out)
                })
                .unwrap();
            assert_eq!(sign_digest(&key, &digest), expected, "seed {seed}");
        }
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
