//! `voucher serve`: opens (creating and migrating) the database, makes sure
//! the `default` project and its keys exist, and serves the HTTP API until
//! SIGINT or SIGTERM, then finishes the requests in flight and exits 0.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use voucher_core::port::{
    ClientPermission, KeyKind, KeySpec, MaintenanceStore, ProjectId, ProjectStore, Retention,
    StoreError,
};
use voucher_http::{AppState, Config, LockoutPolicy, LogFormat, RateLimit, TrustedProxies};
use voucher_store_sqlite::{Options, SqliteStore, Synchronous};

use crate::bootstrap::{ensure_default_project, env, open_store, random_hex};
use crate::failure::Failure;

const SERVE_AFTER_HELP: &str = "\
Every flag can be set by the environment variable in brackets; a flag wins over it.
Logs go to stderr, one line per request with its request id (never a whole code).

Example:
  voucher serve --db shop.db --listen 127.0.0.1:8080
  VOUCHER_TRUSTED_PROXIES=10.0.0.0/8 voucher serve --db shop.db --log-format json";

/// Flags of `voucher serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = SERVE_AFTER_HELP)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "VOUCHER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Durability of commits: full (survives power loss) or normal.
    #[arg(long, env = "VOUCHER_SYNCHRONOUS", default_value = "full", value_parser = ["full", "normal"])]
    pub synchronous: String,
    /// Currency of the `default` project when it is created.
    #[arg(long, env = "VOUCHER_CURRENCY", default_value = "EUR")]
    pub currency: String,
    /// Time zone of the `default` project when it is created.
    #[arg(long, env = "VOUCHER_TIME_ZONE", default_value = "UTC")]
    pub time_zone: String,
    /// Most bytes of a JSON request body.
    #[arg(long, env = "VOUCHER_JSON_BODY_MAX", default_value_t = 1 << 20)]
    pub json_body_max: usize,
    /// Most bytes of a CSV upload.
    #[arg(long, env = "VOUCHER_CSV_BODY_MAX", default_value_t = 10 << 20)]
    pub csv_body_max: usize,
    /// Requests each client IP may make on /client/v1 per window (0: unlimited).
    #[arg(long, env = "VOUCHER_CLIENT_RATE_LIMIT", default_value_t = 50)]
    pub client_rate_limit: u32,
    /// The window of --client-rate-limit: 10s, 500ms, 1m, 1h (a bare number is seconds).
    #[arg(long, env = "VOUCHER_CLIENT_RATE_WINDOW", default_value = "10s", value_parser = parse_window)]
    pub client_rate_window: Duration,
    /// Unknown codes in a row that lock a client IP out of /client/v1 (0: never).
    #[arg(long, env = "VOUCHER_LOCKOUT_AFTER", default_value_t = 20)]
    pub lockout_after: u32,
    /// How long a client IP stays locked out: 15m, 1h, 90s (0: never).
    #[arg(long, env = "VOUCHER_LOCKOUT_FOR", default_value = "15m", value_parser = parse_window_or_zero)]
    pub lockout_for: Duration,
    /// Requests each server key (application id) may make per window (0: unlimited).
    #[arg(long, env = "VOUCHER_KEY_RATE_LIMIT", default_value_t = 0)]
    pub key_rate_limit: u32,
    /// The window of --key-rate-limit: 1m, 10s, 1h (a bare number is seconds).
    #[arg(long, env = "VOUCHER_KEY_RATE_WINDOW", default_value = "1m", value_parser = parse_window)]
    pub key_rate_window: Duration,
    /// Reverse proxies whose X-Forwarded-For names the client: IPs and CIDRs, comma-separated.
    #[arg(
        long,
        env = "VOUCHER_TRUSTED_PROXIES",
        default_value = "",
        hide_default_value = true
    )]
    pub trusted_proxies: TrustedProxies,
    /// Log lines as text or json (on stderr).
    #[arg(long, env = "VOUCHER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log level or RUST_LOG directives (info, debug, voucher_http=debug,warn); default: RUST_LOG, else info.
    #[arg(long, env = "VOUCHER_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Most redemptions (and other writes) the writer commits together;
    /// 1 makes one commit, and one fsync, per write.
    #[arg(long, env = "VOUCHER_WRITER_BATCH_MAX", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub writer_batch_max: u32,
    /// The server's address as clients reach it, the start of the vouchers'
    /// QR code and barcode URLs (default: http:// and the listen address).
    #[arg(long, env = "VOUCHER_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// The wait before a failed webhook delivery's first retry (it doubles, up to 1h).
    #[arg(long, env = "VOUCHER_WEBHOOK_RETRY_DELAY", default_value = "30s", value_parser = parse_window)]
    pub webhook_retry_delay: Duration,
}

