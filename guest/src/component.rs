//! The only place that sees wit-bindgen's generated code: it maps the crate's own types
//! onto the WIT interface and back. Built only for wasm32.

wit_bindgen::generate!({ world: "gateway", path: "../wit" });

use exports::crowdwiz::gateway::api as wapi;
use exports::crowdwiz::gateway::codec as wit;

use crate::codec;
use crate::error::{CodecError, FieldProblem, KeyProblem, SignatureProblem};

struct Component;

impl From<CodecError> for wit::CodecError {
    fn from(e: CodecError) -> Self {
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
            }),
        }
    }
}

type R<T> = Result<T, wit::CodecError>;

fn w<T>(r: crate::error::Result<T>) -> R<T> {
    r.map_err(Into::into)
}

impl wit::Guest for Component {
    fn main_chain_id() -> String {
        codec::MAIN_CHAIN_ID.to_string()
    }
    fn public_key_of(wif: String) -> R<String> {
        w(codec::public_key_of(&wif))
    }
    fn public_key_to_hex(public_key: String) -> R<String> {
        w(codec::public_key_hex(&public_key))
    }
    fn public_key_from_hex(sec1_hex: String) -> R<String> {
        w(codec::public_key_from_hex(&sec1_hex))
    }
    fn memo_encrypt(wif: String, to: String, nonce: u64, message: String) -> R<String> {
        w(codec::memo_encrypt(&wif, &to, nonce, &message))
    }
    fn memo_decrypt(wif: String, other: String, nonce: u64, message_hex: String) -> R<String> {
        w(codec::memo_decrypt(&wif, &other, nonce, &message_hex))
    }
    fn operation_hex(operation_json: String) -> R<String> {
        w(codec::operation_hex(&operation_json))
    }
    fn transaction_info(transaction_json: String, chain_id: String) -> R<wit::TxInfo> {
        w(codec::transaction_info(&transaction_json, &chain_id))
            .map(|i| wit::TxInfo { unsigned_hex: i.unsigned_hex, digest: i.digest, id: i.id })
    }
    fn sign_transaction(transaction_json: String, wif: String, chain_id: String) -> R<String> {
        w(codec::sign_transaction(&transaction_json, &wif, &chain_id))
    }
    fn transaction_signers(transaction_json: String, chain_id: String) -> R<Vec<String>> {
        w(codec::transaction_signers(&transaction_json, &chain_id))
    }
    fn sign_digest(digest: String, wif: String) -> R<String> {
        w(codec::sign_digest(&digest, &wif))
    }
    fn recover_signer(digest: String, signature: String) -> R<String> {
        w(codec::recover_signer(&digest, &signature))
    }
}

// Placeholder until the core lands: every call answers `not-configured`.
impl wapi::Guest for Component {
    fn configure(_c: wapi::Config, _k: wapi::Keys) -> Result<wapi::GatewayInfo, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn start_link(_u: String, _a: String) -> Result<wapi::LinkStarted, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn confirm_link(_u: String, _c: String) -> Result<wapi::LinkedAccount, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn unlink(_u: String) -> Result<(), wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn account(_u: String) -> Result<wapi::AccountView, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn deposit_instructions(_u: String) -> Result<wapi::DepositInfo, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn quote_deposit(_c: u64) -> Result<wapi::Quote, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn quote_withdrawal(_a: wapi::WithdrawalAmount) -> Result<wapi::Quote, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn adjust_balance(_u: String, _d: i64, _k: String, _r: String) -> Result<wapi::BalanceChange, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn request_withdrawal(_u: String, _a: wapi::WithdrawalAmount, _k: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn approve_withdrawal(_i: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn reject_withdrawal(_i: String, _r: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn get_withdrawal(_i: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn list_withdrawals(_f: wapi::WithdrawalFilter, _s: Option<String>, _l: u32) -> Result<Vec<wapi::Withdrawal>, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn list_unclaimed(_r: bool, _s: Option<String>, _l: u32) -> Result<Vec<wapi::UnclaimedDeposit>, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn assign_unclaimed(_d: String, _u: String) -> Result<wapi::UnclaimedDeposit, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn refund_unclaimed(_d: String, _n: String) -> Result<wapi::UnclaimedDeposit, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn status() -> Result<wapi::GatewayStatus, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
    fn tick() -> Result<wapi::TickReport, wapi::GatewayError> {
        Err(wapi::GatewayError::NotConfigured)
    }
}

export!(Component);
