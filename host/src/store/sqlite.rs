//! SQLite: the default backend. WAL journal, `synchronous = FULL` so a commit that
//! returned survives a crash, `BEGIN IMMEDIATE` so concurrent writers (other processes
//! on the same file) serialize instead of deadlocking.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::*;

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens or creates the database. A new file is created readable by its owner only
    /// (SQLite gives its journal files the same mode).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        crate::files::create_private(path).map_err(|e| StoreError(format!("creating {}: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(err)?;
        Self::init(conn)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS kv_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
             INSERT OR IGNORE INTO kv_seq (id, seq) VALUES (0, 0);",
        )
        .map_err(err)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let conn = self.conn.lock().unwrap();
        conn.query_row("SELECT value, version FROM kv WHERE key = ?1", [key], |r| {
            Ok(Entry { key: key.into(), value: r.get(0)?, version: r.get::<_, i64>(1)? as u64 })
        })
        .optional()
        .map_err(err)
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let conn = self.conn.lock().unwrap();
        let lower = match start_after {
            Some(s) if s >= prefix => s,
            _ => prefix,
        };
        let strict = start_after.is_some_and(|s| s >= prefix);
        let end = prefix_end(prefix);
        let sql = format!(
            "SELECT key, value, version FROM kv WHERE key {} ?1 AND (?2 IS NULL OR key < ?2) ORDER BY key LIMIT ?3",
            if strict { ">" } else { ">=" }
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
        let rows = stmt
            .query_map(params![lower, end, limit as i64], |r| {
                Ok(Entry { key: r.get(0)?, value: r.get(1)?, version: r.get::<_, i64>(2)? as u64 })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        for p in preconditions {
            let found: Option<i64> = tx
                .query_row("SELECT version FROM kv WHERE key = ?1", [&p.key], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if found.map(|v| v as u64) != p.expected_version {
                return Ok(CommitOutcome::Conflict); // dropping `tx` rolls back
            }
        }
        let mut seq: i64 = tx.query_row("SELECT seq FROM kv_seq WHERE id = 0", [], |r| r.get(0)).map_err(err)?;
        for w in writes {
            seq += 1;
            match &w.value {
                Some(v) => tx
                    .execute(
                        "INSERT INTO kv (key, value, version) VALUES (?1, ?2, ?3)
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version",
                        params![w.key, v, seq],
                    )
                    .map_err(err)?,
                None => tx.execute("DELETE FROM kv WHERE key = ?1", [&w.key]).map_err(err)?,
            };
        }
        tx.execute("UPDATE kv_seq SET seq = ?1 WHERE id = 0", [seq]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(CommitOutcome::Committed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&SqliteStore::open_in_memory().unwrap());
    }

    #[test]
    fn survives_reopen_and_two_handles_race_safely() {
        let dir = std::env::temp_dir().join(format!("cwd-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.db");
        let _ = std::fs::remove_file(&path);
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
}
