//! The generated bindings, in one place. The rest of the host speaks through `codec`,
//! `gateway` and the capability traits.

wasmtime::component::bindgen!({
    world: "gateway",
    path: "../wit",
    additional_derives: [serde::Serialize, serde::Deserialize],
    // An import may trap: the simulator's hooks (`runtime::SimulationHooks`) end a call
    // at any import, as a crash of the instance there would.
    imports: { default: trappable },
});

pub use crowdwiz::gateway::{clock as wit_clock, events as wit_events, node as wit_node, signer as wit_signer, store as wit_store};
pub use exports::crowdwiz::gateway::api;
pub use exports::crowdwiz::gateway::codec::{
    CodecError, EncryptedMemo, FieldError, FieldProblem, KeyError, KeyProblem, LengthError, SignatureProblem, TxInfo,
};
