//! Signed asset tokens: what stands for a voucher in the unauthenticated
//! image URLs `/v1/assets/{qr|barcode}/{token}`, so that a URL seen in a log
//! shows neither the code nor a way to make another voucher's URL.
//!
//! A token is base64url (no padding) of `project id (8 bytes, big endian)
//! || MAC (16 bytes) || voucher id (its ASCII bytes, `v_...`)`, where the
//! MAC is HMAC-SHA256, truncated to 128 bits, under the project's asset
//! secret ([`voucher_core::port::ProjectStore::asset_secret`]) of
//! `"voucher-asset-v1" 0 kind 0 project id voucher id`. The kind is in the
//! MAC, so a QR token is no barcode token. It names the voucher by id, not
//! by code: a deleted voucher's token stays dead even if its code is made
//! again. Tokens are compared in constant time.
//!
//! The secrets are read once per project and kept in [`AssetSecrets`]: a
//! secret never changes once stored.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use voucher_core::port::ProjectId;

use crate::asset_image::AssetKind;
use crate::error::ApiError;
use crate::state::AppState;

/// Bytes of the MAC kept in a token.
const MAC_BYTES: usize = 16;
/// Longest voucher id a token may name (ids are 29 bytes).
const VOUCHER_ID_BYTES_MAX: usize = 64;
/// Longest token, in characters: base64 of the longest payload.
const TOKEN_CHARS_MAX: usize = (8 + MAC_BYTES + VOUCHER_ID_BYTES_MAX).div_ceil(3) * 4;

fn mac(secret: &[u8; 32], kind: AssetKind, project: ProjectId, voucher_id: &str) -> [u8; 16] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"voucher-asset-v1\0");
    mac.update(kind.name().as_bytes());
    mac.update(b"\0");
    mac.update(&project.0.to_be_bytes());
    mac.update(voucher_id.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut truncated = [0u8; MAC_BYTES];
    truncated.copy_from_slice(&full[..MAC_BYTES]);
    truncated
}

/// Makes the tokens of one project's vouchers.
#[derive(Clone)]
pub struct AssetSigner {
    project: ProjectId,
    secret: [u8; 32],
}

impl std::fmt::Debug for AssetSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetSigner")
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl AssetSigner {
    /// A signer for `project` with its asset secret.
    pub fn new(project: ProjectId, secret: [u8; 32]) -> AssetSigner {
        AssetSigner { project, secret }
    }

    /// The token of the voucher `voucher_id`'s `kind` image.
    pub fn token(&self, kind: AssetKind, voucher_id: &str) -> String {
        let mut payload = Vec::with_capacity(8 + MAC_BYTES + voucher_id.len());
        payload.extend_from_slice(&self.project.0.to_be_bytes());
        payload.extend_from_slice(&mac(&self.secret, kind, self.project, voucher_id));
        payload.extend_from_slice(voucher_id.as_bytes());
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Whether `claim` was made by this signer for `kind`, in constant time.
    pub fn verify(&self, kind: AssetKind, claim: &AssetClaim) -> bool {
        let expected = mac(&self.secret, kind, self.project, &claim.voucher_id);
        claim.project == self.project && bool::from(expected.ct_eq(&claim.mac))
    }
}

/// What a token says, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetClaim {
    /// The project it names.
    pub project: ProjectId,
    /// The voucher id it names.
    pub voucher_id: String,
    mac: [u8; MAC_BYTES],
}

impl AssetClaim {
    /// Reads a token's parts; `None` if it has not a token's shape.
    pub fn parse(token: &str) -> Option<AssetClaim> {
        if token.len() > TOKEN_CHARS_MAX {
            return None;
        }
        let payload = URL_SAFE_NO_PAD.decode(token).ok()?;
        if payload.len() <= 8 + MAC_BYTES {
            return None;
        }
        let (project, rest) = payload.split_at(8);
        let (mac, voucher_id) = rest.split_at(MAC_BYTES);
        let voucher_id = std::str::from_utf8(voucher_id).ok()?;
        if !voucher_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return None;
        }
        Some(AssetClaim {
            project: ProjectId(i64::from_be_bytes(project.try_into().ok()?)),
            voucher_id: voucher_id.to_owned(),
            mac: mac.try_into().ok()?,
        })
    }
}

/// Each project's asset secret, read (or created) at its first use.
#[derive(Default)]
pub struct AssetSecrets {
    known: Mutex<HashMap<ProjectId, [u8; 32]>>,
}

impl std::fmt::Debug for AssetSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetSecrets").finish_non_exhaustive()
    }
}

