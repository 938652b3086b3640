//! `GET /metrics`: what the server is doing, in the Prometheus text format
//! (OpenMetrics), for an operator's scraper. Like `/health`, it takes no key:
//! it is served to the operator's network, and carries no project's data.
//!
//! Codes are bearer secrets, so no label ever carries one: requests are
//! labelled by axum's route template (`/v1/vouchers/{code}`), never by the
//! raw path, and requests no route matched share the route `unmatched`.
//! Redemptions are labelled by result and the refusal's stable reason key.
//!
//! Webhooks: `webhook_backlog` (deliveries pending, and events not yet
//! matched with endpoints, as the delivery worker last saw them) and
//! `webhook_deliveries_total{result}` (attempts: `delivered`, `retry`,
//! `given_up`).
//!
//! The store's write batches (`writer_batch_size`: how many writes shared
//! one commit) are read from the store at each scrape.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{MatchedPath, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use voucher_core::port::{
    AttemptOutcome, BatchSizes, RedemptionRecord, RedemptionResult, StoreError,
};

use crate::state::{AppState, Store};

/// The content type of the OpenMetrics text that `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// Labels of `http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Route,
    method: &'static str,
    status: u16,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
    method: &'static str,
}

/// A route label: the router's own template (borrowed from the fixed set
/// [`crate::route_paths`] lists, so that counting a request allocates
/// nothing), or a copy of a template outside that set.
type Route = Cow<'static, str>;

/// The route label of a request: its template, or [`UNMATCHED`].
fn route_label(matched: Option<&MatchedPath>) -> Route {
    static TEMPLATES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let Some(matched) = matched else {
        return Cow::Borrowed(UNMATCHED);
    };
    let templates = TEMPLATES.get_or_init(|| {
        let mut paths = crate::route_paths();
        paths.sort_unstable();
        paths.dedup();
        paths
    });
    let path = matched.as_str();
    match templates.binary_search(&path) {
        Ok(i) => Cow::Borrowed(templates[i]),
        Err(_) => Cow::Owned(path.to_owned()),
    }
}

/// Labels of `redemptions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RedemptionLabels {
    /// `success`, `failure` (the engine refused), or `error` (the store
    /// failed).
    result: &'static str,
    /// The refusal's reason key; empty unless `failure`.
    failure_code: &'static str,
}

/// Labels of `webhook_deliveries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    /// `delivered`, `retry` (failed, due again) or `given_up`.
    result: &'static str,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms to about 4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    redemptions: Family<RedemptionLabels, Counter>,
    webhook_backlog: Gauge,
    webhook_deliveries: Family<DeliveryLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let redemptions = Family::<RedemptionLabels, Counter>::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            durations.clone(),
        );
        registry.register(
            "redemptions",
            "Redemption attempts (legacy and stacked), by the store's answer",
            redemptions.clone(),
        );
        let webhook_backlog = Gauge::default();
        registry.register(
            "webhook_backlog",
            "Webhook deliveries pending, and events not yet matched with endpoints",
            webhook_backlog.clone(),
        );
        let webhook_deliveries = Family::<DeliveryLabels, Counter>::default();
        // Every result from the start, at 0: a scraper sees the series
        // before the first delivery.
        for result in ["delivered", "retry", "given_up"] {
            let _ = webhook_deliveries.get_or_create(&DeliveryLabels { result });
        }
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by result",
            webhook_deliveries.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            redemptions,
            webhook_backlog,
            webhook_deliveries,
        }
    }

    /// Empty metrics, registered, with `writer_batch_size` read from
    /// `store` at each scrape (nothing when the store does not batch).
    pub fn with_store(store: Arc<dyn Store>) -> Metrics {
        let mut metrics = Metrics::new();
        metrics
            .registry
            .register_collector(Box::new(WriteBatches(store)));
        metrics
    }

    /// Counts one answer of `RedemptionStore::redeem`.
    pub fn count_redemption(&self, answer: &Result<RedemptionRecord, StoreError>) {
        let labels = match answer {
            Ok(record) => match record.result {
                RedemptionResult::Success => RedemptionLabels {
                    result: "success",
                    failure_code: "",
                },
                RedemptionResult::Failure => RedemptionLabels {
                    result: "failure",
                    failure_code: record.failure.as_ref().map_or("", |f| f.reason.key()),
                },
            },
            Err(StoreError::Refused { refusal, .. }) => RedemptionLabels {
                result: "failure",
                failure_code: refusal.reason.key(),
            },
            Err(_) => RedemptionLabels {
                result: "error",
                failure_code: "",
            },
        };
        self.redemptions.get_or_create(&labels).inc();
    }

    /// Sets the webhook backlog, as the store counted it.
    pub fn set_webhook_backlog(&self, backlog: u64) {
        self.webhook_backlog
            .set(i64::try_from(backlog).unwrap_or(i64::MAX));
    }

    /// Counts one webhook delivery attempt.
    pub fn count_webhook_delivery(&self, outcome: &AttemptOutcome) {
        let result = match outcome {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Failed {
                retry_at: Some(_), ..
            } => "retry",
            AttemptOutcome::Failed { retry_at: None, .. } => "given_up",
        };
        self.webhook_deliveries
            .get_or_create(&DeliveryLabels { result })
            .inc();
    }

    /// The metrics as OpenMetrics text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `writer_batch_size`: a histogram of the store's write batches by size
/// (buckets 1, 2, 4, ... 256), built from the store's counts at a scrape.
struct WriteBatches(Arc<dyn Store>);

impl std::fmt::Debug for WriteBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatches").finish_non_exhaustive()
    }
}

impl Collector for WriteBatches {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(sizes) = self.0.write_batches() else {
            return Ok(());
        };
        // Per bucket, not cumulative: the encoder adds them up.
        let mut buckets: Vec<(f64, u64)> = BatchSizes::BOUNDS
            .iter()
            .zip(sizes.counts)
            .map(|(&bound, count)| (bound as f64, count))
            .collect();
        buckets.push((f64::MAX, sizes.over));
        encoder
            .encode_descriptor(
                "writer_batch_size",
                "Writes committed together by the store's writer, per batch",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(sizes.writes as f64, sizes.batches, &buckets, None)
    }
}

/// The method's label: extension methods (any token a client sends) share
/// `other`, so that a label's values stay few.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts one answered request and its time, labelled by its route
/// template (`None`: no route matched) and method. Called by the outermost
/// middleware ([`crate::logging`]'s), outside the routes, so that
/// unmatched requests count too.
pub(crate) fn count_request(
    metrics: &Metrics,
    route: Option<&MatchedPath>,
    method: &Method,
    status: StatusCode,
    took: Duration,
) {
    let method = method_label(method);
    let mut labels = RouteLabels {
        route: route_label(route),
        method,
    };
    metrics
        .durations
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route: std::mem::take(&mut labels.route),
            method,
            status: status.as_u16(),
        })
        .inc();
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    // The backlog as of now (one count over partial indexes); if the store
    // cannot say, the worker's last figure stays.
    if let Ok(backlog) = state.store(|s| s.webhook_backlog()).await {
        state.metrics().set_webhook_backlog(backlog);
    }
    match state.metrics().encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
