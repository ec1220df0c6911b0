//! Who may make a cabinet request now: a token bucket and a cap on requests in flight
//! per session (the player) and per peer address (a script rotating sessions from one
//! machine), checked before the body is read. The cabinet's calls also have their own
//! share of the gateway's instances (`AppState::cabinet_calls`), so players, however
//! many or hostile, never take the game server's and the operator's.
//!
//! Behind a reverse proxy every player has the proxy's address: the per-peer limits then
//! bound the whole cabinet, and should be raised (or the per-session ones relied on).
//!
//! An IPv6 peer is its /64 (one host commonly holds the whole prefix, so a script could
//! otherwise take a new address a request). Each map is capped: a request never costs
//! more than one sweep of it a second, and a key that finds no room is let in untracked,
//! as a new key would be (refusing it would let a flood lock out every new player).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The cabinet's limits (`[cabinet.limits]`); 0 in a field means its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionLimits {
    /// Requests a session may make per minute, sustained (default 300)…
    pub session_per_minute: u32,
    /// …and at once after a pause (default 60).
    pub session_burst: u32,
    /// Requests of one session in progress at once, long polls apart (default 4).
    pub session_in_flight: u32,
    /// The same per peer address, long polls included (defaults 600, 120 and 32).
    pub peer_per_minute: u32,
    pub peer_burst: u32,
    pub peer_in_flight: u32,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            session_per_minute: 300,
            session_burst: 60,
            session_in_flight: 4,
            peer_per_minute: 600,
            peer_burst: 120,
            peer_in_flight: 32,
        }
    }
}

impl AdmissionLimits {
    /// Zeroes replaced by the defaults.
    pub fn or_defaults(self) -> Self {
        let d = AdmissionLimits::default();
        let pick = |v: u32, d: u32| if v == 0 { d } else { v };
        AdmissionLimits {
            session_per_minute: pick(self.session_per_minute, d.session_per_minute),
            session_burst: pick(self.session_burst, d.session_burst),
            session_in_flight: pick(self.session_in_flight, d.session_in_flight),
            peer_per_minute: pick(self.peer_per_minute, d.peer_per_minute),
            peer_burst: pick(self.peer_burst, d.peer_burst),
            peer_in_flight: pick(self.peer_in_flight, d.peer_in_flight),
        }
    }
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The bucket is empty: come back after this long.
    TooFast { retry_after_ms: u64 },
    /// Too many requests of this session or peer are in progress.
    TooMany,
}

/// Keys tracked at most (sessions and peers each); past it, idle ones are forgotten
/// (an idle key with a full bucket is the same as a new one).
const MAX_KEYS: usize = 100_000;

/// A full map is swept for idle keys at most this often.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Bucket levels in thousandths of a request, so refills are exact integers.
const MILLI: u64 = 1_000;

struct Bucket {
    level: u64,
    at: Instant,
    in_flight: u32,
}

struct Keyed<K> {
    per_minute: u64,
    burst: u64,
    in_flight: u32,
    map: HashMap<K, Bucket>,
    capacity: usize,
    last_sweep: Option<Instant>,
    sweeps: u64,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(per_minute: u32, burst: u32, in_flight: u32) -> Self {
        Keyed { per_minute: per_minute as u64, burst: burst as u64 * MILLI, in_flight, map: HashMap::new(), capacity: MAX_KEYS, last_sweep: None, sweeps: 0 }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed_ms = now.saturating_duration_since(b.at).as_millis().min(u64::MAX as u128) as u64;
        // per_minute requests a minute = per_minute thousandths a 60 ms.
        let gained = elapsed_ms.saturating_mul(self.per_minute) / 60;
        b.level = b.level.saturating_add(gained).min(self.burst);
        b.at = now;
    }

    /// Whether `key` may start a request now (nothing is taken).
    fn check(&mut self, key: &K, now: Instant) -> Result<(), Refusal> {
        self.check_as(key, now, false)
    }

    /// [`Keyed::check`]; a request that holds no in-flight place only needs a token.
    fn check_as(&mut self, key: &K, now: Instant, no_place: bool) -> Result<(), Refusal> {
        let Some(b) = self.map.get(key) else { return Ok(()) };
        let mut b = Bucket { level: b.level, at: b.at, in_flight: b.in_flight };
        self.refill(&mut b, now);
        if !no_place && b.in_flight >= self.in_flight {
            return Err(Refusal::TooMany);
        }
        if b.level < MILLI {
            let missing = MILLI - b.level;
            return Err(Refusal::TooFast { retry_after_ms: (missing * 60).div_ceil(self.per_minute.max(1)) });
        }
        Ok(())
    }

