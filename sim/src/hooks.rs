//! The runtime's simulation hooks: every instance's `wasi:random` comes from the seed,
//! and any import call may trap (the instance dies there, as in a crash of it), or,
//! when a host crash is armed, the trap also takes the whole host process down.

use cwd_gateway_host::runtime::SimulationHooks;

use crate::faults::Faults;
use crate::rng::Rng;

pub struct SimHooks {
    pub faults: Faults,
}

impl SimulationHooks for SimHooks {
    fn random_source(&self) -> Box<dyn FnMut(&mut [u8]) + Send> {
        let mut rng = Rng::new(self.faults.draw());
        Box::new(move |buf| rng.fill(buf))
    }

    fn trap_import(&self, import: &str, after: bool) -> bool {
        let _ = import;
        {
            let mut s = self.faults.state();
            if let (true, false, Some(n)) = (s.active, s.in_second_host, s.crash_in) {
                if n > 0 {
                    s.crash_in = Some(n - 1);
                } else {
                    s.crash_in = None;
                    s.crashed = true;
                    drop(s);
                    self.faults.count(if after { "host-crash-after-import" } else { "host-crash-before-import" });
                    return true;
                }
            }
            // A crashed host runs nothing more: every later import of its call traps too.
            if s.crashed && !s.in_second_host {
                return true;
            }
        }
        self.faults.fire(if after { "trap-after-import" } else { "trap-before-import" }, self.faults.rates.trap)
    }
}
