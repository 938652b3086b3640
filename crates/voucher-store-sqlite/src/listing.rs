//! The one query builder behind the store's lists (campaigns, vouchers, the
//! gift ledger, rule sets; redemptions, customers and publications may use
//! it too): filters, page and cursor paging, the true total and `has_more`.
//!
//! SQL text is assembled only from `&'static str` fragments written in this
//! crate (column names, `?` placeholders); every value a caller gives is a
//! bound parameter, so no user text ever becomes SQL.
//!
//! Order: newest first by default, by `(created_at, row id)` (the row id
//! breaks ties between rows created in the same millisecond, e.g. a chunk of
//! generated codes), or by row id alone for append-only tables whose row
//! order is their meaning (the gift ledger). A cursor names the sort key of
//! the last item of a page, `<created_ms>.<row id>`, so it stays valid when
//! that item is deleted, and the page after it is an index range rather than
//! an ever larger OFFSET (a list ordered by row id alone has the row id as
//! its cursor). `starting_after` also takes an item's external id
//! (`v_...`), as the wire's `starting_after_id` does.
//!
//! Every list MUST be served by an index on `(project_id, ...)` whose last
//! columns are the sort key (SQLite indexes end with the row id); the tests
//! check the plans with `EXPLAIN QUERY PLAN`.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use voucher_core::limits::ID_LEN_MAX;
use voucher_core::port::{ListQuery, Page, ProjectId, SortOrder, StoreError};

use crate::encode::{count, to_ms};
use crate::error::SqlResult;

/// Largest page size (`limit`), as the wire allows.
pub(crate) const PAGE_SIZE_MAX: u32 = 100;
/// Highest page number; deeper pages are refused with `page_over_limit`
/// (Voucherify's limit: "Listing resource above 1000 page is not
/// supported"), so an OFFSET never skips more than 100,000 rows. Cursor
/// paging has no such limit.
pub(crate) const PAGE_NUMBER_MAX: u32 = 1000;
/// Most ids or codes in one `ids` filter.
pub(crate) const IDS_FILTER_MAX: usize = 1000;
/// Most rows a prefix filter may match and still be read as a range of its
/// column's index and then sorted; a broader prefix is tested row by row
/// while walking the list's order index, which fills a page after a few
/// rows when so many match (sorting a million rows takes seconds).
pub(crate) const PREFIX_SORT_MAX: u64 = 20_000;

/// How a table's rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortBy {
    /// By `created_at`, then row id.
    Created,
    /// By row id only (append-only tables).
    RowId,
}

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
    /// Its order.
    pub sort: SortBy,
}

/// Where a row stands in a list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortKey {
    /// `created_at`, Unix milliseconds.
    pub created_ms: i64,
    /// The integer primary key.
    pub id: i64,
}

impl SortKey {
    /// The cursor text naming this key in a list ordered by `sort`:
    /// `<created_ms>.<row id>`, or the row id alone.
    pub(crate) fn cursor(self, sort: SortBy) -> String {
        match sort {
            SortBy::Created => format!("{}.{}", self.created_ms, self.id),
            SortBy::RowId => self.id.to_string(),
        }
    }

    /// Parses [`SortKey::cursor`]'s text; `None` for anything else.
    fn parse(text: &str, sort: SortBy) -> Option<SortKey> {
        let digits = |s: &str| {
            let s = s.strip_prefix('-').unwrap_or(s);
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
        };
        match sort {
            SortBy::Created => {
                let (created, id) = text.split_once('.')?;
                if !digits(created) || !digits(id) {
                    return None;
                }
                Some(SortKey {
                    created_ms: created.parse().ok()?,
                    id: id.parse().ok()?,
                })
            }
            SortBy::RowId if digits(text) => Some(SortKey {
                created_ms: 0,
                id: text.parse().ok()?,
            }),
            SortBy::RowId => None,
        }
    }
}

/// Where a cursor points.
#[derive(Debug, Clone)]
enum After {
    Key(SortKey),
    ExtId(String),
}

/// A wire key `invalid_query_params` error.
pub(crate) fn invalid_query(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_query_params",
        message: message.into(),
    }
}

