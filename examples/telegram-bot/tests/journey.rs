//! The bot against a fake Bot API server on loopback (`getUpdates`, `sendMessage`) and a
//! real gateway host (the component in `cwd-gateway`, its HTTP API) on a devnet: a
//! player links with proof of work, tops up, withdraws to confirmed, by chat commands.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, DevnetHandle, Production};
use cwd_gateway_host::bindings::api;
use cwd_gateway_host::clock::SystemClock;
use cwd_gateway_host::events::NullSink;
use cwd_gateway_host::gateway::Service;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::node::HttpNode;
use cwd_gateway_host::store::MemoryStore;
use cwd_gateway_host::{Capabilities, Runtime, RuntimeConfig};
use cwd_telegram_bot::{Bot, Settings};
use serde_json::{json, Value};

const BOT_TOKEN: &str = "123456:fake-bot-token-ABCdef";
const API_TOKEN: &str = "bot-test-api-token-0123456789";
const CWD: i64 = 100_000;
const PLAYER: i64 = 4242;

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
        let (lock, cv) = &*self.chat;
        let mut chat = lock.lock().unwrap();
        chat.next_id += 1;
        let id = chat.next_id;
        chat.updates.push_back(json!({
            "update_id": id,
            "message": { "message_id": id, "chat": { "id": PLAYER, "type": "private" }, "from": { "id": PLAYER, "is_bot": false, "first_name": "Alice" }, "date": 0, "text": text },
        }));
        cv.notify_all();
        id
    }

    /// Telegram delivers an update again (the bot crashed before confirming it).
    fn redeliver(&self, text: &str, update_id: i64) {
        let (lock, cv) = &*self.chat;
        let mut chat = lock.lock().unwrap();
        chat.updates.push_back(json!({
            "update_id": update_id,
            "message": { "message_id": update_id, "chat": { "id": PLAYER, "type": "private" }, "from": { "id": PLAYER, "is_bot": false, "first_name": "Alice" }, "date": 0, "text": text },
        }));
        cv.notify_all();
    }

    fn sent(&self) -> Vec<(i64, String)> {
        self.chat.0.lock().unwrap().sent.clone()
    }

    /// The next message the bot sends after the first `seen`.
    fn next_reply(&self, seen: usize) -> String {
        eventually("the bot's reply", Duration::from_secs(60), || {
            self.sent().get(seen).map(|(chat, text)| {
                assert_eq!(*chat, PLAYER);
                text.clone()
            })
        })
    }

    /// Types `text` and waits for the bot's answer.
    fn ask(&self, text: &str) -> String {
        let seen = self.sent().len();
        self.type_text(text);
        self.next_reply(seen)
    }
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
    let node = HttpNode::new(vec![devnet.url().to_string()], Duration::from_secs(5))
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
            review_above_cwd: 0,
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
    let settings = Settings {
        bot_token: BOT_TOKEN.into(),
        bot_api_url: telegram_url.into(),
        gateway_url: gateway_url.into(),
        gateway_token: gateway_token.into(),
        poll_timeout: Duration::from_secs(1),
        state_file: state_file.to_path_buf(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    (stop, std::thread::spawn(move || Bot::new(settings).run(&s)))
}

#[test]
fn a_player_links_tops_up_and_withdraws_by_chat() {
    let gw = gateway("telegram-bot-journey");
    let telegram = FakeTelegram::default();
    let telegram_url = telegram.start();
    let state_file =
        std::env::temp_dir().join(format!("cwd-bot-journey-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state_file);
    let (stop, bot) = start_bot(
        &telegram_url,
        &format!("http://{}", gw.http.addr),
        API_TOKEN,
        &state_file,
    );
    let user = format!("tg:{PLAYER}");

    assert!(telegram.ask("/balance").contains("not linked"));
    assert!(telegram.ask("/hello").contains("/link <CrowdWiz account>"));
    assert!(telegram.ask("/link").contains("/link my-account"));

    // Link: the bot does the proof of work the gateway asks for.
    let reply = telegram.ask("/link alice-cwd");
    assert!(reply.contains("6-digit code to alice-cwd"), "{reply}");
    let code = eventually(
        "the code in alice's wallet",
        Duration::from_secs(30),
        || {
            let memos = gw.devnet.received_memos("alice-cwd", None).ok()?;
            let text = memos
                .into_iter()
                .rev()
                .find(|m| m.op == "send_message")?
                .text
                .ok()?;
            text.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_string)
        },
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(telegram
        .ask(&format!("/code {wrong}"))
        .contains("wrong code"));
    assert!(telegram
        .ask(&format!("/code {code}"))
        .contains("Linked to alice-cwd"));

    // Top up from the wallet; the balance shows the credit.
    let reply = telegram.ask("/deposit");
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
    assert!(telegram.ask("/balance").contains("2250 game units"));

    // Withdraw; the bot reports on its own when the payout is confirmed.
    let before = gw.devnet.balance_of("alice-cwd").unwrap();
    assert!(telegram.ask("/withdraw lots").contains("whole game units"));
    let seen = telegram.sent().len();
    let update_id = telegram.type_text("/withdraw 1000");
    let reply = telegram.next_reply(seen);
    assert!(reply.contains("1000 game units → 10.00000 CWD"), "{reply}");
    let id = reply
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let done = telegram.next_reply(seen + 1);
    assert!(
        done.starts_with(&format!("Withdrawal {id} confirmed in block ")),
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
    let (stop, bot) = start_bot(
        &telegram_url,
        &format!("http://{}", gw.http.addr),
        API_TOKEN,
        &state_file,
    );
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
    let reply = telegram.ask("/balance");
    assert!(
        reply.contains("1250 game units")
            && reply.contains(&format!("{id}: 1000 game units → 10.00000 CWD, confirmed")),
        "{reply}"
    );
    let history = telegram.ask("/history");
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

    // Stopped, the bot misses nothing: a deposit credited meanwhile is told after the
    // restart, from the feed position it kept; what it told before is not told again.
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
    gw.devnet
        .transfer("alice-cwd", "game-gateway", 5 * CWD, Some("more"), None)
        .unwrap();
    eventually("the second credit", Duration::from_secs(60), || {
        (gw.service.with(|a| a.account(&user)).unwrap().balance == 1250 + 450).then_some(())
    });
    let (stop, bot) = start_bot(
        &telegram_url,
        &format!("http://{}", gw.http.addr),
        API_TOKEN,
        &state_file,
    );
    eventually(
        "the notice of the deposit made while the bot was down",
        Duration::from_secs(30),
        || {
            telegram
                .sent()
                .iter()
                .any(|(_, m)| {
                    m.starts_with("Deposit of 5.00000 CWD credited: +450 game units (balance 1700)")
                })
                .then_some(())
        },
    );
    let told = |prefix: &str| {
        telegram
            .sent()
            .iter()
            .filter(|(_, m)| m.starts_with(prefix))
            .count()
    };
    assert_eq!(told("Deposit of 25.00000 CWD credited"), 1);
    assert_eq!(told(&format!("Withdrawal {id} confirmed")), 1);
    let _ = std::fs::remove_file(&state_file);

    // Nothing the bot said carries a token or the code.
    for (_, text) in telegram.sent() {
        assert!(
            !text.contains(BOT_TOKEN) && !text.contains(API_TOKEN),
            "{text}"
        );
    }
    assert_eq!(telegram.chat.0.lock().unwrap().requests_with_wrong_token, 0);
    stop.store(true, Ordering::Relaxed);
    bot.join().unwrap();
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
