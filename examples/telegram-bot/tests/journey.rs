//! The bot against a fake Bot API server on loopback (`getUpdates`, `sendMessage`) and a
//! real gateway host (the component in `cwd-gateway`, its HTTP API) on a devnet: a
//! player links with proof of work, tops up, withdraws to confirmed, by chat commands and
//! by the reply keyboard's buttons, in English and in Russian, with the bot's Telegram
//! calls going through a local HTTP proxy; notifications come from the gateway's event
//! feed and survive restarts of the bot (its state file).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, DevnetHandle, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::node::NodeClient;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use cwd_telegram_bot::{Bot, Settings};
use serde_json::{json, Value};

const BOT_TOKEN: &str = "123456:fake-bot-token-ABCdef";
const API_TOKEN: &str = "bot-test-api-token-0123456789";
const CWD: i64 = 100_000;
const PLAYER: i64 = 4242;
/// The Russian-speaking player.
const BORIS: i64 = 7777;

/// Which language each test player's Telegram client reports.
fn language_of(player: i64) -> &'static str {
    if player == BORIS {
        "ru-RU"
    } else {
        "en"
    }
}

fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the fake Bot API holds: updates not yet confirmed by an offset, messages sent.
#[derive(Default)]
struct Chat {
    updates: VecDeque<Value>,
    next_id: i64,
    sent: Vec<(i64, String)>,
    /// The `reply_markup` of each message sent.
    markups: Vec<Value>,
    requests_with_wrong_token: u32,
}

#[derive(Clone, Default)]
struct FakeTelegram {
    chat: Arc<(Mutex<Chat>, Condvar)>,
}

