//! `/v1/webhooks`: a project's webhook endpoints (server keys only). The
//! secret is chosen by the caller or generated, and shown on creation only;
//! an endpoint read by id shows its latest delivery attempts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as Json_};
use voucher_core::limits::{WEBHOOK_SECRET_LEN_MAX, WEBHOOK_URL_LEN_MAX};
use voucher_core::port::{AttemptRecord, WebhookRecord, WebhookSpec};
use voucher_core::webhook::EventType;

use crate::auth::ServerKey;
use crate::error::ApiError;
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::{self, JsonBody};

/// The routes.
pub fn router() -> Routes {
    Routes::new()
        .route("/v1/webhooks", get(list).post(create))
        .route("/v1/webhooks/", get(list).post(create))
        .route("/v1/webhooks/{id}", get(read).delete(remove))
}

/// `POST /v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    events: Vec<String>,
    secret: Option<String>,
}

/// The spec of a request body, checked: an absolute `http(s)` URL with a
/// host, known event types (at least one; repeats folded), a secret of
/// printable ASCII.
pub fn parse_spec(
    url: &str,
    events: &[String],
    secret: Option<String>,
) -> Result<WebhookSpec, String> {
    let url = url.trim();
    if url.len() > WEBHOOK_URL_LEN_MAX {
        return Err(format!("url is longer than {WEBHOOK_URL_LEN_MAX} bytes"));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| "url must start with http:// or https://".to_owned())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url must name a host and contain no spaces".to_owned());
    }
    if events.is_empty() {
        return Err("events must name at least one event type".to_owned());
    }
    let mut types = Vec::new();
    for name in events {
        let t = EventType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown event type {name:?}; known: {}", known.join(", "))
        })?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let secret = match secret {
        Some(s) => {
            if s.is_empty() || s.len() > WEBHOOK_SECRET_LEN_MAX {
                return Err(format!(
                    "secret must be 1 to {WEBHOOK_SECRET_LEN_MAX} characters"
                ));
            }
            if !s.chars().all(|c| c.is_ascii_graphic()) {
                return Err("secret must be printable ASCII without spaces".to_owned());
            }
            s
        }
        None => new_secret()?,
    };
    Ok(WebhookSpec {
        url: url.to_owned(),
        events: types,
        secret,
    })
}

/// 32 random bytes as hex.
fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The wire object of an endpoint; the secret only when `with_secret`.
pub fn webhook_json(record: &WebhookRecord, with_secret: bool) -> Json_ {
    let events: Vec<&str> = record.spec.events.iter().map(|t| t.as_str()).collect();
    let mut v = json!({
        "id": record.id,
        "object": "webhook",
        "url": record.spec.url,
        "events": events,
        "created_at": wire::timestamp(record.created_at),
    });
    if with_secret {
        v["secret"] = json!(record.spec.secret);
    }
    v
}

fn attempt_json(a: &AttemptRecord) -> Json_ {
    json!({
        "event_id": a.event_id,
        "event_type": a.event_type.as_str(),
        "attempt": a.attempt,
        "attempted_at": wire::timestamp(a.attempted_at),
        "status": a.status,
        "error": a.error,
        "duration_ms": a.duration_ms,
        "result": if a.error.is_none() { "DELIVERED" } else { "FAILED" },
    })
}

async fn create(
    State(state): State<AppState>,
    key: ServerKey,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<Json<Json_>, ApiError> {
    let spec =
        parse_spec(&body.url, &body.events, body.secret).map_err(ApiError::invalid_payload)?;
    let project = key.project;
    let now = state.now();
    let record = state
        .store(move |s| s.add_webhook(project, &spec, now))
        .await?;
    Ok(Json(webhook_json(&record, true)))
}

async fn list(State(state): State<AppState>, key: ServerKey) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let records = state.store(move |s| s.webhooks(project)).await?;
    let total = records.len() as u64;
    let items = records.iter().map(|r| webhook_json(r, false)).collect();
    Ok(Json(json!({
        "object": "list",
        "data_ref": "data",
        "data": Json_::Array(items),
        "total": total,
    })))
}

async fn read(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let project = key.project;
    let (record, attempts) = state.store(move |s| s.webhook(project, &id)).await?;
    let mut v = webhook_json(&record, false);
    v["attempts"] = Json_::Array(attempts.iter().map(attempt_json).collect());
    Ok(Json(v))
}

async fn remove(
    State(state): State<AppState>,
    key: ServerKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let project = key.project;
    let now = state.now();
    state
        .store(move |s| s.remove_webhook(project, &id, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, events: &[&str], secret: Option<&str>, ok: bool) {
        let events: Vec<String> = events.iter().map(|s| (*s).to_owned()).collect();
        let got = parse_spec(url, &events, secret.map(str::to_owned));
        assert_eq!(got.is_ok(), ok, "{url} {events:?} {secret:?}: {got:?}");
    }

    #[test]
    fn specs() {
        check(
            "http://127.0.0.1:9/hook",
            &["redemption.succeeded"],
            None,
            true,
        );
        check(
            "https://shop.example/h?x=1",
            &["voucher.created"],
            Some("s3cret"),
            true,
        );
        check("ftp://shop.example/h", &["voucher.created"], None, false);
        check("shop.example/h", &["voucher.created"], None, false);
        check("http:///h", &["voucher.created"], None, false);
        check("http://a b/", &["voucher.created"], None, false);
        check("http://a/", &[], None, false);
        check("http://a/", &["voucher.updated"], None, false);
        check("http://a/", &["voucher.created"], Some(""), false);
        check("http://a/", &["voucher.created"], Some("with space"), false);
        let spec = parse_spec(
            "http://a/",
            &["voucher.created".to_owned(), "voucher.created".to_owned()],
            None,
        )
        .unwrap();
        assert_eq!(spec.events, [EventType::VoucherCreated]);
        assert_eq!(spec.secret.len(), 64);
    }
}
