//! The reference vectors and bad inputs, every call through the `.wasm` in the host.

use cwd_gateway_e2e::{runtime, vectors};
use cwd_gateway_host::bindings::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
use cwd_gateway_host::CallError;
use serde_json::{json, Value};

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn invalid<T: std::fmt::Debug>(r: Result<T, CallError>) -> CodecError {
    match r {
        Err(CallError::Invalid(e)) => e,
        other => panic!("expected a codec error, got {other:?}"),
    }
}

#[test]
fn keys_through_the_component() {
    let mut inst = runtime().instantiate().unwrap();
    let mut codec = inst.codec();
    for case in vectors()["keys"].as_array().unwrap() {
        assert_eq!(codec.public_key_of(s(&case["wif"])).unwrap(), s(&case["public_key"]));
        assert_eq!(codec.public_key_to_hex(s(&case["public_key"])).unwrap(), s(&case["compressed_hex"]));
        assert_eq!(codec.public_key_from_hex(s(&case["compressed_hex"])).unwrap(), s(&case["public_key"]));
    }
}

#[test]
fn memos_through_the_component() {
    let mut inst = runtime().instantiate().unwrap();
    let mut codec = inst.codec();
    for case in vectors()["memos"].as_array().unwrap() {
        let nonce: u64 = s(&case["nonce"]).parse().unwrap();
        let enc = codec.memo_encrypt(s(&case["from_wif"]), s(&case["to"]), Some(nonce), s(&case["plaintext"])).unwrap();
        assert_eq!((enc.nonce, enc.message_hex.as_str()), (nonce, s(&case["message"])));
        let dec = codec.memo_decrypt(s(&case["to_wif"]), s(&case["from"]), nonce, s(&case["message"])).unwrap();
        assert_eq!(dec, s(&case["plaintext"]));
        // Wrong nonce: a clear error, never garbage text.
        let wrong = codec.memo_decrypt(s(&case["to_wif"]), s(&case["from"]), nonce ^ 1, s(&case["message"]));
        assert!(matches!(invalid(wrong), CodecError::MemoWrongKey));
    }
}

/// Without a nonce the component draws one from wasi:random: never the same twice, and
/// the memo reads back with the nonce it reports.
#[test]
fn memo_nonces_left_out_are_random() {
    let mut inst = runtime().instantiate().unwrap();
    let mut codec = inst.codec();
    let case = &vectors()["memos"][0];
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..64 {
        let memo = codec.memo_encrypt(s(&case["from_wif"]), s(&case["to"]), None, "withdrawal w-7").unwrap();
        assert!(seen.insert(memo.nonce), "a random nonce came twice");
        assert_eq!(codec.memo_decrypt(s(&case["to_wif"]), s(&case["from"]), memo.nonce, &memo.message_hex).unwrap(), "withdrawal w-7");
    }
}

#[test]
fn transactions_through_the_component() {
    let v = vectors();
    let chain = s(&v["chain_id"]);
    let wif_of = |public: &str| {
        v["keys"].as_array().unwrap().iter().find(|k| s(&k["public_key"]) == public).map(|k| s(&k["wif"]).to_string()).unwrap()
    };
    let mut inst = runtime().instantiate().unwrap();
    let mut codec = inst.codec();
    assert_eq!(codec.main_chain_id().unwrap(), chain);
    for case in v["transactions"].as_array().unwrap() {
        let signed = &case["signed_json"];
        assert_eq!(codec.operation_hex(&signed["operations"][0].to_string()).unwrap(), s(&case["op_hex"]));
        let info = codec.transaction_info(&signed.to_string(), chain).unwrap();
        assert_eq!(info.unsigned_hex, s(&case["unsigned_tx_hex"]));
        assert_eq!(info.digest, s(&case["digest"]));
        assert_eq!(info.id, s(&case["tx_id"]));
        let signer = s(&case["signer_public_key"]);
        assert_eq!(codec.transaction_signers(&signed.to_string(), chain).unwrap(), vec![signer.to_string()]);

        let ours = codec.sign_transaction(&signed.to_string(), &wif_of(signer), chain).unwrap();
        let ours: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(codec.transaction_info(&ours.to_string(), chain).unwrap().id, s(&case["tx_id"]));
        assert_eq!(codec.transaction_signers(&ours.to_string(), chain).unwrap(), vec![signer.to_string()]);
        let sig = s(&ours["signatures"][0]);
        assert_eq!(codec.recover_signer(s(&case["digest"]), sig).unwrap(), signer);
    }
}

