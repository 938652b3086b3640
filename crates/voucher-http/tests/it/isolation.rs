//! Two projects, two keys: neither sees nor changes the other's campaigns,
//! vouchers, customers, redemptions, validation rules or publications. Ids
//! of the other project are unknown (404 `not_found`, never 403), lists
//! never show them, and every attempt leaves the owner's view unchanged.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{ok_as, Env, Keys};

/// What the owner created.
struct Owned {
    code: String,
    gift: String,
    campaign_id: String,
    campaign_name: String,
    customer_id: String,
    customer_source: String,
    redemption_id: String,
    rule_id: String,
}

async fn create(env: &Env, keys: &Keys, tag: &str) -> Owned {
    let code = format!("{tag}-CODE");
    let gift = format!("{tag}-GIFT");
    ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{code}"),
        Some(json!({
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}})),
    )
    .await;
    ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{gift}"),
        Some(json!({
        "type": "GIFT_VOUCHER", "gift": {"amount": 5000}})),
    )
    .await;
    let campaign_name = format!("{tag} campaign");
    let campaign = ok_as(env, keys, "POST", "/v1/campaigns", Some(json!({
        "name": campaign_name, "type": "STATIC", "vouchers_count": 0,
        "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}}))).await;
    let customer_source = format!("{tag}-customer");
    let customer = ok_as(
        env,
        keys,
        "POST",
        "/v1/customers",
        Some(json!({"source_id": customer_source})),
    )
    .await;
    let redemption = ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{code}/redemption"),
        Some(json!({
        "order": {"amount": 4000}, "customer": {"source_id": customer_source}})),
    )
    .await;
    let rule = ok_as(env, keys, "POST", "/v1/validation-rules", Some(json!({
        "name": format!("{tag} rule"),
        "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1000]}, "rules": {}}, "logic": "1"}}))).await;
    ok_as(
        env,
        keys,
        "POST",
        "/v1/publications",
        Some(json!({
        "voucher": gift, "customer": {"source_id": customer_source}})),
    )
    .await;
    Owned {
        code,
        gift,
        campaign_id: campaign["id"].as_str().unwrap().to_owned(),
        campaign_name,
        customer_id: customer["id"].as_str().unwrap().to_owned(),
        customer_source,
        redemption_id: redemption["id"].as_str().unwrap().to_owned(),
        rule_id: rule["id"].as_str().unwrap().to_owned(),
    }
}

/// What the owner sees of its own resources.
async fn view(env: &Env, keys: &Keys, owned: &Owned) -> Vec<Value> {
    let paths = [
        format!("/v1/vouchers/{}", owned.code),
        format!("/v1/vouchers/{}", owned.gift),
        format!("/v1/campaigns/{}", owned.campaign_id),
        format!("/v1/customers/{}", owned.customer_id),
        format!("/v1/redemptions/{}", owned.redemption_id),
        format!("/v1/validation-rules/{}", owned.rule_id),
        "/v1/vouchers?limit=100".to_owned(),
        "/v1/campaigns?limit=100".to_owned(),
        "/v1/customers?limit=100".to_owned(),
        "/v1/redemptions?limit=100&result=SUCCESS".to_owned(),
        "/v1/publications?limit=100".to_owned(),
        "/v1/validation-rules?limit=100".to_owned(),
    ];
    let mut seen = Vec::new();
    for path in paths {
        seen.push(ok_as(env, keys, "GET", &path, None).await);
    }
    seen
}

#[tokio::test]
async fn two_projects_cannot_see_or_change_each_others_data() {
    let env = Env::new();
    let (_, other) = env.add_project("other");
    let mine = env.server.clone();
    let a = create(&env, &mine, "A").await;
    let b = create(&env, &other, "B").await;
    let before = (view(&env, &mine, &a).await, view(&env, &other, &b).await);

    for (keys, theirs) in [(&other, &a), (&mine, &b)] {
        let attempts: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", format!("/v1/vouchers/{}", theirs.code), None),
            (
                "PUT",
                format!("/v1/vouchers/{}", theirs.code),
                Some(json!({"category": "stolen"})),
            ),
            (
                "POST",
                format!("/v1/vouchers/{}/disable", theirs.code),
                None,
            ),
            ("POST", format!("/v1/vouchers/{}/enable", theirs.code), None),
            (
                "POST",
                format!("/v1/vouchers/{}/validate", theirs.code),
                Some(json!({"order": {"amount": 4000}})),
            ),
            (
                "POST",
                format!("/v1/vouchers/{}/redemption", theirs.code),
                Some(json!({"order": {"amount": 4000}})),
            ),
            (
                "GET",
                format!("/v1/vouchers/{}/redemption", theirs.code),
                None,
            ),
            (
                "POST",
                format!("/v1/vouchers/{}/balance", theirs.gift),
                Some(json!({"amount": 100})),
            ),
            (
                "GET",
                format!("/v1/vouchers/{}/transactions", theirs.gift),
                None,
            ),
            ("DELETE", format!("/v1/vouchers/{}", theirs.code), None),
            ("GET", format!("/v1/campaigns/{}", theirs.campaign_id), None),
            (
                "GET",
                format!("/v1/campaigns/{}", theirs.campaign_name.replace(' ', "%20")),
                None,
            ),
            (
                "PUT",
                format!("/v1/campaigns/{}", theirs.campaign_id),
                Some(json!({"description": "stolen"})),
            ),
            (
                "POST",
                format!("/v1/campaigns/{}/disable", theirs.campaign_id),
                None,
            ),
            (
                "POST",
                format!("/v1/campaigns/{}/vouchers", theirs.campaign_id),
                None,
            ),
            (
                "GET",
                format!("/v1/campaigns/{}/summary", theirs.campaign_id),
                None,
            ),
            (
                "DELETE",
                format!("/v1/campaigns/{}", theirs.campaign_id),
                None,
            ),
            ("GET", format!("/v1/customers/{}", theirs.customer_id), None),
            (
                "GET",
                format!("/v1/customers/{}", theirs.customer_source),
                None,
            ),
            (
                "PUT",
                format!("/v1/customers/{}", theirs.customer_id),
                Some(json!({"name": "stolen"})),
            ),
            (
                "DELETE",
                format!("/v1/customers/{}", theirs.customer_id),
                None,
            ),
            (
                "GET",
                format!("/v1/redemptions/{}", theirs.redemption_id),
                None,
            ),
            (
                "POST",
                format!("/v1/redemptions/{}/rollback", theirs.redemption_id),
                None,
            ),
            (
                "GET",
                format!("/v1/validation-rules/{}", theirs.rule_id),
                None,
            ),
            (
                "PUT",
                format!("/v1/validation-rules/{}", theirs.rule_id),
                Some(json!({"name": "stolen"})),
            ),
            (
                "POST",
                format!("/v1/validation-rules/{}/assignments", theirs.rule_id),
                Some(json!({"voucher": theirs.code})),
            ),
            (
                "DELETE",
                format!("/v1/validation-rules/{}", theirs.rule_id),
                None,
            ),
            (
                "POST",
                "/v1/publications".to_owned(),
                Some(json!({"voucher": theirs.gift, "customer": {"source_id": "thief"}})),
            ),
        ];
        for (method, path, body) in attempts {
            let (status, reply) = env.call_as(keys, method, &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {reply}");
            assert_eq!(reply["key"], "not_found", "{method} {path}: {reply}");
        }
        // Lists show only the key's own project.
        for (path, field) in [
            ("/v1/vouchers?limit=100", "vouchers"),
            ("/v1/campaigns?limit=100", "campaigns"),
            ("/v1/customers?limit=100", "customers"),
            ("/v1/redemptions?limit=100", "redemptions"),
            ("/v1/publications?limit=100", "publications"),
            ("/v1/validation-rules?limit=100", "data"),
        ] {
            let list = ok_as(&env, keys, "GET", path, None).await;
            let text = list[field].to_string();
            assert!(list[field].is_array(), "{path}: {list}");
            for secret in [
                &theirs.code,
                &theirs.gift,
                &theirs.campaign_id,
                &theirs.customer_id,
                &theirs.redemption_id,
                &theirs.rule_id,
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{path} shows {secret}: {text}"
                );
            }
        }
    }

    let after = (view(&env, &mine, &a).await, view(&env, &other, &b).await);
    assert_eq!(
        before, after,
        "an attempt on the other project changed something"
    );
}
