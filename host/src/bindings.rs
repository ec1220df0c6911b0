//! The generated bindings, in one place. The rest of the host speaks through
//! `codec::Codec` and friends.

wasmtime::component::bindgen!({ world: "gateway", path: "../wit" });

pub use exports::crowdwiz::gateway::codec::{
    CodecError, FieldError, FieldProblem, KeyError, KeyProblem, LengthError, SignatureProblem, TxInfo,
};
