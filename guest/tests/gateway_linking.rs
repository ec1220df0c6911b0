//! Linking rules, including the weak spots of the original example.

mod support;

use cwd_gateway_guest::events::{Event, LinkFailure};
use cwd_gateway_guest::gateway_error::{GatewayError, LimitScope, NameProblem};
use cwd_gateway_guest::records::{LinkRec, UserRec};
use support::*;

fn wrong(code: &str) -> String {
    let n: u64 = code.parse().unwrap();
    format!("{:0width$}", (n + 1) % 10u64.pow(code.len() as u32), width = code.len())
}

#[test]
fn link_happy_path_sends_an_encrypted_message_and_binds() {
    let mut w = World::new(1);
    let started = w.gw.start_link("u1", "alice").unwrap();
    assert_eq!(started.code_digits, 6);
    assert_eq!(started.expires_at_ms, w.clock.get() + 600_000);
    // The message is a send_message from the gateway, readable with alice's memo key.
    w.produce();
    let text = w.chain.borrow().last_message("alice").expect("alice got a message");
    let code = w.read_code("alice");
    assert!(text.contains(&code));
    let gw_id = w.gateway_id();
    let hist = w.chain.borrow().history[&w.id("alice")].clone();
    let op = &hist.last().unwrap().op;
    assert_eq!(op[0], serde_json::json!(61));
    assert_eq!(op[1]["from"], serde_json::json!(format!("1.2.{gw_id}")));
    let view = w.gw.account("u1").unwrap();
    assert_eq!(view.pending_link.unwrap().attempts_left, 5);

    let linked = w.gw.confirm_link("u1", &code).unwrap();
    assert_eq!(linked.account, "alice");
    assert_eq!(linked.account_id, format!("1.2.{}", w.id("alice")));
    let ev = w.events();
    assert!(matches!(&ev[0], Event::LinkCodeSent { user, account, .. } if user == "u1" && account == "alice"));
    assert!(matches!(&ev[1], Event::LinkConfirmed { user, .. } if user == "u1"));
    let link: LinkRec = w.store.record(&format!("link/1.2.{}", w.id("alice"))).unwrap();
    assert!(matches!(link, LinkRec::Linked { ref user, .. } if user == "u1"));
    // Confirming again: nothing pending.
    assert_eq!(w.gw.confirm_link("u1", &code), Err(GatewayError::NoPendingLink));
    assert_eq!(w.gw.deposit_instructions("u1").unwrap().from_account, "alice");
}

#[test]
fn weak_spot_code_guessing_is_limited() {
    let mut w = World::new(2);
    w.gw.start_link("u1", "alice").unwrap();
    let code = w.read_code("alice");
    assert!(code.len() >= 6, "at least 6 digits, not 5");
    let bad = wrong(&code);
    for left in (1..=4).rev() {
        assert_eq!(w.gw.confirm_link("u1", &bad), Err(GatewayError::WrongCode { attempts_left: left }));
    }
    assert_eq!(w.gw.confirm_link("u1", &bad), Err(GatewayError::TooManyAttempts));
    // The code is void: even the right one no longer works.
    assert_eq!(w.gw.confirm_link("u1", &code), Err(GatewayError::NoPendingLink));
    assert!(w.events().iter().any(|e| matches!(e, Event::LinkFailed { reason: LinkFailure::TooManyAttempts, .. })));
    assert!(w.gw.account("u1").unwrap().linked.is_none());
    // And new codes are rate-limited, so guesses per day are bounded.
    assert!(matches!(w.gw.start_link("u1", "alice"), Err(GatewayError::RateLimited { scope: LimitScope::User, .. })));
}

#[test]
fn codes_come_from_the_random_input_and_differ() {
    let mut codes = std::collections::HashSet::new();
    for seed in 0..20 {
        let mut w = World::new(100 + seed);
        w.gw.start_link("u1", "alice").unwrap();
        codes.insert(w.read_code("alice"));
    }
    assert!(codes.len() >= 19, "codes repeat: {codes:?}");
    let mut cfg = default_config();
    cfg.link.code_digits = 9;
    let mut w = World::with_config(7, cfg);
    w.gw.start_link("u1", "alice").unwrap();
    assert_eq!(w.read_code("alice").len(), 9);
}

#[test]
fn weak_spot_link_code_expires() {
    let mut w = World::new(3);
    w.gw.start_link("u1", "alice").unwrap();
    let code = w.read_code("alice");
    w.clock.set(w.clock.get() + 600_000);
    assert_eq!(w.gw.confirm_link("u1", &code), Err(GatewayError::LinkExpired));
    assert_eq!(w.gw.confirm_link("u1", &code), Err(GatewayError::NoPendingLink));
    assert!(w.events().iter().any(|e| matches!(e, Event::LinkFailed { reason: LinkFailure::Expired, .. })));

    // A tick also clears expired codes and says so.
    w.gw.start_link("u2", "bob").unwrap();
    w.clock.set(w.clock.get() + 700_000);
    w.take_events();
    w.gw.tick().unwrap();
    assert!(w.events().iter().any(|e| matches!(e, Event::LinkFailed { user, reason: LinkFailure::Expired, .. } if user == "u2")));
    assert!(w.gw.account("u2").unwrap().pending_link.is_none());
}

