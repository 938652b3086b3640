//! Vouchers, campaigns, async actions and exports through the whole app.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::support::{send_raw, Env};

/// Polls an async action until it is DONE or FAILED.
async fn wait_action(env: &Env, id: &str) -> Value {
    for _ in 0..500 {
        let (status, action) = env
            .call("GET", &format!("/v1/async-actions/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{action}");
        if action["status"] == "DONE" || action["status"] == "FAILED" {
            return action;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("async action {id} did not finish");
}

/// Polls a campaign until its codes are generated.
async fn wait_generated(env: &Env, id: &str) -> Value {
    for _ in 0..500 {
        let (status, campaign) = env.call("GET", &format!("/v1/campaigns/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{campaign}");
        if campaign["vouchers_generation_status"] != "IN_PROGRESS" {
            return campaign;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("campaign {id} did not finish generating");
}

async fn voucher_count(env: &Env) -> u64 {
    let (status, list) = env.call("GET", "/v1/vouchers?limit=1", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["total"].as_u64().unwrap()
}

/// A multipart body as the SDKs send a CSV upload.
fn multipart(csv: &str) -> (String, Vec<u8>) {
    let boundary = "----sdk-boundary-42";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"vouchers.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

fn percent_off(percent: u32) -> Value {
    json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": percent}})
}

#[tokio::test]
async fn vouchers_are_created_with_generated_or_given_codes() {
    let env = Env::new();
    for path in ["/v1/vouchers", "/v1/vouchers/"] {
        let (status, v) = env.call("POST", path, Some(percent_off(10))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let code = v["code"].as_str().unwrap();
        assert_eq!(code.len(), 8, "{code}");
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
        assert_eq!(v["object"], "voucher");
        assert!(v["id"].as_str().unwrap().starts_with("v_"));
        assert_eq!(v["type"], "DISCOUNT_VOUCHER");
        assert_eq!(
            v["discount"],
            json!({"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"})
        );
        assert_eq!(v["gift"], Value::Null);
        assert_eq!(v["loyalty_card"], Value::Null);
        assert_eq!(v["active"], true);
        assert_eq!(v["is_referral_code"], false);
        assert_eq!(v["redemption"]["quantity"], Value::Null);
        assert_eq!(v["redemption"]["redeemed_quantity"], json!(0));
        assert_eq!(v["redemption"]["object"], "list");
        assert_eq!(v["publish"]["count"], json!(0));
        assert_eq!(v["created_at"], "2026-11-23T12:00:00.000Z");
    }
    // A code config shapes the generated code.
    let mut body = percent_off(5);
    body["code_config"] = json!({"pattern": "PRE-####", "charset": "ABC"});
    let (status, v) = env.call("POST", "/v1/vouchers", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let code = v["code"].as_str().unwrap();
    assert!(code.starts_with("PRE-") && code.len() == 8, "{code}");
    assert!(code[4..].chars().all(|c| "ABC".contains(c)), "{code}");
    // A code in the body of POST /v1/vouchers.
    let mut body = percent_off(5);
    body["code"] = json!("BODYCODE");
    let (status, v) = env.call("POST", "/v1/vouchers", Some(body)).await;
    assert_eq!(
        (status, v["code"].clone()),
        (StatusCode::OK, json!("BODYCODE"))
    );

    // A gift card at a percent-encoded code, with validity fields.
    let body = json!({
        "type": "GIFT_VOUCHER",
        "gift": {"amount": 10000},
        "category": "cards",
        "start_date": "2026-01-01T00:00:00Z",
        "expiration_date": "2027-12-31",
        "validity_day_of_week": [1, 2, 3],
        "validity_timeframe": {"interval": "P2D", "duration": "PT1H"},
        "validity_hours": {"daily": [{"start_time": "09:00", "expiration_time": "17:00", "days_of_week": [1]}]},
        "redemption": {"quantity": "3"},
        "metadata": {"shop": "north"},
        "additional_info": "for staff",
    });
    let (status, v) = env
        .call("POST", "/v1/vouchers/AB%20C%2F1", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["code"], "AB C/1");
    assert_eq!(v["type"], "GIFT_VOUCHER");
    assert_eq!(
        v["gift"],
        json!({"amount": 10000, "balance": 10000, "effect": "APPLY_TO_ORDER"})
    );
    assert_eq!(v["discount"], Value::Null);
    assert_eq!(v["category"], "cards");
    assert_eq!(v["start_date"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["expiration_date"], "2027-12-31");
    assert_eq!(v["validity_day_of_week"], json!([1, 2, 3]));
    assert_eq!(
        v["validity_timeframe"],
        json!({"interval": "P2D", "duration": "PT1H"})
    );
    assert_eq!(v["validity_hours"]["daily"][0]["start_time"], "09:00");
    assert_eq!(v["redemption"]["quantity"], json!(3));
    assert_eq!(v["metadata"], json!({"shop": "north"}));
    assert_eq!(v["additional_info"], "for staff");
    assert_eq!(
        v["redemption"]["url"],
        "/v1/vouchers/AB%20C%2F1/redemption?page=1&limit=10"
    );

    // Read back by code and by id.
    let (status, by_code) = env.call("GET", "/v1/vouchers/AB%20C%2F1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_code, v);
    let id = v["id"].as_str().unwrap();
    let (status, by_id) = env.call("GET", &format!("/v1/vouchers/{id}"), None).await;
    assert_eq!((status, by_id), (StatusCode::OK, v.clone()));

    // A taken code is 409, an unknown one 404.
    let (status, err) = env
        .call("POST", "/v1/vouchers/AB%20C%2F1", Some(percent_off(1)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["key"], "duplicate_found");
    let (status, err) = env.call("GET", "/v1/vouchers/NOPE", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["key"], "not_found");

    // Codes spelled like the import paths are still codes.
    let mut body = percent_off(5);
    body["code"] = json!("import");
    let (status, _) = env.call("POST", "/v1/vouchers", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = env.call("GET", "/v1/vouchers/import", None).await;
    assert_eq!(
        (status, v["code"].clone()),
        (StatusCode::OK, json!("import"))
    );
    let (status, v) = env
        .call("PUT", "/v1/vouchers/import", Some(json!({"active": false})))
        .await;
    assert_eq!(
        (status, v["active"].clone()),
        (StatusCode::OK, json!(false))
    );
    let (status, _) = env.call("DELETE", "/v1/vouchers/import", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = env.call("GET", "/v1/vouchers/importCSV", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another project sees nothing.
    let (_, other) = env.add_project("other");
    let (status, err) = env
        .call_as(&other, "GET", "/v1/vouchers/AB%20C%2F1", None)
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
}

#[tokio::test]
async fn bad_voucher_requests_are_refused_and_change_nothing() {
    let env = Env::new();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"discount": {"type": "NOPE"}}), "invalid_payload"),
        (json!({"discount": {"type": "AMOUNT"}}), "invalid_payload"),
        (
            json!({"discount": {"type": "AMOUNT", "amount_off": "x"}}),
            "invalid_amount",
        ),
        (
            json!({"discount": {"type": "AMOUNT", "amount_off": -100}}),
            "invalid_amount",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 150}}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 10, "effect": "ADD_NEW_ITEMS"}}),
            "invalid_payload",
        ),
        (
            json!({"type": "GIFT_VOUCHER", "gift": {"amount": -5}}),
            "invalid_amount",
        ),
        (
            json!({"type": "GIFT_VOUCHER", "gift": {"amount": 10.5}}),
            "invalid_amount",
        ),
        (
            json!({"type": "LOYALTY_CARD", "loyalty_card": {"points": 1}}),
            "invalid_payload",
        ),
        (json!({"type": "NOPE"}), "invalid_payload"),
        (json!({}), "invalid_voucher"),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "active": "yes"}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "start_date": "soon"}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "validity_day_of_week": [9]}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "validity_timeframe": {"interval": "P1D"}, "start_date": "2026-01-01"}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "redemption": {"quantity": -1}}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "metadata": [1]}),
            "invalid_payload",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "code_config": {"length": 0}}),
            "invalid_code_config",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "campaign": "no-such-campaign"}),
            "not_found",
        ),
        (
            json!({"discount": {"type": "PERCENT", "percent_off": 1}, "code": " padded "}),
            "invalid_payload",
        ),
        (json!([1, 2]), "invalid_payload"),
    ];
    for (body, key) in cases {
        let (status, err) = env.call("POST", "/v1/vouchers", Some(body.clone())).await;
        assert!(status.is_client_error(), "{body}: {status} {err}");
        assert_eq!(err["key"], key, "{body}: {err}");
    }
    let (status, err) = send_raw(
        &env,
        &env.server,
        "POST",
        "/v1/vouchers",
        "application/json",
        b"{\"discount\":".to_vec(),
    )
    .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    );
    assert_eq!(voucher_count(&env).await, 0);
}

