//! Bad inputs: each a typed error naming what and where, never a panic.

use cwd_codec::codec::{self, MAIN_CHAIN_ID};
use cwd_codec::{CodecError, FieldProblem, KeyProblem};
use serde_json::{json, Value};

const WIF: &str = "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB";
const PUB: &str = "CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL";
const OTHER: &str = "CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP";

fn tx() -> Value {
    json!({
        "ref_block_num": 50443, "ref_block_prefix": 4004580258u32, "expiration": "2026-06-27T20:36:22",
        "operations": [[0, {
            "fee": {"amount": 406013, "asset_id": "1.3.0"},
            "from": "1.2.743412", "to": "1.2.863373",
            "amount": {"amount": "186425619317", "asset_id": "1.3.0"},
            "extensions": []
        }]],
        "extensions": []
    })
}

fn field_error(v: &Value) -> (String, FieldProblem) {
    match codec::transaction_info(&v.to_string(), MAIN_CHAIN_ID) {
        Err(CodecError::Field { path, problem, .. }) => (path, problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn the_base_transaction_is_fine_with_string_amounts() {
    let info = codec::transaction_info(&tx().to_string(), MAIN_CHAIN_ID).unwrap();
    assert_eq!(info.tx_id_len(), 40);
}

trait Len {
    fn tx_id_len(&self) -> usize;
}
impl Len for codec::TxInfo {
    fn tx_id_len(&self) -> usize {
        self.id.len()
    }
}

#[test]
fn missing_fields_are_named() {
    for (pointer, path) in [
        ("/ref_block_num", "ref_block_num"),
        ("/expiration", "expiration"),
        ("/operations/0/1/fee", "operations[0][1].fee"),
        ("/operations/0/1/amount/asset_id", "operations[0][1].amount.asset_id"),
        ("/operations/0/1/to", "operations[0][1].to"),
    ] {
        let mut v = tx();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
        assert_eq!(field_error(&v), (path.to_string(), FieldProblem::Missing), "{pointer}");
    }
    let mut v = tx();
    v.as_object_mut().unwrap().remove("operations");
    assert_eq!(field_error(&v), ("operations".into(), FieldProblem::Missing));
    let mut v = tx();
    v["operations"] = json!([]);
    assert_eq!(field_error(&v).1, FieldProblem::Missing);
}

#[test]
fn unknown_operations_are_refused() {
    let mut v = tx();
    v["operations"][0][0] = json!(1);
    assert_eq!(field_error(&v), ("operations[0][0]".into(), FieldProblem::UnknownOperation));
}

#[test]
fn amounts_out_of_range() {
    for (amount, problem) in [
        (json!(0), FieldProblem::OutOfRange),
        (json!(-5), FieldProblem::OutOfRange),
        (json!("1000000000000001"), FieldProblem::OutOfRange),
        (json!("99999999999999999999"), FieldProblem::OutOfRange),
        (json!("12abc"), FieldProblem::OutOfRange),
        (json!(1.5), FieldProblem::OutOfRange),
        (json!([1]), FieldProblem::WrongType),
    ] {
        let mut v = tx();
        v["operations"][0][1]["amount"]["amount"] = amount.clone();
        assert_eq!(field_error(&v), ("operations[0][1].amount.amount".into(), problem), "{amount}");
    }
    let mut v = tx();
    v["ref_block_num"] = json!(65536);
    assert_eq!(field_error(&v), ("ref_block_num".into(), FieldProblem::OutOfRange));
}

#[test]
fn other_field_problems() {
    let mut v = tx();
    v["operations"][0][1]["to"] = json!("1.2.743412");
    assert_eq!(field_error(&v).1, FieldProblem::SameAccount);
    let mut v = tx();
    v["operations"][0][1]["from"] = json!("1.3.0");
    assert_eq!(field_error(&v).1, FieldProblem::BadObjectId);
    let mut v = tx();
    v["expiration"] = json!("yesterday");
    assert_eq!(field_error(&v).1, FieldProblem::BadTime);
    let mut v = tx();
    v["operations"][0][1]["extensions"] = json!([[1, {}]]);
    assert_eq!(field_error(&v).1, FieldProblem::UnsupportedExtension);
    let mut v = tx();
    v["operations"][0][1]["memo"] = json!({"from": PUB, "to": OTHER, "nonce": 1, "message": "zz"});
    assert!(matches!(codec::transaction_info(&v.to_string(), MAIN_CHAIN_ID), Err(CodecError::Hex { field }) if field == "operations[0][1].memo.message"));
    v["operations"][0][1]["memo"] = json!({"from": PUB, "to": "BTS5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP", "nonce": 1, "message": ""});
    assert_eq!(
        codec::transaction_info(&v.to_string(), MAIN_CHAIN_ID),
        Err(CodecError::Key { field: "operations[0][1].memo.to".into(), problem: KeyProblem::WrongPrefix })
    );
    assert!(matches!(codec::transaction_info("{not json", MAIN_CHAIN_ID), Err(CodecError::Json { .. })));
    assert!(matches!(codec::transaction_info("[]", MAIN_CHAIN_ID), Err(CodecError::Field { problem: FieldProblem::WrongType, .. })));
}

#[test]
fn malformed_hex_and_lengths() {
    assert_eq!(codec::transaction_info(&tx().to_string(), "xyz"), Err(CodecError::Hex { field: "chain id".into() }));
    assert_eq!(
        codec::transaction_info(&tx().to_string(), "abcd"),
        Err(CodecError::Length { field: "chain id".into(), expected: 32, found: 2 })
    );
    assert_eq!(codec::memo_decrypt(WIF, OTHER, 1, "0g"), Err(CodecError::Hex { field: "memo message".into() }));
    assert!(matches!(codec::recover_signer(&"00".repeat(32), "1f"), Err(CodecError::Length { .. })));
    assert!(matches!(codec::public_key_from_hex("02"), Err(CodecError::Key { problem: KeyProblem::BadLength, .. })));
}

#[test]
fn errors_never_echo_the_private_key() {
    let mut typo = WIF.to_string();
    typo.push('x');
    let e = codec::public_key_of(&typo).unwrap_err();
    assert!(!e.to_string().contains(&typo) && !format!("{e:?}").contains(&typo));
}

/// Packed bytes a hostile gateway could hand a signer: each refused with the field named,
/// none read as something else.
#[test]
fn hostile_packed_transactions_are_refused() {
    use cwd_codec::ops::Transaction;
    let v = serde_json::from_str::<Value>(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/crowdwiz-public.json")).unwrap(),
    )
    .unwrap();
    let good = hex::decode(v["transactions"][1]["unsigned_tx_hex"].as_str().unwrap()).unwrap();
    assert!(Transaction::from_bytes(&good).is_ok());
    let field = |bytes: &[u8]| match Transaction::from_bytes(bytes) {
        Err(CodecError::Field { path, problem, .. }) => format!("{path} {problem:?}"),
        Err(CodecError::Length { field, .. }) => format!("{field} Length"),
        Err(e) => format!("{e:?}"),
        Ok(tx) => panic!("read {tx:?}"),
    };
    // Every truncation.
    for n in 0..good.len() {
        assert!(Transaction::from_bytes(&good[..n]).is_err(), "{n} bytes");
    }
    // Anything after the end.
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(field(&longer), "transaction Length");
    // Another operation: account_update (6), in place of the first.
    let mut other = good.clone();
    other[11] = 6;
    assert_eq!(field(&other), "operations[0][0] UnknownOperation");
    // A padded varint for the operation count (the same value, another encoding).
    let mut padded = good[..10].to_vec();
    padded.extend([0x81, 0x00]);
    padded.extend(&good[11..]);
    assert_eq!(field(&padded), "operations OutOfRange");
    // Transaction extensions.
    let mut ext = good.clone();
    *ext.last_mut().unwrap() = 1;
    assert!(field(&ext).starts_with("extensions"), "{}", field(&ext));
    // A count of operations the bytes cannot hold.
    let mut many = good[..10].to_vec();
    many.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(field(&many), "operations OutOfRange");
}
