//! Bad requests, table-driven: each gets its documented 4xx status and
//! stable `key` in the wire's error body, none gets a 5xx, and none changes
//! anything (the store's state is compared before and after each).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use voucher_core::port::{
    CampaignQueries, CheckoutStore, CustomerStore, ListQuery, ProjectId, PublicationQuery,
    PublicationStore, RedemptionQuery, RedemptionResult, RuleStore, VoucherQueries, VoucherQuery,
};

use crate::support::{ok_as, Env, Keys, ORIGIN};

/// Who sends a request.
#[derive(Debug, Clone, Copy)]
enum As {
    /// The default project's server key.
    Server,
    /// No key at all.
    Nobody,
    /// The client key, from its allowed origin, on whatever path is given.
    Client,
    /// The client key from an origin it does not allow.
    ClientElsewhere,
    /// A client key without the redeem and publish permissions.
    ClientReadOnly,
}

/// A request body.
enum Payload {
    None,
    Json(Value),
    /// Raw bytes sent as `application/json`.
    Raw(Vec<u8>),
    /// Raw bytes with their content type.
    Typed(&'static str, Vec<u8>),
}

struct Case {
    name: &'static str,
    who: As,
    method: &'static str,
    path: String,
    body: Payload,
    status: u16,
    key: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: Payload,
    status: u16,
    key: &'static str,
) -> Case {
    Case {
        name,
        who: As::Server,
        method,
        path: path.into(),
        body,
        status,
        key,
    }
}

fn json_body(value: Value) -> Payload {
    Payload::Json(value)
}

fn raw(text: &str) -> Payload {
    Payload::Raw(text.as_bytes().to_vec())
}

/// The fixture both projects share the shape of: a percent code, a gift
/// card, a campaign with codes, a customer, a redemption.
struct Fixture {
    redemption: String,
    campaign_id: String,
    rule_id: String,
}

async fn fixture(env: &Env, keys: &Keys, prefix: &str) -> Fixture {
    ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{prefix}SHARED25"),
        json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 25}}),
    )
    .await;
    ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{prefix}GIFT50"),
        json!({"type": "GIFT_VOUCHER", "gift": {"amount": 5000}}),
    )
    .await;
    let campaign = ok_as(
        env,
        keys,
        "POST",
        "/v1/campaigns",
        json!({
            "name": format!("{prefix}Spring"),
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "vouchers_count": 0,
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}},
        }),
    )
    .await;
    ok_as(
        env,
        keys,
        "POST",
        "/v1/customers",
        json!({"source_id": format!("{prefix}alice"), "name": "Alice"}),
    )
    .await;
    let rule = ok_as(
        env,
        keys,
        "POST",
        "/v1/validation-rules",
        json!({
            "name": format!("{prefix}big orders"),
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [10000]}, "rules": {}}, "logic": "1"},
        }),
    )
    .await;
    let redemption = ok_as(
        env,
        keys,
        "POST",
        &format!("/v1/vouchers/{prefix}SHARED25/redemption"),
        json!({"order": {"amount": 4000}, "customer": {"source_id": format!("{prefix}alice")}}),
    )
    .await;
    Fixture {
        redemption: redemption["id"].as_str().unwrap().to_owned(),
        campaign_id: campaign["id"].as_str().unwrap().to_owned(),
        rule_id: rule["id"].as_str().unwrap().to_owned(),
    }
}

/// Everything a bad request could change in a project, as text.
fn snapshot(env: &Env, project: ProjectId) -> String {
    let list = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    let store = &env.store;
    let vouchers = store
        .vouchers(
            project,
            &VoucherQuery {
                list: list.clone(),
                ..VoucherQuery::default()
            },
        )
        .unwrap();
    let campaigns = store.campaigns(project, &list).unwrap();
    let customers = store.customers(project, &list).unwrap();
    let rules = store.rules(project, &list).unwrap();
    let publications = store
        .publications(
            project,
            &PublicationQuery {
                list: list.clone(),
                ..PublicationQuery::default()
            },
        )
        .unwrap();
    // Refused redemptions are logged by design; successes must not change.
    let successes = store
        .redemptions(
            project,
            &RedemptionQuery {
                list,
                result: Some(RedemptionResult::Success),
                ..RedemptionQuery::default()
            },
        )
        .unwrap();
    format!(
        "{vouchers:?}\n{campaigns:?}\n{customers:?}\n{rules:?}\n{publications:?}\n{successes:?}"
    )
}

