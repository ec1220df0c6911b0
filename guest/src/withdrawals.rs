//! Withdrawals: freeze at request time, then a state machine driven by the tick.
//!
//! queued ─▶ sent ─▶ confirmed            (seen in the gateway's history, irreversible)
//!   ▲         └──▶ sent (attempt n+1)   (attempt n provably expired unincluded)
//!   │         └──▶ failed + unfrozen    (every attempt expired unincluded)
//! awaiting-review ─▶ queued | rejected + unfrozen
//! queued | awaiting-review ─▶ cancelled + unfrozen   (operator, before anything is sent)
//!
//! A signed transaction and its id are committed BEFORE it is broadcast; errors and
//! timeouts rebroadcast the same bytes; a new transaction is built only once the previous
//! one can provably never be included: the irreversible block's time is past its
//! expiration and the history scan has covered every block up to it without seeing it.
//! The transfer's memo nonce is drawn at random for each withdrawal and indexed, so the
//! payout is recognised in the history whatever node or instance sent it, and a store
//! restored from an old backup never reuses the nonce of a payout it forgot.
//!
//! No blind payout: nothing is sent until the scan has covered every block up to the
//! last irreversible one, and while a payout carrying the gateway's withdrawal memo that
//! the store does not know is unacknowledged (`upay/`), nothing new is sent at all.

use crate::chain::{self, Dgp, HistoryEntry};
use crate::deposits::Applied;
use crate::events::{Alert, Event, OpPosition, WithdrawalFailure};
use crate::gateway::Gateway;
use crate::gateway_error::{GatewayError, GwResult, NodeFailure};
use crate::ledger::check_idempotency_key;
use crate::limits;
use crate::memo;
use crate::ops::{AccountId, Asset, Memo, Operation, Transaction, Transfer};
use crate::ports::NodeError;
use crate::rates::{self, WithdrawalAmount};
use crate::records::{
    self, transact, Cursor, SentTx, Step, UnknownPayoutRec, UserRec, WdState, WithdrawalRec,
};
use crate::views::{TickReport, UnknownPayoutView, WithdrawalView};

/// The plain text of a withdrawal's memo (encrypted on chain).
pub fn payout_memo(id: &str, gateway_account: &str) -> String {
    format!("Withdrawal {id} from {gateway_account}")
}

/// The withdrawal id in a memo of the gateway's withdrawal format, if it is one.
pub fn parse_payout_memo(text: &str, gateway_account: &str) -> Option<String> {
    let (id, from) = text.strip_prefix("Withdrawal ")?.split_once(" from ")?;
    let well_formed =
        id.len() == 11 && id.starts_with('w') && id[1..].bytes().all(|b| b.is_ascii_digit());
    (well_formed && from == gateway_account).then(|| id.to_string())
}

/// Whether a node's refusal of a broadcast says it already has the transaction: the
/// transaction is in its pool or in a block, which is what a rebroadcast wants.
/// crowdwiz-core says it with a bare assertion (db_block.cpp `_apply_transaction`:
/// `FC_ASSERT( trx_idx.indices().get<by_trx_id>().find(trx.id()) == …end() )`); other
/// nodes and proxies with words.
pub fn is_duplicate_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("duplicate transaction")
        || m.contains("duplicate_transaction")
        || m.contains("duplicate trx")
        || m.contains("get<by_trx_id>().find(trx.id()) ==")
}

/// Records a payout the store does not know (in the scan's commit) and pauses payouts.
pub(crate) fn record_unknown_payout(
    t: &mut records::Txn,
    pos: OpPosition,
    to: AccountId,
    asset_id: u64,
    amount: u64,
    memo_id: &str,
    now: u64,
) -> GwResult<Applied> {
    let deposit_id = pos.deposit_id();
    let key = records::upay_key(&deposit_id);
    if t.get::<UnknownPayoutRec>(&key)?.is_some() {
        return Ok(Applied::Nothing);
    }
    t.put(
        &key,
        &UnknownPayoutRec {
            position: pos,
            to_account_id: to.0,
            asset_id,
            amount,
            memo_withdrawal_id: memo_id.into(),
            recorded_at_ms: now,
            acknowledged: None,
        },
    );
    Ok(Applied::UnknownPayout(Alert::UnknownPayout {
        deposit_id,
        position: pos,
        to_account_id: format!("1.2.{}", to.0),
        amount,
        memo_withdrawal_id: memo_id.into(),
    }))
}

