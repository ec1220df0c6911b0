//! A deterministic simulator of the gateway: the real component (the `.wasm` the
//! reference host embeds), in the host's own embedding (`Service`: instance pool, trap
//! recovery, restart from the store), against two simulated nodes of one chain (the
//! devnet, called in-process), an in-memory store, a manual clock and seeded randomness.
//! A seed chooses the fault rates, the players and the workload; every fault decision
//! and every random byte the component sees comes from it, so a seed replays exactly.
//! After every step the invariants in [`invariants`] are checked; when the steps are
//! done the faults stop and the run must settle (liveness). See RELIABILITY.md.

pub mod faults;
pub mod hooks;
pub mod invariants;
pub mod node;
pub mod rng;
pub mod store;
pub mod world;

pub use world::{run_seed, Params, Report, Violation};

use std::collections::BTreeMap;

/// Errors are expected by the thousand in a run (every injected fault makes one);
/// capturing a backtrace for each (`RUST_BACKTRACE=1` makes anyhow do it) would cost
/// more than the run itself. Panics keep theirs.
pub fn quiet_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Totals over many seeds.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub steps: u64,
    pub injected: BTreeMap<String, u64>,
    pub actions: BTreeMap<String, u64>,
    pub succeeded: BTreeMap<String, u64>,
    pub restarts: u64,
    pub events: u64,
    pub credited: u64,
    pub withdrawals_confirmed: u64,
    pub withdrawals_refunded: u64,
    pub violations: Vec<Violation>,
}

impl Summary {
    pub fn add(&mut self, r: Result<Report, Violation>) {
        self.seeds += 1;
        match r {
            Ok(r) => {
                self.steps += r.steps as u64;
                for (k, v) in r.injected {
                    *self.injected.entry(k).or_default() += v;
                }
                for (k, v) in r.actions {
                    *self.actions.entry(k.to_string()).or_default() += v;
                }
                for (k, v) in r.succeeded {
                    *self.succeeded.entry(k.to_string()).or_default() += v;
                }
                self.restarts += r.restarts;
                self.events += r.events;
                self.credited += r.credited;
                self.withdrawals_confirmed += r.withdrawals_confirmed;
                self.withdrawals_refunded += r.withdrawals_refunded;
            }
            Err(v) => self.violations.push(v),
        }
    }

    pub fn print(&self) {
        println!("seeds: {}  steps: {}  violations: {}", self.seeds, self.steps, self.violations.len());
        println!(
            "host crashes/restarts: {}  events: {}  deposits credited: {}  withdrawals confirmed: {}  refunded after failure: {}",
            self.restarts, self.events, self.credited, self.withdrawals_confirmed, self.withdrawals_refunded
        );
        println!("faults injected:");
        for (k, v) in &self.injected {
            println!("  {k:<36} {v}");
        }
        println!("actions (gateway calls: tried / succeeded):");
        for (k, v) in &self.actions {
            match self.succeeded.get(k) {
                Some(ok) => println!("  {k:<36} {v} / {ok}"),
                None => println!("  {k:<36} {v}"),
            }
        }
        for v in &self.violations {
            println!("{v}");
        }
    }
}
