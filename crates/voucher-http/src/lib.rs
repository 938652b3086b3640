//! `voucher-http`: the HTTP API over axum. Its core endpoints (`/v1/...`,
//! `/client/v1/...`) follow the wire format of the Voucherify API, so that
//! Voucherify's official SDKs work against it unchanged.
//!
//! The handlers only translate: a wire request into a core command or a
//! store call, the result into the wire's response. They decide nothing the
//! engine decides.

pub mod auth;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod rate_limit;
pub mod render;
pub mod routes;
pub mod state;
pub mod webhooks;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub use crate::error::ApiError;
pub use crate::metrics::Metrics;
pub use crate::rate_limit::RateLimit;
pub use crate::state::{AppState, Clock, Config, Store};

/// A new request id, `v-` and 18 hex digits as the wire's examples show.
fn new_request_id() -> String {
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = [0u8; 9];
    if getrandom::fill(&mut bytes).is_err() {
        // Ids only need to differ; without OS randomness a counter will do.
        let n = FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v-{hex}")
}

/// Gives every request an id, in the error bodies and an `X-Request-Id`
/// header.
async fn request_id(request: Request, next: Next) -> Response {
    let id = new_request_id();
    let mut response = error::REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = id.parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> Response {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "Resource not found",
    )
    .with_details("no such endpoint")
    .into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
    )
    .with_details("this endpoint does not take that method")
    .into_response()
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::scrape))
        .merge(routes::router().layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        )))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_client,
        ))
        // Outside the rate limit (429s count), inside the routing (the
        // route template is known; `Router::layer` wraps the fallback too).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes
/// the requests in flight. The webhook delivery worker runs alongside and
/// stops with the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let server = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    webhooks::alongside(state, async move { server.await }).await
}
