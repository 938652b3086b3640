//! What every HTTP test shares: a real SQLite store in a temporary
//! directory, a project `default` (EUR, UTC) with a server key and a client
//! key, a clock the test sets, and calls through the whole app; vouchers
//! and campaigns made through the store, and the check of an error answer.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use tower::ServiceExt;
use voucher_core::code_pattern::{Code, CodeConfig};
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::money::{Currency, Money};
use voucher_core::port::{
    BenefitSpec, CampaignSpec, CampaignStore, ClientPermission, KeyKind, KeySpec, ProjectId,
    ProjectSpec, ProjectStore, VoucherSpec, VoucherStore, VoucherTemplate,
};
use voucher_core::validity::Validity;
use voucher_core::voucher::{Activity, CampaignKind, CampaignType, RedemptionQuantity};
use voucher_http::{AppState, Config};
use voucher_store_sqlite::{Options, SqliteStore};

/// The origin the client key allows.
pub const ORIGIN: &str = "https://shop.example";

/// A key pair.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Application id.
    pub id: String,
    /// Secret.
    pub token: String,
}

/// A server over a fresh database.
pub struct Env {
    /// The whole app.
    pub app: Router,
    /// The store under it, for checks that go around the API.
    pub store: SqliteStore,
    /// The `default` project.
    pub project: ProjectId,
    /// Its server key.
    pub server: Keys,
    /// Its client key (redeem and publish allowed, origin [`ORIGIN`]).
    pub client: Keys,
    now: Arc<Mutex<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

/// 2026-11-23 12:00:00 UTC, where every test's clock starts.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

impl Env {
    /// A fresh server with the default settings.
    pub fn new() -> Env {
        Env::with_config(Config::default())
    }

    /// A fresh server with `config`.
    pub fn with_config(config: Config) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("voucher.db"), Options::default()).unwrap();
        let now = Arc::new(Mutex::new(start()));
        let clock_now = Arc::clone(&now);
        let state = AppState::new(
            Arc::new(store.clone()),
            Arc::new(move || *clock_now.lock().unwrap()),
            config,
        );
        let mut env = Env {
            app: voucher_http::app(state),
            store,
            project: ProjectId(0),
            server: Keys {
                id: String::new(),
                token: String::new(),
            },
            client: Keys {
                id: String::new(),
                token: String::new(),
            },
            now,
            _dir: dir,
        };
        let (project, server) = env.add_project("default");
        env.project = project;
        env.server = server;
        env.client = env.add_key(project, KeyKind::Client, "default-client");
        env
    }

    /// Creates another project (EUR, UTC) and returns it with a server key.
    pub fn add_project(&self, name: &str) -> (ProjectId, Keys) {
        let spec = ProjectSpec {
            name: name.to_owned(),
            currency: Currency::parse("EUR").unwrap(),
            time_zone: chrono_tz::UTC,
            stacking: Default::default(),
        };
        let project = self.store.create_project(&spec, start()).unwrap().id;
        let keys = self.add_key(project, KeyKind::Server, &format!("{name}-server"));
        (project, keys)
    }

    /// Creates a key of `kind` in `project`; a client key may redeem and
    /// publish from [`ORIGIN`].
    pub fn add_key(&self, project: ProjectId, kind: KeyKind, id: &str) -> Keys {
        let keys = Keys {
            id: id.to_owned(),
            token: format!("{id}-secret-0123456789"),
        };
        let client = kind == KeyKind::Client;
        let spec = KeySpec {
            project,
            kind,
            app_id: keys.id.clone(),
            secret: keys.token.clone(),
            origins: if client {
                vec![ORIGIN.to_owned()]
            } else {
                Vec::new()
            },
            permissions: if client {
                vec![ClientPermission::Redeem, ClientPermission::Publish]
            } else {
                Vec::new()
            },
        };
        self.store.create_key(&spec, start()).unwrap();
        keys
    }

    /// The clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    /// Sets the clock.
    pub fn set_now(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap() = now;
    }

    /// Sends `request` through the app.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, json)
    }

    /// Calls a server endpoint with the default project's server key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let keys = self.server.clone();
        self.call_as(&keys, method, path, body).await
    }

    /// Calls a server endpoint with `keys`.
    pub async fn call_as(
        &self,
        keys: &Keys,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("x-app-id", &keys.id)
            .header("x-app-token", &keys.token);
        self.send(with_body(request, body)).await
    }

    /// Calls a client endpoint with the client key from [`ORIGIN`].
    pub async fn client(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let keys = self.client.clone();
        self.client_as(&keys, ORIGIN, method, path, body).await
    }

    /// Calls a client endpoint with the client key `keys` from `origin`.
    pub async fn client_as(
        &self,
        keys: &Keys,
        origin: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("x-client-application-id", &keys.id)
            .header("x-client-token", &keys.token)
            .header("origin", origin);
        self.send(with_body(request, body)).await
    }
}

