//! Validation: may these codes be used on this order? The legacy
//! `POST /v1/vouchers/{code}/validate` (one code; a refusal is a 200 with
//! `valid:false`, a human `reason` and the error with its stable key) and
//! the stackable `POST /v1/validations` (1..=30 redeemables under the
//! project's stacking rules; an unknown code is an INAPPLICABLE redeemable
//! with the `resource_not_found` error). Nothing changes: the store decides
//! through the engine and counts the validation.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json_};
use voucher_core::decision::{Outcome, Reason, Refusal};
use voucher_core::money::Currency;
use voucher_core::port::{
    ChannelType, CheckoutEntry, CheckoutRequest, CheckoutResult, ProjectRecord,
};
use voucher_core::stacking::{EntryStatus, SkipReason};

use crate::auth::ServerCredentials;
use crate::error::ApiError;
use crate::lockout::{Checked, CodeOutcome};
use crate::logging::mask_code;
use crate::routes::checkout::{
    self, discount_json, empty_targets, order_state_json, CheckoutBody, OrderEcho,
};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/vouchers/{code}/validate", post(validate_voucher))
        .route("/v1/validations", post(validate_stack))
        .route("/v1/validations/", post(validate_stack))
}

/// The key, the path and the body are checked in this order, as by the
/// extractors of the other endpoints, but the key is read in the store's
/// call that validates ([`keyed_validation`]).
async fn validate_voucher(
    State(state): State<AppState>,
    credentials: ServerCredentials,
    path: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<CheckoutBody>, ApiError>,
) -> Response {
    let code = match &path {
        Ok(Path(code)) => Ok(Some(code.as_str())),
        // As the API's error body (the extractor's own answer is plain text).
        Err(rejection) => Err(ApiError::bad_request(
            "invalid_payload",
            rejection.body_text(),
        )),
    };
    let body = body.map(|JsonBody(body)| body);
    let (result, record) = match keyed_validation(&state, &credentials, code, body.as_ref()) {
        Ok(done) => done,
        Err(error) => return error.into_response(),
    };
    let (Ok(Path(code)), Ok(body)) = (path, body) else {
        return ApiError::unauthorized().into_response();
    };
    legacy_answer(Ok(result), code, &body, record.spec.currency).into_response()
}

async fn validate_stack(
    State(state): State<AppState>,
    credentials: ServerCredentials,
    body: Result<JsonBody<CheckoutBody>, ApiError>,
) -> Response {
    let body = body.map(|JsonBody(body)| body);
    let (result, record) = match keyed_validation(&state, &credentials, Ok(None), body.as_ref()) {
        Ok(done) => done,
        Err(error) => return error.into_response(),
    };
    let Ok(body) = body else {
        return ApiError::unauthorized().into_response();
    };
    stacked_answer(result, &record, &body).into_response()
}

/// A validation of a request that carries its server key, in one store
/// call ([`CheckoutStore::validate_with_key`]): one read transaction for
/// the key and the codes instead of two, a tenth of a validation's CPU
/// time. The key is checked first, then `code` (the path's, `None` for the
/// stacked endpoint) and `body`, so that the answers are those of the
/// extractors the other endpoints use. The store's answer and the key's
/// project, or the error answer.
fn keyed_validation(
    state: &AppState,
    credentials: &ServerCredentials,
    code: Result<Option<&str>, ApiError>,
    body: Result<&CheckoutBody, &ApiError>,
) -> Result<(CheckoutResult, ProjectRecord), ApiError> {
    let (app_id, secret) = credentials.pair();
    // Why `prepare` stopped, or the key's project once it did not.
    let mut stopped: Option<ApiError> = None;
    let mut project: Option<ProjectRecord> = None;
    let answer = state.store_now(|store| {
        store.validate_with_key(app_id, secret, &mut |found| {
            let prepared =
                credentials
                    .admit(state, found)
                    .and_then(|()| match (found, &code, body) {
                        (Some((_, record)), Ok(code), Ok(body)) => {
                            project = Some(record.clone());
                            checkout::prepare(state, record, body, *code, ChannelType::Api)
                        }
                        (_, Err(error), _) | (_, _, Err(error)) => Err((*error).clone()),
                        (None, ..) => Err(ApiError::unauthorized()),
                    });
            match prepared {
                Ok(request) => Some(request),
                Err(error) => {
                    stopped = Some(error);
                    None
                }
            }
        })
    });
    match (answer, project) {
        (Err(error), _) => Err(error),
        (Ok(Some(result)), Some(project)) => Ok((result, project)),
        _ => Err(stopped.unwrap_or_else(ApiError::unauthorized)),
    }
}

