//! The `store` capability: an ordered key-value store with versioned entries and atomic
//! conditional batches (see `wit/store.wit`). Backends: SQLite (the default, durable),
//! PostgreSQL (several hosts on one database) and memory (tests, throwaway demos). A
//! game server can plug in its own by implementing [`Store`], and check it with
//! [`contract`].

mod memory;
mod postgres;
mod sqlite;

pub use memory::MemoryStore;
pub use postgres::{PgSslMode, PostgresOptions, PostgresStore};
pub use sqlite::{SqliteStore, SCHEMA_VERSION as SQLITE_SCHEMA_VERSION};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    /// Never reused for a key: every write gets a version above any the key ever had,
    /// even across a delete, so a precondition cannot match a recreated key by accident.
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    pub key: String,
    /// `None`: the key must be absent.
    pub expected_version: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub key: String,
    /// `None` deletes.
    pub value: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    Conflict,
}

/// The backend could not answer; the component retries later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;
    /// Up to `limit` entries with keys starting with `prefix`, ascending by key bytes,
    /// after `start_after` when given.
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError>;
    /// Up to `limit` entries with keys starting with `prefix`, descending by key bytes,
    /// before `start_before` when given (listings newest first).
    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError>;
    /// All writes or none, only if every precondition holds; durable when it returns.
    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError>;
    /// Whether `get` and `scan` answer within microseconds, never waiting on a network
    /// or behind a long lock: then the host may run read-only calls on its async
    /// threads. Off unless a backend says so.
    fn reads_are_brief(&self) -> bool {
        false
    }
}

/// The key range a scan reads: from `lower` (excluded when `strict`) up to `end`
/// (excluded; `None`: no upper bound), ascending or, when `descending`, from the top.
/// A `start_after` below the prefix starts at it.
pub(crate) struct ScanRange<'a> {
    pub lower: &'a str,
    pub strict: bool,
    pub end: Option<String>,
    pub descending: bool,
}

impl<'a> ScanRange<'a> {
    pub(crate) fn of(prefix: &'a str, start_after: Option<&'a str>) -> Self {
        match start_after {
            Some(s) if s >= prefix => ScanRange { lower: s, strict: true, end: prefix_end(prefix), descending: false },
            _ => ScanRange { lower: prefix, strict: false, end: prefix_end(prefix), descending: false },
        }
    }

    /// The range of `scan_reverse`: the prefix's keys below `start_before`. A
    /// `start_before` at or below the prefix leaves nothing; above its end, everything.
    pub(crate) fn reverse(prefix: &'a str, start_before: Option<&'a str>) -> Self {
        let end = match (start_before, prefix_end(prefix)) {
            (Some(s), Some(e)) if s < e.as_str() => Some(s.to_string()),
            (Some(s), None) => Some(s.to_string()),
            (_, e) => e,
        };
        ScanRange { lower: prefix, strict: false, end, descending: true }
    }
}