    fn take(&mut self, key: &K, now: Instant) {
        self.take_as(key, now, false)
    }

    fn take_as(&mut self, key: &K, now: Instant, no_place: bool) {
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            if self.last_sweep.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY) {
                self.forget_idle(now);
            }
            if self.map.len() >= self.capacity {
                return; // untracked: as a new key, with a full bucket
            }
        }
        let burst = self.burst;
        let mut b = self.map.remove(key).unwrap_or(Bucket { level: burst, at: now, in_flight: 0 });
        self.refill(&mut b, now);
        b.level -= MILLI;
        b.in_flight += u32::from(!no_place);
        self.map.insert(key.clone(), b);
    }

    fn done(&mut self, key: &K) {
        if let Some(b) = self.map.get_mut(key) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }

    fn forget_idle(&mut self, now: Instant) {
        self.last_sweep = Some(now);
        self.sweeps += 1;
        let (per_minute, burst) = (self.per_minute, self.burst);
        self.map.retain(|_, b| {
            let elapsed_ms = now.saturating_duration_since(b.at).as_millis().min(u64::MAX as u128) as u64;
            let full = b.level.saturating_add(elapsed_ms.saturating_mul(per_minute) / 60) >= burst;
            b.in_flight > 0 || !full
        });
    }
}

struct Books {
    sessions: Keyed<String>,
    peers: Keyed<IpAddr>,
}

/// The key a peer is limited by: an IPv4 address (an IPv4-mapped IPv6 one as itself), or
/// an IPv6 address's /64.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
        v4 => v4,
    }
}

/// The cabinet's admission control, shared by its requests.
#[derive(Clone)]
pub struct Admission {
    books: Arc<Mutex<Books>>,
}

