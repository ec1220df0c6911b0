//! PostgreSQL: the backend several hosts share. Pools (`r2d2`) of sessions used
//! synchronously: the store is called from the component's imports on plain threads (the
//! timer, `spawn_blocking`), never from async code. Each session is `tokio-postgres`
//! driven on a runtime of its own while a call waits on it (what the `postgres` crate
//! does), so that every exchange has a deadline: a server that stops answering gives
//! `store-unavailable` after `statement_timeout` plus a grace, never a hang ([`Link`]).
//!
//! TLS (`[store] sslmode`, rustls): `verify-full` by default for any host that is not
//! loopback, so that nobody on the path reads the ledger or rewrites a withdrawal's
//! destination; `disable` by default for loopback and Unix sockets ([`PgSslMode`]).
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

use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Statement;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::*;

/// The schema this host writes; a database at a newer one is refused.
const SCHEMA_VERSION: i64 = 1;

/// Serializes migrations of hosts starting together (an arbitrary, fixed id).
const MIGRATION_LOCK: i64 = 0x6377_6467_6b76;

/// A commit that keeps losing serialization races gives up after this long.
const RETRY_FOR: Duration = Duration::from_secs(10);

/// How much longer than `statement_timeout` the host waits for an answer before it gives
/// the connection up: the server's own timeout error normally arrives first.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

type Pool = r2d2::Pool<Manager>;

pub struct PostgresStore {
    /// For reads (and migrations): sessions at the server's default isolation.
    pool: Pool,
    /// For commits: sessions whose transactions are SERIALIZABLE ([`Manager`]).
    commits: Pool,
}

/// How the connection to PostgreSQL is protected: `[store] sslmode`, with libpq's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgSslMode {
    /// Plain TCP: anyone on the path reads and rewrites everything. The default only
    /// when every host is loopback or a Unix socket.
    Disable,
    /// Encrypted, but the server's certificate is not checked: it stops a passive
    /// listener, not a man in the middle (who shows a certificate of their own).
    Require,
    /// Encrypted, and the server's certificate must chain to `ca_file` (else to the
    /// public web roots built in) and name the host of the URL. The default for any
    /// host that is not loopback.
    VerifyFull,
}

impl PgSslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PgSslMode::Disable => "disable",
            PgSslMode::Require => "require",
            PgSslMode::VerifyFull => "verify-full",
        }
    }
}

/// What the driver reported, or a deadline the host enforced itself.
#[derive(Debug)]
pub(crate) enum Failure {
    Db(tokio_postgres::Error),
    /// No answer within the bound: the session is dropped (its state is unknown).
    TimedOut { waiting_for: &'static str, after: Duration },
    Other(String),
}

impl Failure {
    fn code(&self) -> Option<&SqlState> {
        match self {
            Failure::Db(e) => e.code(),
            _ => None,
        }
    }

