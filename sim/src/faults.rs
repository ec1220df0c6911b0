//! The fault plan of one run: which faults are on, at what rates (chosen by the seed),
//! and how many of each were injected. Every decision draws from the run's seeded
//! streams, in the order the single-threaded simulation makes the calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::rng::Rng;

/// Rates in per mille, fixed per seed.
#[derive(Clone, Debug)]
pub struct Rates {
    /// Node errors and timeouts, per call (0–300 ‰: 0–30 %).
    pub node: u64,
    /// Broadcasts accepted but never included.
    pub broadcast_dropped: u64,
    /// Broadcasts included but answered with an error.
    pub broadcast_lost_answer: u64,
    /// A repeated identical request answered with the previous answer again.
    pub duplicate_answer: u64,
    /// Store commits failing before (unavailable) or after writing (answer lost).
    pub store: u64,
    /// Traps at an import call (per import call).
    pub trap: u64,
    /// A second host process ticks in the middle of a node call (real commit conflicts).
    pub interleave: u64,
}

#[derive(Default)]
pub struct FaultState {
    /// Faults are injected only while this is on; the liveness phase turns it off.
    pub active: bool,
    /// After this many more import calls of the main host, the next one traps and the
    /// host "crashes" (the whole service is dropped and restarted from the store).
    pub crash_in: Option<u32>,
    /// Set when an armed crash fired: the driver restarts the host.
    pub crashed: bool,
    /// True while the second host runs inside a call of the first: no nested
    /// interleaving, no crash of the first host from the second's calls.
    pub in_second_host: bool,
    pub injected: BTreeMap<&'static str, u64>,
}

/// Shared by the node, store and runtime hooks of one run.
#[derive(Clone)]
pub struct Faults {
    pub rates: Arc<Rates>,
    state: Arc<Mutex<FaultState>>,
    rng: Arc<Mutex<Rng>>,
}

impl Faults {
    pub fn new(rates: Rates, rng: Rng) -> Self {
        Faults { rates: Arc::new(rates), state: Arc::default(), rng: Arc::new(Mutex::new(rng)) }
    }

    pub fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a fault of `kind` fires now, at `per_mille`; counted when it does.
    pub fn fire(&self, kind: &'static str, per_mille: u64) -> bool {
        if per_mille == 0 || !self.state().active {
            return false;
        }
        let hit = self.rng.lock().unwrap_or_else(|e| e.into_inner()).chance(per_mille);
        if hit {
            self.count(kind);
        }
        hit
    }

    pub fn count(&self, kind: &'static str) {
        if std::env::var_os("CWD_SIM_TRACE").is_some() {
            eprintln!("  fault: {kind}");
        }
        *self.state().injected.entry(kind).or_default() += 1;
    }

    pub fn draw(&self) -> u64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).next()
    }
}
