//! Operations and transactions, and their Graphene binary form.
//!
//! Only what the gateway sends and reads: `transfer` (op 0) and `send_message` (op 61).
//! Extensions are always empty: we never write one, and we refuse to sign one we
//! cannot serialize.

use core::fmt;

use sha2::{Digest, Sha256};

use crate::error::{CodecError, FieldProblem, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::signing::{self, CompactSignature};

/// GRAPHENE_MAX_SHARE_SUPPLY: no amount on chain is larger.
pub const MAX_SHARE_SUPPLY: i64 = 1_000_000_000_000_000;
/// CWD, the core asset `1.3.0`, with 5 decimals.
pub const CORE_ASSET: AssetId = AssetId(0);
pub const CORE_ASSET_PRECISION: u32 = 5;

pub const OP_TRANSFER: u64 = 0;
pub const OP_SEND_MESSAGE: u64 = 61;

/// An account `1.2.N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u64);

/// An asset `1.3.N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asset {
    pub amount: i64,
    pub asset_id: AssetId,
}

impl Asset {
    pub fn cwd(amount: i64) -> Self {
        Asset { amount, asset_id: CORE_ASSET }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memo {
    pub from: PublicKey,
    pub to: PublicKey,
    pub nonce: u64,
    /// Ciphertext (see [`crate::memo`]).
    pub message: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub fee: Asset,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Asset,
    pub memo: Option<Memo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendMessage {
    pub fee: Asset,
    pub from: AccountId,
    pub to: AccountId,
    /// Required: a message without a memo is meaningless.
    pub memo: Memo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Transfer(Transfer),
    SendMessage(SendMessage),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub ref_block_num: u16,
    pub ref_block_prefix: u32,
    /// Seconds since the Unix epoch (UTC).
    pub expiration: u32,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signatures: Vec<CompactSignature>,
}

/// The binary writer Graphene's `fc::raw::pack` defines for the types we use.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn asset(&mut self, a: &Asset) {
        self.0.extend_from_slice(&a.amount.to_le_bytes());
        self.varint(a.asset_id.0);
    }
    fn memo(&mut self, m: &Memo) {
        self.0.extend_from_slice(&m.from.to_compressed());
        self.0.extend_from_slice(&m.to.to_compressed());
        self.0.extend_from_slice(&m.nonce.to_le_bytes());
        self.varint(m.message.len() as u64);
        self.0.extend_from_slice(&m.message);
    }
}

/// Reads what [`Writer`] writes; every read names the field it was reading in its error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.at;
        if n > left {
            return Err(CodecError::Length { field: field.into(), expected: n as u32, found: left as u32 });
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        Ok(self.take(N, field)?.try_into().expect("took N bytes"))
    }
    fn varint(&mut self, field: &str) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1, field)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                // One encoding per value: no padding bytes, nothing past 64 bits.
                let padded = b == 0 && shift > 0;
                let overflows = shift == 63 && b > 1;
                if padded || overflows {
                    return Err(CodecError::field(field, FieldProblem::OutOfRange, "not a minimal varint"));
                }
                return Ok(v);
            }
        }
        Err(CodecError::field(field, FieldProblem::OutOfRange, "varint longer than 64 bits"))
    }
    fn asset(&mut self, field: &str) -> Result<Asset> {
        let amount = i64::from_le_bytes(self.array(&format!("{field}.amount"))?);
        let asset_id = AssetId(self.varint(&format!("{field}.asset_id"))?);
        Ok(Asset { amount, asset_id })
    }
    fn key(&mut self, field: &str) -> Result<PublicKey> {
        PublicKey::from_sec1(&self.array::<33>(field)?).map_err(|e| e.at(field))
    }
    fn memo(&mut self, field: &str) -> Result<Memo> {
        let from = self.key(&format!("{field}.from"))?;
        let to = self.key(&format!("{field}.to"))?;
        let nonce = u64::from_le_bytes(self.array(&format!("{field}.nonce"))?);
        let len = self.varint(&format!("{field}.message"))?;
        let message = self.take(usize::try_from(len).unwrap_or(usize::MAX), &format!("{field}.message"))?.to_vec();
        Ok(Memo { from, to, nonce, message })
    }
    fn no_extensions(&mut self, field: &str) -> Result<()> {
        match self.varint(field)? {
            0 => Ok(()),
            n => Err(CodecError::field(field, FieldProblem::UnsupportedExtension, format!("{n} extensions"))),
        }
    }
    fn operation(&mut self, path: &str) -> Result<Operation> {
        let id = self.varint(&format!("{path}[0]"))?;
        let body = format!("{path}[1]");
        match id {
            OP_TRANSFER => {
                let fee = self.asset(&format!("{body}.fee"))?;
                let from = AccountId(self.varint(&format!("{body}.from"))?);
                let to = AccountId(self.varint(&format!("{body}.to"))?);
                let amount = self.asset(&format!("{body}.amount"))?;
                let memo = match self.take(1, &format!("{body}.memo"))?[0] {
                    0 => None,
                    1 => Some(self.memo(&format!("{body}.memo"))?),
                    _ => return Err(CodecError::field(&format!("{body}.memo"), FieldProblem::WrongType, "optional flag is neither 0 nor 1")),
                };
                self.no_extensions(&format!("{body}.extensions"))?;
                Ok(Operation::Transfer(Transfer { fee, from, to, amount, memo }))
            }
            OP_SEND_MESSAGE => {
                let fee = self.asset(&format!("{body}.fee"))?;
                let from = AccountId(self.varint(&format!("{body}.from"))?);
                let to = AccountId(self.varint(&format!("{body}.to"))?);
                let memo = self.memo(&format!("{body}.memo"))?;
                Ok(Operation::SendMessage(SendMessage { fee, from, to, memo }))
            }
            other => Err(CodecError::field(&format!("{path}[0]"), FieldProblem::UnknownOperation, format!("operation {other}"))),
        }
    }
}

