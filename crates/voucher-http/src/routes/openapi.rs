//! `GET /openapi.json`: an OpenAPI 3.1 document of this API as it is, and
//! `GET /docs`: a self-contained HTML page rendered from it (no script, no
//! external asset). Neither needs a key.
//!
//! The document is built here in Rust rather than kept as a file, so that
//! the shared parts (keys, the `Idempotency-Key` header, the error
//! answers, the path parameters) are written once: `operations.rs` lists
//! every operation, `schemas.rs` the wire objects, `webhooks.rs` the webhook
//! endpoints, `docs.rs` renders the page. The test
//! `tests/it/openapi.rs` checks it both ways against the router (every
//! operation answers, every route is described, through
//! [`crate::route_paths`]) and validates real answers against its schemas.

mod docs;
mod operations;
mod schemas;
mod webhooks;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

/// The document, built once.
static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// The document as JSON text, serialized once.
static DOCUMENT_TEXT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&*DOCUMENT).unwrap_or_default());

/// The docs page, rendered once.
static DOCS: LazyLock<String> = LazyLock::new(|| docs::render(&DOCUMENT));

/// The OpenAPI document of the API.
pub fn document_json() -> &'static Value {
    &DOCUMENT
}

/// `GET /openapi.json`.
pub async fn document() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT_TEXT.as_str(),
    )
        .into_response()
}

/// `GET /docs`: every operation with its method, path, summary,
/// parameters and answers.
pub async fn docs() -> Html<&'static str> {
    Html(DOCS.as_str())
}

/// The version of the document (the crate's).
const VERSION: &str = env!("CARGO_PKG_VERSION");

const DESCRIPTION: &str = "\
A self-hosted promotion engine (coupons, discount codes, gift cards) whose \
`/v1` and `/client/v1` endpoints follow the Voucherify wire format, so that \
Voucherify's official SDKs work against it unchanged. This document \
describes what this server does, which is a subset of Voucherify's API.\n\n\
**Keys.** `/v1` endpoints take a server key: `X-App-Id` and `X-App-Token`. \
`/client/v1` endpoints take a client key, `X-Client-Application-Id` and \
`X-Client-Token`, from an `Origin` the key allows; redeeming and publishing \
need the key's permission. A wrong or missing key is 401 `unauthorized`. \
The key decides the project: another project's objects are 404 `not_found`.\n\n\
**Amounts** are integers, the value times 100 whatever the currency \
(`1000` is 10.00 EUR). **Timestamps** are RFC 3339 with milliseconds, UTC.\n\n\
**Request bodies** are JSON; `null` means absent and an empty body is `{}`. \
Query strings use bracket notation (`created_at[before]=...`).\n\n\
**Trailing slash.** A path marked `x-trailing-slash: true` also answers \
with a trailing slash, as some SDKs send it.\n\n\
**Idempotency.** A POST, PUT or DELETE may carry `Idempotency-Key`: a \
retry with the same key and request gets the first answer again (for 24 \
hours); the same key with another request is 422 `idempotency_key_reused`; \
a retry while the first is running is 409 `idempotency_request_in_flight`.\n\n\
**Errors** share one body (`Error`) with a stable `key`. A path that does \
not exist is 404 `not_found` (`details: \"no such endpoint\"`), a method a \
path does not take is 405 `method_not_allowed`. Every answer carries \
`X-Request-Id`, the error body's `request_id`.\n\n\
**Rate limits.** Each client IP has a budget on `/client/v1` (default 50 \
requests per 10 s; preflights do not count). Answers there carry \
`X-Rate-Limit-Limit` and `X-Rate-Limit-Remaining`; over the budget, 429 \
`too_many_requests` with `Retry-After` (seconds) and `X-Rate-Limit-Retry` \
(a Unix time).";

