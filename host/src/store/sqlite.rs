//! SQLite: the default backend. WAL journal, `synchronous = FULL` so a commit that
//! returned survives a crash, `BEGIN IMMEDIATE` so concurrent writers (other processes
//! on the same file) serialize instead of deadlocking.
//!
//! Group commit: commits that arrive while one is being written wait and then go
//! together, as one SQLite transaction and one fsync (see [`SqliteStore::commit`]).
//! Reads of a file database use their own connections, so they never wait for an fsync.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::*;

/// Commits in one group at most: bounds how long the last of a group waits.
const MAX_GROUP: usize = 256;
/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 16;
/// Page cache of each read connection (filled only as pages are read).
const READ_CACHE_KIB: u32 = 32 * 1024;
/// The layout of the tables (`kv`, `kv_seq`), kept in `PRAGMA user_version`: a store
/// at a newer one is refused. A store from before it was recorded (0) has the layout
/// of version 1, and is marked so when opened.
pub const SCHEMA_VERSION: i64 = 1;

pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// `None` for an in-memory database (another connection would see another database).
    path: Option<PathBuf>,
    readers: Mutex<Vec<Connection>>,
    group: Mutex<Group>,
    group_done: Condvar,
    /// Groups written, for tests and metrics (commits per group = commits / groups).
    groups_written: AtomicU64,
    /// Nanoseconds the writer spent writing groups (its transaction, fsync included).
    writing_ns: AtomicU64,
    /// Commits written, and of them refused on a changed precondition.
    requests: AtomicU64,
    conflicts: AtomicU64,
}

/// One caller's commit, waiting for a group to take it.
struct Request {
    ticket: u64,
    preconditions: Vec<Precondition>,
    writes: Vec<Write>,
}

