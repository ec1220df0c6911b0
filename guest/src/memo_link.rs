//! Linking by memo: no fee, and nobody but the account's owner can complete it.
//!
//! `start-memo-link` gives the game a one-time code (`link-` and 16 base32 letters, 80
//! random bits) to show the user. The user sends any CWD transfer to the gateway account
//! with the code as its memo. When the scan reaches that transfer (irreversible), the
//! sender is linked to the user (signing the transfer proves control of the account, as
//! reading the encrypted message does for code links), in a commit of its own made just
//! before the transfer is applied; the transfer is then credited as a normal deposit.
//!
//! Only a keyed hash of the code is stored (`mlink/<hash>` → user, and on the user), so
//! a copy of the database does not reveal pending codes. Strangers cannot block it: no
//! per-account counter is involved, and guessing a code means guessing 80 bits.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::chain::{self, HistoryEntry};
use crate::events::Event;
use crate::gateway::Gateway;
use crate::gateway_error::{GatewayError, GwResult};
use crate::limits;
use crate::linking::{check_link_free, RESERVE_MARGIN_MS};
use crate::memo;
use crate::ops::AccountId;
use crate::records::{
    self, peek, transact, Cursor, LinkRec, Linked, MemoLinkPending, Step, UserRec,
};
use crate::views::TickReport;

