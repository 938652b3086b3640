//! Redemption: using codes on an order, exactly once, and undoing it. The
//! legacy `POST /v1/vouchers/{code}/redemption` (one code; a refusal is a
//! 400 with the error body, the failed attempt recorded by the store with
//! its `failure_code`), the stackable `POST /v1/redemptions` (a parent and
//! one child per code), rollbacks (`/rollback` and the stacked
//! `/rollbacks`), and the reads: one redemption (or rollback), the list
//! with its filters and a code's entries (rollbacks among them).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json_};
use voucher_core::decision::Reason;
use voucher_core::money::Currency;
use voucher_core::port::{
    ChannelType, CheckoutRequest, ListQuery, ProjectRecord, RedemptionKind, RedemptionQuery,
    RedemptionRecord, RedemptionResult, RedemptionState, RollbackRecord, RollbackRequest,
};

use crate::asset_token::{self, AssetLinks};
use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::lockout::{Checked, CodeOutcome};
use crate::render::{encode_segment, project_currency, quantity_json, voucher_json};
use crate::routes::checkout::{self, order_snapshot_json, CheckoutBody};
use crate::routes::customers::CustomerBody;
use crate::routes::list_params::{self, filter_value, ListParams};
use crate::routes::validations::code_not_found;
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route(
            "/v1/vouchers/{code}/redemption",
            post(redeem_voucher).get(voucher_entries),
        )
        .route("/v1/redemptions", post(redeem_stack).get(list))
        .route("/v1/redemptions/", post(redeem_stack).get(list))
        .route("/v1/redemptions/{id}", axum::routing::get(get_one))
        .route("/v1/redemptions/{id}/rollback", post(rollback_one))
        .route("/v1/redemptions/{id}/rollbacks", post(rollback_stack))
}

/// `?tracking_id=` of the legacy redeem.
#[derive(Debug, Default, Deserialize)]
struct TrackingQuery {
    tracking_id: Option<String>,
}

async fn redeem_voucher(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
    WireQuery(query): WireQuery<TrackingQuery>,
    JsonBody(mut body): JsonBody<CheckoutBody>,
) -> Result<Checked, ApiError> {
    if body.tracking_id.is_none() {
        body.tracking_id = query.tracking_id;
    }
    legacy(&state, &key.record, code, body, ChannelType::Api).await
}

async fn redeem_stack(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<CheckoutBody>,
) -> Result<Checked, ApiError> {
    stacked(&state, &key.record, body, ChannelType::Api).await
}

