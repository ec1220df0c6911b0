// The `codec` interface's exports over `cwd_codec`, included by both components that
// export it (the gateway, guest/src/component.rs, and the codec-only one, lib.rs here):
// each `wit_bindgen::generate!` makes its own types, so the includer defines `wit` (its
// `exports::crowdwiz::gateway::codec`) and `Component`.

impl From<cwd_codec::error::CodecError> for wit::CodecError {
    fn from(e: cwd_codec::error::CodecError) -> Self {
        use cwd_codec::error::{CodecError, FieldProblem, KeyProblem, SignatureProblem};
        match e {
            CodecError::Key { field, problem } => wit::CodecError::BadKey(wit::KeyError {
                field,
                problem: match problem {
                    KeyProblem::NotBase58 => wit::KeyProblem::NotBase58,
                    KeyProblem::BadChecksum => wit::KeyProblem::BadChecksum,
                    KeyProblem::BadLength => wit::KeyProblem::BadLength,
                    KeyProblem::BadVersion => wit::KeyProblem::BadVersion,
                    KeyProblem::WrongPrefix => wit::KeyProblem::WrongPrefix,
                    KeyProblem::NotOnCurve => wit::KeyProblem::NotOnCurve,
                    KeyProblem::OutOfRange => wit::KeyProblem::OutOfRange,
                },
            }),
            CodecError::Hex { field } => wit::CodecError::BadHex(field),
            CodecError::Length { field, expected, found } => {
                wit::CodecError::BadLength(wit::LengthError { field, expected, found })
            }
            CodecError::MemoWrongKey => wit::CodecError::MemoWrongKey,
            CodecError::MemoNotUtf8 => wit::CodecError::MemoNotUtf8,
            CodecError::MemoTooLong { max, .. } => wit::CodecError::MemoTooLong(max),
            CodecError::MemoCiphertext { found } => wit::CodecError::MemoBadCiphertext(found),
            CodecError::Json { detail } => wit::CodecError::BadJson(detail),
            CodecError::Field { path, problem, detail } => wit::CodecError::BadField(wit::FieldError {
                path,
                detail,
                problem: match problem {
                    FieldProblem::Missing => wit::FieldProblem::Missing,
                    FieldProblem::WrongType => wit::FieldProblem::WrongType,
                    FieldProblem::UnknownOperation => wit::FieldProblem::UnknownOperation,
                    FieldProblem::OutOfRange => wit::FieldProblem::OutOfRange,
                    FieldProblem::BadObjectId => wit::FieldProblem::BadObjectId,
                    FieldProblem::BadTime => wit::FieldProblem::BadTime,
                    FieldProblem::SameAccount => wit::FieldProblem::SameAccount,
                    FieldProblem::UnsupportedExtension => wit::FieldProblem::UnsupportedExtension,
                },
            }),
            CodecError::Signature { problem } => wit::CodecError::BadSignature(match problem {
                SignatureProblem::Malformed => wit::SignatureProblem::Malformed,
                SignatureProblem::NotCanonical => wit::SignatureProblem::NotCanonical,
                SignatureProblem::Unrecoverable => wit::SignatureProblem::Unrecoverable,
                SignatureProblem::SelfCheckFailed => wit::SignatureProblem::SelfCheckFailed,
            }),
        }
    }
}

type R<T> = Result<T, wit::CodecError>;

fn w<T>(r: cwd_codec::error::Result<T>) -> R<T> {
    r.map_err(Into::into)
}

/// A memo nonce from `wasi:random` (through `getrandom`), for callers that give none.
fn random_memo_nonce() -> u64 {
    let mut b = [0u8; 8];
    // wasi:random never fails on a conforming host; if it did, no memo goes out.
    getrandom::fill(&mut b).expect("wasi:random is available");
    u64::from_le_bytes(b)
}

impl wit::Guest for Component {
    fn main_chain_id() -> String {
        cwd_codec::codec::MAIN_CHAIN_ID.to_string()
    }
    fn public_key_of(wif: String) -> R<String> {
        w(cwd_codec::codec::public_key_of(&wif))
    }
    fn public_key_to_hex(public_key: String) -> R<String> {
        w(cwd_codec::codec::public_key_hex(&public_key))
    }
    fn public_key_from_hex(sec1_hex: String) -> R<String> {
        w(cwd_codec::codec::public_key_from_hex(&sec1_hex))
    }
    fn memo_encrypt(wif: String, to: String, nonce: Option<u64>, message: String) -> R<wit::EncryptedMemo> {
        w(cwd_codec::codec::memo_encrypt(&wif, &to, nonce, &message, random_memo_nonce))
            .map(|m| wit::EncryptedMemo { nonce: m.nonce, message_hex: m.message_hex })
    }
    fn memo_decrypt(wif: String, other: String, nonce: u64, message_hex: String) -> R<String> {
        w(cwd_codec::codec::memo_decrypt(&wif, &other, nonce, &message_hex))
    }
    fn operation_hex(operation_json: String) -> R<String> {
        w(cwd_codec::codec::operation_hex(&operation_json))
    }
    fn transaction_info(transaction_json: String, chain_id: String) -> R<wit::TxInfo> {
        w(cwd_codec::codec::transaction_info(&transaction_json, &chain_id))
            .map(|i| wit::TxInfo { unsigned_hex: i.unsigned_hex, digest: i.digest, id: i.id })
    }
    fn sign_transaction(transaction_json: String, wif: String, chain_id: String) -> R<String> {
        w(cwd_codec::codec::sign_transaction(&transaction_json, &wif, &chain_id))
    }
    fn transaction_signers(transaction_json: String, chain_id: String) -> R<Vec<String>> {
        w(cwd_codec::codec::transaction_signers(&transaction_json, &chain_id))
    }
    fn sign_digest(digest: String, wif: String) -> R<String> {
        w(cwd_codec::codec::sign_digest(&digest, &wif))
    }
    fn recover_signer(digest: String, signature: String) -> R<String> {
        w(cwd_codec::codec::recover_signer(&digest, &signature))
    }
}
