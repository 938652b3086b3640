//! Async actions (`GET /v1/async-actions/{id}`), and the helper that runs
//! bulk work (imports, code generation) in the background as one: the
//! request answers 202 `{async_action_id}` at once, the action goes
//! `ENQUEUED` → `IN_PROGRESS` → `DONE` (or `FAILED`) with its
//! `result {message, done_count, failed_count, failed[{code, row, reason}]}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value as Json_};
use voucher_core::port::{ActionRecord, ActionStatus, ImportReport, ProjectId, StoreError};

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::routes::Routes;
use crate::state::{AppState, Store};
use crate::wire;

/// The kind of the actions that stand for exports (not shown as async
/// actions: their wire object is the export).
pub(crate) const EXPORT_KIND: &str = "EXPORT";

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/async-actions/{id}", get(get_action))
        .route("/v1/async-actions/{id}/", get(get_action))
}

fn status_name(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Enqueued => "ENQUEUED",
        ActionStatus::InProgress => "IN_PROGRESS",
        ActionStatus::Done => "DONE",
        ActionStatus::Failed => "FAILED",
    }
}

/// The wire's async action object (`object: "async_action"`).
pub(crate) fn action_json(action: &ActionRecord) -> Json_ {
    let failed: Vec<Json_> = action
        .failed
        .iter()
        .map(|f| json!({"code": f.code, "row": f.row, "reason": f.reason}))
        .collect();
    let processing_time = (action.updated_at - action.created_at)
        .num_milliseconds()
        .max(0);
    json!({
        "id": action.id,
        "type": action.kind,
        "status": status_name(action.status),
        "operation_status": match action.status {
            ActionStatus::Done => "SUCCESS",
            ActionStatus::Failed => "FAILED",
            ActionStatus::Enqueued | ActionStatus::InProgress => "UNKNOWN",
        },
        "progress": action.progress,
        "processing_time": processing_time,
        "created_at": wire::timestamp(action.created_at),
        "updated_at": wire::timestamp(action.updated_at),
        "result": {
            "message": action.message,
            "done_count": action.done_count,
            "failed_count": action.failed.len(),
            "failed": failed,
        },
        "object": "async_action",
    })
}

async fn get_action(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let lookup = id.clone();
    let action = state
        .store(move |store| store.action(project, &lookup))
        .await?;
    if action.kind == EXPORT_KIND {
        return Err(ApiError::not_found("async_action", &id));
    }
    Ok(Json(action_json(&action)))
}

/// The 202 answer of a request that started an async action.
pub(crate) fn accepted(action_id: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "async_action_id": action_id })),
    )
        .into_response()
}

fn finish(action: &mut ActionRecord, report: ImportReport) {
    action.progress = 100;
    action.status = ActionStatus::Done;
    action.done_count = report.done_count;
    action.message = Some(format!(
        "{} done, {} failed",
        report.done_count, report.failed_count
    ));
    action.failed = report.failed;
}

/// Creates an async action of `kind` and runs `work` in the background on
/// the store's blocking pool; returns the action's id at once. The action
/// records the report, or the error as `FAILED`.
pub(crate) async fn spawn_action<F>(
    state: &AppState,
    project: ProjectId,
    kind: &'static str,
    work: F,
) -> Result<String, ApiError>
where
    F: FnOnce(&dyn Store) -> Result<ImportReport, StoreError> + Send + 'static,
{
    let now = state.now();
    let action = state
        .store(move |store| store.create_action(project, kind, now))
        .await?;
    let id = action.id.clone();
    let state = state.clone();
    tokio::spawn(async move {
        let mut action = action;
        action.status = ActionStatus::InProgress;
        let started = action.clone();
        let now = state.now();
        // Best effort: the final update below is what matters.
        let _ = state
            .store(move |store| store.update_action(project, &started, now))
            .await;
        match state.store(work).await {
            Ok(report) => finish(&mut action, report),
            Err(error) => {
                action.progress = 100;
                action.status = ActionStatus::Failed;
                action.message = Some(error.details.clone().unwrap_or(error.message.clone()));
            }
        }
        let now = state.now();
        if let Err(e) = state
            .store(move |store| store.update_action(project, &action, now))
            .await
        {
            tracing::error!(key = %e.key, "async action: could not record its end");
        }
    });
    Ok(id)
}

/// Creates an async action that is already done (work done synchronously,
/// such as a campaign's deletion) and returns its id.
pub(crate) async fn done_action(
    state: &AppState,
    project: ProjectId,
    kind: &'static str,
    report: ImportReport,
) -> Result<String, ApiError> {
    let now = state.now();
    let mut action = state
        .store(move |store| store.create_action(project, kind, now))
        .await?;
    finish(&mut action, report);
    let id = action.id.clone();
    state
        .store(move |store| store.update_action(project, &action, now))
        .await?;
    Ok(id)
}
