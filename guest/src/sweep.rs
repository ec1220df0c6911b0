//! Sweeping to cold storage: the gateway account signs automatically, so what it holds
//! beyond its needs (withdrawals not yet final, plus the fee reserve) and the high-water
//! mark goes to the configured cold account. Below needs plus the low-water mark, a
//! rate-limited `hot-balance-low` alert says how much to move back.
//!
//! A sweep has the withdrawal's discipline and uses its machinery (`build_payout`,
//! `broadcast_stored`, `proven_expired`, the `wdnonce/` index the history scan confirms
//! payouts by): it is signed and stored in one commit before it is broadcast, the same
//! bytes are rebroadcast until it is seen in an irreversible block (confirmed) or it
//! provably expired unincluded (expired: nothing moved, a later tick sweeps afresh from
//! the balance the chain then shows). One sweep at a time.
//!
//! Never sweeping what withdrawals need: the sweep's commit is guarded by the withdrawal
//! sequence (`seq/wd`) read before the needs were summed, so a withdrawal requested
//! meanwhile voids the sweep and the next tick counts it. Withdrawals already sent stay
//! counted until confirmed, so a payout in a block not yet scanned is kept twice, never
//! zero times.
//!
//! Keys: `sweep/<id>` ([`SweepRec`]), `sweepopen` (the id in flight), `seq/sweep`.

use serde::{Deserialize, Serialize};

use crate::chain::{self, Dgp};
use crate::events::{Alert, Event, OpPosition, SweepRef};
use crate::gateway::{check_limit, Gateway};
use crate::gateway_error::{GatewayError, GwResult};
use crate::ops::AccountId;
use crate::records::totals::Totals;
use crate::records::{self, peek, transact, Cursor, SentTx, Step, Txn, WithdrawalRec};
use crate::views::{SweepView, TickReport};
use crate::withdrawals::{LibTime, NotNow};

pub const SWEEP_OPEN: &str = "sweepopen";
pub const SEQ_SWEEP: &str = "seq/sweep";

pub fn sweep_key(id: &str) -> String {
    format!("sweep/{id}")
}

/// Sweep ids are `s` and 10 digits; withdrawal ids start with `w`.
pub fn is_sweep_id(id: &str) -> bool {
    id.starts_with('s')
}