/// `path` is spelled out only for an error: the checks run on every operation parsed.
fn check_amount(path: impl FnOnce() -> String, value: i64, min: i64) -> Result<()> {
    if value < min || value > MAX_SHARE_SUPPLY {
        return Err(CodecError::field(
            &path(),
            FieldProblem::OutOfRange,
            format!("amount {value} is outside {min}..={MAX_SHARE_SUPPLY}"),
        ));
    }
    Ok(())
}

fn check_accounts(path: &impl fmt::Display, from: AccountId, to: AccountId) -> Result<()> {
    if from == to {
        return Err(CodecError::field(&path.to_string(), FieldProblem::SameAccount, "from and to are the same account"));
    }
    Ok(())
}

impl Operation {
    /// The static-variant tag of the operation.
    pub fn id(&self) -> u64 {
        match self {
            Operation::Transfer(_) => OP_TRANSFER,
            Operation::SendMessage(_) => OP_SEND_MESSAGE,
        }
    }

    pub fn fee(&self) -> &Asset {
        match self {
            Operation::Transfer(t) => &t.fee,
            Operation::SendMessage(m) => &m.fee,
        }
    }

    /// The account that pays the fee and must sign.
    pub fn fee_payer(&self) -> AccountId {
        match self {
            Operation::Transfer(t) => t.from,
            Operation::SendMessage(m) => m.from,
        }
    }

    /// The checks a node's `validate()` makes; `path` names the operation in errors (and
    /// is spelled out only for one).
    pub fn validate(&self, path: impl fmt::Display) -> Result<()> {
        check_amount(|| format!("{path}.fee.amount"), self.fee().amount, 0)?;
        match self {
            Operation::Transfer(t) => {
                check_amount(|| format!("{path}.amount.amount"), t.amount.amount, 1)?;
                check_accounts(&path, t.from, t.to)
            }
            Operation::SendMessage(m) => check_accounts(&path, m.from, m.to),
        }
    }

