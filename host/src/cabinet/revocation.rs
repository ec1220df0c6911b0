//! Ended sessions. A player signs out (that token is refused until it expires), or the
//! game revokes a player's sessions (every token issued until then is refused). Kept in
//! the store, outside the component's key space, so every host on one database refuses
//! them at once; each record is deleted once no token it refuses can still be valid.

use serde::{Deserialize, Serialize};

use super::session::{Session, SessionError};
use crate::store::{Precondition, Store, StoreError, Write};

/// `host/cabinet/signed-out/<hex SHA-256 of the token>`.
const SIGNED_OUT: &str = "host/cabinet/signed-out/";
/// `host/cabinet/revoked/<user>`.
const REVOKED: &str = "host/cabinet/revoked/";

/// Expired records deleted per revocation written.
const PRUNE_BATCH: u32 = 100;

#[derive(Serialize, Deserialize)]
struct Record {
    /// When it was ended (for a user: tokens issued at or before this are refused).
    at_secs: u64,
    /// After this no token it refuses can be valid: the record may go.
    until_secs: u64,
}

/// Refuses a session signed out or revoked. A store that cannot answer refuses too
/// (`session-unchecked`): a revoked session must not slip through an outage.
pub fn check(store: &dyn Store, s: &Session, max_session_secs: u64) -> Result<(), SessionError> {
    let unchecked = |e: StoreError| {
        tracing::warn!(error = %e, "the cabinet could not read its session revocations");
        SessionError::Unchecked
    };
    if store.get(&signed_out_key(s)).map_err(unchecked)?.is_some() {
        return Err(SessionError::Revoked);
    }
    if let Some(e) = store.get(&format!("{REVOKED}{}", s.user)).map_err(unchecked)? {
        let at = serde_json::from_slice::<Record>(&e.value).map(|r| r.at_secs).unwrap_or(u64::MAX);
        if s.issued_at_most(max_session_secs) <= at {
            return Err(SessionError::Revoked);
        }
    }
    Ok(())
}

/// This token is refused from now until it expires.
pub fn sign_out(store: &dyn Store, s: &Session, now_secs: u64) -> Result<(), StoreError> {
    put(store, signed_out_key(s), Record { at_secs: now_secs, until_secs: s.expires_at_secs })?;
    prune(store, now_secs);
    Ok(())
}

/// Every session of `user` issued until `now_secs` (this second included) is refused.
/// A later revocation moves the line forward; none moves it back.
pub fn revoke_user(store: &dyn Store, user: &str, now_secs: u64) -> Result<(), StoreError> {
    let key = format!("{REVOKED}{user}");
    let at_secs = match store.get(&key)? {
        Some(e) => serde_json::from_slice::<Record>(&e.value).map_or(now_secs, |r| r.at_secs.max(now_secs)),
        None => now_secs,
    };
    // A token issued at `at` expires by `at + max_session_secs`, whatever a cabinet's
    // setting (bounded): then the record may go.
    put(store, key, Record { at_secs, until_secs: at_secs.saturating_add(super::MAX_SESSION_SECS_BOUND) })?;
    prune(store, now_secs);
    Ok(())
}

fn signed_out_key(s: &Session) -> String {
    format!("{SIGNED_OUT}{}", hex::encode(s.digest))
}

fn put(store: &dyn Store, key: String, r: Record) -> Result<(), StoreError> {
    let value = serde_json::to_vec(&r).expect("a record serializes");
    store.commit(&[], &[Write { key, value: Some(value) }]).map(|_| ())
}