fn with_body(request: axum::http::request::Builder, body: Option<Value>) -> Request<Body> {
    match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    }
}

/// A voucher spec with `code`, worth `benefit`, usable `quantity` times
/// (without limit when `None`).
pub fn spec(code: &str, benefit: BenefitSpec, quantity: Option<u64>) -> VoucherSpec {
    VoucherSpec {
        code: Some(Code::parse(code).unwrap()),
        code_config: None,
        campaign: None,
        benefit: Some(benefit),
        quantity: Some(quantity.map_or(RedemptionQuantity::Unlimited, RedemptionQuantity::Limited)),
        validity: Validity::default(),
        activity: Activity::Enabled,
        category: None,
        additional_info: None,
        metadata: Default::default(),
    }
}

/// `amount_off` (wire integer, EUR) off the order.
pub fn amount_off(wire: i64) -> BenefitSpec {
    BenefitSpec::Discount(
        Discount::new(
            DiscountValue::Amount {
                amount_off: Money::from_wire(wire, Currency::EUR).unwrap(),
            },
            Effect::ApplyToOrder,
        )
        .unwrap(),
    )
}

/// A gift card of `wire` (integer) credits.
pub fn gift(wire: i64) -> BenefitSpec {
    BenefitSpec::Gift { amount_minor: wire }
}

/// Creates a voucher in the default project through the store: its id.
pub fn create(env: &Env, spec: VoucherSpec) -> String {
    env.store
        .create_voucher(env.project, &spec, env.now())
        .unwrap()
        .id
}

/// An error answer: its status, its stable key, and the body's `code`.
pub fn check_error(response: &(StatusCode, Value), status: StatusCode, key: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["key"], key, "{}", response.1);
    assert_eq!(response.1["code"], status.as_u16(), "{}", response.1);
}

/// A discount campaign's spec: its codes made by `code_config`, worth
/// `benefit`, each usable once.
pub fn campaign_spec(
    name: &str,
    kind: CampaignKind,
    benefit: BenefitSpec,
    code_config: CodeConfig,
) -> CampaignSpec {
    CampaignSpec {
        name: name.to_owned(),
        description: None,
        campaign_type: CampaignType::DiscountCoupons,
        kind,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        limits: Default::default(),
        categories: Vec::new(),
        template: VoucherTemplate {
            benefit,
            quantity: RedemptionQuantity::Limited(1),
            code_config,
        },
        vouchers_count: 0,
        activity_duration_after_publishing: None,
        metadata: Default::default(),
    }
}

/// Creates a campaign in the default project through the store, with
/// `count` generated codes: its id.
pub fn create_campaign(env: &Env, spec: &CampaignSpec, count: u64) -> String {
    let created = env
        .store
        .create_campaign(env.project, spec, env.now())
        .unwrap();
    if count > 0 {
        env.store
            .generate_codes(env.project, &created.id, count, 7, env.now())
            .unwrap();
    }
    created.id
}

/// Calls the API with `keys` and expects a success: the answer's body.
pub async fn ok_as(
    env: &Env,
    keys: &Keys,
    method: &str,
    path: &str,
    body: impl Into<Option<Value>>,
) -> Value {
    let (status, reply) = env.call_as(keys, method, path, body.into()).await;
    assert!(status.is_success(), "{method} {path}: {status} {reply}");
    reply
}

