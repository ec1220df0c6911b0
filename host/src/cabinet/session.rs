//! The cabinet's session token: the game server says which of its users the browser
//! acts for. The game signs it with a secret it shares with the gateway host; the
//! browser only carries it. Format (see `docs/cabinet.md`):
//!
//! ```text
//! cwdc2:<issued>:<expires>:<mac>:<user>
//! mac = hex(HMAC-SHA256(secret, "cwdc2:<issued>:<expires>:<user>"))
//! ```
//!
//! `issued` and `expires` are decimal Unix times in seconds, `mac` 64 lowercase hex
//! digits, `user` the game's user id (last, so it may contain `:`). The issue time is
//! what lets a game revoke a player's sessions (all those issued until now) and mint new
//! ones at once. The first format, `cwdc1:<expires>:<mac>:<user>` (MAC over
//! `cwdc1:<expires>:<user>`), is still accepted; see [`Session::issued_at_most`].

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const VERSION: &str = "cwdc2";
/// The first format, without an issue time.
pub const VERSION_1: &str = "cwdc1";
/// How far ahead of this host's clock a token's issue time may be (the game's clock).
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// Shortest secret accepted (bytes).
pub const MIN_SECRET_LEN: usize = 32;
/// Longest token read: the version, a u64, the MAC and a 64-character user id fit.
const MAX_TOKEN_LEN: usize = 200;

/// Whom a valid token names, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub expires_at_secs: u64,
    /// When the game signed it (`cwdc2`); unknown for `cwdc1`.
    pub issued_at_secs: Option<u64>,
    /// SHA-256 of the token: how a signed-out token is recognised (never the token).
    pub digest: [u8; 32],
}

impl Session {
    /// The latest the token can have been issued, for a cabinet refusing sessions longer
    /// than `max_session_secs`: its issue time, or for `cwdc1` its expiry less that.
    pub fn issued_at_most(&self, max_session_secs: u64) -> u64 {
        self.issued_at_secs.unwrap_or(self.expires_at_secs.saturating_sub(max_session_secs))
    }
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
    /// Signed out, or revoked by the game.
    Revoked,
    /// The revocation list could not be read: refused rather than unchecked.
    Unchecked,
}

impl SessionError {
    pub fn code(self) -> &'static str {
        match self {
            SessionError::Missing => "session-missing",
            SessionError::Malformed => "session-malformed",
            SessionError::BadSignature => "session-forged",
            SessionError::Expired => "session-expired",
            SessionError::TooLong => "session-too-long",
            SessionError::Revoked => "session-revoked",
            SessionError::Unchecked => "session-unchecked",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            SessionError::Missing => "no session: open the cabinet from the game, which adds your session to the link",
            SessionError::Malformed => "the session token is not in the cabinet's format; open the cabinet again from the game",
            SessionError::BadSignature => "the session token was not signed by this game; open the cabinet again from the game",
            SessionError::Expired => "your session expired; open the cabinet again from the game",
            SessionError::TooLong => "the session lasts longer than this cabinet allows; open the cabinet again from the game",
            SessionError::Revoked => "this session was ended; open the cabinet again from the game",
            SessionError::Unchecked => "the cabinet cannot check your session right now; try again in a moment",
        }
    }
}

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(signed.as_bytes());
    m
}

/// A token for `user` issued at `issued_at_secs`, valid until `expires_at_secs` (what a
/// game server does).
pub fn mint_at(secret: &[u8], user: &str, issued_at_secs: u64, expires_at_secs: u64) -> String {
    let tag = hex::encode(mac(secret, &format!("{VERSION}:{issued_at_secs}:{expires_at_secs}:{user}")).finalize().into_bytes());
    format!("{VERSION}:{issued_at_secs}:{expires_at_secs}:{tag}:{user}")
}

/// [`mint_at`] issued now, by this machine's clock.
pub fn mint(secret: &[u8], user: &str, expires_at_secs: u64) -> String {
    mint_at(secret, user, super::now_secs(), expires_at_secs)
}

