//! Every method the component exports over the gateway (WIT `api`), called natively with
//! arbitrary strings and numbers, honest node and store, mixed with real deposits and
//! blocks so that the ids passed are sometimes real. Also `configure` with arbitrary
//! configuration values. Oracle: no panic, and after every call the books balance with
//! every credit at the position of a real transfer (see `support::check_books`).

use cwd_gateway::config::{Config, Keys, Rate};
use cwd_gateway::pow::Proof;
use cwd_gateway::rates::WithdrawalAmount;
use cwd_gateway::records::{Order, WdState};
use cwd_gateway::views::WithdrawalFilter;

use crate::input::Input;
use crate::support::{check_books, default_config, gateway_keys, Positions, World, CHAIN_ID, GATEWAY};

pub const DICTIONARY: &[&str] = &[
    "p1\n", "alice\n", "bob\n", "\n", " \n", "\u{0}\n", "p1\u{0}\n", "ü\u{202e}\n", "../../\n", "user/\n", "wd/\n", "dep/\n",
    "18446744073709551615\n", "-9223372036854775808\n", "9223372036854775807\n", "0\n", "1\n", "4294967295\n", "{code}\n",
    "game-gateway\n", "1.2.0\n", "w-1\n",
];

const METHODS: &[&str] = &[
    "start_link", "link_challenge", "start_memo_link", "confirm_link", "unlink", "account", "deposit_instructions",
    "quote_deposit", "quote_withdrawal", "adjust_balance", "request_withdrawal", "approve_withdrawal", "reject_withdrawal",
    "cancel_withdrawal", "list_unknown_payouts", "acknowledge_unknown_payout", "get_withdrawal", "list_withdrawals",
    "list_unclaimed", "assign_unclaimed", "refund_unclaimed", "status", "tick", "configure", "deposit", "produce",
];

/// Sometimes a real id instead of the text read: what the gateway handed out.
fn id(w: &mut World, input: &mut Input, text: String) -> String {
    match input.byte() % 4 {
        0 => w.gw.list_withdrawals(&WithdrawalFilter::default(), Order::OldestFirst, None, 5).ok().and_then(|l| l.first().map(|x| x.withdrawal_id.clone())).unwrap_or(text),
        1 => w.gw.list_unclaimed(true, None, 5).ok().and_then(|l| l.first().map(|x| x.deposit_id.clone())).unwrap_or(text),
        _ => text,
    }
}

fn amount(input: &mut Input) -> WithdrawalAmount {
    let n = input.number();
    if input.byte() % 2 == 0 { WithdrawalAmount::Cwd(n) } else { WithdrawalAmount::Game(n) }
}

fn config(input: &mut Input) -> (Config, Keys) {
    let mut c = default_config();
    let mut keys = gateway_keys();
    for _ in 0..1 + input.byte() % 4 {
        let n = input.number();
        match input.byte() % 16 {
            0 => c.gateway_account = input.line(),
            1 => c.chain_id = input.line(),
            2 => c.deposit_rate = Rate { game_units: n, per_cwd_units: input.number() },
            3 => c.withdrawal_rate = Rate { game_units: n, per_cwd_units: input.number() },
            4 => c.link.code_digits = n as u8,
            5 => c.link.code_ttl_ms = n,
            6 => c.link.message_template = input.line(),
            7 => c.link.pow_bits = n as u8,
            8 => c.withdrawals.min_cwd = n,
            9 => c.withdrawals.max_cwd = n,
            10 => c.withdrawals.expiration_secs = n as u32,
            11 => c.withdrawals.max_attempts = n as u32,
            12 => c.tick_interval_ms = n,
            13 => keys.active_wif = input.line(),
            14 => keys.memo_wif = input.line(),
            _ => c.link.user_daily = n as u32,
        }
    }
    (c, keys)
}

