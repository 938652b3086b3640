//! Publications (wire reference §2.8): handing codes to a customer.
//! `POST /v1/publications[?join_once=true]` with a JSON body, the same as a
//! query string at `GET /v1/publications/create` (the Python SDK's
//! `create_publication1`), and `GET /v1/publications`.
//!
//! A publication names a `voucher` (a code), or a `campaign` (`{name,
//! count}` or just its name or id) whose codes the store picks (or makes,
//! for an AUTO_UPDATE campaign), and a `customer` (an object, or a plain
//! string: an id when it starts with `cust_`, else a source id), created
//! when new. Publications made through the API have `channel: "API"`
//! (the Python SDK refuses any other value), whatever channel the request
//! names. A `source_id` makes the request idempotent: the same request
//! again answers the first publication; another request with it is 409
//! `duplicate_source_id`.
//!
//! One code is answered as a `voucher` object, several (`count` > 1) as
//! `vouchers` (their codes); `vouchers_id` lists their ids either way.

use axum::extract::State;
use axum::routing::get;
use axum::Json as Reply;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use voucher_core::money::Currency;
use voucher_core::port::{
    BenefitSpec, CustomerRecord, CustomerSpec, JoinOnce, PublicationQuery, PublicationRecord,
    PublicationSpec, PublicationTarget, VoucherRecord,
};

use crate::asset_token::{self, AssetLinks};
use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::render;
use crate::routes::customers::{customer_json, CustomerBody};
use crate::routes::list_params::{invalid_param, refuse_unsupported, ListParams};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The channel of every publication made here.
const CHANNEL: &str = "API";

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/publications", get(list).post(create))
        .route("/v1/publications/", get(list).post(create))
        .route("/v1/publications/create", get(create_from_query))
}

/// A campaign reference: its name or id, or `{name, count}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CampaignRef {
    Name(String),
    Object {
        name: Option<String>,
        count: Option<u32>,
    },
}

/// A customer reference: an object, or an id or source id.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CustomerRef {
    Key(String),
    Object(Box<CustomerBody>),
}

/// A publication request as the wire sends one.
#[derive(Debug, Clone, Default, Deserialize)]
struct PublicationBody {
    voucher: Option<String>,
    campaign: Option<CampaignRef>,
    customer: Option<CustomerRef>,
    source_id: Option<String>,
    metadata: Option<Json>,
    /// The JS SDK's types put it in the body; the query's wins.
    join_once: Option<bool>,
}

/// The query string of `POST /v1/publications`.
#[derive(Debug, Clone, Default, Deserialize)]
struct CreateParams {
    join_once: Option<String>,
}

fn flag(name: &str, text: Option<&str>) -> Result<Option<bool>, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some("true") | Some("True") | Some("1") => Ok(Some(true)),
        Some("false") | Some("False") | Some("0") => Ok(Some(false)),
        Some(other) => Err(invalid_param(name, format!("{other:?} is not a boolean"))),
    }
}

