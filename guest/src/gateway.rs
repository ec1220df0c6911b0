//! The façade: one [`Gateway`] per component instance. It holds the configuration and
//! the keys in memory only, and reaches everything else through [`Ports`]. The rules live
//! in the concept modules (`linking`, `ledger`, `deposits`, `withdrawals`, `limits`);
//! this file wires configuration, views, status and the tick.

use crate::chain;
use crate::config::{Config, Keys};
use crate::events::Alert;
use crate::gateway_error::{GatewayError, GwResult, KeyRole, NodeFailure};
use crate::keys::PrivateKey;
use crate::ops::AccountId;
use crate::ports::Ports;
use crate::rates::{self, WithdrawalAmount};
use crate::records::totals::{self, Totals};
use crate::records::{self, peek, Cursor, Order, UserRec, WithdrawalRec};
use crate::views::*;
use zeroize::Zeroizing;

/// The configured state: everything derived from `configure`.
#[derive(Clone)]
pub struct Active {
    /// The configuration in force: `initial` with the stored settings applied.
    pub config: Config,
    /// What `configure` was given (normalized).
    pub initial: Config,
    /// The stored settings' version `config` reflects (0: none stored).
    pub settings_revision: u64,
    /// `None`: the host's signer signs (`configure` was given no active key).
    pub active_key: Option<PrivateKey>,
    /// The gateway account's active keys that meet its threshold alone: a signature is
    /// released only if it recovers to one of them.
    pub active_authority: Vec<crate::keys::PublicKey>,
    pub memo_key: PrivateKey,
    /// The memo key's shared secrets with players, kept as long as the key (see
    /// `memo::SharedSecrets`): each memo read or written to a known player skips the ECDH.
    pub memo_secrets: std::rc::Rc<crate::memo::SharedSecrets>,
    pub gateway_id: AccountId,
    /// The gateway account's statistics object (`2.6.N`): what a node's history holds.
    pub stats_id: String,
    pub chain_id: [u8; 32],
    /// Keys stored link-code hashes; derived from the memo key, never stored.
    pub link_code_key: Zeroizing<[u8; 32]>,
    /// Authenticates proof-of-work challenges; derived from the memo key, never stored.
    pub pow_key: Zeroizing<[u8; 32]>,
    /// The cold account sweeps go to, when one is configured.
    pub cold_id: Option<AccountId>,
}

/// Sequencing passes per tick (each numbers up to `feed::SEQUENCE_BATCH` events).
const SEQUENCE_ROUNDS: u32 = 10;

/// Records counted per tick while derived data (totals, indexes) is built over an older store.
const DERIVED_BUILD_BATCH: u32 = 500;

pub struct Gateway {
    pub ports: Ports,
    pub(crate) active: Option<Active>,
    pub(crate) alert_memory: crate::alerts::AlertMemory,
    /// Set by this tick's scan: a payout unknown to the store is in a block that is not
    /// irreversible yet. No new payout this tick (it is recorded once irreversible).
    pub(crate) unknown_payout_pending: bool,
    /// When this instance's tick last reconciled the books (see [`BOOKS_EVERY_MS`]).
    last_books_ms: u64,
}

/// How often a tick reconciles the books (each costs two balance reads from the node).
pub const BOOKS_EVERY_MS: u64 = 600_000;

pub use crate::ids::check_user;

impl Gateway {
    pub fn new(ports: Ports) -> Self {
        Gateway {
            ports,
            active: None,
            alert_memory: Default::default(),
            unknown_payout_pending: false,
            last_books_ms: 0,
        }
    }

    /// `user` may act as a player: valid, and not one of the gateway's own users.
    pub(crate) fn check_player(&self, user: &str) -> GwResult<()> {
        crate::ids::check_player(user, &self.active()?.config.referrals.pool_user)
    }

