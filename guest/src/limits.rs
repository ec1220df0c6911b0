//! Rate limits and daily budgets. Days are UTC days (`now_ms / 86_400_000`); every
//! refusal says how long to wait.

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

fn limited(scope: LimitScope, retry_after_ms: u64) -> GatewayError {
    GatewayError::RateLimited { scope, retry_after_ms: retry_after_ms.max(1) }
}

/// Checks the per-user limits for a new link code and counts it in `u`.
pub fn take_user_link(u: &mut UserRec, cfg: &LinkConfig, now: u64) -> GwResult<()> {
    let next_allowed = u.link_last_ms.saturating_add(cfg.user_interval_ms);
    if u.link_last_ms != 0 && now < next_allowed {
        return Err(limited(LimitScope::User, next_allowed - now));
    }
    let today = day(now);
    let count = if u.link_day == today { u.link_day_count } else { 0 };
    if count >= cfg.user_daily {
        return Err(limited(LimitScope::User, until_next_day(now)));
    }
    u.link_last_ms = now;
    u.link_day = today;
    u.link_day_count = count + 1;
    Ok(())
}

/// Checks a daily counter (per account or global) against `max` and counts one.
pub fn take_daily(c: &mut DayCounter, max: u32, scope: LimitScope, now: u64) -> GwResult<()> {
    let today = day(now);
    if c.day != today {
        *c = DayCounter { day: today, count: 0 };
    }
    if c.count >= max {
        return Err(limited(scope, until_next_day(now)));
    }
    c.count += 1;
    Ok(())
}

/// Checks a withdrawal of `cwd` against the user's daily limit and counts it.
pub fn take_withdrawal(u: &mut UserRec, daily_cwd: u64, cwd: u64, now: u64) -> GwResult<u64> {
    let today = day(now);
    let used = if u.wd_day == today { u.wd_day_cwd } else { 0 };
    if daily_cwd > 0 {
        let remaining = daily_cwd.saturating_sub(used);
        if cwd > remaining {
            return Err(GatewayError::DailyLimit { remaining_cwd: remaining, retry_after_ms: until_next_day(now) });
        }
    }
    u.wd_day = today;
    u.wd_day_cwd = used.saturating_add(cwd);
    Ok(today)
}

/// Gives back a withdrawal's share of the daily limit (rejected or failed the same day).
pub fn return_withdrawal(u: &mut UserRec, day: u64, cwd: u64) {
    if u.wd_day == day {
        u.wd_day_cwd = u.wd_day_cwd.saturating_sub(cwd);
    }
}
