//! Customers, validation rules and their assignments, and publications
//! over HTTP: every endpoint's success and its main refusals, updates that
//! ignore server-managed fields, and a rule made over HTTP refusing a small
//! order.

use axum::http::StatusCode;
use chrono::Duration;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use voucher_core::code_pattern::CodeConfig;
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::port::BenefitSpec;
use voucher_core::voucher::CampaignKind;

use crate::support::{campaign_spec, check_error, create, create_campaign, send_raw, spec, Env};

/// 10% off the order.
fn ten_percent() -> BenefitSpec {
    BenefitSpec::Discount(
        Discount::new(
            DiscountValue::Percent {
                percent_off: Decimal::from(10),
                amount_limit: None,
            },
            Effect::ApplyToOrder,
        )
        .unwrap(),
    )
}

/// A standalone 10% voucher made through the store.
fn voucher(env: &Env, code: &str) -> String {
    create(env, spec(code, ten_percent(), None))
}

// ---------------------------------------------------------------- customers

#[tokio::test]
async fn a_customer_is_created_read_updated_and_deleted() {
    let env = Env::new();
    let (status, created) = env
        .call(
            "POST",
            "/v1/customers",
            Some(json!({
                "source_id": "alice@example.com",
                "name": "Alice",
                "email": "alice@example.com",
                "phone": null,
                "birthdate": "1990-05-17",
                "address": {"city": "Lyon", "country": "FR", "line_1": null},
                "metadata": {"tier": "gold", "visits": 3}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cust_"), "{id}");
    assert_eq!(created["object"], "customer");
    assert_eq!(created["source_id"], "alice@example.com");
    assert_eq!(created["birthdate"], "1990-05-17");
    assert_eq!(created["address"], json!({"city": "Lyon", "country": "FR"}));
    assert_eq!(created["metadata"], json!({"tier": "gold", "visits": 3}));
    assert_eq!(created["created_at"], "2026-11-23T12:00:00.000Z");
    let redemptions = &created["summary"]["redemptions"];
    assert_eq!(redemptions["total_redeemed"], json!(0));
    assert!(redemptions["total_succeeded"].is_u64());
    assert!(created["summary"]["orders"]["total_amount"].is_i64());
    assert_eq!(created["loyalty"]["points"], json!(0));
    assert_eq!(created["referrals"], json!({"total": 0, "campaigns": []}));

    for key in [id.as_str(), "alice@example.com", "alice%40example.com"] {
        let (status, read) = env.call("GET", &format!("/v1/customers/{key}"), None).await;
        assert_eq!(status, StatusCode::OK, "{key}: {read}");
        assert_eq!(read["id"], id.as_str());
    }

    // The JS SDK sends back what it read: the server-managed fields change
    // nothing, and the fields not given stay.
    env.set_now(env.now() + Duration::hours(1));
    let mut sent = created.clone();
    sent["id"] = json!("cust_forged");
    sent["created_at"] = json!("2000-01-01T00:00:00.000Z");
    sent["summary"]["redemptions"]["total_redeemed"] = json!(99);
    sent["name"] = json!("Alice B.");
    sent.as_object_mut().unwrap().remove("email");
    let (status, updated) = env
        .call("PUT", "/v1/customers/alice@example.com", Some(sent))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "Alice B.");
    assert_eq!(updated["email"], "alice@example.com");
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(updated["updated_at"], "2026-11-23T13:00:00.000Z");
    assert_eq!(
        updated["summary"]["redemptions"]["total_redeemed"],
        json!(0)
    );

    let (status, body) = env
        .call("DELETE", &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let response = env.call("GET", &format!("/v1/customers/{id}"), None).await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(response.1["resource_type"], "customer");
    let response = env
        .call("DELETE", &format!("/v1/customers/{id}"), None)
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn creating_a_customer_again_by_source_id_updates_them() {
    let env = Env::new();
    let (_, first) = env
        .call(
            "POST",
            "/v1/customers",
            Some(json!({"source_id": "bob", "name": "Bob", "email": "bob@example.com"})),
        )
        .await;
    let (status, second) = env
        .call(
            "POST",
            "/v1/customers",
            Some(json!({"source_id": "bob", "name": "Robert", "email": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["name"], "Robert");
    assert_eq!(second["email"], "bob@example.com");
    // By id, too.
    let (status, third) = env
        .call(
            "POST",
            "/v1/customers",
            Some(json!({"id": first["id"], "phone": "+33 1 23"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(
        (third["id"].clone(), third["phone"].clone()),
        (first["id"].clone(), json!("+33 1 23"))
    );
    let (_, list) = env.call("GET", "/v1/customers", None).await;
    assert_eq!(list["total"], json!(1));
}

#[tokio::test]
async fn bad_customer_requests_are_refused_and_change_nothing() {
    let env = Env::new();
    env.call("POST", "/v1/customers", Some(json!({"source_id": "taken"})))
        .await;
    env.call("POST", "/v1/customers", Some(json!({"source_id": "other"})))
        .await;
    let cases = [
        (
            "POST",
            "/v1/customers",
            json!({"source_id": "x", "name": 42}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "POST",
            "/v1/customers",
            json!({"source_id": "x", "metadata": [1]}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "POST",
            "/v1/customers",
            json!({"source_id": "x", "birthdate": "17/05/1990"}),
            StatusCode::BAD_REQUEST,
            "invalid_customer",
        ),
        (
            "POST",
            "/v1/customers",
            json!({"source_id": ""}),
            StatusCode::BAD_REQUEST,
            "invalid_customer",
        ),
        (
            "POST",
            "/v1/customers",
            json!({"id": "cust_unknown"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "PUT",
            "/v1/customers/nobody",
            json!({"name": "N"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "PUT",
            "/v1/customers/other",
            json!({"source_id": "taken"}),
            StatusCode::CONFLICT,
            "duplicate_found",
        ),
        (
            "GET",
            "/v1/customers?limit=0",
            Value::Null,
            StatusCode::BAD_REQUEST,
            "invalid_query_params",
        ),
        (
            "GET",
            "/v1/customers?limit=ten",
            Value::Null,
            StatusCode::BAD_REQUEST,
            "invalid_query_params",
        ),
        (
            "GET",
            "/v1/customers?page=1001",
            Value::Null,
            StatusCode::BAD_REQUEST,
            "page_over_limit",
        ),
        (
            "GET",
            "/v1/customers?created_at%5Bbefore%5D=soon",
            Value::Null,
            StatusCode::BAD_REQUEST,
            "invalid_query_params",
        ),
        (
            "GET",
            "/v1/customers?email=a%40b.c",
            Value::Null,
            StatusCode::BAD_REQUEST,
            "invalid_query_params",
        ),
    ];
    for (method, path, body, status, key) in cases {
        let body = (!body.is_null()).then_some(body);
        let response = env.call(method, path, body.clone()).await;
        assert_eq!(
            response.0, status,
            "{method} {path} {body:?}: {}",
            response.1
        );
        assert_eq!(
            response.1["key"], key,
            "{method} {path} {body:?}: {}",
            response.1
        );
    }
    let (_, list) = env.call("GET", "/v1/customers", None).await;
    assert_eq!(list["total"], json!(2));
    let (_, other) = env.call("GET", "/v1/customers/other", None).await;
    assert_eq!(other["source_id"], "other");
    // Malformed JSON.
    let response = send_raw(
        &env,
        &env.server,
        "POST",
        "/v1/customers",
        "application/json",
        b"{\"source_id\": ".to_vec(),
    )
    .await;
    check_error(&response, StatusCode::BAD_REQUEST, "invalid_payload");
}

#[tokio::test]
async fn customers_are_listed_by_page_by_date_and_by_scroll_cursor() {
    let env = Env::new();
    let mut created_at = Vec::new();
    for n in 0..5 {
        env.set_now(crate::support::start() + Duration::minutes(n));
        let (_, c) = env
            .call(
                "POST",
                "/v1/customers",
                Some(json!({"source_id": format!("c{n}")})),
            )
            .await;
        created_at.push(c["created_at"].as_str().unwrap().to_owned());
    }
    let sources = |list: &Value| -> Vec<String> {
        list["customers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["source_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = env.call("GET", "/v1/customers?limit=2&page=2", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["object"], "list");
    assert_eq!(page["data_ref"], "customers");
    assert_eq!(page["total"], json!(5));
    assert_eq!(page["has_more"], json!(true));
    assert_eq!(sources(&page), ["c2", "c1"]);
    let (_, page) = env.call("GET", "/v1/customers?limit=2&page=3", None).await;
    assert_eq!(
        (sources(&page), page["has_more"].clone()),
        (vec!["c0".to_owned()], json!(false))
    );

    // Date filters, as the Python SDK writes them.
    let (_, after) = env
        .call(
            "GET",
            "/v1/customers?created_at[after]=2026-11-23T12%3A02%3A00.000000%2B0000&order=created_at",
            None,
        )
        .await;
    assert_eq!(sources(&after), ["c3", "c4"]);

    // The JS SDK's scroll: `starting_after` is the last creation instant.
    let (_, first) = env
        .call(
            "GET",
            "/v1/customers?limit=2&starting_after=2200-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(sources(&first), ["c4", "c3"]);
    let path = format!("/v1/customers?limit=2&starting_after={}", created_at[3]);
    let (_, next) = env.call("GET", &path, None).await;
    assert_eq!(sources(&next), ["c2", "c1"]);
    assert_eq!(next["has_more"], json!(true));
    let path = format!(
        "/v1/customers?limit=2&order=created_at&starting_after={}",
        created_at[2]
    );
    let (_, up) = env.call("GET", &path, None).await;
    assert_eq!(
        (sources(&up), up["has_more"].clone()),
        (vec!["c3".to_owned(), "c4".to_owned()], json!(false))
    );
}

#[tokio::test]
async fn another_projects_key_sees_no_customer() {
    let env = Env::new();
    let (_, other) = env.add_project("sandbox");
    let (_, created) = env
        .call("POST", "/v1/customers", Some(json!({"source_id": "mine"})))
        .await;
    let id = created["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/v1/customers/{id}"), None),
        ("GET", "/v1/customers/mine".to_owned(), None),
        (
            "PUT",
            format!("/v1/customers/{id}"),
            Some(json!({"name": "X"})),
        ),
        ("DELETE", format!("/v1/customers/{id}"), None),
    ] {
        let response = env.call_as(&other, method, &path, body).await;
        check_error(&response, StatusCode::NOT_FOUND, "not_found");
    }
    let (_, list) = env.call_as(&other, "GET", "/v1/customers", None).await;
    assert_eq!(list["total"], json!(0));
    let (_, mine) = env.call("GET", "/v1/customers/mine", None).await;
    assert!(mine.get("name").is_none(), "{mine}");
}

// --------------------------------------------------------- validation rules

fn min_order_rule(name: &str) -> Value {
    json!({
        "name": name,
        "type": "advanced",
        "context_type": "global",
        "error": {"message": "Spend more than 100.00"},
        "rules": {
            "1": {"name": "order.amount", "property": null, "rules": {},
                  "conditions": {"$more_than": [10000]}, "error": null},
            "logic": "1"
        },
        "applicable_to": {"excluded": null, "included": null, "included_all": null}
    })
}

#[tokio::test]
async fn a_validation_rule_is_created_read_updated_listed_and_deleted() {
    let env = Env::new();
    let (status, created) = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Over 100")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("val_"), "{id}");
    assert_eq!(created["object"], "validation_rules");
    assert_eq!(created["name"], "Over 100");
    assert_eq!(created["rules"]["1"]["name"], "order.amount");
    assert_eq!(
        created["rules"]["1"]["conditions"],
        json!({"$more_than": [10000]})
    );
    assert_eq!(created["rules"]["logic"], "1");
    assert_eq!(created["error"]["message"], "Spend more than 100.00");
    assert_eq!(
        created["applicable_to"],
        json!({"excluded": [], "included": [], "included_all": false})
    );
    assert_eq!(created["assignments_count"], json!(0));
    assert_eq!(created["context_type"], "global");

    let (status, read) = env
        .call("GET", &format!("/v1/validation-rules/{id}"), None)
        .await;
    assert_eq!((status, &read), (StatusCode::OK, &created));

    // A partial update: the name changes, the rules stay; the server's
    // fields are ignored.
    env.set_now(env.now() + Duration::minutes(5));
    let (status, updated) = env
        .call(
            "PUT",
            &format!("/v1/validation-rules/{id}"),
            Some(json!({"name": "More than 100", "id": "val_forged",
                        "created_at": "2000-01-01T00:00:00Z", "assignments_count": 7,
                        "object": "something"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "More than 100");
    assert_eq!(updated["rules"], created["rules"]);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(updated["updated_at"], "2026-11-23T12:05:00.000Z");
    assert_eq!(updated["assignments_count"], json!(0));
    // Replacing the rules, with product targets in wire integers.
    let (status, replaced) = env
        .call(
            "PUT",
            &format!("/v1/validation-rules/{id}"),
            Some(json!({
                "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [2550]}}},
                "applicable_to": {"included": [{"object": "product", "id": "prod_1",
                                                "amount_limit": 500, "quantity_limit": 2}]}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["name"], "More than 100");
    assert_eq!(
        replaced["rules"]["1"]["conditions"],
        json!({"$more_than_or_equal": [2550]})
    );
    assert_eq!(replaced["error"], created["error"]);
    let target = &replaced["applicable_to"]["included"][0];
    assert_eq!(
        (
            target["amount_limit"].clone(),
            target["quantity_limit"].clone(),
            target["effect"].clone()
        ),
        (json!(500), json!(2), json!("APPLY_TO_EVERY"))
    );

    env.call(
        "POST",
        "/v1/validation-rules",
        Some(min_order_rule("Second")),
    )
    .await;
    let (status, list) = env.call("GET", "/v1/validation-rules?limit=1", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        (
            list["object"].clone(),
            list["data_ref"].clone(),
            list["total"].clone()
        ),
        (json!("list"), json!("data"), json!(2))
    );
    assert_eq!(list["data"][0]["name"], "Second");

    let (status, _) = env
        .call("DELETE", &format!("/v1/validation-rules/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = env
        .call("GET", &format!("/v1/validation-rules/{id}"), None)
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    let response = env
        .call(
            "PUT",
            &format!("/v1/validation-rules/{id}"),
            Some(json!({"name": "x"})),
        )
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    let response = env
        .call("DELETE", &format!("/v1/validation-rules/{id}"), None)
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn bad_validation_rules_are_refused_with_a_stable_key() {
    let env = Env::new();
    let (_, kept) = env
        .call("POST", "/v1/validation-rules", Some(min_order_rule("Kept")))
        .await;
    let rule = |rules: Value| json!({"name": "Bad", "rules": rules});
    let cases = [
        rule(json!({"1": {"name": "order.colour", "conditions": {"$is": ["red"]}}})),
        rule(json!({"1": {"name": "order.amount", "conditions": {"$about": [1]}}})),
        rule(json!({"1": {"name": "order.amount", "conditions": {"$more_than": "100"}}})),
        rule(json!({"1": {"name": "order.amount", "conditions": {"$more_than": ["lots"]}}})),
        rule(json!({"1": {"name": "order.metadata", "conditions": {"$is": ["x"]}}})),
        rule(
            json!({"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}, "logic": "1 and 2"}),
        ),
        rule(json!({"x": {"name": "order.amount", "conditions": {"$more_than": [1]}}})),
        json!({"name": "Bad", "applicable_to": {"included": [{"id": "p"}]}}),
    ];
    let response = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}}})),
        )
        .await;
    check_error(
        &response,
        StatusCode::BAD_REQUEST,
        "invalid_validation_rules",
    );
    for body in cases {
        let response = env
            .call("POST", "/v1/validation-rules", Some(body.clone()))
            .await;
        check_error(
            &response,
            StatusCode::BAD_REQUEST,
            "invalid_validation_rules",
        );
        assert!(response.1["details"].is_string(), "{body}: {}", response.1);
        // An update with the same rules is refused too and changes nothing.
        let mut update = body.clone();
        update.as_object_mut().unwrap().remove("name");
        let path = format!("/v1/validation-rules/{}", kept["id"].as_str().unwrap());
        let response = env.call("PUT", &path, Some(update)).await;
        check_error(
            &response,
            StatusCode::BAD_REQUEST,
            "invalid_validation_rules",
        );
    }
    let response = env
        .call("POST", "/v1/validation-rules", Some(min_order_rule("Kept")))
        .await;
    check_error(&response, StatusCode::CONFLICT, "duplicate_found");
    let response = env
        .call("POST", "/v1/validation-rules", Some(json!({"name": 5})))
        .await;
    check_error(&response, StatusCode::BAD_REQUEST, "invalid_payload");
    let (_, list) = env.call("GET", "/v1/validation-rules", None).await;
    assert_eq!(list["total"], json!(1));
    let path = format!("/v1/validation-rules/{}", kept["id"].as_str().unwrap());
    let (_, still) = env.call("GET", &path, None).await;
    assert_eq!(still, kept);
}

#[tokio::test]
async fn rules_are_assigned_listed_and_unassigned() {
    let env = Env::new();
    let voucher_id = voucher(&env, "RULED-1");
    voucher(&env, "RULED-2");
    let (_, rule) = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Over 100")),
        )
        .await;
    let rule_id = rule["id"].as_str().unwrap();
    let base = format!("/v1/validation-rules/{rule_id}/assignments");

    // The JS SDK's form, by code.
    env.set_now(env.now() + Duration::seconds(1));
    let (status, first) = env
        .call("POST", &base, Some(json!({"voucher": "RULED-1"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(
        first["id"].as_str().unwrap().starts_with("asgm_"),
        "{first}"
    );
    assert_eq!(first["rule_id"], rule_id);
    assert_eq!(first["related_object_id"], voucher_id.as_str());
    assert_eq!(first["related_object_type"], "voucher");
    assert_eq!(first["object"], "validation_rules_assignment");
    // The Python SDK's form, with its explicit nulls.
    env.set_now(env.now() + Duration::seconds(1));
    let (status, second) = env
        .call(
            "POST",
            &base,
            Some(
                json!({"related_object_type": "voucher", "related_object_id": "RULED-2",
                        "voucher": null, "campaign": null}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");

    let response = env
        .call("POST", &base, Some(json!({"voucher": voucher_id})))
        .await;
    check_error(&response, StatusCode::CONFLICT, "duplicate_found");
    let refusals = [
        (
            json!({"voucher": "NO-SUCH"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"campaign": "No such campaign"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_payload"),
        (
            json!({"promotion_tier": "promo_1"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"voucher": "RULED-1", "campaign": "C"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"related_object_type": "earning_rule", "related_object_id": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
    ];
    for (body, status, key) in refusals {
        let response = env.call("POST", &base, Some(body)).await;
        check_error(&response, status, key);
    }
    let response = env
        .call(
            "POST",
            "/v1/validation-rules/val_missing/assignments",
            Some(json!({"voucher": "RULED-1"})),
        )
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");

    let (status, list) = env.call("GET", &base, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        (list["data_ref"].clone(), list["total"].clone()),
        (json!("data"), json!(2))
    );
    assert_eq!(list["data"][0]["id"], second["id"]);
    let (_, oldest) = env
        .call("GET", &format!("{base}?order=created_at&limit=1"), None)
        .await;
    assert_eq!(oldest["data"].as_array().unwrap().len(), 1);
    assert_eq!(oldest["data"][0]["id"], first["id"]);
    let (_, rule_now) = env
        .call("GET", &format!("/v1/validation-rules/{rule_id}"), None)
        .await;
    assert_eq!(rule_now["assignments_count"], json!(2));

    let path = format!("{base}/{}", first["id"].as_str().unwrap());
    let (status, _) = env.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = env.call("DELETE", &path, None).await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = env.call("GET", &base, None).await;
    assert_eq!(list["total"], json!(1));
    let response = env
        .call("GET", "/v1/validation-rules/val_missing/assignments", None)
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn client_keys_cannot_reach_these_server_endpoints() {
    let env = Env::new();
    for (method, path) in [
        ("GET", "/v1/customers"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/validation-rules"),
        ("POST", "/v1/publications"),
        ("GET", "/v1/publications"),
        ("GET", "/v1/publications/create?voucher=X&customer=y"),
    ] {
        let response = env.client(method, path, Some(json!({}))).await;
        check_error(&response, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

// ------------------------------------------------------------- publications

/// A campaign of `count` codes `prefix` + 6 characters, made through the
/// store.
/// A 10% campaign whose codes are `<prefix>` and 6 characters, with `count`
/// codes made.
fn campaign(env: &Env, name: &str, prefix: &str, kind: CampaignKind, count: u64) {
    let code_config = CodeConfig {
        prefix: Some(prefix.to_owned()),
        length: Some(6),
        ..CodeConfig::default()
    };
    create_campaign(
        env,
        &campaign_spec(name, kind, ten_percent(), code_config),
        count,
    );
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_code_is_published_to_a_customer_created_on_the_way() {
    let env = Env::new();
    let voucher_id = voucher(&env, "PUB-1");
    voucher(&env, "PUB-2");
    let (status, created) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({
                "voucher": "PUB-1",
                "customer": {"source_id": "alice", "name": "Alice", "id": null},
                "channel": "email",
                "metadata": {"origin": "newsletter"},
                "campaign": null
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(
        created["id"].as_str().unwrap().starts_with("pub_"),
        "{created}"
    );
    assert_eq!(created["object"], "publication");
    assert_eq!(created["channel"], "API");
    assert_eq!(created["result"], "SUCCESS");
    assert_eq!(created["tracking_id"], "alice");
    assert_eq!(created["source_id"], Value::Null);
    assert_eq!(created["metadata"], json!({"origin": "newsletter"}));
    assert_eq!(created["created_at"], "2026-11-23T12:00:00.000Z");
    let customer_id = created["customer_id"].as_str().unwrap();
    assert!(customer_id.starts_with("cust_"));
    assert_eq!(created["customer"]["id"], customer_id);
    assert_eq!(created["customer"]["name"], "Alice");
    assert_eq!(created["customer"]["object"], "customer");
    assert_eq!(created["vouchers_id"], json!([voucher_id]));
    let published = &created["voucher"];
    assert_eq!(published["code"], "PUB-1");
    assert_eq!(published["object"], "voucher");
    assert_eq!(published["holder_id"], customer_id);
    assert_eq!(published["publish"]["count"], json!(1));
    assert!(created.get("vouchers").is_none(), "{created}");
    let (status, alice) = env.call("GET", "/v1/customers/alice", None).await;
    assert_eq!(
        (status, alice["id"].as_str()),
        (StatusCode::OK, Some(customer_id))
    );

    // The same customer by id, as a plain string.
    let (status, again) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"voucher": "PUB-1", "customer": customer_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["voucher"]["publish"]["count"], json!(2));

    let refusals = [
        (
            json!({"voucher": "PUB-1", "customer": {"source_id": "bob"}}),
            StatusCode::BAD_REQUEST,
            "voucher_already_published",
        ),
        (
            json!({"voucher": "NO-SUCH", "customer": {"source_id": "bob"}}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"voucher": "PUB-2"}),
            StatusCode::BAD_REQUEST,
            "missing_customer",
        ),
        (
            json!({"voucher": "PUB-2", "customer": {}}),
            StatusCode::BAD_REQUEST,
            "missing_customer",
        ),
        (
            json!({"voucher": "PUB-2", "customer": {"id": "cust_nobody"}}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"customer": {"source_id": "bob"}}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"voucher": "PUB-2", "campaign": {"name": "X"}, "customer": "bob"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"voucher": 12, "customer": "bob"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"voucher": "PUB-2", "customer": "bob", "metadata": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
    ];
    for (body, status, key) in refusals {
        let response = env
            .call("POST", "/v1/publications", Some(body.clone()))
            .await;
        assert_eq!(response.0, status, "{body}: {}", response.1);
        assert_eq!(response.1["key"], key, "{body}: {}", response.1);
    }
    let response = env
        .call(
            "POST",
            "/v1/publications?join_once=maybe",
            Some(json!({"voucher": "PUB-2", "customer": "bob"})),
        )
        .await;
    check_error(&response, StatusCode::BAD_REQUEST, "invalid_query_params");
    // Nothing of that changed anything: two publications, one customer.
    let (_, list) = env.call("GET", "/v1/publications", None).await;
    assert_eq!(list["total"], json!(2));
    let (_, customers) = env.call("GET", "/v1/customers", None).await;
    assert_eq!(customers["total"], json!(1));
}

#[tokio::test]
async fn a_campaign_hands_out_its_codes_one_or_several_at_a_time() {
    let env = Env::new();
    campaign(&env, "Spring", "SPR-", CampaignKind::Static, 3);
    let (status, one) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"campaign": {"name": "Spring", "count": null}, "customer": {"source_id": "a"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let first = one["voucher"]["code"].as_str().unwrap().to_owned();
    assert!(first.starts_with("SPR-"), "{first}");
    assert_eq!(one["voucher"]["campaign"], "Spring");

    // join_once: the customer gets the code they hold.
    let (status, same) = env
        .call(
            "POST",
            "/v1/publications?join_once=true",
            Some(json!({"campaign": {"name": "Spring"}, "customer": {"source_id": "a"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["voucher"]["code"], first.as_str());

    let (status, two) = env
        .call(
            "POST",
            "/v1/publications",
            Some(
                json!({"campaign": {"name": "Spring", "count": 2}, "customer": {"source_id": "b"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{two}");
    assert!(two.get("voucher").is_none(), "{two}");
    let codes: Vec<&str> = two["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2);
    assert!(!codes.contains(&first.as_str()));
    assert_eq!(two["vouchers_id"].as_array().unwrap().len(), 2);

    let response = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"campaign": "Spring", "customer": "c"})),
        )
        .await;
    check_error(
        &response,
        StatusCode::BAD_REQUEST,
        "no_voucher_suitable_for_publication",
    );
    for count in [0, 51] {
        let response = env
            .call(
                "POST",
                "/v1/publications",
                Some(json!({"campaign": {"name": "Spring", "count": count}, "customer": "c"})),
            )
            .await;
        check_error(&response, StatusCode::BAD_REQUEST, "invalid_payload");
    }
    let response = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"campaign": {"name": "Autumn"}, "customer": "c"})),
        )
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");

    // An AUTO_UPDATE campaign makes its codes when they are published.
    campaign(&env, "Daily", "DAY-", CampaignKind::AutoUpdate, 0);
    let (status, made) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"campaign": {"name": "Daily"}, "customer": "c"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert!(made["voucher"]["code"]
        .as_str()
        .unwrap()
        .starts_with("DAY-"));
}

#[tokio::test]
async fn a_source_id_makes_a_publication_idempotent() {
    let env = Env::new();
    campaign(&env, "Spring", "SPR-", CampaignKind::Static, 3);
    let body = json!({"campaign": {"name": "Spring"}, "customer": {"source_id": "a"},
                      "source_id": "crm-1"});
    let (status, first) = env
        .call("POST", "/v1/publications", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["source_id"], "crm-1");
    env.set_now(env.now() + Duration::minutes(1));
    let (status, again) = env.call("POST", "/v1/publications", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["voucher"]["code"], first["voucher"]["code"]);
    let response = env
        .call(
            "POST",
            "/v1/publications",
            Some(
                json!({"campaign": {"name": "Spring"}, "customer": {"source_id": "b"},
                        "source_id": "crm-1"}),
            ),
        )
        .await;
    check_error(&response, StatusCode::CONFLICT, "duplicate_source_id");
    let response = env
        .call(
            "POST",
            "/v1/publications",
            Some(
                json!({"campaign": {"name": "Spring", "count": 2}, "customer": "b",
                        "source_id": "crm-2"}),
            ),
        )
        .await;
    check_error(
        &response,
        StatusCode::BAD_REQUEST,
        "too_many_vouchers_requested",
    );
    let (_, list) = env.call("GET", "/v1/publications", None).await;
    assert_eq!(list["total"], json!(1));
}

#[tokio::test]
async fn the_query_string_form_publishes_too() {
    let env = Env::new();
    campaign(&env, "Spring", "SPR-", CampaignKind::Static, 5);
    voucher(&env, "PUB-Q");
    // As the Python SDK's create_publication1 writes it.
    let (status, created) = env
        .call(
            "GET",
            "/v1/publications/create?join_once=true&campaign[name]=Spring&campaign[count]=2\
             &customer[source_id]=q%40example.com&customer[name]=Q&metadata[origin]=sms",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["vouchers"].as_array().unwrap().len(), 2);
    assert_eq!(created["tracking_id"], "q@example.com");
    assert_eq!(created["customer"]["name"], "Q");
    assert_eq!(created["metadata"], json!({"origin": "sms"}));
    // The reference's plain form.
    let (status, plain) = env
        .call(
            "GET",
            "/v1/publications/create?voucher=PUB-Q&customer=q%40example.com&source_id=s-1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(plain["voucher"]["code"], "PUB-Q");
    assert_eq!(plain["customer_id"], created["customer_id"]);
    let bad = [
        "/v1/publications/create?campaign[name]=Spring&campaign[count]=two&customer=x",
        "/v1/publications/create?voucher=PUB-Q&customer=x&join_once=perhaps",
    ];
    for path in bad {
        let response = env.call("GET", path, None).await;
        check_error(&response, StatusCode::BAD_REQUEST, "invalid_query_params");
    }
    let response = env
        .call("GET", "/v1/publications/create?customer=x", None)
        .await;
    check_error(&response, StatusCode::BAD_REQUEST, "invalid_payload");
}

#[tokio::test]
async fn publications_are_listed_with_their_filters() {
    let env = Env::new();
    campaign(&env, "Spring", "SPR-", CampaignKind::Static, 3);
    voucher(&env, "SOLO");
    let publish = |body: Value| {
        let env = &env;
        async move {
            let (status, created) = env.call("POST", "/v1/publications", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{created}");
            env.set_now(env.now() + Duration::seconds(1));
            created
        }
    };
    let a = publish(json!({"campaign": "Spring", "customer": "a"})).await;
    let b = publish(json!({"campaign": {"name": "Spring", "count": 2}, "customer": "b"})).await;
    let solo = publish(json!({"voucher": "SOLO", "customer": "a", "metadata": {"n": 1}})).await;

    let (status, all) = env.call("GET", "/v1/publications", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        (all["object"].clone(), all["data_ref"].clone()),
        (json!("list"), json!("publications"))
    );
    let items = &all["publications"];
    assert_eq!(
        ids(items, "id"),
        [&solo["id"], &b["id"], &a["id"]].map(|v| v.as_str().unwrap().to_owned())
    );
    assert_eq!(
        items[0]["voucher"],
        json!({
            "code": "SOLO", "object": "voucher", "campaign": null,
            "discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"},
            "is_referral_code": false
        })
    );
    assert_eq!(items[0]["customer"]["source_id"], "a");
    assert_eq!(items[1]["vouchers"], b["vouchers"]);
    assert_eq!(items[2]["voucher"]["campaign"], "Spring");

    let filtered = [
        ("campaign=Spring", vec![&b, &a]),
        ("customer=a", vec![&solo, &a]),
        ("voucher=SOLO", vec![&solo]),
        ("result=SUCCESS&limit=1&page=2", vec![&b]),
        ("result=FAILURE", vec![]),
        ("order=created_at&limit=1", vec![&a]),
    ];
    for (query, expected) in filtered {
        let (status, list) = env
            .call("GET", &format!("/v1/publications?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        let expected: Vec<String> = expected
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids(&list["publications"], "id"), expected, "{query}");
    }
    for query in [
        "result=MAYBE",
        "voucher_type=GIFT",
        "limit=500",
        "created_at[after]=later",
    ] {
        let response = env
            .call("GET", &format!("/v1/publications?{query}"), None)
            .await;
        check_error(&response, StatusCode::BAD_REQUEST, "invalid_query_params");
    }

    // Another project sees none of it and cannot publish these codes.
    let (_, other) = env.add_project("sandbox");
    let (_, list) = env.call_as(&other, "GET", "/v1/publications", None).await;
    assert_eq!(list["total"], json!(0));
    let response = env
        .call_as(
            &other,
            "POST",
            "/v1/publications",
            Some(json!({"voucher": "SOLO", "customer": "a"})),
        )
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    let response = env
        .call_as(
            &other,
            "POST",
            "/v1/publications",
            Some(json!({"campaign": "Spring", "customer": "a"})),
        )
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn another_projects_key_sees_no_rule_and_cannot_assign_one() {
    let env = Env::new();
    let (_, other) = env.add_project("sandbox");
    voucher(&env, "MINE");
    let (_, rule) = env
        .call("POST", "/v1/validation-rules", Some(min_order_rule("Mine")))
        .await;
    let id = rule["id"].as_str().unwrap();
    let (_, assignment) = env
        .call(
            "POST",
            &format!("/v1/validation-rules/{id}/assignments"),
            Some(json!({"voucher": "MINE"})),
        )
        .await;
    let assignment_id = assignment["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/v1/validation-rules/{id}"), None),
        (
            "PUT",
            format!("/v1/validation-rules/{id}"),
            Some(json!({"name": "Theirs"})),
        ),
        ("DELETE", format!("/v1/validation-rules/{id}"), None),
        (
            "GET",
            format!("/v1/validation-rules/{id}/assignments"),
            None,
        ),
        (
            "POST",
            format!("/v1/validation-rules/{id}/assignments"),
            Some(json!({"voucher": "MINE"})),
        ),
        (
            "DELETE",
            format!("/v1/validation-rules/{id}/assignments/{assignment_id}"),
            None,
        ),
    ] {
        let response = env.call_as(&other, method, &path, body).await;
        check_error(&response, StatusCode::NOT_FOUND, "not_found");
    }
    // Their own rule cannot be assigned to this project's voucher either.
    let (_, theirs) = env
        .call_as(
            &other,
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Theirs")),
        )
        .await;
    let path = format!(
        "/v1/validation-rules/{}/assignments",
        theirs["id"].as_str().unwrap()
    );
    let response = env
        .call_as(&other, "POST", &path, Some(json!({"voucher": "MINE"})))
        .await;
    check_error(&response, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = env
        .call_as(&other, "GET", "/v1/validation-rules", None)
        .await;
    assert_eq!(list["total"], json!(1));
    let (_, mine) = env
        .call("GET", &format!("/v1/validation-rules/{id}"), None)
        .await;
    assert_eq!(
        (mine["name"].clone(), mine["assignments_count"].clone()),
        (json!("Mine"), json!(1))
    );
}

#[tokio::test]
async fn a_customers_summary_counts_their_redemptions_in_wire_integers() {
    let env = Env::new();
    voucher(&env, "SUMMARY");
    for amount in [10000, 5001] {
        let (status, redemption) = env
            .call(
                "POST",
                "/v1/vouchers/SUMMARY/redemption",
                Some(json!({"customer": {"source_id": "shopper"}, "order": {"amount": amount}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{redemption}");
    }
    let (status, customer) = env.call("GET", "/v1/customers/shopper", None).await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    let summary = &customer["summary"];
    assert_eq!(summary["redemptions"]["total_redeemed"], json!(2));
    assert_eq!(summary["redemptions"]["total_succeeded"], json!(2));
    assert_eq!(summary["redemptions"]["total_failed"], json!(0));
    assert_eq!(summary["orders"]["total_count"], json!(2));
    assert_eq!(summary["orders"]["total_amount"], json!(15001));
    // 75.005 rounds half away from zero.
    assert_eq!(summary["orders"]["average_amount"], json!(7501));
}

#[tokio::test]
async fn a_rule_made_over_http_refuses_a_small_order() {
    let env = Env::new();
    let (status, made) = env
        .call(
            "POST",
            "/v1/vouchers/BIG%20SPENDER%2F1",
            Some(json!({"type": "DISCOUNT_VOUCHER",
                        "discount": {"type": "PERCENT", "percent_off": 10}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (_, rule) = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Over 100")),
        )
        .await;
    let path = format!(
        "/v1/validation-rules/{}/assignments",
        rule["id"].as_str().unwrap()
    );
    let (status, assignment) = env
        .call("POST", &path, Some(json!({"voucher": "BIG SPENDER/1"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{assignment}");
    assert_eq!(assignment["related_object_id"], made["id"]);
    let (_, read) = env
        .call("GET", "/v1/vouchers/BIG%20SPENDER%2F1", None)
        .await;
    assert_eq!(
        read["validation_rules_assignments"]["data"][0]["id"],
        assignment["id"]
    );
    let validate = "/v1/vouchers/BIG%20SPENDER%2F1/validate";
    // 10000 on the wire is 100.00: 9999 and 10000 are refused, 10001 passes.
    for (amount, valid) in [(9999, false), (10000, false), (10001, true)] {
        let (status, body) = env
            .call("POST", validate, Some(json!({"order": {"amount": amount}})))
            .await;
        assert_eq!(status, StatusCode::OK, "{amount}: {body}");
        assert_eq!(body["valid"], json!(valid), "{amount}: {body}");
        if !valid {
            assert_eq!(body["error"]["key"], "order_rules_violated", "{body}");
            assert_eq!(
                body["error"]["error"]["message"], "Spend more than 100.00",
                "{body}"
            );
        }
    }
    // Unassigned, the rule no longer refuses.
    let (_, assignments) = env.call("GET", &path, None).await;
    let assignment = assignments["data"][0]["id"].as_str().unwrap();
    let (status, _) = env
        .call("DELETE", &format!("{path}/{assignment}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = env
        .call("POST", validate, Some(json!({"order": {"amount": 5000}})))
        .await;
    assert_eq!(body["valid"], json!(true), "{body}");
}

#[tokio::test]
async fn a_campaign_made_over_http_publishes_codes_its_vouchers_show() {
    let env = Env::new();
    let (status, made) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({
                "name": "Welcome", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
                "voucher": {"type": "DISCOUNT_VOUCHER",
                            "discount": {"type": "AMOUNT", "amount_off": 500},
                            "redemption": {"quantity": 1},
                            "code_config": {"pattern": "WELCOME-####"}}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (status, published) = env
        .call(
            "POST",
            "/v1/publications",
            Some(json!({"campaign": {"name": made["id"]}, "customer": {"source_id": "newbie"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let code = published["voucher"]["code"].as_str().unwrap();
    assert!(code.starts_with("WELCOME-"), "{code}");
    assert_eq!(published["voucher"]["discount"]["amount_off"], json!(500));
    let (_, voucher) = env.call("GET", &format!("/v1/vouchers/{code}"), None).await;
    assert_eq!(voucher["holder_id"], published["customer_id"]);
    assert_eq!(voucher["publish"]["count"], json!(1));
    let (_, held) = env.call("GET", "/v1/vouchers?customer=newbie", None).await;
    assert_eq!(held["total"], json!(1), "{held}");
    let (_, listed) = env
        .call("GET", "/v1/publications?campaign=Welcome", None)
        .await;
    assert_eq!(listed["total"], json!(1));
    assert_eq!(listed["publications"][0]["voucher"]["code"], code);
}

#[tokio::test]
async fn a_campaign_shows_the_rules_assigned_to_it() {
    let env = Env::new();
    let (_, first) = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Over 100")),
        )
        .await;
    let (_, second) = env
        .call(
            "POST",
            "/v1/validation-rules",
            Some(min_order_rule("Over 200")),
        )
        .await;
    let rule_ids = [
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    ];
    // Assigned at creation: the answer shows it.
    let (status, made) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({
                "name": "Ruled", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
                "voucher": {"type": "DISCOUNT_VOUCHER",
                            "discount": {"type": "PERCENT", "percent_off": 10},
                            "code_config": {"pattern": "RULED-####"}},
                "validation_rules": [rule_ids[0]]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let assigned = &made["validation_rules_assignments"];
    assert_eq!(
        (
            &assigned["object"],
            &assigned["data_ref"],
            &assigned["total"]
        ),
        (&json!("list"), &json!("data"), &json!(1)),
        "{made}"
    );
    assert_eq!(assigned["data"][0]["rule_id"], rule_ids[0]);
    assert_eq!(assigned["data"][0]["related_object_type"], "campaign");
    assert_eq!(assigned["data"][0]["related_object_id"], made["id"]);
    assert_eq!(assigned["data"][0]["object"], "validation_rules_assignment");
    // Assigned afterwards, by name: read, listed and updated, oldest first.
    let path = format!("/v1/validation-rules/{}/assignments", rule_ids[1]);
    let (status, later) = env
        .call("POST", &path, Some(json!({"campaign": "Ruled"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{later}");
    let campaign = format!("/v1/campaigns/{}", made["id"].as_str().unwrap());
    let (_, read) = env.call("GET", &campaign, None).await;
    let (_, listed) = env.call("GET", "/v1/campaigns", None).await;
    let (status, updated) = env
        .call("PUT", &campaign, Some(json!({"description": "now ruled"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    for body in [&read, &listed["campaigns"][0], &updated] {
        let ids: Vec<&Value> = body["validation_rules_assignments"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["id"])
            .collect();
        assert_eq!(ids, [&assigned["data"][0]["id"], &later["id"]], "{body}");
        assert_eq!(body["validation_rules_assignments"]["total"], json!(2));
    }
    // Unassigned, it is gone; a campaign without any shows an empty list.
    let (status, _) = env
        .call(
            "DELETE",
            &format!("{path}/{}", later["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = env.call("GET", &campaign, None).await;
    assert_eq!(read["validation_rules_assignments"]["total"], json!(1));
    let (_, plain) = env
        .call(
            "POST",
            "/v1/campaigns",
            Some(json!({
                "name": "Plain", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
                "voucher": {"type": "DISCOUNT_VOUCHER",
                            "discount": {"type": "PERCENT", "percent_off": 10}}
            })),
        )
        .await;
    assert_eq!(
        plain["validation_rules_assignments"],
        json!({"object": "list", "data_ref": "data", "data": [], "total": 0})
    );
}
