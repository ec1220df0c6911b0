//! Encrypted memos, exactly as CrowdWiz (Graphene) wallets make them.
//!
//! shared = sha512(x of ECDH point); seed = sha512(decimal nonce ‖ hex(shared));
//! AES-256-CBC with key = seed[..32], iv = seed[32..48] over
//! sha256(message)[..4] ‖ message, PKCS#7 padded.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha2::{Digest, Sha256, Sha512};
use std::cell::RefCell;
use zeroize::Zeroizing;

use crate::cache::Bounded;

use crate::error::{CodecError, Result};
use crate::keys::{PrivateKey, PublicKey};

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// Longest memo text accepted, in UTF-8 bytes. A signed transfer carrying it stays
/// inside Graphene's default maximum transaction size (2048 bytes) with room to spare.
pub const MAX_MEMO_MESSAGE_BYTES: usize = 1800;

/// The shared secrets of one private key with the keys it writes to and reads from,
/// for a holder that keeps that private key anyway (the gateway keeps its memo key for
/// the life of the instance): an entry reads only the memos between that key and one
/// other, less than the private key beside it. The ECDH is the dearest step of a memo,
/// and a gateway meets the same players again and again. Bounded, oldest first out,
/// zeroized when evicted and when dropped. The codec's text face keeps none: nothing
/// of a key passed to it outlives the call.
pub struct SharedSecrets {
    owner: PublicKey,
    entries: RefCell<Bounded<[u8; 33], Zeroizing<[u8; 128]>>>,
}

/// How many counterparts' shared secrets a [`SharedSecrets`] keeps.
const SHARED_SECRETS: usize = 64;

impl SharedSecrets {
    pub fn new(owner: &PrivateKey) -> Self {
        SharedSecrets { owner: owner.public_key(), entries: RefCell::new(Bounded::new(SHARED_SECRETS)) }
    }
}

/// hex(sha512(x of the ECDH point)) of `mine` and `theirs`: the same on either side.
/// The ECDH is k256's (`ecdh::diffie_hellman`: a constant-time multiplication, its
/// shared secret zeroized on drop). Kept in `cache` only when it belongs to `mine`.
fn shared_hex(mine: &PrivateKey, theirs: &PublicKey, cache: Option<&SharedSecrets>) -> Zeroizing<[u8; 128]> {
    let cache = cache.filter(|c| c.owner == mine.public_key());
    let id = theirs.to_compressed();
    if let Some(found) = cache.and_then(|c| c.entries.borrow().get(&id).cloned()) {
        return found;
    }
    let text = compute_shared_hex(mine, theirs);
    if let Some(c) = cache {
        c.entries.borrow_mut().insert(id, text.clone());
    }
    text
}

fn compute_shared_hex(mine: &PrivateKey, theirs: &PublicKey) -> Zeroizing<[u8; 128]> {
    let secret = Zeroizing::new(mine.secret().to_nonzero_scalar());
    let point = k256::ecdh::diffie_hellman(*secret, theirs.inner().as_affine());
    let shared = Zeroizing::new(<[u8; 64]>::from(Sha512::digest(point.raw_secret_bytes())));
    let mut text = Zeroizing::new([0u8; 128]);
    hex::encode_to_slice(shared.as_slice(), text.as_mut_slice()).expect("128 hex digits for 64 bytes");
    text
}

/// The symmetric key and IV both sides derive: the same from (mine, theirs) on either side.
fn key_iv(mine: &PrivateKey, theirs: &PublicKey, nonce: u64, cache: Option<&SharedSecrets>) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 16]>) {
    let seed = Zeroizing::new(<[u8; 64]>::from(Sha512::new().chain_update(nonce.to_string()).chain_update(shared_hex(mine, theirs, cache).as_slice()).finalize()));
    let mut key = Zeroizing::new([0u8; 32]);
    let mut iv = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(&seed[..32]);
    iv.copy_from_slice(&seed[32..48]);
    (key, iv)
}

/// Encrypts `message` from `mine` to `theirs`.
pub fn encrypt(mine: &PrivateKey, theirs: &PublicKey, nonce: u64, message: &str) -> Result<Vec<u8>> {
    encrypt_bytes_with(None, mine, theirs, nonce, message.as_bytes())
}

/// [`encrypt`], keeping the shared secret in `cache` (see [`SharedSecrets`]).
pub fn encrypt_with(cache: &SharedSecrets, mine: &PrivateKey, theirs: &PublicKey, nonce: u64, message: &str) -> Result<Vec<u8>> {
    encrypt_bytes_with(Some(cache), mine, theirs, nonce, message.as_bytes())
}

/// Encrypts raw bytes. Wallets only show UTF-8 text; this exists for tools and tests.
pub fn encrypt_bytes(mine: &PrivateKey, theirs: &PublicKey, nonce: u64, message: &[u8]) -> Result<Vec<u8>> {
    encrypt_bytes_with(None, mine, theirs, nonce, message)
}

