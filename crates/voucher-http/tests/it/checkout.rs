//! Checkout through the whole app: legacy and stackable validation and
//! redemption, rollbacks, the redemption reads, and their refusals.

use axum::http::StatusCode;
use serde_json::{json, Value};
use voucher_core::validity::{Moment, Validity};
use voucher_core::voucher::Activity;

use crate::support::{amount_off, create, gift, spec, Env};

fn order(amount: i64) -> Value {
    json!({"amount": amount, "items": [{"product_id": "p1", "quantity": "2", "price": amount / 2}]})
}

#[tokio::test]
async fn legacy_validate_answers_valid_with_the_discount_and_order() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), Some(1)));
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/TEN/validate",
            Some(
                json!({"order": order(4000), "customer": {"source_id": "c1"}, "tracking_id": null}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["code"], "TEN");
    assert_eq!(body["discount"]["type"], "AMOUNT");
    assert_eq!(body["discount"]["amount_off"], 1000);
    assert_eq!(body["discount"]["effect"], "APPLY_TO_ORDER");
    assert_eq!(body["order"]["amount"], 4000);
    assert_eq!(body["order"]["discount_amount"], 1000);
    assert_eq!(body["order"]["total_discount_amount"], 1000);
    assert_eq!(body["order"]["total_amount"], 3000);
    assert_eq!(body["order"]["applied_discount_amount"], 1000);
    assert_eq!(body["order"]["items"][0]["quantity"], 2);
    assert_eq!(body["applicable_to"]["object"], "list");
    assert_eq!(body["inapplicable_to"]["total"], 0);
}

