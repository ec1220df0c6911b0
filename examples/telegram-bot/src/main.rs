//! `cwd-telegram-bot`: see the crate's README. Settings come from the environment
//! (`TELEGRAM_BOT_TOKEN`, `CWD_GATEWAY_URL`, `CWD_GATEWAY_API_TOKEN`, optional
//! `TELEGRAM_API_URL`, `BOT_STATE_FILE`, and a proxy for Telegram from `TELEGRAM_PROXY`,
//! `HTTPS_PROXY`/`https_proxy`, `ALL_PROXY`/`all_proxy`, `NO_PROXY`/`no_proxy`); tokens
//! and the proxy's address (it may hold a password) are never printed.

use std::sync::atomic::AtomicBool;

fn main() -> std::process::ExitCode {
    let settings = match cwd_telegram_bot::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let through = if settings.telegram_proxy.is_some() { " through a proxy" } else { "" };
    let mut bot = match cwd_telegram_bot::Bot::new(settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    eprintln!("telegram-bot: polling the Bot API{through}");
    bot.run(&AtomicBool::new(false));
    std::process::ExitCode::SUCCESS
}