#[test]
fn link_code_is_stored_only_as_a_salted_hash() {
    let mut w = World::new(4);
    w.gw.start_link("u1", "alice").unwrap();
    let code = w.read_code("alice");
    let dump = w.store.dump();
    assert!(!dump.contains(&code), "the code is in the store");
    let rec: UserRec = w.store.record("user/u1").unwrap();
    let p = rec.pending.unwrap();
    assert_eq!(p.salt.len(), 32);
    assert_eq!(p.code_hash.len(), 64);
    assert!(!format!("{:?}", w.events()).contains(&code), "the code is in an event");
    let keys = gateway_keys();
    assert!(!dump.contains(&keys.active_wif) && !dump.contains(&keys.memo_wif));
}

#[test]
fn weak_spot_relink_to_victim_account_refused() {
    let mut w = World::new(5);
    w.link("victim", "alice");
    w.link("attacker", "mallory");
    // A linked attacker cannot re-link at all, let alone to the victim's account.
    assert_eq!(w.gw.start_link("attacker", "alice"), Err(GatewayError::AlreadyLinked("mallory".into())));
    // A fresh attacker account is refused: alice is bound to the victim.
    assert_eq!(w.gw.start_link("attacker2", "alice"), Err(GatewayError::AccountTaken));
    // Deposits from alice keep going to the victim.
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("victim").0, 90);
    assert_eq!(w.balance("attacker").0, 0);
    assert_eq!(w.balance("attacker2").0, 0);
}

#[test]
fn racing_users_can_never_hold_one_account() {
    let mut w = World::new(6);
    w.gw.start_link("u1", "alice").unwrap();
    let c1 = w.read_code("alice");
    let mut second = w.second_instance();
    second.start_link("u2", "alice").unwrap();
    let c2 = w.read_code("alice");
    assert_ne!(c1, c2);
    w.gw.confirm_link("u1", &c1).unwrap();
    assert_eq!(second.confirm_link("u2", &c2), Err(GatewayError::AccountTaken));
    assert!(w.gw.account("u2").unwrap().linked.is_none());

    // Even when the losing commit is the one that was "first" to read: the binding
    // precondition (link key absent) makes the store refuse it.
    let mut w = World::new(7);
    w.gw.start_link("u1", "alice").unwrap();
    let c1 = w.read_code("alice");
    w.gw.start_link("u2", "alice").unwrap();
    let c2 = w.read_code("alice");
    w.store.0.borrow_mut().conflict_commits = 1; // u1's first commit loses a race
    w.gw.confirm_link("u1", &c1).unwrap(); // re-reads and wins
    assert_eq!(w.gw.confirm_link("u2", &c2), Err(GatewayError::AccountTaken));
    let links = w.store.keys("link/");
    assert_eq!(links.len(), 1);
}

#[test]
fn start_link_rate_limits_say_when_to_retry() {
    let mut cfg = default_config();
    cfg.link.global_daily = 7;
    let mut w = World::with_config(8, cfg);
    w.gw.start_link("u1", "alice").unwrap();
    match w.gw.start_link("u1", "alice") {
        Err(GatewayError::RateLimited { scope: LimitScope::User, retry_after_ms }) => assert!(retry_after_ms > 0 && retry_after_ms <= 60_000),
        other => panic!("{other:?}"),
    }
    // Per account: five codes a day to one account.
    for u in ["u2", "u3", "u4", "u5"] {
        w.gw.start_link(u, "alice").unwrap();
    }
    match w.gw.start_link("u6", "alice") {
        Err(GatewayError::RateLimited { scope: LimitScope::Account, retry_after_ms }) => assert!(retry_after_ms <= 86_400_000),
        other => panic!("{other:?}"),
    }
    // Global budget: 7 a day.
    w.gw.start_link("u7", "bob").unwrap();
    w.gw.start_link("u8", "bob").unwrap();
    assert!(matches!(w.gw.start_link("u9", "carol"), Err(GatewayError::RateLimited { scope: LimitScope::Global, .. })));
    // After the interval the user may try again (the day budget permitting).
    w.clock.set(w.clock.get() + 86_400_000);
    w.gw.start_link("u9", "carol").unwrap();
}