fn cases(mine: &Fixture, theirs: &Fixture) -> Vec<Case> {
    let mut over_limit = br#"{"code":"X","metadata":{"pad":""#.to_vec();
    over_limit.extend(std::iter::repeat_n(b'a', 1 << 20));
    over_limit.extend(br#""}}"#);
    let csv_over_limit = {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\nContent-Type: text/csv\r\n\r\nCode\r\n".to_vec();
        for i in 0..1_100_000 {
            body.extend(format!("CODE{i:07}\r\n").as_bytes());
        }
        body.extend(b"--XyZ--\r\n");
        body
    };
    let r = &mine.redemption;
    let c = &mine.campaign_id;
    let rule = &mine.rule_id;
    let mut cases = vec![
        // Malformed bodies and wrong types.
        case(
            "malformed JSON",
            "POST",
            "/v1/vouchers",
            raw(r#"{"code": "#),
            400,
            "invalid_payload",
        ),
        case(
            "JSON array body",
            "POST",
            "/v1/vouchers",
            raw("[1, 2]"),
            400,
            "invalid_payload",
        ),
        case(
            "JSON string body",
            "POST",
            "/v1/customers",
            raw(r#""alice""#),
            400,
            "invalid_payload",
        ),
        case(
            "percent_off as text",
            "POST",
            "/v1/vouchers/BADTYPE",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": "lots"}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "unknown voucher type",
            "POST",
            "/v1/vouchers/BADTYPE",
            json_body(
                json!({"type": "MYSTERY_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "unknown discount type",
            "POST",
            "/v1/vouchers/BADTYPE",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "HALF", "percent_off": 10}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "percent over 100",
            "POST",
            "/v1/vouchers/BADPCT",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 150}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "negative amount_off",
            "POST",
            "/v1/vouchers/BADAMT",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": -100}}),
            ),
            400,
            "invalid_amount",
        ),
        case(
            "negative gift amount",
            "POST",
            "/v1/vouchers/BADGIFT",
            json_body(json!({"type": "GIFT_VOUCHER", "gift": {"amount": -5000}})),
            400,
            "invalid_amount",
        ),
        case(
            "overflowing gift amount",
            "POST",
            "/v1/vouchers/BIGGIFT",
            raw(r#"{"type": "GIFT_VOUCHER", "gift": {"amount": 99999999999999999999}}"#),
            400,
            "invalid_amount",
        ),
        case(
            "code already taken",
            "POST",
            "/v1/vouchers/SHARED25",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}),
            ),
            409,
            "duplicate_found",
        ),
        case(
            "metadata not an object",
            "POST",
            "/v1/vouchers/BADMETA",
            json_body(
                json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}, "metadata": [1]}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "update with a wrong type",
            "PUT",
            "/v1/vouchers/SHARED25",
            json_body(json!({"active": "yes"})),
            400,
            "invalid_payload",
        ),
        // Unknown resources.
        case(
            "unknown voucher",
            "GET",
            "/v1/vouchers/NOPE",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "update unknown voucher",
            "PUT",
            "/v1/vouchers/NOPE",
            json_body(json!({"category": "x"})),
            404,
            "not_found",
        ),
        case(
            "delete unknown voucher",
            "DELETE",
            "/v1/vouchers/NOPE",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "enable unknown voucher",
            "POST",
            "/v1/vouchers/NOPE/enable",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "validate unknown code",
            "POST",
            "/v1/vouchers/NOPE/validate",
            json_body(json!({"order": {"amount": 4000}})),
            404,
            "not_found",
        ),
        case(
            "redeem unknown code",
            "POST",
            "/v1/vouchers/NOPE/redemption",
            json_body(json!({"order": {"amount": 4000}})),
            404,
            "not_found",
        ),
        case(
            "unknown campaign",
            "GET",
            "/v1/campaigns/camp_nope",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "unknown customer",
            "GET",
            "/v1/customers/cust_nope",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "unknown redemption",
            "GET",
            "/v1/redemptions/r_nope",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "rollback unknown redemption",
            "POST",
            "/v1/redemptions/r_nope/rollback",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "unknown validation rule",
            "GET",
            "/v1/validation-rules/val_nope",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "unknown async action",
            "GET",
            "/v1/async-actions/aa_nope",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "publish unknown code",
            "POST",
            "/v1/publications",
            json_body(json!({"voucher": "NOPE", "customer": {"source_id": "alice"}})),
            404,
            "not_found",
        ),
        // Amounts: zero, negative, overflowing, wrong type.
        case(
            "balance of zero",
            "POST",
            "/v1/vouchers/GIFT50/balance",
            json_body(json!({"amount": 0})),
            400,
            "invalid_amount",
        ),
        case(
            "balance below zero",
            "POST",
            "/v1/vouchers/GIFT50/balance",
            json_body(json!({"amount": -999999})),
            400,
            "gift_amount_exceeded",
        ),
        case(
            "balance as text",
            "POST",
            "/v1/vouchers/GIFT50/balance",
            json_body(json!({"amount": "10"})),
            400,
            "invalid_amount",
        ),
        case(
            "balance as a fraction",
            "POST",
            "/v1/vouchers/GIFT50/balance",
            json_body(json!({"amount": 10.5})),
            400,
            "invalid_amount",
        ),
        case(
            "balance overflowing",
            "POST",
            "/v1/vouchers/GIFT50/balance",
            json_body(json!({"amount": 9223372036854775807i64})),
            400,
            "invalid_amount",
        ),
        case(
            "negative order amount",
            "POST",
            "/v1/vouchers/SHARED25/redemption",
            json_body(json!({"order": {"amount": -4000}})),
            400,
            "invalid_amount",
        ),
        case(
            "order amount as text",
            "POST",
            "/v1/vouchers/SHARED25/validate",
            json_body(json!({"order": {"amount": "40.00"}})),
            400,
            "invalid_payload",
        ),
        case(
            "overflowing order amount",
            "POST",
            "/v1/vouchers/SHARED25/redemption",
            raw(r#"{"order": {"amount": 99999999999999999999}}"#),
            400,
            "invalid_payload",
        ),
        case(
            "negative item quantity",
            "POST",
            "/v1/vouchers/SHARED25/redemption",
            json_body(
                json!({"order": {"amount": 4000, "items": [{"product_id": "p", "quantity": -1, "price": 4000}]}}),
            ),
            400,
            "invalid_order",
        ),
        // Stackable requests.
        case(
            "stackable without redeemables",
            "POST",
            "/v1/redemptions",
            json_body(json!({"order": {"amount": 4000}})),
            400,
            "invalid_payload",
        ),
        case(
            "stackable with no redeemables",
            "POST",
            "/v1/validations",
            json_body(json!({"redeemables": [], "order": {"amount": 4000}})),
            400,
            "invalid_payload",
        ),
        case(
            "redeemables not a list",
            "POST",
            "/v1/redemptions",
            json_body(json!({"redeemables": "SHARED25", "order": {"amount": 4000}})),
            400,
            "invalid_payload",
        ),
        case(
            "rollback twice",
            "POST",
            format!("/v1/redemptions/{r}/rollback"),
            Payload::None,
            400,
            "already_rolled_back",
        ),
        // Campaigns, customers, rules.
        case(
            "campaign without a name",
            "POST",
            "/v1/campaigns",
            json_body(
                json!({"type": "STATIC", "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "campaign name taken",
            "POST",
            "/v1/campaigns",
            json_body(
                json!({"name": "Spring", "type": "STATIC", "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}}),
            ),
            409,
            "duplicate_found",
        ),
        case(
            "negative vouchers_count",
            "POST",
            "/v1/campaigns",
            json_body(
                json!({"name": "Neg", "vouchers_count": -5, "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}}),
            ),
            400,
            "invalid_payload",
        ),
        case(
            "code space too small",
            "POST",
            "/v1/campaigns",
            json_body(
                json!({"name": "Tiny", "vouchers_count": 1000, "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"length": 2, "charset": "AB"}}}),
            ),
            400,
            "invalid_code_config",
        ),
        case(
            "add vouchers to unknown campaign",
            "POST",
            "/v1/campaigns/camp_nope/vouchers",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "customer source_id a number",
            "POST",
            "/v1/customers",
            json_body(json!({"source_id": 5})),
            400,
            "invalid_payload",
        ),
        case(
            "rule with an unknown property",
            "POST",
            "/v1/validation-rules",
            json_body(
                json!({"name": "odd", "rules": {"1": {"name": "order.colour", "conditions": {"$is": ["red"]}}, "logic": "1"}}),
            ),
            400,
            "invalid_validation_rules",
        ),
        case(
            "rule with rules not an object",
            "POST",
            "/v1/validation-rules",
            json_body(json!({"name": "odd", "rules": "all"})),
            400,
            "invalid_validation_rules",
        ),
        // Query strings.
        case(
            "limit over 100",
            "GET",
            "/v1/vouchers?limit=1000",
            Payload::None,
            400,
            "invalid_query_params",
        ),
        case(
            "page zero",
            "GET",
            "/v1/redemptions?page=0",
            Payload::None,
            400,
            "invalid_query_params",
        ),
        case(
            "date filter not a date",
            "GET",
            "/v1/redemptions?created_at%5Bbefore%5D=yesterday",
            Payload::None,
            400,
            "invalid_query_params",
        ),
        // Size limits.
        case(
            "JSON body over 1 MiB",
            "POST",
            "/v1/vouchers",
            Payload::Raw(over_limit),
            413,
            "payload_too_large",
        ),
        case(
            "CSV upload over 10 MiB",
            "POST",
            "/v1/vouchers/importCSV",
            Payload::Typed("multipart/form-data; boundary=XyZ", csv_over_limit),
            413,
            "payload_too_large",
        ),
        // Another project's ids are unknown here.
        case(
            "their voucher",
            "GET",
            "/v1/vouchers/B-SHARED25",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "their campaign",
            "GET",
            format!("/v1/campaigns/{}", theirs.campaign_id),
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "their customer",
            "GET",
            "/v1/customers/B-alice",
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "their redemption",
            "GET",
            format!("/v1/redemptions/{}", theirs.redemption),
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "rollback their redemption",
            "POST",
            format!("/v1/redemptions/{}/rollback", theirs.redemption),
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "their rule",
            "DELETE",
            format!("/v1/validation-rules/{}", theirs.rule_id),
            Payload::None,
            404,
            "not_found",
        ),
        case(
            "redeem their code",
            "POST",
            "/v1/vouchers/B-SHARED25/redemption",
            json_body(json!({"order": {"amount": 4000}})),
            404,
            "not_found",
        ),
    ];
    // Keys.
    let mut keyed = |name, who, method, path: String, body, status, key| {
        cases.push(Case {
            name,
            who,
            method,
            path,
            body,
            status,
            key,
        });
    };
    keyed(
        "no key",
        As::Nobody,
        "GET",
        "/v1/vouchers".to_owned(),
        Payload::None,
        401,
        "unauthorized",
    );
    keyed(
        "client key on a server endpoint",
        As::Client,
        "GET",
        "/v1/vouchers".to_owned(),
        Payload::None,
        401,
        "unauthorized",
    );
    keyed(
        "client key from another origin",
        As::ClientElsewhere,
        "POST",
        "/client/v1/validations".to_owned(),
        json_body(json!({"redeemables": [{"object": "voucher", "id": "SHARED25"}]})),
        401,
        "unauthorized",
    );
    keyed(
        "client key may not redeem",
        As::ClientReadOnly,
        "POST",
        "/client/v1/redemptions".to_owned(),
        json_body(
            json!({"redeemables": [{"object": "voucher", "id": "SHARED25"}], "order": {"amount": 4000}}),
        ),
        401,
        "unauthorized",
    );
    keyed(
        "client key may not publish",
        As::ClientReadOnly,
        "POST",
        "/client/v1/publish".to_owned(),
        json_body(json!({"voucher": "SHARED25", "customer": {"source_id": "alice"}})),
        401,
        "unauthorized",
    );
    keyed(
        "rollback of a campaign id",
        As::Server,
        "POST",
        format!("/v1/redemptions/{c}/rollback"),
        Payload::None,
        404,
        "not_found",
    );
    keyed(
        "assign a rule to an unknown voucher",
        As::Server,
        "POST",
        format!("/v1/validation-rules/{rule}/assignments"),
        json_body(json!({"voucher": "NOPE"})),
        404,
        "not_found",
    );
    cases
}

#[tokio::test]
async fn bad_requests_get_their_status_and_key_and_change_nothing() {
    let env = Env::new();
    let (other, other_keys) = env.add_project("other");
    // A client key with neither the redeem nor the publish permission.
    let read_only = {
        use voucher_core::port::{KeySpec, ProjectStore};
        let keys = Keys {
            id: "no-perms".to_owned(),
            token: "no-perms-secret-0123456789".to_owned(),
        };
        let spec = KeySpec {
            project: env.project,
            kind: voucher_core::port::KeyKind::Client,
            app_id: keys.id.clone(),
            secret: keys.token.clone(),
            origins: vec![ORIGIN.to_owned()],
            permissions: Vec::new(),
        };
        env.store.create_key(&spec, env.now()).unwrap();
        keys
    };
    let server = env.server.clone();
    let mine = fixture(&env, &server, "").await;
    let theirs = fixture(&env, &other_keys, "B-").await;
    // The one redemption the "rollback twice" case needs rolled back.
    let (status, reply) = env
        .call(
            "POST",
            &format!("/v1/redemptions/{}/rollback", mine.redemption),
            None,
        )
        .await;
    assert!(status.is_success(), "rollback: {status} {reply}");

    let cases = cases(&mine, &theirs);
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let before = (snapshot(&env, env.project), snapshot(&env, other));
        let mut request = Request::builder()
            .method(Method::from_bytes(case.method.as_bytes()).unwrap())
            .uri(&case.path);
        request = match case.who {
            As::Server => request
                .header("x-app-id", &server.id)
                .header("x-app-token", &server.token),
            As::Nobody => request,
            As::Client => request
                .header("x-client-application-id", &env.client.id)
                .header("x-client-token", &env.client.token)
                .header("origin", ORIGIN),
            As::ClientElsewhere => request
                .header("x-client-application-id", &env.client.id)
                .header("x-client-token", &env.client.token)
                .header("origin", "https://evil.example"),
            As::ClientReadOnly => request
                .header("x-client-application-id", &read_only.id)
                .header("x-client-token", &read_only.token)
                .header("origin", ORIGIN),
        };
        let request = match case.body {
            Payload::None => request.body(Body::empty()),
            Payload::Json(value) => request
                .header("content-type", "application/json")
                .body(Body::from(value.to_string())),
            Payload::Raw(bytes) => request
                .header("content-type", "application/json")
                .body(Body::from(bytes)),
            Payload::Typed(content_type, bytes) => request
                .header("content-type", content_type)
                .body(Body::from(bytes)),
        }
        .unwrap();
        let (status, body) = env.send(request).await;
        let after = (snapshot(&env, env.project), snapshot(&env, other));
        let expected = StatusCode::from_u16(case.status).unwrap();
        if status != expected || body["key"] != case.key {
            failures.push(format!(
                "{}: {} {} -> {status} {body}, expected {expected} {}",
                case.name, case.method, case.path, case.key
            ));
        } else if body["code"] != case.status || body["message"].as_str().is_none() {
            failures.push(format!("{}: not the wire's error body: {body}", case.name));
        }
        if before != after {
            failures.push(format!("{}: the request changed the data", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
