//! A Telegram bot as the player's front of the CrowdWiz gateway, the way the original
//! gateway was used: `/link <account>`, `/code <digits>`, `/deposit`, `/balance`,
//! `/withdraw <amount>`. It talks to the gateway's HTTP API only; each Telegram user
//! is the game user `tg:<telegram user id>`.
//!
//! It follows the gateway's event feed (`list-events`) to tell players, unasked, that a
//! deposit was credited or a withdrawal paid (or failed, rejected, cancelled). The feed
//! position it reached is kept in a state file, so after a restart it carries on where
//! it stopped: nothing missed (a message may repeat if it stopped between sending and
//! saving).

pub mod gateway;
pub mod telegram;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use gateway::{GatewayApi, Refusal};
use telegram::{BotApi, Update};

const HELP: &str = "Commands:\n/link <CrowdWiz account> — link your account (a code arrives in your wallet)\n/code <digits> — type the code\n/deposit — how to top up\n/balance — your balance and recent withdrawals\n/history — your deposits, newest first (then /history <id> for older)\n/withdraw <game units> — withdraw to your CrowdWiz account";

/// Events read from the feed per call.
const FEED_PAGE: u32 = 100;

/// Where the bot connects, from the environment (never logged).
pub struct Settings {
    pub bot_token: String,
    pub bot_api_url: String,
    pub gateway_url: String,
    pub gateway_token: String,
    pub poll_timeout: Duration,
    /// Where the bot keeps its place in the gateway's event feed.
    pub state_file: PathBuf,
}

impl Settings {
    /// `TELEGRAM_BOT_TOKEN`, `CWD_GATEWAY_URL`, `CWD_GATEWAY_API_TOKEN`; optional
    /// `TELEGRAM_API_URL` (default the real Bot API) and `BOT_STATE_FILE` (default
    /// `telegram-bot.state.json`).
    pub fn from_env() -> anyhow::Result<Settings> {
        let need = |name: &str| {
            std::env::var(name)
                .map(|v| v.trim().to_string())
                .map_err(|_| anyhow::anyhow!("set {name}"))
        };
        Ok(Settings {
            bot_token: need("TELEGRAM_BOT_TOKEN")?,
            bot_api_url: std::env::var("TELEGRAM_API_URL")
                .unwrap_or_else(|_| telegram::DEFAULT_BASE_URL.into()),
            gateway_url: need("CWD_GATEWAY_URL")?,
            gateway_token: need("CWD_GATEWAY_API_TOKEN")?,
            poll_timeout: Duration::from_secs(25),
            state_file: std::env::var("BOT_STATE_FILE")
                .unwrap_or_else(|_| "telegram-bot.state.json".into())
                .into(),
        })
    }
}

/// What survives a restart: the last feed position the bot has told players about.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct State {
    feed_after: Option<u64>,
}

impl State {
    fn load(path: &Path) -> anyhow::Result<State> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Written whole, then renamed over the old file: a crash leaves one or the other.
    fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

pub struct Bot {
    telegram: BotApi,
    gateway: GatewayApi,
    poll_timeout: Duration,
    offset: i64,
    state_file: PathBuf,
    state: State,
}

fn cwd(units: u64) -> String {
    format!("{}.{:05} CWD", units / 100_000, units % 100_000)
}

fn per_cwd(rate: &Value) -> String {
    let (g, per) = (
        rate["game_units"].as_u64().unwrap_or(0) as u128,
        rate["per_cwd_units"].as_u64().unwrap_or(1).max(1) as u128,
    );
    (g * 100_000 / per).to_string()
}

impl Bot {
    pub fn new(s: Settings) -> Bot {
        Bot {
            telegram: BotApi::new(&s.bot_api_url, &s.bot_token, s.poll_timeout),
            gateway: GatewayApi::new(&s.gateway_url, s.gateway_token),
            poll_timeout: s.poll_timeout,
            offset: 0,
            state: State::load(&s.state_file).unwrap_or_else(|e| {
                eprintln!(
                    "telegram-bot: the state file cannot be read ({e}); starting at the feed's end"
                );
                State::default()
            }),
            state_file: s.state_file,
        }
    }

