//! Wakes the cabinet's waiting pages when the event feed reports something about their
//! player. One reader of the feed per host, however many pages wait: started by the first
//! `wait`, stopped once nobody has waited for a minute. The feed is in the store, so it
//! sees what every host sharing the database commits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::gateway::Service;

/// Players named by events a waiting page may have missed.
const BACKLOG: usize = 1024;
/// How often the reader looks when the feed had nothing new.
const POLL: Duration = Duration::from_millis(250);
/// The reader stops after this long without a waiting page.
const IDLE_STOP: Duration = Duration::from_secs(60);

#[derive(Clone, Default)]
pub struct FeedWatch(Arc<Mutex<Option<broadcast::Sender<Arc<str>>>>>);

impl FeedWatch {
    /// The players of every event from now on (user ids), starting the reader if needed.
    pub fn subscribe(&self, service: &Arc<Service>) -> broadcast::Receiver<Arc<str>> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = slot.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        *slot = Some(tx.clone());
        let (me, service) = (self.clone(), service.clone());
        let spawned = std::thread::Builder::new()
            .name("cabinet-feed".into())
            .spawn(move || me.read(&service, tx));
        if spawned.is_err() {
            *slot = None; // the pages fall back to their periodic look
        }
        rx
    }

    fn read(&self, service: &Service, tx: broadcast::Sender<Arc<str>>) {
        // Older news is old: start at the feed's end.
        let mut after = None;
        let mut idle_since = Instant::now();
        loop {
            if tx.receiver_count() > 0 {
                idle_since = Instant::now();
            } else if idle_since.elapsed() >= IDLE_STOP {
                let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
                if tx.receiver_count() == 0 {
                    *slot = None;
                    return;
                }
            }
            let Some(from) = after else {
                match service.with(|a| a.feed_position()) {
                    Ok(head) => after = Some(head),
                    Err(_) => std::thread::sleep(Duration::from_secs(1)),
                }
                continue;
            };
            match service.with(|a| a.list_events(from, 1000)) {
                Ok(page) => {
                    for e in &page {
                        for user in users_of(&crate::imports::event_json(&e.event)) {
                            let _ = tx.send(user.into());
                        }
                    }
                    let done = page.len() < 1000;
                    after = Some(page.last().map_or(from, |e| e.seq));
                    if done {
                        std::thread::sleep(POLL);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cabinet: reading the event feed failed; trying again");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }
}

/// The players an event is about.
pub fn users_of(event: &Value) -> Vec<String> {
    [
        "/user",
        "/withdrawal/user",
        "/from_user",
        "/to_user",
        "/withdrawal_ref/user",
    ]
    .iter()
    .filter_map(|p| event.pointer(p).and_then(Value::as_str).map(str::to_string))
    .collect()
}

/// Waits until an event about `user` comes (or events were missed: then the page should
/// look anyway). Never returns while the reader is gone, so race it with a timer.
pub async fn news_for(rx: &mut broadcast::Receiver<Arc<str>>, user: &str) {
    loop {
        match rx.recv().await {
            Ok(u) if &*u == user => return,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
