//! The timer reacts to finality, not only to its interval: when the node's irreversible
//! block moves, the host ticks, so a deposit is credited about one block after it became
//! irreversible even when the component asked for its next tick an hour later.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cwd_gateway_host::RuntimeConfig;
use support::*;

#[test]
fn a_deposit_is_credited_when_its_block_becomes_irreversible_not_when_the_timer_says() {
    // The component asks for a tick an hour after an idle one (the timer caps a wait at
    // 5 minutes): within this test's minute only finality can trigger a tick.
    let gw = start_with("finality", RuntimeConfig::default(), Duration::from_secs(5), |c| c.tick_interval_ms = 3_600_000);
    gw.funded_player("ann", "ann-cwd", 100 * CWD, 10 * CWD);
    let stop = Arc::new(AtomicBool::new(false));
    let timer = gw.service.spawn_timer(stop.clone(), Duration::from_secs(300));
    // The first tick runs at once and finds nothing to do.
    eventually("the timer's first tick", Duration::from_secs(30), || (gw.service.counters.ticks_ok.load(Ordering::Relaxed) > 0).then_some(()));
    let ticks_before = gw.service.counters.ticks_ok.load(Ordering::Relaxed);

    gw.devnet.transfer("ann-cwd", "game-gateway", 20 * CWD, None, None).unwrap();
    let credited = eventually("the deposit, credited by a tick on finality", Duration::from_secs(60), || {
        let balance = gw.service.with(|a| a.account("ann")).ok()?.balance;
        (balance == 900 + 1_800).then_some(balance)
    });
    assert_eq!(credited, 2_700);
    assert!(gw.service.counters.ticks_ok.load(Ordering::Relaxed) > ticks_before, "the timer ticked again");
    let credits = gw.events.snapshot().into_iter().filter(|e| e["type"] == "deposit-credited").count();
    assert_eq!(credits, 2, "each deposit credited once");
    stop.store(true, Ordering::Relaxed);
    timer.join().unwrap();
}
