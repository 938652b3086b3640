//! Webhooks end to end: endpoints through the API, events written by the
//! changes, and a real worker POSTing them to a real local receiver that
//! checks the signature; retries, a restart, a receiver that never answers,
//! every event type, validation and project isolation.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};
use voucher_core::port::WebhookStore;
use voucher_http::webhooks::Worker;

use crate::support::{check_error, webhook_config, Env, Receiver};

/// Adds an endpoint for `events` pointing at `receiver` (which learns its
/// secret); returns the endpoint's id.
async fn subscribe(env: &Env, receiver: &Receiver, events: &[&str]) -> String {
    let (status, hook) = env
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": receiver.url, "events": events})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    receiver.set_secret(hook["secret"].as_str().unwrap());
    hook["id"].as_str().unwrap().to_owned()
}

fn worker(env: &Env) -> Worker {
    let config = webhook_config();
    Worker::spawn(env.state(config.clone()), config.webhooks)
}

async fn create_ten(env: &Env) {
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/TEN",
            Some(json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn redeem_ten(env: &Env) -> (StatusCode, Value) {
    env.call(
        "POST",
        "/v1/vouchers/TEN/redemption",
        Some(json!({"order": {"amount": 5000}})),
    )
    .await
}

/// The endpoint's logged attempts, newest first.
async fn attempts(env: &Env, id: &str) -> Vec<Value> {
    let (status, body) = env.call("GET", &format!("/v1/webhooks/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["attempts"].as_array().unwrap().clone()
}

/// Waits until the endpoint has logged `n` attempts.
async fn wait_attempts(env: &Env, id: &str, n: usize) -> Vec<Value> {
    for _ in 0..6000 {
        let logged = attempts(env, id).await;
        if logged.len() >= n {
            return logged;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never logged {n} attempts: {:?}", attempts(env, id).await);
}

#[tokio::test]
async fn a_redemption_is_delivered_signed_in_the_envelope() {
    let env = Env::new();
    create_ten(&env).await;
    let receiver = Receiver::start(0, false).await;
    let id = subscribe(&env, &receiver, &["redemption.succeeded"]).await;
    let worker = worker(&env);
    let (status, redemption) = redeem_ten(&env).await;
    assert_eq!(status, StatusCode::OK, "{redemption}");
    let got = receiver.wait_for("the redemption", |r| !r.is_empty()).await;
    worker.stop().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].signed, "bad signature: {got:?}");
    let body = &got[0].body;
    assert!(body["id"].as_str().unwrap().starts_with("evt_"), "{body}");
    assert_eq!(body["project_id"], "default");
    assert_eq!(body["created_at"], "2026-11-23T12:00:00.000Z");
    assert_eq!(body["type"], "redemption.succeeded");
    assert_eq!(body["event"], "redemption.succeeded");
    assert_eq!(body["source"]["channel"], "API");
    let object = &body["data"]["object"];
    assert_eq!(object["object"], "redemption", "{body}");
    assert_eq!(object["id"], redemption["id"]);
    assert_eq!(object["result"], "SUCCESS");
    assert_eq!(object["voucher"]["code"], "TEN");
    // The attempt is logged; the backlog is empty.
    let logged = attempts(&env, &id).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["status"], 200);
    assert_eq!(logged[0]["result"], "DELIVERED");
    assert_eq!(logged[0]["event_id"], body["id"]);
    assert_eq!(env.store.webhook_backlog().unwrap(), 0);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_after_its_delay() {
    let env = Env::new();
    create_ten(&env).await;
    let receiver = Receiver::start(1, false).await;
    let id = subscribe(&env, &receiver, &["redemption.succeeded"]).await;
    let worker = worker(&env);
    assert_eq!(redeem_ten(&env).await.0, StatusCode::OK);
    let logged = wait_attempts(&env, &id, 1).await;
    assert_eq!(logged[0]["status"], 500);
    assert_eq!(logged[0]["result"], "FAILED");
    assert_eq!(env.store.webhook_backlog().unwrap(), 1);
    // Not due before its delay (1 s of the test's clock): the clock moves.
    env.set_now(env.now() + chrono::Duration::seconds(2));
    let got = receiver.wait_for("the retry", |r| r.len() >= 2).await;
    worker.stop().await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].status, got[1].status), (500, 200));
    assert!(got[0].signed && got[1].signed);
    assert_eq!(got[0].body, got[1].body, "a retry sends the same event");
    let logged = attempts(&env, &id).await;
    let statuses: Vec<_> = logged.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, [json!(200), json!(500)]);
    assert_eq!(logged[0]["attempt"], 2);
    assert_eq!(env.store.webhook_backlog().unwrap(), 0);
}

