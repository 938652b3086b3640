//! The operator's side of the store ([`MaintenanceStore`]): async actions
//! (imports and generations that run in the background), the audit log of
//! management actions, the retention purge, and online backups.
//!
//! The audit log is listed newest first by row id ([`Paging`]). The purge
//! deletes in chunks of [`PURGE_CHUNK_ROWS`], one writer job per
//! chunk, so that redemptions keep flowing between chunks however much
//! there is to delete. The backup copies a snapshot: it holds one read
//! transaction for the whole copy (so writers are never blocked, and the
//! copy never restarts because of them) and copies a few pages per step
//! into a temporary file that is renamed into place only when complete.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use voucher_core::port::{
    ActionRecord, ActionStatus, AuditRecord, ListQuery, MaintenanceStore, Page, ProjectId,
    Retention, StoreError,
};

use crate::encode::{count, from_json, from_ms, new_id, to_json, to_ms};
use crate::error::SqlResult;
use crate::paging::Paging;
use crate::projects::load_project;
use crate::SqliteStore;

/// Rows deleted per writer job by the purge.
const PURGE_CHUNK_ROWS: i64 = 2_000;
/// Database pages copied per backup step (4 MiB with 4 KiB pages).
const BACKUP_PAGES_PER_STEP: i32 = 1_024;
/// Most failures an async action keeps listed (the rest are counted in its
/// message by whoever ran it).
pub(crate) const ACTION_FAILURES_LISTED_MAX: usize = 1_000;

fn status_text(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Enqueued => "ENQUEUED",
        ActionStatus::InProgress => "IN_PROGRESS",
        ActionStatus::Done => "DONE",
        ActionStatus::Failed => "FAILED",
    }
}

fn status_from(text: &str) -> Result<ActionStatus, StoreError> {
    match text {
        "ENQUEUED" => Ok(ActionStatus::Enqueued),
        "IN_PROGRESS" => Ok(ActionStatus::InProgress),
        "DONE" => Ok(ActionStatus::Done),
        "FAILED" => Ok(ActionStatus::Failed),
        other => Err(StoreError::Corrupt(format!(
            "async action status {other:?}"
        ))),
    }
}

fn action_from_row(row: &Row<'_>) -> rusqlite::Result<Result<ActionRecord, StoreError>> {
    let ext_id: String = row.get(0)?;
    let kind: String = row.get(1)?;
    let status: String = row.get(2)?;
    let record: String = row.get(3)?;
    let created_at: i64 = row.get(4)?;
    let updated_at: i64 = row.get(5)?;
    Ok((|| {
        let mut action: ActionRecord = from_json(&record)?;
        // The columns are authoritative for what has its own column.
        action.id = ext_id;
        action.kind = kind;
        action.status = status_from(&status)?;
        action.created_at = from_ms(created_at)?;
        action.updated_at = from_ms(updated_at)?;
        Ok(action)
    })())
}

fn load_action(
    conn: &Connection,
    project: ProjectId,
    id: &str,
) -> Result<ActionRecord, StoreError> {
    conn.prepare_cached(
        "SELECT ext_id, kind, status, record, created_at, updated_at
         FROM async_actions WHERE project_id = ?1 AND ext_id = ?2",
    )
    .store()?
    .query_row(params![project.0, id], action_from_row)
    .optional()
    .store()?
    .ok_or_else(|| StoreError::NotFound {
        resource: "async_action",
        id: id.to_owned(),
    })?
}

/// The instant `retention` before `now`, in milliseconds.
fn cutoff(now: DateTime<Utc>, retention: Duration) -> i64 {
    let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    to_ms(now).saturating_sub(ms)
}

/// The purges, each one chunked `DELETE` bounded by `?2` rows, older than
/// the cutoff `?1`. Failed attempts of unknown codes are looked up per
/// project through the index of failures by reason, oldest first (the date
/// is hidden from the planner with a unary `+`: the date index would read
/// every old redemption, chunk after chunk), so a chunk reads the rows it
/// deletes; stacked parents are left alone (their children would dangle),
/// except failed ones with no child left.
const PURGE_UNKNOWN_CODES: &str = "DELETE FROM redemptions WHERE id IN (
        SELECT id FROM redemptions
        WHERE project_id = ?3 AND result = 'FAILURE' AND failure_code = 'resource_not_found'
          AND voucher_id IS NULL AND kind != 'parent' AND +created_at < ?1
        ORDER BY id LIMIT ?2)";