impl UnknownPayoutRec {
    pub fn view(&self) -> UnknownPayoutView {
        UnknownPayoutView {
            deposit_id: self.position.deposit_id(),
            position: self.position,
            to_account_id: format!("1.2.{}", self.to_account_id),
            asset_id: format!("1.3.{}", self.asset_id),
            amount: self.amount,
            memo_withdrawal_id: self.memo_withdrawal_id.clone(),
            acknowledged: self.acknowledged.is_some(),
            note: self.acknowledged.as_ref().map(|(n, _)| n.clone()),
        }
    }
}

/// The last irreversible block's time, read once per tick when first needed.
#[derive(Default)]
pub(crate) struct LibTime(Option<Option<u32>>);

/// Why a tick could not build a transaction now (it stays queued and is retried).
pub(crate) enum NotNow {
    Node(NodeFailure),
    LowFunds {
        balance: u64,
        needed: u64,
    },
    /// The receiving account does not exist on chain: nothing can ever pay it.
    AccountGone,
    /// The signature failed its self-check: nothing was stored or sent.
    SigningFailed,
    /// The signer's policy refused the transaction.
    SignerRefused { rule: String, reason: String },
    /// The signer did not answer (alerted).
    SignerUnavailable,
    /// The node's fee quote is above the ceiling (alerted): not now.
    FeeAboveCeiling,
}

impl From<crate::fees::FeeQuoteError> for NotNow {
    fn from(e: crate::fees::FeeQuoteError) -> Self {
        match e {
            crate::fees::FeeQuoteError::Node(f) => NotNow::Node(f),
            crate::fees::FeeQuoteError::AboveCeiling { .. } => NotNow::FeeAboveCeiling,
        }
    }
}

impl From<crate::signatures::SignFailure> for NotNow {
    fn from(f: crate::signatures::SignFailure) -> Self {
        use crate::signatures::SignFailure as F;
        match f {
            F::Faulty => NotNow::SigningFailed,
            F::Invalid(d) => NotNow::Node(NodeFailure::bad("sign", d)),
            F::Refused { rule, reason } => NotNow::SignerRefused { rule, reason },
            F::Unavailable(_) => NotNow::SignerUnavailable,
        }
    }
}

impl Gateway {
    pub fn request_withdrawal(
        &mut self,
        user: &str,
        amount: WithdrawalAmount,
        idempotency_key: &str,
    ) -> GwResult<WithdrawalView> {
        self.refresh_settings()?;
        self.check_player(user)?;
        check_idempotency_key(idempotency_key)?;
        let (rate, wc) = {
            let a = self.active()?;
            (a.config.withdrawal_rate, a.config.withdrawals.clone())
        };
        let now = self.now();
        let asked = amount.describe();
        // Random, never derived from the id: a restored store reuses ids, not nonces.
        let nonce = u64::from_le_bytes(self.random_bytes()).max(1);
        // Replays first: a repeated request answers what the first one did.
        let conv = rates::withdrawal(rate, amount, wc.fee_cwd);
        let view = transact(&mut self.ports, |t| {
            let kkey = records::wdkey_key(idempotency_key);
            if let Some(id) = t.get::<String>(&kkey)? {
                let w: WithdrawalRec = t
                    .get(&records::wd_key(&id))?
                    .ok_or(GatewayError::WithdrawalNotFound)?;
                if w.user != user || w.asked != asked || w.idempotency_key != idempotency_key {
                    return Err(GatewayError::IdempotencyConflict);
                }
                return Ok(Step::Done(w));
            }
            let (game, cwd) = conv.clone()?;
            if cwd < wc.min_cwd {
                return Err(GatewayError::BelowMinimum(wc.min_cwd));
            }
            if wc.max_cwd > 0 && cwd > wc.max_cwd {
                return Err(GatewayError::AboveMaximum(wc.max_cwd));
            }
            let ukey = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            let linked = u.linked.clone().ok_or(GatewayError::NotLinked)?;
            if u.balance < game {
                return Err(GatewayError::InsufficientBalance(u.balance));
            }
            let day = limits::take_withdrawal(&mut u, wc.daily_cwd, wc.daily_count, cwd, now)?;
            let seq: u64 = t.get_or_default(records::SEQ_WD)?;
            let seq = seq + 1;
            let id = format!("w{seq:010}");
            u.balance -= game;
            u.frozen = u.frozen.checked_add(game).ok_or(GatewayError::Overflow)?;
            u.open_withdrawals += 1;
            let above = |threshold: u64| threshold > 0 && cwd > threshold;
            let state = if above(wc.review_above_cwd) || above(wc.four_eyes_above_cwd) {
                WdState::AwaitingReview
            } else {
                WdState::Queued
            };
            let w = WithdrawalRec {
                id: id.clone(),
                user: user.into(),
                account: linked.account,
                account_id: linked.account_id,
                game,
                cwd,
                fee_cwd: wc.fee_cwd,
                rate,
                idempotency_key: idempotency_key.into(),
                asked: asked.clone(),
                nonce,
                state,
                requested_at_ms: now,
                day,
                tx: None,
                attempts: 0,
                block_num: None,
                note: None,
                approved_by: Vec::new(),
            };
            if t.get::<String>(&records::wdnonce_key(nonce))?.is_some() {
                return Err(GatewayError::Busy); // a 2^-64 collision: the caller retries
            }
            let _: Option<WithdrawalRec> = t.get(&records::wd_key(&id))?;
            t.put(&ukey, &u);
            t.put(&records::wd_key(&id), &w);
            t.put(&kkey, &id);
            t.put(&records::wdnonce_key(nonce), &id);
            t.put(&records::wdopen_key(&id), &now);
            t.put(records::SEQ_WD, &seq);
            t.emit(Event::WithdrawalRequested(w.reference()));
            if w.state == WdState::AwaitingReview {
                t.emit(Event::WithdrawalAwaitingReview(w.reference()));
            }
            Ok(Step::Commit(w))
        })?;
        Ok(view.view())
    }

