//! The invariants, read from the store (the gateway's records) and from the node that
//! keeps all history (what the chain really holds), never from the gateway's answers.

use std::collections::BTreeMap;

use cwd_gateway::events::OpPosition;
use cwd_gateway::records::{
    self, AdjustRec, Cursor, DepositRec, UnclaimedRec, UnclaimedState, UserRec, WdState,
    WithdrawalRec,
};
use cwd_gateway::referrals::RewardRec;
use cwd_gateway::retention::AdjustDayRec;
use cwd_gateway::transfers::TransferRec;
use cwd_gateway_host::store::Store;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::world::World;

/// Deposit rate of every run: 90 game units per CWD, rounded down.
const DEPOSIT_GAME: u128 = 90;
const CWD: u128 = 100_000;

fn all<T: DeserializeOwned>(w: &World, prefix: &str) -> Result<Vec<(String, T)>, String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = w
            .store
            .inner
            .scan(prefix, after.as_deref(), 1_000)
            .map_err(|e| e.0)?;
        if page.is_empty() {
            return Ok(out);
        }
        for e in &page {
            let rec = records::decode::<T>(&e.key, &e.value)
                .map_err(|err| format!("record {} does not decode: {err:?}", e.key))?;
            out.push((e.key.clone(), rec));
        }
        after = page.last().map(|e| e.key.clone());
    }
}

/// Funds that reached the gateway, as the chain holds them.
#[derive(Debug)]
struct Incoming {
    op_id: u64,
    from: u64,
    asset: u64,
    amount: u64,
}

/// A transfer from the gateway.
#[derive(Debug)]
struct Payout {
    to: u64,
    amount: u64,
    nonce: Option<u64>,
    block: u32,
}

struct ChainView {
    lib: u32,
    lib_time: u32,
    /// Deposit id (position with occurrence) → incoming operation, all blocks.
    incoming: BTreeMap<String, (u32, Incoming)>,
    payouts: Vec<Payout>,
}

fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn instance(v: &Value) -> Option<u64> {
    v.as_str()?.rsplit('.').next()?.parse().ok()
}

fn chain_view(w: &World) -> ChainView {
    let s = w.chain.full().lock();
    let lib = s.last_irreversible();
    let lib_time = s.block(lib).map(|b| b.time).unwrap_or(0);
    let gid = w.gateway_id;
    let mut incoming = BTreeMap::new();
    let mut payouts = Vec::new();
    let mut last: Option<OpPosition> = None;
    for inst in s.account_ops(cwd_gateway::ops::AccountId(gid)) {
        let Some(h) = s.history_object(*inst) else {
            continue;
        };
        let site = OpPosition {
            block_num: h.block_num,
            trx_in_block: h.trx_in_block,
            op_in_trx: h.op_in_trx,
            occurrence: 0,
        };
        let occurrence = match &last {
            Some(l) if l.same_site(&site) => l.occurrence + 1,
            _ => 0,
        };
        let pos = OpPosition { occurrence, ..site };
        last = Some(pos.clone());
        let op = h.op.to_json();
        let (op_id, body) = (op[0].as_u64().unwrap_or(u64::MAX), &op[1]);
        let to = instance(&body["to"]);
        let from = instance(&body["from"]);
        let amount = int(&body["amount"]["amount"]).unwrap_or(0);
        let asset = instance(&body["amount"]["asset_id"]).unwrap_or(u64::MAX);
        if matches!(op_id, 0 | 105) && to == Some(gid) && from != Some(gid) {
            incoming.insert(
                pos.deposit_id(),
                (
                    h.block_num,
                    Incoming {
                        op_id,
                        from: from.unwrap_or(0),
                        asset,
                        amount,
                    },
                ),
            );
        }
        if op_id == 0 && from == Some(gid) && to != Some(gid) {
            payouts.push(Payout {
                to: to.unwrap_or(0),
                amount,
                nonce: int(&body["memo"]["nonce"]),
                block: h.block_num,
            });
        }
    }
    ChainView {
        lib,
        lib_time,
        incoming,
        payouts,
    }
}

