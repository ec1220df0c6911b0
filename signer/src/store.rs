//! The signer's own SQLite store: what it signed (the limits' memory) and an append-only
//! log of every decision. A decision and its record are one IMMEDIATE transaction, and a
//! signature leaves only once that transaction is committed.

use std::fmt;
use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use cwd_codec::ops::AccountId;

use crate::policy::{account, decide, Decision, Facts, Ledger, Policy, Rule};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS signed(
    digest TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    spend INTEGER NOT NULL,
    destination INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    sweep INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signed_at ON signed(at_ms);
CREATE INDEX IF NOT EXISTS signed_destination ON signed(destination, at_ms);
CREATE TABLE IF NOT EXISTS log(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    rule TEXT,
    reason TEXT,
    tx_id TEXT,
    operation TEXT,
    from_id TEXT,
    to_id TEXT,
    amount INTEGER,
    fee INTEGER,
    expiration INTEGER,
    peer TEXT
);
-- Forgetting a signed row would reset the limits; rewriting the log would hide a decision.
CREATE TRIGGER IF NOT EXISTS signed_kept_update BEFORE UPDATE ON signed BEGIN SELECT RAISE(ABORT, 'signed rows are never changed'); END;
CREATE TRIGGER IF NOT EXISTS signed_kept_delete BEFORE DELETE ON signed BEGIN SELECT RAISE(ABORT, 'signed rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS log_kept_update BEFORE UPDATE ON log BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_kept_delete BEFORE DELETE ON log BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
";

const OUR_TABLES: [&str; 3] = ["signed", "log", "sqlite_sequence"];

#[derive(Debug)]
pub enum StoreError {
    /// The file cannot be used as the signer's store; `problem` says what to do.
    Open {
        path: PathBuf,
        problem: String,
    },
    Sqlite(rusqlite::Error),
    /// A row the signer wrote reads back wrong: someone else wrote the file.
    Corrupt(String),
    /// Signing itself failed (the codec's self-check): nothing was signed or recorded.
    Signing(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, problem } => write!(f, "signer store {}: {problem}", path.display()),
            StoreError::Sqlite(e) => write!(f, "signer store: {e}"),
            StoreError::Corrupt(what) => write!(f, "signer store holds a row it did not write: {what}"),
            StoreError::Signing(what) => write!(f, "signing failed, nothing was signed: {what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlite(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// What became of a request, once recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Signed {
        facts: Facts,
        signature: [u8; 65],
        spend: u64,
        sweep: bool,
    },
    Repeated {
        facts: Facts,
        signature: [u8; 65],
    },
    Refused {
        facts: Facts,
        rule: Rule,
        reason: String,
    },
}

impl Outcome {
    pub fn facts(&self) -> &Facts {
        match self {
            Outcome::Signed { facts, .. } | Outcome::Repeated { facts, .. } | Outcome::Refused { facts, .. } => facts,
        }
    }
}

/// One row of the log, as `GET /v1/log` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub seq: i64,
    pub at_ms: i64,
    /// `signed`, `repeated` or `refused`.
    pub outcome: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub tx_id: Option<String>,
    pub operation: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub amount: Option<i64>,
    pub fee: Option<i64>,
    pub expiration: Option<i64>,
    pub peer: Option<String>,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating, mode 0600) the store at `path`. Refuses a file others may read
    /// or write, and a database that holds tables of another program (the gateway's).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |problem: String| StoreError::Open {
            path: path.to_path_buf(),
            problem,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| open_error(format!("cannot open or create it: {e}")))?;
        let meta = file.metadata().map_err(|e| open_error(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(open_error(format!(
                "mode {mode:o} lets other users read or write it; run `chmod 600 {}`",
                path.display()
            )));
        }
        drop(file);
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let journal: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(open_error(format!(
                "cannot switch it to WAL (journal mode is {journal})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        let mut tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
        let foreign: Vec<String> = tables
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|t| !OUR_TABLES.contains(&t.as_str()))
            .collect();
        drop(tables);
        if !foreign.is_empty() {
            return Err(open_error(format!(
                "it holds tables of another program ({}): give the signer a store file of its own",
                foreign.join(", ")
            )));
        }
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    /// Decides, signs when allowed (`sign` gets the digest), and records both in one
    /// IMMEDIATE transaction. Returns only after the commit: a signature whose record
    /// failed is never returned.
    pub fn decide_and_record(
        &mut self,
        policy: &Policy,
        chain_id: &[u8; 32],
        transaction: &[u8],
        now_ms: u64,
        peer: &str,
        sign: impl FnOnce(&[u8; 32]) -> Result<[u8; 65], String>,
    ) -> Result<Outcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let decision = decide(policy, chain_id, transaction, now_ms, &SqlLedger(&tx))?;
        let at_ms = to_i64(now_ms);
        let outcome = match decision {
            Decision::Sign { facts, spend, sweep } => {
                let signature = sign(&facts.digest).map_err(StoreError::Signing)?;
                tx.execute(
                    "INSERT INTO signed(digest, signature, at_ms, spend, destination, amount, sweep) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        hex::encode(facts.digest),
                        hex::encode(signature),
                        at_ms,
                        to_i64(spend),
                        facts.to.map(|a| to_i64(a.0)),
                        facts.amount.unwrap_or(0),
                        sweep,
                    ],
                )?;
                Outcome::Signed {
                    facts,
                    signature,
                    spend,
                    sweep,
                }
            }
            Decision::Repeat { facts, signature } => Outcome::Repeated { facts, signature },
            Decision::Refuse { facts, rule, reason } => Outcome::Refused { facts, rule, reason },
        };
        let (name, rule, reason) = match &outcome {
            Outcome::Signed { .. } => ("signed", None, None),
            Outcome::Repeated { .. } => ("repeated", None, None),
            Outcome::Refused { rule, reason, .. } => ("refused", Some(rule.as_str()), Some(reason.as_str())),
        };
        let f = outcome.facts();
        tx.execute(
            "INSERT INTO log(at_ms, outcome, rule, reason, tx_id, operation, from_id, to_id, amount, fee, expiration, peer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                at_ms,
                name,
                rule,
                reason,
                hex::encode(f.tx_id),
                f.operation,
                f.from.map(account),
                f.to.map(account),
                f.amount,
                f.fee,
                f.expiration,
                peer,
            ],
        )?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Amount + fee of everything but sweeps signed after `since_ms`.
    pub fn spent_since(&self, since_ms: u64) -> Result<u128, StoreError> {
        SqlLedger(&self.conn).spent_since(since_ms)
    }

    /// Up to `limit` log entries after `after`, in order, and whether more follow.
    pub fn log_page(&self, after: i64, limit: u32) -> Result<(Vec<LogEntry>, bool), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT seq, at_ms, outcome, rule, reason, tx_id, operation, from_id, to_id, amount, fee, expiration, peer
             FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut entries = statement
            .query_map(params![after, i64::from(limit) + 1], |r| {
                Ok(LogEntry {
                    seq: r.get(0)?,
                    at_ms: r.get(1)?,
                    outcome: r.get(2)?,
                    rule: r.get(3)?,
                    reason: r.get(4)?,
                    tx_id: r.get(5)?,
                    operation: r.get(6)?,
                    from: r.get(7)?,
                    to: r.get(8)?,
                    amount: r.get(9)?,
                    fee: r.get(10)?,
                    expiration: r.get(11)?,
                    peer: r.get(12)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        Ok((entries, more))
    }
}

/// Values the signer writes are far below i64::MAX (amounts are bounded by the chain's
/// supply); saturate rather than wrap should a configuration ever allow more.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The policy's view of the store, inside the deciding transaction.
struct SqlLedger<'c>(&'c Connection);

impl SqlLedger<'_> {
    fn sum(&self, sql: &str, params: impl rusqlite::Params) -> Result<u128, StoreError> {
        // Summed here, not by SQL's SUM, which fails on an i64 overflow.
        let mut statement = self.0.prepare_cached(sql)?;
        let mut rows = statement.query(params)?;
        let mut total: u128 = 0;
        while let Some(row) = rows.next()? {
            let v: i64 = row.get(0)?;
            let v = u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative amount {v}")))?;
            total = total.saturating_add(v.into());
        }
        Ok(total)
    }
}

impl Ledger for SqlLedger<'_> {
    type Error = StoreError;

    fn signature_of(&self, digest: &[u8; 32]) -> Result<Option<[u8; 65]>, StoreError> {
        let text: Option<String> = self
            .0
            .prepare_cached("SELECT signature FROM signed WHERE digest = ?1")?
            .query_row([hex::encode(digest)], |r| r.get(0))
            .optional()?;
        text.map(|t| {
            let mut signature = [0u8; 65];
            hex::decode_to_slice(&t, &mut signature)
                .map_err(|_| StoreError::Corrupt(format!("signature {t:?} is not 65 bytes of hex")))?;
            Ok(signature)
        })
        .transpose()
    }

    fn spent_since(&self, since_ms: u64) -> Result<u128, StoreError> {
        self.sum(
            "SELECT spend FROM signed WHERE sweep = 0 AND at_ms > ?1",
            [to_i64(since_ms)],
        )
    }

    fn sent_to_since(&self, to: AccountId, since_ms: u64) -> Result<u128, StoreError> {
        self.sum(
            "SELECT amount FROM signed WHERE sweep = 0 AND destination = ?1 AND at_ms > ?2",
            [to_i64(to.0), to_i64(since_ms)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Limits, DAY_MS};
    use cwd_codec::ops::{Asset, Operation, Transaction, Transfer};

    const CHAIN: [u8; 32] = [1; 32];
    const NOW_S: u32 = 1_700_000_000;
    const NOW_MS: u64 = NOW_S as u64 * 1000;

    fn policy() -> Policy {
        Policy {
            chain_id: CHAIN,
            account: AccountId(17),
            cold_account: Some(AccountId(20)),
            limits: Limits {
                max_per_transaction: 1_000,
                max_per_day: 2_000,
                max_per_destination_per_day: 1_500,
                max_fee: 10,
                max_expiration_secs: 3_600,
            },
        }
    }

    fn transfer(to: u64, amount: i64, expiration: u32) -> Vec<u8> {
        let op = Transfer {
            fee: Asset::cwd(10),
            from: AccountId(17),
            to: AccountId(to),
            amount: Asset::cwd(amount),
            memo: None,
        };
        Transaction {
            ref_block_num: 1,
            ref_block_prefix: 2,
            expiration,
            operations: vec![Operation::Transfer(op)],
        }
        .to_bytes()
    }

    fn ask(store: &mut Store, bytes: &[u8], now_ms: u64) -> Outcome {
        store
            .decide_and_record(&policy(), &CHAIN, bytes, now_ms, "test", |_| Ok([3u8; 65]))
            .unwrap()
    }

    #[test]
    fn the_window_rolls_and_sweeps_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(matches!(
            ask(&mut store, &transfer(30, 990, NOW_S + 60), NOW_MS),
            Outcome::Signed { spend: 1_000, .. }
        ));
        assert!(matches!(
            ask(&mut store, &transfer(20, 50_000, NOW_S + 60), NOW_MS),
            Outcome::Signed { sweep: true, .. }
        ));
        assert!(matches!(
            ask(&mut store, &transfer(31, 990, NOW_S + 61), NOW_MS + 1),
            Outcome::Signed { .. }
        ));
        assert_eq!(store.spent_since(0).unwrap(), 2_000);
        let later = NOW_MS + 1_000;
        match ask(&mut store, &transfer(32, 1, NOW_S + 62), later) {
            Outcome::Refused {
                rule: Rule::DailyTotal, ..
            } => {}
            other => panic!("{other:?}"),
        }
        // 24 h after the first, it has left the window; the second transfer has not yet.
        let day_later = NOW_MS + DAY_MS;
        let expiration = (day_later / 1000) as u32 + 60;
        assert!(matches!(
            ask(&mut store, &transfer(32, 990, expiration), day_later),
            Outcome::Signed { .. }
        ));
        match ask(&mut store, &transfer(33, 1, expiration + 1), day_later) {
            Outcome::Refused {
                rule: Rule::DailyTotal, ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_signature_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let bytes = transfer(30, 100, NOW_S + 60);
        let r = store.decide_and_record(&policy(), &CHAIN, &bytes, NOW_MS, "test", |_| Err("fault".into()));
        assert!(matches!(r, Err(StoreError::Signing(_))));
        assert_eq!(store.spent_since(0).unwrap(), 0);
        assert!(store.log_page(0, 10).unwrap().0.is_empty());
        assert!(matches!(ask(&mut store, &bytes, NOW_MS), Outcome::Signed { .. }));
    }

    #[test]
    fn records_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        ask(&mut store, &transfer(30, 100, NOW_S + 60), NOW_MS);
        assert!(store.conn.execute("DELETE FROM signed", []).is_err());
        assert!(store.conn.execute("UPDATE signed SET spend = 0", []).is_err());
        assert!(store.conn.execute("DELETE FROM log", []).is_err());
        assert!(store.conn.execute("UPDATE log SET outcome = 'refused'", []).is_err());
        assert_eq!(store.spent_since(0).unwrap(), 110);
    }

    #[test]
    fn another_programs_database_or_a_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE kv(k, v)")
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(err.to_string().contains("another program (kv)"), "{err}");

        let path = dir.path().join("open.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        let path = dir.path().join("new.db");
        Store::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
