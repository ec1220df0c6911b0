//! The HTTP API as an OpenAPI 3.1 document, served at `/v1/openapi.json`. Built from
//! [`CALLS`]; tests check that table against `dispatch` (every call, no other) and
//! against the server (required arguments are refused when missing), so it cannot drift.
//! Each operation lists the token roles that may call it (`x-roles`, from
//! [`crate::roles::TABLE`]).

use serde_json::{json, Map, Value};

/// An argument's JSON type, as OpenAPI names it.
#[derive(Clone, Copy)]
pub enum Ty {
    Str,
    U64,
    I64,
    Bool,
    U32,
    Object,
}

pub struct Arg {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub doc: &'static str,
}

pub struct Call {
    pub name: &'static str,
    pub summary: &'static str,
    pub args: &'static [Arg],
    /// `game` or `cwd`, exactly one.
    pub amount: bool,
}

const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Arg {
    Arg {
        name,
        ty,
        required: true,
        doc,
    }
}

const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Arg {
    Arg {
        name,
        ty,
        required: false,
        doc,
    }
}

const USER: Arg = req(
    "user",
    Ty::Str,
    "the game's user id (1-64 of A-Z a-z 0-9 _ - . : @)",
);
const ORDER: Arg = opt(
    "order",
    Ty::Str,
    "oldest-first (default) or newest-first; start_after then pages toward older",
);