    /// Runs an operator action and records it in the audit trail: with the action's
    /// first commit, or alone once the action answers without one (refused, or nothing
    /// to change). An entry that cannot be written fails an action that succeeded.
    pub(crate) fn audited<T>(
        &mut self,
        actor: &str,
        call: &str,
        subject: &str,
        arguments: serde_json::Value,
        act: impl FnOnce(&mut Self) -> GwResult<T>,
    ) -> GwResult<T> {
        self.active()?;
        crate::ids::check_actor(actor)?;
        self.ports.outbox.audit = Some(crate::ports::AuditContext {
            actor: actor.to_string(),
            call: call.to_string(),
            subject: subject.to_string(),
            arguments,
        });
        let answer = act(self);
        let Some(ctx) = self.ports.outbox.audit.take() else {
            return answer; // written with the action's commit
        };
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        let now = self.now();
        let written = records::transact_store(self.ports.store.as_mut(), |t| {
            crate::records::audit::stage(t, &ctx, now, outcome)?;
            Ok(records::Step::Commit(()))
        });
        match (answer, written) {
            (Ok(_), Err(e)) => Err(e),
            (answer, _) => answer,
        }
    }

    pub(crate) fn active(&self) -> GwResult<&Active> {
        self.active.as_ref().ok_or(GatewayError::NotConfigured)
    }

    pub(crate) fn now(&mut self) -> u64 {
        self.ports.clock.now_ms()
    }

    pub(crate) fn alert_node(&mut self, f: &NodeFailure) {
        self.raise(Alert::NodeTrouble {
            call: f.call.clone(),
            detail: f.error.to_string(),
        });
    }

