//! `cwd-gateway backup` and `cwd-gateway check-backup`: an online, consistent copy of
//! the SQLite store, and a read-only look at what a copy holds.
//!
//! The copy is SQLite's `VACUUM INTO` on a connection of its own: one read transaction,
//! so one consistent snapshot (every commit the gateway made before it began, none after),
//! taken beside a running gateway, whose writers a WAL reader never blocks. It is written
//! to a private (0600) temporary file next to the destination, checked, fsynced, and only
//! then renamed into place (and the directory fsynced): a crash leaves either no copy or
//! a whole one. PostgreSQL stores are copied with `pg_dump` ([`pg_dump_advice`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::store::SQLITE_SCHEMA_VERSION;

/// The derived data's build version this release's component keeps (the guest's
/// `records::derived::BUILD_VERSION`): totals of another build are not summed.
const DERIVED_BUILD_VERSION: u64 = 1;

/// Why a backup or a check failed: the operator's mistake (a usage error: exit 2) or the
/// file and the store (exit 1).
#[derive(Debug)]
pub enum BackupError {
    Usage(String),
    Failed(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::Usage(m) | BackupError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BackupError {}

fn failed(msg: impl Into<String>) -> BackupError {
    BackupError::Failed(msg.into())
}

/// What a copy of the store holds, as `check-backup` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub file: PathBuf,
    pub bytes: u64,
    /// `PRAGMA integrity_check`'s answer: always `ok` in a report (anything else fails).
    pub integrity: String,
    /// The tables' layout (`PRAGMA user_version`; a store from before it was recorded
    /// has the layout of version 1).
    pub schema_version: i64,
    /// Entries (records) in the store.
    pub entries: u64,
    /// Entries per top-level key prefix (the part before the first `/`: `user`, `dep`…;
    /// a key without `/` counts under itself).
    pub prefixes: BTreeMap<String, u64>,
    /// The newest commit's version (the last version handed out: no entry has a higher
    /// one).
    pub last_version: u64,
    /// Every gateway operation in blocks up to this one was processed (the deposit
    /// scan's cursor: a gateway started on the copy rescans from here).
    pub scanned_through_block: Option<u64>,
    /// The last event feed position given out (a gateway started on the copy numbers
    /// new events from the next one).
    pub last_event_seq: Option<u64>,
    /// The last withdrawal number given out.
    pub last_withdrawal_number: Option<u64>,
    /// The totals the component keeps in the store (`tot/`), summed; `None` while they
    /// are being built or when a record is not what this release writes.
    pub totals: Option<BTreeMap<String, i128>>,
    /// Why `totals` is `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals_note: Option<String>,
}

impl Report {
    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = format!("{}: a cwd-gateway store, integrity ok\n", self.file.display());
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<24}{v}\n"));
        line("schema version", self.schema_version.to_string());
        line("size", format!("{} bytes", self.bytes));
        line("entries", self.entries.to_string());
        line("last commit version", self.last_version.to_string());
        line("scanned through block", opt(self.scanned_through_block));
        line("last event seq", opt(self.last_event_seq));
        line("last withdrawal number", opt(self.last_withdrawal_number));
        out.push_str("  entries by key prefix:\n");
        for (prefix, n) in &self.prefixes {
            out.push_str(&format!("    {prefix:<22}{n}\n"));
        }
        match (&self.totals, &self.totals_note) {
            (Some(totals), _) => {
                out.push_str("  totals kept in the store:\n");
                for (name, v) in totals {
                    out.push_str(&format!("    {name:<22}{v}\n"));
                }
            }
            (None, note) => out.push_str(&format!("  totals: not shown ({})\n", note.as_deref().unwrap_or("none"))),
        }
        out
    }
}

/// The first 100 bytes of an SQLite file: the fields `check` reads.
struct Header {
    page_size: u64,
    /// The file says WAL mode (a live store, or a copy of one made by other means).
    wal: bool,
    /// The size in pages, when the header's own count is valid.
    pages: Option<u64>,
}