/// Decodes a redemption into the core's checkout request, as the endpoints
/// do before they ask the store: `code` is the path's code of the legacy
/// `POST /v1/vouchers/{code}/redemption`, whose `query` string (without
/// the `?`) gives the `tracking_id` when the body has none; `None` for the
/// stacked `POST /v1/redemptions`, which reads no query. `currency` is the
/// project's. Pure (no store, `now` given); an error is the 4xx the
/// endpoint would answer. For the fuzz target
/// `fuzz/fuzz_targets/redeem_request.rs` and tests.
pub fn decode_redemption(
    body: &[u8],
    code: Option<&str>,
    query: &str,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<CheckoutRequest, ApiError> {
    // The query first, as the handler's extractors run.
    let tracking_id = match code {
        Some(_) => wire::parse_query::<TrackingQuery>(query)?.tracking_id,
        None => None,
    };
    let mut body: CheckoutBody = wire::parse_json(body)?;
    body.tracking_id = body.tracking_id.or(tracking_id);
    checkout::checkout_request(&body, code, currency, ChannelType::Api, now)
}

/// The legacy redemption of one code, shared with `POST /client/v1/redeem`.
pub(crate) async fn legacy(
    state: &AppState,
    project_record: &ProjectRecord,
    code: String,
    body: CheckoutBody,
    channel: ChannelType,
) -> Result<Checked, ApiError> {
    let project = project_record.id;
    let assets = asset_token::links(state, project).await?;
    let request = checkout::prepare(state, project_record, &body, Some(&code), channel)?;
    let record = state.redeem(project, request).await.map_err(|e| {
        // An unknown code is recorded (`resource_not_found`) and
        // answered as the reference's 404.
        if e.key == "resource_not_found" {
            code_not_found(&code)
        } else {
            e
        }
    })?;
    Ok(Checked::new(
        redemption_json(&record, project_record.spec.currency, &assets),
        CodeOutcome::Succeeded,
    ))
}

/// The stacked redemption, shared with `POST /client/v1/redemptions`.
pub(crate) async fn stacked(
    state: &AppState,
    record: &ProjectRecord,
    body: CheckoutBody,
    channel: ChannelType,
) -> Result<Checked, ApiError> {
    let request = checkout::prepare(state, record, &body, None, channel)?;
    let project = record.id;
    let currency = record.spec.currency;
    let assets = asset_token::links(state, project).await?;
    // A refusal names one code; when it is an unknown one, the lockout
    // counts every code of the request (the others' fate is not told).
    let codes = u32::try_from(request.redeemables.len()).unwrap_or(u32::MAX);
    let parent = state.redeem(project, request).await.map_err(|e| {
        if e.key == "resource_not_found" {
            e.with_code_outcome(CodeOutcome::Unknown(codes))
        } else {
            e
        }
    })?;
    let unknown = parent
        .children
        .iter()
        .filter(|c| {
            c.failure
                .as_ref()
                .is_some_and(|f| f.reason == Reason::ResourceNotFound)
        })
        .count();
    let outcome = match u32::try_from(unknown).unwrap_or(u32::MAX) {
        0 => CodeOutcome::Succeeded,
        n => CodeOutcome::Unknown(n),
    };
    Ok(Checked::new(
        stacked_json(&parent, currency, &assets),
        outcome,
    ))
}

fn stacked_json(parent: &RedemptionRecord, currency: Currency, assets: &AssetLinks) -> Json_ {
    let (succeeded, failed): (Vec<_>, Vec<_>) = parent
        .children
        .iter()
        .partition(|c| c.result == RedemptionResult::Success);
    let inapplicable: Vec<Json_> = failed
        .iter()
        .map(|child| {
            let code = child.code.clone().unwrap_or_default();
            let error = match &child.failure {
                Some(refusal) => ApiError::refused(refusal, Some(&child.id)).body(),
                None => json!(null),
            };
            json!({
                "status": "INAPPLICABLE", "id": code, "object": "voucher",
                "result": {"error": error},
            })
        })
        .collect();
    let children: Vec<Json_> = succeeded
        .iter()
        .map(|c| redemption_json(c, currency, assets))
        .collect();
    let mut order = order_snapshot_json(&parent.order, currency);
    order["redemptions"] = json!({
        parent.id.clone(): {
            "date": wire::timestamp(parent.created_at),
            "related_object_type": "redemption",
            "related_object_id": parent.id,
            "stacked": succeeded.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        }
    });
    json!({
        "redemptions": children,
        "parent_redemption": redemption_json(parent, currency, assets),
        "order": order,
        "inapplicable_redeemables": inapplicable,
        "skipped_redeemables": [],
    })
}

fn channel_json(channel: ChannelType) -> Json_ {
    let kind = match channel {
        ChannelType::User => "USER",
        ChannelType::Api | ChannelType::ClientApi => "API",
    };
    json!({"channel_type": kind})
}

fn customer_json(customer: Option<&(String, Option<String>)>) -> Json_ {
    match customer {
        Some((id, source_id)) => json!({"id": id, "source_id": source_id, "object": "customer"}),
        None => Json_::Null,
    }
}

/// A redemption (or a rollback read back as one: the wire's
/// `redemption_rollback`).
pub(crate) fn redemption_json(
    r: &RedemptionRecord,
    currency: Currency,
    assets: &AssetLinks,
) -> Json_ {
    if let RedemptionKind::Rollback { reason } = &r.kind {
        return rollback_read_json(r, reason.as_deref(), currency, assets);
    }
    let is_parent = r.parent_id.is_none() && r.voucher_id.is_none() && r.code.is_none();
    let status = match r.state {
        RedemptionState::Succeeded => "SUCCEEDED",
        RedemptionState::Failed => "FAILED",
        RedemptionState::RolledBack => "ROLLED_BACK",
    };
    let mut v = Map::new();
    v.insert("id".into(), json!(r.id));
    v.insert("object".into(), json!("redemption"));
    v.insert("date".into(), json!(wire::timestamp(r.created_at)));
    v.insert(
        "customer_id".into(),
        json!(r.customer.as_ref().map(|c| &c.0)),
    );
    v.insert("tracking_id".into(), json!(r.tracking_id));
    v.insert("metadata".into(), wire::metadata_json(&r.metadata));
    v.insert(
        "amount".into(),
        json!(wire::to_wire(r.amount_minor, currency)),
    );
    if let Some(parent) = &r.parent_id {
        v.insert("redemption".into(), json!(parent));
    }
    v.insert(
        "result".into(),
        json!(match r.result {
            RedemptionResult::Success => "SUCCESS",
            RedemptionResult::Failure => "FAILURE",
        }),
    );
    v.insert("status".into(), json!(status));
    if let Some(refusal) = &r.failure {
        v.insert("failure_code".into(), json!(refusal.reason.key()));
        v.insert(
            "failure_message".into(),
            json!(refusal
                .rule_message
                .as_deref()
                .unwrap_or(refusal.reason.message())),
        );
    }
    v.insert("order".into(), order_snapshot_json(&r.order, currency));
    v.insert("channel".into(), channel_json(r.channel));
    v.insert("customer".into(), customer_json(r.customer.as_ref()));
    if is_parent {
        v.insert("related_object_type".into(), json!("redemption"));
        v.insert("related_object_id".into(), json!(r.id));
        v.insert(
            "related_redemptions".into(),
            json!({"redemptions": [], "rollbacks": []}),
        );
    } else {
        v.insert("related_object_type".into(), json!("voucher"));
        if let Some(id) = &r.voucher_id {
            v.insert("related_object_id".into(), json!(id));
        }
    }
    if let Some(voucher) = &r.voucher_after {
        v.insert("voucher".into(), voucher_json(voucher, currency, assets));
        if checkout::gift_json(voucher, currency).is_some() {
            v.insert(
                "gift".into(),
                json!({"amount": wire::to_wire(r.amount_minor, currency)}),
            );
        }
    }
    if let Some(rollback) = &r.rollback_id {
        v.insert("rollback_id".into(), json!(rollback));
    }
    Json_::Object(v)
}

/// The fields every rollback answer shares.
struct RollbackView<'a> {
    id: &'a str,
    redemption_id: &'a str,
    reason: Option<&'a str>,
    tracking_id: Option<&'a str>,
    metadata: Json_,
    amount_minor: i64,
    customer: Option<&'a (String, Option<String>)>,
    order: &'a voucher_core::port::OrderSnapshot,
    channel: ChannelType,
    voucher: Option<&'a voucher_core::port::VoucherRecord>,
    parent: bool,
    created_at: DateTime<Utc>,
}

