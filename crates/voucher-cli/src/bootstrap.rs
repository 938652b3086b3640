//! Opening the database file the way every command does: create and migrate
//! it when missing, and make sure the `default` project exists (in the
//! currency and time zone given, else VOUCHER_CURRENCY / VOUCHER_TIME_ZONE,
//! else EUR / UTC). `serve` and the scripting commands share it, so that
//! any command on an empty file leaves the same database behind.

use std::path::Path;

use chrono::Utc;
use voucher_core::money::Currency;
use voucher_core::port::{ProjectRecord, ProjectSpec, ProjectStore, StoreError};
use voucher_store_sqlite::{Options, SqliteStore};

use crate::failure::Failure;

/// The project made on first use.
pub const DEFAULT_PROJECT: &str = "default";

/// Opens (creating and migrating) the database file.
pub fn open_store(db: &Path, options: Options) -> Result<SqliteStore, Failure> {
    SqliteStore::open(db, options).map_err(|e| {
        let failure = Failure::from(e);
        Failure {
            message: format!("{}: {}", db.display(), failure.message),
            ..failure
        }
    })
}

/// Parses a currency code (`EUR`).
pub fn parse_currency(text: &str) -> Result<Currency, Failure> {
    Currency::parse(text).map_err(|e| Failure::usage("invalid_currency", e.to_string()))
}

/// Parses an IANA time zone (`Europe/Warsaw`).
pub fn parse_time_zone(text: &str) -> Result<chrono_tz::Tz, Failure> {
    voucher_core::validity::parse_time_zone(text)
        .map_err(|_| Failure::usage("invalid_time_zone", format!("unknown time zone {text:?}")))
}

/// The `default` project, created on first use with this currency and
/// time zone.
pub fn ensure_default_project(
    store: &SqliteStore,
    currency: &str,
    time_zone: &str,
) -> Result<ProjectRecord, Failure> {
    if let Some(project) = store.project_by_name(DEFAULT_PROJECT)? {
        return Ok(project);
    }
    let spec = ProjectSpec {
        name: DEFAULT_PROJECT.to_owned(),
        currency: parse_currency(currency)?,
        time_zone: parse_time_zone(time_zone)?,
        stacking: Default::default(),
    };
    match store.create_project(&spec, Utc::now()) {
        Ok(project) => Ok(project),
        // Another process created it meanwhile.
        Err(StoreError::Duplicate { .. }) => store
            .project_by_name(DEFAULT_PROJECT)?
            .ok_or_else(|| Failure::other("store_unavailable", "the default project vanished")),
        Err(e) => Err(e.into()),
    }
}

/// A variable of the environment, when set and not empty.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `bytes` bytes of OS randomness, in hex.
pub fn random_hex(bytes: usize) -> Result<String, Failure> {
    let mut buf = vec![0u8; bytes];
    // Without OS randomness there is no safe secret or seed to make.
    getrandom::fill(&mut buf)
        .map_err(|e| Failure::other("no_randomness", format!("no OS randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A seed for code generation, from OS randomness.
pub fn random_seed() -> Result<u64, Failure> {
    getrandom::u64().map_err(|e| Failure::other("no_randomness", format!("no OS randomness: {e}")))
}
