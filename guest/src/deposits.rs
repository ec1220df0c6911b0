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
use crate::records::{self, transact, Cursor, DepositRec, LinkRec, Step, UnclaimedRec, UnclaimedState, UserRec, WdState, WithdrawalRec};
use crate::views::{TickReport, UnclaimedStateView, UnclaimedView};

/// Pages read per tick at most; the tick asks to be called again soon when it stops early.
pub const MAX_PAGES_PER_TICK: usize = 50;

pub struct ScanOutcome {
    /// Every gateway operation in blocks up to the last irreversible one is processed.
    pub complete: bool,
}

/// What a history operation means to the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// A transfer to the gateway.
    Incoming { from: AccountId, asset_id: u64, amount: u64 },
    /// A transfer from the gateway (a withdrawal, recognised by its memo nonce).
    Outgoing { to: AccountId, asset_id: u64, amount: u64, nonce: Option<u64> },
    /// Anything else (link messages, fees, other operations).
    Other,
}

pub fn classify(gateway: AccountId, e: &HistoryEntry) -> Class {
    if e.op_id != OP_TRANSFER {
        return Class::Other;
    }
    let parse = |b: &Value| -> Option<(AccountId, AccountId, u64, u64, Option<u64>)> {
        let from = account_id(&b["from"], "from").ok()?;
        let to = account_id(&b["to"], "to").ok()?;
        let amount = int_i64(&b["amount"]["amount"], "amount").ok()?;
        let asset = object_id(&b["amount"]["asset_id"], "asset_id", 1, 3).ok()?;
        let nonce = b.get("memo").filter(|m| !m.is_null()).and_then(|m| int_u64(&m["nonce"], "nonce").ok());
        Some((from, to, u64::try_from(amount).ok()?, asset, nonce))
    };
    match parse(&e.body) {
        Some((from, to, amount, asset_id, _)) if to == gateway && from != gateway => Class::Incoming { from, asset_id, amount },
        Some((from, to, amount, asset_id, nonce)) if from == gateway && to != gateway => Class::Outgoing { to, asset_id, amount, nonce },
        _ => Class::Other,
    }
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
    /// Another instance moved the cursor: stop and let the next tick carry on.
    Raced,
}

impl Gateway {
    pub(crate) fn scan_history(&mut self, dgp: &Dgp, report: &mut TickReport) -> GwResult<ScanOutcome> {
        let (gateway, rate) = {
            let a = self.active()?;
            (a.gateway_id, a.config.deposit_rate)
        };
        let lib = dgp.last_irreversible_block;
        for _ in 0..MAX_PAGES_PER_TICK {
            let cursor: Cursor = records::peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
            let window = match chain::history_window(self.ports.node.as_mut(), gateway, cursor.seq + 1, cursor.seq + HISTORY_PAGE) {
                Ok(w) => w,
                Err(f) => {
                    self.alert_node(&f);
                    report.node_errors += 1;
                    return Ok(ScanOutcome { complete: false });
                }
            };
            let full = window.len() as u64 == HISTORY_PAGE;
            let mut reached_reversible = false;
            for (i, entry) in window.iter().enumerate() {
                if entry.position.block_num > lib {
                    reached_reversible = true;
                    self.watch_reversible_payouts(gateway, &window[i..])?;
                    break;
                }
                let seq = cursor.seq + 1 + i as u64;
                let class = classify(gateway, entry);
                if let Class::Incoming { from, asset_id: 0, .. } = class {
                    // A memo-link code links the sender first; then it is an ordinary deposit.
                    if !self.link_by_memo(seq, from, entry, report)? {
                        return Ok(ScanOutcome { complete: false });
                    }
                }
                let payout_memo = match class {
                    Class::Outgoing { .. } => self.payout_memo_id(entry),
                    _ => None,
                };
                let applied = self.apply_history_op(seq, entry.position, &class, rate, payout_memo.as_deref())?;
                match applied {
                    Applied::Nothing => {}
                    Applied::Credited(e) => {
                        report.deposits_credited += 1;
                        self.emit(e);
                    }
                    Applied::Unclaimed(e) => {
                        report.deposits_unclaimed += 1;
                        self.emit(e);
                    }
                    Applied::Confirmed(e) => {
                        report.withdrawals_confirmed += 1;
                        self.emit(e);
                    }
                    Applied::Anomaly(s) => self.raise(Alert::StoreTrouble(s)),
                    Applied::UnknownPayout(a) => self.raise(a),
                    Applied::Raced => return Ok(ScanOutcome { complete: false }),
                }
            }
            if reached_reversible || !full {
                // Everything up to the irreversible block is done: say so, monotonically.
                let done = transact(self.ports.store.as_mut(), |t| {
                    let mut c: Cursor = t.get_or_default(records::CURSOR)?;
                    if c.through_block >= lib {
                        return Ok(Step::Done(true));
                    }
                    // Only if nobody moved the cursor since this page was read.
                    let expected = cursor.seq + window.iter().filter(|e| e.position.block_num <= lib).count() as u64;
                    if c.seq != expected {
                        return Ok(Step::Done(false));
                    }
                    c.through_block = lib;
                    t.put(records::CURSOR, &c);
                    Ok(Step::Commit(true))
                })?;
                return Ok(ScanOutcome { complete: done });
            }
        }
        Ok(ScanOutcome { complete: false })
    }