    /// The text of an error, with the server's own message (a driver error's `Display`
    /// alone says "db error") and a pointer to the settings when TLS failed.
    fn detail(&self) -> String {
        match self {
            Failure::Db(e) => {
                let mut detail = match (e.as_db_error(), std::error::Error::source(e)) {
                    (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                    (None, Some(source)) => format!("{e}: {source}"),
                    (None, None) => e.to_string(),
                };
                if detail.contains("TLS") || detail.contains("certificate") {
                    detail.push_str(" (see [store] sslmode and ca_file)");
                } else if detail.contains("no encryption") {
                    detail.push_str(" (the server takes this connection over TLS only: see [store] sslmode)");
                }
                detail
            }
            Failure::TimedOut { waiting_for, after } => {
                format!("no answer {waiting_for} within {} ms: the database is unreachable or not answering", after.as_millis())
            }
            Failure::Other(s) => s.clone(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::redact::text(&self.detail()))
    }
}

impl std::error::Error for Failure {}

type Connection = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// One server session's connection, driven on a runtime of its own only while a call
/// waits on it (as the `postgres` crate's synchronous client does), where every
/// exchange has a deadline: a server that stops answering (black-holed, stopped, a
/// half-open connection) makes the call fail after `answer_within`, never hang.
struct Link {
    connection: Option<Connection>,
    /// Dropped with `shutdown_background`: the last handle on a store may go in async
    /// code (the HTTP server's, at shutdown), where dropping a runtime panics.
    runtime: Option<tokio::runtime::Runtime>,
    answer_within: Duration,
    /// An exchange timed out or the connection failed: the pool drops this session.
    broken: bool,
}

impl Link {
    /// `work` (on this link's client) with the connection driven alongside it, for at
    /// most `answer_within`.
    fn run<T>(&mut self, work: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, Failure> {
        let (connection, limit) = (&mut self.connection, self.answer_within);
        let runtime = self.runtime.as_ref().expect("a link's runtime lives until it is dropped");
        let result = runtime.block_on(async {
            let mut work = std::pin::pin!(work);
            let driven = std::future::poll_fn(|cx| {
                if let Some(c) = connection.as_mut() {
                    match c.as_mut().poll(cx) {
                        Poll::Ready(Err(e)) => {
                            *connection = None;
                            return Poll::Ready(Err(e));
                        }
                        Poll::Ready(Ok(())) => *connection = None,
                        Poll::Pending => {}
                    }
                }
                work.as_mut().poll(cx)
            });
            tokio::time::timeout(limit, driven).await
        });
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_closed() || self.connection.is_none() {
                    self.broken = true;
                }
                Err(Failure::Db(e))
            }
            Err(_) => {
                self.broken = true;
                Err(Failure::TimedOut { waiting_for: "from the database", after: self.answer_within })
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The connection's future first: it belongs to the runtime's reactor.
        self.connection = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A session with the statements every call runs prepared once: sent unprepared, a
/// statement is parsed and planned by the server on every call, which cost more of the
/// server's time than the commit itself.
struct Session {
    link: Link,
    client: tokio_postgres::Client,
    get: Statement,
    /// [`COMMIT_SQL`] and [`COMMIT_PUTS_SQL`], on the sessions of the commit pool.
    commit: Option<(Statement, Statement)>,
}

/// Everything a new session is opened with.
struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

impl Target {
    /// A connection (TCP, TLS, start-up, authentication) within `connect_timeout`, its
    /// server session's `statement_timeout` set, with the `SET`s of `more_settings`
    /// (`; SET …`) in the same round trip.
    fn link(&self, more_settings: &str) -> Result<(Link, tokio_postgres::Client), Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Other(format!("starting a runtime for a database connection: {e}")))?;
        let connected = runtime.block_on(async { tokio::time::timeout(self.connect_timeout, self.config.connect(self.tls.clone())).await });
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            failed => {
                // A name lookup may still be running on the runtime's blocking pool.
                runtime.shutdown_background();
                return Err(match failed {
                    Ok(Err(e)) => Failure::Db(e),
                    _ => Failure::TimedOut { waiting_for: "while connecting to the database", after: self.connect_timeout },
                });
            }
        };
        let answer_within = self.statement_timeout + ANSWER_GRACE;
        let mut link = Link { connection: Some(Box::pin(connection)), runtime: Some(runtime), answer_within, broken: false };
        link.run(client.batch_execute(&format!("SET statement_timeout = {}{more_settings}", self.statement_timeout.as_millis())))?;
        Ok((link, client))
    }

    fn session(&self, commits: bool) -> Result<Session, Failure> {
        let (mut link, client) = self.link(match commits {
            true => "; SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            false => "",
        })?;
        Self::index_only(&mut link, &client)?;
        let commit = match commits {
            true => {
                let bytea = Type::BYTEA_ARRAY;
                let types = [bytea.clone(), Type::INT8_ARRAY, bytea.clone(), bytea.clone(), bytea];
                let with_deletes = link.run(client.prepare_typed(COMMIT_SQL, &types))?;
                Some((with_deletes, link.run(client.prepare_typed(COMMIT_PUTS_SQL, &types[..4]))?))
            }
            false => None,
        };
        let get = link.run(client.prepare_typed(GET_SQL, &[Type::BYTEA]))?;
        Ok(Session { link, client, get, commit })
    }

    /// Every statement a session runs finds rows by the primary key, a key or a range of
    /// it. On a small table (a fresh store) the planner prefers a sequential scan, and a
    /// prepared statement keeps that generic plan as the table grows, until its
    /// statistics next change: each get and each precondition then read the whole table
    /// (in `pg_hosts`, twice PostgreSQL's time a call). Engines without the setting
    /// (CockroachDB) plan by their own rules.
    fn index_only(link: &mut Link, client: &tokio_postgres::Client) -> Result<(), Failure> {
        match link.run(client.batch_execute("SET enable_seqscan = off")) {
            Err(Failure::Db(e)) if matches!(e.code(), Some(c) if *c == SqlState::UNDEFINED_OBJECT || *c == SqlState::FEATURE_NOT_SUPPORTED) => Ok(()),
            other => other,
        }
    }
}

/// Opens [`Session`]s; for commits, ones whose transactions are all SERIALIZABLE, so
/// that a statement sent alone (its own implicit transaction) is one.
struct Manager {
    target: Arc<Target>,
    commits: bool,
}

const GET_SQL: &str = "SELECT value, version FROM cwd_kv WHERE key = $1";

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = Failure;

    fn connect(&self) -> Result<Session, Failure> {
        self.target.session(self.commits)
    }

    fn is_valid(&self, conn: &mut Session) -> Result<(), Failure> {
        conn.link.run(conn.client.simple_query("")).map(|_| ())
    }

    fn has_broken(&self, conn: &mut Session) -> bool {
        conn.link.broken || conn.link.connection.is_none() || conn.client.is_closed()
    }
}

/// `sslmode = "require"`: any certificate is taken (the handshake's signatures are still
/// checked, against the certificate shown, whoever shows it).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS connector for `mode` (never used with `disable`: the driver then never
/// asks the server for TLS).
fn tls_connector(mode: PgSslMode, ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError(format!("PostgreSQL: TLS: {e}")))?;
    let config = match mode {
        PgSslMode::Require => builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth(),
        PgSslMode::VerifyFull => {
            let roots = match ca_file {
                Some(path) => crate::tls::read_ca_file(path, "[store] ca_file").map_err(StoreError)?,
                None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        PgSslMode::Disable => builder.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Whether a connection to `config` stays on this machine: every host it names (or
/// `hostaddr` overrides) is a Unix socket, `localhost` or a loopback address.
fn stays_on_this_machine(config: &tokio_postgres::Config) -> bool {
    fn loopback_ip(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        }
    }
    let (hosts, addrs) = (config.get_hosts(), config.get_hostaddrs());
    let n = hosts.len().max(addrs.len());
    n > 0
        && (0..n).all(|i| match (addrs.get(i), hosts.get(i)) {
            (Some(ip), _) => loopback_ip(*ip),
            (None, Some(Host::Tcp(name))) => {
                let name = name.trim_start_matches('[').trim_end_matches(']');
                name.eq_ignore_ascii_case("localhost") || name.parse().is_ok_and(loopback_ip)
            }
            (None, Some(Host::Unix(_))) => true,
            (None, None) => false,
        })
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
macro_rules! commit_sql {
    ($delete:literal) => {
        concat!(
            "WITH pre AS MATERIALIZED (
    SELECT current_setting('transaction_isolation') = 'serializable' AS serializable,
           NOT EXISTS (SELECT FROM unnest($1::bytea[], $2::int8[]) AS p(k, v)
                       WHERE (SELECT version FROM cwd_kv WHERE key = p.k) IS DISTINCT FROM p.v) AS holds
), put AS (
    INSERT INTO cwd_kv (key, value, version)
    SELECT k, v, nextval('cwd_kv_version') FROM unnest($3::bytea[], $4::bytea[]) AS w(k, v)
    WHERE (SELECT serializable AND holds FROM pre)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version
)",
            $delete,
            "
SELECT serializable, holds FROM pre"
        )
    };
}
const COMMIT_SQL: &str = commit_sql!(
    ", del AS (
    DELETE FROM cwd_kv WHERE key = ANY($5::bytea[]) AND (SELECT serializable AND holds FROM pre)
)"
);
/// [`COMMIT_SQL`] without the delete, for the commits that delete nothing (most).
const COMMIT_PUTS_SQL: &str = commit_sql!("");

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
    /// How long opening a connection (TCP, TLS, start-up, authentication) may take, and
    /// how long a call waits for a pooled connection, before `store-unavailable`.
    pub connect_timeout: Duration,
    /// `None`: [`PgSslMode::VerifyFull`] unless every host is loopback or a Unix socket
    /// ([`PgSslMode::Disable`] then).
    pub sslmode: Option<PgSslMode>,
    /// PEM certificates the server's must chain to under `verify-full` (else the public
    /// web roots built into the host).
    pub ca_file: Option<PathBuf>,
    /// The server cancels a statement running longer (its `statement_timeout`); the host
    /// gives up on a connection silent for this long plus 2 s, and answers
    /// `store-unavailable`.
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &crate::redact::url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("sslmode", &self.sslmode)
            .field("ca_file", &self.ca_file)
            .field("statement_timeout", &self.statement_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            password: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            sslmode: None,
            ca_file: None,
            statement_timeout: Duration::from_secs(10),
        }
    }

    /// The URL parsed, and the TLS mode in force (the default resolved), or why these
    /// settings cannot work together. Reads no file.
    fn parse(&self) -> Result<(tokio_postgres::Config, PgSslMode), StoreError> {
        let url = self.url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError("[store] url must be a postgres:// or postgresql:// URL".into()));
        }
        // libpq's `sslmode` means other things (its default, `prefer`, falls back to
        // plain text; its `require` verifies when a root file exists): one place says it.
        let query = url.split_once('?').map_or("", |(_, q)| q);
        if query.split('&').any(|kv| kv.split('=').next().unwrap_or("").trim() == "sslmode") {
            return Err(StoreError(
                "[store] url: sslmode in the URL is not read: set [store] sslmode = \"disable\" | \"require\" | \"verify-full\" instead (and ca_file)".into(),
            ));
        }
        // The parser's error may quote the URL: say what is wrong without it.
        let config = tokio_postgres::Config::from_str(url).map_err(|_| {
            StoreError(format!("[store] url {} is not a valid PostgreSQL URL (user, host, port, database, options)", crate::redact::url(url)))
        })?;
        let mode = self.sslmode.unwrap_or(match stays_on_this_machine(&config) {
            true => PgSslMode::Disable,
            false => PgSslMode::VerifyFull,
        });
        if mode != PgSslMode::Disable && config.get_hosts().iter().any(|h| matches!(h, Host::Unix(_))) {
            return Err(StoreError(format!(
                "[store] sslmode = \"{}\", but the url names a Unix socket, over which PostgreSQL never uses TLS: set sslmode = \"disable\" (a Unix socket does not leave the machine)",
                mode.as_str()
            )));
        }
        if self.ca_file.is_some() && mode != PgSslMode::VerifyFull {
            return Err(StoreError(format!(
                "[store] ca_file is set, but sslmode = \"{}\" checks no certificate: use sslmode = \"verify-full\"",
                mode.as_str()
            )));
        }
        Ok((config, mode))
    }

