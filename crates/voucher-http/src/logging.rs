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

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore as _, SeedableRng as _};
use tracing::field::{Field, Visit};
use tracing::{Instrument as _, Level};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::client_ip::{self, ClientIp};
use crate::error;
use crate::metrics;
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

/// Which lines are logged: a level such as `info`, or `RUST_LOG`
/// directives such as `voucher_http=debug,info`.
///
/// Levels per target (the usual case) are kept as a
/// [`Targets`](tracing_subscriber::filter::Targets), which decides once per
/// call site; directives that name spans or fields (`[request]=debug`) need
/// an [`EnvFilter`], which also tracks every span as it is entered and left
/// (a shared lock each time).
#[derive(Debug)]
pub struct LogFilter(FilterKind);

#[derive(Debug)]
enum FilterKind {
    Targets(Targets),
    Env(Box<EnvFilter>),
}

impl LogFilter {
    fn parse(directives: &str) -> Result<LogFilter, String> {
        // Only plain `target=level` lists go to `Targets`: anything else
        // (spans, fields, blanks) is left to `EnvFilter`'s fuller grammar.
        let plain = !directives.is_empty()
            && directives.split(',').all(|directive| {
                !directive.is_empty()
                    && directive
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_:=-".contains(&b))
            });
        if plain {
            if let Ok(targets) = directives.parse::<Targets>() {
                return Ok(LogFilter(FilterKind::Targets(targets)));
            }
        }
        EnvFilter::try_new(directives)
            .map(|env| LogFilter(FilterKind::Env(Box::new(env))))
            .map_err(|e| e.to_string())
    }
}

/// The filter of `level` (a level such as `info`, or `RUST_LOG` directives
/// such as `voucher_http=debug,info`), or of the `RUST_LOG` variable when
/// `level` is `None` (if set and valid), or `info`.
pub fn filter(level: Option<&str>) -> Result<LogFilter, String> {
    match level {
        Some(level) => LogFilter::parse(level).map_err(|e| format!("log level {level:?}: {e}")),
        None => Ok(std::env::var(EnvFilter::DEFAULT_ENV)
            .ok()
            .and_then(|directives| LogFilter::parse(&directives).ok())
            .unwrap_or_else(|| {
                LogFilter(FilterKind::Targets(
                    Targets::new().with_default(Level::INFO),
                ))
            })),
    }
}

/// A subscriber writing `format` lines that `filter` lets through to
/// `writer`: the one the server installs, and the one tests capture.
pub fn subscriber<W>(
    format: LogFormat,
    filter: LogFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // One of the two is `None`, a layer that does nothing.
    let (targets, env) = match filter.0 {
        FilterKind::Targets(targets) => (Some(targets), None),
        FilterKind::Env(env) => (None, Some(*env)),
    };
    let registry = tracing_subscriber::registry().with(targets).with(env);
    match format {
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .fmt_fields(TextFields)
                    .event_format(TextLine)
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

/// The text line of an event: what `tracing-subscriber`'s default (full)
/// format writes without colours (`2026-12-07T15:24:06.881991Z  INFO
/// request{request_id=v-.. client_ip=..}: voucher_http::logging: request
/// method=POST ...`), written as plain strings: the default format styles
/// each piece through `nu-ansi-term` even with colours off, which costs
/// more than the rest of the line. The fields are the layer's usual field
/// format.
#[derive(Debug, Clone, Copy)]
struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        if SystemTime.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        writer.write_char('{')?;
                        writer.write_str(fields)?;
                        writer.write_char('}')?;
                    }
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The fields of a text line, as `tracing-subscriber`'s default field
/// format writes them without colours (`request_id=v-.. route="/v1/.."`,
/// the message first and bare, its control characters escaped), without
/// its styling of every name and `=`.
#[derive(Debug, Clone, Copy)]
struct TextFields;

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        let mut visitor = TextVisitor {
            sanitize: writer.sanitizes_ansi_escapes(),
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'w> {
    writer: Writer<'w>,
    sanitize: bool,
    first: bool,
    result: std::fmt::Result,
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let sanitize = self.sanitize;
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!(
                    "{} {}.sources={}",
                    Escaped(format_args!("{value}"), sanitize),
                    field.name(),
                    Sources(source, sanitize)
                ),
            ),
            None => self.record_debug(
                field,
                &format_args!("{}", Escaped(format_args!("{value}"), sanitize)),
            ),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if self.first {
            self.first = false;
        } else if let Err(e) = self.writer.write_char(' ') {
            self.result = Err(e);
            return;
        }
        let name = field.name();
        self.result = match name {
            "message" => write!(self.writer, "{:?}", Escaped(value, self.sanitize)),
            name => {
                let name = name.strip_prefix("r#").unwrap_or(name);
                self.writer
                    .write_str(name)
                    .and_then(|()| self.writer.write_char('='))
                    .and_then(|()| write!(self.writer, "{value:?}"))
            }
        };
    }
}

