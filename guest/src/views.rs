//! What the API answers (mirrors the WIT records of `api`).

use crate::config::Rate;
use crate::records::WdState;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayInfo {
    pub account: String,
    pub account_id: String,
    pub head_block: u32,
    pub last_irreversible_block: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLinkView {
    pub account: String,
    pub expires_at_ms: u64,
    pub attempts_left: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedAccount {
    pub account: String,
    pub account_id: String,
    pub linked_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStarted {
    pub account: String,
    pub expires_at_ms: u64,
    pub code_digits: u8,
    pub tx_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    pub user: String,
    pub linked: Option<LinkedAccount>,
    pub pending_link: Option<PendingLinkView>,
    pub balance: u64,
    pub frozen: u64,
    /// The user record's store version.
    pub revision: u64,
    pub language: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositInfo {
    pub gateway_account: String,
    pub from_account: String,
    pub asset: String,
    pub rate: Rate,
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub cwd: u64,
    pub game: u64,
    pub rate: Rate,
    pub fee_cwd: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceChange {
    pub balance: u64,
    pub frozen: u64,
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalView {
    pub withdrawal_id: String,
    pub user: String,
    pub account: String,
    pub game: u64,
    pub cwd: u64,
    pub fee_cwd: u64,
    pub state: WdState,
    pub requested_at_ms: u64,
    pub tx_id: Option<String>,
    pub attempts: u32,
    pub block_num: Option<u32>,
    pub note: Option<String>,
    pub approved_by: Vec<String>,
}

/// A deposit credited to a user (`list-deposits`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditedDepositView {
    pub deposit_id: String,
    pub user: String,
    pub from_account_id: String,
    pub cwd: u64,
    pub game: u64,
    pub credited_at_ms: u64,
    pub assigned: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WithdrawalFilter {
    pub user: Option<String>,
    pub state: Option<WdState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnclaimedStateView {
    Open,
    Assigned,
    RefundMarked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnclaimedView {
    pub deposit_id: String,
    pub block_num: u32,
    pub trx_in_block: u32,
    pub op_in_trx: u32,
    pub occurrence: u32,
    pub op: u32,
    pub from_account_id: String,
    pub asset_id: String,
    pub amount: u64,
    pub reason: String,
    pub state: UnclaimedStateView,
    pub resolution: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayStatus {
    pub gateway_account: String,
    pub cwd_balance: Option<u64>,
    pub frozen_game: u64,
    pub pending_cwd: u64,
    pub pending_withdrawals: u32,
    pub unclaimed_cwd: u64,
    pub unclaimed_count: u32,
    pub scanned_through_block: u32,
    pub low_fee_balance: bool,
    /// True while an unknown payout waits for `acknowledge-unknown-payout`.
    pub payouts_paused: bool,
    pub fee_reserve: FeeReserveView,
    pub open_sweep: Option<SweepView>,
}

/// Mirrors WIT `fee-reserve`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeeReserveView {
    pub fee_balance: Option<u64>,
    pub reserve_cwd: u64,
    pub link_messages: u32,
    pub avg_link_fee: u64,
    pub payouts: u32,
    pub avg_payout_fee: u64,
    pub fees_last_week: u64,
    pub days_left: Option<u32>,
    pub low: bool,
}

/// Mirrors WIT `sweep`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepView {
    pub sweep_id: String,
    pub cold_account: String,
    pub cwd: u64,
    pub fee: u64,
    pub hot_balance: u64,
    pub kept_cwd: u64,
    pub state: crate::sweep::SweepState,
    pub created_at_ms: u64,
    pub tx_id: String,
    pub block_num: Option<u32>,
}

/// Mirrors WIT `internal-transfer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalTransferView {
    pub transfer_id: String,
    pub from_user: String,
    pub to_user: String,
    pub amount: u64,
    pub memo: String,
    pub at_ms: u64,
    pub from_balance: u64,
    pub to_balance: u64,
    pub replayed: bool,
}

/// Mirrors WIT `referral`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralView {
    pub user: String,
    pub referrer: String,
    pub since_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewardShareView {
    pub level: u32,
    pub user: String,
    pub amount: u64,
}

/// Mirrors WIT `reward`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewardView {
    pub user: String,
    pub base_amount: u64,
    pub shares: Vec<RewardShareView>,
    pub cashback: u64,
    pub paid: u64,
    pub pool_balance: u64,
    pub at_ms: u64,
    pub replayed: bool,
}

/// Mirrors WIT `referral-earnings`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralEarningsView {
    pub user: String,
    pub referrer: Option<String>,
    pub referrals: u32,
    pub by_level: Vec<u64>,
    pub cashback: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub next_tick_ms: u64,
    pub deposits_credited: u32,
    pub deposits_unclaimed: u32,
    pub withdrawals_sent: u32,
    pub withdrawals_confirmed: u32,
    pub withdrawals_failed: u32,
    pub sweeps_sent: u32,
    pub sweeps_confirmed: u32,
    pub node_errors: u32,
    pub last_irreversible_block: u32,
    /// History operations applied this tick.
    pub history_scanned: u32,
    /// Operations the node has in the gateway's history after the scan's cursor.
    pub history_behind: u64,
    /// The last block whose operations are all scanned, after this tick.
    pub scanned_through_block: u32,
    /// Progress of the build of totals and indexes over an older store, while it runs.
    pub derived_build: Option<crate::records::derived::Build>,
}

/// A payout from the gateway account that the store did not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPayoutView {
    pub deposit_id: String,
    pub position: crate::events::OpPosition,
    pub to_account_id: String,
    pub asset_id: String,
    pub amount: u64,
    pub memo_withdrawal_id: String,
    pub acknowledged: bool,
    pub note: Option<String>,
}
