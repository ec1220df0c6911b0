//! `signer.toml`: where the key, the store and the socket are, and the policy.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cwd_codec::keys::PrivateKey;
use cwd_codec::ops::AccountId;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::policy::{Limits, Policy};

/// A secret file larger than this is not a key or a token: refuse it unread.
const MAX_SECRET_FILE: u64 = 4096;
/// Bearer tokens shorter than this are guessable.
const MIN_TOKEN_LEN: usize = 16;

/// The file as written. Unknown fields are refused: a misspelt limit must not be ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    chain_id: String,
    account: String,
    active_key_file: PathBuf,
    store: Option<PathBuf>,
    socket: Option<PathBuf>,
    tcp: Option<String>,
    token_file: Option<PathBuf>,
    cold_account: Option<String>,
    policy: Limits,
}

/// The signer's configuration, loaded and checked, with its key read.
///
/// `signer.toml`:
/// ```toml
/// chain_id = "<64 hex>"            # a request for another chain is refused
/// account = "1.2.17"               # every operation must be from it (fee payer)
/// active_key_file = "active.wif"   # WIF; mode 0600 or 0400
/// store = "signer.db"              # default "signer.db"; created 0600
/// socket = "signer.sock"           # default "signer.sock"; created 0600
/// tcp = "127.0.0.1:7081"           # optional, with token_file (both or neither)
/// token_file = "signer.token"      # bearer token for TCP, at least 16 characters; mode 0600 or 0400
/// cold_account = "1.2.20"          # optional: transfers to it are sweeps
/// [policy]                         # CWD base units (100000 = 1 CWD); every field required
/// max_per_transaction = 100000000
/// max_per_day = 1000000000
/// max_per_destination_per_day = 200000000
/// max_fee = 2000000
/// max_expiration_secs = 3600
/// ```
/// Relative paths are resolved against the directory of the config file. TCP carries no
/// TLS: bind it to loopback, or reach it through a tunnel.
#[derive(Clone)]
pub struct SignerConfig {
    pub policy: Policy,
    pub store: PathBuf,
    pub socket: PathBuf,
    pub tcp: Option<SocketAddr>,
    token: Option<Zeroizing<String>>,
    key: PrivateKey,
}

impl fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the key nor the token: only the public key.
        f.debug_struct("SignerConfig")
            .field("policy", &self.policy)
            .field("store", &self.store)
            .field("socket", &self.socket)
            .field("tcp", &self.tcp)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Why the configuration cannot be used; each case names the field to fix.
