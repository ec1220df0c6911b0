//! Deposits: the gateway reads its own account history, page by page by per-account
//! sequence number, and acts only on operations in irreversible blocks. Each operation
//! is identified by its position (block, transaction, operation), never by the node's
//! `1.11.N`. For each one, the cursor advance, the record (deposit, unclaimed deposit or
//! withdrawal confirmation) and the balance change are ONE commit guarded by the cursor's
//! version: a crash or a second instance can never apply an operation twice.

use serde_json::Value;

use crate::chain::{self, Dgp, HistoryEntry, HISTORY_PAGE};
use crate::config::Rate;
use crate::events::{Alert, Event, OpPosition, UnclaimedReason};
use crate::gateway::{check_limit, check_user, Gateway};
use crate::gateway_error::{GatewayError, GwResult};
use crate::json::{account_id, int_i64, int_u64, object_id};
use crate::ops::{AccountId, OP_TRANSFER};
use crate::rates;
use crate::records::{
    self, transact, Cursor, DepositRec, LinkRec, Order, Step, Txn, UnclaimedRec, UnclaimedState,
    UserRec, WdState, WithdrawalRec,
};
use crate::views::{CreditedDepositView, TickReport, UnclaimedStateView, UnclaimedView};

/// Pages read per tick at most; the tick asks to be called again soon when it stops early.
pub const MAX_PAGES_PER_TICK: usize = 50;

pub struct ScanOutcome {
    /// Every gateway operation in blocks up to the last irreversible one is processed.
    pub complete: bool,
    /// The scan stopped at its page limit with history left to read (a catch-up).
    pub more: bool,
}

/// One history operation of a page, classified, ready to stage.
struct PageOp {
    /// Its sequence number in the gateway account's history.
    seq: u64,
    position: OpPosition,
    class: Class,
    /// For a transfer from the gateway: the withdrawal id its memo names when the memo
    /// is the gateway's own withdrawal memo.
    payout_memo: Option<String>,
}

/// What a history operation means to the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// Funds that reached the gateway: by `transfer` (`op_id` 0, credited when the
    /// sender is linked) or by another operation (recorded as unclaimed).
    Incoming {
        from: AccountId,
        asset_id: u64,
        amount: u64,
        op_id: u64,
    },
    /// A transfer from the gateway (a withdrawal, recognised by its memo nonce).
    Outgoing {
        to: AccountId,
        asset_id: u64,
        amount: u64,
        nonce: Option<u64>,
    },
    /// An operation the gateway does not know that names an amount: it may have moved
    /// funds to the gateway, so it is recorded for the operator, never passed over.
    Unrecognised {
        from: AccountId,
        asset_id: u64,
        amount: u64,
        op_id: u64,
    },
    /// Link messages, fees, and operations that move nothing to the gateway.
    Other,
}

/// Operations other than `transfer` that move funds to an account: (op id, name, payer
/// field, payee field, amount field), from crowdwiz-core's protocol headers and
/// evaluators (financial_evaluator.cpp, withdraw_permission_evaluator.cpp,
/// asset_evaluator.cpp `override_transfer`, confidential_evaluator.cpp).
const INCOMING_OPS: &[(u64, &str, &str, &str, &str)] = &[
    (
        27,
        "withdraw_permission_claim",
        "withdraw_from_account",
        "withdraw_to_account",
        "amount_to_withdraw",
    ),
    (38, "override_transfer", "from", "to", "amount"),
    (41, "transfer_from_blind", "", "to", "amount"),
    (100, "approved_transfer_approve", "from", "to", "amount"),
    // Cancelled (or expired) approved transfer: the escrow goes back to `from`.
    (101, "approved_transfer_cancel", "to", "from", "amount"),
    (105, "mass_payment_pay", "from", "to", "amount"),
];

/// `approved_transfer_resolve_dispute` (103): the winner gets the escrow less the
/// arbitrator's 5 % (financial_evaluator.cpp `arbitr_reward`, rounded down).
const OP_RESOLVE_DISPUTE: u64 = 103;

/// Operations whose amounts never move funds to the gateway: what the gateway itself
/// does (`send_message`), and proposals, whose executed transfers appear on their own.
const QUIET_OPS: &[u64] = &[crate::ops::OP_SEND_MESSAGE, 22, 23, 24];