#[test]
fn bad_inputs_are_errors_not_traps() {
    let v = vectors();
    let chain = s(&v["chain_id"]);
    let mut inst = runtime().instantiate().unwrap();
    let mut codec = inst.codec();
    let wif = s(&v["keys"][0]["wif"]);
    let public = s(&v["keys"][0]["public_key"]);

    let mut typo = wif.to_string();
    typo.replace_range(5..6, if &wif[5..6] == "A" { "B" } else { "A" });
    assert!(matches!(invalid(codec.public_key_of(&typo)), CodecError::BadKey(k) if k.problem == KeyProblem::BadChecksum));
    let bts = format!("BTS{}", &public[3..]);
    assert!(matches!(invalid(codec.public_key_to_hex(&bts)), CodecError::BadKey(k) if k.problem == KeyProblem::WrongPrefix));
    assert!(matches!(invalid(codec.public_key_from_hex(&format!("02{}", "00".repeat(31) + "05"))), CodecError::BadKey(k) if k.problem == KeyProblem::NotOnCurve));
    assert!(matches!(invalid(codec.memo_decrypt(wif, public, 1, "xyz")), CodecError::BadHex(_)));
    assert!(matches!(invalid(codec.memo_decrypt(wif, public, 1, "00")), CodecError::MemoBadCiphertext(1)));
    assert!(matches!(invalid(codec.memo_encrypt(wif, public, Some(1), &"x".repeat(5000))), CodecError::MemoTooLong(1800)));
    assert!(matches!(invalid(codec.memo_encrypt(wif, public, None, &"x".repeat(5000))), CodecError::MemoTooLong(1800)));
    assert!(matches!(invalid(codec.transaction_info("{", chain)), CodecError::BadJson(_)));
    assert!(matches!(invalid(codec.recover_signer(&"00".repeat(32), &format!("1a{}", "11".repeat(64)))), CodecError::BadSignature(SignatureProblem::Malformed)));

    let mut tx = v["transactions"][0]["signed_json"].clone();
    tx["operations"][0][0] = json!(7);
    assert!(matches!(invalid(codec.transaction_info(&tx.to_string(), chain)), CodecError::BadField(f) if f.problem == FieldProblem::UnknownOperation));
    let mut tx = v["transactions"][0]["signed_json"].clone();
    tx["operations"][0][1]["amount"]["amount"] = json!("1000000000000001");
    assert!(matches!(invalid(codec.transaction_info(&tx.to_string(), chain)), CodecError::BadField(f) if f.problem == FieldProblem::OutOfRange && f.path == "operations[0][1].amount.amount"));
    let mut tx = v["transactions"][0]["signed_json"].clone();
    tx["operations"][0][1].as_object_mut().unwrap().remove("fee");
    assert!(matches!(invalid(codec.sign_transaction(&tx.to_string(), wif, chain)), CodecError::BadField(f) if f.problem == FieldProblem::Missing && f.path == "operations[0][1].fee"));

    // The instance is still healthy after all of that.
    assert_eq!(codec.public_key_of(wif).unwrap(), public);
}

#[test]
fn non_utf8_memo_is_named_through_the_component() {
    // The component only encrypts text, so the bad memo is made natively.
    use cwd_gateway::keys::{PrivateKey, PublicKey};
    let v = vectors();
    let case = &v["memos"][0];
    let from = PrivateKey::from_wif(s(&case["from_wif"])).unwrap();
    let to: PublicKey = s(&case["to"]).parse().unwrap();
    let cipher = hex::encode(cwd_gateway::memo::encrypt_bytes(&from, &to, 9, &[0xc3, 0x28, 0xff]).unwrap());
    let mut inst = runtime().instantiate().unwrap();
    let r = inst.codec().memo_decrypt(s(&case["to_wif"]), s(&case["from"]), 9, &cipher);
    assert!(matches!(invalid(r), CodecError::MemoNotUtf8));
}

#[test]
fn instances_are_isolated_and_cheap() {
    // Many instances from one pre-instantiated component, each answering on its own.
    let v = vectors();
    for case in v["keys"].as_array().unwrap() {
        let mut inst = runtime().instantiate().unwrap();
        assert_eq!(inst.codec().public_key_of(s(&case["wif"])).unwrap(), s(&case["public_key"]));
    }
}