#[tokio::test]
async fn updates_change_only_given_fields_and_never_server_managed_ones() {
    let env = Env::new();
    let (_, gift) = env
        .call(
            "POST",
            "/v1/vouchers/GIFT1",
            Some(json!({"type": "GIFT_VOUCHER", "gift": {"amount": 5000}, "metadata": {"a": 1}, "category": "c1"})),
        )
        .await;
    env.set_now(crate::support::start() + chrono::Duration::hours(1));

    // What the JS SDK does: send the whole object back with server-managed
    // fields changed; only the writable ones take effect.
    let mut sent = gift.clone();
    sent["id"] = json!("v_forged");
    sent["code"] = json!("OTHER");
    sent["created_at"] = json!("2020-01-01T00:00:00.000Z");
    sent["redemption"]["redeemed_quantity"] = json!(99);
    sent["redemption"]["redeemed_amount"] = json!(99);
    sent["gift"]["balance"] = json!(1);
    sent["gift"]["amount"] = json!(1);
    sent["publish"]["count"] = json!(7);
    sent["holder_id"] = json!("cust_forged");
    let (status, same) = env.call("PUT", "/v1/vouchers/GIFT1", Some(sent)).await;
    assert_eq!(status, StatusCode::OK, "{same}");
    let mut expected = gift.clone();
    expected["updated_at"] = same["updated_at"].clone();
    assert_eq!(same, expected);

    // Only what is given changes.
    let (status, changed) = env
        .call(
            "PUT",
            "/v1/vouchers/GIFT1",
            Some(json!({"active": false, "metadata": {"b": 2}, "expiration_date": "2027-01-01", "redemption": {"quantity": 4}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["active"], false);
    assert_eq!(changed["metadata"], json!({"b": 2}));
    assert_eq!(changed["expiration_date"], "2027-01-01");
    assert_eq!(changed["redemption"]["quantity"], json!(4));
    assert_eq!(changed["category"], "c1");
    assert_eq!(changed["gift"]["balance"], json!(5000));
    assert_eq!(changed["updated_at"], "2026-11-23T13:00:00.000Z");
    assert_eq!(changed["created_at"], gift["created_at"]);
    // An empty body changes nothing but the update time.
    let (status, _) = env.call("PUT", "/v1/vouchers/GIFT1", None).await;
    assert_eq!(status, StatusCode::OK);

    // The type and the discount type never change.
    let (_, disc) = env
        .call("POST", "/v1/vouchers/DISC1", Some(percent_off(10)))
        .await;
    for (path, body, key) in [
        (
            "/v1/vouchers/GIFT1",
            json!({"discount": {"type": "AMOUNT", "amount_off": 1}}),
            "invalid_voucher",
        ),
        (
            "/v1/vouchers/DISC1",
            json!({"discount": {"type": "AMOUNT", "amount_off": 100}}),
            "invalid_voucher",
        ),
        (
            "/v1/vouchers/DISC1",
            json!({"discount": {"type": "PERCENT", "percent_off": 101}}),
            "invalid_payload",
        ),
        (
            "/v1/vouchers/DISC1",
            json!({"start_date": "never"}),
            "invalid_payload",
        ),
        (
            "/v1/vouchers/DISC1",
            json!({"active": 3}),
            "invalid_payload",
        ),
        ("/v1/vouchers/NOPE", json!({"active": true}), "not_found"),
    ] {
        let (status, err) = env.call("PUT", path, Some(body.clone())).await;
        assert!(status.is_client_error(), "{body}: {err}");
        assert_eq!(err["key"], key, "{body}: {err}");
    }
    // The Python SDK sends `type: DISCOUNT_VOUCHER` in every update: not
    // read.
    let (status, still_gift) = env
        .call(
            "PUT",
            "/v1/vouchers/GIFT1",
            Some(json!({"type": "DISCOUNT_VOUCHER", "category": null})),
        )
        .await;
    assert_eq!(
        (status, still_gift["type"].clone()),
        (StatusCode::OK, json!("GIFT_VOUCHER"))
    );
    assert_eq!(still_gift["category"], "c1");
    let (_, disc_after) = env.call("GET", "/v1/vouchers/DISC1", None).await;
    assert_eq!(disc_after, disc);
    // A discount of the same type changes.
    let (status, disc) = env
        .call(
            "PUT",
            "/v1/vouchers/DISC1",
            Some(json!({"discount": {"type": "PERCENT", "percent_off": 25, "amount_limit": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        disc["discount"],
        json!({"type": "PERCENT", "percent_off": 25, "amount_limit": 1000, "effect": "APPLY_TO_ORDER"})
    );

    // Delete: 204, then 404.
    let (status, body) = env
        .call("DELETE", "/v1/vouchers/DISC1?force=true", None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _) = env.call("GET", "/v1/vouchers/DISC1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = env.call("DELETE", "/v1/vouchers/DISC1", None).await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
}

#[tokio::test]
async fn vouchers_are_listed_with_filters() {
    let env = Env::new();
    let (status, campaign) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Spring", "type": "STATIC", "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{campaign}");
    for (i, code) in ["L1", "L2", "L3"].iter().enumerate() {
        env.set_now(crate::support::start() + chrono::Duration::minutes(i as i64));
        let mut body = percent_off(10);
        body["category"] = json!(if i == 0 { "food" } else { "toys" });
        let (status, _) = env
            .call("POST", &format!("/v1/vouchers/{code}"), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = env
        .call("POST", "/v1/campaigns/Spring/vouchers/S1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    env.call("POST", "/v1/vouchers/L3/disable", None).await;

    let codes = |list: &Value| -> Vec<String> {
        list["vouchers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, list) = env.call("GET", "/v1/vouchers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data_ref"], "vouchers");
    assert_eq!(list["total"], json!(4));
    let (_, page) = env.call("GET", "/v1/vouchers/?limit=2&page=2", None).await;
    assert_eq!(page["total"], json!(4));
    assert_eq!(codes(&page).len(), 2);
    for (query, expected) in [
        ("campaign=Spring", vec!["S1"]),
        (
            &format!("campaign_id={}", campaign["id"].as_str().unwrap()) as &str,
            vec!["S1"],
        ),
        ("category=food", vec!["L1"]),
        (
            "ids%5B0%5D=L1&ids%5B1%5D=L3&order=created_at",
            vec!["L1", "L3"],
        ),
        (
            "ids=%5B%27L2%27%2C%20%27L3%27%5D&order=created_at",
            vec!["L2", "L3"],
        ),
        ("code=L2", vec!["L2"]),
        ("filters[category][conditions][$is]=food", vec!["L1"]),
        ("filters%5Bactive%5D%5Bconditions%5D%5B%24is%5D=false", vec!["L3"]),
        ("filters[active][conditions][$disabled]=true", vec!["L3"]),
        ("filters[campaign_id][conditions][$in][0]=Spring", vec!["S1"]),
        (
            "created_at%5Bafter%5D=2026-11-23T12:00:30%2B00:00&order=created_at",
            vec!["L2", "L3", "S1"],
        ),
        ("created_at[before]=2026-11-23T12:00:30Z", vec!["L1"]),
        ("created_at[before]=None&created_at[after]=2026-11-23T12:00:30%2B00:00&order=created_at", vec!["L2", "L3", "S1"]),
    ] {
        let (status, list) = env
            .call("GET", &format!("/v1/vouchers?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        let mut got = codes(&list);
        if !query.contains("order") {
            got.sort();
        }
        assert_eq!(got, expected, "{query}");
    }
    for (query, key) in [
        ("limit=0", "invalid_query_params"),
        ("limit=101", "invalid_query_params"),
        ("page=0", "invalid_query_params"),
        ("page=1001", "page_over_limit"),
        ("created_at[before]=yesterday", "invalid_query_params"),
    ] {
        let (status, err) = env
            .call("GET", &format!("/v1/vouchers?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(err["key"], key, "{query}");
    }
}

#[tokio::test]
async fn vouchers_are_enabled_and_disabled() {
    let env = Env::new();
    env.call("POST", "/v1/vouchers/ON%2F1", Some(percent_off(10)))
        .await;
    let (status, v) = env.call("POST", "/v1/vouchers/ON%2F1/disable", None).await;
    assert_eq!(
        (status, v["active"].clone()),
        (StatusCode::OK, json!(false))
    );
    let (status, v) = env
        .call("POST", "/v1/vouchers/ON%2F1/enable", Some(json!({})))
        .await;
    assert_eq!((status, v["active"].clone()), (StatusCode::OK, json!(true)));
    for path in ["/v1/vouchers/NOPE/enable", "/v1/vouchers/NOPE/disable"] {
        let (status, err) = env.call("POST", path, None).await;
        assert_eq!(
            (status, err["key"].clone()),
            (StatusCode::NOT_FOUND, json!("not_found"))
        );
    }
}

#[tokio::test]
async fn gift_balances_move_and_list_their_transactions() {
    let env = Env::new();
    env.call(
        "POST",
        "/v1/vouchers/CARD",
        Some(json!({"type": "GIFT_VOUCHER", "gift": {"amount": 10000}})),
    )
    .await;
    let (status, balance) = env
        .call(
            "POST",
            "/v1/vouchers/CARD/balance",
            Some(json!({"amount": 2500, "reason": "gift", "source_id": "s-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{balance}");
    assert_eq!(balance["amount"], json!(2500));
    assert_eq!(balance["balance"], json!(12500));
    assert_eq!(balance["type"], "gift_voucher");
    assert_eq!(balance["operation_type"], "MANUAL");
    assert_eq!(balance["object"], "balance");
    assert_eq!(balance["related_object"]["type"], "voucher");
    assert!(balance["total"].is_i64());
    let (status, balance) = env
        .call(
            "POST",
            "/v1/vouchers/CARD/balance",
            Some(json!({"amount": -500})),
        )
        .await;
    assert_eq!(
        (status, balance["balance"].clone()),
        (StatusCode::OK, json!(12000))
    );

    for (body, status, key) in [
        (
            json!({"amount": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            json!({"amount": -12001}),
            StatusCode::BAD_REQUEST,
            "gift_amount_exceeded",
        ),
        (
            json!({"amount": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_amount"),
    ] {
        let (got, err) = env
            .call("POST", "/v1/vouchers/CARD/balance", Some(body.clone()))
            .await;
        assert_eq!((got, err["key"].clone()), (status, json!(key)), "{body}");
    }
    let (status, err) = env
        .call(
            "POST",
            "/v1/vouchers/NOPE/balance",
            Some(json!({"amount": 1})),
        )
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    env.call("POST", "/v1/vouchers/DISC", Some(percent_off(5)))
        .await;
    let (status, err) = env
        .call(
            "POST",
            "/v1/vouchers/DISC/balance",
            Some(json!({"amount": 100})),
        )
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_voucher"))
    );
    let (_, card) = env.call("GET", "/v1/vouchers/CARD", None).await;
    assert_eq!(card["gift"]["balance"], json!(12000));

    let (status, txs) = env
        .call("GET", "/v1/vouchers/CARD/transactions", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{txs}");
    assert_eq!(txs["object"], "list");
    assert_eq!(txs["data_ref"], "data");
    let data = txs["data"].as_array().unwrap();
    assert!(data.len() >= 2, "{txs}");
    let removal = data
        .iter()
        .find(|t| t["type"] == "CREDITS_REMOVAL")
        .expect("a removal");
    assert_eq!(removal["details"]["balance"]["balance"], json!(12000));
    assert_eq!(removal["details"]["balance"]["object"], "balance");
    assert!(removal["id"].as_str().unwrap().starts_with("vtx_"));
    let (status, page) = env
        .call("GET", "/v1/vouchers/CARD/transactions?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["has_more"], true);
    let (status, _) = env
        .call("GET", "/v1/vouchers/NOPE/transactions", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn vouchers_are_imported_from_json_and_csv_as_async_actions() {
    let env = Env::new();
    env.call("POST", "/v1/vouchers/TAKEN", Some(percent_off(1)))
        .await;
    let (status, accepted) = env
        .call(
            "POST",
            "/v1/vouchers/import",
            Some(json!([
                {"code": "IMP1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}, "metadata": {"k": "v"}},
                {"code": "IMP2", "type": "GIFT_VOUCHER", "gift": {"amount": 3000}, "redemption": {"quantity": 2}},
                {"code": "TAKEN", "discount": {"type": "PERCENT", "percent_off": 1}},
                {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 1}},
                {"code": "BAD", "discount": {"type": "NOPE"}},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["async_action_id"].as_str().unwrap();
    assert!(id.starts_with("aa_"));
    let action = wait_action(&env, id).await;
    assert_eq!(action["status"], "DONE", "{action}");
    assert_eq!(action["type"], "VOUCHERS.IMPORT");
    assert_eq!(action["object"], "async_action");
    assert_eq!(action["progress"], json!(100));
    assert_eq!(action["result"]["done_count"], json!(2));
    let rows: Vec<u64> = action["result"]["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 4, 5]);
    let (status, imp2) = env.call("GET", "/v1/vouchers/IMP2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(imp2["gift"]["balance"], json!(3000));
    assert_eq!(imp2["redemption"]["quantity"], json!(2));
    let (status, err) = env
        .call("POST", "/v1/vouchers/import", Some(json!({"code": "X"})))
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    );

    // CSV, as a multipart upload.
    let csv = "Code,Voucher Type,Value,Discount Type,Redemption Limit,Category\nCSV1,DISCOUNT_VOUCHER,10,PERCENT,5,csv\nCSV2,GIFT_VOUCHER,25.00,,,\n,DISCOUNT_VOUCHER,1,AMOUNT,,\n";
    let (content_type, body) = multipart(csv);
    let (status, accepted) = send_raw(
        &env,
        &env.server,
        "POST",
        "/v1/vouchers/importCSV",
        &content_type,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(action["status"], "DONE", "{action}");
    assert_eq!(action["type"], "VOUCHERS.IMPORT_CSV");
    assert_eq!(action["result"]["done_count"], json!(2));
    assert_eq!(action["result"]["failed"][0]["row"], json!(3));
    let (_, csv1) = env.call("GET", "/v1/vouchers/CSV1", None).await;
    assert_eq!(csv1["discount"]["percent_off"], json!(10));
    assert_eq!(csv1["redemption"]["quantity"], json!(5));
    let (_, csv2) = env.call("GET", "/v1/vouchers/CSV2", None).await;
    assert_eq!(csv2["gift"]["amount"], json!(2500));

    // No file, and a file over the limit.
    let (status, err) = send_raw(
        &env,
        &env.server,
        "POST",
        "/v1/vouchers/importCSV",
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--x--\r\n".to_vec(),
    )
    .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    );
    let small = Env::with_config(voucher_http::Config {
        csv_body_max: 64,
        ..voucher_http::Config::default()
    });
    let (content_type, body) = multipart(&"Code\nA\n".repeat(20));
    let (status, err) = send_raw(
        &small,
        &small.server,
        "POST",
        "/v1/vouchers/importCSV",
        &content_type,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err["key"], "payload_too_large");
    assert_eq!(voucher_count(&small).await, 0);

    let (status, err) = env.call("GET", "/v1/async-actions/aa_nope", None).await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
}

#[tokio::test]
async fn campaigns_generate_their_codes_in_the_background() {
    let env = Env::new();
    let (status, campaign) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({
                "name": "C1",
                "campaign_type": "DISCOUNT_COUPONS",
                "type": "STATIC",
                "vouchers_count": 5,
                "description": "five codes",
                "metadata": {"team": "x"},
                "expiration_date": "2027-01-01",
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "AMOUNT", "amount_off": 1000},
                    "redemption": {"quantity": 1},
                    "code_config": {"pattern": "C1-####"},
                },
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{campaign}");
    assert_eq!(campaign["object"], "campaign");
    assert!(campaign["id"].as_str().unwrap().starts_with("camp_"));
    assert_eq!(campaign["vouchers_generation_status"], "IN_PROGRESS");
    assert_eq!(campaign["campaign_type"], "DISCOUNT_COUPONS");
    assert_eq!(campaign["type"], "STATIC");
    assert_eq!(campaign["voucher"]["code_config"]["pattern"], "C1-####");
    assert_eq!(campaign["voucher"]["code_config"]["length"], json!(4));
    assert_eq!(
        campaign["voucher"]["discount"],
        json!({"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"})
    );
    assert_eq!(campaign["voucher"]["redemption"]["quantity"], json!(1));
    assert_eq!(campaign["expiration_date"], "2027-01-01");
    let id = campaign["id"].as_str().unwrap().to_owned();

    let done = wait_generated(&env, &id).await;
    assert_eq!(done["vouchers_generation_status"], "DONE");
    assert_eq!(done["vouchers_count"], json!(5));
    let (_, list) = env
        .call("GET", "/v1/vouchers?campaign=C1&limit=100", None)
        .await;
    assert_eq!(list["total"], json!(5));
    for v in list["vouchers"].as_array().unwrap() {
        let code = v["code"].as_str().unwrap();
        assert!(code.starts_with("C1-") && code.len() == 7, "{code}");
        assert_eq!(v["campaign"], "C1");
        assert_eq!(v["campaign_id"], json!(id));
        assert_eq!(v["discount"]["amount_off"], json!(1000));
    }

    // By name or id; the list.
    let (status, by_name) = env.call("GET", "/v1/campaigns/C1", None).await;
    assert_eq!((status, by_name["id"].clone()), (StatusCode::OK, json!(id)));
    let (status, list) = env.call("GET", "/v1/campaigns", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data_ref"], "campaigns");
    assert_eq!(list["total"], json!(1));
    assert_eq!(list["campaigns"][0]["name"], "C1");

    // A taken name.
    let (status, err) = env
        .call(
            "POST",
            "/v1/campaigns/",
            Some(json!({"name": "C1", "voucher": {"discount": {"type": "PERCENT", "percent_off": 5}}})),
        )
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::CONFLICT, json!("duplicate_found"))
    );

    // Updates: given fields only; server-managed ones ignored.
    let mut sent = done.clone();
    sent["vouchers_count"] = json!(999);
    sent["id"] = json!("camp_forged");
    sent["created_at"] = json!("2020-01-01T00:00:00.000Z");
    sent["vouchers_generation_status"] = json!("FAILED");
    sent["description"] = json!("updated");
    let (status, updated) = env
        .call("PUT", &format!("/v1/campaigns/{id}"), Some(sent))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["description"], "updated");
    assert_eq!(updated["vouchers_count"], json!(5));
    assert_eq!(updated["id"], json!(id));
    assert_eq!(updated["created_at"], done["created_at"]);
    assert_eq!(updated["vouchers_generation_status"], "DONE");
    assert_eq!(updated["metadata"], json!({"team": "x"}));
    let (status, updated) = env
        .call(
            "PUT",
            "/v1/campaigns/C1",
            Some(json!({"metadata": {"team": "y"}})),
        )
        .await;
    assert_eq!(
        (status, updated["metadata"].clone()),
        (StatusCode::OK, json!({"team": "y"}))
    );
    assert_eq!(updated["description"], "updated");
    for (body, key) in [
        (json!({"type": "AUTO_UPDATE"}), "invalid_campaign"),
        (
            json!({"campaign_type": "GIFT_VOUCHERS"}),
            "invalid_campaign",
        ),
        (json!({"type": "WEIRD"}), "invalid_payload"),
        (
            json!({"voucher": {"code_config": {"length": 0}}}),
            "invalid_code_config",
        ),
    ] {
        let (status, err) = env
            .call("PUT", "/v1/campaigns/C1", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["key"], key, "{body}");
    }

    // Enable and disable answer {}.
    let (status, body) = env.call("POST", "/v1/campaigns/C1/disable", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (_, c) = env.call("GET", "/v1/campaigns/C1", None).await;
    assert_eq!(c["active"], false);
    let (status, _) = env
        .call(
            "POST",
            &format!("/v1/campaigns/{id}/enable"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, c) = env.call("GET", "/v1/campaigns/C1", None).await;
    assert_eq!(c["active"], true);

    // Delete: 202 with an async action, then 404 and its codes gone.
    let (status, accepted) = env
        .call("DELETE", "/v1/campaigns/C1?force=true", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(action["status"], "DONE");
    let (status, _) = env.call("GET", &format!("/v1/campaigns/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(voucher_count(&env).await, 0);
}

#[tokio::test]
async fn bad_campaign_requests_are_refused() {
    let env = Env::new();
    let discount =
        json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 5}});
    for (body, key) in [
        (json!({"voucher": discount.clone()}), "invalid_payload"),
        (
            json!({"name": "X", "campaign_type": "NOPE", "voucher": discount.clone()}),
            "invalid_payload",
        ),
        (
            json!({"name": "X", "campaign_type": "LOYALTY_PROGRAM", "voucher": discount.clone()}),
            "invalid_campaign",
        ),
        (
            json!({"name": "X", "type": "NOPE", "voucher": discount.clone()}),
            "invalid_payload",
        ),
        (json!({"name": "X"}), "invalid_payload"),
        (
            json!({"name": "X", "campaign_type": "GIFT_VOUCHERS", "voucher": discount.clone()}),
            "invalid_campaign",
        ),
        (
            json!({"name": "X", "campaign_type": "GIFT_VOUCHERS"}),
            "invalid_payload",
        ),
        (
            json!({"name": "X", "vouchers_count": -1, "voucher": discount.clone()}),
            "invalid_payload",
        ),
        (
            json!({"name": "X", "vouchers_count": 100, "voucher": {"discount": {"type": "PERCENT", "percent_off": 5}, "code_config": {"pattern": "#", "charset": "AB"}}}),
            "invalid_code_config",
        ),
        (
            json!({"name": "X", "voucher": {"discount": {"type": "PERCENT", "percent_off": 5}, "code_config": {"length": 0}}}),
            "invalid_code_config",
        ),
        (
            json!({"name": "X", "start_date": "nope", "voucher": discount.clone()}),
            "invalid_payload",
        ),
        (
            json!({"name": "X", "activity_duration_after_publishing": "24 days", "voucher": discount.clone()}),
            "invalid_payload",
        ),
        (
            json!({"name": "X", "validation_rules": ["val_nope"], "voucher": discount.clone()}),
            "not_found",
        ),
    ] {
        let (status, err) = env.call("POST", "/v1/campaigns", Some(body.clone())).await;
        assert!(status.is_client_error(), "{body}: {status} {err}");
        assert_eq!(err["key"], key, "{body}: {err}");
    }
    let (_, list) = env.call("GET", "/v1/campaigns", None).await;
    assert_eq!(list["total"], json!(0));
    for (method, path) in [
        ("GET", "/v1/campaigns/NOPE"),
        ("PUT", "/v1/campaigns/NOPE"),
        ("DELETE", "/v1/campaigns/NOPE"),
        ("POST", "/v1/campaigns/NOPE/enable"),
        ("POST", "/v1/campaigns/NOPE/disable"),
        ("GET", "/v1/campaigns/NOPE/summary"),
        ("POST", "/v1/campaigns/NOPE/vouchers"),
        ("POST", "/v1/campaigns/NOPE/vouchers/CODE"),
        ("POST", "/v1/campaigns/NOPE/import"),
    ] {
        let body = if path.ends_with("import") {
            Some(json!([]))
        } else {
            None
        };
        let (status, err) = env.call(method, path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(err["key"], "not_found", "{method} {path}");
    }
    // Another project's campaign is not found either.
    env.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "Mine", "voucher": discount})),
    )
    .await;
    let (_, other) = env.add_project("other");
    let (status, _) = env.call_as(&other, "GET", "/v1/campaigns/Mine", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn codes_are_added_and_imported_into_campaigns() {
    let env = Env::new();
    let (status, campaign) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Gifts", "campaign_type": "GIFT_VOUCHERS", "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 2000}, "code_config": {"prefix": "G-", "length": 6}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{campaign}");
    assert_eq!(campaign["vouchers_generation_status"], "DONE");
    assert_eq!(campaign["campaign_type"], "GIFT_VOUCHERS");
    assert_eq!(campaign["voucher"]["gift"]["amount"], json!(2000));
    assert_eq!(campaign["type"], "AUTO_UPDATE");

    // One code, with no body (as the Python SDK sends it).
    let (status, v) = env.call("POST", "/v1/campaigns/Gifts/vouchers", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["campaign"], "Gifts");
    assert_eq!(v["type"], "GIFT_VOUCHER");
    assert_eq!(v["gift"]["balance"], json!(2000));
    let code = v["code"].as_str().unwrap();
    assert!(code.starts_with("G-") && code.len() == 8, "{code}");
    // One code with fields of its own.
    let (status, v) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers?vouchers_count=1",
            Some(json!({"metadata": {"batch": 1}, "category": "b1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["metadata"], json!({"batch": 1}));
    // Several: 202 and an async action.
    let (status, accepted) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers?vouchers_count=3",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(
        (
            action["status"].clone(),
            action["result"]["done_count"].clone()
        ),
        (json!("DONE"), json!(3))
    );
    assert_eq!(action["type"], "CAMPAIGN.VOUCHERS_GENERATE");
    let (status, accepted) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers",
            Some(json!({"vouchers_count": 2, "metadata": {"batch": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(action["result"]["done_count"], json!(2), "{action}");
    let (_, list) = env
        .call("GET", "/v1/vouchers?campaign=Gifts&limit=100", None)
        .await;
    assert_eq!(list["total"], json!(7));
    let (status, err) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers?vouchers_count=0",
            None,
        )
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    );

    // A given code; again is 409; a discount in a gift campaign is refused.
    let (status, v) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers/MY%20CODE",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, v["code"].clone()),
        (StatusCode::OK, json!("MY CODE"))
    );
    let (status, err) = env
        .call("POST", "/v1/campaigns/Gifts/vouchers/MY%20CODE", None)
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::CONFLICT, json!("duplicate_found"))
    );
    let (status, err) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/vouchers/DISC",
            Some(json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 1}})),
        )
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_voucher"))
    );

    // Imports into the campaign.
    let (status, accepted) = env
        .call(
            "POST",
            "/v1/campaigns/Gifts/import",
            Some(json!([{"code": "GI-1"}, {"code": "GI-2", "gift": {"amount": 5000}}, {"code": "MY CODE"}])),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(action["type"], "CAMPAIGN.VOUCHERS_IMPORT");
    assert_eq!(action["result"]["done_count"], json!(2), "{action}");
    assert_eq!(action["result"]["failed"][0]["code"], "MY CODE");
    let (_, gi2) = env.call("GET", "/v1/vouchers/GI-2", None).await;
    assert_eq!(
        (gi2["campaign"].clone(), gi2["gift"]["amount"].clone()),
        (json!("Gifts"), json!(5000))
    );
    let (content_type, body) = multipart("Code\nGC-1\nGC-2\n");
    let id = campaign["id"].as_str().unwrap();
    let (status, accepted) = send_raw(
        &env,
        &env.server,
        "POST",
        &format!("/v1/campaigns/{id}/importCSV"),
        &content_type,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let action = wait_action(&env, accepted["async_action_id"].as_str().unwrap()).await;
    assert_eq!(action["type"], "CAMPAIGN.VOUCHERS_IMPORT_CSV");
    assert_eq!(action["result"]["done_count"], json!(2), "{action}");
    let (_, gc1) = env.call("GET", "/v1/vouchers/GC-1", None).await;
    assert_eq!(
        (gc1["campaign"].clone(), gc1["gift"]["amount"].clone()),
        (json!("Gifts"), json!(2000))
    );

    // The summary.
    let (status, summary) = env.call("GET", "/v1/campaigns/Gifts/summary", None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["object"], "campaign_summary");
    assert_eq!(summary["campaign"]["name"], "Gifts");
    assert_eq!(summary["vouchers_created"], json!(12));
    for field in [
        "redemptions",
        "redemptions_succeeded",
        "redemptions_failed",
        "rollbacks",
        "discounted_amount",
        "rolledback_discounted_amount",
        "orders_amount",
    ] {
        assert_eq!(summary[field], json!(0), "{field}");
    }
}

#[tokio::test]
async fn exports_write_vouchers_and_redemptions_as_csv() {
    let env = Env::new();
    for code in ["EX1", "EX2"] {
        env.call(
            "POST",
            &format!("/v1/vouchers/{code}"),
            Some(percent_off(10)),
        )
        .await;
    }
    let (status, export) = env
        .call(
            "POST",
            "/v1/exports",
            Some(json!({"exported_object": "voucher", "parameters": {"order": "-created_at"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["object"], "export");
    assert_eq!(export["status"], "SCHEDULED");
    assert_eq!(export["exported_object"], "voucher");
    let id = export["id"].as_str().unwrap();
    assert!(id.starts_with("exp_"), "{id}");
    let (status, got) = env.call("GET", &format!("/v1/exports/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["status"], "DONE");
    let url = got["result"]["url"].as_str().unwrap();
    let (status, csv) = env.call("GET", url, None).await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    assert!(csv.contains("EX1") && csv.contains("EX2"), "{csv}");
    let request = Request::builder()
        .uri(format!("/v1/exports/{id}/download"))
        .header("x-app-id", &env.server.id)
        .header("x-app-token", &env.server.token)
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(env.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let (status, err) = env
        .call("GET", &format!("/v1/exports/{id}?token=wrong"), None)
        .await;
    assert_eq!(
        (status, err["key"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );

    let (status, export) = env
        .call("POST", "/v1/exports", Some(json!({"exported_object": "redemption", "parameters": {"filters": {"result": {"conditions": {"$in": ["SUCCESS"]}}}}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let id = export["id"].as_str().unwrap();
    let (status, _) = env
        .call("GET", &format!("/v1/exports/{id}/download"), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    for body in [
        json!({"exported_object": "customer"}),
        json!({}),
        json!({"exported_object": "voucher", "parameters": [1]}),
        json!({"exported_object": "redemption", "parameters": {"filters": {"result": {"conditions": {"$is": "MAYBE"}}}}}),
    ] {
        let (status, err) = env.call("POST", "/v1/exports", Some(body.clone())).await;
        assert_eq!(
            (status, err["key"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_payload")),
            "{body}"
        );
    }
    for path in [
        "/v1/exports/exp_nope",
        "/v1/exports/nope",
        "/v1/exports/exp_nope/download",
    ] {
        let (status, err) = env.call("GET", path, None).await;
        assert_eq!(
            (status, err["key"].clone()),
            (StatusCode::NOT_FOUND, json!("not_found")),
            "{path}"
        );
    }
    // An export is not an async action.
    let action_id = id.replacen("exp_", "aa_", 1);
    let (status, _) = env
        .call("GET", &format!("/v1/async-actions/{action_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Redeems `code` on an order of 50.00 through the store (the redemption
/// endpoints are another module's).
fn redeem(env: &Env, code: &str) -> Result<String, voucher_core::port::StoreError> {
    use voucher_core::money::{Currency, Money};
    use voucher_core::order::Order;
    use voucher_core::port::{
        ChannelType, CheckoutMode, CheckoutRequest, CheckoutStore, RedeemableRequest,
    };
    let request = CheckoutRequest {
        mode: CheckoutMode::Legacy,
        redeemables: vec![RedeemableRequest {
            code: code.to_owned(),
            credits: None,
        }],
        order: Order {
            id: None,
            amount: Some(Money::from_wire(5000, Currency::EUR).unwrap()),
            items: Vec::new(),
            metadata: Default::default(),
        },
        order_status: None,
        customer: None,
        metadata: Default::default(),
        channel: ChannelType::Api,
        tracking_id: None,
        now: env.now(),
    };
    env.store.redeem(env.project, &request).map(|r| r.id)
}

#[tokio::test]
async fn the_campaign_summary_counts_every_success_and_rollbacks_apart() {
    use voucher_core::port::{ChannelType, CheckoutStore, RollbackRequest};
    let env = Env::new();
    let (status, _) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Sum", "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1000}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    env.call("POST", "/v1/campaigns/Sum/vouchers/SUM1", None)
        .await;
    let first = redeem(&env, "SUM1").unwrap();
    redeem(&env, "SUM1").unwrap();
    env.store
        .rollback(
            env.project,
            &RollbackRequest {
                redemption_id: first,
                reason: None,
                tracking_id: None,
                metadata: Default::default(),
                channel: ChannelType::Api,
                now: env.now(),
            },
        )
        .unwrap();
    env.call("POST", "/v1/vouchers/SUM1/disable", None).await;
    assert!(redeem(&env, "SUM1").is_err());

    let (status, summary) = env.call("GET", "/v1/campaigns/Sum/summary", None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    for (field, value) in [
        ("redemptions", 3),
        ("redemptions_succeeded", 2),
        ("redemptions_failed", 1),
        ("rollbacks", 1),
        ("rollbacks_succeeded", 1),
        ("discounted_amount", 2000),
        ("rolledback_discounted_amount", 1000),
        ("orders_amount", 10000),
        ("orders_rolledback_amount", 5000),
        ("vouchers_created", 1),
    ] {
        assert_eq!(summary[field], json!(value), "{field}: {summary}");
    }
}
