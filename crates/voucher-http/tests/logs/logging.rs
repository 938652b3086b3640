//! The logs, captured from the subscriber the server installs
//! (`voucher_http::logging::subscriber`) into a buffer: one line per
//! request with its route template, status and latency; the request id and
//! client address on every line logged while a request is served; JSON
//! lines that parse; and never a whole code, though codes travel in paths,
//! queries and bodies.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use voucher_http::logging::{self, LogFormat};
use voucher_http::Config;

use crate::support::{amount_off, create, spec, Env, ORIGIN};

/// Where the captured lines go.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Installs a `format` subscriber at every level for this thread (the
/// test's runtime is single-threaded), capturing into a buffer.
fn capture(format: LogFormat) -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let filter = logging::filter(Some("trace")).unwrap();
    let subscriber = logging::subscriber(format, filter, move || writer.clone());
    (buffer, tracing::subscriber::set_default(subscriber))
}

/// The codes the requests carry, none of which may appear in a log.
const SECRET: &str = "GIFT-SECRET-7731";
const UNKNOWN: &str = "NOPE-UNKNOWN-4242";

/// Requests that carry codes everywhere: in the path, the query and the
/// body, known and unknown, server and client side, a path that matches
/// no route, and a body that does not parse. Returns each answer's
/// `X-Request-Id`.
async fn requests_with_codes(env: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    let send = |request: Request<Body>| {
        let app = env.app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            (response.status(), id)
        }
    };
    let server = |method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-app-id", &env.server.id)
            .header("x-app-token", &env.server.token)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let order = json!({"order": {"amount": 1000}, "metadata": {"note": SECRET}});
    for (method, path, body, expected) in [
        (
            "POST",
            format!("/v1/vouchers/{SECRET}/validate"),
            order.clone(),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/v1/vouchers/{UNKNOWN}/redemption"),
            order.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1/validations".to_owned(),
            json!({"redeemables": [{"object": "voucher", "id": SECRET},
                                   {"object": "voucher", "id": UNKNOWN}],
                   "order": {"amount": 1000}}),
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/v1/vouchers/{SECRET}/no-such-thing"),
            json!({}),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            format!("/v1/vouchers/{SECRET}/validate"),
            json!({"order": {"amount": SECRET}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, id) = send(server(method, &path, body)).await;
        assert_eq!(status, expected, "{method} {path}");
        ids.push(id);
    }
    let mut client = Request::builder()
        .uri(format!("/client/v1/validate?code={UNKNOWN}&amount=100"))
        .header("x-client-application-id", &env.client.id)
        .header("x-client-token", &env.client.token)
        .header("origin", ORIGIN)
        .body(Body::empty())
        .unwrap();
    let peer: SocketAddr = "203.0.113.7:4000".parse().unwrap();
    client.extensions_mut().insert(ConnectInfo(peer));
    let (status, id) = send(client).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    ids.push(id);
    ids
}

fn env() -> Env {
    let env = Env::with_config(Config::default());
    create(&env, spec(SECRET, amount_off(100), None));
    env
}

async fn json_lines_parse_carry_the_request_id_and_never_a_whole_code() {
    let env = env();
    let (buffer, guard) = capture(LogFormat::Json);
    let ids = requests_with_codes(&env).await;
    drop(guard);
    let text = buffer.text();
    assert!(!text.contains(SECRET), "a whole code in the logs:\n{text}");
    assert!(!text.contains(UNKNOWN), "a whole code in the logs:\n{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    // Every line belongs to a request, and names it.
    for line in &lines {
        let id = line["span"]["request_id"].as_str().unwrap_or_else(|| {
            panic!("a line without a request id: {line}");
        });
        assert!(ids.iter().any(|i| i == id), "{line}");
        assert!(line["timestamp"].is_string() && line["level"].is_string());
    }
    // One request line per request, by route template.
    let finished: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(finished.len(), ids.len(), "{text}");
    for (line, id) in finished.iter().zip(&ids) {
        assert_eq!(line["span"]["request_id"], id.as_str());
        assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    let routes: Vec<(&str, &str, u64)> = finished
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap(),
                l["route"].as_str().unwrap(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("POST", "/v1/vouchers/{code}/validate", 200),
            ("POST", "/v1/vouchers/{code}/redemption", 404),
            ("POST", "/v1/validations", 200),
            ("GET", "(unmatched)", 404),
            ("POST", "/v1/vouchers/{code}/validate", 400),
            ("GET", "/client/v1/validate", 404),
        ]
    );
    // The unmatched path is logged masked.
    assert_eq!(
        finished[3]["path"],
        "/v1/vouchers/************7731/*********hing"
    );
    assert_eq!(finished[5]["span"]["client_ip"], "203.0.113.7");
    // A request logs more than its last line (the unknown code, the error
    // answer), each with its id; the unknown code shows its last 4 only.
    let of_unknown: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == ids[1].as_str())
        .collect();
    assert!(of_unknown.len() >= 3, "{of_unknown:?}");
    assert!(of_unknown
        .iter()
        .any(|l| l["message"] == "unknown code" && l["code"] == "*************4242"));
}

async fn text_lines_carry_the_request_id_and_never_a_whole_code() {
    let env = env();
    let (buffer, guard) = capture(LogFormat::Text);
    let ids = requests_with_codes(&env).await;
    drop(guard);
    let text = buffer.text();
    assert!(!text.contains(SECRET) && !text.contains(UNKNOWN), "{text}");
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(
            ids.iter()
                .any(|id| line.contains(&format!("request_id={id}"))),
            "a line without its request id: {line}"
        );
    }
    let finished = text
        .lines()
        .filter(|l| l.contains(r#"route="/v1/vouchers/{code}/validate""#))
        .count();
    assert_eq!(finished, 2, "{text}");
}

/// Both formats, one after the other: each installs its subscriber for the
/// test's thread, and two at once would race on the call sites' cache.
#[tokio::test]
async fn logs_carry_the_request_id_and_never_a_whole_code() {
    json_lines_parse_carry_the_request_id_and_never_a_whole_code().await;
    text_lines_carry_the_request_id_and_never_a_whole_code().await;
}

/// Events inside nested spans, at every level, with every kind of field:
/// the same under any subscriber.
fn sample_events() {
    tracing::warn!(target: "voucher_http::outside", count = 3u64, "no span \x1b[31m");
    let outer = tracing::info_span!("request", request_id = "v-00ff", client_ip = %"10.0.0.1");
    let _outer = outer.enter();
    tracing::info!(
        method = %"POST",
        route = "/v1/vouchers/{code}/validate",
        path = None::<&str>,
        status = 200u16,
        latency_ms = 1.25f64,
        r#type = "voucher",
        "request"
    );
    let inner = tracing::debug_span!("store");
    let _inner = inner.enter();
    tracing::error!(error = %std::io::Error::other("disk full"), "failed");
    let chained = Chained(std::io::Error::other("no space \x07left"));
    tracing::error!(
        error = &chained as &(dyn std::error::Error + 'static),
        "write failed"
    );
    let alone = std::io::Error::other("alone \u{9b}");
    tracing::warn!(error = &alone as &(dyn std::error::Error + 'static));
    tracing::trace!(ok = true, delta = -4i64, note = "a \"quote\"", "{} done", 2);
}

/// An error with a source.
#[derive(Debug)]
struct Chained(std::io::Error);

impl std::fmt::Display for Chained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot write \x1b[2J")
    }
}

impl std::error::Error for Chained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The text lines, each without its leading timestamp.
fn untimed(buffer: &Buffer) -> Vec<String> {
    buffer
        .text()
        .lines()
        .map(|line| {
            let (time, rest) = line.split_once(' ').unwrap();
            assert!(time.ends_with('Z') && time.contains('T'), "{line}");
            rest.to_owned()
        })
        .collect()
}

/// The server's text lines are written by a formatter of its own (cheaper
/// than the default one's styling): they read exactly as the default
/// format's lines without colours.
#[test]
fn text_lines_read_as_the_default_format() {
    let ours = Buffer::default();
    let writer = ours.clone();
    let subscriber = logging::subscriber(
        LogFormat::Text,
        logging::filter(Some("trace")).unwrap(),
        move || writer.clone(),
    );
    tracing::subscriber::with_default(subscriber, sample_events);
    let default = Buffer::default();
    let writer = default.clone();
    let reference = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(reference, sample_events);
    let (ours, default) = (untimed(&ours), untimed(&default));
    assert_eq!(ours.len(), 6, "{ours:?}");
    assert_eq!(ours, default);
    assert!(ours[1].starts_with(
        r#" INFO request{request_id="v-00ff" client_ip=10.0.0.1}: logs::logging: request method=POST"#
    ));
}