    pub(crate) fn random_bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.ports.random.fill(&mut b);
        b
    }

    /// Validates the configuration and keys and checks them against the chain.
    pub fn configure(&mut self, config: Config, keys: Keys) -> GwResult<GatewayInfo> {
        let config = config.normalized()?;
        // No active key: the host's signer holds it (WIT `signer`).
        let active_key = match keys.active_wif.as_str() {
            "" => None,
            wif => Some(PrivateKey::from_wif(wif).map_err(|_| GatewayError::BadKey(KeyRole::Active))?),
        };
        let memo_key = PrivateKey::from_wif(&keys.memo_wif)
            .map_err(|_| GatewayError::BadKey(KeyRole::Memo))?;
        let chain_id: [u8; 32] = hex::decode(&config.chain_id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| GatewayError::invalid("config.chain-id", "must be 64 hex digits"))?;
        let node = self.ports.node.as_mut();
        let node_chain = chain::chain_id(node)?;
        if node_chain != config.chain_id {
            return Err(GatewayError::WrongChain(node_chain));
        }
        let account = chain::lookup_account(node, &config.gateway_account)?
            .ok_or(GatewayError::AccountNotFound)?;
        let active_authority: Vec<crate::keys::PublicKey> = account
            .active_keys
            .iter()
            .filter(|(_, w)| *w >= account.active_threshold)
            .filter_map(|(k, _)| k.parse::<crate::keys::PublicKey>().ok())
            .collect();
        let authorised = match &active_key {
            Some(key) => active_authority.contains(&key.public_key()),
            None => !active_authority.is_empty(),
        };
        if !authorised {
            return Err(GatewayError::KeyMismatch(KeyRole::Active));
        }
        if account.memo_key != Some(memo_key.public_key()) {
            return Err(GatewayError::KeyMismatch(KeyRole::Memo));
        }
        let cold_id = match config.treasury.cold_account.as_str() {
            "" => None,
            cold => Some(
                chain::lookup_account(node, cold)?
                    .ok_or_else(|| {
                        GatewayError::invalid(
                            "config.treasury.cold-account",
                            "no such account on chain",
                        )
                    })?
                    .id,
            ),
        };
        let dgp = chain::dgp(node)?;
        let info = GatewayInfo {
            account: account.name.clone(),
            account_id: format!("1.2.{}", account.id.0),
            head_block: dgp.head_block,
            last_irreversible_block: dgp.last_irreversible_block,
        };
        let link_code_key = crate::linking::code_key(&memo_key);
        let pow_key = crate::pow::pow_key_of(&memo_key);
        let stats_id = account.statistics.clone();
        let memo_secrets = std::rc::Rc::new(crate::memo::SharedSecrets::new(&memo_key));
        self.ports.outbox.enabled = !config.events.live_only;
        // Settings an operator changed at runtime win over the configuration's.
        let stored = crate::settings::stored(self.ports.store.as_mut())?;
        let settings_revision = stored.as_ref().map_or(0, |(_, v)| *v);
        let initial = config;
        let config = crate::settings::in_force(&initial, stored.as_ref().map(|(r, _)| r))?;
        self.active = Some(Active {
            config,
            initial,
            settings_revision,
            active_key,
            active_authority,
            memo_key,
            memo_secrets,
            gateway_id: account.id,
            stats_id,
            chain_id,
            link_code_key,
            pow_key,
            cold_id,
        });
        Ok(info)
    }

    /// Puts the stored settings in force if they changed since this instance last
    /// looked (one point read). Calls that use settings start with it.
    pub fn refresh_settings(&mut self) -> GwResult<()> {
        self.read_settings().map(drop)
    }

    /// [`Gateway::refresh_settings`], answering the stored record it read.
    fn read_settings(&mut self) -> GwResult<Option<crate::settings::SettingsRec>> {
        self.active()?;
        let stored = crate::settings::stored(self.ports.store.as_mut())?;
        let a = self.active.as_mut().expect("checked above");
        let revision = stored.as_ref().map_or(0, |(_, v)| *v);
        if revision != a.settings_revision {
            a.config = crate::settings::in_force(&a.initial, stored.as_ref().map(|(r, _)| r))?;
            a.settings_revision = revision;
        }
        Ok(stored.map(|(r, _)| r))
    }

    /// The settings in force and where they come from.
    pub fn get_settings(&mut self) -> GwResult<crate::settings::SettingsView> {
        let stored = self.read_settings()?;
        let a = self.active()?;
        let (changed_at_ms, changed_by) = stored.map_or((0, String::new()), |r| (r.changed_at_ms, r.changed_by));
        Ok(crate::settings::SettingsView {
            settings: a.config.settings(),
            revision: a.settings_revision,
            changed_at_ms,
            changed_by,
        })
    }

    /// Replaces the settings (audited) if `revision` is still theirs.
    pub fn update_settings(
        &mut self,
        actor: &str,
        settings: &crate::config::Settings,
        revision: u64,
    ) -> GwResult<crate::settings::SettingsView> {
        // The trail keeps what the change asked for: the fields that differ from the
        // settings in force, each as `[before, after]`.
        let current = self.get_settings()?.settings;
        let args = serde_json::json!({
            "changed": crate::settings::difference(&current, settings),
            "revision": revision,
        });
        self.audited(actor, "update-settings", "settings", args, |g| {
            let initial = g.active()?.initial.clone();
            let now = g.now();
            records::transact(&mut g.ports, |t| {
                crate::settings::stage_update(t, &initial, settings, revision, actor, now)?;
                Ok(records::Step::Commit(()))
            })?;
            g.get_settings()
        })
    }

    pub fn quote_deposit(&mut self, cwd: u64) -> GwResult<Quote> {
        self.refresh_settings()?;
        let rate = self.active()?.config.deposit_rate;
        rates::chain_amount(cwd)?;
        Ok(Quote {
            cwd,
            game: rates::deposit_game(rate, cwd)?,
            rate,
            fee_cwd: 0,
        })
    }

    pub fn quote_withdrawal(&mut self, amount: WithdrawalAmount) -> GwResult<Quote> {
        self.refresh_settings()?;
        let (rate, fee_cwd) = {
            let c = &self.active()?.config;
            (c.withdrawal_rate, c.withdrawals.fee_cwd)
        };
        let (game, cwd) = rates::withdrawal(rate, amount, fee_cwd)?;
        Ok(Quote { cwd, game, rate, fee_cwd })
    }

    pub fn account(&mut self, user: &str) -> GwResult<AccountView> {
        self.refresh_settings()?;
        check_user(user)?;
        let now = self.now();
        let max_attempts = self.active()?.config.link.max_attempts;
        let key = records::user_key(user);
        let (rec, revision) = match self.ports.store.get(&key)? {
            Some(e) => (records::decode::<UserRec>(&key, &e.value)?, e.version),
            None => (UserRec::default(), 0),
        };
        Ok(AccountView {
            user: user.to_string(),
            linked: rec.linked.as_ref().map(|l| LinkedAccount {
                account: l.account.clone(),
                account_id: format!("1.2.{}", l.account_id),
                linked_at_ms: l.linked_at_ms,
            }),
            pending_link: rec
                .pending
                .as_ref()
                .filter(|p| now < p.expires_at_ms)
                .map(|p| PendingLinkView {
                    account: p.account.clone(),
                    expires_at_ms: p.expires_at_ms,
                    attempts_left: max_attempts.saturating_sub(p.attempts),
                }),
            balance: rec.balance,
            frozen: rec.frozen,
            revision,
            language: rec.language,
        })
    }

    /// The player's language for the texts the gateway writes them ([`crate::texts`]).
    pub fn set_language(&mut self, user: &str, language: &str) -> GwResult<()> {
        self.active()?;
        self.check_player(user)?;
        if !language.is_empty() {
            crate::texts::check_language("language", language)?;
        }
        let language = (!language.is_empty()).then(|| language.to_string());
        records::transact(&mut self.ports, |t| {
            let key = records::user_key(user);
            let mut u: UserRec = t.get_or_default(&key)?;
            if u.language == language {
                return Ok(records::Step::Done(()));
            }
            u.language = language.clone();
            t.put(&key, &u);
            Ok(records::Step::Commit(()))
        })
    }

    pub fn deposit_instructions(&mut self, user: &str) -> GwResult<DepositInfo> {
        self.refresh_settings()?;
        check_user(user)?;
        let (gateway_account, rate) = {
            let a = self.active()?;
            (a.config.gateway_account.clone(), a.config.deposit_rate)
        };
        let rec: UserRec =
            peek(self.ports.store.as_mut(), &records::user_key(user))?.unwrap_or_default();
        let linked = rec.linked.ok_or(GatewayError::NotLinked)?;
        let texts = &self.active()?.config.texts;
        Ok(DepositInfo {
            note: crate::texts::deposit_note(texts, rec.language.as_deref(), &gateway_account, &linked.account),
            gateway_account,
            from_account: linked.account,
            asset: "CWD".into(),
            rate,
        })
    }

    pub fn status(&mut self) -> GwResult<GatewayStatus> {
        self.refresh_settings()?;
        let (gateway_account, gateway_id, threshold) = {
            let a = self.active()?;
            (
                a.config.gateway_account.clone(),
                a.gateway_id,
                a.config.low_fee_balance_cwd,
            )
        };
        let store = self.ports.store.as_mut();
        let cursor: Cursor = peek(store, records::CURSOR)?.unwrap_or_default();
        // Kept totals: a few shard records, whatever the store holds (a recount, page by
        // page, only while a store from before totals is being counted).
        let t = match totals::read(store)? {
            Some(t) => t,
            None => totals::recount(store)?,
        };
        let frozen_game = Totals::clamp(t.frozen_game);
        let (unclaimed_cwd, unclaimed_count) = (
            Totals::clamp(t.unclaimed_cwd),
            Totals::clamp_count(t.unclaimed_count),
        );
        let (pending_cwd, pending_withdrawals) = (
            Totals::clamp(t.pending_cwd),
            Totals::clamp_count(t.pending_count),
        );
        let payouts_paused = t.unacked_payouts > 0;
        let cwd_balance = chain::cwd_balance(self.ports.node.as_mut(), gateway_id).ok();
        let fee_reserve = self.fee_reserve(cwd_balance, pending_cwd)?;
        let open_sweep = self.open_sweep()?.map(|s| s.view());
        Ok(GatewayStatus {
            gateway_account,
            cwd_balance,
            frozen_game,
            pending_cwd,
            pending_withdrawals,
            unclaimed_cwd,
            unclaimed_count,
            scanned_through_block: cursor.through_block,
            low_fee_balance: matches!(cwd_balance, Some(b) if b < threshold),
            payouts_paused,
            fee_reserve,
            open_sweep,
        })
    }

    /// The books: kept totals against the hot and cold balances on chain. Raises a
    /// `books-mismatch` alert when the chain holds less than the gateway owes.
    pub fn reconcile(&mut self) -> GwResult<crate::books::Books> {
        self.refresh_settings()?;
        let (gateway_id, cold_id, rate, pool) = {
            let a = self.active()?;
            (a.gateway_id, a.cold_id, a.config.withdrawal_rate, a.config.referrals.pool_user.clone())
        };
        let store = self.ports.store.as_mut();
        let t = match totals::read(store)? {
            Some(t) => t,
            None => totals::recount(store)?,
        };
        let pool_game = peek::<UserRec>(store, &records::user_key(&pool))?.map_or(0, |u| u.balance);
        let node = self.ports.node.as_mut();
        let hot = chain::cwd_balance(node, gateway_id).ok();
        let cold = match cold_id {
            Some(id) => chain::cwd_balance(node, id).ok(),
            None => Some(0),
        };
        let books = crate::books::reckon(&t, pool_game, rate, hot, cold);
        if books.mismatch {
            self.raise(Alert::BooksMismatch {
                owed_cwd: books.owed_cwd,
                held_cwd: hot.unwrap_or(0).saturating_add(cold.unwrap_or(0)),
            });
        }
        Ok(books)
    }

    /// The audit trail, newest first (see `records::audit`).
    pub fn list_audit(
        &mut self,
        filter: &crate::records::audit::AuditFilter,
        start_before: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<crate::records::audit::AuditEntry>> {
        self.active()?;
        check_limit(limit)?;
        crate::records::audit::list(self.ports.store.as_mut(), filter, start_before, limit as usize)
    }

    /// The timer's call. Node failures never fail it: they are counted and alerted, and
    /// the work is retried on a later tick.
    pub fn tick(&mut self) -> GwResult<TickReport> {
        self.refresh_settings()?;
        let (interval, gateway_id, threshold) = {
            let a = self.active()?;
            (
                a.config.tick_interval_ms,
                a.gateway_id,
                a.config.low_fee_balance_cwd,
            )
        };
        let mut report = TickReport {
            next_tick_ms: interval,
            ..Default::default()
        };
        self.unknown_payout_pending = false;
        let dgp = match chain::dgp(self.ports.node.as_mut()) {
            Ok(d) => d,
            Err(f) => {
                self.alert_node(&f);
                report.node_errors += 1;
                report.next_tick_ms = interval.min(10_000);
                return Ok(report);
            }
        };
        report.last_irreversible_block = dgp.last_irreversible_block;
        let scan = self.scan_history(&dgp, &mut report)?;
        let mut busy = !scan.complete;
        busy |= self.process_withdrawals(&dgp, scan.complete, &mut report)?;
        busy |= self.process_sweep(&dgp, scan.complete, &mut report)?;
        // Totals and indexes over a store from before them: one bounded batch a tick.
        // A batch that loses races with live commits (or a failing store) is tried again
        // next tick; it never holds up the tick's own work.
        match crate::records::derived::build_batch(self.ports.store.as_mut(), DERIVED_BUILD_BATCH) {
            Ok(progress) => report.derived_build = progress,
            Err(GatewayError::Busy) => {}
            Err(e) => self.raise(Alert::StoreTrouble(format!(
                "building totals and indexes: {e:?}"
            ))),
        }
        // The audit trail's index over entries from before it, likewise.
        match crate::records::audit::build_index_batch(self.ports.store.as_mut(), DERIVED_BUILD_BATCH) {
            Ok(_) | Err(GatewayError::Busy) => {}
            Err(e) => self.raise(Alert::StoreTrouble(format!(
                "building the audit trail's index: {e:?}"
            ))),
        }
        self.expire_links()?;
        self.expire_memo_links()?;
        self.expire_proofs()?;
        self.expire_alert_marks()?;
        self.prune_idempotency()?;
        // The feed: number what the outbox holds (the tick's own events included), a
        // bounded amount a tick; another instance sequencing at once is no failure.
        busy |= self.sequence_rounds(SEQUENCE_ROUNDS)?;
        self.prune_feed()?;
        if threshold > 0 {
            match chain::cwd_balance(self.ports.node.as_mut(), gateway_id) {
                Ok(b) if b < threshold => self.raise(Alert::LowFeeBalance {
                    balance: b,
                    threshold,
                }),
                Ok(_) => {}
                Err(f) => {
                    self.alert_node(&f);
                    report.node_errors += 1;
                }
            }
        }
        let now = self.now();
        if now.saturating_sub(self.last_books_ms) >= BOOKS_EVERY_MS && scan.complete {
            self.last_books_ms = now;
            // Its node failures only leave a balance unknown; the alert is its output.
            self.reconcile()?;
        }
        if busy || report.node_errors > 0 {
            // Work remains (more history, withdrawals waiting for a block): come back soon.
            report.next_tick_ms = interval.min(10_000);
        }
        if scan.more && report.node_errors == 0 {
            // Catching up: the next pages are there to read now.
            report.next_tick_ms = 0;
        }
        // For the host's lag figure, without a `status` call (which asks the node).
        report.scanned_through_block = peek::<Cursor>(self.ports.store.as_mut(), records::CURSOR)?
            .unwrap_or_default()
            .through_block;
        Ok(report)
    }

    /// A withdrawal by id (views for the API).
    pub fn get_withdrawal(&mut self, id: &str) -> GwResult<WithdrawalView> {
        self.active()?;
        let w: WithdrawalRec = peek(self.ports.store.as_mut(), &records::wd_key(id))?
            .ok_or(GatewayError::WithdrawalNotFound)?;
        Ok(w.view())
    }

    /// Withdrawals that match `filter`, in id order (or newest first), past `cursor` (a
    /// withdrawal id). A user's come from their index; open states from the open set.
    pub fn list_withdrawals(
        &mut self,
        filter: &WithdrawalFilter,
        order: Order,
        cursor: Option<&str>,
        limit: u32,
    ) -> GwResult<Vec<WithdrawalView>> {
        self.active()?;
        check_limit(limit)?;
        let store = self.ports.store.as_mut();
        let matches = |w: &WithdrawalRec| {
            filter.user.as_ref().is_none_or(|u| *u == w.user)
                && filter.state.is_none_or(|s| s == w.state)
        };
        // Index entries (the id after the prefix) lead to the record.
        let via_ids = |prefix: String| {
            move |store: &mut dyn crate::ports::Store,
                  e: &crate::ports::Entry|
                  -> GwResult<Option<WithdrawalView>> {
                let w = peek::<WithdrawalRec>(store, &records::wd_key(&e.key[prefix.len()..]))?;
                Ok(w.filter(|w| matches(w)).map(|w| w.view()))
            }
        };
        let limit = limit as usize;
        if let (Some(user), true) = (filter.user.as_deref(), records::derived::is_built(store)?) {
            let prefix = records::indexes::withdrawals_prefix(user);
            return records::page_matching(
                store,
                &prefix,
                order,
                cursor,
                limit,
                via_ids(prefix.clone()),
            );
        }
        if filter.state.is_some_and(|s| !s.is_final()) {
            return records::page_matching(
                store,
                "wdopen/",
                order,
                cursor,
                limit,
                via_ids("wdopen/".into()),
            );
        }
        records::page_matching(store, "wd/", order, cursor, limit, |_, e| {
            let w: WithdrawalRec = records::decode(&e.key, &e.value)?;
            Ok(matches(&w).then(|| w.view()))
        })
    }
}

pub(crate) fn check_limit(limit: u32) -> GwResult<()> {
    if (1..=500).contains(&limit) {
        Ok(())
    } else {
        Err(GatewayError::invalid("limit", "must be 1..=500"))
    }
}

impl WithdrawalRec {
    pub fn view(&self) -> WithdrawalView {
        WithdrawalView {
            withdrawal_id: self.id.clone(),
            user: self.user.clone(),
            account: self.account.clone(),
            game: self.game,
            cwd: self.cwd,
            fee_cwd: self.fee_cwd,
            state: self.state,
            requested_at_ms: self.requested_at_ms,
            tx_id: self.tx.as_ref().map(|t| t.tx_id.clone()),
            attempts: self.attempts,
            block_num: self.block_num,
            note: self.note.clone(),
            approved_by: self.approved_by.clone(),
        }
    }

    pub fn reference(&self) -> crate::events::WithdrawalRef {
        crate::events::WithdrawalRef {
            withdrawal_id: self.id.clone(),
            user: self.user.clone(),
            account: self.account.clone(),
            game: self.game,
            cwd: self.cwd,
        }
    }
}
