//! Exports of vouchers and redemptions as CSV: `POST /v1/exports` records
//! the request (`status: SCHEDULED`), `GET /v1/exports/{id}` shows it
//! (`DONE`, with `result.url`), and `GET /v1/exports/{id}/download` (or
//! `GET /v1/exports/{id}?token=…`, as the Python SDK downloads) writes the
//! CSV.
//!
//! An export is stored as an async action of kind [`EXPORT_KIND`] whose
//! message holds the request; its id is the action's with the `exp_`
//! prefix. The rows are read when the file is downloaded, so the file shows
//! the data as of the download; the file is built in memory, up to
//! [`EXPORT_BYTES_MAX`] (over it: 400 `export_too_large`).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as JsonValue};
use voucher_core::port::{
    ActionRecord, ActionStatus, ListQuery, ProjectId, RedemptionQuery, RedemptionResult, SortOrder,
    VoucherQuery,
};

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::routes::async_actions::EXPORT_KIND;
use crate::routes::list_params::{filter_active, filter_value, Filters};
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody, WireQuery};

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/exports", post(create))
        .route("/v1/exports/", post(create))
        .route("/v1/exports/{id}", get(get_export))
        .route("/v1/exports/{id}/download", get(download))
}

/// What an export was asked for, kept in its action's message.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExportRequest {
    exported_object: String,
    parameters: JsonValue,
    token: String,
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    exported_object: Option<String>,
    parameters: Option<JsonValue>,
}

fn export_id(action_id: &str) -> String {
    format!("exp_{}", action_id.strip_prefix("aa_").unwrap_or(action_id))
}

fn action_id(export_id: &str) -> Option<String> {
    export_id
        .strip_prefix("exp_")
        .filter(|rest| !rest.is_empty())
        .map(|rest| format!("aa_{rest}"))
}

fn new_token() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn export_json(action: &ActionRecord, request: &ExportRequest, status: &str) -> JsonValue {
    let id = export_id(&action.id);
    let result = if status == "DONE" {
        json!({"url": format!("/v1/exports/{id}?token={}", request.token)})
    } else {
        JsonValue::Null
    };
    json!({
        "id": id,
        "object": "export",
        "created_at": wire::timestamp(action.created_at),
        "status": status,
        "channel": "API",
        "exported_object": request.exported_object,
        "parameters": request.parameters,
        "result": result,
        "user_id": null,
    })
}

async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Json<JsonValue>, ApiError> {
    let project = key.project;
    let exported_object = body
        .exported_object
        .ok_or_else(|| ApiError::invalid_payload("exported_object is required"))?;
    if exported_object != "voucher" && exported_object != "redemption" {
        return Err(ApiError::invalid_payload(format!(
            "exported_object {exported_object:?} is not one of voucher, redemption"
        )));
    }
    let parameters = body.parameters.unwrap_or_else(|| json!({}));
    if !parameters.is_object() {
        return Err(ApiError::invalid_payload("parameters must be an object"));
    }
    let request = ExportRequest {
        exported_object,
        parameters,
        token: new_token(),
    };
    // Checked now so that a bad filter is a 400 here, not a failed download.
    let _ = queries(&request, state.now())?;
    let now = state.now();
    let mut action = state
        .store(move |store| store.create_action(project, EXPORT_KIND, now))
        .await?;
    action.status = ActionStatus::Done;
    action.progress = 100;
    action.message = Some(
        serde_json::to_string(&request).map_err(|e| ApiError::invalid_payload(e.to_string()))?,
    );
    let stored = action.clone();
    state
        .store(move |store| store.update_action(project, &stored, now))
        .await?;
    Ok(Json(export_json(&action, &request, "SCHEDULED")))
}

async fn load(
    state: &AppState,
    project: ProjectId,
    id: &str,
) -> Result<(ActionRecord, ExportRequest), ApiError> {
    let not_found = || ApiError::not_found("export", id);
    let lookup = action_id(id).ok_or_else(not_found)?;
    let action = state
        .store(move |store| store.action(project, &lookup))
        .await
        .map_err(|_| not_found())?;
    if action.kind != EXPORT_KIND {
        return Err(not_found());
    }
    let request = action
        .message
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(not_found)?;
    Ok((action, request))
}

#[derive(Debug, Default, Deserialize)]
struct TokenParams {
    token: Option<String>,
}

