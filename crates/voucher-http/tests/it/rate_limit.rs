//! The per-client-IP rate limit of `/client/v1/...`: the 51st request in a
//! window from one address is 429 `too_many_requests` with `Retry-After`
//! and the `X-Rate-Limit-*` headers; other addresses, CORS preflights and
//! server endpoints are not affected.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use tower::ServiceExt;
use voucher_http::{Config, RateLimit};

use crate::support::{check_error, Env, ORIGIN};

/// 50 per 100 s: the default burst, with a refill slow enough (one per
/// 2 s) that a loaded test machine cannot refill it between calls. No
/// lockout: these tests guess unknown codes to spend the budget.
fn env() -> Env {
    Env::with_config(Config {
        client_rate_limit: Some(RateLimit::new(50, Duration::from_secs(100)).unwrap()),
        lockout: None,
        ..Config::default()
    })
}

/// A client-side validate from `peer` (None: no ConnectInfo, as in the
/// other tests).
async fn validate_from(env: &Env, peer: Option<&str>) -> Response<Body> {
    let mut request = Request::builder()
        .method("GET")
        .uri("/client/v1/validate?code=NOPE&amount=100")
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    if let Some(peer) = peer {
        let address: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(address));
    }
    env.app.clone().oneshot(request).await.unwrap()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn json(response: Response<Body>) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[test]
fn the_default_is_50_per_10_seconds() {
    let limit = Config::default().client_rate_limit.unwrap();
    assert_eq!(
        (limit.requests(), limit.window()),
        (50, Duration::from_secs(10))
    );
}

#[tokio::test]
async fn the_51st_client_request_from_one_ip_is_429() {
    let env = env();
    let peer = Some("203.0.113.7:40000");
    for n in 1..=50u32 {
        let response = validate_from(&env, peer).await;
        assert_ne!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "request {n}"
        );
        assert_eq!(header(&response, "x-rate-limit-limit"), "50");
        assert_eq!(
            header(&response, "x-rate-limit-remaining"),
            (50 - n).to_string()
        );
        assert!(header(&response, "access-control-expose-headers").contains("X-Rate-Limit-Limit"));
    }
    // Another port of the same address shares its budget.
    let response = validate_from(&env, Some("203.0.113.7:40001")).await;
    assert_eq!(header(&response, "retry-after"), "2");
    assert_eq!(header(&response, "x-rate-limit-limit"), "50");
    assert_eq!(header(&response, "x-rate-limit-remaining"), "0");
    let retry_at: i64 = header(&response, "x-rate-limit-retry").parse().unwrap();
    assert_eq!(retry_at, env.now().timestamp() + 2);
    assert!(response.headers().contains_key("x-request-id"));
    // A page can read the refusal and its headers.
    assert_eq!(header(&response, "access-control-allow-origin"), ORIGIN);
    assert!(header(&response, "access-control-expose-headers").contains("Retry-After"));
    let answer = json(response).await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert!(answer.1["request_id"].as_str().unwrap().starts_with("v-"));

    // Another address is unaffected, and so is an IPv6 peer.
    let other = validate_from(&env, Some("198.51.100.1:40000")).await;
    assert_ne!(other.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&other, "x-rate-limit-remaining"), "49");
    let v6 = validate_from(&env, Some("[2001:db8::1]:40000")).await;
    assert_ne!(v6.status(), StatusCode::TOO_MANY_REQUESTS);

    // Server endpoints are never limited by default.
    for _ in 0..60 {
        let (status, _) = env.call("GET", "/v1/vouchers", None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn without_a_peer_address_requests_share_one_budget() {
    let env = env();
    for _ in 0..50 {
        let response = validate_from(&env, None).await;
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let response = validate_from(&env, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // A CORS preflight does not count and is not refused.
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/client/v1/validate")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .body(Body::empty())
        .unwrap();
    let response = env.app.clone().oneshot(preflight).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn refused_requests_and_bad_keys_count_too() {
    // Counted before authentication, so guessing keys spends the budget.
    let env = env();
    for _ in 0..50 {
        let (status, _) = env
            .client_as(
                &crate::support::Keys {
                    id: "nobody".into(),
                    token: "wrong".into(),
                },
                ORIGIN,
                "GET",
                "/client/v1/validate?code=X",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = env
        .client("GET", "/client/v1/validate?code=X&amount=100", None)
        .await;
    check_error(
        &(status, body),
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    );
}

#[tokio::test]
async fn no_limit_when_unset() {
    let env = Env::with_config(Config {
        client_rate_limit: None,
        lockout: None,
        ..Config::default()
    });
    for _ in 0..80 {
        let response = validate_from(&env, None).await;
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(!response.headers().contains_key("x-rate-limit-limit"));
    }
}
