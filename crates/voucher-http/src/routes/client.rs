//! The client side (`/client/v1/...`), called from shops' web pages with a
//! client key and an allowed `Origin`: validate (the legacy
//! `GET /client/v1/validate` with the JS SDK's query parameters, and the
//! stackable `POST /client/v1/validations`), qualifications, and, where
//! the key allows it, redeem (`/redeem`, `/redemptions`:
//! [`ClientPermission::Redeem`]) and publish (`/publish`:
//! [`ClientPermission::Publish`]).
//!
//! CORS lives here too, for these routes only: a preflight `OPTIONS` is
//! answered for an origin that some client key allows (a preflight carries
//! no key, so it cannot be more precise; the request itself is then
//! checked against its own key's origins), and refused otherwise; every
//! answer to an allowed origin carries `Access-Control-Allow-Origin`.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, options, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json_};
use voucher_core::money::Currency;
use voucher_core::port::{
    ChannelType, ClientPermission, JoinOnce, KeyKind, PublicationRecord, PublicationSpec,
    PublicationTarget,
};

use crate::asset_token::{self, AssetLinks};
use crate::auth::{origin_allowed, ClientKey};
use crate::error::ApiError;
use crate::lockout::{Checked, CodeOutcome};
use crate::render::{project_currency, voucher_json};
use crate::routes::checkout::CheckoutBody;
use crate::routes::customers::CustomerBody;
use crate::routes::Routes;
use crate::routes::{qualifications, redemptions, validations};
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The headers the JS client SDK sends, allowed by a preflight.
const ALLOWED_HEADERS: &str = "X-Client-Application-Id, X-Client-Token, Content-Type, \
     X-Voucherify-Channel, X-Voucherify-API-Version, Idempotency-Key";
/// The methods of the client routes.
const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/client/v1/validate", get(validate).options(preflight))
        .route("/client/v1/redeem", post(redeem).options(preflight))
        .route(
            "/client/v1/validations",
            post(validations).options(preflight),
        )
        .route(
            "/client/v1/redemptions",
            post(redemptions).options(preflight),
        )
        .route(
            "/client/v1/qualifications",
            post(qualifications).options(preflight),
        )
        .route("/client/v1/publish", post(publish).options(preflight))
        .route("/client/v1/{*rest}", options(preflight).fallback(other))
        .layer(middleware::from_fn(allow_origin))
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Whether any client key in use accepts `origin`.
async fn known_origin(state: &AppState, origin: &str) -> Result<bool, ApiError> {
    let origin = origin.to_owned();
    state
        .store(move |store| {
            Ok(store.keys()?.iter().any(|k| {
                k.kind == KeyKind::Client
                    && k.revoked_at.is_none()
                    && origin_allowed(k, Some(&origin))
            }))
        })
        .await
}

/// A preflight: allowed (204 with the CORS headers) for an origin some
/// client key accepts, 401 otherwise.
async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(origin) = origin(&headers) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    match known_origin(&state, &origin).await {
        Ok(true) => {}
        Ok(false) => {
            return ApiError::unauthorized()
                .with_details("origin not allowed")
                .into_response()
        }
        Err(e) => return e.into_response(),
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    out.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    if let Ok(value) = HeaderValue::from_str(&origin) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        out.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Adds `Access-Control-Allow-Origin` to the answers of requests that
/// passed the key's origin check: every answer but a 401 (a wrong key or
/// a refused origin) and the preflights, which set their own.
async fn allow_origin(request: Request, next: Next) -> Response {
    let origin = origin(request.headers());
    let is_preflight = request.method() == axum::http::Method::OPTIONS;
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        if !is_preflight && response.status() != StatusCode::UNAUTHORIZED {
            if let Ok(value) = HeaderValue::from_str(&origin) {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
    }
    response
}

async fn other() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "Resource not found")
        .with_details("no such endpoint")
        .into_response()
}

/// Items of the query: `item[0][product_id]=...` arrives as a list or as a
/// map keyed by index.
fn items(value: Option<Json_>) -> Json_ {
    match value {
        Some(Json_::Array(items)) => Json_::Array(items),
        Some(Json_::Object(map)) => {
            let mut indexed: Vec<(usize, Json_)> = map
                .into_iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                .collect();
            indexed.sort_by_key(|(i, _)| *i);
            Json_::Array(indexed.into_iter().map(|(_, v)| v).collect())
        }
        _ => Json_::Array(Vec::new()),
    }
}

/// The JS SDK's `client.validate` query (`code`, `amount`, `item[i][...]`,
/// `metadata[...]`, `order[metadata][...]`, `customer[...]`,
/// `tracking_id`, `session_*`) as a validation body.
fn validate_body(query: Json_) -> Result<(String, CheckoutBody), ApiError> {
    let Json_::Object(mut query) = query else {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            "expected query parameters",
        ));
    };
    let code = match query.remove("code") {
        Some(Json_::String(code)) if !code.trim().is_empty() => code.trim().to_owned(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query_params",
                "code is required",
            ))
        }
    };
    let mut order = match query.remove("order") {
        Some(Json_::Object(order)) => order,
        _ => Map::new(),
    };
    if let Some(amount) = query.remove("amount") {
        order.insert("amount".into(), amount);
    }
    let items = items(query.remove("item").or_else(|| order.remove("items")));
    order.insert("items".into(), items);
    let body = json!({
        "order": order,
        "customer": query.remove("customer"),
        "metadata": query.remove("metadata"),
        "tracking_id": query.remove("tracking_id"),
    });
    let body = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_query_params", e.to_string()))?;
    Ok((code, body))
}

