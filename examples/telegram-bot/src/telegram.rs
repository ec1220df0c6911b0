//! The two Bot API methods the bot needs, `getUpdates` (long polling) and
//! `sendMessage`, over HTTPS (or any base URL: tests use a fake server on loopback).
//! The bot token is part of every URL, so no error here ever includes a URL.
//!
//! Telegram can be reached through an HTTP or SOCKS proxy ([`proxy_setting`]); the
//! gateway's connection (`gateway.rs`) never uses one.

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
    /// The player's Telegram language (`ru`, `en-US`…), when Telegram tells it.
    #[serde(default)]
    pub language_code: Option<String>,
}

pub struct BotApi {
    base: String,
    agent: ureq::Agent,
}

impl BotApi {
    /// `base_url` without a trailing slash (`https://api.telegram.org`).
    pub fn new(base_url: &str, bot_token: &str, poll_timeout: Duration) -> BotApi {
        Self::with_proxy(base_url, bot_token, poll_timeout, None).expect("no proxy, nothing to refuse")
    }

    /// As [`BotApi::new`], through `proxy` (`http://host:port`, `socks5://host:port`,
    /// `socks4://…`, with `user:password@` if the proxy wants it) when given. The error
    /// never repeats the proxy's address, which may hold a password.
    pub fn with_proxy(base_url: &str, bot_token: &str, poll_timeout: Duration, proxy: Option<&str>) -> anyhow::Result<BotApi> {
        let mut builder = ureq::AgentBuilder::new().timeout(poll_timeout + Duration::from_secs(15)).try_proxy_from_env(false);
        if let Some(proxy) = proxy {
            // ureq resolves nothing itself for a SOCKS5 proxy's target name either way.
            let proxy = match proxy.strip_prefix("socks5h://") {
                Some(rest) => format!("socks5://{rest}"),
                None => proxy.to_string(),
            };
            let proxy = ureq::Proxy::new(&proxy).map_err(|_| {
                anyhow::anyhow!("the Telegram proxy setting is not a proxy URL (http://host:port, socks5://host:port)")
            })?;
            builder = builder.proxy(proxy);
        }
        Ok(BotApi { base: format!("{}/bot{bot_token}", base_url.trim_end_matches('/')), agent: builder.build() })
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

    /// `sendMessage` with a `reply_markup` (the bot's reply keyboard).
    pub fn send_message_with(&self, chat_id: i64, text: &str, reply_markup: &Value) -> anyhow::Result<()> {
        self.call("sendMessage", json!({ "chat_id": chat_id, "text": text, "reply_markup": reply_markup })).map(|_| ())
    }
}

/// The proxy for reaching the Bot API at `bot_api_url`, from the variables `var` reads:
/// `TELEGRAM_PROXY` first (a proxy URL; `direct` or `none` for no proxy whatever the
/// rest say); then, unless `NO_PROXY`/`no_proxy` names the Bot API's host (`*`, a host, or
/// a domain `example.org`/`.example.org` covering its subdomains), `HTTPS_PROXY`/
/// `https_proxy` (`HTTP_PROXY`/`http_proxy` for an `http://` Bot API URL), then
/// `ALL_PROXY`/`all_proxy`. Empty values count as unset.
pub fn proxy_setting(var: impl Fn(&str) -> Option<String>, bot_api_url: &str) -> Option<String> {
    let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(p) = get("TELEGRAM_PROXY") {
        return (!matches!(p.to_ascii_lowercase().as_str(), "direct" | "none")).then_some(p);
    }
    let (scheme, rest) = bot_api_url.split_once("://").unwrap_or(("https", bot_api_url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    }
    .to_ascii_lowercase();
    let no_proxy = get("NO_PROXY").or_else(|| get("no_proxy")).unwrap_or_default();
    for entry in no_proxy.split([',', ' ']).map(str::trim).filter(|e| !e.is_empty()) {
        let entry = entry.to_ascii_lowercase();
        let domain = entry.trim_start_matches("*.").trim_start_matches('.');
        let domain = if domain.starts_with('[') { domain } else { domain.split(':').next().unwrap_or(domain) };
        let domain = domain.trim_start_matches('[').trim_end_matches(']');
        if entry == "*" || host == domain || host.ends_with(&format!(".{domain}")) {
            return None;
        }
    }
    let specific = if scheme.eq_ignore_ascii_case("http") { ["HTTP_PROXY", "http_proxy"] } else { ["HTTPS_PROXY", "https_proxy"] };
    specific.iter().chain(["ALL_PROXY", "all_proxy"].iter()).find_map(|n| get(n))
}

/// Tests of the proxy setting.
#[cfg(test)]
mod tests {
    use super::proxy_setting;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_proxy_comes_from_the_usual_variables() {
        let tg = "https://api.telegram.org";
        assert_eq!(proxy_setting(env(&[]), tg), None);
        assert_eq!(proxy_setting(env(&[("https_proxy", "http://p:3128")]), tg).as_deref(), Some("http://p:3128"));
        assert_eq!(proxy_setting(env(&[("HTTP_PROXY", "http://p:3128")]), tg), None);
        assert_eq!(proxy_setting(env(&[("ALL_PROXY", "socks5://p:1080"), ("HTTPS_PROXY", "http://p:3128")]), tg).as_deref(), Some("http://p:3128"));
        assert_eq!(proxy_setting(env(&[("ALL_PROXY", "socks5://p:1080")]), tg).as_deref(), Some("socks5://p:1080"));
        assert_eq!(proxy_setting(env(&[("ALL_PROXY", "socks5://p:1080"), ("NO_PROXY", "localhost,.telegram.org")]), tg), None);
        assert_eq!(proxy_setting(env(&[("ALL_PROXY", "socks5://p:1080"), ("no_proxy", "*")]), tg), None);
        assert_eq!(proxy_setting(env(&[("ALL_PROXY", "socks5://p:1080"), ("NO_PROXY", "gram.org")]), tg).as_deref(), Some("socks5://p:1080"));
        assert_eq!(proxy_setting(env(&[("TELEGRAM_PROXY", "socks5://q:9050"), ("NO_PROXY", "*")]), tg).as_deref(), Some("socks5://q:9050"));
        assert_eq!(proxy_setting(env(&[("TELEGRAM_PROXY", "direct"), ("HTTPS_PROXY", "http://p:3128")]), tg), None);
        assert_eq!(proxy_setting(env(&[("http_proxy", "http://p:3128")]), "http://127.0.0.1:8081").as_deref(), Some("http://p:3128"));
        assert_eq!(proxy_setting(env(&[("http_proxy", "http://p:3128"), ("NO_PROXY", "127.0.0.1")]), "http://127.0.0.1:8081"), None);
    }
}
