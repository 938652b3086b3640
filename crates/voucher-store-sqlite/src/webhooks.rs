//! Webhook endpoints and the events outbox ([`WebhookStore`]).
//!
//! A write that causes an event calls [`emit`] inside its own transaction:
//! one `INSERT` of the event's record as compact JSON, and only when an
//! endpoint of the project receives that type. Which project receives
//! which types is cached ([`Subscriptions`]), so a shop without webhooks
//! pays one mutex and one `PRAGMA data_version` per write, no row. The
//! cache is dropped when this store changes an endpoint, and when another
//! process wrote the file (`data_version` changed).
//!
//! Delivery is the adapter's (the HTTP crate's worker): it claims due
//! deliveries (matching new events with endpoints first), POSTs them, and
//! records each attempt here.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use voucher_core::limits::{
    WEBHOOKS_PER_PROJECT_MAX, WEBHOOK_ATTEMPTS_LISTED_MAX, WEBHOOK_CLAIM_MAX,
};
use voucher_core::port::{
    AttemptOutcome, AttemptRecord, DueDelivery, EventObject, EventRecord, ProjectId, StoreError,
    WebhookRecord, WebhookSpec, WebhookStore,
};
use voucher_core::webhook::EventType;

use crate::encode::{count, from_json, from_ms, new_id, to_i64, to_json, to_ms};
use crate::error::SqlResult;
use crate::SqliteStore;

/// New events matched with endpoints per claim.
const FAN_OUT_CHUNK: usize = 256;

/// The event types as a bit set (bit `i`: `EventType::ALL[i]`).
fn bit(event_type: EventType) -> u32 {
    let index = EventType::ALL
        .iter()
        .position(|t| *t == event_type)
        .unwrap_or_default();
    1 << index
}

fn mask(types: &[EventType]) -> u32 {
    types.iter().fold(0, |m, t| m | bit(*t))
}

/// Which projects receive which event types, cached for the writer.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    /// `PRAGMA data_version` when loaded: another process's commit changes it.
    data_version: i64,
    /// Project row id to the bit set of the types its endpoints receive.
    types: HashMap<i64, u32>,
}

impl Subscriptions {
    /// Forgets the cache: endpoints changed.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }

    /// Whether an endpoint of `project` receives `event_type`, as `conn`
    /// (the writer's, inside its transaction) sees the endpoints.
    fn wants(
        &self,
        conn: &Connection,
        project: ProjectId,
        event_type: EventType,
    ) -> Result<bool, StoreError> {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .store()?
            .query_row([], |r| r.get(0))
            .store()?;
        let mut cached = self
            .cached
            .lock()
            .map_err(|_| StoreError::Unavailable("a store lock was poisoned".to_owned()))?;
        let fresh = cached.as_ref().is_some_and(|c| c.data_version == version);
        if !fresh {
            let mut types = HashMap::new();
            for (project, events) in endpoint_types(conn)? {
                *types.entry(project).or_insert(0) |= mask(&events);
            }
            *cached = Some(Cached {
                data_version: version,
                types,
            });
        }
        Ok(cached
            .as_ref()
            .and_then(|c| c.types.get(&project.0))
            .is_some_and(|m| m & bit(event_type) != 0))
    }
}

/// Every endpoint's project and types.
fn endpoint_types(conn: &Connection) -> Result<Vec<(i64, Vec<EventType>)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT project_id, events FROM webhooks")
        .store()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .store()?;
    let mut out = Vec::new();
    for row in rows {
        let (project, events) = row.store()?;
        out.push((project, parse_types(&events)?));
    }
    Ok(out)
}

fn parse_types(json: &str) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = from_json(json)?;
    names
        .iter()
        .map(|n| {
            EventType::parse(n)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown event type {n:?}")))
        })
        .collect()
}

