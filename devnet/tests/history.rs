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
/// traffic in between so bob's ids have gaps. bob's history holds n + 1 entries: his
/// account_create first.
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
    assert_eq!(p2.len(), 31);
    assert!(p2.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(page2[29]["op"][1]["amount"]["amount"], json!(1));
    assert_eq!(page2[30]["op"][0], json!(5), "the oldest entry is bob's account_create");
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
    assert_eq!(all.len(), 131, "130 transfers after bob's account_create");
    let page1 = ids(&result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 0])));
    assert_eq!(page1, all[31..].iter().rev().copied().collect::<Vec<_>>());
    let page2 = result(&d, "history", "get_relative_account_history", json!(["bob", 0, 100, 31]));
    assert_eq!(ids(&page2), all[..31].iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(page2[30]["op"][0], json!(5), "sequence 1 is bob's account_create");
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
    assert_eq!(ha.as_array().unwrap().len(), 11, "10 transfers and bob's account_create");
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

#[test]
fn created_account_history_starts_with_its_account_create_and_survives_a_reorg() {
    let d = start_with(Config { irreversible_lag: 10, ..Config::seeded("create") });
    account(&d, "alice", 100);
    account(&d, "bob", 0);
    d.transfer("alice", "bob", CWD, None, None).unwrap();
    let dropped = d.produce_block();
    // carol comes after a reversible block: its account_create takes the next 1.11 and
    // 2.9 numbers, outside that block's undo log.
    let carol = account(&d, "carol", 0);
    let h = result(&d, "history", "get_account_history", json!(["carol", "1.11.0", 100, "1.11.0"]));
    assert_eq!(h.as_array().map(|a| a.len()), Some(1), "{h}");
    let create = h[0].clone();
    assert_eq!(create["op"][0], json!(5));
    assert_eq!(create["op"][1]["name"], json!("carol"));
    assert_eq!(create["op"][1]["active"]["key_auths"], json!([[carol.active_key.to_string(), 1]]));
    assert_eq!(create["result"], json!([1, carol.id_string()]));
    assert_eq!(create["block_num"], json!(dropped));
    assert_eq!(result(&d, "history", "get_relative_account_history", json!(["carol", 0, 100, 0])), h);
    let carol_stats = |d: &cwd_devnet::DevnetHandle| result(d, "database", "get_objects", json!([[format!("2.6.{}", carol.id.0)]]))[0].clone();
    let st = carol_stats(&d);
    assert_eq!((st["total_ops"].as_u64(), st["removed_ops"].as_u64()), (Some(1), Some(0)));

    // Dropping the block before it keeps the account and its account_create, as is.
    d.reorg(1, false).unwrap();
    assert_eq!(result(&d, "history", "get_account_history", json!(["carol", "1.11.0", 100, "1.11.0"])), h);
    assert_eq!(carol_stats(&d), st);
    // Later operations take other numbers: nothing overwrites it.
    d.transfer("alice", "bob", 2 * CWD, None, None).unwrap();
    d.transfer("alice", "bob", 3 * CWD, None, None).unwrap();
    d.produce_block();
    assert_eq!(result(&d, "database", "get_objects", json!([[create["id"]]]))[0], create);
    assert_eq!(result(&d, "history", "get_account_history", json!(["carol", "1.11.0", 100, "1.11.0"])), h);
    let bob_h = result(&d, "history", "get_account_history", json!(["bob", "1.11.0", 100, "1.11.0"]));
    assert_eq!(bob_h.as_array().map(|a| a.len()), Some(3), "account_create and the two new transfers: {bob_h}");
    assert!(bob_h.as_array().unwrap().iter().all(|e| e["id"] != create["id"]));
    let bob = d.lock().account_by_name("bob").unwrap().id;
    let bob_recent = result(&d, "database", "get_objects", json!([[format!("2.6.{}", bob.0)]]))[0]["most_recent_op"].clone();
    assert_ne!(bob_recent, st["most_recent_op"], "2.9 numbers are not reused either");
}
