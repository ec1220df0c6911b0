//! The affiliate programme: a user registers once with a referrer (no self-referral, no
//! cycles); when the game earns a fee from a user, `reward-referrers` pays each
//! configured level's referrer up the chain and the user's cashback from the operator's
//! pool (a ledger user funded with `adjust-balance`), in ONE commit. Nothing is created:
//! the pool pays exactly what the users receive.
//!
//! Rounding: each share is `floor(base * per_mille / 1000)`, computed in u128; what is
//! not paid (a level without a referrer, remainders) stays in the pool.
//!
//! Keys: `ref/<user>` who referred the user; `refby/<referrer>/<user>` the referrer's
//! listing; `refsum/<user>` referrals count and earnings by level ([`RefSum`]);
//! `rwd/<sha256(key)>` a reward by idempotency key ([`RewardRec`]).
//!
//! Race-free without locks: setting a referrer reads every record up the chain, so two
//! concurrent calls that would close a cycle cannot both commit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::events::Event;
use crate::gateway::{check_limit, check_user, Gateway};
use crate::gateway_error::{GatewayError, GwResult};
use crate::ledger::check_idempotency_key;
use crate::records::{self, transact, Step, Txn, UserRec};
use crate::views::{ReferralEarningsView, ReferralView, RewardShareView, RewardView};

/// A chain longer than this is not followed (it cannot occur: every chain ends).
const MAX_CHAIN: usize = 100_000;

pub fn ref_key(user: &str) -> String {
    format!("ref/{user}")
}
pub fn refby_key(referrer: &str, user: &str) -> String {
    format!("refby/{referrer}/{user}")
}
pub fn refsum_key(user: &str) -> String {
    format!("refsum/{user}")
}
pub fn rwd_key(idempotency_key: &str) -> String {
    format!(
        "rwd/{}",
        hex::encode(Sha256::digest(idempotency_key.as_bytes()))
    )
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRec {
    pub user: String,
    pub referrer: String,
    pub since_ms: u64,
}

impl RefRec {
    pub fn view(&self) -> ReferralView {
        ReferralView {
            user: self.user.clone(),
            referrer: self.referrer.clone(),
            since_ms: self.since_ms,
        }
    }
}

/// A user's referral totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefSum {
    pub referrals: u32,
    /// Earned per level (index 0 = level 1).
    pub by_level: Vec<u64>,
    pub cashback: u64,
}

/// One referrer's share of a reward (kept in the reward record and its event).
pub type ShareRec = crate::events::RewardedShare;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRec {
    pub idempotency_key: String,
    pub user: String,
    pub pool_user: String,
    pub base: u64,
    pub shares: Vec<ShareRec>,
    pub cashback: u64,
    pub paid: u64,
    pub pool_balance: u64,
    pub at_ms: u64,
}

impl RewardRec {
    pub fn view(&self, replayed: bool) -> RewardView {
        RewardView {
            user: self.user.clone(),
            base_amount: self.base,
            shares: self
                .shares
                .iter()
                .map(|s| RewardShareView {
                    level: s.level,
                    user: s.user.clone(),
                    amount: s.amount,
                })
                .collect(),
            cashback: self.cashback,
            paid: self.paid,
            pool_balance: self.pool_balance,
            at_ms: self.at_ms,
            replayed,
        }
    }
}

/// `floor(base * per_mille / 1000)`; never more than `base` for rates up to 1000.
pub fn share(base: u64, per_mille: u32) -> u64 {
    (base as u128 * per_mille as u128 / 1000) as u64
}

fn add_earning(t: &mut Txn, user: &str, level: Option<u32>, amount: u64) -> GwResult<()> {
    let key = refsum_key(user);
    let mut s: RefSum = t.get_or_default(&key)?;
    match level {
        Some(l) => {
            let i = l as usize - 1;
            if s.by_level.len() <= i {
                s.by_level.resize(i + 1, 0);
            }
            s.by_level[i] = s.by_level[i].saturating_add(amount);
        }
        None => s.cashback = s.cashback.saturating_add(amount),
    }
    t.put(&key, &s);
    Ok(())
}

impl Gateway {
    fn pool_user(&self) -> GwResult<String> {
        Ok(self.active()?.config.referrals.pool_user.clone())
    }

    pub fn set_referrer(&mut self, user: &str, referrer: &str) -> GwResult<ReferralView> {
        self.active()?;
        check_user(user)?;
        check_user(referrer)?;
        if user == referrer {
            return Err(GatewayError::SelfReferral);
        }
        let pool = self.pool_user()?;
        if user == pool || referrer == pool {
            return Err(GatewayError::invalid(
                "referrer",
                "the referral pool takes no part in referrals",
            ));
        }
        let now = self.now();
        let rec = transact(&mut self.ports, |t| {
            if let Some(r) = t.get::<RefRec>(&ref_key(user))? {
                if r.referrer != referrer {
                    return Err(GatewayError::ReferrerAlreadySet(r.referrer));
                }
                return Ok(Step::Done(r));
            }
            // Up the referrer's chain: meeting the user would close a cycle.
            let mut cur = referrer.to_string();
            for _ in 0..MAX_CHAIN {
                match t.get::<RefRec>(&ref_key(&cur))? {
                    Some(r) if r.referrer == user => return Err(GatewayError::ReferralCycle),
                    Some(r) => cur = r.referrer,
                    None => break,
                }
            }
            let rec = RefRec {
                user: user.into(),
                referrer: referrer.into(),
                since_ms: now,
            };
            t.put(&ref_key(user), &rec);
            t.put(&refby_key(referrer, user), &rec);
            let mut s: RefSum = t.get_or_default(&refsum_key(referrer))?;
            s.referrals = s.referrals.saturating_add(1);
            t.put(&refsum_key(referrer), &s);
            t.emit(Event::ReferrerSet {
                user: user.into(),
                referrer: referrer.into(),
            });
            Ok(Step::Commit(rec))
        })?;
        Ok(rec.view())
    }

