//! Loading and running the gateway component: one engine, one pre-instantiated
//! component, and per-instance limits (memory, time per call) and a WASI context that
//! grants nothing but clocks and randomness.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{Gateway, GatewayPre};
use crate::imports::Capabilities;

#[cfg(unix)]
mod cache;
/// Elsewhere the owner and mode checks cannot be made: no cache.
#[cfg(not(unix))]
mod cache {
    pub(super) struct Cache;
    impl Cache {
        pub(super) fn open(_: &std::path::Path, _: &std::path::Path) -> anyhow::Result<Cache> {
            anyhow::bail!("the compiled-component cache needs a Unix system")
        }
        pub(super) fn read(&self, _: &str) -> anyhow::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        pub(super) fn write(&self, _: &str, _: &[u8]) -> anyhow::Result<()> {
            Ok(())
        }
    }
}

/// The component this host was built with.
pub const EMBEDDED_WASM: &[u8] = include_bytes!(env!("CWD_GATEWAY_WASM"));

const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Most linear memory one instance may grow to.
    pub max_memory_bytes: usize,
    /// Longest one call into the component may run before it is interrupted, not
    /// counting waits for the node forgiven by `node_wait_allowance`.
    pub call_timeout: Duration,
    /// How much of each node call's wait does not count against `call_timeout`. Set it
    /// to the node client's own bound (timeout × nodes tried, plus a margin) so that a
    /// slow node ends in `node-unavailable`, not in a trap; zero counts every wait.
    pub node_wait_allowance: Duration,
    /// Where compiled components are cached; `None` compiles every time. Used only if
    /// owned by this user and writable by no one else (see [`cache`]).
    pub cache_dir: Option<PathBuf>,
    /// The key that tags this host's cache entries (32 random bytes, created 0600 on
    /// first use); never inside `cache_dir`. `None` compiles every time.
    pub cache_key_file: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(10),
            node_wait_allowance: Duration::ZERO,
            cache_dir: default_cache_dir(),
            cache_key_file: default_cache_key_file(),
        }
    }
}

/// `$CWD_GATEWAY_CACHE_DIR`, else `$XDG_CACHE_HOME/cwd-gateway`, else `~/.cache/cwd-gateway`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CWD_GATEWAY_CACHE_DIR") {
        return Some(dir.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("cwd-gateway"))
}

/// `$CWD_GATEWAY_CACHE_KEY_FILE`, else `$XDG_STATE_HOME/cwd-gateway/cache-key`, else
/// `~/.local/state/cwd-gateway/cache-key`: kept apart from the cache it authenticates.
pub fn default_cache_key_file() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("CWD_GATEWAY_CACHE_KEY_FILE") {
        return Some(file.into());
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))?;
    Some(base.join("cwd-gateway").join("cache-key"))
}

/// Seams for a deterministic simulation of this host (the `cwd-sim` crate): where each
/// new instance's `wasi:random` bytes come from, and whether a call to an import traps.
/// A production host sets none: randomness is the system's and imports never trap.
pub trait SimulationHooks: Send + Sync {
    /// The byte source of one new instance's `wasi:random` (secure and insecure).
    fn random_source(&self) -> Box<dyn FnMut(&mut [u8]) + Send>;
    /// Whether the call to `import` (e.g. `store.commit`) traps: before the capability
    /// acts (`after` false) or after it has acted and before its answer is returned.
    fn trap_import(&self, import: &str, after: bool) -> bool;
}

/// A [`SimulationHooks`] byte source as the generator wasmtime-wasi takes.
struct HookRng(Box<dyn FnMut(&mut [u8]) + Send>);

impl rand_core::TryRng for HookRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        (self.0)(&mut b);
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        (self.0)(&mut b);
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        (self.0)(dst);
        Ok(())
    }
}

/// What each instance's store holds: its WASI context and its limits.
pub struct HostState {
    pub(crate) caps: Capabilities,
    hooks: Option<Arc<dyn SimulationHooks>>,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    budget: CallBudget,
}

/// The time one call has used: wall time since it was armed, less forgiven node waits.
struct CallBudget {
    limit: Duration,
    node_allowance: Duration,
    started: Instant,
    node_wait: Duration,
}

impl CallBudget {
    fn used(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.node_wait)
    }
}

impl HostState {
    /// Counts a node call's wait, forgiving up to the allowance.
    pub(crate) fn node_waited(&mut self, waited: Duration) {
        self.budget.node_wait += waited.min(self.budget.node_allowance);
    }

    /// A trap here if the simulation hooks say so; never in a production host.
    pub(crate) fn trap_point(&self, import: &str, after: bool) -> wasmtime::Result<()> {
        match &self.hooks {
            Some(h) if h.trap_import(import, after) => {
                Err(wasmtime::format_err!("simulated trap at {import} ({})", if after { "after it acted" } else { "before it acted" }))
            }
            _ => Ok(()),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Advances the engine's epoch so that a call running past its deadline traps.
struct EpochTicker(Arc<AtomicBool>);

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker(stop)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The compiled, linked component, ready to instantiate cheaply many times. Clones
/// share the engine and the compiled code.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: GatewayPre<HostState>,
    config: RuntimeConfig,
    hooks: Option<Arc<dyn SimulationHooks>>,
    _ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// The component embedded in this binary.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        Self::from_wasm(EMBEDDED_WASM, config)
    }

    pub fn from_wasm(wasm: &[u8], config: RuntimeConfig) -> Result<Self> {
        let mut wt = Config::new();
        wt.epoch_interruption(true);
        // For profiling with `perf`: names the component's compiled functions in
        // /tmp/perf-<pid>.map (see BENCHMARKS.md).
        if std::env::var_os("CWD_PERF_MAP").is_some_and(|v| v == "1") {
            wt.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&wt)?;
        let (component, _) = load_component_from(&engine, wasm, &config)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Gateway::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |s| s)?;
        let pre = GatewayPre::new(linker.instantiate_pre(&component)?)?;
        let _ticker = Arc::new(EpochTicker::start(&engine));
        Ok(Runtime { engine, pre, config, hooks: None, _ticker })
    }