/// After every step: the ledger reconciles, every credit is one real irreversible
/// transfer, nothing is paid twice or paid after a refund.
pub fn safety(w: &World) -> Result<(), String> {
    let users: Vec<(String, UserRec)> = all(w, "user/")?;
    let deps: Vec<(String, DepositRec)> = all(w, "dep/")?;
    let uncs: Vec<(String, UnclaimedRec)> = all(w, "unc/")?;
    let adjs: Vec<(String, AdjustRec)> = all(w, "adj/")?;
    let wds: Vec<(String, WithdrawalRec)> = all(w, "wd/")?;
    let cursor: Option<Cursor> = all::<Cursor>(w, records::CURSOR)?
        .into_iter()
        .find(|(k, _)| k == records::CURSOR)
        .map(|(_, c)| c);
    let chain = chain_view(w);

    // Ledger: balance + frozen = credited deposits + game changes − completed withdrawals.
    let mut expect: BTreeMap<String, i128> = BTreeMap::new();
    for (_, d) in &deps {
        *expect.entry(d.user.clone()).or_default() += d.game as i128;
    }
    for (_, u) in &uncs {
        if let UnclaimedState::Assigned { user, game, .. } = &u.state {
            *expect.entry(user.clone()).or_default() += *game as i128;
        }
    }
    for (_, a) in &adjs {
        *expect.entry(a.user.clone()).or_default() += a.delta as i128;
    }
    // Balance changes whose idempotency records were pruned: their daily totals.
    for (key, d) in all::<AdjustDayRec>(w, "adjday/")? {
        let user = key["adjday/".len()..]
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        *expect.entry(user).or_default() += d.delta;
    }
    // Internal moves create nothing: each takes from one user what it gives another.
    for (_, t) in all::<TransferRec>(w, "xfer/")? {
        *expect.entry(t.from_user.clone()).or_default() -= t.amount as i128;
        *expect.entry(t.to_user.clone()).or_default() += t.amount as i128;
    }
    for (key, r) in all::<RewardRec>(w, "rwd/")? {
        let shares: u128 = r.shares.iter().map(|s| s.amount as u128).sum();
        if shares + r.cashback as u128 != r.paid as u128 || r.paid > r.base {
            return Err(format!("referral reward {key} does not add up: shares {shares} + cashback {} vs paid {} of base {}", r.cashback, r.paid, r.base));
        }
        *expect.entry(r.pool_user.clone()).or_default() -= r.paid as i128;
        for s in &r.shares {
            *expect.entry(s.user.clone()).or_default() += s.amount as i128;
        }
        *expect.entry(r.user.clone()).or_default() += r.cashback as i128;
    }
    let mut frozen: BTreeMap<String, u64> = BTreeMap::new();
    for (_, x) in &wds {
        match x.state {
            WdState::Confirmed => *expect.entry(x.user.clone()).or_default() -= x.game as i128,
            WdState::Failed | WdState::Rejected | WdState::Cancelled => {}
            WdState::AwaitingReview | WdState::Queued | WdState::Sent => {
                *frozen.entry(x.user.clone()).or_default() += x.game
            }
        }
    }
    for (key, u) in &users {
        let user = &key["user/".len()..];
        let have = u.balance as i128 + u.frozen as i128;
        let want = expect.get(user).copied().unwrap_or(0);
        if have != want {
            return Err(format!("ledger: {user} holds balance {} + frozen {} = {have}, but credits + changes ± moves − withdrawals = {want}", u.balance, u.frozen));
        }
        let f = frozen.get(user).copied().unwrap_or(0);
        if u.frozen != f {
            return Err(format!(
                "ledger: {user} has {} frozen, but its open withdrawals hold {f}",
                u.frozen
            ));
        }
    }
    for (user, e) in &expect {
        if *e != 0 && !users.iter().any(|(k, _)| &k["user/".len()..] == user) {
            return Err(format!("ledger: {e} credited to {user}, who has no record"));
        }
    }

    // Deposits: each credit or unclaimed record is one real, irreversible operation.
    for (key, d) in &deps {
        let id = &key["dep/".len()..];
        let Some((block, inc)) = chain.incoming.get(id) else {
            return Err(format!(
                "deposit {id} is credited but the chain holds no such transfer to the gateway"
            ));
        };
        if *block > chain.lib {
            return Err(format!(
                "deposit {id} is credited from reversible block {block} (irreversible: {})",
                chain.lib
            ));
        }
        if (inc.op_id, inc.asset, inc.from, inc.amount) != (0, 0, d.from_account_id, d.cwd) {
            return Err(format!(
                "deposit {id} credited as {} CWD units from 1.2.{}, but the chain holds {inc:?}",
                d.cwd, d.from_account_id
            ));
        }
        let game = (d.cwd as u128 * DEPOSIT_GAME / CWD) as u64;
        if d.game != game {
            return Err(format!(
                "deposit {id}: {} CWD units credited as {} game units, not {game}",
                d.cwd, d.game
            ));
        }
        if uncs.iter().any(|(k, _)| &k["unc/".len()..] == id) {
            return Err(format!("deposit {id} is both credited and unclaimed"));
        }
    }
    for (key, u) in &uncs {
        let id = &key["unc/".len()..];
        let Some((block, inc)) = chain.incoming.get(id) else {
            return Err(format!(
                "unclaimed deposit {id} matches no transfer to the gateway on chain"
            ));
        };
        if *block > chain.lib
            || (inc.from, inc.asset, inc.amount) != (u.from_account_id, u.asset_id, u.amount)
        {
            return Err(format!("unclaimed deposit {id} ({u:?}) differs from the chain's {inc:?} in block {block} (irreversible: {})", chain.lib));
        }
    }
    if let Some(c) = &cursor {
        for (id, (block, _)) in &chain.incoming {
            if *block <= c.through_block
                && *block <= chain.lib
                && !deps.iter().any(|(k, _)| &k[4..] == id)
                && !uncs.iter().any(|(k, _)| &k[4..] == id)
            {
                return Err(format!("transfer {id} to the gateway is behind the scan (block {}) but neither credited nor unclaimed", c.through_block));
            }
        }
    }

    // Withdrawals: at most one payment each, none for one not (or no longer) paying.
    let mut by_nonce: BTreeMap<u64, Vec<&Payout>> = BTreeMap::new();
    for p in &chain.payouts {
        match p.nonce {
            Some(n) if wds.iter().any(|(_, x)| x.nonce == n) => {
                by_nonce.entry(n).or_default().push(p)
            }
            _ => {
                return Err(format!(
                    "the chain holds a payment from the gateway that matches no withdrawal: {p:?}"
                ))
            }
        }
    }
    for (_, x) in &wds {
        let paid = by_nonce.get(&x.nonce).map(Vec::as_slice).unwrap_or(&[]);
        if paid.len() > 1 {
            return Err(format!(
                "withdrawal {} is paid {} times on chain",
                x.id,
                paid.len()
            ));
        }
        match x.state {
            WdState::Failed
            | WdState::Rejected
            | WdState::Cancelled
            | WdState::AwaitingReview
            | WdState::Queued
                if !paid.is_empty() =>
            {
                return Err(format!("withdrawal {} is {:?} (refunded or never sent) but the chain holds its payment {:?}", x.id, x.state, paid[0]));
            }
            WdState::Confirmed => {
                let [p] = paid else {
                    return Err(format!(
                        "withdrawal {} is confirmed but the chain holds no payment for it",
                        x.id
                    ));
                };
                if p.block > chain.lib || (p.to, p.amount) != (x.account_id, x.cwd) {
                    return Err(format!("withdrawal {} is confirmed as {} units to 1.2.{} but the chain holds {p:?} (irreversible: {})", x.id, x.cwd, x.account_id, chain.lib));
                }
            }
            WdState::Failed => {
                if let Some(tx) = &x.tx {
                    if tx.expiration > chain.lib_time {
                        return Err(format!(
                            "withdrawal {} was refunded while its transaction (expiring {}) could still be included (irreversible block time {})",
                            x.id, tx.expiration, chain.lib_time
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let unknown: Vec<(String, Value)> = all(w, "upay/")?;
    if let Some((k, _)) = unknown.first() {
        return Err(format!(
            "the gateway recorded an unknown payout {k}: a payment it cannot match to a withdrawal"
        ));
    }
    kept_totals(w)?;
    journal_explains_balances(w, &users)?;
    events_and_changes(w)
}

/// The ledger's journal: per user, its lines' deltas, with those its outbox entries
/// still carry, sum to the balance and the frozen units (through crashes, races and
/// replays).
fn journal_explains_balances(w: &World, users: &[(String, UserRec)]) -> Result<(), String> {
    use cwd_gateway::records::journal::{Movement, USER_JOURNAL};
    let mut sums: std::collections::HashMap<String, (i128, i128)> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let page = w.store.inner.scan(USER_JOURNAL, after.as_deref(), 1_000).map_err(|e| e.0)?;
        for e in &page {
            let m = Movement::from_entry(&e.key, &e.value).map_err(|err| format!("{}: {err:?}", e.key))?;
            let s = sums.entry(m.user.clone()).or_default();
            s.0 += m.balance_delta as i128;
            s.1 += m.frozen_delta as i128;
        }
        match page.last() {
            Some(last) => after = Some(last.key.clone()),
            None => break,
        }
    }
    // Lines the outbox still carries: the sequencer writes them as it moves the entry.
    let waiting: Vec<(String, cwd_gateway::records::outbox::EventRec)> = all(w, cwd_gateway::records::outbox::OUTBOX)?;
    for (key, rec) in &waiting {
        for m in cwd_gateway::records::outbox::due_movements(key, rec) {
            let s = sums.entry(m.user.clone()).or_default();
            s.0 += m.balance_delta as i128;
            s.1 += m.frozen_delta as i128;
        }
    }
    for (key, u) in users {
        let user = &key["user/".len()..];
        let got = sums.remove(user).unwrap_or_default();
        if got != (u.balance as i128, u.frozen as i128) {
            return Err(format!("the journal sums to {got:?} for {user}, whose balance and frozen are {:?}", (u.balance, u.frozen)));
        }
    }
    match sums.into_iter().find(|(_, s)| *s != (0, 0)) {
        Some((user, s)) => Err(format!("journal lines {s:?} for {user}, who has no record")),
        None => Ok(()),
    }
}

/// Every state change has its event and every event its change: the outbox and the feed
/// (`obx/`, `evt/`) against the records, whatever crashed or lost its answer meanwhile.
/// Feed positions are dense and final, event ids unique. While the feed has pruned
/// nothing (its first position is 1), every record's event must be there.
fn events_and_changes(w: &World) -> Result<(), String> {
    use cwd_gateway::events::{Event, WithdrawalFailure};
    use cwd_gateway::records::outbox::{EventRec, FEED, FEED_SEQ, OUTBOX};
    let fed: Vec<(String, EventRec)> = all::<EventRec>(w, FEED)?
        .into_iter()
        .map(|(k, e)| {
            let seq = cwd_gateway::records::outbox::feed_seq(&k).unwrap_or(0);
            (k, EventRec { seq, ..e })
        })
        .collect();
    let waiting: Vec<(String, EventRec)> = all(w, OUTBOX)?;
    let head: u64 = all::<u64>(w, FEED_SEQ)?
        .into_iter()
        .find(|(k, _)| k == FEED_SEQ)
        .map_or(0, |(_, v)| v);
    let first = fed.first().map_or(head + 1, |(_, e)| e.seq);
    for (i, (key, e)) in fed.iter().enumerate() {
        if e.seq != first + i as u64 || key != &cwd_gateway::records::outbox::feed_key(e.seq) {
            return Err(format!(
                "feed: {key} holds position {} where {} was due",
                e.seq,
                first + i as u64
            ));
        }
    }
    if fed.last().is_some_and(|(_, e)| e.seq != head) {
        return Err(format!("feed: the last position is not the counter {head}"));
    }
    if let Some((k, _)) = waiting.iter().find(|(_, e)| e.seq != 0) {
        return Err(format!("outbox entry {k} has a feed position"));
    }
    let events: Vec<&EventRec> = fed.iter().chain(waiting.iter()).map(|(_, e)| e).collect();
    let mut ids = std::collections::BTreeSet::new();
    if let Some(dup) = events.iter().find(|e| !ids.insert(e.id.as_str())) {
        return Err(format!("event id {} is used twice", dup.id));
    }
    let complete = first == 1;

    let deps: BTreeMap<String, DepositRec> = all::<DepositRec>(w, "dep/")?
        .into_iter()
        .map(|(k, d)| (k["dep/".len()..].to_string(), d))
        .collect();
    let uncs: BTreeMap<String, UnclaimedRec> = all::<UnclaimedRec>(w, "unc/")?
        .into_iter()
        .map(|(k, u)| (k["unc/".len()..].to_string(), u))
        .collect();
    let wds: BTreeMap<String, WithdrawalRec> = all::<WithdrawalRec>(w, "wd/")?
        .into_iter()
        .map(|(_, x)| (x.id.clone(), x))
        .collect();
    let adjs: Vec<AdjustRec> = all::<AdjustRec>(w, "adj/")?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    let pruned_adj_users: std::collections::BTreeSet<String> = all::<AdjustDayRec>(w, "adjday/")?
        .into_iter()
        .filter_map(|(k, _)| k["adjday/".len()..].split('/').next().map(str::to_string))
        .collect();
    let transfers: BTreeMap<String, TransferRec> = all::<TransferRec>(w, "xfer/")?
        .into_iter()
        .map(|(_, t)| (t.id.clone(), t))
        .collect();
    let rewards = all::<RewardRec>(w, "rwd/")?.len();

    // Event → change, counting per change for the way back.
    let mut count: BTreeMap<String, u32> = BTreeMap::new();
    let mut bump = |k: String| *count.entry(k).or_default() += 1;
    let wd_in = |id: &str, want: Option<WdState>| -> Result<(), String> {
        match wds.get(id) {
            None => Err(format!(
                "an event names withdrawal {id}, which the store does not hold"
            )),
            Some(x) if want.is_some_and(|s| s != x.state) => Err(format!(
                "an event says withdrawal {id} is {want:?}; the store says {:?}",
                x.state
            )),
            Some(_) => Ok(()),
        }
    };
    let mut reward_events = 0;
    for e in &events {
        match &e.event {
            Event::DepositCredited {
                deposit_id,
                user,
                game,
                ..
            } => {
                match deps.get(deposit_id) {
                    Some(d) if d.user == *user && d.game == *game => {}
                    _ => {
                        return Err(format!(
                        "event {}: deposit {deposit_id} credited to {user} has no matching record",
                        e.id
                    ))
                    }
                }
                bump(format!("dep {deposit_id}"));
            }
            Event::DepositUnclaimed { deposit_id, .. } => {
                if !uncs.contains_key(deposit_id) {
                    return Err(format!(
                        "event {}: unclaimed deposit {deposit_id} has no record",
                        e.id
                    ));
                }
                bump(format!("unc {deposit_id}"));
            }
            Event::UnclaimedAssigned { deposit_id, .. } => {
                if !matches!(
                    uncs.get(deposit_id).map(|u| &u.state),
                    Some(UnclaimedState::Assigned { .. })
                ) {
                    return Err(format!(
                        "event {}: {deposit_id} assigned, but its record is not",
                        e.id
                    ));
                }
                bump(format!("assigned {deposit_id}"));
            }
            Event::UnclaimedRefundMarked { deposit_id, .. } => {
                if !matches!(
                    uncs.get(deposit_id).map(|u| &u.state),
                    Some(UnclaimedState::RefundMarked { .. })
                ) {
                    return Err(format!(
                        "event {}: {deposit_id} marked for refund, but its record is not",
                        e.id
                    ));
                }
                bump(format!("refund {deposit_id}"));
            }
            Event::BalanceAdjusted {
                user,
                delta,
                idempotency_key,
                ..
            } => {
                let held = adjs.iter().any(|a| {
                    a.idempotency_key == *idempotency_key && a.user == *user && a.delta == *delta
                });
                if !held && !pruned_adj_users.contains(user) {
                    return Err(format!("event {}: a change of {delta} for {user} ({idempotency_key}) has no record", e.id));
                }
                bump(format!("adj {idempotency_key}"));
            }
            Event::WithdrawalRequested(r) => {
                wd_in(&r.withdrawal_id, None)?;
                bump(format!("wd-requested {}", r.withdrawal_id));
            }
            Event::WithdrawalSent { withdrawal: r, .. } => {
                wd_in(&r.withdrawal_id, None)?;
                bump(format!("wd-sent {}", r.withdrawal_id));
            }
            Event::WithdrawalConfirmed { withdrawal: r, .. } => {
                wd_in(&r.withdrawal_id, Some(WdState::Confirmed))?;
                bump(format!("wd-final {}", r.withdrawal_id));
            }
            Event::WithdrawalFailed {
                withdrawal: r,
                reason,
            } => {
                wd_in(&r.withdrawal_id, Some(WdState::Failed))?;
                let _: &WithdrawalFailure = reason;
                bump(format!("wd-final {}", r.withdrawal_id));
            }
            Event::WithdrawalRejected { withdrawal: r, .. } => {
                wd_in(&r.withdrawal_id, Some(WdState::Rejected))?;
                bump(format!("wd-final {}", r.withdrawal_id));
            }
            Event::WithdrawalCancelled { withdrawal: r, .. } => {
                wd_in(&r.withdrawal_id, Some(WdState::Cancelled))?;
                bump(format!("wd-final {}", r.withdrawal_id));
            }
            Event::InternalTransfer {
                transfer_id,
                amount,
                ..
            } => {
                if transfers
                    .get(transfer_id)
                    .is_none_or(|t| t.amount != *amount)
                {
                    return Err(format!(
                        "event {}: transfer {transfer_id} has no matching record",
                        e.id
                    ));
                }
                bump(format!("xfer {transfer_id}"));
            }
            Event::ReferrersRewarded { .. } => reward_events += 1,
            _ => {}
        }
    }
    if let Some((k, n)) = count.iter().find(|(_, n)| **n > 1) {
        return Err(format!("{n} events for one change ({k})"));
    }
    if !complete {
        return Ok(()); // pruned: older changes' events are gone by design
    }
    // Change → event.
    let has = |k: String| count.contains_key(&k);
    for (id, d) in &deps {
        if !has(format!("dep {id}")) {
            return Err(format!("deposit {id} credited to {} has no event", d.user));
        }
    }
    for (id, u) in &uncs {
        if !has(format!("unc {id}")) {
            return Err(format!("unclaimed deposit {id} has no event"));
        }
        match &u.state {
            UnclaimedState::Assigned { .. } if !has(format!("assigned {id}")) => {
                return Err(format!("{id} was assigned without an event"))
            }
            UnclaimedState::RefundMarked { .. } if !has(format!("refund {id}")) => {
                return Err(format!("{id} was marked for refund without an event"))
            }
            _ => {}
        }
    }
    for a in &adjs {
        if !has(format!("adj {}", a.idempotency_key)) {
            return Err(format!(
                "the change {} for {} has no event",
                a.idempotency_key, a.user
            ));
        }
    }
    for (id, x) in &wds {
        if !has(format!("wd-requested {id}")) {
            return Err(format!("withdrawal {id} has no withdrawal-requested event"));
        }
        let sent = count.get(&format!("wd-sent {id}")).copied().unwrap_or(0);
        if sent != x.attempts {
            return Err(format!(
                "withdrawal {id} was sent {} times but has {sent} withdrawal-sent events",
                x.attempts
            ));
        }
        let final_event = has(format!("wd-final {id}"));
        if matches!(
            x.state,
            WdState::Confirmed | WdState::Failed | WdState::Rejected | WdState::Cancelled
        ) != final_event
        {
            return Err(format!(
                "withdrawal {id} is {:?}, final event: {final_event}",
                x.state
            ));
        }
    }
    for id in transfers.keys() {
        if !has(format!("xfer {id}")) {
            return Err(format!("transfer {id} has no event"));
        }
    }
    if reward_events != rewards {
        return Err(format!(
            "{rewards} rewards paid, {reward_events} referrers-rewarded events"
        ));
    }
    Ok(())
}

/// The totals kept in commits (`tot/` shards) equal the sums recounted from the records,
/// once built, and no sum is negative.
fn kept_totals(w: &World) -> Result<(), String> {
    use cwd_gateway::records::derived::{Build, BUILD_KEY};
    use cwd_gateway::records::totals::{self, Totals};
    let built = all::<Build>(w, BUILD_KEY)?
        .into_iter()
        .any(|(k, b)| k == BUILD_KEY && b.done && b.version == cwd_gateway::records::derived::BUILD_VERSION);
    if !built {
        return Ok(());
    }
    let mut kept = Totals::default();
    for (_, shard) in all::<Totals>(w, totals::TOTALS_PREFIX)? {
        kept.add(&shard, 1);
    }
    if kept.fields().iter().any(|f| *f < 0) {
        return Err(format!("a kept total is negative: {kept:?}"));
    }
    let mut recount = Totals::default();
    for prefix in totals::SUMMED {
        let mut after: Option<String> = None;
        loop {
            let page = w
                .store
                .inner
                .scan(prefix, after.as_deref(), 1_000)
                .map_err(|e| e.0)?;
            for e in &page {
                recount.add(&totals::contribution(&e.key, Some(&e.value)), 1);
            }
            match page.last() {
                Some(last) => after = Some(last.key.clone()),
                None => break,
            }
        }
    }
    if kept != recount {
        return Err(format!(
            "kept totals {kept:?} differ from the records' {recount:?}"
        ));
    }
    Ok(())
}

/// `None` once every withdrawal is final and every irreversible deposit is settled;
/// else what is still open.
pub fn settled(w: &World) -> Result<Option<String>, String> {
    let wds: Vec<(String, WithdrawalRec)> = all(w, "wd/")?;
    if let Some((_, x)) = wds.iter().find(|(_, x)| !x.state.is_final()) {
        return Ok(Some(format!("withdrawal {} is still {:?}", x.id, x.state)));
    }
    let chain = chain_view(w);
    let cursor: Option<Cursor> = all::<Cursor>(w, records::CURSOR)?
        .into_iter()
        .find(|(k, _)| k == records::CURSOR)
        .map(|(_, c)| c);
    let through = cursor.map_or(0, |c| c.through_block);
    if let Some((id, _)) = chain
        .incoming
        .iter()
        .find(|(_, (b, _))| *b <= chain.lib && *b > through)
    {
        return Ok(Some(format!(
            "deposit {id} is irreversible but not yet scanned (scanned through block {through})"
        )));
    }
    Ok(None)
}

/// (deposits credited, withdrawals confirmed, withdrawals refunded after a failure).
pub fn totals(w: &World) -> (u64, u64, u64) {
    let deps: Vec<(String, DepositRec)> = all(w, "dep/").unwrap_or_default();
    let wds: Vec<(String, WithdrawalRec)> = all(w, "wd/").unwrap_or_default();
    let count = |s: WdState| wds.iter().filter(|(_, x)| x.state == s).count() as u64;
    (
        deps.len() as u64,
        count(WdState::Confirmed),
        count(WdState::Failed),
    )
}
