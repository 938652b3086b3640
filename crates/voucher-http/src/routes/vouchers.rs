//! Vouchers: create (with a given or a generated code), get, update (only
//! the fields given; server-managed ones ignored), delete, list with
//! filters, enable, disable, gift balance and its transactions, and the
//! JSON and CSV imports as async actions.
//!
//! The request shape of a voucher ([`VoucherBody`]) and the imports
//! ([`import_json_action`], [`import_csv_action`]) are shared with the
//! campaigns' add-voucher and import endpoints.

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use voucher_core::code_pattern::{Code, CodeConfig};
use voucher_core::ledger::EntryKind;
use voucher_core::limits::REDEMPTION_QUANTITY_MAX;
use voucher_core::money::Currency;
use voucher_core::port::{
    BalanceChange, BenefitSpec, ImportFailure, ImportReport, LedgerRecord, ProjectId, VoucherPatch,
    VoucherQuery, VoucherRecord, VoucherSpec,
};
use voucher_core::voucher::{Activity, RedemptionQuantity};

use crate::asset_token;
use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::render::{
    apply_validity, json_integer, parse_discount, parse_gift, parse_validity, project_currency,
    voucher_json, ValidityWire,
};
use crate::routes::async_actions::{accepted, spawn_action};
use crate::routes::list_params::{filter_active, filter_value, Filters, IdList, ListParams};
use crate::routes::Routes;
use crate::state::{AppState, Store};
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/vouchers", post(create_generated).get(list))
        .route("/v1/vouchers/", post(create_generated).get(list))
        // A code spelled `import` or `importCSV` is still read, changed and
        // deleted at its path (creating one takes `POST /v1/vouchers`).
        .route(
            "/v1/vouchers/import",
            post(import_json)
                .get(|s: State<AppState>, k: ServerKey| get_voucher(s, k, literal("import")))
                .put(
                    |s: State<AppState>, k: ServerKey, b: JsonBody<VoucherBody>| {
                        update(s, k, literal("import"), b)
                    },
                )
                .delete(|s: State<AppState>, k: ServerKey| delete(s, k, literal("import"))),
        )
        .route(
            "/v1/vouchers/importCSV",
            post(import_csv)
                .get(|s: State<AppState>, k: ServerKey| get_voucher(s, k, literal("importCSV")))
                .put(
                    |s: State<AppState>, k: ServerKey, b: JsonBody<VoucherBody>| {
                        update(s, k, literal("importCSV"), b)
                    },
                )
                .delete(|s: State<AppState>, k: ServerKey| delete(s, k, literal("importCSV"))),
        )
        .route(
            "/v1/vouchers/{code}",
            post(create_with_code)
                .get(get_voucher)
                .put(update)
                .delete(delete),
        )
        .route("/v1/vouchers/{code}/enable", post(enable))
        .route("/v1/vouchers/{code}/disable", post(disable))
        .route("/v1/vouchers/{code}/balance", post(balance))
        .route("/v1/vouchers/{code}/transactions", get(transactions))
}

fn literal(code: &str) -> Path<String> {
    Path(code.to_owned())
}

// ---------------------------------------------------------------------------
// The voucher request

/// `redemption` of a voucher request: only `quantity` is read (an integer,
/// or a string of one; `null` is absent).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RedemptionWire {
    /// How often the code may be used.
    pub quantity: Option<JsonValue>,
}

/// A voucher as requests send it (create, update, import, add to a
/// campaign). Server-managed fields (`id`, `redemption.redeemed_quantity`,
/// `gift.balance`, `publish`, `created_at`, ...) are not read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VoucherBody {
    pub code: Option<String>,
    pub campaign: Option<String>,
    pub campaign_id: Option<String>,
    pub category: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub discount: Option<JsonValue>,
    pub gift: Option<JsonValue>,
    pub loyalty_card: Option<JsonValue>,
    pub active: Option<bool>,
    pub additional_info: Option<String>,
    pub metadata: Option<JsonValue>,
    pub redemption: Option<RedemptionWire>,
    pub code_config: Option<CodeConfig>,
    /// Only read by the campaigns' add-vouchers endpoint.
    pub vouchers_count: Option<JsonValue>,
    #[serde(flatten)]
    pub validity: ValidityWire,
}

