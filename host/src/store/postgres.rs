//! PostgreSQL: the backend several hosts share. Pools of synchronous connections
//! (`postgres` + `r2d2`): the store is called from the component's imports on plain
//! threads (the timer, `spawn_blocking`), never from async code.
//!
//! Correctness under concurrent writers from many processes comes from SERIALIZABLE
//! transactions, retried on serialization failures (SQLSTATE 40001) and deadlocks
//! (40P01). Why not row locks (`SELECT … FOR UPDATE`): a precondition "key absent" has
//! no row to lock, so two writers could both see it absent; SERIALIZABLE covers absent
//! keys too (predicate locks), and it is the model distributed SQL engines speaking
//! PostgreSQL's protocol (CockroachDB, YugabyteDB) offer, with the same retry error.
//!
//! A commit is one statement, so one round trip (see [`COMMIT_SQL`]): its connections
//! come from a pool of their own whose sessions start every transaction SERIALIZABLE,
//! while reads keep the server's default (a read-only statement needs no predicate
//! locks, which would only make writers fail more often).
//!
//! Keys are `bytea`, so that order is byte order (UTF-8 order, as the contract says)
//! whatever the database's collation. Versions come from one sequence: store-wide,
//! increasing, never reused, even across a delete.

use std::str::FromStr;
use std::time::{Duration, Instant};

use ::postgres::error::SqlState;
use ::postgres::types::{ToSql, Type};
use ::postgres::{NoTls, Statement};
use r2d2_postgres::{r2d2, PostgresConnectionManager};

use super::*;

/// The schema this host writes; a database at a newer one is refused.
const SCHEMA_VERSION: i64 = 1;

/// Serializes migrations of hosts starting together (an arbitrary, fixed id).
const MIGRATION_LOCK: i64 = 0x6377_6467_6b76;

/// A commit that keeps losing serialization races gives up after this long.
const RETRY_FOR: Duration = Duration::from_secs(10);

type Pool = r2d2::Pool<Manager>;

pub struct PostgresStore {
    /// For reads (and migrations): sessions at the server's default isolation.
    pool: Pool,
    /// For commits: sessions whose transactions are SERIALIZABLE ([`Manager`]).
    commits: Pool,
}

/// A session with the statements every call runs prepared once: sent unprepared, a
/// statement is parsed and planned by the server on every call, which cost more of the
/// server's time than the commit itself.
struct Session {
    client: ::postgres::Client,
    get: Statement,
    /// [`COMMIT_SQL`], on the sessions of the commit pool.
    commit: Option<Statement>,
}

/// Opens [`Session`]s; for commits, ones whose transactions are all SERIALIZABLE, so
/// that a statement sent alone (its own implicit transaction) is one.
struct Manager {
    inner: PostgresConnectionManager<NoTls>,
    commits: bool,
}

const GET_SQL: &str = "SELECT value, version FROM cwd_kv WHERE key = $1";

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = ::postgres::Error;

    fn connect(&self) -> Result<Session, ::postgres::Error> {
        let mut client = self.inner.connect()?;
        let commit = match self.commits {
            true => {
                client.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")?;
                let bytea = Type::BYTEA_ARRAY;
                Some(client.prepare_typed(COMMIT_SQL, &[bytea.clone(), Type::INT8_ARRAY, bytea.clone(), bytea.clone(), bytea])?)
            }
            false => None,
        };
        let get = client.prepare_typed(GET_SQL, &[Type::BYTEA])?;
        Ok(Session { client, get, commit })
    }

    fn is_valid(&self, conn: &mut Session) -> Result<(), ::postgres::Error> {
        self.inner.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Session) -> bool {
        self.inner.has_broken(&mut conn.client)
    }
}