/// An http(s) URL without query or fragment, its trailing `/` removed.
fn parse_public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} does not start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        return Err(format!(
            "{text:?} is not a URL such as https://vouchers.example"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The public URL when none is given: the listen address, with the
/// loopback address for an unspecified one (0.0.0.0, ::).
fn listen_url(address: SocketAddr) -> String {
    let mut address = address;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{address}")
}

/// A window as [`parse_window`] reads it, or 0 (off).
fn parse_window_or_zero(text: &str) -> Result<Duration, String> {
    let digits = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty() && digits.bytes().all(|b| b == b'0') {
        return Ok(Duration::ZERO);
    }
    parse_window(text)
}

/// The budget of each server key the flags ask for; `None` when unlimited.
fn key_rate_limit(args: &ServeArgs) -> Result<Option<RateLimit>, Failure> {
    if args.key_rate_limit == 0 {
        return Ok(None);
    }
    RateLimit::new(args.key_rate_limit, args.key_rate_window)
        .map(Some)
        .map_err(|e| Failure::usage("invalid_rate_limit", format!("--key-rate-limit: {e}")))
}

/// A window such as `10s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
fn parse_window(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s, 500ms, 1m"))?;
    let millis_per = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit {unit:?} (ms, s, m or h)")),
    };
    let millis = number
        .checked_mul(millis_per)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    if millis == 0 {
        return Err("the window is at least 1ms".to_owned());
    }
    Ok(Duration::from_millis(millis))
}

/// The client budget the flags ask for; `None` when unlimited.
fn client_rate_limit(args: &ServeArgs) -> Result<Option<RateLimit>, Failure> {
    if args.client_rate_limit == 0 {
        return Ok(None);
    }
    RateLimit::new(args.client_rate_limit, args.client_rate_window)
        .map(Some)
        .map_err(|e| Failure::usage("invalid_rate_limit", format!("--client-rate-limit: {e}")))
}

/// Makes sure the bootstrap keys exist: those of the environment
/// (VOUCHER_APP_ID, VOUCHER_APP_TOKEN, VOUCHER_CLIENT_APP_ID,
/// VOUCHER_CLIENT_TOKEN) at every start, or new random ones printed once
/// when the project has no key at all.
fn ensure_keys(store: &SqliteStore, project: ProjectId) -> Result<(), Failure> {
    let origins: Vec<String> = env("VOUCHER_CLIENT_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let has_keys = store
        .keys()?
        .iter()
        .any(|k| k.project == project && k.revoked_at.is_none());
    let given = [
        (
            KeyKind::Server,
            env("VOUCHER_APP_ID"),
            env("VOUCHER_APP_TOKEN"),
        ),
        (
            KeyKind::Client,
            env("VOUCHER_CLIENT_APP_ID"),
            env("VOUCHER_CLIENT_TOKEN"),
        ),
    ];
    for (kind, app_id, secret) in given {
        let printed = app_id.is_none() || secret.is_none();
        if printed && has_keys {
            continue;
        }
        let app_id = match app_id {
            Some(id) => id,
            None => random_hex(8)?,
        };
        let secret = match secret {
            Some(secret) => secret,
            None => random_hex(24)?,
        };
        let spec = KeySpec {
            project,
            kind,
            app_id: app_id.clone(),
            secret: secret.clone(),
            origins: if kind == KeyKind::Client {
                origins.clone()
            } else {
                Vec::new()
            },
            permissions: match kind {
                KeyKind::Client => vec![ClientPermission::Redeem, ClientPermission::Publish],
                KeyKind::Server => Vec::new(),
            },
        };
        match store.create_key(&spec, Utc::now()) {
            Ok(_) if printed => {
                let side = if kind == KeyKind::Server {
                    "server"
                } else {
                    "client"
                };
                println!("created {side} key: application id {app_id}, secret {secret}");
            }
            Ok(_) | Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Runs the server.
/// Purges what the retention policy allows (idempotency records after
/// 24 h, failed attempts of unknown codes after 30 days, ...), at start and
/// every hour, so that neither retries nor an attacker fill the disk.
async fn purge_every_hour(store: SqliteStore) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        let store = store.clone();
        let purged =
            tokio::task::spawn_blocking(move || store.purge(&Retention::default(), Utc::now()))
                .await;
        if let Ok(Err(e)) = purged {
            tracing::warn!(error = %e, "purge failed");
        }
    }
}

pub fn run(db: &Path, args: &ServeArgs) -> Result<(), Failure> {
    let log_format = if args.log_format == "json" {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    // Held to the end of `run`: dropping it writes out the lines still
    // queued, the last requests' included.
    let _logs = voucher_http::logging::init(log_format, args.log_level.as_deref())
        .map_err(|e| Failure::usage("invalid_log_level", e))?;
    let synchronous = if args.synchronous == "normal" {
        Synchronous::Normal
    } else {
        Synchronous::Full
    };
    let store = open_store(
        db,
        Options {
            synchronous,
            batch_max: args.writer_batch_max as usize,
            ..Options::default()
        },
    )?;
    let project = ensure_default_project(&store, &args.currency, &args.time_zone)?.id;
    ensure_keys(&store, project)?;
    let mut config = Config {
        json_body_max: args.json_body_max,
        csv_body_max: args.csv_body_max,
        client_rate_limit: client_rate_limit(args)?,
        lockout: LockoutPolicy::new(args.lockout_after, args.lockout_for),
        key_rate_limit: key_rate_limit(args)?,
        trusted_proxies: args.trusted_proxies.clone(),
        public_url: args.public_url.clone(),
        ..Config::default()
    };
    config.webhooks.retry.first_delay = args.webhook_retry_delay;
    let purger = store.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let address = listener.local_addr()?;
        // Known only now with port 0.
        config.public_url.get_or_insert_with(|| listen_url(address));
        let state = AppState::new(Arc::new(store), Arc::new(Utc::now), config);
        println!("listening on http://{address}");
        tracing::info!(%address, "listening");
        std::io::stdout().flush()?;
        tokio::spawn(purge_every_hour(purger));
        voucher_http::serve(listener, state, shutdown_signal()).await
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let check = |text: &str, expected: Result<u64, ()>| {
            assert_eq!(
                parse_window(text)
                    .map(|d| u64::try_from(d.as_millis()).unwrap())
                    .map_err(|_| ()),
                expected,
                "{text}"
            );
        };
        check("10s", Ok(10_000));
        check("10", Ok(10_000));
        check("500ms", Ok(500));
        check("2m", Ok(120_000));
        check("1h", Ok(3_600_000));
        check("0s", Err(()));
        check("s", Err(()));
        check("10d", Err(()));
        check("-1s", Err(()));
        check("99999999999999999h", Err(()));
        assert_eq!(parse_window_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(parse_window_or_zero("0m"), Ok(Duration::ZERO));
        assert_eq!(parse_window_or_zero("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_window_or_zero("m").is_err());
    }

    #[test]
    fn public_urls() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(parse_public_url(text).ok().as_deref(), expected, "{text}");
        };
        check(
            "https://vouchers.example/",
            Some("https://vouchers.example"),
        );
        check("http://10.0.0.5:8080/api", Some("http://10.0.0.5:8080/api"));
        check("vouchers.example", None);
        check("https://", None);
        check("https://a.example/?x=1", None);
        check("ftp://a.example", None);
        let listen = |text: &str| listen_url(text.parse().unwrap());
        assert_eq!(listen("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(listen("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(listen("[::]:9000"), "http://[::1]:9000");
    }
}