/// A token in the first format (no issue time), as games written for it still mint.
pub fn mint_v1(secret: &[u8], user: &str, expires_at_secs: u64) -> String {
    let tag = hex::encode(mac(secret, &format!("{VERSION_1}:{expires_at_secs}:{user}")).finalize().into_bytes());
    format!("{VERSION_1}:{expires_at_secs}:{tag}:{user}")
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
    let canonical = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let number = |s: &str| canonical(s).then(|| s.parse::<u64>().ok()).flatten().ok_or(SessionError::Malformed);
    let (version, rest) = token.split_once(':').ok_or(SessionError::Malformed)?;
    let (issued_at_secs, rest) = match version {
        VERSION => {
            let (issued, rest) = rest.split_once(':').ok_or(SessionError::Malformed)?;
            (Some(number(issued)?), rest)
        }
        VERSION_1 => (None, rest),
        _ => return Err(SessionError::Malformed),
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(expires), Some(tag), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SessionError::Malformed);
    };
    let expires_at_secs = number(expires)?;
    let lower_hex = tag.len() == 64 && tag.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let tag = lower_hex.then(|| hex::decode(tag).ok()).flatten().ok_or(SessionError::Malformed)?;
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(SessionError::Malformed);
    }
    let signed = match issued_at_secs {
        Some(issued) => format!("{VERSION}:{issued}:{expires_at_secs}:{user}"),
        None => format!("{VERSION_1}:{expires_at_secs}:{user}"),
    };
    mac(secret, &signed).verify_slice(&tag).map_err(|_| SessionError::BadSignature)?;
    if let Some(issued) = issued_at_secs {
        if issued > expires_at_secs || issued > now_secs.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(SessionError::Malformed);
        }
    }
    if now_secs >= expires_at_secs {
        return Err(SessionError::Expired);
    }
    let digest = <Sha256 as sha2::Digest>::digest(token.as_bytes()).into();
    Ok(Session { user: user.to_string(), expires_at_secs, issued_at_secs, digest })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cabinet-test-secret-0123456789abcdef";

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let t = mint_at(SECRET, "player:42", 900, 1_000);
        assert!(t.starts_with("cwdc2:900:1000:") && t.ends_with(":player:42"), "{t}");
        let s = verify(SECRET, &t, 999).unwrap();
        assert_eq!((s.user.as_str(), s.expires_at_secs, s.issued_at_secs), ("player:42", 1_000, Some(900)));
        assert_eq!(verify(SECRET, &t, 1_000), Err(SessionError::Expired));
        // The first format: no issue time.
        let v1 = mint_v1(SECRET, "player:42", 1_000);
        assert!(v1.starts_with("cwdc1:1000:"), "{v1}");
        let s1 = verify(SECRET, &v1, 999).unwrap();
        assert_eq!((s1.issued_at_secs, s1.issued_at_most(300)), (None, 700));
        assert_ne!(s.digest, s1.digest);
    }

    #[test]
    fn an_issue_time_after_the_expiry_or_far_ahead_is_refused() {
        assert_eq!(verify(SECRET, &mint_at(SECRET, "a", 1_001, 1_000), 0), Err(SessionError::Malformed));
        let ahead = mint_at(SECRET, "a", 10_000, 20_000);
        assert_eq!(verify(SECRET, &ahead, 10_000 - MAX_CLOCK_SKEW_SECS - 1), Err(SessionError::Malformed));
        assert!(verify(SECRET, &ahead, 10_000 - MAX_CLOCK_SKEW_SECS).is_ok());
        // The version names the MAC's text: a cwdc2 MAC under cwdc1 is a forgery.
        let t = mint_at(SECRET, "a", 900, 1_000);
        let tag = t.split(':').nth(3).unwrap();
        assert_eq!(verify(SECRET, &format!("cwdc1:1000:{tag}:a"), 0), Err(SessionError::BadSignature));
    }

    #[test]
    fn forged_and_malformed_tokens_are_refused() {
        let t = mint_v1(SECRET, "alice", 1_000);
        assert_eq!(verify(b"another-secret-another-secret-0123", &t, 0), Err(SessionError::BadSignature));
        // Another user or a later expiry under the same MAC.
        assert_eq!(verify(SECRET, &t.replace(":alice", ":bob"), 0), Err(SessionError::BadSignature));
        assert_eq!(verify(SECRET, &t.replace(":1000:", ":9000:"), 0), Err(SessionError::BadSignature));
        // A non-canonical expiry would let one MAC stand for several texts.
        assert_eq!(verify(SECRET, &t.replace(":1000:", ":01000:"), 0), Err(SessionError::Malformed));
        assert_eq!(verify(SECRET, &t.to_uppercase(), 0), Err(SessionError::Malformed));
        assert_eq!(verify(SECRET, "", 0), Err(SessionError::Missing));
        for bad in ["cwdc1:1000", "cwdc3:1000:00:alice", "cwdc2:1000:00:alice", "cwdc2:01:1000:00:alice", "cwdc1:x:00:alice", "cwdc1:1000:zz:alice", "cwdc1:1000:00:"] {
            assert_eq!(verify(SECRET, bad, 0), Err(SessionError::Malformed), "{bad}");
        }
        let long = mint(SECRET, &"a".repeat(300), 1_000);
        assert_eq!(verify(SECRET, &long, 0), Err(SessionError::Malformed));
    }

    #[test]
    fn the_documented_example_holds() {
        // docs/cabinet.md shows this token; a game's own implementation can check
        // itself against it.
        let t = mint_at(b"0123456789abcdef0123456789abcdef", "alice", 1_899_996_400, 1_900_000_000);
        assert_eq!(t, include_str!("../../../docs/cabinet-token-example.txt").trim());
    }
}