/// A whole commit in one statement, run alone, so in its own implicit transaction
/// (committed, durably, before the server answers): `pre` checks every precondition
/// (`$1` keys, `$2` versions, NULL for "absent"), and the writes (`$3`/`$4` puts, `$5`
/// deletes) apply only when all hold. Every part sees one snapshot. Each precondition
/// is a lookup by primary key (a subquery a key: the index, whatever the table's size),
/// and so is its predicate lock.
///
/// Why this is the old multi-statement SERIALIZABLE transaction, minus round trips: it is
/// a SERIALIZABLE transaction with the same reads and the same writes, so PostgreSQL
/// makes its outcome that of some serial order, in which it does exactly what the
/// contract says. Concretely: a writer of a row changed since its snapshot (an update,
/// an upsert meeting a row inserted since, a delete) fails with 40001 instead of
/// overwriting, and the reads of `pre` hold predicate locks, so a key found absent and
/// inserted concurrently makes one of the two fail with 40001 (at the latest at commit).
/// The loser is retried from a new snapshot and sees the winner's version: `conflict`,
/// never two commits, never a lost update.
///
/// Why not READ COMMITTED with row locks: within one statement the snapshot is taken
/// before any lock is waited for. `FOR UPDATE` would re-read an existing row's newest
/// version after waiting, but a key absent from the snapshot and inserted meanwhile
/// stays invisible (two "absent" commits, or write skew between two commits each
/// requiring the other's key absent), and `ON CONFLICT DO UPDATE` would overwrite the
/// winner's row. The isolation is read back in the statement: a session that is not
/// SERIALIZABLE after all (a pooler sharing server sessions between clients) writes
/// nothing and is an error, never a silent downgrade.
const COMMIT_SQL: &str = "WITH pre AS MATERIALIZED (
    SELECT current_setting('transaction_isolation') = 'serializable' AS serializable,
           NOT EXISTS (SELECT FROM unnest($1::bytea[], $2::int8[]) AS p(k, v)
                       WHERE (SELECT version FROM cwd_kv WHERE key = p.k) IS DISTINCT FROM p.v) AS holds
), put AS (
    INSERT INTO cwd_kv (key, value, version)
    SELECT k, v, nextval('cwd_kv_version') FROM unnest($3::bytea[], $4::bytea[]) AS w(k, v)
    WHERE (SELECT serializable AND holds FROM pre)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version
), del AS (
    DELETE FROM cwd_kv WHERE key = ANY($5::bytea[]) AND (SELECT serializable AND holds FROM pre)
)
SELECT serializable, holds FROM pre";

/// How to reach the database.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user[:password]@host[:port]/database[?options]` (a Unix socket
    /// directory as `host=/run/postgresql` in the query string).
    pub url: String,
    /// Overrides a password in the URL (read from a private file by the caller).
    pub password: Option<String>,
    /// Most connections this host opens for reads, and as many again for commits.
    pub pool_size: u32,
    /// How long a call waits for a connection before answering `store-unavailable`.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &crate::redact::url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions { url: url.into(), password: None, pool_size: 8, connect_timeout: Duration::from_secs(5) }
    }
}

/// A database error as text without anything secret: the driver's messages name the
/// user and server, never the password, and URLs in them are masked anyway.
fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("PostgreSQL: {}", crate::redact::text(&e.to_string())))
}

/// A driver error with the server's own message (its `Display` alone says "db error").
fn pg_err(e: &::postgres::Error) -> StoreError {
    let detail = match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        (None, Some(source)) => format!("{e}: {source}"),
        (None, None) => e.to_string(),
    };
    err(detail)
}

