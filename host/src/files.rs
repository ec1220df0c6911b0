//! Files the host creates or reads secrets from: created owner-only (0600), secrets
//! refused when others could read them.

use std::path::Path;

/// Creates `path` with mode 0600 if it does not exist; an existing file is left as is.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// Writes `bytes` to a new file that only the owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// Reads a secret file, refusing one that group or others may read (`what` names it
/// in the error). The contents never appear in an error.
pub fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("reading the {what} {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the {what} {} may be read by others (mode {mode:03o}); make it private: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading the {what} {}: {e}", path.display()))
}
