//! Internal transfers between two users of the game: both balances and the record move
//! in ONE commit (guarded by the versions of both user records), a balance never goes
//! negative, and one idempotency key has one effect.
//!
//! Keys: `xfer/<sha256(key)>` the transfer by idempotency key; `xferu/<user>/<id>` the
//! same record, once under each user, for their listing (ids sort by time).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::events::Event;
use crate::gateway::{check_limit, check_user, Gateway};
use crate::gateway_error::{GatewayError, GwResult};
use crate::ledger::{check_idempotency_key, MAX_REASON_BYTES};
use crate::records::{self, transact, Order, Step, UserRec};
use crate::views::InternalTransferView;

pub fn xfer_key(idempotency_key: &str) -> String {
    format!(
        "xfer/{}",
        hex::encode(Sha256::digest(idempotency_key.as_bytes()))
    )
}

pub fn xfer_user_key(user: &str, transfer_id: &str) -> String {
    format!("xferu/{user}/{transfer_id}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRec {
    pub id: String,
    pub idempotency_key: String,
    pub from_user: String,
    pub to_user: String,
    pub amount: u64,
    pub memo: String,
    pub at_ms: u64,
    pub from_balance: u64,
    pub to_balance: u64,
}

impl TransferRec {
    pub fn view(&self, replayed: bool) -> InternalTransferView {
        InternalTransferView {
            transfer_id: self.id.clone(),
            from_user: self.from_user.clone(),
            to_user: self.to_user.clone(),
            amount: self.amount,
            memo: self.memo.clone(),
            at_ms: self.at_ms,
            from_balance: self.from_balance,
            to_balance: self.to_balance,
            replayed,
        }
    }
}

/// Moves `amount` from `from` to `to` inside a transaction: the one balance rule shared
/// by transfers and referral rewards. Answers both balances after it.
pub(crate) fn move_balance(
    t: &mut records::Txn,
    from: &str,
    to: &str,
    amount: u64,
) -> GwResult<(u64, u64)> {
    let (fkey, tkey) = (records::user_key(from), records::user_key(to));
    let mut f: UserRec = t.get_or_default(&fkey)?;
    let mut r: UserRec = t.get_or_default(&tkey)?;
    f.balance = f
        .balance
        .checked_sub(amount)
        .ok_or(GatewayError::InsufficientBalance(f.balance))?;
    r.balance = r
        .balance
        .checked_add(amount)
        .ok_or(GatewayError::Overflow)?;
    t.put(&fkey, &f);
    t.put(&tkey, &r);
    Ok((f.balance, r.balance))
}

impl Gateway {
    pub fn transfer_internal(
        &mut self,
        from: &str,
        to: &str,
        amount: u64,
        idempotency_key: &str,
        memo: &str,
    ) -> GwResult<InternalTransferView> {
        self.check_player(from)?;
        self.check_player(to)?;
        check_idempotency_key(idempotency_key)?;
        if from == to {
            return Err(GatewayError::invalid(
                "to-user",
                "must differ from from-user",
            ));
        }
        if amount == 0 {
            return Err(GatewayError::invalid("amount", "must not be zero"));
        }
        if memo.len() > MAX_REASON_BYTES {
            return Err(GatewayError::invalid("memo", "at most 200 bytes"));
        }
        let now = self.now();
        let key = xfer_key(idempotency_key);
        // Time first (listings sort by it), then the key's hash: unique per key.
        let id = format!("{now:013}-{}", &key["xfer/".len().."xfer/".len() + 16]);
        let (rec, fresh) = transact(&mut self.ports, |t| {
            if let Some(prev) = t.get::<TransferRec>(&key)? {
                if prev.from_user != from
                    || prev.to_user != to
                    || prev.amount != amount
                    || prev.memo != memo
                    || prev.idempotency_key != idempotency_key
                {
                    return Err(GatewayError::IdempotencyConflict);
                }
                return Ok(Step::Done((prev, false)));
            }
            let (from_balance, to_balance) = move_balance(t, from, to, amount)?;
            let rec = TransferRec {
                id: id.clone(),
                idempotency_key: idempotency_key.into(),
                from_user: from.into(),
                to_user: to.into(),
                amount,
                memo: memo.into(),
                at_ms: now,
                from_balance,
                to_balance,
            };
            t.put(&key, &rec);
            t.put(&xfer_user_key(from, &id), &rec);
            t.put(&xfer_user_key(to, &id), &rec);
            t.emit(Event::InternalTransfer {
                transfer_id: rec.id.clone(),
                from_user: rec.from_user.clone(),
                to_user: rec.to_user.clone(),
                amount,
                from_balance: rec.from_balance,
                to_balance: rec.to_balance,
            });
            Ok(Step::Commit((rec, true)))
        })?;
        Ok(rec.view(!fresh))
    }

    pub fn list_transfers(
        &mut self,
        user: &str,
        order: Order,
        cursor: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<InternalTransferView>> {
        self.active()?;
        check_user(user)?;
        check_limit(limit)?;
        let prefix = format!("xferu/{user}/");
        records::page_matching(
            self.ports.store.as_mut(),
            &prefix,
            order,
            cursor,
            limit as usize,
            |_, e| records::decode::<TransferRec>(&e.key, &e.value).map(|r| Some(r.view(false))),
        )
    }
}
