//! `GET /openapi.json` and `GET /docs` against the router, both ways:
//! every operation of the document answers (not the fallback 404, not
//! 405), every route the router has is in the document with exactly its
//! methods, the document parses as OpenAPI 3.1 with every `$ref`
//! resolving, and real answers validate against the schemas the document
//! gives for them.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{Env, Keys, ORIGIN};

/// Operations of the document whose routes other branches are adding.
/// Skipped by the check that every operation answers; a pending route
/// that answers fails the test, so that its line is removed here once it
/// is merged.
const PENDING_ROUTES: &[(&str, &str)] = &[];

/// The methods a route is probed with (HEAD is GET's; the router has no
/// other).
const PROBED: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// An operation: a lowercase method and a path template.
type Operation = (String, String);

/// The document, asked without a key.
async fn document(env: &Env) -> Value {
    let request = Request::builder()
        .uri("/openapi.json")
        .body(Body::empty())
        .unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).expect("the document is JSON")
}

/// Every operation of the document.
fn operations(doc: &Value) -> BTreeSet<Operation> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

fn pending() -> BTreeSet<Operation> {
    PENDING_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

/// A router path template as the document writes it: `{*rest}` is
/// `{rest}`, no trailing slash. Also whether it had one.
fn normalize(path: &str) -> (String, bool) {
    let slash = path.len() > 1 && path.ends_with('/');
    let path = path.trim_end_matches('/').replace("{*", "{");
    (path, slash)
}

/// `template` with each `{param}` replaced by a dummy value.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(name) => format!(
                "probe-{}",
                name.trim_start_matches('*').trim_end_matches('}')
            ),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a handler for `method path`: the answer is
/// neither 405 nor the fallback's 404 (`details: "no such endpoint"`).
/// Sent without a key or body, so that nothing changes.
async fn answers(env: &Env, method: &str, path: &str) -> bool {
    let request = Request::builder()
        .method(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap())
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let (status, body) = env.send(request).await;
    if status == StatusCode::METHOD_NOT_ALLOWED {
        assert_eq!(body["key"], "method_not_allowed", "{method} {path}: {body}");
        return false;
    }
    !(status == StatusCode::NOT_FOUND && body["details"] == "no such endpoint")
}

#[tokio::test]
async fn the_probe_tells_missing_routes_and_methods_apart() {
    let env = Env::new();
    assert!(answers(&env, "get", "/health").await);
    assert!(
        answers(&env, "get", "/v1/vouchers/probe-code").await,
        "401 is an answer"
    );
    assert!(!answers(&env, "delete", "/health").await);
    assert!(!answers(&env, "patch", "/v1/vouchers/probe-code").await);
    assert!(!answers(&env, "get", "/v1/nowhere").await);
    assert!(!answers(&env, "get", "/client/v1/nowhere").await);
    assert!(answers(&env, "options", "/client/v1/nowhere").await);
}

#[tokio::test]
async fn every_operation_in_the_document_answers() {
    let env = Env::new();
    let doc = document(&env).await;
    let ops = operations(&doc);
    let pending = pending();
    let mut missing = Vec::new();
    for (method, path) in &ops {
        let exists = answers(&env, method, &fill(path)).await;
        let op = (method.clone(), path.clone());
        if pending.contains(&op) {
            assert!(
                !exists,
                "{method} {path} exists now: remove it from PENDING_ROUTES"
            );
        } else if !exists {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "in the document, not in the router: {missing:?}"
    );
    for op in &pending {
        assert!(
            ops.contains(op),
            "PENDING_ROUTES names {op:?}, not in the document"
        );
    }
}

#[tokio::test]
async fn every_route_is_in_the_document_with_its_methods() {
    let env = Env::new();
    let doc = document(&env).await;
    let paths = voucher_http::route_paths();
    for path in [
        "/health",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/v1/vouchers/{code}",
    ] {
        assert!(paths.contains(&path), "route_paths() lacks {path}");
    }
    let unique: BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(unique.len(), paths.len(), "a path registered twice");

    // What the router does, by probing each route with each method.
    let mut routed = BTreeSet::new();
    let mut routed_with_slash = BTreeSet::new();
    for path in &paths {
        let (template, slash) = normalize(path);
        for method in PROBED {
            if answers(&env, method, &fill(path)).await {
                let op = (method.to_owned(), template.clone());
                if slash {
                    routed_with_slash.insert(op);
                } else {
                    routed.insert(op);
                }
            }
        }
    }
    let documented: BTreeSet<Operation> =
        operations(&doc).difference(&pending()).cloned().collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes not in the document: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "in the document, not among the routes: {unrouted:?}"
    );

    // `x-trailing-slash: true` exactly where the router has the twin.
    let documented_with_slash: BTreeSet<Operation> = documented
        .iter()
        .filter(|(_, path)| doc["paths"][path.as_str()]["x-trailing-slash"] == json!(true))
        .cloned()
        .collect();
    assert_eq!(routed_with_slash, documented_with_slash);
    assert!(!routed_with_slash.is_empty());
}

