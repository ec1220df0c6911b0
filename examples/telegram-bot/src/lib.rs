//! A Telegram bot as the player's front of the CrowdWiz gateway, the way the original
//! gateway was used: `/link <account>`, `/code <digits>`, `/deposit`, `/balance`,
//! `/withdraw <amount>`. It talks to the gateway's HTTP API only; each Telegram user
//! is the game user `tg:<telegram user id>`.

pub mod gateway;
pub mod telegram;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use gateway::{GatewayApi, Refusal};
use telegram::{BotApi, Update};

const HELP: &str = "Commands:\n/link <CrowdWiz account> — link your account (a code arrives in your wallet)\n/code <digits> — type the code\n/deposit — how to top up\n/balance — your balance and recent withdrawals\n/history — your deposits, newest first (then /history <id> for older)\n/withdraw <game units> — withdraw to your CrowdWiz account";

const FINAL_STATES: [&str; 4] = ["confirmed", "failed", "rejected", "cancelled"];

/// Where the bot connects, from the environment (never logged).
pub struct Settings {
    pub bot_token: String,
    pub bot_api_url: String,
    pub gateway_url: String,
    pub gateway_token: String,
    pub poll_timeout: Duration,
}

impl Settings {
    /// `TELEGRAM_BOT_TOKEN`, `CWD_GATEWAY_URL`, `CWD_GATEWAY_API_TOKEN`; optional
    /// `TELEGRAM_API_URL` (default the real Bot API).
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
        })
    }
}

/// A withdrawal the bot reports on once it is final.
struct Watched {
    chat: i64,
    withdrawal_id: String,
}

pub struct Bot {
    telegram: BotApi,
    gateway: GatewayApi,
    poll_timeout: Duration,
    offset: i64,
    watched: Vec<Watched>,
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
            watched: Vec::new(),
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

    /// One `getUpdates` round: every update answered, then the watched withdrawals
    /// checked. The offset moves past an update only once it was answered, so a
    /// restart answers it again; withdrawals are keyed by the update, so a repeat
    /// never pays twice.
    pub fn poll_once(&mut self) -> anyhow::Result<()> {
        for update in self.telegram.get_updates(self.offset, self.poll_timeout)? {
            self.handle(&update)?;
            self.offset = self.offset.max(update.update_id + 1);
        }
        self.follow_withdrawals()
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
        if !FINAL_STATES.contains(&state.as_str())
            && !self.watched.iter().any(|x| x.withdrawal_id == id)
        {
            self.watched.push(Watched {
                chat,
                withdrawal_id: id.clone(),
            });
        }
        Ok(format!(
            "Withdrawal {id}: {game} game units → {}, {state}. I will tell you when it is final.",
            cwd(w["cwd"].as_u64().unwrap_or(0))
        ))
    }

    /// Tells the player about withdrawals that became final.
    fn follow_withdrawals(&mut self) -> anyhow::Result<()> {
        let mut still = Vec::new();
        for w in std::mem::take(&mut self.watched) {
            match self.gateway.call(
                "get-withdrawal",
                json!({ "withdrawal_id": w.withdrawal_id }),
            ) {
                Ok(v) if FINAL_STATES.contains(&v["state"].as_str().unwrap_or("")) => {
                    let state = v["state"].as_str().unwrap_or("?");
                    let detail = match (state, v["block_num"].as_u64(), v["note"].as_str()) {
                        ("confirmed", Some(b), _) => format!(" in block {b}"),
                        (_, _, Some(note)) => format!(": {note}"),
                        _ => String::new(),
                    };
                    self.telegram.send_message(
                        w.chat,
                        &format!("Withdrawal {} {state}{detail}.", w.withdrawal_id),
                    )?;
                }
                _ => still.push(w),
            }
        }
        self.watched = still;
        Ok(())
    }
}
