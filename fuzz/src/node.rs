//! The gateway core natively, behind a node that lies. The input is read as a script:
//! what players and the game do (links, deposits, balance changes, withdrawals, ticks,
//! restarts) and, at every node call, whether the node answers honestly or lies:
//! values of the wrong type, garbage, pages far larger than asked, entries repeated or
//! out of order, ids going backwards, deposits claimed in blocks other than theirs or
//! not yet irreversible, history statistics and irreversibility that lie.
//!
//! The node never forges what was transferred (no gateway can tell a forged transfer
//! from a real one its own node reports), so the oracle is: no panic; after every step
//! the books reconcile and every credit matches a distinct real transfer; no withdrawal
//! is paid twice or paid and refunded; and once the node tells the truth again, every
//! irreversible deposit is accounted for and every withdrawal settles.

use std::cell::RefCell;
use std::rc::Rc;

use cwd_gateway::gateway::Gateway;
use cwd_gateway::ports::{Node, NodeError, Ports};
use cwd_gateway::rates::WithdrawalAmount;
use cwd_gateway::records::{WdState, WithdrawalRec};
use serde_json::{json, Value};

use crate::support::{
    self, check_books, default_config, gateway_keys, Positions, SeededRandom, SimNode, TestClock,
    World, GATEWAY,
};

pub const DICTIONARY: &[&str] = &["\u{ff}", "\u{0}", "\u{5}", "\u{a0}", "\u{f0}"];

const USERS: [&str; 3] = ["p1", "p2", "p3"];
const ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const MAX_STEPS: usize = 48;