#[derive(Debug)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not valid TOML, a missing field, or an unknown one (toml's message names it).
    Parse {
        path: PathBuf,
        message: String,
    },
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// A key or token file that cannot be read or does not hold what it should.
    SecretFile {
        field: &'static str,
        path: PathBuf,
        problem: String,
    },
    /// A key or token file that other users may read.
    SecretPermissions {
        field: &'static str,
        path: PathBuf,
        mode: u32,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read the signer config {}: {source}", path.display())
            }
            ConfigError::Parse { path, message } => {
                write!(f, "signer config {}: {}", path.display(), message.trim_end())
            }
            ConfigError::Invalid { field, problem } => write!(f, "signer config field `{field}`: {problem}"),
            ConfigError::SecretFile { field, path, problem } => {
                write!(f, "signer config field `{field}` ({}): {problem}", path.display())
            }
            ConfigError::SecretPermissions { field, path, mode } => write!(
                f,
                "signer config field `{field}`: {} has mode {mode:o}, so other users may read it; run `chmod 600 {}`",
                path.display(),
                path.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl SignerConfig {
    /// Reads and checks `path`, and reads the key (and token) files it names.
    pub fn load(path: &Path) -> Result<SignerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: Raw = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::from_raw(raw, base)
    }

    fn from_raw(raw: Raw, base: &Path) -> Result<SignerConfig, ConfigError> {
        let invalid = |field: &'static str, problem: String| ConfigError::Invalid { field, problem };
        let mut chain_id = [0u8; 32];
        hex::decode_to_slice(raw.chain_id.trim(), &mut chain_id)
            .map_err(|_| invalid("chain_id", "must be the chain id: 64 hex digits".into()))?;
        let account = account_id("account", &raw.account)?;
        let cold_account = raw
            .cold_account
            .as_deref()
            .map(|c| account_id("cold_account", c))
            .transpose()?;
        if cold_account == Some(account) {
            return Err(invalid("cold_account", "must not be the gateway account itself".into()));
        }

        let key_path = base.join(&raw.active_key_file);
        let wif = read_secret("active_key_file", &key_path)?;
        let key = PrivateKey::from_wif(&wif).map_err(|e| ConfigError::SecretFile {
            field: "active_key_file",
            path: key_path.clone(),
            problem: format!("{e}: the file must hold the active private key in WIF"),
        })?;

        let (tcp, token) = match (raw.tcp, raw.token_file) {
            (None, None) => (None, None),
            (Some(addr), Some(token_file)) => {
                let addr: SocketAddr = addr.trim().parse().map_err(|_| {
                    invalid(
                        "tcp",
                        format!("{addr:?} is not an address and port such as \"127.0.0.1:7081\""),
                    )
                })?;
                let token_path = base.join(token_file);
                let token = read_secret("token_file", &token_path)?;
                let trimmed = Zeroizing::new(token.trim().to_string());
                if trimmed.len() < MIN_TOKEN_LEN || trimmed.contains(char::is_whitespace) {
                    return Err(ConfigError::SecretFile {
                        field: "token_file",
                        path: token_path,
                        problem: format!("the token must be one word of at least {MIN_TOKEN_LEN} random characters"),
                    });
                }
                (Some(addr), Some(trimmed))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "token_file",
                    "tcp is set: every TCP request needs a bearer token; name its file".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tcp",
                    "token_file is set but tcp is not: set both or neither".into(),
                ))
            }
        };

        Ok(SignerConfig {
            policy: Policy {
                chain_id,
                account,
                cold_account,
                limits: raw.policy,
            },
            store: base.join(raw.store.unwrap_or_else(|| "signer.db".into())),
            socket: base.join(raw.socket.unwrap_or_else(|| "signer.sock".into())),
            tcp,
            token,
            key,
        })
    }

    /// The active key's public key, `CWD…`.
    pub fn public_key(&self) -> String {
        self.key.public_key().to_string()
    }

    pub(crate) fn key(&self) -> &PrivateKey {
        &self.key
    }

    pub(crate) fn token(&self) -> Option<&Zeroizing<String>> {
        self.token.as_ref()
    }
}

fn account_id(field: &'static str, text: &str) -> Result<AccountId, ConfigError> {
    text.trim()
        .strip_prefix("1.2.")
        // Digits only: `parse` would also take a leading `+`.
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .map(AccountId)
        .ok_or_else(|| ConfigError::Invalid {
            field,
            problem: format!("{text:?} is not an account id such as \"1.2.17\""),
        })
}

