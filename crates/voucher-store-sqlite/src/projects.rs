//! Projects and API keys ([`ProjectStore`]). Secrets are random and high
//! in entropy, so they are stored as SHA-256 hashes (a slow hash would cost
//! every request) and compared in constant time.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use voucher_core::port::{
    KeyKind, KeyRecord, KeySpec, ProjectId, ProjectRecord, ProjectSpec, ProjectStore, StoreError,
};

use crate::encode::{from_json, from_json_cached, from_ms, opt_from_ms, to_json, to_ms};
use crate::error::{is_unique_violation, SqlResult};
use crate::{ReadCache, SqliteStore};

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

const PROJECT_COLUMNS: &str = "id, name, currency, time_zone, stacking, created_at";

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<Result<ProjectRecord, StoreError>> {
    let id: i64 = row.get(0)?;
    let name: String = row.get(1)?;
    let currency: String = row.get(2)?;
    let time_zone: String = row.get(3)?;
    let stacking: String = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    Ok((|| {
        Ok(ProjectRecord {
            id: ProjectId(id),
            spec: ProjectSpec {
                name,
                currency: currency
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("project currency: {e}")))?,
                time_zone: time_zone
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("project time zone: {e}")))?,
                stacking: from_json_cached(&stacking)?,
            },
            created_at: from_ms(created_at)?,
        })
    })())
}

/// Loads a project inside a transaction (the writer's or a reader's).
pub(crate) fn load_project(conn: &Connection, id: ProjectId) -> Result<ProjectRecord, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?1")
    });
    conn.prepare_cached(&SQL)
        .store()?
        .query_row([id.0], project_from_row)
        .optional()
        .store()?
        .ok_or_else(|| StoreError::NotFound {
            resource: "project",
            id: id.0.to_string(),
        })?
}

/// The key of `app_id` if `secret` is its secret, from `cache` when there.
pub(crate) fn cached_key(
    conn: &Connection,
    cache: &mut ReadCache,
    app_id: &str,
    secret: &str,
) -> Result<Option<KeyRecord>, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {KEY_COLUMNS}, secret_sha256 FROM api_keys
             WHERE app_id = ?1 AND revoked_at IS NULL"
        )
    });
    let presented = sha256(secret);
    if !cache.keys.contains_key(app_id) {
        let found = conn
            .prepare_cached(&SQL)
            .store()?
            .query_row([app_id], |row| {
                let stored: Vec<u8> = row.get(7)?;
                Ok((key_from_row(row)?, stored))
            })
            .optional()
            .store()?;
        match found {
            Some((key, stored)) => {
                cache.keys.insert(app_id.to_owned(), (key?, stored));
            }
            None => return Ok(None),
        }
    }
    Ok(cache
        .keys
        .get(app_id)
        .filter(|(_, stored)| bool::from(stored.as_slice().ct_eq(&presented)))
        .map(|(key, _)| key.clone()))
}

/// The project `id`, from `cache` when there.
pub(crate) fn cached_project(
    conn: &Connection,
    cache: &mut ReadCache,
    id: ProjectId,
) -> Result<ProjectRecord, StoreError> {
    if let Some(project) = cache.projects.get(&id.0) {
        return Ok(project.clone());
    }
    let project = load_project(conn, id)?;
    cache.projects.insert(id.0, project.clone());
    Ok(project)
}

const KEY_COLUMNS: &str = "project_id, kind, app_id, origins, permissions, created_at, revoked_at";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<Result<KeyRecord, StoreError>> {
    let project: i64 = row.get(0)?;
    let kind: String = row.get(1)?;
    let app_id: String = row.get(2)?;
    let origins: String = row.get(3)?;
    let permissions: String = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    let revoked_at: Option<i64> = row.get(6)?;
    Ok((|| {
        Ok(KeyRecord {
            project: ProjectId(project),
            kind: match kind.as_str() {
                "server" => KeyKind::Server,
                "client" => KeyKind::Client,
                other => return Err(StoreError::Corrupt(format!("key kind {other:?}"))),
            },
            app_id,
            origins: from_json(&origins)?,
            permissions: from_json(&permissions)?,
            created_at: from_ms(created_at)?,
            revoked_at: opt_from_ms(revoked_at)?,
        })
    })())
}