/// A code from the wire: 400 `invalid_payload` when it is not one.
pub(crate) fn parse_code(text: &str) -> Result<Code, ApiError> {
    Code::parse(text).map_err(|e| ApiError::invalid_payload(format!("code: {e}")))
}

/// A wire quantity (`redemption.quantity`, `vouchers_count`): an integer or
/// a string of one, within `max`.
pub(crate) fn parse_count(value: &JsonValue, name: &str, max: u64) -> Result<u64, ApiError> {
    let n = match value {
        JsonValue::String(s) => s.trim().parse::<i64>().ok(),
        other => json_integer(other),
    };
    n.and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            ApiError::invalid_payload(format!("{name} must be an integer from 0 to {max}"))
        })
}

/// The `redemption.quantity` of a request, if given.
pub(crate) fn parse_quantity(
    redemption: Option<&RedemptionWire>,
) -> Result<Option<RedemptionQuantity>, ApiError> {
    match redemption.and_then(|r| r.quantity.as_ref()) {
        None | Some(JsonValue::Null) => Ok(None),
        Some(value) => parse_count(value, "redemption.quantity", REDEMPTION_QUANTITY_MAX)
            .map(|n| Some(RedemptionQuantity::Limited(n))),
    }
}

/// What a request's `type`, `discount` and `gift` make of the voucher's
/// worth; `None` when it gives neither (a campaign's code takes the
/// campaign's).
pub(crate) fn parse_benefit(
    kind: Option<&str>,
    discount: Option<&JsonValue>,
    gift: Option<&JsonValue>,
    loyalty_card: Option<&JsonValue>,
    currency: Currency,
) -> Result<Option<BenefitSpec>, ApiError> {
    let discount = discount.filter(|d| !d.is_null());
    let gift = gift.filter(|g| !g.is_null());
    let as_discount = |d: &JsonValue| parse_discount(d, currency).map(BenefitSpec::Discount);
    let as_gift = |g: &JsonValue| {
        parse_gift(g, currency).map(|amount_minor| BenefitSpec::Gift { amount_minor })
    };
    match kind {
        Some("DISCOUNT_VOUCHER") => discount.map(as_discount).transpose(),
        Some("GIFT_VOUCHER") => gift.map(as_gift).transpose(),
        Some("LOYALTY_CARD") => Err(ApiError::invalid_payload("loyalty cards are not supported")),
        Some(other) => Err(ApiError::invalid_payload(format!(
            "type {other:?} is not one of DISCOUNT_VOUCHER, GIFT_VOUCHER"
        ))),
        None if loyalty_card.is_some_and(|l| !l.is_null()) => {
            Err(ApiError::invalid_payload("loyalty cards are not supported"))
        }
        None => match (discount, gift) {
            (Some(d), _) => as_discount(d).map(Some),
            (None, Some(g)) => as_gift(g).map(Some),
            (None, None) => Ok(None),
        },
    }
}

impl VoucherBody {
    /// The campaign named by `campaign_id` or `campaign`.
    pub(crate) fn campaign_ref(&self) -> Option<String> {
        self.campaign_id
            .clone()
            .or_else(|| self.campaign.clone())
            .filter(|c| !c.is_empty())
    }

