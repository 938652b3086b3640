//! The client side (`/client/v1`): keys, origins, permissions, CORS, and
//! each endpoint; and qualifications, server and client side.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use voucher_core::code_pattern::CodeConfig;
use voucher_core::port::{
    BenefitSpec, CampaignSpec, ClientPermission, CustomerSpec, CustomerStore, JoinOnce, KeyKind,
    KeySpec, ProjectStore, PublicationSpec, PublicationStore, PublicationTarget,
};
use voucher_core::voucher::CampaignKind;

use crate::support::{
    amount_off, campaign_spec, create, create_campaign, gift, spec, Env, Keys, ORIGIN,
};

/// A client key of the default project with these permissions.
fn client_key(env: &Env, id: &str, permissions: Vec<ClientPermission>) -> Keys {
    let secret = format!("{id}-secret-0123456789");
    env.store
        .create_key(
            &KeySpec {
                project: env.project,
                kind: KeyKind::Client,
                app_id: id.to_owned(),
                secret: secret.clone(),
                origins: vec![ORIGIN.to_owned()],
                permissions,
            },
            env.now(),
        )
        .unwrap();
    Keys {
        id: id.to_owned(),
        token: secret,
    }
}

/// A campaign whose codes follow `<name>-####`.
fn campaign(name: &str, kind: CampaignKind, benefit: BenefitSpec) -> CampaignSpec {
    let code_config = CodeConfig {
        pattern: Some(format!("{name}-####")),
        ..CodeConfig::default()
    };
    campaign_spec(name, kind, benefit, code_config)
}