/// Decodes the JSON body of a validation into the core's checkout request,
/// as the endpoints do before they ask the store: `code` is the path's code
/// of the legacy `POST /v1/vouchers/{code}/validate`, `None` for the
/// stacked `POST /v1/validations`; `currency` is the project's. Pure (no
/// store, `now` given); an error is the 4xx the endpoint would answer. For
/// the fuzz target `fuzz/fuzz_targets/validate_request.rs` and tests.
pub fn decode_validation(
    body: &[u8],
    code: Option<&str>,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<CheckoutRequest, ApiError> {
    let body: CheckoutBody = wire::parse_json(body)?;
    checkout::checkout_request(&body, code, currency, ChannelType::Api, now)
}

/// 404 for a code that does not exist, in the reference's shape; the
/// lockout counts it.
pub(crate) fn code_not_found(code: &str) -> ApiError {
    tracing::debug!(code = %mask_code(code), "unknown code");
    ApiError::not_found("voucher", code).with_code_outcome(CodeOutcome::Unknown(1))
}

/// A refusal as the error the wire shows: an unknown code is 404
/// `not_found`, the rest 400 with the refusal's key.
pub(crate) fn refusal_error(refusal: &Refusal, failure_id: Option<&str>, code: &str) -> ApiError {
    if refusal.reason == Reason::ResourceNotFound {
        code_not_found(code)
    } else {
        ApiError::refused(refusal, failure_id)
    }
}

/// The legacy validation of one code, shared with `GET /client/v1/validate`.
pub(crate) async fn legacy(
    state: &AppState,
    record: &ProjectRecord,
    code: String,
    body: CheckoutBody,
    channel: ChannelType,
) -> Result<Checked, ApiError> {
    let request = checkout::prepare(state, record, &body, Some(&code), channel)?;
    let project = record.id;
    let answer = state.store_now(|store| store.validate(project, &request));
    legacy_answer(answer, code, &body, record.spec.currency)
}

/// The answer of a legacy validation of `code` from the store's `answer`.
fn legacy_answer(
    answer: Result<CheckoutResult, ApiError>,
    code: String,
    body: &CheckoutBody,
    currency: Currency,
) -> Result<Checked, ApiError> {
    let echo = OrderEcho::of(body);
    let refused = |refusal: &Refusal| {
        let error = refusal_error(refusal, None, &code);
        json!({
            "valid": false,
            "reason": refusal.reason.message(),
            "error": error.body(),
            "code": code,
            "tracking_id": body.tracking_id,
            "metadata": body.metadata.clone().filter(Json_::is_object).unwrap_or_else(|| json!({})),
        })
    };
    // An order too broken to answer with (a negative amount, a bad
    // quantity) is bad input: the store's error, a 400 with its key.
    let result = answer?;
    let Some(entry) = result.entries.first() else {
        return Err(ApiError::invalid_payload("no code to validate"));
    };
    match &entry.status {
        EntryStatus::Applicable(outcome) => Ok(Checked::new(
            legacy_valid(entry, outcome, &result, &echo, body, currency),
            CodeOutcome::Succeeded,
        )),
        EntryStatus::Inapplicable(refusal) if refusal.reason == Reason::ResourceNotFound => {
            Err(code_not_found(&code))
        }
        EntryStatus::Inapplicable(refusal) => {
            Ok(Checked::new(refused(refusal), CodeOutcome::Refused))
        }
        EntryStatus::Skipped(reason) => Ok(Checked::new(
            refused(&Refusal {
                reason: Reason::RedemptionRulesViolated,
                rule_message: None,
                details: Some(reason.key().to_owned()),
            }),
            CodeOutcome::Refused,
        )),
    }
}

fn legacy_valid(
    entry: &CheckoutEntry,
    outcome: &Outcome,
    result: &CheckoutResult,
    echo: &OrderEcho,
    body: &CheckoutBody,
    currency: Currency,
) -> Json_ {
    let voucher = entry.voucher.as_ref();
    let mut v = json!({
        "valid": true,
        "code": entry.code,
        "order": order_state_json(echo, &result.order, Some(outcome.applied()), currency),
        "applicable_to": empty_targets(),
        "inapplicable_to": empty_targets(),
        "tracking_id": body.tracking_id,
        "campaign": voucher.and_then(|v| v.campaign.as_ref()).map(|c| c.1.clone()),
        "campaign_id": voucher.and_then(|v| v.campaign.as_ref()).map(|c| c.0.clone()),
        "metadata": voucher.map_or_else(|| json!({}), |v| wire::metadata_json(&v.metadata)),
    });
    if let Some((key, value)) = voucher.and_then(|voucher| benefit_json(voucher, outcome, currency))
    {
        v[key] = value;
    }
    v
}

/// What the code is worth here: its discount, or the gift card's credits.
fn benefit_json(
    voucher: &voucher_core::port::VoucherRecord,
    outcome: &Outcome,
    currency: Currency,
) -> Option<(&'static str, Json_)> {
    match outcome {
        Outcome::Discount(_) => discount_json(&voucher.benefit).map(|d| ("discount", d)),
        Outcome::Gift { credits_minor, .. } => {
            let mut gift = checkout::gift_json(voucher, currency)?;
            gift["credits"] = json!(wire::to_wire(*credits_minor, currency));
            Some(("gift", gift))
        }
    }
}

/// The error body of an inapplicable redeemable.
fn entry_error(entry: &CheckoutEntry, refusal: &Refusal) -> Json_ {
    if refusal.reason == Reason::ResourceNotFound {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "Resource not found",
        )
        .with_details(format!("Cannot find voucher with id {}", entry.code))
        .with_resource(entry.code.clone(), "voucher")
        .body()
    } else {
        ApiError::refused(refusal, None).body()
    }
}

