//! The signer as a process of its own (`cwd-gateway signer`), holding the gateway's active
//! key alone; the gateway (`cwd-gateway run`, another process) holds only the memo key and
//! asks it over its Unix socket. Against the devnet:
//! - the whole story (link, deposit, withdrawal, sweep) goes through it, and a payout
//!   whose signer is killed and restarted mid-way is paid once;
//! - a "compromised gateway" (this test, with the gateway's token and database but no
//!   key) gets at most what the signer's policy allows, and nothing it forbids.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cwd_devnet::{AccountSpec, Config, CreatedAccount, Devnet, DevnetHandle, Production};
use cwd_gateway::ops::{AccountId, Asset, AssetId, Operation, Transaction, Transfer};
use cwd_signer::{SignError, SignerAddress, SignerClient};
use serde_json::{json, Value};
use support::{call, eventually, free_port, KillOnDrop, TOKEN};

mod support;

const CWD: i64 = 100_000;

fn wait<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually(what, Duration::from_secs(60), f)
}

struct Chain {
    devnet: DevnetHandle,
    gateway: CreatedAccount,
    dir: PathBuf,
}

fn chain(name: &str, gateway_cwd: i64) -> Chain {
    let devnet = Devnet::start(Config {
        production: Production::Timer(Duration::from_millis(100)),
        ..Config::seeded(name)
    })
    .unwrap();
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", gateway_cwd)).unwrap();
    let dir = std::env::temp_dir().join(format!("cwd-signer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Chain { devnet, gateway, dir }
}

impl Chain {
    /// What the signer wrote to its log: its decisions, never the key.
    fn signer_log_without_the_key(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("signer.log")).unwrap();
        assert!(!log.contains(self.gateway.active_wif.as_deref().unwrap()), "the key in the signer's log");
        log
    }

    /// signer.toml and the active key file; `cold`: the sweep account.
    fn signer_config(&self, cold: Option<&CreatedAccount>, policy: &str) -> PathBuf {
        support::write_private(&self.dir.join("active.wif"), self.gateway.active_wif.as_deref().unwrap());
        let cold = cold.map(|c| format!("cold_account = \"{}\"\n", c.id_string())).unwrap_or_default();
        let path = self.dir.join("signer.toml");
        std::fs::write(
            &path,
            format!(
                "chain_id = \"{}\"\naccount = \"{}\"\nactive_key_file = \"active.wif\"\nstore = \"signer.db\"\nsocket = \"signer.sock\"\n{cold}[policy]\n{policy}",
                self.devnet.chain_id_hex(),
                self.gateway.id_string(),
            ),
        )
        .unwrap();
        path
    }

    fn chain_id(&self) -> [u8; 32] {
        hex::decode(self.devnet.chain_id_hex()).unwrap().try_into().unwrap()
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("signer.sock")
    }

    fn client(&self) -> SignerClient {
        SignerClient::new(SignerAddress::Unix(self.socket()), Duration::from_secs(5))
    }

    fn start_signer(&self) -> KillOnDrop {
        let child = Command::new(env!("CARGO_BIN_EXE_cwd-gateway"))
            .args(["signer", "--config"])
            .arg(self.dir.join("signer.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("signer.log")).unwrap())
            .spawn()
            .expect("starting cwd-gateway signer");
        let child = KillOnDrop(child);
        wait("the signer's health", || self.client().health().ok());
        child
    }

    /// A transfer from the gateway, packed as the gateway would ask for it.
    fn transfer(&self, to: u64, amount: i64, asset: u64) -> Vec<u8> {
        use std::sync::atomic::{AtomicU32, Ordering};
        // Each one different: the same bytes again would be a rebroadcast.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dgp = self.rpc("database", "get_dynamic_global_properties", json!([]));
        let (num, prefix) = cwd_gateway::ops::tapos_from_block_id(dgp["head_block_id"].as_str().unwrap()).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
        Transaction {
            ref_block_num: num,
            ref_block_prefix: prefix,
            expiration: now + 600 + n,
            operations: vec![Operation::Transfer(Transfer {
                fee: Asset { amount: 2_000, asset_id: AssetId(asset) },
                from: self.gateway.id,
                to: AccountId(to),
                amount: Asset { amount, asset_id: AssetId(asset) },
                memo: None,
            })],
        }
        .to_bytes()
    }

    fn rpc(&self, api: &str, method: &str, params: Value) -> Value {
        let answer: Value = ureq::post(self.devnet.url())
            .send_json(json!({ "jsonrpc": "2.0", "id": 1, "method": "call", "params": [api, method, params] }))
            .unwrap()
            .into_json()
            .unwrap();
        answer["result"].clone()
    }

    /// Broadcasts `bytes` signed with `signature`; true when the node took it.
    fn broadcast(&self, bytes: &[u8], signature: [u8; 65]) -> bool {
        let signed = cwd_gateway::ops::SignedTransaction { tx: Transaction::from_bytes(bytes).unwrap(), signatures: vec![signature] };
        let tx: Value = serde_json::from_str(&cwd_gateway::json::transaction_text(&signed)).unwrap();
        let answer: Value = ureq::post(self.devnet.url())
            .send_json(json!({ "jsonrpc": "2.0", "id": 1, "method": "call", "params": ["network_broadcast", "broadcast_transaction", [tx]] }))
            .unwrap()
            .into_json()
            .unwrap();
        assert!(answer.get("error").is_none(), "{answer}");
        true
    }

    /// Amounts of the transfers from the gateway to `to` included on chain.
    fn received(&self, to: &CreatedAccount) -> Vec<i64> {
        support::payouts(&self.devnet, &to.id_string())
            .iter()
            .filter(|op| op[1]["from"] == self.gateway.id_string())
            .map(|op| op[1]["amount"]["amount"].as_i64().unwrap_or_else(|| op[1]["amount"]["amount"].as_str().unwrap().parse().unwrap()))
            .collect()
    }
}

const POLICY: &str = "max_per_transaction = 10000000\nmax_per_day = 30000000\nmax_per_destination_per_day = 15000000\nmax_fee = 100000\nmax_expiration_secs = 3600\n";

#[test]
fn a_compromised_gateway_gets_at_most_what_the_policy_allows() {
    let c = chain("compromised", 10_000 * CWD);
    let thief = [
        c.devnet.create_account(AccountSpec::new("thief-one", CWD)).unwrap(),
        c.devnet.create_account(AccountSpec::new("thief-two", CWD)).unwrap(),
    ];
    c.signer_config(None, POLICY);
    let _signer = c.start_signer();
    // The test is the gateway gone rogue: it has everything but the key.
    let signer = c.client();
    let mut signed_amounts = [0i64; 2];
    let mut refusals = Vec::new();
    // (thief, CWD): each payout costs 50.02 CWD with its fee.
    let attempts = [(0, 50), (0, 50), (0, 50), (0, 10), (1, 101), (1, 50), (1, 50), (1, 50), (1, 49), (1, 1)];
    for (i, cwd) in attempts {
        let bytes = c.transfer(thief[i].id.0, cwd * CWD, 0);
        match signer.sign(&c.chain_id(), &bytes) {
            Ok(sig) => {
                assert!(c.broadcast(&bytes, sig), "a signed payout is valid on chain");
                signed_amounts[i] += cwd * CWD;
            }
            Err(SignError::Refused { rule, .. }) => refusals.push(rule),
            Err(e) => panic!("{e:?}"),
        }
    }
    // Per destination at most 150 CWD; in all at most 300 CWD with fees.
    assert_eq!(signed_amounts, [150 * CWD, 149 * CWD], "{refusals:?}");
    assert_eq!(refusals, ["destination-daily-total", "per-transaction", "daily-total", "daily-total"]);

    // What no payout limit covers: other operations, assets, accounts and chains.
    let good = c.transfer(thief[0].id.0, CWD, 0);
    let mut account_update = good.clone();
    account_update[11] = 6; // the first operation's tag: account_update (changes keys)
    let mut proposal = good.clone();
    proposal[11] = 22; // proposal_create
    let refused = |chain: [u8; 32], bytes: &[u8]| match signer.sign(&chain, bytes) {
        Err(SignError::Refused { rule, .. }) => rule,
        other => panic!("signed or failed: {other:?}"),
    };
    let chain_id = c.chain_id();
    assert_eq!(refused(chain_id, &account_update), "operation-not-allowed");
    assert_eq!(refused(chain_id, &proposal), "operation-not-allowed");
    assert_eq!(refused(chain_id, &c.transfer(thief[0].id.0, CWD, 1)), "not-cwd");
    assert_eq!(refused([7; 32], &good), "wrong-chain");
    let mut from_other = Transaction::from_bytes(&good).unwrap();
    if let Operation::Transfer(t) = &mut from_other.operations[0] {
        t.from = thief[1].id;
    }
    assert_eq!(refused(chain_id, &from_other.to_bytes()), "wrong-account");

    // The signer's log has every decision, in order, for the operator.
    let log = signer.log(0, 1000).unwrap();
    let outcomes: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "signed").count(), 6);
    assert_eq!(outcomes.iter().filter(|o| **o == "refused").count(), 4 + 5);
    assert_eq!(outcomes.len(), 15);

    // The chain shows exactly what the policy allowed, nothing more.
    wait("the signed payouts on chain", || {
        (c.received(&thief[0]).iter().sum::<i64>() == 150 * CWD && c.received(&thief[1]).iter().sum::<i64>() == 149 * CWD).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.received(&thief[0]).len() + c.received(&thief[1]).len(), 6);
    let log = c.signer_log_without_the_key();
    assert!(log.contains("operation-not-allowed"), "its decisions are logged");
}

impl Chain {
    /// gateway.toml for `cwd-gateway run` with `[signer]` and a key file without the
    /// active key; sweeps above 1,500 CWD down to 1,000 CWD into `cold`.
    fn gateway_config(&self, port: u16, cold: &CreatedAccount) {
        support::write_private(&self.dir.join("keys.toml"), &format!("memo_wif = \"{}\"\n", self.gateway.memo_wif.as_deref().unwrap()));
        let extra = format!(
            "[treasury]\ncold_account = \"{}\"\nhigh_water_cwd = {}\nlow_water_cwd = {}\n[signer]\nsocket = \"{}\"\n",
            cold.name,
            1_500 * CWD,
            1_000 * CWD,
            self.socket().display()
        );
        let text = support::run_config(&self.devnet.chain_id_hex(), self.devnet.url(), &self.dir, port, &extra);
        std::fs::write(self.dir.join("gateway.toml"), text).unwrap();
    }

    fn start_gateway(&self) -> KillOnDrop {
        support::spawn_run(&self.dir)
    }
}

fn get(port: u16, path: &str) -> (u16, String) {
    let r = ureq::get(&format!("http://127.0.0.1:{port}{path}")).set("authorization", &format!("Bearer {TOKEN}")).call();
    match r {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

fn withdraw_and_wait_paid(port: u16, key: &str, game: u64) -> String {
    let wd = call(port, "request-withdrawal", json!({ "user": "kim", "game": game, "idempotency_key": key })).unwrap();
    let id = wd["withdrawal_id"].as_str().unwrap().to_string();
    wait("the withdrawal confirmed", || {
        let v = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (v["state"] == "confirmed").then_some(())
    });
    id
}

#[test]
fn the_story_through_a_signer_process_and_a_signer_killed_mid_payout_pays_once() {
    let c = chain("story", 2_000 * CWD);
    let player = c.devnet.create_account(AccountSpec::new("kim-cwd", 100 * CWD)).unwrap();
    let cold = c.devnet.create_account(AccountSpec::new("cold-store", CWD)).unwrap();
    c.signer_config(Some(&cold), POLICY);
    let mut signer = c.start_signer();
    let port = free_port();
    c.gateway_config(port, &cold);
    let _gw = c.start_gateway();
    wait("the HTTP API", || call(port, "status", json!({})).ok());

    // Link: the code's message is signed by the signer.
    let started = call(port, "start-link", json!({ "user": "kim", "account": "kim-cwd" })).unwrap();
    let digits = started["code_digits"].as_u64().unwrap() as usize;
    let code = support::link_code(&c.devnet, &player, digits, Duration::from_secs(60));
    call(port, "confirm-link", json!({ "user": "kim", "code": code })).unwrap();
    // Deposit.
    c.devnet.transfer("kim-cwd", "game-gateway", 50 * CWD, None, None).unwrap();
    wait("the deposit credited", || {
        let a = call(port, "account", json!({ "user": "kim" })).ok()?;
        (a["balance"] == 50 * 90).then_some(())
    });
    // The sweep of everything above the high water went to the cold account.
    wait("the sweep", || (!c.received(&cold).is_empty()).then_some(()));
    // A withdrawal of 10 CWD.
    withdraw_and_wait_paid(port, "w-1", 1_000);
    assert_eq!(c.received(&player), vec![10 * CWD]);
    let (code, ready) = get(port, "/ready");
    assert_eq!(code, 200, "{ready}");
    assert_eq!(serde_json::from_str::<Value>(&ready).unwrap()["signer_reachable"], true);
    assert!(get(port, "/metrics").1.contains("cwd_gateway_signer_reachable 1"));

    // The signer killed while a payout waits for it: held, never lost, paid once after.
    signer.0.kill().unwrap();
    signer.0.wait().unwrap();
    let wd = call(port, "request-withdrawal", json!({ "user": "kim", "game": 500, "idempotency_key": "w-2" })).unwrap();
    let id = wd["withdrawal_id"].as_str().unwrap().to_string();
    wait("/ready to see the signer gone", || {
        let (code, body) = get(port, "/ready");
        (code == 503 && serde_json::from_str::<Value>(&body).ok()?["signer_reachable"] == false).then_some(())
    });
    assert_eq!(call(port, "get-withdrawal", json!({ "withdrawal_id": id })).unwrap()["state"], "queued");
    signer = c.start_signer();
    wait("the held withdrawal confirmed", || {
        let v = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (v["state"] == "confirmed").then_some(())
    });
    // Killed again right as the next payout is asked for, at a moment this run picks.
    let started = Instant::now();
    let wd = call(port, "request-withdrawal", json!({ "user": "kim", "game": 300, "idempotency_key": "w-3" })).unwrap();
    std::thread::sleep(Duration::from_millis(u64::from(started.elapsed().subsec_nanos() % 400)));
    signer.0.kill().unwrap();
    signer.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let _signer = c.start_signer();
    let id = wd["withdrawal_id"].as_str().unwrap().to_string();
    wait("the third withdrawal confirmed", || {
        let v = call(port, "get-withdrawal", json!({ "withdrawal_id": id })).ok()?;
        (v["state"] == "confirmed").then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(c.received(&player), vec![10 * CWD, 5 * CWD, 3 * CWD], "each paid once");
    let events = call(port, "list-events", json!({ "after": 0, "limit": 1000 })).unwrap();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().filter_map(|e| e["event"]["kind"].as_str()).collect();
    assert!(kinds.contains(&"signer-unavailable"), "{kinds:?}");
    c.signer_log_without_the_key();
}