impl PublicationBody {
    /// The store's spec and whether the answer lists several codes.
    fn to_spec(&self, join_once: Option<bool>) -> Result<(PublicationSpec, bool), ApiError> {
        let target = match (&self.voucher, &self.campaign) {
            (Some(code), None) => PublicationTarget::Voucher(code.clone()),
            (None, Some(CampaignRef::Name(name))) => PublicationTarget::Campaign {
                campaign: name.clone(),
                count: 1,
            },
            (None, Some(CampaignRef::Object { name, count })) => PublicationTarget::Campaign {
                campaign: name
                    .clone()
                    .ok_or_else(|| ApiError::invalid_payload("campaign needs a name (or an id)"))?,
                count: count.unwrap_or(1),
            },
            (None, None) => {
                return Err(ApiError::invalid_payload(
                    "a publication needs a voucher or a campaign",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_payload(
                    "a publication names a voucher or a campaign, not both",
                ))
            }
        };
        let many = matches!(target, PublicationTarget::Campaign { count, .. } if count > 1);
        let customer = match &self.customer {
            None => CustomerSpec::default(),
            Some(CustomerRef::Key(key)) if key.starts_with("cust_") => CustomerSpec {
                id: Some(key.clone()),
                ..CustomerSpec::default()
            },
            Some(CustomerRef::Key(key)) => CustomerSpec {
                source_id: Some(key.clone()),
                ..CustomerSpec::default()
            },
            Some(CustomerRef::Object(body)) => body.to_spec()?,
        };
        let join_once = match join_once.or(self.join_once) {
            Some(true) => JoinOnce::Yes,
            _ => JoinOnce::No,
        };
        let spec = PublicationSpec {
            target,
            customer,
            channel: CHANNEL.to_owned(),
            source_id: self.source_id.clone(),
            metadata: wire::metadata(self.metadata.clone())?,
            join_once,
        };
        Ok((spec, many))
    }
}

/// A reused `source_id` is the wire's `duplicate_source_id`.
fn publication_error(error: ApiError) -> ApiError {
    if error.key == "duplicate_found" && error.resource_type.as_deref() == Some("publication") {
        let mut error = error;
        error.key = "duplicate_source_id".to_owned();
        error.message = "Duplicated source_id".to_owned();
        error
    } else {
        error
    }
}

/// The fields every publication object has.
fn base_json(record: &PublicationRecord, customer: Json) -> Map<String, Json> {
    let mut map = Map::new();
    map.insert("id".into(), json!(record.id));
    map.insert("object".into(), json!("publication"));
    map.insert(
        "created_at".into(),
        json!(wire::timestamp(record.created_at)),
    );
    map.insert("customer_id".into(), json!(record.customer.0));
    if let Some(source_id) = &record.customer.1 {
        map.insert("tracking_id".into(), json!(source_id));
    }
    map.insert("metadata".into(), wire::metadata_json(&record.metadata));
    map.insert("channel".into(), json!(record.channel));
    map.insert("source_id".into(), json!(record.source_id));
    map.insert("result".into(), json!("SUCCESS"));
    map.insert("customer".into(), customer);
    let ids: Vec<&str> = record.vouchers.iter().map(|v| v.id.as_str()).collect();
    map.insert("vouchers_id".into(), json!(ids));
    map
}

fn codes(record: &PublicationRecord) -> Json {
    json!(record
        .vouchers
        .iter()
        .map(|v| v.code.as_str())
        .collect::<Vec<_>>())
}

/// The answer to a publication request.
fn created_json(
    record: &PublicationRecord,
    customer: &CustomerRecord,
    currency: Currency,
    assets: &AssetLinks,
    many: bool,
) -> Json {
    let mut map = base_json(record, customer_json(customer, currency));
    match record.vouchers.as_slice() {
        [one] if !many => {
            map.insert(
                "voucher".into(),
                render::voucher_json(one, currency, assets),
            );
        }
        _ => {
            map.insert("vouchers".into(), codes(record));
        }
    }
    Json::Object(map)
}

/// The short voucher of the publication list: `{code, object, campaign,
/// discount | gift, is_referral_code}`.
fn listed_voucher_json(voucher: &VoucherRecord, currency: Currency) -> Json {
    let mut map = Map::new();
    map.insert("code".into(), json!(voucher.code.as_str()));
    map.insert("object".into(), json!("voucher"));
    map.insert(
        "campaign".into(),
        json!(voucher.campaign.as_ref().map(|(_, name)| name)),
    );
    match &voucher.benefit {
        BenefitSpec::Discount(discount) => {
            map.insert("discount".into(), render::discount_json(discount));
        }
        BenefitSpec::Gift { amount_minor } => {
            let balance = voucher.gift_balance_minor.unwrap_or(*amount_minor);
            map.insert(
                "gift".into(),
                render::gift_json(*amount_minor, balance, currency),
            );
        }
    }
    map.insert("is_referral_code".into(), json!(false));
    Json::Object(map)
}

/// One item of the publication list; its customer in the short form.
pub(crate) fn listed_json(record: &PublicationRecord, currency: Currency) -> Json {
    let (id, source_id) = &record.customer;
    let customer = json!({"id": id, "source_id": source_id, "object": "customer"});
    let mut map = base_json(record, customer);
    match record.vouchers.as_slice() {
        [one] => {
            map.insert("voucher".into(), listed_voucher_json(one, currency));
        }
        _ => {
            map.insert("vouchers".into(), codes(record));
        }
    }
    Json::Object(map)
}

async fn publish(
    state: AppState,
    key: ServerKey,
    body: PublicationBody,
    join_once: Option<bool>,
) -> Result<Reply<Json>, ApiError> {
    let (spec, many) = body.to_spec(join_once)?;
    let now = state.now();
    let project = key.project;
    let assets = asset_token::links(&state, project).await?;
    let (currency, record, customer) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            let record = store.publish(project, &spec, now)?;
            let customer = store.customer(project, &record.customer.0)?;
            Ok((currency, record, customer))
        })
        .await
        .map_err(publication_error)?;
    Ok(Reply(created_json(
        &record, &customer, currency, &assets, many,
    )))
}

/// `POST /v1/publications[?join_once=true]`.
async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<CreateParams>,
    JsonBody(body): JsonBody<PublicationBody>,
) -> Result<Reply<Json>, ApiError> {
    let join_once = flag("join_once", params.join_once.as_deref())?;
    publish(state, key, body, join_once).await
}

/// Drops the fields the Python SDK writes as `None` (its models' unset
/// fields: `customer[id]=None`), at any depth: they are absent.
fn drop_python_nones(map: &mut Map<String, Json>) {
    map.retain(|_, value| value.as_str() != Some("None"));
    for value in map.values_mut() {
        if let Json::Object(inner) = value {
            drop_python_nones(inner);
        }
    }
}

