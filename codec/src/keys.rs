//! Private keys (WIF) and public keys (`CWD…`), as CrowdWiz clients write them.

use core::fmt;
use core::str::FromStr;
use std::cell::RefCell;
use std::sync::OnceLock;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use zeroize::Zeroizing;

use crate::cache::Bounded;
use crate::error::{CodecError, KeyProblem, Result};

/// The address prefix of the CrowdWiz chain.
pub const PUBLIC_KEY_PREFIX: &str = "CWD";
const WIF_VERSION: u8 = 0x80;

/// A secp256k1 private key. Its `Debug` never prints the secret.
///
/// Its public key is derived once, on first use, and kept with it: the gateway asks for
/// its memo key's public key for every memo it reads.
#[derive(Clone)]
pub struct PrivateKey {
    secret: k256::SecretKey,
    public: OnceLock<PublicKey>,
}

/// A secp256k1 public key, compressed (33 bytes) on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(k256::PublicKey);

impl PrivateKey {
    /// Parses `base58(0x80 ‖ key ‖ sha256(sha256(0x80 ‖ key))[..4])`. Nothing of the
    /// text or the decoded bytes is kept: the buffers are zeroized before this returns.
    pub fn from_wif(wif: &str) -> Result<Self> {
        const F: &str = "private key";
        let wif = wif.trim();
        let raw = Zeroizing::new(bs58::decode(wif).into_vec().map_err(|_| CodecError::key(F, KeyProblem::NotBase58))?);
        if raw.len() != 37 {
            return Err(CodecError::key(F, KeyProblem::BadLength));
        }
        let (body, check) = raw.split_at(33);
        if Sha256::digest(Sha256::digest(body))[..4] != *check {
            return Err(CodecError::key(F, KeyProblem::BadChecksum));
        }
        if body[0] != WIF_VERSION {
            return Err(CodecError::key(F, KeyProblem::BadVersion));
        }
        Self::from_bytes(&body[1..])
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        k256::SecretKey::from_slice(bytes)
            .map(|secret| PrivateKey { secret, public: OnceLock::new() })
            .map_err(|_| CodecError::key("private key", KeyProblem::OutOfRange))
    }

    pub fn to_wif(&self) -> String {
        let mut body = Zeroizing::new(Vec::with_capacity(37));
        body.push(WIF_VERSION);
        body.extend_from_slice(&Zeroizing::new(self.secret.to_bytes()));
        let check = Sha256::digest(Sha256::digest(&*body));
        body.extend_from_slice(&check[..4]);
        bs58::encode(&*body).into_string()
    }

    pub fn public_key(&self) -> PublicKey {
        // k256's 𝑑×𝑮: constant time, its precomputed tables scanned whole.
        *self.public.get_or_init(|| PublicKey(self.secret.public_key()))
    }

    /// The secret scalar, for keyed derivations (the gateway keys its link-code HMAC with it).
    pub fn secret(&self) -> &k256::SecretKey {
        &self.secret
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(for {})", self.public_key())
    }
}

impl PublicKey {
    /// From 33 compressed (or 65 uncompressed) SEC1 bytes.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 33 && bytes.len() != 65 {
            return Err(CodecError::key("public key", KeyProblem::BadLength));
        }
        k256::PublicKey::from_sec1_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| CodecError::key("public key", KeyProblem::NotOnCurve))
    }

    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_encoded_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        out
    }

    pub(crate) fn inner(&self) -> &k256::PublicKey {
        &self.0
    }

    pub(crate) fn from_inner(key: k256::PublicKey) -> Self {
        PublicKey(key)
    }
}

/// Keys parsed from text, by text. Public data; the same few keys (the gateway's, a
/// player's) come back in every transaction and memo, and decompressing one costs a
/// square root in the field.
const PARSED_KEYS: usize = 256;

thread_local! {
    static PARSED: RefCell<Bounded<String, PublicKey>> = RefCell::new(Bounded::new(PARSED_KEYS));
    /// The text of keys shown or parsed, by compressed key: the same keys are written
    /// back into every transaction's JSON, and the text costs a RIPEMD-160 and a base58
    /// encoding (quadratic in the length) each time.
    static SHOWN: RefCell<Bounded<[u8; 33], String>> = RefCell::new(Bounded::new(PARSED_KEYS));
}

impl FromStr for PublicKey {
    type Err = CodecError;

    /// Parses `CWD` + `base58(key ‖ ripemd160(key)[..4])`.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(key) = PARSED.with(|c| c.borrow().get(text).copied()) {
            return Ok(key);
        }
        let key = Self::parse_uncached(text)?;
        PARSED.with(|c| c.borrow_mut().insert(text.to_string(), key));
        // A key's text is unique (base58 of fixed-length bytes), so this is its Display.
        SHOWN.with(|c| c.borrow_mut().insert(key.to_compressed(), text.to_string()));
        Ok(key)
    }
}

