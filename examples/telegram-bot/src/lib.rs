//! A Telegram bot as the player's front of the CrowdWiz gateway, the way the original
//! gateway was used: `/link <account>`, `/code <digits>`, `/deposit`, `/balance`,
//! `/history`, `/withdraw <amount>`, and a reply keyboard with the original bot's two
//! buttons ("top up", "withdraw") plus balance and history. It talks to the gateway's
//! HTTP API only; each Telegram user is the game user `tg:<telegram user id>`. It speaks
//! the player's Telegram language (`i18n/`: Russian, English).
//!
//! It follows the gateway's event feed (`list-events`, long polling) to tell players,
//! unasked, that a deposit was credited or a withdrawal paid (or failed, rejected,
//! cancelled). The feed position it reached, the withdrawals it watches and its players'
//! languages are kept in a state file, so after a restart it carries on where it
//! stopped: nothing missed, nothing told twice (a message may repeat only if the bot was
//! killed between sending it and saving the state).

pub mod gateway;
pub mod i18n;
pub mod telegram;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use gateway::{GatewayApi, Refusal};
use telegram::{BotApi, Update};

/// Events read from the feed per call.
const FEED_PAGE: u32 = 100;

/// The longest `wait_ms` the gateway takes for `list-events`.
const FEED_MAX_WAIT: Duration = Duration::from_millis(25_000);

/// Where the bot connects, from the environment (never logged).
pub struct Settings {
    pub bot_token: String,
    pub bot_api_url: String,
    pub gateway_url: String,
    pub gateway_token: String,
    pub poll_timeout: Duration,
    /// Where the bot keeps its place in the gateway's event feed, the withdrawals it
    /// watches and its players' languages.
    pub state_file: PathBuf,
    /// The proxy for Telegram only (`http://host:port`, `socks5://host:port`), if any.
    pub telegram_proxy: Option<String>,
}

impl Settings {
    /// `TELEGRAM_BOT_TOKEN`, `CWD_GATEWAY_URL`, `CWD_GATEWAY_API_TOKEN`; optional
    /// `TELEGRAM_API_URL` (default the real Bot API), `BOT_STATE_FILE` (default
    /// `telegram-bot.state.json`) and the proxy variables of [`telegram::proxy_setting`].
    pub fn from_env() -> anyhow::Result<Settings> {
        let need = |name: &str| {
            std::env::var(name)
                .map(|v| v.trim().to_string())
                .map_err(|_| anyhow::anyhow!("set {name}"))
        };
        let bot_api_url =
            std::env::var("TELEGRAM_API_URL").unwrap_or_else(|_| telegram::DEFAULT_BASE_URL.into());
        Ok(Settings {
            bot_token: need("TELEGRAM_BOT_TOKEN")?,
            telegram_proxy: telegram::proxy_setting(|n| std::env::var(n).ok(), &bot_api_url),
            bot_api_url,
            gateway_url: need("CWD_GATEWAY_URL")?,
            gateway_token: need("CWD_GATEWAY_API_TOKEN")?,
            poll_timeout: Duration::from_secs(25),
            state_file: std::env::var("BOT_STATE_FILE")
                .unwrap_or_else(|_| "telegram-bot.state.json".into())
                .into(),
        })
    }
}

/// A withdrawal the bot requested and will report on: whose chat, in which language.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Watched {
    chat: i64,
    lang: String,
}

/// What survives a restart.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct State {
    /// The last feed position the bot has told players about.
    feed_after: Option<u64>,
    /// Withdrawals requested through the bot and not final yet, by id.
    #[serde(default)]
    watched: BTreeMap<String, Watched>,
    /// Each player's language, as Telegram last gave it (for news they did not ask for).
    #[serde(default)]
    languages: BTreeMap<i64, String>,
}