pub fn classify(gateway: AccountId, e: &HistoryEntry) -> Class {
    let b = &e.body;
    let account = |field: &str| -> Option<AccountId> { account_id(&b[field], field).ok() };
    let asset = |v: &Value| -> Option<(u64, u64)> {
        let amount = u64::try_from(int_i64(&v["amount"], "amount").ok()?).ok()?;
        Some((object_id(&v["asset_id"], "asset_id", 1, 3).ok()?, amount))
    };
    if e.op_id == OP_TRANSFER {
        let (Some(from), Some(to), Some((asset_id, amount))) =
            (account("from"), account("to"), asset(&b["amount"]))
        else {
            return Class::Other;
        };
        let nonce = b
            .get("memo")
            .filter(|m| !m.is_null())
            .and_then(|m| int_u64(&m["nonce"], "nonce").ok());
        return if to == gateway && from != gateway {
            Class::Incoming {
                from,
                asset_id,
                amount,
                op_id: OP_TRANSFER,
            }
        } else if from == gateway && to != gateway {
            Class::Outgoing {
                to,
                asset_id,
                amount,
                nonce,
            }
        } else {
            Class::Other
        };
    }
    if let Some(&(op_id, _, payer, payee, field)) =
        INCOMING_OPS.iter().find(|(id, ..)| *id == e.op_id)
    {
        return match (account(payee), asset(&b[field])) {
            (Some(to), Some((asset_id, amount))) if to == gateway && amount > 0 => {
                let from = account(payer).unwrap_or(AccountId(0));
                Class::Incoming {
                    from,
                    asset_id,
                    amount,
                    op_id,
                }
            }
            _ => Class::Other,
        };
    }
    if e.op_id == OP_RESOLVE_DISPUTE {
        return match (
            account("winner"),
            account("to"),
            account("from"),
            asset(&b["amount"]),
        ) {
            (Some(w), Some(to), Some(from), Some((asset_id, gross)))
                if w == gateway && gross > 0 =>
            {
                let arbitrator = (gross as u128 * 500 / 10_000) as u64;
                let sender = if to == gateway { from } else { to };
                Class::Incoming {
                    from: sender,
                    asset_id,
                    amount: gross - arbitrator,
                    op_id: e.op_id,
                }
            }
            _ => Class::Other,
        };
    }
    if QUIET_OPS.contains(&e.op_id) {
        return Class::Other;
    }
    // Unknown operation: any amount in it (other than its fee) may have reached us.
    let Some(fields) = b.as_object() else {
        return Class::Other;
    };
    let named = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "fee")
        .find_map(|(_, v)| asset(v).filter(|(_, a)| *a > 0));
    match named {
        Some((asset_id, amount)) => {
            let from = fields
                .values()
                .filter_map(|v| account_id(v, "account").ok())
                .find(|a| *a != gateway)
                .unwrap_or(AccountId(0));
            Class::Unrecognised {
                from,
                asset_id,
                amount,
                op_id: e.op_id,
            }
        }
        None => Class::Other,
    }
}

/// Why an operation that can move funds cannot be read, if it cannot: its accounts and
/// amount are not of their types. [`classify`] reads such an operation as moving nothing,
/// so the scan refuses the page instead (a node fault) rather than pass over a deposit.
pub fn unreadable(e: &HistoryEntry) -> Option<String> {
    let b = &e.body;
    let fields: Vec<&str> = if e.op_id == OP_TRANSFER {
        vec!["from", "to", "amount"]
    } else if e.op_id == OP_RESOLVE_DISPUTE {
        vec!["winner", "to", "from", "amount"]
    } else if let Some(&(_, _, _, payee, amount)) =
        INCOMING_OPS.iter().find(|(id, ..)| *id == e.op_id)
    {
        vec![payee, amount]
    } else {
        return None;
    };
    fields
        .into_iter()
        .find(|f| {
            let v = &b[*f];
            let ok = if v.is_object() {
                int_i64(&v["amount"], "amount").is_ok_and(|a| a >= 0)
                    && object_id(&v["asset_id"], "asset_id", 1, 3).is_ok()
            } else {
                account_id(v, f).is_ok()
            };
            !ok
        })
        .map(|f| {
            format!(
                "operation {} at {:?}: `{f}` is not what the chain writes",
                e.op_id, e.position
            )
        })
}

/// What one history operation did, for events and the report.
pub(crate) enum Applied {
    Nothing,
    Credited(Event),
    Unclaimed(Event),
    Confirmed(Event),
    Anomaly(String),
    /// A payout the store does not know: payouts are paused until acknowledged.
    UnknownPayout(crate::events::Alert),
    /// A sweep to the cold account is confirmed.
    Swept(Event),
    /// Another instance moved the cursor: stop and let the next tick carry on.
    Raced,
}

