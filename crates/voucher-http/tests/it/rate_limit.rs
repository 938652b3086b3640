//! The per-client-IP rate limit of `/client/v1/...`: the 51st request in a
//! window from one address is 429 `too_many_requests` with `Retry-After`
//! and the `X-Rate-Limit-*` headers; other addresses, CORS preflights and
//! server endpoints are not affected. The lockout after 20 unknown codes in
//! a row, per-server-key budgets, and `X-Forwarded-For` from trusted
//! proxies only.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use tower::ServiceExt;
use voucher_http::{Config, RateLimit};

use serde_json::{json, Value};
use voucher_http::{LockoutPolicy, TrustedProxies};

use crate::support::{amount_off, check_error, create, spec, Env, ORIGIN};

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

// --- the lockout of code guessers --------------------------------------------

/// A client-side call from `peer` (through a proxy when `forwarded_for`
/// is given).
async fn client_from(
    env: &Env,
    peer: &str,
    forwarded_for: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN);
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    let mut request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    let address: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(address));
    env.app.clone().oneshot(request).await.unwrap()
}

/// The legacy client validate of `code` from `peer`: its status and body.
async fn validate_code(env: &Env, peer: &str, code: &str) -> (StatusCode, Value) {
    json(
        client_from(
            env,
            peer,
            None,
            "GET",
            &format!("/client/v1/validate?code={code}&amount=1000"),
            None,
        )
        .await,
    )
    .await
}

/// A server with the default lockout (20 in a row, 15 min) and no rate
/// limit, so that only the lockout refuses; `KNOWN` is a valid code.
fn lockout_env() -> Env {
    let env = Env::with_config(Config {
        client_rate_limit: None,
        ..Config::default()
    });
    create(&env, spec("KNOWN", amount_off(100), None));
    env
}

const A: &str = "203.0.113.7:40000";
const B: &str = "198.51.100.1:40000";

#[test]
fn the_default_lockout_is_20_unknown_codes_for_15_minutes() {
    let policy = Config::default().lockout.unwrap();
    assert_eq!(
        (policy.after.get(), policy.duration),
        (20, Duration::from_secs(900))
    );
    assert_eq!(LockoutPolicy::new(0, Duration::from_secs(900)), None);
}

