//! Accounts as a node keeps and writes them.

use cwd_gateway::json::format_time;
use cwd_gateway::keys::PublicKey;
use cwd_gateway::ops::AccountId;
use serde_json::{json, Value};

pub const MIN_NAME_LENGTH: usize = 3;
pub const MAX_NAME_LENGTH: usize = 63;

/// The proxy every fresh account votes through, as on BitShares-family chains.
pub const PROXY_TO_SELF: AccountId = AccountId(5);

/// The six accounts every Graphene chain is born with, in id order.
pub const SYSTEM_ACCOUNTS: [&str; 6] =
    ["committee-account", "witness-account", "relaxed-committee-account", "null-account", "temp-account", "proxy-to-self"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub registrar: AccountId,
    pub owner: PublicKey,
    pub active: PublicKey,
    pub memo: PublicKey,
}

/// Why `name` is refused, when [`is_valid_name`] refuses it (one text for every door).
pub fn invalid_name(name: &str) -> Option<String> {
    (!is_valid_name(name)).then(|| {
        format!("{name:?} is not a valid account name (3..63 lowercase letters, digits, '-', dot-separated labels starting with a letter)")
    })
}

/// Graphene's `is_valid_name`: dot-separated labels, each starting with a letter,
/// ending with a letter or digit, made of lowercase letters, digits and hyphens.
pub fn is_valid_name(name: &str) -> bool {
    if name.len() < MIN_NAME_LENGTH || name.len() > MAX_NAME_LENGTH {
        return false;
    }
    name.split('.').all(|label| {
        let b = label.as_bytes();
        b.len() >= MIN_NAME_LENGTH
            && b[0].is_ascii_lowercase()
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    })
}

fn authority(key: &PublicKey) -> Value {
    json!({
        "weight_threshold": 1,
        "account_auths": [],
        "key_auths": [[key.to_string(), 1]],
        "address_auths": [],
    })
}

pub fn account_ref(id: AccountId) -> String {
    format!("1.2.{}", id.0)
}

impl Account {
    pub fn statistics_id(&self) -> String {
        format!("2.6.{}", self.id.0)
    }

    /// The `account_object` JSON of a BitShares-family node.
    pub fn to_json(&self) -> Value {
        json!({
            "id": account_ref(self.id),
            "membership_expiration_date": format_time(0),
            "registrar": account_ref(self.registrar),
            "referrer": account_ref(self.registrar),
            "lifetime_referrer": account_ref(self.registrar),
            "network_fee_percentage": 2000,
            "lifetime_referrer_fee_percentage": 3000,
            "referrer_rewards_percentage": 0,
            "name": self.name,
            "owner": authority(&self.owner),
            "active": authority(&self.active),
            "options": {
                "memo_key": self.memo.to_string(),
                "voting_account": account_ref(PROXY_TO_SELF),
                "num_witness": 0,
                "num_committee": 0,
                "votes": [],
                "extensions": [],
            },
            "num_committee_voted": 0,
            "statistics": self.statistics_id(),
            "whitelisting_accounts": [],
            "blacklisting_accounts": [],
            "whitelisted_accounts": [],
            "blacklisted_accounts": [],
            "owner_special_authority": [0, {}],
            "active_special_authority": [0, {}],
            "top_n_control_flags": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_graphene_rules() {
        for ok in ["abc", "player-1", "crowdwiz-gateway", "a1b.c-d", "x23"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["ab", "1abc", "Abc", "abc-", "ab..cd", "abc.de", "a_bc", "", long.as_str(), "abc.", "-abc"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}

/// The private keys the devnet holds for an account it created (so its player helpers
/// can sign and decrypt). Accounts made from public keys alone have none.
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    pub owner: Option<cwd_gateway::keys::PrivateKey>,
    pub active: Option<cwd_gateway::keys::PrivateKey>,
    pub memo: Option<cwd_gateway::keys::PrivateKey>,
}
