//! The one error type of the HTTP API and its JSON body, the wire's
//! `{code, key, message, details, request_id, resource_id, resource_type,
//! error}`. Internal details (a database failure) are logged, never sent:
//! the client gets a stable key and a generic message.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use voucher_core::decision::Refusal;
use voucher_core::port::StoreError;

use crate::lockout::CodeOutcome;

tokio::task_local! {
    /// The id of the request being served (`v-<hex>`), set by the request-id
    /// middleware so that every error body carries it.
    pub static REQUEST_ID: String;
}

/// The current request's id, if inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An API error: a status, a stable key and what to tell the client. Boxed,
/// so that `Result<_, ApiError>` stays small on the happy path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(Box<ErrorParts>);

/// The parts of an [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorParts {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable key (`not_found`, `voucher_expired`, ...).
    pub key: String,
    /// A short human message.
    pub message: String,
    /// What exactly was wrong.
    pub details: Option<String>,
    /// The id of the object concerned (a failed redemption's `rf_...`).
    pub resource_id: Option<String>,
    /// Its type (`voucher`, `redemption`, ...).
    pub resource_type: Option<String>,
    /// A validation rule's own error message.
    pub rule_message: Option<String>,
    /// Headers the answer carries besides the body (`Retry-After`, ...).
    pub headers: HeaderMap,
    /// What the error says about the request's codes, for the lockout
    /// (an unknown code); a response extension, never sent.
    pub code_outcome: Option<CodeOutcome>,
}

#[derive(Serialize)]
struct RuleMessage<'a> {
    message: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    key: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RuleMessage<'a>>,
}

impl ApiError {
    /// An error with a status, key and message.
    pub fn new(status: StatusCode, key: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorParts {
            status,
            key: key.into(),
            message: message.into(),
            details: None,
            resource_id: None,
            resource_type: None,
            rule_message: None,
            headers: HeaderMap::new(),
            code_outcome: None,
        }))
    }

    /// 400 with a key.
    pub fn bad_request(key: impl Into<String>, details: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, key, "Invalid request").with_details(details)
    }

    /// 400 `invalid_payload`.
    pub fn invalid_payload(details: impl Into<String>) -> ApiError {
        ApiError::bad_request("invalid_payload", details)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
    }

    /// 404 `not_found` for a resource.
    pub fn not_found(resource: &str, id: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Resource not found")
            .with_details(format!("Cannot find {resource} with id {id}"))
            .with_resource(id, resource)
    }

    /// Adds details.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> ApiError {
        self.details = Some(details.into());
        self
    }

    /// Adds the resource concerned.
    #[must_use]
    pub fn with_resource(mut self, id: impl Into<String>, kind: impl Into<String>) -> ApiError {
        self.resource_id = Some(id.into());
        self.resource_type = Some(kind.into());
        self
    }

    /// Adds a header to the answer; a value that is not a valid header
    /// value is left out.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl ToString) -> ApiError {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.headers.insert(name, value);
        }
        self
    }

    /// Says what the error means for the request's codes (the lockout
    /// counts unknown codes).
    #[must_use]
    pub fn with_code_outcome(mut self, outcome: CodeOutcome) -> ApiError {
        self.code_outcome = Some(outcome);
        self
    }

    /// A refusal of the engine as a 400 with its stable key.
    pub fn refused(refusal: &Refusal, failure_id: Option<&str>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            refusal.reason.key(),
            refusal.reason.message(),
        );
        error.details = refusal.details.clone();
        error.rule_message = refusal.rule_message.clone();
        if let Some(id) = failure_id {
            error = error.with_resource(id, "redemption");
        }
        error
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let body = Body {
            code: self.status.as_u16(),
            key: &self.key,
            message: &self.message,
            details: self.details.as_deref(),
            request_id: current_request_id(),
            resource_id: self.resource_id.as_deref(),
            resource_type: self.resource_type.as_deref(),
            error: self
                .rule_message
                .as_deref()
                .map(|message| RuleMessage { message }),
        };
        serde_json::to_value(body).unwrap_or(serde_json::Value::Null)
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorParts;
    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorParts {
        &mut self.0
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        // The key only: details may name a code.
        tracing::debug!(status = self.status.as_u16(), key = %self.key, "error answer");
        let headers = std::mem::take(&mut self.headers);
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.headers_mut().extend(headers);
        if let Some(outcome) = self.code_outcome {
            response.extensions_mut().insert(outcome);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { resource, id } => ApiError::not_found(resource, &id),
            StoreError::Duplicate { resource, id } => ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_found",
                "Duplicated resource found",
            )
            .with_details(format!("Duplicated {resource} exists with id {id}"))
            .with_resource(id, resource),
            StoreError::Refused {
                refusal,
                failure_id,
            } => ApiError::refused(&refusal, failure_id.as_deref()),
            StoreError::Invalid { key, message } => ApiError::bad_request(key, message),
            StoreError::AlreadyRolledBack => ApiError::new(
                StatusCode::BAD_REQUEST,
                "already_rolled_back",
                "Redemption already rolled back",
            ),
            StoreError::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused with a different request",
            ),
            StoreError::IdempotencyInFlight => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_request_in_flight",
                "A request with this idempotency key is in progress",
            ),
            StoreError::Busy | StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "Service unavailable",
                )
            }
            StoreError::Corrupt(_)
            | StoreError::NewerSchema { .. }
            | StoreError::DiskFull
            | StoreError::Io(_) => {
                tracing::error!(error = %e, "store error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal server error",
                )
            }
        }
    }
}
