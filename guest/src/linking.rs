//! Linking a game user to a chain account with a one-time code sent on chain.
//!
//! The code comes from the random port (a CSPRNG in the component), is sent encrypted
//! with `send_message` so only the account's owner can read it, and only a keyed hash
//! of it is stored (HMAC-SHA256 under a key derived from the gateway's memo key, never
//! stored), with an expiry and an attempt counter: a copy of the database does not
//! reveal pending codes, however small the code space. The binding is written in the
//! same commit that consumes the code, guarded by "the account's link key is absent (or
//! reserved for this user)", so two users can never hold one account, even racing.

use crate::signatures::SignFailure;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::chain::{self, ChainAccount};
use crate::events::{Event, LinkFailure};
use crate::gateway::{check_user, Gateway};
use crate::gateway_error::{GatewayError, GwResult, LimitScope, NameProblem};
use crate::limits;
use crate::memo;
use crate::ops::{Asset, Memo, Operation, SendMessage, Transaction};
use crate::records::{
    self, peek, transact, transact_with_error, Cursor, DayCounter, LinkRec, Linked, PendingLink,
    Step, UserRec,
};
use crate::views::{LinkStarted, LinkedAccount};

/// Graphene's `is_valid_name`: 3..=63 bytes; dot-separated labels of at least 3 bytes,
/// each starting with a letter, ending with a letter or digit, with `a-z 0-9 -` inside.
pub fn check_account_name(name: &str) -> Result<(), NameProblem> {
    if name.len() < 3 || name.len() > 63 {
        return Err(NameProblem::BadLength);
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
    {
        return Err(NameProblem::BadCharacter);
    }
    for label in name.split('.') {
        let b = label.as_bytes();
        if b.len() < 3
            || !b[0].is_ascii_lowercase()
            || !(b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        {
            return Err(NameProblem::BadLabel);
        }
    }
    Ok(())
}

/// A uniformly random code of `digits` decimal digits from random bytes (rejection
/// sampling, so no digit value is more likely than another).
pub fn code_from_random(digits: u8, mut next_u64: impl FnMut() -> u64) -> String {
    let modulus = 10u64.pow(digits as u32);
    let zone = u64::MAX - (u64::MAX % modulus);
    loop {
        let r = next_u64();
        if r < zone {
            return format!("{:0width$}", r % modulus, width = digits as usize);
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The secret that keys stored code hashes: HMAC-SHA256 of a domain tag under the
/// gateway's memo private key. Derived at `configure`, kept in memory only.
pub fn code_key(memo_key: &crate::keys::PrivateKey) -> Zeroizing<[u8; 32]> {
    derived_key(memo_key, b"crowdwiz-gateway/link-code-key/v2")
}

/// A secret for one purpose (`tag`), derived from the memo key; never stored.
pub fn derived_key(memo_key: &crate::keys::PrivateKey, tag: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut m = HmacSha256::new_from_slice(&Zeroizing::new(memo_key.secret().to_bytes()))
        .expect("any key length");
    m.update(tag);
    Zeroizing::new(m.finalize().into_bytes().into())
}

/// The stored form of a code: HMAC-SHA256 under [`code_key`] over a domain tag, the
/// salt, the user, the account and the code. Without the key, a database copy gives
/// nothing to test guesses against.
pub fn code_hash(key: &[u8; 32], salt: &[u8], user: &str, account_id: u64, code: &str) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(b"crowdwiz-gateway/link-code/v2\0");
    m.update(salt);
    m.update(user.as_bytes());
    m.update(&[0]);
    m.update(&account_id.to_le_bytes());
    m.update(code.as_bytes());
    m.finalize().into_bytes().into()
}

/// Equality in time independent of where the inputs differ (`subtle`'s); lengths are
/// public.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Who may take `link` for `user`: nobody else while it is linked or reserved for
/// deposits still in flight (until the scan has passed `through_block`).
pub(crate) fn check_link_free(
    link: &Option<LinkRec>,
    user: &str,
    cursor: &Cursor,
    now_block_estimate_ms: u64,
) -> GwResult<()> {
    match link {
        None => Ok(()),
        Some(LinkRec::Linked { user: holder, .. }) if holder == user => Ok(()),
        Some(LinkRec::Linked { .. }) => Err(GatewayError::AccountTaken),
        Some(LinkRec::Reserved { user: holder, .. }) if holder == user => Ok(()),
        Some(LinkRec::Reserved { through_block, .. }) if *through_block <= cursor.through_block => {
            Ok(())
        }
        Some(LinkRec::Reserved { through_block, .. }) => Err(GatewayError::AccountReserved {
            // Blocks are 5 s; add the irreversibility lag and a tick.
            retry_after_ms: (*through_block - cursor.through_block) as u64 * 5_000
                + now_block_estimate_ms,
        }),
    }
}

pub(crate) const RESERVE_MARGIN_MS: u64 = 60_000;
/// Blocks past the last one a transaction signed before the unlink can land in, for
/// blocks produced a little early.
pub const UNLINK_MARGIN_BLOCKS: u32 = 2;

/// The last block a deposit signed before now can land in: a transaction is includable
/// until its expiration, which the chain accepts up to `maximum_time_until_expiration`
/// ahead (chain_parameters.hpp; a day by default), and the chain makes at most one block
/// per `block_interval`.
pub fn unlink_reserve_through(head_block: u32, params: chain::ChainParams) -> u32 {
    let blocks = params
        .max_expiration_secs
        .div_ceil(params.block_interval_secs.max(1));
    head_block
        .saturating_add(blocks)
        .saturating_add(UNLINK_MARGIN_BLOCKS)
}

impl Gateway {
    /// `start-link` without a proof of work (enough when `pow-bits` is 0).
    pub fn start_link(&mut self, user: &str, account: &str) -> GwResult<LinkStarted> {
        self.start_link_with_proof(user, account, None)
    }

    pub fn start_link_with_proof(
        &mut self,
        user: &str,
        account: &str,
        proof: Option<&crate::pow::Proof>,
    ) -> GwResult<LinkStarted> {
        self.refresh_settings()?;
        self.check_player(user)?;
        check_account_name(account).map_err(GatewayError::BadAccountName)?;
        let now = self.now();
        let cfg = self.active()?.config.link.clone();
        let (gateway_id, memo_pub, digits) = {
            let a = self.active()?;
            (a.gateway_id, a.memo_key.public_key(), cfg.code_digits)
        };

        // Work first (cheap to check); the proof is spent even if a later check refuses.
        self.spend_proof(proof)?;
        // Cheap refusals before any node call (and before spending a fee). The attempt is
        // counted here, committed, whatever the lookup then finds: otherwise a session
        // could look up accounts without end ("is this account a customer?").
        let previous_attempt_ms = transact(&mut self.ports, |t| {
            let mut u: UserRec = t.get_or_default(&records::user_key(user))?;
            if let Some(l) = &u.linked {
                return Err(GatewayError::AlreadyLinked(l.account.clone()));
            }
            let previous = u.link_last_ms;
            limits::take_user_link(&mut u, &cfg, now)?;
            t.put(&records::user_key(user), &u);
            Ok(Step::Commit((previous, u.language.clone())))
        })?;
        let (previous_attempt_ms, language) = previous_attempt_ms;
        let template = crate::texts::link_message(&self.active()?.config.texts, &cfg.message_template, language.as_deref()).to_string();

        // What the node answers about the account counts (no oracle); the node failing
        // does not (not the player's doing).
        let node = self.ports.node.as_mut();
        let target: ChainAccount = match chain::lookup_account(node, account) {
            Ok(Some(target)) => target,
            Ok(None) => return Err(GatewayError::AccountNotFound),
            Err(f) => return Err(self.give_back_link_attempt(user, now, previous_attempt_ms, f.into())),
        };
        if target.id == gateway_id {
            return Err(GatewayError::invalid(
                "account",
                "is the gateway's own account",
            ));
        }
        let cursor: Cursor = peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
        let link: Option<LinkRec> =
            peek(self.ports.store.as_mut(), &records::link_key(target.id.0))?;
        check_link_free(&link, user, &cursor, RESERVE_MARGIN_MS)?;

        // The message goes to the account's memo key; a null memo key cannot read it.
        let to_key = target.memo_key.ok_or_else(|| {
            GatewayError::invalid("account", "the account has no usable memo key")
        })?;
        let text_len = template
            .replace("{code}", &"0".repeat(digits as usize))
            .replace("{user}", user)
            .len();
        if text_len > memo::MAX_MEMO_MESSAGE_BYTES {
            return Err(GatewayError::invalid(
                "config.link.message-template",
                "the message is too long",
            ));
        }
        // Fee and TaPoS before committing the code, so node trouble costs no account or
        // gateway limit (the user's attempt is already counted).
        let node = self.ports.node.as_mut();
        let dgp = match chain::dgp(node) {
            Ok(dgp) => dgp,
            Err(f) => return Err(self.give_back_link_attempt(user, now, previous_attempt_ms, f.into())),
        };
        let placeholder = Memo {
            from: memo_pub,
            to: to_key,
            nonce: 0,
            message: vec![0u8; (text_len + 4) / 16 * 16 + 16],
        };
        let mut op = SendMessage {
            fee: Asset::cwd(0),
            from: gateway_id,
            to: target.id,
            memo: placeholder,
        };
        op.fee = Asset::cwd(match self.quoted_fee(&Operation::SendMessage(op.clone())) {
            Ok(fee) => fee,
            Err(crate::fees::FeeQuoteError::Node(f)) => {
                return Err(self.give_back_link_attempt(user, now, previous_attempt_ms, f.into()))
            }
            Err(crate::fees::FeeQuoteError::AboveCeiling { fee, ceiling }) => {
                let e = GatewayError::NodeUnavailable {
                    detail: format!("the node quoted a fee of {fee} for the link message, above the ceiling of {ceiling}; the operator was alerted"),
                    retry_after_ms: crate::gateway_error::NODE_RETRY_MS,
                };
                return Err(self.give_back_link_attempt(user, now, previous_attempt_ms, e));
            }
        });

        // Draw the code and salt, and commit the pending link with every counter.
        let rnd: [u8; 64] = self.random_bytes();
        let mut words = rnd
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect::<Vec<_>>()
            .into_iter();
        let random = self.ports.random.as_mut();
        let code = code_from_random(digits, || {
            words.next().unwrap_or_else(|| {
                // Eight rejections in a row: practically never; draw more.
                let mut b = [0u8; 8];
                random.fill(&mut b);
                u64::from_le_bytes(b)
            })
        });
        let salt: [u8; 16] = self.random_bytes();
        let nonce = u64::from_le_bytes(self.random_bytes());
        let hash = code_hash(
            &self.active()?.link_code_key,
            &salt,
            user,
            target.id.0,
            &code,
        );
        let expires_at_ms = now.saturating_add(cfg.code_ttl_ms);
        let account_name = target.name.clone();
        let committed = transact(&mut self.ports, |t| {
            let mut u: UserRec = t.get_or_default(&records::user_key(user))?;
            if let Some(l) = &u.linked {
                return Err(GatewayError::AlreadyLinked(l.account.clone()));
            }
            let link: Option<LinkRec> = t.get(&records::link_key(target.id.0))?;
            check_link_free(&link, user, &cursor, RESERVE_MARGIN_MS)?;
            let mut acct: DayCounter = t.get_or_default(&records::lim_acct_key(target.id.0))?;
            limits::take_daily(&mut acct, cfg.account_daily, LimitScope::Account, now)?;
            let mut global: DayCounter = t.get_or_default(records::LIM_GLOBAL)?;
            limits::take_daily(&mut global, cfg.global_daily, LimitScope::Global, now)?;
            u.pending = Some(PendingLink {
                account: account_name.clone(),
                account_id: target.id.0,
                salt: hex::encode(salt),
                code_hash: hex::encode(hash),
                expires_at_ms,
                attempts: 0,
            });
            t.put(&records::user_key(user), &u);
            t.put(&records::lim_acct_key(target.id.0), &acct);
            t.put(records::LIM_GLOBAL, &global);
            t.put(&format!("plink/{user}"), &expires_at_ms);
            crate::fees::note(
                t,
                crate::fees::FeeKind::LinkMessage,
                op.fee.amount as u64,
                now,
            )?;
            Ok(Step::Commit(()))
        });
        if let Err(e @ (GatewayError::RateLimited { scope: LimitScope::Account | LimitScope::Global, .. } | GatewayError::StoreUnavailable(_))) = committed {
            // Strangers can spend an account's budget: not the player's doing.
            return Err(self.give_back_link_attempt(user, now, previous_attempt_ms, e));
        }
        committed?;

        // Only now does the code exist anywhere outside this call: in the encrypted memo.
        let text = template
            .replace("{code}", &code)
            .replace("{user}", user);
        let (memo_key, secrets) = {
            let a = self.active()?;
            (a.memo_key.clone(), a.memo_secrets.clone())
        };
        let cipher =
            memo::encrypt_with(&secrets, &memo_key, &to_key, nonce, &text).map_err(|_| {
                GatewayError::invalid(
                    "config.link.message-template",
                    "the message cannot be encrypted",
                )
            })?;
        op.memo = Memo {
            from: memo_pub,
            to: to_key,
            nonce,
            message: cipher,
        };
        let (ref_block_num, ref_block_prefix) = crate::ops::tapos_from_block_id(&dgp.head_block_id)
            .map_err(|_| {
                GatewayError::from(crate::gateway_error::NodeFailure::bad(
                    "database.get_dynamic_global_properties",
                    "bad head_block_id",
                ))
            })?;
        let tx = Transaction {
            ref_block_num,
            ref_block_prefix,
            expiration: dgp.head_time.saturating_add(120),
            operations: vec![Operation::SendMessage(op)],
        };
        let tx_id = hex::encode(tx.id());
        // Whatever fails, the code is stored but reached nobody; the user asks again later.
        let signed = match self.sign_transaction(tx, "link-message", user) {
            Ok(signed) => signed,
            Err(SignFailure::Faulty) => return Err(GatewayError::SigningFailed),
            Err(SignFailure::Refused { rule, reason }) => {
                return Err(GatewayError::SignerRefused { rule, reason })
            }
            Err(SignFailure::Unavailable(detail)) => return Err(GatewayError::SignerUnavailable(detail)),
            Err(SignFailure::Invalid(_)) => {
                return Err(GatewayError::invalid(
                    "account",
                    "the message cannot be signed",
                ))
            }
        };
        let tx_json = crate::json::transaction_text(&signed);
        if let Err(f) = chain::broadcast(self.ports.node.as_mut(), &tx_json) {
            // The code is stored; the user can ask again once the per-user interval passes.
            return Err(GatewayError::NodeUnavailable {
                detail: f.detail(),
                retry_after_ms: cfg.user_interval_ms,
            });
        }
        // The change it reports is the broadcast, not a store write: a commit of its own.
        let sent = Event::LinkCodeSent {
            user: user.into(),
            account: target.name.clone(),
            expires_at_ms,
            tx_id: tx_id.clone(),
        };
        let recorded = transact(&mut self.ports, |t| {
            t.emit(sent.clone());
            Ok(Step::Commit(()))
        });
        if recorded.is_err() {
            // The code went out: a store failing now must not make that an error. The
            // live copy still goes (the feed misses it; the pending link is in the store).
            self.ports.events.emit(sent);
        }
        Ok(LinkStarted {
            account: target.name,
            expires_at_ms,
            code_digits: digits,
            tx_id,
        })
    }

    /// A link attempt refused for a reason that is not the player's (the node failing, an
    /// account's or the gateway's budget spent by others): the day's count stays spent,
    /// but the interval is given back, so the player may retry, or take the memo route,
    /// at once. Answers `e`.
    fn give_back_link_attempt(&mut self, user: &str, now: u64, previous_ms: u64, e: GatewayError) -> GatewayError {
        let _ = transact(&mut self.ports, |t| {
            let mut u: UserRec = t.get_or_default(&records::user_key(user))?;
            if u.link_last_ms != now {
                return Ok(Step::Done(()));
            }
            u.link_last_ms = previous_ms;
            t.put(&records::user_key(user), &u);
            Ok(Step::Commit(()))
        });
        e
    }

    pub fn confirm_link(&mut self, user: &str, code: &str) -> GwResult<LinkedAccount> {
        self.refresh_settings()?;
        self.check_player(user)?;
        let now = self.now();
        let max_attempts = self.active()?.config.link.max_attempts;
        let key = self.active()?.link_code_key.clone();
        let code = code.trim();
        let cursor: Cursor = peek(self.ports.store.as_mut(), records::CURSOR)?.unwrap_or_default();
        let result = transact_with_error(&mut self.ports, |t| {
            let ukey = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            let Some(p) = u.pending.clone() else {
                return Err(GatewayError::NoPendingLink);
            };
            if now >= p.expires_at_ms {
                u.pending = None;
                t.put(&ukey, &u);
                t.delete(&format!("plink/{user}"));
                t.emit(Event::LinkFailed {
                    user: user.into(),
                    account: p.account.clone(),
                    reason: LinkFailure::Expired,
                });
                return Ok((Step::Commit(()), Err(GatewayError::LinkExpired)));
            }
            let salt = hex::decode(&p.salt).unwrap_or_default();
            let expected = hex::decode(&p.code_hash).unwrap_or_default();
            let got = code_hash(&key, &salt, user, p.account_id, code);
            if !constant_time_eq(&got, &expected) {
                let attempts = p.attempts + 1;
                if attempts >= max_attempts {
                    // Void: a guesser gets `max_attempts` tries per code, no more.
                    u.pending = None;
                    t.delete(&format!("plink/{user}"));
                    t.emit(Event::LinkFailed {
                        user: user.into(),
                        account: p.account.clone(),
                        reason: LinkFailure::TooManyAttempts,
                    });
                    t.put(&ukey, &u);
                    return Ok((Step::Commit(()), Err(GatewayError::TooManyAttempts)));
                }
                u.pending = Some(PendingLink { attempts, ..p });
                t.put(&ukey, &u);
                return Ok((
                    Step::Commit(()),
                    Err(GatewayError::WrongCode {
                        attempts_left: max_attempts - attempts,
                    }),
                ));
            }
            let lkey = records::link_key(p.account_id);
            let link: Option<LinkRec> = t.get(&lkey)?;
            if let Err(e) = check_link_free(&link, user, &cursor, RESERVE_MARGIN_MS) {
                return Ok((Step::Done(()), Err(e)));
            }
            u.pending = None;
            u.linked = Some(Linked {
                account: p.account.clone(),
                account_id: p.account_id,
                linked_at_ms: now,
            });
            t.put(&ukey, &u);
            t.put(
                &lkey,
                &LinkRec::Linked {
                    user: user.into(),
                    account: p.account.clone(),
                    since_ms: now,
                },
            );
            t.delete(&format!("plink/{user}"));
            t.emit(Event::LinkConfirmed {
                user: user.into(),
                account: p.account.clone(),
                account_id: format!("1.2.{}", p.account_id),
            });
            Ok((
                Step::Commit(()),
                Ok(LinkedAccount {
                    account: p.account.clone(),
                    account_id: format!("1.2.{}", p.account_id),
                    linked_at_ms: now,
                }),
            ))
        });
        result
    }

    pub fn unlink(&mut self, user: &str) -> GwResult<()> {
        self.active()?;
        check_user(user)?;
        let rec: UserRec =
            peek(self.ports.store.as_mut(), &records::user_key(user))?.unwrap_or_default();
        if rec.linked.is_none() {
            return Err(GatewayError::NotLinked);
        }
        if rec.frozen > 0 || rec.open_withdrawals > 0 {
            return Err(GatewayError::WithdrawalsPending);
        }
        let dgp = chain::dgp(self.ports.node.as_mut())?;
        let params = chain::chain_params(self.ports.node.as_mut())?;
        let through_block = unlink_reserve_through(dgp.head_block, params);
        transact(&mut self.ports, |t| {
            let ukey = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&ukey)?;
            let Some(l) = u.linked.take() else {
                return Err(GatewayError::NotLinked);
            };
            if u.frozen > 0 || u.open_withdrawals > 0 {
                return Err(GatewayError::WithdrawalsPending);
            }
            let lkey = records::link_key(l.account_id);
            let _: Option<LinkRec> = t.get(&lkey)?;
            t.put(
                &lkey,
                &LinkRec::Reserved {
                    user: user.into(),
                    account: l.account.clone(),
                    through_block,
                },
            );
            t.put(&ukey, &u);
            t.emit(Event::Unlinked {
                user: user.into(),
                account: l.account,
                reserved_through_block: through_block,
            });
            Ok(Step::Commit(()))
        })?;
        Ok(())
    }

    /// Clears link codes past their expiry (so the account view and events stay true).
    pub(crate) fn expire_links(&mut self) -> GwResult<()> {
        let now = self.now();
        let entries = records::scan_all(self.ports.store.as_mut(), "plink/", None, 1000)?;
        for e in entries {
            let expires: u64 = records::decode(&e.key, &e.value)?;
            if now < expires {
                continue;
            }
            let user = e.key["plink/".len()..].to_string();
            transact(&mut self.ports, |t| {
                let ukey = records::user_key(&user);
                let mut u: UserRec = t.get_or_default(&ukey)?;
                let current: Option<u64> = t.get(&e.key)?;
                if current.is_none_or(|x| now < x) {
                    return Ok(Step::Done(())); // a newer code replaced it meanwhile
                }
                t.delete(&e.key);
                match u.pending.take() {
                    Some(p) if now >= p.expires_at_ms => {
                        t.put(&ukey, &u);
                        t.emit(Event::LinkFailed {
                            user: user.clone(),
                            account: p.account,
                            reason: LinkFailure::Expired,
                        });
                        Ok(Step::Commit(()))
                    }
                    _ => Ok(Step::Commit(())),
                }
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_graphene_rules() {
        for ok in [
            "abc",
            "alice",
            "a-b-c",
            "abc.def",
            "a12",
            "game-gateway",
            &"a".repeat(63),
        ] {
            assert_eq!(check_account_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_account_name("ab"), Err(NameProblem::BadLength));
        assert_eq!(
            check_account_name(&"a".repeat(64)),
            Err(NameProblem::BadLength)
        );
        assert_eq!(check_account_name("Abc"), Err(NameProblem::BadCharacter));
        assert_eq!(check_account_name("ab_c"), Err(NameProblem::BadCharacter));
        assert_eq!(check_account_name("-abc"), Err(NameProblem::BadLabel));
        assert_eq!(check_account_name("abc-"), Err(NameProblem::BadLabel));
        assert_eq!(check_account_name("abc..def"), Err(NameProblem::BadLabel));
        assert_eq!(check_account_name("abc.d1"), Err(NameProblem::BadLabel));
    }

    #[test]
    fn codes_are_zero_padded_and_rejection_sampled() {
        let mut it = [0u64, 7].into_iter();
        assert_eq!(code_from_random(6, || it.next().unwrap()), "000000");
        // A draw in the biased zone at the top of u64 is thrown away.
        let mut it = [u64::MAX, 123_456].into_iter();
        assert_eq!(code_from_random(6, || it.next().unwrap()), "123456");
        assert_eq!(code_from_random(12, || 42), "000000000042");
    }

    #[test]
    fn code_hash_binds_key_salt_user_account_and_code() {
        let k = [7u8; 32];
        let h = code_hash(&k, b"salt", "u1", 7, "123456");
        assert_ne!(h, code_hash(&[8u8; 32], b"salt", "u1", 7, "123456"));
        assert_ne!(h, code_hash(&k, b"salu", "u1", 7, "123456"));
        assert_ne!(h, code_hash(&k, b"salt", "u2", 7, "123456"));
        assert_ne!(h, code_hash(&k, b"salt", "u1", 8, "123456"));
        assert_ne!(h, code_hash(&k, b"salt", "u1", 7, "123457"));
        assert!(constant_time_eq(
            &h,
            &code_hash(&k, b"salt", "u1", 7, "123456")
        ));
        assert!(!constant_time_eq(&h[..31], &h));
    }

    #[test]
    fn code_key_depends_on_the_memo_key() {
        let a = crate::keys::PrivateKey::from_bytes(&[1u8; 32]).unwrap();
        let b = crate::keys::PrivateKey::from_bytes(&[2u8; 32]).unwrap();
        assert_ne!(code_key(&a), code_key(&b));
        assert_eq!(code_key(&a), code_key(&a));
    }
}
