//! Shared by the browser tests (the cabinet's, the console's): Debian's Chromium,
//! headless, driven over WebDriver by the system's chromedriver (nothing is downloaded),
//! and the few page helpers they use.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support;

/// Chromium and chromedriver (`CWD_CHROMIUM`, `CWD_CHROMEDRIVER`, else Debian's paths);
/// `None` when either is missing, unless `CI` is set (then it fails).
pub fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from(std::env::var("CWD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let driver = PathBuf::from(std::env::var("CWD_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()));
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    assert!(std::env::var_os("CI").is_none(), "CI is set but {} or {} is missing: apt-get install chromium chromium-driver", chromium.display(), driver.display());
    eprintln!("skipping the browser test: {} or {} is missing (apt-get install chromium chromium-driver)", chromium.display(), driver.display());
    None
}

/// chromedriver on a loopback port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub fn start(path: &Path) -> Driver {
        let port = support::free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        support::eventually("chromedriver to listen", Duration::from_secs(20), || ureq::get(&format!("{url}/status")).call().ok().map(|_| ()));
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with its profile in `profile`, a window of `size`
/// (width, height), and downloads saved to `downloads` without asking.
pub async fn connect(driver: &Driver, chromium: &Path, profile: &Path, size: (u32, u32), downloads: Option<&Path>) -> Client {
    let mut options = json!({
        "binary": chromium,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            format!("--window-size={},{}", size.0, size.1), "--no-first-run", "--disable-extensions",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if let Some(dir) = downloads {
        options["prefs"] = json!({
            "download.default_directory": dir,
            "download.prompt_for_download": false,
            "download.directory_upgrade": true,
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a chromium session")
}

pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element's text, or empty when there is none.
pub async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn visible(c: &Client, css: &str) -> bool {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

pub async fn wait_visible(c: &Client, css: &str) {
    wait_until(css, Duration::from_secs(60), || visible(c, css)).await;
}

pub async fn wait_text(c: &Client, css: &str, wanted: &str, timeout: Duration) {
    wait_until(&format!("{css} to say {wanted:?}"), timeout, || async { text(c, css).await.contains(wanted) }).await;
}

pub async fn type_into(c: &Client, css: &str, keys: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(keys).await.unwrap();
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Runs `script` (async, its result passed to the callback) in the page.
pub async fn js(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute_async(script, args).await.unwrap()
}
