//! Settings changed at runtime: the rates, limits and thresholds of [`Settings`], held
//! in the store under one key so every instance sharing the store uses the same ones.
//! The configuration gives the initial values; once an operator changes them the stored
//! ones win. Each call that uses them reads the key (one point read) and reapplies
//! them when its version moved, so a change is in force on every host at its next call.

use serde::{Deserialize, Serialize};

use crate::config::{Config, Settings};
use crate::gateway_error::{GatewayError, GwResult};
use crate::ports::Store;
use crate::records::{peek_entry, Txn};

pub const SETTINGS: &str = "meta/settings";

/// The stored settings and who changed them last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsRec {
    pub settings: Settings,
    pub changed_at_ms: u64,
    pub changed_by: String,
}

/// The settings in force and their provenance (WIT `settings-view`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsView {
    pub settings: Settings,
    /// The stored record's version; 0: never changed, the configuration is in force.
    pub revision: u64,
    pub changed_at_ms: u64,
    pub changed_by: String,
}

/// The stored settings and their revision, if any were ever stored.
pub fn stored(store: &mut dyn Store) -> GwResult<Option<(SettingsRec, u64)>> {
    peek_entry::<SettingsRec>(store, SETTINGS)
}

/// The configuration in force: `initial` with the stored settings applied.
pub fn in_force(initial: &Config, stored: Option<&SettingsRec>) -> GwResult<Config> {
    match stored {
        Some(rec) => initial.with_settings(&rec.settings),
        None => Ok(initial.clone()),
    }
}

/// Stages the change to `settings` if `revision` is still the stored one: answers the
/// configuration they put in force.
pub fn stage_update(
    t: &mut Txn,
    initial: &Config,
    settings: &Settings,
    revision: u64,
    actor: &str,
    now_ms: u64,
) -> GwResult<Config> {
    let current = t.version(SETTINGS)?.unwrap_or(0);
    if current != revision {
        return Err(GatewayError::SettingsChanged(current));
    }
    let config = initial.with_settings(settings)?;
    t.put(
        SETTINGS,
        &SettingsRec {
            settings: config.settings(),
            changed_at_ms: now_ms,
            changed_by: actor.to_string(),
        },
    );
    Ok(config)
}

/// The fields of `after` that differ from `before`, by their path (`deposit_rate.game_units`),
/// each as `[before, after]`.
pub fn difference(before: &Settings, after: &Settings) -> serde_json::Value {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut serde_json::Map<String, serde_json::Value>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                for (k, va) in x {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(&p, va, y.get(k).unwrap_or(&serde_json::Value::Null), out);
                }
            }
            _ if a != b => {
                out.insert(path.to_string(), serde_json::json!([a, b]));
            }
            _ => {}
        }
    }
    let mut out = serde_json::Map::new();
    let (a, b) = (serde_json::to_value(before), serde_json::to_value(after));
    if let (Ok(a), Ok(b)) = (a, b) {
        walk("", &a, &b, &mut out);
    }
    serde_json::Value::Object(out)
}