/// Every `$ref` string in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// `text` as a JSON pointer token.
fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// A validator of the JSON schema at `pointer` in the document (whose
/// `$ref`s point into the document).
fn validator_at(doc: &Value, pointer: &str) -> jsonschema::Validator {
    let mut root = doc.clone();
    // A URI fragment: braces percent-encoded.
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = json!(format!("#{fragment}"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"))
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let env = Env::new();
    let doc = document(&env).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let text = serde_json::to_string(&doc).unwrap();
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    assert_eq!(spec.info.title, "voucher");

    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(targets.len() > 100, "{} refs", targets.len());
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }

    // Operation ids are unique; every path parameter is declared; every
    // operation has keys (or none) and an answer.
    let mut ids = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][path.as_str()][method.as_str()];
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        assert!(op["security"].is_array(), "{method} {path}: no security");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let declared = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == name));
            assert!(declared, "{method} {path}: {name} not declared");
        }
    }

    // Every schema compiles.
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        validator_at(&doc, &format!("/components/schemas/{name}"));
    }
}

/// Sends `method path` with `body` as `keys` (a server key, or a client
/// key from [`ORIGIN`]) and checks the answer against the document's
/// schema for `template` and its status: the answer's body.
async fn check(
    env: &Env,
    doc: &Value,
    caller: Caller<'_>,
    method: &str,
    (template, path): (&str, &str),
    body: Option<Value>,
) -> (StatusCode, Value) {
    // The request body fits the documented one (a 2xx proves the server
    // took it; a 4xx is sent on purpose and need not fit).
    let request_schema = format!(
        "/paths/{}/{}/requestBody/content/application~1json/schema",
        pointer_token(template),
        method.to_ascii_lowercase(),
    );
    let misfits: Vec<String> = match (&body, doc.pointer(&request_schema)) {
        (Some(body), Some(_)) => validator_at(doc, &request_schema)
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect(),
        (Some(_), None) => panic!("{method} {template}: no JSON body documented"),
        (None, _) => Vec::new(),
    };
    let (status, reply) = match caller {
        Caller::Server(keys) => env.call_as(keys, method, path, body.clone()).await,
        Caller::Client => env.client(method, path, body.clone()).await,
    };
    assert!(
        misfits.is_empty() || !status.is_success(),
        "{method} {path}: the body was taken, but does not fit its documented schema: {misfits:#?}"
    );
    let mut response = format!(
        "/paths/{}/{}/responses/{}",
        pointer_token(template),
        method.to_ascii_lowercase(),
        status.as_u16()
    );
    let answer = doc
        .pointer(&response)
        .unwrap_or_else(|| panic!("{method} {template}: {status} is not documented ({reply})"));
    if let Some(target) = answer["$ref"].as_str() {
        response = target.trim_start_matches('#').to_owned();
    }
    let schema = format!("{response}/content/application~1json/schema");
    assert!(
        doc.pointer(&schema).is_some(),
        "{method} {template} {status}: no JSON schema"
    );
    let validator = validator_at(doc, &schema);
    let errors: Vec<String> = validator
        .iter_errors(&reply)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) does not match its schema: {errors:#?}\n{reply:#}"
    );
    (status, reply)
}

/// Who calls.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Server(&'a Keys),
    Client,
}