fn types_json(types: &[EventType]) -> Result<String, StoreError> {
    to_json(&types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
}

/// Writes an event into the outbox, in the caller's transaction, if an
/// endpoint of the project receives its type; `object` is only built then.
pub(crate) fn emit(
    conn: &Connection,
    subscriptions: &Subscriptions,
    project: ProjectId,
    event_type: EventType,
    now: DateTime<Utc>,
    object: impl FnOnce() -> Result<EventObject, StoreError>,
) -> Result<(), StoreError> {
    if !subscriptions.wants(conn, project, event_type)? {
        return Ok(());
    }
    let data = to_json(&object()?)?;
    conn.prepare_cached(
        "INSERT INTO events (project_id, ext_id, type, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .store()?
    .execute(params![
        project.0,
        new_id("evt_"),
        event_type.as_str(),
        data,
        to_ms(now)
    ])
    .store()?;
    Ok(())
}

fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<(String, i64, String, String, String, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn webhook_record(
    row: (String, i64, String, String, String, i64),
) -> Result<WebhookRecord, StoreError> {
    let (id, project, url, secret, events, created_at) = row;
    Ok(WebhookRecord {
        id,
        project: ProjectId(project),
        spec: WebhookSpec {
            url,
            events: parse_types(&events)?,
            secret,
        },
        created_at: from_ms(created_at)?,
    })
}

const WEBHOOK_COLUMNS: &str = "ext_id, project_id, url, secret, events, created_at";

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        resource: "webhook",
        id: id.to_owned(),
    }
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_payload",
        message: message.into(),
    }
}

