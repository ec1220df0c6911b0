//! When the timer should tick besides the component's own schedule: when the node's
//! last irreversible block moves. One `get_dynamic_global_properties` per block: when
//! the node announces its blocks (a WebSocket node's `set_block_applied_callback`
//! notices), after each notice; otherwise timed for just after the next block is due.
//! Either way a deposit is credited about one block after it becomes irreversible
//! instead of up to a whole tick interval later.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::node::Node;

/// Assumed when the node does not say (config.hpp `GRAPHENE_DEFAULT_BLOCK_INTERVAL`).
const DEFAULT_BLOCK_INTERVAL: Duration = Duration::from_secs(5);
/// After the next block is due, before asking: a block takes a moment to arrive.
const AFTER_BLOCK: Duration = Duration::from_millis(300);
/// A poll that finds no new head block (it came late, or the clocks disagree) asks
/// again after a fraction of the interval, at most this many times before the next
/// whole interval: a late block costs a few calls, not an interval of latency.
const LATE_RETRIES: u32 = 2;
const LATE_RETRY_FRACTION: u32 = 4;
/// A node that announces its blocks is still asked this often without a notice: a
/// notice lost on the way must not stall crediting.
const ANNOUNCED_FALLBACK: Duration = Duration::from_secs(30);

pub struct FinalityWatch {
    /// Read from the chain's global properties at the first poll.
    block_interval: Option<Duration>,
    next_poll: Instant,
    last_irreversible: Option<u64>,
    last_head: Option<u64>,
    /// Polls in a row that found the head where it was.
    misses: u32,
    /// The node's count of announced blocks at the last look.
    announced: Option<u64>,
}

impl Default for FinalityWatch {
    fn default() -> Self {
        FinalityWatch { block_interval: None, next_poll: Instant::now(), last_irreversible: None, last_head: None, misses: 0, announced: None }
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
        if let Some(count) = node.blocks_announced() {
            let news = self.announced != Some(count);
            if !news && now < self.next_poll {
                return false;
            }
            self.announced = Some(count);
            self.next_poll = now + ANNOUNCED_FALLBACK;
            let Some(dgp) = dynamic_properties(node) else { return false };
            self.last_head = int(&dgp["head_block_number"]);
            self.misses = 0;
            return self.irreversible_moved(&dgp);
        }
        self.announced = None;
        if now < self.next_poll {
            return false;
        }
        let interval = self.block_interval(node);
        self.next_poll = now + interval;
        let Some(dgp) = dynamic_properties(node) else {
            return false;
        };
        let head = int(&dgp["head_block_number"]);
        if head.is_some() && head == self.last_head {
            // The block this poll was aimed at has not come yet.
            if self.misses < LATE_RETRIES {
                self.next_poll = now + interval / LATE_RETRY_FRACTION;
            }
            self.misses += 1;
        } else {
            self.misses = 0;
            self.last_head = head;
            // Aim the next poll just after the next block is due, when the chain clock is
            // the wall clock (otherwise once per block interval from now).
            if let (Some(head), Ok(wall)) = (dgp["time"].as_str().and_then(unix_seconds), SystemTime::now().duration_since(UNIX_EPOCH)) {
                let due = Duration::from_secs(head) + interval + AFTER_BLOCK;
                if let Some(wait) = due.checked_sub(wall).filter(|w| *w <= interval + AFTER_BLOCK) {
                    self.next_poll = now + wait;
                }
            }
        }
        self.irreversible_moved(&dgp)
    }

    fn irreversible_moved(&mut self, dgp: &Value) -> bool {
        let Some(lib) = int(&dgp["last_irreversible_block_num"]) else { return false };
        let moved = self.last_irreversible.is_some_and(|last| lib > last);
        self.last_irreversible = Some(self.last_irreversible.map_or(lib, |last| last.max(lib)));
        moved
    }
}

