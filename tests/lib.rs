//! Shared helpers for the end-to-end tests.

use std::sync::OnceLock;

use cwd_gateway_host::{Runtime, RuntimeConfig};
use serde_json::Value;

/// One runtime per test binary: compiling the component once is the point of `InstancePre`.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("loading the gateway component"))
}

pub fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/crowdwiz-public.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reading the reference vectors")).unwrap()
}
