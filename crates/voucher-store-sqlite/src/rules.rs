//! Validation rule sets and their assignments to vouchers and campaigns
//! ([`RuleStore`]).
//!
//! A rule set is checked by the core ([`RuleSet::parse`]) before it is
//! stored, and stored in its serde form (the raw form it was parsed from),
//! which the decision loaders read back with `from_json::<RuleSet>`, parsing
//! it again: a stored rule set is checked on write and on read. A bad rule
//! set is `Invalid` with the key `invalid_validation_rules`, the key
//! Voucherify answers on its validation-rules endpoints; the same key covers
//! a missing name and the assignment limits.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use voucher_core::limits::{ID_LEN_MAX, RULE_SETS_PER_OBJECT_MAX};
use voucher_core::port::{
    AssignmentRecord, AssignmentTarget, ListQuery, Page, ProjectId, RuleRecord, RuleSpec,
    RuleStore, StoreError,
};
use voucher_core::rules::RuleSet;

use crate::catalog::{campaign_row, existing_voucher};
use crate::encode::{count, from_json, from_ms, new_id, to_json, to_ms};
use crate::error::{is_unique_violation, SqlResult};
use crate::listing::{Listing, Table};
use crate::SqliteStore;

/// Most objects one rule set may be assigned to, so that its list of
/// assignments stays bounded (assign it to a campaign rather than to each
/// of its codes).
pub(crate) const ASSIGNMENTS_PER_RULE_MAX: u64 = 10_000;

const RULES: Table = Table {
    name: "validation_rules",
    alias: "r",
    has_updated_at: true,
};

const RULE_SELECT: &str = "SELECT r.id, r.ext_id, r.name, r.rules, r.created_at, r.updated_at,
        (SELECT COUNT(*) FROM rule_assignments a WHERE a.rule_id = r.id)
    FROM validation_rules r";

/// A rule set row: its integer id beside the record.
struct RuleRow {
    id: i64,
    record: RuleRecord,
}

fn rule_from_row(row: &Row<'_>) -> rusqlite::Result<Result<RuleRow, StoreError>> {
    let id: i64 = row.get(0)?;
    let ext_id: String = row.get(1)?;
    let name: String = row.get(2)?;
    let rules: String = row.get(3)?;
    let created_at: i64 = row.get(4)?;
    let updated_at: i64 = row.get(5)?;
    let assignments: i64 = row.get(6)?;
    Ok((|| {
        // Parsed again: a stored rule set that no longer checks is corrupt.
        let rules: RuleSet = from_json(&rules)?;
        Ok(RuleRow {
            id,
            record: RuleRecord {
                id: ext_id,
                spec: RuleSpec {
                    name,
                    raw: rules.raw().clone(),
                },
                assignments_count: count(assignments)?,
                created_at: from_ms(created_at)?,
                updated_at: from_ms(updated_at)?,
            },
        })
    })())
}

fn invalid_rules(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_validation_rules",
        message: message.into(),
    }
}

/// Checks a spec; returns the checked rule set's column text.
fn checked(spec: &RuleSpec) -> Result<String, StoreError> {
    if spec.name.trim().is_empty() {
        return Err(invalid_rules("a validation rule needs a name"));
    }
    if spec.name.len() > ID_LEN_MAX {
        return Err(invalid_rules(format!(
            "a validation rule name is at most {ID_LEN_MAX} bytes"
        )));
    }
    let rules = RuleSet::parse(&spec.raw).map_err(|e| invalid_rules(e.to_string()))?;
    to_json(&rules)
}

fn duplicate_name(name: &str) -> StoreError {
    StoreError::Duplicate {
        resource: "validation_rules",
        id: name.to_owned(),
    }
}

fn rule_row(conn: &Connection, project: ProjectId, id: &str) -> Result<RuleRow, StoreError> {
    conn.prepare_cached(&format!(
        "{RULE_SELECT} WHERE r.project_id = ?1 AND r.ext_id = ?2"
    ))
    .store()?
    .query_row(params![project.0, id], rule_from_row)
    .optional()
    .store()?
    .ok_or_else(|| StoreError::NotFound {
        resource: "validation_rules",
        id: id.to_owned(),
    })?
}