#[tokio::test]
async fn answers_match_their_schemas() {
    let env = Env::new();
    let doc = document(&env).await;
    let server = env.server.clone();
    let s = Caller::Server(&server);
    macro_rules! ok {
        ($caller:expr, $method:expr, $template:expr, $path:expr, $body:expr) => {{
            let (status, reply) =
                check(&env, &doc, $caller, $method, ($template, $path), $body).await;
            assert!(
                status.is_success(),
                "{} {}: {status} {reply}",
                $method,
                $path
            );
            reply
        }};
    }
    let amount_off = json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000},
        "redemption": {"quantity": 5}, "metadata": {"tier": 1}});
    let code = "/v1/vouchers/{code}";

    // Vouchers: a discount, one with every validity field, a gift card.
    let voucher = ok!(
        s,
        "POST",
        code,
        "/v1/vouchers/SPRING-10",
        Some(amount_off.clone())
    );
    assert_eq!(voucher["object"], "voucher");
    ok!(
        s,
        "POST",
        code,
        "/v1/vouchers/TIMED-10",
        Some(json!({
            "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 12.5, "amount_limit": 500},
            "start_date": "2026-01-01T00:00:00Z", "validity_timeframe": {"interval": "P2D", "duration": "P1D"},
            "validity_day_of_week": [1, 2],
            "validity_hours": {"daily": [{"start_time": "10:00", "expiration_time": "12:00", "days_of_week": [1]}]},
        }))
    );
    let gift = ok!(
        s,
        "POST",
        "/v1/vouchers",
        "/v1/vouchers",
        Some(json!({"type": "GIFT_VOUCHER", "gift": {"amount": 5000}}))
    );
    let gift_code = gift["code"].as_str().unwrap().to_owned();
    ok!(s, "GET", "/v1/vouchers", "/v1/vouchers", None);
    ok!(
        s,
        "PUT",
        code,
        "/v1/vouchers/SPRING-10",
        Some(json!({"category": "spring"}))
    );
    ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/disable",
        "/v1/vouchers/TIMED-10/disable",
        None
    );
    ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/balance",
        &format!("/v1/vouchers/{gift_code}/balance"),
        Some(json!({"amount": 1000}))
    );
    ok!(
        s,
        "GET",
        "/v1/vouchers/{code}/transactions",
        &format!("/v1/vouchers/{gift_code}/transactions"),
        None
    );

    // Validations: valid, refused, stacked.
    let order =
        json!({"amount": 5000, "items": [{"product_id": "p1", "quantity": 1, "price": 5000}]});
    let valid = ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/validate",
        "/v1/vouchers/SPRING-10/validate",
        Some(json!({"order": order}))
    );
    assert_eq!(valid["valid"], true);
    let refused = ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/validate",
        "/v1/vouchers/TIMED-10/validate",
        Some(json!({"order": order}))
    );
    assert_eq!(refused["valid"], false);
    ok!(
        s,
        "POST",
        "/v1/validations",
        "/v1/validations",
        Some(json!({
            "redeemables": [{"object": "voucher", "id": "SPRING-10"}, {"object": "voucher", "id": "TIMED-10"}],
            "order": order, "customer": {"source_id": "alice"},
        }))
    );

    // A gift card's validation, an unknown code among others.
    let gift_validation = ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/validate",
        &format!("/v1/vouchers/{gift_code}/validate"),
        Some(json!({"order": {"amount": 2000}}))
    );
    assert_eq!(gift_validation["gift"]["credits"], 2000);
    let stack = ok!(
        s,
        "POST",
        "/v1/validations",
        "/v1/validations",
        Some(json!({
            "redeemables": [{"object": "voucher", "id": "GHOST"},
                            {"object": "voucher", "id": gift_code, "gift": {"credits": 500}}],
            "order": {"amount": 2000},
        }))
    );
    assert_eq!(
        stack["inapplicable_redeemables"][0]["result"]["error"]["key"],
        "resource_not_found"
    );

    // Redemptions: legacy, stacked with gift credits, rollbacks, lists.
    let redemption = ok!(
        s,
        "POST",
        "/v1/vouchers/{code}/redemption",
        "/v1/vouchers/SPRING-10/redemption",
        Some(json!({"order": order, "customer": {"source_id": "alice"}}))
    );
    assert_eq!(redemption["object"], "redemption");
    let redemption_id = redemption["id"].as_str().unwrap().to_owned();
    let stacked = ok!(
        s,
        "POST",
        "/v1/redemptions",
        "/v1/redemptions",
        Some(json!({
            "redeemables": [{"object": "voucher", "id": "SPRING-10"},
                            {"object": "voucher", "id": gift_code, "gift": {"credits": 1000}}],
            "order": {"amount": 5000},
        }))
    );
    let parent = stacked["parent_redemption"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok!(s, "GET", "/v1/redemptions", "/v1/redemptions?limit=3", None);
    ok!(
        s,
        "GET",
        "/v1/redemptions/{id}",
        &format!("/v1/redemptions/{redemption_id}"),
        None
    );
    ok!(
        s,
        "GET",
        "/v1/vouchers/{code}/redemption",
        "/v1/vouchers/SPRING-10/redemption",
        None
    );
    ok!(
        s,
        "POST",
        "/v1/redemptions/{id}/rollback",
        &format!("/v1/redemptions/{redemption_id}/rollback?reason=test"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/redemptions/{id}/rollbacks",
        &format!("/v1/redemptions/{parent}/rollbacks"),
        None
    );

    // Campaigns.
    let campaign = ok!(
        s,
        "POST",
        "/v1/campaigns",
        "/v1/campaigns",
        Some(json!({
            "name": "Autumn", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}},
        }))
    );
    let campaign_id = campaign["id"].as_str().unwrap().to_owned();
    ok!(s, "GET", "/v1/campaigns", "/v1/campaigns", None);
    ok!(
        s,
        "GET",
        "/v1/campaigns/{id}",
        &format!("/v1/campaigns/{campaign_id}"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/campaigns/{id}/vouchers",
        &format!("/v1/campaigns/{campaign_id}/vouchers"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/campaigns/{id}/vouchers",
        &format!("/v1/campaigns/{campaign_id}/vouchers?vouchers_count=2"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/campaigns/{id}/vouchers/{code}",
        &format!("/v1/campaigns/{campaign_id}/vouchers/AUTUMN-1"),
        None
    );
    let accepted = ok!(
        s,
        "POST",
        "/v1/vouchers/import",
        "/v1/vouchers/import",
        Some(
            json!([{"code": "IMPORTED-1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}])
        )
    );
    let action = accepted["async_action_id"].as_str().unwrap().to_owned();
    ok!(
        s,
        "GET",
        "/v1/async-actions/{id}",
        &format!("/v1/async-actions/{action}"),
        None
    );
    ok!(
        s,
        "GET",
        "/v1/campaigns/{id}/summary",
        &format!("/v1/campaigns/{campaign_id}/summary"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/campaigns/{id}/disable",
        &format!("/v1/campaigns/{campaign_id}/disable"),
        None
    );
    ok!(
        s,
        "POST",
        "/v1/campaigns/{id}/enable",
        &format!("/v1/campaigns/{campaign_id}/enable"),
        None
    );

    // Customers, publications, qualifications.
    ok!(
        s,
        "POST",
        "/v1/customers",
        "/v1/customers",
        Some(json!({
            "source_id": "bob", "name": "Bob", "email": "bob@example.com", "birthdate": "1990-05-01",
            "address": {"city": "Lyon"}, "metadata": {"vip": true},
        }))
    );
    ok!(s, "GET", "/v1/customers", "/v1/customers", None);
    ok!(s, "GET", "/v1/customers/{id}", "/v1/customers/bob", None);
    ok!(
        s,
        "POST",
        "/v1/publications",
        "/v1/publications",
        Some(json!({"campaign": {"name": "Autumn"}, "customer": {"source_id": "bob"}}))
    );
    ok!(
        s,
        "GET",
        "/v1/publications/create",
        "/v1/publications/create?campaign=Autumn&customer=carol",
        None
    );
    ok!(s, "GET", "/v1/publications", "/v1/publications", None);
    // Bob holds a code of the campaign now.
    let qualified = ok!(
        s,
        "POST",
        "/v1/qualifications",
        "/v1/qualifications",
        Some(json!({"order": {"amount": 5000}, "customer": {"source_id": "bob"}}))
    );
    assert!(
        qualified["redeemables"]["total"].as_u64().unwrap() > 0,
        "{qualified}"
    );

    // Validation rules.
    let rule = ok!(
        s,
        "POST",
        "/v1/validation-rules",
        "/v1/validation-rules",
        Some(json!({
            "name": "Big orders", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1000]}}, "logic": "1"},
            "error": {"message": "Spend more"},
        }))
    );
    let rule_id = rule["id"].as_str().unwrap().to_owned();
    ok!(
        s,
        "GET",
        "/v1/validation-rules",
        "/v1/validation-rules",
        None
    );
    ok!(
        s,
        "POST",
        "/v1/validation-rules/{id}/assignments",
        &format!("/v1/validation-rules/{rule_id}/assignments"),
        Some(json!({"voucher": "SPRING-10"}))
    );
    ok!(
        s,
        "GET",
        "/v1/validation-rules/{id}/assignments",
        &format!("/v1/validation-rules/{rule_id}/assignments"),
        None
    );

    // Exports.
    let export = ok!(
        s,
        "POST",
        "/v1/exports",
        "/v1/exports",
        Some(json!({"exported_object": "voucher"}))
    );
    let export_id = export["id"].as_str().unwrap().to_owned();
    ok!(
        s,
        "GET",
        "/v1/exports/{id}",
        &format!("/v1/exports/{export_id}"),
        None
    );

    let rule_path = format!("/v1/validation-rules/{rule_id}");
    ok!(s, "GET", "/v1/validation-rules/{id}", &rule_path, None);
    ok!(
        s,
        "PUT",
        "/v1/validation-rules/{id}",
        &rule_path,
        Some(json!({"name": "Bigger orders"}))
    );
    let assignments = ok!(
        s,
        "GET",
        "/v1/validation-rules/{id}/assignments",
        &format!("{rule_path}/assignments"),
        None
    );
    let assignment = assignments["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = env
        .call(
            "DELETE",
            &format!("{rule_path}/assignments/{assignment}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = env.call("DELETE", &rule_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // More of customers and campaigns.
    ok!(
        s,
        "PUT",
        "/v1/customers/{id}",
        "/v1/customers/bob",
        Some(json!({"phone": "+33 1 23 45 67 89"}))
    );
    ok!(
        s,
        "PUT",
        "/v1/campaigns/{id}",
        &format!("/v1/campaigns/{campaign_id}"),
        Some(json!({"description": "Leaves"}))
    );
    // The trailing-slash twin answers the same.
    ok!(s, "GET", "/v1/campaigns", "/v1/campaigns/", None);

    // The export's file.
    let download = format!("/v1/exports/{export_id}/download");
    let request = Request::builder()
        .uri(download.as_str())
        .header("x-app-id", &server.id)
        .header("x-app-token", &server.token)
        .body(Body::empty())
        .unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let documented =
        &doc["paths"]["/v1/exports/{id}/download"]["get"]["responses"]["200"]["content"];
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        documented
            .get(content_type.split(';').next().unwrap())
            .is_some(),
        "{content_type}"
    );

    // The client side.
    let c = Caller::Client;
    ok!(
        c,
        "GET",
        "/client/v1/validate",
        "/client/v1/validate?code=SPRING-10&amount=5000",
        None
    );
    ok!(
        c,
        "POST",
        "/client/v1/validations",
        "/client/v1/validations",
        Some(
            json!({"redeemables": [{"object": "voucher", "id": "SPRING-10"}], "order": {"amount": 5000}})
        )
    );
    ok!(
        c,
        "POST",
        "/client/v1/redeem",
        "/client/v1/redeem?code=SPRING-10",
        Some(json!({"order": {"amount": 5000}}))
    );
    ok!(
        c,
        "POST",
        "/client/v1/qualifications",
        "/client/v1/qualifications",
        Some(json!({"order": {"amount": 5000}}))
    );
    ok!(
        c,
        "POST",
        "/client/v1/publish",
        "/client/v1/publish?campaign=Autumn",
        Some(json!({"customer": {"source_id": "dave"}}))
    );

    // Errors: not found, bad input, a refused redemption, no key.
    let (status, body) = check(&env, &doc, s, "GET", (code, "/v1/vouchers/NOPE"), None).await;
    assert_eq!(
        (status, body["key"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = check(
        &env,
        &doc,
        s,
        "POST",
        ("/v1/validations", "/v1/validations"),
        Some(json!({"redeemables": "x"})),
    )
    .await;
    assert_eq!(
        (status, body["key"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_payload"))
    );
    let (status, body) = check(
        &env,
        &doc,
        s,
        "POST",
        (
            "/v1/vouchers/{code}/redemption",
            "/v1/vouchers/TIMED-10/redemption",
        ),
        Some(json!({"order": {"amount": 5000}})),
    )
    .await;
    assert_eq!(
        (status, body["key"].as_str()),
        (StatusCode::BAD_REQUEST, Some("voucher_disabled"))
    );
    assert_eq!(body["resource_type"], "redemption");
    let nobody = Keys {
        id: "nobody".into(),
        token: "wrong".into(),
    };
    let (status, _) = check(
        &env,
        &doc,
        Caller::Server(&nobody),
        "GET",
        (code, "/v1/vouchers/SPRING-10"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = env
        .call("DELETE", &format!("/v1/campaigns/{campaign_id}"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(doc["paths"]["/v1/campaigns/{id}"]["delete"]["responses"]["202"].is_object());
    let metrics = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = env.app.clone().oneshot(metrics).await.unwrap();
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"][content_type].is_object(),
        "{content_type}"
    );

    // Deletions answer 204 with no body, as documented.
    for (template, path) in [
        (code, "/v1/vouchers/TIMED-10"),
        ("/v1/customers/{id}", "/v1/customers/bob"),
    ] {
        let (status, body) = env.call("DELETE", path, None).await;
        assert_eq!((status, &body), (StatusCode::NO_CONTENT, &Value::Null));
        assert!(doc["paths"][template]["delete"]["responses"]["204"].is_object());
    }
}

#[tokio::test]
async fn the_docs_page_lists_every_operation_and_needs_nothing_from_outside() {
    let env = Env::new();
    let doc = document(&env).await;
    let request = Request::builder().uri("/docs").body(Body::empty()).unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][path.as_str()][method.as_str()];
        let id = op["operationId"].as_str().unwrap();
        let block = html
            .split(&format!("id=\"op-{id}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("{id} is not on the page"));
        let block = block.split("<div class=\"op\"").next().unwrap();
        assert!(
            block.contains(&format!(">{}</span>{}</h3>", method.to_uppercase(), path)),
            "{id}"
        );
        let summary = op["summary"].as_str().unwrap();
        assert!(block.contains(summary), "{id}: no summary");
        for status in op["responses"].as_object().unwrap().keys() {
            assert!(
                block.contains(&format!("<td>{status}</td>")),
                "{id}: no {status}"
            );
        }
    }
    // Every link within the page leads somewhere on it.
    for link in html.split("href=\"#").skip(1) {
        let target = link.split('"').next().unwrap();
        assert!(html.contains(&format!("id=\"{target}\"")), "no #{target}");
    }
    for outside in ["<script", "<link", "src=\"http", "url(http", "@import"] {
        assert!(!html.contains(outside), "the page loads {outside}");
    }
    // A client page may read neither, but nothing there is secret either.
    let (status, _) = env
        .client_as(&env.client.clone(), ORIGIN, "GET", "/docs", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_rate_limit_answer_is_as_documented() {
    let env = Env::with_config(voucher_http::Config {
        client_rate_limit: Some(
            voucher_http::RateLimit::new(1, std::time::Duration::from_secs(60)).unwrap(),
        ),
        ..voucher_http::Config::default()
    });
    let doc = document(&env).await;
    let path = "/client/v1/validate?code=NOPE&amount=100";
    let (status, _) = env.client("GET", path, None).await;
    assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    let request = Request::builder()
        .uri(path)
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let answer = &doc["paths"]["/client/v1/validate"]["get"]["responses"]["429"];
    let target = answer["$ref"].as_str().unwrap().trim_start_matches('#');
    let documented = doc.pointer(target).unwrap();
    for name in documented["headers"].as_object().unwrap().keys() {
        assert!(response.headers().contains_key(name.as_str()), "no {name}");
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let validator = validator_at(&doc, &format!("{target}/content/application~1json/schema"));
    assert!(validator.is_valid(&body), "{body}");
    assert_eq!(body["key"], "too_many_requests");
}
