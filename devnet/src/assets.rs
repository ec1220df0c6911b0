//! Assets: CWD (`1.3.0`) and user-issued assets, with the `asset_object` and
//! `asset_dynamic_data_object` JSON a node writes (asset_object.hpp).

use cwd_gateway::json::write_i64;
use cwd_gateway::ops::{AccountId, AssetId, CORE_ASSET_PRECISION, MAX_SHARE_SUPPLY};
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    pub id: AssetId,
    pub symbol: String,
    pub precision: u8,
    pub issuer: AccountId,
    pub max_supply: i64,
    /// Units in existence (issued minus burned fees for CWD).
    pub current_supply: i64,
}

impl AssetInfo {
    pub fn core() -> Self {
        AssetInfo {
            id: AssetId(0),
            symbol: "CWD".into(),
            precision: CORE_ASSET_PRECISION as u8,
            issuer: AccountId(3),
            max_supply: MAX_SHARE_SUPPLY,
            current_supply: 0,
        }
    }

    pub fn id_string(&self) -> String {
        format!("1.3.{}", self.id.0)
    }

    /// Graphene's `is_valid_symbol`: 3..16 characters, A-Z, digits and at most one dot
    /// inside, starting with a letter and ending with a letter or digit.
    pub fn is_valid_symbol(s: &str) -> bool {
        let b = s.as_bytes();
        (3..=16).contains(&b.len())
            && b[0].is_ascii_uppercase()
            && (b[b.len() - 1].is_ascii_uppercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'.')
            && b.iter().filter(|c| **c == b'.').count() <= 1
    }

    /// `1.3.N`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id_string(),
            "symbol": self.symbol,
            "precision": self.precision,
            "issuer": format!("1.2.{}", self.issuer.0),
            "options": {
                "max_supply": write_i64(self.max_supply),
                "market_fee_percent": 0,
                "max_market_fee": write_i64(self.max_supply),
                "issuer_permissions": if self.id.0 == 0 { 0 } else { 79 },
                "flags": 0,
                "core_exchange_rate": {
                    "base": { "amount": 1, "asset_id": "1.3.0" },
                    "quote": { "amount": 1, "asset_id": self.id_string() },
                },
                "whitelist_authorities": [],
                "blacklist_authorities": [],
                "whitelist_markets": [],
                "blacklist_markets": [],
                "description": "",
                "extensions": [],
            },
            "dynamic_asset_data_id": format!("2.3.{}", self.id.0),
        })
    }

    /// `2.3.N`.
    pub fn dynamic_json(&self) -> Value {
        json!({
            "id": format!("2.3.{}", self.id.0),
            "current_supply": write_i64(self.current_supply),
            "confidential_supply": 0,
            "accumulated_fees": 0,
            "fee_pool": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols() {
        for ok in ["CWD", "GOLD", "A.B1", "ABCDEFGHIJKLMNOP"] {
            assert!(AssetInfo::is_valid_symbol(ok), "{ok}");
        }
        for bad in ["", "AB", "gold", "1AB", "AB.", "A..B", "A.B.C", "ABCDEFGHIJKLMNOPQ", "AB-C"] {
            assert!(!AssetInfo::is_valid_symbol(bad), "{bad}");
        }
    }
}