    /// The TLS mode these options connect with: `sslmode` when set, else `verify-full`
    /// for a host that is not loopback and `disable` for loopback and Unix sockets; an
    /// error for settings that cannot work together (a URL of its own `sslmode`, TLS to
    /// a Unix socket, a `ca_file` that would not be used).
    pub fn effective_sslmode(&self) -> Result<PgSslMode, StoreError> {
        self.parse().map(|(_, mode)| mode)
    }
}

/// A database error as text without anything secret: the driver's messages name the
/// user and server, never the password, and URLs in them are masked anyway.
fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("PostgreSQL: {}", crate::redact::text(&e.to_string())))
}

/// A driver error (or a deadline missed) as a store error.
fn pg_err(e: &Failure) -> StoreError {
    err(e.detail())
}

fn is_retryable(e: &Failure) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

impl PostgresStore {
    /// Connects, and creates or migrates the schema.
    pub fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        let (mut config, mode) = options.parse()?;
        if let Some(p) = &options.password {
            config.password(p.trim_end_matches(['\r', '\n']));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("cwd-gateway");
        }
        config.ssl_mode(match mode {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Require | PgSslMode::VerifyFull => SslMode::Require,
        });
        // A peer gone silent: data unacknowledged this long closes the connection, and
        // an idle pooled connection is probed (the driver's default waits two hours),
        // so that its next use fails at once instead of after a call's whole bound.
        let answer_within = options.statement_timeout + ANSWER_GRACE;
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(answer_within);
        }
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(30));
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(Duration::from_secs(5));
        }
        if config.get_keepalives_retries().is_none() {
            config.keepalives_retries(3);
        }
        let tls = tls_connector(mode, options.ca_file.as_deref())?;
        let target = Arc::new(Target { config, tls, connect_timeout: options.connect_timeout, statement_timeout: options.statement_timeout });
        // One connection first, for an error that says what is wrong (the pool reports
        // only the driver's summary), and for the schema, which the pools' sessions
        // prepare their statements against.
        let (mut link, mut client) = target.link("").map_err(|e| pg_err(&e))?;
        Self::migrate(&mut link, &mut client)?;
        drop((client, link));
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
        let manager = |commits| Manager { target: target.clone(), commits };
        let pool = builder().build(manager(false)).map_err(err)?;
        let commits = builder().build(manager(true)).map_err(err)?;
        Ok(PostgresStore { pool, commits })
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(err)
    }

    fn migrate(link: &mut Link, client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
        match link.run(Self::migrate_in(client, true)) {
            // Engines without advisory locks (older CockroachDB releases): start one host
            // alone to create the schema.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) => link.run(Self::migrate_in(client, false)),
            other => other,
        }
        .map_err(|e| pg_err(&e))?
    }

    /// The schema created or checked in one transaction: `Err` when the database
    /// failed, `Ok(Err)` when the schema is not one this host can use.
    async fn migrate_in(conn: &mut tokio_postgres::Client, lock: bool) -> Result<Result<(), StoreError>, tokio_postgres::Error> {
        let tx = conn.transaction().await?;
        if lock {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS cwd_gateway_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)").await?;
        let found: Option<i64> = tx.query_opt("SELECT value FROM cwd_gateway_meta WHERE name = 'schema_version'", &[]).await?.map(|r| r.get(0));
        match found {
            None => {
                tx.batch_execute(
                    "CREATE TABLE cwd_kv (key BYTEA PRIMARY KEY, value BYTEA NOT NULL, version BIGINT NOT NULL);
                     CREATE SEQUENCE cwd_kv_version;
                     INSERT INTO cwd_gateway_meta (name, value) VALUES ('schema_version', 1);",
                )
                .await?
            }
            Some(SCHEMA_VERSION) => {}
            Some(v) if v > SCHEMA_VERSION => {
                return Ok(Err(StoreError(format!(
                    "the database's schema is version {v}, newer than this cwd-gateway knows ({SCHEMA_VERSION}): upgrade the host"
                ))))
            }
            Some(v) => return Ok(Err(StoreError(format!("the database's schema version {v} is unknown: restore a backup or use a new database")))),
        }
        tx.commit().await?;
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
    ) -> Result<Result<CommitOutcome, StoreError>, Failure> {
        let (with_deletes, puts_only) = conn.commit.as_ref().expect("a session of the commit pool");
        let row = match del_keys.is_empty() {
            true => conn.link.run(conn.client.query_one(puts_only, &[&pre_keys, &pre_versions, &put_keys, &put_values]))?,
            false => conn.link.run(conn.client.query_one(with_deletes, &[&pre_keys, &pre_versions, &put_keys, &put_values, &del_keys]))?,
        };
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
        let Session { link, client, .. } = &mut *conn;
        let sql = range.sql("cwd_kv", Dialect::Postgres);
        let (lower, limit) = (range.lower.as_bytes(), limit as i64);
        let rows = match range.end.as_deref().map(str::as_bytes) {
            Some(end) => link.run(client.query_typed(&sql, &[(&lower as &(dyn ToSql + Sync), Type::BYTEA), (&end, Type::BYTEA), (&limit, Type::INT8)])),
            None => link.run(client.query_typed(&sql, &[(&lower as &(dyn ToSql + Sync), Type::BYTEA), (&limit, Type::INT8)])),
        }
        .map_err(|e| pg_err(&e))?;
        rows.into_iter().map(|r| Ok(entry(key_text(r.get(0))?, r.get(1), r.get(2)))).collect()
    }

    /// PostgreSQL's generic plan (the one a prepared statement settles on, whatever its
    /// arguments) for the statement `scan` runs, one line a step, on a pooled session (whose
    /// sequential scans are off, so that a small table shows what the index is asked for): for
    /// operators, and for the test that both bounds of a prefix are the index's range.
    pub fn scan_plan(&self, prefix: &str, start_after: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::of(prefix, start_after))
    }

    /// The same for `scan_reverse`.
    pub fn scan_reverse_plan(&self, prefix: &str, start_before: Option<&str>) -> Result<String, StoreError> {
        self.plan(ScanRange::reverse(prefix, start_before))
    }

    fn plan(&self, range: ScanRange<'_>) -> Result<String, StoreError> {
        let sql = range.sql("cwd_kv", Dialect::Postgres);
        let (types, args) = match &range.end {
            Some(end) => ("bytea, bytea, int8", format!("'\\x{}', '\\x{}', 100", hex::encode(range.lower), hex::encode(end))),
            None => ("bytea, int8", format!("'\\x{}', 100", hex::encode(range.lower))),
        };
        self.generic_plan(&sql, types, &args)
    }

    /// The generic plans of the statements every call runs, a get and the commits, as a
    /// pooled session makes them for the table as it is: for the test that they read
    /// `cwd_kv` by its key only, however small the table.
    pub fn point_plans(&self) -> Result<String, StoreError> {
        let get = self.generic_plan(GET_SQL, "bytea", "'\\x01'")?;
        let commit = self.generic_plan(
            COMMIT_SQL,
            "bytea[], int8[], bytea[], bytea[], bytea[]",
            "ARRAY['\\x01'::bytea], ARRAY[1::int8], ARRAY['\\x01'::bytea], ARRAY['\\x02'::bytea], ARRAY['\\x03'::bytea]",
        )?;
        let puts = self.generic_plan(
            COMMIT_PUTS_SQL,
            "bytea[], int8[], bytea[], bytea[]",
            "ARRAY['\\x01'::bytea], ARRAY[1::int8], ARRAY['\\x01'::bytea], ARRAY['\\x02'::bytea]",
        )?;
        Ok(format!("{get}\n{commit}\n{puts}"))
    }

    fn generic_plan(&self, sql: &str, types: &str, args: &str) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        // A prepared statement outlives transactions: one name a call, dropped after.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!("cwd_plan_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let Session { link, client, .. } = &mut *conn;
        let plan = link.run(async {
            let tx = client.transaction().await?;
            tx.batch_execute(&format!("SET LOCAL plan_cache_mode = force_generic_plan; PREPARE {name} ({types}) AS {sql}")).await?;
            let plan = tx.query(&format!("EXPLAIN EXECUTE {name}({args})"), &[]).await;
            let _ = tx.batch_execute(&format!("DEALLOCATE {name}")).await;
            let _ = tx.rollback().await;
            plan
        });
        Ok(plan.map_err(|e| pg_err(&e))?.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n"))
    }
}