fn read_header(path: &Path, len: u64) -> Result<Header, BackupError> {
    let not_sqlite = || failed(format!("{} is not an SQLite database, so not a cwd-gateway store", path.display()));
    if len == 0 {
        return Err(failed(format!("{} is empty: not a cwd-gateway store", path.display())));
    }
    let mut header = [0u8; 100];
    let mut file = File::open(path).map_err(|e| BackupError::Usage(format!("opening {}: {e}", path.display())))?;
    let got = file.read(&mut header).map_err(|e| failed(format!("reading {}: {e}", path.display())))?;
    let magic = b"SQLite format 3\0";
    if len < 100 {
        return Err(match header[..got.min(16)] == magic[..got.min(16)] {
            true => failed(format!("{} is truncated: {len} bytes, not even an SQLite header", path.display())),
            false => not_sqlite(),
        });
    }
    if (got < 100 && file.read_exact(&mut header[got..]).is_err()) || &header[..16] != magic {
        return Err(not_sqlite());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n if n >= 512 && n.is_power_of_two() => n as u64,
        _ => return Err(not_sqlite()),
    };
    let be32 = |at: usize| u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]) as u64;
    let (changes, pages, valid_for) = (be32(24), be32(28), be32(92));
    Ok(Header { page_size, wal: header[18] == 2 || header[19] == 2, pages: (pages > 0 && changes == valid_for).then_some(pages) })
}

fn sql_failure(path: &Path, e: rusqlite::Error) -> BackupError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => failed(format!("{} is not an SQLite database, so not a cwd-gateway store", path.display())),
        Some(ErrorCode::DatabaseCorrupt) => failed(format!("{} is corrupt: {e}", path.display())),
        _ => failed(format!("reading {}: {e}", path.display())),
    }
}

/// Opens the copy at `path` read-only (never creating or changing it), checks that it is
/// a whole, uncorrupted gateway store at a schema this release knows, and reports what
/// it holds.
pub fn check(path: &Path) -> Result<Report, BackupError> {
    let meta = std::fs::metadata(path).map_err(|e| BackupError::Usage(format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(BackupError::Usage(format!("{} is not a file", path.display())));
    }
    let len = meta.len();
    let header = read_header(path, len)?;
    if let Some(pages) = header.pages {
        if len < pages * header.page_size {
            return Err(failed(format!(
                "{} is truncated: {len} bytes where its header counts {} ({pages} pages): not a whole copy",
                path.display(),
                pages * header.page_size
            )));
        }
    }
    if len % header.page_size != 0 {
        return Err(failed(format!(
            "{} is truncated or damaged: {len} bytes is not a whole number of {}-byte pages",
            path.display(),
            header.page_size
        )));
    }
    if with_suffix(path, "-journal").exists() {
        return Err(failed(format!(
            "{} has a rollback journal beside it ({}): it was being written, or its writer crashed; not a finished copy",
            path.display(),
            with_suffix(path, "-journal").display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // A file in WAL mode with no -wal beside it (a live store's file copied alone): read
    // as it is, `immutable`, else SQLite would create -wal and -shm files next to it.
    // With a -wal (a live store), SQLite reads it too, read-only.
    let conn = if header.wal && !with_suffix(path, "-wal").exists() {
        let Some(p) = path.to_str() else { return Err(BackupError::Usage(format!("{}: the path is not UTF-8", path.display()))) };
        let escaped: String = p.chars().map(|c| match c {
            '%' => "%25".to_string(),
            '?' => "%3f".to_string(),
            '#' => "%23".to_string(),
            c => c.to_string(),
        }).collect();
        Connection::open_with_flags(format!("file:{escaped}?mode=ro&immutable=1"), flags | OpenFlags::SQLITE_OPEN_URI)
    } else {
        Connection::open_with_flags(path, flags)
    }
    .map_err(|e| sql_failure(path, e))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| sql_failure(path, e))?;
    report(&conn, path, len)
}

/// The checks and the report, on an open connection to the copy at `path`.
fn report(conn: &Connection, path: &Path, bytes: u64) -> Result<Report, BackupError> {
    let sql = |e| sql_failure(path, e);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql)?;
    if !(tables.iter().any(|t| t == "kv") && tables.iter().any(|t| t == "kv_seq")) {
        return Err(failed(format!("{} is an SQLite database but not a cwd-gateway store (no kv and kv_seq tables)", path.display())));
    }
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if found > SQLITE_SCHEMA_VERSION {
        return Err(failed(format!(
            "{} is a store at schema version {found}, newer than this cwd-gateway knows ({SQLITE_SCHEMA_VERSION}): check it with a newer release",
            path.display()
        )));
    }
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql)?;
    if problems != ["ok"] {
        let lines: Vec<&str> = problems.iter().flat_map(|p| p.lines()).filter(|l| !l.starts_with("***")).collect();
        let more = match lines.len() {
            n if n > 5 => format!("; and {} more", n - 5),
            _ => String::new(),
        };
        return Err(failed(format!("{} is corrupt (integrity_check): {}{more}", path.display(), lines[..lines.len().min(5)].join("; "))));
    }
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('kv')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql)?;
    if columns != ["key", "value", "version"] {
        return Err(failed(format!("{}: the kv table is not a cwd-gateway store's (columns {columns:?})", path.display())));
    }
    let mut prefixes = BTreeMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT CASE WHEN instr(key, '/') > 0 THEN substr(key, 1, instr(key, '/') - 1) ELSE key END AS p, count(*)
                 FROM kv GROUP BY p",
            )
            .map_err(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).map_err(sql)?;
        for row in rows {
            let (p, n) = row.map_err(sql)?;
            prefixes.insert(p, n);
        }
    }
    let entries = prefixes.values().sum();
    let last_version: i64 = conn
        .query_row("SELECT seq FROM kv_seq WHERE id = 0", [], |r| r.get(0))
        .optional()
        .map_err(sql)?
        .ok_or_else(|| failed(format!("{}: kv_seq has no row: not a whole cwd-gateway store", path.display())))?;
    let max_version: Option<i64> = conn.query_row("SELECT max(version) FROM kv", [], |r| r.get(0)).map_err(sql)?;
    if max_version.is_some_and(|m| m > last_version) || last_version < 0 {
        return Err(failed(format!(
            "{} is inconsistent: an entry has version {} above the last one handed out ({last_version})",
            path.display(),
            max_version.unwrap_or_default()
        )));
    }
    let record = |key: &str| -> Result<Option<serde_json::Value>, BackupError> {
        let value: Option<Vec<u8>> = conn.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(sql)?;
        Ok(value.and_then(|v| serde_json::from_slice::<serde_json::Value>(&v).ok()).map(|mut v| v["r"].take()))
    };
    let scanned_through_block = record("cursor")?.and_then(|c| c["through_block"].as_u64());
    let last_event_seq = record("seq/evt")?.and_then(|v| v.as_u64());
    let last_withdrawal_number = record("seq/wd")?.and_then(|v| v.as_u64());
    let (totals, totals_note) = match record("meta/derived-build")? {
        None => (None, Some("no derived-data build recorded yet".to_string())),
        Some(b) if b["done"] != true => (None, Some("the derived-data build is in progress".to_string())),
        Some(b) if b["version"].as_u64().unwrap_or(0) != DERIVED_BUILD_VERSION => {
            (None, Some(format!("built at version {}, this release reads {DERIVED_BUILD_VERSION}", b["version"])))
        }
        Some(_) => match sum_totals(conn).map_err(sql)? {
            Some(t) => (Some(t), None),
            None => (None, Some("a tot/ record is not one this release reads".to_string())),
        },
    };
    Ok(Report {
        file: path.to_path_buf(),
        bytes,
        integrity: "ok".into(),
        schema_version: found.max(1),
        entries,
        prefixes,
        last_version: last_version as u64,
        scanned_through_block,
        last_event_seq,
        last_withdrawal_number,
        totals,
        totals_note,
    })
}