/// A value whose terminal control characters are written escaped
/// (`\x1b`), so that a logged string cannot drive the operator's
/// terminal; as is when `sanitize` is off.
struct Escaped<T>(T, bool);

impl<T: std::fmt::Debug> std::fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1 {
            write!(EscapingWriter(f), "{:?}", self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

struct EscapingWriter<'a, 'b>(&'a mut std::fmt::Formatter<'b>);

impl std::fmt::Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        for c in text.chars() {
            match c {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// An error's chain of sources, as a list: `["a", "b"]`.
struct Sources<'a>(&'a (dyn std::error::Error + 'static), bool);

impl std::fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        let mut current = Some(self.0);
        while let Some(error) = current {
            list.entry(&Escaped(format_args!("{error}"), self.1));
            current = error.source();
        }
        list.finish()
    }
}

/// How long the log writer lets lines gather before it writes them out.
const GATHER: Duration = Duration::from_millis(5);

/// Bytes of lines queued at most: past this, a logging thread waits for
/// the writer (a line is never dropped).
const QUEUE_MAX: usize = 1 << 20;

/// The lines logged and not yet written, shared by the logging threads
/// (which only append to it) and the log writer's thread.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<Queued>,
    /// Signalled when a line arrives while the writer is idle.
    ready: Condvar,
    /// Signalled when the writer has taken the queued lines.
    room: Condvar,
}

#[derive(Debug, Default)]
struct Queued {
    lines: Vec<u8>,
    /// The writer waits for a first line (and must be woken).
    idle: bool,
    /// The writer has stopped, or is stopping: lines go straight out.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Queued> {
        // Every update leaves the queue consistent: a poisoned lock is used
        // as is rather than losing lines.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one line; wakes the writer only if it is idle, so that under
    /// load a logging thread makes no system call.
    fn push(&self, line: &[u8]) -> std::io::Result<()> {
        let mut queued = self.lock();
        while queued.lines.len() >= QUEUE_MAX && !queued.closed {
            queued = self
                .room
                .wait(queued)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queued.closed {
            drop(queued);
            return std::io::stderr().write_all(line);
        }
        queued.lines.extend_from_slice(line);
        if queued.idle {
            queued.idle = false;
            self.ready.notify_one();
        }
        Ok(())
    }

    /// The writer's loop: waits for a line, lets more gather for
    /// [`GATHER`], writes all of them in one `write_all`, and again, until
    /// the queue is closed and empty.
    fn write_out(&self, mut out: impl Write) {
        let mut batch = Vec::new();
        loop {
            let closed = {
                let mut queued = self.lock();
                while queued.lines.is_empty() && !queued.closed {
                    queued.idle = true;
                    queued = self
                        .ready
                        .wait(queued)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                queued.idle = false;
                queued.closed
            };
            if !closed {
                std::thread::sleep(GATHER);
            }
            let closed = {
                let mut queued = self.lock();
                std::mem::swap(&mut queued.lines, &mut batch);
                queued.closed
            };
            self.room.notify_all();
            // Nowhere to report a failed write to: the lines are lost, the
            // server goes on.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            if closed {
                return;
            }
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
        self.room.notify_all();
    }
}

/// The logging threads' end of the [`Queue`]: each formatted line is
/// written whole, in one call, so lines never interleave.
#[derive(Debug, Clone)]
struct QueueWriter(Arc<Queue>);

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = &'a Queue;

    fn make_writer(&'a self) -> &'a Queue {
        &self.0
    }
}

impl Write for &Queue {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.push(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps the process's log writer running: dropping it writes out every
/// line still queued, then stops the writer. Hold it until the process
/// exits.
#[must_use = "dropping the guard stops the log writer"]
#[derive(Debug)]
pub struct LogGuard {
    queue: Arc<Queue>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// A log writer to `out` on a thread of its own, and the guard that stops
/// it. Without a thread (the system refuses one), lines go straight to
/// stderr.
fn spawn_writer(out: impl Write + Send + 'static) -> (QueueWriter, LogGuard) {
    let queue = Arc::new(Queue::default());
    let writing = Arc::clone(&queue);
    let writer = std::thread::Builder::new()
        .name("voucher-log".to_owned())
        .spawn(move || writing.write_out(out))
        .ok();
    if writer.is_none() {
        queue.close();
    }
    (QueueWriter(Arc::clone(&queue)), LogGuard { queue, writer })
}

/// Installs the process's subscriber: `format` lines on stderr, filtered
/// by `level` or `RUST_LOG` ([`filter`]).
///
/// The lines are not written by the threads that log them: they are
/// queued in memory, and a thread of its own writes what has gathered in
/// one `write` every few milliseconds, so a request makes no system call
/// to log. A full queue makes the logging threads wait rather than drop
/// lines. Lines still queued are written when the returned guard is
/// dropped (a killed process loses its last few milliseconds of lines).
pub fn init(format: LogFormat, level: Option<&str>) -> Result<LogGuard, String> {
    let filter = filter(level)?;
    let (writer, guard) = spawn_writer(std::io::stderr());
    tracing::subscriber::set_global_default(subscriber(format, filter, writer))
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(guard)
}

/// Lower-case hexadecimal digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

thread_local! {
    /// Each thread's source of request ids, seeded once from the OS.
    static IDS: RefCell<ChaCha8Rng> = RefCell::new(id_source());
}

fn id_source() -> ChaCha8Rng {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        // Ids only need to differ: without OS randomness, the time and a
        // count of the threads seeded will do.
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed[8..24].copy_from_slice(&nanos.to_le_bytes());
    }
    ChaCha8Rng::from_seed(seed)
}

/// A new request id, `v-` and 18 hex digits as the wire's examples show:
/// from a per-thread ChaCha stream (no system call per request).
fn new_request_id() -> String {
    let mut bytes = [0u8; 9];
    IDS.with(|ids| ids.borrow_mut().fill_bytes(&mut bytes));
    let mut id = String::with_capacity(2 + 2 * bytes.len());
    id.push_str("v-");
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

/// The outermost middleware: gives every request an id (in the error
/// bodies and an `X-Request-Id` header) and its client address (a
/// [`ClientIp`] extension, for the rate limits and the lockout), serves it
/// inside a `request` span carrying both, counts it in the metrics
/// ([`crate::metrics`]: one layer doing both, since each layer clones
/// every layer inside it on each request) and logs its end.
pub(crate) async fn requests(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    let header = HeaderValue::from_str(&id).ok();
    let ip: IpAddr = client_ip::resolve(
        client_ip::peer(&request),
        request.headers(),
        &state.config.trusted_proxies,
    );
    request.extensions_mut().insert(ClientIp(ip));
    let span = tracing::info_span!("request", request_id = %id, client_ip = %ip);
    // Logged inside the span, as the request's last line.
    let served = async move {
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let unmatched = match route {
            // Masking allocates: only when the line is logged.
            None if tracing::enabled!(Level::INFO) => Some(mask_path(request.uri().path())),
            _ => None,
        };
        let response = next.run(request).await;
        let took = started.elapsed();
        metrics::count_request(
            state.metrics(),
            route.as_ref(),
            &method,
            response.status(),
            took,
        );
        tracing::info!(
            method = %method,
            route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str),
            path = unmatched.as_deref(),
            status = response.status().as_u16(),
            latency_ms = took.as_secs_f64() * 1000.0,
            "request"
        );
        response
    };
    let mut response = error::REQUEST_ID.scope(id, served).instrument(span).await;
    if let Some(value) = header {
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

    /// A sink counting the writes it gets.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(bytes);
            sink.1 += 1;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_writer_writes_every_line_whole_in_few_writes() {
        let sink = Sink::default();
        let (writer, guard) = spawn_writer(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2_500 {
                        let line = format!("thread {t} line {i} {}\n", "x".repeat(i % 300));
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Dropping the guard writes out what is still queued.
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 10_000);
        for line in &lines {
            let parts: Vec<&str> = line.split(' ').collect();
            let i: usize = parts[3].parse().unwrap();
            assert_eq!(
                parts.get(4).copied().unwrap_or(""),
                "x".repeat(i % 300),
                "{line}"
            );
        }
        // Lines gather between writes: far fewer writes than lines.
        assert!(writes * 10 <= 10_000, "{writes} writes");
        // After the stop, lines still come out (straight to stderr).
        writer.make_writer().write_all(b"after the stop\n").unwrap();
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
