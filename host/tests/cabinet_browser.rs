//! The player's cabinet clicked through in a real browser: Debian's Chromium, headless,
//! driven over WebDriver by the system's chromedriver (nothing is downloaded). The whole
//! journey against a devnet through the real `.wasm`, in English and in Russian: a
//! forged and an expired session refused, a link with proof of work solved by the page's
//! script (checked against the Rust puzzle), a deposit credited, a withdrawal followed to
//! confirmed, another held for review and cancelled by the player, the referral panel,
//! unlinking, signing out, and the memo-link route once the code route is refused. Every text checked is the
//! catalogue's (`host/cabinet/i18n/<lang>.json`), so the page is checked to use it.
//!
//! Skipped when chromium or chromedriver is absent, unless `CI` is set (then it fails).
//! `CWD_CABINET_SCREENSHOTS=<dir>` saves a screenshot of each panel there
//! (`docs/cabinet-*.png` and `docs/cabinet-ru-*.png` come from it).

mod browser;
mod cabinet_env;
mod support;

use std::path::Path;
use std::time::Duration;

use browser::{browser_paths, click, connect, js, text, type_into, visible, wait_text, wait_until, wait_visible, Driver};
use cabinet_env::{CabinetEnv, SECRET};
use cwd_gateway_host::cabinet::{now_secs, session};
use fantoccini::{Client, Locator};
use serde_json::{json, Map, Value};
use support::CWD;

const POW_BITS: u8 = 10;

/// A language's catalogue, as the page gets it.
struct Words {
    lang: &'static str,
    map: Map<String, Value>,
}

impl Words {
    fn of(lang: &'static str) -> Words {
        let (_, text) = cwd_gateway_host::cabinet::LANGUAGES.iter().find(|(l, _)| *l == lang).unwrap();
        let Value::Object(map) = serde_json::from_str(text).unwrap() else { panic!("{lang}.json") };
        Words { lang, map }
    }

    /// The text of `key` with `{name}`s replaced, as the page's `t()` does.
    fn t(&self, key: &str, vars: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut s = self.map.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{key}")).to_string();
        for (name, value) in vars {
            s = s.replace(&format!("{{{name}}}"), &value.to_string());
        }
        s
    }

    /// `t` in the plural form for `n` (`key#one`, `key#few`…) when the catalogue has
    /// one: CLDR's integer rules for the languages the cabinet ships, written out here
    /// as the test's own statement of them.
    fn tn(&self, key: &str, vars: &[(&str, &dyn std::fmt::Display)], n: u128) -> String {
        let form = match (self.lang, n % 10, n % 100) {
            ("en", _, _) if n == 1 => "one",
            ("ru", 1, r) if r != 11 => "one",
            ("ru", 2..=4, r) if !(12..=14).contains(&r) => "few",
            ("ru", _, _) => "many",
            _ => "other",
        };
        let plural = format!("{key}#{form}");
        match self.map.contains_key(&plural) {
            true => self.t(&plural, vars),
            false => self.t(key, vars),
        }
    }

    /// The text of `key` up to its first placeholder.
    fn head(&self, key: &str) -> String {
        self.t(key, &[]).split('{').next().unwrap().to_string()
    }
}

async fn open(c: &Client, env: &CabinetEnv, query: &str, token: &str) {
    // Through a blank page: a change of fragment alone would not reload the cabinet.
    c.goto("about:blank").await.unwrap();
    c.goto(&env.url(&format!("/cabinet/{query}#session={token}"))).await.unwrap();
}

/// A screenshot of one panel, when asked for: `cabinet-<name>.png` in English,
/// `cabinet-<lang>-<name>.png` otherwise.
async fn snap(c: &Client, w: &Words, css: &str, name: &str) {
    let Some(dir) = std::env::var_os("CWD_CABINET_SCREENSHOTS") else { return };
    let png = c.find(Locator::Css(css)).await.unwrap().screenshot().await.unwrap();
    let file = match w.lang {
        "en" => format!("cabinet-{name}.png"),
        lang => format!("cabinet-{lang}-{name}.png"),
    };
    std::fs::write(Path::new(&dir).join(file), png).unwrap();
}

