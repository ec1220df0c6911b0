//! The only place that sees wit-bindgen's generated code: it maps the crate's own types
//! onto the WIT interface and back, and implements the core's ports over the WIT
//! imports (and `wasi:random` through `getrandom`). Built only for wasm32.

wit_bindgen::generate!({ world: "gateway", path: "../wit" });

use std::cell::{Cell, RefCell};

use crowdwiz::gateway::{clock as wclock, events as wev, node as wnode, signer as wsigner, store as wstore};
use exports::crowdwiz::gateway::api as wapi;
use exports::crowdwiz::gateway::codec as wit;

use crate::config::{
    Config, Keys, LinkConfig, Rate, ReferralConfig, TreasuryConfig, WithdrawalConfig,
};
use crate::events::{self as ev, Event};
use crate::gateway::{Active, Gateway};
use crate::gateway_error::{GatewayError, KeyRole, LimitScope, NameProblem, ProofProblem};
use crate::ports::{self, Ports};
use crate::rates::WithdrawalAmount;
use crate::records::WdState;
use crate::views;

struct Component;

// The codec exports, shared with the codec-only component (codec/component).
include!("../../codec/component/src/codec_exports.rs");

// ------------------------------------------------------------------ ports over imports

struct WitStore;

fn entries(list: Vec<wstore::Entry>) -> Vec<ports::Entry> {
    list.into_iter()
        .map(|e| ports::Entry {
            key: e.key,
            value: e.value,
            version: e.version,
        })
        .collect()
}

impl ports::Store for WitStore {
    fn get(&mut self, key: &str) -> Result<Option<ports::Entry>, ports::StoreError> {
        wstore::get(key)
            .map(|e| {
                e.map(|e| ports::Entry {
                    key: e.key,
                    value: e.value,
                    version: e.version,
                })
            })
            .map_err(store_err)
    }
    fn scan(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ports::Entry>, ports::StoreError> {
        wstore::scan(prefix, start_after, limit)
            .map(entries)
            .map_err(store_err)
    }
    fn scan_reverse(
        &mut self,
        prefix: &str,
        start_before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ports::Entry>, ports::StoreError> {
        wstore::scan_reverse(prefix, start_before, limit)
            .map(entries)
            .map_err(store_err)
    }
    fn commit(
        &mut self,
        preconditions: &[ports::Precondition],
        writes: &[ports::Write],
    ) -> Result<bool, ports::StoreError> {
        let pre: Vec<wstore::Precondition> = preconditions
            .iter()
            .map(|p| wstore::Precondition {
                key: p.key.clone(),
                expected_version: p.expected_version,
            })
            .collect();
        let w: Vec<wstore::Write> = writes
            .iter()
            .map(|w| wstore::Write {
                key: w.key.clone(),
                value: w.value.clone(),
            })
            .collect();
        match wstore::commit(&pre, &w) {
            Ok(wstore::CommitOutcome::Committed) => Ok(true),
            Ok(wstore::CommitOutcome::Conflict) => Ok(false),
            Err(e) => Err(store_err(e)),
        }
    }
}

fn store_err(e: wstore::StoreError) -> ports::StoreError {
    match e {
        wstore::StoreError::Unavailable(s) => ports::StoreError(s),
    }
}

struct WitNode;

impl ports::Node for WitNode {
    fn call(
        &mut self,
        api: &str,
        method: &str,
        params_json: &str,
    ) -> Result<String, ports::NodeError> {
        wnode::call(api, method, params_json).map_err(|e| match e {
            wnode::NodeError::Unreachable(s) => ports::NodeError::Unreachable(s),
            wnode::NodeError::Timeout => ports::NodeError::Timeout,
            wnode::NodeError::Rpc(r) => ports::NodeError::Rpc {
                code: r.code,
                message: r.message,
            },
            wnode::NodeError::BadResponse(s) => ports::NodeError::BadResponse(s),
        })
    }

    fn fail_over(&mut self, reason: &str) -> bool {
        wnode::fail_over(reason)
    }
}

struct WitClock;

impl ports::Clock for WitClock {
    fn now_ms(&mut self) -> u64 {
        wclock::now_ms()
    }
}

struct WasiRandom;

impl ports::Random for WasiRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // wasi:random never fails on a conforming host; if it did, refuse to go on with
        // predictable codes.
        getrandom::fill(buf).expect("wasi:random is available");
    }
}

struct WitEvents;

impl ports::Events for WitEvents {
    fn emit(&mut self, event: Event) {
        wev::emit(&event_to_wit(event));
    }
}

struct WitSigner;