fn event_type_of(name: &str) -> Result<EventType, StoreError> {
    EventType::parse(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown event type {name:?}")))
}

/// Matches up to [`FAN_OUT_CHUNK`] new events with the endpoints that
/// receive them now: one delivery each, due at `now`. An event that no
/// endpoint receives (any more) is done at once.
fn fan_out(conn: &Connection, now: i64) -> Result<(), StoreError> {
    let fresh: Vec<(i64, i64, String)> = conn
        .prepare_cached(
            "SELECT id, project_id, type FROM events WHERE fanned_at IS NULL ORDER BY id LIMIT ?1",
        )
        .store()?
        .query_map([to_i64(FAN_OUT_CHUNK as u64)?], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .store()?
        .collect::<Result<_, _>>()
        .store()?;
    if fresh.is_empty() {
        return Ok(());
    }
    let mut endpoints: Vec<(i64, i64, u32)> = Vec::new();
    {
        let mut stmt = conn
            .prepare_cached("SELECT id, project_id, events FROM webhooks")
            .store()?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .store()?;
        for row in rows {
            let (id, project, events) = row.store()?;
            endpoints.push((id, project, mask(&parse_types(&events)?)));
        }
    }
    for (event, project, name) in fresh {
        let wanted = bit(event_type_of(&name)?);
        let mut matched = 0;
        for (webhook, _, _) in endpoints
            .iter()
            .filter(|(_, p, m)| *p == project && m & wanted != 0)
        {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries
                     (project_id, event_id, webhook_id, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .store()?
            .execute(params![project, event, webhook, now])
            .store()?;
            matched += 1;
        }
        let done = if matched == 0 { Some(now) } else { None };
        conn.prepare_cached("UPDATE events SET fanned_at = ?2, delivered_at = ?3 WHERE id = ?1")
            .store()?
            .execute(params![event, now, done])
            .store()?;
    }
    Ok(())
}

/// An attempt as listed: event id and type, number, time, status, error,
/// duration.
type AttemptRow = (String, String, i64, i64, Option<i64>, Option<String>, i64);

type DueRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
);

fn claim_in(
    conn: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    fan_out(conn, to_ms(now))?;
    let limit = to_i64(limit.min(WEBHOOK_CLAIM_MAX) as u64)?;
    let rows: Vec<DueRow> = conn
        .prepare_cached(
            "SELECT d.id, d.attempts, w.ext_id, w.url, w.secret, e.ext_id, e.project_id, e.type,
                    e.data, e.created_at
             FROM webhook_deliveries d
             JOIN webhooks w ON w.id = d.webhook_id
             JOIN events e ON e.id = d.event_id
             WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= ?1
             ORDER BY d.next_attempt_at, d.id LIMIT ?2",
        )
        .store()?
        .query_map(params![to_ms(now), limit], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .store()?
        .collect::<Result<_, _>>()
        .store()?;
    let mut due = Vec::with_capacity(rows.len());
    for (id, attempts, webhook_id, url, secret, event_id, project, kind, data, created_at) in rows {
        conn.prepare_cached("UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1")
            .store()?
            .execute(params![id, to_ms(lease_until)])
            .store()?;
        let object: EventObject = from_json(&data)?;
        due.push(DueDelivery {
            delivery_id: id,
            webhook_id,
            url,
            secret,
            event: EventRecord {
                id: event_id,
                project: ProjectId(project),
                event_type: event_type_of(&kind)?,
                object,
                created_at: from_ms(created_at)?,
            },
            attempts: u32::try_from(attempts)
                .map_err(|_| StoreError::Corrupt(format!("attempts {attempts}")))?,
        });
    }
    Ok(due)
}

fn record_in(
    conn: &Connection,
    delivery: i64,
    attempted_at: DateTime<Utc>,
    duration_ms: u64,
    outcome: &AttemptOutcome,
) -> Result<(), StoreError> {
    let found: Option<(i64, i64, i64, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT project_id, webhook_id, event_id, attempts, next_attempt_at
             FROM webhook_deliveries WHERE id = ?1",
        )
        .store()?
        .query_row([delivery], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .store()?;
    let Some((project, webhook, event, attempts, pending)) = found else {
        return Err(StoreError::NotFound {
            resource: "webhook delivery",
            id: delivery.to_string(),
        });
    };
    let at = to_ms(attempted_at);
    let (status, error) = match outcome {
        AttemptOutcome::Delivered { status } => (Some(*status), None),
        AttemptOutcome::Failed { status, error, .. } => (*status, Some(error.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO webhook_attempts
             (project_id, webhook_id, delivery_id, attempt, attempted_at, status, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .store()?
    .execute(params![
        project,
        webhook,
        delivery,
        attempts + 1,
        at,
        status,
        error,
        to_i64(duration_ms)?
    ])
    .store()?;
    if pending.is_none() {
        // Already done (a second worker after a lease ran out): logged only.
        return Ok(());
    }
    let (next, delivered, failed) = match outcome {
        AttemptOutcome::Delivered { .. } => (None, Some(at), None),
        AttemptOutcome::Failed {
            retry_at: Some(t), ..
        } => (Some(to_ms(*t)), None, None),
        AttemptOutcome::Failed { retry_at: None, .. } => (None, None, Some(at)),
    };
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?2,
                delivered_at = ?3, failed_at = ?4, last_status = ?5, last_error = ?6
         WHERE id = ?1",
    )
    .store()?
    .execute(params![delivery, next, delivered, failed, status, error])
    .store()?;
    if next.is_none() {
        finish_events(conn, &[event], at)?;
    }
    Ok(())
}

/// Marks done those of `events` none of whose deliveries is pending.
fn finish_events(conn: &Connection, events: &[i64], at: i64) -> Result<(), StoreError> {
    for event in events {
        conn.prepare_cached(
            "UPDATE events SET delivered_at = ?2
             WHERE id = ?1 AND delivered_at IS NULL AND fanned_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries
                               WHERE event_id = ?1 AND next_attempt_at IS NOT NULL)",
        )
        .store()?
        .execute(params![event, at])
        .store()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Endpoints changed: the writer's cache of who receives what is stale.
    fn endpoints_changed(&self) {
        self.inner.subscriptions.invalidate();
    }
}

impl WebhookStore for SqliteStore {
    fn add_webhook(
        &self,
        project: ProjectId,
        spec: &WebhookSpec,
        now: DateTime<Utc>,
    ) -> Result<WebhookRecord, StoreError> {
        if spec.events.is_empty() {
            return Err(invalid("a webhook receives at least one event type"));
        }
        let spec = spec.clone();
        let record = self.write(move |conn| {
            let existing: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM webhooks WHERE project_id = ?1")
                .store()?
                .query_row([project.0], |r| r.get(0))
                .store()?;
            if count(existing)? >= WEBHOOKS_PER_PROJECT_MAX as u64 {
                return Err(invalid(format!(
                    "a project has at most {WEBHOOKS_PER_PROJECT_MAX} webhooks"
                )));
            }
            let id = new_id("wh_");
            conn.prepare_cached(
                "INSERT INTO webhooks (project_id, ext_id, url, secret, events, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .store()?
            .execute(params![
                project.0,
                id,
                spec.url,
                spec.secret,
                types_json(&spec.events)?,
                to_ms(now)
            ])
            .store()?;
            Ok(WebhookRecord {
                id,
                project,
                spec: spec.clone(),
                created_at: from_ms(to_ms(now))?,
            })
        })?;
        self.endpoints_changed();
        Ok(record)
    }

    fn webhooks(&self, project: ProjectId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.read(|conn| {
            let rows: Vec<_> = conn
                .prepare_cached(&format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = ?1 ORDER BY id"
                ))
                .store()?
                .query_map([project.0], webhook_from_row)
                .store()?
                .collect::<Result<_, _>>()
                .store()?;
            rows.into_iter().map(webhook_record).collect()
        })
    }

    fn webhook(
        &self,
        project: ProjectId,
        id: &str,
    ) -> Result<(WebhookRecord, Vec<AttemptRecord>), StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {WEBHOOK_COLUMNS}, id FROM webhooks WHERE project_id = ?1 AND ext_id = ?2"
                ))
                .store()?
                .query_row(params![project.0, id], |r| {
                    Ok((webhook_from_row(r)?, r.get::<_, i64>(6)?))
                })
                .optional()
                .store()?
                .ok_or_else(|| not_found(id))?;
            let (row, rowid) = row;
            let record = webhook_record(row)?;
            let rows: Vec<AttemptRow> = conn
                .prepare_cached(
                    "SELECT e.ext_id, e.type, a.attempt, a.attempted_at, a.status, a.error,
                            a.duration_ms
                     FROM webhook_attempts a
                     JOIN webhook_deliveries d ON d.id = a.delivery_id
                     JOIN events e ON e.id = d.event_id
                     WHERE a.webhook_id = ?1 ORDER BY a.id DESC LIMIT ?2",
                )
                .store()?
                .query_map(
                    params![rowid, to_i64(WEBHOOK_ATTEMPTS_LISTED_MAX as u64)?],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    },
                )
                .store()?
                .collect::<Result<_, _>>()
                .store()?;
            let mut attempts = Vec::with_capacity(rows.len());
            for (event_id, kind, attempt, at, status, error, duration) in rows {
                attempts.push(AttemptRecord {
                    event_id,
                    event_type: event_type_of(&kind)?,
                    attempt: u32::try_from(attempt)
                        .map_err(|_| StoreError::Corrupt(format!("attempt {attempt}")))?,
                    attempted_at: from_ms(at)?,
                    status: status
                        .map(|s| {
                            u16::try_from(s)
                                .map_err(|_| StoreError::Corrupt(format!("status {s}")))
                        })
                        .transpose()?,
                    error,
                    duration_ms: count(duration)?,
                });
            }
            Ok((record, attempts))
        })
    }

    fn remove_webhook(
        &self,
        project: ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            let rowid: i64 = conn
                .prepare_cached("SELECT id FROM webhooks WHERE project_id = ?1 AND ext_id = ?2")
                .store()?
                .query_row(params![project.0, id], |r| r.get(0))
                .optional()
                .store()?
                .ok_or_else(|| not_found(&id))?;
            let pending: Vec<i64> = conn
                .prepare_cached(
                    "SELECT event_id FROM webhook_deliveries
                     WHERE webhook_id = ?1 AND next_attempt_at IS NOT NULL",
                )
                .store()?
                .query_map([rowid], |r| r.get(0))
                .store()?
                .collect::<Result<_, _>>()
                .store()?;
            // Its deliveries and attempts go with it (ON DELETE CASCADE).
            conn.prepare_cached("DELETE FROM webhooks WHERE id = ?1")
                .store()?
                .execute([rowid])
                .store()?;
            finish_events(conn, &pending, to_ms(now))
        })?;
        self.endpoints_changed();
        Ok(())
    }

    fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        // An idle poll reads (two index probes) and leaves the writer alone.
        let work = self.read(|conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM events WHERE fanned_at IS NULL)
                     OR EXISTS (SELECT 1 FROM webhook_deliveries
                                WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1)",
            )
            .store()?
            .query_row([to_ms(now)], |r| r.get::<_, bool>(0))
            .store()
        })?;
        if !work {
            return Ok(Vec::new());
        }
        self.write(move |conn| claim_in(conn, now, lease_until, limit))
    }

    fn record_attempt(
        &self,
        delivery_id: i64,
        attempted_at: DateTime<Utc>,
        duration_ms: u64,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let outcome = outcome.clone();
        self.write(move |conn| record_in(conn, delivery_id, attempted_at, duration_ms, &outcome))
    }

    fn webhook_backlog(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL)
                          + (SELECT COUNT(*) FROM events WHERE fanned_at IS NULL)",
                )
                .store()?
                .query_row([], |r| r.get(0))
                .store()?;
            count(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_own_bit() {
        let all = mask(&EventType::ALL);
        assert_eq!(all.count_ones() as usize, EventType::ALL.len());
    }
}