async fn page_lang(c: &Client) -> String {
    js(c, "arguments[0](document.documentElement.lang)", vec![]).await.as_str().unwrap_or_default().to_string()
}

async fn wait_exact(c: &Client, css: &str, wanted: &str) {
    let start = std::time::Instant::now();
    while text(c, css).await != wanted {
        if start.elapsed() > Duration::from_secs(30) {
            panic!("{css} is {:?}, not {wanted:?} (alert: {:?})", text(c, css).await, text(c, "#alert").await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_clicks_through_the_cabinet_in_english() {
    journey(Words::of("en")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_clicks_through_the_cabinet_in_russian() {
    journey(Words::of("ru")).await;
}

async fn journey(w: Words) {
    let Some((chromium, driver_path)) = browser_paths() else { return };
    let seed = format!("cabinet-browser-{}", w.lang);
    let env = tokio::task::spawn_blocking(move || {
        CabinetEnv::start_with(&seed, POW_BITS, &["alice-cwd", "frank-cwd"], |c| {
            c.withdrawals.review_above_cwd = 5 * CWD as u64;
            c.referrals.level_rates_per_mille = vec![100, 50];
            c.referrals.cashback_per_mille = 20;
            // One code message a day per account: the second player asking is refused.
            c.link.account_daily = 1;
        })
    })
    .await
    .unwrap();
    let driver = Driver::start(&driver_path);
    let profile = std::env::temp_dir().join(format!("cwd-cabinet-chromium-{}-{}", w.lang, std::process::id()));
    let c = connect(&driver, &chromium, &profile, (1100, 1500), None).await;
    let (units, t) = (|n: u128| w.tn("referrals.units", &[("amount", &n)], n), |k: &str| w.t(k, &[]));

    // English is asked for in the link (?lang=en); Russian is chosen in the page's menu,
    // which the page remembers for the next visits.
    let query = if w.lang == "en" { "?lang=en" } else { "" };
    let forged = session::mint(b"not-the-game-secret-not-the-game-secret", "alice", now_secs() + 3600);
    open(&c, &env, query, &forged).await;
    wait_visible(&c, "#session-panel").await;
    if w.lang != "en" {
        click(&c, &format!("#lang option[value={}]", w.lang)).await;
    }
    wait_until("the page's language", Duration::from_secs(10), || async { page_lang(&c).await == w.lang }).await;
    assert_eq!(c.title().await.unwrap(), t("page.title"));
    // Numbers of game units take the language's plural forms, amounts past 2^53 too
    // (the page's t(), its catalogue, the browser's Intl.PluralRules).
    let forms: &[(&str, &str)] = match w.lang {
        "ru" => &[
            ("1", "1 игровая единица"),
            ("2", "2 игровые единицы"),
            ("5", "5 игровых единиц"),
            ("11", "11 игровых единиц"),
            ("21", "21 игровая единица"),
            ("22", "22 игровые единицы"),
            ("112", "112 игровых единиц"),
            ("18446744073709551601", "18446744073709551601 игровая единица"),
            ("18446744073709551613", "18446744073709551613 игровых единиц"),
        ],
        _ => &[("1", "1 game unit"), ("2", "2 game units"), ("21", "21 game units"), ("18446744073709551601", "18446744073709551601 game units")],
    };
    for (n, want) in forms {
        let got = js(&c, "arguments[1](t('referrals.units', { amount: arguments[0] }, 'amount'))", vec![json!(n)]).await;
        assert_eq!(got, json!(want), "{n} in {}", w.lang);
        assert_eq!(units(n.parse().unwrap()), *want, "the test's rules for {n}");
    }
    assert_eq!(text(&c, "#session-title").await, t("session.title"));
    // Sessions the game did not sign, or signed too long ago, are refused by the server,
    // in the player's language.
    wait_exact(&c, "#session-error", &t("error.session-forged")).await;
    assert!(!visible(&c, "#link-panel").await && !visible(&c, "#balance-panel").await);
    snap(&c, &w, "#session-panel", "session-refused").await;
    let expired = session::mint_at(SECRET.as_bytes(), "alice", now_secs() - 3600, now_secs() - 60);
    open(&c, &env, "", &expired).await;
    wait_exact(&c, "#session-error", &t("error.session-expired")).await;
    assert_eq!(page_lang(&c).await, w.lang, "the language is remembered");
    // The token left the address bar once read.
    assert!(!c.current_url().await.unwrap().as_str().contains("session="));

    open(&c, &env, "", &env.session("alice")).await;
    wait_visible(&c, "#link-panel").await;
    assert!(!visible(&c, "#session-panel").await);
    assert_eq!(text(&c, "#link-title").await, t("link.title"));
    assert_eq!(text(&c, "#who").await, w.t("header.who", &[("user", &"alice")]));

    if w.lang == "en" {
        // The page's proof of work is the gateway's: same hashes, same smallest nonce.
        let challenge = "00000196a8e3c1f0".to_string() + &"ab".repeat(32);
        for nonce in [0u64, 1, 9, 12345, 4_294_967_296] {
            let hex = js(&c, "const [ch, n, done] = arguments; CabinetPow.workHash(ch, n).then(h => done(CabinetPow.hex(h)));", vec![json!(challenge), json!(nonce)]).await;
            assert_eq!(hex.as_str().unwrap(), hex::encode(cwd_gateway::pow::work_hash(&challenge, nonce)), "nonce {nonce}");
        }
        let solved = js(&c, "const [ch, bits, done] = arguments; CabinetPow.solve(ch, bits).then(done);", vec![json!(challenge), json!(12)]).await;
        assert_eq!(solved.as_u64(), Some(cwd_gateway::pow::solve(&challenge, 12)));
        // Amounts stay integers: CWD text to 1e-5 units, exactly.
        let parsed = js(&c, "const done = arguments[0]; done(['12.5', '0.00001', '1.123456', 'x', '10'].map(CabinetAmounts.parseCwd));", vec![]).await;
        assert_eq!(parsed, json!([1_250_000, 1, null, null, 1_000_000]));
    }

    // Link: the account name, the work done by the page, the code from the wallet.
    type_into(&c, "#account", "alice-cwd").await;
    click(&c, "#link-start").await;
    wait_visible(&c, "#code-form").await;
    wait_exact(&c, "#code-sent", &w.t("link.code-sent", &[("digits", &6), ("account", &"alice-cwd")])).await;
    assert_eq!(text(&c, "#pow-progress").await, t("link.pow-done"), "the page solved the challenge");
    let code = tokio::task::block_in_place(|| env.link_code("alice-cwd", 6));
    type_into(&c, "#code", if code == "000000" { "111111" } else { "000000" }).await;
    click(&c, "#code-confirm").await;
    wait_text(&c, "#alert", &w.head("error.wrong-code"), Duration::from_secs(10)).await;
    type_into(&c, "#code", &code).await;
    snap(&c, &w, "#link-panel", "link").await;
    click(&c, "#code-confirm").await;
    wait_visible(&c, "#balance-panel").await;
    assert!(!visible(&c, "#link-panel").await);
    wait_text(&c, "#linked-account", "alice-cwd", Duration::from_secs(5)).await;
    assert_eq!(text(&c, "#balance-title").await, t("balance.title"));
    // The gateway was told the page's language (its link message and deposit note).
    wait_until("the account's language", Duration::from_secs(10), || async {
        tokio::task::block_in_place(|| env.game("account", json!({ "user": "alice" })))["language"] == w.lang
    })
    .await;

    // Top up: the panel names both accounts and the rate, and quotes live.
    assert_eq!(text(&c, "#deposit-to").await, "game-gateway");
    assert_eq!(text(&c, "#deposit-from").await, "alice-cwd");
    assert_eq!(text(&c, "#deposit-rate").await, w.t("rate.describe", &[("game", &90)]));
    type_into(&c, "#topup-cwd", "25").await;
    wait_exact(&c, "#topup-quote", &w.t("topup.quote", &[("cwd", &"25.00000 CWD"), ("game", &2250)])).await;
    snap(&c, &w, "#topup-panel", "topup").await;
    env.gw.devnet.transfer("alice-cwd", "game-gateway", 25 * CWD, Some("top up"), None).unwrap();
    wait_until("the deposit credited", Duration::from_secs(60), || async { text(&c, "#balance").await == "2250" }).await;
    snap(&c, &w, "#balance-panel", "balance").await;

    // Withdraw 300 game units (3 CWD), quoted, then followed to confirmed.
    let chain_before = env.gw.devnet.balance_of("alice-cwd").unwrap();
    type_into(&c, "#withdraw-amount", "300").await;
    wait_exact(&c, "#withdraw-quote", &w.t("withdraw.quote", &[("game", &300), ("cwd", &"3.00000 CWD")])).await;
    click(&c, "#withdraw-submit").await;
    wait_visible(&c, "#withdrawal").await;
    wait_exact(&c, "#w-state", &t("state.confirmed")).await;
    assert!(text(&c, "#w-tx").await.contains(&w.t("withdrawal.in-block", &[("tx", &""), ("block", &"")]).trim().to_string()));
    assert!(!visible(&c, "#w-cancel").await, "a confirmed withdrawal cannot be cancelled");
    wait_until("1950 spendable, none frozen", Duration::from_secs(10), || async {
        text(&c, "#balance").await == "1950" && text(&c, "#frozen").await == "0"
    })
    .await;
    snap(&c, &w, "#withdraw-panel", "withdraw").await;
    assert_eq!(env.gw.devnet.balance_of("alice-cwd").unwrap(), chain_before + 3 * CWD, "the payout reached the wallet once");

    // 1000 game units (10 CWD) wait for review: the player cancels them.
    type_into(&c, "#withdraw-amount", "1000").await;
    click(&c, "#withdraw-submit").await;
    wait_exact(&c, "#w-state", &t("state.awaiting-review")).await;
    wait_until("1000 frozen", Duration::from_secs(10), || async { text(&c, "#frozen").await == "1000" }).await;
    wait_visible(&c, "#w-cancel").await;
    click(&c, "#w-cancel").await;
    wait_exact(&c, "#w-state", &format!("{} ({})", t("state.cancelled"), t("withdrawal.by-you"))).await;
    assert!(!visible(&c, "#w-cancel").await);
    wait_until("1950 spendable again", Duration::from_secs(10), || async {
        text(&c, "#balance").await == "1950" && text(&c, "#frozen").await == "0"
    })
    .await;
    let cancelled_id = text(&c, "#w-id").await;
    assert_eq!(text(&c, "#status").await, w.t("withdrawal.cancelled", &[("id", &cancelled_id)]));
    snap(&c, &w, "#withdraw-panel", "cancel").await;

    // History: newest first, in the player's words.
    async fn kinds_and_states(c: &Client) -> Vec<String> {
        let mut v = vec![];
        for row in c.find_all(Locator::Css("#history-rows tr")).await.unwrap_or_default() {
            let attr = |a: &'static str| async { row.attr(a).await.ok().flatten().unwrap_or_default() };
            v.push(format!("{}:{}", attr("data-kind").await, attr("data-state").await));
        }
        v
    }
    let wanted = ["withdrawal:cancelled", "withdrawal:confirmed", "deposit:credited"];
    wait_until("the history newest first", Duration::from_secs(20), || async { kinds_and_states(&c).await == wanted }).await;
    let rows = c.find_all(Locator::Css("#history-rows tr")).await.unwrap();
    assert!(rows[1].text().await.unwrap().contains(&t("state.confirmed")));
    assert!(rows[2].text().await.unwrap().contains("+2250") && rows[2].text().await.unwrap().contains(&t("history.deposit")));
    snap(&c, &w, "#history-panel", "history").await;

    // Referrals: alice was referred by erin and referred dave, whose fees earn her a share.
    wait_exact(&c, "#ref-referrer", &t("referrals.no-referrer")).await;
    assert_eq!(text(&c, "#ref-earnings").await, t("referrals.no-earnings"));
    tokio::task::block_in_place(|| {
        env.game("set-referrer", json!({ "user": "alice", "referrer": "erin" }));
        env.game("set-referrer", json!({ "user": "dave", "referrer": "alice" }));
        env.game("adjust-balance", json!({ "user": "referral-pool", "delta": 10_000, "idempotency_key": "fund-pool" }));
        env.game("reward-referrers", json!({ "user": "dave", "base_amount": 1000, "idempotency_key": "fee-dave-1" }));
    });
    // Her share moves her balance, which the page hears of by its long poll.
    wait_until("the share credited", Duration::from_secs(40), || async { text(&c, "#balance").await == "2050" }).await;
    wait_exact(&c, "#ref-referrer", "erin").await;
    assert_eq!(text(&c, "#ref-count").await, "1");
    assert_eq!(text(&c, "#ref-list").await, "dave");
    assert_eq!(text(&c, "#ref-earnings").await, w.t("referrals.level", &[("level", &1), ("amount", &units(100))]));
    assert_eq!(text(&c, "#ref-cashback").await, units(0));
    assert_eq!(text(&c, "#referrals-title").await, t("referrals.title"));
    snap(&c, &w, "#referrals-panel", "referrals").await;

    // Unlink, in two clicks: the link panel again.
    click(&c, "#unlink").await;
    wait_exact(&c, "#unlink-question", &w.t("balance.unlink-question", &[("account", &"alice-cwd")])).await;
    click(&c, "#unlink-confirm").await;
    wait_visible(&c, "#link-panel").await;
    assert!(!visible(&c, "#balance-panel").await && !visible(&c, "#withdraw-panel").await);
    assert_eq!(text(&c, "#status").await, w.t("balance.unlinked", &[("account", &"alice-cwd")]));
    assert!(tokio::task::block_in_place(|| env.game("account", json!({ "user": "alice" })))["linked"].is_null());

    // Signing out ends the session here and on the server.
    click(&c, "#sign-out").await;
    wait_exact(&c, "#session-error", &t("session.signed-out")).await;
    assert!(!visible(&c, "#link-panel").await);

    // Another player asks for a code to an account whose code messages for the day are
    // spent: refused, the page offers the memo route, which shows the code and where to
    // send it.
    tokio::task::block_in_place(|| {
        let ch = env.game("link-challenge", json!({}));
        let challenge = ch["challenge"].as_str().unwrap();
        let nonce = cwd_gateway::pow::solve(challenge, POW_BITS);
        env.game("start-link", json!({ "user": "frank", "account": "frank-cwd", "challenge": challenge, "nonce": nonce }));
    });
    open(&c, &env, "", &env.session("carol")).await;
    wait_visible(&c, "#link-panel").await;
    assert_eq!(page_lang(&c).await, w.lang);
    type_into(&c, "#account", "frank-cwd").await;
    click(&c, "#link-start").await;
    wait_exact(&c, "#alert", &t("error.rate-limited")).await;
    wait_exact(&c, "#status", &t("link.use-memo")).await;
    click(&c, "#memo-start").await;
    wait_visible(&c, "#memo-route").await;
    assert_eq!(text(&c, "#memo-gateway").await, "game-gateway");
    assert!(text(&c, "#memo-code").await.starts_with("link-"), "the one-time memo code");
    let instructions = text(&c, "#memo-route p").await;
    assert!(instructions.starts_with(&w.head("link.memo-instructions")), "{instructions}");
    snap(&c, &w, "#link-panel", "memo").await;

    c.close().await.unwrap();
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    tokio::task::block_in_place(|| drop(env));
}