impl ports::Signer for WitSigner {
    fn sign(&mut self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<Vec<u8>, ports::SignError> {
        wsigner::sign(chain_id, transaction).map_err(|e| match e {
            wsigner::SignError::Refused(r) => ports::SignError::Refused {
                rule: r.rule,
                reason: r.reason,
            },
            wsigner::SignError::Unavailable(s) => ports::SignError::Unavailable(s),
        })
    }
}

fn fresh_gateway() -> Gateway {
    Gateway::new(Ports {
        store: Box::new(WitStore),
        node: Box::new(WitNode),
        clock: Box::new(WitClock),
        events: Box::new(WitEvents),
        random: Box::new(WasiRandom),
        signer: Box::new(WitSigner),
        outbox: Default::default(),
    })
}

thread_local! {
    /// The gateway is moved out of this cell for the length of a call and back after it,
    /// never borrowed across an import: a host whose import threw (instead of returning
    /// its error variant) unwinds the call past us, which leaves the cell empty rather
    /// than borrowed forever, and the next call starts from a fresh gateway instead of
    /// trapping. Every state change is a store commit, so an abandoned call is like a
    /// crash of that call.
    static GATEWAY: Cell<Option<Gateway>> = const { Cell::new(None) };
    /// What the last successful `configure` set up, to configure a fresh gateway without
    /// asking the host again. Instance memory only, like the gateway itself.
    static CONFIGURED: RefCell<Option<Active>> = const { RefCell::new(None) };
}

fn with<T>(
    f: impl FnOnce(&mut Gateway) -> Result<T, GatewayError>,
) -> Result<T, wapi::GatewayError> {
    let mut g = GATEWAY.take().unwrap_or_else(|| {
        let mut g = fresh_gateway();
        g.active = CONFIGURED.with(|c| c.borrow().clone());
        g
    });
    let r = f(&mut g);
    GATEWAY.set(Some(g));
    r.map_err(error_to_wit)
}

fn remember_configuration(g: &Gateway) {
    CONFIGURED.with(|c| *c.borrow_mut() = g.active.clone());
}

// ------------------------------------------------------------------ events

fn pos(p: ev::OpPosition) -> wev::OpPosition {
    wev::OpPosition {
        block_num: p.block_num,
        trx_in_block: p.trx_in_block,
        op_in_trx: p.op_in_trx,
        occurrence: p.occurrence,
    }
}

fn wref(r: ev::WithdrawalRef) -> wev::WithdrawalRef {
    wev::WithdrawalRef {
        withdrawal_id: r.withdrawal_id,
        user: r.user,
        account: r.account,
        game: r.game,
        cwd: r.cwd,
    }
}

fn event_to_wit(e: Event) -> wev::Event {
    use wev::Event as W;
    match e {
        Event::LinkCodeSent {
            user,
            account,
            expires_at_ms,
            tx_id,
        } => W::LinkCodeSent(wev::LinkCodeSent {
            user,
            account,
            expires_at_ms,
            tx_id,
        }),
        Event::LinkConfirmed {
            user,
            account,
            account_id,
        } => W::LinkConfirmed(wev::LinkConfirmed {
            user,
            account,
            account_id,
        }),
        Event::LinkFailed {
            user,
            account,
            reason,
        } => W::LinkFailed(wev::LinkFailed {
            user,
            account,
            reason: match reason {
                ev::LinkFailure::Expired => wev::LinkFailure::Expired,
                ev::LinkFailure::TooManyAttempts => wev::LinkFailure::TooManyAttempts,
            },
        }),
        Event::Unlinked {
            user,
            account,
            reserved_through_block,
        } => W::Unlinked(wev::Unlinked {
            user,
            account,
            reserved_through_block,
        }),
        Event::DepositCredited {
            user,
            deposit_id,
            position,
            account,
            cwd,
            game,
            balance,
        } => W::DepositCredited(wev::DepositCredited {
            user,
            deposit_id,
            position: pos(position),
            account,
            cwd,
            game,
            balance,
        }),
        Event::DepositUnclaimed {
            deposit_id,
            position,
            from_account_id,
            asset_id,
            amount,
            reason,
            op,
        } => W::DepositUnclaimed(wev::DepositUnclaimed {
            deposit_id,
            position: pos(position),
            from_account_id,
            asset_id,
            amount,
            reason: match reason {
                ev::UnclaimedReason::UnlinkedSender => wev::UnclaimedReason::UnlinkedSender,
                ev::UnclaimedReason::OtherAsset => wev::UnclaimedReason::OtherAsset,
                ev::UnclaimedReason::TooSmall => wev::UnclaimedReason::TooSmall,
                ev::UnclaimedReason::NotATransfer => wev::UnclaimedReason::NotATransfer,
                ev::UnclaimedReason::UnrecognisedOperation => {
                    wev::UnclaimedReason::UnrecognisedOperation
                }
                ev::UnclaimedReason::CreditOverflow => wev::UnclaimedReason::CreditOverflow,
                ev::UnclaimedReason::UserUnreadable => wev::UnclaimedReason::UserUnreadable,
            },
            op: u32::try_from(op).unwrap_or(u32::MAX),
        }),
        Event::UnclaimedAssigned {
            deposit_id,
            user,
            game,
            balance,
        } => W::UnclaimedAssigned(wev::UnclaimedAssigned {
            deposit_id,
            user,
            game,
            balance,
        }),
        Event::UnclaimedRefundMarked { deposit_id, note } => {
            W::UnclaimedRefundMarked(wev::UnclaimedRefundMarked { deposit_id, note })
        }
        Event::BalanceAdjusted {
            user,
            delta,
            balance,
            idempotency_key,
            reason,
        } => W::BalanceAdjusted(wev::BalanceAdjusted {
            user,
            delta,
            balance,
            idempotency_key,
            reason,
        }),
        Event::WithdrawalRequested(r) => W::WithdrawalRequested(wref(r)),
        Event::WithdrawalAwaitingReview(r) => W::WithdrawalAwaitingReview(wref(r)),
        Event::WithdrawalApproved(r) => W::WithdrawalApproved(wref(r)),
        Event::WithdrawalRejected { withdrawal, reason } => {
            W::WithdrawalRejected(wev::WithdrawalRejected {
                withdrawal: wref(withdrawal),
                reason,
            })
        }
        Event::WithdrawalSent {
            withdrawal,
            tx_id,
            attempt,
            expiration_ms,
        } => W::WithdrawalSent(wev::WithdrawalSent {
            withdrawal: wref(withdrawal),
            tx_id,
            attempt,
            expiration_ms,
        }),
        Event::WithdrawalConfirmed {
            withdrawal,
            tx_id,
            block_num,
        } => W::WithdrawalConfirmed(wev::WithdrawalConfirmed {
            withdrawal: wref(withdrawal),
            tx_id,
            block_num,
        }),
        Event::WithdrawalFailed { withdrawal, reason } => {
            W::WithdrawalFailed(wev::WithdrawalFailed {
                withdrawal: wref(withdrawal),
                reason: match reason {
                    ev::WithdrawalFailure::Expired => wev::WithdrawalFailure::Expired,
                    ev::WithdrawalFailure::AccountUnusable => {
                        wev::WithdrawalFailure::AccountUnusable
                    }
                },
            })
        }
        Event::WithdrawalCancelled { withdrawal, reason } => {
            W::WithdrawalCancelled(wev::WithdrawalCancelled {
                withdrawal: wref(withdrawal),
                reason,
            })
        }
        Event::UnknownPayoutAcknowledged { deposit_id, note } => {
            W::UnknownPayoutAcknowledged(wev::UnknownPayoutAcknowledged { deposit_id, note })
        }
        Event::SweepSent(s) => W::SweepSent(sweep_ref(s)),
        Event::SweepConfirmed { sweep, block_num } => W::SweepConfirmed(wev::SweepConfirmed {
            sweep: sweep_ref(sweep),
            block_num,
        }),
        Event::SweepExpired(s) => W::SweepExpired(sweep_ref(s)),
        Event::InternalTransfer {
            transfer_id,
            from_user,
            to_user,
            amount,
            from_balance,
            to_balance,
        } => W::InternalTransfer(wev::InternalTransfer {
            transfer_id,
            from_user,
            to_user,
            amount,
            from_balance,
            to_balance,
        }),
        Event::ReferrerSet { user, referrer } => {
            W::ReferrerSet(wev::ReferrerSet { user, referrer })
        }
        Event::ReferrersRewarded {
            user,
            base_amount,
            to_referrers,
            cashback,
            pool_balance,
            idempotency_key,
            pool_user,
            shares,
        } => W::ReferrersRewarded(wev::ReferrersRewarded {
            user,
            base_amount,
            to_referrers,
            cashback,
            pool_balance,
            idempotency_key,
            pool_user,
            shares: shares
                .into_iter()
                .map(|s| wev::RewardedShare { level: s.level, user: s.user, amount: s.amount })
                .collect(),
        }),
        Event::Alert(a) => W::Alert(match a {
            ev::Alert::LowFeeBalance { balance, threshold } => {
                wev::Alert::LowFeeBalance(wev::LowFeeBalance { balance, threshold })
            }
            ev::Alert::NodeTrouble { call, detail } => {
                wev::Alert::NodeTrouble(wev::NodeTrouble { call, detail })
            }
            ev::Alert::BroadcastRefused {
                withdrawal_id,
                tx_id,
                detail,
            } => wev::Alert::BroadcastRefused(wev::BroadcastRefused {
                withdrawal_id,
                tx_id,
                detail,
            }),
            ev::Alert::StoreTrouble(s) => wev::Alert::StoreTrouble(s),
            ev::Alert::HistoryUntrusted { detail, switched } => {
                wev::Alert::HistoryUntrusted(wev::HistoryUntrusted { detail, switched })
            }
            ev::Alert::PayoutUnfunded {
                withdrawal_id,
                balance,
                shortfall,
            } => wev::Alert::PayoutUnfunded(wev::PayoutUnfunded {
                withdrawal_id,
                balance,
                shortfall,
            }),
            ev::Alert::HotBalanceLow {
                balance,
                needed,
                low_water,
                refill_cwd,
            } => wev::Alert::HotBalanceLow(wev::HotBalanceLow {
                balance,
                needed,
                low_water,
                refill_cwd,
            }),
            ev::Alert::FeeReserveLow {
                fee_balance,
                days_left,
                threshold_days,
            } => wev::Alert::FeeReserveLow(wev::FeeReserveLow {
                fee_balance,
                days_left,
                threshold_days,
            }),
            ev::Alert::SignerRefused {
                purpose,
                subject,
                rule,
                reason,
            } => wev::Alert::SignerRefused(wev::SignerRefused {
                purpose,
                subject,
                rule,
                reason,
            }),
            ev::Alert::SignerUnavailable(d) => wev::Alert::SignerUnavailable(d),
            ev::Alert::BooksMismatch { owed_cwd, held_cwd } => {
                wev::Alert::BooksMismatch(wev::BooksMismatch { owed_cwd, held_cwd })
            }
            ev::Alert::FeeAboveCeiling {
                operation,
                fee,
                ceiling,
            } => wev::Alert::FeeAboveCeiling(wev::FeeAboveCeiling {
                operation,
                fee,
                ceiling,
            }),
            ev::Alert::SigningFailed { purpose, subject } => {
                wev::Alert::SigningFailed(wev::SigningFailed { purpose, subject })
            }
            ev::Alert::UnknownPayout {
                deposit_id,
                position,
                to_account_id,
                amount,
                memo_withdrawal_id,
            } => wev::Alert::UnknownPayout(wev::UnknownPayout {
                deposit_id,
                position: pos(position),
                to_account_id,
                amount,
                memo_withdrawal_id,
            }),
        }),
    }
}

// ------------------------------------------------------------------ api types

fn error_to_wit(e: GatewayError) -> wapi::GatewayError {
    use wapi::GatewayError as W;
    let role = |r: KeyRole| match r {
        KeyRole::Active => wapi::KeyRole::Active,
        KeyRole::Memo => wapi::KeyRole::Memo,
    };
    match e {
        GatewayError::NotConfigured => W::NotConfigured,
        GatewayError::Invalid { field, detail } => W::Invalid(wapi::Invalid { field, detail }),
        GatewayError::BadKey(r) => W::BadKey(role(r)),
        GatewayError::KeyMismatch(r) => W::KeyMismatch(role(r)),
        GatewayError::WrongChain(s) => W::WrongChain(s),
        GatewayError::BadUserId => W::BadUserId,
        GatewayError::ReservedUser => W::ReservedUser,
        GatewayError::BadAccountName(p) => W::BadAccountName(match p {
            NameProblem::BadLength => wapi::NameProblem::BadLength,
            NameProblem::BadCharacter => wapi::NameProblem::BadCharacter,
            NameProblem::BadLabel => wapi::NameProblem::BadLabel,
        }),
        GatewayError::AccountNotFound => W::AccountNotFound,
        GatewayError::AccountTaken => W::AccountTaken,
        GatewayError::AccountReserved { retry_after_ms } => {
            W::AccountReserved(wapi::AccountReserved { retry_after_ms })
        }
        GatewayError::AlreadyLinked(a) => W::AlreadyLinked(a),
        GatewayError::NotLinked => W::NotLinked,
        GatewayError::RateLimited {
            scope,
            retry_after_ms,
        } => W::RateLimited(wapi::RateLimited {
            scope: match scope {
                LimitScope::User => wapi::LimitScope::User,
                LimitScope::Account => wapi::LimitScope::Account,
                LimitScope::Global => wapi::LimitScope::Global,
            },
            retry_after_ms,
        }),
        GatewayError::NoPendingLink => W::NoPendingLink,
        GatewayError::LinkExpired => W::LinkExpired,
        GatewayError::WrongCode { attempts_left } => {
            W::WrongCode(wapi::WrongCode { attempts_left })
        }
        GatewayError::TooManyAttempts => W::TooManyAttempts,
        GatewayError::WithdrawalsPending => W::WithdrawalsPending,
        GatewayError::InsufficientBalance(a) => W::InsufficientBalance(a),
        GatewayError::BelowMinimum(a) => W::BelowMinimum(a),
        GatewayError::AboveMaximum(a) => W::AboveMaximum(a),
        GatewayError::DailyLimit {
            remaining_cwd,
            requests_left,
            retry_after_ms,
        } => W::DailyLimit(wapi::DailyLimit {
            remaining_cwd,
            requests_left,
            retry_after_ms,
        }),
        GatewayError::AmountTooSmall => W::AmountTooSmall,
        GatewayError::Overflow => W::Overflow,
        GatewayError::IdempotencyConflict => W::IdempotencyConflict,
        GatewayError::WithdrawalNotFound => W::WithdrawalNotFound,
        GatewayError::NotAwaitingReview => W::NotAwaitingReview,
        GatewayError::NotCancellable => W::NotCancellable,
        GatewayError::UnknownPayoutNotFound => W::UnknownPayoutNotFound,
        GatewayError::ProofRequired { difficulty_bits } => W::ProofRequired(difficulty_bits),
        GatewayError::BadProof(p) => W::BadProof(match p {
            ProofProblem::Malformed => wapi::ProofProblem::Malformed,
            ProofProblem::Expired => wapi::ProofProblem::Expired,
            ProofProblem::Used => wapi::ProofProblem::Used,
            ProofProblem::InsufficientWork => wapi::ProofProblem::InsufficientWork,
        }),
        GatewayError::UnclaimedNotFound => W::UnclaimedNotFound,
        GatewayError::AlreadyResolved => W::AlreadyResolved,
        GatewayError::NotCwd => W::NotCwd,
        GatewayError::ReferrerAlreadySet(r) => W::ReferrerAlreadySet(r),
        GatewayError::SelfReferral => W::SelfReferral,
        GatewayError::ReferralCycle => W::ReferralCycle,
        GatewayError::PoolInsufficient(a) => W::PoolInsufficient(a),
        GatewayError::NodeUnavailable {
            detail,
            retry_after_ms,
        } => W::NodeUnavailable(wapi::NodeUnavailable {
            detail,
            retry_after_ms,
        }),
        GatewayError::StoreUnavailable(s) => W::StoreUnavailable(s),
        GatewayError::Busy => W::Busy,
        GatewayError::SigningFailed => W::SigningFailed,
        GatewayError::SignerRefused { rule, reason } => {
            W::SignerRefused(wapi::SignerRefusal { rule, reason })
        }
        GatewayError::SignerUnavailable(s) => W::SignerUnavailable(s),
        GatewayError::SecondApproverNeeded => W::SecondApproverNeeded,
        GatewayError::SettingsChanged(r) => W::SettingsChanged(r),
    }
}

fn rate_in(r: wapi::Rate) -> Rate {
    Rate {
        game_units: r.game_units,
        per_cwd_units: r.per_cwd_units,
    }
}

fn rate_out(r: Rate) -> wapi::Rate {
    wapi::Rate {
        game_units: r.game_units,
        per_cwd_units: r.per_cwd_units,
    }
}

fn amount_in(a: wapi::WithdrawalAmount) -> WithdrawalAmount {
    match a {
        wapi::WithdrawalAmount::Game(g) => WithdrawalAmount::Game(g),
        wapi::WithdrawalAmount::Cwd(c) => WithdrawalAmount::Cwd(c),
    }
}

fn state_out(s: WdState) -> wapi::WithdrawalState {
    match s {
        WdState::AwaitingReview => wapi::WithdrawalState::AwaitingReview,
        WdState::Queued => wapi::WithdrawalState::Queued,
        WdState::Sent => wapi::WithdrawalState::Sent,
        WdState::Confirmed => wapi::WithdrawalState::Confirmed,
        WdState::Failed => wapi::WithdrawalState::Failed,
        WdState::Rejected => wapi::WithdrawalState::Rejected,
        WdState::Cancelled => wapi::WithdrawalState::Cancelled,
    }
}

fn state_in(s: wapi::WithdrawalState) -> WdState {
    match s {
        wapi::WithdrawalState::AwaitingReview => WdState::AwaitingReview,
        wapi::WithdrawalState::Queued => WdState::Queued,
        wapi::WithdrawalState::Sent => WdState::Sent,
        wapi::WithdrawalState::Confirmed => WdState::Confirmed,
        wapi::WithdrawalState::Failed => WdState::Failed,
        wapi::WithdrawalState::Rejected => WdState::Rejected,
        wapi::WithdrawalState::Cancelled => WdState::Cancelled,
    }
}

fn order_in(o: wapi::ListOrder) -> crate::records::Order {
    match o {
        wapi::ListOrder::OldestFirst => crate::records::Order::OldestFirst,
        wapi::ListOrder::NewestFirst => crate::records::Order::NewestFirst,
    }
}

fn withdrawal_out(w: views::WithdrawalView) -> wapi::Withdrawal {
    wapi::Withdrawal {
        withdrawal_id: w.withdrawal_id,
        user: w.user,
        account: w.account,
        game: w.game,
        cwd: w.cwd,
        fee_cwd: w.fee_cwd,
        state: state_out(w.state),
        requested_at_ms: w.requested_at_ms,
        tx_id: w.tx_id,
        attempts: w.attempts,
        block_num: w.block_num,
        note: w.note,
        approved_by: w.approved_by,
    }
}

fn unclaimed_out(u: views::UnclaimedView) -> wapi::UnclaimedDeposit {
    wapi::UnclaimedDeposit {
        deposit_id: u.deposit_id,
        block_num: u.block_num,
        trx_in_block: u.trx_in_block,
        op_in_trx: u.op_in_trx,
        occurrence: u.occurrence,
        op: u.op,
        from_account_id: u.from_account_id,
        asset_id: u.asset_id,
        amount: u.amount,
        reason: u.reason,
        state: match u.state {
            views::UnclaimedStateView::Open => wapi::UnclaimedState::Open,
            views::UnclaimedStateView::Assigned => wapi::UnclaimedState::Assigned,
            views::UnclaimedStateView::RefundMarked => wapi::UnclaimedState::RefundMarked,
        },
        resolution: u.resolution,
    }
}

fn unknown_payout_out(u: views::UnknownPayoutView) -> wapi::UnknownPayout {
    wapi::UnknownPayout {
        deposit_id: u.deposit_id,
        block_num: u.position.block_num,
        trx_in_block: u.position.trx_in_block,
        op_in_trx: u.position.op_in_trx,
        to_account_id: u.to_account_id,
        asset_id: u.asset_id,
        amount: u.amount,
        memo_withdrawal_id: u.memo_withdrawal_id,
        acknowledged: u.acknowledged,
        note: u.note,
    }
}

fn quote_out(q: views::Quote) -> wapi::Quote {
    wapi::Quote {
        cwd: q.cwd,
        game: q.game,
        rate: rate_out(q.rate),
        fee_cwd: q.fee_cwd,
    }
}

fn feed_event_out(e: crate::records::outbox::EventRec) -> wapi::FeedEvent {
    wapi::FeedEvent {
        id: e.id,
        seq: e.seq,
        at_ms: e.at_ms,
        event: event_to_wit(e.event),
    }
}

fn delivery_out(d: crate::webhooks::DeliveryRec) -> wapi::WebhookDelivery {
    use crate::webhooks::DeliveryState as S;
    wapi::WebhookDelivery {
        seq: d.seq,
        event_id: d.event_id,
        state: match d.state {
            S::Pending => wapi::DeliveryState::Pending,
            S::Delivered => wapi::DeliveryState::Delivered,
            S::Failed => wapi::DeliveryState::Failed,
        },
        attempts: d.attempts,
        first_at_ms: d.first_at_ms,
        next_at_ms: d.next_at_ms,
        log: d
            .log
            .into_iter()
            .map(|a| wapi::DeliveryAttempt {
                at_ms: a.at_ms,
                status: a.status,
                detail: a.detail,
            })
            .collect(),
    }
}

fn sweep_ref(s: ev::SweepRef) -> wev::SweepRef {
    wev::SweepRef {
        sweep_id: s.sweep_id,
        cold_account: s.cold_account,
        cwd: s.cwd,
        tx_id: s.tx_id,
    }
}

fn sweep_out(s: views::SweepView) -> wapi::Sweep {
    use crate::sweep::SweepState as S;
    wapi::Sweep {
        sweep_id: s.sweep_id,
        cold_account: s.cold_account,
        cwd: s.cwd,
        fee: s.fee,
        hot_balance: s.hot_balance,
        kept_cwd: s.kept_cwd,
        state: match s.state {
            S::Sent => wapi::SweepState::Sent,
            S::Confirmed => wapi::SweepState::Confirmed,
            S::Expired => wapi::SweepState::Expired,
        },
        created_at_ms: s.created_at_ms,
        tx_id: s.tx_id,
        block_num: s.block_num,
    }
}

fn transfer_out(t: views::InternalTransferView) -> wapi::InternalTransfer {
    wapi::InternalTransfer {
        transfer_id: t.transfer_id,
        from_user: t.from_user,
        to_user: t.to_user,
        amount: t.amount,
        memo: t.memo,
        at_ms: t.at_ms,
        from_balance: t.from_balance,
        to_balance: t.to_balance,
        replayed: t.replayed,
    }
}

fn referral_out(r: views::ReferralView) -> wapi::Referral {
    wapi::Referral {
        user: r.user,
        referrer: r.referrer,
        since_ms: r.since_ms,
    }
}

fn fee_reserve_out(f: views::FeeReserveView) -> wapi::FeeReserve {
    wapi::FeeReserve {
        fee_balance: f.fee_balance,
        reserve_cwd: f.reserve_cwd,
        link_messages: f.link_messages,
        avg_link_fee: f.avg_link_fee,
        payouts: f.payouts,
        avg_payout_fee: f.avg_payout_fee,
        fees_last_week: f.fees_last_week,
        days_left: f.days_left,
        low: f.low,
    }
}

fn linked_out(l: views::LinkedAccount) -> wapi::LinkedAccount {
    wapi::LinkedAccount {
        account: l.account,
        account_id: l.account_id,
        linked_at_ms: l.linked_at_ms,
    }
}

// Configuration parts (both ways: `configure` takes them, the settings show them).

fn link_in(l: wapi::LinkConfig) -> LinkConfig {
    LinkConfig {
        code_digits: l.code_digits,
        code_ttl_ms: l.code_ttl_ms,
        max_attempts: l.max_attempts,
        message_template: l.message_template,
        user_interval_ms: l.user_interval_ms,
        user_daily: l.user_daily,
        account_daily: l.account_daily,
        global_daily: l.global_daily,
        pow_bits: l.pow_bits,
    }
}

fn link_out(l: LinkConfig) -> wapi::LinkConfig {
    wapi::LinkConfig {
        code_digits: l.code_digits,
        code_ttl_ms: l.code_ttl_ms,
        max_attempts: l.max_attempts,
        message_template: l.message_template,
        user_interval_ms: l.user_interval_ms,
        user_daily: l.user_daily,
        account_daily: l.account_daily,
        global_daily: l.global_daily,
        pow_bits: l.pow_bits,
    }
}

fn withdrawals_in(w: wapi::WithdrawalConfig) -> WithdrawalConfig {
    WithdrawalConfig {
        min_cwd: w.min_cwd,
        max_cwd: w.max_cwd,
        daily_cwd: w.daily_cwd,
        review_above_cwd: w.review_above_cwd,
        four_eyes_above_cwd: w.four_eyes_above_cwd,
        daily_count: w.daily_count,
        fee_cwd: w.fee_cwd,
        expiration_secs: w.expiration_secs,
        max_attempts: w.max_attempts,
    }
}

fn withdrawals_out(w: WithdrawalConfig) -> wapi::WithdrawalConfig {
    wapi::WithdrawalConfig {
        min_cwd: w.min_cwd,
        max_cwd: w.max_cwd,
        daily_cwd: w.daily_cwd,
        review_above_cwd: w.review_above_cwd,
        four_eyes_above_cwd: w.four_eyes_above_cwd,
        daily_count: w.daily_count,
        fee_cwd: w.fee_cwd,
        expiration_secs: w.expiration_secs,
        max_attempts: w.max_attempts,
    }
}

fn treasury_in(t: wapi::TreasuryConfig) -> TreasuryConfig {
    TreasuryConfig {
        cold_account: t.cold_account,
        high_water_cwd: t.high_water_cwd,
        low_water_cwd: t.low_water_cwd,
        fee_reserve_cwd: t.fee_reserve_cwd,
        low_fee_days: t.low_fee_days,
        min_sweep_cwd: t.min_sweep_cwd,
        max_transfer_fee_cwd: t.max_transfer_fee_cwd,
        max_message_fee_cwd: t.max_message_fee_cwd,
    }
}

fn treasury_out(t: TreasuryConfig) -> wapi::TreasuryConfig {
    wapi::TreasuryConfig {
        cold_account: t.cold_account,
        high_water_cwd: t.high_water_cwd,
        low_water_cwd: t.low_water_cwd,
        fee_reserve_cwd: t.fee_reserve_cwd,
        low_fee_days: t.low_fee_days,
        min_sweep_cwd: t.min_sweep_cwd,
        max_transfer_fee_cwd: t.max_transfer_fee_cwd,
        max_message_fee_cwd: t.max_message_fee_cwd,
    }
}

fn referrals_in(r: wapi::ReferralConfig) -> ReferralConfig {
    ReferralConfig {
        level_rates_per_mille: r.level_rates_per_mille,
        cashback_per_mille: r.cashback_per_mille,
        pool_user: r.pool_user,
    }
}

fn referrals_out(r: ReferralConfig) -> wapi::ReferralConfig {
    wapi::ReferralConfig {
        level_rates_per_mille: r.level_rates_per_mille,
        cashback_per_mille: r.cashback_per_mille,
        pool_user: r.pool_user,
    }
}

fn settings_in(s: wapi::Settings) -> crate::config::Settings {
    crate::config::Settings {
        deposit_rate: rate_in(s.deposit_rate),
        withdrawal_rate: rate_in(s.withdrawal_rate),
        link: link_in(s.link),
        withdrawals: withdrawals_in(s.withdrawals),
        low_fee_balance_cwd: s.low_fee_balance_cwd,
        treasury: treasury_in(s.treasury),
        referrals: referrals_in(s.referrals),
    }
}

fn settings_view_out(v: crate::settings::SettingsView) -> wapi::SettingsView {
    let s = v.settings;
    wapi::SettingsView {
        settings: wapi::Settings {
            deposit_rate: rate_out(s.deposit_rate),
            withdrawal_rate: rate_out(s.withdrawal_rate),
            link: link_out(s.link),
            withdrawals: withdrawals_out(s.withdrawals),
            low_fee_balance_cwd: s.low_fee_balance_cwd,
            treasury: treasury_out(s.treasury),
            referrals: referrals_out(s.referrals),
        },
        revision: v.revision,
        changed_at_ms: v.changed_at_ms,
        changed_by: v.changed_by,
    }
}

fn audit_out(e: crate::records::audit::AuditEntry) -> wapi::AuditEntry {
    wapi::AuditEntry {
        id: e.id,
        at_ms: e.rec.at_ms,
        actor: e.rec.actor,
        call: e.rec.call,
        subject: e.rec.subject,
        arguments: e.rec.arguments,
        outcome: e.rec.outcome,
    }
}

fn movement_out(m: crate::records::journal::Movement) -> wapi::Movement {
    wapi::Movement {
        id: m.id(),
        at_ms: m.at_ms,
        user: m.user,
        kind: m.kind,
        reference: m.reference,
        balance_delta: m.balance_delta,
        frozen_delta: m.frozen_delta,
        cwd: m.cwd,
        note: m.note,
    }
}

fn books_out(b: crate::books::Books) -> wapi::Books {
    wapi::Books {
        balances_game: b.balances_game,
        balances_cwd: b.balances_cwd,
        pool_game: b.pool_game,
        unsent_cwd: b.unsent_cwd,
        sent_cwd: b.sent_cwd,
        unclaimed_cwd: b.unclaimed_cwd,
        owed_cwd: b.owed_cwd,
        hot_cwd: b.hot_cwd,
        cold_cwd: b.cold_cwd,
        surplus_cwd: b.surplus_cwd,
        mismatch: b.mismatch,
        explanation: b.explanation,
    }
}

impl wapi::Guest for Component {
    fn configure(
        config: wapi::Config,
        keys: wapi::Keys,
    ) -> Result<wapi::GatewayInfo, wapi::GatewayError> {
        let c = Config {
            gateway_account: config.gateway_account,
            chain_id: config.chain_id,
            deposit_rate: rate_in(config.deposit_rate),
            withdrawal_rate: rate_in(config.withdrawal_rate),
            link: link_in(config.link),
            withdrawals: withdrawals_in(config.withdrawals),
            low_fee_balance_cwd: config.low_fee_balance_cwd,
            tick_interval_ms: config.tick_interval_ms,
            idempotency_window_ms: config.idempotency_window_ms,
            treasury: treasury_in(config.treasury),
            referrals: referrals_in(config.referrals),
            events: crate::config::EventConfig {
                retention_ms: config.events.retention_ms,
                webhook_give_up_ms: config.events.webhook_give_up_ms,
                webhook_max_interval_ms: config.events.webhook_max_interval_ms,
                live_only: config.events.live_only,
            },
            texts: crate::config::PlayerTexts {
                link_messages: config.texts.link_messages.into_iter().map(|t| (t.language, t.text)).collect(),
                deposit_notes: config.texts.deposit_notes.into_iter().map(|t| (t.language, t.text)).collect(),
            },
        };
        let k = Keys {
            active_wif: keys.active_wif,
            memo_wif: keys.memo_wif,
        };
        with(|g| {
            let info = g.configure(c, k)?;
            remember_configuration(g);
            Ok(info)
        })
        .map(|i| wapi::GatewayInfo {
            account: i.account,
            account_id: i.account_id,
            head_block: i.head_block,
            last_irreversible_block: i.last_irreversible_block,
        })
    }
    fn start_link(
        user: String,
        account: String,
        proof: Option<wapi::PowProof>,
    ) -> Result<wapi::LinkStarted, wapi::GatewayError> {
        let proof = proof.map(|p| crate::pow::Proof {
            challenge: p.challenge,
            nonce: p.nonce,
        });
        with(|g| g.start_link_with_proof(&user, &account, proof.as_ref())).map(|l| {
            wapi::LinkStarted {
                account: l.account,
                expires_at_ms: l.expires_at_ms,
                code_digits: l.code_digits,
                tx_id: l.tx_id,
            }
        })
    }
    fn link_challenge() -> Result<wapi::PowChallenge, wapi::GatewayError> {
        with(|g| g.link_challenge()).map(|c| wapi::PowChallenge {
            challenge: c.challenge,
            difficulty_bits: c.difficulty_bits,
            expires_at_ms: c.expires_at_ms,
        })
    }
    fn start_memo_link(user: String) -> Result<wapi::MemoLink, wapi::GatewayError> {
        with(|g| g.start_memo_link(&user)).map(|m| wapi::MemoLink {
            code: m.code,
            gateway_account: m.gateway_account,
            expires_at_ms: m.expires_at_ms,
        })
    }
    fn confirm_link(user: String, code: String) -> Result<wapi::LinkedAccount, wapi::GatewayError> {
        with(|g| g.confirm_link(&user, &code)).map(linked_out)
    }
    fn unlink(user: String) -> Result<(), wapi::GatewayError> {
        with(|g| g.unlink(&user))
    }
    fn account(user: String) -> Result<wapi::AccountView, wapi::GatewayError> {
        with(|g| g.account(&user)).map(|a| wapi::AccountView {
            user: a.user,
            linked: a.linked.map(linked_out),
            pending_link: a.pending_link.map(|p| wapi::PendingLink {
                account: p.account,
                expires_at_ms: p.expires_at_ms,
                attempts_left: p.attempts_left,
            }),
            balance: a.balance,
            frozen: a.frozen,
            revision: a.revision,
            language: a.language,
        })
    }
    fn set_language(user: String, language: String) -> Result<(), wapi::GatewayError> {
        with(|g| g.set_language(&user, &language))
    }
    fn deposit_instructions(user: String) -> Result<wapi::DepositInfo, wapi::GatewayError> {
        with(|g| g.deposit_instructions(&user)).map(|d| wapi::DepositInfo {
            gateway_account: d.gateway_account,
            from_account: d.from_account,
            asset: d.asset,
            rate: rate_out(d.rate),
            note: d.note,
        })
    }
    fn quote_deposit(cwd: u64) -> Result<wapi::Quote, wapi::GatewayError> {
        with(|g| g.quote_deposit(cwd)).map(quote_out)
    }
    fn quote_withdrawal(amount: wapi::WithdrawalAmount) -> Result<wapi::Quote, wapi::GatewayError> {
        with(|g| g.quote_withdrawal(amount_in(amount))).map(quote_out)
    }
    fn adjust_balance(
        user: String,
        delta: i64,
        idempotency_key: String,
        reason: String,
    ) -> Result<wapi::BalanceChange, wapi::GatewayError> {
        with(|g| g.adjust_balance(&user, delta, &idempotency_key, &reason)).map(|b| {
            wapi::BalanceChange {
                balance: b.balance,
                frozen: b.frozen,
                replayed: b.replayed,
            }
        })
    }
    fn request_withdrawal(
        user: String,
        amount: wapi::WithdrawalAmount,
        idempotency_key: String,
    ) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        with(|g| g.request_withdrawal(&user, amount_in(amount), &idempotency_key))
            .map(withdrawal_out)
    }
    fn approve_withdrawal(actor: String, withdrawal_id: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        with(|g| g.approve_withdrawal(&actor, &withdrawal_id)).map(withdrawal_out)
    }
    fn reject_withdrawal(
        actor: String,
        withdrawal_id: String,
        reason: String,
    ) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        with(|g| g.reject_withdrawal(&actor, &withdrawal_id, &reason)).map(withdrawal_out)
    }
    fn cancel_withdrawal(
        actor: String,
        withdrawal_id: String,
        reason: String,
    ) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        with(|g| g.cancel_withdrawal(&actor, &withdrawal_id, &reason)).map(withdrawal_out)
    }
    fn list_unknown_payouts(
        include_acknowledged: bool,
    ) -> Result<Vec<wapi::UnknownPayout>, wapi::GatewayError> {
        with(|g| g.list_unknown_payouts(include_acknowledged))
            .map(|v| v.into_iter().map(unknown_payout_out).collect())
    }
    fn acknowledge_unknown_payout(
        actor: String,
        deposit_id: String,
        note: String,
    ) -> Result<wapi::UnknownPayout, wapi::GatewayError> {
        with(|g| g.acknowledge_unknown_payout(&actor, &deposit_id, &note)).map(unknown_payout_out)
    }
    fn get_withdrawal(withdrawal_id: String) -> Result<wapi::Withdrawal, wapi::GatewayError> {
        with(|g| g.get_withdrawal(&withdrawal_id)).map(withdrawal_out)
    }
    fn list_withdrawals(
        filter: wapi::WithdrawalFilter,
        order: wapi::ListOrder,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::Withdrawal>, wapi::GatewayError> {
        let f = views::WithdrawalFilter {
            user: filter.user,
            state: filter.state.map(state_in),
        };
        with(|g| g.list_withdrawals(&f, order_in(order), start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(withdrawal_out).collect())
    }
    fn list_deposits(
        user: String,
        order: wapi::ListOrder,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::CreditedDeposit>, wapi::GatewayError> {
        with(|g| g.list_deposits(&user, order_in(order), start_after.as_deref(), limit)).map(|v| {
            v.into_iter()
                .map(|d| wapi::CreditedDeposit {
                    deposit_id: d.deposit_id,
                    user: d.user,
                    from_account_id: d.from_account_id,
                    cwd: d.cwd,
                    game: d.game,
                    credited_at_ms: d.credited_at_ms,
                    assigned: d.assigned,
                })
                .collect()
        })
    }
    fn list_unclaimed(
        include_resolved: bool,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::UnclaimedDeposit>, wapi::GatewayError> {
        with(|g| g.list_unclaimed(include_resolved, start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(unclaimed_out).collect())
    }
    fn assign_unclaimed(
        actor: String,
        deposit_id: String,
        user: String,
    ) -> Result<wapi::UnclaimedDeposit, wapi::GatewayError> {
        with(|g| g.assign_unclaimed(&actor, &deposit_id, &user)).map(unclaimed_out)
    }
    fn refund_unclaimed(
        actor: String,
        deposit_id: String,
        note: String,
    ) -> Result<wapi::UnclaimedDeposit, wapi::GatewayError> {
        with(|g| g.refund_unclaimed(&actor, &deposit_id, &note)).map(unclaimed_out)
    }
    fn status() -> Result<wapi::GatewayStatus, wapi::GatewayError> {
        with(|g| g.status()).map(|s| wapi::GatewayStatus {
            gateway_account: s.gateway_account,
            cwd_balance: s.cwd_balance,
            frozen_game: s.frozen_game,
            pending_cwd: s.pending_cwd,
            pending_withdrawals: s.pending_withdrawals,
            unclaimed_cwd: s.unclaimed_cwd,
            unclaimed_count: s.unclaimed_count,
            scanned_through_block: s.scanned_through_block,
            low_fee_balance: s.low_fee_balance,
            payouts_paused: s.payouts_paused,
            fee_reserve: fee_reserve_out(s.fee_reserve),
            open_sweep: s.open_sweep.map(sweep_out),
        })
    }
    fn transfer_internal(
        from_user: String,
        to_user: String,
        amount: u64,
        idempotency_key: String,
        memo: String,
    ) -> Result<wapi::InternalTransfer, wapi::GatewayError> {
        with(|g| g.transfer_internal(&from_user, &to_user, amount, &idempotency_key, &memo))
            .map(transfer_out)
    }
    fn list_transfers(
        user: String,
        order: wapi::ListOrder,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::InternalTransfer>, wapi::GatewayError> {
        with(|g| g.list_transfers(&user, order_in(order), start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(transfer_out).collect())
    }
    fn set_referrer(user: String, referrer: String) -> Result<wapi::Referral, wapi::GatewayError> {
        with(|g| g.set_referrer(&user, &referrer)).map(referral_out)
    }
    fn reward_referrers(
        user: String,
        base_amount: u64,
        idempotency_key: String,
    ) -> Result<wapi::Reward, wapi::GatewayError> {
        with(|g| g.reward_referrers(&user, base_amount, &idempotency_key)).map(|r| wapi::Reward {
            user: r.user,
            base_amount: r.base_amount,
            shares: r
                .shares
                .into_iter()
                .map(|s| wapi::RewardShare {
                    level: s.level,
                    user: s.user,
                    amount: s.amount,
                })
                .collect(),
            cashback: r.cashback,
            paid: r.paid,
            pool_balance: r.pool_balance,
            at_ms: r.at_ms,
            replayed: r.replayed,
        })
    }
    fn list_referrals(
        referrer: String,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::Referral>, wapi::GatewayError> {
        with(|g| g.list_referrals(&referrer, start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(referral_out).collect())
    }
    fn referral_earnings(user: String) -> Result<wapi::ReferralTotals, wapi::GatewayError> {
        with(|g| g.referral_earnings(&user)).map(|e| wapi::ReferralTotals {
            user: e.user,
            referrer: e.referrer,
            referrals: e.referrals,
            by_level: e.by_level,
            cashback: e.cashback,
        })
    }
    fn list_sweeps(
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::Sweep>, wapi::GatewayError> {
        with(|g| g.list_sweeps(start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(sweep_out).collect())
    }
    fn list_events(after: u64, limit: u32) -> Result<Vec<wapi::FeedEvent>, wapi::GatewayError> {
        with(|g| g.list_events(after, limit)).map(|v| v.into_iter().map(feed_event_out).collect())
    }
    fn feed_position() -> Result<u64, wapi::GatewayError> {
        with(|g| g.feed_head())
    }
    fn claim_webhook_deliveries(limit: u32) -> Result<Vec<wapi::WebhookClaim>, wapi::GatewayError> {
        with(|g| g.claim_webhook_deliveries(limit)).map(|v| {
            v.into_iter()
                .map(|c| wapi::WebhookClaim {
                    event: feed_event_out(c.event),
                    attempt: c.attempt,
                })
                .collect()
        })
    }
    fn report_webhook_delivery(
        seq: u64,
        delivered: bool,
        status: u16,
        detail: String,
    ) -> Result<wapi::WebhookDelivery, wapi::GatewayError> {
        with(|g| g.report_webhook_delivery(seq, delivered, status, &detail)).map(delivery_out)
    }
    fn redeliver_event(actor: String, seq: u64) -> Result<wapi::WebhookDelivery, wapi::GatewayError> {
        with(|g| g.redeliver_event(&actor, seq)).map(delivery_out)
    }
    fn list_webhook_deliveries(
        state: Option<wapi::DeliveryState>,
        start_after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<wapi::WebhookDelivery>, wapi::GatewayError> {
        use crate::webhooks::DeliveryState as S;
        let state = state.map(|s| match s {
            wapi::DeliveryState::Pending => S::Pending,
            wapi::DeliveryState::Delivered => S::Delivered,
            wapi::DeliveryState::Failed => S::Failed,
        });
        with(|g| g.list_webhook_deliveries(state, start_after, limit))
            .map(|v| v.into_iter().map(delivery_out).collect())
    }
    fn get_settings() -> Result<wapi::SettingsView, wapi::GatewayError> {
        with(|g| g.get_settings()).map(settings_view_out)
    }
    fn update_settings(
        actor: String,
        settings: wapi::Settings,
        revision: u64,
    ) -> Result<wapi::SettingsView, wapi::GatewayError> {
        let s = settings_in(settings);
        with(|g| g.update_settings(&actor, &s, revision)).map(settings_view_out)
    }
    fn list_audit(
        filter: wapi::AuditFilter,
        start_before: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::AuditEntry>, wapi::GatewayError> {
        let f = crate::records::audit::AuditFilter {
            actor: filter.actor,
            call: filter.call,
            subject: filter.subject,
            since_ms: filter.since_ms,
            before_ms: filter.before_ms,
        };
        with(|g| g.list_audit(&f, start_before.as_deref(), limit))
            .map(|v| v.into_iter().map(audit_out).collect())
    }
    fn statement(
        user: String,
        start_before: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::Movement>, wapi::GatewayError> {
        with(|g| g.statement(&user, start_before.as_deref(), limit))
            .map(|v| v.into_iter().map(movement_out).collect())
    }
    fn list_movements(
        since_ms: u64,
        before_ms: u64,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<Vec<wapi::Movement>, wapi::GatewayError> {
        with(|g| g.list_movements(since_ms, before_ms, start_after.as_deref(), limit))
            .map(|v| v.into_iter().map(movement_out).collect())
    }
    fn reconcile() -> Result<wapi::Books, wapi::GatewayError> {
        with(|g| g.reconcile()).map(books_out)
    }
    fn tick() -> Result<wapi::TickReport, wapi::GatewayError> {
        with(|g| g.tick()).map(|r| wapi::TickReport {
            next_tick_ms: r.next_tick_ms,
            deposits_credited: r.deposits_credited,
            deposits_unclaimed: r.deposits_unclaimed,
            withdrawals_sent: r.withdrawals_sent,
            withdrawals_confirmed: r.withdrawals_confirmed,
            withdrawals_failed: r.withdrawals_failed,
            sweeps_sent: r.sweeps_sent,
            sweeps_confirmed: r.sweeps_confirmed,
            node_errors: r.node_errors,
            last_irreversible_block: r.last_irreversible_block,
            history_scanned: r.history_scanned,
            history_behind: r.history_behind,
            scanned_through_block: r.scanned_through_block,
            derived_build: r.derived_build.map(|b| wapi::DerivedBuild {
                counted: b.counted,
                done: b.done,
            }),
        })
    }
}

export!(Component);