#[tokio::test]
async fn legacy_validate_refuses_with_200_and_the_stable_key() {
    let env = Env::new();
    let mut expired = spec("OLD", amount_off(1000), Some(5));
    expired.validity = Validity {
        expiration: Some(Moment::parse("2026-01-01T00:00:00Z").unwrap()),
        ..Validity::default()
    };
    create(&env, expired);
    let mut disabled = spec("OFF", amount_off(1000), Some(5));
    disabled.activity = Activity::Disabled;
    create(&env, disabled);
    let mut future = spec("SOON", amount_off(1000), Some(5));
    future.validity = Validity {
        start: Some(Moment::parse("2027-01-01T00:00:00Z").unwrap()),
        ..Validity::default()
    };
    create(&env, future);
    for (code, key, reason) in [
        ("OLD", "voucher_expired", "voucher expired"),
        ("OFF", "voucher_disabled", "voucher is disabled"),
        ("SOON", "voucher_not_active", "voucher not active"),
    ] {
        let (status, body) = env
            .call(
                "POST",
                &format!("/v1/vouchers/{code}/validate"),
                Some(json!({"order": {"amount": 4000}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{code}: {body}");
        assert_eq!(body["valid"], false, "{code}");
        assert_eq!(body["reason"], reason, "{code}");
        assert_eq!(body["error"]["key"], key, "{code}");
        assert_eq!(body["error"]["code"], 400, "{code}");
        assert_eq!(body["code"], code);
    }
}

#[tokio::test]
async fn legacy_validate_of_an_unknown_code_is_404_and_percent_encoded_codes_work() {
    let env = Env::new();
    let (status, body) = env
        .call("POST", "/v1/vouchers/NOPE/validate", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["key"], "not_found");
    create(&env, spec("AB C/1", amount_off(500), None));
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/AB%20C%2F1/validate",
            Some(json!({"order": {"amount": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["code"], "AB C/1");
}

/// The legacy validation reads its key in the store's call that validates
/// (one read transaction): it must still check the key before the body,
/// refuse client keys, and see a key revoked a moment ago.
#[tokio::test]
async fn legacy_validate_checks_its_key_first_and_sees_a_revocation_at_once() {
    use axum::body::Body;
    use axum::http::Request;
    use voucher_core::port::{KeyKind, ProjectStore};

    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), Some(1)));
    let path = "/v1/vouchers/TEN/validate";
    let send = |id: Option<&str>, token: Option<&str>, body: &'static str| {
        let mut request = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json");
        if let Some(id) = id {
            request = request.header("x-app-id", id);
        }
        if let Some(token) = token {
            request = request.header("x-app-token", token);
        }
        env.send(request.body(Body::from(body)).unwrap())
    };
    let good = r#"{"order":{"amount":4000}}"#;
    let server = env.server.clone();
    let client = env.client.clone();
    let cases = [
        (None, None, good, StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            Some(server.id.as_str()),
            None,
            good,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Some(server.id.as_str()),
            Some("wrong"),
            "{not json",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Some(client.id.as_str()),
            Some(client.token.as_str()),
            good,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Some(server.id.as_str()),
            Some(server.token.as_str()),
            "{not json",
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
    ];
    for (id, token, body, status, key) in cases {
        let (got, answer) = send(id, token, body).await;
        assert_eq!(
            (got, answer["key"].as_str()),
            (status, Some(key)),
            "{id:?} {token:?} {body}: {answer}"
        );
    }
    let (status, answer) = send(Some(&server.id), Some(&server.token), good).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["valid"], true);

    // Another key of the project still works after the revocation.
    let other = env.add_key(env.project, KeyKind::Server, "second-server");
    env.store.revoke_key(&server.id, env.now()).unwrap();
    let (status, answer) = send(Some(&server.id), Some(&server.token), good).await;
    assert_eq!(
        (status, answer["key"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, answer) = send(Some(&other.id), Some(&other.token), good).await;
    assert_eq!(
        (status, answer["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{answer}"
    );

    // The stacked validation reads its key the same way.
    let stacked = |keys: &crate::support::Keys, body: &'static str| {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/validations")
            .header("x-app-id", &keys.id)
            .header("x-app-token", &keys.token)
            .header("content-type", "application/json");
        env.send(request.body(Body::from(body)).unwrap())
    };
    let redeemables =
        r#"{"redeemables":[{"object":"voucher","id":"TEN"}],"order":{"amount":4000}}"#;
    for (keys, body, status) in [
        (&server, redeemables, StatusCode::UNAUTHORIZED),
        (&server, "{not json", StatusCode::UNAUTHORIZED),
        (&client, redeemables, StatusCode::UNAUTHORIZED),
        (&other, "{not json", StatusCode::BAD_REQUEST),
        (&other, redeemables, StatusCode::OK),
    ] {
        let (got, answer) = stacked(keys, body).await;
        assert_eq!(got, status, "{} {body}: {answer}", keys.id);
        if status == StatusCode::OK {
            assert_eq!(answer["valid"], true, "{answer}");
        }
    }
}

#[tokio::test]
async fn legacy_validate_of_a_gift_card_shows_the_credits() {
    let env = Env::new();
    create(&env, spec("GIFT", gift(5000), None));
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/GIFT/validate",
            Some(json!({"order": {"amount": 3000}, "gift": {"credits": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["gift"]["amount"], 5000);
    assert_eq!(body["gift"]["balance"], 5000);
    assert_eq!(body["gift"]["credits"], 1000);
    assert_eq!(body["order"]["total_amount"], 2000);
}

#[tokio::test]
async fn bad_checkout_input_is_400() {
    let env = Env::new();
    create(&env, spec("TEN", amount_off(1000), None));
    for (path, body, key) in [
        (
            "/v1/vouchers/TEN/validate",
            json!({"order": {"amount": "x"}}),
            "invalid_payload",
        ),
        (
            "/v1/vouchers/TEN/validate",
            json!({"order": {"amount": -5}}),
            "invalid_amount",
        ),
        (
            "/v1/vouchers/TEN/redemption",
            json!({"order": {"amount": 10.5}}),
            "invalid_payload",
        ),
        (
            "/v1/validations",
            json!({"order": {"amount": 100}}),
            "invalid_payload",
        ),
        (
            "/v1/validations",
            json!({"redeemables": [{"object": "voucher"}]}),
            "invalid_payload",
        ),
        (
            "/v1/redemptions",
            json!({"redeemables": []}),
            "invalid_payload",
        ),
        (
            "/v1/redemptions",
            json!({"redeemables": [{"object": "voucher", "id": "TEN"}, {"object": "voucher", "id": "TEN"}]}),
            "duplicated_redeemables",
        ),
        (
            "/v1/vouchers/TEN/redemption",
            json!({"order": {"amount": 100, "status": "WEIRD"}}),
            "invalid_order",
        ),
    ] {
        let (status, answer) = env.call("POST", path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert_eq!(answer["key"], key, "{path} {body}: {answer}");
    }
    // Nothing was redeemed.
    let (_, list) = env
        .call("GET", "/v1/redemptions?result=SUCCESS", None)
        .await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn legacy_redeem_then_quantity_exceeded_is_400_and_logged() {
    let env = Env::new();
    create(&env, spec("ONCE", amount_off(1000), Some(1)));
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/ONCE/redemption?tracking_id=t1",
            Some(json!({"order": order(4000), "customer": {"source_id": "alice"}, "metadata": {"k": "v"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "redemption");
    assert_eq!(body["result"], "SUCCESS");
    assert_eq!(body["status"], "SUCCEEDED");
    assert!(body["id"].as_str().unwrap().starts_with("r_"), "{body}");
    assert_eq!(body["tracking_id"], "t1");
    assert_eq!(body["amount"], 0);
    assert_eq!(body["metadata"]["k"], "v");
    assert_eq!(body["related_object_type"], "voucher");
    assert_eq!(body["voucher"]["code"], "ONCE");
    assert_eq!(body["voucher"]["redemption"]["redeemed_quantity"], 1);
    assert_eq!(body["order"]["total_amount"], 3000);
    assert_eq!(body["order"]["object"], "order");
    assert!(body["order"]["id"].as_str().unwrap().starts_with("ord_"));
    assert_eq!(body["customer"]["source_id"], "alice");
    assert_eq!(body["channel"]["channel_type"], "API");

    let (status, refused) = env
        .call(
            "POST",
            "/v1/vouchers/ONCE/redemption",
            Some(json!({"order": {"amount": 4000}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["key"], "quantity_exceeded");
    assert_eq!(refused["resource_type"], "redemption");
    let failure_id = refused["resource_id"].as_str().unwrap().to_owned();
    assert!(failure_id.starts_with("rf_"), "{refused}");

    // The failure is logged with its failure_code.
    let (status, failed) = env
        .call("GET", &format!("/v1/redemptions/{failure_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["result"], "FAILURE");
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["failure_code"], "quantity_exceeded");

    // An unknown code: 404, and logged as resource_not_found.
    let (status, body) = env
        .call("POST", "/v1/vouchers/NOPE/redemption", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["key"], "not_found");
    let (_, list) = env
        .call(
            "GET",
            "/v1/redemptions?failure_code=resource_not_found",
            None,
        )
        .await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["redemptions"][0]["failure_code"], "resource_not_found");
}

#[tokio::test]
async fn gift_redemption_spends_credits_and_rollback_returns_them_once() {
    let env = Env::new();
    create(&env, spec("GIFT", gift(5000), None));
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/GIFT/redemption",
            Some(json!({"order": {"amount": 3000}, "gift": {"credits": 2000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["amount"], 2000);
    assert_eq!(body["gift"]["amount"], 2000);
    assert_eq!(body["voucher"]["gift"]["balance"], 3000);
    let id = body["id"].as_str().unwrap().to_owned();

    // More than the balance.
    let (status, refused) = env
        .call(
            "POST",
            "/v1/vouchers/GIFT/redemption",
            Some(json!({"order": {"amount": 9000}, "gift": {"credits": 4000}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["key"], "gift_amount_exceeded");

    let (status, rollback) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{id}/rollback?reason=wrong%20order"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rollback}");
    assert_eq!(rollback["object"], "redemption_rollback");
    assert_eq!(rollback["status"], "SUCCEEDED");
    assert_eq!(rollback["result"], "SUCCESS");
    assert_eq!(rollback["reason"], "wrong order");
    assert_eq!(rollback["redemption"], id);
    assert_eq!(rollback["amount"], -2000);
    assert_eq!(rollback["voucher"]["gift"]["balance"], 5000);
    let rollback_id = rollback["id"].as_str().unwrap().to_owned();
    assert!(rollback_id.starts_with("rr_"));

    // Reason in the body works too; a second rollback is refused.
    let (status, again) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{id}/rollback"),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["key"], "already_rolled_back");

    let (status, read) = env
        .call("GET", &format!("/v1/redemptions/{rollback_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["object"], "redemption_rollback");
    assert_eq!(read["redemption"], id);
    let (_, original) = env
        .call("GET", &format!("/v1/redemptions/{id}"), None)
        .await;
    assert_eq!(original["status"], "ROLLED_BACK");

    let (status, missing) = env
        .call("POST", "/v1/redemptions/r_nope/rollback", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["key"], "not_found");
}

#[tokio::test]
async fn stackable_validation_lists_unknown_codes_as_inapplicable() {
    let env = Env::new();
    create(&env, spec("A", amount_off(1000), None));
    create(&env, spec("B", amount_off(500), None));
    let (status, body) = env
        .call(
            "POST",
            "/v1/validations",
            Some(json!({
                "redeemables": [
                    {"object": "voucher", "id": "A", "gift": null, "reward": null},
                    {"object": "voucher", "id": "B"}
                ],
                "order": {"amount": 10000},
                "customer": {"source_id": "s", "id": null, "email": null},
                "options": {"expand": ["order"]}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
    assert!(body["id"].as_str().unwrap().starts_with("valid_"));
    assert_eq!(body["redeemables"][0]["status"], "APPLICABLE");
    assert_eq!(
        body["redeemables"][0]["result"]["discount"]["amount_off"],
        1000
    );
    assert_eq!(body["redeemables"][1]["status"], "APPLICABLE");
    assert_eq!(body["order"]["total_discount_amount"], 1500);
    assert_eq!(body["order"]["total_amount"], 8500);
    assert_eq!(body["stacking_rules"]["redeemables_limit"], 30);
    assert_eq!(
        body["stacking_rules"]["redeemables_application_mode"],
        "ALL"
    );

    let (status, body) = env
        .call(
            "POST",
            "/v1/validations",
            Some(json!({
                "redeemables": [{"object": "voucher", "id": "A"}, {"object": "voucher", "id": "GHOST"}],
                "order": {"amount": 10000}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], false);
    let inapplicable = &body["inapplicable_redeemables"];
    assert_eq!(inapplicable.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(inapplicable[0]["id"], "GHOST");
    assert_eq!(inapplicable[0]["status"], "INAPPLICABLE");
    assert_eq!(
        inapplicable[0]["result"]["error"]["key"],
        "resource_not_found"
    );
}

#[tokio::test]
async fn stackable_redemption_and_stacked_rollback() {
    let env = Env::new();
    create(&env, spec("A", amount_off(1000), Some(1)));
    create(&env, spec("G", gift(2000), None));
    let (status, body) = env
        .call(
            "POST",
            "/v1/redemptions",
            Some(json!({
                "redeemables": [
                    {"object": "voucher", "id": "A"},
                    {"object": "voucher", "id": "G", "gift": {"credits": 500}}
                ],
                "order": {"source_id": "o-1", "amount": 10000},
                "customer": {"source_id": "bob"}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let parent = &body["parent_redemption"];
    let parent_id = parent["id"].as_str().unwrap().to_owned();
    assert_eq!(parent["related_object_type"], "redemption");
    assert_eq!(parent["result"], "SUCCESS");
    let children = body["redemptions"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["redemption"], parent_id);
    assert_eq!(children[1]["amount"], 500);
    assert_eq!(body["order"]["total_amount"], 8500);
    assert_eq!(body["order"]["source_id"], "o-1");
    assert_eq!(
        body["order"]["redemptions"][&parent_id]["stacked"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A child is not a parent.
    let child_id = children[0]["id"].as_str().unwrap();
    let (status, refused) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{child_id}/rollbacks"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["key"], "invalid_redemption_parent");

    let (status, rolled) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{parent_id}/rollbacks?reason=cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["parent_rollback"]["object"], "redemption_rollback");
    assert_eq!(rolled["rollbacks"].as_array().unwrap().len(), 2);
    assert_eq!(rolled["order"]["status"], "CANCELED");
    let (status, again) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{parent_id}/rollbacks"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["key"], "already_rolled_back");

    // A stacked refusal is 400 with the key.
    let (status, refused) = env
        .call(
            "POST",
            "/v1/redemptions",
            Some(json!({"redeemables": [{"object": "voucher", "id": "GHOST"}], "order": {"amount": 100}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["key"], "resource_not_found");
}

#[tokio::test]
async fn redemption_lists_filter_and_page() {
    let env = Env::new();
    create(&env, spec("MANY", amount_off(100), None));
    create(&env, spec("OTHER", amount_off(100), None));
    for i in 0..5 {
        env.set_now(crate::support::start() + chrono::Duration::minutes(i));
        let (status, body) = env
            .call(
                "POST",
                "/v1/vouchers/MANY/redemption",
                Some(json!({"order": {"amount": 1000}, "customer": {"source_id": format!("c{}", i % 2)}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    env.call(
        "POST",
        "/v1/vouchers/OTHER/redemption",
        Some(json!({"order": {"amount": 1000}})),
    )
    .await;
    let mut disabled = spec("OFF", amount_off(100), None);
    disabled.activity = Activity::Disabled;
    create(&env, disabled);
    env.call(
        "POST",
        "/v1/vouchers/OFF/redemption",
        Some(json!({"order": {"amount": 1000}})),
    )
    .await;

    let (status, all) = env.call("GET", "/v1/redemptions", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["object"], "list");
    assert_eq!(all["data_ref"], "redemptions");
    assert_eq!(all["total"], 7);

    for (query, total) in [
        ("voucher_code=MANY", 5),
        ("filters[voucher_code][conditions][$is]=MANY", 5),
        ("result=FAILURE", 1),
        ("filters[failure_code][conditions][$is]=voucher_disabled", 1),
        ("customer=c1", 2),
        (
            "voucher_code=MANY&created_at[after]=2026-11-23T12:02:30%2B00:00",
            2,
        ),
        (
            "voucher_code=MANY&created_at[before]=2026-11-23T12:01:30Z",
            2,
        ),
    ] {
        let (status, page) = env
            .call("GET", &format!("/v1/redemptions?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], total, "{query}: {page}");
    }

    // Page paging and cursor paging.
    let (_, first) = env
        .call(
            "GET",
            "/v1/redemptions?voucher_code=MANY&limit=2&page=1",
            None,
        )
        .await;
    let (_, second) = env
        .call(
            "GET",
            "/v1/redemptions?voucher_code=MANY&limit=2&page=2",
            None,
        )
        .await;
    assert_eq!(first["redemptions"].as_array().unwrap().len(), 2);
    assert_ne!(
        first["redemptions"][0]["id"],
        second["redemptions"][0]["id"]
    );
    let cursor = first["more_starting_after"].as_str().unwrap().to_owned();
    let (_, after) = env
        .call(
            "GET",
            &format!("/v1/redemptions?voucher_code=MANY&limit=2&starting_after={cursor}"),
            None,
        )
        .await;
    assert_eq!(
        after["redemptions"][0]["id"],
        second["redemptions"][0]["id"]
    );

    let (status, bad) = env.call("GET", "/v1/redemptions?result=MAYBE", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["key"], "invalid_query_params");

    // A code's entries, newest first, with the true total.
    let (status, entries) = env.call("GET", "/v1/vouchers/MANY/redemption", None).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    assert_eq!(entries["data_ref"], "redemption_entries");
    assert_eq!(entries["total"], 5);
    assert_eq!(entries["redeemed_quantity"], 5);
    assert_eq!(entries["quantity"], Value::Null);
    let list = entries["redemption_entries"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(list[0]["date"].as_str() > list[4]["date"].as_str());
    let (status, _) = env.call("GET", "/v1/vouchers/NOPE/redemption", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rollbacks_are_listed_among_the_redemptions() {
    let env = Env::new();
    create(&env, spec("MANY", amount_off(100), None));
    let mut ids = Vec::new();
    for i in 0..2 {
        env.set_now(crate::support::start() + chrono::Duration::minutes(i));
        let (status, body) = env
            .call(
                "POST",
                "/v1/vouchers/MANY/redemption",
                Some(json!({"order": {"amount": 1000}, "customer": {"source_id": "c0"}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    env.set_now(crate::support::start() + chrono::Duration::minutes(2));
    let (status, rollback) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{}/rollback?reason=refund", ids[0]),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rollback}");
    let rollback_id = rollback["id"].as_str().unwrap().to_owned();
    // Newest first: the rollback, then the redemptions.
    let expected = [rollback_id.as_str(), ids[1].as_str(), ids[0].as_str()];
    let listed = |body: &Value| -> Vec<String> {
        body["redemptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let (status, all) = env.call("GET", "/v1/redemptions", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3);
    assert_eq!(listed(&all), expected);
    let entry = &all["redemptions"][0];
    assert_eq!(entry["object"], "redemption_rollback");
    assert_eq!(entry["redemption"], ids[0]);
    assert_eq!(entry["reason"], "refund");
    assert_eq!(
        (&entry["result"], &entry["status"]),
        (&json!("SUCCESS"), &json!("SUCCEEDED"))
    );
    assert_eq!(entry["customer"]["source_id"], "c0");
    assert_eq!(entry["voucher"]["code"], "MANY");
    assert_eq!(all["redemptions"][2]["status"], "ROLLED_BACK");
    // As `GET /v1/redemptions/{rr_id}` renders it.
    let (_, one) = env
        .call("GET", &format!("/v1/redemptions/{rollback_id}"), None)
        .await;
    assert_eq!(*entry, one);

    // The filters see it as its redemption (its own result: a success).
    for (query, total) in [
        ("customer=c0", 3),
        ("voucher_code=MANY", 3),
        ("result=SUCCESS", 3),
        ("result=FAILURE", 0),
        ("failure_code=voucher_disabled", 0),
        ("created_at[after]=2026-11-23T12:01:30Z", 1),
    ] {
        let (status, page) = env
            .call("GET", &format!("/v1/redemptions?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], total, "{query}: {page}");
    }

    // Pages and cursors walk the same order.
    let mut by_page = Vec::new();
    for page in 1..=3 {
        let (_, body) = env
            .call("GET", &format!("/v1/redemptions?limit=1&page={page}"), None)
            .await;
        assert_eq!(body["total"], 3);
        by_page.extend(listed(&body));
    }
    assert_eq!(by_page, expected);
    let mut by_cursor = Vec::new();
    let mut path = "/v1/redemptions?limit=2".to_owned();
    loop {
        let (status, body) = env.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        by_cursor.extend(listed(&body));
        match body["more_starting_after"].as_str() {
            Some(cursor) => path = format!("/v1/redemptions?limit=2&starting_after={cursor}"),
            None => break,
        }
    }
    assert_eq!(by_cursor, expected);

    // A code's entries hold its rollbacks too, in the total.
    let (status, entries) = env.call("GET", "/v1/vouchers/MANY/redemption", None).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    assert_eq!(entries["total"], 3);
    assert_eq!(entries["redeemed_quantity"], 1);
    assert_eq!(
        entries["redemption_entries"][0]["object"],
        "redemption_rollback"
    );
}

#[tokio::test]
async fn another_projects_redemptions_are_not_found() {
    let env = Env::new();
    create(&env, spec("MINE", amount_off(100), None));
    let (_, body) = env
        .call(
            "POST",
            "/v1/vouchers/MINE/redemption",
            Some(json!({"order": {"amount": 1000}})),
        )
        .await;
    let id = body["id"].as_str().unwrap().to_owned();
    let (_, other) = env.add_project("other");
    let (status, _) = env
        .call_as(&other, "GET", &format!("/v1/redemptions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env
        .call_as(
            &other,
            "POST",
            &format!("/v1/redemptions/{id}/rollback"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env
        .call_as(
            &other,
            "POST",
            "/v1/vouchers/MINE/validate",
            Some(json!({"order": {"amount": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = env.call_as(&other, "GET", "/v1/redemptions", None).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn vouchers_made_through_the_api_validate_and_redeem() {
    let env = Env::new();
    let (status, created) = env
        .call(
            "POST",
            "/v1/vouchers/PCT%2010",
            Some(json!({
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 500},
                "redemption": {"quantity": 1},
                "expiration_date": "2026-12-31T23:59:59.000Z"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/PCT%2010/validate",
            Some(json!({"order": {"amount": 8000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["discount"]["percent_off"], 10);
    assert_eq!(body["order"]["total_discount_amount"], 500);
    let (status, body) = env
        .call(
            "POST",
            "/v1/vouchers/PCT%2010/redemption",
            Some(json!({"order": {"amount": 2000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["total_amount"], 1800);
    assert_eq!(body["voucher"]["redemption"]["redeemed_quantity"], 1);
    assert_eq!(
        body["voucher"]["expiration_date"],
        "2026-12-31T23:59:59.000Z"
    );
    // Expired after its date.
    env.set_now(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 1, 1, 0, 0, 0).unwrap());
    let (_, body) = env
        .call(
            "POST",
            "/v1/vouchers/PCT%2010/validate",
            Some(json!({"order": {"amount": 8000}})),
        )
        .await;
    assert_eq!(body["error"]["key"], "voucher_expired", "{body}");
}
