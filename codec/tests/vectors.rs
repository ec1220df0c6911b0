//! Every case of the CrowdWiz client's reference vectors, reproduced natively.
//! (`tests/` at the workspace root checks the same cases through the `.wasm`.)

use cwd_codec::codec;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/crowdwiz-public.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn keys_match() {
    let v = vectors();
    for case in v["keys"].as_array().unwrap() {
        assert_eq!(codec::public_key_of(s(&case["wif"])).unwrap(), s(&case["public_key"]));
        assert_eq!(codec::public_key_hex(s(&case["public_key"])).unwrap(), s(&case["compressed_hex"]));
        assert_eq!(codec::public_key_from_hex(s(&case["compressed_hex"])).unwrap(), s(&case["public_key"]));
    }
}

#[test]
fn memos_match_both_ways() {
    let v = vectors();
    for case in v["memos"].as_array().unwrap() {
        let nonce: u64 = s(&case["nonce"]).parse().unwrap();
        let (from_wif, to_wif) = (s(&case["from_wif"]), s(&case["to_wif"]));
        let (from, to) = (s(&case["from"]), s(&case["to"]));
        let plain = s(&case["plaintext"]);
        let cipher = s(&case["message"]);
        let memo = codec::memo_encrypt(from_wif, to, Some(nonce), plain, || unreachable!("the nonce is given")).unwrap();
        assert_eq!((memo.nonce, memo.message_hex.as_str()), (nonce, cipher));
        assert_eq!(codec::memo_decrypt(to_wif, from, nonce, cipher).unwrap(), plain);
        assert_eq!(codec::memo_decrypt(from_wif, to, nonce, cipher).unwrap(), plain);
    }
}

#[test]
fn transactions_match() {
    let v = vectors();
    let chain = s(&v["chain_id"]);
    assert_eq!(chain, codec::MAIN_CHAIN_ID);
    for case in v["transactions"].as_array().unwrap() {
        let signed = &case["signed_json"];
        let op = &signed["operations"][0];
        assert_eq!(codec::operation_hex(&op.to_string()).unwrap(), s(&case["op_hex"]));
        let info = codec::transaction_info(&signed.to_string(), chain).unwrap();
        assert_eq!(info.unsigned_hex, s(&case["unsigned_tx_hex"]));
        assert_eq!(info.digest, s(&case["digest"]));
        assert_eq!(info.id, s(&case["tx_id"]));
        // The library's own signature recovers to the signer.
        let signers = codec::transaction_signers(&signed.to_string(), chain).unwrap();
        assert_eq!(signers, vec![s(&case["signer_public_key"]).to_string()]);
    }
}

/// Our signature over each reference transaction differs from the library's (it used a
/// random nonce) but recovers to the same key and keeps every byte that is signed.
#[test]
fn our_signatures_recover_to_the_signer() {
    let v = vectors();
    let chain = s(&v["chain_id"]);
    let wifs: Vec<(String, String)> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (s(&k["public_key"]).to_string(), s(&k["wif"]).to_string()))
        .collect();
    for case in v["transactions"].as_array().unwrap() {
        let signer = s(&case["signer_public_key"]);
        let wif = &wifs.iter().find(|(p, _)| p == signer).expect("signer's WIF is among the keys").1;
        let mut unsigned = case["signed_json"].clone();
        unsigned.as_object_mut().unwrap().remove("signatures");
        let signed = codec::sign_transaction(&unsigned.to_string(), wif, chain).unwrap();
        let info = codec::transaction_info(&signed, chain).unwrap();
        assert_eq!(info.id, s(&case["tx_id"]));
        assert_eq!(codec::transaction_signers(&signed, chain).unwrap(), vec![signer.to_string()]);
    }
}

/// A signer reads what it signs: every reference transaction's packed bytes read back to
/// the transaction the library wrote, and pack to the same bytes.
#[test]
fn packed_transactions_read_back() {
    use cwd_codec::ops::Transaction;
    let v = vectors();
    for case in v["transactions"].as_array().unwrap() {
        let bytes = hex::decode(s(&case["unsigned_tx_hex"])).unwrap();
        let tx = Transaction::from_bytes(&bytes).unwrap();
        assert_eq!(tx.to_bytes(), bytes);
        let signed = cwd_codec::json::transaction(&case["signed_json"]).unwrap();
        assert_eq!(tx, signed.tx);
    }
}
