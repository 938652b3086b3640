//! Shared fixtures: a fresh store in a temporary directory and a project.

use chrono::{DateTime, TimeZone, Utc};
use voucher_core::money::Currency;
use voucher_core::port::{ProjectId, ProjectSpec, ProjectStore};
use voucher_core::stacking::StackingRules;
use voucher_store_sqlite::{Options, SqliteStore};

/// A store on a new file, and the directory that holds it.
pub struct Fixture {
    pub store: SqliteStore,
    pub project: ProjectId,
    pub dir: tempfile::TempDir,
}

/// A fixed instant for tests.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap()
}

/// A fresh store with a EUR project named `default`.
pub fn fixture() -> Fixture {
    fixture_with(Options::default())
}

/// A fresh store opened with `options`.
pub fn fixture_with(options: Options) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("voucher.db"), options).unwrap();
    let project = store
        .create_project(
            &ProjectSpec {
                name: "default".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id;
    Fixture {
        store,
        project,
        dir,
    }
}

/// A second EUR project, `other`, in the fixture's store.
pub fn other_project(f: &Fixture) -> ProjectId {
    f.store
        .create_project(
            &ProjectSpec {
                name: "other".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id
}
