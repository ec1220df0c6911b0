//! Blocks: ids in Graphene's form (the first 4 bytes are the block number, big-endian),
//! and their header and full JSON as `get_block_header` / `get_block` return them.

use cwd_gateway::json::{format_time, write_transaction};
use cwd_gateway::ops::SignedTransaction;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ops::ChainOp;
use crate::state::Change;

/// A transaction in a block or in the pending pool: one a client signed, or one the
/// devnet's helpers put there for operations no client of the devnet signs (proposals,
/// mass payments), applied as the chain would after a valid transaction.
#[derive(Clone, Debug)]
pub enum BlockTx {
    Signed(SignedTransaction),
    Chain(ChainTx),
}

#[derive(Clone, Debug)]
pub struct ChainTx {
    /// Random: it has no signed form to hash.
    pub id: [u8; 20],
    pub expiration: u32,
    pub ops: Vec<ChainOp>,
}

impl BlockTx {
    pub fn id(&self) -> [u8; 20] {
        match self {
            BlockTx::Signed(st) => st.tx.id(),
            BlockTx::Chain(c) => c.id,
        }
    }

    pub fn expiration(&self) -> u32 {
        match self {
            BlockTx::Signed(st) => st.tx.expiration,
            BlockTx::Chain(c) => c.expiration,
        }
    }

    pub fn ops(&self) -> Vec<ChainOp> {
        match self {
            BlockTx::Signed(st) => st.tx.operations.iter().cloned().map(ChainOp::Codec).collect(),
            BlockTx::Chain(c) => c.ops.clone(),
        }
    }

    pub fn signed(&self) -> Option<&SignedTransaction> {
        match self {
            BlockTx::Signed(st) => Some(st),
            BlockTx::Chain(_) => None,
        }
    }

    /// The `signed_transaction` JSON (a helper's transaction has no signatures).
    pub fn to_json(&self) -> Value {
        match self {
            BlockTx::Signed(st) => write_transaction(st),
            BlockTx::Chain(c) => json!({
                "ref_block_num": 0,
                "ref_block_prefix": 0,
                "expiration": format_time(c.expiration),
                "operations": c.ops.iter().map(ChainOp::to_json).collect::<Vec<_>>(),
                "extensions": [],
                "signatures": [],
            }),
        }
    }
}

/// The witness every devnet block is signed by (the first witness object).
pub const WITNESS: &str = "1.6.1";

#[derive(Clone, Debug)]
pub struct Block {
    pub num: u32,
    pub id: [u8; 20],
    pub previous: [u8; 20],
    /// Unix seconds.
    pub time: u32,
    pub transactions: Vec<BlockTx>,
    /// `operation_results`, per transaction.
    pub results: Vec<Vec<Value>>,
    /// What applying the block changed, to undo it in a reorganisation.
    pub(crate) undo: Vec<Change>,
}

/// A block id: number ‖ 16 bytes of sha256 over what makes the block unique. `fork`
/// changes after every reorganisation, so a replacement block at the same height gets
/// a new id and TaPoS that named the dropped block fails, as on a real chain.
pub fn block_id(num: u32, previous: &[u8; 20], time: u32, tx_ids: &[[u8; 20]], fork: u64) -> [u8; 20] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(num.to_le_bytes());
    h.update(time.to_le_bytes());
    h.update(fork.to_le_bytes());
    for id in tx_ids {
        h.update(id);
    }
    let digest = h.finalize();
    let mut id = [0u8; 20];
    id[..4].copy_from_slice(&num.to_be_bytes());
    id[4..].copy_from_slice(&digest[..16]);
    id
}

/// The TaPoS prefix of a block id: the little-endian u32 at bytes 4..8.
pub fn tapos_prefix(id: &[u8; 20]) -> u32 {
    u32::from_le_bytes([id[4], id[5], id[6], id[7]])
}

impl Block {
    /// Block 0: the state before the first block, with an all-zero id.
    pub fn genesis(time: u32) -> Self {
        Block { num: 0, id: [0; 20], previous: [0; 20], time, transactions: Vec::new(), results: Vec::new(), undo: Vec::new() }
    }

    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    fn merkle_root(&self) -> String {
        if self.transactions.is_empty() {
            return hex::encode([0u8; 20]);
        }
        let mut h = Sha256::new();
        for tx in &self.transactions {
            h.update(tx.id());
        }
        hex::encode(&h.finalize()[..20])
    }

    pub fn header_json(&self) -> Value {
        json!({
            "previous": hex::encode(self.previous),
            "timestamp": format_time(self.time),
            "witness": WITNESS,
            "transaction_merkle_root": self.merkle_root(),
            "extensions": [],
        })
    }

    /// Transaction `i` as a processed transaction (with `operation_results`).
    pub fn transaction_json(&self, i: usize) -> Value {
        let (Some(tx), Some(results)) = (self.transactions.get(i), self.results.get(i)) else { return Value::Null };
        let mut t = tx.to_json();
        t.as_object_mut().expect("transaction is an object").insert("operation_results".into(), json!(results));
        t
    }

    /// `signed_block` (protocol/block.hpp) as database_api.cpp's `get_block` returns
    /// it: the header, `witness_signature` and the processed transactions.
    pub fn to_json(&self) -> Value {
        let mut v = self.header_json();
        let o = v.as_object_mut().expect("header is an object");
        o.insert("witness_signature".into(), json!(hex::encode([0u8; 65])));
        let txs: Vec<Value> = (0..self.transactions.len()).map(|i| self.transaction_json(i)).collect();
        o.insert("transactions".into(), json!(txs));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_starts_with_number_and_fork_changes_it() {
        let a = block_id(0x01020304, &[0; 20], 10, &[], 0);
        assert_eq!(&a[..4], &[1, 2, 3, 4]);
        assert_ne!(a, block_id(0x01020304, &[0; 20], 10, &[], 1));
        let (num, prefix) = cwd_gateway::ops::tapos_from_block_id(&hex::encode(a)).unwrap();
        assert_eq!(num, 0x0304);
        assert_eq!(prefix, tapos_prefix(&a));
    }
}
