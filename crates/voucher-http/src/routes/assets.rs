//! A voucher's images: `GET /v1/assets/qr/{token}` and `GET
//! /v1/assets/barcode/{token}`, `?format=png` (the default) or `svg`. No key:
//! the signed token ([`crate::asset_token`]) is the credential and names the
//! project and the voucher; the voucher's `assets.qr.url` and
//! `assets.barcode.url` give it.
//!
//! A token that is malformed, forged, of the other kind, or names a voucher
//! that no longer exists is 404 `not_found`, one answer for all, so that it
//! tells nothing; an unknown `format` is 400 `invalid_query_params`; a
//! barcode of a code with characters Code 128 has not (outside printable
//! ASCII) is 422 `invalid_code`. An image never changes while its voucher
//! exists (codes are not edited), so it is cached for a day as `immutable`;
//! a deleted voucher's image may live that long in caches.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use voucher_core::port::StoreError;

use crate::asset_image::{self, AssetKind, ImageFormat, RenderImageError};
use crate::asset_token::{self, AssetClaim};
use crate::error::ApiError;
use crate::routes::Routes;
use crate::state::AppState;
use crate::wire::WireQuery;

/// How long clients and proxies may keep an image.
const CACHE_CONTROL: &str = "public, max-age=86400, immutable";

/// The routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .route(
            "/v1/assets/qr/{token}",
            get(
                |s: State<AppState>, t: Path<String>, q: WireQuery<FormatQuery>| {
                    image(s, t, q, AssetKind::Qr)
                },
            ),
        )
        .route(
            "/v1/assets/barcode/{token}",
            get(
                |s: State<AppState>, t: Path<String>, q: WireQuery<FormatQuery>| {
                    image(s, t, q, AssetKind::Barcode)
                },
            ),
        )
}

/// The query of an image.
#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    /// `png` or `svg`.
    format: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "Resource not found")
        .with_details("Cannot find an asset with this token")
}

async fn image(
    State(state): State<AppState>,
    Path(token): Path<String>,
    WireQuery(query): WireQuery<FormatQuery>,
    kind: AssetKind,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref() {
        None => ImageFormat::Png,
        Some(name) => ImageFormat::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query_params",
                format!("format must be png or svg, not {name:?}"),
            )
        })?,
    };
    let claim = AssetClaim::parse(&token).ok_or_else(not_found)?;
    let signer = match asset_token::signer(&state, claim.project).await {
        Ok(signer) => signer,
        Err(e) if e.status == StatusCode::NOT_FOUND => return Err(not_found()),
        Err(e) => return Err(e),
    };
    if !signer.verify(kind, &claim) {
        return Err(not_found());
    }
    let (project, voucher_id) = (claim.project, claim.voucher_id.clone());
    let voucher = state
        .store(move |store| match store.voucher(project, &voucher_id) {
            Err(StoreError::NotFound { .. }) => Ok(None),
            other => other.map(Some),
        })
        .await?;
    // The lookup takes a code or an id: make sure it found the id.
    let code = match voucher {
        Some(voucher) if voucher.id == claim.voucher_id => voucher.code.as_str().to_owned(),
        _ => return Err(not_found()),
    };
    let bytes = tokio::task::spawn_blocking(move || asset_image::render(kind, &code, format))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            )
        })?
        .map_err(|e| match e {
            RenderImageError::Png(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            ),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_code",
                "This code has no such image",
            )
            .with_details(other.to_string()),
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