/// The plain text of a sweep's memo (encrypted on chain, to the cold account's key).
pub fn sweep_memo(id: &str, gateway_account: &str) -> String {
    format!("Sweep {id} from {gateway_account}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepState {
    Sent,
    Confirmed,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRec {
    pub id: String,
    pub cold_account: String,
    pub cold_account_id: u64,
    pub cwd: u64,
    pub fee: u64,
    pub hot_balance: u64,
    pub kept_cwd: u64,
    pub nonce: u64,
    pub state: SweepState,
    pub created_at_ms: u64,
    pub tx: SentTx,
    pub block_num: Option<u32>,
}

impl SweepRec {
    pub fn view(&self) -> SweepView {
        SweepView {
            sweep_id: self.id.clone(),
            cold_account: self.cold_account.clone(),
            cwd: self.cwd,
            fee: self.fee,
            hot_balance: self.hot_balance,
            kept_cwd: self.kept_cwd,
            state: self.state,
            created_at_ms: self.created_at_ms,
            tx_id: self.tx.tx_id.clone(),
            block_num: self.block_num,
        }
    }

    pub fn reference(&self) -> SweepRef {
        SweepRef {
            sweep_id: self.id.clone(),
            cold_account: self.cold_account.clone(),
            cwd: self.cwd,
            tx_id: self.tx.tx_id.clone(),
        }
    }
}

/// Confirms a sweep the history scan found in an irreversible block (inside the scan's
/// commit, with the cursor).
pub(crate) fn confirm_in_scan(
    t: &mut Txn,
    id: &str,
    to: AccountId,
    asset_id: u64,
    amount: u64,
    pos: OpPosition,
) -> GwResult<crate::deposits::Applied> {
    use crate::deposits::Applied;
    let key = sweep_key(id);
    let Some(mut s) = t.get::<SweepRec>(&key)? else {
        return Ok(Applied::Nothing);
    };
    if s.cold_account_id != to.0 || s.cwd != amount || asset_id != 0 {
        return Ok(Applied::Nothing);
    }
    match s.state {
        SweepState::Sent => {}
        SweepState::Confirmed => return Ok(Applied::Nothing),
        SweepState::Expired => {
            return Ok(Applied::Anomaly(format!(
                "sweep {id} was included at {} after it was proven expired",
                pos.deposit_id()
            )));
        }
    }
    s.state = SweepState::Confirmed;
    s.block_num = Some(pos.block_num);
    t.put(&key, &s);
    if t.get::<String>(SWEEP_OPEN)?.as_deref() == Some(id) {
        t.delete(SWEEP_OPEN);
    }
    Ok(Applied::Swept(Event::SweepConfirmed {
        sweep: s.reference(),
        block_num: pos.block_num,
    }))
}

impl Gateway {
    /// CWD units that withdrawals not yet final (queued, under review, sent) will pay,
    /// and how many there are.
    pub(crate) fn pending_withdrawals(&mut self) -> GwResult<(u64, u32)> {
        let store = self.ports.store.as_mut();
        if let Some(t) = records::totals::read(store)? {
            return Ok((
                Totals::clamp(t.pending_cwd),
                Totals::clamp_count(t.pending_count),
            ));
        }
        let (mut cwd, mut n) = (0u64, 0u32);
        for e in records::scan_all(store, "wdopen/", None, usize::MAX)? {
            let id = &e.key["wdopen/".len()..];
            if let Some(w) = peek::<WithdrawalRec>(store, &records::wd_key(id))? {
                if !w.state.is_final() {
                    cwd = cwd.saturating_add(w.cwd);
                    n += 1;
                }
            }
        }
        Ok((cwd, n))
    }

    /// The sweep in flight, if any.
    pub(crate) fn open_sweep(&mut self) -> GwResult<Option<SweepRec>> {
        let store = self.ports.store.as_mut();
        match peek::<String>(store, SWEEP_OPEN)? {
            Some(id) => peek(store, &sweep_key(&id)),
            None => Ok(None),
        }
    }

    pub fn list_sweeps(
        &mut self,
        start_after: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<SweepView>> {
        self.active()?;
        check_limit(limit)?;
        let mut page = records::scan_all(
            self.ports.store.as_mut(),
            "sweep/",
            start_after.map(sweep_key),
            limit as usize,
        )?;
        page.truncate(limit as usize);
        page.iter()
            .map(|e| records::decode::<SweepRec>(&e.key, &e.value).map(|s| s.view()))
            .collect()
    }

    /// The tick's treasury work: the sweep in flight, then the balance checks and a new
    /// sweep. True while a sweep is in flight.
    pub(crate) fn process_sweep(
        &mut self,
        dgp: &Dgp,
        scan_complete: bool,
        report: &mut TickReport,
    ) -> GwResult<bool> {
        if let Some(s) = self.open_sweep()? {
            return self.settle_open_sweep(s, dgp, scan_complete, report);
        }
        if let Some(id) = peek::<String>(self.ports.store.as_mut(), SWEEP_OPEN)? {
            // The index names a sweep that is gone: drop it.
            transact(&mut self.ports, |t| {
                if t.get::<String>(SWEEP_OPEN)?.as_deref() == Some(id.as_str())
                    && t.get::<SweepRec>(&sweep_key(&id))?.is_none()
                {
                    t.delete(SWEEP_OPEN);
                    return Ok(Step::Commit(()));
                }
                Ok(Step::Done(()))
            })?;
        }
        // Like a payout: nothing new before the scan has seen every irreversible block.
        if !scan_complete || self.unknown_payout_pending || self.payouts_paused()? {
            return Ok(false);
        }
        let (gateway, gateway_name, tr, cold_id) = {
            let a = self.active()?;
            (
                a.gateway_id,
                a.config.gateway_account.clone(),
                a.config.treasury.clone(),
                a.cold_id,
            )
        };
        if cold_id.is_none() && tr.low_water_cwd == 0 && tr.low_fee_days == 0 {
            return Ok(false); // nothing configured to watch: no node call
        }
        let balance = match chain::cwd_balance(self.ports.node.as_mut(), gateway) {
            Ok(b) => b,
            Err(f) => {
                self.alert_node(&f);
                report.node_errors += 1;
                return Ok(false);
            }
        };
        // The sequence before the sum: a withdrawal requested after it voids the sweep.
        let seq_wd: u64 = peek(self.ports.store.as_mut(), records::SEQ_WD)?.unwrap_or(0);
        let (pending, _) = self.pending_withdrawals()?;
        let needed = pending.saturating_add(tr.fee_reserve_cwd);
        self.check_fee_reserve(balance, pending)?;
        if tr.low_water_cwd > 0 && balance < needed.saturating_add(tr.low_water_cwd) {
            let target = needed.saturating_add(tr.high_water_cwd.max(tr.low_water_cwd));
            self.raise(Alert::HotBalanceLow {
                balance,
                needed,
                low_water: tr.low_water_cwd,
                refill_cwd: target - balance,
            });
        }
        let Some(cold) = cold_id else {
            return Ok(false);
        };
        let keep = needed.saturating_add(tr.high_water_cwd);
        let Some(excess) = balance.checked_sub(keep).filter(|e| *e > 0) else {
            return Ok(false);
        };
        let seq: u64 = peek(self.ports.store.as_mut(), SEQ_SWEEP)?.unwrap_or(0);
        let id = format!("s{:010}", seq + 1);
        let memo = sweep_memo(&id, &gateway_name);
        // Random, never derived from the id (as for withdrawals).
        let nonce = u64::from_le_bytes(self.random_bytes()).max(1);
        let built = self.payout_fee(cold, excess, &memo).and_then(|fee| {
            let amount = excess.saturating_sub(fee);
            if amount < tr.min_sweep_cwd {
                return Ok(None);
            }
            self.build_payout(cold, amount, nonce, &memo, dgp, excess, ("sweep", &id))
                .map(|b| Some((amount, b)))
        });
        let (amount, (sent, cost)) = match built {
            Ok(Some(b)) => b,
            // Alerted where it failed (signing, a fee not believed, the signer): next tick.
            Ok(None)
            | Err(
                NotNow::LowFunds { .. }
                | NotNow::FeeAboveCeiling
                | NotNow::SigningFailed
                | NotNow::SignerRefused { .. }
                | NotNow::SignerUnavailable,
            ) => return Ok(false),
            Err(NotNow::Node(f)) => {
                self.alert_node(&f);
                report.node_errors += 1;
                return Ok(false);
            }
            Err(NotNow::AccountGone) => {
                self.raise(Alert::NodeTrouble {
                    call: "treasury.cold-account".into(),
                    detail: format!(
                        "the cold account {} is not on chain; no sweep",
                        tr.cold_account
                    ),
                });
                return Ok(false);
            }
        };
        let now = self.now();
        let lib = dgp.last_irreversible_block;
        let rec = SweepRec {
            id: id.clone(),
            cold_account: tr.cold_account.clone(),
            cold_account_id: cold.0,
            cwd: amount,
            fee: cost - amount,
            hot_balance: balance,
            kept_cwd: needed,
            nonce,
            state: SweepState::Sent,
            created_at_ms: now,
            tx: SentTx { attempt: 1, ..sent },
            block_num: None,
        };
        let stored = transact(&mut self.ports, |t| {
            let open: Option<String> = t.get(SWEEP_OPEN)?;
            let wd_now: u64 = t.get_or_default(records::SEQ_WD)?;
            let c: Cursor = t.get_or_default(records::CURSOR)?;
            let sweep_seq: u64 = t.get_or_default(SEQ_SWEEP)?;
            if open.is_some() || wd_now != seq_wd || c.through_block < lib || sweep_seq != seq {
                return Ok(Step::Done(false)); // something moved meanwhile: next tick
            }
            if t.get::<String>(&records::wdnonce_key(nonce))?.is_some() {
                return Ok(Step::Done(false));
            }
            t.put(&sweep_key(&id), &rec);
            t.put(SWEEP_OPEN, &id);
            t.put(SEQ_SWEEP, &(seq + 1));
            t.put(&records::wdnonce_key(nonce), &id);
            crate::fees::note(t, crate::fees::FeeKind::Payout, rec.fee, now)?;
            t.emit(Event::SweepSent(rec.reference()));
            Ok(Step::Commit(true))
        })?;
        if !stored {
            return Ok(false);
        }
        report.sweeps_sent += 1;
        self.broadcast_stored(&rec.id, &rec.tx, report);
        Ok(true)
    }

    /// Rebroadcasts the sweep in flight, or settles it once it provably expired.
    fn settle_open_sweep(
        &mut self,
        s: SweepRec,
        dgp: &Dgp,
        scan_complete: bool,
        report: &mut TickReport,
    ) -> GwResult<bool> {
        if s.state != SweepState::Sent {
            // Confirmed or expired already: the index is stale.
            transact(&mut self.ports, |t| {
                if t.get::<String>(SWEEP_OPEN)?.as_deref() == Some(s.id.as_str()) {
                    t.delete(SWEEP_OPEN);
                    return Ok(Step::Commit(()));
                }
                Ok(Step::Done(()))
            })?;
            return Ok(false);
        }
        if dgp.head_time < s.tx.expiration {
            self.broadcast_stored(&s.id, &s.tx, report);
            return Ok(true);
        }
        let mut lib_time = LibTime::default();
        if !scan_complete || !self.proven_expired(s.tx.expiration, dgp, &mut lib_time, report) {
            return Ok(true);
        }
        let proof_block = dgp.last_irreversible_block;
        transact(&mut self.ports, |t| {
            let mut cur: SweepRec =
                t.get(&sweep_key(&s.id))?
                    .ok_or(GatewayError::StoreUnavailable(format!(
                        "sweep {} vanished",
                        s.id
                    )))?;
            let c: Cursor = t.get_or_default(records::CURSOR)?;
            if cur.state != SweepState::Sent || c.through_block < proof_block {
                return Ok(Step::Done(()));
            }
            cur.state = SweepState::Expired;
            t.put(&sweep_key(&s.id), &cur);
            if t.get::<String>(SWEEP_OPEN)?.as_deref() == Some(s.id.as_str()) {
                t.delete(SWEEP_OPEN);
            }
            t.emit(Event::SweepExpired(cur.reference()));
            Ok(Step::Commit(()))
        })?;
        Ok(false)
    }
}
