//! `cwd-gateway run`: the gateway for real — the operator's configuration, the store, the
//! configured nodes, the timer, events, and the HTTP API, until SIGINT or SIGTERM.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::clock::SystemClock;
use crate::config::{FileConfig, LogFormat};
use crate::events::{EventSink, FanOut, LogSink};
use crate::gateway::Service;
use crate::gateway::ServiceOptions;
use crate::http_api::HttpApi;
use crate::imports::Capabilities;
use crate::node::NodeClient;
use crate::runtime::Runtime;
use crate::store::{MemoryStore, PostgresStore, SqliteStore, Store};

/// A gateway built from its configuration, as `cwd-gateway run` and the C library
/// (`libcwd`) build it: nodes, store, signer, runtime and the started service.
pub struct Assembled {
    pub service: Arc<Service>,
    pub webhook: Option<crate::webhooks::WebhookTarget>,
    /// The engine the service's instances run in: keep it as long as the service.
    pub runtime: Runtime,
}

/// Why [`assemble`] failed: the configuration (fix the file), or what it names (a node,
/// the database, the chain, the keys' account) refused.
pub enum AssembleError {
    Config(anyhow::Error),
    Host(anyhow::Error),
}

impl From<AssembleError> for anyhow::Error {
    fn from(e: AssembleError) -> Self {
        match e {
            AssembleError::Config(e) | AssembleError::Host(e) => e,
        }
    }
}

/// Builds and starts the service of `cfg` with `keys`, on `store` (else the configured
/// one), telling events to `events`. `configure` checks the chain, the account and that
/// the keys are its keys: a mismatch is refused here.
pub fn assemble(
    cfg: &FileConfig,
    keys: crate::bindings::api::Keys,
    store: Option<Arc<dyn Store>>,
    events: Arc<dyn EventSink>,
) -> Result<Assembled, AssembleError> {
    use AssembleError::{Config, Host};
    let webhook = cfg.webhook_target().map_err(Config)?;
    let signer = cfg.signer.capability().map_err(Config)?;
    let node = NodeClient::with_ca_file(cfg.node.urls.clone(), cfg.node_timeout(), cfg.node.ca_file.as_deref())
        .map_err(Config)?
        .verify_chain_id(&cfg.gateway.chain_id)
        .map_err(Host)?;
    let store = match store {
        Some(store) => store,
        None => open_configured_store(cfg).map_err(Host)?,
    };
    let caps = Capabilities {
        store,
        node: Arc::new(crate::history_prefetch::HistoryPrefetch::new(Arc::new(node))),
        clock: Arc::new(SystemClock),
        events,
        signer,
    };
    let runtime = Runtime::new(cfg.runtime_config()).map_err(Host)?;
    let options = ServiceOptions { api_instances: cfg.runtime.api_instances, lease: cfg.lease_config() };
    let service = Service::start_opts(&runtime, caps, &cfg.component_config(), keys, options).map_err(Host)?;
    Ok(Assembled { service, webhook, runtime })
}

/// PostgreSQL when `[store] url` is set, else SQLite at `[store] path`.
pub fn open_configured_store(cfg: &FileConfig) -> Result<Arc<dyn Store>> {
    match cfg.postgres_options()? {
        Some(options) => {
            let store = PostgresStore::open(&options).map_err(|e| {
                anyhow::anyhow!(
                    "opening the PostgreSQL store at {}: {e}",
                    crate::redact::url(&options.url)
                )
            })?;
            tracing::info!(url = %crate::redact::url(&options.url), "store: PostgreSQL");
            Ok(Arc::new(store))
        }
        None => open_store(&cfg.store.path),
    }
}

pub fn open_store(path: &Path) -> Result<Arc<dyn Store>> {
    if path.as_os_str() == ":memory:" {
        tracing::warn!("in-memory store: everything is lost when the process stops");
        return Ok(Arc::new(MemoryStore::new()));
    }
    let store = SqliteStore::open(path)
        .with_context(|| format!("opening the database {}", path.display()))?;
    // New files are created private; one made by an older version may not be.
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the database may be read by others: chmod 600 it and its -wal and -shm files");
        }
    }
    Ok(Arc::new(store))
}

/// Structured logs on stderr: human-readable, or one JSON object a line. `RUST_LOG`
/// filters (default `info`). The HTTP client's own log lines are always dropped,
/// whatever `RUST_LOG` says: they quote node URLs whole, credentials included (the
/// host logs node failures itself, redacted). Later calls do nothing.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let no_client_logs =
        tracing_subscriber::filter::filter_fn(|meta| !meta.target().starts_with("ureq"));
    let layer = log_layer(format, std::io::stderr);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(no_client_logs))
        .try_init();
}

/// The log format's layer writing to `writer`. Each line (an event's JSON included) is
/// formatted in memory and handed to the writer in one `write`.
pub fn log_layer<S, W>(
    format: LogFormat,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    match format {
        LogFormat::Human => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .boxed(),
    }
}

pub fn run(config_path: &Path, json_logs: bool) -> Result<()> {
    let cfg = FileConfig::load(config_path)?;
    init_logging(if json_logs {
        LogFormat::Json
    } else {
        cfg.log.format
    });
    let keys = cfg.load_keys()?;
    let tokens = cfg.api_tokens()?;
    let sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(LogSink)];
    let Assembled { service, webhook, runtime: _runtime } = assemble(&cfg, keys, None, Arc::new(FanOut(sinks)))?;
    tracing::info!(
        account = %service.info.account,
        account_id = %service.info.account_id,
        head_block = service.info.head_block,
        irreversible_block = service.info.last_irreversible_block,
        "gateway configured"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let timer = service.spawn_timer(stop.clone(), Duration::from_secs(300));
    let sender = webhook.map(|target| {
        tracing::info!(url = %crate::redact::url(&target.url), "webhooks: delivering the event feed");
        crate::webhooks::spawn(service.clone(), target, Arc::new(SystemClock), stop.clone())
    });
    let mut http = HttpApi::bind_with(&cfg.http.listen, cfg.http_limits())?;
    if let Some(cabinet) = cfg.cabinet()? {
        http = http.with_cabinet(cabinet);
        tracing::info!(addr = %http.addr, "player cabinet enabled at /cabinet/");
    }
    if cfg.console.enabled {
        tracing::info!(addr = %http.addr, "operator console at /console/ (sign in with an operator or observer token)");
    } else {
        http = http.without_console();
    }
    let http = Arc::new(http);
    tracing::info!(addr = %http.addr, "HTTP API listening (POST /v1/<call>, Authorization: Bearer <token>; GET /health, /ready)");
    for t in tokens.iter() {
        tracing::info!(name = t.name(), role = %t.role(), "API token");
    }
    let servers = http.spawn_with_tokens(service, tokens, 4);
    wait_for_signal();
    tracing::info!("stopping: finishing requests in progress");
    http.shutdown();
    stop.store(true, Ordering::Relaxed);
    for t in servers {
        let _ = t.join();
    }
    let _ = timer.join();
    if let Some(sender) = sender {
        let _ = sender.join();
    }
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a signal runtime");
    rt.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    });
}
