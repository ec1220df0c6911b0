//! The player's cabinet clicked through in a real browser: Debian's Chromium, headless,
//! driven over WebDriver by the system's chromedriver (nothing is downloaded). The whole
//! journey against a devnet through the real `.wasm`: a forged and an expired session
//! refused, a link with proof of work solved by the page's script (checked against the
//! Rust puzzle), a deposit credited, a withdrawal followed to confirmed.
//!
//! Skipped when chromium or chromedriver is absent, unless `CI` is set (then it fails).
//! `CWD_CABINET_SCREENSHOTS=<dir>` saves a screenshot of each panel there
//! (`docs/cabinet-*.png` come from it).

mod browser;
mod cabinet_env;
mod support;

use std::path::Path;
use std::time::Duration;

use browser::{browser_paths, click, connect, js, text, type_into, visible, wait_text, wait_until, wait_visible, Driver};
use cabinet_env::{CabinetEnv, SECRET};
use cwd_gateway_host::cabinet::{now_secs, session};
use fantoccini::{Client, Locator};
use serde_json::json;
use support::CWD;

const POW_BITS: u8 = 10;

async fn open(c: &Client, env: &CabinetEnv, token: &str) {
    // Through a blank page: a change of fragment alone would not reload the cabinet.
    c.goto("about:blank").await.unwrap();
    c.goto(&env.url(&format!("/cabinet/#session={token}"))).await.unwrap();
}

/// A screenshot of one panel, when asked for.
async fn snap(c: &Client, css: &str, name: &str) {
    let Some(dir) = std::env::var_os("CWD_CABINET_SCREENSHOTS") else { return };
    let png = c.find(Locator::Css(css)).await.unwrap().screenshot().await.unwrap();
    std::fs::write(Path::new(&dir).join(format!("cabinet-{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_clicks_through_the_cabinet_in_chromium() {
    let Some((chromium, driver_path)) = browser_paths() else { return };
    let env = tokio::task::spawn_blocking(|| CabinetEnv::start("cabinet-browser", POW_BITS, &["alice-cwd"])).await.unwrap();
    let driver = Driver::start(&driver_path);
    let profile = std::env::temp_dir().join(format!("cwd-cabinet-chromium-{}", std::process::id()));
    let c = connect(&driver, &chromium, &profile, (1100, 1500), None).await;

    // Sessions the game did not sign, or signed too long ago, are refused by the server.
    let forged = session::mint(b"not-the-game-secret-not-the-game-secret", "alice", now_secs() + 3600);
    open(&c, &env, &forged).await;
    wait_visible(&c, "#session-panel").await;
    wait_text(&c, "#session-error", "not signed by this game", Duration::from_secs(10)).await;
    assert!(!visible(&c, "#link-panel").await && !visible(&c, "#balance-panel").await);
    snap(&c, "#session-panel", "session-refused").await;
    let expired = session::mint_at(SECRET.as_bytes(), "alice", now_secs() - 3600, now_secs() - 60);
    open(&c, &env, &expired).await;
    wait_text(&c, "#session-error", "expired", Duration::from_secs(10)).await;
    // The token left the address bar once read.
    assert!(!c.current_url().await.unwrap().as_str().contains("session="));

    open(&c, &env, &env.session("alice")).await;
    wait_visible(&c, "#link-panel").await;
    assert!(!visible(&c, "#session-panel").await);

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

    // Link: the account name, the work done by the page, the code from the wallet.
    type_into(&c, "#account", "alice-cwd").await;
    click(&c, "#link-start").await;
    wait_visible(&c, "#code-form").await;
    wait_text(&c, "#code-sent", "sent to alice-cwd", Duration::from_secs(5)).await;
    assert!(text(&c, "#pow-progress").await.contains("done"), "the page solved the challenge");
    let code = tokio::task::block_in_place(|| env.link_code("alice-cwd", 6));
    type_into(&c, "#code", "000000").await;
    click(&c, "#code-confirm").await;
    wait_text(&c, "#alert", "wrong code", Duration::from_secs(10)).await;
    type_into(&c, "#code", &code).await;
    snap(&c, "#link-panel", "link").await;
    click(&c, "#code-confirm").await;
    wait_visible(&c, "#balance-panel").await;
    assert!(!visible(&c, "#link-panel").await);
    wait_text(&c, "#linked-account", "alice-cwd", Duration::from_secs(5)).await;

    // Top up: the panel names both accounts and the rate, and quotes live.
    assert_eq!(text(&c, "#deposit-to").await, "game-gateway");
    assert_eq!(text(&c, "#deposit-from").await, "alice-cwd");
    assert!(text(&c, "#deposit-rate").await.contains("1 CWD = 90 game units"));
    type_into(&c, "#topup-cwd", "25").await;
    wait_text(&c, "#topup-quote", "credits 2250 game units", Duration::from_secs(10)).await;
    snap(&c, "#topup-panel", "topup").await;
    env.gw.devnet.transfer("alice-cwd", "game-gateway", 25 * CWD, Some("top up"), None).unwrap();
    wait_until("the deposit credited", Duration::from_secs(60), || async { text(&c, "#balance").await == "2250" }).await;
    snap(&c, "#balance-panel", "balance").await;

    // Withdraw 1000 game units, quoted, then followed to confirmed.
    let chain_before = env.gw.devnet.balance_of("alice-cwd").unwrap();
    type_into(&c, "#withdraw-amount", "1000").await;
    wait_text(&c, "#withdraw-quote", "you receive 10.00000 CWD", Duration::from_secs(10)).await;
    click(&c, "#withdraw-submit").await;
    wait_visible(&c, "#withdrawal").await;
    wait_text(&c, "#w-state", "confirmed", Duration::from_secs(90)).await;
    assert!(text(&c, "#w-tx").await.contains("in block"));
    wait_until("1250 spendable, none frozen", Duration::from_secs(10), || async {
        text(&c, "#balance").await == "1250" && text(&c, "#frozen").await == "0"
    })
    .await;
    snap(&c, "#withdraw-panel", "withdraw").await;
    wait_text(&c, "#history-rows", "confirmed", Duration::from_secs(10)).await;
    let withdrawals = c.find_all(Locator::Css("#history-rows tr[data-kind=withdrawal]")).await.unwrap();
    assert_eq!(withdrawals.len(), 1, "one withdrawal, not two");
    let deposits = c.find_all(Locator::Css("#history-rows tr[data-kind=deposit]")).await.unwrap();
    assert_eq!(deposits.len(), 1);
    assert!(deposits[0].text().await.unwrap().contains("+2250"));
    snap(&c, "#history-panel", "history").await;
    assert_eq!(env.gw.devnet.balance_of("alice-cwd").unwrap(), chain_before + 10 * CWD, "the payout reached the wallet once");

    // Signing out ends the session here and on the server.
    click(&c, "#sign-out").await;
    wait_text(&c, "#session-error", "signed out", Duration::from_secs(10)).await;
    assert!(!visible(&c, "#balance-panel").await);

    // Another player links by the memo route: the page shows the code and where to send it.
    open(&c, &env, &env.session("carol")).await;
    wait_visible(&c, "#link-panel").await;
    click(&c, "#memo-start").await;
    wait_visible(&c, "#memo-route").await;
    assert_eq!(text(&c, "#memo-gateway").await, "game-gateway");
    assert!(text(&c, "#memo-code").await.starts_with("link-"), "the one-time memo code");

    c.close().await.unwrap();
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    tokio::task::block_in_place(|| drop(env));
}