pub fn run(data: &[u8]) -> String {
    let mut w = World::new(11);
    let mut input = Input::new(data);
    let mut seen = Vec::new();
    let mut step = 0;
    while !input.is_empty() && step < 64 {
        step += 1;
        let m = METHODS[input.byte() as usize % METHODS.len()];
        let ok = match m {
            "start_link" => {
                let (user, account) = (input.line(), input.line());
                let proof = if input.byte() % 2 == 0 { None } else { Some(Proof { challenge: input.line(), nonce: input.number() }) };
                let r = w.gw.start_link_with_proof(&user, &account, proof.as_ref());
                if r.is_ok() && input.byte() % 2 == 0 {
                    // Sometimes confirm it with the real code.
                    if let Some(code) = w.try_read_code(&account) {
                        let _ = w.gw.confirm_link(&user, &code);
                    }
                }
                r.is_ok()
            }
            "link_challenge" => w.gw.link_challenge().is_ok(),
            "start_memo_link" => w.gw.start_memo_link(&input.line()).is_ok(),
            "confirm_link" => {
                let (user, code) = (input.line(), input.line());
                w.gw.confirm_link(&user, &code).is_ok()
            }
            "unlink" => w.gw.unlink(&input.line()).is_ok(),
            "account" => w.gw.account(&input.line()).is_ok(),
            "deposit_instructions" => w.gw.deposit_instructions(&input.line()).is_ok(),
            "quote_deposit" => w.gw.quote_deposit(input.number()).is_ok(),
            "quote_withdrawal" => {
                let a = amount(&mut input);
                w.gw.quote_withdrawal(a).is_ok()
            }
            "adjust_balance" => {
                let (user, delta, key, reason) = (input.line(), input.signed(), input.line(), input.line());
                w.gw.adjust_balance(&user, delta, &key, &reason).is_ok()
            }
            "request_withdrawal" => {
                let user = input.line();
                let a = amount(&mut input);
                w.gw.request_withdrawal(&user, a, &input.line()).is_ok()
            }
            "approve_withdrawal" => {
                let t = input.line();
                let i = id(&mut w, &mut input, t);
                w.gw.approve_withdrawal("operator", &i).is_ok()
            }
            "reject_withdrawal" | "cancel_withdrawal" => {
                let t = input.line();
                let i = id(&mut w, &mut input, t);
                let reason = input.line();
                if m == "reject_withdrawal" { w.gw.reject_withdrawal("operator", &i, &reason).is_ok() } else { w.gw.cancel_withdrawal("operator", &i, &reason).is_ok() }
            }
            "list_unknown_payouts" => w.gw.list_unknown_payouts(input.byte() % 2 == 0).is_ok(),
            "acknowledge_unknown_payout" => {
                let (i, note) = (input.line(), input.line());
                w.gw.acknowledge_unknown_payout("operator", &i, &note).is_ok()
            }
            "get_withdrawal" => {
                let t = input.line();
                let i = id(&mut w, &mut input, t);
                w.gw.get_withdrawal(&i).is_ok()
            }
            "list_withdrawals" => {
                let user = input.line();
                let state = [None, Some(WdState::Queued), Some(WdState::AwaitingReview), Some(WdState::Confirmed), Some(WdState::Failed)][input.below(5)];
                let filter = WithdrawalFilter { user: if user.is_empty() { None } else { Some(user) }, state };
                let after = input.line();
                let limit = input.number() as u32;
                let order = if input.byte() % 2 == 0 { Order::OldestFirst } else { Order::NewestFirst };
                w.gw.list_withdrawals(&filter, order, if after.is_empty() { None } else { Some(&after) }, limit).is_ok()
            }
            "list_unclaimed" => {
                let all = input.byte() % 2 == 0;
                let after = input.line();
                let limit = input.number() as u32;
                w.gw.list_unclaimed(all, if after.is_empty() { None } else { Some(&after) }, limit).is_ok()
            }
            "assign_unclaimed" | "refund_unclaimed" => {
                let t = input.line();
                let i = id(&mut w, &mut input, t);
                let other = input.line();
                if m == "assign_unclaimed" { w.gw.assign_unclaimed("operator", &i, &other).is_ok() } else { w.gw.refund_unclaimed("operator", &i, &other).is_ok() }
            }
            "status" => w.gw.status().is_ok(),
            "tick" => w.gw.tick().is_ok(),
            "configure" => {
                let (c, k) = config(&mut input);
                let ok = w.gw.configure(c.clone(), k).is_ok();
                if ok && c.gateway_account == GATEWAY && c.chain_id == CHAIN_ID {
                    w.config = c;
                }
                ok
            }
            "deposit" => {
                let from = ["alice", "bob", "carol", "mallory"][input.below(4)];
                w.deposit(from, 1 + (input.number() % 50_000_000) as i64);
                true
            }
            _ => {
                w.produce_n(1 + input.below(8) as u32);
                true
            }
        };
        check_books(&w, &format!("after {m} (call {step})"), Positions::Exact);
        let key = format!("{m}:{ok}");
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen.sort();
    seen.join(",")
}