impl Applied {
    /// The event committed with it. An unknown payout's alert goes with its record: the
    /// record is written once, so it needs no rate limit.
    fn event(&self) -> Option<Event> {
        match self {
            Applied::Credited(e)
            | Applied::Unclaimed(e)
            | Applied::Confirmed(e)
            | Applied::Swept(e) => Some(e.clone()),
            Applied::UnknownPayout(a) => Some(Event::Alert(a.clone())),
            Applied::Nothing | Applied::Anomaly(_) | Applied::Raced => None,
        }
    }
}

impl Gateway {
    pub(crate) fn scan_history(
        &mut self,
        dgp: &Dgp,
        report: &mut TickReport,
    ) -> GwResult<ScanOutcome> {
        let (gateway, rate) = {
            let a = self.active()?;
            (a.gateway_id, a.config.deposit_rate)
        };
        let start: Cursor =
            records::peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
        let Some(stats) = self.trusted_history(start.seq, report)? else {
            return Ok(ScanOutcome {
                complete: false,
                more: false,
            });
        };
        // Irreversible as far as the node that gave the statistics saw it then, never
        // further: otherwise a scan could pass over an operation those statistics miss.
        let lib = dgp
            .last_irreversible_block
            .min(stats.last_irreversible_block);
        let outcome = self.scan_pages(gateway, rate, lib, stats, report)?;
        let end: Cursor =
            records::peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
        report.history_behind = stats.total_ops.saturating_sub(end.seq);
        Ok(outcome)
    }

    fn scan_pages(
        &mut self,
        gateway: AccountId,
        rate: Rate,
        lib: u32,
        stats: chain::HistoryStats,
        report: &mut TickReport,
    ) -> GwResult<ScanOutcome> {
        let incomplete = ScanOutcome {
            complete: false,
            more: false,
        };
        for _ in 0..MAX_PAGES_PER_TICK {
            let cursor: Cursor =
                records::peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
            let window = match chain::history_window(
                self.ports.node.as_mut(),
                gateway,
                cursor.seq + 1,
                cursor.seq + HISTORY_PAGE,
            ) {
                Ok(w) => w,
                Err(f) => {
                    self.alert_node(&f);
                    report.node_errors += 1;
                    return Ok(incomplete);
                }
            };
            // The statistics promised at least this many entries after the cursor: a
            // shorter page means entries vanished (pruned meanwhile) or were never kept,
            // and reading it as "nothing more" would pass over them.
            let promised = stats.total_ops.saturating_sub(cursor.seq).min(HISTORY_PAGE);
            if (window.len() as u64) < promised {
                let detail = format!(
                    "the node returned {} history entries after operation {} where its statistics promise {promised}",
                    window.len(),
                    cursor.seq
                );
                self.distrust_history(detail);
                return Ok(incomplete);
            }
            // Across pages too, history only moves forward, and an irreversible entry
            // cannot lie past what the statistics counted (they were read after the
            // irreversible block): a node saying otherwise would misplace or repeat one.
            let behind = cursor.last_position.is_some_and(|last| {
                window.first().is_some_and(|e| {
                    e.position
                        < OpPosition {
                            occurrence: 0,
                            ..last
                        }
                })
            });
            let irreversible = window
                .iter()
                .filter(|e| e.position.block_num <= lib)
                .count() as u64;
            if behind || cursor.seq + irreversible > stats.total_ops {
                let detail = if behind {
                    "an entry before the last one processed"
                } else {
                    "more irreversible entries than the statistics count"
                };
                self.alert_node(&crate::gateway_error::NodeFailure::bad(
                    "history.get_relative_account_history",
                    detail,
                ));
                report.node_errors += 1;
                return Ok(incomplete);
            }
            let full = window.len() as u64 == HISTORY_PAGE;
            let irreversible = window
                .iter()
                .take_while(|e| e.position.block_num <= lib)
                .count();
            // The page's irreversible operations, committed together; a memo-link code
            // links its sender in a commit of its own, at its place in the history.
            let mut ops: Vec<PageOp> = Vec::with_capacity(irreversible);
            for (i, entry) in window[..irreversible].iter().enumerate() {
                let seq = cursor.seq + 1 + i as u64;
                if let Some(detail) = unreadable(entry) {
                    self.alert_node(&crate::gateway_error::NodeFailure::bad(
                        "history.get_relative_account_history",
                        detail,
                    ));
                    report.node_errors += 1;
                    return Ok(incomplete);
                }
                let class = classify(gateway, entry);
                if let Class::Incoming {
                    from, asset_id: 0, ..
                } = class
                {
                    if self.memo_link_claim(entry)?.is_some() {
                        if !self.apply_page(&ops, rate, report)? {
                            return Ok(incomplete);
                        }
                        ops.clear();
                        // A memo-link code links the sender first; then it is an ordinary deposit.
                        if !self.link_by_memo(seq, from, entry, report)? {
                            return Ok(incomplete);
                        }
                    }
                }
                let payout_memo = match class {
                    Class::Outgoing { .. } => self.payout_memo_id(entry),
                    _ => None,
                };
                ops.push(PageOp {
                    seq,
                    position: entry.position,
                    class,
                    payout_memo,
                });
            }
            if !self.apply_page(&ops, rate, report)? {
                return Ok(incomplete);
            }
            let reached_reversible = irreversible < window.len();
            if reached_reversible {
                self.watch_reversible_payouts(gateway, &window[irreversible..])?;
            }
            if reached_reversible || !full {
                // Everything up to the irreversible block is done: say so, monotonically.
                let done = transact(&mut self.ports, |t| {
                    let mut c: Cursor = t.get_or_default(records::CURSOR)?;
                    if c.through_block >= lib {
                        return Ok(Step::Done(true));
                    }
                    // Only if nobody moved the cursor since this page was read.
                    if c.seq != cursor.seq + irreversible as u64 {
                        return Ok(Step::Done(false));
                    }
                    c.through_block = lib;
                    t.put(records::CURSOR, &c);
                    Ok(Step::Commit(true))
                })?;
                return Ok(ScanOutcome {
                    complete: done,
                    more: false,
                });
            }
        }
        // Stopped at the page limit with history left: the tick asks to be called again at once.
        Ok(ScanOutcome {
            complete: false,
            more: true,
        })
    }

