//! Customers ([`CustomerStore`]), and the helpers that upsert one inside a
//! write job (a redemption or a publication names its customer by id or
//! source id, and the customer is created on first sight).
//!
//! An upsert merges: the fields a caller gives replace the stored ones, the
//! others stay (a redemption that names only `source_id` must not erase the
//! customer's name). A customer's summary is computed from their
//! redemptions and orders when read, never stored, so it cannot drift.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use voucher_core::limits::{ID_LEN_MAX, METADATA_KEYS_MAX, SEGMENTS_PER_CUSTOMER_MAX};
use voucher_core::order::Customer;
use voucher_core::port::{
    CustomerRecord, CustomerSpec, CustomerStore, CustomerSummary, ListQuery, Page, ProjectId,
    StoreError,
};
use voucher_core::value;

use crate::encode::{count, from_json, from_ms, new_id, to_json, to_ms};
use crate::error::{is_unique_violation, SqlResult};
use crate::paging::Paging;
use crate::SqliteStore;

/// Longest free-text field of a customer (name, email, description, ...).
const CUSTOMER_TEXT_LEN_MAX: usize = 1024;

/// Most address fields of a customer.
const ADDRESS_FIELDS_MAX: usize = 16;

/// A customer row: its integer id beside the record (summary not filled).
#[derive(Debug, Clone)]
pub(crate) struct CustomerRow {
    pub id: i64,
    pub record: CustomerRecord,
}

const CUSTOMER_COLUMNS: &str = "id, ext_id, source_id, spec, created_at, updated_at";

fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Result<CustomerRow, StoreError>> {
    let id: i64 = row.get(0)?;
    let ext_id: String = row.get(1)?;
    let source_id: Option<String> = row.get(2)?;
    let spec: String = row.get(3)?;
    let created_at: i64 = row.get(4)?;
    let updated_at: i64 = row.get(5)?;
    Ok((|| {
        let mut spec: CustomerSpec = from_json(&spec)?;
        // The columns are authoritative for what has its own column.
        spec.id = Some(ext_id.clone());
        spec.source_id = source_id;
        Ok(CustomerRow {
            id,
            record: CustomerRecord {
                id: ext_id,
                spec,
                summary: CustomerSummary::default(),
                created_at: from_ms(created_at)?,
                updated_at: from_ms(updated_at)?,
            },
        })
    })())
}

fn customer_by(
    conn: &Connection,
    project: ProjectId,
    column: &str,
    value: &str,
) -> Result<Option<CustomerRow>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE project_id = ?1 AND {column} = ?2"
    ))
    .store()?
    .query_row(params![project.0, value], customer_from_row)
    .optional()
    .store()?
    .transpose()
}

/// The customer with this id (`cust_...`) or, failing that, source id.
pub(crate) fn find_customer(
    conn: &Connection,
    project: ProjectId,
    id_or_source_id: &str,
) -> Result<Option<CustomerRow>, StoreError> {
    match customer_by(conn, project, "ext_id", id_or_source_id)? {
        Some(row) => Ok(Some(row)),
        None => customer_by(conn, project, "source_id", id_or_source_id),
    }
}

/// Like [`find_customer`], `NotFound` when absent.
pub(crate) fn existing_customer(
    conn: &Connection,
    project: ProjectId,
    id_or_source_id: &str,
) -> Result<CustomerRow, StoreError> {
    find_customer(conn, project, id_or_source_id)?.ok_or_else(|| not_found(id_or_source_id))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        resource: "customer",
        id: id.to_owned(),
    }
}

/// The stored customer a spec names, without changing anything: by `id`
/// (which MUST exist: ids are ours, so an unknown one is `NotFound`), else
/// by `source_id` (`None` when new), else `None` (anonymous).
pub(crate) fn lookup_customer(
    conn: &Connection,
    project: ProjectId,
    spec: &CustomerSpec,
) -> Result<Option<CustomerRow>, StoreError> {
    match (&spec.id, &spec.source_id) {
        (Some(id), _) => customer_by(conn, project, "ext_id", id)?
            .map(Some)
            .ok_or_else(|| not_found(id)),
        (None, Some(source_id)) => customer_by(conn, project, "source_id", source_id),
        (None, None) => Ok(None),
    }
}

fn invalid_customer(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_customer",
        message: message.into(),
    }
}