#[tokio::test]
async fn client_validate_takes_the_js_sdk_query() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), Some(1)));
    // As `client.validate({code, amount, items, customer, metadata})`
    // serializes it with qs.
    let query = "code=TEN&item%5B0%5D%5Bproduct_id%5D=p1&item%5B0%5D%5Bquantity%5D=2\
        &item%5B0%5D%5Bprice%5D=2000&amount=4000&metadata%5Bsource%5D=web\
        &order%5Bmetadata%5D%5Bchannel%5D=shop&customer%5Bsource_id%5D=alice&tracking_id=t-1";
    let (status, body) = env
        .client("GET", &format!("/client/v1/validate?{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["code"], "TEN");
    assert_eq!(body["order"]["amount"], 4000);
    assert_eq!(body["order"]["total_amount"], 3000);
    assert_eq!(body["order"]["items"][0]["quantity"], 2);
    assert_eq!(body["order"]["metadata"]["channel"], "shop");
    assert_eq!(body["tracking_id"], "t-1");

    let (status, body) = env
        .client("GET", "/client/v1/validate?code=NOPE&amount=100", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = env
        .client("GET", "/client/v1/validate?amount=100", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["key"], "invalid_query_params");
}

#[tokio::test]
async fn client_keys_need_the_origin_and_the_permission() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), Some(5)));
    let order = json!({"order": {"amount": 4000}, "customer": {"source_id": "alice"}});
    let plain = client_key(&env, "plain-client", Vec::new());

    // A bad origin: 401 even for validation.
    let (status, body) = env
        .client_as(
            &plain,
            "https://evil.example",
            "GET",
            "/client/v1/validate?code=TEN&amount=100",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["key"], "unauthorized");

    // Validation needs no permission; redeem and publish do.
    let (status, _) = env.client_as(&plain,
        ORIGIN,
        "POST",
        "/client/v1/validations",
        Some(
            json!({"redeemables": [{"object": "voucher", "id": "TEN"}], "order": {"amount": 4000}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (path, body) in [
        ("/client/v1/redeem?code=TEN", order.clone()),
        (
            "/client/v1/redemptions",
            json!({"redeemables": [{"object": "voucher", "id": "TEN"}], "order": {"amount": 4000}}),
        ),
        (
            "/client/v1/publish?campaign=C",
            json!({"customer": {"source_id": "alice"}, "channel": "Voucherify.js"}),
        ),
    ] {
        let (status, answer) = env
            .client_as(&plain, ORIGIN, "POST", path, Some(body))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
        assert_eq!(answer["key"], "unauthorized");
    }
    // Nothing was redeemed.
    let (_, list) = env.call("GET", "/v1/redemptions", None).await;
    assert_eq!(list["total"], 0);

    // A server key on a client endpoint, and a client key on a server one.
    let (status, _) = env
        .call("POST", "/client/v1/validations", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = Request::builder()
        .method("GET")
        .uri("/v1/redemptions")
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    let (status, _) = env.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_redeem_and_stacked_endpoints_work_with_permission() {
    let env = Env::new();
    create(&env, spec("ONCE", amount_off(1000), Some(1)));
    create(&env, spec("G", gift(3000), None));
    let (status, body) = env
        .client(
            "POST",
            "/client/v1/redeem?code=ONCE",
            Some(json!({"order": {"amount": 4000}, "customer": {"source_id": "alice"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "SUCCESS");
    assert_eq!(body["voucher"]["code"], "ONCE");
    let (status, body) = env
        .client(
            "POST",
            "/client/v1/redeem?code=ONCE",
            Some(json!({"order": {"amount": 4000}, "customer": {"source_id": "alice"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["key"], "quantity_exceeded");

    let (status, body) = env
        .client(
            "POST",
            "/client/v1/validations",
            Some(
                json!({"redeemables": [{"object": "voucher", "id": "G", "gift": {"credits": 1000}}],
                        "order": {"amount": 5000}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["redeemables"][0]["result"]["gift"]["credits"], 1000);
    assert_eq!(body["order"]["total_amount"], 4000);

    let (status, body) = env
        .client(
            "POST",
            "/client/v1/redemptions",
            Some(
                json!({"redeemables": [{"object": "voucher", "id": "G", "gift": {"credits": 1000}}],
                        "order": {"amount": 5000}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redemptions"][0]["amount"], 1000);
    assert_eq!(body["parent_redemption"]["object"], "redemption");
}

#[tokio::test]
async fn client_publish_hands_out_a_campaign_code_through_the_api_channel() {
    let env = Env::new();
    create_campaign(
        &env,
        &campaign("PUB", CampaignKind::AutoUpdate, amount_off(500)),
        3,
    );
    let (status, body) = env
        .client(
            "POST",
            "/client/v1/publish?campaign=PUB",
            Some(json!({"customer": {"source_id": "alice"}, "channel": "Voucherify.js"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "publication");
    assert_eq!(body["channel"], "API");
    assert_eq!(body["result"], "SUCCESS");
    assert!(body["id"].as_str().unwrap().starts_with("pub_"));
    assert!(body["voucher"]["code"]
        .as_str()
        .unwrap()
        .starts_with("PUB-"));
    assert_eq!(body["customer"]["source_id"], "alice");

    let (status, body) = env
        .client(
            "POST",
            "/client/v1/publish?campaign=NOPE",
            Some(json!({"customer": {"source_id": "alice"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = env
        .client("POST", "/client/v1/publish?campaign=PUB", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn cors_preflight_answers_allowed_origins_only() {
    let env = Env::new();
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/client/v1/validations")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-client-application-id,x-client-token,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let response = tower::ServiceExt::oneshot(env.app.clone(), preflight(ORIGIN))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for header in [
        "X-Client-Application-Id",
        "X-Client-Token",
        "Content-Type",
        "X-Voucherify-Channel",
    ] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let response = tower::ServiceExt::oneshot(env.app.clone(), preflight("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // The answer itself carries the allowed origin.
    let request = Request::builder()
        .method("GET")
        .uri("/client/v1/validate?code=X")
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(env.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn qualifications_show_only_codes_the_customer_may_know() {
    let env = Env::new();
    // A public code, a unique code published to alice, one nobody has.
    create_campaign(
        &env,
        &campaign("PUBLIC", CampaignKind::Standalone, amount_off(300)),
        1,
    );
    create_campaign(
        &env,
        &campaign("UNIQUE", CampaignKind::Static, amount_off(1000)),
        2,
    );
    create(&env, spec("SECRET", amount_off(2000), None));
    let alice = env
        .store
        .upsert_customer(
            env.project,
            &CustomerSpec {
                source_id: Some("alice".into()),
                ..CustomerSpec::default()
            },
            env.now(),
        )
        .unwrap();
    let published = env
        .store
        .publish(
            env.project,
            &PublicationSpec {
                target: PublicationTarget::Campaign {
                    campaign: "UNIQUE".into(),
                    count: 1,
                },
                customer: CustomerSpec {
                    source_id: Some("alice".into()),
                    ..CustomerSpec::default()
                },
                channel: "API".into(),
                source_id: None,
                metadata: Default::default(),
                join_once: JoinOnce::No,
            },
            env.now(),
        )
        .unwrap();
    let alice_code = published.vouchers[0].code.as_str().to_owned();
    assert_eq!(published.customer.0, alice.id);

    let (status, body) = env
        .call(
            "POST",
            "/v1/qualifications",
            Some(json!({
                "customer": {"source_id": "alice"},
                "order": {"amount": 10000},
                "scenario": "ALL",
                "options": {"limit": 10, "sorting_rule": "BEST_DEAL"}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["redeemables"]["data"].as_array().unwrap();
    let codes: Vec<&str> = data.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 2, "{body}");
    assert_eq!(codes[0], alice_code, "best deal first");
    assert!(codes[1].starts_with("PUBLIC-"));
    assert!(!codes.contains(&"SECRET"));
    assert_eq!(body["redeemables"]["total"], 2);
    assert_eq!(data[0]["result"]["discount"]["amount_off"], 1000);
    assert_eq!(data[0]["order"]["total_amount"], 9000);
    assert_eq!(body["order"]["amount"], 10000);

    // Someone else sees only the public code, the client side too.
    let (status, body) = env
        .client(
            "POST",
            "/client/v1/qualifications",
            Some(json!({"customer": {"source_id": "bob"}, "order": {"amount": 10000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redeemables"]["total"], 1);
    assert!(body["redeemables"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("PUBLIC-"));

    // Claiming alice's engine id as a source id shows nothing of hers.
    let (_, body) = env
        .call(
            "POST",
            "/v1/qualifications",
            Some(json!({"customer": {"source_id": alice.id}, "order": {"amount": 10000}})),
        )
        .await;
    assert_eq!(body["redeemables"]["total"], 1, "{body}");

    let (status, body) = env
        .call(
            "POST",
            "/v1/qualifications",
            Some(json!({"order": {"amount": 100}, "options": {"limit": 500}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let _ = env.store.project(env.project).unwrap();
}
