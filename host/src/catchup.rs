//! Progress of a long history catch-up, for the log: how far, how fast, how long left.
//! Fed with each tick's report; says nothing while the scan keeps up.

use std::time::{Duration, Instant};

/// Behind by more than this many operations counts as catching up.
const CATCHING_UP_ABOVE: u64 = 1_000;
/// At most one progress line this often.
const EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct CatchUp {
    /// Since the catch-up began: when, and operations applied.
    started: Option<(Instant, u64)>,
    last_line: Option<Instant>,
}

/// One progress line's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub scanned: u64,
    pub behind: u64,
    pub ops_per_sec: f64,
    /// `None` until a rate is known.
    pub eta: Option<Duration>,
}

impl CatchUp {
    /// Records one tick at `now`; the figures when a progress line is due.
    pub fn observe(&mut self, now: Instant, scanned: u32, behind: u64) -> Option<Progress> {
        let Some((since, total)) = self.started.as_mut() else {
            if behind > CATCHING_UP_ABOVE {
                self.started = Some((now, u64::from(scanned)));
                self.last_line = Some(now);
                tracing::info!(behind, "catching up on the gateway account's history");
            }
            return None;
        };
        *total += u64::from(scanned);
        let elapsed = now.saturating_duration_since(*since).as_secs_f64();
        let rate = if elapsed > 0.0 { *total as f64 / elapsed } else { 0.0 };
        let progress = Progress {
            scanned: *total,
            behind,
            ops_per_sec: rate,
            eta: (rate > 0.0).then(|| Duration::from_secs_f64(behind as f64 / rate)),
        };
        if behind <= CATCHING_UP_ABOVE {
            tracing::info!(scanned = progress.scanned, ops_per_sec = rate.round(), secs = elapsed.round(), "caught up with the gateway account's history");
            *self = CatchUp::default();
            return None;
        }
        if self.last_line.is_some_and(|t| now.saturating_duration_since(t) < EVERY) {
            return None;
        }
        self.last_line = Some(now);
        tracing::info!(
            scanned = progress.scanned,
            behind,
            ops_per_sec = rate.round(),
            eta_secs = progress.eta.map(|d| d.as_secs()),
            "catching up on history"
        );
        Some(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_rate_and_time_left_while_far_behind() {
        let t0 = Instant::now();
        let mut c = CatchUp::default();
        // Keeping up: nothing to say.
        assert_eq!(c.observe(t0, 3, 5), None);
        // Far behind: the catch-up starts (its first line is the start notice).
        assert_eq!(c.observe(t0, 5_000, 95_000), None);
        // 10,000 more in 5 s: 15,000 in 5 s overall (the first tick's ops count too).
        let p = c.observe(t0 + Duration::from_secs(5), 10_000, 85_000).expect("a line is due");
        assert_eq!(p.scanned, 15_000);
        assert_eq!(p.ops_per_sec, 3_000.0);
        assert_eq!(p.eta, Some(Duration::from_secs_f64(85_000.0 / 3_000.0)));
        // Not again within 5 s.
        assert_eq!(c.observe(t0 + Duration::from_secs(6), 3_000, 82_000), None);
        // Caught up: the catch-up ends, and a new one starts afresh.
        assert_eq!(c.observe(t0 + Duration::from_secs(7), 82_000, 10), None);
        assert!(c.started.is_none());
    }
}