fn rollback_view_json(r: &RollbackView<'_>, currency: Currency, assets: &AssetLinks) -> Json_ {
    let credits = wire::to_wire(r.amount_minor, currency).saturating_neg();
    let mut v = json!({
        "id": r.id,
        "object": "redemption_rollback",
        "date": wire::timestamp(r.created_at),
        "customer_id": r.customer.map(|c| &c.0),
        "tracking_id": r.tracking_id,
        "metadata": r.metadata,
        "amount": credits,
        "redemption": r.redemption_id,
        "reason": r.reason,
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "order": order_snapshot_json(r.order, currency),
        "channel": channel_json(r.channel),
        "customer": customer_json(r.customer),
        "related_object_type": if r.parent { "redemption" } else { "voucher" },
    });
    if r.parent {
        v["related_object_id"] = json!(r.id);
    } else if let Some(voucher) = r.voucher {
        v["related_object_id"] = json!(voucher.id);
    }
    if let Some(voucher) = r.voucher {
        v["voucher"] = voucher_json(voucher, currency, assets);
        if checkout::gift_json(voucher, currency).is_some() {
            v["gift"] = json!({"amount": credits});
        }
    }
    v
}

/// A rollback read back through `GET /v1/redemptions/rr_...` or listed.
fn rollback_read_json(
    r: &RedemptionRecord,
    reason: Option<&str>,
    currency: Currency,
    assets: &AssetLinks,
) -> Json_ {
    rollback_view_json(
        &RollbackView {
            id: &r.id,
            redemption_id: r.parent_id.as_deref().unwrap_or_default(),
            reason,
            tracking_id: r.tracking_id.as_deref(),
            metadata: wire::metadata_json(&r.metadata),
            amount_minor: r.amount_minor,
            customer: r.customer.as_ref(),
            order: &r.order,
            channel: r.channel,
            voucher: r.voucher_after.as_ref(),
            parent: !r.children.is_empty(),
            created_at: r.created_at,
        },
        currency,
        assets,
    )
}

