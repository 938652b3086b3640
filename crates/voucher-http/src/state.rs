//! What every handler shares: the store (behind the port traits), the clock,
//! and the server's settings. Store calls block (SQLite), so handlers run
//! them on tokio's blocking pool through [`AppState::store`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use voucher_core::port::{
    BulkStore, CampaignQueries, CampaignStore, CheckoutStore, CustomerStore, GiftStore,
    IdempotencyStore, MaintenanceStore, ProjectStore, PublicationStore, RuleStore, VoucherQueries,
    VoucherStore,
};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::rate_limit::{ClientLimiter, RateLimit};

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
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    clock: Clock,
    client_limiter: Option<Arc<ClientLimiter>>,
    metrics: Arc<Metrics>,
    /// The server's settings.
    pub config: Arc<Config>,
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
            metrics: Arc::new(Metrics::with_store(Arc::clone(&store))),
            store,
            clock,
            client_limiter: config
                .client_rate_limit
                .map(|limit| Arc::new(ClientLimiter::new(limit))),
            config: Arc::new(config),
        }
    }

    /// The per-client-IP limiter of `/client/v1/...`, if limited.
    pub(crate) fn client_limiter(&self) -> Option<&ClientLimiter> {
        self.client_limiter.as_deref()
    }

    /// The server's metrics, served at `GET /metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Now, as the server's clock says.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Runs a blocking store call on the blocking pool.
    pub async fn store<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, voucher_core::port::StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal server error",
                )
            })?
            .map_err(ApiError::from)
    }
}
