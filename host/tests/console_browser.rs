//! The operator console clicked through in a real browser (Debian's Chromium, headless,
//! over WebDriver, as the cabinet's test): against a devnet through the real `.wasm`,
//! over HTTP, with two operator tokens, an observer token and the game's. A game token
//! turned away; a four-eyes payout approved by one operator (1 of 2), refused a second
//! time to the same one, released by the other and paid on chain; an unclaimed deposit
//! assigned; the deposit rate changed in the settings editor (after a concurrent change
//! and an invalid value are refused readably) and the next deposit credited at it; the
//! audit log listing each action with its actor, filtered and exported as CSV; a user's
//! statement; and an observer's console with no write button, whose direct write is 403.
//!
//! Skipped when chromium or chromedriver is absent, unless `CI` is set (then it fails).
//! `CWD_CONSOLE_SCREENSHOTS=<dir>` saves a screenshot of each panel there
//! (`docs/console-*.png` come from it).

mod browser;
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use browser::{browser_paths, click, connect, js, text, type_into, visible, wait_text, wait_until, wait_visible, Driver};
use cwd_devnet::AccountSpec;
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::roles::{ApiToken, ApiTokens, Role};
use cwd_gateway_host::RuntimeConfig;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use support::{call_as, eventually, Gw, CWD};

const GAME: &str = "game-token-0123456789abcdef";
const ANNA: &str = "anna-operator-token-0123456789";
const BEN: &str = "ben-operator-token-0123456789";
const AUDITOR: &str = "auditor-observer-token-0123456789";

/// Payouts above 5 CWD wait for review; above 20 CWD they need two operators.
const REVIEW_ABOVE: u64 = 5 * CWD as u64;
const FOUR_EYES_ABOVE: u64 = 20 * CWD as u64;

struct ConsoleEnv {
    gw: Gw,
    http: HttpApi,
    stop: Arc<AtomicBool>,
}

impl ConsoleEnv {
    fn start(seed: &str, console: bool) -> ConsoleEnv {
        let gw = support::start_with(seed, RuntimeConfig::default(), Duration::from_secs(5), |c| {
            c.withdrawals.review_above_cwd = REVIEW_ABOVE;
            c.withdrawals.four_eyes_above_cwd = FOUR_EYES_ABOVE;
            // Above the gateway's 10 000 CWD: a low-fee-balance alert for the dashboard.
            c.low_fee_balance_cwd = 20_000 * CWD as u64;
        });
        let tokens = [
            ("game-server", Role::Game, GAME),
            ("ops-anna", Role::Operator, ANNA),
            ("ops-ben", Role::Operator, BEN),
            ("auditor", Role::Observer, AUDITOR),
        ]
        .iter()
        .map(|(name, role, secret)| ApiToken::new(name, *role, secret).unwrap())
        .collect();
        let http = HttpApi::bind("127.0.0.1:0").unwrap();
        let http = if console { http } else { http.without_console() };
        http.spawn_with_tokens(gw.service.clone(), ApiTokens::new(tokens).unwrap(), 2);
        ConsoleEnv { gw, http, stop: Arc::new(AtomicBool::new(false)) }
    }

    fn tick_on_a_timer(&self) {
        self.gw.service.spawn_timer(self.stop.clone(), Duration::from_millis(200));
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http.addr)
    }

    fn api(&self, token: &str, call: &str, args: Value) -> Value {
        call_as(self.http.addr.port(), token, call, args).unwrap_or_else(|e| panic!("{call}: {e}"))
    }
}

impl Drop for ConsoleEnv {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.shutdown();
    }
}

/// A GET without following redirects: `(status, headers, body)`.
fn get(url: &str) -> (u16, Vec<(String, String)>, String) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = r.status();
    let headers = r.headers_names().into_iter().map(|h| (h.clone(), r.header(&h).unwrap_or("").to_string())).collect();
    (status, headers, r.into_string().unwrap_or_default())
}