#[tokio::test]
async fn twenty_unknown_codes_in_a_row_lock_the_address_out() {
    let env = lockout_env();
    // Unknown codes through every client checkout endpoint: the legacy
    // validate and redeem (404), the stacked validation (200, the code
    // INAPPLICABLE) and redemption (400 resource_not_found).
    for n in 0..20 {
        let code = format!("GUESS{n:04}");
        let (status, body) = match n % 4 {
            0 => validate_code(&env, A, &code).await,
            1 => {
                let path = format!("/client/v1/redeem?code={code}");
                let body = json!({"order": {"amount": 1000}});
                json(client_from(&env, A, None, "POST", &path, Some(body)).await).await
            }
            2 => {
                let body = json!({"redeemables": [{"object": "voucher", "id": code}],
                                  "order": {"amount": 1000}});
                let path = "/client/v1/validations";
                json(client_from(&env, A, None, "POST", path, Some(body)).await).await
            }
            _ => {
                let body = json!({"redeemables": [{"object": "voucher", "id": code}],
                                  "order": {"amount": 1000}});
                let path = "/client/v1/redemptions";
                json(client_from(&env, A, None, "POST", path, Some(body)).await).await
            }
        };
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "guess {n}: {body}");
        match n % 4 {
            2 => assert_eq!(
                body["redeemables"][0]["result"]["error"]["key"], "resource_not_found",
                "{body}"
            ),
            3 => assert_eq!(body["key"], "resource_not_found", "{body}"),
            _ => assert_eq!(status, StatusCode::NOT_FOUND, "{body}"),
        }
    }
    // The 21st request is refused, even with a good code.
    let response = client_from(
        &env,
        "203.0.113.7:40001",
        None,
        "GET",
        "/client/v1/validate?code=KNOWN&amount=1000",
        None,
    )
    .await;
    assert_eq!(header(&response, "retry-after"), "900");
    assert_eq!(header(&response, "x-rate-limit-remaining"), "0");
    let retry_at: i64 = header(&response, "x-rate-limit-retry").parse().unwrap();
    assert_eq!(retry_at, env.now().timestamp() + 900);
    assert_eq!(header(&response, "access-control-allow-origin"), ORIGIN);
    assert!(header(&response, "access-control-expose-headers").contains("Retry-After"));
    let answer = json(response).await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert!(answer.1["request_id"].as_str().unwrap().starts_with("v-"));
    // Another address is not locked.
    let (status, body) = validate_code(&env, B, "KNOWN").await;
    assert_eq!((status, &body["valid"]), (StatusCode::OK, &json!(true)));
    // Server endpoints are not affected by a client address's lock.
    let (status, _) = env.call("GET", "/v1/vouchers", None).await;
    assert_eq!(status, StatusCode::OK);
    // Still locked just before the end; free after it, with a new count.
    env.set_now(env.now() + chrono::Duration::seconds(899));
    let response = client_from(&env, A, None, "GET", "/client/v1/validate?code=KNOWN", None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after"), "1");
    env.set_now(env.now() + chrono::Duration::seconds(1));
    let (status, body) = validate_code(&env, A, "KNOWN").await;
    assert_eq!((status, &body["valid"]), (StatusCode::OK, &json!(true)));
    let (status, _) = validate_code(&env, A, "GUESS-AGAIN").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_success_resets_the_count_and_other_refusals_do_not_count() {
    let env = lockout_env();
    create(&env, spec("ONCE", amount_off(100), Some(1)));
    for n in 0..19 {
        let (status, _) = validate_code(&env, A, &format!("GUESS{n}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // A success: the count starts again.
    let redeem = |code: &str| {
        let path = format!("/client/v1/redeem?code={code}");
        let env = &env;
        async move {
            let body = json!({"order": {"amount": 1000}});
            json(client_from(env, A, None, "POST", &path, Some(body)).await).await
        }
    };
    let (status, body) = redeem("ONCE").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for n in 0..19 {
        let (status, _) = validate_code(&env, A, &format!("AGAIN{n}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {n} after the reset");
    }
    // quantity_exceeded neither counts nor resets.
    let answer = redeem("ONCE").await;
    check_error(&answer, StatusCode::BAD_REQUEST, "quantity_exceeded");
    let (status, _) = validate_code(&env, A, "LAST-GUESS").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the 20th unknown code");
    let answer = validate_code(&env, A, "KNOWN").await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn a_stacked_request_counts_each_unknown_code_and_hides_none_behind_a_good_one() {
    let env = lockout_env();
    let mut redeemables = vec![json!({"object": "voucher", "id": "KNOWN"})];
    redeemables.extend((0..20).map(|n| json!({"object": "voucher", "id": format!("G{n}")})));
    let body = json!({"redeemables": redeemables, "order": {"amount": 1000}});
    let (status, answer) =
        json(client_from(&env, A, None, "POST", "/client/v1/validations", Some(body)).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer = validate_code(&env, A, "KNOWN").await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn unknown_codes_to_publish_count_too() {
    let env = lockout_env();
    for n in 0..20 {
        let body = json!({"voucher": format!("NOPE{n}"), "customer": {"source_id": "alice"}});
        let path = "/client/v1/publish";
        let (status, body) = json(client_from(&env, A, None, "POST", path, Some(body)).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let answer = validate_code(&env, A, "KNOWN").await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn unknown_codes_on_server_endpoints_and_with_the_lockout_off_do_not_lock() {
    let env = lockout_env();
    for n in 0..25 {
        let path = format!("/v1/vouchers/NOPE{n}/validate");
        let (status, _) = env
            .call("POST", &path, Some(json!({"order": {"amount": 1000}})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = validate_code(&env, "0.0.0.0:1", "KNOWN").await;
    assert_eq!(status, StatusCode::OK);

    let env = Env::with_config(Config {
        client_rate_limit: None,
        lockout: None,
        ..Config::default()
    });
    for n in 0..30 {
        let (status, _) = validate_code(&env, A, &format!("GUESS{n}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {n}");
    }
}

// --- per-server-key budgets --------------------------------------------------

#[tokio::test]
async fn a_server_key_over_its_budget_is_429_and_keys_are_unlimited_by_default() {
    let env = Env::with_config(Config {
        key_rate_limit: Some(RateLimit::new(3, Duration::from_secs(300)).unwrap()),
        ..Config::default()
    });
    let list = |keys: crate::support::Keys| {
        let env = &env;
        async move {
            let request = Request::builder()
                .uri("/v1/vouchers")
                .header("x-app-id", &keys.id)
                .header("x-app-token", &keys.token)
                .body(Body::empty())
                .unwrap();
            env.app.clone().oneshot(request).await.unwrap()
        }
    };
    // A wrong secret is 401 and spends nothing of the key's budget.
    let wrong = crate::support::Keys {
        id: env.server.id.clone(),
        token: "wrong".into(),
    };
    for _ in 0..5 {
        assert_eq!(list(wrong.clone()).await.status(), StatusCode::UNAUTHORIZED);
    }
    for n in 1..=3u32 {
        let response = list(env.server.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
        assert_eq!(header(&response, "x-rate-limit-limit"), "3");
        assert_eq!(
            header(&response, "x-rate-limit-remaining"),
            (3 - n).to_string()
        );
    }
    let response = list(env.server.clone()).await;
    // One request every 100 s refills the budget.
    assert_eq!(header(&response, "retry-after"), "100");
    assert_eq!(header(&response, "x-rate-limit-limit"), "3");
    assert_eq!(header(&response, "x-rate-limit-remaining"), "0");
    let retry_at: i64 = header(&response, "x-rate-limit-retry").parse().unwrap();
    assert_eq!(retry_at, env.now().timestamp() + 100);
    let answer = json(response).await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert!(answer.1["request_id"].as_str().unwrap().starts_with("v-"));
    // Another key has its own budget.
    let (_, other) = env.add_project("other");
    assert_eq!(list(other).await.status(), StatusCode::OK);

    // By default: no limit, no headers.
    let env = Env::new();
    for _ in 0..30 {
        let request = Request::builder()
            .uri("/v1/vouchers")
            .header("x-app-id", &env.server.id)
            .header("x-app-token", &env.server.token)
            .body(Body::empty())
            .unwrap();
        let response = env.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("x-rate-limit-limit"));
    }
}

/// The legacy validation authenticates inside the store's call (one read
/// transaction for key and validation), and charges the key there.
#[tokio::test]
async fn a_server_key_over_its_budget_is_429_on_the_legacy_validation_too() {
    let env = Env::with_config(Config {
        key_rate_limit: Some(RateLimit::new(2, Duration::from_secs(300)).unwrap()),
        ..Config::default()
    });
    create(&env, spec("KNOWN", amount_off(100), None));
    let validate = |token: String| {
        let env = &env;
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/v1/vouchers/KNOWN/validate")
                .header("x-app-id", &env.server.id)
                .header("x-app-token", token)
                .body(Body::from(r#"{"order":{"amount":1000}}"#))
                .unwrap();
            env.app.clone().oneshot(request).await.unwrap()
        }
    };
    // A wrong secret spends nothing.
    for _ in 0..3 {
        let response = validate("wrong".into()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for n in 1..=2u32 {
        let response = validate(env.server.token.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
        assert_eq!(
            header(&response, "x-rate-limit-remaining"),
            (2 - n).to_string()
        );
    }
    let response = validate(env.server.token.clone()).await;
    assert_eq!(header(&response, "x-rate-limit-limit"), "2");
    assert_eq!(header(&response, "retry-after"), "150");
    let answer = json(response).await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

/// A replay of an idempotent request spends the key's budget like any
/// request, though no handler runs for it.
#[tokio::test]
async fn idempotent_replays_are_charged_to_the_key() {
    let env = Env::with_config(Config {
        key_rate_limit: Some(RateLimit::new(2, Duration::from_secs(300)).unwrap()),
        ..Config::default()
    });
    create(&env, spec("MANY", amount_off(100), None));
    let redeem = || {
        let env = &env;
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/v1/vouchers/MANY/redemption")
                .header("x-app-id", &env.server.id)
                .header("x-app-token", &env.server.token)
                .header("idempotency-key", "once")
                .body(Body::from(r#"{"order":{"amount":1000}}"#))
                .unwrap();
            env.app.clone().oneshot(request).await.unwrap()
        }
    };
    let first = json(redeem().await).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    let replayed = json(redeem().await).await;
    assert_eq!(replayed, first);
    let answer = json(redeem().await).await;
    check_error(&answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

// --- X-Forwarded-For ---------------------------------------------------------

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let env = Env::with_config(Config {
        client_rate_limit: Some(RateLimit::new(2, Duration::from_secs(100)).unwrap()),
        lockout: LockoutPolicy::new(3, Duration::from_secs(60)),
        trusted_proxies: "10.0.0.0/8".parse::<TrustedProxies>().unwrap(),
        ..Config::default()
    });
    let path = "/client/v1/validate?code=NOPE&amount=100";
    let via = |peer: &'static str, forwarded: &'static str| {
        let env = &env;
        async move {
            client_from(env, peer, Some(forwarded), "GET", path, None)
                .await
                .status()
        }
    };
    // Behind the trusted proxy, each forwarded client has its own budget;
    // a client's own entry left of the proxy's is not believed.
    assert_eq!(
        via("10.0.0.1:1", "203.0.113.7").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        via("10.0.0.1:1", "6.6.6.6, 203.0.113.7").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        via("10.0.0.2:1", "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        via("10.0.0.1:1", "203.0.113.8").await,
        StatusCode::NOT_FOUND
    );
    // An untrusted peer's header is ignored: rotating it changes nothing.
    assert_eq!(
        via("198.51.100.9:1", "1.1.1.1").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        via("198.51.100.9:1", "1.1.1.2").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        via("198.51.100.9:1", "1.1.1.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The lockout counts the forwarded address too: 203.0.113.8 has one
    // unknown code; two more lock it, and not its proxy's other clients.
    let unlimited = Env::with_config(Config {
        client_rate_limit: None,
        lockout: LockoutPolicy::new(3, Duration::from_secs(60)),
        trusted_proxies: "10.0.0.0/8".parse::<TrustedProxies>().unwrap(),
        ..Config::default()
    });
    for _ in 0..3 {
        let response = client_from(
            &unlimited,
            "10.0.0.1:1",
            Some("203.0.113.8"),
            "GET",
            path,
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let locked = client_from(
        &unlimited,
        "10.0.0.1:1",
        Some("203.0.113.8"),
        "GET",
        path,
        None,
    )
    .await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = client_from(
        &unlimited,
        "10.0.0.1:1",
        Some("203.0.113.9"),
        "GET",
        path,
        None,
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    // A spoofed header from an untrusted peer does not escape its lock.
    for n in 0..3 {
        let response = client_from(
            &unlimited,
            B,
            Some(&format!("1.1.1.{n}")),
            "GET",
            path,
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let spoofed = client_from(&unlimited, B, Some("1.1.1.99"), "GET", path, None).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
}
