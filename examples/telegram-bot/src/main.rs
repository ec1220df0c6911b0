//! `cwd-telegram-bot`: see the crate's README. Settings come from the environment
//! (`TELEGRAM_BOT_TOKEN`, `CWD_GATEWAY_URL`, `CWD_GATEWAY_API_TOKEN`, optional
//! `TELEGRAM_API_URL`); tokens are never printed.

use std::sync::atomic::AtomicBool;

fn main() -> std::process::ExitCode {
    let settings = match cwd_telegram_bot::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    eprintln!("telegram-bot: polling the Bot API");
    cwd_telegram_bot::Bot::new(settings).run(&AtomicBool::new(false));
    std::process::ExitCode::SUCCESS
}
