//! Operations as the chain applies them: the two the codec signs (`transfer`,
//! `send_message`) and the ones the devnet applies on its own, as a node does after a
//! valid transaction or at a block's end: proposals (22, 23), CrowdWiz's mass payment
//! (104) and its virtual payouts (105). Their JSON follows crowdwiz-core's `FC_REFLECT`
//! field order (protocol/proposal.hpp, protocol/financial.hpp).

use std::collections::BTreeMap;

use cwd_gateway::json::{format_time, write_i64, write_operation};
use cwd_gateway::ops::{AccountId, Asset, AssetId, Operation, CORE_ASSET};
use serde_json::{json, Value};

pub const OP_PROPOSAL_CREATE: u64 = 22;
pub const OP_PROPOSAL_UPDATE: u64 = 23;
pub const OP_MASS_PAYMENT: u64 = 104;
pub const OP_MASS_PAYMENT_PAY: u64 = 105;
pub const OP_ACCOUNT_CREATE: u64 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainOp {
    /// Signed by a client and checked by `validate`.
    Codec(Operation),
    /// `proposal_create_operation`: the proposed operations wait in `1.10.N`.
    ProposalCreate { fee: Asset, fee_paying_account: AccountId, expiration_time: u32, proposed_ops: Vec<Operation> },
    /// `proposal_update_operation` adding active approvals (the only kind the devnet makes).
    ProposalUpdate { fee: Asset, fee_paying_account: AccountId, proposal: u64, active_approvals_to_add: Vec<AccountId> },
    /// `mass_payment_operation`: `from` pays every payee in one asset.
    MassPayment { fee: Asset, from: AccountId, asset_id: AssetId, payments: BTreeMap<AccountId, i64> },
    /// `mass_payment_pay_operation`: the virtual operation pushed per payee.
    MassPaymentPay { from: AccountId, to: AccountId, amount: Asset },
    /// `account_create_operation` by `registrar`: the first entry of the new account's
    /// history (account_history_plugin.cpp adds it to the created account).
    AccountCreate { registrar: AccountId, name: String, created: AccountId, owner: String, active: String, memo: String },
}

pub fn asset_json(a: &Asset) -> Value {
    json!({ "amount": write_i64(a.amount), "asset_id": format!("1.3.{}", a.asset_id.0) })
}

fn account(id: AccountId) -> String {
    format!("1.2.{}", id.0)
}

impl ChainOp {
    pub fn which(&self) -> u64 {
        match self {
            ChainOp::Codec(op) => op.id(),
            ChainOp::ProposalCreate { .. } => OP_PROPOSAL_CREATE,
            ChainOp::ProposalUpdate { .. } => OP_PROPOSAL_UPDATE,
            ChainOp::MassPayment { .. } => OP_MASS_PAYMENT,
            ChainOp::MassPaymentPay { .. } => OP_MASS_PAYMENT_PAY,
            ChainOp::AccountCreate { .. } => OP_ACCOUNT_CREATE,
        }
    }

    pub fn fee(&self) -> Asset {
        match self {
            ChainOp::Codec(op) => *op.fee(),
            ChainOp::ProposalCreate { fee, .. } | ChainOp::ProposalUpdate { fee, .. } | ChainOp::MassPayment { fee, .. } => *fee,
            ChainOp::MassPaymentPay { .. } | ChainOp::AccountCreate { .. } => Asset::cwd(0),
        }
    }

    pub fn fee_payer(&self) -> AccountId {
        match self {
            ChainOp::Codec(op) => op.fee_payer(),
            ChainOp::ProposalCreate { fee_paying_account, .. } | ChainOp::ProposalUpdate { fee_paying_account, .. } => {
                *fee_paying_account
            }
            ChainOp::MassPayment { from, .. } | ChainOp::MassPaymentPay { from, .. } => *from,
            ChainOp::AccountCreate { registrar, .. } => *registrar,
        }
    }

