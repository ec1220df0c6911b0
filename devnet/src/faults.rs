//! Fault injection for the JSON-RPC side: errors, delays (a delay longer than the
//! client's timeout is a timeout), lost responses and dropped broadcasts, for all calls
//! or one method, always, for a share of calls or for the next N.

use std::time::Duration;

use serde_json::{json, Value};

use crate::error::ChainError;
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this JSON-RPC error instead of running the call.
    Error { code: i64, message: String },
    /// Sleep, then run the call and answer normally.
    Delay(Duration),
    /// Run the call (a broadcast is accepted), then answer with an error: the client
    /// cannot tell whether it happened.
    LoseResponse { code: i64, message: String },
    /// Broadcasts only: validate and answer as if accepted, but never include it.
    Drop,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// The method it applies to (`get_account_history`, `broadcast_transaction`…);
    /// `None` = every method.
    pub method: Option<String>,
    pub kind: FaultKind,
    /// Fire on at most this many more matching calls; `None` = no limit.
    pub remaining: Option<u32>,
    /// The share of matching calls it fires on, 0.0..=1.0.
    pub share: f64,
}

impl FaultRule {
    /// Fires on the next `n` calls of `method` (or of any method).
    pub fn next(n: u32, method: Option<&str>, kind: FaultKind) -> Self {
        FaultRule { method: method.map(str::to_string), kind, remaining: Some(n), share: 1.0 }
    }

    /// Fires on a share of the calls, with no end.
    pub fn share(share: f64, method: Option<&str>, kind: FaultKind) -> Self {
        FaultRule { method: method.map(str::to_string), kind, remaining: None, share }
    }

    pub fn error(message: &str) -> FaultKind {
        FaultKind::Error { code: 1, message: message.to_string() }
    }

    fn matches(&self, method: &str) -> bool {
        let broadcast = method.starts_with("broadcast_transaction");
        if self.kind == FaultKind::Drop && !broadcast {
            return false;
        }
        self.method.as_deref().is_none_or(|m| m == method) && self.remaining != Some(0)
    }

    /// From the control API's JSON: `{"method"?, "kind": "error"|"delay"|"lose_response"|"drop",
    /// "code"?, "message"?, "millis"?, "count"?, "share"?}`.
    pub fn from_json(v: &Value) -> Result<Self, ChainError> {
        let bad = |m: &str| ChainError::InvalidParams(m.to_string());
        let kind_name = v.get("kind").and_then(Value::as_str).ok_or_else(|| bad("fault needs \"kind\""))?;
        let code = v.get("code").and_then(Value::as_i64).unwrap_or(1);
        let message = v.get("message").and_then(Value::as_str).unwrap_or("injected fault").to_string();
        let kind = match kind_name {
            "error" => FaultKind::Error { code, message },
            "lose_response" => FaultKind::LoseResponse { code, message },
            "delay" | "timeout" => {
                let ms = v.get("millis").and_then(Value::as_u64).ok_or_else(|| bad("delay needs \"millis\""))?;
                FaultKind::Delay(Duration::from_millis(ms))
            }
            "drop" => FaultKind::Drop,
            other => return Err(bad(&format!("unknown fault kind {other:?}"))),
        };
        let method = match v.get("method") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("\"method\" must be a string")),
        };
        let remaining = match v.get("count") {
            None | Some(Value::Null) => None,
            Some(c) => Some(c.as_u64().and_then(|c| u32::try_from(c).ok()).ok_or_else(|| bad("\"count\" must be a u32"))?),
        };
        let share = match v.get("share") {
            None | Some(Value::Null) => 1.0,
            Some(s) => s.as_f64().filter(|s| (0.0..=1.0).contains(s)).ok_or_else(|| bad("\"share\" must be in 0..=1"))?,
        };
        Ok(FaultRule { method, kind, remaining, share })
    }

    pub fn to_json(&self) -> Value {
        let (kind, extra) = match &self.kind {
            FaultKind::Error { code, message } => ("error", json!({ "code": code, "message": message })),
            FaultKind::LoseResponse { code, message } => ("lose_response", json!({ "code": code, "message": message })),
            FaultKind::Delay(d) => ("delay", json!({ "millis": d.as_millis() as u64 })),
            FaultKind::Drop => ("drop", json!({})),
        };
        let mut v = json!({ "method": self.method, "kind": kind, "count": self.remaining, "share": self.share });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    }
}

/// The rules in force, checked in order: the first that matches and wins its roll fires.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<FaultRule>,
    rng: Rng,
    /// How many faults have fired.
    pub fired: u64,
}

impl Faults {
    pub fn new(seed: Option<&[u8]>) -> Self {
        let mut s = seed.map(<[u8]>::to_vec).unwrap_or_default();
        s.extend_from_slice(b"/faults");
        Faults { rules: Vec::new(), rng: Rng::new(Some(&s)), fired: 0 }
    }

    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The fault for this call of `method`, if one fires.
    pub fn decide(&mut self, method: &str) -> Option<FaultKind> {
        for i in 0..self.rules.len() {
            if !self.rules[i].matches(method) {
                continue;
            }
            let share = self.rules[i].share;
            if share < 1.0 && self.rng.unit("fault") >= share {
                continue;
            }
            let rule = &mut self.rules[i];
            let kind = rule.kind.clone();
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            self.rules.retain(|r| r.remaining != Some(0));
            self.fired += 1;
            return Some(kind);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_then_gone_and_per_method() {
        let mut f = Faults::new(Some(b"t"));
        f.add(FaultRule::next(2, Some("get_block"), FaultRule::error("boom")));
        assert_eq!(f.decide("get_chain_id"), None);
        assert!(f.decide("get_block").is_some());
        assert!(f.decide("get_block").is_some());
        assert_eq!(f.decide("get_block"), None);
        assert!(f.rules().is_empty());
    }

    #[test]
    fn share_is_roughly_kept_and_drop_only_hits_broadcasts() {
        let mut f = Faults::new(Some(b"t"));
        f.add(FaultRule::share(0.3, None, FaultRule::error("x")));
        let hits = (0..1000).filter(|_| f.decide("get_objects").is_some()).count();
        assert!((200..400).contains(&hits), "{hits}");
        let mut f = Faults::new(None);
        f.add(FaultRule::next(1, None, FaultKind::Drop));
        assert_eq!(f.decide("get_block"), None);
        assert_eq!(f.decide("broadcast_transaction"), Some(FaultKind::Drop));
    }

    #[test]
    fn json_round_trip() {
        let r = FaultRule::from_json(&json!({"kind":"delay","millis":1500,"method":"get_block","count":3})).unwrap();
        assert_eq!(r, FaultRule::next(3, Some("get_block"), FaultKind::Delay(Duration::from_millis(1500))));
        assert_eq!(FaultRule::from_json(&r.to_json()).unwrap(), r);
        assert!(FaultRule::from_json(&json!({"kind":"nope"})).is_err());
        assert!(FaultRule::from_json(&json!({"kind":"error","share":2})).is_err());
    }
}