impl Store for PostgresStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let mut conn = self.conn()?;
        let Session { link, client, get, .. } = &mut *conn;
        let row = link.run(client.query_opt(&*get, &[&key.as_bytes()])).map_err(|e| pg_err(&e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> Result<PgSslMode, StoreError> {
        PostgresOptions::new(url).effective_sslmode()
    }

    #[test]
    fn tls_is_verified_by_default_unless_every_host_is_on_this_machine() {
        use PgSslMode::*;
        for remote in [
            "postgres://gw@db.internal/gw",
            "postgresql://gw@db.internal:5432/gw",
            "postgres://gw@192.168.1.10/gw",
            "postgres://gw@[2001:db8::1]:5432/gw",
            "postgres://gw@localhost.example.com/gw",
            // One host of several on the network is enough.
            "postgres://gw@localhost,db.internal/gw",
            // Where the bytes go: a remote hostaddr behind a loopback name.
            "postgres://gw@localhost/gw?hostaddr=10.1.2.3",
        ] {
            assert_eq!(mode(remote).unwrap(), VerifyFull, "{remote}");
        }
        for local in [
            "postgres://gw@localhost/gw",
            "postgres://gw@LOCALHOST:5433/gw",
            "postgres://gw@127.0.0.1/gw",
            "postgres://gw@127.8.9.10/gw",
            "postgres://gw@[::1]:5432/gw",
            "postgres://gw@/gw?host=/run/postgresql",
            "postgres://gw@%2Frun%2Fpostgresql/gw",
            "postgres://gw@db.internal/gw?hostaddr=127.0.0.1",
        ] {
            assert_eq!(mode(local).unwrap(), Disable, "{local}");
        }
        let set = |url: &str, sslmode| PostgresOptions { sslmode: Some(sslmode), ..PostgresOptions::new(url) }.effective_sslmode();
        assert_eq!(set("postgres://gw@db.internal/gw", Disable).unwrap(), Disable);
        assert_eq!(set("postgres://gw@localhost/gw", Require).unwrap(), Require);
        let e = set("postgres://gw@/gw?host=/run/postgresql", Require).unwrap_err().0;
        assert!(e.contains("Unix socket") && e.contains("disable"), "{e}");
    }

    #[test]
    fn a_url_sslmode_or_an_unused_ca_file_is_refused_without_echo() {
        let e = mode("postgres://gw:hunter2@db.internal/gw?sslmode=prefer").unwrap_err().0;
        assert!(e.contains("[store] sslmode") && !e.contains("hunter2") && !e.contains("prefer"), "{e}");
        let e = PostgresOptions { ca_file: Some("ca.pem".into()), ..PostgresOptions::new("postgres://gw@localhost/gw") }.effective_sslmode().unwrap_err().0;
        assert!(e.contains("ca_file") && e.contains("verify-full"), "{e}");
        let e = mode("postgres://gw:hunter2@db.internal/gw?nonsense=1").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
    }
}