async fn get_export(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(params): WireQuery<TokenParams>,
) -> Result<Response, ApiError> {
    let (action, request) = load(&state, key.project, &id).await?;
    if let Some(token) = params.token {
        // The Python SDK's download: the file, as text.
        return csv(
            &state,
            key.project,
            &request,
            &token,
            "text/plain; charset=utf-8",
        )
        .await;
    }
    Ok(Json(export_json(&action, &request, "DONE")).into_response())
}

async fn download(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
    WireQuery(params): WireQuery<TokenParams>,
) -> Result<Response, ApiError> {
    let (_, request) = load(&state, key.project, &id).await?;
    let token = params.token.unwrap_or_else(|| request.token.clone());
    csv(
        &state,
        key.project,
        &request,
        &token,
        "text/csv; charset=utf-8",
    )
    .await
}

/// What an export reads: the voucher or the redemption query.
enum ExportQuery {
    Vouchers(VoucherQuery),
    Redemptions(RedemptionQuery),
}

fn queries(
    request: &ExportRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ExportQuery, ApiError> {
    let filters: Filters = request
        .parameters
        .get("filters")
        .filter(|f| !f.is_null())
        .map(|f| serde_json::from_value(f.clone()))
        .transpose()
        .map_err(|e| ApiError::invalid_payload(format!("parameters.filters: {e}")))?
        .unwrap_or_default();
    let order = match request.parameters.get("order").and_then(JsonValue::as_str) {
        Some(o) if !o.starts_with('-') => SortOrder::OldestFirst,
        _ => SortOrder::NewestFirst,
    };
    let list = ListQuery {
        order,
        ..ListQuery::default()
    };
    Ok(if request.exported_object == "voucher" {
        ExportQuery::Vouchers(VoucherQuery {
            list,
            campaign: filter_value(&filters, "campaign_id")
                .or_else(|| filter_value(&filters, "campaign")),
            customer: filter_value(&filters, "holder_id")
                .or_else(|| filter_value(&filters, "published_for_customer_id")),
            category: filter_value(&filters, "categories")
                .or_else(|| filter_value(&filters, "category")),
            active: filter_active(&filters),
            now: Some(now),
            ids: filter_value(&filters, "code").into_iter().collect(),
            ..VoucherQuery::default()
        })
    } else {
        let result = match filter_value(&filters, "result").as_deref() {
            Some("SUCCESS") => Some(RedemptionResult::Success),
            Some("FAILURE") => Some(RedemptionResult::Failure),
            Some(other) => {
                return Err(ApiError::invalid_payload(format!(
                    "parameters.filters.result {other:?} is not SUCCESS or FAILURE"
                )))
            }
            None => None,
        };
        ExportQuery::Redemptions(RedemptionQuery {
            list,
            campaign: filter_value(&filters, "campaign_id")
                .or_else(|| filter_value(&filters, "campaign")),
            customer: filter_value(&filters, "customer_id"),
            result,
            code: filter_value(&filters, "voucher_code"),
            ..RedemptionQuery::default()
        })
    })
}

async fn csv(
    state: &AppState,
    project: ProjectId,
    request: &ExportRequest,
    token: &str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    if token != request.token {
        return Err(ApiError::unauthorized().with_details("wrong export token"));
    }
    let query = queries(request, state.now())?;
    let out = state
        .store(move |store| {
            let mut out = CappedBuffer::default();
            let written = match &query {
                ExportQuery::Vouchers(q) => store.export_vouchers_csv(project, q, &mut out),
                ExportQuery::Redemptions(q) => store.export_redemptions_csv(project, q, &mut out),
            };
            // Over the cap the writer fails; say so rather than the store's
            // I/O error.
            match written {
                Err(_) if out.over => Ok(out),
                Err(e) => Err(e),
                Ok(_) => Ok(out),
            }
        })
        .await?;
    if out.over {
        return Err(ApiError::bad_request(
            "export_too_large",
            format!("the file would exceed {EXPORT_BYTES_MAX} bytes: narrow it with filters"),
        ));
    }
    Ok(([(header::CONTENT_TYPE, content_type)], out.bytes).into_response())
}

/// Most bytes of one downloaded export: the file is built in memory.
pub const EXPORT_BYTES_MAX: usize = 256 << 20;

/// A buffer that refuses to grow past [`EXPORT_BYTES_MAX`].
#[derive(Default)]
struct CappedBuffer {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for CappedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + data.len() > EXPORT_BYTES_MAX {
            self.over = true;
            return Err(std::io::Error::other("export too large"));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