    pub fn write(&self, w: &mut Writer) {
        w.varint(self.id());
        match self {
            Operation::Transfer(t) => {
                w.asset(&t.fee);
                w.varint(t.from.0);
                w.varint(t.to.0);
                w.asset(&t.amount);
                match &t.memo {
                    None => w.0.push(0),
                    Some(m) => {
                        w.0.push(1);
                        w.memo(m);
                    }
                }
                w.varint(0); // extensions
            }
            Operation::SendMessage(m) => {
                w.asset(&m.fee);
                w.varint(m.from.0);
                w.varint(m.to.0);
                w.memo(&m.memo);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.write(&mut w);
        w.0
    }
}

impl Transaction {
    /// The packed transaction without signatures.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.0.extend_from_slice(&self.ref_block_num.to_le_bytes());
        w.0.extend_from_slice(&self.ref_block_prefix.to_le_bytes());
        w.0.extend_from_slice(&self.expiration.to_le_bytes());
        w.varint(self.operations.len() as u64);
        for op in &self.operations {
            op.write(&mut w);
        }
        w.varint(0); // extensions
        w.0
    }

    /// The transaction [`Transaction::to_bytes`] packed, read back: for a signer that must
    /// read what it signs. Only `transfer` and `send_message` are known (any other
    /// operation is [`FieldProblem::UnknownOperation`], its id in the detail), nothing may
    /// follow, and the bytes must be exactly what the result packs to (so a signer that
    /// checks the result signs nothing it did not read). Validated as [`Transaction::sign`]
    /// would.
    pub fn from_bytes(bytes: &[u8]) -> Result<Transaction> {
        let mut r = Reader { bytes, at: 0 };
        let ref_block_num = u16::from_le_bytes(r.array("ref_block_num")?);
        let ref_block_prefix = u32::from_le_bytes(r.array("ref_block_prefix")?);
        let expiration = u32::from_le_bytes(r.array("expiration")?);
        let count = r.varint("operations")?;
        // Every operation takes at least 10 bytes: a count past that is a lie.
        if count > (bytes.len() / 10) as u64 {
            return Err(CodecError::field("operations", FieldProblem::OutOfRange, format!("{count} operations in {} bytes", bytes.len())));
        }
        let mut operations = Vec::with_capacity(count as usize);
        for i in 0..count {
            operations.push(r.operation(&format!("operations[{i}]"))?);
        }
        r.no_extensions("extensions")?;
        if r.at != bytes.len() {
            return Err(CodecError::Length { field: "transaction".into(), expected: r.at as u32, found: bytes.len() as u32 });
        }
        let tx = Transaction { ref_block_num, ref_block_prefix, expiration, operations };
        if tx.to_bytes() != bytes {
            return Err(CodecError::field("transaction", FieldProblem::OutOfRange, "not in the one packed form"));
        }
        tx.validate()?;
        Ok(tx)
    }

    /// What is signed: sha256(chain id ‖ packed transaction).
    pub fn digest(&self, chain_id: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(chain_id);
        h.update(self.to_bytes());
        h.finalize().into()
    }

    /// The transaction id: the first 20 bytes of sha256(packed transaction).
    pub fn id(&self) -> [u8; 20] {
        let full = Sha256::digest(self.to_bytes());
        let mut id = [0u8; 20];
        id.copy_from_slice(&full[..20]);
        id
    }

    pub fn validate(&self) -> Result<()> {
        if self.operations.is_empty() {
            return Err(CodecError::field("operations", FieldProblem::Missing, "a transaction needs at least one operation"));
        }
        struct Body(usize);
        impl fmt::Display for Body {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "operations[{}][1]", self.0)
            }
        }
        for (i, op) in self.operations.iter().enumerate() {
            op.validate(Body(i))?;
        }
        Ok(())
    }

    /// Validates and signs with one key. The signature is checked before it is given
    /// out ([`signing::sign_digest`]): a transaction whose signature fails never exists.
    pub fn sign(self, key: &PrivateKey, chain_id: &[u8; 32]) -> Result<SignedTransaction> {
        self.validate()?;
        let signature = signing::sign_digest(key, &self.digest(chain_id))?;
        Ok(SignedTransaction { tx: self, signatures: vec![signature] })
    }
}

impl SignedTransaction {
    /// The public keys that signed, in signature order.
    pub fn signers(&self, chain_id: &[u8; 32]) -> Result<Vec<PublicKey>> {
        let digest = self.tx.digest(chain_id);
        self.signatures.iter().map(|s| signing::recover(&digest, s)).collect()
    }
}

/// TaPoS fields from a block id (hex, 20 bytes): the low 16 bits of its block number
/// and the little-endian u32 at bytes 4..8.
pub fn tapos_from_block_id(block_id_hex: &str) -> Result<(u16, u32)> {
    let id: [u8; 20] = crate::error::hex_array("block id", block_id_hex)?;
    let num = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let prefix = u32::from_le_bytes([id[4], id[5], id[6], id[7]]);
    Ok((num as u16, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_leb128() {
        for (v, bytes) in [(0u64, vec![0u8]), (127, vec![0x7f]), (128, vec![0x80, 1]), (743412, vec![0xf4, 0xaf, 0x2d])] {
            let mut w = Writer::default();
            w.varint(v);
            assert_eq!(w.0, bytes);
        }
    }

    #[test]
    fn validation_refuses_what_nodes_refuse() {
        let t = |fee, amount, from, to| {
            Operation::Transfer(Transfer {
                fee: Asset::cwd(fee),
                from: AccountId(from),
                to: AccountId(to),
                amount: Asset::cwd(amount),
                memo: None,
            })
            .validate("op")
        };
        assert!(t(1, 1, 1, 2).is_ok());
        assert!(matches!(t(-1, 1, 1, 2), Err(CodecError::Field { problem: FieldProblem::OutOfRange, .. })));
        assert!(matches!(t(1, 0, 1, 2), Err(CodecError::Field { problem: FieldProblem::OutOfRange, .. })));
        assert!(matches!(t(1, MAX_SHARE_SUPPLY + 1, 1, 2), Err(CodecError::Field { problem: FieldProblem::OutOfRange, .. })));
        assert!(matches!(t(1, 1, 2, 2), Err(CodecError::Field { problem: FieldProblem::SameAccount, .. })));
    }

    #[test]
    fn tapos_from_block_id_reads_number_and_prefix() {
        let (num, prefix) = tapos_from_block_id("0001c50ba2b0b0ee0000000000000000000000ff").unwrap();
        assert_eq!(num, 0xc50b);
        assert_eq!(prefix, u32::from_le_bytes([0xa2, 0xb0, 0xb0, 0xee]));
    }
}