/// The signer of `project`: its secret from the cache, else from the store
/// (which keeps a fresh random one at the project's first use). A missing
/// project is the store's `NotFound`.
pub async fn signer(state: &AppState, project: ProjectId) -> Result<AssetSigner, ApiError> {
    let cached = state
        .asset_secrets()
        .known
        .lock()
        .ok()
        .and_then(|known| known.get(&project).copied());
    if let Some(secret) = cached {
        return Ok(AssetSigner::new(project, secret));
    }
    let mut candidate = [0u8; 32];
    getrandom::fill(&mut candidate).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    })?;
    let secret = state
        .store(move |store| store.asset_secret(project, candidate))
        .await?;
    if let Ok(mut known) = state.asset_secrets().known.lock() {
        known.insert(project, secret);
    }
    Ok(AssetSigner::new(project, secret))
}

/// Where a project's voucher images are: the server's public URL (empty:
/// paths only) and the project's signer.
#[derive(Debug, Clone)]
pub struct AssetLinks {
    base: String,
    signer: AssetSigner,
}

impl AssetLinks {
    /// Links under `base` (no trailing slash; empty for paths) signed by
    /// `signer`.
    pub fn new(base: &str, signer: AssetSigner) -> AssetLinks {
        AssetLinks {
            base: base.trim_end_matches('/').to_owned(),
            signer,
        }
    }

    /// The voucher's `assets`: `{qr: {id, url}, barcode: {id, url}}`, the
    /// id being the token and the URL `<base>/v1/assets/<kind>/<token>`.
    pub fn voucher_assets(&self, voucher_id: &str) -> Json {
        let one = |kind: AssetKind| {
            let token = self.signer.token(kind, voucher_id);
            let url = format!("{}/v1/assets/{}/{token}", self.base, kind.name());
            json!({"id": token, "url": url})
        };
        json!({"qr": one(AssetKind::Qr), "barcode": one(AssetKind::Barcode)})
    }
}

/// The asset links of `project`'s vouchers on this server.
pub async fn links(state: &AppState, project: ProjectId) -> Result<AssetLinks, ApiError> {
    let signer = signer(state, project).await?;
    Ok(AssetLinks::new(
        state.config.public_url.as_deref().unwrap_or(""),
        signer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_kind_project_and_secret() {
        let signer = AssetSigner::new(ProjectId(7), [1; 32]);
        let token = signer.token(AssetKind::Qr, "v_0123abc");
        assert!(!token.contains("0123abc"));
        let claim = AssetClaim::parse(&token).unwrap();
        assert_eq!(claim.project, ProjectId(7));
        assert_eq!(claim.voucher_id, "v_0123abc");
        assert!(signer.verify(AssetKind::Qr, &claim));
        assert!(!signer.verify(AssetKind::Barcode, &claim));
        assert!(!AssetSigner::new(ProjectId(7), [2; 32]).verify(AssetKind::Qr, &claim));
        assert!(!AssetSigner::new(ProjectId(8), [1; 32]).verify(AssetKind::Qr, &claim));
        let other = AssetClaim {
            voucher_id: "v_0123abd".to_owned(),
            ..claim
        };
        assert!(!signer.verify(AssetKind::Qr, &other));
    }

    proptest::proptest! {
        /// parse(token(x)) == x, and no single flipped bit of a token makes
        /// another token that verifies.
        #[test]
        fn tokens_round_trip_and_resist_bit_flips(
            project in proptest::prelude::any::<i64>(),
            voucher_id in "v_[0-9a-f]{27}",
            secret in proptest::prelude::any::<[u8; 32]>(),
            barcode in proptest::prelude::any::<bool>(),
            flip in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let kind = if barcode { AssetKind::Barcode } else { AssetKind::Qr };
            let signer = AssetSigner::new(ProjectId(project), secret);
            let token = signer.token(kind, &voucher_id);
            let claim = AssetClaim::parse(&token).unwrap();
            proptest::prop_assert_eq!(claim.project, ProjectId(project));
            proptest::prop_assert_eq!(&claim.voucher_id, &voucher_id);
            proptest::prop_assert!(signer.verify(kind, &claim));
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            let at = flip.index(bytes.len());
            bytes[at] ^= 1 << bit;
            let forged = URL_SAFE_NO_PAD.encode(bytes);
            if let Some(claim) = AssetClaim::parse(&forged) {
                proptest::prop_assert!(!signer.verify(kind, &claim));
            }
        }
    }

    #[test]
    fn malformed_tokens_are_no_claims() {
        for token in ["", "AAAA", "!!!", &"A".repeat(TOKEN_CHARS_MAX + 4)] {
            assert_eq!(AssetClaim::parse(token), None, "{token}");
        }
        let mut payload = vec![0u8; 8 + MAC_BYTES];
        payload.extend_from_slice(b"v_<script>");
        assert_eq!(AssetClaim::parse(&URL_SAFE_NO_PAD.encode(payload)), None);
    }
}
