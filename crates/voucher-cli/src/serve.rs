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
use voucher_http::{AppState, Config, RateLimit};
use voucher_store_sqlite::{Options, SqliteStore, Synchronous};

use crate::bootstrap::{ensure_default_project, env, open_store, random_hex};
use crate::failure::Failure;

/// Flags of `voucher serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  voucher serve --db shop.db --listen 127.0.0.1:8080")]
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
    /// The wait before a failed webhook delivery's first retry (it doubles, up to 1h).
    #[arg(long, env = "VOUCHER_WEBHOOK_RETRY_DELAY", default_value = "30s", value_parser = parse_window)]
    pub webhook_retry_delay: Duration,
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
            eprintln!("warning: purge failed: {e}");
        }
    }
}

pub fn run(db: &Path, args: &ServeArgs) -> Result<(), Failure> {
    let synchronous = if args.synchronous == "normal" {
        Synchronous::Normal
    } else {
        Synchronous::Full
    };
    let store = open_store(
        db,
        Options {
            synchronous,
            ..Options::default()
        },
    )?;
    let project = ensure_default_project(&store, &args.currency, &args.time_zone)?.id;
    ensure_keys(&store, project)?;
    let mut config = Config {
        json_body_max: args.json_body_max,
        csv_body_max: args.csv_body_max,
        client_rate_limit: client_rate_limit(args)?,
        ..Config::default()
    };
    config.webhooks.retry.first_delay = args.webhook_retry_delay;
    let purger = store.clone();
    let state = AppState::new(Arc::new(store), Arc::new(Utc::now), config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let address = listener.local_addr()?;
        println!("listening on http://{address}");
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
    }
}