/// Sends a raw body with a content type, with the server key `keys`.
pub async fn send_raw(
    env: &Env,
    keys: &Keys,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-app-id", &keys.id)
        .header("x-app-token", &keys.token)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    env.send(request).await
}

impl Env {
    /// Another app state over this env's store and clock, with `config`
    /// (for a background worker beside [`Env::app`]).
    pub fn state(&self, config: Config) -> AppState {
        let clock_now = Arc::clone(&self.now);
        AppState::new(
            Arc::new(self.store.clone()),
            Arc::new(move || *clock_now.lock().unwrap()),
            config,
        )
    }

    /// An app state over a store opened anew on this env's database file,
    /// with this env's clock: the server after a restart.
    pub fn reopened(&self, config: Config) -> AppState {
        let store = SqliteStore::open(self.store.path(), Options::default()).unwrap();
        let clock_now = Arc::clone(&self.now);
        AppState::new(
            Arc::new(store),
            Arc::new(move || *clock_now.lock().unwrap()),
            config,
        )
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body as JSON.
    pub body: Value,
    /// Whether `x-voucherify-signature` is the hex HMAC-SHA256 of the raw
    /// body under the receiver's secret.
    pub signed: bool,
    /// The status answered.
    pub status: u16,
}

/// A real HTTP server on 127.0.0.1 that records webhook deliveries and
/// checks their signatures; it can fail the first requests (500), or hold
/// every answer until released.
#[derive(Clone)]
pub struct Receiver {
    /// Where it listens (`http://127.0.0.1:PORT/hook`).
    pub url: String,
    state: Arc<ReceiverState>,
}

struct ReceiverState {
    secret: Mutex<String>,
    received: Mutex<Vec<Received>>,
    failures_left: Mutex<usize>,
    hold: tokio::sync::watch::Receiver<bool>,
    release: tokio::sync::watch::Sender<bool>,
}

impl Receiver {
    /// Starts a receiver that answers 500 to the first `failures` requests;
    /// when `hold`, no answer is sent until [`Receiver::release`].
    pub async fn start(failures: usize, hold: bool) -> Receiver {
        let (release, held) = tokio::sync::watch::channel(!hold);
        let state = Arc::new(ReceiverState {
            secret: Mutex::new(String::new()),
            received: Mutex::new(Vec::new()),
            failures_left: Mutex::new(failures),
            hold: held,
            release,
        });
        let handler_state = Arc::clone(&state);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = Arc::clone(&handler_state);
                    async move { state.receive(&headers, &body).await }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, state }
    }

    /// Sets the secret signatures are checked with.
    pub fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = secret.to_owned();
    }

    /// Lets held requests (and every later one) be answered.
    pub fn release(&self) {
        let _ = self.state.release.send(true);
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the requests received (panics after a
    /// generous minute: a failure, not a timing assertion).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..6000 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("never received {what}: {:#?}", self.received());
    }
}

impl ReceiverState {
    async fn receive(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> axum::http::StatusCode {
        use hmac::Mac;
        let signature = headers
            .get("x-voucherify-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let secret = self.secret.lock().unwrap().clone();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let status = {
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                500
            } else {
                200
            }
        };
        let json = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.received.lock().unwrap().push(Received {
            body: json,
            signed: !secret.is_empty() && signature == expected,
            status,
        });
        let mut hold = self.hold.clone();
        let _ = hold.wait_for(|released| *released).await;
        axum::http::StatusCode::from_u16(status).unwrap()
    }
}

/// Settings of a test's webhook worker: quick polls, retries after 1 s of
/// the test's clock (which only the test moves).
pub fn webhook_config() -> Config {
    Config {
        webhooks: voucher_http::webhooks::WebhookConfig {
            poll_interval: std::time::Duration::from_millis(20),
            timeout: std::time::Duration::from_secs(60),
            concurrency: 4,
            retry: voucher_core::webhook::RetryPolicy {
                first_delay: std::time::Duration::from_secs(1),
                delay_max: std::time::Duration::from_secs(4),
                attempts_max: 3,
            },
        },
        ..Config::default()
    }
}