    /// Releases a withdrawal under review. A four-eyes payout (above
    /// `four-eyes-above-cwd` when approved) needs two different actors: the first
    /// approval is recorded and the payout stays under review; the second releases it.
    pub fn approve_withdrawal(&mut self, actor: &str, id: &str) -> GwResult<WithdrawalView> {
        let args = serde_json::json!({ "withdrawal_id": id });
        self.audited(actor, "approve-withdrawal", id, args, |g| g.approve_withdrawal_now(actor, id))
    }

    fn approve_withdrawal_now(&mut self, actor: &str, id: &str) -> GwResult<WithdrawalView> {
        self.refresh_settings()?;
        let four_eyes = self.active()?.config.withdrawals.four_eyes_above_cwd;
        let w = transact(&mut self.ports, |t| {
            let mut w: WithdrawalRec = t
                .get(&records::wd_key(id))?
                .ok_or(GatewayError::WithdrawalNotFound)?;
            if w.state != WdState::AwaitingReview {
                return Err(GatewayError::NotAwaitingReview);
            }
            if w.approved_by.iter().any(|a| a == actor) {
                return Err(GatewayError::SecondApproverNeeded);
            }
            w.approved_by.push(actor.to_string());
            let needed = if four_eyes > 0 && w.cwd > four_eyes { 2 } else { 1 };
            if w.approved_by.len() >= needed {
                w.state = WdState::Queued;
                t.emit(Event::WithdrawalApproved(w.reference()));
            }
            t.put(&records::wd_key(id), &w);
            Ok(Step::Commit(w))
        })?;
        Ok(w.view())
    }

    pub fn reject_withdrawal(&mut self, actor: &str, id: &str, reason: &str) -> GwResult<WithdrawalView> {
        let args = serde_json::json!({ "withdrawal_id": id, "reason": reason });
        self.audited(actor, "reject-withdrawal", id, args, |g| g.reject_withdrawal_now(id, reason))
    }

    fn reject_withdrawal_now(&mut self, id: &str, reason: &str) -> GwResult<WithdrawalView> {
        if reason.len() > 200 {
            return Err(GatewayError::invalid("reason", "at most 200 bytes"));
        }
        let w = transact(&mut self.ports, |t| {
            let w: WithdrawalRec = t
                .get(&records::wd_key(id))?
                .ok_or(GatewayError::WithdrawalNotFound)?;
            if w.state != WdState::AwaitingReview {
                return Err(GatewayError::NotAwaitingReview);
            }
            let w = unfreeze(t, w, WdState::Rejected, reason)?;
            t.emit(Event::WithdrawalRejected {
                withdrawal: w.reference(),
                reason: reason.into(),
            });
            Ok(Step::Commit(w))
        })?;
        Ok(w.view())
    }

    /// Called by the operator: a withdrawal not sent yet (queued or under review) is
    /// cancelled and unfrozen in one commit. A tick building it at the same moment
    /// either stores its transaction first (then this answers `not-cancellable`) or
    /// finds it cancelled and sends nothing.
    pub fn cancel_withdrawal(&mut self, actor: &str, id: &str, reason: &str) -> GwResult<WithdrawalView> {
        let args = serde_json::json!({ "withdrawal_id": id, "reason": reason });
        self.audited(actor, "cancel-withdrawal", id, args, |g| g.cancel_withdrawal_now(id, reason))
    }

