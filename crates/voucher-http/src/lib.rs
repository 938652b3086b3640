//! `voucher-http`: the HTTP API over axum. Its core endpoints (`/v1/...`,
//! `/client/v1/...`) follow the wire format of the Voucherify API, so that
//! Voucherify's official SDKs work against it unchanged.
//!
//! The handlers only translate: a wire request into a core command or a
//! store call, the result into the wire's response. They decide nothing the
//! engine decides.

pub mod asset_image;
pub mod asset_token;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod idempotency;
pub mod lockout;
pub mod logging;
pub mod metrics;
pub mod rate_limit;
pub mod render;
pub mod routes;
pub mod state;
pub mod webhooks;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;

use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub use crate::client_ip::TrustedProxies;
pub use crate::error::ApiError;
pub use crate::lockout::LockoutPolicy;
pub use crate::logging::LogFormat;
pub use crate::metrics::Metrics;
pub use crate::rate_limit::RateLimit;
pub use crate::routes::Routes;
pub use crate::state::{AppState, Clock, Config, Store};

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

/// The routes outside `/v1` and `/client/v1`: no key, no idempotency.
fn service_routes() -> Routes {
    Routes::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(routes::openapi::document))
        .route("/docs", get(routes::openapi::docs))
}

/// The path template of every route [`app`] serves, as given to the router
/// (`/v1/vouchers/{code}`, `/client/v1/{*rest}`): what the OpenAPI document
/// is checked against.
pub fn route_paths() -> Vec<&'static str> {
    let mut paths = service_routes().paths().to_vec();
    paths.extend_from_slice(routes::router().paths());
    paths
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    // The outer middlewares share one `Arc` of the state: a layer clones
    // its state and every layer inside it on each request, and an
    // `AppState` is several `Arc`s, each clone an atomic count that the
    // cores bounce between them.
    let shared = std::sync::Arc::new(state.clone());
    Router::new()
        .merge(service_routes().into_router())
        .merge(
            routes::router()
                .into_router()
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    idempotency::idempotency,
                )),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            rate_limit::limit,
        ))
        // Outermost: the request id, the client address and the log span
        // for everything inside, and the metrics; outside the rate limit
        // (429s count), inside the routing (the route template is known;
        // `Router::layer` wraps the fallback too).
        .layer(middleware::from_fn_with_state(shared, logging::requests))
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
