//! The component's `codec` export, as plain Rust calls. Every call runs inside the
//! `.wasm` with the instance's time budget.

use std::fmt;

use crate::bindings::{CodecError, FieldProblem, KeyProblem, SignatureProblem, TxInfo, EncryptedMemo};
use crate::runtime::Instance;

/// A codec call failed: the input was bad, or the component itself failed (a trap,
/// the time budget ran out, memory exhausted).
#[derive(Debug)]
pub enum CallError {
    Invalid(CodecError),
    Component(anyhow::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Invalid(e) => write!(f, "{}", describe(e)),
            CallError::Component(e) => write!(f, "the gateway component failed: {e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A sentence for a person: what is wrong and where.
pub fn describe(e: &CodecError) -> String {
    match e {
        CodecError::BadKey(k) => {
            let what = match k.problem {
                KeyProblem::NotBase58 => "is not base58 text",
                KeyProblem::BadChecksum => "has a bad checksum (mistyped or truncated?)",
                KeyProblem::BadLength => "has the wrong length",
                KeyProblem::BadVersion => "is not a WIF private key (version byte is not 0x80)",
                KeyProblem::WrongPrefix => "does not start with the chain prefix CWD",
                KeyProblem::NotOnCurve => "is not a point on secp256k1",
                KeyProblem::OutOfRange => "is zero or not below the curve order",
            };
            format!("{} {what}", k.field)
        }
        CodecError::BadHex(field) => format!("{field} is not valid hex"),
        CodecError::BadLength(l) => format!("{} must be {} bytes, found {}", l.field, l.expected, l.found),
        CodecError::MemoWrongKey => "memo does not decrypt with these keys: check the private key, the other side's public key and the nonce".into(),
        CodecError::MemoNotUtf8 => "memo decrypted but is not UTF-8 text".into(),
        CodecError::MemoTooLong(max) => format!("memo is too long: at most {max} bytes"),
        CodecError::MemoBadCiphertext(n) => format!("memo ciphertext is {n} bytes; it must be a non-empty multiple of 16"),
        CodecError::BadJson(detail) => format!("not valid JSON: {detail}"),
        CodecError::BadField(f) => {
            let kind = match f.problem {
                FieldProblem::Missing => "missing",
                FieldProblem::WrongType => "wrong type",
                FieldProblem::UnknownOperation => "unknown operation",
                FieldProblem::OutOfRange => "out of range",
                FieldProblem::BadObjectId => "bad object id",
                FieldProblem::BadTime => "bad time",
                FieldProblem::SameAccount => "same account",
                FieldProblem::UnsupportedExtension => "unsupported extension",
            };
            format!("{} ({kind}): {}", f.path, f.detail)
        }
        CodecError::BadSignature(p) => match p {
            SignatureProblem::Malformed => "signature is malformed".into(),
            SignatureProblem::NotCanonical => "signature is not canonical; nodes reject it".into(),
            SignatureProblem::Unrecoverable => "no public key recovers from this signature and digest".into(),
            SignatureProblem::SelfCheckFailed => "a signature made did not verify against its key and was withheld (a fault while signing)".into(),
        },
    }
}

pub type CallResult<T> = Result<T, CallError>;

/// Borrows an instance to call its codec.
pub struct Codec<'a>(&'a mut Instance);

impl Instance {
    pub fn codec(&mut self) -> Codec<'_> {
        Codec(self)
    }
}

macro_rules! codec_calls {
    ($( $(#[$doc:meta])* fn $name:ident => $call:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        impl Codec<'_> {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, $($arg: $ty),*) -> CallResult<$ret> {
                    self.0.arm();
                    let inst = &mut *self.0;
                    inst.gateway
                        .crowdwiz_gateway_codec()
                        .$call(&mut inst.store, $($arg),*)
                        .map_err(|e| CallError::Component(e.into()))?
                        .map_err(CallError::Invalid)
                }
            )*
        }
    };
}

codec_calls! {
    /// The `CWD…` public key of a WIF.
    fn public_key_of => call_public_key_of(wif: &str) -> String;
    fn public_key_to_hex => call_public_key_to_hex(public_key: &str) -> String;
    fn public_key_from_hex => call_public_key_from_hex(sec1_hex: &str) -> String;
    /// A memo from the holder of `wif` to `to`: its nonce (`None`: drawn at random by the
    /// component) and ciphertext hex.
    fn memo_encrypt => call_memo_encrypt(wif: &str, to: &str, nonce: Option<u64>, message: &str) -> EncryptedMemo;
    fn memo_decrypt => call_memo_decrypt(wif: &str, other: &str, nonce: u64, message_hex: &str) -> String;
    fn operation_hex => call_operation_hex(operation_json: &str) -> String;
    fn transaction_info => call_transaction_info(transaction_json: &str, chain_id: &str) -> TxInfo;
    /// The signed transaction JSON, as `broadcast_transaction` takes it.
    fn sign_transaction => call_sign_transaction(transaction_json: &str, wif: &str, chain_id: &str) -> String;
    fn transaction_signers => call_transaction_signers(transaction_json: &str, chain_id: &str) -> Vec<String>;
    fn sign_digest => call_sign_digest(digest: &str, wif: &str) -> String;
    fn recover_signer => call_recover_signer(digest: &str, signature: &str) -> String;
}

impl Codec<'_> {
    pub fn main_chain_id(&mut self) -> CallResult<String> {
        self.0.arm();
        let inst = &mut *self.0;
        inst.gateway.crowdwiz_gateway_codec().call_main_chain_id(&mut inst.store).map_err(|e| CallError::Component(e.into()))
    }
}
