//! The cabinet's session token: the game server says which of its users the browser
//! acts for. The game signs it with a secret it shares with the gateway host; the
//! browser only carries it. Format (see `docs/cabinet.md`):
//!
//! ```text
//! cwdc1:<expires>:<mac>:<user>
//! mac = hex(HMAC-SHA256(secret, "cwdc1:<expires>:<user>"))
//! ```
//!
//! `expires` is a decimal Unix time in seconds, `mac` 64 lowercase hex digits, `user`
//! the game's user id (last, so it may contain `:`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const VERSION: &str = "cwdc1";
/// Shortest secret accepted (bytes).
pub const MIN_SECRET_LEN: usize = 32;
/// Longest token read: the version, a u64, the MAC and a 64-character user id fit.
const MAX_TOKEN_LEN: usize = 200;

/// Whom a valid token names, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub expires_at_secs: u64,
}

/// Why a token was refused. None of them repeats the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    Missing,
    Malformed,
    BadSignature,
    Expired,
    /// Valid, but it runs further ahead than the cabinet allows (a token that lives for
    /// months is a credential nobody can take back).
    TooLong,
}

impl SessionError {
    pub fn code(self) -> &'static str {
        match self {
            SessionError::Missing => "session-missing",
            SessionError::Malformed => "session-malformed",
            SessionError::BadSignature => "session-forged",
            SessionError::Expired => "session-expired",
            SessionError::TooLong => "session-too-long",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            SessionError::Missing => "no session: open the cabinet from the game, which adds your session to the link",
            SessionError::Malformed => "the session token is not in the cabinet's format; open the cabinet again from the game",
            SessionError::BadSignature => "the session token was not signed by this game; open the cabinet again from the game",
            SessionError::Expired => "your session expired; open the cabinet again from the game",
            SessionError::TooLong => "the session lasts longer than this cabinet allows; open the cabinet again from the game",
        }
    }
}

fn mac(secret: &[u8], expires_at_secs: u64, user: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(format!("{VERSION}:{expires_at_secs}:{user}").as_bytes());
    m
}

/// A token for `user` valid until `expires_at_secs` (what a game server does).
pub fn mint(secret: &[u8], user: &str, expires_at_secs: u64) -> String {
    let tag = hex::encode(mac(secret, expires_at_secs, user).finalize().into_bytes());
    format!("{VERSION}:{expires_at_secs}:{tag}:{user}")
}

/// Checks a token's form, signature (in constant time) and expiry at `now_secs`.
pub fn verify(secret: &[u8], token: &str, now_secs: u64) -> Result<Session, SessionError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(SessionError::Missing);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(SessionError::Malformed);
    }
    let mut parts = token.splitn(4, ':');
    let (Some(VERSION), Some(expires), Some(tag), Some(user)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SessionError::Malformed);
    };
    let canonical = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let expires_at_secs = canonical(expires).then(|| expires.parse::<u64>().ok()).flatten().ok_or(SessionError::Malformed)?;
    let lower_hex = tag.len() == 64 && tag.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let tag = lower_hex.then(|| hex::decode(tag).ok()).flatten().ok_or(SessionError::Malformed)?;
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(SessionError::Malformed);
    }
    mac(secret, expires_at_secs, user).verify_slice(&tag).map_err(|_| SessionError::BadSignature)?;
    if now_secs >= expires_at_secs {
        return Err(SessionError::Expired);
    }
    Ok(Session { user: user.to_string(), expires_at_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cabinet-test-secret-0123456789abcdef";

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let t = mint(SECRET, "player:42", 1_000);
        assert!(t.starts_with("cwdc1:1000:") && t.ends_with(":player:42"), "{t}");
        assert_eq!(verify(SECRET, &t, 999), Ok(Session { user: "player:42".into(), expires_at_secs: 1_000 }));
        assert_eq!(verify(SECRET, &t, 1_000), Err(SessionError::Expired));
    }

    #[test]
    fn forged_and_malformed_tokens_are_refused() {
        let t = mint(SECRET, "alice", 1_000);
        assert_eq!(verify(b"another-secret-another-secret-0123", &t, 0), Err(SessionError::BadSignature));
        // Another user or a later expiry under the same MAC.
        assert_eq!(verify(SECRET, &t.replace(":alice", ":bob"), 0), Err(SessionError::BadSignature));
        assert_eq!(verify(SECRET, &t.replace(":1000:", ":9000:"), 0), Err(SessionError::BadSignature));
        // A non-canonical expiry would let one MAC stand for several texts.
        assert_eq!(verify(SECRET, &t.replace(":1000:", ":01000:"), 0), Err(SessionError::Malformed));
        assert_eq!(verify(SECRET, &t.to_uppercase(), 0), Err(SessionError::Malformed));
        assert_eq!(verify(SECRET, "", 0), Err(SessionError::Missing));
        for bad in ["cwdc1:1000", "cwdc2:1000:00:alice", "cwdc1:x:00:alice", "cwdc1:1000:zz:alice", "cwdc1:1000:00:"] {
            assert_eq!(verify(SECRET, bad, 0), Err(SessionError::Malformed), "{bad}");
        }
        let long = mint(SECRET, &"a".repeat(300), 1_000);
        assert_eq!(verify(SECRET, &long, 0), Err(SessionError::Malformed));
    }

    #[test]
    fn the_documented_example_holds() {
        // docs/cabinet.md shows this token; a game's own implementation can check
        // itself against it.
        let t = mint(b"0123456789abcdef0123456789abcdef", "alice", 1_900_000_000);
        assert_eq!(t, include_str!("../../../docs/cabinet-token-example.txt").trim());
    }
}
