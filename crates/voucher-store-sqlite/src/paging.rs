//! Page and cursor paging of lists, shared by the list queries.
//!
//! Lists are ordered by the table's integer row id (insertion order, so
//! "newest first" is the order of commits, whatever the callers' clocks
//! said) because every list index ends with it: a filter on an indexed
//! column then walks its index in order and stops after one page. A cursor
//! is the last row id of the previous page, as text; page paging is a plain
//! offset, bounded by [`PAGE_MAX`].

use rusqlite::types::Value;
use voucher_core::port::{ListQuery, Page, SortOrder, StoreError};

/// Most items on one page (the wire's `limit` range is 1..=100).
pub(crate) const LIMIT_MAX: u32 = 100;

/// The highest page number (the wire answers `page_over_limit` beyond it).
pub(crate) const PAGE_MAX: u32 = 1000;

/// How one page of a list is cut, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    limit: u32,
    offset: u64,
    after: Option<i64>,
    order: SortOrder,
}

impl Paging {
    /// Checks a query's paging: `limit` 1..=100, `page` 1..=1000, a cursor
    /// that is one of ours.
    pub(crate) fn new(query: &ListQuery) -> Result<Paging, StoreError> {
        if query.limit == 0 || query.limit > LIMIT_MAX {
            return Err(StoreError::Invalid {
                key: "invalid_query_params",
                message: format!("limit must be 1..={LIMIT_MAX}"),
            });
        }
        if query.page == 0 {
            return Err(StoreError::Invalid {
                key: "invalid_query_params",
                message: "page must be at least 1".to_owned(),
            });
        }
        if query.page > PAGE_MAX {
            return Err(StoreError::Invalid {
                key: "page_over_limit",
                message: format!("page must be at most {PAGE_MAX}; use starting_after"),
            });
        }
        let after = query
            .starting_after
            .as_deref()
            .map(|cursor| {
                cursor
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id >= 0)
                    .ok_or_else(|| StoreError::Invalid {
                        key: "invalid_query_params",
                        message: format!("starting_after {cursor:?} is not a cursor of this list"),
                    })
            })
            .transpose()?;
        // A cursor replaces the page number.
        let offset = match after {
            Some(_) => 0,
            None => u64::from(query.page - 1) * u64::from(query.limit),
        };
        Ok(Paging {
            limit: query.limit,
            offset,
            after,
            order: query.order,
        })
    }

    /// The condition the cursor adds on `id_column` (empty without one),
    /// pushing its value onto `params`.
    pub(crate) fn cursor_condition(&self, id_column: &str, params: &mut Vec<Value>) -> String {
        match self.after {
            None => String::new(),
            Some(after) => {
                params.push(Value::Integer(after));
                let op = match self.order {
                    SortOrder::NewestFirst => "<",
                    SortOrder::OldestFirst => ">",
                };
                format!(" AND {id_column} {op} ?{}", params.len())
            }
        }
    }

    /// `ORDER BY ... LIMIT ... OFFSET ...`, one more row than the page so
    /// that `has_more` is known without counting.
    pub(crate) fn tail(&self, id_column: &str) -> String {
        let direction = match self.order {
            SortOrder::NewestFirst => "DESC",
            SortOrder::OldestFirst => "ASC",
        };
        format!(
            " ORDER BY {id_column} {direction} LIMIT {} OFFSET {}",
            u64::from(self.limit) + 1,
            self.offset
        )
    }

    /// Cuts the rows fetched with [`Paging::tail`] into a page; `id` gives
    /// an item's row id for the next cursor.
    pub(crate) fn page<T>(&self, mut rows: Vec<(i64, T)>, total: u64) -> Page<T> {
        let has_more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|(id, _)| id.to_string())
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(|(_, item)| item).collect(),
            total,
            has_more,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_paging_is_invalid() {
        let bad = |query: ListQuery| Paging::new(&query).is_err();
        assert!(bad(ListQuery {
            limit: 0,
            ..ListQuery::default()
        }));
        assert!(bad(ListQuery {
            limit: 101,
            ..ListQuery::default()
        }));
        assert!(bad(ListQuery {
            page: 0,
            ..ListQuery::default()
        }));
        assert!(bad(ListQuery {
            page: 1001,
            ..ListQuery::default()
        }));
        assert!(bad(ListQuery {
            starting_after: Some("r_123".to_owned()),
            ..ListQuery::default()
        }));
        assert!(!bad(ListQuery {
            starting_after: Some("42".to_owned()),
            ..ListQuery::default()
        }));
    }

    #[test]
    fn a_page_knows_whether_more_follow() {
        let paging = Paging::new(&ListQuery {
            limit: 2,
            ..ListQuery::default()
        })
        .unwrap();
        let page = paging.page(vec![(9, 'a'), (8, 'b'), (7, 'c')], 3);
        assert_eq!(page.items, vec!['a', 'b']);
        assert!(page.has_more);
        assert_eq!(page.next_cursor.as_deref(), Some("8"));
        let last = paging.page(vec![(7, 'c')], 3);
        assert!(!last.has_more);
        assert_eq!(last.next_cursor, None);
    }
}