fn rule_row_by_id(conn: &Connection, id: i64) -> Result<RuleRow, StoreError> {
    conn.prepare_cached(&format!("{RULE_SELECT} WHERE r.id = ?1"))
        .store()?
        .query_row([id], rule_from_row)
        .optional()
        .store()?
        .ok_or_else(|| StoreError::Corrupt(format!("validation rule row {id} is missing")))?
}

fn count_where(
    conn: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(sql)
        .store()?
        .query_row(values, |r| r.get(0))
        .store()?;
    count(n)
}

fn assign(
    conn: &Connection,
    project: ProjectId,
    rule_id: &str,
    target: &AssignmentTarget,
    now: DateTime<Utc>,
) -> Result<AssignmentRecord, StoreError> {
    let rule = rule_row(conn, project, rule_id)?;
    let (related_type, related_row, related_ext) = match target {
        AssignmentTarget::Voucher(code_or_id) => {
            let row = existing_voucher(conn, project, code_or_id)?;
            ("voucher", row.id, row.record.id)
        }
        AssignmentTarget::Campaign(id_or_name) => {
            let row = campaign_row(conn, project, id_or_name)?;
            ("campaign", row.id, row.record.id)
        }
    };
    let on_object = count_where(
        conn,
        "SELECT COUNT(*) FROM rule_assignments WHERE related_type = ?1 AND related_id = ?2",
        params![related_type, related_row],
    )?;
    if on_object >= RULE_SETS_PER_OBJECT_MAX as u64 {
        return Err(invalid_rules(format!(
            "a {related_type} has at most {RULE_SETS_PER_OBJECT_MAX} validation rules"
        )));
    }
    if rule.record.assignments_count >= ASSIGNMENTS_PER_RULE_MAX {
        return Err(invalid_rules(format!(
            "a validation rule is assigned to at most {ASSIGNMENTS_PER_RULE_MAX} objects"
        )));
    }
    let ext_id = new_id("asgm_");
    let inserted = conn
        .prepare_cached(
            "INSERT INTO rule_assignments (project_id, ext_id, rule_id, related_type, related_id,
                                           created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .store()?
        .execute(params![
            project.0,
            ext_id,
            rule.id,
            related_type,
            related_row,
            to_ms(now)
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Duplicate {
                resource: "validation_rules_assignment",
                id: related_ext,
            })
        }
        other => other.store()?,
    };
    Ok(AssignmentRecord {
        id: ext_id,
        rule_id: rule.record.id,
        related_type: related_type.to_owned(),
        related_id: related_ext,
        created_at: now,
    })
}

