//! The compiled-component cache, which nobody but this user can feed the host.
//!
//! Loading a compiled component runs its machine code in the process that holds the
//! keys, and wasmtime checks nothing but an engine-compatibility header. So an entry is
//! used only if
//!
//! - the cache directory is a directory owned by this (effective) user and writable by
//!   no one else (no group or other write bit); the host creates it 0700;
//! - the entry is a regular file (not a symlink), owned by this user and writable by
//!   no one else;
//! - it starts with an HMAC-SHA256 tag, over the entry's name and the compiled bytes
//!   after it, under the *cache key*: 32 random bytes in a file of their own (0600, in a
//!   0700 directory owned by this user) that is never inside the cache directory. The key
//!   is created on first use.
//!
//! The entry is read whole into memory, its tag checked there in constant time, and
//! only those verified bytes are deserialized: the file cannot change between the check
//! and the load. Anything refused is logged as a warning and the component compiled
//! again; a refused entry in a usable directory is then replaced (written to a private
//! temporary file, renamed over it).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes of the cache key and of an entry's tag.
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 32;
/// Entries larger than this are refused unread (the gateway's is a few MiB).
const MAX_ENTRY: u64 = 256 << 20;
/// Binds a tag to this use of the key.
const DOMAIN: &[u8] = b"cwd-gateway compiled component cache v1\0";

/// A cache directory found fit for use, with the key its entries are tagged with.
pub(super) struct Cache {
    dir: PathBuf,
    key: Zeroizing<[u8; KEY_LEN]>,
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Refuses `meta` (of `path`, a `what`) unless this user owns it and no one else may
/// write it.
fn check_owner_and_mode(meta: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    if meta.uid() != euid() {
        bail!("the {what} {} is owned by uid {}, not by this user (uid {})", path.display(), meta.uid(), euid());
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!("the {what} {} may be written by others (mode {mode:04o})", path.display());
    }
    Ok(())
}

/// Creates `dir` (and missing parents) 0700, then checks it is a directory owned by
/// this user that no one else may write.
fn private_dir(dir: &Path, what: &str) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the {what} {}", dir.display()))?;
    let meta = std::fs::metadata(dir).with_context(|| format!("reading the {what} {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("the {what} {} is not a directory", dir.display());
    }
    check_owner_and_mode(&meta, dir, what)
}

/// Opens `path` for reading without following a symlink; `None` if it does not exist.
fn open_nofollow(path: &Path) -> std::io::Result<Option<File>> {
    match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The cache key in `path`, created (32 random bytes, 0600) if there is none. Refused
/// if the file or its directory is not this user's, or others may read the file or
/// write either.
fn load_or_create_key(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    private_dir(parent, "cache key's directory")?;
    for _ in 0..2 {
        if let Some(mut file) = open_nofollow(path).with_context(|| format!("opening the cache key file {}", path.display()))? {
            let meta = file.metadata()?;
            if !meta.is_file() {
                bail!("the cache key file {} is not a regular file", path.display());
            }
            check_owner_and_mode(&meta, path, "cache key file")?;
            let mode = meta.mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!("the cache key file {} may be read by others (mode {mode:03o})", path.display());
            }
            if meta.len() != KEY_LEN as u64 {
                bail!("the cache key file {} is not {KEY_LEN} bytes long", path.display());
            }
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            file.read_exact(&mut key[..]).with_context(|| format!("reading the cache key file {}", path.display()))?;
            return Ok(key);
        }
        // None yet: write one beside it and link it into place, which fails if another
        // process got there first (then its key is read).
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        File::open("/dev/urandom")
            .and_then(|mut r| r.read_exact(&mut key[..]))
            .context("drawing a cache key from /dev/urandom")?;
        let tmp = temp_name(path);
        let _ = std::fs::remove_file(&tmp);
        crate::files::write_private(&tmp, &key[..]).with_context(|| format!("writing the cache key file {}", tmp.display()))?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating the cache key file {}", path.display())),
        }
    }
    Err(anyhow!("the cache key file {} keeps changing", path.display()))
}

/// `path` with `.tmp<pid>-<n>` appended to its file name: unique to this process and
/// call.
fn temp_name(path: &Path) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-{n}", std::process::id()));
    path.with_file_name(name)
}

impl Cache {
    /// The cache in `dir` (created 0700 if missing), keyed by the key in `key_file`.
    /// Refused if either is not this user's alone, or the key file lies in `dir`.
    pub(super) fn open(dir: &Path, key_file: &Path) -> Result<Cache> {
        private_dir(dir, "cache directory")?;
        let key_dir = key_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        private_dir(key_dir, "cache key's directory")?;
        let (Ok(dir_real), Ok(key_dir_real)) = (std::fs::canonicalize(dir), std::fs::canonicalize(key_dir)) else {
            bail!("cannot resolve the cache directory {} or the cache key's directory", dir.display());
        };
        if key_dir_real.starts_with(&dir_real) {
            bail!("the cache key file {} is in the cache directory; it must be kept elsewhere", key_file.display());
        }
        let key = load_or_create_key(key_file)?;
        Ok(Cache { dir: dir.to_path_buf(), key })
    }