    fn cancel_withdrawal_now(&mut self, id: &str, reason: &str) -> GwResult<WithdrawalView> {
        if reason.len() > 200 {
            return Err(GatewayError::invalid("reason", "at most 200 bytes"));
        }
        let w = transact(&mut self.ports, |t| {
            let w: WithdrawalRec = t
                .get(&records::wd_key(id))?
                .ok_or(GatewayError::WithdrawalNotFound)?;
            if !matches!(w.state, WdState::Queued | WdState::AwaitingReview) {
                return Err(GatewayError::NotCancellable);
            }
            let w = unfreeze(t, w, WdState::Cancelled, reason)?;
            t.emit(Event::WithdrawalCancelled {
                withdrawal: w.reference(),
                reason: reason.into(),
            });
            Ok(Step::Commit(w))
        })?;
        Ok(w.view())
    }

    /// Payouts the store did not know, oldest first (acknowledged ones only when asked).
    pub fn list_unknown_payouts(
        &mut self,
        include_acknowledged: bool,
    ) -> GwResult<Vec<UnknownPayoutView>> {
        self.active()?;
        let mut out = Vec::new();
        for e in records::scan_all(self.ports.store.as_mut(), "upay/", None, usize::MAX)? {
            let r: UnknownPayoutRec = records::decode(&e.key, &e.value)?;
            if include_acknowledged || r.acknowledged.is_none() {
                out.push(r.view());
            }
        }
        Ok(out)
    }

    /// Called by the operator once an unknown payout is understood (see the restore
    /// procedure). Payouts resume when no unknown payout is left unacknowledged.
    pub fn acknowledge_unknown_payout(
        &mut self,
        actor: &str,
        deposit_id: &str,
        note: &str,
    ) -> GwResult<UnknownPayoutView> {
        let args = serde_json::json!({ "deposit_id": deposit_id, "note": note });
        self.audited(actor, "acknowledge-unknown-payout", deposit_id, args, |g| {
            g.acknowledge_unknown_payout_now(deposit_id, note)
        })
    }

    fn acknowledge_unknown_payout_now(
        &mut self,
        deposit_id: &str,
        note: &str,
    ) -> GwResult<UnknownPayoutView> {
        if note.len() > 200 {
            return Err(GatewayError::invalid("note", "at most 200 bytes"));
        }
        let now = self.now();
        let key = records::upay_key(deposit_id);
        let view = transact(&mut self.ports, |t| {
            let mut r: UnknownPayoutRec =
                t.get(&key)?.ok_or(GatewayError::UnknownPayoutNotFound)?;
            if r.acknowledged.is_some() {
                return Err(GatewayError::AlreadyResolved);
            }
            r.acknowledged = Some((note.into(), now));
            t.put(&key, &r);
            t.emit(Event::UnknownPayoutAcknowledged {
                deposit_id: deposit_id.into(),
                note: note.into(),
            });
            Ok(Step::Commit(r.view()))
        })?;
        Ok(view)
    }