#[tokio::test]
async fn a_delivery_is_given_up_after_its_last_attempt() {
    let env = Env::new();
    create_ten(&env).await;
    let receiver = Receiver::start(usize::MAX, false).await;
    let id = subscribe(&env, &receiver, &["redemption.succeeded"]).await;
    let worker = worker(&env);
    assert_eq!(redeem_ten(&env).await.0, StatusCode::OK);
    // Three attempts in all (webhook_config), each after moving the clock.
    for n in 1..=3 {
        wait_attempts(&env, &id, n).await;
        env.set_now(env.now() + chrono::Duration::seconds(10));
    }
    worker.stop().await;
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(env.store.webhook_backlog().unwrap(), 0, "given up");
}

#[tokio::test]
async fn events_survive_a_restart() {
    let env = Env::new();
    create_ten(&env).await;
    let receiver = Receiver::start(1, false).await;
    let id = subscribe(&env, &receiver, &["redemption.succeeded"]).await;
    // Written while no worker runs.
    let (_, redemption) = redeem_ten(&env).await;
    assert_eq!(env.store.webhook_backlog().unwrap(), 1);
    // A first server tries once (the receiver fails) and stops.
    let first = worker(&env);
    wait_attempts(&env, &id, 1).await;
    first.stop().await;
    assert_eq!(receiver.received().len(), 1);
    // A new server on the same file delivers it when due.
    env.set_now(env.now() + chrono::Duration::seconds(2));
    let config = webhook_config();
    let second = Worker::spawn(env.reopened(config.clone()), config.webhooks);
    let got = receiver
        .wait_for("the event after the restart", |r| r.len() >= 2)
        .await;
    second.stop().await;
    assert_eq!(got[1].status, 200);
    assert!(got[1].signed);
    assert_eq!(got[1].body["data"]["object"]["id"], redemption["id"]);
    assert_eq!(env.store.webhook_backlog().unwrap(), 0);
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_hold_up_redemptions() {
    let env = Env::new();
    create_ten(&env).await;
    let receiver = Receiver::start(0, true).await;
    let id = subscribe(&env, &receiver, &["redemption.succeeded"]).await;
    // And a dead endpoint: nothing listens on its port.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let (status, _) = env
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": dead, "events": ["redemption.succeeded"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let worker = worker(&env);
    assert_eq!(redeem_ten(&env).await.0, StatusCode::OK);
    // The receiver holds the first delivery unanswered...
    receiver
        .wait_for("the first delivery", |r| !r.is_empty())
        .await;
    // ... while redemptions go on and are answered.
    for _ in 0..3 {
        let (status, body) = redeem_ten(&env).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(attempts(&env, &id).await.is_empty(), "still unanswered");
    receiver.release();
    let got = receiver.wait_for("four deliveries", |r| r.len() >= 4).await;
    worker.stop().await;
    assert!(got.iter().all(|r| r.signed && r.status == 200));
}

#[tokio::test]
async fn every_event_type_is_produced_by_its_action() {
    let env = Env::new();
    let receiver = Receiver::start(0, false).await;
    let all: Vec<&str> = voucher_core::webhook::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    subscribe(&env, &receiver, &all).await;
    let worker = worker(&env);
    let ok = |r: (StatusCode, Value)| {
        assert!(r.0.is_success(), "{}: {}", r.0, r.1);
        r.1
    };
    let campaign = ok(env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "C1", "campaign_type": "DISCOUNT_COUPONS", "type": "STATIC",
                "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}})),
        )
        .await);
    let campaign_id = campaign["id"].as_str().unwrap().to_owned();
    ok(env
        .call(
            "POST",
            &format!("/v1/campaigns/{campaign_id}/disable"),
            None,
        )
        .await);
    ok(env
        .call("POST", &format!("/v1/campaigns/{campaign_id}/enable"), None)
        .await);
    create_ten(&env).await;
    ok(env
        .call(
            "POST",
            "/v1/vouchers/GIFT",
            Some(json!({"type": "GIFT_VOUCHER", "gift": {"amount": 10000}})),
        )
        .await);
    ok(env
        .call(
            "POST",
            "/v1/vouchers/GIFT/balance",
            Some(json!({"amount": 500})),
        )
        .await);
    // A removal is not an addition: no event.
    ok(env
        .call(
            "POST",
            "/v1/vouchers/GIFT/balance",
            Some(json!({"amount": -100})),
        )
        .await);
    let redemption = ok(redeem_ten(&env).await);
    let id = redemption["id"].as_str().unwrap();
    ok(env
        .call("POST", &format!("/v1/redemptions/{id}/rollback"), None)
        .await);
    ok(env.call("POST", "/v1/vouchers/TEN/disable", None).await);
    assert_eq!(redeem_ten(&env).await.0, StatusCode::BAD_REQUEST);
    ok(env.call("POST", "/v1/vouchers/TEN/enable", None).await);
    ok(env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"voucher": "TEN", "customer": {"source_id": "alice"}})),
        )
        .await);
    let (status, _) = env
        .call("DELETE", "/v1/vouchers/GIFT?force=true", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // 13 events: two vouchers created.
    let got = receiver
        .wait_for("every event", |r| r.len() > all.len())
        .await;
    worker.stop().await;
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in &got {
        assert!(r.signed);
        by_type
            .entry(r.body["type"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.body["data"].clone());
    }
    let expected = [
        ("campaign.created", "campaign"),
        ("campaign.disabled", "campaign"),
        ("campaign.enabled", "campaign"),
        ("voucher.created", "voucher"),
        ("voucher.gift.balance_added", "voucher"),
        ("redemption.succeeded", "redemption"),
        ("redemption.rollback.succeeded", "redemption_rollback"),
        ("voucher.disabled", "voucher"),
        ("redemption.failed", "redemption"),
        ("voucher.enabled", "voucher"),
        ("publication.succeeded", "publication"),
        ("voucher.deleted", "voucher"),
    ];
    assert_eq!(got.len(), 13);
    assert_eq!(by_type.len(), expected.len(), "{:?}", by_type.keys());
    for (kind, object) in expected {
        let data = &by_type[kind];
        assert_eq!(data[0]["object"]["object"], object, "{kind}: {data:?}");
    }
    assert_eq!(by_type["voucher.created"].len(), 2, "TEN and GIFT");
    assert_eq!(by_type["voucher.gift.balance_added"].len(), 1);
    assert_eq!(
        by_type["voucher.gift.balance_added"][0]["balance"]["amount"],
        500
    );
    assert_eq!(
        by_type["redemption.failed"][0]["object"]["result"],
        "FAILURE"
    );
    assert_eq!(by_type["voucher.deleted"][0]["object"]["code"], "GIFT");
    assert_eq!(by_type["campaign.disabled"][0]["object"]["active"], false);
}

#[tokio::test]
async fn only_subscribed_types_are_written() {
    let env = Env::new();
    create_ten(&env).await;
    assert_eq!(redeem_ten(&env).await.0, StatusCode::OK);
    assert_eq!(
        env.store.webhook_backlog().unwrap(),
        0,
        "no endpoint, no event"
    );
    let receiver = Receiver::start(0, false).await;
    let id = subscribe(&env, &receiver, &["voucher.created"]).await;
    assert_eq!(redeem_ten(&env).await.0, StatusCode::OK);
    assert_eq!(
        env.store.webhook_backlog().unwrap(),
        0,
        "not a subscribed type"
    );
    create_ten_named(&env, "ELEVEN").await;
    assert_eq!(env.store.webhook_backlog().unwrap(), 1);
    // Removed: its pending delivery goes, and nothing more is written.
    let (status, _) = env
        .call("DELETE", &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    create_ten_named(&env, "TWELVE").await;
    let worker = worker(&env);
    // The unmatched event is matched with no endpoint and done.
    for _ in 0..6000 {
        if env.store.webhook_backlog().unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    worker.stop().await;
    assert_eq!(env.store.webhook_backlog().unwrap(), 0);
    assert!(receiver.received().is_empty());
}

async fn create_ten_named(env: &Env, code: &str) {
    let (status, body) = env
        .call(
            "POST",
            &format!("/v1/vouchers/{code}"),
            Some(json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn endpoints_are_validated_listed_and_project_scoped() {
    let env = Env::new();
    for body in [
        json!({"url": "ftp://shop.example/h", "events": ["voucher.created"]}),
        json!({"url": "not a url", "events": ["voucher.created"]}),
        json!({"url": "https://shop.example/h", "events": ["voucher.updated"]}),
        json!({"url": "https://shop.example/h", "events": []}),
        json!({"url": "https://shop.example/h"}),
        json!({"url": "https://shop.example/h", "events": ["voucher.created"], "secret": ""}),
        json!({"url": 7, "events": ["voucher.created"]}),
    ] {
        let response = env.call("POST", "/v1/webhooks", Some(body.clone())).await;
        check_error(&response, StatusCode::BAD_REQUEST, "invalid_payload");
    }
    let (status, created) = env
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "https://shop.example/h", "events": ["voucher.created", "redemption.failed"], "secret": "s3cret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["object"], "webhook");
    assert_eq!(created["secret"], "s3cret");
    assert_eq!(
        created["events"],
        json!(["voucher.created", "redemption.failed"])
    );
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"), "{created}");
    let (_, list) = env.call("GET", "/v1/webhooks", None).await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["data_ref"], "data");
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["id"], id);
    assert!(
        list["data"][0].get("secret").is_none(),
        "shown on creation only"
    );
    let (status, one) = env.call("GET", &format!("/v1/webhooks/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.get("secret").is_none());
    assert_eq!(one["attempts"], json!([]));
    // Another project sees none of it.
    let (_, other) = env.add_project("other");
    let (_, list) = env.call_as(&other, "GET", "/v1/webhooks", None).await;
    assert_eq!(list["total"], 0);
    for method in ["GET", "DELETE"] {
        let response = env
            .call_as(&other, method, &format!("/v1/webhooks/{id}"), None)
            .await;
        check_error(&response, StatusCode::NOT_FOUND, "not_found");
    }
    // Client keys cannot manage endpoints.
    let response = env.client("GET", "/v1/webhooks", None).await;
    assert_eq!(response.0, StatusCode::UNAUTHORIZED, "{}", response.1);
    let (status, _) = env
        .call("DELETE", &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = env.call("GET", &format!("/v1/webhooks/{id}"), None).await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_backlog_is_in_the_metrics() {
    let env = Env::new();
    let receiver = Receiver::start(0, false).await;
    subscribe(&env, &receiver, &["voucher.created"]).await;
    create_ten(&env).await;
    create_ten_named(&env, "ELEVEN").await;
    let request = axum::http::Request::builder()
        .uri("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, text) = env.send(request).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("webhook_backlog 2"), "{text}");
    assert!(
        text.contains(r#"webhook_deliveries_total{result="delivered"} 0"#),
        "{text}"
    );
}