/// How long a memo-link code is accepted (the transfer must be sent within it).
pub const MEMO_LINK_TTL_MS: u64 = 3_600_000;
/// Extra time for a transfer sent just before expiry to become irreversible and scanned.
pub const MEMO_LINK_GRACE_MS: u64 = 600_000;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `start-memo-link` answer: what the game shows the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoLinkStarted {
    /// The memo to send. Show it only to the user.
    pub code: String,
    /// Send the transfer to this account.
    pub gateway_account: String,
    pub expires_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoLinkIndex {
    pub user: String,
    pub expires_at_ms: u64,
}

pub fn code_from_bytes(b: [u8; 10]) -> String {
    let mut bits: u128 = 0;
    for x in b {
        bits = bits << 8 | x as u128;
    }
    let mut out = String::from("link-");
    for i in (0..16).rev() {
        out.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// The code in a memo, if the memo is one (spaces and case are forgiven).
pub fn parse_code(memo_text: &str) -> Option<String> {
    let c = memo_text.trim().to_ascii_lowercase();
    let body = c.strip_prefix("link-")?;
    (body.len() == 16 && body.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

/// The stored form of a code: HMAC-SHA256 under the link-code key, hex.
pub fn code_hash(key: &[u8; 32], code: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(b"crowdwiz-gateway/memo-link/v1\0");
    m.update(code.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn index_key(hash: &str) -> String {
    format!("mlink/{hash}")
}

impl Gateway {
    /// Called by the game when a user wants to link by sending a transfer. Replaces any
    /// memo-link code the user had. Counts against the user's link limits only.
    pub fn start_memo_link(&mut self, user: &str) -> GwResult<MemoLinkStarted> {
        self.refresh_settings()?;
        self.check_player(user)?;
        let (cfg, key, gateway_account) = {
            let a = self.active()?;
            (
                a.config.link.clone(),
                a.link_code_key.clone(),
                a.config.gateway_account.clone(),
            )
        };
        let now = self.now();
        let code = code_from_bytes(self.random_bytes());
        let hash = code_hash(&key, &code);
        let expires_at_ms = now.saturating_add(MEMO_LINK_TTL_MS);
        transact(&mut self.ports, |t| {
            let ukey = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            if let Some(l) = &u.linked {
                return Err(GatewayError::AlreadyLinked(l.account.clone()));
            }
            limits::take_user_link(&mut u, &cfg, now)?;
            if let Some(old) = u.memo_link.take() {
                t.delete(&index_key(&old.code_hash));
            }
            t.require_absent(&index_key(&hash));
            t.put(
                &index_key(&hash),
                &MemoLinkIndex {
                    user: user.into(),
                    expires_at_ms,
                },
            );
            u.memo_link = Some(MemoLinkPending {
                code_hash: hash.clone(),
                expires_at_ms,
            });
            t.put(&ukey, &u);
            Ok(Step::Commit(()))
        })?;
        Ok(MemoLinkStarted {
            code,
            gateway_account,
            expires_at_ms,
        })
    }

    /// Called by the scan before it applies incoming CWD transfer `seq` from `from`: if
    /// its memo is a pending memo-link code, links the sender. False when the node could
    /// not be asked for the sender's name (alerted; the scan stops and retries).
    pub(crate) fn link_by_memo(
        &mut self,
        seq: u64,
        from: AccountId,
        e: &HistoryEntry,
        report: &mut TickReport,
    ) -> GwResult<bool> {
        let Some((user, hash)) = self.memo_link_claim(e)? else {
            return Ok(true);
        };
        let account = match chain::account_by_id(self.ports.node.as_mut(), from) {
            Ok(Some(a)) => a.name,
            Ok(None) => return Ok(true),
            Err(f) => {
                self.alert_node(&f);
                report.node_errors += 1;
                return Ok(false);
            }
        };
        self.apply_memo_link(seq, from, &account, &user, &hash)?;
        Ok(true)
    }

    /// For an incoming transfer whose memo is a pending memo-link code: the user it
    /// names and the code's hash. Reads the store only; no node call.
    pub(crate) fn memo_link_claim(
        &mut self,
        e: &HistoryEntry,
    ) -> GwResult<Option<(String, String)>> {
        let Some(a) = self.active.as_ref() else {
            return Ok(None);
        };
        let decrypted = (|| {
            let m = crate::json::memo(e.body.get("memo")?, "memo").ok()?;
            if m.to != a.memo_key.public_key() {
                return None;
            }
            memo::decrypt_with(&a.memo_secrets, &a.memo_key, &m.from, m.nonce, &m.message).ok()
        })();
        let Some(code) = decrypted.as_deref().and_then(parse_code) else {
            return Ok(None);
        };
        let hash = code_hash(&a.link_code_key, &code);
        let idx: Option<MemoLinkIndex> = peek(self.ports.store.as_mut(), &index_key(&hash))?;
        Ok(idx.map(|i| (i.user, hash)))
    }

    /// Links `from` (named `account`) to `user` by the memo-link code `hash`, in its own
    /// commit, if the scan has not applied history entry `seq` yet and the code is still
    /// the user's. Answers whether it linked.
    fn apply_memo_link(
        &mut self,
        seq: u64,
        from: AccountId,
        account: &str,
        user: &str,
        hash: &str,
    ) -> GwResult<bool> {
        let account = account.to_string();
        let now = self.now();
        let linked = transact(&mut self.ports, |t| {
            let c: Cursor = t.get_or_default(records::CURSOR)?;
            if c.seq + 1 != seq {
                return Ok(Step::Done(false));
            }
            let ukey = records::user_key(user);
            // An unreadable user record links nobody (and must not stall the scan).
            let Ok(u) = t.get_decoded::<UserRec>(&ukey)? else {
                return Ok(Step::Done(false));
            };
            let mut u = u.unwrap_or_default();
            let current = u.memo_link.as_ref().is_some_and(|p| {
                p.code_hash == hash && now < p.expires_at_ms.saturating_add(MEMO_LINK_GRACE_MS)
            });
            if !current || u.linked.is_some() {
                return Ok(Step::Done(false));
            }
            let lkey = records::link_key(from.0);
            let link: Option<LinkRec> = t.get(&lkey)?;
            if check_link_free(&link, user, &c, RESERVE_MARGIN_MS).is_err() {
                // Held by another user: the transfer is applied as theirs (or unclaimed).
                return Ok(Step::Done(false));
            }
            u.memo_link = None;
            u.pending = None;
            u.linked = Some(Linked {
                account: account.clone(),
                account_id: from.0,
                linked_at_ms: now,
            });
            t.put(&ukey, &u);
            t.put(
                &lkey,
                &LinkRec::Linked {
                    user: user.into(),
                    account: account.clone(),
                    since_ms: now,
                },
            );
            t.delete(&index_key(hash));
            t.delete(&format!("plink/{user}"));
            t.emit(Event::LinkConfirmed {
                user: user.into(),
                account: account.clone(),
                account_id: format!("1.2.{}", from.0),
            });
            Ok(Step::Commit(true))
        })?;
        Ok(linked)
    }

    /// Forgets memo-link codes past their expiry and grace.
    pub(crate) fn expire_memo_links(&mut self) -> GwResult<()> {
        let now = self.now();
        for e in records::scan_all(self.ports.store.as_mut(), "mlink/", None, 1000)? {
            let idx: MemoLinkIndex = records::decode(&e.key, &e.value)?;
            if now < idx.expires_at_ms.saturating_add(MEMO_LINK_GRACE_MS) {
                continue;
            }
            let hash = e.key["mlink/".len()..].to_string();
            transact(&mut self.ports, |t| {
                if t.get::<MemoLinkIndex>(&e.key)?.is_none() {
                    return Ok(Step::Done(()));
                }
                t.delete(&e.key);
                let ukey = records::user_key(&idx.user);
                let mut u: UserRec = t.get_or_default(&ukey)?;
                if u.memo_link.as_ref().is_some_and(|p| p.code_hash == hash) {
                    u.memo_link = None;
                    t.put(&ukey, &u);
                }
                Ok(Step::Commit(()))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_a_memo() {
        let c = code_from_bytes([0xff; 10]);
        assert_eq!(c, "link-7777777777777777");
        assert_eq!(code_from_bytes([0; 10]), "link-aaaaaaaaaaaaaaaa");
        assert_eq!(
            parse_code("  LINK-7777777777777777\n").as_deref(),
            Some(c.as_str())
        );
        assert_eq!(parse_code("link-777777777777777"), None);
        assert_eq!(parse_code("link-77777777777777771"), None);
        assert_eq!(parse_code("hello"), None);
        assert_ne!(code_hash(&[1; 32], &c), code_hash(&[2; 32], &c));
    }
}