/// Checks a customer spec against the limits.
pub(crate) fn check_customer(spec: &CustomerSpec) -> Result<(), StoreError> {
    for id in [&spec.id, &spec.source_id].into_iter().flatten() {
        if id.is_empty() || id.len() > ID_LEN_MAX {
            return Err(invalid_customer(format!(
                "customer ids must be 1..={ID_LEN_MAX} bytes"
            )));
        }
    }
    let texts = [&spec.name, &spec.email, &spec.phone, &spec.description];
    let long_text = texts
        .into_iter()
        .flatten()
        .chain(spec.address.keys())
        .chain(spec.address.values())
        .any(|t| t.len() > CUSTOMER_TEXT_LEN_MAX);
    if long_text {
        return Err(invalid_customer(format!(
            "customer fields are at most {CUSTOMER_TEXT_LEN_MAX} bytes"
        )));
    }
    if spec.address.len() > ADDRESS_FIELDS_MAX {
        return Err(invalid_customer(format!(
            "at most {ADDRESS_FIELDS_MAX} address fields"
        )));
    }
    if spec.metadata.len() > METADATA_KEYS_MAX {
        return Err(invalid_customer(format!(
            "at most {METADATA_KEYS_MAX} metadata keys"
        )));
    }
    Ok(())
}

/// Merges the fields `given` carries into `stored`: a field given replaces
/// the stored one (a non-empty address or metadata replaces the whole
/// object); absent fields stay.
pub(crate) fn merge(stored: &mut CustomerSpec, given: &CustomerSpec) {
    fn replace<T: Clone>(slot: &mut Option<T>, given: &Option<T>) {
        if given.is_some() {
            slot.clone_from(given);
        }
    }
    replace(&mut stored.source_id, &given.source_id);
    replace(&mut stored.name, &given.name);
    replace(&mut stored.email, &given.email);
    replace(&mut stored.phone, &given.phone);
    replace(&mut stored.birthdate, &given.birthdate);
    replace(&mut stored.description, &given.description);
    if !given.address.is_empty() {
        stored.address.clone_from(&given.address);
    }
    if !given.metadata.is_empty() {
        stored.metadata.clone_from(&given.metadata);
    }
}

/// The spec as stored in the `spec` column: ids live in their columns.
fn spec_json(spec: &CustomerSpec) -> Result<String, StoreError> {
    let mut stored = spec.clone();
    stored.id = None;
    stored.source_id = None;
    to_json(&stored)
}

fn duplicate_source_id(e: rusqlite::Error, source_id: Option<&str>) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate {
            resource: "customer",
            id: source_id.unwrap_or_default().to_owned(),
        }
    } else {
        crate::error::map(e)
    }
}