pub const CALLS: &[Call] = &[
    Call { name: "whoami", summary: "The presented token's name (the actor operator calls record) and role: {name, role}.", args: &[], amount: false },
    Call { name: "status", summary: "The gateway's state: balances, pending work, scan position.", args: &[], amount: false },
    Call {
        name: "start-link",
        summary: "Send a one-time code to a chain account's wallet to link it to a user.",
        args: &[
            USER,
            req("account", Ty::Str, "chain account name"),
            opt("challenge", Ty::Str, "a link-challenge, solved (required when the gateway asks for proof of work)"),
            opt("nonce", Ty::U64, "the solution to `challenge`"),
        ],
        amount: false,
    },
    Call { name: "link-challenge", summary: "A single-use proof-of-work challenge for start-link.", args: &[], amount: false },
    Call {
        name: "start-memo-link",
        summary: "A one-time code the user sends as the memo of any CWD transfer to the gateway: links the sender, no fee.",
        args: &[USER],
        amount: false,
    },
    Call { name: "confirm-link", summary: "Confirm a link with the code the user read in their wallet.", args: &[USER, req("code", Ty::Str, "the code, as digits")], amount: false },
    Call { name: "unlink", summary: "Unlink the user's chain account.", args: &[USER], amount: false },
    Call { name: "set-language", summary: "The language the player reads (2 or 3 lowercase letters; empty: none, English): the link message and deposit note are written in it.", args: &[USER, req("language", Ty::Str, "en, ru… or empty")], amount: false },
    Call { name: "revoke-cabinet-sessions", summary: "End every cabinet session of the user issued until now, on every host: {revoked_until_secs}.", args: &[USER], amount: false },
    Call { name: "account", summary: "The user's balance, frozen amount and linked account.", args: &[USER], amount: false },
    Call { name: "deposit-instructions", summary: "Where and how the user deposits CWD.", args: &[USER], amount: false },
    Call { name: "quote-deposit", summary: "Game units credited for a deposit.", args: &[req("cwd", Ty::U64, "CWD units (1e-5 CWD)")], amount: false },
    Call { name: "quote-withdrawal", summary: "CWD paid and game units debited for a withdrawal.", args: &[], amount: true },
    Call {
        name: "adjust-balance",
        summary: "Credit or debit game units (idempotent by key).",
        args: &[USER, req("delta", Ty::I64, "game units, non-zero"), req("idempotency_key", Ty::Str, "unique per change"), opt("reason", Ty::Str, "at most 200 bytes")],
        amount: false,
    },
    Call {
        name: "request-withdrawal",
        summary: "Freeze game units and queue a payout to the linked account (idempotent by key).",
        args: &[USER, req("idempotency_key", Ty::Str, "unique per withdrawal")],
        amount: true,
    },
    Call { name: "approve-withdrawal", summary: "Approve a withdrawal awaiting review.", args: &[req("withdrawal_id", Ty::Str, "")], amount: false },
    Call { name: "reject-withdrawal", summary: "Reject a withdrawal awaiting review; unfreezes it.", args: &[req("withdrawal_id", Ty::Str, ""), req("reason", Ty::Str, "")], amount: false },
    Call {
        name: "cancel-withdrawal",
        summary: "Cancel a withdrawal not yet sent (queued or awaiting review); unfreezes it.",
        args: &[req("withdrawal_id", Ty::Str, ""), req("reason", Ty::Str, "at most 200 bytes")],
        amount: false,
    },
    Call {
        name: "list-unknown-payouts",
        summary: "Payouts with the gateway's withdrawal memo that the store does not know (after a restore); they pause payouts.",
        args: &[opt("include_acknowledged", Ty::Bool, "default false")],
        amount: false,
    },
    Call {
        name: "acknowledge-unknown-payout",
        summary: "The operator has settled an unknown payout; payouts resume when none is left.",
        args: &[req("deposit_id", Ty::Str, ""), req("note", Ty::Str, "at most 200 bytes")],
        amount: false,
    },
    Call { name: "get-withdrawal", summary: "One withdrawal.", args: &[req("withdrawal_id", Ty::Str, "")], amount: false },
    Call {
        name: "list-withdrawals",
        summary: "Withdrawals, oldest or newest first, paged; with a user only theirs are read, with an open state only open ones.",
        args: &[
            opt("user", Ty::Str, ""),
            opt("state", Ty::Str, "awaiting-review, queued, sent, confirmed, failed, rejected or cancelled"),
            ORDER,
            opt("start_after", Ty::Str, "the last id of the previous page"),
            opt("limit", Ty::U32, "default 100"),
        ],
        amount: false,
    },
    Call {
        name: "list-deposits",
        summary: "A user's credited deposits, oldest or newest first, paged.",
        args: &[USER, ORDER, opt("start_after", Ty::Str, "the last deposit id of the previous page"), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call {
        name: "list-unclaimed",
        summary: "Funds that could not be credited automatically (unlinked sender, other asset, not a transfer…), paged.",
        args: &[opt("include_resolved", Ty::Bool, "default false"), opt("start_after", Ty::Str, ""), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call { name: "assign-unclaimed", summary: "Credit an unclaimed CWD deposit to a user.", args: &[req("deposit_id", Ty::Str, ""), USER], amount: false },
    Call { name: "refund-unclaimed", summary: "Mark an unclaimed deposit for refund by the operator.", args: &[req("deposit_id", Ty::Str, ""), req("note", Ty::Str, "")], amount: false },
    Call { name: "tick", summary: "Run one tick now (scan deposits, send and confirm withdrawals); only on the host holding the tick lease.", args: &[], amount: false },
    Call {
        name: "transfer-internal",
        summary: "Move game units from one user to another in one commit (idempotent by key).",
        args: &[
            req("from_user", Ty::Str, "the paying user"),
            req("to_user", Ty::Str, "the receiving user"),
            req("amount", Ty::U64, "game units, non-zero"),
            req("idempotency_key", Ty::Str, "unique per transfer"),
            opt("memo", Ty::Str, "at most 200 bytes"),
        ],
        amount: false,
    },
    Call {
        name: "list-transfers",
        summary: "A user's internal transfers (sent and received), oldest or newest first, paged.",
        args: &[USER, ORDER, opt("start_after", Ty::Str, "the last transfer_id of the previous page"), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call {
        name: "set-referrer",
        summary: "Register the user's referrer (once; no self-referral, no cycles).",
        args: &[USER, req("referrer", Ty::Str, "the referring user's id")],
        amount: false,
    },
    Call {
        name: "reward-referrers",
        summary: "Pay the configured levels' referrers and the user's cashback from the referral pool, for a fee the game earned (idempotent by key).",
        args: &[USER, req("base_amount", Ty::U64, "the fee earned from the user, game units"), req("idempotency_key", Ty::Str, "unique per reward")],
        amount: false,
    },
    Call {
        name: "list-referrals",
        summary: "The users a referrer referred, paged.",
        args: &[req("referrer", Ty::Str, "the referring user's id"), opt("start_after", Ty::Str, "the last user of the previous page"), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call { name: "referral-earnings", summary: "A user's referrer, referral count and earnings by level.", args: &[USER], amount: false },
    Call {
        name: "list-sweeps",
        summary: "Sweeps of the hot account's excess to the cold account, oldest first, paged.",
        args: &[opt("start_after", Ty::Str, "the last sweep_id of the previous page"), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call {
        name: "list-events",
        summary: "The event feed: events after a position, in feed order, each {id, seq, at_ms, event}; waits up to wait_ms for a first one (long polling).",
        args: &[
            opt("after", Ty::U64, "the seq of the last event already read; default 0 (from the oldest kept)"),
            opt("limit", Ty::U32, "1..=1000, default 100"),
            opt("wait_ms", Ty::U64, "0..=25000, default 0: answer at once"),
        ],
        amount: false,
    },
    Call {
        name: "list-webhook-deliveries",
        summary: "Webhook deliveries in feed order, with each one's attempts (status, time, detail).",
        args: &[
            opt("state", Ty::Str, "pending, delivered or failed; default all"),
            opt("start_after", Ty::U64, "the seq of the last delivery of the previous page"),
            opt("limit", Ty::U32, "default 100"),
        ],
        amount: false,
    },
    Call { name: "feed-position", summary: "The feed's last position given out, {seq}: where a consumer that does not want the history starts list-events.", args: &[], amount: false },
    Call { name: "redeliver-event", summary: "Deliver a feed event to the webhook again, due now, whatever its delivery's state.", args: &[req("seq", Ty::U64, "the event's position in the feed")], amount: false },
    Call { name: "get-settings", summary: "The settings in force (rates, limits, thresholds), their revision and who changed them last.", args: &[], amount: false },
    Call {
        name: "update-settings",
        summary: "Change settings at runtime, on every host at once (audited): only the fields given change.",
        args: &[
            req("settings", Ty::Object, "any part of get-settings' `settings`, e.g. {\"deposit_rate\": {\"game_units\": 120}}"),
            req("revision", Ty::U64, "the revision get-settings answered; a change made since is refused (settings-changed)"),
        ],
        amount: false,
    },
    Call {
        name: "list-audit",
        summary: "The audit trail of operator actions, newest first.",
        args: &[
            opt("actor", Ty::Str, "only this token's actions"),
            opt("call", Ty::Str, "only this call, e.g. approve-withdrawal"),
            opt("subject", Ty::Str, "only actions on this withdrawal, deposit, event or `settings`"),
            opt("since_ms", Ty::U64, "at or after this time"),
            opt("before_ms", Ty::U64, "strictly before this time"),
            opt("start_before", Ty::Str, "the last id of the previous page"),
            opt("limit", Ty::U32, "default 100"),
        ],
        amount: false,
    },
    Call {
        name: "statement",
        summary: "A user's statement: every change of their balance and frozen units (the ledger's journal), newest first.",
        args: &[USER, opt("start_before", Ty::Str, "the last id of the previous page"), opt("limit", Ty::U32, "default 100")],
        amount: false,
    },
    Call {
        name: "list-movements",
        summary: "Every user's movements in a UTC day (or a range), oldest first: the day's books.",
        args: &[
            opt("day", Ty::Str, "a UTC date, YYYY-MM-DD; or give since_ms and before_ms"),
            opt("since_ms", Ty::U64, "at or after this time (without `day`)"),
            opt("before_ms", Ty::U64, "strictly before this time (without `day`)"),
            opt("start_after", Ty::Str, "the last id of the previous page"),
            opt("limit", Ty::U32, "default 100"),
        ],
        amount: false,
    },
    Call { name: "reconcile", summary: "The books: what the gateway owes against the hot and cold balances on chain; raises books-mismatch when short.", args: &[], amount: false },
];

fn schema(ty: Ty) -> Value {
    match ty {
        Ty::Str => json!({ "type": "string" }),
        Ty::Object => json!({ "type": "object" }),
        Ty::U64 => json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX }),
        Ty::I64 => json!({ "type": "integer", "minimum": i64::MIN, "maximum": i64::MAX }),
        Ty::U32 => json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }),
        Ty::Bool => json!({ "type": "boolean" }),
    }
}

/// The whole document.
pub fn document() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let errors = json!({
        "400": { "description": "bad request or invalid argument", "content": { "application/json": { "schema": error } } },
        "401": { "description": "missing or wrong token" },
        "403": { "description": "the token's role may not make this call (`forbidden`; `needs` lists the roles that may)", "content": { "application/json": { "schema": error } } },
        "default": { "description": "a refusal: see docs/http-api.md for each code", "content": { "application/json": { "schema": error } } },
    });
    let mut paths = Map::new();
    for call in CALLS {
        let mut props = Map::new();
        let mut required = Vec::new();
        for a in call.args {
            let mut s = schema(a.ty);
            if !a.doc.is_empty() {
                s["description"] = json!(a.doc);
            }
            props.insert(a.name.into(), s);
            if a.required {
                required.push(a.name);
            }
        }
        let mut body = json!({ "type": "object", "properties": props, "required": required });
        if call.amount {
            body["properties"]["game"] =
                json!({ "type": "integer", "minimum": 0, "description": "game units" });
            body["properties"]["cwd"] =
                json!({ "type": "integer", "minimum": 0, "description": "CWD units (1e-5 CWD)" });
            body["oneOf"] = json!([{ "required": ["game"] }, { "required": ["cwd"] }]);
        }
        let mut responses = errors.clone();
        responses["200"] = json!({ "description": "the call's result", "content": { "application/json": { "schema": { "type": "object" } } } });
        let roles: Vec<&str> = crate::roles::roles_for(call.name)
            .unwrap_or(&[])
            .iter()
            .map(|r| r.name())
            .collect();
        let description = match roles.as_slice() {
            ["operator"] => "Callable with an operator token only.".to_string(),
            [init @ .., last] => format!(
                "Callable with a token of role {} or {last}.",
                init.join(", ")
            ),
            [] => "Callable with no token.".to_string(),
        };
        let op = json!({
            "operationId": call.name,
            "summary": call.summary,
            "description": description,
            "x-roles": roles,
            "security": [{ "bearer": [] }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": body } } },
            "responses": responses,
        });
        let mut item = json!({ "post": op });
        if call.name == "status" {
            item["get"] = json!({ "operationId": "status-get", "summary": call.summary, "description": description, "x-roles": roles, "security": [{ "bearer": [] }], "responses": item["post"]["responses"].clone() });
        }
        paths.insert(format!("/v1/{}", call.name), item);
    }
    paths.insert("/health".into(), json!({ "get": { "summary": "The process lives.", "security": [], "responses": { "200": { "description": "alive" } } } }));
    paths.insert("/ready".into(), json!({ "get": { "summary": "The gateway works: recent tick, node reachable; with the scan lag.", "security": [], "responses": { "200": { "description": "ready" }, "503": { "description": "not ready" } } } }));
    paths.insert("/metrics".into(), json!({ "get": { "summary": "Prometheus text format.", "description": "Callable with a token of any role; an observer token is the one meant for it.", "x-roles": ["game", "observer", "operator"], "security": [{ "bearer": [] }], "responses": { "200": { "description": "metrics" }, "401": { "description": "missing or wrong token" } } } }));
    paths.insert("/v1/openapi.json".into(), json!({ "get": { "summary": "This document.", "security": [], "responses": { "200": { "description": "OpenAPI 3.1" } } } }));
    json!({
        "openapi": "3.1.0",
        "info": { "title": "CrowdWiz gateway HTTP API", "version": env!("CARGO_PKG_VERSION"), "description": "See docs/http-api.md." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                "type": "object", "required": ["code", "message"],
                "properties": { "code": { "type": "string" }, "message": { "type": "string" }, "retry_after_ms": { "type": "integer" },
                    "needs": { "type": "array", "items": { "type": "string", "enum": ["game", "operator", "observer"] }, "description": "with `forbidden`: the roles that may make the call" } }
            } } } },
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    /// The call names `dispatch_in` matches on, read from its source.
    fn dispatched() -> Vec<String> {
        let src = include_str!("http_api.rs");
        let body = &src[src.find("fn dispatch_in(").expect("dispatch_in")..];
        let body = &body[..body.find("\n}\n").expect("end of dispatch")];
        body.lines()
            .filter_map(|l| {
                let l = l.trim_start().strip_prefix('"')?;
                let (name, rest) = l.split_once('"')?;
                rest.trim_start()
                    .starts_with("=>")
                    .then(|| name.to_string())
            })
            .collect()
    }

    #[test]
    fn every_dispatched_call_is_documented_and_nothing_else() {
        let mut code = dispatched();
        let mut doc: Vec<String> = super::CALLS.iter().map(|c| c.name.to_string()).collect();
        assert!(code.len() >= 18, "{code:?}");
        code.sort();
        doc.sort();
        assert_eq!(code, doc);
        let paths = super::document()["paths"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        for c in super::CALLS {
            assert!(paths.contains(&format!("/v1/{}", c.name)));
        }
    }

    #[test]
    fn every_operation_lists_its_roles_and_the_403() {
        let doc = super::document();
        for c in super::CALLS {
            let op = &doc["paths"][format!("/v1/{}", c.name)]["post"];
            let roles = op["x-roles"].as_array().unwrap();
            assert!(roles.contains(&serde_json::json!("operator")), "{}", c.name);
            assert!(
                op["description"].as_str().unwrap().contains("operator"),
                "{}",
                c.name
            );
            assert!(op["responses"]["403"].is_object(), "{}", c.name);
        }
        let approve = &doc["paths"]["/v1/approve-withdrawal"]["post"];
        assert_eq!(approve["x-roles"], serde_json::json!(["operator"]));
        assert_eq!(
            doc["paths"]["/v1/status"]["get"]["x-roles"],
            serde_json::json!(["game", "observer", "operator"])
        );
    }
}
