//! `cwd-gateway demo`: the whole story on one machine. A simulated chain (devnet), the
//! gateway component in this host reaching it over loopback HTTP, and a player walking
//! through link → deposit → game balance change → withdrawal, narrated as a person
//! would see it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cwd_devnet::{AccountSpec, Config as DevnetConfig, Devnet, DevnetHandle, Production};

use crate::bindings::api::{self, WithdrawalAmount, WithdrawalState};
use crate::clock::SystemClock;
use crate::events::{EventSink, LogSink, MemorySink, NullSink};
use crate::gateway::Service;
use crate::imports::Capabilities;
use crate::node::NodeClient;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::MemoryStore;

pub struct DemoOptions {
    /// Print events as they happen.
    pub verbose: bool,
    /// Real time between devnet blocks (each advances chain time 3 s).
    pub block_period: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            verbose: false,
            block_period: Duration::from_millis(250),
        }
    }
}

/// What ran, for the caller (a test or the CLI) to check and to keep serving.
pub struct Demo {
    pub devnet: DevnetHandle,
    pub service: Arc<Service>,
    pub stop: Arc<AtomicBool>,
    pub events: MemorySink,
    pub player_chain_cwd_before: i64,
    pub player_chain_cwd_after: i64,
    pub deposit_cwd: u64,
    pub withdrawal: api::Withdrawal,
    pub final_account: api::AccountView,
}

pub fn cwd(units: u64) -> String {
    format!("{}.{:05} CWD", units / 100_000, units % 100_000)
}

fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run(opts: &DemoOptions, out: &mut dyn FnMut(String)) -> Result<Demo> {
    let mut say = |s: String| out(s);

    // 1. A chain.
    let devnet = Devnet::start(DevnetConfig {
        production: Production::Timer(opts.block_period),
        // Chain time is the wall clock: at most one block per second.
        block_interval: 1,
        ..DevnetConfig::seeded("cwd-gateway demo")
    })
    .context("starting the devnet")?;
    let gateway = devnet.create_account(AccountSpec::new("game-gateway", 10_000 * 100_000))?;
    let player = devnet.create_account(AccountSpec::new("alice-cwd", 500 * 100_000))?;
    let cold = devnet.create_account(AccountSpec::new("game-cold", 0))?;
    say(format!("Simulated CrowdWiz chain (devnet) at {} — a block every {:?} of real time (at most one a second: chain time is the wall clock).", devnet.url(), opts.block_period));
    say(format!(
        "  gateway account  game-gateway ({}) holds {}",
        gateway.id_string(),
        cwd(10_000 * 100_000)
    ));
    say(format!(
        "  player account   alice-cwd ({}) holds {}",
        player.id_string(),
        cwd(500 * 100_000)
    ));
    say(format!(
        "  cold account     game-cold ({}): the operator's offline storage",
        cold.id_string()
    ));

    // 2. The gateway component in this host, talking to the devnet over HTTP.
    let node = NodeClient::new(vec![devnet.url().to_string()], Duration::from_secs(5))
        .verify_chain_id(&devnet.chain_id_hex())?;
    let events = MemorySink::default();
    let sink: Arc<dyn EventSink> = if opts.verbose {
        Arc::new(crate::events::FanOut(vec![
            Arc::new(events.clone()),
            Arc::new(LogSink),
        ]))
    } else {
        Arc::new(crate::events::FanOut(vec![
            Arc::new(events.clone()),
            Arc::new(NullSink),
        ]))
    };
    let caps = Capabilities {
        store: Arc::new(MemoryStore::new()),
        node: Arc::new(node),
        clock: Arc::new(SystemClock),
        events: sink,
        signer: std::sync::Arc::new(crate::signer::NoSigner),
    };
    let runtime = Runtime::new(RuntimeConfig::default())?;
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
            message_template: "Your Dragon Quest link code: {code} (for player {user})".into(),
            user_interval_ms: 0,
            user_daily: 0,
            account_daily: 0,
            global_daily: 0,
            pow_bits: 0,
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
        low_fee_balance_cwd: 100 * 100_000,
        tick_interval_ms: 500,
        idempotency_window_ms: 0,
        // Keep 1000 CWD hot beyond pending withdrawals and a 50 CWD fee reserve.
        treasury: api::TreasuryConfig {
            cold_account: "game-cold".into(),
            high_water_cwd: 1_000 * 100_000,
            low_water_cwd: 100 * 100_000,
            fee_reserve_cwd: 50 * 100_000,
            low_fee_days: 0,
            min_sweep_cwd: 0,
            max_transfer_fee_cwd: 0,
            max_message_fee_cwd: 0,
        },
        // 10 % to the referrer, 5 % to theirs, 2 % cashback, from the pool.
        referrals: api::ReferralConfig {
            level_rates_per_mille: vec![100, 50],
            cashback_per_mille: 20,
            pool_user: String::new(),
        },
        events: crate::config::EventsSection::default().component(),
        texts: crate::config::TextsSection::default().component(),
    };
    let keys = api::Keys {
        active_wif: gateway
            .active_wif
            .clone()
            .context("devnet keeps generated keys")?,
        memo_wif: gateway
            .memo_wif
            .clone()
            .context("devnet keeps generated keys")?,
    };
    let service = Service::start(&runtime, caps, &config, keys)?;
    let stop = Arc::new(AtomicBool::new(false));
    service.spawn_timer(stop.clone(), Duration::from_millis(500));
    say(format!(
        "Gateway component loaded and configured for {} ({}); the chain is at block {} (irreversible {}).",
        service.info.account, service.info.account_id, service.info.head_block, service.info.last_irreversible_block
    ));
    let gw = |e: crate::gateway::GatewayCallError| anyhow::anyhow!("{e}");

    // 3. Link.
    say("\n[link] Game user \"alice\" says her CrowdWiz account is alice-cwd.".into());
    let started = service
        .with(|a| a.start_link("alice", "alice-cwd", None))
        .map_err(gw)?;
    say(format!(
        "  The gateway sent a {}-digit code to alice-cwd in an encrypted message (tx {}).",
        started.code_digits, started.tx_id
    ));
    let memo_key = player.memo_private().context("player memo key")?;
    let text = wait_for(
        "the link message to reach alice's wallet",
        Duration::from_secs(30),
        || {
            let memos = devnet.received_memos("alice-cwd", Some(&memo_key))?;
            Ok(memos
                .into_iter()
                .rev()
                .find(|m| m.op == "send_message")
                .and_then(|m| m.text.ok()))
        },
    )?;
    say(format!("  Alice's wallet decrypts it: \"{text}\""));
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == started.code_digits as usize)
        .context("no code in the message")?
        .to_string();
    let wrong = service.with(|a| a.confirm_link("alice", "000000"));
    if let Err(e) = wrong {
        say(format!("  She mistypes it first: {e}"));
    }
    let linked = service
        .with(|a| a.confirm_link("alice", &code))
        .map_err(gw)?;
    say(format!(
        "  She types the code: linked to {} ({}).",
        linked.account, linked.account_id
    ));

    // 4. Deposit.
    let info = service
        .with(|a| a.deposit_instructions("alice"))
        .map_err(gw)?;
    say(format!(
        "\n[deposit] The game tells her: transfer CWD from {} to {}; 1 CWD = {} game coins.",
        info.from_account,
        info.gateway_account,
        info.rate.game_units * 100_000 / info.rate.per_cwd_units
    ));
    let before = devnet.balance_of("alice-cwd")?;
    let deposit_cwd: u64 = 25 * 100_000;
    let tx = devnet.transfer(
        "alice-cwd",
        "game-gateway",
        deposit_cwd as i64,
        Some("top up"),
        None,
    )?;
    say(format!(
        "  Alice sends {} (tx {}). The gateway credits it once its block is irreversible…",
        cwd(deposit_cwd),
        tx.id
    ));
    let account = wait_for(
        "the deposit to be credited",
        Duration::from_secs(60),
        || {
            let v = service.with(|a| a.account("alice")).map_err(gw)?;
            Ok((v.balance > 0).then_some(v))
        },
    )?;
    say(format!(
        "  Credited: alice has {} game coins (head {}, irreversible {}).",
        account.balance,
        devnet.head_block_number(),
        devnet.last_irreversible_block_num()
    ));

    // 5. Play.
    let won = service
        .with(|a| a.adjust_balance("alice", 500, "match-1001", "won the arena match"))
        .map_err(gw)?;
    say(format!(
        "\n[play] She wins a match: +500 → {} coins.",
        won.balance
    ));
    let spent = service
        .with(|a| a.adjust_balance("alice", -250, "shop-2002", "bought a sword"))
        .map_err(gw)?;
    say(format!(
        "  She buys a sword: −250 → {} coins.",
        spent.balance
    ));
    let again = service
        .with(|a| a.adjust_balance("alice", -250, "shop-2002", "bought a sword"))
        .map_err(gw)?;
    say(format!("  The shop retries the same request (same idempotency key): still {} coins, replayed = {}.", again.balance, again.replayed));

    // 6. Withdraw.
    let quote = service
        .with(|a| a.quote_withdrawal(WithdrawalAmount::Game(1_000)))
        .map_err(gw)?;
    say(format!(
        "\n[withdraw] She withdraws 1000 coins: the gateway quotes {} (1 CWD = 100 coins).",
        cwd(quote.cwd)
    ));
    let w = service
        .with(|a| a.request_withdrawal("alice", WithdrawalAmount::Game(1_000), "withdraw-1"))
        .map_err(gw)?;
    let view = service.with(|a| a.account("alice")).map_err(gw)?;
    say(format!(
        "  Requested {} — frozen {} coins, {} spendable.",
        w.withdrawal_id, view.frozen, view.balance
    ));
    let done = wait_for(
        "the withdrawal to be confirmed",
        Duration::from_secs(90),
        || {
            let w = service
                .with(|a| a.get_withdrawal(&w.withdrawal_id))
                .map_err(gw)?;
            match w.state {
                WithdrawalState::Confirmed => Ok(Some(w)),
                WithdrawalState::Failed
                | WithdrawalState::Rejected
                | WithdrawalState::Cancelled => {
                    bail!("withdrawal ended {:?}: {:?}", w.state, w.note)
                }
                _ => Ok(None),
            }
        },
    )?;
    let after = devnet.balance_of("alice-cwd")?;
    say(format!(
        "  Paid in tx {} at block {}: alice-cwd received {} on chain.",
        done.tx_id.clone().unwrap_or_default(),
        done.block_num.unwrap_or(0),
        cwd(done.cwd)
    ));

    // 7. Treasury: the timer swept the excess to cold storage right after it started.
    let sweep = wait_for(
        "the sweep to cold storage to be confirmed",
        Duration::from_secs(60),
        || {
            let s = service.with(|a| a.list_sweeps(None, 10)).map_err(gw)?;
            Ok(s.into_iter()
                .find(|s| matches!(s.state, api::SweepState::Confirmed)))
        },
    )?;
    say(format!(
        "\n[treasury] The gateway signs automatically, so it keeps only 1000 CWD beyond what pending withdrawals and its fee reserve need: sweep {} sent {} to {} (block {}), fee {}.",
        sweep.sweep_id,
        cwd(sweep.cwd),
        sweep.cold_account,
        sweep.block_num.unwrap_or(0),
        cwd(sweep.fee)
    ));
    say(format!(
        "  game-cold on chain now holds {}.",
        cwd(devnet.balance_of("game-cold")? as u64)
    ));

    // 8. Internal transfer and a referral reward.
    let pool = service
        .with(|a| {
            a.adjust_balance(
                "referral-pool",
                10_000,
                "pool-fund-1",
                "operator funds the referral pool",
            )
        })
        .map_err(gw)?;
    say(format!(
        "\n[referrals] The operator funds the referral pool: {} coins.",
        pool.balance
    ));
    service
        .with(|a| a.set_referrer("bob", "alice"))
        .map_err(gw)?;
    let gift = service
        .with(|a| a.transfer_internal("alice", "bob", 100, "gift-1", "welcome gift"))
        .map_err(gw)?;
    say(format!("  Bob joins with alice as his referrer; she gives him 100 coins (internal transfer): alice {}, bob {}.", gift.from_balance, gift.to_balance));
    let reward = service
        .with(|a| a.reward_referrers("bob", 1_000, "fee-bob-1"))
        .map_err(gw)?;
    let to_alice: u64 = reward
        .shares
        .iter()
        .filter(|s| s.user == "alice")
        .map(|s| s.amount)
        .sum();
    say(format!(
        "  The game earns a 1000-coin fee from bob: alice (level 1) gets {to_alice}, bob {} cashback; the pool paid {} and holds {}.",
        reward.cashback, reward.paid, reward.pool_balance
    ));

    // 9. The books.
    let final_account = service.with(|a| a.account("alice")).map_err(gw)?;
    let status = service.with(|a| a.status()).map_err(gw)?;
    say(format!(
        "\n[books] alice: {} coins, {} frozen. Gateway holds {}; {} unclaimed deposits; scanned through block {}.",
        final_account.balance,
        final_account.frozen,
        status.cwd_balance.map(cwd).unwrap_or_else(|| "?".into()),
        status.unclaimed_count,
        status.scanned_through_block
    ));
    say(format!(
        "  alice-cwd on chain: {} before, {} after (−{} deposit, −{} fee, +{} payout).",
        cwd(before as u64),
        cwd(after as u64),
        cwd(deposit_cwd),
        cwd(tx.fee as u64),
        cwd(done.cwd)
    ));

    // 10. The event feed: every event above, committed with its change.
    let feed = service.with(|a| a.list_events(0, 1000)).map_err(gw)?;
    let about_alice = feed
        .iter()
        .filter(|e| crate::cabinet::feed_watch::users_of(&crate::imports::event_json(&e.event)).iter().any(|u| u == "alice"))
        .count();
    say(format!(
        "\n[events] The feed holds {} events, each committed with the change it reports ({about_alice} about alice, in commit order); a game reads them with `list-events` from its last position, or gets them by webhook.",
        feed.len()
    ));

    Ok(Demo {
        devnet,
        service,
        stop,
        events,
        player_chain_cwd_before: before,
        player_chain_cwd_after: after,
        deposit_cwd,
        withdrawal: done,
        final_account,
    })
}