impl PublicKey {
    fn parse_uncached(text: &str) -> Result<Self> {
        const F: &str = "public key";
        let Some(body) = text.strip_prefix(PUBLIC_KEY_PREFIX) else {
            return Err(CodecError::key(F, KeyProblem::WrongPrefix));
        };
        let raw = bs58::decode(body)
            .into_vec()
            .map_err(|_| CodecError::key(F, KeyProblem::NotBase58))?;
        if raw.len() != 37 {
            return Err(CodecError::key(F, KeyProblem::BadLength));
        }
        let (key, check) = raw.split_at(33);
        if Ripemd160::digest(key)[..4] != *check {
            return Err(CodecError::key(F, KeyProblem::BadChecksum));
        }
        PublicKey::from_sec1(key)
    }
}

impl PublicKey {
    /// Gives `f` the key's `CWD…` text, from the cache when it is there.
    pub(crate) fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let key = self.to_compressed();
        let mut f = Some(f);
        let cached = SHOWN.with(|c| c.borrow().get(&key).map(|text| (f.take().expect("called once"))(text)));
        if let Some(out) = cached {
            return out;
        }
        let mut raw = key.to_vec();
        raw.extend_from_slice(&Ripemd160::digest(key)[..4]);
        let text = format!("{PUBLIC_KEY_PREFIX}{}", bs58::encode(raw).into_string());
        let out = (f.take().expect("called once"))(&text);
        SHOWN.with(|c| c.borrow_mut().insert(key, text));
        out
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_text(|text| f.write_str(text))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIF: &str = "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB";
    const PUB: &str = "CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL";

    fn problem(r: Result<impl Sized>) -> KeyProblem {
        match r {
            Err(CodecError::Key { problem, .. }) => problem,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted a bad key"),
        }
    }

    #[test]
    fn wif_round_trips_and_derives() {
        let key = PrivateKey::from_wif(WIF).unwrap();
        assert_eq!(key.to_wif(), WIF);
        assert_eq!(key.public_key().to_string(), PUB);
        assert_eq!(PUB.parse::<PublicKey>().unwrap(), key.public_key());
    }

    /// Shown text comes from a cache filled by parsing and by showing: both must give
    /// the one canonical text, whichever filled it first.
    #[test]
    fn text_is_the_same_cached_or_not() {
        for seed in 1u8..40 {
            let key = PrivateKey::from_bytes(&[seed; 32]).unwrap().public_key();
            let mut raw = key.to_compressed().to_vec();
            raw.extend_from_slice(&Ripemd160::digest(key.to_compressed())[..4]);
            let expected = format!("CWD{}", bs58::encode(raw).into_string());
            if seed % 2 == 0 {
                assert_eq!(expected.parse::<PublicKey>().unwrap(), key);
            }
            assert_eq!(key.to_string(), expected);
            assert_eq!(format!(" {expected} ").parse::<PublicKey>().unwrap().to_string(), expected);
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = PrivateKey::from_wif(WIF).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(WIF) && !shown.contains(&hex::encode(key.secret().to_bytes())));
    }

    #[test]
    fn bad_keys_are_named() {
        let mut typo = WIF.to_string();
        typo.replace_range(10..11, if &WIF[10..11] == "a" { "b" } else { "a" });
        assert_eq!(problem(PrivateKey::from_wif(&typo)), KeyProblem::BadChecksum);
        assert_eq!(problem(PrivateKey::from_wif("0OIl")), KeyProblem::NotBase58);
        assert_eq!(problem(PrivateKey::from_wif(&WIF[..40])), KeyProblem::BadLength);
        // A valid public key body is not a WIF.
        assert_eq!(problem(PrivateKey::from_wif(&PUB[3..])), KeyProblem::BadChecksum);
        let mut body = vec![0x81u8];
        body.extend_from_slice(&[7u8; 32]);
        let check = Sha256::digest(Sha256::digest(&body));
        body.extend_from_slice(&check[..4]);
        assert_eq!(problem(PrivateKey::from_wif(&bs58::encode(&body).into_string())), KeyProblem::BadVersion);
        let mut zero = vec![0x80u8];
        zero.extend_from_slice(&[0u8; 32]);
        let check = Sha256::digest(Sha256::digest(&zero));
        zero.extend_from_slice(&check[..4]);
        assert_eq!(problem(PrivateKey::from_wif(&bs58::encode(&zero).into_string())), KeyProblem::OutOfRange);

        assert_eq!(problem(format!("BTS{}", &PUB[3..]).parse::<PublicKey>()), KeyProblem::WrongPrefix);
        let mut typo = PUB.to_string();
        typo.replace_range(20..21, if &PUB[20..21] == "a" { "b" } else { "a" });
        assert_eq!(problem(typo.parse::<PublicKey>()), KeyProblem::BadChecksum);
        // 0x02 ‖ x where x has no y on the curve (x = 5 has none for secp256k1).
        let mut off = [0u8; 33];
        off[0] = 2;
        off[32] = 5;
        let mut raw = off.to_vec();
        raw.extend_from_slice(&Ripemd160::digest(off)[..4]);
        let text = format!("CWD{}", bs58::encode(raw).into_string());
        assert_eq!(problem(text.parse::<PublicKey>()), KeyProblem::NotOnCurve);
    }
}