impl ScanRange<'_> {
    /// The scan's statement for a table `kv` with `key`, `value` and `version` columns,
    /// parameters `lower`, then `end` when there is one, then the limit (`?` or `$n` by
    /// `dialect`). Each bound is a plain comparison, never `(? IS NULL OR key < ?)`:
    /// a planner uses only what it can prove at planning time, and with the `OR` it reads
    /// from the lower bound to the end of the table whatever the prefix holds.
    pub(crate) fn sql(&self, table: &str, dialect: Dialect) -> String {
        let p = |n: usize| match dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        };
        let op = if self.strict { ">" } else { ">=" };
        let order = if self.descending { "DESC" } else { "" };
        let select = format!("SELECT key, value, version FROM {table} WHERE key {op} {}", p(1));
        match self.end {
            Some(_) => format!("{select} AND key < {} ORDER BY key {order} LIMIT {}", p(2), p(3)),
            None => format!("{select} ORDER BY key {order} LIMIT {}", p(2)),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The smallest string above every string that starts with `prefix` (in UTF-8 byte
/// order, which equals code point order), or `None` when there is none.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

pub mod contract {
    //! The semantics every backend must have, run against each (it panics on the first
    //! difference): [`check`] on an empty store, [`check_concurrent`] on handles that
    //! share one database.
    use super::*;
    use std::sync::Arc;

    fn w(key: &str, value: &str) -> Write {
        Write { key: key.into(), value: Some(value.as_bytes().to_vec()) }
    }
    fn absent(key: &str) -> Precondition {
        Precondition { key: key.into(), expected_version: None }
    }
    fn at(key: &str, v: u64) -> Precondition {
        Precondition { key: key.into(), expected_version: Some(v) }
    }

    pub fn check(store: &dyn Store) {
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.commit(&[absent("a")], &[w("a", "1"), w("b", "x")]).unwrap(), CommitOutcome::Committed);
        let a = store.get("a").unwrap().unwrap();
        assert_eq!(a.value, b"1");
        // A second "create if absent" loses: nothing of its batch is written.
        assert_eq!(store.commit(&[absent("a")], &[w("a", "2"), w("c", "y")]).unwrap(), CommitOutcome::Conflict);
        assert_eq!(store.get("a").unwrap().unwrap().value, b"1");
        assert_eq!(store.get("c").unwrap(), None);
        // Version guards: stale version loses, current wins and bumps.
        assert_eq!(store.commit(&[at("a", a.version + 1)], &[w("a", "3")]).unwrap(), CommitOutcome::Conflict);
        assert_eq!(store.commit(&[at("a", a.version)], &[w("a", "3")]).unwrap(), CommitOutcome::Committed);
        let a2 = store.get("a").unwrap().unwrap();
        assert!(a2.version > a.version);
        // Delete, then recreate: the old version never matches again.
        assert_eq!(store.commit(&[at("a", a2.version)], &[Write { key: "a".into(), value: None }]).unwrap(), CommitOutcome::Committed);
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.commit(&[absent("a")], &[w("a", "4")]).unwrap(), CommitOutcome::Committed);
        assert!(store.get("a").unwrap().unwrap().version > a2.version);
        assert_eq!(store.commit(&[at("a", a2.version)], &[w("a", "5")]).unwrap(), CommitOutcome::Conflict);
        // Scans: prefix, order, start-after, limit, and non-ASCII keys.
        for k in ["u/1", "u/2", "u/10", "u0", "u/é", "v/1", "u/\u{10FFFF}"] {
            assert_eq!(store.commit(&[], &[w(k, k)]).unwrap(), CommitOutcome::Committed);
        }
        let keys = |es: Vec<Entry>| es.into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(keys(store.scan("u/", None, 100).unwrap()), ["u/1", "u/10", "u/2", "u/é", "u/\u{10FFFF}"]);
        assert_eq!(keys(store.scan("u/", Some("u/10"), 2).unwrap()), ["u/2", "u/é"]);
        assert_eq!(keys(store.scan("", None, 3).unwrap()), ["a", "b", "u/1"]);
        assert!(store.scan("w/", None, 10).unwrap().is_empty());
        assert_eq!(keys(store.scan("u/\u{10FFFF}", None, 10).unwrap()), ["u/\u{10FFFF}"]);
        // Reverse scans: the same keys from the top, before `start-before`.
        assert_eq!(keys(store.scan_reverse("u/", None, 100).unwrap()), ["u/\u{10FFFF}", "u/é", "u/2", "u/10", "u/1"]);
        assert_eq!(keys(store.scan_reverse("u/", Some("u/é"), 2).unwrap()), ["u/2", "u/10"]);
        assert_eq!(keys(store.scan_reverse("u/", Some("u/1"), 10).unwrap()), Vec::<String>::new());
        assert_eq!(keys(store.scan_reverse("u/", Some("u0"), 1).unwrap()), ["u/\u{10FFFF}"]);
        assert_eq!(keys(store.scan_reverse("u/", Some("a"), 10).unwrap()), Vec::<String>::new());
        assert_eq!(keys(store.scan_reverse("", None, 2).unwrap()), ["v/1", "u0"]);
        assert!(store.scan_reverse("w/", None, 10).unwrap().is_empty());
        assert!(store.scan("u/", Some("zzz"), 10).unwrap().is_empty(), "a start past the prefix");
    }

    /// `handles` (each its own connection or pool, as separate processes would have)
    /// increment one counter by read-then-conditional-commit from many threads, retrying
    /// on conflict: no increment is lost, none applied twice, versions only grow.
    pub fn check_concurrent(handles: &[Arc<dyn Store>], threads_per_handle: usize, increments: u64) {
        let key = "contract/counter";
        let threads: Vec<_> = handles
            .iter()
            .flat_map(|h| (0..threads_per_handle).map(move |_| h.clone()))
            .map(|store| {
                std::thread::spawn(move || {
                    let mut conflicts = 0u64;
                    for _ in 0..increments {
                        loop {
                            let cur = store.get(key).unwrap();
                            let n: u64 = cur.as_ref().map_or(0, |e| String::from_utf8_lossy(&e.value).parse().unwrap());
                            let pre = Precondition { key: key.into(), expected_version: cur.as_ref().map(|e| e.version) };
                            let write = Write { key: key.into(), value: Some((n + 1).to_string().into_bytes()) };
                            match store.commit(&[pre], &[write]).unwrap() {
                                CommitOutcome::Committed => break,
                                CommitOutcome::Conflict => conflicts += 1,
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let total = (handles.len() * threads_per_handle) as u64 * increments;
        for h in handles {
            let e = h.get(key).unwrap().unwrap();
            assert_eq!(String::from_utf8_lossy(&e.value), total.to_string(), "an increment was lost or applied twice");
        }
    }

    #[test]
    fn prefix_end_is_tight() {
        assert_eq!(prefix_end("u/").as_deref(), Some("u0"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }
}
