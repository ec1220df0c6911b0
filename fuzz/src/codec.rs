//! Every text-taking function of `cwd_codec::codec` (what the component exports), the
//! JSON readers the gateway uses on node answers, and TaPoS. Input: the function's name
//! on the first line, one argument per line after it. Beyond "no panic", what works
//! must round-trip: a derived key parses back, a memo decrypts for its sender, a signed
//! transaction and a signed digest recover their signer.

use cwd_codec::codec as c;
use cwd_codec::{json, ops, CodecError};

use crate::input::Input;

pub const DICTIONARY: &[&str] = &[
    "5JyZhmF9Fo9QYjv4CgR8z3MEQ4RTTTsHohwUR4BmPUr7AkEi9YB",
    "CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL",
    "CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP",
    "03c7ef72bc3b3ac0d40e627630e7a46fdbbaaf454ed09e4557345d0a9667384427",
    "4bb7d961ed2ed1b2b618711b1bd4d8d905abe061fcb9c79d1ba15468eadfa998",
    "\"memo\":{\"from\":\"CWD8MHcLaUeqxeCrGBoEmEbu3FKE5JCY11zovwfcddmVkTkxVj9YL\",\"to\":\"CWD5DE9SBYtrLo3BuVHaq6eEhG8pBTJxejYzKoxWKD81bXHaVNrTP\",\"nonce\":\"7\",\"message\":\"00\"}",
    "\"extensions\":[[1,{}]]",
    "\"asset_id\":\"1.3.18446744073709551615\"",
    "\"1.2.0\"",
    "[61,{",
    "[0,{",
    "2106-02-07T06:28:16",
    "1970-01-01T00:00:00",
    "\"expiration\":",
    "\"signatures\":[\"",
    "\n",
    "CWD",
    "5K",
    "ff",
];

const FUNCTIONS: &[&str] = &[
    "chain_id",
    "public_key_of",
    "public_key_hex",
    "public_key_from_hex",
    "memo_encrypt",
    "memo_decrypt",
    "operation_hex",
    "transaction_info",
    "sign_transaction",
    "transaction_signers",
    "sign_digest",
    "recover_signer",
    "tapos_from_block_id",
    "transaction_json",
    "parse_time",
];

/// The outcome key: the function and the error's kind (not its text, which varies).
fn outcome<T>(f: &str, r: &Result<T, CodecError>) -> String {
    match r {
        Ok(_) => format!("{f}:ok"),
        Err(e) => format!("{f}:{}", format!("{e:?}").split(['{', '(', ' ']).next().unwrap_or("")),
    }
}

pub fn run(data: &[u8]) -> String {
    let mut input = Input::new(data);
    let name = input.line();
    let f = FUNCTIONS.iter().position(|f| *f == name.trim()).unwrap_or(name.len() % FUNCTIONS.len());
    let f = FUNCTIONS[f];
    match f {
        "chain_id" => outcome(f, &c::chain_id(&input.line())),
        "public_key_of" => {
            let r = c::public_key_of(&input.line());
            if let Ok(public) = &r {
                let hex = c::public_key_hex(public).expect("a derived key converts to hex");
                assert_eq!(&c::public_key_from_hex(&hex).expect("and back"), public);
            }
            outcome(f, &r)
        }
        "public_key_hex" => {
            let text = input.line();
            let r = c::public_key_hex(&text);
            if let Ok(hex) = &r {
                // Parsing is cached by text: the cached answer must be the computed one.
                assert_eq!(c::public_key_hex(&text).as_ref(), Ok(hex));
                let back = c::public_key_from_hex(hex).expect("a parsed key converts back");
                assert_eq!(c::public_key_hex(&back).as_ref(), Ok(hex));
            }
            outcome(f, &r)
        }
        "public_key_from_hex" => outcome(f, &c::public_key_from_hex(&input.line())),
        "memo_encrypt" => {
            let (wif, to, nonce, message) = (input.line(), input.line(), input.number(), rest(&mut input));
            // Odd nonces as given, even ones left to the (here deterministic) random source.
            let given = (nonce % 2 == 1).then_some(nonce);
            let r = c::memo_encrypt(&wif, &to, given, &message, || nonce / 2);
            if let Ok(memo) = &r {
                assert_eq!(memo.nonce, given.unwrap_or(nonce / 2), "the nonce used is the one given, or drawn");
                assert_eq!(c::memo_decrypt(&wif, &to, memo.nonce, &memo.message_hex).as_deref(), Ok(message.as_str()), "the sender reads its own memo");
            }
            outcome(f, &r.map(|m| m.message_hex))
        }
        "memo_decrypt" => {
            let (wif, other, nonce, cipher) = (input.line(), input.line(), input.number(), rest(&mut input));
            outcome(f, &c::memo_decrypt(&wif, &other, nonce, &cipher))
        }
        "operation_hex" => outcome(f, &c::operation_hex(&input.line())),
        "transaction_info" => {
            let (tx, chain) = (input.line(), input.line());
            outcome(f, &c::transaction_info(&tx, &chain))
        }
        "sign_transaction" => {
            let (tx, wif, chain) = (input.line(), input.line(), input.line());
            let r = c::sign_transaction(&tx, &wif, &chain);
            if let Ok(signed) = &r {
                let signer = c::public_key_of(&wif).expect("it signed with this key");
                assert_eq!(c::transaction_signers(signed, &chain), Ok(vec![signer]), "a signed transaction recovers its signer");
                let again = c::sign_transaction(signed, &wif, &chain).expect("re-signing what we signed");
                assert_eq!(&again, signed, "signing is deterministic");
            }
            outcome(f, &r)
        }
        "transaction_signers" => {
            let (tx, chain) = (input.line(), input.line());
            outcome(f, &c::transaction_signers(&tx, &chain))
        }
        "sign_digest" => {
            let (digest, wif) = (input.line(), input.line());
            let r = c::sign_digest(&digest, &wif);
            if let Ok(sig) = &r {
                assert_eq!(c::recover_signer(&digest, sig), c::public_key_of(&wif), "a signed digest recovers its signer");
            }
            outcome(f, &r)
        }
        "recover_signer" => {
            let (digest, sig) = (input.line(), input.line());
            outcome(f, &c::recover_signer(&digest, &sig))
        }
        "tapos_from_block_id" => outcome(f, &ops::tapos_from_block_id(&input.line())),
        "transaction_json" => {
            // What the gateway does with a node's JSON: read a transaction, write it back.
            let r = json::transaction_from_str(&input.line());
            if let Ok(st) = &r {
                let text = json::write_transaction(st).to_string();
                assert_eq!(json::transaction_from_str(&text).as_ref(), Ok(st), "written JSON reads back the same");
            }
            outcome(f, &r)
        }
        _ => outcome(f, &json::parse_time(&input.line(), "time")),
    }
}

/// The rest of the input, newlines included (memo texts may hold them).
fn rest(input: &mut Input) -> String {
    let mut parts = Vec::new();
    while !input.is_empty() {
        parts.push(input.line());
    }
    parts.join("\n")
}