impl FakeTelegram {
    /// Serves `/bot<BOT_TOKEN>/getUpdates` and `/sendMessage` on a loopback port.
    fn start(&self) -> String {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let me = self.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let args: Value = serde_json::from_str(&body).unwrap_or(json!({}));
                    let path = request.url().to_string();
                    let answer = match path.strip_prefix(&format!("/bot{BOT_TOKEN}/")) {
                        Some("getUpdates") => {
                            json!({ "ok": true, "result": me.get_updates(&args) })
                        }
                        Some("sendMessage") => {
                            let (lock, cv) = &*me.chat;
                            let mut chat = lock.lock().unwrap();
                            chat.sent.push((
                                args["chat_id"].as_i64().unwrap(),
                                args["text"].as_str().unwrap().to_string(),
                            ));
                            chat.markups.push(args["reply_markup"].clone());
                            cv.notify_all();
                            json!({ "ok": true, "result": { "message_id": chat.sent.len() } })
                        }
                        _ => {
                            me.chat.0.lock().unwrap().requests_with_wrong_token += 1;
                            let r = json!({ "ok": false, "error_code": 404, "description": "Not Found" });
                            let _ = request.respond(
                                tiny_http::Response::from_string(r.to_string())
                                    .with_status_code(404),
                            );
                            return;
                        }
                    };
                    let _ = request.respond(tiny_http::Response::from_string(answer.to_string()));
                });
            }
        });
        url
    }

    /// Long polling as Telegram does it: updates from `offset` on (older ones are
    /// confirmed and forgotten), waiting up to `timeout` seconds for one.
    fn get_updates(&self, args: &Value) -> Value {
        let offset = args["offset"].as_i64().unwrap_or(0);
        let deadline =
            Instant::now() + Duration::from_secs(args["timeout"].as_u64().unwrap_or(0).min(2));
        let (lock, cv) = &*self.chat;
        let mut chat = lock.lock().unwrap();
        loop {
            chat.updates
                .retain(|u| u["update_id"].as_i64().unwrap() >= offset);
            if !chat.updates.is_empty() || Instant::now() >= deadline {
                return json!(chat.updates.iter().cloned().collect::<Vec<_>>());
            }
            chat = cv
                .wait_timeout(chat, deadline.saturating_duration_since(Instant::now()))
                .unwrap()
                .0;
        }
    }

    /// The player types `text`; the update's id.
    fn type_text(&self, text: &str) -> i64 {
        self.type_as(PLAYER, text)
    }

    /// `player` types `text` (or presses the button labelled `text`); the update's id.
    fn type_as(&self, player: i64, text: &str) -> i64 {
        let id = {
            let mut chat = self.chat.0.lock().unwrap();
            chat.next_id += 1;
            chat.next_id
        };
        self.redeliver_as(player, text, id);
        id
    }

    /// Telegram delivers an update again (the bot crashed before confirming it).
    fn redeliver(&self, text: &str, update_id: i64) {
        self.redeliver_as(PLAYER, text, update_id)
    }

    fn redeliver_as(&self, player: i64, text: &str, update_id: i64) {
        let (lock, cv) = &*self.chat;
        let mut chat = lock.lock().unwrap();
        chat.updates.push_back(json!({
            "update_id": update_id,
            "message": { "message_id": update_id, "chat": { "id": player, "type": "private" }, "from": { "id": player, "is_bot": false, "first_name": "Player", "language_code": language_of(player) }, "date": 0, "text": text },
        }));
        cv.notify_all();
    }

    fn sent(&self) -> Vec<(i64, String)> {
        self.chat.0.lock().unwrap().sent.clone()
    }

    /// The labels of the reply keyboard sent with message `index`, row by row.
    fn keyboard_of(&self, index: usize) -> Vec<String> {
        let markup = self.chat.0.lock().unwrap().markups[index].clone();
        markup["keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .map(|b| b["text"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The next message the bot sends after the first `seen`.
    fn next_reply(&self, seen: usize) -> String {
        self.next_reply_to(PLAYER, seen)
    }

    /// The next message the bot sends after the first `seen`, to `player`.
    fn next_reply_to(&self, player: i64, seen: usize) -> String {
        eventually("the bot's reply", Duration::from_secs(60), || {
            self.sent().get(seen).map(|(chat, text)| {
                assert_eq!(*chat, player, "{text}");
                text.clone()
            })
        })
    }

    /// Types `text` and waits for the bot's answer.
    fn ask(&self, text: &str) -> String {
        self.ask_as(PLAYER, text)
    }

    /// `player` types `text` and waits for the bot's answer, which must carry the
    /// keyboard in `player`'s language.
    fn ask_as(&self, player: i64, text: &str) -> String {
        let seen = self.sent().len();
        self.type_as(player, text);
        let reply = self.next_reply_to(player, seen);
        let expected: &[&str] = if player == BORIS {
            &["Пополнить", "Вывести", "Баланс", "История"]
        } else {
            &["Top up", "Withdraw", "Balance", "History"]
        };
        assert_eq!(self.keyboard_of(seen), expected, "{reply}");
        reply
    }

    /// How many messages to `player` start with `prefix`.
    fn told(&self, player: i64, prefix: &str) -> usize {
        self.sent()
            .iter()
            .filter(|(chat, m)| *chat == player && m.starts_with(prefix))
            .count()
    }
}

/// A forwarding HTTP proxy on loopback (absolute-URI requests, keep-alive; `CONNECT`
/// tunnels too) that sends everything to `upstream` whatever host is asked for, and
/// records each request's target host and the last part of its path.
#[derive(Clone, Default)]
struct TestProxy {
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl TestProxy {
    fn start(&self, upstream: SocketAddr) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let me = self.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let _ = me.serve(client, upstream);
                });
            }
        });
        url
    }

    fn serve(&self, client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
        let mut from_client = BufReader::new(client.try_clone()?);
        let mut to_client = client;
        let mut up: Option<(TcpStream, BufReader<TcpStream>)> = None;
        loop {
            let mut line = String::new();
            if from_client.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (method, target) = (parts[0].to_string(), parts[1].to_string());
            let (head, body) = read_message(&mut from_client)?;
            if method == "CONNECT" {
                self.seen.lock().unwrap().push((target.clone(), "CONNECT".into()));
                let server = TcpStream::connect(upstream)?;
                to_client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
                let (mut a, mut b) = (server.try_clone()?, to_client.try_clone()?);
                std::thread::spawn(move || std::io::copy(&mut from_client, &mut a));
                let mut server = server;
                std::io::copy(&mut server, &mut b)?;
                return Ok(());
            }
            let rest = target.strip_prefix("http://").expect("an absolute URI");
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let method_name = path.rsplit('/').next().unwrap_or("").to_string();
            self.seen.lock().unwrap().push((host.to_string(), method_name));
            if up.is_none() {
                let s = TcpStream::connect(upstream)?;
                up = Some((s.try_clone()?, BufReader::new(s)));
            }
            let (to_server, from_server) = up.as_mut().unwrap();
            let head: String = head
                .lines()
                .filter(|h| !h.to_ascii_lowercase().starts_with("proxy-"))
                .map(|h| format!("{h}\r\n"))
                .collect();
            to_server.write_all(format!("{method} {path} HTTP/1.1\r\n{head}\r\n").as_bytes())?;
            to_server.write_all(&body)?;
            let mut status = String::new();
            from_server.read_line(&mut status)?;
            let (head, body) = read_message(from_server)?;
            to_client.write_all(status.as_bytes())?;
            for h in head.lines() {
                to_client.write_all(format!("{h}\r\n").as_bytes())?;
            }
            to_client.write_all(b"\r\n")?;
            to_client.write_all(&body)?;
        }
    }

    /// Requests to `host` for the Bot API method `name`.
    fn count(&self, host: &str, name: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, m)| h == host && m == name)
            .count()
    }
}

