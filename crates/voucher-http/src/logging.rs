//! Structured logs with `tracing`: every request runs in a `request` span
//! carrying its id (the `X-Request-Id` header and the error bodies'
//! `request_id`) and its client address, so every line logged while it is
//! served names it; it ends with one line giving the method, the route
//! template, the status and the latency. Text or JSON lines
//! ([`LogFormat`]), filtered by a level or `RUST_LOG` directives.
//!
//! Codes are bearer secrets (a gift card's code is its money), so no log
//! line carries a whole one: requests are logged by their route template
//! (`/v1/vouchers/{code}`), never their path or query, a path that matched
//! no route is logged masked ([`mask_path`]), and anything else that names
//! a code logs it through [`mask_code`].

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::EnvFilter;

use crate::client_ip::{self, ClientIp};
use crate::error;
use crate::state::AppState;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the
    /// event's fields (`message` among them) and the request's `span`.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is not a log format (text or json)")),
        }
    }
}

/// Characters of a code a log may show: its last four.
const SHOWN: usize = 4;
/// Codes this short or shorter are hidden whole: their last four would be
/// half of them or more.
const FULLY_MASKED_UP_TO: usize = 2 * SHOWN;

/// A code as logs may show it: every character but the last four replaced
/// by `*` (`GIFT-1234-ABCD` → `**********ABCD`); a code of 8 characters or
/// fewer is all stars.
pub fn mask_code(code: &str) -> String {
    let count = code.chars().count();
    let hidden = if count <= FULLY_MASKED_UP_TO {
        count
    } else {
        count - SHOWN
    };
    code.chars()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { c })
        .collect()
}

/// A path that matched no route, as logs may show it: its first two
/// segments (`/v1/vouchers`, `/client/v1`) as they are, every later one
/// through [`mask_code`], since it may be a code. The query is dropped.
pub fn mask_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .enumerate()
        .map(|(i, segment)| {
            // The empty segment before the leading `/`, then two words.
            if i <= 2 {
                segment.to_owned()
            } else {
                mask_code(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The filter of `level` (a level such as `info`, or `RUST_LOG` directives
/// such as `voucher_http=debug,info`), or of the `RUST_LOG` variable when
/// `level` is `None`, or `info`.
pub fn filter(level: Option<&str>) -> Result<EnvFilter, String> {
    match level {
        Some(level) => EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}")),
        None => Ok(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))),
    }
}

/// A subscriber writing `format` lines that `filter` lets through to
/// `writer`: the one the server installs, and the one tests capture.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
    }
}

/// Installs the process's subscriber: `format` lines on stderr, filtered
/// by `level` or `RUST_LOG` ([`filter`]).
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let subscriber = subscriber(format, filter(level)?, std::io::stderr);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot install the logger: {e}"))
}

/// A new request id, `v-` and 18 hex digits as the wire's examples show.
fn new_request_id() -> String {
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = [0u8; 9];
    if getrandom::fill(&mut bytes).is_err() {
        // Ids only need to differ; without OS randomness a counter will do.
        let n = FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v-{hex}")
}

/// The outermost middleware: gives every request an id (in the error
/// bodies and an `X-Request-Id` header) and its client address (a
/// [`ClientIp`] extension, for the rate limits and the lockout), serves it
/// inside a `request` span carrying both, and logs its end.
pub(crate) async fn requests(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let ip: IpAddr = client_ip::resolve(
        client_ip::peer(&request),
        request.headers(),
        &state.config.trusted_proxies,
    );
    request.extensions_mut().insert(ClientIp(ip));
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let unmatched = route.is_none().then(|| mask_path(request.uri().path()));
    let span = tracing::info_span!("request", request_id = %id, client_ip = %ip);
    let mut response = error::REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = route.as_deref().unwrap_or("(unmatched)"),
            path = unmatched.as_deref(),
            status = response.status().as_u16(),
            latency_ms,
            "request"
        );
    });
    if let Ok(value) = id.parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_masked() {
        assert_eq!(mask_code("GIFT-1234-ABCD"), "**********ABCD");
        assert_eq!(mask_code("ABCDEFGHI"), "*****FGHI");
        assert_eq!(mask_code("ABCDEFGH"), "********");
        assert_eq!(mask_code("ABC"), "***");
        assert_eq!(mask_code(""), "");
        assert_eq!(mask_code("ÄÖÜßÄÖÜßxyzw"), "********xyzw");
    }

    #[test]
    fn unmatched_paths_are_masked() {
        assert_eq!(
            mask_path("/v1/vouchers/GIFT-1234-ABCD/nonsense?code=SECRET"),
            "/v1/vouchers/**********ABCD/********"
        );
        assert_eq!(mask_path("/client/v1/what"), "/client/v1/****");
        assert_eq!(mask_path("/nope"), "/nope");
        assert_eq!(mask_path("/"), "/");
    }

    #[test]
    fn formats_and_levels() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("TEXT".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
        assert!(filter(Some("debug")).is_ok());
        assert!(filter(Some("voucher_http=debug,info")).is_ok());
        assert!(filter(Some("loud=[")).is_err());
    }
}