    /// Applies one irreversible history operation at per-account sequence `seq`.
    /// `payout_memo`: for a transfer from the gateway, the withdrawal id its memo names
    /// when the memo is the gateway's own withdrawal memo.
    fn apply_history_op(&mut self, seq: u64, pos: OpPosition, class: &Class, rate: Rate, payout_memo: Option<&str>) -> GwResult<Applied> {
        let now = self.now();
        transact(self.ports.store.as_mut(), |t| {
            let mut c: Cursor = t.get_or_default(records::CURSOR)?;
            if c.seq + 1 != seq {
                return Ok(Step::Done(Applied::Raced));
            }
            c.seq = seq;
            t.put(records::CURSOR, &c);
            let deposit_id = pos.deposit_id();
            match *class {
                Class::Other => Ok(Step::Commit(Applied::Nothing)),
                Class::Incoming { from, asset_id, amount } => {
                    let dkey = records::dep_key(&pos);
                    let ukey_unc = records::unc_key(&deposit_id);
                    if t.get::<DepositRec>(&dkey)?.is_some() || t.get::<UnclaimedRec>(&ukey_unc)?.is_some() {
                        return Ok(Step::Commit(Applied::Nothing)); // already applied (cannot happen with the cursor, kept as a second lock)
                    }
                    let link: Option<LinkRec> = t.get(&records::link_key(from.0))?;
                    let owner = match &link {
                        Some(LinkRec::Linked { user, account, .. }) => Some((user.clone(), account.clone())),
                        // Deposits already on their way when the user unlinked are still theirs.
                        Some(LinkRec::Reserved { user, account, through_block }) if pos.block_num <= *through_block => {
                            Some((user.clone(), account.clone()))
                        }
                        _ => None,
                    };
                    let credit = match (&owner, asset_id) {
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
                    let credit = match (&owner, credit) {
                        (Some((user, _)), Ok(game)) => match t.get_decoded::<UserRec>(&records::user_key(user))? {
                            Ok(u) => u.unwrap_or_default().balance.checked_add(game).map(|_| game).ok_or(UnclaimedReason::CreditOverflow),
                            Err(_) => Err(UnclaimedReason::UserUnreadable),
                        },
                        (_, c) => c,
                    };
                    match (owner, credit) {
                        (Some((user, account)), Ok(game)) => {
                            let ukey = records::user_key(&user);
                            let mut u: UserRec = t.get_or_default(&ukey)?;
                            let balance = u.balance.checked_add(game).ok_or(GatewayError::Overflow)?;
                            u.balance = balance;
                            t.put(&ukey, &u);
                            t.put(&dkey, &DepositRec { user: user.clone(), from_account_id: from.0, cwd: amount, game, rate, credited_at_ms: now });
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
                                },
                            );
                            Ok(Step::Commit(Applied::Unclaimed(Event::DepositUnclaimed {
                                deposit_id,
                                position: pos,
                                from_account_id: format!("1.2.{}", from.0),
                                asset_id: format!("1.3.{asset_id}"),
                                amount,
                                reason,
                            })))
                        }
                    }
                }
                Class::Outgoing { to, asset_id, amount, nonce } => {
                    let known = match nonce {
                        Some(n) => t.get::<String>(&records::wdnonce_key(n))?,
                        None => None,
                    };
                    let Some(id) = known else {
                        return match payout_memo {
                            // Our withdrawal memo, unknown to the store: pause payouts.
                            Some(memo_id) => Ok(Step::Commit(crate::withdrawals::record_unknown_payout(t, pos, to, asset_id, amount, memo_id, now)?)),
                            None => Ok(Step::Commit(Applied::Nothing)), // not ours (an operator's own transfer)
                        };
                    };
                    let wkey = records::wd_key(&id);
                    let Some(mut w) = t.get::<WithdrawalRec>(&wkey)? else { return Ok(Step::Commit(Applied::Nothing)) };
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
                    Ok(Step::Commit(Applied::Confirmed(Event::WithdrawalConfirmed {
                        withdrawal: w.reference(),
                        tx_id,
                        block_num: pos.block_num,
                    })))
                }
            }
        })
    }

    pub fn list_unclaimed(&mut self, include_resolved: bool, start_after: Option<&str>, limit: u32) -> GwResult<Vec<UnclaimedView>> {
        self.active()?;
        check_limit(limit)?;
        let mut out = Vec::new();
        let mut after = start_after.map(records::unc_key);
        loop {
            let page = self.ports.store.scan("unc/", after.as_deref(), 200)?;
            let n = page.len();
            for e in &page {
                let u: UnclaimedRec = records::decode(&e.key, &e.value)?;
                if include_resolved || u.state == UnclaimedState::Open {
                    out.push(u.view());
                    if out.len() >= limit as usize {
                        return Ok(out);
                    }
                }
            }
            match page.last() {
                Some(last) if n == 200 => after = Some(last.key.clone()),
                _ => return Ok(out),
            }
        }
    }

    pub fn assign_unclaimed(&mut self, deposit_id: &str, user: &str) -> GwResult<UnclaimedView> {
        self.active()?;
        check_user(user)?;
        let rate = self.active()?.config.deposit_rate;
        let now = self.now();
        let key = records::unc_key(deposit_id);
        let (view, game, balance) = transact(self.ports.store.as_mut(), |t| {
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
            rec.balance = rec.balance.checked_add(game).ok_or(GatewayError::Overflow)?;
            u.state = UnclaimedState::Assigned { user: user.into(), game, rate, at_ms: now };
            t.put(&ukey, &rec);
            t.put(&key, &u);
            Ok(Step::Commit((u.view(), game, rec.balance)))
        })?;
        self.emit(Event::UnclaimedAssigned { deposit_id: deposit_id.into(), user: user.into(), game, balance });
        Ok(view)
    }

    pub fn refund_unclaimed(&mut self, deposit_id: &str, note: &str) -> GwResult<UnclaimedView> {
        self.active()?;
        if note.len() > 200 {
            return Err(GatewayError::invalid("note", "at most 200 bytes"));
        }
        let now = self.now();
        let key = records::unc_key(deposit_id);
        let view = transact(self.ports.store.as_mut(), |t| {
            let mut u: UnclaimedRec = t.get(&key)?.ok_or(GatewayError::UnclaimedNotFound)?;
            if u.state != UnclaimedState::Open {
                return Err(GatewayError::AlreadyResolved);
            }
            u.state = UnclaimedState::RefundMarked { note: note.into(), at_ms: now };
            t.put(&key, &u);
            Ok(Step::Commit(u.view()))
        })?;
        self.emit(Event::UnclaimedRefundMarked { deposit_id: deposit_id.into(), note: note.into() });
        Ok(view)
    }
}

impl UnclaimedRec {
    pub fn view(&self) -> UnclaimedView {
        let (state, resolution) = match &self.state {
            UnclaimedState::Open => (UnclaimedStateView::Open, None),
            UnclaimedState::Assigned { user, .. } => (UnclaimedStateView::Assigned, Some(user.clone())),
            UnclaimedState::RefundMarked { note, .. } => (UnclaimedStateView::RefundMarked, Some(note.clone())),
        };
        UnclaimedView {
            deposit_id: self.position.deposit_id(),
            block_num: self.position.block_num,
            trx_in_block: self.position.trx_in_block,
            op_in_trx: self.position.op_in_trx,
            from_account_id: format!("1.2.{}", self.from_account_id),
            asset_id: format!("1.3.{}", self.asset_id),
            amount: self.amount,
            reason: match self.reason {
                UnclaimedReason::UnlinkedSender => "the sender is not linked to any user",
                UnclaimedReason::OtherAsset => "the asset is not CWD",
                UnclaimedReason::TooSmall => "the amount converts to zero game units",
                UnclaimedReason::CreditOverflow => "crediting it would overflow the user's balance",
                UnclaimedReason::UserUnreadable => "the user's record could not be read",
            }
            .into(),
            state,
            resolution,
        }
    }
}
