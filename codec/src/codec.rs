//! The codec as the component exports it: text in, text out, typed errors.
//! `component.rs` maps these one to one onto the WIT `codec` interface.

use serde_json::Value;

use crate::error::{hex_array, hex_bytes, CodecError, Result};
use crate::json;
use crate::keys::{PrivateKey, PublicKey};
use crate::{memo, signing};

/// The CrowdWiz main chain id.
pub const MAIN_CHAIN_ID: &str = "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxInfo {
    pub unsigned_hex: String,
    pub digest: String,
    pub id: String,
}

pub fn chain_id(hex: &str) -> Result<[u8; 32]> {
    hex_array("chain id", hex)
}

fn public_key(text: &str, field: &str) -> Result<PublicKey> {
    text.parse::<PublicKey>().map_err(|e| e.at(field))
}

pub fn public_key_of(wif: &str) -> Result<String> {
    Ok(PrivateKey::from_wif(wif)?.public_key().to_string())
}

/// Compressed SEC1 hex of a `CWD…` key: the form other libraries take.
pub fn public_key_hex(text: &str) -> Result<String> {
    Ok(hex::encode(public_key(text, "public key")?.to_compressed()))
}

/// `CWD…` text of compressed SEC1 hex.
pub fn public_key_from_hex(text: &str) -> Result<String> {
    Ok(PublicKey::from_sec1(&hex_bytes("public key", text)?)?.to_string())
}

/// A memo as it goes into an operation: its nonce and ciphertext (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedMemo {
    pub nonce: u64,
    pub message_hex: String,
}

/// Encrypts a memo. Without a `nonce`, one is drawn with `random` (the caller's secure
/// source: `wasi:random` in the components). A nonce must never be used twice between
/// the same two keys: the same key and IV would encrypt both texts, and the two
/// ciphertexts would tell how the texts' first blocks differ.
pub fn memo_encrypt(wif: &str, to: &str, nonce: Option<u64>, message: &str, random: impl FnOnce() -> u64) -> Result<EncryptedMemo> {
    let key = PrivateKey::from_wif(wif)?;
    let to = public_key(to, "recipient public key")?;
    let nonce = nonce.unwrap_or_else(random);
    Ok(EncryptedMemo { nonce, message_hex: json::hex_text(&memo::encrypt(&key, &to, nonce, message)?) })
}

pub fn memo_decrypt(wif: &str, other: &str, nonce: u64, cipher_hex: &str) -> Result<String> {
    let key = PrivateKey::from_wif(wif)?;
    let other = public_key(other, "other side's public key")?;
    memo::decrypt(&key, &other, nonce, &hex_bytes("memo message", cipher_hex)?)
}

/// The packed operation (with its id tag), hex.
pub fn operation_hex(op_json: &str) -> Result<String> {
    let v: Value = serde_json::from_str(op_json).map_err(|e| CodecError::Json { detail: e.to_string() })?;
    Ok(hex::encode(json::operation(&v, "operation")?.to_bytes()))
}

pub fn transaction_info(tx_json: &str, chain: &str) -> Result<TxInfo> {
    let chain = chain_id(chain)?;
    let st = json::transaction_from_str(tx_json)?;
    Ok(TxInfo {
        unsigned_hex: hex::encode(st.tx.to_bytes()),
        digest: hex::encode(st.tx.digest(&chain)),
        id: hex::encode(st.tx.id()),
    })
}

/// Signs an unsigned transaction (any signatures given are replaced) and returns the
/// JSON `broadcast_transaction` takes.
pub fn sign_transaction(tx_json: &str, wif: &str, chain: &str) -> Result<String> {
    let chain = chain_id(chain)?;
    let key = PrivateKey::from_wif(wif)?;
    let st = json::transaction_from_str(tx_json)?.tx.sign(&key, &chain)?;
    Ok(json::transaction_text(&st))
}

/// The public keys that signed a transaction, in signature order.
pub fn transaction_signers(tx_json: &str, chain: &str) -> Result<Vec<String>> {
    let chain = chain_id(chain)?;
    let st = json::transaction_from_str(tx_json)?;
    Ok(st.signers(&chain)?.iter().map(|k| k.to_string()).collect())
}

pub fn sign_digest(digest_hex: &str, wif: &str) -> Result<String> {
    let digest = hex_array::<32>("digest", digest_hex)?;
    Ok(json::hex_text(&signing::sign_digest(&PrivateKey::from_wif(wif)?, &digest)?))
}

pub fn recover_signer(digest_hex: &str, signature_hex: &str) -> Result<String> {
    let digest = hex_array::<32>("digest", digest_hex)?;
    let sig = hex_array::<65>("signature", signature_hex)?;
    Ok(signing::recover(&digest, &sig)?.to_string())
}