async fn validate(
    State(state): State<AppState>,
    key: ClientKey,
    WireQuery(query): WireQuery<Json_>,
) -> Result<Checked, ApiError> {
    let (code, body) = validate_body(query)?;
    validations::legacy(&state, &key.record, code, body, ChannelType::ClientApi).await
}

async fn validations(
    State(state): State<AppState>,
    key: ClientKey,
    JsonBody(body): JsonBody<CheckoutBody>,
) -> Result<Checked, ApiError> {
    validations::stacked(&state, &key.record, body, ChannelType::ClientApi).await
}

/// `?code=` of `POST /client/v1/redeem`.
#[derive(Debug, Default, Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn redeem(
    State(state): State<AppState>,
    key: ClientKey,
    Query(query): Query<CodeQuery>,
    JsonBody(body): JsonBody<CheckoutBody>,
) -> Result<Checked, ApiError> {
    key.require(ClientPermission::Redeem)?;
    let Some(code) = query
        .code
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
    else {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            "code is required",
        ));
    };
    redemptions::legacy(&state, &key.record, code, body, ChannelType::ClientApi).await
}

async fn redemptions(
    State(state): State<AppState>,
    key: ClientKey,
    JsonBody(body): JsonBody<CheckoutBody>,
) -> Result<Checked, ApiError> {
    key.require(ClientPermission::Redeem)?;
    redemptions::stacked(&state, &key.record, body, ChannelType::ClientApi).await
}

async fn qualifications(
    State(state): State<AppState>,
    key: ClientKey,
    JsonBody(body): JsonBody<qualifications::QualificationBody>,
) -> Result<Json<Json_>, ApiError> {
    qualifications::qualify(&state, key.project, body)
        .await
        .map(Json)
}

/// `?campaign=&join_once=` of `POST /client/v1/publish`.
#[derive(Debug, Default, Deserialize)]
struct PublishQuery {
    campaign: Option<String>,
    join_once: Option<String>,
}

/// The body of `POST /client/v1/publish`.
#[derive(Debug, Default, Deserialize)]
struct PublishBody {
    customer: Option<CustomerBody>,
    voucher: Option<String>,
    source_id: Option<String>,
    metadata: Option<Json_>,
}

async fn publish(
    State(state): State<AppState>,
    key: ClientKey,
    WireQuery(query): WireQuery<PublishQuery>,
    JsonBody(body): JsonBody<PublishBody>,
) -> Result<Json<Json_>, ApiError> {
    key.require(ClientPermission::Publish)?;
    let target = match (body.voucher.clone(), query.campaign.clone()) {
        (Some(code), _) => PublicationTarget::Voucher(code),
        (None, Some(campaign)) if !campaign.trim().is_empty() => PublicationTarget::Campaign {
            campaign: campaign.trim().to_owned(),
            count: 1,
        },
        _ => {
            return Err(ApiError::bad_request(
                "missing_vouchers",
                "give a campaign (?campaign=) or a voucher",
            ))
        }
    };
    let customer = body.customer.unwrap_or_default();
    if customer.id.is_none() && customer.source_id.is_none() {
        return Err(ApiError::bad_request(
            "missing_customer",
            "the customer needs an id or a source_id",
        ));
    }
    let spec = PublicationSpec {
        target,
        customer: customer.to_spec()?,
        // Publications made through the API have the channel `API`.
        channel: "API".to_owned(),
        source_id: body.source_id,
        metadata: wire::metadata(body.metadata)?,
        join_once: match query.join_once.as_deref() {
            Some("true") => JoinOnce::Yes,
            _ => JoinOnce::No,
        },
    };
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let now = state.now();
    let by_code = matches!(spec.target, PublicationTarget::Voucher(_));
    let record = state
        .store(move |store| store.publish(project, &spec, now))
        .await
        .map_err(|e| {
            // A code to publish that does not exist is a guess too.
            if by_code && e.resource_type.as_deref() == Some("voucher") {
                e.with_code_outcome(CodeOutcome::Unknown(1))
            } else {
                e
            }
        })?;
    Ok(Json(publication_json(&record, currency, &assets)))
}

/// A publication as the wire shows it (`object:"publication"`, `channel`
/// `API`, `result` `SUCCESS`, the first voucher and all their codes).
fn publication_json(p: &PublicationRecord, currency: Currency, assets: &AssetLinks) -> Json_ {
    let mut v = json!({
        "id": p.id,
        "object": "publication",
        "created_at": wire::timestamp(p.created_at),
        "customer_id": p.customer.0,
        "tracking_id": p.customer.1,
        "metadata": wire::metadata_json(&p.metadata),
        "channel": "API",
        "source_id": p.source_id,
        "result": "SUCCESS",
        "customer": {"id": p.customer.0, "source_id": p.customer.1, "object": "customer"},
        "vouchers_id": p.vouchers.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
    });
    if let Some(first) = p.vouchers.first() {
        v["voucher"] = voucher_json(first, currency, assets);
    }
    v
}
