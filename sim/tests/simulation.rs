//! The simulator in CI: many seeds on every `cargo test --workspace`, a replay check,
//! the regression seeds, and proof that the checks can fail.

use cwd_sim::world::{World, DEFAULT_STEPS};
use cwd_sim::{run_seed, Summary};

/// Seeds run on every push; `CWD_SIM_SEEDS` overrides (the long run uses the binary).
fn ci_seeds() -> u64 {
    cwd_sim::quiet_backtraces();
    std::env::var("CWD_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Steps per seed in CI: enough for links, deposits and withdrawals to meet faults,
/// few enough that 1,000 seeds stay within a few minutes on two shared cores.
const CI_STEPS: u32 = 12;

#[test]
fn a_thousand_seeds_hold_every_invariant() {
    let mut summary = Summary::default();
    for seed in 0..ci_seeds() {
        summary.add(run_seed(seed, CI_STEPS));
    }
    summary.print();
    if let Some(v) = summary.violations.first() {
        panic!(
            "{} of {} seeds violated an invariant; first:\n{v}",
            summary.violations.len(),
            summary.seeds
        );
    }
    // The runs did real work and met real faults, or the test proves nothing.
    assert!(
        summary.credited > 0 && summary.withdrawals_confirmed > 0,
        "the workload credited or paid nothing"
    );
    for kind in [
        "node-unreachable",
        "broadcast-dropped",
        "broadcast-lost-answer",
        "duplicate-answer",
        "reorg",
        "trap-before-import",
        "trap-after-import",
    ] {
        assert!(
            summary.injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} fault was injected"
        );
    }
    assert!(summary.restarts > 0, "no host crash was injected");
    for call in [
        "transfer-internal",
        "set-referrer",
        "reward-referrers",
        "request-withdrawal",
        "adjust-balance",
    ] {
        assert!(
            summary.succeeded.get(call).copied().unwrap_or(0) > 0,
            "no {call} call succeeded"
        );
    }
}

#[test]
fn one_seed_replays_bit_for_bit() {
    cwd_sim::quiet_backtraces();
    let a = run_seed(7, DEFAULT_STEPS).expect("seed 7 holds");
    let b = run_seed(7, DEFAULT_STEPS).expect("seed 7 holds");
    assert_eq!(
        a.digest, b.digest,
        "the same seed gave two different event logs"
    );
    assert_eq!(a.injected, b.injected);
    assert!(a.events > 0);
    let c = run_seed(8, DEFAULT_STEPS).expect("seed 8 holds");
    assert_ne!(
        a.digest, c.digest,
        "two seeds gave one event log: the digest does not cover the run"
    );
}

/// Seeds that once found a bug (see RELIABILITY.md), run with the steps that found it.
const REGRESSION_SEEDS: &[(u64, u32)] = &[
    // A host restarted after a crash, whose first lease attempt met a store error, stayed
    // standby behind its own former process: nothing was scanned again (host/src/lease.rs).
    (1320, 20),
];

#[test]
fn regression_seeds_hold() {
    for &(seed, steps) in REGRESSION_SEEDS {
        if let Err(v) = run_seed(seed, steps) {
            panic!("{v}");
        }
    }
}

#[test]
fn the_checks_catch_a_double_credit() {
    use cwd_gateway_host::store::{Precondition, Store, Write};
    let w = World::new(3);
    w.check().expect("a fresh world holds");
    // A credit the chain never made: the ledger and the deposit check must both object.
    let user = cwd_gateway::records::UserRec {
        balance: 90,
        ..Default::default()
    };
    let dep = cwd_gateway::records::DepositRec {
        user: "user-0".into(),
        from_account_id: w.players[0].id,
        cwd: 100_000,
        game: 90,
        rate: cwd_gateway::config::Rate {
            game_units: 90,
            per_cwd_units: 100_000,
        },
        credited_at_ms: 0,
    };
    let writes = [
        Write {
            key: "user/user-0".into(),
            value: Some(cwd_gateway::records::encode(&user)),
        },
        Write {
            key: "dep/d-0000000003-00000-00000".into(),
            value: Some(cwd_gateway::records::encode(&dep)),
        },
    ];
    let none: [Precondition; 0] = [];
    w.store.inner.commit(&none, &writes).unwrap();
    let err = w
        .check()
        .expect_err("a credit without a transfer must be caught");
    assert!(err.contains("no such transfer"), "{err}");
}

#[test]
fn the_checks_catch_a_change_without_its_event_and_an_event_without_its_change() {
    use cwd_gateway_host::store::{Precondition, Store, Write};
    let mut w = World::new(4);
    let report = w.play(40).expect("the run holds");
    w.check().expect("a run holds");
    let fed = w.store.inner.scan("evt/", None, 10_000).unwrap();
    assert!(report > 0 && !fed.is_empty(), "the run wrote events");
    let none: [Precondition; 0] = [];
    // A deposit's event replaced by another (positions stay dense): its change is left
    // without one.
    let victim = fed
        .iter()
        .find(|e| String::from_utf8_lossy(&e.value).contains("DepositCredited"))
        .expect("a credited deposit in the run");
    let mut rec: cwd_gateway::records::outbox::EventRec =
        cwd_gateway::records::decode(&victim.key, &victim.value).unwrap();
    rec.event =
        cwd_gateway::events::Event::Alert(cwd_gateway::events::Alert::StoreTrouble("x".into()));
    let swap = [Write {
        key: victim.key.clone(),
        value: Some(cwd_gateway::records::encode(&rec)),
    }];
    w.store.inner.commit(&none, &swap).unwrap();
    let err = w.check().expect_err("a missing event must be caught");
    assert!(err.contains("has no event"), "{err}");
    w.store
        .inner
        .commit(
            &none,
            &[Write {
                key: victim.key.clone(),
                value: Some(victim.value.clone()),
            }],
        )
        .unwrap();
    w.check().expect("restored");
    // A hole in the feed.
    let hole = &fed[fed.len() / 2];
    w.store
        .inner
        .commit(
            &none,
            &[Write {
                key: hole.key.clone(),
                value: None,
            }],
        )
        .unwrap();
    assert!(w
        .check()
        .expect_err("a hole must be caught")
        .contains("feed"));
    w.store
        .inner
        .commit(
            &none,
            &[Write {
                key: hole.key.clone(),
                value: Some(hole.value.clone()),
            }],
        )
        .unwrap();
    // An event announcing a deposit that never was.
    let fake = cwd_gateway::records::outbox::EventRec {
        id: "ev_00000000000000ff".into(),
        at_ms: 1,
        seq: 0,
        event: cwd_gateway::events::Event::DepositCredited {
            user: "user-0".into(),
            deposit_id: "d-0000009999-00000-00000".into(),
            position: cwd_gateway::events::OpPosition::new(9999, 0, 0),
            account: "nobody".into(),
            cwd: 1,
            game: 1,
            balance: 1,
        },
        // Its line "written": only the feed's invariant can tell.
        journal_due: false,
    };
    let key = cwd_gateway::records::outbox::outbox_key(1, &fake.id);
    w.store
        .inner
        .commit(
            &none,
            &[Write {
                key,
                value: Some(cwd_gateway::records::encode(&fake)),
            }],
        )
        .unwrap();
    let err = w
        .check()
        .expect_err("an event without its change must be caught");
    assert!(err.contains("no matching record"), "{err}");
}
