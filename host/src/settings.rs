//! Runtime settings over HTTP: `update-settings` takes any part of the settings and
//! changes only what it names, over the settings in force (the component checks the
//! whole and the revision, so a change made meanwhile is refused, never overwritten).

use serde_json::Value;

use crate::bindings::api::Settings;

/// `current` with the fields of `given` (a JSON object shaped like `get-settings`'
/// `settings`, any subset) replaced. A field the settings do not have is refused, so a
/// misspelt name is an error rather than a silent no-op.
pub fn merged(current: &Settings, given: &Value) -> Result<Settings, String> {
    let mut base = serde_json::to_value(current).map_err(|e| e.to_string())?;
    overlay(&mut base, given, "settings")?;
    serde_json::from_value(base).map_err(|e| format!("`settings`: {e}"))
}

fn overlay(base: &mut Value, given: &Value, path: &str) -> Result<(), String> {
    match (base, given) {
        (Value::Object(b), Value::Object(g)) => {
            for (k, v) in g {
                let here = format!("{path}.{k}");
                let slot = b
                    .get_mut(k)
                    .ok_or_else(|| format!("`{here}` is not a setting (see get-settings)"))?;
                overlay(slot, v, &here)?;
            }
            Ok(())
        }
        (Value::Object(_), _) => Err(format!("`{path}` must be an object")),
        (b, g) => {
            *b = g.clone();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::api::*;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            deposit_rate: Rate { game_units: 90, per_cwd_units: 100_000 },
            withdrawal_rate: Rate { game_units: 100, per_cwd_units: 100_000 },
            link: LinkConfig {
                code_digits: 6,
                code_ttl_ms: 600_000,
                max_attempts: 5,
                message_template: "{code}".into(),
                user_interval_ms: 60_000,
                user_daily: 10,
                account_daily: 5,
                global_daily: 1000,
                pow_bits: 0,
            },
            withdrawals: WithdrawalConfig {
                min_cwd: 100_000,
                max_cwd: 0,
                daily_cwd: 0,
                review_above_cwd: 0,
                four_eyes_above_cwd: 0,
                daily_count: 0,
                fee_cwd: 0,
                expiration_secs: 120,
                max_attempts: 3,
            },
            low_fee_balance_cwd: 0,
            treasury: TreasuryConfig {
                cold_account: String::new(),
                high_water_cwd: 0,
                low_water_cwd: 0,
                fee_reserve_cwd: 0,
                low_fee_days: 0,
                min_sweep_cwd: 100_000,
                max_transfer_fee_cwd: 1_000_000,
                max_message_fee_cwd: 1_000_000,
            },
            referrals: ReferralConfig {
                level_rates_per_mille: vec![],
                cashback_per_mille: 0,
                pool_user: "referral-pool".into(),
            },
        }
    }

    #[test]
    fn only_the_named_fields_change() {
        let s = merged(&settings(), &json!({ "deposit_rate": { "game_units": 120 }, "withdrawals": { "four_eyes_above_cwd": 5 } })).unwrap();
        let json = |v: &Settings| serde_json::to_value(v).unwrap();
        assert_eq!((s.deposit_rate.game_units, s.deposit_rate.per_cwd_units), (120, 100_000));
        assert_eq!(s.withdrawals.four_eyes_above_cwd, 5);
        let (mut want, got) = (json(&settings()), json(&s));
        want["deposit_rate"]["game_units"] = json!(120);
        want["withdrawals"]["four_eyes_above_cwd"] = json!(5);
        assert_eq!(got, want, "nothing else changed");
    }

    #[test]
    fn unknown_and_ill_typed_fields_are_refused() {
        let e = merged(&settings(), &json!({ "deposit_rte": {} })).unwrap_err();
        assert!(e.contains("settings.deposit_rte"), "{e}");
        let e = merged(&settings(), &json!({ "deposit_rate": 5 })).unwrap_err();
        assert!(e.contains("must be an object"), "{e}");
        let e = merged(&settings(), &json!({ "deposit_rate": { "game_units": -1 } })).unwrap_err();
        assert!(e.contains("settings"), "{e}");
        let e = merged(&settings(), &json!({ "referrals": { "level_rates_per_mille": "x" } })).unwrap_err();
        assert!(e.contains("settings"), "{e}");
    }
}
