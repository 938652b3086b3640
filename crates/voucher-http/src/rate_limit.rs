//! Rate limits. Every `/client/v1/...` request counts against its client
//! IP's budget (default 50 requests per 10 s, [`crate::Config`]); server
//! keys are unlimited unless configured (issue 5 adds per-key limits beside
//! this one). Over the budget: 429 with the wire's error body (key
//! `too_many_requests`), `Retry-After` in seconds and the reference's
//! `X-Rate-Limit-*` headers. CORS preflights (OPTIONS) do not count.
//!
//! The limiter is `governor`'s keyed GCRA: a correct, lock-free
//! generic-cell-rate algorithm rather than a hand-written window. A budget
//! of N per W allows a burst of N, then one request every W/N.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;
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

type KeyedLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// The per-client-IP limiter of `/client/v1/...`.
#[derive(Debug)]
pub struct ClientLimiter {
    limit: RateLimit,
    limiter: KeyedLimiter,
    checks: AtomicU64,
}

/// What a check decided.
enum Verdict {
    /// Allowed, with this many requests left in the burst.
    Allowed { remaining: u32 },
    /// Refused; the next request can come after this long.
    Refused { wait: Duration },
}

impl ClientLimiter {
    /// A limiter with the budget `limit` for every address.
    pub fn new(limit: RateLimit) -> ClientLimiter {
        ClientLimiter {
            limit,
            limiter: RateLimiter::dashmap(limit.quota())
                .with_middleware::<StateInformationMiddleware>(),
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, ip: IpAddr) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&ip) {
            Ok(snapshot) => Verdict::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => Verdict::Refused {
                wait: not_until.wait_time_from(self.limiter.clock().now()),
            },
        }
    }
}

/// The budget key of a request: its peer's address, an IPv6 peer's /64
/// (one host usually holds a whole /64, so single addresses would be free
/// to rotate), or the unspecified address where there is no peer (tests
/// that call the app directly).
fn client_ip(request: &Request) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_canonical());
    match peer {
        Some(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(v4) => v4,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
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

/// The middleware: counts `/client/v1/...` requests per client IP and
/// refuses those over the budget.
pub(crate) async fn limit_client(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = state.client_limiter() else {
        return next.run(request).await;
    };
    if request.method() == Method::OPTIONS || !is_client_path(request.uri().path()) {
        return next.run(request).await;
    }
    let limit = limiter.limit.requests();
    let origin = request.headers().get(header::ORIGIN).cloned();
    match limiter.check(client_ip(&request)) {
        Verdict::Allowed { remaining } => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            insert(headers, "x-rate-limit-limit", limit);
            insert(headers, "x-rate-limit-remaining", remaining);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
            response
        }
        Verdict::Refused { wait } => {
            let seconds = retry_after_seconds(wait);
            let window = limiter.limit.window();
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests",
            )
            .with_details(format!(
                "more than {limit} requests in {} ms from this address; retry after {seconds} s",
                window.as_millis()
            ))
            .into_response();
            let retry_at = state.now().timestamp().saturating_add_unsigned(seconds);
            let headers = response.headers_mut();
            insert(headers, "retry-after", seconds);
            insert(headers, "x-rate-limit-limit", limit);
            insert(headers, "x-rate-limit-remaining", 0);
            insert(headers, "x-rate-limit-retry", retry_at);
            // The refusal comes before the key's origin check, and a page
            // must be able to read it to back off: it tells any origin
            // only that this address is over its budget.
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

    #[test]
    fn ipv6_peers_share_their_64() {
        let key = |address: &str| {
            let mut request = Request::new(axum::body::Body::empty());
            request
                .extensions_mut()
                .insert(ConnectInfo(address.parse::<SocketAddr>().unwrap()));
            client_ip(&request)
        };
        assert_eq!(key("[2001:db8:1:2::5]:1"), key("[2001:db8:1:2:ffff::9]:2"));
        assert_ne!(key("[2001:db8:1:2::5]:1"), key("[2001:db8:1:3::5]:1"));
        assert_eq!(key("[::ffff:10.0.0.1]:1"), key("10.0.0.1:9"));
        assert_eq!(
            client_ip(&Request::new(axum::body::Body::empty())),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }
}