/// The whole document.
pub(crate) fn build() -> Value {
    let mut paths = Map::new();
    for op in operations::operations()
        .into_iter()
        .chain(webhooks::operations())
    {
        op.insert_into(&mut paths);
    }
    let mut schemas = schemas::schemas();
    schemas.extend(webhooks::schemas());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "voucher",
            "version": VERSION,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": tags(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "appId": {"type": "apiKey", "in": "header", "name": "X-App-Id",
                    "description": "A server key's application id."},
                "appToken": {"type": "apiKey", "in": "header", "name": "X-App-Token",
                    "description": "A server key's secret."},
                "clientId": {"type": "apiKey", "in": "header", "name": "X-Client-Application-Id",
                    "description": "A client key's application id (with an `Origin` the key allows)."},
                "clientToken": {"type": "apiKey", "in": "header", "name": "X-Client-Token",
                    "description": "A client key's secret."},
            },
            "parameters": parameters(),
            "headers": headers(),
            "responses": responses(),
            "schemas": schemas,
        },
    })
}

fn tags() -> Value {
    json!([
        {"name": "vouchers", "description": "Codes and what they are worth."},
        {"name": "campaigns", "description": "Settings shared by many vouchers; code generation."},
        {"name": "validations", "description": "Is a code valid for this order? Changes nothing."},
        {"name": "redemptions", "description": "Using codes, exactly once; rollbacks."},
        {"name": "qualifications", "description": "Which codes apply to a cart."},
        {"name": "customers", "description": "The shop's customers."},
        {"name": "publications", "description": "Codes given to customers."},
        {"name": "validation rules", "description": "Rule sets and where they apply."},
        {"name": "async actions", "description": "Bulk jobs and their results."},
        {"name": "exports", "description": "CSV exports of vouchers and redemptions."},
        {"name": "client", "description": "The client-side endpoints, called from web pages."},
        {"name": "webhooks", "description": "Webhook endpoints: where the project's events are posted, signed."},
        {"name": "assets", "description": "QR codes and barcodes of codes, behind signed URLs."},
        {"name": "service", "description": "Health, metrics and this document."},
    ])
}

fn parameters() -> Value {
    let string = json!({"type": "string"});
    json!({
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": false,
            "schema": {"type": "string", "minLength": 1},
            "description": "Makes a retry safe: the first answer (2xx or 4xx) to this key and request is kept for 24 hours and replayed.",
        },
        "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "description": "Page size."},
        "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1},
            "description": "1-based page."},
        "order": {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["created_at", "-created_at"]},
            "description": "Oldest (`created_at`) or newest (`-created_at`, the default) first."},
        "created_at": {"name": "created_at", "in": "query", "style": "deepObject", "explode": true,
            "schema": {"type": "object", "properties": {"before": string, "after": string}},
            "description": "Creation date range: `created_at[before]=`, `created_at[after]=` (RFC 3339)."},
        "updated_at": {"name": "updated_at", "in": "query", "style": "deepObject", "explode": true,
            "schema": {"type": "object", "properties": {"before": string, "after": string}},
            "description": "Update date range: `updated_at[before]=`, `updated_at[after]=`."},
        "starting_after": {"name": "starting_after", "in": "query", "schema": string,
            "description": "A previous page's `more_starting_after`, or a creation instant."},
        "starting_after_id": {"name": "starting_after_id", "in": "query", "schema": string,
            "description": "A previous page's `more_starting_after` (wins over `starting_after`)."},
    })
}

fn headers() -> Value {
    json!({
        "X-Rate-Limit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed in the window."},
        "X-Rate-Limit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in the window."},
        "X-Rate-Limit-Retry": {"schema": {"type": "integer"}, "description": "Unix time (seconds) from which a retry is allowed."},
        "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait."},
        "X-Request-Id": {"schema": {"type": "string"}, "description": "The request's id (`v-` and 18 hex digits)."},
    })
}

