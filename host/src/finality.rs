//! When the timer should tick besides the component's own schedule: when the node's
//! last irreversible block moves. One `get_dynamic_global_properties` per block, timed
//! for just after the next block is due, so a deposit is credited about one block after
//! it becomes irreversible instead of up to a whole tick interval later.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::node::Node;

/// Assumed when the node does not say (config.hpp `GRAPHENE_DEFAULT_BLOCK_INTERVAL`).
const DEFAULT_BLOCK_INTERVAL: Duration = Duration::from_secs(5);
/// After the next block is due, before asking: a block takes a moment to arrive.
const AFTER_BLOCK: Duration = Duration::from_millis(300);

pub struct FinalityWatch {
    /// Read from the chain's global properties at the first poll.
    block_interval: Option<Duration>,
    next_poll: Instant,
    last_irreversible: Option<u64>,
}

impl Default for FinalityWatch {
    fn default() -> Self {
        FinalityWatch { block_interval: None, next_poll: Instant::now(), last_irreversible: None }
    }
}

impl FinalityWatch {
    fn block_interval(&mut self, node: &dyn Node) -> Duration {
        *self.block_interval.get_or_insert_with(|| {
            node.call("database", "get_global_properties", "[]")
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|v| int(&v["parameters"]["block_interval"]))
                .filter(|s| (1..=60).contains(s))
                .map_or(DEFAULT_BLOCK_INTERVAL, Duration::from_secs)
        })
    }

    /// Asks the node when a poll is due; true when the irreversible block moved since the
    /// last answer. Node errors are ignored here: the next tick reports them.
    pub fn moved(&mut self, node: &dyn Node) -> bool {
        let now = Instant::now();
        if now < self.next_poll {
            return false;
        }
        let interval = self.block_interval(node);
        self.next_poll = now + interval;
        let Some(dgp) = node.call("database", "get_dynamic_global_properties", "[]").ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
        else {
            return false;
        };
        // Aim the next poll just after the next block is due, when the chain clock is the
        // wall clock (otherwise once per block interval from now).
        if let (Some(head), Ok(wall)) = (dgp["time"].as_str().and_then(unix_seconds), SystemTime::now().duration_since(UNIX_EPOCH)) {
            let due = Duration::from_secs(head) + interval + AFTER_BLOCK;
            if let Some(wait) = due.checked_sub(wall).filter(|w| *w <= interval + AFTER_BLOCK) {
                self.next_poll = now + wait;
            }
        }
        let Some(lib) = int(&dgp["last_irreversible_block_num"]) else { return false };
        let moved = self.last_irreversible.is_some_and(|last| lib > last);
        self.last_irreversible = Some(self.last_irreversible.map_or(lib, |last| last.max(lib)));
        moved
    }
}

fn int(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// `2026-11-23T04:51:19` (a node's UTC time) as Unix seconds.
fn unix_seconds(text: &str) -> Option<u64> {
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.trim_end_matches('Z').split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3_600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::unix_seconds;

    #[test]
    fn node_times_are_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00"), Some(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:00"), Some(951_868_800));
        assert_eq!(unix_seconds("2026-11-23T04:51:19"), Some(1_795_409_479));
        assert_eq!(unix_seconds("2024-02-29T23:59:59"), Some(1_709_251_199));
        for bad in ["", "2026-11-23", "2026-13-01T00:00:00", "2026-11-23T24:00:00", "x-y-zTa:b:c"] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }
}
