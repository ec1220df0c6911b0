//! The chain codec alone as a component (WIT world `codec-only`), for tools and games that
//! only sign or read memos: it exports `codec` and imports nothing of the gateway's.
//! Built for wasm32 only (`.ci/run`, or `cargo build --release -p cwd-codec-component
//! --target wasm32-wasip2`); natively this crate is empty.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ world: "codec-only", path: "../../wit" });

use exports::crowdwiz::gateway::codec as wit;

struct Component;

include!("codec_exports.rs");

export!(Component);