    /// Polls and answers until `stop`; Bot API failures are retried after a pause.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.poll_once() {
                eprintln!("telegram-bot: {e:#}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// One `getUpdates` round: every update answered, then the feed's news told. The
    /// offset moves past an update only once it was answered, so a restart answers it
    /// again; withdrawals are keyed by the update, so a repeat never pays twice.
    pub fn poll_once(&mut self) -> anyhow::Result<()> {
        for update in self.telegram.get_updates(self.offset, self.poll_timeout)? {
            self.handle(&update)?;
            self.offset = self.offset.max(update.update_id + 1);
        }
        self.follow_feed()
    }

    fn handle(&mut self, update: &Update) -> anyhow::Result<()> {
        let Some(message) = &update.message else {
            return Ok(());
        };
        let (Some(text), Some(from)) = (&message.text, &message.from) else {
            return Ok(());
        };
        let user = format!("tg:{}", from.id);
        let mut words = text.split_whitespace();
        // `/cmd@BotName` in groups.
        let command = words.next().unwrap_or("").split('@').next().unwrap_or("");
        let arg = words.next();
        let reply = match (command, arg) {
            ("/link", Some(account)) => self.link(&user, account),
            ("/code", Some(code)) => self
                .gateway
                .call("confirm-link", json!({ "user": user, "code": code }))
                .map(|v| {
                    format!(
                        "Linked to {}. /deposit to top up.",
                        v["account"].as_str().unwrap_or("?")
                    )
                }),
            ("/deposit", None) => self.deposit(&user),
            ("/balance", None) => self.balance(&user),
            ("/history", older_than) => self.history(&user, older_than),
            ("/withdraw", Some(amount)) => match amount.parse::<u64>() {
                Ok(game) if game > 0 => {
                    self.withdraw(message.chat.id, &user, game, update.update_id)
                }
                _ => Ok("Give the amount in whole game units: /withdraw 1000".to_string()),
            },
            ("/link", None) => Ok("Give your CrowdWiz account name: /link my-account".into()),
            ("/code", None) => Ok("Give the code from your wallet: /code 123456".into()),
            ("/withdraw", None) => Ok("Give the amount in game units: /withdraw 1000".into()),
            _ => Ok(HELP.to_string()),
        };
        let text = reply.unwrap_or_else(|r| match r.status {
            // The gateway refused the bot itself: the player can do nothing about it.
            401 | 403 if r.code == "unauthorized" => {
                "The bot is not set up right; try again later.".into()
            }
            _ => format!("Sorry: {}.", r.message),
        });
        self.telegram.send_message(message.chat.id, &text)
    }

    fn link(&self, user: &str, account: &str) -> Result<String, Refusal> {
        let challenge = self.gateway.call("link-challenge", json!({}))?;
        let bits = challenge["difficulty_bits"].as_u64().unwrap_or(0);
        let mut args = json!({ "user": user, "account": account.to_lowercase() });
        if bits > 0 {
            let ch = challenge["challenge"].as_str().unwrap_or_default();
            args["challenge"] = json!(ch);
            args["nonce"] = json!(cwd_gateway::pow::solve(
                ch,
                bits.min(cwd_gateway::pow::MAX_BITS as u64) as u8
            ));
        }
        let started = self.gateway.call("start-link", args)?;
        Ok(format!(
            "I sent a {}-digit code to {} in an encrypted message. Open your wallet and reply /code <digits>.",
            started["code_digits"],
            started["account"].as_str().unwrap_or("?")
        ))
    }

    fn deposit(&self, user: &str) -> Result<String, Refusal> {
        let d = self
            .gateway
            .call("deposit-instructions", json!({ "user": user }))?;
        Ok(format!(
            "Send CWD from {} to {}. 1 CWD = {} game units. {}",
            d["from_account"].as_str().unwrap_or("?"),
            d["gateway_account"].as_str().unwrap_or("?"),
            per_cwd(&d["rate"]),
            d["note"].as_str().unwrap_or("")
        ))
    }

    fn balance(&self, user: &str) -> Result<String, Refusal> {
        let a = self.gateway.call("account", json!({ "user": user }))?;
        let Some(account) = a["linked"]["account"].as_str() else {
            return Ok("You have not linked a CrowdWiz account yet: /link <account>".into());
        };
        let mut out = format!(
            "{}: {} game units ({} frozen by withdrawals).",
            account, a["balance"], a["frozen"]
        );
        let list = self.gateway.call(
            "list-withdrawals",
            json!({ "user": user, "order": "newest-first", "limit": 3 }),
        )?;
        for w in list.as_array().into_iter().flatten() {
            out.push_str(&format!(
                "\n{}: {} game units → {}, {}",
                w["withdrawal_id"].as_str().unwrap_or("?"),
                w["game"],
                cwd(w["cwd"].as_u64().unwrap_or(0)),
                w["state"].as_str().unwrap_or("?")
            ));
        }
        Ok(out)
    }

    /// A page of the player's credited deposits, newest first; the last id shown is the
    /// cursor for the next (older) page.
    fn history(&self, user: &str, older_than: Option<&str>) -> Result<String, Refusal> {
        const PAGE: usize = 5;
        let args = json!({ "user": user, "order": "newest-first", "limit": PAGE, "start_after": older_than });
        let list = self.gateway.call("list-deposits", args)?;
        let deposits = list.as_array().map(Vec::as_slice).unwrap_or_default();
        if deposits.is_empty() {
            return Ok(if older_than.is_some() {
                "No older deposits."
            } else {
                "No deposits yet: /deposit shows how to top up."
            }
            .into());
        }
        let mut out = String::from(if older_than.is_some() {
            "Older deposits:"
        } else {
            "Your deposits, newest first:"
        });
        for d in deposits {
            out.push_str(&format!(
                "\n{}: {} → {} game units",
                d["deposit_id"].as_str().unwrap_or("?"),
                cwd(d["cwd"].as_u64().unwrap_or(0)),
                d["game"]
            ));
        }
        if deposits.len() == PAGE {
            out.push_str(&format!(
                "\nOlder: /history {}",
                deposits[PAGE - 1]["deposit_id"].as_str().unwrap_or("?")
            ));
        }
        Ok(out)
    }

    fn withdraw(
        &mut self,
        chat: i64,
        user: &str,
        game: u64,
        update_id: i64,
    ) -> Result<String, Refusal> {
        let args = json!({ "user": user, "game": game, "idempotency_key": format!("telegram-update:{update_id}") });
        let w = self.gateway.call("request-withdrawal", args)?;
        let id = w["withdrawal_id"].as_str().unwrap_or("?").to_string();
        let state = w["state"].as_str().unwrap_or("?").to_string();
        let _ = chat; // the news comes from the feed, to the player's own chat
        Ok(format!(
            "Withdrawal {id}: {game} game units → {}, {state}. I will tell you when it is final.",
            cwd(w["cwd"].as_u64().unwrap_or(0))
        ))
    }

    /// Tells players what the feed reports about them since the last position told:
    /// credited deposits and withdrawals that became final. The first start (no state)
    /// begins at the feed's end rather than repeat its history.
    fn follow_feed(&mut self) -> anyhow::Result<()> {
        if self.state.feed_after.is_none() {
            let head = match self.gateway.call("feed-position", json!({})) {
                Ok(v) => v["seq"].as_u64().unwrap_or(0),
                Err(r) => anyhow::bail!("reading the event feed's position: {}", r.message),
            };
            self.state.feed_after = Some(head);
            self.state.save(&self.state_file)?;
        }
        let mut after = self.state.feed_after.unwrap_or(0);
        loop {
            let page = match self
                .gateway
                .call("list-events", json!({ "after": after, "limit": FEED_PAGE }))
            {
                Ok(p) => p,
                Err(r) => anyhow::bail!("reading the event feed: {}", r.message),
            };
            let events = page.as_array().map(Vec::as_slice).unwrap_or_default();
            for e in events {
                if let Some((chat, text)) = news(&e["event"]) {
                    if let Err(err) = self.telegram.send_message(chat, &text) {
                        // Keep what was told, so a retry starts at this event.
                        self.state.feed_after = Some(after);
                        self.state.save(&self.state_file)?;
                        return Err(err);
                    }
                }
                after = e["seq"].as_u64().unwrap_or(after);
            }
            // Once a page, not once an event.
            self.state.feed_after = Some(after);
            self.state.save(&self.state_file)?;
            if events.len() < FEED_PAGE as usize {
                break;
            }
        }
        Ok(())
    }
}

/// The chat (a Telegram user's private chat has the user's id) and the message for an
/// event worth telling a player, if it is one.
fn news(event: &Value) -> Option<(i64, String)> {
    let kind = event["type"].as_str()?;
    let w = &event["withdrawal"];
    let user = match kind {
        "deposit-credited" => event["user"].as_str()?,
        _ => w["user"].as_str()?,
    };
    let chat: i64 = user.strip_prefix("tg:")?.parse().ok()?;
    let id = w["withdrawal_id"].as_str().unwrap_or("?");
    let text = match kind {
        "deposit-credited" => format!(
            "Deposit of {} credited: +{} game units (balance {}).",
            cwd(event["cwd"].as_u64().unwrap_or(0)),
            event["game"],
            event["balance"]
        ),
        "withdrawal-confirmed" => {
            format!("Withdrawal {id} confirmed in block {}.", event["block_num"])
        }
        "withdrawal-failed" => format!(
            "Withdrawal {id} failed ({}); the amount is back in your balance.",
            event["reason"].as_str().unwrap_or("?")
        ),
        "withdrawal-rejected" => format!(
            "Withdrawal {id} rejected: {}. The amount is back in your balance.",
            event["reason"].as_str().unwrap_or("")
        ),
        "withdrawal-cancelled" => format!(
            "Withdrawal {id} cancelled: {}. The amount is back in your balance.",
            event["reason"].as_str().unwrap_or("")
        ),
        _ => return None,
    };
    Some((chat, text))
}