    /// This runtime (sharing its compiled component) with simulation hooks: seeded
    /// randomness and traps at chosen imports, for every instance it makes.
    pub fn with_simulation(&self, hooks: Arc<dyn SimulationHooks>) -> Self {
        Runtime { hooks: Some(hooks), ..self.clone() }
    }

    /// A fresh instance for the pure codec: no store, node or events behind it.
    pub fn instantiate(&self) -> Result<Instance> {
        self.instantiate_with(Capabilities::offline())
    }

    /// A fresh instance with its own limits, reaching the world through `caps`.
    pub fn instantiate_with(&self, caps: Capabilities) -> Result<Instance> {
        // No preopened directories, no sockets, no environment, no stdio: the
        // component gets only what its imports grant.
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        if let Some(hooks) = &self.hooks {
            let mut seed = [0u8; 16];
            let mut source = hooks.random_source();
            source(&mut seed);
            wasi.insecure_random_seed(u128::from_le_bytes(seed));
            wasi.insecure_random(HookRng(hooks.random_source()));
            wasi.secure_random(HookRng(source));
        }
        let wasi = wasi.build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.config.max_memory_bytes)
            .instances(4)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let budget = CallBudget {
            limit: self.config.call_timeout,
            node_allowance: self.config.node_wait_allowance,
            started: Instant::now(),
            node_wait: Duration::ZERO,
        };
        let mut store = Store::new(&self.engine, HostState { caps, hooks: self.hooks.clone(), wasi, table: ResourceTable::new(), limits, budget });
        store.limiter(|s| &mut s.limits);
        // The epoch deadline is a wake-up, not the verdict: at each one the budget says
        // whether the call has really used its time once forgiven node waits are taken off.
        store.epoch_deadline_callback(|ctx| {
            let budget = &ctx.data().budget;
            let used = budget.used();
            if used >= budget.limit {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(ticks(budget.limit - used)))
        });
        store.set_epoch_deadline(ticks(self.config.call_timeout));
        let gateway = self.pre.instantiate(&mut store)?;
        Ok(Instance { store, gateway, poisoned: None })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }
}

fn ticks(d: Duration) -> u64 {
    (d.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// One instance of the component and its store.
pub struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) gateway: Gateway,
    /// Why the instance can no longer be used: a call trapped in it (time budget,
    /// memory limit, panic), which may have left its state half-changed.
    pub(crate) poisoned: Option<String>,
}

impl Instance {
    /// Gives the next call its full time budget.
    pub(crate) fn arm(&mut self) {
        let budget = &mut self.store.data_mut().budget;
        budget.started = Instant::now();
        budget.node_wait = Duration::ZERO;
        let limit = budget.limit;
        self.store.set_epoch_deadline(ticks(limit));
    }

    /// Why a call trapped, if one did; the instance must then be replaced.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }
}

/// What [`load_component_from`] did with the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CacheUse {
    /// No cache configured: compiled.
    Off,
    /// The cache directory or key was refused (logged): compiled, nothing written.
    Refused,
    /// Compiled (no entry, or one refused and replaced) and the entry written.
    Compiled,
    /// Loaded from a verified entry.
    Loaded,
}

/// Compiles, or loads the compilation cached by a previous run once the cache and the
/// entry are found to be this host's own (see [`cache`]). The entry's name covers the
/// component's bytes and everything the engine says its artifacts depend on.
fn load_component_from(engine: &Engine, wasm: &[u8], config: &RuntimeConfig) -> Result<(Component, CacheUse)> {
    let (Some(dir), Some(key_file)) = (config.cache_dir.as_deref(), config.cache_key_file.as_deref()) else {
        return Ok((compile(engine, wasm)?, CacheUse::Off));
    };
    let cache = match cache::Cache::open(dir, key_file) {
        Ok(cache) => cache,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "the compiled-component cache is refused; compiling without it");
            return Ok((compile(engine, wasm)?, CacheUse::Refused));
        }
    };
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(wasm);
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update(engine_hash.finish().to_le_bytes());
    let name = format!("gateway-{}-wasmtime{}.cwasm", hex::encode(&key.finalize()[..16]), env!("CWD_GATEWAY_WASMTIME_VERSION"));
    match cache.read(&name) {
        Ok(Some(bytes)) => {
            // SAFETY: these bytes are in memory, so they are the ones whose tag was just
            // verified: written by this host (`component.serialize()` below), under this
            // name, with a key only this user can read. wasmtime checks the engine
            // compatibility header again.
            match unsafe { Component::deserialize(engine, &bytes) } {
                Ok(component) => return Ok((component, CacheUse::Loaded)),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "a cached compiled component did not load; compiling again"),
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "a cached compiled component is refused; compiling again"),
    }
    let component = compile(engine, wasm)?;
    // The cache is an optimisation: failing to write it is not an error.
    match component.serialize() {
        Ok(bytes) => {
            if let Err(e) = cache.write(&name, &bytes) {
                tracing::warn!(error = %format!("{e:#}"), "the compiled component could not be cached");
            }
        }
        Err(e) => tracing::warn!(error = %e, "the compiled component could not be serialized"),
    }
    Ok((component, CacheUse::Compiled))
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component> {
    Component::new(engine, wasm).map_err(anyhow::Error::from).context("compiling the gateway component")
}
