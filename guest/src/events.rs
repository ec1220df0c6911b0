//! What the gateway announces (mirrors WIT `events`). Emitted only after the state change
//! it describes is committed; never carries a key or a link code.

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct OpPosition {
    pub block_num: u32,
    pub trx_in_block: u32,
    pub op_in_trx: u32,
    /// 0 for the first operation of the gateway's history at this (block, trx, op), 1 for
    /// the next… Operations executed by one proposal (and virtual operations such as
    /// `mass_payment_pay`) share their parent's position. Not the node's `virtual_op`:
    /// crowdwiz-core counts that per node process and never resets it
    /// (db_block.cpp `push_applied_operation`), so it differs between nodes.
    #[serde(default)]
    pub occurrence: u32,
}

impl OpPosition {
    pub fn new(block_num: u32, trx_in_block: u32, op_in_trx: u32) -> Self {
        OpPosition {
            block_num,
            trx_in_block,
            op_in_trx,
            occurrence: 0,
        }
    }

    /// Same (block, trx, op), whatever the occurrence.
    pub fn same_site(&self, other: &OpPosition) -> bool {
        (self.block_num, self.trx_in_block, self.op_in_trx)
            == (other.block_num, other.trx_in_block, other.op_in_trx)
    }

    /// The deposit id: zero-padded so that ids sort in chain order; the occurrence is
    /// appended only when it is not 0, so ids of ordinary transfers keep their form.
    pub fn deposit_id(&self) -> String {
        let base = format!(
            "d-{:010}-{:05}-{:05}",
            self.block_num, self.trx_in_block, self.op_in_trx
        );
        match self.occurrence {
            0 => base,
            n => format!("{base}-{n:05}"),
        }
    }