/// A request let in: its in-flight places are given back when it is dropped.
pub struct Admitted {
    books: Arc<Mutex<Books>>,
    /// The session whose in-flight place it holds (none for a long poll).
    session: Option<String>,
    peer: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = &self.session {
            b.sessions.done(s);
        }
        if let Some(p) = &self.peer {
            b.peers.done(p);
        }
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        let l = limits.or_defaults();
        Admission {
            books: Arc::new(Mutex::new(Books {
                sessions: Keyed::new(l.session_per_minute, l.session_burst, l.session_in_flight),
                peers: Keyed::new(l.peer_per_minute, l.peer_burst, l.peer_in_flight),
            })),
        }
    }

    /// Lets a request of `session` from `peer` in, or says why not. Both limits are
    /// checked before either is charged, so a refusal costs the other nothing.
    pub fn admit(&self, session: &str, peer: Option<IpAddr>, now: Instant) -> Result<Admitted, Refusal> {
        self.admit_as(session, peer, now, false)
    }

    /// [`Admission::admit`] for a long poll: it is charged to both buckets and holds its
    /// peer's place, but not one of the session's, whose few places are for what the
    /// player clicks (a page left behind by a reload keeps its poll until it ends).
    pub fn admit_long_poll(&self, session: &str, peer: Option<IpAddr>, now: Instant) -> Result<Admitted, Refusal> {
        self.admit_as(session, peer, now, true)
    }

    fn admit_as(&self, session: &str, peer: Option<IpAddr>, now: Instant, long_poll: bool) -> Result<Admitted, Refusal> {
        let peer = peer.map(peer_key);
        let mut b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        let session_key = session.to_string();
        if let Some(p) = &peer {
            b.peers.check(p, now)?;
        }
        b.sessions.check_as(&session_key, now, long_poll)?;
        if let Some(p) = &peer {
            b.peers.take(p, now);
        }
        b.sessions.take_as(&session_key, now, long_poll);
        Ok(Admitted { books: self.books.clone(), session: (!long_poll).then_some(session_key), peer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            session_per_minute: 60,
            session_burst: 3,
            session_in_flight: 2,
            peer_per_minute: 600,
            peer_burst: 5,
            peer_in_flight: 4,
        }
    }

    #[test]
    fn a_session_gets_its_burst_then_its_rate() {
        let a = Admission::new(limits());
        let t0 = Instant::now();
        let peer = Some("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            drop(a.admit("alice", peer, t0).unwrap());
        }
        assert_eq!(a.admit("alice", peer, t0).err(), Some(Refusal::TooFast { retry_after_ms: 1_000 }));
        // Another session is not affected (the peer's bucket is larger).
        drop(a.admit("bob", peer, t0).unwrap());
        // One a second comes back (60 a minute).
        assert_eq!(a.admit("alice", peer, t0 + Duration::from_millis(400)).err(), Some(Refusal::TooFast { retry_after_ms: 600 }));
        drop(a.admit("alice", peer, t0 + Duration::from_secs(1)).unwrap());
    }

    #[test]
    fn requests_in_flight_are_capped_and_given_back() {
        let a = Admission::new(limits());
        let t0 = Instant::now();
        let one = a.admit("alice", None, t0).unwrap();
        let _two = a.admit("alice", None, t0).unwrap();
        assert_eq!(a.admit("alice", None, t0).err(), Some(Refusal::TooMany));
        drop(one);
        assert!(a.admit("alice", None, t0).is_ok());
    }

    #[test]
    fn long_polls_do_not_take_the_sessions_places() {
        let a = Admission::new(limits());
        let t0 = Instant::now();
        let polls: Vec<_> = (0..2).map(|_| a.admit_long_poll("alice", None, t0).unwrap()).collect();
        // Both places are still the player's…
        let one = a.admit("alice", None, t0 + Duration::from_secs(2)).unwrap();
        let _two = a.admit("alice", None, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(a.admit("alice", None, t0 + Duration::from_secs(2)).err(), Some(Refusal::TooMany));
        drop(one);
        drop(polls);
        // …and polls still cost tokens and the peer's places.
        let peer = Some("192.0.2.9".parse().unwrap());
        let held: Vec<_> = (0..4).map(|i| a.admit_long_poll(&format!("p{i}"), peer, t0).unwrap()).collect();
        assert_eq!(a.admit_long_poll("p9", peer, t0).err(), Some(Refusal::TooMany));
        drop(held);
    }

    #[test]
    fn a_peer_rotating_sessions_is_held_by_its_address() {
        let a = Admission::new(limits());
        let t0 = Instant::now();
        let peer = Some("192.0.2.7".parse().unwrap());
        let held: Vec<_> = (0..4).map(|i| a.admit(&format!("s{i}"), peer, t0).unwrap()).collect();
        assert_eq!(a.admit("s9", peer, t0).err(), Some(Refusal::TooMany));
        // The refusal charged the new session nothing.
        drop(held);
        let _ = a.admit("s9", peer, t0).unwrap();
        assert_eq!(a.admit("s10", peer, t0).err(), Some(Refusal::TooFast { retry_after_ms: 100 }));
        assert!(a.admit("s10", Some("192.0.2.8".parse().unwrap()), t0).is_ok());
    }

    #[test]
    fn an_ipv6_peer_is_held_by_its_prefix_and_a_mapped_ipv4_by_its_address() {
        let a = Admission::new(limits());
        let t0 = Instant::now();
        // A new address a request inside one /64: one peer's five.
        for i in 0..5 {
            drop(a.admit(&format!("s{i}"), Some(format!("2001:db8:1:2::{i:x}").parse().unwrap()), t0).unwrap());
        }
        assert_eq!(a.admit("s9", Some("2001:db8:1:2:ffff::1".parse().unwrap()), t0).err(), Some(Refusal::TooFast { retry_after_ms: 100 }));
        assert!(a.admit("s9", Some("2001:db8:1:3::1".parse().unwrap()), t0).is_ok(), "the next /64 is another peer");
        for i in 0..5 {
            drop(a.admit(&format!("m{i}"), Some("::ffff:192.0.2.44".parse().unwrap()), t0).unwrap());
        }
        assert!(a.admit("m9", Some("192.0.2.44".parse().unwrap()), t0).is_err(), "mapped and plain IPv4 are one peer");
    }

    #[test]
    fn a_full_map_stays_full_sized_and_is_swept_at_most_once_a_second() {
        let mut k: Keyed<u32> = Keyed::new(60, 3, 2);
        k.capacity = 1_000;
        let t0 = Instant::now();
        // Every key busy (a request in flight): nothing can be forgotten.
        for i in 0..1_000 {
            k.take(&i, t0);
        }
        for i in 1_000..50_000 {
            k.check(&i, t0).unwrap();
            k.take(&i, t0);
        }
        assert_eq!(k.map.len(), 1_000, "capped");
        assert_eq!(k.sweeps, 1, "one sweep for 49,000 new keys within the second");
        // Untracked keys are let in as new ones, and giving their place back is harmless.
        k.done(&49_999);
        // A second later, one more sweep; once requests end, their keys can go.
        for i in 0..1_000 {
            k.done(&i);
        }
        let later = t0 + Duration::from_secs(61);
        k.take(&60_000, later);
        assert_eq!(k.sweeps, 2);
        assert_eq!(k.map.len(), 1, "the idle keys forgotten, the new one tracked");
    }
}
