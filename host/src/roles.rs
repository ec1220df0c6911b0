//! Who may make which call: API tokens, each with a name and a role, and the table of
//! the roles every call allows. `docs/http-api.md` ("Tokens and roles") for operators.
//!
//! A request is authenticated against every configured token (digests compared in
//! constant time, all of them, whichever matches), which gives its [`Caller`]; the call
//! is then refused with `403 forbidden` unless the caller's role is in the call's entry
//! of [`TABLE`]. Call names the table does not know are left to `dispatch` (its
//! `unknown-call`).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// What a token may do. `game`, `operator` and `observer` are configured; `cabinet` is
/// the player's web cabinet's own internal caller, never a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The game server: players' links, balances, withdrawals, transfers, referrals.
    Game,
    /// The people who run the gateway: everything.
    Operator,
    /// Dashboards and Prometheus: status, metrics and listings; nothing that writes.
    Observer,
    /// The player's web cabinet, acting for one signed-in player (`crate::cabinet`).
    Cabinet,
}

impl Role {
    /// The roles a token may be given, as the configuration names them.
    pub const CONFIGURABLE: [Role; 3] = [Role::Game, Role::Operator, Role::Observer];

    pub fn name(self) -> &'static str {
        match self {
            Role::Game => "game",
            Role::Operator => "operator",
            Role::Observer => "observer",
            Role::Cabinet => "cabinet",
        }
    }

    /// A configured role by name (`cabinet` is not one).
    pub fn parse(name: &str) -> Option<Role> {
        Role::CONFIGURABLE.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who makes a call: the token's name (the actor later records name) and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    pub fn new(name: impl Into<String>, role: Role) -> Caller {
        Caller {
            name: name.into(),
            role,
        }
    }

    /// The cabinet, calling for a player: exactly the calls in [`CABINET_CALLS`].
    pub fn cabinet() -> Caller {
        Caller::new("cabinet", Role::Cabinet)
    }

    /// Whether this caller may make `call`; call names no table knows are allowed
    /// through (dispatch answers them `unknown-call`).
    pub fn may_call(&self, call: &str) -> bool {
        match self.role {
            Role::Cabinet => CABINET_CALLS.contains(&call) || roles_for(call).is_none(),
            role => roles_for(call).is_none_or(|roles| roles.contains(&role)),
        }
    }

    /// `403 forbidden` when this caller may not make `call`: which roles may, and who
    /// this caller is (by name and role; never the token).
    pub fn refusal(&self, call: &str) -> Option<(u16, Value)> {
        if self.may_call(call) {
            return None;
        }
        let needs = roles_for(call).unwrap_or(&[]);
        let names: Vec<&str> = needs.iter().map(|r| r.name()).collect();
        let which = match names.as_slice() {
            [one] => format!("the {one} role"),
            [init @ .., last] => format!("the {} or {last} role", init.join(", ")),
            [] => "a role no token has".into(),
        };
        let message = format!(
            "{call} needs {which} (this token is `{}`, role {})",
            self.name, self.role
        );
        Some((
            403,
            json!({ "error": { "code": "forbidden", "message": message, "needs": names } }),
        ))
    }
}

const ALL: &[Role] = &[Role::Game, Role::Observer, Role::Operator];
const GAME: &[Role] = &[Role::Game, Role::Operator];
const OBSERVE: &[Role] = &[Role::Observer, Role::Operator];
const OPERATOR: &[Role] = &[Role::Operator];