    pub fn parse_deposit_id(id: &str) -> Option<OpPosition> {
        let rest = id.strip_prefix("d-")?;
        let parts: Vec<&str> = rest.split('-').collect();
        if !(3..=4).contains(&parts.len())
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let pos = OpPosition {
            block_num: parts[0].parse().ok()?,
            trx_in_block: parts[1].parse().ok()?,
            op_in_trx: parts[2].parse().ok()?,
            occurrence: parts.get(3).map_or(Some(0), |o| o.parse().ok())?,
        };
        // Only the canonical spelling names a deposit.
        (pos.deposit_id() == id).then_some(pos)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkFailure {
    Expired,
    TooManyAttempts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnclaimedReason {
    UnlinkedSender,
    OtherAsset,
    TooSmall,
    /// Moved in by an operation other than `transfer` (op id in the record).
    NotATransfer,
    /// An operation the gateway does not know carried an amount: it may have moved funds.
    UnrecognisedOperation,
    /// Crediting it would overflow the user's balance (or the conversion overflowed).
    CreditOverflow,
    /// The user's record could not be read (damaged or from a newer release).
    UserUnreadable,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WithdrawalRef {
    pub withdrawal_id: String,
    pub user: String,
    pub account: String,
    pub game: u64,
    pub cwd: u64,
}

/// A sweep to the cold account, as events name it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepRef {
    pub sweep_id: String,
    pub cold_account: String,
    pub cwd: u64,
    pub tx_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WithdrawalFailure {
    Expired,
    AccountUnusable,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Alert {
    LowFeeBalance {
        balance: u64,
        threshold: u64,
    },
    NodeTrouble {
        call: String,
        detail: String,
    },
    BroadcastRefused {
        withdrawal_id: String,
        tx_id: String,
        detail: String,
    },
    StoreTrouble(String),
    /// A node's account history cannot be trusted (pruned past the scan, none kept, or
    /// inconsistent with the account statistics); the scan moves to another node.
    HistoryUntrusted {
        detail: String,
        switched: bool,
    },
    /// A withdrawal cannot be funded now: the gateway account lacks `shortfall` CWD units.
    PayoutUnfunded {
        withdrawal_id: String,
        balance: u64,
        shortfall: u64,
    },
    /// A transfer from the gateway account carrying the gateway's withdrawal memo that
    /// the store does not know (a restore from an old backup?): payouts are paused.
    UnknownPayout {
        deposit_id: String,
        position: OpPosition,
        to_account_id: String,
        amount: u64,
        memo_withdrawal_id: String,
    },
    /// The gateway account holds less than its needs plus the low-water mark: move
    /// `refill_cwd` back from cold storage.
    HotBalanceLow {
        balance: u64,
        needed: u64,
        low_water: u64,
        refill_cwd: u64,
    },
    /// The fee balance lasts fewer days than configured at last week's rate.
    FeeReserveLow {
        fee_balance: u64,
        days_left: u32,
        threshold_days: u32,
    },
    /// A signature the gateway made did not verify against its active key (a fault while
    /// signing): the transaction (`purpose`: withdrawal, sweep or link-message, about
    /// `subject`) was neither stored nor sent. Check the machine.
    SigningFailed {
        purpose: String,
        subject: String,
    },
    /// The signer's policy refused a transaction (`purpose` about `subject`, as for
    /// [`Alert::SigningFailed`]); `rule` and `reason` are the signer's.
    SignerRefused {
        purpose: String,
        subject: String,
        rule: String,
        reason: String,
    },
    /// The signer did not answer; payouts wait for it.
    SignerUnavailable(String),
    /// A node quoted a fee above the configured ceiling for `operation` (`transfer` or
    /// `send_message`): not believed, nothing signed; the payout waits.
    FeeAboveCeiling {
        operation: String,
        fee: u64,
        ceiling: u64,
    },
    /// The chain holds less than the gateway owes (see [`crate::books`]).
    BooksMismatch {
        owed_cwd: u64,
        held_cwd: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    LinkCodeSent {
        user: String,
        account: String,
        expires_at_ms: u64,
        tx_id: String,
    },
    LinkConfirmed {
        user: String,
        account: String,
        account_id: String,
    },
    LinkFailed {
        user: String,
        account: String,
        reason: LinkFailure,
    },
    Unlinked {
        user: String,
        account: String,
        reserved_through_block: u32,
    },
    DepositCredited {
        user: String,
        deposit_id: String,
        position: OpPosition,
        account: String,
        cwd: u64,
        game: u64,
        balance: u64,
    },
    DepositUnclaimed {
        deposit_id: String,
        position: OpPosition,
        from_account_id: String,
        asset_id: String,
        amount: u64,
        reason: UnclaimedReason,
        op: u64,
    },
    UnclaimedAssigned {
        deposit_id: String,
        user: String,
        game: u64,
        balance: u64,
    },
    UnclaimedRefundMarked {
        deposit_id: String,
        note: String,
    },
    BalanceAdjusted {
        user: String,
        delta: i64,
        balance: u64,
        idempotency_key: String,
        reason: String,
    },
    WithdrawalRequested(WithdrawalRef),
    WithdrawalAwaitingReview(WithdrawalRef),
    WithdrawalApproved(WithdrawalRef),
    WithdrawalRejected {
        withdrawal: WithdrawalRef,
        reason: String,
    },
    WithdrawalCancelled {
        withdrawal: WithdrawalRef,
        reason: String,
    },
    /// The operator acknowledged an unknown payout; payouts resume when none is left.
    UnknownPayoutAcknowledged {
        deposit_id: String,
        note: String,
    },
    WithdrawalSent {
        withdrawal: WithdrawalRef,
        tx_id: String,
        attempt: u32,
        expiration_ms: u64,
    },
    WithdrawalConfirmed {
        withdrawal: WithdrawalRef,
        tx_id: String,
        block_num: u32,
    },
    WithdrawalFailed {
        withdrawal: WithdrawalRef,
        reason: WithdrawalFailure,
    },
    SweepSent(SweepRef),
    SweepConfirmed {
        sweep: SweepRef,
        block_num: u32,
    },
    SweepExpired(SweepRef),
    InternalTransfer {
        transfer_id: String,
        from_user: String,
        to_user: String,
        amount: u64,
        from_balance: u64,
        to_balance: u64,
    },
    ReferrerSet {
        user: String,
        referrer: String,
    },
    ReferrersRewarded {
        user: String,
        base_amount: u64,
        to_referrers: u64,
        cashback: u64,
        pool_balance: u64,
        /// The reward's idempotency key, the pool that paid, and each referrer's share.
        #[serde(default)]
        idempotency_key: String,
        #[serde(default)]
        pool_user: String,
        #[serde(default)]
        shares: Vec<RewardedShare>,
    },
    Alert(Alert),
}

/// One referrer's share of a reward.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RewardedShare {
    pub level: u32,
    pub user: String,
    pub amount: u64,
}

impl Event {
    /// The game users an event is about (none for the operator's and the chain's own).
    pub fn users(&self) -> Vec<&str> {
        match self {
            Event::LinkCodeSent { user, .. }
            | Event::LinkConfirmed { user, .. }
            | Event::LinkFailed { user, .. }
            | Event::Unlinked { user, .. }
            | Event::DepositCredited { user, .. }
            | Event::UnclaimedAssigned { user, .. }
            | Event::BalanceAdjusted { user, .. }
            | Event::ReferrerSet { user, .. }
            | Event::ReferrersRewarded { user, .. } => vec![user],
            Event::WithdrawalRequested(w)
            | Event::WithdrawalAwaitingReview(w)
            | Event::WithdrawalApproved(w) => vec![&w.user],
            Event::WithdrawalRejected { withdrawal: w, .. }
            | Event::WithdrawalCancelled { withdrawal: w, .. }
            | Event::WithdrawalSent { withdrawal: w, .. }
            | Event::WithdrawalConfirmed { withdrawal: w, .. }
            | Event::WithdrawalFailed { withdrawal: w, .. } => vec![&w.user],
            Event::InternalTransfer {
                from_user, to_user, ..
            } => vec![from_user, to_user],
            Event::DepositUnclaimed { .. }
            | Event::UnclaimedRefundMarked { .. }
            | Event::UnknownPayoutAcknowledged { .. }
            | Event::SweepSent(_)
            | Event::SweepConfirmed { .. }
            | Event::SweepExpired(_)
            | Event::Alert(_) => vec![],
        }
    }
}
