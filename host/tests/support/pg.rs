//! A throwaway PostgreSQL server for tests and benchmarks: Debian's binaries
//! (`apt-get install postgresql`, as `.ci/run` does), `initdb` in a temporary
//! directory, listening on loopback at a free port (and its Unix socket in the same
//! directory), password authentication, stopped and removed on drop. Run as root, the
//! server runs as the `postgres` user (PostgreSQL refuses root). [`PgServer::start_tls`]:
//! one that takes TCP clients over TLS only (`hostssl`), with the certificate given.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    pub password: String,
    run_as: Option<(u32, u32)>,
    /// TCP clients must use TLS: administration goes over the Unix socket.
    tls_only: bool,
}

/// The directory of `initdb`/`pg_ctl`: `$CWD_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else `initdb` on the PATH.
fn find_bin() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CWD_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Some(p);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists()))
}

/// `(uid, gid)` of the `postgres` user when this process is root.
fn run_as() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

fn random_hex() -> String {
    use std::io::Read;
    let mut b = [0u8; 12];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl PgServer {
    /// A running server, or `None` (with a message) when PostgreSQL is not installed and
    /// `$CI` is unset. With `$CI` set, a missing PostgreSQL fails the test.
    /// `durable`: fsync as in production (benchmarks); tests run without.
    pub fn start(tag: &str, durable: bool) -> Option<PgServer> {
        Self::launch(tag, durable, None, &[])
    }

    /// A server (see [`PgServer::start`]) started with these `name=value` settings too
    /// (benchmarks: `shared_buffers` sized as for production).
    pub fn start_with(tag: &str, durable: bool, settings: &[&str]) -> Option<PgServer> {
        Self::launch(tag, durable, None, settings)
    }

    /// A server (see [`PgServer::start`]) with `ssl = on` and the certificate chain and
    /// key given (PEM), whose `pg_hba.conf` takes TCP connections over TLS only
    /// (`hostssl`; the Unix socket stays open, for administration).
    pub fn start_tls(tag: &str, cert_pem: &str, key_pem: &str) -> Option<PgServer> {
        Self::launch(tag, false, Some((cert_pem, key_pem)), &[])
    }

    fn launch(tag: &str, durable: bool, tls: Option<(&str, &str)>, settings: &[&str]) -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            let msg = "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install -y postgresql, or set CWD_PG_BIN";
            if std::env::var_os("CI").is_some() {
                panic!("{msg} (CI is set, so this test must run)");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("cwd-pg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run_as = run_as();
        let password = random_hex();
        std::fs::write(dir.join("pw"), &password).unwrap();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(dir.join("pw"), Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = PgServer { dir, bin, port, password, run_as, tls_only: tls.is_some() };
        server.run(
            "initdb",
            &["-D", &server.data(), "-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "-N", &format!("--pwfile={}", server.dir.join("pw").display())],
        );
        let mut opts = format!("-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200", server.dir.display());
        for setting in settings {
            opts.push_str(&format!(" -c {setting}"));
        }
        if !durable {
            opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            // The key must be the server user's and private, or PostgreSQL will not start.
            for (name, pem, mode) in [("server.crt", cert, 0o644), ("server.key", key, 0o600)] {
                let path = server.dir.join(name);
                std::fs::write(&path, pem).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
                }
            }
            std::fs::write(
                Path::new(&server.data()).join("pg_hba.conf"),
                "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n",
            )
            .unwrap();
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                server.dir.join("server.crt").display(),
                server.dir.join("server.key").display()
            ));
        }
        server.run("pg_ctl", &["-D", &server.data(), "-l", &server.dir.join("log").display().to_string(), "-w", "-t", "60", "-o", &opts, "start"]);
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args).current_dir(&self.dir).stdout(Stdio::null()).stderr(Stdio::piped());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("running {tool}: {e}"));
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            panic!("{tool} failed: {}\n{log}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// The URL of `database` (with the password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres:{}@127.0.0.1:{}/{database}", self.password, self.port)
    }

    /// A superuser session on the `postgres` database (over the Unix socket when TCP
    /// needs TLS).
    pub fn admin(&self) -> postgres::Client {
        match self.tls_only {
            true => postgres::Config::new()
                .host_path(&self.dir)
                .port(self.port)
                .user("postgres")
                .password(&self.password)
                .dbname("postgres")
                .connect(postgres::NoTls),
            false => postgres::Client::connect(&self.url("postgres"), postgres::NoTls),
        }
        .expect("connecting to the test server")
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut client = self.admin();
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.args(["-D", &self.data(), "-m", "immediate", "-w", "stop"]).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        let _ = cmd.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