#[derive(Default)]
struct Group {
    next_ticket: u64,
    waiting: Vec<Request>,
    /// A caller is writing a group now; the others wait for it.
    leader: bool,
    answers: HashMap<u64, Result<CommitOutcome, StoreError>>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

/// The same error for every request of a group that could not be written.
fn all_failed(group: &[Request], e: &rusqlite::Error) -> Vec<Result<CommitOutcome, StoreError>> {
    group.iter().map(|_| Err(StoreError(e.to_string()))).collect()
}

/// A cached statement without parameters or rows.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStore {
    /// Opens or creates the database. A new file is created readable by its owner only
    /// (SQLite gives its journal files the same mode).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        crate::files::create_private(path).map_err(|e| StoreError(format!("creating {}: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(err)?;
        Self::init(conn, Some(path.to_path_buf()))
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?, None)
    }

    fn init(conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "the database's schema is version {found}, newer than this cwd-gateway knows ({SCHEMA_VERSION}): upgrade the host"
            )));
        }
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS kv_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
             INSERT OR IGNORE INTO kv_seq (id, seq) VALUES (0, 0);
             {}
             COMMIT;",
            if found < SCHEMA_VERSION { format!("PRAGMA user_version = {SCHEMA_VERSION};") } else { String::new() }
        ))
        .map_err(err)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            path,
            readers: Mutex::new(Vec::new()),
            group: Mutex::new(Group::default()),
            group_done: Condvar::new(),
            groups_written: AtomicU64::new(0),
            writing_ns: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        })
    }

    /// How many groups (transactions with one fsync each) commits have been written in.
    pub fn groups_written(&self) -> u64 {
        self.groups_written.load(Ordering::Relaxed)
    }

    /// How long the one writer has spent writing groups, fsync included: against the
    /// wall clock, how busy it is (at 100 %, commits wait on it alone).
    pub fn time_writing(&self) -> Duration {
        Duration::from_nanos(self.writing_ns.load(Ordering::Relaxed))
    }

    /// Commits written so far, and how many of them met a changed precondition.
    pub fn commits_and_conflicts(&self) -> (u64, u64) {
        (self.requests.load(Ordering::Relaxed), self.conflicts.load(Ordering::Relaxed))
    }

    /// Runs `f` on a read connection: a pooled one for a file, the writer's in memory.
    fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let Some(path) = &self.path else { return f(&lock(&self.writer)) };
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open(path).map_err(err)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(err)?;
                // Negative: KiB. The B-tree's inner pages of a large store stay cached, so
                // a point read costs about the same at 10,000,000 records as at 10,000
                // (the `scale` bench: SQLite's default 2 MiB made it cost 4×).
                c.pragma_update(None, "cache_size", -(READ_CACHE_KIB as i64)).map_err(err)?;
                c
            }
        };
        let out = f(&conn);
        let mut readers = lock(&self.readers);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        out
    }

    /// Writes `group` as one transaction with one fsync. Each request runs in a
    /// savepoint and sees the writes of those before it, exactly as if they had been
    /// committed one after another: a conflict or an error in one rolls back that one
    /// only. If the final commit fails, none of them committed.
    fn write_group(conn: &mut Connection, group: &[Request]) -> Vec<Result<CommitOutcome, StoreError>> {
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return all_failed(group, &e),
        };
        let seq0 = tx.prepare_cached("SELECT seq FROM kv_seq WHERE id = 0").and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
        let mut seq = match seq0 {
            Ok(s) => s,
            Err(e) => return all_failed(group, &e),
        };
        let mut answers = Vec::with_capacity(group.len());
        for r in group {
            let before = seq;
            let outcome = run(&tx, "SAVEPOINT one").map_err(err).and_then(|()| Self::apply(&tx, &r.preconditions, &r.writes, &mut seq));
            let undo = !matches!(outcome, Ok(CommitOutcome::Committed));
            let closed = if undo { run(&tx, "ROLLBACK TO one").and_then(|()| run(&tx, "RELEASE one")) } else { run(&tx, "RELEASE one") };
            if undo {
                seq = before;
            }
            answers.push(match closed {
                Ok(()) => outcome,
                // The transaction is in an unknown state: nothing of the group commits.
                Err(e) => return all_failed(group, &e),
            });
        }
        let finished = tx
            .prepare_cached("UPDATE kv_seq SET seq = ?1 WHERE id = 0")
            .and_then(|mut s| s.execute([seq]))
            .and_then(|_| tx.commit());
        match finished {
            Ok(()) => answers,
            Err(e) => all_failed(group, &e),
        }
    }

    /// One request inside the group's transaction: preconditions against what the
    /// group has written so far, then the writes.
    fn apply(tx: &Connection, preconditions: &[Precondition], writes: &[Write], seq: &mut i64) -> Result<CommitOutcome, StoreError> {
        {
            let mut version = tx.prepare_cached("SELECT version FROM kv WHERE key = ?1").map_err(err)?;
            for p in preconditions {
                let found: Option<i64> = version.query_row([&p.key], |r| r.get(0)).optional().map_err(err)?;
                if found.map(|v| v as u64) != p.expected_version {
                    return Ok(CommitOutcome::Conflict);
                }
            }
        }
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO kv (key, value, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version",
            )
            .map_err(err)?;
        let mut delete = tx.prepare_cached("DELETE FROM kv WHERE key = ?1").map_err(err)?;
        for w in writes {
            *seq += 1;
            match &w.value {
                Some(v) => upsert.execute(params![w.key, v, *seq]).map_err(err)?,
                None => delete.execute([&w.key]).map_err(err)?,
            };
        }
        Ok(CommitOutcome::Committed)
    }
}