fn is_retryable(e: &::postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

impl PostgresStore {
    /// Connects, and creates or migrates the schema.
    pub fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        let url = options.url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError("[store] url must be a postgres:// or postgresql:// URL".into()));
        }
        // The parser's error may quote the URL: say what is wrong without it.
        let mut config = ::postgres::Config::from_str(url).map_err(|_| {
            StoreError(format!("[store] url {} is not a valid PostgreSQL URL (user, host, port, database, options)", crate::redact::url(url)))
        })?;
        if let Some(p) = &options.password {
            config.password(p.trim_end_matches(['\r', '\n']));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("cwd-gateway");
        }
        // One connection first, for an error that says what is wrong (the pool reports
        // only the driver's summary), and for the schema, which the pools' sessions
        // prepare their statements against.
        let mut first = config.connect(NoTls).map_err(|e| pg_err(&e))?;
        Self::migrate(&mut first)?;
        drop(first);
        let builder = || {
            r2d2::Pool::builder()
                .max_size(options.pool_size.max(1))
                .min_idle(Some(1))
                // A checkout test would cost a round trip a call; a broken connection
                // shows as an error on its next use and is then dropped.
                .test_on_check_out(false)
                .connection_timeout(options.connect_timeout)
                // Connection failures are reported through the calls' errors, redacted.
                .error_handler(Box::new(r2d2::NopErrorHandler))
        };
        let manager = |commits| Manager { inner: PostgresConnectionManager::new(config.clone(), NoTls), commits };
        let pool = builder().build(manager(false)).map_err(err)?;
        let commits = builder().build(manager(true)).map_err(err)?;
        Ok(PostgresStore { pool, commits })
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(err)
    }

    fn migrate(conn: &mut ::postgres::Client) -> Result<(), StoreError> {
        match Self::migrate_in(conn, true) {
            // Engines without advisory locks (older CockroachDB releases): start one host
            // alone to create the schema.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) => Self::migrate_in(conn, false),
            other => other,
        }
        .map_err(|e| pg_err(&e))?
    }

    /// The schema created or checked in one transaction: `Err` when the database
    /// failed, `Ok(Err)` when the schema is not one this host can use.
    fn migrate_in(conn: &mut ::postgres::Client, lock: bool) -> Result<Result<(), StoreError>, ::postgres::Error> {
        let mut tx = conn.transaction()?;
        if lock {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS cwd_gateway_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)")?;
        let found: Option<i64> = tx.query_opt("SELECT value FROM cwd_gateway_meta WHERE name = 'schema_version'", &[])?.map(|r| r.get(0));
        match found {
            None => tx.batch_execute(
                "CREATE TABLE cwd_kv (key BYTEA PRIMARY KEY, value BYTEA NOT NULL, version BIGINT NOT NULL);
                 CREATE SEQUENCE cwd_kv_version;
                 INSERT INTO cwd_gateway_meta (name, value) VALUES ('schema_version', 1);",
            )?,
            Some(SCHEMA_VERSION) => {}
            Some(v) if v > SCHEMA_VERSION => {
                return Ok(Err(StoreError(format!(
                    "the database's schema is version {v}, newer than this cwd-gateway knows ({SCHEMA_VERSION}): upgrade the host"
                ))))
            }
            Some(v) => return Ok(Err(StoreError(format!("the database's schema version {v} is unknown: restore a backup or use a new database")))),
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    /// One attempt of a commit: one statement, one round trip ([`COMMIT_SQL`]), on a
    /// session from `commits`.
    fn try_commit(
        conn: &mut Session,
        pre_keys: &[&[u8]],
        pre_versions: &[Option<i64>],
        put_keys: &[&[u8]],
        put_values: &[&[u8]],
        del_keys: &[&[u8]],
    ) -> Result<Result<CommitOutcome, StoreError>, ::postgres::Error> {
        let statement = conn.commit.as_ref().expect("a session of the commit pool");
        let row = conn.client.query_one(statement, &[&pre_keys, &pre_versions, &put_keys, &put_values, &del_keys])?;
        let (serializable, holds): (bool, bool) = (row.get(0), row.get(1));
        Ok(match (serializable, holds) {
            (false, _) => Err(StoreError(
                "PostgreSQL: a commit ran below SERIALIZABLE and was not applied (a connection pooler in transaction mode? \
                 cwd-gateway needs its own server sessions)"
                    .into(),
            )),
            (true, true) => Ok(CommitOutcome::Committed),
            (true, false) => Ok(CommitOutcome::Conflict),
        })
    }
}

fn entry(key: String, value: Vec<u8>, version: i64) -> Entry {
    Entry { key, value, version: version as u64 }
}

fn key_text(bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| StoreError("PostgreSQL: a key in cwd_kv is not UTF-8 (written by something else?)".into()))
}

/// A short pause before retrying a serialization failure, growing with the attempt and
/// jittered so that the racers do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let cap_us = 500u64 << attempt.min(6);
    Duration::from_micros(h.finish() % cap_us)
}

