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
