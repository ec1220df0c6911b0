//! `cwd_devnet_*`: a local simulated chain in the process (as `cwd-gateway devnet`), so
//! that every language's example and a game's own tests need nothing else.

use std::time::Duration;

use cwd_devnet::{AccountSpec, Config, DevnetHandle, Production};
use serde_json::{json, Map, Value};

use crate::{Failure, CWD_ERR_GATEWAY, CWD_ERR_HOST};

/// Units in one CWD (5 decimals).
const UNITS_PER_CWD: i64 = 100_000;
const OPTIONS: [&str; 4] = ["block_ms", "irreversible_lag", "seed", "accounts"];

pub struct Devnet {
    handle: DevnetHandle,
}

fn number(options: &Map<String, Value>, name: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, Failure> {
    match options.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| range.contains(n))
            .ok_or_else(|| Failure::invalid(format!("{name} must be a whole number in {}..={}", range.start(), range.end()))),
    }
}

impl Devnet {
    /// Starts it and creates the accounts; answers what the caller needs to use it.
    pub(crate) fn start(options: &Value) -> Result<(Devnet, Value), Failure> {
        let options = options.as_object().ok_or_else(|| Failure::invalid("options_json must be a JSON object"))?;
        if let Some(unknown) = options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(Failure::invalid(format!("unknown devnet option {unknown:?} (known: {})", OPTIONS.join(", "))));
        }
        let block_ms = number(options, "block_ms", 1_000, 10..=60_000)?;
        let lag = number(options, "irreversible_lag", 5, 0..=1_000)? as u32;
        let seed = match options.get("seed") {
            None | Some(Value::Null) => "libcwd devnet",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(Failure::invalid("seed must be text")),
        };
        let config = Config {
            production: Production::Timer(Duration::from_millis(block_ms)),
            // Chain time is the wall clock: at most one block a second of chain time.
            block_interval: 1,
            irreversible_lag: lag,
            ..Config::seeded(seed)
        };
        let handle = cwd_devnet::Devnet::start(config).map_err(|e| Failure::new(CWD_ERR_HOST, "devnet", format!("cannot start the devnet: {e}")))?;
        let mut accounts = Map::new();
        if let Some(wanted) = options.get("accounts").filter(|a| !a.is_null()) {
            let wanted = wanted.as_object().ok_or_else(|| Failure::invalid("accounts must be an object of name: CWD"))?;
            for (name, cwd) in wanted {
                let units = cwd
                    .as_i64()
                    .and_then(|c| c.checked_mul(UNITS_PER_CWD))
                    .filter(|u| *u >= 0)
                    .ok_or_else(|| Failure::invalid(format!("accounts.{name} must be a whole number of CWD")))?;
                let made = handle.create_account(AccountSpec::new(name, units)).map_err(|e| Failure::invalid(format!("accounts.{name}: {e}")))?;
                accounts.insert(name.clone(), made.to_json());
            }
        }
        let info = json!({
            "url": handle.url(),
            "ws_url": handle.ws_url(),
            "control_url": handle.control_url(),
            "chain_id": handle.chain_id_hex(),
            "accounts": accounts,
        });
        Ok((Devnet { handle }, info))
    }

    pub(crate) fn control(&self, method: &str, params: Value) -> Result<Value, Failure> {
        let reply = cwd_devnet::control::handle(&self.handle, &json!({ "id": 1, "method": method, "params": params }));
        match reply.get("error").filter(|e| !e.is_null()) {
            Some(error) => {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("the devnet refused").to_string();
                Err(Failure::new(CWD_ERR_GATEWAY, "devnet", message))
            }
            None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
        }
    }
}