#[test]
fn bad_names_users_and_accounts_are_typed_errors() {
    let mut w = World::new(9);
    assert_eq!(w.gw.start_link("u1", "Alice"), Err(GatewayError::BadAccountName(NameProblem::BadCharacter)));
    assert_eq!(w.gw.start_link("u1", "ab"), Err(GatewayError::BadAccountName(NameProblem::BadLength)));
    assert_eq!(w.gw.start_link("u1", "1abc"), Err(GatewayError::BadAccountName(NameProblem::BadLabel)));
    assert_eq!(w.gw.start_link("u1", "abc-"), Err(GatewayError::BadAccountName(NameProblem::BadLabel)));
    assert_eq!(w.gw.start_link("u1", "abc.de"), Err(GatewayError::BadAccountName(NameProblem::BadLabel)));
    assert_eq!(w.gw.start_link("u/1", "alice"), Err(GatewayError::BadUserId));
    assert_eq!(w.gw.start_link("", "alice"), Err(GatewayError::BadUserId));
    // Refused before the node is asked: none of these spent a rate-limit slot.
    w.gw.start_link("u1", "alice").unwrap();
    // Refused by what the node answered: counted (issue 32: no free lookups).
    assert_eq!(w.gw.start_link("u2", "nobody-here"), Err(GatewayError::AccountNotFound));
    assert!(matches!(w.gw.start_link("u2", "bob"), Err(GatewayError::RateLimited { .. })));
    assert!(matches!(w.gw.start_link("u3", GATEWAY), Err(GatewayError::Invalid { .. })));
    assert!(matches!(w.gw.start_link("u3", "bob"), Err(GatewayError::RateLimited { .. })));
}

#[test]
fn unlink_keeps_in_flight_deposits_with_the_old_user() {
    let mut w = World::new(10);
    // Transactions may expire up to 300 s after they are built: 60 blocks of 5 s.
    w.chain.borrow_mut().max_expiration_secs = 300;
    w.link("u1", "alice");
    w.deposit("alice", 100_000); // on its way
    w.gw.unlink("u1").unwrap();
    let head = w.chain.borrow().head().num;
    assert!(
        matches!(w.events().last(), Some(Event::Unlinked { reserved_through_block, .. }) if *reserved_through_block == head + 60 + 2),
        "the reservation covers every block a transaction signed before the unlink can land in"
    );
    // Nobody else can take alice while deposits may be in flight.
    assert!(matches!(w.gw.start_link("u2", "alice"), Err(GatewayError::AccountReserved { .. })));
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u1").0, 90, "the in-flight deposit went to the old user");
    // Not before the scan has passed the reserved blocks…
    w.produce_n(50);
    w.gw.tick().unwrap();
    assert!(matches!(w.gw.start_link("u2", "alice"), Err(GatewayError::AccountReserved { .. })));
    // …then the account is free.
    w.produce_n(20);
    w.gw.tick().unwrap();
    w.link("u2", "alice");
    w.deposit("alice", 100_000);
    w.produce();
    w.settle();
    w.gw.tick().unwrap();
    assert_eq!(w.balance("u2").0, 90);
    assert_eq!(w.balance("u1").0, 90);
    assert_eq!(w.gw.unlink("u1"), Err(GatewayError::NotLinked));
}

#[test]
fn unlink_refused_while_withdrawals_are_in_flight() {
    let mut w = World::new(11);
    w.link("u1", "alice");
    w.gw.adjust_balance("u1", 500, "seed", "test").unwrap();
    w.gw.request_withdrawal("u1", cwd_gateway_guest::rates::WithdrawalAmount::Game(100), "w1").unwrap();
    assert_eq!(w.gw.unlink("u1"), Err(GatewayError::WithdrawalsPending));
}

/// A player reads the gateway's texts in their language (issue 29): the link message on
/// chain and the deposit note, built in for Russian, or as configured per language.
#[test]
fn the_link_message_and_deposit_note_come_in_the_players_language() {
    let mut c = default_config();
    c.texts.link_messages = vec![("tr".into(), "Bağlantı kodunuz {code}".into())];
    let mut w = World::with_config(31, c);
    w.gw.set_language("u1", "ru").unwrap();
    assert_eq!(w.gw.account("u1").unwrap().language.as_deref(), Some("ru"));
    w.gw.start_link("u1", "alice").unwrap();
    let text = w.chain.borrow().pending_message("alice").or_else(|| w.chain.borrow().last_message("alice")).unwrap();
    assert!(text.starts_with("Ваш код привязки CrowdWiz: "), "{text}");
    let code = w.read_code("alice");
    w.gw.confirm_link("u1", &code).unwrap();
    assert!(w.gw.deposit_instructions("u1").unwrap().note.starts_with("Переведите CWD на "));

    w.gw.set_language("u2", "tr").unwrap();
    w.gw.start_link("u2", "bob").unwrap();
    let text = w.chain.borrow().pending_message("bob").or_else(|| w.chain.borrow().last_message("bob")).unwrap();
    assert!(text.starts_with("Bağlantı kodunuz "), "{text}");
    // Cleared: English again; a bad tag is refused.
    w.gw.set_language("u1", "").unwrap();
    assert!(w.gw.deposit_instructions("u1").unwrap().note.starts_with("Transfer CWD to "));
    assert!(matches!(w.gw.set_language("u1", "Russian"), Err(GatewayError::Invalid { .. })));
    // A configuration with a bad text is refused.
    let mut bad = default_config();
    bad.texts.link_messages = vec![("ru".into(), "no code here".into())];
    assert!(bad.normalized().is_err());
}
