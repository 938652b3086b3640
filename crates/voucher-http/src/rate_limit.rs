//! Rate limits. Every `/client/v1/...` request counts against its client
//! IP's budget (default 50 requests per 10 s, [`crate::Config`]; the
//! address is [`crate::client_ip`]'s, so behind a trusted proxy the
//! forwarded one); a client address locked out for guessing codes
//! ([`crate::lockout`]) is refused before its budget is looked at. Server
//! keys are unlimited unless a per-key budget is configured: it is charged
//! once the key is authenticated (`charge_server_key`, called by the
//! `ServerKey` extractor), so a wrong secret cannot spend a key's budget.
//! Over a budget: 429 with the wire's error body (key `too_many_requests`),
//! `Retry-After` in seconds and the reference's `X-Rate-Limit-*` headers.
//! CORS preflights (OPTIONS) do not count.
//!
//! The limiter is `governor`'s keyed GCRA: a correct, lock-free
//! generic-cell-rate algorithm rather than a hand-written window. A budget
//! of N per W allows a burst of N, then one request every W/N.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::client_ip::{budget_key, ClientIp};
use crate::error::ApiError;
use crate::lockout::CodeOutcome;
use crate::state::AppState;

/// Shortest window a limit may have.
const WINDOW_MIN: Duration = Duration::from_millis(1);

/// Every this many checks, the limiter forgets the addresses whose budget
/// is full again, so that its table stays as small as the active clients.
const PRUNE_EVERY: u64 = 4096;

/// The headers a page's script may read from a client answer (CORS hides
/// all but a few otherwise; the JS SDK reads these to back off).
const EXPOSED_HEADERS: &str =
    "Retry-After, X-Rate-Limit-Limit, X-Rate-Limit-Remaining, X-Rate-Limit-Retry";

/// A budget: at most `requests` in any `window` (bursts included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    requests: NonZeroU32,
    window: Duration,
}

/// Why a [`RateLimit`] cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// Zero requests.
    #[error("a rate limit allows at least one request")]
    NoRequests,
    /// A window shorter than a millisecond.
    #[error("a rate limit's window is at least 1 ms")]
    WindowTooShort,
}

impl RateLimit {
    /// At most `requests` in any `window`.
    pub fn new(requests: u32, window: Duration) -> Result<RateLimit, RateLimitError> {
        let requests = NonZeroU32::new(requests).ok_or(RateLimitError::NoRequests)?;
        if window < WINDOW_MIN {
            return Err(RateLimitError::WindowTooShort);
        }
        Ok(RateLimit { requests, window })
    }

    /// The requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn quota(&self) -> Quota {
        // More requests than the window has nanoseconds would make the
        // period zero; 1 ns is the finest governor keeps.
        let period = (self.window / self.requests.get()).max(Duration::from_nanos(1));
        Quota::with_period(period)
            .expect("the period is at least 1 ns")
            .allow_burst(self.requests)
    }
}

type KeyedLimiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// A keyed limiter: one [`RateLimit`] budget for every key (a client
/// address, a server key's application id).
#[derive(Debug)]
pub struct Limiter<K: Hash + Eq + Clone> {
    limit: RateLimit,
    limiter: KeyedLimiter<K>,
    checks: AtomicU64,
}

/// The per-client-IP limiter of `/client/v1/...`.
pub type ClientLimiter = Limiter<IpAddr>;

/// The per-application-id limiter of server keys.
pub type KeyLimiter = Limiter<String>;

/// What a check decided.
enum Verdict {
    /// Allowed, with this many requests left in the burst.
    Allowed { remaining: u32 },
    /// Refused; the next request can come after this long.
    Refused { wait: Duration },
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter with the budget `limit` for every key.
    pub fn new(limit: RateLimit) -> Limiter<K> {
        Limiter {
            limit,
            limiter: RateLimiter::dashmap(limit.quota())
                .with_middleware::<StateInformationMiddleware>(),
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &K) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(key) {
            Ok(snapshot) => Verdict::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => Verdict::Refused {
                wait: not_until.wait_time_from(self.limiter.clock().now()),
            },
        }
    }
}