const PURGE_EMPTY_PARENTS: &str = "DELETE FROM redemptions WHERE id IN (
        SELECT p.id FROM redemptions p
        WHERE p.project_id = ?3 AND p.result = 'FAILURE' AND p.failure_code = 'resource_not_found'
          AND p.voucher_id IS NULL AND p.kind = 'parent' AND +p.created_at < ?1
          AND NOT EXISTS (SELECT 1 FROM redemptions c WHERE c.parent_id = p.id)
        ORDER BY p.id LIMIT ?2)";
const PURGE_IDEMPOTENCY: &str = "DELETE FROM idempotency_keys WHERE id IN (
        SELECT id FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)";
const PURGE_EVENTS: &str = "DELETE FROM events WHERE id IN (
        SELECT id FROM events WHERE delivered_at < ?1 LIMIT ?2)";

impl SqliteStore {
    /// Runs one chunked purge statement until a chunk comes back short.
    fn purge_chunks(
        &self,
        sql: &'static str,
        cutoff: i64,
        project: Option<i64>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        loop {
            let deleted = self.write(move |conn| {
                let mut stmt = conn.prepare_cached(sql).store()?;
                let n = match project {
                    Some(project) => stmt.execute(params![cutoff, PURGE_CHUNK_ROWS, project]),
                    None => stmt.execute(params![cutoff, PURGE_CHUNK_ROWS]),
                };
                n.store()
            })?;
            removed += deleted as u64;
            if i64::try_from(deleted).unwrap_or(i64::MAX) < PURGE_CHUNK_ROWS {
                return Ok(removed);
            }
        }
    }
}

/// A path beside `path` for the copy in progress.
fn partial_path(path: &Path) -> PathBuf {
    with_suffix(path, ".partial")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Removes the journals SQLite keeps beside `path` (and `path` itself with
/// `and_file`): a stale journal or WAL would be applied to a new file of
/// that name when it is opened.
fn remove_journals(path: &Path, and_file: bool) -> Result<(), StoreError> {
    let journals = ["-journal", "-wal", "-shm"].map(|suffix| with_suffix(path, suffix));
    let file = and_file.then(|| path.to_path_buf());
    for file in journals.into_iter().chain(file) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("removing an old backup", e)),
        }
    }
    Ok(())
}

/// `path` made absolute through its (existing) directory.
fn resolved(path: &Path) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(path.file_name()?))
}

fn io_error(what: &str, e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::StorageFull {
        StoreError::DiskFull
    } else {
        StoreError::Io(format!("{what}: {e}"))
    }
}

