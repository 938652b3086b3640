//! Customers (wire reference §2.4): `POST /v1/customers` (an upsert by id or
//! source id), `GET|PUT|DELETE /v1/customers/{id or source_id}`, and
//! `GET /v1/customers` (page paging, date filters, and the JS SDK's
//! `scroll()` cursor: `starting_after` is a creation instant there).
//!
//! [`CustomerBody`] is also the customer inside validation, redemption and
//! publication requests.
//!
//! The customer object carries the summary, loyalty and referral fields the
//! Python SDK's `CustomerWithSummaryLoyaltyReferrals` reads, as integers.
//! The engine has no loyalty cards or referrals, so those figures are 0.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json as Reply;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use voucher_core::money::Currency;
use voucher_core::port::{CustomerRecord, CustomerSpec, CustomerSummary, ListQuery, Page};

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::routes::list_params::{refuse_unsupported, ListParams};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/customers", get(list).post(create))
        .route("/v1/customers/", get(list).post(create))
        .route("/v1/customers/{id}", get(read).put(update).delete(remove))
}

/// A customer as the wire sends one (create, update, and inside other
/// requests). Unknown fields (server-managed ones such as `summary`,
/// `created_at`, `object`) are ignored; `null` is absent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerBody {
    /// `cust_...`.
    pub id: Option<String>,
    /// The shop's id.
    pub source_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Deprecated name of `birthdate`.
    pub birthday: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// `{city, state, line_1, line_2, country, postal_code}`.
    pub address: Option<BTreeMap<String, Option<String>>>,
    /// Free-form attributes.
    pub metadata: Option<Json>,
}

fn invalid(details: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_customer", details)
}

fn birthdate(text: &str) -> Result<NaiveDate, ApiError> {
    // A date, or the date part of a date-time.
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| invalid(format!("birthdate {text:?} is not a date (YYYY-MM-DD)")))
}

impl CustomerBody {
    /// The store's spec.
    pub fn to_spec(&self) -> Result<CustomerSpec, ApiError> {
        let birthdate = match self.birthdate.as_deref().or(self.birthday.as_deref()) {
            Some(text) => Some(birthdate(text)?),
            None => None,
        };
        let address = self
            .address
            .iter()
            .flatten()
            .filter_map(|(key, value)| Some((key.clone(), value.clone()?)))
            .collect();
        Ok(CustomerSpec {
            id: self.id.clone(),
            source_id: self.source_id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            birthdate,
            address,
            description: self.description.clone(),
            metadata: wire::metadata(self.metadata.clone())?,
        })
    }

    /// True when the body names no customer (`{}`, or only `null`s): a
    /// checkout request without one.
    pub(crate) fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.source_id.is_none()
            && self.name.is_none()
            && self.email.is_none()
            && self.metadata.as_ref().is_none_or(Json::is_null)
    }
}

/// `summary`: what the customer did, integers as the Python SDK wants.
fn summary_json(summary: &CustomerSummary, currency: Currency) -> Json {
    let orders_amount = wire::to_wire(summary.orders_amount_minor, currency);
    let average = match i64::try_from(summary.orders_count) {
        Ok(n) if n > 0 => {
            // Rounded half away from zero; i128 so that nothing overflows.
            let (total, n) = (i128::from(orders_amount), i128::from(n));
            let rounded = (2 * total + total.signum() * n) / (2 * n);
            i64::try_from(rounded).unwrap_or(0)
        }
        _ => 0,
    };
    json!({
        "redemptions": {
            "total_redeemed": summary.redemptions_total,
            "total_failed": summary.redemptions_failed,
            "total_succeeded": summary.redemptions_succeeded,
            "total_rolled_back": summary.redemptions_rolled_back,
            "total_rollback_failed": 0,
            "total_rollback_succeeded": summary.redemptions_rolled_back,
            "gift": {
                "redeemed_amount": wire::to_wire(summary.gift_redeemed_minor, currency),
            },
            "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
        },
        "orders": {
            "total_amount": orders_amount,
            "total_count": summary.orders_count,
            "average_amount": average,
        },
    })
}

