//! Idempotency records ([`IdempotencyStore`]): the first request with a key
//! claims it (a row with no status yet), its answer is stored when it
//! completes, and a retry with the same key, method, path and body hash gets
//! that answer back byte for byte without running again.
//!
//! Claims go through the writer, so two concurrent requests with one key
//! are ordered: exactly one gets [`Claim::Fresh`], the other
//! `IdempotencyInFlight` (or the replay, once the first completed). A claim
//! left unanswered for [`IN_FLIGHT_ABANDONED_AFTER`] (its process died
//! between claim and answer) may be claimed afresh, so that a crash cannot
//! wedge a key until the retention purge.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{params, OptionalExtension};
use voucher_core::port::{
    Claim, IdempotencyKey, IdempotencyStore, ProjectId, StoreError, StoredResponse,
};

use crate::encode::to_ms;
use crate::error::SqlResult;
use crate::SqliteStore;

/// Longest idempotency key, in bytes.
pub(crate) const KEY_LEN_MAX: usize = 255;

/// Longest method or path an idempotency record keeps, in bytes.
const SCOPE_LEN_MAX: usize = 2048;

/// How long an unanswered claim blocks its key: far longer than any request
/// may run, so only a claim whose process died is taken over.
pub(crate) const IN_FLIGHT_ABANDONED_AFTER: TimeDelta = TimeDelta::minutes(10);

fn check_key(key: &IdempotencyKey) -> Result<(), StoreError> {
    if key.key.is_empty() || key.key.len() > KEY_LEN_MAX {
        return Err(StoreError::Invalid {
            key: "invalid_payload",
            message: format!("an idempotency key is 1..={KEY_LEN_MAX} bytes"),
        });
    }
    if key.method.len() > SCOPE_LEN_MAX || key.path.len() > SCOPE_LEN_MAX {
        return Err(StoreError::Invalid {
            key: "invalid_payload",
            message: "request path too long for an idempotency record".to_owned(),
        });
    }
    Ok(())
}

/// A stored record: its hash, status (None while in flight), body, claim
/// time.
type Stored = (Vec<u8>, Option<i64>, Option<Vec<u8>>, i64);

impl IdempotencyStore for SqliteStore {
    fn claim(
        &self,
        project: ProjectId,
        key: &IdempotencyKey,
        request_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        check_key(key)?;
        let (key, hash) = (key.clone(), *request_hash);
        self.write(move |conn| {
            let stored: Option<Stored> = conn
                .prepare_cached(
                    "SELECT request_sha256, status, response, created_at FROM idempotency_keys
                     WHERE project_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
                )
                .store()?
                .query_row(params![project.0, key.method, key.path, key.key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
                .store()?;
            let Some((stored_hash, status, body, claimed_at)) = stored else {
                conn.prepare_cached(
                    "INSERT INTO idempotency_keys
                       (project_id, key, method, path, request_sha256, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .store()?
                .execute(params![
                    project.0,
                    key.key,
                    key.method,
                    key.path,
                    hash.as_slice(),
                    to_ms(now)
                ])
                .store()?;
                return Ok(Claim::Fresh);
            };
            let abandoned = to_ms(now) - claimed_at >= IN_FLIGHT_ABANDONED_AFTER.num_milliseconds();
            match status {
                None if abandoned => {
                    // Taken over: the new claim's request (whatever its
                    // body) is now the one in flight.
                    conn.prepare_cached(
                        "UPDATE idempotency_keys SET request_sha256 = ?5, created_at = ?6
                         WHERE project_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
                    )
                    .store()?
                    .execute(params![
                        project.0,
                        key.method,
                        key.path,
                        key.key,
                        hash.as_slice(),
                        to_ms(now)
                    ])
                    .store()?;
                    Ok(Claim::Fresh)
                }
                _ if stored_hash.as_slice() != hash.as_slice() => {
                    Err(StoreError::IdempotencyKeyReused)
                }
                None => Err(StoreError::IdempotencyInFlight),
                Some(status) => Ok(Claim::Replay(StoredResponse {
                    status: u16::try_from(status)
                        .map_err(|_| StoreError::Corrupt(format!("idempotency status {status}")))?,
                    body: body.unwrap_or_default(),
                })),
            }
        })
    }

    fn complete(
        &self,
        project: ProjectId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        check_key(key)?;
        let (key, response) = (key.clone(), response.clone());
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE idempotency_keys SET status = ?5, response = ?6
                     WHERE project_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4
                       AND status IS NULL",
                )
                .store()?
                .execute(params![
                    project.0,
                    key.method,
                    key.path,
                    key.key,
                    i64::from(response.status),
                    response.body
                ])
                .store()?;
            if changed == 0 {
                // Never claimed, released, or already completed: the caller
                // does not hold this claim.
                return Err(StoreError::NotFound {
                    resource: "idempotency_claim",
                    id: key.key.clone(),
                });
            }
            Ok(())
        })
    }

    fn release(&self, project: ProjectId, key: &IdempotencyKey) -> Result<(), StoreError> {
        check_key(key)?;
        let key = key.clone();
        self.write(move |conn| {
            // Only a claim in flight goes: a completed record keeps its
            // answer for the retries to come.
            conn.prepare_cached(
                "DELETE FROM idempotency_keys
                 WHERE project_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4
                   AND status IS NULL",
            )
            .store()?
            .execute(params![project.0, key.method, key.path, key.key])
            .store()?;
            Ok(())
        })
    }
}
