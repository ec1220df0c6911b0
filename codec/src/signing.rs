//! Compact recoverable signatures in the form Graphene nodes accept.
//!
//! A node accepts a signature only if it is *canonical* (see [`is_canonical`]); about one
//! signature in four is not, whatever its S. Like the chain's own clients we retry with new
//! nonce data until one is. The nonce is RFC 6979 with a counter as extra data, so the same
//! key and digest always give the same signature: the guest stays deterministic.

use k256::ecdsa::hazmat::SignPrimitive;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha2::Sha256;

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
pub fn sign_digest(key: &PrivateKey, digest: &[u8; 32]) -> CompactSignature {
    let scalar = key.secret().to_nonzero_scalar();
    for counter in 0u64.. {
        // Counter 0 is plain RFC 6979; later tries add the counter as extra data.
        let extra = if counter == 0 { Vec::new() } else { counter.to_le_bytes().to_vec() };
        let Ok((sig, Some(recid))) =
            scalar.try_sign_prehashed_rfc6979::<Sha256>(digest.into(), &extra)
        else {
            continue;
        };
        let mut out = [0u8; 65];
        out[0] = 27 + 4 + recid.to_byte();
        out[1..].copy_from_slice(&sig.to_bytes());
        if is_canonical(&out) {
            return out;
        }
    }
    unreachable!("the counter space is never exhausted")
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
