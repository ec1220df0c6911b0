//! Properties over many random keys, digests, memos and transactions.

use cwd_codec::json;
use cwd_codec::keys::PrivateKey;
use cwd_codec::memo::{self, MAX_MEMO_MESSAGE_BYTES};
use cwd_codec::ops::*;
use cwd_codec::signing::{is_canonical, recover, sign_digest};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = PrivateKey> {
    any::<[u8; 32]>().prop_filter_map("scalar out of range", |b| PrivateKey::from_bytes(&b).ok())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_signature_is_canonical_and_recovers(k in key(), digest in any::<[u8; 32]>()) {
        let sig = sign_digest(&k, &digest).unwrap();
        prop_assert!(is_canonical(&sig));
        prop_assert!((31..=34).contains(&sig[0]));
        prop_assert_eq!(recover(&digest, &sig).unwrap(), k.public_key());
    }

    #[test]
    fn wif_round_trips(k in key()) {
        let back = PrivateKey::from_wif(&k.to_wif()).unwrap();
        prop_assert_eq!(back.public_key(), k.public_key());
        let text = k.public_key().to_string();
        prop_assert_eq!(text.parse::<cwd_codec::keys::PublicKey>().unwrap(), k.public_key());
    }

    #[test]
    fn memo_round_trips(a in key(), b in key(), nonce in any::<u64>(),
                        message in prop::collection::vec(any::<char>(), 0..600)) {
        let mut text: String = message.into_iter().collect();
        while text.len() > MAX_MEMO_MESSAGE_BYTES { text.pop(); }
        let cipher = memo::encrypt(&a, &b.public_key(), nonce, &text).unwrap();
        prop_assert_eq!(cipher.len() % 16, 0);
        prop_assert_eq!(&memo::decrypt(&b, &a.public_key(), nonce, &cipher).unwrap(), &text);
        prop_assert_eq!(&memo::decrypt(&a, &b.public_key(), nonce, &cipher).unwrap(), &text);
    }

    #[test]
    fn longest_memos_round_trip(a in key(), b in key(), nonce in any::<u64>(), fill in "[a-z]{1}") {
        let text = fill.repeat(MAX_MEMO_MESSAGE_BYTES);
        let cipher = memo::encrypt(&a, &b.public_key(), nonce, &text).unwrap();
        prop_assert_eq!(memo::decrypt(&b, &a.public_key(), nonce, &cipher).unwrap(), text);
    }

    #[test]
    fn transactions_round_trip_through_node_json(
        k in key(), fee in 0i64..=MAX_SHARE_SUPPLY, amount in 1i64..=MAX_SHARE_SUPPLY,
        from in any::<u32>(), to in any::<u32>(), nonce in any::<u64>(),
        ref_num in any::<u16>(), ref_prefix in any::<u32>(), exp in any::<u32>(),
        with_memo in any::<bool>(), message in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(from != to);
        let memo = Memo { from: k.public_key(), to: k.public_key(), nonce, message };
        let op = if with_memo {
            Operation::SendMessage(SendMessage { fee: Asset::cwd(fee), from: AccountId(from as u64), to: AccountId(to as u64), memo })
        } else {
            Operation::Transfer(Transfer { fee: Asset::cwd(fee), from: AccountId(from as u64), to: AccountId(to as u64), amount: Asset::cwd(amount), memo: Some(memo) })
        };
        let tx = Transaction { ref_block_num: ref_num, ref_block_prefix: ref_prefix, expiration: exp, operations: vec![op] };
        let chain = [7u8; 32];
        let signed = tx.clone().sign(&k, &chain).unwrap();
        let text = json::write_transaction(&signed).to_string();
        let back = json::transaction_from_str(&text).unwrap();
        prop_assert_eq!(&back, &signed);
        prop_assert_eq!(back.tx.to_bytes(), tx.to_bytes());
        prop_assert_eq!(&Transaction::from_bytes(&tx.to_bytes()).unwrap(), &tx);
        prop_assert_eq!(back.signers(&chain).unwrap(), vec![k.public_key()]);
    }

    /// The text the component returns is written without a `Value` tree: it must be the
    /// bytes `write_transaction` gives, for every shape and size of field.
    #[test]
    fn transaction_text_is_the_json_value_text(
        k in key(), other in key(), fee in 0i64..=MAX_SHARE_SUPPLY, amount in 1i64..=MAX_SHARE_SUPPLY,
        from in any::<u64>(), to in any::<u64>(), asset in any::<u64>(), nonce in any::<u64>(),
        small in any::<bool>(), ref_num in any::<u16>(), ref_prefix in any::<u32>(), exp in any::<u32>(),
        kinds in prop::collection::vec(0u8..3, 1..4), message in prop::collection::vec(any::<u8>(), 0..64),
        signatures in 0usize..3,
    ) {
        prop_assume!(from != to);
        // Small values too: numbers below 2^31 / 2^32 are written as JSON numbers.
        let (fee, amount, nonce) = if small { (fee % 3_000_000_000, amount % 3_000_000_000 + 1, nonce % 5_000_000_000) } else { (fee, amount, nonce) };
        let memo = Memo { from: k.public_key(), to: other.public_key(), nonce, message };
        let operations = kinds.iter().map(|kind| match kind {
            0 => Operation::SendMessage(SendMessage { fee: Asset::cwd(fee), from: AccountId(from), to: AccountId(to), memo: memo.clone() }),
            1 => Operation::Transfer(Transfer { fee: Asset { amount: fee, asset_id: AssetId(asset) }, from: AccountId(from), to: AccountId(to), amount: Asset { amount, asset_id: AssetId(asset) }, memo: None }),
            _ => Operation::Transfer(Transfer { fee: Asset::cwd(fee), from: AccountId(from), to: AccountId(to), amount: Asset::cwd(amount), memo: Some(memo.clone()) }),
        }).collect();
        let tx = Transaction { ref_block_num: ref_num, ref_block_prefix: ref_prefix, expiration: exp, operations };
        let signed = SignedTransaction { signatures: (0..signatures).map(|i| sign_digest(&k, &[i as u8; 32]).unwrap()).collect(), tx };
        prop_assert_eq!(json::transaction_text(&signed), json::write_transaction(&signed).to_string());
    }
}

/// Thousands of signatures over random digests, each verified by k256's own ECDSA
/// verifier (not our recovery path) against the key's public key, and canonical.
#[test]
fn thousands_of_signatures_verify_independently() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use k256::ecdsa::{Signature, VerifyingKey};
    use sha2::{Digest, Sha256};
    let bytes = |tag: &str, i: usize| -> [u8; 32] { Sha256::new().chain_update(tag).chain_update(i.to_le_bytes()).finalize().into() };
    let keys: Vec<PrivateKey> = (0..50).map(|j| PrivateKey::from_bytes(&bytes("key", j)).unwrap()).collect();
    for i in 0..5000 {
        let key = &keys[i % keys.len()];
        let digest = bytes("digest", i);
        let sig = sign_digest(key, &digest).unwrap();
        assert!(is_canonical(&sig), "#{i}");
        let verifying = VerifyingKey::from_sec1_bytes(&key.public_key().to_compressed()).unwrap();
        let signature = Signature::from_slice(&sig[1..]).unwrap();
        assert!(verifying.verify_prehash(&digest, &signature).is_ok(), "#{i} does not verify");
        let mut other = digest;
        other[i % 32] ^= 1 << (i % 8);
        assert!(verifying.verify_prehash(&other, &signature).is_err(), "#{i} verifies another digest");
    }
}