/// The `tot/` shards summed field by field (each `{"v":1,"r":{field: integer…}}`);
/// `None` if one is anything else.
fn sum_totals(conn: &Connection) -> rusqlite::Result<Option<BTreeMap<String, i128>>> {
    let mut stmt = conn.prepare("SELECT value FROM kv WHERE key >= 'tot/' AND key < 'tot0'")?;
    let values: Vec<Vec<u8>> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut sums = BTreeMap::new();
    for v in values {
        let Ok(serde_json::Value::Object(mut envelope)) = serde_json::from_slice::<serde_json::Value>(&v) else { return Ok(None) };
        let Some(serde_json::Value::Object(fields)) = envelope.remove("r") else { return Ok(None) };
        for (name, n) in fields {
            let n = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i as i128,
                (None, Some(u)) => u as i128,
                _ => return Ok(None),
            };
            *sums.entry(name).or_insert(0i128) += n;
        }
    }
    Ok(Some(sums))
}

/// What `backup` wrote.
#[derive(Debug)]
pub struct BackupOutcome {
    pub report: Report,
}

/// The path with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Copies the SQLite store at `source` (which a gateway may be using) to `to`: one
/// consistent snapshot, 0600, checked, fsynced, renamed into place. `to` must not exist
/// unless `force`.
pub fn backup_sqlite(source: &Path, to: &Path, force: bool) -> Result<BackupOutcome, BackupError> {
    let usage = BackupError::Usage;
    if source.as_os_str() == ":memory:" {
        return Err(usage("[store] path is :memory:, an in-memory store: there is nothing on disk to back up".into()));
    }
    let src_meta = std::fs::metadata(source).map_err(|e| usage(format!("the store {} ([store] path): {e}", source.display())))?;
    if !src_meta.is_file() {
        return Err(usage(format!("the store {} ([store] path) is not a file", source.display())));
    }
    if to.file_name().is_none() {
        return Err(usage(format!("--to {}: give a file name", to.display())));
    }
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!("--to {}: the directory {} does not exist", to.display(), dir.display())));
    }
    match std::fs::symlink_metadata(to) {
        Ok(m) if m.is_dir() => return Err(usage(format!("--to {} is a directory; give a file name", to.display()))),
        Ok(_) => {
            if let (Ok(a), Ok(b)) = (std::fs::canonicalize(source), std::fs::canonicalize(to)) {
                if a == b {
                    return Err(usage(format!("--to {} is the store itself", to.display())));
                }
            }
            if !force {
                return Err(usage(format!("{} exists: give --force to replace it", to.display())));
            }
        }
        Err(_) => {}
    }
    // A journal left beside the destination would be applied to the new copy when it is
    // opened: a database in use there, or one that crashed. Never guess.
    for suffix in ["-wal", "-journal"] {
        let j = with_suffix(to, suffix);
        if j.exists() {
            return Err(usage(format!(
                "{} exists beside the destination: a database is in use there, or crashed. Choose another file, or remove it if you know it is stale",
                j.display()
            )));
        }
    }

    // Open the store without creating it, on a connection of its own.
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| failed(format!("opening the store {}: {e}", source.display())))?;
    src.busy_timeout(Duration::from_secs(30)).map_err(|e| sql_failure(source, e))?;
    let tables: i64 = src
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('kv', 'kv_seq')", [], |r| r.get(0))
        .map_err(|e| sql_failure(source, e))?;
    if tables != 2 {
        return Err(failed(format!("{} ([store] path) is not a cwd-gateway store (no kv and kv_seq tables)", source.display())));
    }

    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = with_suffix(to, &format!(".tmp{}-{n}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    // An empty private file: VACUUM INTO fills an empty file and keeps its mode.
    crate::files::write_private(&tmp, b"").map_err(|e| failed(format!("creating {}: {e}", tmp.display())))?;
    let cleanup = |e: BackupError| {
        let _ = std::fs::remove_file(&tmp);
        for suffix in ["-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(with_suffix(&tmp, suffix));
        }
        e
    };
    let Some(tmp_str) = tmp.to_str() else {
        return Err(cleanup(usage(format!("--to {}: the path is not UTF-8", to.display()))));
    };
    src.execute("VACUUM INTO ?1", [tmp_str]).map_err(|e| cleanup(failed(format!("copying {}: {e}", source.display()))))?;
    drop(src);
    let outcome = (|| {
        // The copy alone, in rollback-journal mode: one self-contained file (the
        // gateway puts it back in WAL mode when it opens it).
        let copy = Connection::open_with_flags(&tmp, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| sql_failure(&tmp, e))?;
        let mode: String = copy.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0)).map_err(|e| sql_failure(&tmp, e))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(failed(format!("{}: could not leave WAL mode ({mode})", tmp.display())));
        }
        drop(copy);
        let mut report = check(&tmp).map_err(|e| match e {
            BackupError::Usage(m) | BackupError::Failed(m) => failed(format!("the copy failed its check: {m}")),
        })?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| failed(format!("syncing {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, to).map_err(|e| failed(format!("renaming {} to {}: {e}", tmp.display(), to.display())))?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| failed(format!("syncing the directory {}: {e}", dir.display())))?;
        report.file = to.to_path_buf();
        Ok(BackupOutcome { report })
    })();
    outcome.map_err(cleanup)
}