    /// A new voucher's spec: `code` (the path's, else the body's, else
    /// generated from `code_config`), in `campaign` when given.
    pub(crate) fn spec(
        &self,
        code: Option<Code>,
        campaign: Option<String>,
        currency: Currency,
    ) -> Result<VoucherSpec, ApiError> {
        let code = match code {
            Some(code) => Some(code),
            None => self
                .code
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(parse_code)
                .transpose()?,
        };
        Ok(VoucherSpec {
            code,
            code_config: self.code_config.clone(),
            campaign,
            benefit: parse_benefit(
                self.kind.as_deref(),
                self.discount.as_ref(),
                self.gift.as_ref(),
                self.loyalty_card.as_ref(),
                currency,
            )?,
            quantity: parse_quantity(self.redemption.as_ref())?,
            validity: parse_validity(&self.validity)?,
            activity: Activity::from_active(self.active.unwrap_or(true)),
            category: self.category.clone(),
            additional_info: self.additional_info.clone(),
            metadata: wire::metadata(self.metadata.clone())?,
        })
    }

    /// True when the body gives anything a new code would take (beyond
    /// the campaign and the count).
    pub(crate) fn has_voucher_fields(&self) -> bool {
        self.code.is_some()
            || self.code_config.is_some()
            || self.category.is_some()
            || self.discount.is_some()
            || self.gift.is_some()
            || self.active.is_some()
            || self.additional_info.is_some()
            || self.metadata.is_some()
            || self
                .redemption
                .as_ref()
                .is_some_and(|r| r.quantity.is_some())
            || !self.validity.is_empty()
    }

    /// The change a PUT asks for, over the current voucher: only the fields
    /// given; the voucher's type and discount type never change (a
    /// discount for a gift voucher, or of another type, is
    /// `invalid_voucher`); a gift's amount changes through `/balance`.
    fn patch(&self, current: &VoucherRecord, currency: Currency) -> Result<VoucherPatch, ApiError> {
        // `type` is not read: the Python SDK sends `DISCOUNT_VOUCHER` in
        // every update, whatever the voucher (reference §5.7); a gift
        // voucher given a discount is refused below.
        let discount = match (&current.benefit, self.discount.as_ref()) {
            (_, None) => None,
            (BenefitSpec::Discount(_), Some(d)) => Some(parse_discount(d, currency)?),
            (BenefitSpec::Gift { .. }, Some(_)) => {
                return Err(ApiError::bad_request(
                    "invalid_voucher",
                    "a gift voucher has no discount",
                ))
            }
        };
        let validity = if self.validity.is_empty() {
            None
        } else {
            Some(apply_validity(&current.validity, &self.validity)?)
        };
        Ok(VoucherPatch {
            discount,
            quantity: parse_quantity(self.redemption.as_ref())?,
            validity,
            activity: self.active.map(Activity::from_active),
            category: self.category.clone().map(Some),
            additional_info: self.additional_info.clone().map(Some),
            metadata: self
                .metadata
                .clone()
                .map(|m| wire::metadata(Some(m)))
                .transpose()?,
        })
    }
}

// ---------------------------------------------------------------------------
// Handlers

async fn create(
    state: AppState,
    key: ServerKey,
    code: Option<Code>,
    body: VoucherBody,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let spec = body.spec(code, body.campaign_ref(), currency)?;
    let now = state.now();
    let voucher = state
        .store(move |store| store.create_voucher(project, &spec, now))
        .await?;
    Ok(Json(voucher_json(&voucher, currency, &assets)))
}

async fn create_generated(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<VoucherBody>,
) -> Result<Json<JsonValue>, ApiError> {
    create(state, key, None, body).await
}

async fn create_with_code(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<VoucherBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let code = parse_code(&code)?;
    create(state, key, Some(code), body).await
}

async fn get_voucher(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let voucher = state
        .store(move |store| store.voucher(project, &code))
        .await?;
    Ok(Json(voucher_json(&voucher, currency, &assets)))
}

async fn update(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<VoucherBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let lookup = code.clone();
    let current = state
        .store(move |store| store.voucher(project, &lookup))
        .await?;
    let patch = body.patch(&current, currency)?;
    let now = state.now();
    let id = current.id;
    let voucher = state
        .store(move |store| store.update_voucher(project, &id, &patch, now))
        .await?;
    Ok(Json(voucher_json(&voucher, currency, &assets)))
}