/// Header lines (without the blank line) and a `Content-Length` body.
fn read_message(r: &mut impl BufRead) -> std::io::Result<(String, Vec<u8>)> {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            assert!(
                !(name.eq_ignore_ascii_case("transfer-encoding")),
                "the test proxy reads Content-Length bodies only"
            );
        }
        head.push_str(line);
        head.push('\n');
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok((head, body))
}

struct Gateway {
    devnet: DevnetHandle,
    service: Arc<Service>,
    http: HttpApi,
    stop: Arc<AtomicBool>,
}

/// A devnet making blocks, the component in the reference host configured against it
/// (proof of work required to link), its timer ticking, its HTTP API on loopback.
fn gateway(seed: &str) -> Gateway {
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(Duration::from_millis(100)),
        ..DevnetConfig::seeded(seed)
    })
    .unwrap();
    let gw = devnet
        .create_account(AccountSpec::new("game-gateway", 10_000 * CWD))
        .unwrap();
    devnet
        .create_account(AccountSpec::new("alice-cwd", 500 * CWD))
        .unwrap();
    devnet
        .create_account(AccountSpec::new("boris-cwd", 500 * CWD))
        .unwrap();
    let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5))
        .verify_chain_id(&devnet.chain_id_hex())
        .unwrap();
    let caps = Capabilities {
        store: Arc::new(MemoryStore::new()),
        node: Arc::new(node),
        clock: Arc::new(SystemClock),
        events: Arc::new(NullSink),
        signer: std::sync::Arc::new(cwd_gateway_host::signer::NoSigner),
    };
    let config = api::Config {
        gateway_account: "game-gateway".into(),
        chain_id: devnet.chain_id_hex(),
        deposit_rate: api::Rate {
            game_units: 90,
            per_cwd_units: 100_000,
        },
        withdrawal_rate: api::Rate {
            game_units: 100,
            per_cwd_units: 100_000,
        },
        link: api::LinkConfig {
            code_digits: 0,
            code_ttl_ms: 0,
            max_attempts: 0,
            message_template: "Your link code: {code}".into(),
            user_interval_ms: 0,
            user_daily: 0,
            account_daily: 0,
            global_daily: 0,
            pow_bits: 8,
        },
        withdrawals: api::WithdrawalConfig {
            min_cwd: 100_000,
            max_cwd: 0,
            daily_cwd: 0,
            // Above 20 CWD an operator looks first: a payout that waits for the test.
            review_above_cwd: 20 * CWD as u64,
            four_eyes_above_cwd: 0,
            daily_count: 0,
            fee_cwd: 0,
            expiration_secs: 0,
            max_attempts: 0,
        },
        low_fee_balance_cwd: 0,
        tick_interval_ms: 200,
        idempotency_window_ms: 0,
        treasury: cwd_gateway_host::config::TreasurySection::default().component(),
        referrals: cwd_gateway_host::config::ReferralsSection::default().component(),
        events: cwd_gateway_host::config::EventsSection::default().component(),
        texts: cwd_gateway_host::config::TextsSection::default().component(),
    };
    let keys = api::Keys {
        active_wif: gw.active_wif.clone().unwrap(),
        memo_wif: gw.memo_wif.clone().unwrap(),
    };
    let service = Service::start(
        &Runtime::new(RuntimeConfig::default()).unwrap(),
        caps,
        &config,
        keys,
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    service.spawn_timer(stop.clone(), Duration::from_millis(200));
    let http = HttpApi::bind("127.0.0.1:0").unwrap();
    http.spawn(service.clone(), API_TOKEN.to_string(), 2);
    Gateway {
        devnet,
        service,
        http,
        stop,
    }
}

fn start_bot(
    telegram_url: &str,
    gateway_url: &str,
    gateway_token: &str,
    state_file: &std::path::Path,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    start_bot_via(telegram_url, None, gateway_url, gateway_token, state_file)
}

