//! Reads the next page of the gateway's account history while the component applies
//! the current one (a catch-up scans page after page: node round trip, then apply and
//! commit; overlapping them keeps both cores busy).
//!
//! A [`Node`] wrapper. After a full window of `history.get_relative_account_history`
//! (`[account, stop, limit, start]` answered with `limit` entries) it asks for the next
//! window (`[account, start + 1, limit, start + limit]`) on a background thread; when the
//! component asks for exactly that window, it gets that answer.
//!
//! Why a prefetched page is as good as a fresh one: it is served only if *no other node
//! call* happened since it was requested, and it is requested after the tick read the
//! irreversible block it scans up to (the statistics call at the start of a tick is another
//! call, so it discards any earlier prefetch). Every entry at or below that block was
//! already final when the page was read, and the component applies no other. Only full
//! pages are kept (a short one may miss entries added since), a fail-over discards the
//! prefetch, and a prefetch that failed is simply asked again, directly.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use serde::de::IgnoredAny;

use crate::node::{Node, NodeError};

const API: &str = "history";
const METHOD: &str = "get_relative_account_history";

struct Pending {
    params: String,
    answer: Receiver<Result<String, NodeError>>,
}

pub struct HistoryPrefetch {
    inner: Arc<dyn Node>,
    pending: Mutex<Option<Pending>>,
}

impl HistoryPrefetch {
    pub fn new(inner: Arc<dyn Node>) -> Self {
        HistoryPrefetch { inner, pending: Mutex::new(None) }
    }

    fn take(&self) -> Option<Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The window after `params` when `answer` filled it.
    fn next_window(params: &str, answer: &str) -> Option<String> {
        let (account, stop, limit, start): (String, u64, u64, u64) = serde_json::from_str(params).ok()?;
        if limit == 0 || start.checked_sub(stop)? + 1 != limit {
            return None;
        }
        let entries: Vec<IgnoredAny> = serde_json::from_str(answer).ok()?;
        if entries.len() as u64 != limit {
            return None;
        }
        let next_start = start.checked_add(limit)?;
        Some(serde_json::json!([account, start + 1, limit, next_start]).to_string())
    }

    fn prefetch(&self, params: String) {
        let (tx, rx) = mpsc::channel();
        let inner = self.inner.clone();
        let request = params.clone();
        let spawned = std::thread::Builder::new().name("history-prefetch".into()).spawn(move || {
            let _ = tx.send(inner.call(API, METHOD, &request));
        });
        if spawned.is_ok() {
            *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(Pending { params, answer: rx });
        }
    }
}

impl Node for HistoryPrefetch {
    fn call(&self, api: &str, method: &str, params_json: &str) -> Result<String, NodeError> {
        let pending = self.take();
        if api != API || method != METHOD {
            return self.inner.call(api, method, params_json);
        }
        let prefetched = pending
            .filter(|p| p.params == params_json)
            .and_then(|p| p.answer.recv().ok())
            .and_then(|answer| answer.ok())
            .filter(|answer| Self::next_window(params_json, answer).is_some());
        let answer = match prefetched {
            Some(answer) => answer,
            None => self.inner.call(api, method, params_json)?,
        };
        if let Some(next) = Self::next_window(params_json, &answer) {
            self.prefetch(next);
        }
        Ok(answer)
    }

    fn fail_over(&self, reason: &str) -> bool {
        drop(self.take());
        self.inner.fail_over(reason)
    }

    fn blocks_announced(&self) -> Option<u64> {
        self.inner.blocks_announced()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// History of `total` entries; counts calls; `version` changes every answer's content.
    struct Book {
        total: AtomicU64,
        calls: Mutex<Vec<String>>,
        version: AtomicU64,
    }

    impl Node for Book {
        fn call(&self, api: &str, method: &str, params: &str) -> Result<String, NodeError> {
            self.calls.lock().unwrap().push(format!("{api}.{method}{params}"));
            if method != METHOD {
                return Ok("{}".into());
            }
            let (_, stop, limit, start): (String, u64, u64, u64) = serde_json::from_str(params).unwrap();
            let total = self.total.load(Ordering::SeqCst);
            let v = self.version.load(Ordering::SeqCst);
            let entries: Vec<String> = (stop..=start.min(total)).rev().take(limit as usize).map(|s| format!(r#"{{"seq":{s},"v":{v}}}"#)).collect();
            Ok(format!("[{}]", entries.join(",")))
        }
    }

    /// Until the node has seen `n` calls (a prefetch runs on its own thread).
    fn seen(book: &Book, n: usize) {
        while book.calls.lock().unwrap().len() < n {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn window(stop: u64) -> String {
        serde_json::json!(["1.2.5", stop, 100, stop + 99]).to_string()
    }

    fn setup(total: u64) -> (Arc<Book>, HistoryPrefetch) {
        let book = Arc::new(Book { total: AtomicU64::new(total), calls: Mutex::new(Vec::new()), version: AtomicU64::new(0) });
        (book.clone(), HistoryPrefetch::new(book))
    }

    #[test]
    fn full_pages_bring_the_next_one_and_it_is_served_once() {
        let (book, node) = setup(250);
        let first = node.call(API, METHOD, &window(1)).unwrap();
        seen(&book, 2);
        book.version.store(1, Ordering::SeqCst);
        // Served from the prefetch (made before the version changed), then the third
        // window is prefetched; it is short, so it is asked again directly.
        let second = node.call(API, METHOD, &window(101)).unwrap();
        assert!(first.contains(r#""seq":100,"v":0"#) && second.contains(r#""seq":200,"v":0"#), "{second}");
        let third = node.call(API, METHOD, &window(201)).unwrap();
        assert!(third.contains(r#""seq":250,"v":1"#));
        let calls = book.calls.lock().unwrap().clone();
        // window 1, prefetch 101, prefetch 201 (short: not kept), window 201 directly; no prefetch after a short page.
        assert_eq!(calls.len(), 4, "{calls:?}");
    }

    #[test]
    fn any_other_call_or_a_fail_over_discards_the_prefetch() {
        let (book, node) = setup(1_000);
        node.call(API, METHOD, &window(1)).unwrap();
        seen(&book, 2);
        book.version.store(1, Ordering::SeqCst);
        node.call("database", "get_objects", r#"[["2.6.5","2.1.0"]]"#).unwrap();
        assert!(node.call(API, METHOD, &window(101)).unwrap().contains(r#""v":1"#), "a fresh read after the statistics call");
        seen(&book, 4);
        book.version.store(2, Ordering::SeqCst);
        node.fail_over("test");
        assert!(node.call(API, METHOD, &window(201)).unwrap().contains(r#""v":2"#), "a fresh read after a fail-over");
        // Another window than the one prefetched: read directly.
        seen(&book, 6);
        book.version.store(3, Ordering::SeqCst);
        assert!(node.call(API, METHOD, &window(500)).unwrap().contains(r#""v":3"#));
    }
}
