//! Game-driven balance changes. Every change is one commit together with the record that
//! explains it; a balance never goes negative; one idempotency key, one effect.

use crate::events::Event;
use crate::gateway::{check_user, Gateway};
use crate::gateway_error::{GatewayError, GwResult};
use crate::records::{self, transact, AdjustRec, Step, UserRec};
use crate::views::BalanceChange;

pub const MAX_REASON_BYTES: usize = 200;
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 200;

pub fn check_idempotency_key(key: &str) -> GwResult<()> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(GatewayError::invalid(
            "idempotency-key",
            "must be 1..=200 bytes",
        ));
    }
    Ok(())
}

/// `balance + delta`, refusing to go below zero or past u64.
pub fn apply_delta(balance: u64, delta: i64) -> GwResult<u64> {
    if delta >= 0 {
        balance
            .checked_add(delta as u64)
            .ok_or(GatewayError::Overflow)
    } else {
        balance
            .checked_sub(delta.unsigned_abs())
            .ok_or(GatewayError::InsufficientBalance(balance))
    }
}

impl Gateway {
    pub fn adjust_balance(
        &mut self,
        user: &str,
        delta: i64,
        idempotency_key: &str,
        reason: &str,
    ) -> GwResult<BalanceChange> {
        self.active()?;
        check_user(user)?;
        check_idempotency_key(idempotency_key)?;
        if delta == 0 {
            return Err(GatewayError::invalid("delta", "must not be zero"));
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(GatewayError::invalid("reason", "at most 200 bytes"));
        }
        let now = self.now();
        let change = transact(&mut self.ports, |t| {
            let akey = records::adj_key(idempotency_key);
            if let Some(prev) = t.get::<AdjustRec>(&akey)? {
                if prev.user != user
                    || prev.delta != delta
                    || prev.reason != reason
                    || prev.idempotency_key != idempotency_key
                {
                    return Err(GatewayError::IdempotencyConflict);
                }
                let first = BalanceChange {
                    balance: prev.balance_after,
                    frozen: prev.frozen_after,
                    replayed: true,
                };
                return Ok(Step::Done(first));
            }
            let ukey = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            u.balance = apply_delta(u.balance, delta)?;
            t.put(&ukey, &u);
            t.put(
                &akey,
                &AdjustRec {
                    user: user.into(),
                    idempotency_key: idempotency_key.into(),
                    delta,
                    reason: reason.into(),
                    balance_after: u.balance,
                    frozen_after: u.frozen,
                    at_ms: now,
                },
            );
            t.emit(Event::BalanceAdjusted {
                user: user.into(),
                delta,
                balance: u.balance,
                idempotency_key: idempotency_key.into(),
                reason: reason.into(),
            });
            Ok(Step::Commit(BalanceChange {
                balance: u.balance,
                frozen: u.frozen,
                replayed: false,
            }))
        })?;
        Ok(change)
    }
}

impl Gateway {
    /// A user's statement: every change of their balance and frozen units, newest first
    /// (see `records::journal`), before the line `start_before`, at most `limit`.
    pub fn statement(
        &mut self,
        user: &str,
        start_before: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<crate::records::journal::Movement>> {
        self.active()?;
        check_user(user)?;
        crate::gateway::check_limit(limit)?;
        self.sequence_before_reading()?;
        crate::records::journal::statement(self.ports.store.as_mut(), user, start_before, limit)
    }

    /// Every user's movements from `since_ms` to before `before_ms`, in time order,
    /// after the line `start_after`, at most `limit` (a day's movements, for the books).
    pub fn list_movements(
        &mut self,
        since_ms: u64,
        before_ms: u64,
        start_after: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<crate::records::journal::Movement>> {
        self.active()?;
        crate::gateway::check_limit(limit)?;
        if before_ms <= since_ms {
            return Err(GatewayError::invalid("before-ms", "must be after since-ms"));
        }
        self.sequence_before_reading()?;
        crate::records::journal::between(self.ports.store.as_mut(), since_ms, before_ms, start_after, limit)
    }
}
