//! What a block changed, as a node tells its subscribers: db_notify.cpp
//! `database::notify_changed_objects` (run at the end of db_block.cpp `_apply_block`, after
//! `applied_block`; crowdwiz-core does not run it for pending transactions) hands
//! database_api.cpp three lists — the objects the block created, changed and removed —
//! each with the union of the accounts its objects concern (`get_relevant_accounts`).
//! `database_api_impl::handle_object_changed` then sends a subscriber every id of a list
//! when that union holds an account it subscribed to with `get_full_accounts`, else only
//! the ids it subscribed to itself (`subscribe_to_item`: `get_objects`, `get_accounts`,
//! `get_assets`…), and new and removed ids always with `set_subscribe_callback(cb,
//! true)`. New and changed objects go as the objects, removed ones as ids.
//!
//! The devnet reads the lists from the block's undo log. The objects it keeps: `1.2.N`,
//! `1.3.N`, `1.10.N`, `1.11.N`, `2.0.0`, `2.1.0`, `2.3.N`, `2.5.N`, `2.6.N`, `2.8.N`,
//! `2.9.N`, `2.11.0`. A node's `2.7.N` transaction objects (kept for duplicate checks until
//! expiry) and the witness objects a block touches are not among them.

use std::collections::{BTreeMap, BTreeSet};

use cwd_gateway::ops::{AccountId, AssetId, CORE_ASSET};

use crate::ops::ChainOp;
use crate::proposals::Proposal;
use crate::state::{Change, State};

/// An object id ordered as `object_id_type` is (space, type, instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId(pub u8, pub u8, pub u64);

impl ObjectId {
    pub fn text(&self) -> String {
        format!("{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One of the three lists: ids in `object_id_type` order, and the accounts they concern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectList {
    pub ids: Vec<ObjectId>,
    pub accounts: BTreeSet<u64>,
}

/// What one block created, changed and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockChanges {
    pub new: ObjectList,
    pub changed: ObjectList,
    pub removed: ObjectList,
}

#[derive(Default)]
struct Acc {
    new: BTreeMap<ObjectId, BTreeSet<u64>>,
    changed: BTreeMap<ObjectId, BTreeSet<u64>>,
    removed: BTreeMap<ObjectId, BTreeSet<u64>>,
}

impl Acc {
    /// An object modified: reported as changed unless the block created it (the undo
    /// session keeps only its creation).
    fn changed(&mut self, id: ObjectId, accounts: impl IntoIterator<Item = u64>) {
        if !self.new.contains_key(&id) {
            self.changed.entry(id).or_default().extend(accounts);
        }
    }

    fn created(&mut self, id: ObjectId, accounts: impl IntoIterator<Item = u64>) {
        self.new.entry(id).or_default().extend(accounts);
    }

    /// An object removed: created and removed in one block, it is neither; changed and
    /// then removed, it is removed.
    fn removed(&mut self, id: ObjectId, accounts: impl IntoIterator<Item = u64>) {
        if self.new.remove(&id).is_some() {
            return;
        }
        let mut all: BTreeSet<u64> = self.changed.remove(&id).unwrap_or_default();
        all.extend(accounts);
        self.removed.entry(id).or_default().extend(all);
    }
}

fn list(m: BTreeMap<ObjectId, BTreeSet<u64>>) -> ObjectList {
    let mut out = ObjectList::default();
    for (id, accounts) in m {
        out.ids.push(id);
        out.accounts.extend(accounts);
    }
    out
}

/// `transaction_get_impacted_accounts` of a proposal's transaction (a proposal object's
/// relevant accounts; the proposer is not among them).
fn proposal_accounts(p: &Proposal) -> Vec<u64> {
    p.ops.iter().flat_map(|op| ChainOp::Codec(op.clone()).impacted()).map(|a| a.0).collect()
}

/// The changes of block `num` of the current chain (none for block 0 or beyond the head).
pub fn block_changes(state: &State, num: u32) -> BlockChanges {
    let Some(block) = state.block(num).filter(|_| num > 0) else { return BlockChanges::default() };
    let mut acc = Acc::default();
    // update_global_dynamic_data and create_block_summary, every block.
    acc.changed(ObjectId(2, 1, 0), []);
    acc.changed(ObjectId(2, 8, u64::from(num & 0xffff)), []);
    for change in &block.undo {
        match change {
            Change::BalanceCreated { account, asset } => {
                let id = state.balance_object_id(AccountId(*account), AssetId(*asset));
                acc.created(ObjectId(2, 5, id), [*account]);
            }
            Change::Balance { account, asset, .. } => {
                let id = state.balance_object_id(AccountId(*account), AssetId(*asset));
                acc.changed(ObjectId(2, 5, id), [*account]);
                if *asset == CORE_ASSET.0 {
                    // account_statistics_object::core_in_balance follows the CWD balance.
                    acc.changed(ObjectId(2, 6, *account), [*account]);
                }
            }
            Change::FeesBurned(_) => acc.changed(ObjectId(2, 3, 0), []),
            Change::History(instance) => {
                let accounts = state.history_object(*instance).map(|h| h.op.impacted()).unwrap_or_default();
                acc.created(ObjectId(1, 11, *instance), accounts.into_iter().map(|a| a.0));
            }
            Change::EntryAdded { account, ath } => {
                acc.created(ObjectId(2, 9, *ath), [*account]);
                acc.changed(ObjectId(2, 6, *account), [*account]);
            }
            Change::EntryRemoved { account, ath, .. } => {
                acc.removed(ObjectId(2, 9, *ath), [*account]);
                acc.changed(ObjectId(2, 6, *account), [*account]);
                // The next oldest entry's `next` is cleared.
                if let Some(oldest) = state.oldest_history_entry(*account) {
                    acc.changed(ObjectId(2, 9, oldest), [*account]);
                }
            }
            Change::ProposalCreated(id) => {
                let accounts = state.proposal(*id).map(proposal_accounts).unwrap_or_default();
                acc.created(ObjectId(1, 10, *id), accounts);
            }
            Change::ProposalChanged(p) => acc.changed(ObjectId(1, 10, p.id), proposal_accounts(p)),
            Change::ProposalRemoved(p) => acc.removed(ObjectId(1, 10, p.id), proposal_accounts(p)),
            Change::OpInTrx(_) => {}
        }
    }
    BlockChanges { new: list(acc.new), changed: list(acc.changed), removed: list(acc.removed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_sort_as_object_id_type() {
        let mut v = [ObjectId(2, 9, 3), ObjectId(1, 11, 40), ObjectId(2, 1, 0), ObjectId(1, 2, 100)];
        v.sort();
        assert_eq!(v.iter().map(ObjectId::text).collect::<Vec<_>>(), ["1.2.100", "1.11.40", "2.1.0", "2.9.3"]);
    }

    #[test]
    fn created_then_removed_is_neither_changed_then_removed_is_removed() {
        let mut acc = Acc::default();
        acc.created(ObjectId(2, 9, 1), [5]);
        acc.changed(ObjectId(2, 9, 1), [5]);
        acc.removed(ObjectId(2, 9, 1), [5]);
        acc.changed(ObjectId(1, 10, 0), [6]);
        acc.removed(ObjectId(1, 10, 0), [7]);
        let (new, changed, removed) = (list(acc.new), list(acc.changed), list(acc.removed));
        assert!(new.ids.is_empty() && changed.ids.is_empty());
        assert_eq!(removed.ids, vec![ObjectId(1, 10, 0)]);
        assert_eq!(removed.accounts, BTreeSet::from([6, 7]));
    }
}
