//! Authentication: server keys (`X-App-Id` + `X-App-Token`) on `/v1`,
//! client keys (`X-Client-Application-Id` + `X-Client-Token` + an allowed
//! `Origin`) on `/client/v1`. A wrong or missing key, or a client key on a
//! server endpoint, is 401 `unauthorized`. The key decides the project:
//! every call a handler makes names that project and nothing else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use voucher_core::port::{ClientPermission, KeyKind, KeyRecord, ProjectId, ProjectRecord};

use crate::error::ApiError;
use crate::state::AppState;

/// A request authenticated with a server key.
#[derive(Debug, Clone)]
pub struct ServerKey {
    /// The key's project.
    pub project: ProjectId,
    /// The key.
    pub key: KeyRecord,
    /// The key's project, read with the key.
    pub record: ProjectRecord,
}

/// A request authenticated with a client key from an allowed origin.
#[derive(Debug, Clone)]
pub struct ClientKey {
    /// The key's project.
    pub project: ProjectId,
    /// The key.
    pub key: KeyRecord,
    /// The key's project, read with the key.
    pub record: ProjectRecord,
}

impl ClientKey {
    /// Errors with 401 unless the key has `permission`.
    pub fn require(&self, permission: ClientPermission) -> Result<(), ApiError> {
        if self.key.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(ApiError::unauthorized().with_details("this client key may not do that"))
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

async fn authenticate(
    state: &AppState,
    app_id: Option<&str>,
    secret: Option<&str>,
    kind: KeyKind,
) -> Result<(KeyRecord, ProjectRecord), ApiError> {
    let (Some(app_id), Some(secret)) = (app_id, secret) else {
        return Err(ApiError::unauthorized());
    };
    let found = state.store_now(|store| store.authenticate_project(app_id, secret))?;
    match found {
        Some((key, project)) if key.kind == kind => Ok((key, project)),
        _ => Err(ApiError::unauthorized()),
    }
}

/// The project of the key a request to `path` carries, authenticated as
/// the extractors do: a server key on `/v1`, a client key from an allowed
/// origin on `/client/v1`. `None` for any other path or a key the
/// extractors would refuse (the handler then answers as it always does).
pub async fn project_of(state: &AppState, path: &str, headers: &HeaderMap) -> Option<ProjectId> {
    let (id, secret, kind) = if path.starts_with("/v1/") {
        ("x-app-id", "x-app-token", KeyKind::Server)
    } else if path.starts_with("/client/v1/") {
        ("x-client-application-id", "x-client-token", KeyKind::Client)
    } else {
        return None;
    };
    let (key, _) = authenticate(state, header(headers, id), header(headers, secret), kind)
        .await
        .ok()?;
    if kind == KeyKind::Client && !origin_allowed(&key, header(headers, "origin")) {
        return None;
    }
    Some(key.project)
}

impl FromRequestParts<AppState> for ServerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (key, record) = authenticate(
            state,
            header(&parts.headers, "x-app-id"),
            header(&parts.headers, "x-app-token"),
            KeyKind::Server,
        )
        .await?;
        // Charged once the key is known, so a wrong secret cannot spend it.
        crate::rate_limit::charge_server_key(state, &key.app_id, &parts.extensions)?;
        Ok(ServerKey {
            project: key.project,
            key,
            record,
        })
    }
}

/// A server key as a request presents it, not checked yet: for a handler
/// that authenticates in the same store call as its work
/// ([`CheckoutStore::validate_with_key`](voucher_core::port::CheckoutStore::validate_with_key)),
/// one read of the database instead of two. [`ServerCredentials::admit`]
/// then answers as the [`ServerKey`] extractor would have.
#[derive(Debug, Clone)]
pub struct ServerCredentials {
    app_id: Option<String>,
    secret: Option<String>,
    budget: Option<crate::rate_limit::KeyBudget>,
}

impl ServerCredentials {
    /// The application id and secret (empty when a header is missing: no
    /// key matches them).
    pub fn pair(&self) -> (&str, &str) {
        (
            self.app_id.as_deref().unwrap_or_default(),
            self.secret.as_deref().unwrap_or_default(),
        )
    }

    /// What [`ServerKey`] decides of the key the store `found` for
    /// [`ServerCredentials::pair`]: 401 for none or a client key, 429 over
    /// the key's rate limit (charged here, once the key is known).
    pub fn admit(
        &self,
        state: &AppState,
        found: Option<(&KeyRecord, &ProjectRecord)>,
    ) -> Result<(), ApiError> {
        match found {
            Some((key, _))
                if self.app_id.is_some()
                    && self.secret.is_some()
                    && key.kind == KeyKind::Server =>
            {
                crate::rate_limit::charge_key_budget(state, &key.app_id, self.budget.as_ref())
            }
            _ => Err(ApiError::unauthorized()),
        }
    }
}

impl FromRequestParts<AppState> for ServerCredentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(ServerCredentials {
            app_id: header(&parts.headers, "x-app-id").map(str::to_owned),
            secret: header(&parts.headers, "x-app-token").map(str::to_owned),
            budget: parts.extensions.get().cloned(),
        })
    }
}

/// Whether a client key accepts `origin`: any origin when it lists none.
///
/// A request without an `Origin` is accepted: browsers always send one on
/// the cross-origin calls the list guards, and a caller outside a browser
/// could send any origin it likes, so the header proves nothing there
/// (the Python SDK's client-side qualifications call sends none).
pub fn origin_allowed(key: &KeyRecord, origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    key.origins.is_empty()
        || key
            .origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
}

impl FromRequestParts<AppState> for ClientKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (key, record) = authenticate(
            state,
            header(&parts.headers, "x-client-application-id"),
            header(&parts.headers, "x-client-token"),
            KeyKind::Client,
        )
        .await?;
        if !origin_allowed(&key, header(&parts.headers, "origin")) {
            return Err(ApiError::unauthorized().with_details("origin not allowed"));
        }
        Ok(ClientKey {
            project: key.project,
            key,
            record,
        })
    }
}
