//! Projects and keys: creation, duplicates, hashed secrets, revocation,
//! asset secrets, and the typed errors of a bad database file.

use voucher_core::port::{ClientPermission, KeyKind, KeySpec, ProjectId, ProjectStore, StoreError};
use voucher_store_sqlite::{Options, SqliteStore};

use crate::support::{fixture, other_project, t0};

#[test]
fn keys_authenticate_only_with_their_secret_until_revoked() {
    let f = fixture();
    let spec = KeySpec {
        project: f.project,
        kind: KeyKind::Client,
        app_id: "client-1".to_owned(),
        secret: "s3cret".to_owned(),
        origins: vec!["https://shop.example".to_owned()],
        permissions: vec![ClientPermission::Redeem],
    };
    f.store.create_key(&spec, t0()).unwrap();
    assert!(matches!(
        f.store.create_key(&spec, t0()),
        Err(StoreError::Duplicate { .. })
    ));
    let key = f.store.authenticate("client-1", "s3cret").unwrap().unwrap();
    assert_eq!(key.project, f.project);
    assert_eq!(key.permissions, vec![ClientPermission::Redeem]);
    assert_eq!(f.store.authenticate("client-1", "wrong").unwrap(), None);
    assert_eq!(f.store.authenticate("nobody", "s3cret").unwrap(), None);
    f.store.revoke_key("client-1", t0()).unwrap();
    assert_eq!(f.store.authenticate("client-1", "s3cret").unwrap(), None);
    assert!(matches!(
        f.store.revoke_key("client-1", t0()),
        Err(StoreError::NotFound { .. })
    ));
    // A revocation by another process (another store on the same file) is
    // seen at once, though the key was read (and kept) just before.
    let spec = KeySpec {
        app_id: "client-2".to_owned(),
        ..spec
    };
    f.store.create_key(&spec, t0()).unwrap();
    for _ in 0..3 {
        assert!(f
            .store
            .authenticate("client-2", "s3cret")
            .unwrap()
            .is_some());
    }
    let other = SqliteStore::open(f.dir.path().join("voucher.db"), Options::default()).unwrap();
    other.revoke_key("client-2", t0()).unwrap();
    assert_eq!(f.store.authenticate("client-2", "s3cret").unwrap(), None);
    drop(other);
    // The secret is not in the file in clear.
    drop(f.store);
    let bytes = std::fs::read(f.dir.path().join("voucher.db")).unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"s3cret"));
}

#[test]
fn the_asset_secret_is_the_first_candidate_for_good_and_per_project() {
    let f = fixture();
    let other = other_project(&f);
    let first = f.store.asset_secret(f.project, [1; 32]).unwrap();
    assert_eq!(first, [1; 32]);
    assert_eq!(f.store.asset_secret(f.project, [2; 32]).unwrap(), [1; 32]);
    assert_eq!(f.store.asset_secret(other, [3; 32]).unwrap(), [3; 32]);
    assert!(matches!(
        f.store.asset_secret(ProjectId(999), [4; 32]),
        Err(StoreError::NotFound { .. })
    ));
    // It survives a restart.
    let path = f.dir.path().join("voucher.db");
    drop(f.store);
    let store = SqliteStore::open(&path, Options::default()).unwrap();
    assert_eq!(store.asset_secret(f.project, [5; 32]).unwrap(), [1; 32]);
    assert_eq!(store.asset_secret(other, [6; 32]).unwrap(), [3; 32]);
}

#[test]
fn racing_first_asset_secrets_agree() {
    let f = fixture();
    let secrets: Vec<[u8; 32]> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u8)
            .map(|i| {
                let store = f.store.clone();
                let project = f.project;
                scope.spawn(move || store.asset_secret(project, [i; 32]).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(secrets.iter().all(|s| *s == secrets[0]), "{secrets:?}");
    assert_eq!(
        f.store.asset_secret(f.project, [9; 32]).unwrap(),
        secrets[0]
    );
}

#[test]
fn project_names_are_unique() {
    let f = fixture();
    let again = f.store.project(f.project).unwrap().spec;
    assert!(matches!(
        f.store.create_project(&again, t0()),
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(f.store.projects().unwrap().len(), 1);
    assert_eq!(
        f.store.project_by_name("default").unwrap().unwrap().id,
        f.project
    );
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voucher.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = SqliteStore::open(&path, Options::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    // And it was left as it was.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x42u8; 8192]);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voucher.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = SqliteStore::open(&path, Options::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err:?}"
    );
}

#[test]
fn a_full_disk_is_a_typed_error_and_leaves_nothing_half_written() {
    use voucher_core::port::{BenefitSpec, CampaignStore, CheckoutStore};

    use crate::catalog::{campaign_spec, percent_off};
    use crate::support::fixture_with;

    // A quota on the file stands in for a full disk: SQLite answers both
    // with SQLITE_FULL.
    let dir = tempfile::tempdir().unwrap();
    let tiny = Options {
        max_page_count: Some(8),
        ..Options::default()
    };
    let err = SqliteStore::open(dir.path().join("tiny.db"), tiny).unwrap_err();
    assert_eq!(err, StoreError::DiskFull, "not even the schema fits");
    let f = fixture_with(Options {
        max_page_count: Some(400),
        ..Options::default()
    });
    let spec = campaign_spec("Full", "F-", 50_000, BenefitSpec::Discount(percent_off(10)));
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    let err = f
        .store
        .generate_codes(f.project, &campaign.id, 50_000, 1, t0())
        .unwrap_err();
    assert_eq!(err, StoreError::DiskFull);
    f.store.integrity_check().unwrap();
    // Whole chunks went in or none of a chunk: the counter matches the rows.
    let campaign = f.store.campaign(f.project, "Full").unwrap();
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    let rows = conn
        .query_row("SELECT COUNT(*) FROM vouchers", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(campaign.codes_count, u64::try_from(rows).unwrap());
    // The store still answers, and reads still work.
    assert!(f.store.redemptions(f.project, &Default::default()).is_ok());
}