    /// `[which, {…}]` as the node writes an operation.
    pub fn to_json(&self) -> Value {
        let body = match self {
            ChainOp::Codec(op) => return write_operation(op),
            ChainOp::ProposalCreate { fee, fee_paying_account, expiration_time, proposed_ops } => json!({
                "fee": asset_json(fee),
                "fee_paying_account": account(*fee_paying_account),
                "expiration_time": format_time(*expiration_time),
                "proposed_ops": proposed_ops.iter().map(|op| json!({ "op": write_operation(op) })).collect::<Vec<_>>(),
                "extensions": [],
            }),
            ChainOp::ProposalUpdate { fee, fee_paying_account, proposal, active_approvals_to_add } => json!({
                "fee": asset_json(fee),
                "fee_paying_account": account(*fee_paying_account),
                "proposal": format!("1.10.{proposal}"),
                "active_approvals_to_add": active_approvals_to_add.iter().map(|a| account(*a)).collect::<Vec<_>>(),
                "active_approvals_to_remove": [],
                "owner_approvals_to_add": [],
                "owner_approvals_to_remove": [],
                "key_approvals_to_add": [],
                "key_approvals_to_remove": [],
                "extensions": [],
            }),
            // fc writes a map as an array of [key, value] pairs.
            ChainOp::MassPayment { fee, from, asset_id, payments } => json!({
                "fee": asset_json(fee),
                "from": account(*from),
                "asset_id": format!("1.3.{}", asset_id.0),
                "payments": payments.iter().map(|(to, amount)| json!([account(*to), write_i64(*amount)])).collect::<Vec<_>>(),
            }),
            ChainOp::MassPaymentPay { from, to, amount } => json!({
                "fee": asset_json(&Asset::cwd(0)),
                "from": account(*from),
                "to": account(*to),
                "amount": asset_json(amount),
            }),
            ChainOp::AccountCreate { registrar, name, owner, active, memo, .. } => {
                let auth = |key: &str| json!({ "weight_threshold": 1, "account_auths": [], "key_auths": [[key, 1]], "address_auths": [] });
                json!({
                    "fee": asset_json(&Asset::cwd(0)),
                    "registrar": account(*registrar),
                    "referrer": account(*registrar),
                    "referrer_percent": 0,
                    "name": name,
                    "owner": auth(owner),
                    "active": auth(active),
                    "options": { "memo_key": memo, "voting_account": "1.2.5", "num_witness": 0, "num_committee": 0, "votes": [], "extensions": [] },
                    "extensions": {},
                })
            }
        };
        json!([self.which(), body])
    }

    /// The accounts whose history gets this operation: the fee payer, the required
    /// authorities and `operation_get_impacted_accounts` (db_notify.cpp).
    pub fn impacted(&self) -> Vec<AccountId> {
        let mut v = match self {
            ChainOp::Codec(Operation::Transfer(t)) => vec![t.from, t.to],
            ChainOp::Codec(Operation::SendMessage(m)) => vec![m.from, m.to],
            ChainOp::ProposalCreate { fee_paying_account, proposed_ops, .. } => {
                let mut v = vec![*fee_paying_account];
                v.extend(proposed_ops.iter().map(Operation::fee_payer));
                v
            }
            ChainOp::ProposalUpdate { fee_paying_account, .. } => vec![*fee_paying_account],
            ChainOp::MassPayment { from, .. } => vec![*from],
            // The payer is not the fee payer here: only the payee is impacted.
            ChainOp::MassPaymentPay { to, .. } => vec![*to],
            // The result's new account (account_history_plugin.cpp); the registrar is the
            // devnet's genesis, which keeps no history.
            ChainOp::AccountCreate { created, .. } => vec![*created],
        };
        v.sort();
        v.dedup();
        v
    }

    /// Every balance change the operation makes: (account, asset, delta), fees included.
    pub fn deltas(&self) -> Vec<(AccountId, AssetId, i64)> {
        let fee = self.fee();
        let mut out = vec![(self.fee_payer(), fee.asset_id, -fee.amount)];
        match self {
            ChainOp::Codec(Operation::Transfer(t)) => {
                out.push((t.from, t.amount.asset_id, -t.amount.amount));
                out.push((t.to, t.amount.asset_id, t.amount.amount));
            }
            ChainOp::MassPayment { from, asset_id, payments, .. } => {
                // The payees' credits come with the virtual 105s.
                let total: i64 = payments.values().sum();
                out.push((*from, *asset_id, -total));
            }
            ChainOp::MassPaymentPay { to, amount, .. } => out.push((*to, amount.asset_id, amount.amount)),
            ChainOp::Codec(Operation::SendMessage(_))
            | ChainOp::ProposalCreate { .. }
            | ChainOp::ProposalUpdate { .. }
            | ChainOp::AccountCreate { .. } => {}
        }
        out.retain(|(_, _, d)| *d != 0);
        out
    }

    /// How the operation changes `account`'s CWD.
    pub fn cwd_delta(&self, account: AccountId) -> i64 {
        self.deltas().iter().filter(|(a, asset, _)| *a == account && *asset == CORE_ASSET).map(|(_, _, d)| d).sum()
    }
}

/// Every (account, asset) an operation list would need to cover, debits only, summed.
pub fn debits(ops: &[ChainOp]) -> BTreeMap<(AccountId, AssetId), i64> {
    let mut out = BTreeMap::new();
    for op in ops {
        for (a, asset, d) in op.deltas() {
            if d < 0 {
                *out.entry((a, asset)).or_insert(0) += -d;
            }
        }
    }
    out
}