impl PostgresStore {
    fn read_range(&self, range: ScanRange<'_>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let mut conn = self.conn()?;
        let sql = range.sql("cwd_kv", Dialect::Postgres);
        let (lower, limit) = (range.lower.as_bytes(), limit as i64);
        let rows = match range.end.as_deref().map(str::as_bytes) {
            Some(end) => conn.client.query_typed(&sql, &[(&lower as &(dyn ToSql + Sync), Type::BYTEA), (&end, Type::BYTEA), (&limit, Type::INT8)]),
            None => conn.client.query_typed(&sql, &[(&lower as &(dyn ToSql + Sync), Type::BYTEA), (&limit, Type::INT8)]),
        }
        .map_err(|e| pg_err(&e))?;
        rows.into_iter().map(|r| Ok(entry(key_text(r.get(0))?, r.get(1), r.get(2)))).collect()
    }

    /// PostgreSQL's generic plan (the one a prepared statement settles on, whatever its
    /// arguments) for the statement `scan` runs, one line a step, with sequential scans
    /// disabled so that a small table still shows what the index is asked for: for
    /// operators, and for the test that both bounds of a prefix are the index's range.
    pub fn scan_plan(&self, prefix: &str, start_after: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::of(prefix, start_after))
    }

    /// The same for `scan_reverse`.
    pub fn scan_reverse_plan(&self, prefix: &str, start_before: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::reverse(prefix, start_before))
    }

    fn plan(&self, range: ScanRange<'_>) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        let sql = range.sql("cwd_kv", Dialect::Postgres);
        let (types, args) = match &range.end {
            Some(end) => ("bytea, bytea, int8", format!("'\\x{}', '\\x{}', 100", hex::encode(range.lower), hex::encode(end))),
            None => ("bytea, int8", format!("'\\x{}', 100", hex::encode(range.lower))),
        };
        // A prepared statement outlives transactions: one name a call, dropped after.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!("cwd_scan_plan_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mut tx = conn.client.transaction().map_err(|e| pg_err(&e))?;
        tx.batch_execute(&format!("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; PREPARE {name} ({types}) AS {sql}"))
            .map_err(|e| pg_err(&e))?;
        let plan = tx.query(&format!("EXPLAIN EXECUTE {name}({args})"), &[]).map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>());
        let _ = tx.batch_execute(&format!("DEALLOCATE {name}"));
        let _ = tx.rollback();
        Ok(plan.map_err(|e| pg_err(&e))?.join("\n"))
    }
}

impl Store for PostgresStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let mut conn = self.conn()?;
        let conn = &mut *conn;
        let row = conn.client.query_opt(&conn.get, &[&key.as_bytes()]).map_err(|e| pg_err(&e))?;
        Ok(row.map(|r| entry(key.to_string(), r.get(0), r.get(1))))
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.read_range(ScanRange::of(prefix, start_after), limit)
    }

    fn scan_reverse(&self, prefix: &str, start_before: Option<&str>, limit: u32) -> Result<Vec<Entry>, StoreError> {
        self.read_range(ScanRange::reverse(prefix, start_before), limit)
    }

    fn commit(&self, preconditions: &[Precondition], writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let pre_keys: Vec<&[u8]> = preconditions.iter().map(|p| p.key.as_bytes()).collect();
        let pre_versions: Vec<Option<i64>> = preconditions
            .iter()
            .map(|p| p.expected_version.map(|v| i64::try_from(v).unwrap_or(-1)))
            .collect();
        // The last write of a key wins, as in the other backends; sorted, so that
        // concurrent batches lock rows in one order.
        let mut last: std::collections::BTreeMap<&str, Option<&[u8]>> = std::collections::BTreeMap::new();
        for w in writes {
            last.insert(&w.key, w.value.as_deref());
        }
        let (mut put_keys, mut put_values, mut del_keys) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in &last {
            match v {
                Some(v) => {
                    put_keys.push(k.as_bytes());
                    put_values.push(*v);
                }
                None => del_keys.push(k.as_bytes()),
            }
        }
        if pre_keys.is_empty() && last.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        let mut conn = self.commits.get().map_err(err)?;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match Self::try_commit(&mut conn, &pre_keys, &pre_versions, &put_keys, &put_values, &del_keys) {
                Ok(outcome) => return outcome,
                Err(e) if is_retryable(&e) && started.elapsed() < RETRY_FOR => {
                    attempt += 1;
                    std::thread::sleep(backoff(attempt));
                }
                Err(e) => return Err(pg_err(&e)),
            }
        }
    }
}