/// Every call and the roles that may make it; the operator may make every one.
pub const TABLE: &[(&str, &[Role])] = &[
    // Reads for the game, the operator and observers.
    ("whoami", ALL),
    ("status", ALL),
    ("account", ALL),
    ("deposit-instructions", ALL),
    ("quote-deposit", ALL),
    ("quote-withdrawal", ALL),
    ("get-withdrawal", ALL),
    ("list-withdrawals", ALL),
    ("list-deposits", ALL),
    ("list-transfers", ALL),
    ("list-referrals", ALL),
    ("referral-earnings", ALL),
    ("list-events", ALL),
    ("feed-position", ALL),
    ("statement", ALL),
    // What the game server does for its players.
    ("start-link", GAME),
    ("link-challenge", GAME),
    ("start-memo-link", GAME),
    ("confirm-link", GAME),
    ("unlink", GAME),
    ("adjust-balance", GAME),
    ("request-withdrawal", GAME),
    ("transfer-internal", GAME),
    ("set-referrer", GAME),
    ("reward-referrers", GAME),
    ("revoke-cabinet-sessions", GAME),
    ("set-language", GAME),
    // Reads for the people who run the gateway.
    ("list-unclaimed", OBSERVE),
    ("list-unknown-payouts", OBSERVE),
    ("list-sweeps", OBSERVE),
    ("list-webhook-deliveries", OBSERVE),
    ("get-settings", OBSERVE),
    ("list-audit", OBSERVE),
    ("reconcile", OBSERVE),
    ("list-movements", OBSERVE),
    // The operator's decisions.
    ("approve-withdrawal", OPERATOR),
    ("reject-withdrawal", OPERATOR),
    ("cancel-withdrawal", OPERATOR),
    ("acknowledge-unknown-payout", OPERATOR),
    ("assign-unclaimed", OPERATOR),
    ("refund-unclaimed", OPERATOR),
    ("redeliver-event", OPERATOR),
    ("tick", OPERATOR),
    ("update-settings", OPERATOR),
];

/// Calls in [`TABLE`] that dispatch does not serve yet (issue 25's settings, audit and
/// reports, being added): refused to other roles already, `unknown-call` to these.
pub const NOT_YET_DISPATCHED: &[&str] = &[];

/// What the cabinet calls for a player, no more (its own checks come first: the user
/// is the session's, and only the arguments a player may choose are passed).
pub const CABINET_CALLS: &[&str] = &[
    "account",
    "deposit-instructions",
    "quote-deposit",
    "quote-withdrawal",
    "link-challenge",
    "start-link",
    "start-memo-link",
    "confirm-link",
    "request-withdrawal",
    "get-withdrawal",
    "list-deposits",
    "list-withdrawals",
    "unlink",
    // An operator call the cabinet makes for a player's own unsent withdrawal only,
    // recorded as `player:<user>` (`crate::cabinet`); no token role gains it.
    "cancel-withdrawal",
    "list-referrals",
    "referral-earnings",
    "set-language",
];

/// The roles that may make `call` (the configurable ones), if the table knows it.
pub fn roles_for(call: &str) -> Option<&'static [Role]> {
    TABLE
        .iter()
        .find(|(name, _)| *name == call)
        .map(|(_, r)| *r)
}

/// One configured token: a name, a role, and the token's SHA-256 (compared, never the
/// token itself; wiped when dropped).
pub struct ApiToken {
    name: String,
    role: Role,
    digest: Zeroizing<[u8; 32]>,
}

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