fn dynamic_properties(node: &dyn Node) -> Option<Value> {
    node.call("database", "get_dynamic_global_properties", "[]").ok().and_then(|t| serde_json::from_str(&t).ok())
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
    use super::*;
    use crate::node::NodeError;
    use std::sync::Mutex;

    /// A node whose head and irreversible block the test sets; counts its polls.
    struct Chain {
        head: Mutex<(u64, u64, u64)>, // (head number, head time, irreversible)
        polls: Mutex<u32>,
    }

    impl Node for Chain {
        fn call(&self, _api: &str, method: &str, _params: &str) -> Result<String, NodeError> {
            match method {
                "get_global_properties" => Ok(r#"{"parameters":{"block_interval":1}}"#.into()),
                _ => {
                    *self.polls.lock().unwrap() += 1;
                    let (head, time, lib) = *self.head.lock().unwrap();
                    let secs = time % 86_400;
                    let t = format!("2026-12-02T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
                    Ok(format!(r#"{{"head_block_number":{head},"time":"{t}","last_irreversible_block_num":{lib}}}"#))
                }
            }
        }
    }

    #[test]
    fn a_late_block_is_asked_for_again_soon_and_only_a_few_times() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let chain = Chain { head: Mutex::new((10, now, 5)), polls: Mutex::new(0) };
        let mut watch = FinalityWatch::default();
        assert!(!watch.moved(&chain), "the first answer only sets where the chain is");
        // The same head again: the block is late; the next poll comes after a quarter
        // of the interval, not a whole one.
        watch.next_poll = Instant::now();
        assert!(!watch.moved(&chain));
        assert!(watch.next_poll <= Instant::now() + Duration::from_millis(250));
        watch.next_poll = Instant::now();
        assert!(!watch.moved(&chain));
        assert!(watch.next_poll <= Instant::now() + Duration::from_millis(250));
        // Past the retries (a halted chain): back to once an interval.
        watch.next_poll = Instant::now();
        assert!(!watch.moved(&chain));
        assert!(watch.next_poll > Instant::now() + Duration::from_millis(900));
        // The block comes and the irreversible one moves.
        *chain.head.lock().unwrap() = (11, now + 1, 6);
        watch.next_poll = Instant::now();
        assert!(watch.moved(&chain));
        assert_eq!(watch.misses, 0);
        // Until the next poll is due, nothing is asked.
        let polls = *chain.polls.lock().unwrap();
        assert!(!watch.moved(&chain));
        assert_eq!(*chain.polls.lock().unwrap(), polls);
    }

    /// A chain whose node announces its blocks.
    struct Announcing {
        chain: Chain,
        announced: Mutex<Option<u64>>,
    }

    impl Node for Announcing {
        fn call(&self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
            self.chain.call(api, method, params)
        }

        fn blocks_announced(&self) -> Option<u64> {
            *self.announced.lock().unwrap()
        }
    }

    #[test]
    fn a_node_that_announces_blocks_is_asked_after_each_notice_and_not_between() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let node = Announcing { chain: Chain { head: Mutex::new((10, now, 5)), polls: Mutex::new(0) }, announced: Mutex::new(Some(1)) };
        let polls = || *node.chain.polls.lock().unwrap();
        let mut watch = FinalityWatch::default();
        assert!(!watch.moved(&node));
        assert_eq!(polls(), 1);
        // No notice: nothing asked, however often the timer looks (the block interval,
        // 1 s here, would have polled).
        for _ in 0..5 {
            assert!(!watch.moved(&node));
        }
        assert_eq!(polls(), 1);
        // A block came, and with it the irreversible block moved: seen at once.
        *node.chain.head.lock().unwrap() = (11, now + 1, 6);
        *node.announced.lock().unwrap() = Some(2);
        assert!(watch.moved(&node));
        assert_eq!(polls(), 2);
        // A notice whose block left the irreversible block where it was.
        *node.chain.head.lock().unwrap() = (12, now + 2, 6);
        *node.announced.lock().unwrap() = Some(3);
        assert!(!watch.moved(&node));
        assert_eq!(polls(), 3);
        // The connection is lost (no announcements): back to polling on the interval.
        *node.announced.lock().unwrap() = None;
        watch.next_poll = Instant::now();
        *node.chain.head.lock().unwrap() = (13, now + 3, 7);
        assert!(watch.moved(&node));
    }

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