/// The customer object (`CustomerWithSummaryLoyaltyReferrals`).
pub fn customer_json(record: &CustomerRecord, currency: Currency) -> Json {
    let spec = &record.spec;
    let mut map = Map::new();
    map.insert("id".into(), json!(record.id));
    let texts = [
        ("source_id", &spec.source_id),
        ("name", &spec.name),
        ("description", &spec.description),
        ("email", &spec.email),
        ("phone", &spec.phone),
    ];
    for (key, value) in texts {
        if let Some(value) = value {
            map.insert(key.into(), json!(value));
        }
    }
    if let Some(day) = spec.birthdate {
        map.insert(
            "birthdate".into(),
            json!(day.format("%Y-%m-%d").to_string()),
        );
    }
    if !spec.address.is_empty() {
        map.insert("address".into(), json!(spec.address));
    }
    map.insert("summary".into(), summary_json(&record.summary, currency));
    map.insert(
        "loyalty".into(),
        json!({"points": 0, "referred_customers": 0, "campaigns": {}}),
    );
    map.insert("referrals".into(), json!({"total": 0, "campaigns": []}));
    map.insert("metadata".into(), wire::metadata_json(&spec.metadata));
    map.insert("system_metadata".into(), json!({}));
    wire::insert_timestamps(&mut map, record.created_at, record.updated_at);
    map.insert("object".into(), json!("customer"));
    Json::Object(map)
}

/// `POST /v1/customers`: creates the customer, or updates the one with this
/// `id` (which must exist) or `source_id`.
async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<CustomerBody>,
) -> Result<Reply<Json>, ApiError> {
    let spec = body.to_spec()?;
    let now = state.now();
    let project = key.project;
    let (currency, record) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            Ok((currency, store.upsert_customer(project, &spec, now)?))
        })
        .await?;
    Ok(Reply(customer_json(&record, currency)))
}

/// `GET /v1/customers/{id or source_id}`.
async fn read(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Reply<Json>, ApiError> {
    let project = key.project;
    let (currency, record) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            Ok((currency, store.customer(project, &id)?))
        })
        .await?;
    Ok(Reply(customer_json(&record, currency)))
}

/// `PUT /v1/customers/{id or source_id}`: the fields given replace the
/// stored ones; the path names the customer (an `id` in the body is
/// ignored, as are the server-managed fields).
async fn update(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CustomerBody>,
) -> Result<Reply<Json>, ApiError> {
    let mut spec = body.to_spec()?;
    let now = state.now();
    let project = key.project;
    let (currency, record) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            let existing = store.customer(project, &id)?;
            spec.id = Some(existing.id);
            Ok((currency, store.upsert_customer(project, &spec, now)?))
        })
        .await?;
    Ok(Reply(customer_json(&record, currency)))
}

/// `DELETE /v1/customers/{id or source_id}`: 204.
async fn remove(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let project = key.project;
    state
        .store(move |store| store.delete_customer(project, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
struct CustomerListParams {
    #[serde(flatten)]
    list: ListParams,
    email: Option<String>,
    city: Option<String>,
    name: Option<String>,
    segment_id: Option<String>,
}

impl CustomerListParams {
    fn to_query(&self) -> Result<ListQuery, ApiError> {
        refuse_unsupported(&[
            ("email", self.email.is_some()),
            ("city", self.city.is_some()),
            ("name", self.name.is_some()),
            ("segment_id", self.segment_id.is_some()),
        ])?;
        self.list.to_query()
    }
}

/// `GET /v1/customers`: `{object:"list", data_ref:"customers", customers,
/// total, has_more}`.
async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<CustomerListParams>,
) -> Result<Reply<Json>, ApiError> {
    let query = params.to_query()?;
    let project = key.project;
    let (currency, page): (Currency, Page<CustomerRecord>) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            Ok((currency, store.customers(project, &query)?))
        })
        .await?;
    let items = page
        .items
        .iter()
        .map(|c| customer_json(c, currency))
        .collect();
    let mut body = wire::old_list("customers", items, page.total);
    body["has_more"] = json!(page.has_more);
    Ok(Reply(body))
}
