//! The `node` capability's HTTP client (`NodeClient`) against devnets on loopback:
//! failover, the chain id check, which errors fail over and which do not, timeouts and
//! answers that are not JSON-RPC.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cwd_devnet::{Config as DevnetConfig, Devnet, DevnetHandle, FaultKind, FaultRule};
use cwd_gateway_host::node::{NodeClient, Node, NodeError};
use serde_json::Value;

fn devnet(seed: &str) -> DevnetHandle {
    Devnet::start(DevnetConfig::seeded(seed)).expect("devnet")
}

/// A loopback URL where nothing listens (the port was just free).
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn chain_id(node: &NodeClient) -> Result<String, NodeError> {
    node.call("database", "get_chain_id", "[]").map(|s| serde_json::from_str::<String>(&s).unwrap())
}

/// A tiny HTTP server that answers every request with `status` and `body`, counting them.
struct FakeNode {
    url: String,
    hits: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl FakeNode {
    fn start(status: u16, body: &'static str) -> FakeNode {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (server.clone(), hits.clone());
        std::thread::spawn(move || {
            for request in s.incoming_requests() {
                h.fetch_add(1, Ordering::SeqCst);
                let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(status));
            }
        });
        FakeNode { url, hits, server }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

#[test]
fn fails_over_from_a_closed_port_to_the_next_node() {
    let d = devnet("node-client failover");
    let node = NodeClient::new(vec![closed_port_url(), d.url().to_string()], Duration::from_secs(5));
    assert_eq!(chain_id(&node).unwrap(), d.chain_id_hex());
    let props: Value = serde_json::from_str(&node.call("database", "get_dynamic_global_properties", "[]").unwrap()).unwrap();
    assert_eq!(props["head_block_number"].as_u64(), Some(u64::from(d.head_block_number())));

    // With no node left to try, the caller learns why.
    let none = NodeClient::new(vec![closed_port_url()], Duration::from_secs(5));
    match chain_id(&none) {
        Err(NodeError::Unreachable(why)) => assert!(!why.is_empty()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // Not being able to connect is safe to fail over even for a broadcast: nothing was
    // sent. The devnet then refuses the (garbage) transaction: an RPC error.
    let node = NodeClient::new(vec![closed_port_url(), d.url().to_string()], Duration::from_secs(5));
    match node.call("network_broadcast", "broadcast_transaction", "[{}]") {
        Err(NodeError::Rpc { .. }) => {}
        other => panic!("expected the second node's Rpc error, got {other:?}"),
    }
}

#[test]
fn verify_chain_id_keeps_only_matching_nodes() {
    let ours = devnet("node-client chain A");
    let other = Devnet::start(DevnetConfig { chain_id: [7u8; 32], ..DevnetConfig::seeded("node-client chain B") }).unwrap();
    assert_ne!(ours.chain_id_hex(), other.chain_id_hex());
    let urls = vec![closed_port_url(), other.url().to_string(), ours.url().to_string()];

    let node = NodeClient::new(urls.clone(), Duration::from_secs(5)).verify_chain_id(&ours.chain_id_hex()).unwrap();
    assert_eq!(node.urls(), &[ours.url().to_string()]);
    assert_eq!(chain_id(&node).unwrap(), ours.chain_id_hex());
    // The id is hex: case does not matter.
    let node = NodeClient::new(urls.clone(), Duration::from_secs(5)).verify_chain_id(&ours.chain_id_hex().to_uppercase()).unwrap();
    assert_eq!(node.urls(), &[ours.url().to_string()]);
    let node = NodeClient::new(urls.clone(), Duration::from_secs(5)).verify_chain_id(&other.chain_id_hex()).unwrap();
    assert_eq!(node.urls(), &[other.url().to_string()]);

    // No node serves the expected chain: refuse, and say what each node is.
    let err = NodeClient::new(urls, Duration::from_secs(5)).verify_chain_id(&"ab".repeat(32)).err().expect("must fail");
    let text = err.to_string();
    assert!(text.contains("no node serves the expected chain"), "{text}");
    assert!(text.contains(&ours.chain_id_hex()) && text.contains(&other.chain_id_hex()), "{text}");
    let err = NodeClient::new(vec![other.url().to_string()], Duration::from_secs(5)).verify_chain_id(&ours.chain_id_hex());
    assert!(err.is_err());
}

#[test]
fn rpc_errors_come_back_and_do_not_fail_over() {
    let (a, b) = (devnet("node-client rpc A"), devnet("node-client rpc B"));
    a.add_fault(FaultRule::next(1, Some("get_dynamic_global_properties"), FaultKind::Error { code: 1, message: "boom from A".into() }));
    let node = NodeClient::new(vec![a.url().to_string(), b.url().to_string()], Duration::from_secs(5));
    // B would have answered: the error is A's, as it said it.
    assert_eq!(
        node.call("database", "get_dynamic_global_properties", "[]"),
        Err(NodeError::Rpc { code: 1, message: "boom from A".into() })
    );
    assert_eq!(a.faults_fired(), 1);
    // A real error from the node: an unknown method, and a bad argument.
    match node.call("database", "no_such_method", "[]") {
        // fc's generic_api: an assert_exception "no method with name", JSON-RPC code 1.
        Err(NodeError::Rpc { code, message }) => assert!(code == 1 && message.contains("no method with name 'no_such_method'"), "{code} {message}"),
        other => panic!("expected Rpc, got {other:?}"),
    }
    match node.call("database", "get_account_by_name", "[42]") {
        Err(NodeError::Rpc { code, .. }) => assert_eq!(code, -32602),
        other => panic!("expected Rpc, got {other:?}"),
    }
    // Params that are not JSON never leave the host.
    assert!(matches!(node.call("database", "get_chain_id", "not json"), Err(NodeError::Rpc { code: -32602, .. })));
    // And A still answers once the fault is spent.
    assert_eq!(chain_id(&node).unwrap(), a.chain_id_hex());
}

#[test]
fn a_timeout_fails_over_for_reads_but_never_resends_a_broadcast() {
    let timeout = Duration::from_millis(400);
    let delay = FaultKind::Delay(Duration::from_secs(3));
    let (a, b) = (devnet("node-client timeout A"), devnet("node-client timeout B"));

    // A read: A is too slow, B answers.
    a.add_fault(FaultRule::next(1, Some("get_dynamic_global_properties"), delay.clone()));
    let node = NodeClient::new(vec![a.url().to_string(), b.url().to_string()], timeout);
    let start = Instant::now();
    let props: Value = serde_json::from_str(&node.call("database", "get_dynamic_global_properties", "[]").unwrap()).unwrap();
    assert!(props["head_block_id"].is_string());
    assert!(start.elapsed() < Duration::from_millis(2_500), "took {:?}: waited for the slow node", start.elapsed());
    assert_eq!(a.faults_fired(), 1);

    // A read with one node only: Timeout.
    a.add_fault(FaultRule::next(1, Some("get_chain_id"), delay.clone()));
    let only_a = NodeClient::new(vec![a.url().to_string()], timeout);
    assert_eq!(chain_id(&only_a), Err(NodeError::Timeout));

    // A broadcast: A times out (it may have accepted it). The client reports Timeout and
    // does not send it to B: B would have answered an error we would see here.
    a.add_fault(FaultRule::next(1, Some("broadcast_transaction"), delay));
    b.add_fault(FaultRule::next(1, Some("broadcast_transaction"), FaultKind::Error { code: 1, message: "B got it".into() }));
    let node = NodeClient::new(vec![a.url().to_string(), b.url().to_string()], timeout);
    let start = Instant::now();
    assert_eq!(node.call("network_broadcast", "broadcast_transaction", "[{}]"), Err(NodeError::Timeout));
    assert!(start.elapsed() < Duration::from_millis(2_500), "took {:?}: waited for the slow node", start.elapsed());
    assert_eq!(b.faults_fired(), 0, "the broadcast must not be resent to B");
    assert_eq!(b.fault_rules().len(), 1);
}

#[test]
fn answers_that_are_not_json_rpc_are_bad_responses() {
    let d = devnet("node-client bad response");
    for (status, body) in [
        (200, "<html>Welcome to nginx!</html>"),
        (502, "<html>502 Bad Gateway</html>"),
        (200, r#"{"jsonrpc":"2.0","id":1}"#),
        (200, ""),
    ] {
        let fake = FakeNode::start(status, body);
        let node = NodeClient::new(vec![fake.url.clone()], Duration::from_secs(5));
        match chain_id(&node) {
            Err(NodeError::BadResponse(text)) => assert_eq!(text, body, "the start of the answer, for the log"),
            other => panic!("{status} {body:?}: expected BadResponse, got {other:?}"),
        }
        assert_eq!(fake.hits.load(Ordering::SeqCst), 1);

        // A read fails over to a node that answers properly.
        let node = NodeClient::new(vec![fake.url.clone(), d.url().to_string()], Duration::from_secs(5));
        assert_eq!(chain_id(&node).unwrap(), d.chain_id_hex());
        assert_eq!(fake.hits.load(Ordering::SeqCst), 2);
    }
    // A long answer is cut for the message.
    let fake = FakeNode::start(200, Box::leak("x".repeat(10_000).into_boxed_str()));
    match chain_id(&NodeClient::new(vec![fake.url.clone()], Duration::from_secs(5))) {
        Err(NodeError::BadResponse(text)) => assert_eq!(text.len(), 200),
        other => panic!("expected BadResponse, got {other:?}"),
    }
}

#[test]
fn history_errors_fail_over_and_the_component_can_distrust_a_node() {
    let (a, b) = (devnet("node-client history A"), devnet("node-client history B"));
    // A node without the history plugin (or not tracking the account) answers an error;
    // another node may have the history.
    a.add_fault(FaultRule::next(1, Some("get_relative_account_history"), FaultKind::Error { code: 1, message: "no history here".into() }));
    let node = NodeClient::new(vec![a.url().to_string(), b.url().to_string()], Duration::from_secs(5));
    let page = node.call("history", "get_relative_account_history", r#"["1.2.0", 0, 10, 0]"#);
    assert!(page.is_ok(), "B answered: {page:?}");
    assert_eq!(a.faults_fired(), 1);
    // B is now the node in use; the component distrusts it: calls move back to A.
    let fired = a.faults_fired();
    assert!(node.fail_over("history pruned past the scan"));
    a.add_fault(FaultRule::next(1, Some("get_dynamic_global_properties"), FaultKind::Error { code: 7, message: "from A".into() }));
    assert_eq!(
        node.call("database", "get_dynamic_global_properties", "[]"),
        Err(NodeError::Rpc { code: 7, message: "from A".into() }),
        "the next call went to A"
    );
    assert_eq!(a.faults_fired(), fired + 1);
    // With one node there is nowhere to go.
    let single = NodeClient::new(vec![a.url().to_string()], Duration::from_secs(5));
    assert!(!single.fail_over("pruned"));
}
