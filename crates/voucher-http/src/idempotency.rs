//! The `Idempotency-Key` header on mutating requests (POST, PUT, DELETE).
//!
//! The first request with a key claims it in the store; its answer (2xx or
//! 4xx) is kept, and a retry with the same key and the same request gets that
//! answer back, status and body byte for byte, without running again. The
//! same key with another request is 422 `idempotency_key_reused`; a retry
//! while the first is still running is 409 `idempotency_request_in_flight`.
//! A 5xx is never kept: the claim is released and a retry runs afresh.
//!
//! Keys are scoped to the project of the request's key and to the endpoint
//! (method and path). The request is the query string and the body, the body
//! compared as canonical JSON (keys sorted, no insignificant whitespace) or,
//! when it is not JSON, as bytes. Records last as long as the store's
//! retention keeps them (24 h by default).
//!
//! A request without the header, or whose key does not authenticate, goes
//! through untouched.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use voucher_core::port::{Claim, IdempotencyKey, ProjectId, StoredResponse};

use crate::auth;
use crate::error::ApiError;
use crate::rate_limit;
use crate::state::AppState;
use crate::wire;

/// The header.
pub const HEADER: &str = "idempotency-key";

/// The middleware: see the module's documentation.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::DELETE
    ) {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match value.to_str() {
        Ok(key) if !key.is_empty() => key.to_owned(),
        _ => {
            return ApiError::bad_request("invalid_payload", "invalid Idempotency-Key header")
                .into_response()
        }
    };
    let Some(project) = auth::project_of(&state, request.uri().path(), request.headers()).await
    else {
        return next.run(request).await;
    };
    let key = IdempotencyKey {
        key,
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
    };
    // The answers made here skip the client routes' CORS layer: they carry
    // its header themselves (the key's origin check has passed).
    let origin = request
        .uri()
        .path()
        .starts_with("/client/")
        .then(|| request.headers().get(header::ORIGIN).cloned())
        .flatten();
    let (parts, body) = request.into_parts();
    let limit = state.config.json_body_max.max(state.config.csv_body_max);
    let body = match wire::read_body(Request::new(body), limit).await {
        Ok(body) => body,
        Err(e) => return allow_origin(e.into_response(), origin),
    };
    let hash = request_hash(parts.uri.query().unwrap_or(""), &body);
    let now = state.now();
    let claim = {
        let key = key.clone();
        state
            .store(move |store| store.claim(project, &key, &hash, now))
            .await
    };
    match claim {
        Err(e) => allow_origin(e.into_response(), origin),
        Ok(Claim::Replay(stored)) => {
            // A replay is a request like any other to the key's budget
            // (the handler, which charges it otherwise, does not run).
            let app_id = parts.headers.get("x-app-id").and_then(|v| v.to_str().ok());
            if let (true, Some(app_id)) = (parts.uri.path().starts_with("/v1/"), app_id) {
                if let Err(refused) =
                    rate_limit::charge_server_key(&state, app_id, &parts.extensions)
                {
                    return refused.into_response();
                }
            }
            allow_origin(replay(stored), origin)
        }
        Ok(Claim::Fresh) => {
            let mut guard = Held {
                state: state.clone(),
                project,
                key: Some(key),
            };
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            finish(&mut guard, response).await
        }
    }
}

/// A claim this request holds: released when dropped still held (the
/// request was cancelled, or its answer is not to be kept).
struct Held {
    state: AppState,
    project: ProjectId,
    key: Option<IdempotencyKey>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (state, project) = (self.state.clone(), self.project);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    // A failed release only delays the key until the
                    // store takes the abandoned claim over.
                    let _ = state.store(move |store| store.release(project, &key)).await;
                });
            }
        }
    }
}

/// Keeps a 2xx or 4xx answer for the retries; anything else releases the
/// claim, so that a retry runs afresh.
async fn finish(held: &mut Held, response: Response) -> Response {
    let status = response.status();
    if !(status.is_success() || status.is_client_error()) {
        if let Some(key) = held.key.take() {
            let project = held.project;
            // A failed release only delays the key until the store takes
            // the abandoned claim over.
            let _ = held
                .state
                .store(move |store| store.release(project, &key))
                .await;
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
        .into_response();
    };
    let Some(key) = held.key.take() else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let stored = StoredResponse {
        status: status.as_u16(),
        body: bytes.to_vec(),
    };
    let project = held.project;
    let completed = held
        .state
        .store(move |store| store.complete(project, &key, &stored))
        .await;
    if let Err(e) = completed {
        // The change is made but its answer could not be kept: say so
        // rather than let a retry run it again unknowingly.
        return e.into_response();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `response` with `Access-Control-Allow-Origin: origin`, as the client
/// routes answer.
fn allow_origin(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// A kept answer, as first given.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let json = !stored.body.is_empty();
    let mut response = (status, Bytes::from(stored.body)).into_response();
    if json {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    } else {
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    response
}

/// SHA-256 of the query string and the canonical body: what a claim
/// compares.
pub fn request_hash(query: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((query.len() as u64).to_be_bytes());
    hasher.update(query.as_bytes());
    // An empty body means `{}` to the handlers (`wire::parse_json`).
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => {
            hasher.update(b"j");
            hasher.update(canonical(&value).as_bytes());
        }
        Err(_) => {
            hasher.update(b"b");
            hasher.update(body);
        }
    }
    hasher.finalize().into()
}

/// `value` serialized with its objects' keys sorted.
fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_ignores_key_order_and_whitespace() {
        let a = request_hash("", br#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#);
        let b = request_hash("", br#"{"a":{"x":null,"y":[1,2]},"b":1}"#);
        assert_eq!(a, b);
        assert_ne!(a, request_hash("", br#"{"a":{"x":null,"y":[2,1]},"b":1}"#));
        assert_ne!(
            a,
            request_hash("q=1", br#"{"a":{"x":null,"y":[1,2]},"b":1}"#)
        );
    }

    #[test]
    fn an_empty_body_is_the_empty_object() {
        assert_eq!(request_hash("", b""), request_hash("", b" { } "));
    }

    #[test]
    fn non_json_bodies_compare_as_bytes() {
        assert_eq!(request_hash("", b"a,b\n1,2"), request_hash("", b"a,b\n1,2"));
        assert_ne!(
            request_hash("", b"a,b\n1,2"),
            request_hash("", b"a, b\n1,2")
        );
    }
}