    /// Applies consecutive history operations (the first one right after the cursor) in
    /// one commit: cursor, records and balance changes together, guarded by the versions
    /// of everything read. Answers false when another instance moved the cursor first.
    /// A page that keeps losing races with game calls, or in which an operation fails,
    /// is applied one commit per operation instead, so the scan still gets as far as
    /// it can.
    fn apply_page(
        &mut self,
        ops: &[PageOp],
        rate: Rate,
        report: &mut TickReport,
    ) -> GwResult<bool> {
        const PAGE_ATTEMPTS: usize = 3;
        if ops.is_empty() {
            return Ok(true);
        }
        let now = self.now();
        for _ in 0..PAGE_ATTEMPTS {
            let mut t = Txn::with_events(&mut self.ports);
            let mut applied = Vec::with_capacity(ops.len());
            for op in ops {
                match stage_history_op(&mut t, op, rate, now, Existing::RequireAbsent) {
                    Ok(Step::Done(Applied::Raced)) => return Ok(false),
                    Ok(Step::Commit(a) | Step::Done(a)) => applied.push(a),
                    Err(_) => break,
                }
            }
            if applied.len() < ops.len() {
                break;
            }
            for a in &applied {
                if let Some(e) = a.event() {
                    t.emit(e);
                }
            }
            if t.commit()? {
                for a in applied {
                    self.announce(a, report);
                }
                return Ok(true);
            }
        }
        for op in ops {
            let applied = transact(&mut self.ports, |t| {
                let step = stage_history_op(t, op, rate, now, Existing::ReadAndSkip)?;
                if let Step::Commit(a) = &step {
                    if let Some(e) = a.event() {
                        t.emit(e);
                    }
                }
                Ok(step)
            })?;
            let raced = matches!(applied, Applied::Raced);
            self.announce(applied, report);
            if raced {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Alerts and counts for one committed history operation (its event went with it).
    fn announce(&mut self, applied: Applied, report: &mut TickReport) {
        if !matches!(applied, Applied::Raced) {
            report.history_scanned += 1;
        }
        match applied {
            Applied::Nothing | Applied::Raced => {}
            Applied::Credited(_) => report.deposits_credited += 1,
            Applied::Unclaimed(_) => report.deposits_unclaimed += 1,
            Applied::Confirmed(_) => report.withdrawals_confirmed += 1,
            Applied::Swept(_) => report.sweeps_confirmed += 1,
            Applied::Anomaly(s) => self.raise(Alert::StoreTrouble(s)),
            Applied::UnknownPayout(_) => {}
        }
    }

    /// The gateway account's history statistics on a node whose history can be trusted
    /// from sequence `after` on, failing over to the host's other nodes; `None` when no
    /// node can be trusted now (the scan waits; nothing is read as "nothing new").
    fn trusted_history(
        &mut self,
        after: u64,
        report: &mut TickReport,
    ) -> GwResult<Option<chain::HistoryStats>> {
        const MAX_FAILOVERS: usize = 4;
        let stats_id = self.active()?.stats_id.clone();
        for _ in 0..=MAX_FAILOVERS {
            let stats = match chain::history_stats(self.ports.node.as_mut(), &stats_id) {
                Ok(s) => s,
                Err(f) => {
                    self.alert_node(&f);
                    report.node_errors += 1;
                    return Ok(None);
                }
            };
            let problem = if stats.total_ops == 0 {
                // Every account created on chain has at least its account_create
                // (account_history_plugin.cpp adds it to the new account's history).
                format!(
                    "the node keeps no history for the gateway account ({stats_id} total_ops is 0)"
                )
            } else if stats.removed_ops > after {
                format!(
                    "the node pruned the gateway's history through operation {} but the scan has read only {after} (max-ops-per-account)",
                    stats.removed_ops
                )
            } else if stats.total_ops < after {
                format!("the node knows {} operations of the gateway account but {after} were already scanned", stats.total_ops)
            } else {
                return Ok(Some(stats));
            };
            report.node_errors += 1;
            if !self.distrust_history(problem) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Says why the node's history is not trusted and asks the host for another node.
    fn distrust_history(&mut self, detail: String) -> bool {
        let switched = self.ports.node.fail_over(&detail);
        self.raise(Alert::HistoryUntrusted { detail, switched });
        switched
    }

    pub fn list_unclaimed(
        &mut self,
        include_resolved: bool,
        start_after: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<UnclaimedView>> {
        self.active()?;
        check_limit(limit)?;
        records::page_matching(
            self.ports.store.as_mut(),
            "unc/",
            Order::OldestFirst,
            start_after,
            limit as usize,
            |_, e| {
                let u: UnclaimedRec = records::decode(&e.key, &e.value)?;
                Ok((include_resolved || u.state == UnclaimedState::Open).then(|| u.view()))
            },
        )
    }

    /// `user`'s credited deposits in chain order (or newest first), automatic credits
    /// and operator assignments together, past `cursor` (a deposit id), at most `limit`.
    pub fn list_deposits(
        &mut self,
        user: &str,
        order: Order,
        cursor: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<CreditedDepositView>> {
        self.active()?;
        check_user(user)?;
        check_limit(limit)?;
        let limit = limit as usize;
        let store = self.ports.store.as_mut();
        if records::derived::is_built(store)? {
            // The user's own index: what is read is what is returned.
            let prefix = records::indexes::deposits_prefix(user);
            return records::page_matching(store, &prefix, order, cursor, limit, |store, e| {
                let id = &e.key[prefix.len()..];
                if let Some(d) = records::peek::<DepositRec>(store, &format!("dep/{id}"))? {
                    return Ok(Some(d.view(id)));
                }
                Ok(records::peek::<UnclaimedRec>(store, &records::unc_key(id))?
                    .and_then(|u| u.credited_view()))
            });
        }
        // A store whose indexes are still being built: every record, filtered.
        let mut out = records::page_matching(store, "dep/", order, cursor, limit, |_, e| {
            let d: DepositRec = records::decode(&e.key, &e.value)?;
            Ok((d.user == user).then(|| d.view(&e.key["dep/".len()..])))
        })?;
        out.extend(records::page_matching(
            store,
            "unc/",
            order,
            cursor,
            limit,
            |_, e| {
                let u: UnclaimedRec = records::decode(&e.key, &e.value)?;
                Ok(u.credited_view().filter(|v| v.user == user))
            },
        )?);
        // Both lists are in deposit-id order, so the first `limit` of the two together
        // are among the first `limit` of each.
        out.sort_by(|a, b| match order {
            Order::OldestFirst => a.deposit_id.cmp(&b.deposit_id),
            Order::NewestFirst => b.deposit_id.cmp(&a.deposit_id),
        });
        out.truncate(limit);
        Ok(out)
    }

    pub fn assign_unclaimed(&mut self, actor: &str, deposit_id: &str, user: &str) -> GwResult<UnclaimedView> {
        let args = serde_json::json!({ "deposit_id": deposit_id, "user": user });
        self.audited(actor, "assign-unclaimed", deposit_id, args, |g| {
            g.assign_unclaimed_now(deposit_id, user)
        })
    }

    fn assign_unclaimed_now(&mut self, deposit_id: &str, user: &str) -> GwResult<UnclaimedView> {
        self.refresh_settings()?;
        check_user(user)?;
        let rate = self.active()?.config.deposit_rate;
        let now = self.now();
        let key = records::unc_key(deposit_id);
        let view = transact(&mut self.ports, |t| {
            let mut u: UnclaimedRec = t.get(&key)?.ok_or(GatewayError::UnclaimedNotFound)?;
            if u.state != UnclaimedState::Open {
                return Err(GatewayError::AlreadyResolved);
            }
            if u.asset_id != 0 {
                return Err(GatewayError::NotCwd);
            }
            let game = rates::deposit_game(rate, u.amount)?;
            if game == 0 {
                return Err(GatewayError::AmountTooSmall);
            }
            let ukey = records::user_key(user);
            let mut rec: UserRec = t.get_or_default(&ukey)?;
            rec.balance = rec
                .balance
                .checked_add(game)
                .ok_or(GatewayError::Overflow)?;
            u.state = UnclaimedState::Assigned {
                user: user.into(),
                game,
                rate,
                at_ms: now,
            };
            t.put(&ukey, &rec);
            t.put(&key, &u);
            t.emit(Event::UnclaimedAssigned {
                deposit_id: deposit_id.into(),
                user: user.into(),
                game,
                balance: rec.balance,
            });
            Ok(Step::Commit(u.view()))
        })?;
        Ok(view)
    }

    pub fn refund_unclaimed(&mut self, actor: &str, deposit_id: &str, note: &str) -> GwResult<UnclaimedView> {
        let args = serde_json::json!({ "deposit_id": deposit_id, "note": note });
        self.audited(actor, "refund-unclaimed", deposit_id, args, |g| {
            g.refund_unclaimed_now(deposit_id, note)
        })
    }

    fn refund_unclaimed_now(&mut self, deposit_id: &str, note: &str) -> GwResult<UnclaimedView> {
        if note.len() > 200 {
            return Err(GatewayError::invalid("note", "at most 200 bytes"));
        }
        let now = self.now();
        let key = records::unc_key(deposit_id);
        let view = transact(&mut self.ports, |t| {
            let mut u: UnclaimedRec = t.get(&key)?.ok_or(GatewayError::UnclaimedNotFound)?;
            if u.state != UnclaimedState::Open {
                return Err(GatewayError::AlreadyResolved);
            }
            u.state = UnclaimedState::RefundMarked {
                note: note.into(),
                at_ms: now,
            };
            t.put(&key, &u);
            t.emit(Event::UnclaimedRefundMarked {
                deposit_id: deposit_id.into(),
                note: note.into(),
            });
            Ok(Step::Commit(u.view()))
        })?;
        Ok(view)
    }
}

/// Stages one irreversible history operation (`op.seq` in the account's history) in
/// `t`: the cursor advance, the record and the balance change.
/// How [`stage_history_op`] guards against an operation's records already existing.
#[derive(Clone, Copy)]
enum Existing {
    /// As commit preconditions: no store read per operation (a page's commit).
    RequireAbsent,
    /// Read them, and step over the operation if one exists.
    ReadAndSkip,
}

fn stage_history_op(
    t: &mut Txn,
    op: &PageOp,
    rate: Rate,
    now: u64,
    records_exist: Existing,
) -> GwResult<Step<Applied>> {
    let (seq, pos, class, payout_memo) =
        (op.seq, op.position, &op.class, op.payout_memo.as_deref());
    let mut c: Cursor = t.get_or_default(records::CURSOR)?;
    if c.seq + 1 != seq {
        return Ok(Step::Done(Applied::Raced));
    }
    let pos = c.place(pos);
    c.seq = seq;
    c.last_position = Some(pos);
    t.put(records::CURSOR, &c);
    let deposit_id = pos.deposit_id();
    let (from, asset_id, amount, op_id, recognised) = match *class {
        Class::Other => return Ok(Step::Commit(Applied::Nothing)),
        Class::Incoming {
            from,
            asset_id,
            amount,
            op_id,
        } => (from, asset_id, amount, op_id, true),
        Class::Unrecognised {
            from,
            asset_id,
            amount,
            op_id,
        } => (from, asset_id, amount, op_id, false),
        Class::Outgoing { .. } => (AccountId(0), 0, 0, 0, true),
    };
    match *class {
        Class::Other => Ok(Step::Commit(Applied::Nothing)),
        Class::Incoming { .. } | Class::Unrecognised { .. } => {
            let dkey = records::dep_key(&pos);
            let ukey_unc = records::unc_key(&deposit_id);
            // Already applied? Cannot happen with the cursor; kept as a second lock.
            match records_exist {
                // A page's commit fails if either exists; its retry, one operation per
                // commit, reads them and steps over the operation.
                Existing::RequireAbsent => {
                    t.require_absent(&dkey);
                    t.require_absent(&ukey_unc);
                }
                Existing::ReadAndSkip => {
                    if t.get::<DepositRec>(&dkey)?.is_some()
                        || t.get::<UnclaimedRec>(&ukey_unc)?.is_some()
                    {
                        return Ok(Step::Commit(Applied::Nothing));
                    }
                }
            }
            let link: Option<LinkRec> = t.get(&records::link_key(from.0))?;
            let owner = match &link {
                Some(LinkRec::Linked { user, account, .. }) => {
                    Some((user.clone(), account.clone()))
                }
                // Deposits already on their way when the user unlinked are still theirs.
                Some(LinkRec::Reserved {
                    user,
                    account,
                    through_block,
                }) if pos.block_num <= *through_block => Some((user.clone(), account.clone())),
                _ => None,
            };
            let credit = match (&owner, asset_id) {
                _ if !recognised => Err(UnclaimedReason::UnrecognisedOperation),
                _ if op_id != OP_TRANSFER => Err(UnclaimedReason::NotATransfer),
                (_, a) if a != 0 => Err(UnclaimedReason::OtherAsset),
                (None, _) => Err(UnclaimedReason::UnlinkedSender),
                (Some(_), _) => match rates::deposit_game(rate, amount) {
                    Ok(0) => Err(UnclaimedReason::TooSmall),
                    Err(_) => Err(UnclaimedReason::CreditOverflow),
                    Ok(g) => Ok(g),
                },
            };
            // A credit that cannot be made becomes an unclaimed deposit: the scan
            // never stalls on one user's problem.
            let mut user_rec = None;
            let credit = match (&owner, credit) {
                (Some((user, _)), Ok(game)) => {
                    match t.get_decoded::<UserRec>(&records::user_key(user))? {
                        Ok(u) => {
                            let u = user_rec.insert(u.unwrap_or_default());
                            u.balance
                                .checked_add(game)
                                .map(|_| game)
                                .ok_or(UnclaimedReason::CreditOverflow)
                        }
                        Err(_) => Err(UnclaimedReason::UserUnreadable),
                    }
                }
                (_, c) => c,
            };
            match (owner, credit) {
                (Some((user, account)), Ok(game)) => {
                    let ukey = records::user_key(&user);
                    let mut u: UserRec = user_rec.unwrap_or_default();
                    let balance = u.balance.checked_add(game).ok_or(GatewayError::Overflow)?;
                    u.balance = balance;
                    t.put(&ukey, &u);
                    t.put(
                        &dkey,
                        &DepositRec {
                            user: user.clone(),
                            from_account_id: from.0,
                            cwd: amount,
                            game,
                            rate,
                            credited_at_ms: now,
                        },
                    );
                    Ok(Step::Commit(Applied::Credited(Event::DepositCredited {
                        user,
                        deposit_id,
                        position: pos,
                        account,
                        cwd: amount,
                        game,
                        balance,
                    })))
                }
                (_, credit) => {
                    let reason = credit.err().unwrap_or(UnclaimedReason::UnlinkedSender);
                    t.put(
                        &ukey_unc,
                        &UnclaimedRec {
                            position: pos,
                            from_account_id: from.0,
                            asset_id,
                            amount,
                            reason,
                            state: UnclaimedState::Open,
                            recorded_at_ms: now,
                            op_id,
                        },
                    );
                    Ok(Step::Commit(Applied::Unclaimed(Event::DepositUnclaimed {
                        deposit_id,
                        position: pos,
                        from_account_id: format!("1.2.{}", from.0),
                        asset_id: format!("1.3.{asset_id}"),
                        amount,
                        reason,
                        op: op_id,
                    })))
                }
            }
        }
        Class::Outgoing {
            to,
            asset_id,
            amount,
            nonce,
        } => {
            let known = match nonce {
                Some(n) => t.get::<String>(&records::wdnonce_key(n))?,
                None => None,
            };
            let Some(id) = known else {
                return match payout_memo {
                    // Our withdrawal memo, unknown to the store: pause payouts.
                    Some(memo_id) => Ok(Step::Commit(crate::withdrawals::record_unknown_payout(
                        t, pos, to, asset_id, amount, memo_id, now,
                    )?)),
                    None => Ok(Step::Commit(Applied::Nothing)), // not ours (an operator's own transfer)
                };
            };
            if crate::sweep::is_sweep_id(&id) {
                return Ok(Step::Commit(crate::sweep::confirm_in_scan(
                    t, &id, to, asset_id, amount, pos,
                )?));
            }
            let wkey = records::wd_key(&id);
            let Some(mut w) = t.get::<WithdrawalRec>(&wkey)? else {
                return Ok(Step::Commit(Applied::Nothing));
            };
            if w.account_id != to.0 || w.cwd != amount || asset_id != 0 {
                return Ok(Step::Commit(Applied::Nothing));
            }
            match w.state {
                // Queued or under review yet paid: the store was restored from a
                // backup taken before this payout was recorded. It is paid.
                WdState::Sent | WdState::Queued | WdState::AwaitingReview => {}
                WdState::Confirmed => return Ok(Step::Commit(Applied::Nothing)),
                other => {
                    // Paid although not in flight: must never happen; say so loudly.
                    return Ok(Step::Commit(Applied::Anomaly(format!(
                        "withdrawal {id} was paid on chain at {deposit_id} while {other:?}"
                    ))));
                }
            }
            let ukey = records::user_key(&w.user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            u.frozen = u.frozen.saturating_sub(w.game);
            u.open_withdrawals = u.open_withdrawals.saturating_sub(1);
            w.state = WdState::Confirmed;
            w.block_num = Some(pos.block_num);
            t.put(&ukey, &u);
            t.put(&wkey, &w);
            t.delete(&records::wdopen_key(&id));
            let tx_id = w.tx.as_ref().map(|x| x.tx_id.clone()).unwrap_or_default();
            Ok(Step::Commit(Applied::Confirmed(
                Event::WithdrawalConfirmed {
                    withdrawal: w.reference(),
                    tx_id,
                    block_num: pos.block_num,
                },
            )))
        }
    }
}

impl DepositRec {
    fn view(self, deposit_id: &str) -> CreditedDepositView {
        CreditedDepositView {
            deposit_id: deposit_id.to_string(),
            user: self.user,
            from_account_id: format!("1.2.{}", self.from_account_id),
            cwd: self.cwd,
            game: self.game,
            credited_at_ms: self.credited_at_ms,
            assigned: false,
        }
    }
}

impl UnclaimedRec {
    /// As a credited deposit of the user it was assigned to (`None` unless assigned).
    fn credited_view(self) -> Option<CreditedDepositView> {
        match self.state {
            UnclaimedState::Assigned {
                user, game, at_ms, ..
            } => Some(CreditedDepositView {
                deposit_id: self.position.deposit_id(),
                user,
                from_account_id: format!("1.2.{}", self.from_account_id),
                cwd: self.amount,
                game,
                credited_at_ms: at_ms,
                assigned: true,
            }),
            _ => None,
        }
    }

    pub fn view(&self) -> UnclaimedView {
        let (state, resolution) = match &self.state {
            UnclaimedState::Open => (UnclaimedStateView::Open, None),
            UnclaimedState::Assigned { user, .. } => {
                (UnclaimedStateView::Assigned, Some(user.clone()))
            }
            UnclaimedState::RefundMarked { note, .. } => {
                (UnclaimedStateView::RefundMarked, Some(note.clone()))
            }
        };
        UnclaimedView {
            deposit_id: self.position.deposit_id(),
            block_num: self.position.block_num,
            trx_in_block: self.position.trx_in_block,
            op_in_trx: self.position.op_in_trx,
            occurrence: self.position.occurrence,
            op: u32::try_from(self.op_id).unwrap_or(u32::MAX),
            from_account_id: format!("1.2.{}", self.from_account_id),
            asset_id: format!("1.3.{}", self.asset_id),
            amount: self.amount,
            reason: match self.reason {
                UnclaimedReason::UnlinkedSender => "the sender is not linked to any user".into(),
                UnclaimedReason::OtherAsset => "the asset is not CWD".into(),
                UnclaimedReason::TooSmall => "the amount converts to zero game units".into(),
                UnclaimedReason::CreditOverflow => {
                    "crediting it would overflow the user's balance".into()
                }
                UnclaimedReason::UserUnreadable => "the user's record could not be read".into(),
                UnclaimedReason::NotATransfer => {
                    format!(
                        "the funds came by operation {} ({}), not by a transfer",
                        self.op_id,
                        op_name(self.op_id)
                    )
                }
                UnclaimedReason::UnrecognisedOperation => {
                    format!("operation {} is unknown to the gateway and names this amount; check it on chain", self.op_id)
                }
            },
            state,
            resolution,
        }
    }
}

/// crowdwiz-core's name of an operation that can move funds (operations.hpp).
fn op_name(op_id: u64) -> &'static str {
    match INCOMING_OPS.iter().find(|op| op.0 == op_id) {
        Some(op) => op.1,
        None if op_id == OP_RESOLVE_DISPUTE => "approved_transfer_resolve_dispute",
        None => "an operation",
    }
}