/// The query string of `GET /v1/publications/create` as the JSON body it
/// stands for: `campaign[count]` becomes a number, `join_once` a boolean;
/// everything else stays text.
fn body_from_query(
    mut query: Map<String, Json>,
) -> Result<(PublicationBody, Option<bool>), ApiError> {
    drop_python_nones(&mut query);
    let join_once = match query.remove("join_once") {
        Some(Json::String(text)) => flag("join_once", Some(&text))?,
        Some(_) => return Err(invalid_param("join_once", "not a boolean")),
        None => None,
    };
    if let Some(Json::Object(campaign)) = query.get_mut("campaign") {
        if let Some(Json::String(text)) = campaign.get("count") {
            let count: u32 = text
                .trim()
                .parse()
                .map_err(|_| invalid_param("campaign[count]", "not a positive integer"))?;
            campaign.insert("count".into(), json!(count));
        }
    }
    let body = serde_json::from_value(Json::Object(query))
        .map_err(|e| ApiError::bad_request("invalid_query_params", e.to_string()))?;
    Ok((body, join_once))
}

/// `GET /v1/publications/create?voucher=&campaign[name]=&customer[source_id]=
/// &source_id=&join_once=&metadata[k]=`.
async fn create_from_query(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(query): WireQuery<Map<String, Json>>,
) -> Result<Reply<Json>, ApiError> {
    let (body, join_once) = body_from_query(query)?;
    publish(state, key, body, join_once).await
}

/// The publication list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
struct PublicationListParams {
    #[serde(flatten)]
    list: ListParams,
    campaign: Option<String>,
    customer: Option<String>,
    voucher: Option<String>,
    result: Option<String>,
    voucher_type: Option<String>,
    is_referral_code: Option<String>,
    source_id: Option<String>,
    filters: Option<Json>,
}

/// `GET /v1/publications`: `{object:"list", data_ref:"publications",
/// publications, total}`, newest first.
async fn list(
    State(state): State<AppState>,
    key: ServerKey,
    WireQuery(params): WireQuery<PublicationListParams>,
) -> Result<Reply<Json>, ApiError> {
    refuse_unsupported(&[
        ("voucher_type", params.voucher_type.is_some()),
        ("is_referral_code", params.is_referral_code.is_some()),
        ("source_id", params.source_id.is_some()),
        ("filters", params.filters.is_some()),
    ])?;
    let query = PublicationQuery {
        list: params.list.to_query()?,
        campaign: params.campaign,
        customer: params.customer,
        code: params.voucher,
    };
    // Every publication made here succeeded: none failed.
    let failures_only = match params.result.as_deref() {
        None | Some("") | Some("SUCCESS") => false,
        Some("FAILURE") => true,
        Some(other) => {
            return Err(invalid_param(
                "result",
                format!("{other:?} is not SUCCESS or FAILURE"),
            ))
        }
    };
    let project = key.project;
    let (currency, page) = state
        .store(move |store| {
            let currency = store.project(project)?.spec.currency;
            Ok((currency, store.publications(project, &query)?))
        })
        .await?;
    let (items, total) = if failures_only {
        (Vec::new(), 0)
    } else {
        let items = page
            .items
            .iter()
            .map(|p| listed_json(p, currency))
            .collect();
        (items, page.total)
    };
    Ok(Reply(wire::old_list("publications", items, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_string_reads_as_the_body_it_stands_for() {
        let query = json!({
            "campaign": {"name": "Spring", "count": "2"},
            "customer": {"source_id": "alice", "id": "None", "address": "None"},
            "join_once": "true",
            "metadata": {"origin": "newsletter"}
        });
        let Json::Object(query) = query else {
            unreachable!()
        };
        let (body, join_once) = body_from_query(query).unwrap();
        assert_eq!(join_once, Some(true));
        let (spec, many) = body.to_spec(join_once).unwrap();
        assert!(many);
        assert_eq!(
            spec.target,
            PublicationTarget::Campaign {
                campaign: "Spring".into(),
                count: 2
            }
        );
        assert_eq!(spec.customer.source_id.as_deref(), Some("alice"));
        assert_eq!(spec.join_once, JoinOnce::Yes);
        assert_eq!(spec.channel, "API");

        let mut bad = Map::new();
        bad.insert("campaign".into(), json!({"name": "S", "count": "two"}));
        assert_eq!(
            body_from_query(bad).unwrap_err().key,
            "invalid_query_params"
        );
    }

    #[test]
    fn a_plain_customer_string_is_an_id_or_a_source_id() {
        for (key, id, source_id) in [
            ("cust_1", Some("cust_1"), None),
            ("alice", None, Some("alice")),
        ] {
            let body: PublicationBody =
                serde_json::from_value(json!({"voucher": "C", "customer": key})).unwrap();
            let (spec, many) = body.to_spec(None).unwrap();
            assert!(!many);
            assert_eq!(spec.customer.id.as_deref(), id);
            assert_eq!(spec.customer.source_id.as_deref(), source_id);
        }
    }
}
