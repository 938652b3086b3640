//! The filtered-list builder behind the campaign, voucher, gift-ledger and
//! rule-set lists (the redemption, customer and publication lists may use it
//! too): the WHERE clause of a list's filters, the true total, and one page
//! cut by [`Paging`] (row-id order, row-id cursors, checked `limit` and
//! `page`).
//!
//! SQL text is assembled only from `&'static str` fragments written in this
//! crate (column names, `?` placeholders); every value a caller gives is a
//! bound parameter, so no user text ever becomes SQL.
//!
//! Every list MUST be served by an index on `(project_id, ...)`; SQLite
//! indexes end with the row id, so an equality filter on an indexed column
//! walks its index in list order and stops after a page. The tests check
//! the plans with `EXPLAIN QUERY PLAN`.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use voucher_core::port::{ListQuery, Page, ProjectId, StoreError};

use crate::encode::{count, to_ms};
use crate::error::SqlResult;
use crate::paging::Paging;

/// Most ids or codes in one `ids` filter.
pub(crate) const IDS_FILTER_MAX: usize = 1000;
/// Most rows a list with range filters (a code prefix, date bounds) may
/// match and still be read as a range of an index and then sorted into list
/// order; with more, the ranges are tested row by row while walking the
/// list's order, which fills a page after a few rows when so many match
/// (sorting a million rows takes seconds).
pub(crate) const RANGE_SORT_MAX: u64 = 20_000;

/// The table a list reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    /// Its name (`vouchers`).
    pub name: &'static str,
    /// The alias the caller's SELECT gives it (`v`).
    pub alias: &'static str,
    /// Whether it has an `updated_at` column; without one, the `updated_*`
    /// filters apply to `created_at` (such rows are never updated).
    pub has_updated_at: bool,
}

/// A wire key `invalid_query_params` error.
pub(crate) fn invalid_query(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_query_params",
        message: message.into(),
    }
}

/// A range filter: `column op value`, e.g. `v.code >= ?`.
#[derive(Debug, Clone)]
struct Bound {
    column: String,
    op: &'static str,
    value: Value,
}

/// How the range filters are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangePlan {
    /// As ranges of their columns' indexes, then sorted.
    Index,
    /// Hidden from the planner (a unary `+`): tested on each row of the
    /// list's order.
    RowByRow,
}

/// A list query under construction: its filters and their bound values.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    table: Table,
    paging: Paging,
    conditions: Vec<String>,
    params: Vec<Value>,
    bounds: Vec<Bound>,
    /// True when the SQL text depends on the values (an `IN` list), so that
    /// it is not worth a place in the statement cache.
    text_varies: bool,
    /// [`RANGE_SORT_MAX`], lowered by tests to reach the other plan.
    range_sort_max: u64,
    nothing: bool,
}

impl Listing {
    /// Checks the paging of `list` ([`Paging::new`]: `invalid_query_params`
    /// or `page_over_limit`) and starts a query of `table` in `project`,
    /// with the date filters of `list`.
    pub(crate) fn new(
        table: Table,
        project: ProjectId,
        list: &ListQuery,
    ) -> Result<Listing, StoreError> {
        let mut listing = Listing {
            table,
            paging: Paging::new(list)?,
            conditions: Vec::new(),
            params: Vec::new(),
            bounds: Vec::new(),
            text_varies: false,
            range_sort_max: RANGE_SORT_MAX,
            nothing: false,
        };
        listing.push_column("project_id", "=", Value::Integer(project.0));
        let updated = if table.has_updated_at {
            "updated_at"
        } else {
            "created_at"
        };
        let bounds = [
            ("created_at", ">", list.created_after),
            ("created_at", "<", list.created_before),
            (updated, ">", list.updated_after),
            (updated, "<", list.updated_before),
        ];
        for (column, op, bound) in bounds {
            if let Some(t) = bound {
                listing.bounds.push(Bound {
                    column: format!("{}.{column}", table.alias),
                    op,
                    value: Value::Integer(to_ms(t)),
                });
            }
        }
        Ok(listing)
    }

