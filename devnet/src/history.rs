//! Operation history: `operation_history_object`s (`1.11.N`, this node's own numbering)
//! and the two paging rules of BitShares' `history_api`.

use serde_json::{json, Value};

use crate::ops::ChainOp;

/// An `operation_history_object` as `database::push_applied_operation` (db_block.cpp)
/// fills it: the position of the transaction's operation that caused it (an operation a
/// proposal or a mass payment runs shares its parent's position) and the node's own
/// `_current_virtual_op` counter, which tells such operations apart.
#[derive(Clone, Debug)]
pub struct OpHistory {
    /// The N of `1.11.N`.
    pub instance: u64,
    pub op: ChainOp,
    /// `operation_result`: `[0, {}]` (void) or `[1, "1.10.N"]` (a created object).
    pub result: Value,
    pub block_num: u32,
    pub trx_in_block: u32,
    pub op_in_trx: u32,
    pub virtual_op: u32,
}

impl OpHistory {
    pub fn to_json(&self) -> Value {
        json!({
            "id": format!("1.11.{}", self.instance),
            "op": self.op.to_json(),
            "result": self.result,
            "block_num": self.block_num,
            "trx_in_block": self.trx_in_block,
            "op_in_trx": self.op_in_trx,
            "virtual_op": self.virtual_op,
        })
    }
}

/// `get_account_history(account, stop, limit, start)` over one account's history
/// instances (ascending). Newest first; ids in (stop, start], start 0 meaning "the
/// newest"; and, as BitShares does, `1.11.0` itself when `stop` is 0 and room is left.
pub fn absolute(instances: &[u64], stop: u64, limit: usize, start: u64) -> Vec<u64> {
    let start = if start == 0 { u64::MAX } else { start };
    if start < stop {
        return Vec::new();
    }
    let mut out: Vec<u64> =
        instances.iter().rev().copied().filter(|&i| i <= start && i > stop).take(limit).collect();
    if stop == 0 && out.len() < limit && instances.first() == Some(&0) {
        out.push(0);
    }
    out
}

/// `get_relative_account_history(account, stop, limit, start)` (api.cpp): per-account
/// sequence numbers 1..=total of which the first `removed` were pruned; start 0 (or past
/// the end) = the newest; both ends inclusive; returns sequence numbers, newest first.
pub fn relative(total: u64, removed: u64, stop: u64, limit: usize, start: u64) -> Vec<u64> {
    let start = if start == 0 { total } else { start.min(total) };
    if start < stop || start <= removed || limit == 0 {
        return Vec::new();
    }
    let low = stop.max(removed + 1);
    (low..=start).rev().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_pages_newest_first() {
        let ids: Vec<u64> = (10..=250).step_by(2).collect(); // 121 entries
        let first = absolute(&ids, 0, 100, 0);
        assert_eq!(first.len(), 100);
        assert_eq!(first[0], 250);
        assert_eq!(*first.last().unwrap(), 52);
        // Next page: start below the last one seen.
        let second = absolute(&ids, 0, 100, 51);
        assert_eq!(second, (10..=50).rev().step_by(2).collect::<Vec<_>>());
        // stop is exclusive.
        assert_eq!(absolute(&ids, 240, 100, 0), vec![250, 248, 246, 244, 242]);
        // start inclusive and need not exist.
        assert_eq!(absolute(&ids, 0, 2, 245), vec![244, 242]);
        assert!(absolute(&ids, 100, 10, 50).is_empty());
        // Object 0 is included when stop is 0.
        assert_eq!(absolute(&[0, 3], 0, 10, 0), vec![3, 0]);
        assert_eq!(absolute(&[0, 3], 0, 1, 0), vec![3]);
    }

    #[test]
    fn relative_is_inclusive_and_clamped() {
        assert_eq!(relative(5, 0, 0, 100, 0), vec![5, 4, 3, 2, 1]);
        assert_eq!(relative(5, 0, 2, 100, 4), vec![4, 3, 2]);
        assert_eq!(relative(5, 0, 1, 2, 0), vec![5, 4]);
        assert_eq!(relative(5, 0, 0, 100, 99), vec![5, 4, 3, 2, 1]);
        assert!(relative(5, 0, 6, 100, 0).is_empty());
        assert!(relative(0, 0, 0, 100, 0).is_empty());
        assert!(relative(5, 0, 0, 0, 0).is_empty());
        // Pruned entries are gone; a start inside them finds nothing.
        assert_eq!(relative(5, 3, 0, 100, 0), vec![5, 4]);
        assert_eq!(relative(5, 3, 1, 100, 4), vec![4]);
        assert!(relative(5, 3, 0, 100, 3).is_empty());
    }
}
