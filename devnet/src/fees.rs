//! Required fees, computed like Graphene's `calculate_fee` for the two operations.

use cwd_gateway::ops::{Memo, Operation};

use crate::config::Fees;

/// `fc::raw::pack_size(memo)`: two 33-byte keys, the u64 nonce, the length varint and
/// the ciphertext.
pub fn memo_pack_size(m: &Memo) -> u64 {
    let len = m.message.len() as u64;
    let mut varint = 1;
    let mut v = len >> 7;
    while v > 0 {
        varint += 1;
        v >>= 7;
    }
    33 + 33 + 8 + varint + len
}

/// `calculate_data_fee`: bytes * price_per_kbyte / 1024, rounded down.
fn data_fee(bytes: u64, per_kbyte: i64) -> i64 {
    ((bytes as i128 * per_kbyte as i128) / 1024) as i64
}

/// The fee (CWD units) a node requires for `op`.
pub fn required_fee(fees: &Fees, op: &Operation) -> i64 {
    match op {
        Operation::Transfer(t) => {
            fees.transfer + t.memo.as_ref().map_or(0, |m| data_fee(memo_pack_size(m), fees.transfer_per_kbyte))
        }
        Operation::SendMessage(m) => fees.send_message + data_fee(memo_pack_size(&m.memo), fees.send_message_per_kbyte),
    }
}

/// The fee of an operation the devnet applies itself.
pub fn chain_op_fee(fees: &Fees, op: &crate::ops::ChainOp) -> i64 {
    use crate::ops::ChainOp;
    match op {
        ChainOp::Codec(op) => required_fee(fees, op),
        ChainOp::ProposalCreate { .. } | ChainOp::ProposalUpdate { .. } => fees.proposal,
        ChainOp::MassPayment { payments, .. } => {
            fees.mass_payment.saturating_add(fees.mass_payment_per_transfer.saturating_mul(payments.len() as i64))
        }
        ChainOp::MassPaymentPay { .. } | ChainOp::AccountCreate { .. } => 0,
    }
}