    fn mac(&self, name: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac.update(body);
        mac
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The verified compiled bytes of entry `name`; `None` if there is no entry, an
    /// error (saying why, never with the key or tag) if there is one this host must not
    /// load.
    pub(super) fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(name);
        let Some(mut file) = open_nofollow(&path).with_context(|| format!("opening {} (a symlink is refused)", path.display()))? else {
            return Ok(None);
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        check_owner_and_mode(&meta, &path, "cache entry")?;
        if meta.len() > MAX_ENTRY {
            bail!("{} is larger than any compiled component ({} bytes)", path.display(), meta.len());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        (&mut file).take(MAX_ENTRY + 1).read_to_end(&mut bytes)?;
        if bytes.len() < TAG_LEN || bytes.len() as u64 > MAX_ENTRY {
            bail!("{} is not a tagged cache entry", path.display());
        }
        let body = bytes.split_off(TAG_LEN);
        self.mac(name, &body)
            .verify_slice(&bytes)
            .map_err(|_| anyhow!("{} does not carry this host's tag (written by someone else, or damaged)", path.display()))?;
        Ok(Some(body))
    }

    /// Writes entry `name`: tag and bytes to a private temporary file, renamed over any
    /// entry there.
    pub(super) fn write(&self, name: &str, body: &[u8]) -> Result<()> {
        let path = self.path(name);
        let tmp = temp_name(&path);
        let _ = std::fs::remove_file(&tmp);
        let tag = self.mac(name, body).finalize().into_bytes();
        let written = (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp)?;
            file.write_all(&tag)?;
            file.write_all(body)?;
            std::fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.with_context(|| format!("writing the cache entry {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load_component_from, CacheUse, RuntimeConfig};
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use wasmtime::component::Component;
    use wasmtime::Engine;

    /// The smallest component: the preamble and nothing else.
    const EMPTY: &[u8] = b"\0asm\x0d\x00\x01\x00";

    struct Dirs {
        root: PathBuf,
        config: RuntimeConfig,
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::set_permissions(self.cache(), std::fs::Permissions::from_mode(0o700));
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    impl Dirs {
        fn new(name: &str) -> Dirs {
            let root = std::env::temp_dir().join(format!("cwd-cache-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let config = RuntimeConfig {
                cache_dir: Some(root.join("cache")),
                cache_key_file: Some(root.join("state").join("cache-key")),
                ..RuntimeConfig::default()
            };
            Dirs { root, config }
        }
        fn cache(&self) -> &Path {
            self.config.cache_dir.as_deref().unwrap()
        }
        fn key_file(&self) -> &Path {
            self.config.cache_key_file.as_deref().unwrap()
        }
        fn load(&self, engine: &Engine, wasm: &[u8]) -> CacheUse {
            load_component_from(engine, wasm, &self.config).unwrap().1
        }
        /// The one entry in the cache directory.
        fn entry(&self) -> PathBuf {
            let entries: Vec<_> = std::fs::read_dir(self.cache()).unwrap().map(|e| e.unwrap().path()).collect();
            assert_eq!(entries.len(), 1, "{entries:?}");
            entries[0].clone()
        }
    }

    fn engine() -> Engine {
        Engine::new(&wasmtime::Config::new()).unwrap()
    }

    #[test]
    fn runtime_cache_is_written_private_and_then_used() {
        let dirs = Dirs::new("fresh");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(dirs.cache()), 0o700);
        assert_eq!(mode(dirs.key_file().parent().unwrap()), 0o700);
        assert_eq!(mode(dirs.key_file()), 0o600);
        assert_eq!(std::fs::metadata(dirs.key_file()).unwrap().len(), 32);
        let entry = dirs.entry();
        assert_eq!(mode(&entry), 0o600);
        assert!(entry.file_name().unwrap().to_str().unwrap().ends_with(".cwasm"));
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        // The key stays the same from run to run.
        let key = std::fs::read(dirs.key_file()).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        assert_eq!(std::fs::read(dirs.key_file()).unwrap(), key);
    }

    #[test]
    fn runtime_cache_garbage_under_a_valid_name_is_replaced_not_loaded() {
        let dirs = Dirs::new("garbage");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        let entry = dirs.entry();
        std::fs::write(&entry, vec![0xA5u8; 4096]).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_ne!(std::fs::read(&entry).unwrap(), vec![0xA5u8; 4096], "the garbage was replaced");
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        // So is an entry shorter than a tag, and a symlink in its place.
        std::fs::write(&entry, b"short").unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        let elsewhere = dirs.root.join("elsewhere.cwasm");
        std::fs::rename(&entry, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert!(std::fs::symlink_metadata(&entry).unwrap().is_file(), "the symlink was replaced by a file");
    }

    /// A real compiled component (one wasmtime would load) under a tag made with another
    /// key, or with its tag altered, is refused before it is deserialized.
    #[test]
    fn runtime_cache_entry_with_a_bad_tag_is_refused() {
        let dirs = Dirs::new("badtag");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        let entry = dirs.entry();
        let name = entry.file_name().unwrap().to_str().unwrap().to_string();
        let good = std::fs::read(&entry).unwrap();
        // Another key's tag over genuine compiled bytes.
        let other = Dirs::new("badtag-other");
        let forger = Cache::open(other.cache(), other.key_file()).unwrap();
        let compiled = Component::new(&engine, EMPTY).unwrap().serialize().unwrap();
        forger.write(&name, &compiled).unwrap();
        std::fs::copy(forger.path(&name), &entry).unwrap();
        let forged = std::fs::read(&entry).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_ne!(std::fs::read(&entry).unwrap(), forged, "replaced by this host's own entry");
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        // One bit of the tag, then one bit of the body.
        for at in [0, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&entry, &bad).unwrap();
            assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled, "byte {at} flipped");
            assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        }
        // A genuine entry of another component under this one's name (a swap).
        let cache = Cache::open(dirs.cache(), dirs.key_file()).unwrap();
        cache.write("gateway-other.cwasm", &compiled).unwrap();
        std::fs::copy(dirs.cache().join("gateway-other.cwasm"), &entry).unwrap();
        assert!(cache.read(&name).is_err());
    }

    #[test]
    fn runtime_cache_dir_writable_by_others_is_not_used() {
        let dirs = Dirs::new("worldwritable");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        let entry = dirs.entry();
        let good = std::fs::read(&entry).unwrap();
        std::fs::set_permissions(dirs.cache(), std::fs::Permissions::from_mode(0o777)).unwrap();
        // The genuine entry is not loaded from it, and nothing is written to it.
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Refused);
        std::fs::remove_file(&entry).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Refused);
        assert_eq!(std::fs::read_dir(dirs.cache()).unwrap().count(), 0, "nothing written to it");
        // Group-writable is refused too; private again, it is used.
        std::fs::set_permissions(dirs.cache(), std::fs::Permissions::from_mode(0o770)).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Refused);
        std::fs::set_permissions(dirs.cache(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_eq!(std::fs::read(dirs.entry()).unwrap().len(), good.len());
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
    }

    #[test]
    fn runtime_cache_entry_writable_by_others_or_not_ours_is_refused() {
        let dirs = Dirs::new("entrymode");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        let entry = dirs.entry();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_eq!(std::fs::metadata(&entry).unwrap().mode() & 0o777, 0o600, "rewritten private");
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        // Owned by someone else (root can hand it to nobody; others cannot make one).
        if euid() == 0 {
            std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
            assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
            assert_eq!(std::fs::metadata(&entry).unwrap().uid(), 0);
            std::os::unix::fs::chown(dirs.cache(), Some(65534), None).unwrap();
            assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Refused);
            std::os::unix::fs::chown(dirs.cache(), Some(0), None).unwrap();
            assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        }
    }

    #[test]
    fn runtime_cache_key_must_be_private_and_kept_apart() {
        let dirs = Dirs::new("key");
        let engine = engine();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        std::fs::set_permissions(dirs.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Refused);
        std::fs::set_permissions(dirs.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
        // A key in the cache directory itself is refused.
        let beside = RuntimeConfig { cache_key_file: Some(dirs.cache().join("cache-key")), ..dirs.config.clone() };
        assert_eq!(load_component_from(&engine, EMPTY, &beside).unwrap().1, CacheUse::Refused);
        // A new key (the old one lost) makes the old entries unusable, not trusted.
        std::fs::remove_file(dirs.key_file()).unwrap();
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Compiled);
        assert_eq!(dirs.load(&engine, EMPTY), CacheUse::Loaded);
    }

    /// The host itself: garbage under its entry's name, and it still starts (compiling)
    /// and puts its own entry back.
    #[test]
    fn runtime_with_a_tampered_cache_still_starts() {
        let dirs = Dirs::new("host");
        super::super::Runtime::new(dirs.config.clone()).unwrap();
        let entry = dirs.entry();
        let good_len = std::fs::metadata(&entry).unwrap().len();
        std::fs::write(&entry, b"\x7fELF not what this host wrote").unwrap();
        let runtime = super::super::Runtime::new(dirs.config.clone()).unwrap();
        runtime.instantiate().unwrap();
        assert_eq!(std::fs::metadata(&entry).unwrap().len(), good_len);
        assert!(Cache::open(dirs.cache(), dirs.key_file()).unwrap().read(entry.file_name().unwrap().to_str().unwrap()).unwrap().is_some());
    }

    /// Two processes creating the key at once agree on one.
    #[test]
    fn runtime_cache_key_is_created_once() {
        let dirs = Dirs::new("keyrace");
        let path = dirs.key_file().to_path_buf();
        let keys: Vec<[u8; KEY_LEN]> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || *load_or_create_key(&path).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(std::fs::read(&path).unwrap(), keys[0]);
    }
}
