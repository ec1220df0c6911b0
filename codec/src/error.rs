//! The codec's one error type. Every case names what was wrong and where, so a caller
//! can tell its user what to fix; none carries secret material.

use core::fmt;

/// Why a key text or key bytes were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Not base58 text.
    NotBase58,
    /// The checksum does not match: the key was mistyped or truncated.
    BadChecksum,
    /// The decoded key has the wrong number of bytes.
    BadLength,
    /// A WIF whose version byte is not 0x80.
    BadVersion,
    /// A public key without the chain's `CWD` prefix.
    WrongPrefix,
    /// Public key bytes that are not a point on secp256k1.
    NotOnCurve,
    /// A private key that is zero or not below the curve order.
    OutOfRange,
}

/// Why a field of a JSON transaction was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldProblem {
    Missing,
    WrongType,
    UnknownOperation,
    OutOfRange,
    BadObjectId,
    BadTime,
    SameAccount,
    UnsupportedExtension,
}

/// Why a signature was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// Header byte outside 27..=34 or r/s not valid scalars.
    Malformed,
    /// Valid ECDSA, but nodes refuse it (Graphene canonical rule).
    NotCanonical,
    /// No public key can be recovered from it for this digest.
    Unrecoverable,
    /// A signature just made did not check out against the key that made it (a fault in
    /// the computation): it was not given out. Nothing was signed; try again, and if it
    /// happens again, the machine is faulty.
    SelfCheckFailed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    Key { field: String, problem: KeyProblem },
    Hex { field: String },
    Length { field: String, expected: u32, found: u32 },
    /// The memo does not decrypt with this key pair (wrong key, wrong nonce or corrupted).
    MemoWrongKey,
    /// The memo decrypted and its checksum matched, but it is not UTF-8 text.
    MemoNotUtf8,
    MemoTooLong { max: u32, found: u32 },
    /// Ciphertext empty or not a whole number of AES blocks.
    MemoCiphertext { found: u32 },
    /// The text is not JSON at all.
    Json { detail: String },
    Field { path: String, problem: FieldProblem, detail: String },
    Signature { problem: SignatureProblem },
}

impl CodecError {
    pub(crate) fn field(path: &str, problem: FieldProblem, detail: impl Into<String>) -> Self {
        CodecError::Field { path: path.to_string(), problem, detail: detail.into() }
    }

    pub(crate) fn key(field: &str, problem: KeyProblem) -> Self {
        CodecError::Key { field: field.to_string(), problem }
    }

    /// Re-labels a key, hex or length error with the place it came from.
    pub fn at(self, path: &str) -> Self {
        match self {
            CodecError::Key { problem, .. } => CodecError::Key { field: path.into(), problem },
            CodecError::Hex { .. } => CodecError::Hex { field: path.into() },
            CodecError::Length { expected, found, .. } => {
                CodecError::Length { field: path.into(), expected, found }
            }
            other => other,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CodecError::*;
        match self {
            Key { field, problem } => {
                let what = match problem {
                    KeyProblem::NotBase58 => "is not base58 text",
                    KeyProblem::BadChecksum => "has a bad checksum (mistyped or truncated?)",
                    KeyProblem::BadLength => "has the wrong length",
                    KeyProblem::BadVersion => "is not a WIF private key (version byte is not 0x80)",
                    KeyProblem::WrongPrefix => "does not start with the chain prefix CWD",
                    KeyProblem::NotOnCurve => "is not a point on secp256k1",
                    KeyProblem::OutOfRange => "is zero or not below the curve order",
                };
                write!(f, "{field} {what}")
            }
            Hex { field } => write!(f, "{field} is not valid hex"),
            Length { field, expected, found } => {
                write!(f, "{field} must be {expected} bytes, found {found}")
            }
            MemoWrongKey => write!(
                f,
                "memo does not decrypt with these keys: check the private key, the other side's public key and the nonce"
            ),
            MemoNotUtf8 => write!(f, "memo decrypted but is not UTF-8 text"),
            MemoTooLong { max, found } => {
                write!(f, "memo is {found} bytes; at most {max} fit in a transaction")
            }
            MemoCiphertext { found } => write!(
                f,
                "memo ciphertext is {found} bytes; it must be a non-empty multiple of 16"
            ),
            Json { detail } => write!(f, "not valid JSON: {detail}"),
            Field { path, detail, .. } => write!(f, "{path}: {detail}"),
            Signature { problem } => match problem {
                SignatureProblem::Malformed => write!(f, "signature is malformed"),
                SignatureProblem::NotCanonical => write!(f, "signature is not canonical; nodes reject it"),
                SignatureProblem::Unrecoverable => write!(f, "no public key recovers from this signature and digest"),
                SignatureProblem::SelfCheckFailed => write!(f, "the signature made did not verify against its key and was withheld (a fault while signing)"),
            },
        }
    }
}

impl std::error::Error for CodecError {}

pub type Result<T> = core::result::Result<T, CodecError>;

/// Decodes hex of any length, naming the field on failure.
pub fn hex_bytes(field: &str, text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|_| CodecError::Hex { field: field.into() })
}

/// Decodes hex of exactly `N` bytes.
pub fn hex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N]> {
    let bytes = hex_bytes(field, text)?;
    let found = bytes.len() as u32;
    bytes
        .try_into()
        .map_err(|_| CodecError::Length { field: field.into(), expected: N as u32, found })
}