fn is_client_path(path: &str) -> bool {
    path == "/client/v1" || path.starts_with("/client/v1/")
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, value);
    }
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After: 0` would
/// invite an immediate retry that is refused again).
fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// A 429 `too_many_requests` with `details`, `Retry-After` and the
/// `X-Rate-Limit-*` headers (`limit` when there is one).
fn too_many(state: &AppState, details: String, wait: Duration, limit: Option<u32>) -> ApiError {
    let seconds = retry_after_seconds(wait);
    let retry_at = state.now().timestamp().saturating_add_unsigned(seconds);
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Too many requests",
    )
    .with_details(format!("{details}; retry after {seconds} s"))
    .with_header(header::RETRY_AFTER, seconds)
    .with_header(HeaderName::from_static("x-rate-limit-remaining"), 0)
    .with_header(HeaderName::from_static("x-rate-limit-retry"), retry_at);
    if let Some(limit) = limit {
        error = error.with_header(HeaderName::from_static("x-rate-limit-limit"), limit);
    }
    error
}

/// A refusal of a client request that a page can read to back off: it
/// comes before the key's origin check, and tells any origin only that
/// this address is over its budget or locked out.
fn client_refusal(error: ApiError, origin: Option<HeaderValue>) -> Response {
    let mut response = error.into_response();
    let headers = response.headers_mut();
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    response
}

/// The client address the request-id middleware found, or the unspecified
/// address where it did not run (a router without it).
fn client_ip(request: &Request) -> IpAddr {
    request.extensions().get::<ClientIp>().map_or(
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        |ClientIp(ip)| *ip,
    )
}

/// The middleware: refuses `/client/v1/...` requests from a locked-out
/// address or over their address's budget, and counts the unknown codes of
/// the answers for the lockout; on other paths, lets the server key's
/// budget (charged by the extractor) add its headers to the answer.
pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    if !is_client_path(request.uri().path()) {
        if state.key_limiter().is_none() {
            return next.run(request).await;
        }
        return limit_server(request, next).await;
    }
    let ip = budget_key(client_ip(&request));
    let origin = request.headers().get(header::ORIGIN).cloned();
    if let Some(lockout) = state.lockout() {
        if let Some(wait) = lockout.locked(ip, state.now()) {
            let after = lockout.policy().after.get();
            let error = too_many(
                &state,
                format!("{after} unknown codes in a row from this address"),
                wait,
                None,
            );
            return client_refusal(error, origin);
        }
    }
    let mut allowed = None;
    if let Some(limiter) = state.client_limiter() {
        let limit = limiter.limit.requests();
        match limiter.check(&ip) {
            Verdict::Allowed { remaining } => allowed = Some((limit, remaining)),
            Verdict::Refused { wait } => {
                let window = limiter.limit.window().as_millis();
                let details =
                    format!("more than {limit} requests in {window} ms from this address");
                return client_refusal(too_many(&state, details, wait, Some(limit)), origin);
            }
        }
    }
    let mut response = next.run(request).await;
    if let (Some(lockout), Some(outcome)) = (
        state.lockout(),
        response.extensions().get::<CodeOutcome>().copied(),
    ) {
        if let Some(until) = lockout.record(ip, outcome, state.now()) {
            tracing::warn!(
                client_ip = %ip,
                until = %until.to_rfc3339(),
                "client address locked out after unknown codes"
            );
        }
    }
    if let Some((limit, remaining)) = allowed {
        let headers = response.headers_mut();
        insert(headers, "x-rate-limit-limit", limit);
        insert(headers, "x-rate-limit-remaining", remaining);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    response
}

/// Where the `ServerKey` extractor leaves what remains of the key's
/// budget, for [`limit_server`] to add to the answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyBudget(Arc<Mutex<Option<(u32, u32)>>>);

async fn limit_server(mut request: Request, next: Next) -> Response {
    let budget = KeyBudget::default();
    request.extensions_mut().insert(budget.clone());
    let mut response = next.run(request).await;
    let charged = *budget
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((limit, remaining)) = charged {
        let headers = response.headers_mut();
        if !headers.contains_key("x-rate-limit-limit") {
            insert(headers, "x-rate-limit-limit", limit);
            insert(headers, "x-rate-limit-remaining", remaining);
        }
    }
    response
}

/// Charges one request to an authenticated server key's budget, if server
/// keys have one: a 429 over it, and otherwise the budget left, which the
/// middleware adds to the answer.
pub(crate) fn charge_server_key(
    state: &AppState,
    app_id: &str,
    extensions: &axum::http::Extensions,
) -> Result<(), ApiError> {
    charge_key_budget(state, app_id, extensions.get::<KeyBudget>())
}

/// [`charge_server_key`] with the request's budget slot already taken out
/// of its extensions.
pub(crate) fn charge_key_budget(
    state: &AppState,
    app_id: &str,
    budget: Option<&KeyBudget>,
) -> Result<(), ApiError> {
    let Some(limiter) = state.key_limiter() else {
        return Ok(());
    };
    let limit = limiter.limit.requests();
    match limiter.check(&app_id.to_owned()) {
        Verdict::Allowed { remaining } => {
            if let Some(KeyBudget(slot)) = budget {
                *slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((limit, remaining));
            }
            Ok(())
        }
        Verdict::Refused { wait } => {
            let window = limiter.limit.window().as_millis();
            let details = format!("more than {limit} requests in {window} ms with this key");
            Err(too_many(state, details, wait, Some(limit)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_parsed() {
        assert_eq!(
            RateLimit::new(0, Duration::from_secs(10)),
            Err(RateLimitError::NoRequests)
        );
        assert_eq!(
            RateLimit::new(5, Duration::from_micros(999)),
            Err(RateLimitError::WindowTooShort)
        );
        let limit = RateLimit::new(50, Duration::from_secs(10)).unwrap();
        assert_eq!(limit.quota().burst_size().get(), 50);
        assert_eq!(
            limit.quota().replenish_interval(),
            Duration::from_millis(200)
        );
        let tiny = RateLimit::new(u32::MAX, WINDOW_MIN).unwrap();
        assert_eq!(tiny.quota().replenish_interval(), Duration::from_nanos(1));
    }

    #[test]
    fn retry_after_rounds_up_to_a_second_at_least() {
        let check = |wait: Duration, expected: u64| assert_eq!(retry_after_seconds(wait), expected);
        check(Duration::ZERO, 1);
        check(Duration::from_millis(200), 1);
        check(Duration::from_secs(2), 2);
        check(Duration::from_millis(2001), 3);
    }

    #[test]
    fn client_paths() {
        for (path, expected) in [
            ("/client/v1/validate", true),
            ("/client/v1", true),
            ("/client/v1x", false),
            ("/v1/vouchers", false),
            ("/health", false),
        ] {
            assert_eq!(is_client_path(path), expected, "{path}");
        }
    }
}