fn start_bot_via(
    telegram_url: &str,
    proxy: Option<&str>,
    gateway_url: &str,
    gateway_token: &str,
    state_file: &std::path::Path,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let settings = Settings {
        bot_token: BOT_TOKEN.into(),
        bot_api_url: telegram_url.into(),
        gateway_url: gateway_url.into(),
        gateway_token: gateway_token.into(),
        poll_timeout: Duration::from_secs(1),
        state_file: state_file.to_path_buf(),
        telegram_proxy: proxy.map(str::to_string),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let mut bot = Bot::new(settings).unwrap();
    (stop, std::thread::spawn(move || bot.run(&s)))
}

/// The link code the gateway sent to `account`'s wallet.
fn code_in_wallet(gw: &Gateway, account: &str) -> String {
    eventually("the code in the wallet", Duration::from_secs(30), || {
        let memos = gw.devnet.received_memos(account, None).ok()?;
        let text = memos
            .into_iter()
            .rev()
            .find(|m| m.op == "send_message")?
            .text
            .ok()?;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .map(str::to_string)
    })
}

/// The withdrawal id in "Withdrawal w…: …" / "Вывод w…: …".
fn withdrawal_id(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string()
}

#[test]
fn players_link_top_up_and_withdraw_in_their_languages_through_a_proxy() {
    let gw = gateway("telegram-bot-journey");
    let gateway_url = format!("http://{}", gw.http.addr);
    let telegram = FakeTelegram::default();
    let real_telegram = telegram.start();
    // The bot knows Telegram by a name that resolves nowhere: only the proxy, which sends
    // every request to the fake Bot API, gets it there.
    let proxy = TestProxy::default();
    let proxy_url = proxy.start(
        real_telegram
            .strip_prefix("http://")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let telegram_host = format!(
        "api.telegram.invalid:{}",
        real_telegram.rsplit(':').next().unwrap()
    );
    let telegram_url = format!("http://{telegram_host}");
    let state_file =
        std::env::temp_dir().join(format!("cwd-bot-journey-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state_file);
    let start = || {
        start_bot_via(
            &telegram_url,
            Some(&proxy_url),
            &gateway_url,
            API_TOKEN,
            &state_file,
        )
    };
    let (stop, bot) = start();
    let user = format!("tg:{PLAYER}");

    assert!(telegram.ask("/balance").contains("not linked"));
    assert!(telegram.ask("/hello").contains("/link <CrowdWiz account>"));
    assert!(telegram.ask("/link").contains("/link my-account"));

    // Link: the bot does the proof of work the gateway asks for.
    let reply = telegram.ask("/link alice-cwd");
    assert!(reply.contains("6-digit code to alice-cwd"), "{reply}");
    let code = code_in_wallet(&gw, "alice-cwd");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let reply = telegram.ask(&format!("/code {wrong}"));
    assert!(reply.starts_with("Wrong code: 4 attempts left"), "{reply}");
    assert!(telegram
        .ask(&format!("/code {code}"))
        .contains("Linked to alice-cwd"));

    // Top up (the button) from the wallet; the balance shows the credit.
    let reply = telegram.ask("Top up");
    assert!(
        reply.contains("from alice-cwd to game-gateway") && reply.contains("1 CWD = 90 game units"),
        "{reply}"
    );
    gw.devnet
        .transfer("alice-cwd", "game-gateway", 25 * CWD, Some("top up"), None)
        .unwrap();
    // The bot tells the player unasked, from the gateway's event feed.
    let told = eventually("the deposit notice", Duration::from_secs(60), || {
        telegram
            .sent()
            .into_iter()
            .find(|(chat, m)| *chat == PLAYER && m.starts_with("Deposit of 25.00000 CWD credited"))
            .map(|(_, m)| m)
    });
    assert!(told.contains("+2250 game units (balance 2250)"), "{told}");
    assert!(telegram.ask("Balance").contains("2250 game units"));

    // Withdraw; the bot reports on its own when the payout is confirmed.
    let before = gw.devnet.balance_of("alice-cwd").unwrap();
    assert!(telegram.ask("/withdraw lots").contains("whole game units"));
    let seen = telegram.sent().len();
    let update_id = telegram.type_text("/withdraw 1000");
    let reply = telegram.next_reply(seen);
    assert!(reply.contains("1000 game units → 10.00000 CWD"), "{reply}");
    let id = withdrawal_id(&reply);
    let done = telegram.next_reply(seen + 1);
    assert!(
        done.starts_with(&format!("Withdrawal {id} confirmed in block "))
            && done.ends_with("10.00000 CWD paid to your CrowdWiz account."),
        "{done}"
    );
    assert_eq!(
        gw.devnet.balance_of("alice-cwd").unwrap(),
        before + 10 * CWD
    );

    // The bot restarts before Telegram learnt it had the update, which comes again: the
    // same withdrawal, not a second one.
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    telegram.redeliver("/withdraw 1000", update_id);
    let (stop, bot) = start();
    let again = telegram.next_reply(seen + 2);
    assert!(again.contains(&format!("Withdrawal {id}:")), "{again}");
    let list = gw
        .service
        .with(|a| {
            a.list_withdrawals(
                &api::WithdrawalFilter {
                    user: Some(user.clone()),
                    state: None,
                },
                api::ListOrder::OldestFirst,
                None,
                100,
            )
        })
        .unwrap();
    assert_eq!(list.len(), 1);
    let account = gw.service.with(|a| a.account(&user)).unwrap();
    assert_eq!((account.balance, account.frozen), (1250, 0));
    assert_eq!(account.language.as_deref(), Some("en"));
    let reply = telegram.ask("/balance");
    assert!(
        reply.contains("1250 game units")
            && reply.contains(&format!("{id}: 1000 game units → 10.00000 CWD, confirmed")),
        "{reply}"
    );
    let history = telegram.ask("History");
    assert!(
        history.starts_with("Your deposits, newest first:")
            && history.contains("25.00000 CWD → 2250 game units"),
        "{history}"
    );
    assert!(
        !history.contains("Older:"),
        "one deposit, one page: {history}"
    );
    assert_eq!(
        telegram.ask("/history d-0000000001-00000-00000"),
        "No older deposits."
    );

    // A Russian-speaking player: the same journey in Russian, by the buttons.
    let help = telegram.ask_as(BORIS, "/start");
    assert!(
        help.starts_with("Нажмите кнопку внизу") && help.contains("/link <аккаунт CrowdWiz>"),
        "{help}"
    );
    let reply = telegram.ask_as(BORIS, "/link boris-cwd");
    assert!(reply.contains("6-значный код на boris-cwd"), "{reply}");
    let code = code_in_wallet(&gw, "boris-cwd");
    let reply = telegram.ask_as(BORIS, &format!("/code {code}"));
    assert!(reply.starts_with("Аккаунт boris-cwd привязан"), "{reply}");
    // The bot told the gateway his language: its deposit note comes in Russian too.
    let account = gw.service.with(|a| a.account(&format!("tg:{BORIS}"))).unwrap();
    assert_eq!(account.language.as_deref(), Some("ru"));
    let reply = telegram.ask_as(BORIS, "Пополнить");
    assert!(
        reply.contains("с boris-cwd на game-gateway")
            && reply.contains("1 CWD = 90 игровых единиц")
            && reply.contains("Переведите CWD на game-gateway с аккаунта boris-cwd."),
        "{reply}"
    );
    gw.devnet
        .transfer("boris-cwd", "game-gateway", 30 * CWD, Some("пополнение"), None)
        .unwrap();
    eventually("the deposit notice in Russian", Duration::from_secs(60), || {
        (telegram.told(
            BORIS,
            "Пополнение на 30.00000 CWD зачислено: +2700 игровых единиц (баланс 2700).",
        ) == 1)
            .then_some(())
    });
    // English buttons work for him too; Russian words come back.
    assert!(telegram.ask_as(BORIS, "Balance").starts_with("boris-cwd: 2700 игровых единиц"));
    assert!(telegram.ask_as(BORIS, "Вывести").starts_with("Сколько игровых единиц вывести?"));
    // Above 20 CWD: the payout waits for an operator.
    let reply = telegram.ask_as(BORIS, "2500");
    assert!(
        reply.contains("2500 игровых единиц → 25.00000 CWD, на проверке"),
        "{reply}"
    );
    let boris_id = withdrawal_id(&reply);
    assert!(reply.starts_with(&format!("Вывод {boris_id}:")), "{reply}");
    // A refusal, in his language, by its code.
    let reply = telegram.ask_as(BORIS, "/withdraw 900000");
    assert!(reply.starts_with("Недостаточно игровых единиц"), "{reply}");

    // The bot stops with his withdrawal watched; the state file keeps it (0600).
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(state["watched"][&boris_id]["lang"], "ru", "{state}");
    assert_eq!(state["languages"][BORIS.to_string()], "ru", "{state}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Stopped, the bot misses nothing: a deposit credited and a payout approved and paid
    // meanwhile are told after the restart, from the feed position it kept; what it told
    // before is not told again.
    gw.devnet
        .transfer("alice-cwd", "game-gateway", 5 * CWD, Some("more"), None)
        .unwrap();
    gw.service
        .with(|a| a.approve_withdrawal("operator", &boris_id))
        .unwrap();
    eventually("the second credit and the paid payout", Duration::from_secs(60), || {
        let credited = gw.service.with(|a| a.account(&user)).unwrap().balance == 1250 + 450;
        let paid = matches!(
            gw.service.with(|a| a.get_withdrawal(&boris_id)).unwrap().state,
            api::WithdrawalState::Confirmed
        );
        (credited && paid).then_some(())
    });
    let (stop, bot) = start();
    eventually(
        "the notices of what happened while the bot was down",
        Duration::from_secs(30),
        || {
            (telegram.told(
                PLAYER,
                "Deposit of 5.00000 CWD credited: +450 game units (balance 1700)",
            ) == 1
                && telegram.told(BORIS, &format!("Вывод {boris_id} подтверждён в блоке ")) == 1)
                .then_some(())
        },
    );
    // The feed is followed on: another deposit is told at once, and nothing twice.
    gw.devnet
        .transfer("boris-cwd", "game-gateway", CWD, Some("ещё"), None)
        .unwrap();
    eventually("the third credit's notice", Duration::from_secs(60), || {
        (telegram.told(BORIS, "Пополнение на 1.00000 CWD зачислено: +90 игровых единиц") == 1)
            .then_some(())
    });
    assert_eq!(telegram.told(PLAYER, "Deposit of 25.00000 CWD credited"), 1);
    assert_eq!(telegram.told(PLAYER, &format!("Withdrawal {id} confirmed")), 1);
    assert_eq!(telegram.told(BORIS, "Пополнение на 30.00000 CWD"), 1);
    assert_eq!(telegram.told(BORIS, &format!("Вывод {boris_id} подтверждён")), 1);
    let bill = telegram
        .sent()
        .into_iter()
        .find(|(_, m)| m.starts_with(&format!("Вывод {boris_id} подтверждён")))
        .unwrap()
        .1;
    assert!(bill.ends_with("25.00000 CWD выплачено на ваш аккаунт CrowdWiz."), "{bill}");
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert!(state["watched"].as_object().unwrap().is_empty(), "{state}");
    let _ = std::fs::remove_file(&state_file);

    // Every Bot API call went through the proxy, and nothing else did: the gateway, on
    // loopback, is reached directly.
    let sent = telegram.sent().len();
    assert_eq!(proxy.count(&telegram_host, "sendMessage"), sent);
    assert!(proxy.count(&telegram_host, "getUpdates") > 0);
    assert!(
        proxy.seen.lock().unwrap().iter().all(|(host, _)| *host == telegram_host),
        "only Telegram goes through the proxy"
    );

    // Nothing the bot said carries a token or the code.
    for (_, text) in telegram.sent() {
        assert!(
            !text.contains(BOT_TOKEN) && !text.contains(API_TOKEN),
            "{text}"
        );
    }
    assert_eq!(telegram.chat.0.lock().unwrap().requests_with_wrong_token, 0);
    gw.stop.store(true, Ordering::Relaxed);
}

/// Every message key exists in every language, with the same `{values}`; every error
/// code a player can meet has a text in each.
#[test]
fn every_language_has_every_text() {
    use cwd_telegram_bot::i18n;
    // The gateway's codes a player can meet through the bot (docs/http-api.md's error
    // tables), and the bot's own for a gateway it cannot reach or read.
    const ERROR_CODES: &[&str] = &[
        "unauthorized", "forbidden", "not-found", "unknown-call", "method-not-allowed",
        "bad-request", "request-timeout", "component-failed", "host-failed", "busy",
        "invalid", "bad-user-id", "reserved-user", "bad-account-name", "account-not-found",
        "withdrawal-not-found", "account-taken", "account-reserved", "already-linked",
        "not-linked", "no-pending-link", "withdrawals-pending", "idempotency-conflict",
        "not-cancellable", "proof-required", "bad-proof", "link-expired", "wrong-code",
        "too-many-attempts", "insufficient-balance", "below-minimum", "above-maximum",
        "amount-too-small", "overflow", "rate-limited", "daily-limit", "wrong-chain",
        "not-configured", "node-unavailable", "store-unavailable", "signing-failed",
        "signer-refused", "signer-unavailable", "referrer-already-set", "self-referral",
        "referral-cycle", "not-cwd", "pool-insufficient", "unreachable", "bad-answer",
    ];
    let languages = i18n::languages();
    assert!(languages.contains(&"en") && languages.contains(&"ru"));
    let all_keys: std::collections::BTreeSet<&String> = languages
        .iter()
        .flat_map(|l| i18n::catalogue(l).unwrap().keys())
        .collect();
    let mut missing = Vec::new();
    for lang in &languages {
        let texts = i18n::catalogue(lang).unwrap();
        for key in &all_keys {
            match texts.get(*key) {
                None => missing.push(format!("{lang}: {key}")),
                Some(t) if t.trim().is_empty() => missing.push(format!("{lang}: {key} (empty)")),
                Some(t) => {
                    let reference = i18n::catalogue(i18n::DEFAULT).unwrap().get(*key);
                    if let Some(r) = reference {
                        assert_eq!(
                            i18n::placeholders(t),
                            i18n::placeholders(r),
                            "{lang}: {key} fills other values than {}",
                            i18n::DEFAULT
                        );
                    }
                }
            }
        }
        for code in ERROR_CODES {
            if !texts.contains_key(&format!("error.{code}")) {
                missing.push(format!("{lang}: error.{code}"));
            }
        }
    }
    assert!(missing.is_empty(), "missing texts: {missing:?}");
    // Telegram's language codes.
    assert_eq!(i18n::language_for(Some("ru")), "ru");
    assert_eq!(i18n::language_for(Some("ru-RU")), "ru");
    assert_eq!(i18n::language_for(Some("en-GB")), "en");
    assert_eq!(i18n::language_for(Some("de")), "en");
    assert_eq!(i18n::language_for(None), "en");
    // A refusal is told by its code, with its values, in the player's language.
    let wrong = cwd_telegram_bot::gateway::Refusal {
        status: 422,
        code: "wrong-code".into(),
        message: "wrong code; 4 attempts left".into(),
        details: Box::new(json!({ "code": "wrong-code", "message": "wrong code; 4 attempts left", "attempts_left": 4 })),
    };
    assert_eq!(cwd_telegram_bot::refusal_text("ru", &wrong), "Неверный код: осталось попыток 4.");
    let limited = cwd_telegram_bot::gateway::Refusal {
        status: 429,
        code: "rate-limited".into(),
        message: "".into(),
        details: Box::new(json!({ "retry_after_ms": 1500, "scope": "user" })),
    };
    assert_eq!(cwd_telegram_bot::refusal_text("en", &limited), "Too many attempts; try again in 2 s.");
    let unknown = cwd_telegram_bot::gateway::Refusal {
        status: 418,
        code: "teapot".into(),
        message: "".into(),
        details: Box::new(Value::Null),
    };
    assert_eq!(cwd_telegram_bot::refusal_text("ru", &unknown), "Извините, не получилось (teapot). Попробуйте позже.");
}

/// The gateway's store was restored from a backup (or replaced) while the bot was down:
/// its feed ends before the bot's position. The bot asks about the withdrawal it watches
/// instead, tells it once, and follows the feed from its end.
#[test]
fn a_watched_withdrawal_is_told_when_the_feed_was_reset() {
    let gw = gateway("telegram-bot-feed-reset");
    let gateway_url = format!("http://{}", gw.http.addr);
    let telegram = FakeTelegram::default();
    let telegram_url = telegram.start();
    let state_file =
        std::env::temp_dir().join(format!("cwd-bot-reset-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state_file);
    let (stop, bot) = start_bot(&telegram_url, &gateway_url, API_TOKEN, &state_file);
    let user = format!("tg:{PLAYER}");
    assert!(telegram.ask("/link alice-cwd").contains("alice-cwd"));
    let code = code_in_wallet(&gw, "alice-cwd");
    assert!(telegram.ask(&format!("/code {code}")).contains("Linked to alice-cwd"));
    gw.service
        .with(|a| a.adjust_balance(&user, 5000, "test-credit", "test"))
        .unwrap();
    let reply = telegram.ask("/withdraw 2500");
    assert!(reply.contains("awaiting review"), "{reply}");
    let id = withdrawal_id(&reply);
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();

    let mut state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert!(state["watched"].get(&id).is_some(), "{state}");
    state["feed_after"] = json!(1_000_000);
    std::fs::write(&state_file, state.to_string()).unwrap();
    gw.service
        .with(|a| a.approve_withdrawal("operator", &id))
        .unwrap();
    eventually("the payout", Duration::from_secs(60), || {
        matches!(
            gw.service.with(|a| a.get_withdrawal(&id)).unwrap().state,
            api::WithdrawalState::Confirmed
        )
        .then_some(())
    });

    let (stop, bot) = start_bot(&telegram_url, &gateway_url, API_TOKEN, &state_file);
    let prefix = format!("Withdrawal {id} confirmed in block ");
    eventually("the payout told", Duration::from_secs(30), || {
        (telegram.told(PLAYER, &prefix) == 1).then_some(())
    });
    // The feed is followed again from its end: a later credit is told, the payout not again.
    assert!(telegram.ask("/balance").contains("2500 game units"));
    gw.devnet
        .transfer("alice-cwd", "game-gateway", 2 * CWD, Some("after"), None)
        .unwrap();
    eventually("the credit after the reset", Duration::from_secs(60), || {
        (telegram.told(PLAYER, "Deposit of 2.00000 CWD credited") == 1).then_some(())
    });
    assert_eq!(telegram.told(PLAYER, &prefix), 1);
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert!(state["watched"].as_object().unwrap().is_empty(), "{state}");
    assert!(state["feed_after"].as_u64().unwrap() < 1_000_000, "{state}");
    let _ = std::fs::remove_file(&state_file);
    gw.stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_wrong_gateway_token_is_not_the_players_problem_and_is_never_shown() {
    let gw = gateway("telegram-bot-token");
    let telegram = FakeTelegram::default();
    let wrong = "wrong-api-token-0123456789abcdef";
    let state_file =
        std::env::temp_dir().join(format!("cwd-bot-token-{}.json", std::process::id()));
    let (stop, bot) = start_bot(
        &telegram.start(),
        &format!("http://{}", gw.http.addr),
        wrong,
        &state_file,
    );
    let reply = telegram.ask("/balance");
    assert_eq!(reply, "The bot is not set up right; try again later.");
    assert!(!reply.contains(wrong));
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    gw.stop.store(true, Ordering::Relaxed);
}

#[test]
fn bot_api_errors_never_carry_the_bot_token() {
    let telegram = FakeTelegram::default();
    let url = telegram.start();
    let api = cwd_telegram_bot::telegram::BotApi::new(
        &url,
        "999:another-token-XYZ",
        Duration::from_secs(1),
    );
    let e = format!(
        "{:#}",
        api.get_updates(0, Duration::from_secs(0)).unwrap_err()
    );
    assert!(
        e.contains("refused getUpdates (404)") && !e.contains("another-token"),
        "{e}"
    );
    // Unreachable: the transport error names no URL either.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = cwd_telegram_bot::telegram::BotApi::new(
        &format!("http://127.0.0.1:{port}"),
        "999:another-token-XYZ",
        Duration::from_secs(1),
    );
    let e = format!("{:#}", api.send_message(1, "hi").unwrap_err());
    assert!(
        e.contains("could not be reached") && !e.contains("another-token"),
        "{e}"
    );
}

/// A SOCKS5 proxy on loopback (no authentication, `CONNECT` only) that connects every
/// request to `upstream` and records the target it was asked for.
fn socks5_proxy(upstream: SocketAddr) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("socks5://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                use std::io::Read;
                let mut client = client;
                let mut greeting = [0u8; 2];
                client.read_exact(&mut greeting)?;
                let mut methods = vec![0u8; greeting[1] as usize];
                client.read_exact(&mut methods)?;
                assert_eq!(greeting[0], 5);
                client.write_all(&[5, 0])?;
                let mut request = [0u8; 4];
                client.read_exact(&mut request)?;
                assert_eq!(request[..2], [5, 1], "CONNECT");
                let host = match request[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        client.read_exact(&mut a)?;
                        std::net::Ipv4Addr::from(a).to_string()
                    }
                    3 => {
                        let mut n = [0u8; 1];
                        client.read_exact(&mut n)?;
                        let mut name = vec![0u8; n[0] as usize];
                        client.read_exact(&mut name)?;
                        String::from_utf8(name).unwrap()
                    }
                    other => panic!("address type {other}"),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port)?;
                record
                    .lock()
                    .unwrap()
                    .push(format!("{host}:{}", u16::from_be_bytes(port)));
                let server = TcpStream::connect(upstream)?;
                client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
                let (mut up, mut down) = (server.try_clone()?, client.try_clone()?);
                std::thread::spawn(move || std::io::copy(&mut client, &mut up));
                let mut server = server;
                std::io::copy(&mut server, &mut down)?;
                Ok(())
            });
        }
    });
    (url, seen)
}

#[test]
fn bot_api_calls_go_through_a_socks5_proxy() {
    let telegram = FakeTelegram::default();
    let real = telegram.start();
    let (proxy, seen) = socks5_proxy(real.strip_prefix("http://").unwrap().parse().unwrap());
    // A name that resolves nowhere: the proxy resolves it (as socks5h does).
    let target = format!("api.telegram.invalid:{}", real.rsplit(':').next().unwrap());
    let api = cwd_telegram_bot::telegram::BotApi::with_proxy(
        &format!("http://{target}"),
        BOT_TOKEN,
        Duration::from_secs(1),
        Some(&proxy.replace("socks5://", "socks5h://")),
    )
    .unwrap();
    api.send_message(PLAYER, "through SOCKS").unwrap();
    assert!(api.get_updates(0, Duration::from_secs(0)).unwrap().is_empty());
    assert_eq!(telegram.sent(), vec![(PLAYER, "through SOCKS".to_string())]);
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|t| *t == target), "{seen:?}");
    // A setting that is not a proxy URL is refused without repeating it.
    let e = cwd_telegram_bot::telegram::BotApi::with_proxy(
        "https://api.telegram.org",
        BOT_TOKEN,
        Duration::from_secs(1),
        Some("ftp://user:secret-pass@proxy:21"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("not a proxy URL") && !e.contains("secret-pass"), "{e}");
}