fn rollback_json(
    r: &RollbackRecord,
    request: &RollbackRequest,
    currency: Currency,
    assets: &AssetLinks,
) -> Json_ {
    rollback_record_json(
        r,
        request.tracking_id.as_deref(),
        wire::metadata_json(&request.metadata),
        currency,
        assets,
    )
}

/// A rollback as a webhook event carries it (the request's tracking id and
/// metadata are not stored with it).
pub(crate) fn rollback_event_json(
    r: &RollbackRecord,
    currency: Currency,
    assets: &AssetLinks,
) -> Json_ {
    rollback_record_json(r, None, json!({}), currency, assets)
}

/// A rollback just made, with the tracking id and metadata of its request.
fn rollback_record_json(
    r: &RollbackRecord,
    tracking_id: Option<&str>,
    metadata: Json_,
    currency: Currency,
    assets: &AssetLinks,
) -> Json_ {
    rollback_view_json(
        &RollbackView {
            id: &r.id,
            redemption_id: &r.redemption_id,
            reason: r.reason.as_deref(),
            tracking_id,
            metadata,
            amount_minor: r.amount_minor,
            customer: r.customer.as_ref(),
            order: &r.order,
            channel: r.channel,
            voucher: r.voucher_after.as_ref(),
            parent: !r.children.is_empty(),
            created_at: r.created_at,
        },
        currency,
        assets,
    )
}

/// `?reason=&tracking_id=` of a rollback (the JS and Python SDKs send them
/// in the query).
#[derive(Debug, Default, Deserialize)]
struct RollbackQuery {
    reason: Option<String>,
    tracking_id: Option<String>,
}

/// A rollback's body (`{reason?, tracking_id?, customer?, metadata?}`).
#[derive(Debug, Default, Deserialize)]
struct RollbackBody {
    reason: Option<String>,
    tracking_id: Option<String>,
    #[allow(dead_code)]
    customer: Option<CustomerBody>,
    metadata: Option<Json_>,
}

fn rollback_request(
    id: String,
    query: RollbackQuery,
    body: RollbackBody,
    now: DateTime<Utc>,
) -> Result<RollbackRequest, ApiError> {
    Ok(RollbackRequest {
        redemption_id: id,
        reason: query.reason.or(body.reason),
        tracking_id: query.tracking_id.or(body.tracking_id),
        metadata: wire::metadata(body.metadata)?,
        channel: ChannelType::Api,
        now,
    })
}

async fn rollback_one(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(query): WireQuery<RollbackQuery>,
    JsonBody(body): JsonBody<RollbackBody>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let request = rollback_request(id, query, body, state.now())?;
    let sent = request.clone();
    let rollback = state
        .store(move |store| store.rollback(project, &sent))
        .await?;
    Ok(Json(rollback_json(&rollback, &request, currency, &assets)))
}

async fn rollback_stack(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(query): WireQuery<RollbackQuery>,
    JsonBody(body): JsonBody<RollbackBody>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let lookup = id.clone();
    let redemption = state
        .store(move |store| store.redemption(project, &lookup))
        .await?;
    if redemption.children.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_redemption_parent",
            format!("{id} is not the parent of a stacked redemption"),
        ));
    }
    let request = rollback_request(id, query, body, state.now())?;
    let sent = request.clone();
    let parent = state
        .store(move |store| store.rollback(project, &sent))
        .await?;
    let children: Vec<Json_> = parent
        .children
        .iter()
        .map(|c| rollback_json(c, &request, currency, &assets))
        .collect();
    let mut order = order_snapshot_json(&parent.order, currency);
    order["status"] = json!("CANCELED");
    Ok(Json(json!({
        "rollbacks": children,
        "parent_rollback": rollback_json(&parent, &request, currency, &assets),
        "order": order,
    })))
}

async fn get_one(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let record = state
        .store(move |store| store.redemption(project, &id))
        .await?;
    Ok(Json(redemption_json(&record, currency, &assets)))
}

/// The redemption list's query: the shared paging, dates and cursors, the
/// shortcuts (`campaign`, `customer`, `result`, `voucher_code`,
/// `failure_code`), `order` (a sort or an order's id), and the advanced
/// `filters[<field>][conditions][$is|$in]`.
#[derive(Debug, Default, Deserialize)]
struct RedemptionListParams {
    #[serde(flatten)]
    list: ListParams,
    result: Option<String>,
    campaign: Option<String>,
    customer: Option<String>,
    voucher_code: Option<String>,
    failure_code: Option<String>,
    /// Read here rather than by [`ListParams`]: it is also an order filter.
    order: Option<String>,
    filters: Option<Json_>,
}