fn list_assignments(
    conn: &Connection,
    rule: &RuleRow,
) -> Result<Vec<AssignmentRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.ext_id, a.related_type,
                    CASE a.related_type WHEN 'voucher' THEN v.ext_id ELSE c.ext_id END,
                    a.created_at
             FROM rule_assignments a
             LEFT JOIN vouchers v ON a.related_type = 'voucher' AND v.id = a.related_id
             LEFT JOIN campaigns c ON a.related_type = 'campaign' AND c.id = a.related_id
             WHERE a.rule_id = ?1
             ORDER BY a.id",
        )
        .store()?;
    let rows = stmt
        .query_map([rule.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .store()?;
    // Bounded: assign() keeps at most ASSIGNMENTS_PER_RULE_MAX per rule set.
    rows.map(|row| {
        let (id, related_type, related, created_at) = row.store()?;
        let related_id = related.ok_or_else(|| {
            StoreError::Corrupt(format!("assignment {id} names a missing {related_type}"))
        })?;
        Ok(AssignmentRecord {
            id,
            rule_id: rule.record.id.clone(),
            related_id,
            related_type,
            created_at: from_ms(created_at)?,
        })
    })
    .collect()
}

impl RuleStore for SqliteStore {
    /// Errors: `Invalid` (`invalid_validation_rules`) for a rule set the
    /// core refuses or a missing name; `Duplicate` for a taken name.
    fn create_rule(
        &self,
        project: ProjectId,
        spec: &RuleSpec,
        now: DateTime<Utc>,
    ) -> Result<RuleRecord, StoreError> {
        let rules = checked(spec)?;
        let name = spec.name.clone();
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO validation_rules (project_id, ext_id, name, rules, created_at,
                                                   updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                )
                .store()?
                .execute(params![project.0, new_id("val_"), name, rules, to_ms(now)]);
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(duplicate_name(&name)),
                other => other.store()?,
            };
            Ok(rule_row_by_id(conn, conn.last_insert_rowid())?.record)
        })
    }

    fn rule(&self, project: ProjectId, id: &str) -> Result<RuleRecord, StoreError> {
        self.read(|conn| Ok(rule_row(conn, project, id)?.record))
    }

    /// Errors as [`RuleStore::create_rule`], and `NotFound`.
    fn update_rule(
        &self,
        project: ProjectId,
        id: &str,
        spec: &RuleSpec,
        now: DateTime<Utc>,
    ) -> Result<RuleRecord, StoreError> {
        let rules = checked(spec)?;
        let (id, name) = (id.to_owned(), spec.name.clone());
        self.write(move |conn| {
            let row = rule_row(conn, project, &id)?;
            let updated = conn
                .prepare_cached(
                    "UPDATE validation_rules SET name = ?2, rules = ?3, updated_at = ?4
                     WHERE id = ?1",
                )
                .store()?
                .execute(params![row.id, name, rules, to_ms(now)]);
            match updated {
                Err(e) if is_unique_violation(&e) => return Err(duplicate_name(&name)),
                other => other.store()?,
            };
            Ok(rule_row_by_id(conn, row.id)?.record)
        })
    }

    fn delete_rule(&self, project: ProjectId, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            let row = rule_row(conn, project, &id)?;
            for sql in [
                "DELETE FROM rule_assignments WHERE rule_id = ?1",
                "DELETE FROM validation_rules WHERE id = ?1",
            ] {
                conn.prepare_cached(sql)
                    .store()?
                    .execute([row.id])
                    .store()?;
            }
            Ok(())
        })
    }

    fn rules(&self, project: ProjectId, query: &ListQuery) -> Result<Page<RuleRecord>, StoreError> {
        let listing = Listing::new(RULES, project, query)?;
        self.read(|conn| {
            let page = listing.run(conn, RULE_SELECT, rule_from_row, |row| row.id)?;
            Ok(Page {
                items: page.items.into_iter().map(|row| row.record).collect(),
                total: page.total,
                has_more: page.has_more,
                next_cursor: page.next_cursor,
            })
        })
    }

    /// Errors: `NotFound` for the rule set or the target; `Duplicate` if
    /// the rule set is already assigned to it; `Invalid`
    /// (`invalid_validation_rules`) past [`RULE_SETS_PER_OBJECT_MAX`] rule
    /// sets on one object or [`ASSIGNMENTS_PER_RULE_MAX`] objects for one
    /// rule set.
    fn assign_rule(
        &self,
        project: ProjectId,
        rule_id: &str,
        target: &AssignmentTarget,
        now: DateTime<Utc>,
    ) -> Result<AssignmentRecord, StoreError> {
        let (rule_id, target) = (rule_id.to_owned(), target.clone());
        self.write(move |conn| assign(conn, project, &rule_id, &target, now))
    }

    fn unassign_rule(
        &self,
        project: ProjectId,
        rule_id: &str,
        assignment_id: &str,
    ) -> Result<(), StoreError> {
        let (rule_id, assignment_id) = (rule_id.to_owned(), assignment_id.to_owned());
        self.write(move |conn| {
            let rule = rule_row(conn, project, &rule_id)?;
            let removed = conn
                .prepare_cached(
                    "DELETE FROM rule_assignments
                     WHERE project_id = ?1 AND ext_id = ?2 AND rule_id = ?3",
                )
                .store()?
                .execute(params![project.0, assignment_id, rule.id])
                .store()?;
            if removed == 0 {
                return Err(StoreError::NotFound {
                    resource: "validation_rules_assignment",
                    id: assignment_id.clone(),
                });
            }
            Ok(())
        })
    }

    fn assignments(
        &self,
        project: ProjectId,
        rule_id: &str,
    ) -> Result<Vec<AssignmentRecord>, StoreError> {
        self.read(|conn| list_assignments(conn, &rule_row(conn, project, rule_id)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::plans::{assert_indexed, store};

    #[test]
    fn the_rule_set_list_walks_its_project_index() {
        let (_dir, store, project) = store();
        let plan = store
            .read(|conn| {
                let listing = Listing::new(RULES, project, &ListQuery::default())?;
                Ok(assert_indexed(
                    "rules",
                    &listing.plan(conn, RULE_SELECT, false),
                ))
            })
            .unwrap();
        assert!(plan.contains("validation_rules_project"), "{plan}");
        assert!(plan.contains("rule_assignments"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
