//! Qualifications (`POST /v1/qualifications`, and its client-side twin):
//! which codes apply to this customer's cart. Only codes the customer may
//! know are shown (published to them, or the public code of a STANDALONE
//! discount campaign); the store gathers them and the core decides
//! (`voucher_core::qualification`).

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as Json_};
use voucher_core::decision::Outcome;
use voucher_core::port::{ProjectId, QualificationRequest};
use voucher_core::qualification::Sorting;

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::routes::checkout::{
    self, discount_json, empty_targets, order_state_json, CheckoutBody, OrderEcho, WireInt,
};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/qualifications", post(check_eligibility))
        .route("/v1/qualifications/", post(check_eligibility))
}

/// `options` of a qualification request.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QualificationOptions {
    limit: Option<WireInt>,
    sorting_rule: Option<String>,
}

/// The body of a qualification request. `scenario` and the options' filters
/// are accepted; every scenario looks at the same codes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QualificationBody {
    #[serde(flatten)]
    checkout: CheckoutBody,
    options: Option<QualificationOptions>,
}

/// Default and most codes returned (reference §2.11).
const LIMIT_DEFAULT: i64 = 5;
const LIMIT_MAX: i64 = 50;

async fn check_eligibility(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<QualificationBody>,
) -> Result<Json<Json_>, ApiError> {
    qualify(&state, key.project, body).await.map(Json)
}

/// A qualification, shared with `POST /client/v1/qualifications`.
pub(crate) async fn qualify(
    state: &AppState,
    project: ProjectId,
    body: QualificationBody,
) -> Result<Json_, ApiError> {
    let record = checkout::project(state, project).await?;
    let currency = record.spec.currency;
    let options = body.options.unwrap_or_default();
    let limit = options.limit.map_or(LIMIT_DEFAULT, |l| l.0);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid_payload(format!(
            "options.limit must be 1..={LIMIT_MAX}"
        )));
    }
    let sorting = match options.sorting_rule.as_deref() {
        None | Some("DEFAULT") => Sorting::Default,
        Some("BEST_DEAL") => Sorting::BestDeal,
        Some("LEAST_DEAL") => Sorting::LeastDeal,
        Some(other) => {
            return Err(ApiError::invalid_payload(format!(
                "options.sorting_rule {other:?} is not DEFAULT, BEST_DEAL or LEAST_DEAL"
            )))
        }
    };
    let body = body.checkout;
    // The checkout request's order and customer, without codes.
    let parsed = checkout::request(
        &body,
        voucher_core::port::CheckoutMode::Stacked,
        Vec::new(),
        currency,
        voucher_core::port::ChannelType::Api,
        state.now(),
    )?;
    let request = QualificationRequest {
        order: parsed.order,
        customer: parsed.customer,
        sorting,
        limit: usize::try_from(limit).unwrap_or(5),
        now: parsed.now,
    };
    let result = state
        .store(move |store| store.qualify(project, &request))
        .await?;
    let echo = OrderEcho::of(&body);
    let data: Vec<Json_> = result
        .qualified
        .iter()
        .map(|q| {
            let voucher = &q.voucher;
            let result = match &q.outcome {
                Outcome::Discount(_) => {
                    json!({"discount": discount_json(&voucher.benefit)})
                }
                Outcome::Gift { credits_minor, .. } => {
                    let mut gift = checkout::gift_json(voucher, currency).unwrap_or(json!({}));
                    gift["credits"] = json!(wire::to_wire(*credits_minor, currency));
                    json!({"gift": gift})
                }
            };
            let mut v = json!({
                "id": voucher.code.as_str(),
                "object": "voucher",
                "created_at": wire::timestamp(voucher.created_at),
                "result": result,
                "order": order_state_json(&echo, &q.order, Some(q.outcome.applied()), currency),
                "applicable_to": empty_targets(),
                "inapplicable_to": empty_targets(),
                "metadata": wire::metadata_json(&voucher.metadata),
                "categories": [],
            });
            if let Some((id, name)) = &voucher.campaign {
                v["campaign_id"] = json!(id);
                v["campaign_name"] = json!(name);
            }
            v
        })
        .collect();
    let shown = u64::try_from(data.len()).unwrap_or(u64::MAX);
    Ok(json!({
        "redeemables": {
            "object": "list",
            "data_ref": "data",
            "data": data,
            "total": result.total,
            "has_more": result.total > shown,
        },
        "tracking_id": body.tracking_id,
        "order": order_state_json(&echo, &result.order, None, currency),
        "stacking_rules": checkout::stacking_rules_json(&record.spec.stacking),
    }))
}