/// Deletes up to a batch of records past their use, each only if unchanged since read
/// (another host may have just renewed it).
fn prune(store: &dyn Store, now_secs: u64) {
    for prefix in [SIGNED_OUT, REVOKED] {
        let Ok(entries) = store.scan(prefix, None, PRUNE_BATCH) else { return };
        for e in entries {
            let done = serde_json::from_slice::<Record>(&e.value).map_or(true, |r| r.until_secs < now_secs);
            if done {
                let pre = Precondition { key: e.key.clone(), expected_version: Some(e.version) };
                let _ = store.commit(&[pre], &[Write { key: e.key, value: None }]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::session::{mint_at, mint_v1, verify};
    use super::*;
    use crate::store::MemoryStore;

    const SECRET: &[u8] = b"cabinet-test-secret-0123456789abcdef";
    const DAY: u64 = 86_400;

    fn session(token: &str, now: u64) -> Session {
        verify(SECRET, token, now).unwrap()
    }

    #[test]
    fn a_signed_out_token_is_refused_and_another_of_the_user_is_not() {
        let store = MemoryStore::new();
        let a = session(&mint_at(SECRET, "alice", 1_000, 5_000), 1_100);
        let b = session(&mint_at(SECRET, "alice", 1_001, 5_000), 1_100);
        sign_out(&store, &a, 1_100).unwrap();
        assert_eq!(check(&store, &a, DAY), Err(SessionError::Revoked));
        assert_eq!(check(&store, &b, DAY), Ok(()));
        // Once it has expired, the record is pruned by the next revocation.
        sign_out(&store, &b, 5_001).unwrap();
        assert!(store.scan(SIGNED_OUT, None, 10).unwrap().iter().all(|e| !e.key.ends_with(&hex::encode(a.digest))));
    }

    #[test]
    fn revoking_a_user_refuses_tokens_issued_until_then_and_not_after() {
        let store = MemoryStore::new();
        let old = session(&mint_at(SECRET, "alice", 1_000, 4_000), 1_500);
        let same_second = session(&mint_at(SECRET, "alice", 2_000, 4_000), 2_000);
        revoke_user(&store, "alice", 2_000).unwrap();
        assert_eq!(check(&store, &old, DAY), Err(SessionError::Revoked));
        assert_eq!(check(&store, &same_second, DAY), Err(SessionError::Revoked));
        let new = session(&mint_at(SECRET, "alice", 2_001, 4_000), 2_001);
        assert_eq!(check(&store, &new, DAY), Ok(()));
        let bob = session(&mint_at(SECRET, "bob", 1_000, 4_000), 1_500);
        assert_eq!(check(&store, &bob, DAY), Ok(()));
        // A first-format token has no issue time: refused if it could predate the revocation.
        let v1_old = session(&mint_v1(SECRET, "alice", 2_000 + DAY), 2_001);
        assert_eq!(check(&store, &v1_old, DAY), Err(SessionError::Revoked));
        let v1_new = session(&mint_v1(SECRET, "alice", 2_001 + DAY), 2_001);
        assert_eq!(check(&store, &v1_new, DAY), Ok(()));
        // An earlier clock cannot move the line back.
        revoke_user(&store, "alice", 1_500).unwrap();
        assert_eq!(check(&store, &same_second, DAY), Err(SessionError::Revoked));
    }

    #[test]
    fn a_store_that_cannot_answer_refuses() {
        struct Down;
        impl Store for Down {
            fn get(&self, _: &str) -> Result<Option<crate::store::Entry>, StoreError> {
                Err(StoreError("down".into()))
            }
            fn scan(&self, _: &str, _: Option<&str>, _: u32) -> Result<Vec<crate::store::Entry>, StoreError> {
                Err(StoreError("down".into()))
            }
            fn scan_reverse(&self, _: &str, _: Option<&str>, _: u32) -> Result<Vec<crate::store::Entry>, StoreError> {
                Err(StoreError("down".into()))
            }
            fn commit(&self, _: &[Precondition], _: &[Write]) -> Result<crate::store::CommitOutcome, StoreError> {
                Err(StoreError("down".into()))
            }
        }
        let s = session(&mint_at(SECRET, "alice", 1_000, 4_000), 1_500);
        assert_eq!(check(&Down, &s, DAY), Err(SessionError::Unchecked));
    }
}