/// A list query under construction: its filters and their bound values.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    table: Table,
    project: ProjectId,
    limit: u32,
    page: u32,
    order: SortOrder,
    after: Option<After>,
    conditions: Vec<String>,
    params: Vec<Value>,
    prefix: Option<Prefix>,
    /// [`PREFIX_SORT_MAX`], lowered by tests to reach the other plan.
    prefix_sort_max: u64,
    nothing: bool,
}

/// A "starts with" filter: `column >= lower AND column < upper`.
#[derive(Debug, Clone)]
struct Prefix {
    column: &'static str,
    lower: String,
    upper: Option<String>,
}

/// How a prefix filter is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrefixPlan {
    /// As a range of the column's index.
    Range,
    /// Hidden from the planner (a unary `+`): tested on each row.
    RowByRow,
}

impl Listing {
    /// Checks the paging of `list` and starts a query of `table` in
    /// `project`, with the date filters of `list`.
    ///
    /// Errors: `invalid_query_params` for a `limit` outside
    /// 1..=[`PAGE_SIZE_MAX`], a `page` of 0 or a malformed cursor;
    /// `page_over_limit` for a page above [`PAGE_NUMBER_MAX`].
    pub(crate) fn new(
        table: Table,
        project: ProjectId,
        list: &ListQuery,
    ) -> Result<Listing, StoreError> {
        if !(1..=PAGE_SIZE_MAX).contains(&list.limit) {
            return Err(invalid_query(format!(
                "limit must be between 1 and {PAGE_SIZE_MAX}, got {}",
                list.limit
            )));
        }
        if list.page == 0 {
            return Err(invalid_query("page must be at least 1"));
        }
        if list.page > PAGE_NUMBER_MAX {
            return Err(StoreError::Invalid {
                key: "page_over_limit",
                message: format!("page cannot be higher than {PAGE_NUMBER_MAX}"),
            });
        }
        let after = match list.starting_after.as_deref() {
            None => None,
            Some(text) => Some(match SortKey::parse(text, table.sort) {
                Some(key) => After::Key(key),
                None if !text.is_empty() && text.len() <= ID_LEN_MAX => {
                    After::ExtId(text.to_owned())
                }
                None => return Err(invalid_query("starting_after is not a cursor or an id")),
            }),
        };
        let mut listing = Listing {
            table,
            project,
            limit: list.limit,
            page: list.page,
            order: list.order,
            after,
            conditions: Vec::new(),
            params: Vec::new(),
            prefix: None,
            prefix_sort_max: PREFIX_SORT_MAX,
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
                listing.push_column(column, op, Value::Integer(to_ms(t)));
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
    /// walking the whole list in order. No match: nothing matches.
    pub(crate) fn filter_any_in(
        &mut self,
        conn: &Connection,
        columns: &[&'static str],
        values: &[String],
    ) -> Result<(), StoreError> {
        let mut ids = std::collections::BTreeSet::new();
        for column in columns {
            let sql = format!(
                "SELECT id FROM {} WHERE project_id = ?1 AND {column} = ?2",
                self.table.name
            );
            let mut stmt = conn.prepare_cached(&sql).store()?;
            for value in values {
                let found = stmt
                    .query_row(rusqlite::params![self.project.0, value], |r| {
                        r.get::<_, i64>(0)
                    })
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
        self.conditions
            .push(format!("{}.id IN ({marks})", self.table.alias));
        self.params.extend(ids.into_iter().map(Value::Integer));
        Ok(())
    }

    /// Adds "`column` starts with `prefix`" (one prefix filter per list)
    /// as a range of the column's (binary-collated) index: UTF-8 orders as
    /// code points do, so the strings starting with `prefix` are those from
    /// `prefix` up to, not including, `prefix` with its last character
    /// incremented. A page uses the range while it holds at most
    /// [`PREFIX_SORT_MAX`] rows.
    pub(crate) fn filter_prefix(&mut self, column: &'static str, prefix: &str) {
        debug_assert!(self.prefix.is_none(), "one prefix filter per list");
        if prefix.is_empty() {
            return;
        }
        self.prefix = Some(Prefix {
            column,
            lower: prefix.to_owned(),
            upper: prefix_successor(prefix),
        });
    }

    /// Marks the query as matching nothing (a filter named an object that
    /// does not exist); [`Listing::run`] then answers an empty page.
    pub(crate) fn match_nothing(&mut self) {
        self.nothing = true;
    }

    /// The WHERE clause and its values.
    fn where_clause(&self, plan: PrefixPlan) -> (String, Vec<Value>) {
        let mut conditions = self.conditions.clone();
        let mut params = self.params.clone();
        if let Some(prefix) = &self.prefix {
            let column = match plan {
                PrefixPlan::Range => prefix.column.to_owned(),
                PrefixPlan::RowByRow => format!("+{}", prefix.column),
            };
            conditions.push(format!("{column} >= ?"));
            params.push(Value::Text(prefix.lower.clone()));
            if let Some(upper) = &prefix.upper {
                conditions.push(format!("{column} < ?"));
                params.push(Value::Text(upper.clone()));
            }
        }
        (conditions.join(" AND "), params)
    }

    fn count_sql(&self) -> (String, Vec<Value>) {
        let (conditions, params) = self.where_clause(PrefixPlan::Range);
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
        let n: i64 = conn
            .prepare_cached(&sql)
            .store()?
            .query_row(params_from_iter(params.iter()), |r| r.get(0))
            .store()?;
        count(n)
    }

    fn resolve_after(&self, conn: &Connection) -> Result<Option<SortKey>, StoreError> {
        match &self.after {
            None => Ok(None),
            Some(After::Key(key)) => Ok(Some(*key)),
            Some(After::ExtId(ext_id)) => {
                let sql = format!(
                    "SELECT created_at, id FROM {} WHERE project_id = ?1 AND ext_id = ?2",
                    self.table.name
                );
                let key = conn
                    .prepare_cached(&sql)
                    .store()?
                    .query_row(rusqlite::params![self.project.0, ext_id], |r| {
                        Ok(SortKey {
                            created_ms: r.get(0)?,
                            id: r.get(1)?,
                        })
                    })
                    .optional()
                    .store()?;
                key.map(Some).ok_or_else(|| {
                    invalid_query(format!("starting_after: no {} {ext_id}", self.table.name))
                })
            }
        }
    }

    /// The SQL and values of one page (for `EXPLAIN QUERY PLAN` in tests).
    fn page_sql(
        &self,
        select: &str,
        after: Option<SortKey>,
        plan: PrefixPlan,
    ) -> (String, Vec<Value>) {
        let alias = self.table.alias;
        let (cmp, dir) = match self.order {
            SortOrder::NewestFirst => ("<", "DESC"),
            SortOrder::OldestFirst => (">", "ASC"),
        };
        let (mut conditions, mut params) = self.where_clause(plan);
        if let Some(key) = after {
            match self.table.sort {
                SortBy::Created => {
                    conditions.push_str(&format!(
                        " AND ({alias}.created_at, {alias}.id) {cmp} (?, ?)"
                    ));
                    params.push(Value::Integer(key.created_ms));
                }
                SortBy::RowId => conditions.push_str(&format!(" AND {alias}.id {cmp} ?")),
            }
            params.push(Value::Integer(key.id));
        }
        let order_by = match self.table.sort {
            SortBy::Created => format!("{alias}.created_at {dir}, {alias}.id {dir}"),
            SortBy::RowId => format!("{alias}.id {dir}"),
        };
        // One row more than the page tells whether more follow.
        params.push(Value::Integer(i64::from(self.limit) + 1));
        let offset = match after {
            Some(_) => 0,
            None => i64::from(self.page - 1) * i64::from(self.limit),
        };
        params.push(Value::Integer(offset));
        let sql = format!("{select} WHERE {conditions} ORDER BY {order_by} LIMIT ? OFFSET ?");
        (sql, params)
    }

    /// Runs the query: `select` is `SELECT ... FROM <table> <alias> [LEFT
    /// JOIN ...]` (no WHERE), `from_row` reads one row, `key` gives a read
    /// row's sort key (for the next cursor).
    pub(crate) fn run<R>(
        &self,
        conn: &Connection,
        select: &str,
        mut from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<Result<R, StoreError>>,
        key: impl Fn(&R) -> SortKey,
    ) -> Result<Page<R>, StoreError> {
        if self.nothing {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
                has_more: false,
                next_cursor: None,
            });
        }
        let total = self.total(conn)?;
        let after = self.resolve_after(conn)?;
        let plan = match total {
            n if n > self.prefix_sort_max => PrefixPlan::RowByRow,
            _ => PrefixPlan::Range,
        };
        let (sql, params) = self.page_sql(select, after, plan);
        let mut stmt = conn.prepare_cached(&sql).store()?;
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |row| from_row(row))
            .store()?;
        let mut items = Vec::with_capacity(self.limit as usize);
        let mut has_more = false;
        for row in rows {
            let row = row.store()??;
            if items.len() == self.limit as usize {
                has_more = true;
                break;
            }
            items.push(row);
        }
        let next_cursor = match items.last() {
            Some(last) if has_more => Some(key(last).cursor(self.table.sort)),
            _ => None,
        };
        Ok(Page {
            items,
            total,
            has_more,
            next_cursor,
        })
    }

    /// Lowers [`PREFIX_SORT_MAX`] for this query.
    #[cfg(test)]
    pub(crate) fn set_prefix_sort_max(&mut self, max: u64) {
        self.prefix_sort_max = max;
    }

    /// The query plans of a page (both plans of a prefix filter) and of
    /// the total, one line per step.
    #[cfg(test)]
    pub(crate) fn plan(&self, conn: &Connection, select: &str) -> Vec<String> {
        let explain = |sql: &str, params: &[Value]| -> Vec<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let after = match self.after {
            Some(After::Key(key)) => Some(key),
            _ => None,
        };
        let mut plan = Vec::new();
        for prefix_plan in [PrefixPlan::Range, PrefixPlan::RowByRow] {
            let (sql, params) = self.page_sql(select, after, prefix_plan);
            plan.extend(explain(&sql, &params));
            if self.prefix.is_none() {
                break;
            }
        }
        let (total, params) = self.count_sql();
        plan.extend(explain(&total, &params));
        plan
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_ids_are_not_cursors() {
        let key = SortKey {
            created_ms: -5,
            id: 42,
        };
        assert_eq!(
            SortKey::parse(&key.cursor(SortBy::Created), SortBy::Created),
            Some(key)
        );
        assert_eq!(key.cursor(SortBy::RowId), "42");
        assert_eq!(SortKey::parse("42", SortBy::RowId).map(|k| k.id), Some(42));
        for text in ["v_3f9a", "1.", ".2", "1.2.3", "a.b", "1.+2", "", "42"] {
            assert_eq!(SortKey::parse(text, SortBy::Created), None, "{text}");
        }
        for text in ["v_3f9a", "1.2", "", "+1"] {
            assert_eq!(SortKey::parse(text, SortBy::RowId), None, "{text}");
        }
    }

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

    #[test]
    fn paging_is_checked() {
        let table = Table {
            name: "vouchers",
            alias: "v",
            has_updated_at: true,
            sort: SortBy::Created,
        };
        let check = |list: ListQuery, expected: Option<&str>| {
            let got = Listing::new(table, ProjectId(1), &list)
                .err()
                .map(|e| match e {
                    StoreError::Invalid { key, .. } => key,
                    other => panic!("{other:?}"),
                });
            assert_eq!(got, expected, "{list:?}");
        };
        let q = ListQuery::default;
        check(q(), None);
        check(
            ListQuery {
                limit: 100,
                page: 1000,
                ..q()
            },
            None,
        );
        check(ListQuery { limit: 0, ..q() }, Some("invalid_query_params"));
        check(
            ListQuery { limit: 101, ..q() },
            Some("invalid_query_params"),
        );
        check(ListQuery { page: 0, ..q() }, Some("invalid_query_params"));
        check(ListQuery { page: 1001, ..q() }, Some("page_over_limit"));
        check(
            ListQuery {
                starting_after: Some(String::new()),
                ..q()
            },
            Some("invalid_query_params"),
        );
    }
}

/// Test helpers: query plans.
#[cfg(test)]
pub(crate) mod plans {
    /// Asserts that no step of `plan` scans a table without an index, and
    /// returns the plan joined for further checks.
    pub(crate) fn assert_indexed(what: &str, plan: &[String]) -> String {
        for step in plan {
            let full_scan = step.starts_with("SCAN ") && !step.contains(" USING ");
            assert!(!full_scan, "{what}: full scan in {plan:#?}");
        }
        plan.join("\n")
    }
}
