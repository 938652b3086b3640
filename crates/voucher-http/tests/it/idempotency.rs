//! The `Idempotency-Key` header: replays, reuse with another body, requests
//! in flight, and the key's scope (endpoint and project).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use voucher_core::port::{IdempotencyKey, IdempotencyStore, VoucherStore};

use crate::support::{amount_off, create, spec, Env, Keys, ORIGIN};

/// An answer as sent: status, content type, body bytes.
type Raw = (StatusCode, Option<String>, Vec<u8>);

async fn send(
    env: &Env,
    keys: &Keys,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> Raw {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-app-id", &keys.id)
        .header("x-app-token", &keys.token)
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, content_type, bytes.to_vec())
}

fn json(raw: &Raw) -> Value {
    serde_json::from_slice(&raw.2).unwrap()
}

const BODY: &str = r#"{"order": {"amount": 4000}, "customer": {"source_id": "alice"}}"#;
/// [`BODY`] with its keys in another order and other whitespace.
const SAME_BODY: &str = r#"{"customer":{"source_id":"alice"},"order":{"amount":4000}}"#;

async fn redeemed(env: &Env, keys: &Keys, code: &str) -> Value {
    let (status, body) = env
        .call_as(keys, "GET", &format!("/v1/vouchers/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["redemption"]["redeemed_quantity"].clone()
}

#[tokio::test]
async fn a_retried_redemption_is_replayed_byte_for_byte_and_redeems_once() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    let keys = env.server.clone();
    let path = "/v1/vouchers/TEN/redemption";
    let first = send(&env, &keys, "POST", path, Some("k1"), BODY).await;
    assert_eq!(first.0, StatusCode::OK, "{}", json(&first));
    assert_eq!(json(&first)["result"], "SUCCESS");
    let again = send(&env, &keys, "POST", path, Some("k1"), SAME_BODY).await;
    assert_eq!(again, first);
    assert_eq!(again.1.as_deref(), Some("application/json"));
    assert_eq!(redeemed(&env, &keys, "TEN").await, 1);

    // Another body under the same key: refused, nothing redeemed.
    let other = r#"{"order": {"amount": 5000}}"#;
    let reused = send(&env, &keys, "POST", path, Some("k1"), other).await;
    assert_eq!(reused.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&reused)["key"], "idempotency_key_reused");
    assert_eq!(redeemed(&env, &keys, "TEN").await, 1);

    // Without the header, every request runs.
    let plain = send(&env, &keys, "POST", path, None, BODY).await;
    assert_eq!(plain.0, StatusCode::OK);
    assert_ne!(json(&plain)["id"], json(&first)["id"]);
    assert_eq!(redeemed(&env, &keys, "TEN").await, 2);
}

#[tokio::test]
async fn the_key_is_scoped_to_the_endpoint() {
    let env = Env::new();
    create(&env, spec("A", amount_off(1000), None));
    create(&env, spec("B", amount_off(1000), None));
    let keys = env.server.clone();
    let a = send(
        &env,
        &keys,
        "POST",
        "/v1/vouchers/A/redemption",
        Some("k"),
        BODY,
    )
    .await;
    let b = send(
        &env,
        &keys,
        "POST",
        "/v1/vouchers/B/redemption",
        Some("k"),
        BODY,
    )
    .await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(b.0, StatusCode::OK, "{}", json(&b));
    assert_eq!(json(&b)["voucher"]["code"], "B");
    assert_eq!(redeemed(&env, &keys, "A").await, 1);
    assert_eq!(redeemed(&env, &keys, "B").await, 1);
}

#[tokio::test]
async fn the_key_is_scoped_to_the_project() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    let (other, other_keys) = env.add_project("other");
    env.store
        .create_voucher(other, &spec("TEN", amount_off(1000), None), env.now())
        .unwrap();
    let path = "/v1/vouchers/TEN/redemption";
    let mine = send(&env, &env.server.clone(), "POST", path, Some("k"), BODY).await;
    let theirs = send(&env, &other_keys, "POST", path, Some("k"), BODY).await;
    assert_eq!(mine.0, StatusCode::OK);
    assert_eq!(theirs.0, StatusCode::OK, "{}", json(&theirs));
    assert_ne!(json(&mine)["id"], json(&theirs)["id"]);
    assert_eq!(redeemed(&env, &other_keys, "TEN").await, 1);
    assert_eq!(redeemed(&env, &env.server.clone(), "TEN").await, 1);
}