impl ApiToken {
    /// `secret` trimmed; the name is checked as the configuration's (see [`check_name`]).
    pub fn new(name: &str, role: Role, secret: &str) -> anyhow::Result<ApiToken> {
        check_name(name)?;
        let secret = secret.trim();
        if secret.len() < MIN_TOKEN_LEN {
            anyhow::bail!(
                "the API token `{name}` must be at least {MIN_TOKEN_LEN} characters; make a long random one (e.g. openssl rand -hex 32)"
            );
        }
        Ok(ApiToken {
            name: name.to_string(),
            role,
            digest: digest(secret.as_bytes()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

fn digest(bytes: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

/// A token name: 1 to 32 characters of `a-z 0-9 . _ -`. The error never quotes it (a
/// token pasted into the wrong field must not be echoed).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        anyhow::bail!(
            "a token name must be 1 to 32 characters of a-z 0-9 . _ - (like `game-server`)"
        );
    }
    Ok(())
}

/// The tokens an API accepts: names unique, tokens distinct, at least one.
#[derive(Debug)]
pub struct ApiTokens(Vec<ApiToken>);

impl ApiTokens {
    pub fn new(tokens: Vec<ApiToken>) -> anyhow::Result<ApiTokens> {
        if tokens.is_empty() {
            anyhow::bail!("no API token configured");
        }
        for (i, a) in tokens.iter().enumerate() {
            for b in &tokens[..i] {
                if a.name == b.name {
                    anyhow::bail!(
                        "two API tokens are named `{}`: give each token its own name",
                        a.name
                    );
                }
                if bool::from(subtle::ConstantTimeEq::ct_eq(&a.digest[..], &b.digest[..])) {
                    anyhow::bail!(
                        "the API tokens `{}` and `{}` are the same token: give each its own (a token has one role)",
                        b.name,
                        a.name
                    );
                }
            }
        }
        Ok(ApiTokens(tokens))
    }

    /// One token named `default` with the operator role: the single token of earlier
    /// versions (`[http] token_file`, `$CWD_GATEWAY_API_TOKEN`), and embedders' one.
    pub fn single(secret: &str) -> ApiTokens {
        ApiTokens(vec![ApiToken {
            name: DEFAULT_NAME.into(),
            role: Role::Operator,
            digest: digest(secret.trim().as_bytes()),
        }])
    }

    /// The caller whose token `presented` is. Compared with every token in constant
    /// time, without stopping at a match: neither the timing nor the work done says
    /// which token matched, or how close a guess came.
    pub fn authenticate(&self, presented: &[u8]) -> Option<Caller> {
        use subtle::{ConditionallySelectable, ConstantTimeEq};
        let given = digest(presented);
        let mut found = 0u32;
        for (i, token) in self.0.iter().enumerate() {
            let hit = given[..].ct_eq(&token.digest[..]);
            found.conditional_assign(&(i as u32 + 1), hit);
        }
        let token = self.0.get((found as usize).checked_sub(1)?)?;
        Some(Caller::new(token.name.clone(), token.role))
    }

    pub fn iter(&self) -> impl Iterator<Item = &ApiToken> {
        self.0.iter()
    }
}

/// The name of the single token of earlier versions.
pub const DEFAULT_NAME: &str = "default";

#[cfg(test)]
mod tests {
    /// The HTTP API reference lists each call with exactly the roles of [`TABLE`].
    #[test]
    fn the_docs_list_every_call_with_its_roles() {
        let docs = include_str!("../../docs/http-api.md");
        let mut listed = std::collections::BTreeMap::new();
        for line in docs.lines().filter(|l| l.starts_with("| [`")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_start_matches("[`").split('`').next().unwrap();
            listed.insert(name.to_string(), cells[2].to_string());
        }
        for (call, roles) in TABLE {
            let mut want: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            want.sort_by_key(|r| ["game", "operator", "observer"].iter().position(|x| x == r));
            let listed = listed.remove(*call).unwrap_or_else(|| panic!("{call} is not in the calls table of docs/http-api.md"));
            assert_eq!(listed, want.join(", "), "{call}: the docs' roles");
        }
        assert!(listed.is_empty(), "calls in the docs but not in the role table: {listed:?}");
    }

    use super::*;

    #[test]
    fn every_documented_call_has_roles_and_every_entry_is_a_call() {
        let calls: Vec<&str> = crate::openapi::CALLS.iter().map(|c| c.name).collect();
        for c in &calls {
            assert!(roles_for(c).is_some(), "{c} has no entry in roles::TABLE");
        }
        for (name, roles) in TABLE {
            assert!(
                calls.contains(name) ^ NOT_YET_DISPATCHED.contains(name),
                "{name}: in the table, but neither a call nor one being added (or both)"
            );
            assert!(
                roles.contains(&Role::Operator),
                "{name}: the operator may call everything"
            );
            assert!(
                !roles.contains(&Role::Cabinet),
                "{name}: the cabinet is no token's role"
            );
            assert_eq!(
                TABLE.iter().filter(|(n, _)| n == name).count(),
                1,
                "{name} twice"
            );
        }
        for c in CABINET_CALLS {
            assert!(calls.contains(c), "the cabinet calls {c}, which is no call");
        }
    }

    /// The names the cabinet passes to `run_call`, read from its source: the cabinet
    /// role allows exactly what it calls.
    #[test]
    fn the_cabinet_role_is_what_the_cabinet_calls() {
        let src: String = include_str!("cabinet/mod.rs")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut called: Vec<&str> = src
            .split("run_call(")
            .skip(1)
            .filter_map(|rest| {
                let rest = rest
                    .strip_prefix("&st,")
                    .or_else(|| rest.strip_prefix("st,"))?;
                rest.strip_prefix('"')?.split('"').next()
            })
            .collect();
        // `run_call_as(st, &caller, "call", …)`: a player-named cabinet caller.
        called.extend(src.split("run_call_as(").skip(1).filter_map(|rest| {
            let rest = rest.strip_prefix("st,").or_else(|| rest.strip_prefix("&st,"))?;
            let (_caller, rest) = rest.split_once(",\"")?;
            rest.split('"').next()
        }));
        called.sort_unstable();
        called.dedup();
        let mut allowed = CABINET_CALLS.to_vec();
        allowed.sort_unstable();
        assert_eq!(called, allowed);
        let cabinet = Caller::cabinet();
        assert!(!cabinet.may_call("approve-withdrawal") && !cabinet.may_call("adjust-balance"));
        // The player's own cancel is the cabinet's; no configured role gains it.
        assert!(Caller::new("player:alice", Role::Cabinet).may_call("cancel-withdrawal"));
        assert_eq!(roles_for("cancel-withdrawal"), Some(OPERATOR));
        assert!(!Caller::new("game", Role::Game).may_call("cancel-withdrawal"));
        assert!(
            cabinet.may_call("no-such-call"),
            "unknown calls are dispatch's to answer"
        );
    }

    #[test]
    fn refusals_name_the_roles_and_the_token_never_its_secret() {
        let game = Caller::new("game-server", Role::Game);
        let (status, body) = game.refusal("approve-withdrawal").unwrap();
        assert_eq!(status, 403);
        assert_eq!(body["error"]["code"], "forbidden");
        assert_eq!(body["error"]["needs"], json!(["operator"]));
        assert_eq!(
            body["error"]["message"],
            "approve-withdrawal needs the operator role (this token is `game-server`, role game)"
        );
        let observer = Caller::new("grafana", Role::Observer);
        let (_, body) = observer.refusal("adjust-balance").unwrap();
        assert_eq!(body["error"]["needs"], json!(["game", "operator"]));
        assert_eq!(
            body["error"]["message"],
            "adjust-balance needs the game or operator role (this token is `grafana`, role observer)"
        );
        assert!(game.refusal("status").is_none() && game.refusal("no-such-call").is_none());
    }

    #[test]
    fn tokens_authenticate_to_their_caller_only() {
        let tokens = ApiTokens::new(vec![
            ApiToken::new("game-server", Role::Game, "game-token-0123456789\n").unwrap(),
            ApiToken::new("prometheus", Role::Observer, "observer-token-0123456789").unwrap(),
        ])
        .unwrap();
        assert_eq!(
            tokens.authenticate(b"game-token-0123456789"),
            Some(Caller::new("game-server", Role::Game))
        );
        assert_eq!(
            tokens
                .authenticate(b"observer-token-0123456789")
                .map(|c| c.role),
            Some(Role::Observer)
        );
        for wrong in [
            &b""[..],
            b"game-token-012345678",
            b"game-token-0123456789x",
            b"observer",
        ] {
            assert_eq!(tokens.authenticate(wrong), None);
        }
        let debug = format!("{tokens:?}");
        assert!(
            debug.contains("game-server") && !debug.contains("game-token"),
            "{debug}"
        );
        let same = ApiTokens::new(vec![
            ApiToken::new("a", Role::Game, "same-token-0123456789").unwrap(),
            ApiToken::new("b", Role::Operator, "same-token-0123456789").unwrap(),
        ]);
        let e = same.unwrap_err().to_string();
        assert!(
            e.contains("`a` and `b`") && !e.contains("same-token"),
            "{e}"
        );
        assert!(ApiToken::new("a", Role::Game, "short").is_err());
        for bad in ["", "Game", "a b", "x".repeat(33).as_str(), "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name(&"a._-9".repeat(6)[..30]).unwrap();
    }
}