fn encrypt_bytes_with(cache: Option<&SharedSecrets>, mine: &PrivateKey, theirs: &PublicKey, nonce: u64, message: &[u8]) -> Result<Vec<u8>> {
    if message.len() > MAX_MEMO_MESSAGE_BYTES {
        return Err(CodecError::MemoTooLong {
            max: MAX_MEMO_MESSAGE_BYTES as u32,
            found: message.len().min(u32::MAX as usize) as u32,
        });
    }
    let (key, iv) = key_iv(mine, theirs, nonce, cache);
    // The text may be a secret itself (a link code): no copy of it outlives the call.
    let mut plain = Zeroizing::new(Vec::with_capacity(4 + message.len()));
    plain.extend_from_slice(&Sha256::digest(message)[..4]);
    plain.extend_from_slice(message);
    Ok(Enc::new(key.as_ref().into(), iv.as_ref().into()).encrypt_padded_vec_mut::<Pkcs7>(&plain))
}

/// Decrypts a memo with one side's private key and the other side's public key.
pub fn decrypt(mine: &PrivateKey, theirs: &PublicKey, nonce: u64, cipher: &[u8]) -> Result<String> {
    decrypt_inner(None, mine, theirs, nonce, cipher)
}

/// [`decrypt`], keeping the shared secret in `cache` (see [`SharedSecrets`]).
pub fn decrypt_with(cache: &SharedSecrets, mine: &PrivateKey, theirs: &PublicKey, nonce: u64, cipher: &[u8]) -> Result<String> {
    decrypt_inner(Some(cache), mine, theirs, nonce, cipher)
}

fn decrypt_inner(cache: Option<&SharedSecrets>, mine: &PrivateKey, theirs: &PublicKey, nonce: u64, cipher: &[u8]) -> Result<String> {
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(CodecError::MemoCiphertext { found: cipher.len() as u32 });
    }
    let (key, iv) = key_iv(mine, theirs, nonce, cache);
    let plain = Zeroizing::new(
        Dec::new(key.as_ref().into(), iv.as_ref().into()).decrypt_padded_vec_mut::<Pkcs7>(cipher).map_err(|_| CodecError::MemoWrongKey)?,
    );
    if plain.len() < 4 {
        return Err(CodecError::MemoWrongKey);
    }
    let (check, message) = plain.split_at(4);
    if Sha256::digest(message)[..4] != *check {
        return Err(CodecError::MemoWrongKey);
    }
    String::from_utf8(message.to_vec()).map_err(|_| CodecError::MemoNotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (PrivateKey, PrivateKey) {
        (PrivateKey::from_bytes(&[1; 32]).unwrap(), PrivateKey::from_bytes(&[2; 32]).unwrap())
    }

    #[test]
    fn both_sides_decrypt() {
        let (a, b) = pair();
        let c = encrypt(&a, &b.public_key(), 42, "Your code: 123456").unwrap();
        assert_eq!(decrypt(&b, &a.public_key(), 42, &c).unwrap(), "Your code: 123456");
        assert_eq!(decrypt(&a, &b.public_key(), 42, &c).unwrap(), "Your code: 123456");
    }

    #[test]
    fn wrong_key_or_nonce_is_an_error_not_garbage() {
        let (a, b) = pair();
        let c = PrivateKey::from_bytes(&[3; 32]).unwrap();
        let cipher = encrypt(&a, &b.public_key(), 7, "hello").unwrap();
        assert_eq!(decrypt(&c, &a.public_key(), 7, &cipher), Err(CodecError::MemoWrongKey));
        assert_eq!(decrypt(&b, &a.public_key(), 8, &cipher), Err(CodecError::MemoWrongKey));
        assert_eq!(decrypt(&b, &a.public_key(), 7, &cipher[..15]), Err(CodecError::MemoCiphertext { found: 15 }));
        assert_eq!(decrypt(&b, &a.public_key(), 7, &[]), Err(CodecError::MemoCiphertext { found: 0 }));
    }

    /// A cache gives the same bytes as none, and serves only the key it belongs to.
    #[test]
    fn shared_secrets_change_nothing_and_serve_only_their_key() {
        let (a, b) = pair();
        let c = PrivateKey::from_bytes(&[3; 32]).unwrap();
        let cache = SharedSecrets::new(&a);
        for nonce in 0..3 {
            let plain = encrypt(&a, &b.public_key(), nonce, "hi").unwrap();
            assert_eq!(encrypt_with(&cache, &a, &b.public_key(), nonce, "hi").unwrap(), plain);
            assert_eq!(decrypt_with(&cache, &a, &b.public_key(), nonce, &plain).unwrap(), "hi");
        }
        assert_eq!(cache.entries.borrow().len(), 1);
        // Another private key through the same cache: computed, never stored or served.
        let other = encrypt_with(&cache, &c, &b.public_key(), 1, "x").unwrap();
        assert_eq!(decrypt(&b, &c.public_key(), 1, &other).unwrap(), "x");
        assert_eq!(cache.entries.borrow().len(), 1);
    }

    #[test]
    fn non_utf8_plaintext_is_named() {
        let (a, b) = pair();
        let cipher = encrypt_bytes(&a, &b.public_key(), 5, &[0xff, 0xfe, 0x00]).unwrap();
        assert_eq!(decrypt(&b, &a.public_key(), 5, &cipher), Err(CodecError::MemoNotUtf8));
    }

    #[test]
    fn too_long_is_refused() {
        let (a, b) = pair();
        let long = "x".repeat(MAX_MEMO_MESSAGE_BYTES + 1);
        assert!(matches!(encrypt(&a, &b.public_key(), 1, &long), Err(CodecError::MemoTooLong { .. })));
        assert!(encrypt(&a, &b.public_key(), 1, &long[1..]).is_ok());
    }
}