    pub fn reward_referrers(
        &mut self,
        user: &str,
        base: u64,
        idempotency_key: &str,
    ) -> GwResult<RewardView> {
        self.refresh_settings()?;

        check_user(user)?;
        check_idempotency_key(idempotency_key)?;
        if base == 0 {
            return Err(GatewayError::invalid("base-amount", "must not be zero"));
        }
        let rc = self.active()?.config.referrals.clone();
        if user == rc.pool_user {
            return Err(GatewayError::invalid(
                "user",
                "the referral pool is not rewarded",
            ));
        }
        let now = self.now();
        let key = rwd_key(idempotency_key);
        let (rec, fresh) = transact(&mut self.ports, |t| {
            if let Some(prev) = t.get::<RewardRec>(&key)? {
                if prev.user != user || prev.base != base || prev.idempotency_key != idempotency_key
                {
                    return Err(GatewayError::IdempotencyConflict);
                }
                return Ok(Step::Done((prev, false)));
            }
            // Who gets what: the chain upwards, one configured level per step.
            let mut shares = Vec::new();
            let mut cur = user.to_string();
            for (i, &rate) in rc.level_rates_per_mille.iter().enumerate() {
                let Some(r) = t.get::<RefRec>(&ref_key(&cur))? else {
                    break;
                };
                if r.referrer == rc.pool_user {
                    break; // a pool named after the referral was set: its share stays in it
                }
                let amount = share(base, rate);
                if amount > 0 {
                    shares.push(ShareRec {
                        level: i as u32 + 1,
                        user: r.referrer.clone(),
                        amount,
                    });
                }
                cur = r.referrer;
            }
            let cashback = share(base, rc.cashback_per_mille);
            // The rates sum to at most 1000 per mille, so this is at most `base`.
            let paid = shares.iter().map(|s| s.amount).sum::<u64>() + cashback;
            // The pool pays everything; recipients are distinct users other than the
            // pool (chains have no cycles and the pool takes no part), so each record is
            // read and written once.
            let pkey = records::user_key(&rc.pool_user);
            let mut pool: UserRec = t.get_or_default(&pkey)?;
            pool.balance = pool
                .balance
                .checked_sub(paid)
                .ok_or(GatewayError::PoolInsufficient(pool.balance))?;
            t.put(&pkey, &pool);
            let credit = |t: &mut Txn, to: &str, amount: u64| -> GwResult<()> {
                let k = records::user_key(to);
                let mut u: UserRec = t.get_or_default(&k)?;
                u.balance = u
                    .balance
                    .checked_add(amount)
                    .ok_or(GatewayError::Overflow)?;
                t.put(&k, &u);
                Ok(())
            };
            for s in &shares {
                credit(t, &s.user, s.amount)?;
                add_earning(t, &s.user, Some(s.level), s.amount)?;
            }
            if cashback > 0 {
                credit(t, user, cashback)?;
                add_earning(t, user, None, cashback)?;
            }
            let rec = RewardRec {
                idempotency_key: idempotency_key.into(),
                user: user.into(),
                pool_user: rc.pool_user.clone(),
                base,
                shares,
                cashback,
                paid,
                pool_balance: pool.balance,
                at_ms: now,
            };
            t.put(&key, &rec);
            t.emit(Event::ReferrersRewarded {
                user: user.into(),
                base_amount: base,
                to_referrers: rec.paid - rec.cashback,
                cashback: rec.cashback,
                pool_balance: rec.pool_balance,
                idempotency_key: rec.idempotency_key.clone(),
                pool_user: rec.pool_user.clone(),
                shares: rec.shares.clone(),
            });
            Ok(Step::Commit((rec, true)))
        })?;
        Ok(rec.view(!fresh))
    }

    pub fn list_referrals(
        &mut self,
        referrer: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<ReferralView>> {
        self.active()?;
        check_user(referrer)?;
        check_limit(limit)?;
        let after = start_after.map(|u| refby_key(referrer, u));
        let mut page = records::scan_all(
            self.ports.store.as_mut(),
            &format!("refby/{referrer}/"),
            after,
            limit as usize,
        )?;
        page.truncate(limit as usize);
        page.iter()
            .map(|e| records::decode::<RefRec>(&e.key, &e.value).map(|r| r.view()))
            .collect()
    }

    pub fn referral_earnings(&mut self, user: &str) -> GwResult<ReferralEarningsView> {
        self.active()?;
        check_user(user)?;
        let store = self.ports.store.as_mut();
        let referrer = records::peek::<RefRec>(store, &ref_key(user))?.map(|r| r.referrer);
        let s: RefSum = records::peek(store, &refsum_key(user))?.unwrap_or_default();
        Ok(ReferralEarningsView {
            user: user.into(),
            referrer,
            referrals: s.referrals,
            by_level: s.by_level,
            cashback: s.cashback,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_round_down_in_u128() {
        assert_eq!(share(999, 100), 99);
        assert_eq!(share(1, 999), 0);
        assert_eq!(share(u64::MAX, 1000), u64::MAX);
        assert_eq!(share(u64::MAX, 500), u64::MAX / 2);
    }
}
