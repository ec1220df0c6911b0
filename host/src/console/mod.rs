//! The operator console, served by the HTTP API under `/console/` unless
//! `[console] enabled = false`: plain HTML, one script and one stylesheet
//! (`host/console/`, embedded), and nothing else. Unlike the cabinet it has no calls of
//! its own: the page signs in with an API token (an operator's or an observer's), keeps
//! it in the tab's `sessionStorage`, and makes every action as `POST /v1/<call>` with
//! that token, so the server's roles decide what it may do ([`crate::roles`]). `whoami`
//! tells the page which role it holds (an observer's console is read-only; a game
//! token is turned away). See `docs/console.md`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use serde_json::json;

use crate::http_api::{respond_with, static_page, AppState};

const INDEX_HTML: &str = include_str!("../../console/index.html");
const APP_JS: &str = include_str!("../../console/app.js");
const STYLE_CSS: &str = include_str!("../../console/console.css");

/// The console's routes, merged into the API's router unless it is turned off.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(redirect))
        .route(
            "/console/",
            get(|| async { static_page("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console/app.js",
            get(|| async { static_page("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/console/console.css",
            get(|| async { static_page("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route(
            "/console/{*rest}",
            any(|| async {
                respond_with(
                    404,
                    json!({ "error": { "code": "not-found", "message": "no such page in the console; its calls are POST /v1/<call>" } }),
                    &[("cache-control", "no-store")],
                )
            }),
        )
}

async fn redirect() -> Response {
    axum::http::Response::builder()
        .status(308)
        .header(header::LOCATION, "/console/")
        .body(Body::empty())
        .expect("static header")
}