/// An `on…=` attribute anywhere in the page.
fn has_inline_handler(html: &str) -> bool {
    html.split(" on").skip(1).any(|rest| {
        let name = rest.chars().take_while(|c| c.is_ascii_lowercase()).count();
        name > 0 && rest[name..].starts_with('=')
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
}

#[test]
fn the_console_is_served_with_a_strict_policy_unless_turned_off() {
    let env = ConsoleEnv::start("console-served", true);
    let (status, headers, _) = get(&env.url("/console"));
    assert_eq!((status, header(&headers, "location")), (308, "/console/"));
    for (path, kind) in [("/console/", "text/html"), ("/console/app.js", "text/javascript"), ("/console/console.css", "text/css")] {
        let (status, headers, body) = get(&env.url(path));
        assert_eq!(status, 200, "{path}");
        assert!(header(&headers, "content-type").starts_with(kind), "{path}");
        let csp = header(&headers, "content-security-policy");
        assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        // Nothing inline, nothing from elsewhere, no value ever rendered as markup.
        if path == "/console/" {
            assert!(!body.contains("<script>") && !body.contains("style=") && !has_inline_handler(&body), "inline script or style");
        }
        assert!(!body.contains("innerHTML") && !body.contains("outerHTML") && !body.contains("insertAdjacentHTML") && !body.contains("document.write"), "{path}");
        assert!(!body.contains("http://") && !body.contains("https://"), "{path}: an external resource");
    }
    assert_eq!(get(&env.url("/console/nothing-here")).0, 404);
    // The page needs no token; the API behind it does.
    let (status, _, _) = get(&env.url("/v1/status"));
    assert_eq!(status, 401);
    drop(env);

    let off = ConsoleEnv::start("console-off", false);
    for path in ["/console", "/console/", "/console/app.js"] {
        let (status, _, body) = get(&off.url(path));
        assert_eq!(status, 401, "{path}: {body}");
    }
}

/// A screenshot of one element, when asked for.
async fn snap(c: &Client, css: &str, name: &str) {
    let Some(dir) = std::env::var_os("CWD_CONSOLE_SCREENSHOTS") else { return };
    let png = c.find(Locator::Css(css)).await.unwrap().screenshot().await.unwrap();
    std::fs::write(Path::new(&dir).join(format!("console-{name}.png")), png).unwrap();
}

async fn sign_in(c: &Client, token: &str) {
    wait_visible(c, "#signin-panel").await;
    type_into(c, "#token", token).await;
    click(c, "#signin").await;
}

async fn sign_in_as(c: &Client, token: &str, name: &str) {
    sign_in(c, token).await;
    wait_text(c, "#who-name", name, Duration::from_secs(10)).await;
    wait_visible(c, "#dashboard-panel").await;
}

async fn sign_out(c: &Client) {
    click(c, "#sign-out").await;
    wait_visible(c, "#signin-panel").await;
    let stored = js(c, "arguments[0](sessionStorage.length)", vec![]).await;
    assert_eq!(stored, json!(0), "the token is forgotten on sign-out");
}

async fn tab(c: &Client, panel: &str) {
    click(c, &format!("#tabs button[data-panel={panel}]")).await;
    wait_visible(c, &format!("#{panel}-panel")).await;
}

/// The visible elements matching `css`.
async fn shown(c: &Client, css: &str) -> usize {
    let mut n = 0;
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        if e.is_displayed().await.unwrap_or(false) {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_work_the_console_in_chromium() {
    let Some((chromium, driver_path)) = browser_paths() else { return };
    let env = tokio::task::spawn_blocking(|| {
        let env = ConsoleEnv::start("console-browser", true);
        env.gw.funded_player("alice", "alice-cwd", 500 * CWD, 100 * CWD);
        env.gw.devnet.create_account(AccountSpec::new("stranger-cwd", 100 * CWD)).unwrap();
        env.tick_on_a_timer();
        env
    })
    .await
    .unwrap();
    // The game asks for a payout above the four-eyes threshold; an unlinked account sends
    // CWD the gateway cannot credit by itself.
    let big = env.api(GAME, "request-withdrawal", json!({ "user": "alice", "cwd": 30 * CWD, "idempotency_key": "big-1" }));
    assert_eq!(big["state"], "awaiting-review", "{big}");
    let big_id = big["withdrawal_id"].as_str().unwrap().to_string();
    env.gw.devnet.transfer("stranger-cwd", "game-gateway", 7 * CWD, None, None).unwrap();
    let unclaimed_id = tokio::task::block_in_place(|| {
        eventually("the stranger's deposit unclaimed", Duration::from_secs(60), || {
            let list = call_as(env.http.addr.port(), BEN, "list-unclaimed", json!({})).ok()?;
            list.as_array()?.first()?["deposit_id"].as_str().map(str::to_string)
        })
    });

    let downloads = std::env::temp_dir().join(format!("cwd-console-downloads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = Driver::start(&driver_path);
    let profile = std::env::temp_dir().join(format!("cwd-console-chromium-{}", std::process::id()));
    let c = connect(&driver, &chromium, &profile, (1400, 2200), Some(&downloads)).await;

    // /console leads to the page; a wrong token and the game's are turned away.
    c.goto(&env.url("/console")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().ends_with("/console/"));
    assert!(!visible(&c, "#tabs").await);
    sign_in(&c, "not-a-token-0123456789abcdef").await;
    wait_text(&c, "#signin-error", "not accepted", Duration::from_secs(10)).await;
    sign_in(&c, GAME).await;
    wait_text(&c, "#signin-error", "game token", Duration::from_secs(10)).await;
    assert!(text(&c, "#signin-error").await.contains("operator's or an observer's token"));
    assert!(!visible(&c, "#tabs").await && !visible(&c, "#dashboard-panel").await);
    assert_eq!(js(&c, "arguments[0](sessionStorage.length)", vec![]).await, json!(0), "a refused token is not kept");
    snap(&c, "#signin-panel", "signin").await;

    // Operator A: the dashboard, then the first of two approvals.
    sign_in_as(&c, ANNA, "ops-anna").await;
    assert_eq!(text(&c, "#who-role").await, "operator");
    assert!(!visible(&c, "#read-only-note").await);
    wait_text(&c, "#books-verdict", "The books balance", Duration::from_secs(20)).await;
    assert_eq!(c.find(Locator::Css("#books")).await.unwrap().attr("data-mismatch").await.unwrap().as_deref(), Some("false"));
    assert!(text(&c, "#b-owed").await.ends_with("CWD"));
    assert!(!text(&c, "#books-explanation").await.is_empty(), "the reconciliation is explained");
    assert_eq!(text(&c, "#s-account").await, "game-gateway");
    assert_eq!(text(&c, "#s-paused").await, "running");
    wait_text(&c, "#s-unclaimed", "1 open (7.00000 CWD)", Duration::from_secs(10)).await;
    assert!(text(&c, "#s-hot").await.contains("below the low-fee threshold"));
    wait_visible(&c, "#alerts-rows tr[data-kind=low-fee-balance]").await;
    snap(&c, "#dashboard-panel", "dashboard").await;

    tab(&c, "review").await;
    let big_row = format!("#review-rows tr[data-id=\"{big_id}\"]");
    wait_text(&c, &big_row, "0 of 2 approvals (four eyes)", Duration::from_secs(10)).await;
    assert!(text(&c, "#review-rule").await.contains("two different operators"));
    click(&c, &format!("{big_row} button.approve")).await;
    wait_text(&c, &big_row, "1 of 2 approvals: ops-anna", Duration::from_secs(10)).await;
    wait_text(&c, "#status", "A second operator releases it", Duration::from_secs(5)).await;
    snap(&c, "#review-panel", "review").await;
    // The same operator again: the gateway refuses, the page says why.
    click(&c, &format!("{big_row} button.approve")).await;
    wait_text(&c, "#alert", "a second, different operator must approve it", Duration::from_secs(10)).await;
    assert_eq!(env.api(BEN, "get-withdrawal", json!({ "withdrawal_id": big_id }))["state"], "awaiting-review");
    sign_out(&c).await;
    assert!(!visible(&c, "#review-panel").await && !visible(&c, "#tabs").await);

    // Operator B releases it; it is paid on chain.
    let chain_before = env.gw.devnet.balance_of("alice-cwd").unwrap();
    sign_in_as(&c, BEN, "ops-ben").await;
    tab(&c, "review").await;
    wait_text(&c, &big_row, "1 of 2 approvals: ops-anna", Duration::from_secs(10)).await;
    click(&c, &format!("{big_row} button.approve")).await;
    wait_text(&c, "#status", "released", Duration::from_secs(10)).await;
    assert!(text(&c, "#status").await.contains("approved by ops-anna and ops-ben"));
    let paid = tokio::task::block_in_place(|| {
        eventually("the payout confirmed", Duration::from_secs(90), || {
            let w = call_as(env.http.addr.port(), AUDITOR, "get-withdrawal", json!({ "withdrawal_id": big_id })).ok()?;
            (w["state"] == "confirmed").then_some(w)
        })
    });
    assert_eq!(paid["approved_by"], json!(["ops-anna", "ops-ben"]));
    assert_eq!(env.gw.devnet.balance_of("alice-cwd").unwrap(), chain_before + 30 * CWD, "paid once");

    // The unclaimed deposit, assigned to bob at the deposit rate (90 per CWD).
    tab(&c, "unclaimed").await;
    let unc_row = format!("#unclaimed-rows tr[data-id=\"{unclaimed_id}\"]");
    wait_text(&c, &unc_row, "7.00000 CWD", Duration::from_secs(10)).await;
    type_into(&c, &format!("{unc_row} input.assign-input"), "bob").await;
    snap(&c, "#unclaimed-panel", "unclaimed").await;
    click(&c, &format!("{unc_row} button.assign")).await;
    wait_text(&c, "#status", &format!("Assigned {unclaimed_id} to bob"), Duration::from_secs(10)).await;
    wait_visible(&c, "#unclaimed-empty").await;
    assert_eq!(env.api(AUDITOR, "account", json!({ "user": "bob" }))["balance"], 630);

    // Settings: a change made meanwhile elsewhere is not overwritten; an invalid value
    // names its field; then the deposit rate goes from 90 to 120 game units per CWD.
    tab(&c, "settings").await;
    wait_until("the settings form", Duration::from_secs(10), || async {
        c.find(Locator::Css("#set-deposit_rate-game_units")).await.is_ok()
    })
    .await;
    let rate_input = "#set-deposit_rate-game_units";
    let value = |css: &'static str| {
        let c = &c;
        async move { c.find(Locator::Css(css)).await.unwrap().prop("value").await.unwrap().unwrap_or_default() }
    };
    assert_eq!(value(rate_input).await, "90");
    assert!(!c.find(Locator::Css("#set-treasury-cold_account")).await.unwrap().is_enabled().await.unwrap(), "not a setting");
    let before = env.api(ANNA, "get-settings", json!({}));
    let user_daily = before["settings"]["link"]["user_daily"].as_u64().unwrap();
    env.api(ANNA, "update-settings", json!({ "settings": { "link": { "user_daily": user_daily + 1 } }, "revision": before["revision"] }));
    type_into(&c, rate_input, "120").await;
    click(&c, "#settings-save").await;
    wait_text(&c, "#settings-error", "Someone changed the settings since you loaded them", Duration::from_secs(10)).await;
    assert_eq!(env.api(AUDITOR, "quote-deposit", json!({ "cwd": CWD }))["game"], 90, "nothing saved");
    click(&c, "#settings-reload").await;
    wait_text(&c, "#settings-meta", "by ops-anna", Duration::from_secs(10)).await;
    type_into(&c, "#set-link-code_digits", "3").await;
    click(&c, "#settings-save").await;
    wait_text(&c, "#settings-error", "link.code_digits", Duration::from_secs(10)).await;
    assert!(text(&c, "#settings-error").await.contains("6..=12"));
    let invalid = c.find(Locator::Css("#set-link-code_digits")).await.unwrap().attr("aria-invalid").await.unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    snap(&c, "#settings-panel", "settings").await;
    let digits = env.api(AUDITOR, "get-settings", json!({}))["settings"]["link"]["code_digits"].to_string();
    type_into(&c, "#set-link-code_digits", &digits).await;
    type_into(&c, rate_input, "120").await;
    click(&c, "#settings-save").await;
    wait_text(&c, "#status", "Saved 1 setting", Duration::from_secs(10)).await;
    assert!(!visible(&c, "#settings-error").await);
    wait_text(&c, "#settings-meta", "by ops-ben", Duration::from_secs(5)).await;
    let after = env.api(AUDITOR, "get-settings", json!({}));
    assert_eq!(after["settings"]["deposit_rate"], json!({ "game_units": 120, "per_cwd_units": 100_000 }));
    assert_eq!(after["settings"]["link"]["user_daily"], user_daily + 1, "the other change kept");
    assert_eq!(after["changed_by"], "ops-ben");
    // The next deposit is credited at 120.
    env.gw.devnet.transfer("alice-cwd", "game-gateway", 10 * CWD, None, None).unwrap();
    let credited = tokio::task::block_in_place(|| {
        eventually("the deposit at the new rate", Duration::from_secs(60), || {
            let list = call_as(env.http.addr.port(), AUDITOR, "list-deposits", json!({ "user": "alice", "order": "newest-first", "limit": 1 })).ok()?;
            let d = list.as_array()?.first()?.clone();
            (d["cwd"] == 10 * CWD).then_some(d)
        })
    });
    assert_eq!(credited["game"], 1200);

    // The audit log: every action above with its actor, newest first.
    tab(&c, "audit").await;
    wait_until("the audit rows", Duration::from_secs(10), || async { shown(&c, "#audit-rows tr").await >= 6 }).await;
    let mut seen = Vec::new();
    for tr in c.find_all(Locator::Css("#audit-rows tr")).await.unwrap() {
        let cells = tr.find_all(Locator::Css("td")).await.unwrap();
        let mut row = Vec::new();
        for td in &cells {
            row.push(td.text().await.unwrap());
        }
        seen.push((row[1].clone(), row[2].clone(), row[3].clone(), row[5].clone()));
    }
    let expected = [
        ("ops-ben", "update-settings", "settings", "ok"),
        ("ops-ben", "update-settings", "settings", "invalid"),
        ("ops-ben", "update-settings", "settings", "settings-changed"),
        ("ops-anna", "update-settings", "settings", "ok"),
        ("ops-ben", "assign-unclaimed", unclaimed_id.as_str(), "ok"),
        ("ops-ben", "approve-withdrawal", big_id.as_str(), "ok"),
        ("ops-anna", "approve-withdrawal", big_id.as_str(), "second-approver-needed"),
        ("ops-anna", "approve-withdrawal", big_id.as_str(), "ok"),
    ];
    let expected: Vec<_> = expected.iter().map(|(a, b, s, o)| (a.to_string(), b.to_string(), s.to_string(), o.to_string())).collect();
    assert_eq!(seen, expected, "the audit log, newest first");
    snap(&c, "#audit-panel", "audit").await;
    type_into(&c, "#audit-actor", "ops-anna").await;
    click(&c, "#audit-apply").await;
    wait_until("only ops-anna's entries", Duration::from_secs(10), || async { shown(&c, "#audit-rows tr").await == 3 }).await;
    assert_eq!(c.find_all(Locator::Css("#audit-rows tr[data-actor=ops-anna]")).await.unwrap().len(), 3);
    // Export CSV: every page of the filtered log, built in the page and downloaded.
    type_into(&c, "#audit-actor", "").await;
    click(&c, "#audit-export").await;
    wait_text(&c, "#status", "Exported 8 audit entries", Duration::from_secs(10)).await;
    let csv = tokio::task::block_in_place(|| {
        eventually("the CSV downloaded", Duration::from_secs(20), || {
            let entry = std::fs::read_dir(&downloads).ok()?.flatten().find(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.starts_with("audit-") && n.ends_with(".csv")
            })?;
            std::fs::read_to_string(entry.path()).ok()
        })
    });
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,at_utc,at_ms,actor,call,subject,arguments,outcome");
    assert_eq!(lines.len(), 9, "{csv}");
    assert!(lines[1].contains("\"ops-ben\",\"update-settings\",\"settings\""), "{}", lines[1]);
    assert!(lines[8].contains(&format!("\"ops-anna\",\"approve-withdrawal\",\"{big_id}\"")), "{}", lines[8]);
    assert!(csv.contains("\"\"deposit_id\"\":"), "arguments quoted as CSV: {csv}");

    // A user's statement: the journal's lines, newest first (the prize adjustment, the
    // deposits, the withdrawal frozen then paid).
    tab(&c, "users").await;
    type_into(&c, "#user-id", "alice").await;
    click(&c, "#user-search").await;
    wait_visible(&c, "#user-result").await;
    wait_text(&c, "#u-linked", "alice-cwd", Duration::from_secs(10)).await;
    let kinds: Vec<String> = {
        let mut v = Vec::new();
        for tr in c.find_all(Locator::Css("#statement-rows tr")).await.unwrap() {
            v.push(tr.attr("data-kind").await.unwrap().unwrap_or_default());
        }
        v
    };
    let first = text(&c, "#statement-rows tr:first-child").await;
    assert!(first.contains("+1\u{202f}200") && first.contains("10.00000 CWD"), "{first}");
    assert_eq!(kinds.first().map(String::as_str), Some("deposit"), "newest first: {kinds:?}");
    assert!(kinds.iter().any(|k| k == "withdrawal-paid") && kinds.iter().any(|k| k == "withdrawal"), "{kinds:?}");
    let account = env.api(ANNA, "account", json!({ "user": "alice" }));
    let lines = env.api(ANNA, "statement", json!({ "user": "alice", "limit": 500 }));
    let sum: i64 = lines.as_array().unwrap().iter().map(|m| m["balance_delta"].as_i64().unwrap()).sum();
    assert_eq!(sum, account["balance"].as_i64().unwrap(), "the lines shown explain the balance");
    assert_eq!(kinds.len(), lines.as_array().unwrap().len());
    snap(&c, "#users-panel", "user").await;
    sign_out(&c).await;

    // The observer: everything to read, nothing to write, and the server agrees.
    let small = env.api(GAME, "request-withdrawal", json!({ "user": "alice", "cwd": 8 * CWD, "idempotency_key": "small-1" }));
    assert_eq!(small["state"], "awaiting-review", "{small}");
    let small_id = small["withdrawal_id"].as_str().unwrap().to_string();
    sign_in_as(&c, AUDITOR, "auditor").await;
    assert_eq!(text(&c, "#who-role").await, "observer");
    assert!(visible(&c, "#read-only-note").await);
    wait_text(&c, "#books-verdict", "The books balance", Duration::from_secs(20)).await;
    for panel in ["dashboard", "review", "unclaimed", "unknown", "sweeps", "audit", "settings", "users"] {
        tab(&c, panel).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(shown(&c, "button.write, .write, .action").await, 0, "a write control in the observer's {panel}");
    }
    tab(&c, "review").await;
    wait_text(&c, &format!("#review-rows tr[data-id=\"{small_id}\"]"), "0 of 1 approval", Duration::from_secs(10)).await;
    assert_eq!(shown(&c, "#review-rows button").await, 0);
    snap(&c, "#review-panel", "observer").await;
    tab(&c, "settings").await;
    wait_until("the settings form", Duration::from_secs(10), || async { c.find(Locator::Css("#set-deposit_rate-game_units")).await.is_ok() }).await;
    for input in c.find_all(Locator::Css("#settings-fields input")).await.unwrap() {
        assert!(!input.is_enabled().await.unwrap(), "an editable setting for the observer");
    }
    // A write made directly with the observer's token, from the page: 403.
    let refused = js(
        &c,
        "const [id, done] = arguments; fetch('../v1/approve-withdrawal', { method: 'POST', headers: { 'Authorization': 'Bearer ' + sessionStorage.getItem('console-token'), 'Content-Type': 'application/json' }, body: JSON.stringify({ withdrawal_id: id }) }).then(r => r.json().then(b => done([r.status, b.error.code, b.error.needs])));",
        vec![json!(small_id)],
    )
    .await;
    assert_eq!(refused, json!([403, "forbidden", ["operator"]]));
    assert_eq!(env.api(AUDITOR, "get-withdrawal", json!({ "withdrawal_id": small_id }))["state"], "awaiting-review");

    c.close().await.unwrap();
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&downloads);
    tokio::task::block_in_place(|| drop(env));
}
