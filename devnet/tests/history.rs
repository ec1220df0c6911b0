//! History paging over more than 100 entries with both calls, the limit of 100, this
//! node's own 1.11 numbering, and the irreversible block lagging the head.

mod common;

use common::*;
use cwd_devnet::Config;
use serde_json::{json, Value};

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().strip_prefix("1.11.").unwrap().parse().unwrap())
        .collect()
}

/// alice pays bob `n` times (amounts 1..=n), a few per block, with other accounts'
/// traffic in between so bob's ids have gaps.
fn busy_chain(config: Config, n: i64) -> cwd_devnet::DevnetHandle {
    let d = start_with(config);
    account(&d, "alice", 1000);
    account(&d, "bob", 0);
    account(&d, "carol", 100);
    account(&d, "dave", 0);
    for i in 1..=n {
        d.transfer("alice", "bob", i, None, None).unwrap();
        if i % 3 == 0 {
            d.transfer("carol", "dave", i, None, None).unwrap();
        }
        if i % 7 == 0 {
            d.produce_block();
        }
    }
    d.produce_block();
    d
}

#[test]
fn absolute_history_pages_newest_first_and_limit_is_100() {
    let d = busy_chain(Config::seeded("history"), 130);
    let page1 = result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"]));
    let p1 = ids(&page1);
    assert_eq!(p1.len(), 100);
    assert!(p1.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(page1[0]["op"][1]["amount"]["amount"], json!(130));
    let next_start = format!("1.11.{}", p1.last().unwrap() - 1);
    let page2 = result(&d, "history", "get_account_history", json!(["1.2.101", "1.11.0", 100, next_start]));
    let p2 = ids(&page2);
    assert_eq!(p2.len(), 30);
    assert_eq!(page2[29]["op"][1]["amount"]["amount"], json!(1));
    // stop is exclusive: everything after the newest seen gives nothing new.
    let newest = format!("1.11.{}", p1[0]);
    assert_eq!(result(&d, "history", "get_account_history", json!(["bob", newest, 100, "1.11.0"])), json!([]));
    let stop = format!("1.11.{}", p1[10]);
    assert_eq!(ids(&result(&d, "history", "get_account_history", json!(["bob", stop, 100, "1.11.0"]))), p1[..10].to_vec());
    // Limit above 100 is refused; unknown accounts have no history.
    let r = rpc(&d, "history", "get_account_history", json!(["bob", "1.11.0", 101, "1.11.0"]));
    assert_eq!(error_name(&r), "assert_exception");
    assert!(r["error"]["message"].as_str().unwrap().contains("100"));
    assert_eq!(result(&d, "history", "get_account_history", json!(["nobody", "1.11.0", 10, "1.11.0"])), json!([]));
}

#[test]
fn relative_history_pages_by_sequence() {
    let d = busy_chain(Config::seeded("history"), 130);
    let all: Vec<u64> = d.lock().account_ops(cwd_gateway::ops::AccountId(101)).to_vec();
    assert_eq!(all.len(), 130);
    let page1 = ids(&result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 0])));
    assert_eq!(page1, all[30..].iter().rev().copied().collect::<Vec<_>>());
    let page2 = ids(&result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 30])));
    assert_eq!(page2, all[..30].iter().rev().copied().collect::<Vec<_>>());
    // Both ends inclusive: sequence 5..=7.
    let mid = ids(&result(&d, "history", "get_relative_account_history", json!(["bob", 5, 100, 7])));
    assert_eq!(mid, vec![all[6], all[5], all[4]]);
    let r = rpc(&d, "history", "get_relative_account_history", json!(["bob", 0, 101, 0]));
    assert_eq!(error_name(&r), "assert_exception");
}

#[test]
fn two_nodes_number_history_differently() {
    let a = busy_chain(Config::seeded("history"), 10);
    let b = busy_chain(Config { history_id_start: 5_000_000_000, ..Config::seeded("history") }, 10);
    let ha = result(&a, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"]));
    let hb = result(&b, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"]));
    assert_eq!(ha.as_array().unwrap().len(), 10);
    assert_ne!(ha[0]["id"], hb[0]["id"]);
    assert_eq!(ha[0]["op"], hb[0]["op"]);
    assert!(ids(&hb).iter().all(|&i| i >= 5_000_000_000));
    let obj = result(&b, "database", "get_objects", json!([[hb[0]["id"]]]));
    assert_eq!(obj[0], hb[0]);
}

#[test]
fn irreversible_block_lags_the_head() {
    let d = start_with(Config { irreversible_lag: 4, ..Config::seeded("lag") });
    d.produce_blocks(10);
    let dgp = result(&d, "database", "get_dynamic_global_properties", json!([]));
    assert_eq!(dgp["head_block_number"], json!(11));
    assert_eq!(dgp["last_irreversible_block_num"], json!(7));
    d.lock().set_irreversible_lag(1);
    assert_eq!(d.last_irreversible_block_num(), 10);
    d.lock().set_irreversible_lag(6);
    assert_eq!(d.last_irreversible_block_num(), 10, "never moves back");
}
