//! The tick lease: when several hosts share one database, every host serves the API but
//! one at a time does the tick's work (scanning, sending withdrawals and sweeps). The
//! holder is named by one store entry, renewed before each tick and while idle; another
//! host takes it over when it has seen the entry unchanged for the lease duration (the
//! holder died or stalled).
//!
//! Lapse is judged by each contender's own monotonic clock from when it first saw the
//! entry's current version (as Kubernetes' leader election does), so the hosts' wall
//! clocks need not agree. A stalled holder may wake up after a takeover: it never acts
//! on its old lease because [`FencedStore`] adds "lease entry still at the version I
//! wrote" to every commit its tick instance makes, so its commits conflict (no
//! withdrawal is stored for broadcast, nothing is credited). Re-broadcasting bytes
//! already stored is harmless: the chain knows a transaction by its id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::store::{CommitOutcome, Entry, Precondition, Store, StoreError, Write};

/// The store key of the lease; outside the component's key space.
pub const LEASE_KEY: &str = "host/tick-lease";

/// Long enough for a slow tick, short enough that a dead holder's work waits little.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// This host's name, unique among the hosts sharing the database.
    pub holder: String,
    /// A holder that has not renewed for this long is taken over.
    pub duration: Duration,
}

/// The machine's name and the default duration: what `cwd-gateway run` uses unless
/// `[lease]` says otherwise. A service started again under the same name (a restarted
/// process) takes the lease back at once.
impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { holder: machine_name(), duration: DEFAULT_DURATION }
    }
}

