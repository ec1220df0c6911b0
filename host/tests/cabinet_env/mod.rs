//! Shared by the cabinet tests: the gateway against a devnet making blocks on its own,
//! its timer ticking, and the HTTP API serving the cabinet on a loopback port.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cwd_devnet::AccountSpec;
use cwd_gateway_host::cabinet::{session, Cabinet};
use cwd_gateway_host::http_api::HttpApi;
use cwd_gateway_host::RuntimeConfig;

use crate::support::{self, eventually, Gw, CWD, TOKEN};

pub const SECRET: &str = "cabinet-test-secret-0123456789abcdef";

pub struct CabinetEnv {
    pub gw: Gw,
    pub http: HttpApi,
    pub stop: Arc<AtomicBool>,
}

impl CabinetEnv {
    /// The gateway requiring `pow_bits` of work to start a link, with `players` (500 CWD
    /// each) on chain.
    pub fn start(seed: &str, pow_bits: u8, players: &[&str]) -> CabinetEnv {
        CabinetEnv::start_with(seed, pow_bits, players, |_| {})
    }

    /// [`CabinetEnv::start`] with the gateway's configuration changed by `tweak`
    /// (withdrawals held for review above an amount…).
    pub fn start_with(seed: &str, pow_bits: u8, players: &[&str], tweak: impl FnOnce(&mut cwd_gateway_host::bindings::api::Config)) -> CabinetEnv {
        let gw = support::start_with(seed, RuntimeConfig::default(), Duration::from_secs(5), |c| {
            c.link.pow_bits = pow_bits;
            c.link.message_template = "Your Dragon Quest link code: {code}".into();
            tweak(c);
        });
        for p in players {
            gw.devnet.create_account(AccountSpec::new(p, 500 * CWD)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        gw.service.spawn_timer(stop.clone(), Duration::from_millis(200));
        let http = HttpApi::bind("127.0.0.1:0").unwrap().with_cabinet(Cabinet::new(SECRET.as_bytes().to_vec()).unwrap());
        http.spawn(gw.service.clone(), TOKEN.to_string(), 2);
        CabinetEnv { gw, http, stop }
    }

    /// `POST /v1/<call>` with the game's API token (what the game server does).
    pub fn game(&self, call: &str, args: serde_json::Value) -> serde_json::Value {
        support::call(self.http.addr.port(), call, args).unwrap_or_else(|e| panic!("{call}: {e}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http.addr)
    }

    /// A session for `user` valid for an hour, as the game server signs it.
    pub fn session(&self, user: &str) -> String {
        session::mint(SECRET.as_bytes(), user, cwd_gateway_host::cabinet::now_secs() + 3600)
    }

    /// The link code in `account`'s newest message from the gateway, read with the
    /// wallet's memo key as the devnet's player helpers do.
    pub fn link_code(&self, account: &str, digits: usize) -> String {
        eventually("the link code in the wallet", Duration::from_secs(30), || {
            let memos = self.gw.devnet.received_memos(account, None).ok()?;
            let text = memos.into_iter().rev().find(|m| m.op == "send_message")?.text.ok()?;
            text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == digits).map(str::to_string)
        })
    }
}

impl Drop for CabinetEnv {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.shutdown();
    }
}