/// Reads a key or token file into memory that is wiped on drop. The mode is checked on
/// the opened file, so it is the file read that is checked.
fn read_secret(field: &'static str, path: &Path) -> Result<Zeroizing<String>, ConfigError> {
    let problem = |problem: String| ConfigError::SecretFile {
        field,
        path: path.to_path_buf(),
        problem,
    };
    let mut file = File::open(path).map_err(|e| problem(format!("cannot open it: {e}")))?;
    let meta = file.metadata().map_err(|e| problem(e.to_string()))?;
    if !meta.is_file() {
        return Err(problem("not a regular file".into()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::SecretPermissions {
            field,
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > MAX_SECRET_FILE {
        return Err(problem(format!("{} bytes: larger than any key or token", meta.len())));
    }
    // Room for the whole file up front, so the buffer is never reallocated (which would
    // leave a copy of the secret behind).
    let mut text = Zeroizing::new(String::with_capacity(MAX_SECRET_FILE as usize + 1));
    (&mut file)
        .take(MAX_SECRET_FILE)
        .read_to_string(&mut text)
        .map_err(|e| problem(format!("cannot read it as text: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const WIF_BYTES: [u8; 32] = [7u8; 32];

    fn write_secret(dir: &Path, name: &str, text: &str, mode: u32) {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn setup(extra: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let wif = PrivateKey::from_bytes(&WIF_BYTES).unwrap().to_wif();
        write_secret(dir.path(), "active.wif", &format!("{wif}\n"), 0o600);
        let config = format!(
            "chain_id = \"{}\"\naccount = \"1.2.17\"\nactive_key_file = \"active.wif\"\n{extra}\n[policy]\nmax_per_transaction = 100\nmax_per_day = 1000\nmax_per_destination_per_day = 500\nmax_fee = 10\nmax_expiration_secs = 3600\n",
            "ab".repeat(32)
        );
        let path = dir.path().join("signer.toml");
        fs::write(&path, config).unwrap();
        (dir, path)
    }

    #[test]
    fn loads_with_defaults_resolved_against_the_config_directory() {
        let (dir, path) = setup("cold_account = \"1.2.20\"");
        let c = SignerConfig::load(&path).unwrap();
        assert_eq!(c.policy.chain_id, [0xab; 32]);
        assert_eq!(c.policy.account, AccountId(17));
        assert_eq!(c.policy.cold_account, Some(AccountId(20)));
        assert_eq!(c.policy.limits.max_per_destination_per_day, 500);
        assert_eq!(c.store, dir.path().join("signer.db"));
        assert_eq!(c.socket, dir.path().join("signer.sock"));
        assert_eq!(
            c.public_key(),
            PrivateKey::from_bytes(&WIF_BYTES).unwrap().public_key().to_string()
        );
        assert!(c.tcp.is_none() && c.token().is_none());
        let debug = format!("{c:?}");
        assert!(!debug.contains(&PrivateKey::from_bytes(&WIF_BYTES).unwrap().to_wif()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let (_dir, path) = setup("max_per_dya = 5");
        let err = SignerConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("max_per_dya"), "{err}");
        let (_dir, path) = setup("");
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("max_fee = 10", "max_fee = 10\nmax_fees = 1");
        fs::write(&path, text).unwrap();
        assert!(SignerConfig::load(&path).unwrap_err().to_string().contains("max_fees"));
    }

    #[test]
    fn fields_that_do_not_parse_are_named() {
        for (extra, field) in [
            ("cold_account = \"1.3.0\"", "cold_account"),
            ("cold_account = \"1.2.17\"", "cold_account"),
            ("tcp = \"localhost\"\ntoken_file = \"t\"", "tcp"),
            ("tcp = \"127.0.0.1:1\"", "token_file"),
            ("token_file = \"t\"", "tcp"),
        ] {
            let (_dir, path) = setup(extra);
            match SignerConfig::load(&path) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        let (_dir, path) = setup("");
        let text = fs::read_to_string(&path).unwrap().replace(&"ab".repeat(32), "abc");
        fs::write(&path, text).unwrap();
        assert!(matches!(
            SignerConfig::load(&path),
            Err(ConfigError::Invalid { field: "chain_id", .. })
        ));
    }

    #[test]
    fn secret_files_must_be_private_and_well_formed() {
        let (dir, path) = setup("");
        fs::set_permissions(dir.path().join("active.wif"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = SignerConfig::load(&path).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::SecretPermissions {
                field: "active_key_file",
                mode: 0o644,
                ..
            }
        ));
        assert!(err.to_string().contains("chmod 600"));

        fs::set_permissions(dir.path().join("active.wif"), fs::Permissions::from_mode(0o400)).unwrap();
        SignerConfig::load(&path).unwrap();

        write_secret(dir.path(), "active.wif", "not a key", 0o600);
        let err = SignerConfig::load(&path).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::SecretFile {
                    field: "active_key_file",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("not a key"));

        let (dir, path) = setup("tcp = \"127.0.0.1:0\"\ntoken_file = \"signer.token\"");
        write_secret(dir.path(), "signer.token", "short", 0o600);
        assert!(matches!(
            SignerConfig::load(&path),
            Err(ConfigError::SecretFile {
                field: "token_file",
                ..
            })
        ));
        write_secret(dir.path(), "signer.token", "0123456789abcdef0123", 0o640);
        assert!(matches!(
            SignerConfig::load(&path),
            Err(ConfigError::SecretPermissions {
                field: "token_file",
                ..
            })
        ));
        write_secret(dir.path(), "signer.token", "0123456789abcdef0123\n", 0o600);
        let c = SignerConfig::load(&path).unwrap();
        assert_eq!(c.token().map(|t| t.as_str()), Some("0123456789abcdef0123"));
    }
}
