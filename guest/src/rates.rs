//! Exact conversion between CWD units (1e-5 CWD) and game minor units.
//!
//! Integers only, u128 intermediates, every result checked to fit. Rounding is always in
//! the operator's favour, so the gateway can never pay out more than it took in:
//! - deposit: game units credited = floor(cwd × game / per_cwd);
//! - withdrawal of `g` game units: CWD paid = floor(g × per_cwd / game), all `g` spent;
//! - withdrawal of `c` CWD units: game units needed = ceil(c × game / per_cwd).

use crate::config::Rate;
use crate::gateway_error::{GatewayError, GwResult};
use crate::ops::MAX_SHARE_SUPPLY;

fn fit(v: u128) -> GwResult<u64> {
    u64::try_from(v).map_err(|_| GatewayError::Overflow)
}

/// Game units a deposit of `cwd` credits (rounded down).
pub fn deposit_game(rate: Rate, cwd: u64) -> GwResult<u64> {
    fit(cwd as u128 * rate.game_units as u128 / rate.per_cwd_units as u128)
}

/// CWD paid for spending `game` game units (rounded down).
pub fn withdrawal_cwd_for_game(rate: Rate, game: u64) -> GwResult<u64> {
    let cwd = fit(game as u128 * rate.per_cwd_units as u128 / rate.game_units as u128)?;
    chain_amount(cwd)
}

/// Game units needed to be paid `cwd` (rounded up).
pub fn withdrawal_game_for_cwd(rate: Rate, cwd: u64) -> GwResult<u64> {
    chain_amount(cwd)?;
    fit((cwd as u128 * rate.game_units as u128).div_ceil(rate.per_cwd_units as u128))
}

/// The largest withdrawal fee a configuration may set (10,000 CWD): with it, no sum of a
/// payout and its fee can leave the chain's range unnoticed.
pub const MAX_FEE_CWD: u64 = 1_000_000_000;

/// A CWD amount the chain can carry.
pub fn chain_amount(cwd: u64) -> GwResult<u64> {
    if cwd > MAX_SHARE_SUPPLY as u64 {
        return Err(GatewayError::Overflow);
    }
    Ok(cwd)
}

/// `(game spent, cwd paid)` for a withdrawal request that also pays the operator's
/// withdrawal fee of `fee_cwd`: the game units spent buy the payout plus the fee, at
/// the rate, rounded as without a fee (for the operator). Spending `game(g)` pays
/// `floor(g at the rate) - fee`; being paid `cwd(c)` spends `ceil((c + fee) at the rate)`.
pub fn withdrawal(rate: Rate, amount: WithdrawalAmount, fee_cwd: u64) -> GwResult<(u64, u64)> {
    let (game, cwd) = match amount {
        WithdrawalAmount::Game(g) => {
            let bought = withdrawal_cwd_for_game(rate, g)?;
            (g, bought.checked_sub(fee_cwd).ok_or(GatewayError::AmountTooSmall)?)
        }
        WithdrawalAmount::Cwd(c) => {
            let with_fee = c.checked_add(fee_cwd).ok_or(GatewayError::Overflow)?;
            (withdrawal_game_for_cwd(rate, with_fee)?, chain_amount(c)?)
        }
    };
    if cwd == 0 || game == 0 {
        return Err(GatewayError::AmountTooSmall);
    }
    Ok((game, cwd))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawalAmount {
    Game(u64),
    Cwd(u64),
}

impl WithdrawalAmount {
    pub fn describe(self) -> String {
        match self {
            WithdrawalAmount::Game(g) => format!("game:{g}"),
            WithdrawalAmount::Cwd(c) => format!("cwd:{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R90: Rate = Rate { game_units: 90, per_cwd_units: 100_000 };
    const R100: Rate = Rate { game_units: 100, per_cwd_units: 100_000 };

    #[test]
    fn a_withdrawal_fee_is_bought_with_the_payout() {
        // 1 CWD = 100 game units; a fee of 0.2 CWD.
        assert_eq!(withdrawal(R100, WithdrawalAmount::Cwd(100_000), 20_000).unwrap(), (120, 100_000));
        assert_eq!(withdrawal(R100, WithdrawalAmount::Game(120), 20_000).unwrap(), (120, 100_000));
        assert_eq!(withdrawal(R100, WithdrawalAmount::Game(20), 20_000), Err(GatewayError::AmountTooSmall));
        assert_eq!(withdrawal(R100, WithdrawalAmount::Game(19), 20_000), Err(GatewayError::AmountTooSmall));
        assert_eq!(withdrawal(R100, WithdrawalAmount::Cwd(u64::MAX), 1), Err(GatewayError::Overflow));
        // No fee: as before.
        assert_eq!(withdrawal(R100, WithdrawalAmount::Cwd(1_500), 0).unwrap(), (2, 1_500));
    }

    #[test]
    fn rounding_favours_the_operator() {
        assert_eq!(deposit_game(R90, 100_000).unwrap(), 90);
        assert_eq!(deposit_game(R90, 1_111).unwrap(), 0); // 0.999 units: floor
        assert_eq!(deposit_game(R90, 2_000).unwrap(), 1); // 1.8: floor
        assert_eq!(withdrawal_cwd_for_game(R100, 1).unwrap(), 1_000);
        let r3 = Rate { game_units: 3, per_cwd_units: 1 };
        assert_eq!(withdrawal_cwd_for_game(r3, 5).unwrap(), 1); // 1.67 CWD units: floor
        assert_eq!(withdrawal_game_for_cwd(r3, 1).unwrap(), 3);
        let r7 = Rate { game_units: 7, per_cwd_units: 3 };
        assert_eq!(withdrawal_game_for_cwd(r7, 1).unwrap(), 3); // 2.33: ceil
        assert_eq!(withdrawal(r7, WithdrawalAmount::Game(2), 0), Err(GatewayError::AmountTooSmall));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let big = Rate { game_units: u64::MAX, per_cwd_units: 1 };
        assert_eq!(deposit_game(big, 2), Err(GatewayError::Overflow));
        assert_eq!(withdrawal_game_for_cwd(big, 2), Err(GatewayError::Overflow));
        let tiny = Rate { game_units: 1, per_cwd_units: u64::MAX };
        assert_eq!(withdrawal_cwd_for_game(tiny, u64::MAX), Err(GatewayError::Overflow));
        assert_eq!(deposit_game(R90, u64::MAX).unwrap(), (u64::MAX as u128 * 90 / 100_000) as u64);
    }
}