    /// True while an unknown payout waits for acknowledgement.
    pub(crate) fn payouts_paused(&mut self) -> GwResult<bool> {
        if let Some(t) = records::totals::read(self.ports.store.as_mut())? {
            return Ok(t.unacked_payouts > 0);
        }
        for e in records::scan_all(self.ports.store.as_mut(), "upay/", None, usize::MAX)? {
            let r: UnknownPayoutRec = records::decode(&e.key, &e.value)?;
            if r.acknowledged.is_none() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Looks at history entries past the irreversible block: a payout with the gateway's
    /// memo that the store does not know holds new payouts for this tick (a restore
    /// shortly after a payout would otherwise not see it yet).
    pub(crate) fn watch_reversible_payouts(
        &mut self,
        gateway: AccountId,
        entries: &[HistoryEntry],
    ) -> GwResult<()> {
        for e in entries {
            let crate::deposits::Class::Outgoing { nonce, .. } =
                crate::deposits::classify(gateway, e)
            else {
                continue;
            };
            if self.payout_memo_id(e).is_none() {
                continue;
            }
            let known = match nonce {
                Some(n) => {
                    records::peek::<String>(self.ports.store.as_mut(), &records::wdnonce_key(n))?
                        .is_some()
                }
                None => false,
            };
            if !known {
                self.unknown_payout_pending = true;
            }
        }
        Ok(())
    }

    /// The withdrawal id named by a history entry's memo, when the memo is the gateway's
    /// own withdrawal memo (sent with its memo key and decryptable by it).
    pub(crate) fn payout_memo_id(&self, e: &HistoryEntry) -> Option<String> {
        let a = self.active.as_ref()?;
        let m = crate::json::memo(e.body.get("memo")?, "memo").ok()?;
        if m.from != a.memo_key.public_key() {
            return None;
        }
        let text =
            memo::decrypt_with(&a.memo_secrets, &a.memo_key, &m.to, m.nonce, &m.message).ok()?;
        parse_payout_memo(&text, &a.config.gateway_account)
    }

    /// The tick's withdrawal work; true when something is still in flight.
    pub(crate) fn process_withdrawals(
        &mut self,
        dgp: &Dgp,
        scan_complete: bool,
        report: &mut TickReport,
    ) -> GwResult<bool> {
        let (gateway, max_attempts) = {
            let a = self.active()?;
            (a.gateway_id, a.config.withdrawals.max_attempts)
        };
        let open = records::scan_all(self.ports.store.as_mut(), "wdopen/", None, 10_000)?;
        // New transactions only when the scan is complete through the irreversible block
        // (a forgotten payout would have been seen) and no unknown payout is pending.
        let may_send = scan_complete && !self.unknown_payout_pending && !self.payouts_paused()?;
        let mut in_flight = false;
        let mut funds: Option<u64> = None;
        let mut lib_time = LibTime::default();
        for e in open {
            let id = e.key["wdopen/".len()..].to_string();
            let Some(w) =
                records::peek::<WithdrawalRec>(self.ports.store.as_mut(), &records::wd_key(&id))?
            else {
                continue;
            };
            match w.state {
                WdState::AwaitingReview => {}
                WdState::Queued => {
                    in_flight = true;
                    if !may_send {
                        continue;
                    }
                    if funds.is_none() {
                        match chain::cwd_balance(self.ports.node.as_mut(), gateway) {
                            Ok(b) => funds = Some(b),
                            Err(f) => {
                                self.alert_node(&f);
                                report.node_errors += 1;
                                continue;
                            }
                        }
                    }
                    self.send_attempt(w, dgp, funds.as_mut().unwrap(), None, report)?;
                }
                WdState::Sent => {
                    in_flight = true;
                    let Some(tx) = w.tx.clone() else { continue };
                    if dgp.head_time < tx.expiration {
                        // Still includable: (re)broadcast exactly the stored bytes.
                        self.broadcast_stored(&w.id, &tx, report);
                        continue;
                    }
                    if !scan_complete
                        || !self.proven_expired(tx.expiration, dgp, &mut lib_time, report)
                    {
                        continue;
                    }
                    let proof_block = dgp.last_irreversible_block;
                    if w.attempts < max_attempts {
                        if !may_send {
                            continue;
                        }
                        if funds.is_none() {
                            match chain::cwd_balance(self.ports.node.as_mut(), gateway) {
                                Ok(b) => funds = Some(b),
                                Err(f) => {
                                    self.alert_node(&f);
                                    report.node_errors += 1;
                                    continue;
                                }
                            }
                        }
                        self.send_attempt(
                            w,
                            dgp,
                            funds.as_mut().unwrap(),
                            Some((tx.tx_id.clone(), proof_block)),
                            report,
                        )?;
                    } else {
                        let failed = transact(&mut self.ports, |t| {
                            let w: WithdrawalRec = t
                                .get(&records::wd_key(&id))?
                                .ok_or(GatewayError::WithdrawalNotFound)?;
                            let c: Cursor = t.get_or_default(records::CURSOR)?;
                            if w.state != WdState::Sent
                                || w.tx.as_ref().map(|x| &x.tx_id) != Some(&tx.tx_id)
                                || c.through_block < proof_block
                            {
                                return Ok(Step::Done(None));
                            }
                            let w = unfreeze(
                                t,
                                w,
                                WdState::Failed,
                                "every transaction expired without being included",
                            )?;
                            t.emit(Event::WithdrawalFailed {
                                withdrawal: w.reference(),
                                reason: WithdrawalFailure::Expired,
                            });
                            Ok(Step::Commit(Some(())))
                        })?;
                        if failed.is_some() {
                            report.withdrawals_failed += 1;
                        }
                    }
                }
                WdState::Confirmed | WdState::Failed | WdState::Rejected | WdState::Cancelled => {
                    // A stale index entry: drop it.
                    let key = e.key.clone();
                    transact(&mut self.ports, |t| {
                        let _: Option<u64> = t.get(&key)?;
                        t.delete(&key);
                        Ok(Step::Commit(()))
                    })?;
                }
            }
        }
        Ok(in_flight)
    }

    /// True when a transaction expiring at `expiration` can provably never be included:
    /// the irreversible block's time is past it. Only meaningful once the scan is
    /// complete through that block (then it would have seen the transaction).
    pub(crate) fn proven_expired(
        &mut self,
        expiration: u32,
        dgp: &Dgp,
        lib_time: &mut LibTime,
        report: &mut TickReport,
    ) -> bool {
        if lib_time.0.is_none() {
            match chain::block_time(self.ports.node.as_mut(), dgp.last_irreversible_block) {
                Ok(t) => lib_time.0 = Some(t),
                Err(f) => {
                    self.alert_node(&f);
                    report.node_errors += 1;
                    return false;
                }
            }
        }
        // A node applies a block's transactions with the *previous* block's time as "now"
        // and accepts expiration >= now. So block B can include it only if time(B-1) <=
        // expiration. With time(LIB) > expiration, B <= LIB, and the scan (complete
        // through LIB) would have seen it.
        matches!(lib_time.0, Some(Some(lt)) if lt > expiration)
    }

    /// Broadcasts exactly the stored bytes of a payout (`subject`: its withdrawal or
    /// sweep id, for alerts); "duplicate" is success.
    pub(crate) fn broadcast_stored(&mut self, subject: &str, tx: &SentTx, report: &mut TickReport) {
        match chain::broadcast(self.ports.node.as_mut(), &tx.tx_json) {
            Ok(()) => {}
            // The node already has it (pool or block): what a rebroadcast wants.
            Err(NodeFailure {
                error: NodeError::Rpc { message, .. },
                ..
            }) if is_duplicate_refusal(&message) => {}
            Err(NodeFailure {
                error: NodeError::Rpc { code, message },
                ..
            }) => {
                self.raise(Alert::BroadcastRefused {
                    withdrawal_id: subject.to_string(),
                    tx_id: tx.tx_id.clone(),
                    detail: format!("{code}: {message}"),
                });
            }
            Err(f) => {
                self.alert_node(&f);
                report.node_errors += 1;
            }
        }
    }

    /// Builds, signs, stores and broadcasts a new transaction for `w`. `replacing` is the
    /// previous attempt's id and the irreversible block that proves it expired unincluded.
    fn send_attempt(
        &mut self,
        w: WithdrawalRec,
        dgp: &Dgp,
        funds: &mut u64,
        replacing: Option<(String, u32)>,
        report: &mut TickReport,
    ) -> GwResult<()> {
        let built = match self.build_transfer(&w, dgp, *funds) {
            Ok(b) => b,
            Err(NotNow::Node(f)) => {
                self.alert_node(&f);
                report.node_errors += 1;
                return Ok(());
            }
            Err(NotNow::LowFunds { balance, needed }) => {
                self.raise(Alert::PayoutUnfunded {
                    withdrawal_id: w.id.clone(),
                    balance,
                    shortfall: needed - balance,
                });
                return Ok(());
            }
            // Alerted where it failed; nothing stored or sent: the next tick builds it
            // anew (a faulty signature, a fee not believed, a signer not answering).
            Err(NotNow::SigningFailed | NotNow::FeeAboveCeiling | NotNow::SignerUnavailable) => {
                return Ok(())
            }
            Err(NotNow::SignerRefused { rule, reason }) => {
                let why = format!("{rule}: {reason}");
                // A first attempt is held for the operator (approve once the signer's
                // limits allow, or reject); a replacement is asked again next tick.
                if replacing.is_none() {
                    self.hold_for_review(&w.id, &why)?;
                }
                return Ok(());
            }
            Err(NotNow::AccountGone) => {
                // Safe to unfreeze: no transaction exists, or the last one provably expired.
                let id = w.id.clone();
                let failed = transact(&mut self.ports, |t| {
                    let cur: WithdrawalRec = t
                        .get(&records::wd_key(&id))?
                        .ok_or(GatewayError::WithdrawalNotFound)?;
                    let still = match &replacing {
                        None => cur.state == WdState::Queued,
                        Some((old, proof_block)) => {
                            let c: Cursor = t.get_or_default(records::CURSOR)?;
                            cur.state == WdState::Sent
                                && cur.tx.as_ref().map(|x| &x.tx_id) == Some(old)
                                && c.through_block >= *proof_block
                        }
                    };
                    if !still {
                        return Ok(Step::Done(None));
                    }
                    let w = unfreeze(
                        t,
                        cur,
                        WdState::Failed,
                        "the receiving account does not exist",
                    )?;
                    t.emit(Event::WithdrawalFailed {
                        withdrawal: w.reference(),
                        reason: WithdrawalFailure::AccountUnusable,
                    });
                    Ok(Step::Commit(Some(())))
                })?;
                if failed.is_some() {
                    report.withdrawals_failed += 1;
                }
                return Ok(());
            }
        };
        let (sent, cost) = built;
        let id = w.id.clone();
        let now = self.now();
        let stored = transact(&mut self.ports, |t| {
            let mut cur: WithdrawalRec = t
                .get(&records::wd_key(&id))?
                .ok_or(GatewayError::WithdrawalNotFound)?;
            match &replacing {
                None if cur.state == WdState::Queued => {}
                Some((old, proof_block))
                    if cur.state == WdState::Sent
                        && cur.tx.as_ref().map(|x| &x.tx_id) == Some(old) =>
                {
                    // The proof must still hold in the store: the scan covered the block.
                    let c: Cursor = t.get_or_default(records::CURSOR)?;
                    if c.through_block < *proof_block {
                        return Ok(Step::Done(None));
                    }
                }
                _ => return Ok(Step::Done(None)), // someone else moved it on
            }
            cur.attempts += 1;
            cur.state = WdState::Sent;
            cur.tx = Some(SentTx {
                attempt: cur.attempts,
                ..sent.clone()
            });
            t.put(&records::wd_key(&id), &cur);
            crate::fees::note(t, crate::fees::FeeKind::Payout, cost - cur.cwd, now)?;
            t.emit(Event::WithdrawalSent {
                withdrawal: cur.reference(),
                tx_id: sent.tx_id.clone(),
                attempt: cur.attempts,
                expiration_ms: sent.expiration as u64 * 1000,
            });
            Ok(Step::Commit(Some(cur)))
        })?;
        let Some(w) = stored else { return Ok(()) };
        *funds = funds.saturating_sub(cost);
        let tx = w.tx.clone().expect("just stored");
        report.withdrawals_sent += 1;
        self.broadcast_stored(&w.id, &tx, report);
        Ok(())
    }

    fn build_transfer(
        &mut self,
        w: &WithdrawalRec,
        dgp: &Dgp,
        funds: u64,
    ) -> Result<(SentTx, u64), NotNow> {
        let name = self
            .active
            .as_ref()
            .expect("configured")
            .config
            .gateway_account
            .clone();
        self.build_payout(
            AccountId(w.account_id),
            w.cwd,
            w.nonce,
            &payout_memo(&w.id, &name),
            dgp,
            funds,
            ("withdrawal", &w.id),
        )
    }

    /// The fee of a CWD transfer from the gateway to `to` with this memo (its length
    /// sets the fee).
    pub(crate) fn payout_fee(
        &mut self,
        to: AccountId,
        cwd: u64,
        memo_text: &str,
    ) -> Result<u64, NotNow> {
        let op = self.payout_op(to, cwd, 1, memo_text)?;
        let fee = self.quoted_fee(&Operation::Transfer(op))?;
        Ok(fee as u64)
    }

    fn payout_op(
        &mut self,
        to: AccountId,
        cwd: u64,
        nonce: u64,
        memo_text: &str,
    ) -> Result<Transfer, NotNow> {
        let a = self.active.as_ref().expect("configured");
        let (gateway, memo_key, secrets) =
            (a.gateway_id, a.memo_key.clone(), a.memo_secrets.clone());
        let node = self.ports.node.as_mut();
        let account = chain::account_by_id(node, to)
            .map_err(NotNow::Node)?
            .ok_or(NotNow::AccountGone)?;
        // A receiver without a usable memo key still gets the payout; the memo (which
        // identifies the payout by its nonce) is then readable by the gateway only.
        let to_key = account.memo_key.unwrap_or_else(|| memo_key.public_key());
        let cipher = memo::encrypt_with(&secrets, &memo_key, &to_key, nonce, memo_text)
            .map_err(|e| NotNow::Node(NodeFailure::bad("memo", e.to_string())))?;
        let amount = i64::try_from(cwd)
            .map_err(|_| NotNow::Node(NodeFailure::bad("amount", "above the chain's maximum")))?;
        Ok(Transfer {
            fee: Asset::cwd(0),
            from: gateway,
            to,
            amount: Asset::cwd(amount),
            memo: Some(Memo {
                from: memo_key.public_key(),
                to: to_key,
                nonce,
                message: cipher,
            }),
        })
    }

    /// Builds and signs a CWD transfer from the gateway with an encrypted memo (nothing
    /// stored, nothing sent): the transaction and its cost (amount plus fee). Shared by
    /// withdrawals and sweeps; `named` is its purpose and id, for alerts.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build_payout(
        &mut self,
        to: AccountId,
        cwd: u64,
        nonce: u64,
        memo_text: &str,
        dgp: &Dgp,
        funds: u64,
        named: (&str, &str),
    ) -> Result<(SentTx, u64), NotNow> {
        let exp_secs = self.active.as_ref().expect("configured").config.withdrawals.expiration_secs;
        let mut op = self.payout_op(to, cwd, nonce, memo_text)?;
        let fee = self.quoted_fee(&Operation::Transfer(op.clone()))?;
        op.fee = Asset::cwd(fee);
        let cost = cwd.saturating_add(fee as u64);
        if funds < cost {
            return Err(NotNow::LowFunds {
                balance: funds,
                needed: cost,
            });
        }
        let (ref_block_num, ref_block_prefix) = crate::ops::tapos_from_block_id(&dgp.head_block_id)
            .map_err(|_| {
                NotNow::Node(NodeFailure::bad(
                    "database.get_dynamic_global_properties",
                    "bad head_block_id",
                ))
            })?;
        let expiration = dgp.head_time.saturating_add(exp_secs);
        let tx = Transaction {
            ref_block_num,
            ref_block_prefix,
            expiration,
            operations: vec![Operation::Transfer(op)],
        };
        let tx_id = hex::encode(tx.id());
        let signed = self.sign_transaction(tx, named.0, named.1)?;
        let tx_json = crate::json::transaction_text(&signed);
        Ok((
            SentTx {
                tx_id,
                tx_json,
                expiration,
                attempt: 0,
            },
            cost,
        ))
    }
}

impl Gateway {
    /// A queued withdrawal the signer refused goes back to awaiting review.
    fn hold_for_review(&mut self, id: &str, reason: &str) -> GwResult<()> {
        transact(&mut self.ports, |t| {
            let mut w: WithdrawalRec = t
                .get(&records::wd_key(id))?
                .ok_or(GatewayError::WithdrawalNotFound)?;
            if w.state != WdState::Queued {
                return Ok(Step::Done(()));
            }
            w.state = WdState::AwaitingReview;
            // The signer refused what was approved: it is reviewed afresh.
            w.approved_by.clear();
            w.note = Some(format!("held: the signer refused it ({reason})").chars().take(200).collect());
            t.put(&records::wd_key(id), &w);
            t.emit(Event::WithdrawalAwaitingReview(w.reference()));
            Ok(Step::Commit(()))
        })
    }
}

/// Moves a withdrawal to a final unpaid state and gives its game units back.
fn unfreeze(
    t: &mut records::Txn,
    mut w: WithdrawalRec,
    state: WdState,
    note: &str,
) -> GwResult<WithdrawalRec> {
    let ukey = records::user_key(&w.user);
    let mut u: UserRec = t.get_or_default(&ukey)?;
    u.frozen = u.frozen.saturating_sub(w.game);
    u.balance = u
        .balance
        .checked_add(w.game)
        .ok_or(GatewayError::Overflow)?;
    u.open_withdrawals = u.open_withdrawals.saturating_sub(1);
    limits::return_withdrawal(&mut u, w.day, w.cwd);
    w.state = state;
    w.note = Some(note.to_string());
    t.put(&ukey, &u);
    t.put(&records::wd_key(&w.id), &w);
    t.delete(&records::wdopen_key(&w.id));
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::is_duplicate_refusal;

    #[test]
    fn duplicate_refusals_are_recognised_in_the_nodes_own_words() {
        // What crowdwiz-core answers a rebroadcast (fc assert_exception, db_block.cpp).
        let node = "10 assert_exception: Assert Exception\ntrx_idx.indices().get<by_trx_id>().find(trx.id()) == trx_idx.indices().get<by_trx_id>().end(): \n    {}\n    th_a  db_block.cpp:635 _apply_transaction";
        assert!(is_duplicate_refusal(node));
        assert!(is_duplicate_refusal("duplicate transaction 1a2b"));
        for other in [
            "10 assert_exception: Assert Exception\nnow <= trx.expiration: ",
            "missing required active authority",
            "insufficient balance",
        ] {
            assert!(!is_duplicate_refusal(other), "{other}");
        }
    }
}