/// Creates or updates a customer inside a write job, as [`lookup_customer`]
/// finds them: an unknown `id` is `NotFound`, an unknown `source_id` (or no
/// id at all) creates a customer. Writes nothing when the merge changes
/// nothing.
pub(crate) fn upsert_customer_row(
    conn: &Connection,
    project: ProjectId,
    spec: &CustomerSpec,
    now: DateTime<Utc>,
) -> Result<CustomerRow, StoreError> {
    check_customer(spec)?;
    match lookup_customer(conn, project, spec)? {
        Some(mut row) => {
            let mut merged = row.record.spec.clone();
            merge(&mut merged, spec);
            if merged == row.record.spec {
                return Ok(row);
            }
            conn.prepare_cached(
                "UPDATE customers SET source_id = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1",
            )
            .store()?
            .execute(params![
                row.id,
                merged.source_id,
                spec_json(&merged)?,
                to_ms(now)
            ])
            .map_err(|e| duplicate_source_id(e, merged.source_id.as_deref()))?;
            row.record.spec = merged;
            row.record.updated_at = from_ms(to_ms(now))?;
            Ok(row)
        }
        None => {
            let ext_id = new_id("cust_");
            conn.prepare_cached(
                "INSERT INTO customers (project_id, ext_id, source_id, spec, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )
            .store()?
            .execute(params![
                project.0,
                ext_id,
                spec.source_id,
                spec_json(spec)?,
                to_ms(now)
            ])
            .map_err(|e| duplicate_source_id(e, spec.source_id.as_deref()))?;
            let mut spec = spec.clone();
            spec.id = Some(ext_id.clone());
            let at = from_ms(to_ms(now))?;
            Ok(CustomerRow {
                id: conn.last_insert_rowid(),
                record: CustomerRecord {
                    id: ext_id,
                    spec,
                    summary: CustomerSummary::default(),
                    created_at: at,
                    updated_at: at,
                },
            })
        }
    }
}

/// The customer as the engine's rules see them: ids, metadata, and the
/// segments listed in `metadata.segments` (until segments exist).
pub(crate) fn core_customer(spec: &CustomerSpec) -> Customer {
    let segments = match spec.metadata.get("segments") {
        Some(value::Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_text().map(str::to_owned))
            .take(SEGMENTS_PER_CUSTOMER_MAX + 1)
            .collect(),
        Some(value::Value::Text(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Customer {
        id: spec.id.clone(),
        source_id: spec.source_id.clone(),
        metadata: spec.metadata.clone(),
        segments,
    }
}

/// What a customer did, from their redemptions (one per code: stacked
/// parents are not counted) and their orders not canceled.
pub(crate) fn summary(
    conn: &Connection,
    project: ProjectId,
    customer: i64,
) -> Result<CustomerSummary, StoreError> {
    let (total, succeeded, failed, rolled_back, gift) = conn
        .prepare_cached(
            "SELECT COUNT(*),
                    COALESCE(SUM(result = 'SUCCESS'), 0),
                    COALESCE(SUM(result = 'FAILURE'), 0),
                    COALESCE(SUM(state = 'ROLLED_BACK'), 0),
                    COALESCE(SUM(CASE WHEN state = 'SUCCEEDED' THEN amount ELSE 0 END), 0)
             FROM redemptions
             WHERE project_id = ?1 AND customer_id = ?2 AND kind != 'parent'",
        )
        .store()?
        .query_row([project.0, customer], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .store()?;
    let (orders_count, orders_amount) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM orders
             WHERE project_id = ?1 AND customer_id = ?2
               AND (status IS NULL OR status != 'CANCELED')",
        )
        .store()?
        .query_row([project.0, customer], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .store()?;
    Ok(CustomerSummary {
        redemptions_total: count(total)?,
        redemptions_succeeded: count(succeeded)?,
        redemptions_failed: count(failed)?,
        redemptions_rolled_back: count(rolled_back)?,
        gift_redeemed_minor: gift,
        orders_amount_minor: orders_amount,
        orders_count: count(orders_count)?,
    })
}

fn with_summary(
    conn: &Connection,
    project: ProjectId,
    mut row: CustomerRow,
) -> Result<CustomerRecord, StoreError> {
    row.record.summary = summary(conn, project, row.id)?;
    Ok(row.record)
}

impl CustomerStore for SqliteStore {
    fn upsert_customer(
        &self,
        project: ProjectId,
        spec: &CustomerSpec,
        now: DateTime<Utc>,
    ) -> Result<CustomerRecord, StoreError> {
        check_customer(spec)?;
        let spec = spec.clone();
        self.write(move |conn| {
            crate::projects::load_project(conn, project)?;
            let row = upsert_customer_row(conn, project, &spec, now)?;
            with_summary(conn, project, row)
        })
    }

    fn customer(
        &self,
        project: ProjectId,
        id_or_source_id: &str,
    ) -> Result<CustomerRecord, StoreError> {
        self.read(|conn| {
            with_summary(
                conn,
                project,
                existing_customer(conn, project, id_or_source_id)?,
            )
        })
    }

    fn delete_customer(&self, project: ProjectId, id_or_source_id: &str) -> Result<(), StoreError> {
        let id_or_source_id = id_or_source_id.to_owned();
        self.write(move |conn| {
            let row = existing_customer(conn, project, &id_or_source_id)?;
            // Redemptions and orders stay, anonymised; the codes the
            // customer held lose their holder; the publications, which
            // only say who got what, go with the customer.
            for sql in [
                "UPDATE redemptions SET customer_id = NULL WHERE project_id = ?1 AND customer_id = ?2",
                "UPDATE rollbacks SET customer_id = NULL WHERE project_id = ?1 AND customer_id = ?2",
                "UPDATE orders SET customer_id = NULL WHERE project_id = ?1 AND customer_id = ?2",
                "UPDATE vouchers SET holder_id = NULL WHERE project_id = ?1 AND holder_id = ?2",
                "DELETE FROM publication_vouchers WHERE publication_id IN
                     (SELECT id FROM publications WHERE project_id = ?1 AND customer_id = ?2)",
                "DELETE FROM publications WHERE project_id = ?1 AND customer_id = ?2",
                "DELETE FROM customers WHERE project_id = ?1 AND id = ?2",
            ] {
                conn.prepare_cached(sql)
                    .store()?
                    .execute(params![project.0, row.id])
                    .store()?;
            }
            Ok(())
        })
    }

    fn customers(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<CustomerRecord>, StoreError> {
        let paging = Paging::new(query)?;
        self.read(|conn| {
            let mut params = vec![Value::Integer(project.0)];
            let mut filter = String::from("project_id = ?1");
            let ranges = [
                ("created_at >", query.created_after),
                ("created_at <", query.created_before),
                ("updated_at >", query.updated_after),
                ("updated_at <", query.updated_before),
            ];
            for (condition, at) in ranges {
                if let Some(at) = at {
                    params.push(Value::Integer(to_ms(at)));
                    filter.push_str(&format!(" AND {condition} ?{}", params.len()));
                }
            }
            let total: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM customers WHERE {filter}"))
                .store()?
                .query_row(params_from_iter(params.iter()), |r| r.get(0))
                .store()?;
            let cursor = paging.cursor_condition("id", &mut params);
            let sql = format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE {filter}{cursor}{}",
                paging.tail("id")
            );
            let mut stmt = conn.prepare_cached(&sql).store()?;
            let rows = stmt
                .query_map(params_from_iter(params.iter()), customer_from_row)
                .store()?
                .map(|row| row.store().and_then(|r| r))
                .collect::<Result<Vec<_>, _>>()?;
            let items = rows
                .into_iter()
                .map(|row| Ok((row.id, with_summary(conn, project, row)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(paging.page(items, count(total)?))
        })
    }
}