#[tokio::test]
async fn a_4xx_answer_is_replayed() {
    let env = Env::new();
    let keys = env.server.clone();
    let path = "/v1/vouchers/LATER/redemption";
    let first = send(&env, &keys, "POST", path, Some("k"), BODY).await;
    assert_eq!(first.0, StatusCode::NOT_FOUND, "{}", json(&first));
    // The code exists now, but the retry gets the first answer, request
    // id included.
    create(&env, spec("LATER", amount_off(1000), None));
    let again = send(&env, &keys, "POST", path, Some("k"), BODY).await;
    assert_eq!(again, first);
    assert_eq!(redeemed(&env, &keys, "LATER").await, 0);
}

#[tokio::test]
async fn a_retry_while_the_first_is_in_flight_is_409() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    let path = "/v1/vouchers/TEN/redemption";
    let key = IdempotencyKey {
        key: "k".to_owned(),
        method: "POST".to_owned(),
        path: path.to_owned(),
    };
    let hash = voucher_http::idempotency::request_hash("", BODY.as_bytes());
    env.store
        .claim(env.project, &key, &hash, env.now())
        .unwrap();
    let keys = env.server.clone();
    let busy = send(&env, &keys, "POST", path, Some("k"), BODY).await;
    assert_eq!(busy.0, StatusCode::CONFLICT);
    assert_eq!(json(&busy)["key"], "idempotency_request_in_flight");
    assert_eq!(redeemed(&env, &keys, "TEN").await, 0);
}

#[tokio::test]
async fn a_client_redemption_is_replayed_with_its_cors_header() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    create(&env, spec("FIVE", amount_off(500), None));
    let send = |path: &'static str| {
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("x-client-application-id", &env.client.id)
            .header("x-client-token", &env.client.token)
            .header("origin", ORIGIN)
            .header("idempotency-key", "k")
            .body(Body::from(BODY))
            .unwrap();
        let app = env.app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let allowed = response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, allowed, bytes)
        }
    };
    let first = send("/client/v1/redeem?code=TEN").await;
    assert_eq!(first.0, StatusCode::OK);
    let again = send("/client/v1/redeem?code=TEN").await;
    assert_eq!(again, first);
    assert_eq!(again.1.as_deref(), Some(ORIGIN));
    // The code is in the query: another code is another request.
    let other = send("/client/v1/redeem?code=FIVE").await;
    assert_eq!(other.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.1.as_deref(), Some(ORIGIN));
    let keys = env.server.clone();
    assert_eq!(redeemed(&env, &keys, "TEN").await, 1);
    assert_eq!(redeemed(&env, &keys, "FIVE").await, 0);
}

#[tokio::test]
async fn a_wrong_key_is_refused_as_without_the_header_and_claims_nothing() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    let wrong = Keys {
        id: env.server.id.clone(),
        token: "wrong".to_owned(),
    };
    let path = "/v1/vouchers/TEN/redemption";
    let refused = send(&env, &wrong, "POST", path, Some("k"), BODY).await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
    let keys = env.server.clone();
    let ok = send(&env, &keys, "POST", path, Some("k"), BODY).await;
    assert_eq!(ok.0, StatusCode::OK, "{}", json(&ok));
    assert_eq!(redeemed(&env, &keys, "TEN").await, 1);
}

#[tokio::test]
async fn a_5xx_is_not_kept_and_the_retry_runs_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::middleware;
    use axum::routing::post;
    use voucher_http::{AppState, Config};

    let env = Env::new();
    let state = AppState::new(
        Arc::new(env.store.clone()),
        Arc::new(crate::support::start),
        Config::default(),
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let app = axum::Router::new()
        .route(
            "/v1/flaky",
            post(move || {
                let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    let status = if run == 1 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    (status, format!("{{\"run\":{run}}}"))
                }
            }),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            voucher_http::idempotency::idempotency,
        ))
        .with_state(state);
    let call = || {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/flaky")
            .header("x-app-id", &env.server.id)
            .header("x-app-token", &env.server.token)
            .header("idempotency-key", "k")
            .body(Body::from("{}"))
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, bytes)
        }
    };
    assert_eq!(call().await.0, StatusCode::INTERNAL_SERVER_ERROR);
    let second = call().await;
    assert_eq!(second.0, StatusCode::OK);
    assert_eq!(&second.1[..], br#"{"run":2}"#);
    assert_eq!(call().await, second);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