/// Copies the database read by `source` (inside its read transaction) into
/// a new file at `target`.
fn copy_database(source: &Connection, target: &Path) -> Result<(), StoreError> {
    let mut dest = Connection::open(target).store()?;
    {
        let backup = Backup::new(source, &mut dest).store()?;
        loop {
            match backup.step(BACKUP_PAGES_PER_STEP).store()? {
                StepResult::Done => break,
                // The source is read under our own snapshot, so it cannot
                // be busy; the destination is ours alone. Both are retried
                // after a pause all the same.
                StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
    // The copy is a rollback-journal file; make its pages durable before it
    // takes the final name.
    dest.close().map_err(|(_, e)| crate::error::map(e))?;
    std::fs::File::open(target)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("syncing the backup", e))
}

impl MaintenanceStore for SqliteStore {
    fn create_action(
        &self,
        project: ProjectId,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<ActionRecord, StoreError> {
        let action = ActionRecord {
            id: new_id("aa_"),
            kind: kind.to_owned(),
            status: ActionStatus::Enqueued,
            progress: 0,
            message: None,
            done_count: 0,
            failed: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.write(move |conn| {
            load_project(conn, project)?;
            conn.prepare_cached(
                "INSERT INTO async_actions (project_id, ext_id, kind, status, record, created_at,
                                            updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )
            .store()?
            .execute(params![
                project.0,
                action.id,
                action.kind,
                status_text(action.status),
                to_json(&action)?,
                to_ms(now)
            ])
            .store()?;
            load_action(conn, project, &action.id)
        })
    }

    fn update_action(
        &self,
        project: ProjectId,
        action: &ActionRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut action = action.clone();
        if action.progress > 100 {
            return Err(StoreError::Invalid {
                key: "invalid_payload",
                message: format!("progress {} is above 100", action.progress),
            });
        }
        // Bounded, whatever the caller collected.
        action.failed.truncate(ACTION_FAILURES_LISTED_MAX);
        action.updated_at = now;
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE async_actions SET status = ?3, record = ?4, updated_at = ?5
                     WHERE project_id = ?1 AND ext_id = ?2",
                )
                .store()?
                .execute(params![
                    project.0,
                    action.id,
                    status_text(action.status),
                    to_json(&action)?,
                    to_ms(now)
                ])
                .store()?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    resource: "async_action",
                    id: action.id.clone(),
                });
            }
            Ok(())
        })
    }

    fn action(&self, project: ProjectId, id: &str) -> Result<ActionRecord, StoreError> {
        self.read(|conn| load_action(conn, project, id))
    }

    fn audit_log(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let paging = Paging::new(query)?;
        self.read(|conn| {
            let mut params = vec![SqlValue::Integer(project.0)];
            let mut filter = String::from("project_id = ?1");
            for (condition, at) in [
                ("created_at >", query.created_after),
                ("created_at <", query.created_before),
            ] {
                if let Some(at) = at {
                    params.push(SqlValue::Integer(to_ms(at)));
                    filter.push_str(&format!(" AND {condition} ?{}", params.len()));
                }
            }
            let total: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"))
                .store()?
                .query_row(params_from_iter(params.iter()), |r| r.get(0))
                .store()?;
            let cursor = paging.cursor_condition("id", &mut params);
            // The page's LIMIT and OFFSET are in its text: not worth a place
            // in the statement cache.
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT id, actor, action, object_type, object_id, details, created_at
                     FROM audit_log WHERE {filter}{cursor}{}",
                    paging.tail("id")
                ))
                .store()?;
            let rows = stmt
                .query_map(params_from_iter(params.iter()), |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, i64>(6)?,
                    ))
                })
                .store()?;
            let mut items = Vec::new();
            for row in rows {
                let (id, actor, action, object_type, object_id, details, created_at) =
                    row.store()?;
                let record = AuditRecord {
                    id,
                    actor,
                    action,
                    object_type,
                    object_id,
                    details: from_json(&details)?,
                    created_at: from_ms(created_at)?,
                };
                items.push((id, record));
            }
            Ok(paging.page(items, count(total)?))
        })
    }

    fn purge(&self, retention: &Retention, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let projects: Vec<i64> = self.read(|conn| {
            conn.prepare_cached("SELECT id FROM projects ORDER BY id")
                .store()?
                .query_map([], |r| r.get(0))
                .store()?
                .collect::<Result<_, _>>()
                .store()
        })?;
        let mut removed = 0;
        let unknown = cutoff(now, retention.unknown_code_failures);
        for project in projects {
            removed += self.purge_chunks(PURGE_UNKNOWN_CODES, unknown, Some(project))?;
            removed += self.purge_chunks(PURGE_EMPTY_PARENTS, unknown, Some(project))?;
        }
        removed +=
            self.purge_chunks(PURGE_IDEMPOTENCY, cutoff(now, retention.idempotency), None)?;
        removed +=
            self.purge_chunks(PURGE_EVENTS, cutoff(now, retention.delivered_events), None)?;
        Ok(removed)
    }

    fn backup(&self, path: &Path) -> Result<(), StoreError> {
        let live = resolved(self.path());
        if live.is_some() && live == resolved(path) {
            return Err(StoreError::Invalid {
                key: "invalid_payload",
                message: "a backup cannot replace the database it copies".to_owned(),
            });
        }
        let partial = partial_path(path);
        remove_journals(&partial, true)?;
        let copied = self.read(|conn| {
            // Start the read transaction now: the copy is of this snapshot.
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .store()?;
            copy_database(conn, &partial)
        });
        match copied {
            Ok(()) => {
                // The old copy's journals go with it (the rename replaces
                // the file itself atomically).
                remove_journals(path, false)?;
                std::fs::rename(&partial, path)
                    .map_err(|e| io_error("moving the backup into place", e))
            }
            Err(e) => {
                let _ = remove_journals(&partial, true);
                Err(e)
            }
        }
    }

    fn write_batches(&self) -> Option<voucher_core::port::BatchSizes> {
        Some(self.inner.stats.batch_sizes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::plans::{self, assert_indexed};

    /// Each purge chunk walks an index in order, and the foreign-key checks
    /// of its deletions are indexed too: no full scan, no sort.
    #[test]
    fn purge_chunks_walk_an_index() {
        let (_dir, store, _project) = plans::store();
        store
            .read(|conn| {
                for sql in [
                    PURGE_UNKNOWN_CODES,
                    PURGE_EMPTY_PARENTS,
                    PURGE_IDEMPOTENCY,
                    PURGE_EVENTS,
                ] {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let params: &[i64] = if sql.contains("?3") {
                        &[0, 1, 1]
                    } else {
                        &[0, 1]
                    };
                    let plan: Vec<String> = stmt
                        .query_map(params_from_iter(params), |r| r.get(3))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    let plan = assert_indexed(sql, &plan);
                    assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
                }
                Ok(())
            })
            .unwrap();
    }
}