async fn delete(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    let project = key.project;
    let now = state.now();
    state
        .store(move |store| store.delete_voucher(project, &code, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_active(
    state: AppState,
    key: ServerKey,
    code: String,
    active: bool,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let now = state.now();
    let actor = key.key.app_id.clone();
    let voucher = state
        .store(move |store| store.set_voucher_active(project, &code, active, &actor, now))
        .await?;
    Ok(Json(voucher_json(&voucher, currency, &assets)))
}

async fn enable(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    set_active(state, key, code, true).await
}

async fn disable(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
) -> Result<Json<JsonValue>, ApiError> {
    set_active(state, key, code, false).await
}

#[derive(Debug, Deserialize)]
struct BalanceBody {
    amount: Option<JsonValue>,
    source_id: Option<String>,
    reason: Option<String>,
}

async fn balance(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<BalanceBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let amount = body
        .amount
        .as_ref()
        .filter(|a| !a.is_null())
        .ok_or_else(|| ApiError::bad_request("invalid_amount", "amount is required"))?;
    let amount = json_integer(amount)
        .ok_or_else(|| ApiError::bad_request("invalid_amount", "amount must be an integer"))?;
    let change = BalanceChange {
        amount_minor: wire::to_minor(amount, currency)?,
        reason: body.reason,
        source_id: body.source_id,
        actor: key.key.app_id.clone(),
    };
    let now = state.now();
    let record = state
        .store(move |store| store.adjust_balance(project, &code, &change, now))
        .await?;
    Ok(Json(json!({
        "amount": wire::to_wire(record.amount_minor, currency),
        "total": wire::to_wire(record.total_minor, currency),
        "balance": wire::to_wire(record.balance_minor, currency),
        "type": "gift_voucher",
        "operation_type": "MANUAL",
        "object": "balance",
        "related_object": {"type": "voucher", "id": record.voucher_id},
    })))
}

fn transaction_json(entry: &LedgerRecord, currency: Currency) -> JsonValue {
    let manual = matches!(entry.kind, EntryKind::Addition | EntryKind::Removal);
    json!({
        "id": entry.id,
        "source_id": entry.source_id,
        "voucher_id": entry.voucher_id,
        "campaign_id": entry.campaign_id,
        "source": if manual { Some("API") } else { None },
        "reason": entry.reason,
        "type": entry.kind.wire_type(),
        "details": {
            "balance": {
                "type": "gift_voucher",
                "amount": wire::to_wire(entry.amount_minor, currency),
                "balance": wire::to_wire(entry.balance_after_minor, currency),
                "operation_type": if manual { "MANUAL" } else { "AUTOMATIC" },
                "object": "balance",
                "related_object": {"id": entry.voucher_id, "type": "voucher"},
            },
        },
        "related_transaction_id": null,
        "related_id": entry.related_id,
        "created_at": wire::timestamp(entry.created_at),
    })
}

async fn transactions(
    State(state): State<AppState>,
    key: ServerKey,
    Path(code): Path<String>,
    WireQuery(params): WireQuery<ListParams>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let query = params.to_query()?;
    let page = state
        .store(move |store| store.transactions(project, &code, &query))
        .await?;
    let items = page
        .items
        .iter()
        .map(|e| transaction_json(e, currency))
        .collect();
    Ok(Json(wire::new_list(
        items,
        page.total,
        page.has_more,
        page.next_cursor,
    )))
}

/// The query of the voucher list.
#[derive(Debug, Default, Deserialize)]
struct VoucherListParams {
    #[serde(flatten)]
    list: ListParams,
    campaign: Option<String>,
    campaign_id: Option<String>,
    category: Option<String>,
    customer: Option<String>,
    code: Option<String>,
    ids: Option<IdList>,
    filters: Option<Filters>,
}

async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<VoucherListParams>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let currency = project_currency(&state, project).await?;
    let assets = asset_token::links(&state, project).await?;
    let filters = params.filters.unwrap_or_default();
    let mut ids = params.ids.map(IdList::into_vec).unwrap_or_default();
    if let Some(code) = params.code.filter(|c| !c.is_empty()) {
        ids.push(code);
    }
    let query = VoucherQuery {
        list: params.list.to_query()?,
        campaign: params
            .campaign_id
            .or(params.campaign)
            .or_else(|| filter_value(&filters, "campaign_id"))
            .filter(|c| !c.is_empty()),
        customer: params.customer.filter(|c| !c.is_empty()),
        category: params
            .category
            .or_else(|| filter_value(&filters, "category"))
            .filter(|c| !c.is_empty()),
        active: filter_active(&filters),
        expired: None,
        now: Some(state.now()),
        code_prefix: None,
        ids,
    };
    let page = state
        .store(move |store| store.vouchers(project, &query))
        .await?;
    let items = page
        .items
        .iter()
        .map(|v| voucher_json(v, currency, &assets))
        .collect();
    Ok(Json(wire::old_list("vouchers", items, page.total)))
}

// ---------------------------------------------------------------------------
// Imports

/// Specs of the vouchers of a JSON import; those that do not parse are
/// refused rows (1-based: the array's first item is row 1).
fn import_specs(
    items: Vec<VoucherBody>,
    campaign: Option<&str>,
    currency: Currency,
) -> (Vec<(u64, VoucherSpec)>, Vec<ImportFailure>) {
    let mut specs = Vec::new();
    let mut failed = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let row = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let code = item.code.clone();
        let spec = match code.as_deref().filter(|c| !c.is_empty()) {
            None => Err(ApiError::invalid_payload("code is required")),
            Some(_) => item.spec(None, campaign.map(str::to_owned), currency),
        };
        match spec {
            Ok(spec) => specs.push((row, spec)),
            Err(e) => failed.push(ImportFailure {
                row,
                code,
                reason: e.details.clone().unwrap_or_else(|| e.key.clone()),
            }),
        }
    }
    (specs, failed)
}

/// Creates the parsed vouchers one by one; each refusal is a failed row.
pub(crate) fn run_import(
    store: &dyn Store,
    project: ProjectId,
    specs: Vec<(u64, VoucherSpec)>,
    mut failed: Vec<ImportFailure>,
    now: chrono::DateTime<chrono::Utc>,
) -> ImportReport {
    let mut done_count = 0;
    for (row, spec) in specs {
        match store.create_voucher(project, &spec, now) {
            Ok(_) => done_count += 1,
            Err(e) => {
                let error = ApiError::from(e);
                failed.push(ImportFailure {
                    row,
                    code: spec.code.map(Code::into_string),
                    reason: error.details.clone().unwrap_or_else(|| error.key.clone()),
                });
            }
        }
    }
    failed.sort_by_key(|f| f.row);
    let failed_count = u64::try_from(failed.len()).unwrap_or(u64::MAX);
    ImportReport {
        done_count,
        failed,
        failed_count,
    }
}

/// A JSON import's body: an array of vouchers (400 otherwise).
fn import_items(body: JsonValue) -> Result<Vec<VoucherBody>, ApiError> {
    if !body.is_array() {
        return Err(ApiError::invalid_payload(
            "the body must be an array of vouchers",
        ));
    }
    serde_json::from_value(body).map_err(|e| ApiError::invalid_payload(e.to_string()))
}

/// Starts the async action `action_type` that imports a JSON body's
/// vouchers into `campaign` (or none): 202 with the action's id.
pub(crate) async fn import_json_action(
    state: &AppState,
    project: ProjectId,
    campaign: Option<String>,
    action_type: &'static str,
    body: JsonValue,
) -> Result<Response, ApiError> {
    let currency = project_currency(state, project).await?;
    let items = import_items(body)?;
    let (specs, failed) = import_specs(items, campaign.as_deref(), currency);
    let now = state.now();
    let id = spawn_action(state, project, action_type, move |store| {
        Ok(run_import(store, project, specs, failed, now))
    })
    .await?;
    Ok(accepted(&id))
}

async fn import_json(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<JsonValue>,
) -> Result<Response, ApiError> {
    import_json_action(&state, key.project, None, "VOUCHERS.IMPORT", body).await
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The uploaded CSV of an importCSV request: the `file` part (else the
/// first part with a file name) of a `multipart/form-data` body, as the
/// SDKs send it (the boundary read from the body when the Content-Type
/// lacks it); or the body itself when it is sent as `text/csv`.
fn uploaded_file(content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let content_type = content_type.unwrap_or("");
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("text/csv") || lower.starts_with("text/plain") {
        return Ok(body.to_vec());
    }
    let missing = || ApiError::invalid_payload("the request needs a CSV file in the part `file`");
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .next()
        .or_else(|| {
            // `--boundary\r\n` opens the body.
            let start = find(body, b"--", 0)?;
            let end = find(body, b"\r\n", start)?;
            std::str::from_utf8(body.get(start + 2..end)?)
                .ok()
                .map(str::to_owned)
        })
        .filter(|b| !b.is_empty())
        .ok_or_else(missing)?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut fallback = None;
    let mut position = find(body, &delimiter, 0).ok_or_else(missing)?;
    loop {
        let part_start = position + delimiter.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            break;
        }
        let headers_end = find(body, b"\r\n\r\n", part_start).ok_or_else(missing)?;
        let headers = String::from_utf8_lossy(&body[part_start..headers_end]).to_ascii_lowercase();
        let content_start = headers_end + 4;
        let mut closing = delimiter.clone();
        closing.splice(0..0, b"\r\n".iter().copied());
        let next = find(body, &closing, content_start).ok_or_else(missing)?;
        let content = &body[content_start..next];
        if headers.contains("name=\"file\"") {
            return Ok(content.to_vec());
        }
        if fallback.is_none() && headers.contains("filename=") {
            fallback = Some(content.to_vec());
        }
        position = next + 2;
    }
    fallback.ok_or_else(missing)
}

/// Reads an importCSV request's file, within [`crate::Config::csv_body_max`].
async fn read_upload(state: &AppState, request: Request) -> Result<Vec<u8>, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = wire::read_body(request, state.config.csv_body_max).await?;
    uploaded_file(content_type.as_deref(), &body)
}

/// Starts the async action `action_type` that imports an uploaded CSV's
/// vouchers into `campaign` (or none): 202 with the action's id.
pub(crate) async fn import_csv_action(
    state: &AppState,
    project: ProjectId,
    campaign: Option<String>,
    action_type: &'static str,
    request: Request,
) -> Result<Response, ApiError> {
    let file = read_upload(state, request).await?;
    let now = state.now();
    let id = spawn_action(state, project, action_type, move |store| {
        store.import_vouchers_csv(project, campaign.as_deref(), &mut file.as_slice(), now)
    })
    .await?;
    Ok(accepted(&id))
}

async fn import_csv(
    State(state): State<AppState>,
    key: ServerKey,
    request: Request,
) -> Result<Response, ApiError> {
    import_csv_action(&state, key.project, None, "VOUCHERS.IMPORT_CSV", request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_give_their_file() {
        let body = b"--XYZ\r\nContent-Disposition: form-data; name=\"webhooks_enable\"\r\n\r\ntrue\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\nContent-Type: text/csv\r\n\r\nCode,Value\r\nA,1\r\n--XYZ--\r\n";
        let file = uploaded_file(Some("multipart/form-data; boundary=XYZ"), body).unwrap();
        assert_eq!(file, b"Code,Value\r\nA,1");
        let file = uploaded_file(Some("multipart/form-data"), body).unwrap();
        assert_eq!(file, b"Code,Value\r\nA,1");
        assert_eq!(
            uploaded_file(Some("multipart/form-data; boundary=Q"), body)
                .unwrap_err()
                .key,
            "invalid_payload"
        );
        assert_eq!(
            uploaded_file(Some("text/csv"), b"Code\nA").unwrap(),
            b"Code\nA"
        );
    }
}
