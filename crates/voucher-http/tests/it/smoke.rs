//! The shared test support works: health, auth, the JSON 404.

use axum::http::StatusCode;

use crate::support::Env;

#[tokio::test]
async fn health_answers_and_unknown_paths_are_json_404() {
    let env = Env::new();
    let (status, body) = env.call("GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = env.call("GET", "/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["key"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_405_with_the_error_body() {
    let env = Env::new();
    let (status, body) = env.call("PATCH", "/v1/vouchers/X", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["key"], "method_not_allowed");
    assert_eq!(body["code"], 405);
}

#[tokio::test]
async fn a_client_call_without_origin_is_accepted_and_a_foreign_origin_is_not() {
    let env = Env::new();
    let request = |origin: Option<&str>| {
        let mut builder = axum::http::Request::builder()
            .method("POST")
            .uri("/client/v1/validations")
            .header("x-client-application-id", &env.client.id)
            .header("x-client-token", &env.client.token)
            .header("content-type", "application/json");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder
            .body(axum::body::Body::from(
                r#"{"redeemables":[{"object":"voucher","id":"NOPE"}]}"#,
            ))
            .unwrap()
    };
    let (status, body) = env.send(request(None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env.send(request(Some("https://evil.example"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["key"], "unauthorized");
}
