//! What a player reads that the gateway writes: the link message sent on chain and the
//! deposit instructions' note, per language. Built in for English and Russian (the
//! CrowdWiz community's first language); the configuration may give its own per
//! language (`config.texts`). A player's language is theirs to set (`set-language`);
//! without one, or without a text in it, English.

use crate::config::{PlayerTexts, DEFAULT_MESSAGE};
use crate::gateway_error::{GatewayError, GwResult};

/// The built-in link messages (`{code}`, `{user}`): the configured
/// `link.message-template` stands for English, and for any language once changed.
const LINK_MESSAGES: &[(&str, &str)] = &[
    ("en", DEFAULT_MESSAGE),
    ("ru", "Ваш код привязки CrowdWiz: {code}. Введите его в игре, чтобы привязать аккаунт. Если вы его не запрашивали, не обращайте внимания на это сообщение."),
];

/// The built-in deposit notes (`{gateway_account}`, `{from_account}`).
const DEPOSIT_NOTES: &[(&str, &str)] = &[
    ("en", "Transfer CWD to {gateway_account} from {from_account}. It is credited once its block is irreversible, usually within a minute or two; transfers from other accounts are not credited automatically."),
    ("ru", "Переведите CWD на {gateway_account} с аккаунта {from_account}. Перевод зачисляется, когда его блок становится необратимым, обычно в течение минуты-двух; переводы с других аккаунтов автоматически не зачисляются."),
];

/// The longest text a configuration may give (a link message must also fit a memo).
pub const MAX_TEXT_BYTES: usize = 1000;

fn find<'a>(list: &'a [(String, String)], language: &str) -> Option<&'a str> {
    list.iter().find(|(l, _)| l == language).map(|(_, t)| t.as_str())
}

fn built_in(list: &'static [(&'static str, &'static str)], language: &str) -> Option<&'static str> {
    list.iter().find(|(l, _)| *l == language).map(|(_, t)| *t)
}

/// The link message template for a player of `language`: the configured text in that
/// language, else (while `link.message-template` is the built-in English one) the
/// built-in text in that language, else `link.message-template`.
pub fn link_message<'a>(texts: &'a PlayerTexts, template: &'a str, language: Option<&str>) -> &'a str {
    let Some(language) = language else { return template };
    if let Some(t) = find(&texts.link_messages, language) {
        return t;
    }
    match template == DEFAULT_MESSAGE {
        true => built_in(LINK_MESSAGES, language).unwrap_or(template),
        false => template,
    }
}

/// The deposit note for a player of `language`, filled in.
pub fn deposit_note(texts: &PlayerTexts, language: Option<&str>, gateway_account: &str, from_account: &str) -> String {
    let language = language.unwrap_or("en");
    let template = find(&texts.deposit_notes, language)
        .or_else(|| built_in(DEPOSIT_NOTES, language))
        .or_else(|| find(&texts.deposit_notes, "en"))
        .unwrap_or(DEPOSIT_NOTES[0].1);
    template.replace("{gateway_account}", gateway_account).replace("{from_account}", from_account)
}

/// A language tag as the gateway keeps it: a primary language subtag, 2 to 3 lowercase
/// ASCII letters (`en`, `ru`, `tr`, `vi`, `zh`…), as Telegram's `language_code` and a
/// browser's `navigator.language` begin.
pub fn check_language(field: &'static str, language: &str) -> GwResult<()> {
    let ok = (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
    match ok {
        true => Ok(()),
        false => Err(GatewayError::invalid(field, "a language is 2 or 3 lowercase letters (en, ru…)")),
    }
}

/// Checks configured texts: known-shaped languages, each once, link messages with
/// `{code}`, every text at most [`MAX_TEXT_BYTES`].
pub fn check(texts: &PlayerTexts) -> GwResult<()> {
    for (field, list) in [("config.texts.link-messages", &texts.link_messages), ("config.texts.deposit-notes", &texts.deposit_notes)] {
        for (i, (language, text)) in list.iter().enumerate() {
            check_language(field, language)?;
            if list[..i].iter().any(|(l, _)| l == language) {
                return Err(GatewayError::invalid(field, "a language is given twice"));
            }
            if text.len() > MAX_TEXT_BYTES || text.trim().is_empty() {
                return Err(GatewayError::invalid(field, "a text is 1 to 1000 bytes"));
            }
            if field == "config.texts.link-messages" && !text.contains("{code}") {
                return Err(GatewayError::invalid(field, "a link message must contain {code}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(link: &[(&str, &str)], notes: &[(&str, &str)]) -> PlayerTexts {
        let own = |l: &[(&str, &str)]| l.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        PlayerTexts { link_messages: own(link), deposit_notes: own(notes) }
    }

    #[test]
    fn a_player_reads_their_language_or_english() {
        let none = texts(&[], &[]);
        assert_eq!(link_message(&none, DEFAULT_MESSAGE, Some("ru")), LINK_MESSAGES[1].1);
        assert_eq!(link_message(&none, DEFAULT_MESSAGE, Some("tr")), DEFAULT_MESSAGE);
        assert_eq!(link_message(&none, DEFAULT_MESSAGE, None), DEFAULT_MESSAGE);
        // The operator's own template is theirs in every language they did not give…
        assert_eq!(link_message(&none, "Dragon code {code}", Some("ru")), "Dragon code {code}");
        // …unless they gave one.
        let own = texts(&[("ru", "Код дракона {code}")], &[]);
        assert_eq!(link_message(&own, "Dragon code {code}", Some("ru")), "Код дракона {code}");
        assert!(deposit_note(&none, Some("ru"), "gw", "alice").starts_with("Переведите CWD на gw с аккаунта alice."));
        assert!(deposit_note(&none, None, "gw", "alice").starts_with("Transfer CWD to gw from alice."));
        let notes = texts(&[], &[("en", "Pay {gateway_account}, from {from_account} only")]);
        assert_eq!(deposit_note(&notes, Some("vi"), "gw", "a"), "Pay gw, from a only");
    }

    #[test]
    fn configured_texts_are_checked() {
        assert!(check(&texts(&[("ru", "{code}")], &[("ru", "x")])).is_ok());
        for bad in [
            texts(&[("RU", "{code}")], &[]),
            texts(&[("ru", "no code")], &[]),
            texts(&[("ru", "{code}"), ("ru", "{code}!")], &[]),
            texts(&[], &[("english", "x")]),
            texts(&[], &[("en", " ")]),
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
        assert!(check_language("language", "en").is_ok() && check_language("language", "e").is_err());
    }
}
