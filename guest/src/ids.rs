//! What a user id may be: the checks the calls make on the ids they are given. At the
//! bottom, so the concept modules check ids without reaching up to the façade.

use crate::gateway_error::{GatewayError, GwResult};

/// The gateway's own users live under this prefix (and the configured referral pool,
/// whatever its id): they hold the gateway's funds, so no player may be one.
pub const SYSTEM_PREFIX: &str = "gateway.";

/// Valid game user ids: 1..=64 of `A-Z a-z 0-9 _ - . : @` (no `/`: they are store keys).
pub fn check_user(user: &str) -> GwResult<()> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(GatewayError::BadUserId)
    }
}

/// One of the gateway's own users: the referral pool (`pool_user`) or an id under
/// [`SYSTEM_PREFIX`].
pub fn is_system_user(user: &str, pool_user: &str) -> bool {
    user == pool_user || user.starts_with(SYSTEM_PREFIX)
}

/// A valid id that may act as a player (link a chain account, withdraw, move units, be
/// referred): not one of the gateway's own users. A player given the pool's id could
/// otherwise link it and withdraw the pool.
pub fn check_player(user: &str, pool_user: &str) -> GwResult<()> {
    check_user(user)?;
    if is_system_user(user, pool_user) {
        return Err(GatewayError::ReservedUser);
    }
    Ok(())
}

/// Who carries out an operator action, as the audit trail names them: 1..=64 visible
/// ASCII characters (the host passes the token's name).
pub fn check_actor(actor: &str) -> GwResult<()> {
    if (1..=64).contains(&actor.len()) && actor.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(GatewayError::invalid("actor", "1..=64 visible ASCII characters"))
    }
}