impl LeaseConfig {
    /// How often the holder renews while idle.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    /// How often a standby host looks whether the lease has lapsed.
    pub fn poll_every(&self) -> Duration {
        (self.duration / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`).
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cwd-gateway".into())
}

/// The stored lease. `token` tells this process's writes from another process that
/// was given the same holder name; `seq` tells this process's writes apart.
#[derive(Serialize, Deserialize)]
struct Record {
    holder: String,
    token: String,
    seq: u64,
    duration_ms: u64,
    renewed_at_ms: u64,
}

fn decode(e: &Entry) -> Option<Record> {
    serde_json::from_slice(&e.value).ok()
}

/// What this host may do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// It holds the lease, whose entry is at this version.
    Holder(u64),
    /// Another host holds it (named when known).
    Standby(Option<String>),
}

/// For `/ready` and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct LeaseStatus {
    pub this_host: String,
    /// The holder as last read.
    pub holder: Option<String>,
    pub held: bool,
    /// Times this host took the lease over from another holder.
    pub takeovers: u64,
    /// When the lease entry was last read or written successfully.
    pub last_ok: Option<Instant>,
    pub last_error: Option<String>,
}

struct Held {
    version: u64,
    /// Taken before the renewing commit was sent.
    renewed: Instant,
}

struct State {
    seq: u64,
    held: Option<Held>,
    /// The version of another holder's entry and when this host first saw it.
    observed: Option<(u64, Instant)>,
    /// False until the first attempt: a record under this host's own name found then is
    /// this host's previous process, taken back at once.
    attempted: bool,
    warned_same_name: bool,
}

pub struct Lease {
    store: Arc<dyn Store>,
    config: LeaseConfig,
    token: String,
    state: Mutex<State>,
    status: Mutex<LeaseStatus>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn process_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:016x}", h.finish())
}

impl Lease {
    pub fn new(store: Arc<dyn Store>, config: LeaseConfig) -> Self {
        let status = LeaseStatus { this_host: config.holder.clone(), ..Default::default() };
        Lease {
            store,
            config,
            token: process_token(),
            state: Mutex::new(State { seq: 0, held: None, observed: None, attempted: false, warned_same_name: false }),
            status: Mutex::new(status),
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    pub fn status(&self) -> LeaseStatus {
        lock(&self.status).clone()
    }

    /// Whether this host held the lease at its last renewal, and the renewal is due.
    pub fn renewal_due(&self) -> bool {
        lock(&self.state).held.as_ref().is_some_and(|h| h.renewed.elapsed() >= self.config.renew_every())
    }

    pub fn held(&self) -> bool {
        lock(&self.state).held.as_ref().is_some_and(|h| h.renewed.elapsed() < self.config.duration)
    }

    /// Renews the lease if this host holds it, takes it if it is free or has lapsed,
    /// else says who holds it.
    pub fn acquire(&self, now_ms: u64) -> Result<Role, StoreError> {
        let result = self.try_acquire(now_ms);
        let mut status = lock(&self.status);
        match &result {
            Ok(role) => {
                status.last_ok = Some(Instant::now());
                status.last_error = None;
                status.held = matches!(role, Role::Holder(_));
                status.holder = match role {
                    Role::Holder(_) => Some(self.config.holder.clone()),
                    Role::Standby(h) => h.clone(),
                };
            }
            Err(e) => {
                status.held = false;
                status.last_error = Some(e.to_string());
            }
        }
        result
    }

    fn try_acquire(&self, now_ms: u64) -> Result<Role, StoreError> {
        let mut st = lock(&self.state);
        // A restarted process takes its own name's lease back at once, on its first
        // attempt that reaches the store: one failing on a store error does not count
        // (it would otherwise wait a whole lease duration behind its former self).
        let first = !st.attempted;
        let current = match self.store.get(LEASE_KEY) {
            Ok(c) => c,
            Err(e) => {
                st.held = None;
                return Err(e);
            }
        };
        let record = current.as_ref().and_then(decode);
        let holder_name = record.as_ref().map(|r| r.holder.clone());
        let mine = record.as_ref().is_some_and(|r| r.token == self.token);
        let expected = match (&current, &record) {
            (None, _) => Some(None),
            (Some(e), _) if mine => Some(Some(e.version)),
            (Some(e), Some(r)) if first && r.holder == self.config.holder => Some(Some(e.version)),
            (Some(e), r) => {
                if r.as_ref().is_some_and(|r| r.holder == self.config.holder) && !st.warned_same_name {
                    st.warned_same_name = true;
                    tracing::error!(holder = %self.config.holder, "another process holds the tick lease under this host's name: give each host its own [lease] holder");
                }
                match st.observed {
                    Some((v, since)) if v == e.version && since.elapsed() >= self.config.duration => Some(Some(e.version)),
                    Some((v, _)) if v == e.version => None,
                    _ => {
                        st.observed = Some((e.version, Instant::now()));
                        None
                    }
                }
            }
        };
        let Some(expected) = expected else {
            st.attempted = true;
            if st.held.take().is_some() {
                tracing::warn!(holder = ?holder_name, "this host lost the tick lease; another host does the tick's work now");
            }
            return Ok(Role::Standby(holder_name));
        };
        let takeover = current.is_some() && !mine;
        st.seq += 1;
        let record = Record {
            holder: self.config.holder.clone(),
            token: self.token.clone(),
            seq: st.seq,
            duration_ms: self.config.duration.as_millis() as u64,
            renewed_at_ms: now_ms,
        };
        let value = serde_json::to_vec(&record).expect("a lease record serializes");
        let started = Instant::now();
        let pre = Precondition { key: LEASE_KEY.into(), expected_version: expected };
        let outcome = self.store.commit(&[pre], &[Write { key: LEASE_KEY.into(), value: Some(value) }]);
        let lost = |st: &mut State| {
            if st.held.take().is_some() {
                tracing::warn!("this host lost the tick lease; another host does the tick's work now");
            }
            st.observed = None;
        };
        if outcome.is_ok() {
            st.attempted = true;
        }
        match outcome {
            Ok(CommitOutcome::Committed) => {}
            Ok(CommitOutcome::Conflict) => {
                lost(&mut st);
                return Ok(Role::Standby(None));
            }
            Err(e) => {
                lost(&mut st);
                return Err(e);
            }
        }
        // The commit does not say the new version: read it back, and make sure the
        // entry is still this write.
        let written = self.store.get(LEASE_KEY).inspect_err(|_| lost(&mut st))?;
        let Some(entry) = written.filter(|e| decode(e).is_some_and(|r| r.token == self.token && r.seq == st.seq)) else {
            lost(&mut st);
            return Ok(Role::Standby(None));
        };
        if takeover {
            lock(&self.status).takeovers += 1;
            tracing::warn!(from = ?holder_name, holder = %self.config.holder, "took over the tick lease");
        } else if st.held.is_none() {
            tracing::info!(holder = %self.config.holder, "holding the tick lease: this host does the tick's work");
        }
        st.held = Some(Held { version: entry.version, renewed: started });
        st.observed = None;
        Ok(Role::Holder(entry.version))
    }

    /// Gives the lease up (a clean stop), so that another host takes it at once.
    pub fn release(&self) {
        let mut st = lock(&self.state);
        if let Some(h) = st.held.take() {
            let pre = Precondition { key: LEASE_KEY.into(), expected_version: Some(h.version) };
            match self.store.commit(&[pre], &[Write { key: LEASE_KEY.into(), value: None }]) {
                Ok(_) => tracing::info!("released the tick lease"),
                Err(e) => tracing::warn!(error = %e, "releasing the tick lease failed; another host takes it over when it lapses"),
            }
            lock(&self.status).held = false;
        }
    }
}

/// The store as the tick instance sees it: every commit also requires the lease entry
/// to be at the version this host last wrote (`fence`; 0 while it holds no lease, when
/// commits are refused). A commit that conflicts because the lease moved is answered
/// with an error, so that the tick stops at once instead of retrying.
pub struct FencedStore {
    inner: Arc<dyn Store>,
    fence: Arc<AtomicU64>,
}

impl FencedStore {
    pub fn new(inner: Arc<dyn Store>, fence: Arc<AtomicU64>) -> Self {
        FencedStore { inner, fence }
    }
}

impl Store for FencedStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.inner.get(key)
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(prefix, start_after, limit)
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_reverse(prefix, start_before, limit)
    }

    fn reads_are_brief(&self) -> bool {
        self.inner.reads_are_brief()
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let fence = self.fence.load(Ordering::SeqCst);
        if fence == 0 {
            return Err(StoreError("this host does not hold the tick lease: another host does the tick's work".into()));
        }
        let mut pre = preconditions.to_vec();
        pre.push(Precondition { key: LEASE_KEY.into(), expected_version: Some(fence) });
        match self.inner.commit(&pre, writes)? {
            CommitOutcome::Committed => Ok(CommitOutcome::Committed),
            CommitOutcome::Conflict => match self.inner.get(LEASE_KEY)? {
                Some(e) if e.version == fence => Ok(CommitOutcome::Conflict),
                _ => {
                    let _ = self.fence.compare_exchange(fence, 0, Ordering::SeqCst, Ordering::SeqCst);
                    Err(StoreError("this host lost the tick lease: another host does the tick's work now".into()))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn lease(store: &Arc<dyn Store>, name: &str, ms: u64) -> Lease {
        Lease::new(store.clone(), LeaseConfig { holder: name.into(), duration: Duration::from_millis(ms) })
    }

    #[test]
    fn one_holder_then_takeover_after_lapse_and_the_old_holder_is_fenced() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (a, b) = (lease(&store, "a", 200), lease(&store, "b", 200));
        let Role::Holder(va) = a.acquire(0).unwrap() else { panic!("a free lease is taken") };
        assert_eq!(b.acquire(0).unwrap(), Role::Standby(Some("a".into())));
        // A renewal keeps it; the standby's clock restarts at each new version.
        let Role::Holder(va2) = a.acquire(1).unwrap() else { panic!("renewed") };
        assert!(va2 > va);
        assert!(matches!(b.acquire(1).unwrap(), Role::Standby(_)));
        let fence_a = Arc::new(AtomicU64::new(va2));
        let fenced_a = FencedStore::new(store.clone(), fence_a.clone());
        let w = |v: &str| [Write { key: "k".into(), value: Some(v.as_bytes().to_vec()) }];
        assert_eq!(fenced_a.commit(&[], &w("1")).unwrap(), CommitOutcome::Committed);
        // a stalls; b sees the entry unchanged for the duration and takes over.
        std::thread::sleep(Duration::from_millis(250));
        let Role::Holder(_) = b.acquire(2).unwrap() else { panic!("a lapsed lease is taken over") };
        assert_eq!(b.status().takeovers, 1);
        // a's tick, still running, cannot commit any more.
        let e = fenced_a.commit(&[], &w("2")).unwrap_err();
        assert!(e.0.contains("lost the tick lease"), "{e}");
        assert_eq!(fence_a.load(Ordering::SeqCst), 0);
        assert_eq!(store.get("k").unwrap().unwrap().value, b"1");
        // And a learns it is standby at its next renewal.
        assert_eq!(a.acquire(3).unwrap(), Role::Standby(Some("b".into())));
        assert!(!a.held());
    }

    #[test]
    fn a_restarted_process_takes_its_own_lease_back_and_release_frees_it() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let old = lease(&store, "host-1", 60_000);
        assert!(matches!(old.acquire(0).unwrap(), Role::Holder(_)));
        drop(old); // killed: no release
        let new = lease(&store, "host-1", 60_000);
        assert!(matches!(new.acquire(1).unwrap(), Role::Holder(_)), "same name, first attempt: no wait");
        let other = lease(&store, "host-2", 60_000);
        assert!(matches!(other.acquire(2).unwrap(), Role::Standby(_)));
        new.release();
        assert!(matches!(other.acquire(3).unwrap(), Role::Holder(_)), "a released lease is taken at once");
    }

    /// Refuses its first `fail` commits (before writing).
    struct Flaky {
        inner: MemoryStore,
        fail: std::sync::atomic::AtomicU32,
    }

    impl Store for Flaky {
        fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
            self.inner.get(key)
        }
        fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
            self.inner.scan(prefix, start_after, limit)
        }
        fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
            self.inner.scan_reverse(prefix, start_before, limit)
        }
        fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError("database unavailable".into()));
            }
            self.inner.commit(preconditions, writes)
        }
    }

    /// Found by the simulator (seed 1320): a host restarted after a crash whose first
    /// lease attempt met a store error stayed standby behind its own former process.
    #[test]
    fn a_restarted_process_whose_first_attempt_fails_still_takes_its_lease_back() {
        let store: Arc<dyn Store> = Arc::new(Flaky { inner: MemoryStore::new(), fail: 0.into() });
        let old = lease(&store, "host-1", 60_000);
        assert!(matches!(old.acquire(0).unwrap(), Role::Holder(_)));
        drop(old); // killed: no release
        let flaky = Flaky { inner: MemoryStore::new(), fail: 1.into() };
        let entry = store.get(LEASE_KEY).unwrap().unwrap();
        flaky.inner.commit(&[], &[Write { key: LEASE_KEY.into(), value: Some(entry.value) }]).unwrap();
        let store: Arc<dyn Store> = Arc::new(flaky);
        let new = lease(&store, "host-1", 60_000);
        assert!(new.acquire(1).is_err(), "the store refuses the first commit");
        assert!(matches!(new.acquire(2).unwrap(), Role::Holder(_)), "the next attempt still counts as the first");
    }

    #[test]
    fn unfenced_commits_are_refused() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let fenced = FencedStore::new(store.clone(), Arc::new(AtomicU64::new(0)));
        assert!(fenced.commit(&[], &[Write { key: "k".into(), value: Some(vec![1]) }]).is_err());
        assert_eq!(store.get("k").unwrap(), None);
    }
}