/// What `backup` says for a PostgreSQL store: the `pg_dump` (and `pg_restore`) lines,
/// for the database in `url` with any password left out.
pub fn pg_dump_advice(url: &str, to: &Path) -> String {
    let target = match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("password"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if kept.is_empty() {
                u.set_query(None);
            } else {
                u.query_pairs_mut().clear().extend_pairs(kept);
            }
            u.to_string()
        }
        Err(_) => "<database URL>".to_string(),
    };
    let file = to.display();
    format!(
        "the store is PostgreSQL ([store] url): `cwd-gateway backup` copies SQLite files only. Take the backup with pg_dump, \
         which reads one consistent snapshot while the gateways keep running (the password from PGPASSWORD or ~/.pgpass):\n\
         \n    pg_dump --format=custom --table=cwd_kv --table=cwd_kv_version --table=cwd_gateway_meta --file={file} '{target}'\n\
         \nand restore it, every gateway stopped, into an empty database:\n\
         \n    pg_restore --no-owner --exit-on-error --dbname='{target}' {file}\n\
         \n(README, \"Backup and restore\")"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, Store, Write};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cwd-backup-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A store with a few records, its handle kept open (a live WAL store).
    fn store(dir: &Path) -> (PathBuf, SqliteStore) {
        let path = dir.join("gw.db");
        let s = SqliteStore::open(&path).unwrap();
        let put = |k: &str, v: &str| Write { key: k.into(), value: Some(v.as_bytes().to_vec()) };
        s.commit(&[], &[put("user/a", "{}"), put("user/b", "{}"), put("cursor", r#"{"v":1,"r":{"seq":4,"through_block":42}}"#)]).unwrap();
        s.commit(&[], &[put("tot/7", r#"{"v":1,"r":{"balance_game":10,"frozen_game":0}}"#), put("tot/9", r#"{"v":1,"r":{"balance_game":-3,"frozen_game":2}}"#)]).unwrap();
        s.commit(&[], &[put("meta/derived-build", r#"{"v":1,"r":{"done":true,"cursor":null,"counted":2,"version":1}}"#)]).unwrap();
        (path, s)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_copy_of_a_live_store_reports_what_it_holds_and_check_creates_nothing() {
        let dir = temp_dir("live");
        let (path, live) = store(&dir);
        let to = dir.join("copy.db");
        let done = backup_sqlite(&path, &to, false).unwrap();
        drop(live);
        let r = check(&to).unwrap();
        assert_eq!((r.entries, r.last_version, r.schema_version, r.scanned_through_block), (6, 6, 1, Some(42)));
        assert_eq!(r.prefixes.get("user"), Some(&2));
        assert_eq!(r.prefixes.get("cursor"), Some(&1));
        let totals = r.totals.clone().unwrap();
        assert_eq!((totals["balance_game"], totals["frozen_game"]), (7, 2));
        assert_eq!(done.report.entries, 6);
        let before = names(&dir);
        check(&to).unwrap();
        // The live store's file copied alone (WAL mode, no -wal beside it): read as it is.
        let plain = dir.join("plain.db");
        std::fs::copy(&path, &plain).unwrap();
        check(&plain).unwrap();
        let mut expected = before.clone();
        expected.push("plain.db".into());
        expected.sort();
        assert_eq!(names(&dir), expected, "check-backup creates no file");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn refusals_name_the_problem() {
        let dir = temp_dir("refusals");
        let (path, live) = store(&dir);
        let to = dir.join("copy.db");
        backup_sqlite(&path, &to, false).unwrap();
        drop(live);
        let msg = |e: BackupError| e.to_string();
        assert!(msg(backup_sqlite(&path, &to, false).unwrap_err()).contains("--force"));
        assert!(msg(backup_sqlite(&path, &path, true).unwrap_err()).contains("the store itself"));
        std::fs::write(dir.join("other.db-wal"), b"x").unwrap();
        assert!(msg(backup_sqlite(&path, &dir.join("other.db"), false).unwrap_err()).contains("other.db-wal exists"));
        assert!(!dir.join("other.db").exists());
        // A newer schema, a database that is not a store.
        let newer = dir.join("newer.db");
        std::fs::copy(&to, &newer).unwrap();
        Connection::open(&newer).unwrap().pragma_update(None, "user_version", SQLITE_SCHEMA_VERSION + 1).unwrap();
        assert!(msg(check(&newer).unwrap_err()).contains("newer than this cwd-gateway knows"));
        let other = dir.join("other-app.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (a)").unwrap();
        assert!(msg(check(&other).unwrap_err()).contains("not a cwd-gateway store"));
        assert!(msg(backup_sqlite(&other, &dir.join("x.db"), false).unwrap_err()).contains("not a cwd-gateway store"));
        // Cut anywhere, even inside the header: truncated, not "not a database".
        let bytes = std::fs::read(&to).unwrap();
        for cut in [10, 99, 4096, bytes.len() - 1] {
            let short = dir.join("short.db");
            std::fs::write(&short, &bytes[..cut]).unwrap();
            let e = msg(check(&short).unwrap_err());
            assert!(e.contains("truncated"), "cut at {cut}: {e}");
        }
        assert!(!dir.join("x.db").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn pg_dump_advice_never_shows_a_password() {
        let advice = pg_dump_advice("postgres://gw:s3cret@db.internal:5432/gateway?password=other&application_name=x", Path::new("/b/gw.dump"));
        assert!(!advice.contains("s3cret") && !advice.contains("other"), "{advice}");
        assert!(advice.contains("pg_dump --format=custom --table=cwd_kv --table=cwd_kv_version --table=cwd_gateway_meta --file=/b/gw.dump 'postgres://gw@db.internal:5432/gateway?application_name=x'"), "{advice}");
        assert!(advice.contains("pg_restore"), "{advice}");
    }
}
