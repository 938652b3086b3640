//! The query parameters every list shares (`limit`, `page`, `order`, the
//! date ranges and their lenient instants), asked of every list.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{check_error, Env};

/// Every list, with the key of its items.
const LISTS: [(&str, &str); 7] = [
    ("/v1/vouchers", "vouchers"),
    ("/v1/campaigns", "campaigns"),
    ("/v1/customers", "customers"),
    ("/v1/redemptions", "redemptions"),
    ("/v1/publications", "publications"),
    ("/v1/validation-rules", "data"),
    ("/v1/vouchers/CARD/transactions", "data"),
];

async fn ok(env: &Env, path: &str) -> Value {
    let (status, body) = env.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn with_one_of_each(env: &Env) {
    let made = [
        (
            "/v1/vouchers",
            json!({"code": "CARD", "type": "GIFT_VOUCHER", "gift": {"amount": 1000}}),
        ),
        (
            "/v1/campaigns",
            json!({"name": "Spring", "vouchers_count": 0, "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}}),
        ),
        ("/v1/customers", json!({"source_id": "ann"})),
        (
            "/v1/validation-rules",
            json!({"name": "any", "rules": {"logic": ""}}),
        ),
    ];
    for (path, body) in made {
        let (status, created) = env.call("POST", path, Some(body)).await;
        assert!(status.is_success(), "{path}: {created}");
    }
}

#[tokio::test]
async fn the_python_sdks_instants_filter_every_list() {
    let env = Env::new();
    with_one_of_each(&env).await;
    for (list, items) in LISTS {
        // What the Python SDK writes for a datetime, its `+` encoded or not.
        for instant in [
            "2200-01-01T00:00:00.000000%2B0000",
            "2200-01-01T00:00:00.000000+0000",
            "2200-01-01T00:00:00",
            "2200-01-01",
        ] {
            let path = format!("{list}?created_at[before]={instant}&created_at[after]=None");
            let before = ok(&env, &path).await[items].as_array().unwrap().len();
            let path = format!("{list}?created_at[after]={instant}&updated_at[before]=null");
            assert_eq!(ok(&env, &path).await[items], json!([]), "{path}");
            let path = format!("{list}?start_date={instant}");
            assert_eq!(ok(&env, &path).await[items], json!([]), "{path}");
            if list == "/v1/vouchers" {
                assert_eq!(before, 1, "{path}");
            }
        }
    }
}

#[tokio::test]
async fn every_list_refuses_the_same_bad_paging_and_order() {
    let env = Env::new();
    with_one_of_each(&env).await;
    for (list, _) in LISTS {
        for (query, key) in [
            ("limit=0", "invalid_query_params"),
            ("limit=101", "invalid_query_params"),
            ("limit=ten", "invalid_query_params"),
            ("page=0", "invalid_query_params"),
            ("page=-1", "invalid_query_params"),
            ("page=1001", "page_over_limit"),
            ("created_at[before]=yesterday", "invalid_query_params"),
            ("end_date=soon", "invalid_query_params"),
            // The store sorts by creation only (`order=-updated_at` would be
            // an order's id to the redemption list).
            ("order=-voucher_code", "invalid_query_params"),
            ("starting_after=nowhere", "invalid_query_params"),
        ] {
            let path = format!("{list}?{query}");
            let response = env.call("GET", &path, None).await;
            check_error(&response, StatusCode::BAD_REQUEST, key);
        }
        for query in [
            "limit=100&page=1000",
            "limit=None&page=null&order=",
            "order=created_at",
            "order=-created_at",
            "starting_after=2200-01-01T00:00:00Z",
        ] {
            let path = format!("{list}?{query}");
            ok(&env, &path).await;
        }
    }
}

#[tokio::test]
async fn the_redemption_lists_order_is_a_sort_or_an_orders_id() {
    let env = Env::new();
    for query in ["order=created_at", "order=-created_at", "order=ord_1"] {
        let (status, list) = env
            .call("GET", &format!("/v1/redemptions?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
    }
    for query in ["order=voucher_code", "order=-id"] {
        let response = env
            .call("GET", &format!("/v1/redemptions?{query}"), None)
            .await;
        check_error(&response, StatusCode::BAD_REQUEST, "invalid_query_params");
    }
}
