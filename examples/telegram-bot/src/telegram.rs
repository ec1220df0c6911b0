//! The two Bot API methods the bot needs, `getUpdates` (long polling) and
//! `sendMessage`, over HTTPS (or any base URL: tests use a fake server on loopback).
//! The bot token is part of every URL, so no error here ever includes a URL.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub chat: Chat,
    #[serde(default)]
    pub from: Option<User>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
}

pub struct BotApi {
    base: String,
    agent: ureq::Agent,
}

impl BotApi {
    /// `base_url` without a trailing slash (`https://api.telegram.org`).
    pub fn new(base_url: &str, bot_token: &str, poll_timeout: Duration) -> BotApi {
        let agent = ureq::AgentBuilder::new().timeout(poll_timeout + Duration::from_secs(15)).build();
        BotApi { base: format!("{}/bot{bot_token}", base_url.trim_end_matches('/')), agent }
    }

    fn call(&self, method: &str, body: Value) -> anyhow::Result<Value> {
        let response = match self.agent.post(&format!("{}/{method}", self.base)).send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let described = r.into_json::<Value>().ok().and_then(|v| v["description"].as_str().map(str::to_string));
                anyhow::bail!("the Bot API refused {method} ({status}): {}", described.unwrap_or_default());
            }
            Err(ureq::Error::Transport(t)) => anyhow::bail!("the Bot API could not be reached for {method}: {}", t.kind()),
        };
        let v: Value = response.into_json().map_err(|e| anyhow::anyhow!("the Bot API answered {method} with something that is not JSON: {}", e.kind()))?;
        if v["ok"] != Value::Bool(true) {
            anyhow::bail!("the Bot API refused {method}: {}", v["description"].as_str().unwrap_or("no reason given"));
        }
        Ok(v["result"].clone())
    }

    /// Updates from `offset` on, waiting up to `timeout` for one to arrive.
    pub fn get_updates(&self, offset: i64, timeout: Duration) -> anyhow::Result<Vec<Update>> {
        let result = self.call("getUpdates", json!({ "offset": offset, "timeout": timeout.as_secs(), "allowed_updates": ["message"] }))?;
        serde_json::from_value(result).map_err(|e| anyhow::anyhow!("getUpdates answered an unexpected shape: {e}"))
    }

    pub fn send_message(&self, chat_id: i64, text: &str) -> anyhow::Result<()> {
        self.call("sendMessage", json!({ "chat_id": chat_id, "text": text })).map(|_| ())
    }
}