impl ProjectStore for SqliteStore {
    fn create_project(
        &self,
        spec: &ProjectSpec,
        now: DateTime<Utc>,
    ) -> Result<ProjectRecord, StoreError> {
        let spec = spec.clone();
        spec.stacking.check().map_err(|e| StoreError::Invalid {
            key: "invalid_payload",
            message: e.to_string(),
        })?;
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO projects (name, currency, time_zone, stacking, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .store()?
                .execute(params![
                    spec.name,
                    spec.currency.code(),
                    spec.time_zone.name(),
                    to_json(&spec.stacking)?,
                    to_ms(now)
                ]);
            match inserted {
                Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate {
                    resource: "project",
                    id: spec.name.clone(),
                }),
                other => other.store(),
            }?;
            load_project(conn, ProjectId(conn.last_insert_rowid()))
        })
    }

    fn project_by_name(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?1"
            ))
            .store()?
            .query_row([name], project_from_row)
            .optional()
            .store()?
            .transpose()
        })
    }

    fn project(&self, id: ProjectId) -> Result<ProjectRecord, StoreError> {
        self.read_cached(|conn, cache| cached_project(conn, cache, id))
    }

    fn projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id"
                ))
                .store()?;
            let rows = stmt.query_map([], project_from_row).store()?;
            rows.map(|r| r.store().and_then(|r| r)).collect()
        })
    }

    fn create_key(&self, spec: &KeySpec, now: DateTime<Utc>) -> Result<KeyRecord, StoreError> {
        let spec = spec.clone();
        self.write(move |conn| {
            load_project(conn, spec.project)?;
            let kind = match spec.kind {
                KeyKind::Server => "server",
                KeyKind::Client => "client",
            };
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO api_keys
                       (project_id, kind, app_id, secret_sha256, origins, permissions, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .store()?
                .execute(params![
                    spec.project.0,
                    kind,
                    spec.app_id,
                    sha256(&spec.secret).as_slice(),
                    to_json(&spec.origins)?,
                    to_json(&spec.permissions)?,
                    to_ms(now)
                ]);
            match inserted {
                Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate {
                    resource: "key",
                    id: spec.app_id.clone(),
                }),
                other => other.store(),
            }?;
            Ok(KeyRecord {
                project: spec.project,
                kind: spec.kind,
                app_id: spec.app_id.clone(),
                origins: spec.origins.clone(),
                permissions: spec.permissions.clone(),
                created_at: from_ms(to_ms(now))?,
                revoked_at: None,
            })
        })
    }

    fn authenticate(&self, app_id: &str, secret: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.read_cached(|conn, cache| cached_key(conn, cache, app_id, secret))
    }

    fn authenticate_project(
        &self,
        app_id: &str,
        secret: &str,
    ) -> Result<Option<(KeyRecord, ProjectRecord)>, StoreError> {
        self.read_cached(|conn, cache| {
            let Some(key) = cached_key(conn, cache, app_id, secret)? else {
                return Ok(None);
            };
            let project = cached_project(conn, cache, key.project)?;
            Ok(Some((key, project)))
        })
    }

    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))
                .store()?;
            let rows = stmt.query_map([], key_from_row).store()?;
            rows.map(|r| r.store().and_then(|r| r)).collect()
        })
    }

    fn revoke_key(&self, app_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let app_id = app_id.to_owned();
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE app_id = ?1 AND revoked_at IS NULL",
                )
                .store()?
                .execute(params![app_id, to_ms(now)])
                .store()?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    resource: "key",
                    id: app_id.clone(),
                });
            }
            Ok(())
        })
    }

    fn asset_secret(
        &self,
        project: ProjectId,
        candidate: [u8; 32],
    ) -> Result<[u8; 32], StoreError> {
        // Every call after the first is a read; only the first one writes,
        // and `IS NULL` makes a racing second writer keep the first secret.
        if let Some(secret) = self.read(|conn| stored_asset_secret(conn, project))? {
            return Ok(secret);
        }
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE projects SET asset_secret = ?2 WHERE id = ?1 AND asset_secret IS NULL",
            )
            .store()?
            .execute(params![project.0, candidate.as_slice()])
            .store()?;
            stored_asset_secret(conn, project)?
                .ok_or_else(|| StoreError::Corrupt("project asset secret was not stored".into()))
        })
    }
}

/// The project's asset secret, `None` before its first use; `NotFound`
/// without such a project, `Corrupt` if the stored value is not 32 bytes.
fn stored_asset_secret(
    conn: &Connection,
    project: ProjectId,
) -> Result<Option<[u8; 32]>, StoreError> {
    let stored: Option<Vec<u8>> = conn
        .prepare_cached("SELECT asset_secret FROM projects WHERE id = ?1")
        .store()?
        .query_row([project.0], |row| row.get(0))
        .optional()
        .store()?
        .ok_or_else(|| StoreError::NotFound {
            resource: "project",
            id: project.0.to_string(),
        })?;
    stored
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| StoreError::Corrupt("project asset secret is not 32 bytes".into()))
        })
        .transpose()
}