/// The sort keys of the Python SDK's redemption list (`-` for descending).
const SORT_KEYS: [&str; 5] = [
    "created_at",
    "id",
    "voucher_code",
    "tracking_id",
    "customer_id",
];

fn result_of(text: &str) -> Result<RedemptionResult, ApiError> {
    match text {
        "SUCCESS" => Ok(RedemptionResult::Success),
        "FAILURE" => Ok(RedemptionResult::Failure),
        other => Err(list_params::invalid_param(
            "result",
            format!("{other:?} is not SUCCESS or FAILURE"),
        )),
    }
}

impl RedemptionListParams {
    fn to_query(&self) -> Result<RedemptionQuery, ApiError> {
        let filters = self.filters.as_ref().and_then(Json_::as_object);
        let filter = |field: &str| filters.and_then(|f| filter_value(f, field));
        let mut list = self.list.to_query()?;
        // `order` is a sort of the Python SDK's enum, or else an order's id
        // or source id. The store sorts by creation only: the other sorts
        // are refused by `sort_order` rather than ignored.
        let mut order = None;
        match list_params::given(self.order.as_deref()) {
            None => {}
            Some(sort) if SORT_KEYS.contains(&sort.trim_start_matches('-')) => {
                list.order = list_params::sort_order(Some(sort))?;
            }
            Some(other) => order = Some(other.to_owned()),
        }
        let result = list_params::given(self.result.as_deref())
            .map(str::to_owned)
            .or_else(|| filter("result"))
            .map(|r| result_of(&r))
            .transpose()?;
        Ok(RedemptionQuery {
            list,
            campaign: self.campaign.clone().or_else(|| filter("campaign_name")),
            customer: self.customer.clone().or_else(|| filter("customer_id")),
            result,
            failure_code: self.failure_code.clone().or_else(|| filter("failure_code")),
            code: self.voucher_code.clone().or_else(|| filter("voucher_code")),
            order,
        })
    }
}

async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<RedemptionListParams>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let query = params.to_query()?;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let page = state
        .store(move |store| store.redemptions(project, &query))
        .await?;
    let items = page
        .items
        .iter()
        .map(|r| redemption_json(r, currency, &assets))
        .collect();
    let mut body = wire::old_list("redemptions", items, page.total);
    body["has_more"] = json!(page.has_more);
    if let Some(next) = page.next_cursor {
        body["more_starting_after"] = json!(next);
    }
    Ok(Json(body))
}

/// Most entries `GET /v1/vouchers/{code}/redemption` lists.
const VOUCHER_ENTRIES_MAX: usize = 1000;
/// Entries read per store call while listing them.
const VOUCHER_ENTRIES_PAGE: u32 = 100;

async fn voucher_entries(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let voucher = state
        .store(move |store| store.voucher(project, &code))
        .await?;
    let code = voucher.code.as_str().to_owned();
    let mut entries: Vec<Json_> = Vec::new();
    let mut total = 0;
    let mut cursor: Option<String> = None;
    // Newest first, a bounded number of pages.
    for _ in 0..VOUCHER_ENTRIES_MAX.div_ceil(VOUCHER_ENTRIES_PAGE as usize) {
        let query = RedemptionQuery {
            list: ListQuery {
                limit: VOUCHER_ENTRIES_PAGE,
                starting_after: cursor.clone(),
                ..ListQuery::default()
            },
            code: Some(code.clone()),
            ..RedemptionQuery::default()
        };
        let page = state
            .store(move |store| store.redemptions(project, &query))
            .await?;
        if cursor.is_none() {
            total = page.total;
        }
        entries.extend(
            page.items
                .iter()
                .take(VOUCHER_ENTRIES_MAX - entries.len())
                .map(|r| redemption_json(r, currency, &assets)),
        );
        match page.next_cursor {
            Some(next) if page.has_more && entries.len() < VOUCHER_ENTRIES_MAX => {
                cursor = Some(next);
            }
            _ => break,
        }
    }
    Ok(Json(json!({
        "quantity": quantity_json(voucher.quantity),
        "redeemed_quantity": voucher.redeemed_quantity,
        "object": "list",
        "url": format!("/v1/vouchers/{}/redemption?page=1&limit=10", encode_segment(&code)),
        "data_ref": "redemption_entries",
        "total": total,
        "redemption_entries": entries,
    })))
}
