//! Rate limits and daily budgets. Days are UTC days (`now_ms / 86_400_000`); every
//! refusal says how long to wait.
//!
//! A counter's day never goes back: a host whose clock is behind another's around
//! midnight counts on the day the counter already shows, so hosts whose clocks disagree
//! cannot reset a limit by taking turns (the fastest clock decides when a day ends).

use crate::config::LinkConfig;
use crate::gateway_error::{GatewayError, GwResult, LimitScope};
use crate::records::{DayCounter, UserRec};

pub const DAY_MS: u64 = 86_400_000;

pub fn day(now_ms: u64) -> u64 {
    now_ms / DAY_MS
}

pub fn until_next_day(now_ms: u64) -> u64 {
    DAY_MS - now_ms % DAY_MS
}

/// The day a counter last counted on, or `now`'s if later.
fn counting_day(now_ms: u64, counter_day: u64) -> u64 {
    day(now_ms).max(counter_day)
}

/// Until the day after `today` begins, by `now_ms`.
fn until_after(today: u64, now_ms: u64) -> u64 {
    today.saturating_add(1).saturating_mul(DAY_MS).saturating_sub(now_ms)
}

fn limited(scope: LimitScope, retry_after_ms: u64) -> GatewayError {
    GatewayError::RateLimited { scope, retry_after_ms: retry_after_ms.max(1) }
}

/// Checks the per-user limits for a new link code and counts it in `u`.
pub fn take_user_link(u: &mut UserRec, cfg: &LinkConfig, now: u64) -> GwResult<()> {
    let next_allowed = u.link_last_ms.saturating_add(cfg.user_interval_ms);
    if u.link_last_ms != 0 && now < next_allowed {
        return Err(limited(LimitScope::User, next_allowed - now));
    }
    let today = counting_day(now, u.link_day);
    let count = if u.link_day == today { u.link_day_count } else { 0 };
    if count >= cfg.user_daily {
        return Err(limited(LimitScope::User, until_after(today, now)));
    }
    u.link_last_ms = now;
    u.link_day = today;
    u.link_day_count = count + 1;
    Ok(())
}

/// Checks a daily counter (per account or global) against `max` and counts one.
pub fn take_daily(c: &mut DayCounter, max: u32, scope: LimitScope, now: u64) -> GwResult<()> {
    let today = counting_day(now, c.day);
    if c.day != today {
        *c = DayCounter { day: today, count: 0 };
    }
    if c.count >= max {
        return Err(limited(scope, until_after(today, now)));
    }
    c.count += 1;
    Ok(())
}

/// Checks a withdrawal of `cwd` against the user's daily limits (amount and count of
/// requests, 0: none) and counts it.
pub fn take_withdrawal(u: &mut UserRec, daily_cwd: u64, daily_count: u32, cwd: u64, now: u64) -> GwResult<u64> {
    let today = counting_day(now, u.wd_day);
    let (used, made) = if u.wd_day == today { (u.wd_day_cwd, u.wd_day_count) } else { (0, 0) };
    let remaining_cwd = match daily_cwd {
        0 => u64::MAX,
        max => max.saturating_sub(used),
    };
    let requests_left = (daily_count > 0).then(|| daily_count.saturating_sub(made));
    if cwd > remaining_cwd || requests_left == Some(0) {
        return Err(GatewayError::DailyLimit { remaining_cwd, requests_left, retry_after_ms: until_after(today, now) });
    }
    u.wd_day = today;
    u.wd_day_cwd = used.saturating_add(cwd);
    u.wd_day_count = made.saturating_add(1);
    Ok(today)
}

/// Gives back a withdrawal's share of the daily limit (rejected or failed the same day).
pub fn return_withdrawal(u: &mut UserRec, day: u64, cwd: u64) {
    if u.wd_day == day {
        u.wd_day_cwd = u.wd_day_cwd.saturating_sub(cwd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two hosts a second apart around midnight, taking turns: the limit holds.
    #[test]
    fn hosts_whose_clocks_disagree_at_midnight_cannot_reset_a_limit() {
        let midnight = 20_000 * DAY_MS;
        let (ahead, behind) = (midnight + 1_000, midnight - 1_000);
        let mut u = UserRec::default();
        let mut taken = 0;
        for i in 0..10 {
            let now = if i % 2 == 0 { ahead } else { behind };
            if take_withdrawal(&mut u, 500, 0, 100, now).is_ok() {
                taken += 100;
            }
        }
        assert_eq!(taken, 500, "the daily limit, once");
        match take_withdrawal(&mut u, 500, 0, 100, behind) {
            Err(GatewayError::DailyLimit { retry_after_ms, .. }) => assert_eq!(retry_after_ms, DAY_MS + 1_000),
            other => panic!("{other:?}"),
        }
        let mut c = DayCounter::default();
        let counted = (0..10).filter(|i| take_daily(&mut c, 3, LimitScope::Global, if i % 2 == 0 { ahead } else { behind }).is_ok()).count();
        assert_eq!(counted, 3);
        // The next day by every clock: a fresh budget.
        assert!(take_withdrawal(&mut u, 500, 0, 500, midnight + DAY_MS).is_ok());
    }
}