fn skip_message(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::ApplicableRedeemablesLimitExceeded => "Applicable redeemables limit exceeded",
        SkipReason::ApplicableRedeemablesPerCategoryLimitExceeded => {
            "Applicable redeemables per category limit exceeded"
        }
        SkipReason::ApplicableExclusiveRedeemablesLimitExceeded => {
            "Applicable exclusive redeemables limit exceeded"
        }
        SkipReason::ApplicableExclusiveRedeemablesPerCategoryLimitExceeded => {
            "Applicable exclusive redeemables per category limit exceeded"
        }
        SkipReason::ExclusionRulesNotMet => "Redeemable cannot be applied due to exclusion rules",
        SkipReason::PrecedingValidationFailed => {
            "Redeemable cannot be applied due to preceding validation failure"
        }
        SkipReason::NoEffect => "Redeemable has no effect on the order",
    }
}

/// One redeemable of a stacked answer.
pub(crate) fn entry_json(entry: &CheckoutEntry, currency: Currency) -> Json_ {
    let voucher = entry.voucher.as_ref();
    let (status, result) = match &entry.status {
        EntryStatus::Applicable(outcome) => {
            let mut result = json!({});
            if let Some((key, value)) = voucher.and_then(|v| benefit_json(v, outcome, currency)) {
                result[key] = value;
            }
            ("APPLICABLE", result)
        }
        EntryStatus::Inapplicable(refusal) => (
            "INAPPLICABLE",
            json!({"error": entry_error(entry, refusal)}),
        ),
        EntryStatus::Skipped(reason) => (
            "SKIPPED",
            json!({"details": {"key": reason.key(), "message": skip_message(*reason)}}),
        ),
    };
    let mut v = json!({
        "status": status,
        "id": entry.code,
        "object": "voucher",
        "result": result,
        "metadata": voucher.map_or_else(|| json!({}), |v| wire::metadata_json(&v.metadata)),
        "categories": [],
    });
    if matches!(entry.status, EntryStatus::Applicable(_)) {
        v["applicable_to"] = empty_targets();
        v["inapplicable_to"] = empty_targets();
    }
    if let Some((id, name)) = voucher.and_then(|v| v.campaign.as_ref()) {
        v["campaign_id"] = json!(id);
        v["campaign_name"] = json!(name);
    }
    v
}

/// The three lists of a stacked answer: every redeemable, the skipped ones
/// and the inapplicable ones.
pub(crate) fn entry_lists(entries: &[CheckoutEntry], currency: Currency) -> (Json_, Json_, Json_) {
    let all: Vec<Json_> = entries.iter().map(|e| entry_json(e, currency)).collect();
    let pick = |wanted: &str| -> Json_ {
        Json_::Array(
            all.iter()
                .filter(|e| e["status"] == wanted)
                .cloned()
                .collect(),
        )
    };
    let skipped = pick("SKIPPED");
    let inapplicable = pick("INAPPLICABLE");
    (Json_::Array(all), skipped, inapplicable)
}

/// The stacked validation, shared with `POST /client/v1/validations`.
pub(crate) async fn stacked(
    state: &AppState,
    record: &ProjectRecord,
    body: CheckoutBody,
    channel: ChannelType,
) -> Result<Checked, ApiError> {
    let request = checkout::prepare(state, record, &body, None, channel)?;
    let project = record.id;
    let result = state.store_now(|store| store.validate(project, &request))?;
    Ok(stacked_answer(result, record, &body))
}

/// The answer of a stacked validation from the store's `result`.
fn stacked_answer(result: CheckoutResult, record: &ProjectRecord, body: &CheckoutBody) -> Checked {
    let currency = record.spec.currency;
    let echo = OrderEcho::of(body);
    let (redeemables, skipped, inapplicable) = entry_lists(&result.entries, currency);
    // Every code that does not exist counts for the lockout: the first is
    // INAPPLICABLE, those after it may be SKIPPED, guesses all the same.
    let unknown = result
        .entries
        .iter()
        .filter(|e| e.voucher.is_none())
        .count();
    let outcome = match u32::try_from(unknown).unwrap_or(u32::MAX) {
        0 if result.valid => CodeOutcome::Succeeded,
        0 => CodeOutcome::Refused,
        n => CodeOutcome::Unknown(n),
    };
    let body = json!({
        "id": checkout::new_id("valid_"),
        "valid": result.valid,
        "redeemables": redeemables,
        "skipped_redeemables": skipped,
        "inapplicable_redeemables": inapplicable,
        "order": order_state_json(&echo, &result.order, None, currency),
        "tracking_id": body.tracking_id,
        "stacking_rules": checkout::stacking_rules_json(&record.spec.stacking),
    });
    Checked::new(body, outcome)
}
