//! `cwd-gateway run`: the gateway for real — the operator's configuration, SQLite, the
//! configured nodes, the timer, events, and the HTTP API.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::clock::SystemClock;
use crate::config::FileConfig;
use crate::events::{EventSink, FanOut, LogSink, WebhookSink};
use crate::gateway::Service;
use crate::http_api::HttpApi;
use crate::imports::Capabilities;
use crate::node::HttpNode;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{MemoryStore, SqliteStore, Store};

pub fn open_store(path: &Path) -> Result<Arc<dyn Store>> {
    if path.as_os_str() == ":memory:" {
        eprintln!("warning: in-memory store: everything is lost when the process stops");
        return Ok(Arc::new(MemoryStore::new()));
    }
    Ok(Arc::new(SqliteStore::open(path).with_context(|| format!("opening the database {}", path.display()))?))
}

pub fn run(config_path: &Path) -> Result<()> {
    let cfg = FileConfig::load(config_path)?;
    let keys = cfg.load_keys()?;
    let token = cfg.api_token()?;
    let node = HttpNode::new(cfg.node.urls.clone(), cfg.node_timeout()).verify_chain_id(&cfg.gateway.chain_id)?;
    let mut sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(LogSink)];
    if let Some(url) = &cfg.events.webhook_url {
        let secret = match &cfg.events.webhook_secret_file {
            Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            None => anyhow::bail!("[events] webhook_url needs webhook_secret_file (the HMAC key)"),
        };
        sinks.push(Arc::new(WebhookSink::start(url.clone(), secret, cfg.events.webhook_retries.unwrap_or(5))));
    }
    let caps = Capabilities {
        store: open_store(&cfg.store.path)?,
        node: Arc::new(node),
        clock: Arc::new(SystemClock),
        events: Arc::new(FanOut(sinks)),
    };
    let runtime = Runtime::new(RuntimeConfig::default())?;
    // `configure` checks the chain, the account and that the keys are its keys: a
    // mismatch refuses to start.
    let service = Service::start(&runtime, caps, &cfg.component_config(), keys)?;
    eprintln!(
        "gateway {} ({}) configured; chain at block {}, irreversible {}",
        service.info.account, service.info.account_id, service.info.head_block, service.info.last_irreversible_block
    );
    let stop = Arc::new(AtomicBool::new(false));
    let timer = service.spawn_timer(stop.clone(), Duration::from_secs(300));
    let http = HttpApi::bind(&cfg.http.listen)?;
    eprintln!("HTTP API on http://{} (POST /v1/<call>, Authorization: Bearer <token>)", http.addr);
    for t in http.spawn(service, token, 4) {
        let _ = t.join();
    }
    let _ = timer.join();
    Ok(())
}
