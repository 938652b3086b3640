//! What every handler shares: the store (behind the port traits), the clock,
//! the server's settings, and the limiters they configure. Store calls block (SQLite), so handlers run
//! them on tokio's blocking pool through [`AppState::store`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use voucher_core::port::{
    BulkStore, CampaignQueries, CampaignStore, CheckoutRequest, CheckoutStore, CustomerStore,
    GiftStore, IdempotencyStore, MaintenanceStore, ProjectId, ProjectStore, PublicationStore,
    RedemptionRecord, RuleStore, VoucherQueries, VoucherStore, WebhookStore,
};

use crate::asset_token::AssetSecrets;
use crate::client_ip::TrustedProxies;
use crate::error::ApiError;
use crate::lockout::{Lockout, LockoutPolicy};
use crate::metrics::Metrics;
use crate::rate_limit::{ClientLimiter, KeyLimiter, RateLimit};
use crate::webhooks::WebhookConfig;

/// Every store port the API needs, as one object-safe trait.
pub trait Store:
    ProjectStore
    + CampaignStore
    + CampaignQueries
    + VoucherStore
    + VoucherQueries
    + GiftStore
    + CheckoutStore
    + CustomerStore
    + PublicationStore
    + RuleStore
    + IdempotencyStore
    + MaintenanceStore
    + BulkStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: ProjectStore
        + CampaignStore
        + CampaignQueries
        + VoucherStore
        + VoucherQueries
        + GiftStore
        + CheckoutStore
        + CustomerStore
        + PublicationStore
        + RuleStore
        + IdempotencyStore
        + MaintenanceStore
        + BulkStore
        + WebhookStore
        + Send
        + Sync
        + 'static
{
}

/// The clock: the only place the server reads the time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most bytes of a JSON body.
    pub json_body_max: usize,
    /// Most bytes of a CSV upload.
    pub csv_body_max: usize,
    /// Budget of each client IP on `/client/v1/...`; `None` = unlimited.
    pub client_rate_limit: Option<RateLimit>,
    /// The server's address as clients reach it (`https://vouchers.shop.example`,
    /// no trailing slash), the start of the vouchers' asset URLs; `None`:
    /// those URLs are paths (`/v1/assets/qr/...`). `voucher serve` always
    /// sets it, from `--public-url` or its listen address.
    pub public_url: Option<String>,
    /// When a client IP guessing codes on `/client/v1/...` is locked out;
    /// `None` = never.
    pub lockout: Option<LockoutPolicy>,
    /// Budget of each server key (by application id); `None` = unlimited.
    pub key_rate_limit: Option<RateLimit>,
    /// The reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The webhook delivery worker's settings ([`crate::webhooks`]).
    pub webhooks: WebhookConfig,
}

impl Config {
    /// The default budget of a client IP: 50 requests per 10 s.
    pub fn default_client_rate_limit() -> RateLimit {
        RateLimit::new(50, std::time::Duration::from_secs(10))
            .expect("50 per 10 s is a valid limit")
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            json_body_max: 1 << 20,
            csv_body_max: 10 << 20,
            client_rate_limit: Some(Config::default_client_rate_limit()),
            public_url: None,
            lockout: Some(LockoutPolicy::default_policy()),
            key_rate_limit: None,
            trusted_proxies: TrustedProxies::none(),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// Shared by every handler. A clone (every middleware layer makes some for
/// each request) is two reference counts, whatever the state holds.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The server's settings.
    pub config: Arc<Config>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Clock,
    client_limiter: Option<ClientLimiter>,
    key_limiter: Option<KeyLimiter>,
    lockout: Option<Lockout>,
    metrics: Arc<Metrics>,
    asset_secrets: AssetSecrets,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A state over `store`, reading time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, config: Config) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                metrics: Arc::new(Metrics::with_store(Arc::clone(&store))),
                store,
                clock,
                client_limiter: config.client_rate_limit.map(ClientLimiter::new),
                key_limiter: config.key_rate_limit.map(KeyLimiter::new),
                lockout: config.lockout.map(Lockout::new),
                asset_secrets: AssetSecrets::default(),
            }),
            config: Arc::new(config),
        }
    }

    /// The per-client-IP limiter of `/client/v1/...`, if limited.
    pub(crate) fn client_limiter(&self) -> Option<&ClientLimiter> {
        self.inner.client_limiter.as_ref()
    }

    /// The per-server-key limiter, if server keys are limited.
    pub(crate) fn key_limiter(&self) -> Option<&KeyLimiter> {
        self.inner.key_limiter.as_ref()
    }

    /// The lockout of code guessers, if enabled.
    pub fn lockout(&self) -> Option<&Lockout> {
        self.inner.lockout.as_ref()
    }

    /// The server's metrics, served at `GET /metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The projects' asset secrets read so far.
    pub(crate) fn asset_secrets(&self) -> &AssetSecrets {
        &self.inner.asset_secrets
    }

    /// Now, as the server's clock says.
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// Runs a store call on this thread, for the short indexed reads of
    /// every checkout request (its key, its project, a validation): the
    /// hand-off to the blocking pool and back that [`AppState::store`]
    /// makes costs more CPU than such a read, and a WAL reader never waits
    /// for the writer. Never for a write (the writer's queue could hold the
    /// thread), a list, or anything else that may scan.
    pub fn store_now<T>(
        &self,
        call: impl FnOnce(&dyn Store) -> Result<T, voucher_core::port::StoreError>,
    ) -> Result<T, ApiError> {
        call(self.inner.store.as_ref()).map_err(ApiError::from)
    }

    /// A redemption by the store ([`CheckoutStore::redeem_then`]), awaited
    /// without holding a thread while its batch commits, and counted in
    /// the metrics' redemptions by the store's own answer.
    pub async fn redeem(
        &self,
        project: ProjectId,
        request: CheckoutRequest,
    ) -> Result<RedemptionRecord, ApiError> {
        let (sender, answer) = tokio::sync::oneshot::channel();
        self.inner.store.redeem_then(
            project,
            request,
            Box::new(move |answer| {
                // The caller may be gone (a closed connection): the
                // redemption stands, and nobody needs telling.
                let _ = sender.send(answer);
            }),
        );
        let answer = answer.await.map_err(|_| internal_error())?;
        self.inner.metrics.count_redemption(&answer);
        answer.map_err(ApiError::from)
    }

    /// Runs a blocking store call on the blocking pool.
    pub async fn store<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, voucher_core::port::StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|_| internal_error())?
            .map_err(ApiError::from)
    }
}

/// A store call that never answered (its thread panicked).
fn internal_error() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal server error",
    )
}
