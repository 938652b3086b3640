//! Async actions, the audit log, the retention purge and online backups.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use voucher_core::port::{
    ActionStatus, BenefitSpec, CampaignStore, ImportFailure, ListQuery, MaintenanceStore,
    ProjectStore, Retention, SortOrder, StoreError, VoucherStore,
};
use voucher_core::voucher::RedemptionQuantity;
use voucher_store_sqlite::{Options, SqliteStore};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::support::{fixture, other_project, t0, Fixture};

#[test]
fn async_actions_are_created_updated_and_read_per_project() {
    let f = fixture();
    let created = f
        .store
        .create_action(f.project, "IMPORT_VOUCHERS", t0())
        .unwrap();
    assert!(created.id.starts_with("aa_"), "{}", created.id);
    assert_eq!(
        (created.status, created.progress),
        (ActionStatus::Enqueued, 0)
    );
    let mut done = created.clone();
    done.status = ActionStatus::Done;
    done.progress = 100;
    done.done_count = 7;
    done.message = Some("7 imported, 1 failed".to_owned());
    done.failed = (1..=1500)
        .map(|row| ImportFailure {
            row,
            code: None,
            reason: "missing code".to_owned(),
        })
        .collect();
    let later = t0() + chrono::Duration::seconds(5);
    f.store.update_action(f.project, &done, later).unwrap();
    let read = f.store.action(f.project, &created.id).unwrap();
    assert_eq!(read.status, ActionStatus::Done);
    assert_eq!(read.done_count, 7);
    assert_eq!(read.message.as_deref(), Some("7 imported, 1 failed"));
    assert_eq!(read.failed.len(), 1000, "the stored list is bounded");
    assert_eq!((read.created_at, read.updated_at), (t0(), later));

    let other = other_project(&f);
    assert!(matches!(
        f.store.action(other, &created.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        f.store.update_action(other, &done, later),
        Err(StoreError::NotFound { .. })
    ));
    done.progress = 101;
    assert!(matches!(
        f.store.update_action(f.project, &done, later),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn the_audit_log_pages_newest_first() {
    let f = fixture();
    let spec = voucher_spec(
        "AUDITED",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Unlimited,
    );
    f.store.create_voucher(f.project, &spec, t0()).unwrap();
    for i in 0..5 {
        let at = t0() + chrono::Duration::minutes(i);
        f.store
            .set_voucher_active(f.project, "AUDITED", i % 2 == 1, &format!("tom-{i}"), at)
            .unwrap();
    }
    let query = ListQuery {
        limit: 2,
        ..ListQuery::default()
    };
    let first = f.store.audit_log(f.project, &query).unwrap();
    let actors = |page: &voucher_core::port::Page<voucher_core::port::AuditRecord>| {
        page.items
            .iter()
            .map(|a| a.actor.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(actors(&first), ["tom-4", "tom-3"]);
    assert_eq!((first.total, first.has_more), (5, true));
    assert_eq!(first.items[0].action, "voucher.disabled");
    let second = f
        .store
        .audit_log(
            f.project,
            &ListQuery {
                starting_after: first.next_cursor.clone(),
                ..query.clone()
            },
        )
        .unwrap();
    assert_eq!(actors(&second), ["tom-2", "tom-1"]);
    let third = f
        .store
        .audit_log(
            f.project,
            &ListQuery {
                page: 3,
                ..query.clone()
            },
        )
        .unwrap();
    assert_eq!(actors(&third), ["tom-0"]);
    assert!(!third.has_more && third.next_cursor.is_none());
    let oldest = f
        .store
        .audit_log(
            f.project,
            &ListQuery {
                order: SortOrder::OldestFirst,
                created_after: Some(t0()),
                ..query.clone()
            },
        )
        .unwrap();
    assert_eq!(actors(&oldest), ["tom-1", "tom-2"]);
    assert_eq!(oldest.total, 4);
    let other = other_project(&f);
    assert_eq!(f.store.audit_log(other, &query).unwrap().total, 0);
    for bad in [
        ListQuery {
            limit: 0,
            ..ListQuery::default()
        },
        ListQuery {
            limit: 101,
            ..ListQuery::default()
        },
        ListQuery {
            starting_after: Some("nope".to_owned()),
            ..ListQuery::default()
        },
    ] {
        assert!(matches!(
            f.store.audit_log(f.project, &bad),
            Err(StoreError::Invalid {
                key: "invalid_query_params",
                ..
            })
        ));
    }
}

/// Rows the purge may or may not remove, written directly (their writers
/// are other modules').
fn seed_purgeable(f: &Fixture, old: i64, new: i64) {
    let conn = rusqlite::Connection::open(f.store.path()).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let redemption = |ext: &str, kind: &str, parent: Option<i64>, failure: &str, at: i64| {
        conn.execute(
            "INSERT INTO redemptions (project_id, ext_id, kind, parent_id, code, result, state,
                                      failure_code, order_snapshot, channel, metadata, created_at)
             VALUES (?1, ?2, ?3, ?4, 'GUESS', 'FAILURE', 'FAILED', ?5, '{}', 'API', '{}', ?6)",
            rusqlite::params![f.project.0, ext, kind, parent, failure, at],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    // Purged: old unknown codes, alone or in a stacked request.
    redemption("rf_old_1", "single", None, "resource_not_found", old);
    let parent = redemption("rf_old_parent", "parent", None, "resource_not_found", old);
    redemption(
        "rf_old_child",
        "child",
        Some(parent),
        "resource_not_found",
        old,
    );
    // Kept: recent, or a failure of a code that exists.
    redemption("rf_new", "single", None, "resource_not_found", new);
    redemption("rf_old_expired", "single", None, "voucher_expired", old);
    for (key, at) in [("old-key", old), ("new-key", new)] {
        conn.execute(
            "INSERT INTO idempotency_keys (project_id, key, method, path, request_sha256, created_at)
             VALUES (?1, ?2, 'POST', '/v1/redemptions', x'00', ?3)",
            rusqlite::params![f.project.0, key, at],
        )
        .unwrap();
    }
    for (ext, delivered) in [
        ("evt_old", Some(old)),
        ("evt_new", Some(new)),
        ("evt_pending", None),
    ] {
        conn.execute(
            "INSERT INTO events (project_id, ext_id, type, data, created_at, delivered_at)
             VALUES (?1, ?2, 'redemption.failed', '{}', ?3, ?4)",
            rusqlite::params![f.project.0, ext, old, delivered],
        )
        .unwrap();
    }
}

fn remaining(f: &Fixture, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(f.store.path()).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn the_purge_removes_only_what_retention_allows() {
    let f = fixture();
    let now = t0();
    let day = 24 * 3600 * 1000;
    let old = now.timestamp_millis() - 40 * day;
    let new = now.timestamp_millis() - 2 * 3600 * 1000;
    seed_purgeable(&f, old, new);
    let removed = f.store.purge(&Retention::default(), now).unwrap();
    assert_eq!(removed, 3 + 1 + 1);
    assert_eq!(
        remaining(&f, "SELECT ext_id FROM redemptions ORDER BY id"),
        ["rf_new", "rf_old_expired"]
    );
    assert_eq!(
        remaining(&f, "SELECT key FROM idempotency_keys"),
        ["new-key"]
    );
    assert_eq!(
        remaining(&f, "SELECT ext_id FROM events ORDER BY id"),
        ["evt_new", "evt_pending"]
    );
    // Nothing left to purge; a second run removes nothing.
    assert_eq!(f.store.purge(&Retention::default(), now).unwrap(), 0);
    f.store.integrity_check().unwrap();
}

#[test]
fn the_purge_works_in_chunks() {
    let f = fixture();
    let old = t0().timestamp_millis() - 40 * 24 * 3600 * 1000;
    {
        let conn = rusqlite::Connection::open(f.store.path()).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..5_001 {
            conn.execute(
                "INSERT INTO redemptions (project_id, ext_id, kind, code, result, state,
                                          failure_code, order_snapshot, channel, metadata,
                                          created_at)
                 VALUES (?1, ?2, 'single', 'GUESS', 'FAILURE', 'FAILED', 'resource_not_found',
                         '{}', 'API', '{}', ?3)",
                rusqlite::params![f.project.0, format!("rf_{i}"), old],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let commits_before = f.store.writer_stats().0;
    assert_eq!(f.store.purge(&Retention::default(), t0()).unwrap(), 5_001);
    assert!(
        f.store.writer_stats().0 - commits_before >= 3,
        "one writer job per chunk"
    );
}

#[test]
fn a_backup_taken_while_writing_opens_and_checks_ok() {
    let f = fixture();
    let campaign = f
        .store
        .create_campaign(
            f.project,
            &campaign_spec("Big", "B-", 20_000, BenefitSpec::Discount(percent_off(5))),
            t0(),
        )
        .unwrap();
    f.store
        .generate_codes(f.project, &campaign.id, 20_000, 3, t0())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (store, project) = (f.store.clone(), f.project);
        let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let spec = voucher_spec(
                    &format!("W-{i}"),
                    BenefitSpec::Discount(percent_off(1)),
                    RedemptionQuantity::Limited(1),
                );
                store.create_voucher(project, &spec, t0()).unwrap();
                written.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    while written.load(Ordering::Relaxed) < 20 {
        std::thread::yield_now();
    }
    let copy = f.dir.path().join("backup.db");
    f.store.backup(&copy).unwrap();
    let during = written.load(Ordering::Relaxed);
    while written.load(Ordering::Relaxed) < during + 20 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(!f.dir.path().join("backup.db.partial").exists());

    let restored = SqliteStore::open(&copy, Options::default()).unwrap();
    restored.integrity_check().unwrap();
    let project = restored.project_by_name("default").unwrap().unwrap().id;
    assert_eq!(
        restored.campaign(project, "Big").unwrap().codes_count,
        20_000
    );
    restored.voucher(project, "W-0").unwrap();
    // A snapshot: not everything written after it.
    assert!(matches!(
        restored.voucher(project, &format!("W-{}", during + 10)),
        Err(StoreError::NotFound { .. })
    ));
    // A second backup replaces the first.
    drop(restored);
    f.store.backup(&copy).unwrap();
    let again = SqliteStore::open(&copy, Options::default()).unwrap();
    again.integrity_check().unwrap();
    again
        .voucher(project, &format!("W-{}", during + 10))
        .unwrap();
    // Never onto the database itself.
    assert!(matches!(
        f.store.backup(f.store.path()),
        Err(StoreError::Invalid { .. })
    ));
    f.store.integrity_check().unwrap();
}