impl SqliteStore {
    fn read_range(&self, range: ScanRange<'_>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let sql = range.sql("kv", Dialect::Sqlite);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
            let row = |r: &rusqlite::Row<'_>| Ok(Entry { key: r.get(0)?, value: r.get(1)?, version: r.get::<_, i64>(2)? as u64 });
            let rows = match &range.end {
                Some(end) => stmt.query_map(params![range.lower, end, limit as i64], row),
                None => stmt.query_map(params![range.lower, limit as i64], row),
            }
            .map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)
        })
    }

    /// SQLite's plan (`EXPLAIN QUERY PLAN`, one line a step) for the statement `scan`
    /// runs with these arguments: for operators, and for the test that both bounds of a
    /// prefix are used as the key's range.
    pub fn scan_plan(&self, prefix: &str, start_after: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::of(prefix, start_after))
    }

    /// The same for `scan_reverse`.
    pub fn scan_reverse_plan(&self, prefix: &str, start_before: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::reverse(prefix, start_before))
    }

    fn plan(&self, range: ScanRange<'_>) -> Result<String, StoreError> {
        let sql = format!("EXPLAIN QUERY PLAN {}", range.sql("kv", Dialect::Sqlite));
        self.read(|conn| {
            let mut stmt = conn.prepare(&sql).map_err(err)?;
            let detail = |r: &rusqlite::Row<'_>| r.get::<_, String>(3);
            let rows = match &range.end {
                Some(end) => stmt.query_map(params![range.lower, end, 100], detail),
                None => stmt.query_map(params![range.lower, 100], detail),
            }
            .map_err(err)?;
            Ok(rows.collect::<Result<Vec<_>, _>>().map_err(err)?.join("\n"))
        })
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT value, version FROM kv WHERE key = ?1").map_err(err)?;
            stmt.query_row([key], |r| Ok(Entry { key: key.into(), value: r.get(0)?, version: r.get::<_, i64>(1)? as u64 }))
                .optional()
                .map_err(err)
        })
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.read_range(ScanRange::of(prefix, start_after), limit)
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.read_range(ScanRange::reverse(prefix, start_before), limit)
    }

    /// A file database reads on its own connections in WAL mode, beside any writer; an
    /// in-memory one shares the writer's connection, whose commits have no fsync.
    fn reads_are_brief(&self) -> bool {
        true
    }

    /// Group commit: the caller joins the waiting list; if no group is being written,
    /// it writes every waiting request (its own among them) as one group and hands each
    /// caller its own answer; otherwise it waits for the group that takes it. A caller
    /// gets `Committed` only after its group's fsync.
    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let mut group = lock(&self.group);
        let ticket = group.next_ticket;
        group.next_ticket += 1;
        group.waiting.push(Request { ticket, preconditions: preconditions.to_vec(), writes: writes.to_vec() });
        loop {
            if let Some(answer) = group.answers.remove(&ticket) {
                return answer;
            }
            if group.leader {
                group = self.group_done.wait(group).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            group.leader = true;
            let take = group.waiting.len().min(MAX_GROUP);
            let batch: Vec<Request> = group.waiting.drain(..take).collect();
            drop(group);
            let answers = {
                let mut conn = lock(&self.writer);
                let started = std::time::Instant::now();
                let answers = Self::write_group(&mut conn, &batch);
                self.writing_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                self.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
                let conflicts = answers.iter().filter(|a| matches!(a, Ok(CommitOutcome::Conflict))).count();
                self.conflicts.fetch_add(conflicts as u64, Ordering::Relaxed);
                answers
            };
            self.groups_written.fetch_add(1, Ordering::Relaxed);
            group = lock(&self.group);
            group.leader = false;
            for (r, a) in batch.iter().zip(answers) {
                group.answers.insert(r.ticket, a);
            }
            self.group_done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn temp_db(tag: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("cwd-sqlite-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        (dir, path)
    }

    /// Every shape of scan reads the key's range between both bounds: a prefix with few
    /// rows costs what it returns, however many rows sort after it. SQLite's own plan
    /// says so, before and after the table holds rows that sort after the prefix.
    #[test]
    fn prefix_scans_use_both_bounds() {
        let store = SqliteStore::open_in_memory().unwrap();
        for round in 0..2 {
            for (prefix, after) in [("dep/", None), ("dep/", Some("dep/00042")), ("user/", Some("a")), ("pow/", Some("zzz"))] {
                let plan = store.scan_plan(prefix, after).unwrap();
                assert!(plan.contains("key>? AND key<?"), "round {round}, {prefix} after {after:?}: {plan}");
                assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{plan}");
            }
            // With no upper bound (a prefix of only U+10FFFF) the lower one is still used.
            let plan = store.scan_plan("\u{10FFFF}", None).unwrap();
            assert!(plan.contains("key>?"), "{plan}");
            // Reverse scans: the same range, walked from the top (no sort step).
            for (prefix, before) in [("udep/alice/", None), ("udep/alice/", Some("udep/alice/d-0000000042")), ("uwd/", Some("zzz"))] {
                let plan = store.scan_reverse_plan(prefix, before).unwrap();
                assert!(plan.contains("key>? AND key<?"), "round {round}, {prefix} before {before:?}: {plan}");
                assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{plan}");
            }
            let writes: Vec<Write> = (0..2000).map(|i| Write { key: format!("zz/{i:05}"), value: Some(vec![1]) }).collect();
            store.commit(&[], &writes).unwrap();
            store.read(|c| c.execute_batch("ANALYZE").map_err(err)).unwrap();
        }
    }

    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&SqliteStore::open_in_memory().unwrap());
        let (dir, path) = temp_db("contract");
        super::super::contract::check(&SqliteStore::open(&path).unwrap());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// The layout's version is recorded (a store from before it was gets it when
    /// opened), and a store at a newer one is refused, untouched.
    #[test]
    fn schema_version_is_recorded_and_a_newer_one_refused() {
        let (dir, path) = temp_db("schema");
        let version = |p: &Path| Connection::open(p).unwrap().pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).unwrap();
        drop(SqliteStore::open(&path).unwrap());
        assert_eq!(version(&path), SCHEMA_VERSION);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 0).unwrap();
        drop(SqliteStore::open(&path).unwrap());
        assert_eq!(version(&path), SCHEMA_VERSION, "an older store is marked");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let refused = SqliteStore::open(&path).err().expect("a newer schema is refused");
        assert!(refused.0.contains("newer than this cwd-gateway knows"), "{refused}");
        assert_eq!(version(&path), SCHEMA_VERSION + 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn survives_reopen_and_two_handles_race_safely() {
        let (dir, path) = temp_db("reopen");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        let create = |s: &SqliteStore, v: &str| {
            s.commit(
                &[Precondition { key: "bind/alice".into(), expected_version: None }],
                &[Write { key: "bind/alice".into(), value: Some(v.as_bytes().to_vec()) }],
            )
            .unwrap()
        };
        // Two processes' handles: exactly one create wins.
        assert_eq!(create(&a, "user1"), CommitOutcome::Committed);
        assert_eq!(create(&b, "user2"), CommitOutcome::Conflict);
        drop((a, b));
        let c = SqliteStore::open(&path).unwrap();
        assert_eq!(c.get("bind/alice").unwrap().unwrap().value, b"user1");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn concurrent_writers_on_two_handles_lose_nothing() {
        let dir = std::env::temp_dir().join(format!("cwd-sqlite-conc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.db");
        let _ = std::fs::remove_file(&path);
        let handles: Vec<std::sync::Arc<dyn Store>> = vec![std::sync::Arc::new(SqliteStore::open(&path).unwrap()), std::sync::Arc::new(SqliteStore::open(&path).unwrap())];
        super::super::contract::check_concurrent(&handles, 2, 25);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Each request of a group is checked against the writes of those before it, and a
    /// conflict rolls back that request alone.
    #[test]
    fn a_group_keeps_each_request_apart() {
        let store = SqliteStore::open_in_memory().unwrap();
        let put = |k: &str, v: &str| Write { key: k.into(), value: Some(v.as_bytes().to_vec()) };
        let absent = |k: &str| Precondition { key: k.into(), expected_version: None };
        let requests = vec![
            Request { ticket: 0, preconditions: vec![absent("a")], writes: vec![put("a", "1"), put("x", "0")] },
            // Loses: `a` now exists. Its write of `b` must not survive.
            Request { ticket: 1, preconditions: vec![absent("a")], writes: vec![put("a", "2"), put("b", "lost")] },
            // Sees the first request's `x`, at the first version handed out.
            Request { ticket: 2, preconditions: vec![Precondition { key: "x".into(), expected_version: Some(2) }], writes: vec![put("c", "3")] },
            Request { ticket: 3, preconditions: vec![absent("b")], writes: vec![put("b", "4")] },
        ];
        let answers = SqliteStore::write_group(&mut lock(&store.writer), &requests);
        let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [CommitOutcome::Committed, CommitOutcome::Conflict, CommitOutcome::Committed, CommitOutcome::Committed]);
        assert_eq!(store.get("a").unwrap().unwrap().value, b"1");
        assert_eq!(store.get("b").unwrap().unwrap().value, b"4");
        assert_eq!(store.get("c").unwrap().unwrap().value, b"3");
        // Versions stay unique and increasing across the group; the loser's were not used.
        let versions: Vec<u64> = ["a", "x", "c", "b"].iter().map(|k| store.get(k).unwrap().unwrap().version).collect();
        assert_eq!(versions, [1, 2, 3, 4]);
    }

    /// Commits that arrive while a group is being written go together in the next one.
    #[test]
    fn commits_waiting_behind_a_group_are_written_as_one() {
        let (dir, path) = temp_db("batch");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        // Hold the writer: the first committer takes its group and waits here.
        let writer = lock(&store.writer);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let pre = Precondition { key: "slot".into(), expected_version: None };
                    let w = Write { key: format!("w/{i}"), value: Some(vec![i as u8]) };
                    let slot = Write { key: "slot".into(), value: Some(vec![i as u8]) };
                    store.commit(&[pre], &[w, slot]).unwrap()
                })
            })
            .collect();
        // Until the leader has taken its group and the other seven wait behind it.
        while lock(&store.group).waiting.len() < 7 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(writer);
        let answers: Vec<CommitOutcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(store.groups_written(), 2, "the seven that waited went in one group");
        // Each kept its own precondition: exactly one took the slot, and only the winner's
        // other write landed.
        assert_eq!(answers.iter().filter(|a| **a == CommitOutcome::Committed).count(), 1);
        let winner = store.get("slot").unwrap().unwrap().value[0] as usize;
        assert_eq!(answers[winner], CommitOutcome::Committed);
        let written: Vec<String> = store.scan("w/", None, 100).unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(written, [format!("w/{winner}")]);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Many threads commit at once: counters under version guards (lost updates must
    /// conflict), "create if absent" races (exactly one winner each), and plain writes.
    /// Every answer must match what the database holds afterwards.
    #[test]
    fn concurrent_commits_are_batched_and_each_answer_is_right() {
        let (dir, path) = temp_db("group");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        const THREADS: usize = 16;
        const ROUNDS: usize = 60;
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let (mut increments, mut claims) = (0u64, Vec::new());
                    for round in 0..ROUNDS {
                        // Read-modify-write of a shared counter: retry on conflict.
                        let key = format!("counter/{}", round % 3);
                        loop {
                            let cur = store.get(&key).unwrap();
                            let n: u64 = cur.as_ref().map_or(0, |e| String::from_utf8_lossy(&e.value).parse().unwrap());
                            let pre = Precondition { key: key.clone(), expected_version: cur.map(|e| e.version) };
                            let w = Write { key: key.clone(), value: Some((n + 1).to_string().into_bytes()) };
                            if store.commit(&[pre], &[w]).unwrap() == CommitOutcome::Committed {
                                increments += 1;
                                break;
                            }
                        }
                        // Everyone races to claim the round's slot; exactly one wins.
                        let slot = format!("claim/{round}");
                        let pre = Precondition { key: slot.clone(), expected_version: None };
                        let w = Write { key: slot, value: Some(t.to_string().into_bytes()) };
                        if store.commit(&[pre], &[w]).unwrap() == CommitOutcome::Committed {
                            claims.push(round);
                        }
                        // Unconditional: never lost.
                        let w = Write { key: format!("own/{t}/{round}"), value: Some(b"1".to_vec()) };
                        assert_eq!(store.commit(&[], &[w]).unwrap(), CommitOutcome::Committed);
                    }
                    (t, increments, claims)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let total: u64 = (0..3).map(|i| String::from_utf8_lossy(&store.get(&format!("counter/{i}")).unwrap().unwrap().value).parse::<u64>().unwrap()).sum();
        assert_eq!(total, results.iter().map(|r| r.1).sum::<u64>());
        assert_eq!(total, (THREADS * ROUNDS) as u64);
        for round in 0..ROUNDS {
            let winners: Vec<usize> = results.iter().filter(|r| r.2.contains(&round)).map(|r| r.0).collect();
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let stored = store.get(&format!("claim/{round}")).unwrap().unwrap().value;
            assert_eq!(stored, winners[0].to_string().into_bytes());
        }
        assert_eq!(store.scan("own/", None, 10_000).unwrap().len(), THREADS * ROUNDS);
        // Durable: a fresh handle (another process) reads the same.
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.scan("own/", None, 10_000).unwrap().len(), THREADS * ROUNDS);
        assert_eq!(again.scan("claim/", None, 10_000).unwrap().len(), ROUNDS);
        std::fs::remove_dir_all(&dir).ok();
    }
}
