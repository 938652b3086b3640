//! `GET /metrics`: requests by route template and status, latency
//! histograms, redemptions by the store's answer; no key needed, and no
//! code in any label.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{amount_off, create, spec, Env};

/// The OpenMetrics text of `GET /metrics`, asked without a key.
async fn scrape(env: &Env) -> String {
    let request = Request::builder()
        .method("GET")
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let (status, body) = env.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().expect("metrics are text").to_owned()
}

/// `text` has the sample `line` (name, labels and value), exactly.
fn check_sample(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line `{line}` in:\n{text}"
    );
}

#[tokio::test]
async fn counts_requests_and_redemptions_by_template_never_by_code() {
    let env = Env::new();
    create(&env, spec("SECRETQ7X2", amount_off(1000), Some(1)));
    let order = json!({"order": {"amount": 4000}});
    let path = "/v1/vouchers/SECRETQ7X2/redemption";
    let (status, body) = env.call("POST", path, Some(order.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env.call("POST", path, Some(order.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = env
        .call("POST", "/v1/vouchers/UNKNOWNZ9K/redemption", Some(order))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = env.call("GET", "/v1/nowhere/SECRETQ7X2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = env.call("BREW", "/v1/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let text = scrape(&env).await;
    let route = "/v1/vouchers/{code}/redemption";
    for line in [
        format!(r#"http_requests_total{{route="{route}",method="POST",status="200"}} 1"#),
        format!(r#"http_requests_total{{route="{route}",method="POST",status="400"}} 1"#),
        format!(r#"http_requests_total{{route="{route}",method="POST",status="404"}} 1"#),
        r#"http_requests_total{route="unmatched",method="GET",status="404"} 1"#.to_owned(),
        r#"http_requests_total{route="unmatched",method="other",status="404"} 1"#.to_owned(),
        r#"redemptions_total{result="success",failure_code=""} 1"#.to_owned(),
        r#"redemptions_total{result="failure",failure_code="quantity_exceeded"} 1"#.to_owned(),
        r#"redemptions_total{result="failure",failure_code="resource_not_found"} 1"#.to_owned(),
        format!(r#"http_request_duration_seconds_count{{route="{route}",method="POST"}} 3"#),
        format!(
            r#"http_request_duration_seconds_bucket{{le="+Inf",route="{route}",method="POST"}} 3"#
        ),
    ] {
        check_sample(&text, &line);
    }
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    for code in ["SECRETQ7X2", "UNKNOWNZ9K", "nowhere", "BREW"] {
        assert!(!text.contains(code), "{code} in:\n{text}");
    }
}

#[tokio::test]
async fn counts_stacked_and_client_redemptions() {
    let env = Env::new();
    create(&env, spec("STACKQ7X2", amount_off(1000), Some(1)));
    let body = json!({
        "order": {"amount": 4000},
        "redeemables": [{"object": "voucher", "id": "STACKQ7X2"}],
    });
    let (status, reply) = env
        .client("POST", "/client/v1/redemptions", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = env.call("POST", "/v1/redemptions", Some(body)).await;
    assert!(status.is_client_error(), "{status} {reply}");

    let text = scrape(&env).await;
    check_sample(
        &text,
        r#"redemptions_total{result="success",failure_code=""} 1"#,
    );
    check_sample(
        &text,
        r#"http_requests_total{route="/client/v1/redemptions",method="POST",status="200"} 1"#,
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"redemptions_total{result="failure",failure_code="#)),
        "no refused stacked redemption in:\n{text}"
    );
    assert!(!text.contains("STACKQ7X2"), "{text}");
}

/// The value of the sample named `name` (with its labels, if any).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample `{name}` in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn shows_the_writer_batch_of_a_redemption() {
    let env = Env::new();
    create(&env, spec("BATCHQ7X2", amount_off(1000), Some(1)));
    let before = scrape(&env).await;
    assert!(
        before.contains("# TYPE writer_batch_size histogram"),
        "{before}"
    );
    let batches = sample(&before, "writer_batch_size_count");
    let writes = sample(&before, "writer_batch_size_sum");
    let order = json!({"order": {"amount": 4000}});
    let (status, body) = env
        .call("POST", "/v1/vouchers/BATCHQ7X2/redemption", Some(order))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let text = scrape(&env).await;
    let count = sample(&text, "writer_batch_size_count");
    assert!(count > batches, "{text}");
    assert!(sample(&text, "writer_batch_size_sum") > writes, "{text}");
    // One request at a time: every batch is of one write.
    assert_eq!(
        sample(&text, r#"writer_batch_size_bucket{le="1.0"}"#),
        count
    );
    assert_eq!(
        sample(&text, r#"writer_batch_size_bucket{le="+Inf"}"#),
        count
    );
    assert_eq!(sample(&text, "writer_batch_size_sum"), count);
}