impl State {
    fn load(path: &Path) -> anyhow::Result<State> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Written whole to a temporary file beside it (mode 0600), flushed to disk, then
    /// renamed over the old file: a crash leaves one or the other.
    fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// What a player asks for, typed or by a button.
enum Ask<'a> {
    Help,
    Link(Option<&'a str>),
    Code(Option<&'a str>),
    Deposit,
    Balance,
    History(Option<&'a str>),
    Withdraw(Option<&'a str>),
    /// A bare number after the bot asked for an amount.
    Amount(&'a str),
}

/// The four buttons, by catalogue key.
const BUTTONS: [&str; 4] = [
    "button.top-up",
    "button.withdraw",
    "button.balance",
    "button.history",
];

/// The reply keyboard in `lang`: the seed's two actions, then balance and history.
pub fn keyboard(lang: &str) -> Value {
    let b = |key: &str| json!({ "text": i18n::text(lang, key, &[]) });
    json!({
        "keyboard": [[b(BUTTONS[0]), b(BUTTONS[1])], [b(BUTTONS[2]), b(BUTTONS[3])]],
        "resize_keyboard": true,
        "is_persistent": true,
    })
}

/// The button whose label, in any language, `text` is.
fn button(text: &str) -> Option<&'static str> {
    let text = text.trim();
    i18n::languages().into_iter().find_map(|lang| {
        BUTTONS
            .into_iter()
            .find(|key| i18n::text(lang, key, &[]).to_lowercase() == text.to_lowercase())
    })
}

pub struct Bot {
    telegram: BotApi,
    gateway: GatewayApi,
    poll_timeout: Duration,
    state_file: PathBuf,
    state: Mutex<State>,
    /// Chats the bot asked "how much?" after the withdraw button.
    awaiting_amount: Mutex<HashSet<i64>>,
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

/// A JSON scalar as the player reads it.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The player's text for a refusal: the catalogue's text for its code (the gateway's own
/// sentence is English and for the game's developers), filled from its fields.
pub fn refusal_text(lang: &str, r: &Refusal) -> String {
    let key = format!("error.{}", r.code);
    let known = i18n::catalogue(lang).is_some_and(|t| t.contains_key(&key));
    let mut values: Vec<(&str, String)> = vec![("code", r.code.clone())];
    if let Some(fields) = r.details.as_object() {
        for (name, v) in fields {
            if name == "code" || name == "message" {
                continue;
            }
            let shown = match v.as_u64() {
                Some(units) if name.ends_with("_cwd") => cwd(units),
                _ => plain(v),
            };
            values.push((name.as_str(), shown));
        }
        if let Some(ms) = fields.get("retry_after_ms").and_then(Value::as_u64) {
            values.push(("retry_after_s", ms.div_ceil(1000).max(1).to_string()));
        }
    }
    for name in ["retry_after_s", "attempts_left", "available", "field", "account", "minimum_cwd", "maximum_cwd"] {
        if !values.iter().any(|(n, _)| *n == name) {
            values.push((name, "?".into()));
        }
    }
    i18n::text(lang, if known { &key } else { "error.other" }, &values)
}

fn state_name(lang: &str, state: &str) -> String {
    let key = format!("state.{state}");
    if i18n::catalogue(lang).is_some_and(|t| t.contains_key(&key)) {
        i18n::text(lang, &key, &[])
    } else {
        state.to_string()
    }
}

fn is_final(state: &str) -> bool {
    matches!(state, "confirmed" | "failed" | "rejected" | "cancelled")
}

impl Bot {
    /// Refuses only a proxy setting that is not a proxy URL.
    pub fn new(s: Settings) -> anyhow::Result<Bot> {
        Ok(Bot {
            telegram: BotApi::with_proxy(
                &s.bot_api_url,
                &s.bot_token,
                s.poll_timeout,
                s.telegram_proxy.as_deref(),
            )?,
            gateway: GatewayApi::new(&s.gateway_url, s.gateway_token),
            poll_timeout: s.poll_timeout,
            state: Mutex::new(State::load(&s.state_file).unwrap_or_else(|e| {
                eprintln!(
                    "telegram-bot: the state file cannot be read ({e}); starting at the feed's end"
                );
                State::default()
            })),
            state_file: s.state_file,
            awaiting_amount: Mutex::new(HashSet::new()),
        })
    }

    /// Answers players and tells them the feed's news until `stop`, on two threads (so
    /// news never waits for a player to type); failures are retried after a pause.
    pub fn run(&mut self, stop: &AtomicBool) {
        let me = &*self;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut checked = false;
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = me.follow_feed(stop, &mut checked) {
                        eprintln!("telegram-bot: {e:#}");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            });
            let mut offset = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = me.poll_once(&mut offset) {
                    eprintln!("telegram-bot: {e:#}");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
    }

    /// One `getUpdates` round, every update answered. The offset moves past an update
    /// only once it was answered, so a restart answers it again; withdrawals are keyed
    /// by the update, so a repeat never pays twice.
    fn poll_once(&self, offset: &mut i64) -> anyhow::Result<()> {
        for update in self.telegram.get_updates(*offset, self.poll_timeout)? {
            self.handle(&update)?;
            *offset = (*offset).max(update.update_id + 1);
        }
        Ok(())
    }

    fn save(&self, state: &State) -> anyhow::Result<()> {
        state.save(&self.state_file)
    }

    fn handle(&self, update: &Update) -> anyhow::Result<()> {
        let Some(message) = &update.message else {
            return Ok(());
        };
        let (Some(text), Some(from)) = (&message.text, &message.from) else {
            return Ok(());
        };
        let lang = i18n::language_for(from.language_code.as_deref());
        let user = format!("tg:{}", from.id);
        self.learn_language(from.id, &user, lang);
        let chat = message.chat.id;
        let awaiting = self.awaiting_amount.lock().unwrap().remove(&chat);
        let mut words = text.split_whitespace();
        // `/cmd@BotName` in groups.
        let command = words.next().unwrap_or("").split('@').next().unwrap_or("");
        let arg = words.next();
        let ask = match button(text) {
            Some("button.top-up") => Ask::Deposit,
            Some("button.withdraw") => Ask::Withdraw(None),
            Some("button.balance") => Ask::Balance,
            Some("button.history") => Ask::History(None),
            _ => match (command, arg) {
                ("/link", a) => Ask::Link(a),
                ("/code", a) => Ask::Code(a),
                ("/deposit", None) => Ask::Deposit,
                ("/balance", None) => Ask::Balance,
                ("/history", a) => Ask::History(a),
                ("/withdraw", a) => Ask::Withdraw(a),
                (n, None) if awaiting && n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                    Ask::Amount(n)
                }
                _ => Ask::Help,
            },
        };
        let t = |key: &str| i18n::text(lang, key, &[]);
        let reply = match ask {
            Ask::Help => Ok(t("help")),
            Ask::Link(Some(account)) => self.link(lang, &user, account),
            Ask::Link(None) => Ok(t("link.usage")),
            Ask::Code(Some(code)) => self
                .gateway
                .call("confirm-link", json!({ "user": user, "code": code }))
                .map(|v| i18n::text(lang, "code.linked", &[("account", plain(&v["account"]))])),
            Ask::Code(None) => Ok(t("code.usage")),
            Ask::Deposit => self.deposit(lang, &user),
            Ask::Balance => self.balance(lang, &user),
            Ask::History(older_than) => self.history(lang, &user, older_than),
            Ask::Withdraw(None) => {
                self.awaiting_amount.lock().unwrap().insert(chat);
                Ok(t("withdraw.ask-amount"))
            }
            Ask::Withdraw(Some(amount)) | Ask::Amount(amount) => match amount.parse::<u64>() {
                Ok(game) if game > 0 => self.withdraw(lang, chat, &user, game, update.update_id),
                _ => Ok(t("withdraw.whole-units")),
            },
        };
        let text = reply.unwrap_or_else(|r| refusal_text(lang, &r));
        self.telegram.send_message_with(chat, &text, &keyboard(lang))
    }

    /// A player's language, when the bot first sees it or it changed: told to the gateway
    /// (`set-language`: its link message and deposit note come in it) and kept in the state
    /// file (for the news). A failure is logged and tried again at the next message.
    fn learn_language(&self, player: i64, user: &str, lang: &str) {
        let known = self.state.lock().unwrap().languages.get(&player).map(String::as_str) == Some(lang);
        if known {
            return;
        }
        match self
            .gateway
            .call("set-language", json!({ "user": user, "language": lang }))
        {
            // A gateway without the call: nothing to tell it.
            Ok(_) => {}
            Err(r) if r.code == "unknown-call" => {}
            Err(r) => {
                eprintln!("telegram-bot: set-language refused: {}", r.code);
                return;
            }
        }
        let mut state = self.state.lock().unwrap();
        state.languages.insert(player, lang.to_string());
        // Not worth leaving the player unanswered: the next message retries.
        if let Err(e) = self.save(&state) {
            eprintln!("telegram-bot: saving the state file: {e:#}");
        }
    }

    fn link(&self, lang: &str, user: &str, account: &str) -> Result<String, Refusal> {
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
        Ok(i18n::text(
            lang,
            "link.sent",
            &[
                ("digits", plain(&started["code_digits"])),
                ("account", plain(&started["account"])),
            ],
        ))
    }

    fn deposit(&self, lang: &str, user: &str) -> Result<String, Refusal> {
        let d = self
            .gateway
            .call("deposit-instructions", json!({ "user": user }))?;
        Ok(i18n::text(
            lang,
            "deposit.instructions",
            &[
                ("from", plain(&d["from_account"])),
                ("to", plain(&d["gateway_account"])),
                ("rate", per_cwd(&d["rate"])),
                ("note", plain(&d["note"])),
            ],
        )
        .trim_end()
        .to_string())
    }

    fn balance(&self, lang: &str, user: &str) -> Result<String, Refusal> {
        let a = self.gateway.call("account", json!({ "user": user }))?;
        let Some(account) = a["linked"]["account"].as_str() else {
            return Ok(i18n::text(lang, "balance.not-linked", &[]));
        };
        let mut out = i18n::text(
            lang,
            "balance.summary",
            &[
                ("account", account.to_string()),
                ("balance", plain(&a["balance"])),
                ("frozen", plain(&a["frozen"])),
            ],
        );
        let list = self.gateway.call(
            "list-withdrawals",
            json!({ "user": user, "order": "newest-first", "limit": 3 }),
        )?;
        for w in list.as_array().into_iter().flatten() {
            out.push('\n');
            out.push_str(&i18n::text(
                lang,
                "balance.withdrawal",
                &[
                    ("id", plain(&w["withdrawal_id"])),
                    ("game", plain(&w["game"])),
                    ("cwd", cwd(w["cwd"].as_u64().unwrap_or(0))),
                    ("state", state_name(lang, w["state"].as_str().unwrap_or("?"))),
                ],
            ));
        }
        Ok(out)
    }

    /// A page of the player's credited deposits, newest first; the last id shown is the
    /// cursor for the next (older) page.
    fn history(&self, lang: &str, user: &str, older_than: Option<&str>) -> Result<String, Refusal> {
        const PAGE: usize = 5;
        let args = json!({ "user": user, "order": "newest-first", "limit": PAGE, "start_after": older_than });
        let list = self.gateway.call("list-deposits", args)?;
        let deposits = list.as_array().map(Vec::as_slice).unwrap_or_default();
        let t = |key: &str| i18n::text(lang, key, &[]);
        if deposits.is_empty() {
            return Ok(t(if older_than.is_some() { "history.no-older" } else { "history.none" }));
        }
        let mut out = t(if older_than.is_some() { "history.older-title" } else { "history.title" });
        for d in deposits {
            out.push('\n');
            out.push_str(&i18n::text(
                lang,
                "history.line",
                &[
                    ("id", plain(&d["deposit_id"])),
                    ("cwd", cwd(d["cwd"].as_u64().unwrap_or(0))),
                    ("game", plain(&d["game"])),
                ],
            ));
        }
        if deposits.len() == PAGE {
            out.push('\n');
            out.push_str(&i18n::text(
                lang,
                "history.more",
                &[("id", plain(&deposits[PAGE - 1]["deposit_id"]))],
            ));
        }
        Ok(out)
    }

    /// Requests the withdrawal and watches it (kept in the state file) until the feed
    /// says it is final.
    fn withdraw(
        &self,
        lang: &str,
        chat: i64,
        user: &str,
        game: u64,
        update_id: i64,
    ) -> Result<String, Refusal> {
        let args = json!({ "user": user, "game": game, "idempotency_key": format!("telegram-update:{update_id}") });
        let w = self.gateway.call("request-withdrawal", args)?;
        let id = plain(&w["withdrawal_id"]);
        let state = w["state"].as_str().unwrap_or("?");
        if !is_final(state) {
            let mut s = self.state.lock().unwrap();
            let fresh = s
                .watched
                .insert(id.clone(), Watched { chat, lang: lang.to_string() })
                .is_none();
            if fresh {
                if let Err(e) = self.save(&s) {
                    eprintln!("telegram-bot: saving the state file: {e:#}");
                }
            }
        }
        Ok(i18n::text(
            lang,
            "withdraw.requested",
            &[
                ("id", id),
                ("game", game.to_string()),
                ("cwd", cwd(w["cwd"].as_u64().unwrap_or(0))),
                ("state", state_name(lang, state)),
            ],
        ))
    }

    /// Tells players what the feed reports about them since the last position told:
    /// credited deposits and withdrawals that became final. The first start (no state)
    /// begins at the feed's end rather than repeat its history. Waits (long polling) up
    /// to the poll timeout for news.
    ///
    /// The feed can lose what the bot has not read: events older than the gateway's
    /// retention are pruned (a gap in `seq`), and a gateway store restored from a backup
    /// or replaced starts behind the bot's position (checked once, on the first call, with
    /// `checked`). Then the bot asks the gateway about each withdrawal it watches
    /// ([`Bot::reconcile_watched`]) instead, and carries on from where the feed is.
    fn follow_feed(&self, stop: &AtomicBool, checked: &mut bool) -> anyhow::Result<()> {
        let start = self.state.lock().unwrap().feed_after;
        let head = |what: &str| match self.gateway.call("feed-position", json!({})) {
            Ok(v) => Ok(v["seq"].as_u64().unwrap_or(0)),
            Err(r) => Err(anyhow::anyhow!("reading the event feed's position{what}: {}", r.code)),
        };
        let mut told = HashSet::new();
        let mut after = match start {
            Some(after) if *checked => after,
            Some(after) => {
                let head = head("")?;
                if head < after {
                    eprintln!("telegram-bot: the event feed ends before the position in the state file (a restored or replaced gateway store?); asking about the watched withdrawals and carrying on from the feed's end");
                    told = self.reconcile_watched()?;
                    let mut state = self.state.lock().unwrap();
                    state.feed_after = Some(head);
                    self.save(&state)?;
                }
                *checked = true;
                head.min(after)
            }
            None => {
                let head = head("")?;
                let mut state = self.state.lock().unwrap();
                state.feed_after = Some(head);
                self.save(&state)?;
                *checked = true;
                head
            }
        };
        let wait = self.poll_timeout.min(FEED_MAX_WAIT).as_millis() as u64;
        while !stop.load(Ordering::Relaxed) {
            let args = json!({ "after": after, "limit": FEED_PAGE, "wait_ms": wait });
            let page = match self.gateway.call("list-events", args) {
                Ok(p) => p,
                Err(r) => anyhow::bail!("reading the event feed: {}", r.code),
            };
            let events = page.as_array().map(Vec::as_slice).unwrap_or_default();
            if let Some(first) = events.first().and_then(|e| e["seq"].as_u64()) {
                if first > after + 1 && after > 0 {
                    eprintln!("telegram-bot: the event feed lost positions {} to {} (pruned); asking about the watched withdrawals", after + 1, first - 1);
                    told.extend(self.reconcile_watched()?);
                }
            }
            for e in events {
                let seq = e["seq"].as_u64().unwrap_or(after);
                let mut state = self.state.lock().unwrap();
                let already = e["event"]["withdrawal"]["withdrawal_id"]
                    .as_str()
                    .is_some_and(|id| told.contains(id));
                match news(&state, &e["event"]) {
                    Some((chat, lang, text, done)) if !already => {
                        // Sent with the state held: a reply never saves a position past it.
                        self.telegram
                            .send_message_with(chat, &text, &keyboard(&lang))?;
                        if let Some(id) = done {
                            state.watched.remove(&id);
                        }
                        state.feed_after = Some(seq);
                        self.save(&state)?;
                    }
                    _ => state.feed_after = Some(seq),
                }
                after = seq;
            }
            if !events.is_empty() {
                // Once a page for the events nobody is told about.
                self.save(&self.state.lock().unwrap())?;
            }
            if events.len() < FEED_PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// Asks the gateway (`get-withdrawal`) about each watched withdrawal and tells the
    /// ones that became final, as the feed would have; the ids told.
    fn reconcile_watched(&self) -> anyhow::Result<HashSet<String>> {
        let watched: Vec<(String, Watched)> = self
            .state
            .lock()
            .unwrap()
            .watched
            .iter()
            .map(|(id, w)| (id.clone(), w.clone()))
            .collect();
        let mut told = HashSet::new();
        for (id, w) in watched {
            let v = match self
                .gateway
                .call("get-withdrawal", json!({ "withdrawal_id": id }))
            {
                Ok(v) => v,
                Err(r) if r.code == "withdrawal-not-found" => {
                    let mut state = self.state.lock().unwrap();
                    state.watched.remove(&id);
                    self.save(&state)?;
                    continue;
                }
                Err(r) => anyhow::bail!("asking about a watched withdrawal: {}", r.code),
            };
            let st = v["state"].as_str().unwrap_or("");
            if !is_final(st) {
                continue;
            }
            let text = i18n::text(
                &w.lang,
                &format!("notify.withdrawal-{st}"),
                &[
                    ("id", id.clone()),
                    ("block", plain(&v["block_num"])),
                    ("cwd", cwd(v["cwd"].as_u64().unwrap_or(0))),
                    ("reason", plain(&v["note"])),
                ],
            );
            let mut state = self.state.lock().unwrap();
            self.telegram
                .send_message_with(w.chat, &text, &keyboard(&w.lang))?;
            state.watched.remove(&id);
            self.save(&state)?;
            told.insert(id);
        }
        Ok(told)
    }
}

/// The chat (a Telegram user's private chat has the user's id; a watched withdrawal
/// names its own), the language, the message for an event worth telling a player, and
/// the withdrawal it ends, if it is one.
fn news(state: &State, event: &Value) -> Option<(i64, String, String, Option<String>)> {
    let kind = event["type"].as_str()?;
    let w = &event["withdrawal"];
    let id = plain(&w["withdrawal_id"]);
    let user = match kind {
        "deposit-credited" => event["user"].as_str()?,
        _ => w["user"].as_str()?,
    };
    let player: i64 = user.strip_prefix("tg:")?.parse().ok()?;
    let (chat, lang) = match state.watched.get(&id) {
        Some(watched) if kind != "deposit-credited" => (watched.chat, watched.lang.clone()),
        _ => (
            player,
            state
                .languages
                .get(&player)
                .cloned()
                .unwrap_or_else(|| i18n::DEFAULT.to_string()),
        ),
    };
    let reason = plain(&event["reason"]);
    let values = |extra: Vec<(&'static str, String)>| {
        let mut v = vec![("id", id.clone()), ("reason", reason.clone())];
        v.extend(extra);
        v
    };
    let (key, values) = match kind {
        "deposit-credited" => (
            "notify.deposit-credited",
            values(vec![
                ("cwd", cwd(event["cwd"].as_u64().unwrap_or(0))),
                ("game", plain(&event["game"])),
                ("balance", plain(&event["balance"])),
            ]),
        ),
        "withdrawal-confirmed" => (
            "notify.withdrawal-confirmed",
            values(vec![
                ("block", plain(&event["block_num"])),
                ("cwd", cwd(w["cwd"].as_u64().unwrap_or(0))),
            ]),
        ),
        "withdrawal-failed" => ("notify.withdrawal-failed", values(vec![])),
        "withdrawal-rejected" => ("notify.withdrawal-rejected", values(vec![])),
        "withdrawal-cancelled" => ("notify.withdrawal-cancelled", values(vec![])),
        _ => return None,
    };
    let done = (kind != "deposit-credited").then_some(id);
    Some((chat, lang.clone(), i18n::text(&lang, key, &values), done))
}
