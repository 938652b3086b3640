//! Webhook delivery: a background worker that POSTs the store's events
//! outbox to each endpoint, signed, with retries.
//!
//! The worker polls the store (every `poll_interval`), claims the due
//! deliveries (each leased for a few timeouts, so a crash only delays
//! them), and POSTs them at most `concurrency` at a time on tokio's
//! blocking pool (ureq), each within `timeout`. Every attempt is logged in
//! the store with its status or error and duration; a failed one is due
//! again after the core's [`RetryPolicy`] delay, or given up. Request
//! handlers never wait for it: the outbox row is all a change writes.
//!
//! The body is the wire's envelope `{id, project_id, created_at, type,
//! data, source, event}`, serialized compact; `x-voucherify-signature` is
//! the hex HMAC-SHA256 of exactly those bytes under the endpoint's secret.

use std::future::Future;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinSet;
use voucher_core::limits::WEBHOOK_CLAIM_MAX;
use voucher_core::money::Currency;
use voucher_core::port::{AttemptOutcome, DueDelivery, EventObject, EventRecord};
use voucher_core::webhook::RetryPolicy;

use crate::asset_token::{self, AssetLinks};
use crate::render;
use crate::routes::{campaigns, publications, redemptions};
use crate::state::AppState;
use crate::wire;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-voucherify-signature";

/// Settings of the delivery worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
    /// Most time one POST may take, connection included.
    pub timeout: Duration,
    /// Most POSTs in flight at once (at most `WEBHOOK_CLAIM_MAX`).
    pub concurrency: usize,
    /// When failed deliveries are tried again.
    pub retry: RetryPolicy,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            concurrency: 8,
            retry: RetryPolicy::default(),
        }
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `data` of an event: `{object}` (the wire object), plus the balance
/// change for `voucher.gift.balance_added`.
fn data_json(object: &EventObject, currency: Currency, assets: &AssetLinks) -> Json {
    match object {
        EventObject::Redemption(r) => {
            json!({"object": redemptions::redemption_json(r, currency, assets)})
        }
        EventObject::Rollback(r) => {
            json!({"object": redemptions::rollback_event_json(r, currency, assets)})
        }
        EventObject::Voucher(v) => json!({"object": render::voucher_json(v, currency, assets)}),
        EventObject::Balance { voucher, balance } => json!({
            "object": render::voucher_json(voucher, currency, assets),
            "balance": {
                "amount": wire::to_wire(balance.amount_minor, currency),
                "total": wire::to_wire(balance.total_minor, currency),
                "balance": wire::to_wire(balance.balance_minor, currency),
                "type": "gift_voucher",
                "operation_type": "MANUAL",
                "object": "balance",
                "related_object": {"type": "voucher", "id": balance.voucher_id},
            },
        }),
        EventObject::Publication(p) => json!({"object": publications::listed_json(p, currency)}),
        EventObject::Campaign(c) => json!({"object": campaigns::campaign_json(c, currency)}),
    }
}

/// The envelope of an event, for the project named `project_name`; the
/// vouchers in it link their images through `assets`.
pub fn envelope(
    event: &EventRecord,
    project_name: &str,
    currency: Currency,
    assets: &AssetLinks,
) -> Json {
    json!({
        "id": event.id,
        "project_id": project_name,
        "created_at": wire::timestamp(event.created_at),
        "type": event.event_type.as_str(),
        "data": data_json(&event.object, currency, assets),
        "source": {"channel": "API"},
        "event": event.event_type.as_str(),
    })
}

/// The running worker; [`Worker::stop`] ends it.
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the worker on the current tokio runtime.
    pub fn spawn(state: AppState, config: WebhookConfig) -> Worker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(state, config, stopped));
        Worker { stop, task }
    }

    /// Stops polling, lets the POSTs in flight finish (each within the
    /// timeout), and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves `work` while the worker runs, then stops it.
pub async fn alongside<T>(state: AppState, work: impl Future<Output = T>) -> T {
    let config = state.config.webhooks;
    let worker = Worker::spawn(state, config);
    let out = work.await;
    worker.stop().await;
    out
}

async fn run(state: AppState, config: WebhookConfig, mut stopped: watch::Receiver<bool>) {
    let concurrency = config.concurrency.clamp(1, WEBHOOK_CLAIM_MAX);
    loop {
        if *stopped.borrow() {
            return;
        }
        let busy = poll_once(&state, &config, concurrency).await;
        if busy {
            // A full claim: more may be due right away.
            continue;
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

/// Claims and delivers one round; true when the claim was full.
async fn poll_once(state: &AppState, config: &WebhookConfig, concurrency: usize) -> bool {
    let now = state.now();
    let lease = config.timeout * 3 + Duration::from_secs(1);
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let claimed = state
        .store(move |s| s.claim_deliveries(now, lease_until, concurrency))
        .await;
    let due = match claimed {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = ?e, "webhook worker: claiming deliveries failed");
            Vec::new()
        }
    };
    let full = due.len() >= concurrency;
    let mut posts = JoinSet::new();
    for delivery in due {
        posts.spawn(deliver(state.clone(), *config, delivery));
    }
    while posts.join_next().await.is_some() {}
    if let Ok(backlog) = state.store(|s| s.webhook_backlog()).await {
        state.metrics().set_webhook_backlog(backlog);
    }
    full
}

/// Makes one attempt at one delivery and records it.
async fn deliver(state: AppState, config: WebhookConfig, delivery: DueDelivery) {
    let project = delivery.event.project;
    let assets = match asset_token::links(&state, project).await {
        Ok(assets) => assets,
        Err(e) => {
            tracing::warn!(error = ?e, "webhook worker: the asset links of an event's project");
            return;
        }
    };
    let body = match state.store(move |s| s.project(project)).await {
        Ok(p) => envelope(&delivery.event, &p.spec.name, p.spec.currency, &assets).to_string(),
        Err(e) => {
            tracing::warn!(error = ?e, "webhook worker: the project of an event");
            return;
        }
    };
    let signature = sign(&delivery.secret, body.as_bytes());
    let attempted_at = state.now();
    let started = Instant::now();
    let url = delivery.url.clone();
    let timeout = config.timeout;
    let posted = tokio::task::spawn_blocking(move || post(&url, &body, &signature, timeout)).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let result = posted.unwrap_or_else(|_| Err((None, "the delivery task failed".to_owned())));
    let outcome = match result {
        Ok(status) => AttemptOutcome::Delivered { status },
        Err((status, error)) => AttemptOutcome::Failed {
            status,
            error,
            retry_at: config
                .retry
                .next_attempt(delivery.attempts.saturating_add(1), state.now()),
        },
    };
    state.metrics().count_webhook_delivery(&outcome);
    let id = delivery.delivery_id;
    let recorded = state
        .store(move |s| s.record_attempt(id, attempted_at, duration_ms, &outcome))
        .await;
    if let Err(e) = recorded {
        tracing::warn!(error = ?e, "webhook worker: recording an attempt failed");
    }
}

/// POSTs `body`; `Ok(status)` for a 2xx, else the status (if any) and why.
fn post(
    url: &str,
    body: &str,
    signature: &str,
    timeout: Duration,
) -> Result<u16, (Option<u16>, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build()
        .into();
    let answer = agent
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header("user-agent", "voucher-webhooks")
        .send(body.as_bytes());
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                Ok(status)
            } else {
                Err((Some(status), format!("status {status}")))
            }
        }
        Err(e) => Err((None, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(
            sign("Jefe", b"what do ya want for nothing!"),
            sign("Jefe", b"what do ya want for nothing?")
        );
    }
}