/// The fuzz bytes, shared by the script and the node.
#[derive(Clone)]
struct Script(Rc<RefCell<(Vec<u8>, usize, bool, Vec<&'static str>)>>);

impl Script {
    fn byte(&self) -> u8 {
        let mut s = self.0.borrow_mut();
        let b = s.0.get(s.1).copied().unwrap_or(0);
        s.1 += 1;
        b
    }
    fn exhausted(&self) -> bool {
        let s = self.0.borrow();
        s.1 >= s.0.len()
    }
    fn lying(&self) -> bool {
        self.0.borrow().2
    }
    fn told(&self, lie: &'static str) {
        if trace() {
            eprintln!("  node lies: {lie}");
        }
        let mut s = self.0.borrow_mut();
        if !s.3.contains(&lie) {
            s.3.push(lie);
        }
    }
}

/// `CWD_FUZZ_TRACE=1` with `replay` prints the script, the lies and the gateway's events.
fn trace() -> bool {
    std::env::var_os("CWD_FUZZ_TRACE").is_some()
}

struct Liar {
    honest: SimNode,
    script: Script,
}

/// A value of another type than `v`, or nonsense of the same type.
fn wrong(v: &Value, pick: u8) -> Value {
    let options = [
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!("x1"),
        json!(-1),
        json!(1.5),
        json!(u64::MAX),
        json!("18446744073709551616"),
        json!([[0, {}]]),
    ];
    let mut i = pick as usize % options.len();
    while std::mem::discriminant(&options[i]) == std::mem::discriminant(v)
        && options[i] != json!(-1)
    {
        i = (i + 1) % options.len();
    }
    options[i].clone()
}

/// The `n`-th value of the tree (pre-order), for replacing.
fn nth_mut<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth_mut(x, n)),
        Value::Object(o) => o.values_mut().find_map(|x| nth_mut(x, n)),
        _ => None,
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

impl Liar {
    fn lie(&self, method: &str, answer: String) -> Result<String, NodeError> {
        let s = &self.script;
        let b = s.byte();
        if !s.lying() || b < 150 {
            return Ok(answer);
        }
        let mut v: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        let arg = s.byte();
        match b % 10 {
            0 | 1 => {
                let total = count(&v);
                let mut n = (arg as usize * 7 + s.byte() as usize) % total.max(1);
                if let Some(target) = nth_mut(&mut v, &mut n) {
                    *target = wrong(target, arg);
                }
                s.told("wrong type");
            }
            2 => {
                let garbage = [
                    "",
                    "null",
                    "{",
                    "[]",
                    "\"x\"",
                    "1e999",
                    "[null]",
                    "{\"result\":1}",
                ];
                s.told("garbage");
                return Ok(garbage[arg as usize % garbage.len()].to_string());
            }
            3 if v.is_array() => {
                // A page far larger than asked for, or entries repeated.
                let list = v.as_array().cloned().unwrap_or_default();
                if !list.is_empty() {
                    let times = if arg > 200 {
                        2_000 / list.len() + 1
                    } else {
                        2 + arg as usize % 3
                    };
                    let mut out = Vec::new();
                    for e in &list {
                        for _ in 0..if arg % 2 == 0 { times } else { 1 } {
                            out.push(e.clone());
                        }
                    }
                    if arg % 2 == 1 {
                        for _ in 1..times {
                            out.extend(list.iter().cloned());
                        }
                    }
                    v = Value::Array(out);
                    s.told("huge or repeated page");
                }
            }
            4 if method == "get_relative_account_history" => {
                let list = v.as_array_mut();
                if let Some(list) = list {
                    if arg % 2 == 0 {
                        list.reverse();
                        s.told("page out of order");
                    } else {
                        let n = list.len() as u64;
                        for (i, e) in list.iter_mut().enumerate() {
                            e["id"] = json!(format!("1.11.{}", i as u64 + 1 + n));
                        }
                        s.told("ids going backwards");
                    }
                }
            }
            5 if method == "get_relative_account_history" => {
                if let Some(list) = v.as_array_mut() {
                    if !list.is_empty() {
                        let i = arg as usize % list.len();
                        let block = list[i]["block_num"]
                            .as_u64()
                            .or_else(|| list[i]["block_num"].as_str().and_then(|t| t.parse().ok()))
                            .unwrap_or(0);
                        let claimed = match s.byte() % 4 {
                            0 => block + 1 + s.byte() as u64,
                            1 => block.saturating_sub(1 + s.byte() as u64),
                            2 => u32::MAX as u64,
                            _ => 0,
                        };
                        list[i]["block_num"] = json!(claimed);
                        s.told("deposit claimed in the wrong block");
                    }
                }
            }
            6 if method == "get_objects" => {
                if let Some(o) = v.get_mut(0).filter(|o| o.get("total_ops").is_some()) {
                    let real = o["total_ops"]
                        .as_u64()
                        .or_else(|| o["total_ops"].as_str().and_then(|t| t.parse().ok()))
                        .unwrap_or(0);
                    let lie = match arg % 5 {
                        0 => real + 1 + s.byte() as u64,
                        1 => real.saturating_sub(1 + s.byte() as u64),
                        2 => u64::MAX,
                        3 => 0,
                        _ => real,
                    };
                    o["total_ops"] = json!(lie);
                    if arg % 3 == 0 {
                        o["removed_ops"] = json!(s.byte() as u64);
                    }
                    s.told("history statistics that lie");
                }
            }
            7 if method == "get_dynamic_global_properties" => {
                let lib = v["last_irreversible_block_num"]
                    .as_u64()
                    .or_else(|| {
                        v["last_irreversible_block_num"]
                            .as_str()
                            .and_then(|t| t.parse().ok())
                    })
                    .unwrap_or(0);
                let head = v["head_block_number"]
                    .as_u64()
                    .or_else(|| v["head_block_number"].as_str().and_then(|t| t.parse().ok()))
                    .unwrap_or(0);
                match arg % 4 {
                    // Irreversibility going backwards, or ahead of the head block.
                    0 => {
                        v["last_irreversible_block_num"] =
                            json!(lib.saturating_sub(1 + s.byte() as u64))
                    }
                    1 => v["last_irreversible_block_num"] = json!(head + 1 + s.byte() as u64),
                    2 => v["head_block_number"] = json!(lib.saturating_sub(1)),
                    _ => v["time"] = json!("1970-01-01T00:00:00"),
                }
                s.told("irreversibility that lies");
            }
            8 => {
                s.told("error");
                return Err(match arg % 4 {
                    0 => NodeError::Timeout,
                    1 => NodeError::Unreachable("lying node".into()),
                    2 => NodeError::BadResponse("lying node".into()),
                    _ => NodeError::Rpc {
                        code: 7,
                        message: "lying node".into(),
                    },
                });
            }
            _ => return Ok(answer),
        }
        Ok(v.to_string())
    }
}

impl Node for Liar {
    fn call(&mut self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        // The real node acts first (a broadcast reaches the chain), then the answer may lie.
        let answer = self.honest.call(api, method, params_json)?;
        if trace() {
            eprintln!("  {api}.{method}({params_json})");
        }
        self.lie(method, answer)
    }

    fn fail_over(&mut self, reason: &str) -> bool {
        self.honest.fail_over(reason)
    }
}

fn instance(w: &World, script: &Script) -> Option<Gateway> {
    let mut g = Gateway::new(Ports {
        store: Box::new(w.store.clone()),
        node: Box::new(Liar {
            honest: SimNode(w.chain.clone()),
            script: script.clone(),
        }),
        clock: Box::new(TestClock(w.clock.clone())),
        events: Box::new(w.events.clone()),
        random: Box::new(SeededRandom(w.rng.clone())),
        signer: Box::new(cwd_gateway::ports::NoSigner),
        outbox: Default::default(),
    });
    for _ in 0..20 {
        if g.configure(w.config.clone(), gateway_keys()).is_ok() {
            return Some(g);
        }
    }
    None
}

pub fn run(data: &[u8]) -> String {
    let mut cfg = default_config();
    cfg.withdrawals.review_above_cwd = 2_000_000;
    cfg.withdrawals.expiration_secs = 30;
    let mut w = World::with_config(7, cfg);
    w.chain
        .borrow_mut()
        .accounts
        .iter_mut()
        .find(|a| a.name == "dave")
        .expect("dave")
        .balances
        .insert(9, 1_000_000);
    let script = Script(Rc::new(RefCell::new((data.to_vec(), 0, true, Vec::new()))));
    if let Some(g) = instance(&w, &script) {
        w.gw = g;
    }
    let mut keys = 0u32;
    for step in 0..MAX_STEPS {
        if script.exhausted() {
            break;
        }
        let user = USERS[script.byte() as usize % USERS.len()];
        let account = ACCOUNTS[script.byte() as usize % ACCOUNTS.len()];
        let action = script.byte() % 10;
        if trace() {
            eprintln!(
                "step {step}: action {action} user {user} account {account}; events so far {:?}",
                w.take_events()
            );
        }
        match action {
            0 => {
                if w.gw.start_link(user, account).is_ok() {
                    if let Some(code) = w.try_read_code(account) {
                        let _ = w.gw.confirm_link(user, &code);
                    }
                }
            }
            1 | 2 => {
                let amount = 1 + (script.byte() as i64) * 20_011;
                if script.byte() % 8 == 0 {
                    w.chain
                        .borrow_mut()
                        .player_transfer("dave", GATEWAY, 1 + amount % 1000, 9);
                } else {
                    w.deposit(account, amount);
                }
            }
            3 => {
                keys += 1;
                let delta = script.byte() as i64 * 10 - 1_000;
                let _ = w.gw.adjust_balance(
                    user,
                    if delta == 0 { 1 } else { delta },
                    &format!("k{}", keys % 5),
                    "play",
                );
            }
            4 => {
                let amount = WithdrawalAmount::Cwd(1_000 + script.byte() as u64 * 12_000);
                let _ = w.gw.request_withdrawal(user, amount, &format!("w{step}"));
            }
            5 => {
                if let Ok(list) =
                    w.gw.list_withdrawals(&Default::default(), Default::default(), None, 50)
                {
                    if let Some(x) = list.iter().find(|x| x.state == WdState::AwaitingReview) {
                        let _ = if script.byte() % 2 == 0 {
                            w.gw.approve_withdrawal("operator", &x.withdrawal_id)
                        } else {
                            w.gw.reject_withdrawal("operator", &x.withdrawal_id, "no")
                        };
                    }
                }
            }
            6 | 7 => {
                let n = 1 + script.byte() as u32 % 6;
                w.produce_n(n);
            }
            8 => {
                let _ = w.gw.tick();
            }
            _ => {
                if let Some(g) = instance(&w, &script) {
                    w.gw = g;
                }
            }
        }
        check_books(&w, &format!("step {step}"), Positions::Untrusted);
    }
    // The node tells the truth again: everything must settle.
    script.0.borrow_mut().2 = false;
    for _ in 0..30 {
        w.produce_n(6);
        let _ = w.gw.tick();
        check_books(&w, "drain", Positions::Untrusted);
    }
    if trace() {
        eprintln!(
            "after the drain: events {:?}\nstore {}",
            w.take_events(),
            w.store.dump()
        );
    }
    let wds: Vec<(String, WithdrawalRec)> = w.store.all("wd/");
    for (_, x) in &wds {
        assert!(
            matches!(
                x.state,
                WdState::Confirmed | WdState::Failed | WdState::Rejected | WdState::AwaitingReview
            ),
            "withdrawal {} stuck in {:?} after the node told the truth",
            x.id,
            x.state
        );
    }
    let c = w.chain.borrow();
    let gid = c.id_of(GATEWAY);
    let incoming = c
        .history
        .get(&gid)
        .map(|h| {
            h.iter()
                .filter(|h| h.op[0] == json!(0) && h.op[1]["to"] == json!(format!("1.2.{gid}")))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        w.store.keys("dep/").len() + w.store.keys("unc/").len(),
        incoming,
        "deposits lost or doubled after the node told the truth"
    );
    let mut lies = script.0.borrow().3.clone();
    lies.sort();
    let _ = support::START_MS;
    lies.join("+")
}
