//! The bot's words, one plain JSON catalogue per language (`i18n/<lang>.json`: a flat
//! object of key → text, `{name}` for a value filled in). Plain JSON because the texts are
//! short sentences with named values and no plural rules the bot needs; a translator edits
//! one file with any editor, and the format needs no new dependency. Adding a language is
//! adding its file: the build script lists every `i18n/<lang>.json` in [`CATALOGUES`].

use std::collections::HashMap;
use std::sync::OnceLock;

/// Every language the bot speaks, English (the fallback) first.
pub const CATALOGUES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/catalogues.rs"));

/// The fallback language: players whose Telegram language the bot does not speak.
pub const DEFAULT: &str = "en";

type Texts = HashMap<String, String>;

fn parsed() -> &'static Vec<(&'static str, Texts)> {
    static PARSED: OnceLock<Vec<(&'static str, Texts)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, json)| {
                let texts: Texts = serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("i18n/{lang}.json is not a flat JSON object of strings: {e}"));
                (*lang, texts)
            })
            .collect()
    })
}

/// The languages, in [`CATALOGUES`] order.
pub fn languages() -> Vec<&'static str> {
    CATALOGUES.iter().map(|(l, _)| *l).collect()
}

/// A language's catalogue, if the bot has it.
pub fn catalogue(lang: &str) -> Option<&'static Texts> {
    parsed().iter().find(|(l, _)| *l == lang).map(|(_, t)| t)
}

/// The language for a Telegram `language_code` (an IETF tag such as `ru`, `en-US`,
/// `ru-RU`): its primary subtag if the bot speaks it, else [`DEFAULT`].
pub fn language_for(code: Option<&str>) -> &'static str {
    let primary = code
        .unwrap_or("")
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    languages()
        .into_iter()
        .find(|l| *l == primary)
        .unwrap_or(DEFAULT)
}

/// The text for `key` in `lang` with `{name}` filled from `values`; a key missing from a
/// language falls back to [`DEFAULT`], then to the key itself (the catalogue test
/// makes sure neither happens).
pub fn text(lang: &str, key: &str, values: &[(&str, String)]) -> String {
    let raw = catalogue(lang)
        .and_then(|t| t.get(key))
        .or_else(|| catalogue(DEFAULT).and_then(|t| t.get(key)))
        .map(String::as_str)
        .unwrap_or(key);
    fill(raw, values)
}

fn fill(raw: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if values.iter().any(|(n, _)| *n == &after[..close]) => {
                let name = &after[..close];
                out.push_str(&values.iter().find(|(n, _)| *n == name).unwrap().1);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders of a text.
pub fn placeholders(raw: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if !after[..close].is_empty()
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                names.push(after[..close].to_string());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names.sort();
    names.dedup();
    names
}
