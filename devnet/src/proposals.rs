//! Proposals (`1.10.N`): proposed transfers that run when every account whose active
//! authority they need has approved (proposal_evaluator.cpp, proposal_update_evaluator::
//! do_apply; CrowdWiz runs them at once even with a review period), or at expiry if they
//! are approved by then (db_update.cpp, database::clear_expired_proposals).

use std::collections::BTreeSet;

use cwd_gateway::json::{format_time, write_operation};
use cwd_gateway::ops::{AccountId, Operation};
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub id: u64,
    pub proposer: AccountId,
    pub expiration: u32,
    pub ops: Vec<Operation>,
    pub approvals: BTreeSet<AccountId>,
    /// Why the last attempt to run it failed (it is tried again at expiry).
    pub fail_reason: Option<String>,
}

impl Proposal {
    /// The accounts whose active approval the proposed operations need.
    pub fn required(&self) -> BTreeSet<AccountId> {
        self.ops.iter().map(Operation::fee_payer).collect()
    }

    /// `proposal_object::is_authorized_to_execute`.
    pub fn is_authorized(&self) -> bool {
        self.required().is_subset(&self.approvals)
    }

    pub fn to_json(&self) -> Value {
        let ids = |s: &BTreeSet<AccountId>| s.iter().map(|a| format!("1.2.{}", a.0)).collect::<Vec<_>>();
        json!({
            "id": format!("1.10.{}", self.id),
            "expiration_time": format_time(self.expiration),
            "proposed_transaction": {
                "ref_block_num": 0,
                "ref_block_prefix": 0,
                "expiration": format_time(self.expiration),
                "operations": self.ops.iter().map(write_operation).collect::<Vec<_>>(),
                "extensions": [],
            },
            "required_active_approvals": ids(&self.required()),
            "available_active_approvals": ids(&self.approvals),
            "required_owner_approvals": [],
            "available_owner_approvals": [],
            "available_key_approvals": [],
            "proposer": format!("1.2.{}", self.proposer.0),
            "fail_reason": self.fail_reason.clone().unwrap_or_default(),
        })
    }
}