    fn push_column(&mut self, column: &'static str, op: &'static str, value: Value) {
        let alias = self.table.alias;
        self.conditions.push(format!("{alias}.{column} {op} ?"));
        self.params.push(value);
    }

    /// Adds a condition: `sql` is a fragment written in this crate with one
    /// `?` per value, in order (e.g. `"v.category = ?"`).
    pub(crate) fn filter(&mut self, sql: &'static str, values: impl IntoIterator<Item = Value>) {
        let before = self.params.len();
        self.params.extend(values);
        debug_assert_eq!(
            sql.matches('?').count(),
            self.params.len() - before,
            "placeholders of {sql:?}"
        );
        self.conditions.push(format!("({sql})"));
    }

    /// Keeps the rows whose `column` is one of `values` for any of
    /// `columns` (bare column names of the table with a `(project_id,
    /// column)` index, e.g. `["ext_id", "code"]`). The row ids are looked up
    /// here, one index lookup per value and column, and the list is then a
    /// set of row ids, which the planner reads by primary key instead of
    /// walking the whole list. No match: nothing matches.
    pub(crate) fn filter_any_in(
        &mut self,
        conn: &Connection,
        project: ProjectId,
        columns: &[&'static str],
        values: &[String],
    ) -> Result<(), StoreError> {
        if values.len() > IDS_FILTER_MAX {
            return Err(invalid_query(format!(
                "at most {IDS_FILTER_MAX} ids or codes per list"
            )));
        }
        let mut ids = std::collections::BTreeSet::new();
        for column in columns {
            let sql = format!(
                "SELECT id FROM {} WHERE project_id = ?1 AND {column} = ?2",
                self.table.name
            );
            let mut stmt = conn.prepare_cached(&sql).store()?;
            for value in values {
                let found = stmt
                    .query_row(rusqlite::params![project.0, value], |r| r.get::<_, i64>(0))
                    .optional()
                    .store()?;
                ids.extend(found);
            }
        }
        if ids.is_empty() {
            self.nothing = true;
            return Ok(());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        self.text_varies = true;
        self.conditions
            .push(format!("{}.id IN ({marks})", self.table.alias));
        self.params.extend(ids.into_iter().map(Value::Integer));
        Ok(())
    }

    /// Adds "`column` starts with `prefix`" as a range of the column's
    /// (binary-collated) index: UTF-8 orders as code points do, so the
    /// strings starting with `prefix` are those from `prefix` up to, not
    /// including, `prefix` with its last character incremented. Planned as
    /// the other ranges ([`RANGE_SORT_MAX`]).
    pub(crate) fn filter_prefix(&mut self, column: &'static str, prefix: &str) {
        if prefix.is_empty() {
            return;
        }
        self.bounds.push(Bound {
            column: column.to_owned(),
            op: ">=",
            value: Value::Text(prefix.to_owned()),
        });
        if let Some(upper) = prefix_successor(prefix) {
            self.bounds.push(Bound {
                column: column.to_owned(),
                op: "<",
                value: Value::Text(upper),
            });
        }
    }

    /// Marks the query as matching nothing (a filter named an object that
    /// does not exist); [`Listing::run`] then answers an empty page.
    pub(crate) fn match_nothing(&mut self) {
        self.nothing = true;
    }

    /// The WHERE clause and its values.
    fn where_clause(&self, plan: RangePlan) -> (String, Vec<Value>) {
        let mut conditions = self.conditions.clone();
        let mut params = self.params.clone();
        let hide = match plan {
            RangePlan::Index => "",
            RangePlan::RowByRow => "+",
        };
        for bound in &self.bounds {
            conditions.push(format!("{hide}{} {} ?", bound.column, bound.op));
            params.push(bound.value.clone());
        }
        (conditions.join(" AND "), params)
    }

    fn count_sql(&self) -> (String, Vec<Value>) {
        let (conditions, params) = self.where_clause(RangePlan::Index);
        let sql = format!(
            "SELECT COUNT(*) FROM {} {} WHERE {conditions}",
            self.table.name, self.table.alias,
        );
        (sql, params)
    }

    /// The number of rows matching the filters, over all pages.
    pub(crate) fn total(&self, conn: &Connection) -> Result<u64, StoreError> {
        if self.nothing {
            return Ok(0);
        }
        let (sql, params) = self.count_sql();
        let n: i64 = with_statement(conn, &sql, self.text_varies, |stmt| {
            stmt.query_row(params_from_iter(params.iter()), |r| r.get(0))
                .store()
        })?;
        count(n)
    }

    /// The SQL and values of one page.
    fn page_sql(&self, select: &str, plan: RangePlan) -> (String, Vec<Value>) {
        let (conditions, mut params) = self.where_clause(plan);
        let id = format!("{}.id", self.table.alias);
        let cursor = self.paging.cursor_condition(&id, &mut params);
        let tail = self.paging.tail(&id);
        (format!("{select} WHERE {conditions}{cursor}{tail}"), params)
    }

    /// Runs the query: `select` is `SELECT <alias>.id, ... FROM <table>
    /// <alias> [LEFT JOIN ...]` (no WHERE); `from_row` reads one row, whose
    /// row id the caller's record carries and `row_id` gives back.
    pub(crate) fn run<R>(
        &self,
        conn: &Connection,
        select: &str,
        mut from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<Result<R, StoreError>>,
        row_id: impl Fn(&R) -> i64,
    ) -> Result<Page<R>, StoreError> {
        let total = self.total(conn)?;
        if self.nothing {
            return Ok(self.paging.page(Vec::new(), total));
        }
        let plan = match total {
            n if n > self.range_sort_max => RangePlan::RowByRow,
            _ => RangePlan::Index,
        };
        let (sql, params) = self.page_sql(select, plan);
        // The page's LIMIT and OFFSET are in its text ([`Paging::tail`]).
        let items = with_statement(conn, &sql, true, |stmt| {
            let rows = stmt
                .query_map(params_from_iter(params.iter()), |row| from_row(row))
                .store()?;
            let mut items = Vec::new();
            for row in rows {
                let row = row.store()??;
                items.push((row_id(&row), row));
            }
            Ok(items)
        })?;
        Ok(self.paging.page(items, total))
    }

    /// Runs the query over every matching row, oldest first and without
    /// paging, handing each row to `each` as SQLite reads it: an export
    /// streams millions of rows this way. Its plan is a page's (with range
    /// filters matching more than [`RANGE_SORT_MAX`] rows tested row by
    /// row), so SQLite never sorts more than that many rows. Returns the
    /// rows read.
    pub(crate) fn for_each(
        &self,
        conn: &Connection,
        select: &str,
        mut each: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        if self.nothing {
            return Ok(0);
        }
        // Without range filters the order is an index's own: no count
        // needed to choose the plan.
        let plan = match self.bounds.is_empty() || self.total(conn)? > self.range_sort_max {
            true => RangePlan::RowByRow,
            false => RangePlan::Index,
        };
        let (conditions, params) = self.where_clause(plan);
        let sql = format!(
            "{select} WHERE {conditions} ORDER BY {}.id",
            self.table.alias
        );
        let mut stmt = conn.prepare(&sql).store()?;
        let mut rows = stmt.query(params_from_iter(params.iter())).store()?;
        let mut read = 0;
        while let Some(row) = rows.next().store()? {
            each(row)?;
            read += 1;
        }
        Ok(read)
    }

    /// The query plan of [`Listing::for_each`] when its range filters match
    /// more than [`RANGE_SORT_MAX`] rows (the plan that must never sort),
    /// one line per step.
    #[cfg(test)]
    pub(crate) fn for_each_plan(&self, conn: &Connection, select: &str) -> Vec<String> {
        let (conditions, params) = self.where_clause(RangePlan::RowByRow);
        let sql = format!(
            "EXPLAIN QUERY PLAN {select} WHERE {conditions} ORDER BY {}.id",
            self.table.alias
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Lowers [`RANGE_SORT_MAX`] for this query.
    #[cfg(test)]
    pub(crate) fn set_range_sort_max(&mut self, max: u64) {
        self.range_sort_max = max;
    }

    /// The query plans of a page and of the total, one line per step;
    /// `row_by_row` picks the plan of a list whose range filters match more
    /// than [`RANGE_SORT_MAX`] rows.
    #[cfg(test)]
    pub(crate) fn plan(&self, conn: &Connection, select: &str, row_by_row: bool) -> Vec<String> {
        let explain = |sql: &str, params: &[Value]| -> Vec<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let range_plan = match row_by_row {
            true => RangePlan::RowByRow,
            false => RangePlan::Index,
        };
        let (sql, params) = self.page_sql(select, range_plan);
        let mut plan = explain(&sql, &params);
        let (total, params) = self.count_sql();
        plan.extend(explain(&total, &params));
        plan
    }
}

/// Runs `work` on `sql` prepared through the connection's statement cache,
/// unless its text varies with the values: such a statement would only push
/// out of the cache the statements the checkout reuses.
fn with_statement<T>(
    conn: &Connection,
    sql: &str,
    text_varies: bool,
    work: impl FnOnce(&mut rusqlite::Statement<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if text_varies {
        work(&mut conn.prepare(sql).store()?)
    } else {
        work(&mut *conn.prepare_cached(sql).store()?)
    }
}

/// The least string greater than every string starting with `prefix`:
/// `prefix` with its last incrementable character incremented and what
/// follows dropped; `None` when every character is `char::MAX`.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            // Surrogates are not characters: skip over them.
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Test helpers: query plans.
#[cfg(test)]
pub(crate) mod plans {
    use chrono::{TimeZone, Utc};
    use voucher_core::money::Currency;
    use voucher_core::port::{ProjectId, ProjectSpec, ProjectStore};
    use voucher_core::stacking::StackingRules;

    use crate::{Options, SqliteStore};

    /// A store on a new file with one project.
    pub(crate) fn store() -> (tempfile::TempDir, SqliteStore, ProjectId) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("plans.db"), Options::default()).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let spec = ProjectSpec {
            name: "p".to_owned(),
            currency: Currency::EUR,
            time_zone: chrono_tz::Tz::UTC,
            stacking: StackingRules::default(),
        };
        let project = store.create_project(&spec, now).unwrap().id;
        (dir, store, project)
    }

    /// Asserts that no step of `plan` scans a table without an index or
    /// sorts it, and returns the plan joined for further checks.
    pub(crate) fn assert_indexed(what: &str, plan: &[String]) -> String {
        for step in plan {
            let full_scan = step.starts_with("SCAN ") && !step.contains(" USING ");
            assert!(!full_scan, "{what}: full scan in {plan:#?}");
        }
        plan.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_exactly_the_prefixed_strings() {
        assert_eq!(prefix_successor("CAT-").as_deref(), Some("CAT."));
        assert_eq!(
            prefix_successor("a\u{10FFFF}").as_deref(),
            Some("b"),
            "a maximal last character carries"
        );
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let prefix = "Ké";
        let upper = prefix_successor(prefix).unwrap();
        for s in ["Ké", "Kéz", "Ké\u{10FFFF}\u{10FFFF}", "Ké-1"] {
            assert!(prefix <= s && s < upper.as_str(), "{s}");
        }
        for s in ["Kf", "Kê", "K", "Kz"] {
            assert!(!(prefix <= s && s < upper.as_str()), "{s}");
        }
    }
}