/// An error answer: `description`, then the keys it may carry.
fn error_response(description: &str, keys: &[&str]) -> Value {
    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    json!({
        "description": format!("{description} Keys: {}.", keys.join(", ")),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

/// The keys of a 400: malformed input, and the engine's refusals.
pub(crate) const BAD_REQUEST_KEYS: &[&str] = &[
    "invalid_payload",
    "invalid_query_params",
    "invalid_amount",
    "invalid_order",
    "invalid_customer",
    "invalid_campaign",
    "invalid_voucher",
    "invalid_code_config",
    "invalid_validation_rules",
    "invalid_redeemables",
    "duplicated_redeemables",
    "invalid_redemption",
    "invalid_redemption_parent",
    "missing_customer",
    "missing_vouchers",
    "page_over_limit",
    "export_too_large",
    "already_rolled_back",
    "voucher_already_published",
    "no_voucher_suitable_for_publication",
    "too_many_vouchers_requested",
    // The engine's refusal reasons (voucher-core `Reason::key`).
    "resource_not_found",
    "missing_amount",
    "missing_order_items",
    "missing_order_items_amount",
    "voucher_disabled",
    "voucher_not_active",
    "voucher_expired",
    "voucher_not_active_now",
    "quantity_exceeded",
    "gift_amount_exceeded",
    "customer_rules_violated",
    "order_rules_violated",
    "redemption_rules_violated",
];

fn responses() -> Value {
    let mut too_many = error_response(
        "Over this client IP's budget on `/client/v1`.",
        &["too_many_requests"],
    );
    too_many["headers"] = json!({
        "Retry-After": {"$ref": "#/components/headers/Retry-After"},
        "X-Rate-Limit-Limit": {"$ref": "#/components/headers/X-Rate-Limit-Limit"},
        "X-Rate-Limit-Remaining": {"$ref": "#/components/headers/X-Rate-Limit-Remaining"},
        "X-Rate-Limit-Retry": {"$ref": "#/components/headers/X-Rate-Limit-Retry"},
    });
    json!({
        "BadRequest": error_response(
            "Bad input, or a code the engine refused (a failed redemption also names its `rf_...` id in `resource_id`).",
            BAD_REQUEST_KEYS),
        "Unauthorized": error_response(
            "No key, a wrong key, a key of the other kind, an origin the client key does not allow, or a client key without the permission.",
            &["unauthorized"]),
        "NotFound": error_response("No such object in the key's project.", &["not_found"]),
        "Conflict": error_response(
            "The object exists already, or a request with this `Idempotency-Key` is still running.",
            &["duplicate_found", "duplicate_source_id", "idempotency_request_in_flight"]),
        "PayloadTooLarge": error_response("The body is over the server's limit.", &["payload_too_large"]),
        "ImageUnsupported": error_response(
            "The code has characters this image cannot hold (a Code 128 barcode holds printable ASCII only).",
            &["invalid_code"]),
        "IdempotencyKeyReused": error_response(
            "This `Idempotency-Key` was used with another request.", &["idempotency_key_reused"]),
        "TooManyRequests": too_many,
        "InternalError": error_response("The store failed; details are logged, not sent.", &["internal_error"]),
        "ServiceUnavailable": error_response("The store is busy or unavailable; retry.", &["service_unavailable"]),
    })
}

/// A schema reference.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

/// What a path parameter is, by its name in the route template.
fn path_param_description(name: &str) -> &'static str {
    match name {
        "code" => "A voucher's code (percent-encoded) or id (`v_...`).",
        "id" => "The object's id (campaigns also by name, customers also by source id).",
        "assignment_id" => "A validation rule assignment's id (`asgm_...`).",
        "token" => "The signed token of the asset.",
        "rest" => "Any other path under `/client/v1`.",
        _ => "A path segment.",
    }
}

/// One operation of the document, built step by step.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    /// `get`, `post`, ...
    pub method: &'static str,
    /// The path template, without a trailing slash.
    pub path: &'static str,
    trailing_slash: bool,
    rate_limited: bool,
    op: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
}

/// An operation `method path` named `id`, in `tag`.
pub(crate) fn op(
    method: &'static str,
    path: &'static str,
    id: &str,
    tag: &str,
    summary: &str,
) -> Op {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    op.insert("tags".into(), json!([tag]));
    op.insert("summary".into(), json!(summary));
    Op {
        method,
        path,
        trailing_slash: false,
        rate_limited: false,
        op,
        parameters: Vec::new(),
        responses: Map::new(),
    }
}

impl Op {
    /// A longer description.
    pub fn describe(mut self, text: &str) -> Op {
        self.op.insert("description".into(), json!(text));
        self
    }

    /// The path also answers with a trailing slash.
    pub fn trailing_slash(mut self) -> Op {
        self.trailing_slash = true;
        self
    }

    /// Needs a server key (`X-App-Id` + `X-App-Token`).
    pub fn server(mut self) -> Op {
        self.op
            .insert("security".into(), json!([{"appId": [], "appToken": []}]));
        self.error(401, "Unauthorized").store_errors()
    }

    /// Needs a client key from an allowed origin; rate limited.
    pub fn client(mut self) -> Op {
        self.op.insert(
            "security".into(),
            json!([{"clientId": [], "clientToken": []}]),
        );
        self.parameters.push(json!({
            "name": "Origin", "in": "header", "required": false, "schema": {"type": "string"},
            "description": "The page's origin; it must be one the client key allows. Answers to an allowed origin carry `Access-Control-Allow-Origin`.",
        }));
        self.rate_limited = true;
        self.error(401, "Unauthorized")
            .error(429, "TooManyRequests")
            .store_errors()
    }

    /// Needs no key.
    pub fn public(mut self) -> Op {
        self.op.insert("security".into(), json!([]));
        self
    }

    fn store_errors(self) -> Op {
        self.error(500, "InternalError")
            .error(503, "ServiceUnavailable")
    }

    /// Takes `Idempotency-Key`.
    pub fn idempotent(mut self) -> Op {
        self.parameters
            .push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
        self.error(409, "Conflict")
            .error(422, "IdempotencyKeyReused")
    }

    /// A query parameter.
    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Op {
        self.parameters.push(json!({
            "name": name, "in": "query", "schema": schema, "description": description,
        }));
        self
    }

    /// A required query parameter.
    pub fn query_required(mut self, name: &str, schema: Value, description: &str) -> Op {
        self.parameters.push(json!({
            "name": name, "in": "query", "required": true, "schema": schema,
            "description": description,
        }));
        self
    }

    /// A request header.
    pub fn header_param(mut self, name: &str, description: &str) -> Op {
        self.parameters.push(json!({
            "name": name, "in": "header", "schema": {"type": "string"}, "description": description,
        }));
        self
    }

    /// A shared parameter of `components/parameters`.
    pub fn param_ref(mut self, name: &str) -> Op {
        self.parameters
            .push(json!({"$ref": format!("#/components/parameters/{name}")}));
        self
    }

    /// The paging, order and date parameters of a list.
    pub fn list_params(self) -> Op {
        self.param_ref("limit")
            .param_ref("page")
            .param_ref("order")
            .param_ref("created_at")
            .param_ref("updated_at")
            .param_ref("starting_after")
            .param_ref("starting_after_id")
            .error(400, "BadRequest")
    }

    /// A JSON body of the schema `name` (optional: an empty body is `{}`).
    pub fn body(mut self, name: &str) -> Op {
        self.op.insert(
            "requestBody".into(),
            json!({"required": false, "content": {"application/json": {"schema": schema_ref(name)}}}),
        );
        self.error(400, "BadRequest").error(413, "PayloadTooLarge")
    }

    /// A request body of any content.
    pub fn body_content(mut self, content: Value, required: bool) -> Op {
        self.op.insert(
            "requestBody".into(),
            json!({"required": required, "content": content}),
        );
        self.error(400, "BadRequest").error(413, "PayloadTooLarge")
    }

    /// A JSON answer of the schema `name`.
    pub fn ok(self, status: u16, description: &str, name: &str) -> Op {
        self.answer(
            status,
            description,
            json!({"application/json": {"schema": schema_ref(name)}}),
        )
    }

    /// An answer with `content`.
    pub fn answer(mut self, status: u16, description: &str, content: Value) -> Op {
        self.responses.insert(
            status.to_string(),
            json!({"description": description, "content": content}),
        );
        self
    }

    /// Another content type of the answer `status`.
    pub fn answer_content(mut self, status: u16, content: Value) -> Op {
        if let Some(Value::Object(answer)) = self.responses.get_mut(&status.to_string()) {
            if let (Some(Value::Object(have)), Value::Object(more)) =
                (answer.get_mut("content"), content)
            {
                have.extend(more);
            }
        }
        self
    }

    /// An answer without a body.
    pub fn empty(mut self, status: u16, description: &str) -> Op {
        self.responses
            .insert(status.to_string(), json!({"description": description}));
        self
    }

    /// 202 with `{async_action_id}`.
    pub fn accepted(self, description: &str) -> Op {
        self.ok(202, description, "AsyncActionAccepted")
    }

    /// An error answer of `components/responses`.
    pub fn error(mut self, status: u16, name: &str) -> Op {
        self.responses
            .insert(status.to_string(), response_ref(name));
        self
    }

    /// Adds the operation to `paths`, its path parameters from the
    /// template.
    fn insert_into(self, paths: &mut Map<String, Value>) {
        let Op {
            method,
            path,
            trailing_slash,
            rate_limited,
            mut op,
            mut parameters,
            mut responses,
        } = self;
        let mut path_params = Vec::new();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                path_params.push(json!({
                    "name": name, "in": "path", "required": true,
                    "schema": {"type": "string"},
                    "description": path_param_description(name),
                }));
            }
        }
        path_params.append(&mut parameters);
        if !path_params.is_empty() {
            op.insert("parameters".into(), Value::Array(path_params));
        }
        // Every answer carries its request id; a rate-limited one its
        // budget.
        for (status, answer) in responses.iter_mut() {
            if let Value::Object(answer) = answer {
                if !answer.contains_key("$ref") {
                    let headers = answer
                        .entry("headers")
                        .or_insert_with(|| Value::Object(Map::new()));
                    headers["X-Request-Id"] = json!({"$ref": "#/components/headers/X-Request-Id"});
                    if rate_limited && status.starts_with('2') {
                        for name in ["X-Rate-Limit-Limit", "X-Rate-Limit-Remaining"] {
                            headers[name] = json!({"$ref": format!("#/components/headers/{name}")});
                        }
                    }
                }
            }
        }
        // By status, whatever the order they were given in.
        let mut sorted: Vec<(String, Value)> = responses.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        op.insert(
            "responses".into(),
            Value::Object(sorted.into_iter().collect()),
        );
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if trailing_slash {
            item["x-trailing-slash"] = json!(true);
        }
        item[method] = Value::Object(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_key_of_the_engine_is_listed_for_400() {
        for reason in voucher_core::decision::Reason::ALL {
            assert!(
                BAD_REQUEST_KEYS.contains(&reason.key()),
                "{} is not in BAD_REQUEST_KEYS",
                reason.key()
            );
        }
    }

    #[test]
    fn path_parameters_come_from_the_template() {
        let mut paths = Map::new();
        op("get", "/v1/a/{id}/b/{code}", "x", "t", "s").insert_into(&mut paths);
        let names: Vec<&str> = paths["/v1/a/{id}/b/{code}"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id", "code"]);
    }
}
