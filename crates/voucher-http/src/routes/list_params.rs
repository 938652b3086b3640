//! The query parameters the customer, publication and validation-rule lists
//! share: `limit`, `page`, `order`, `created_at[before|after]`,
//! `updated_at[before|after]`, `start_date`/`end_date`, and their
//! translation into the store's [`ListQuery`].
//!
//! Numbers and instants arrive as text (the SDKs' query strings) and are
//! read here, so that a bad one is 400 `invalid_query_params` naming the
//! parameter. Instants are read leniently: RFC 3339, the Python SDK's
//! `%Y-%m-%dT%H:%M:%S.%f%z` (`+0000`, or no zone at all for a naive
//! datetime, taken as UTC) and bare dates (midnight UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use voucher_core::port::{ListQuery, SortOrder};

use crate::error::ApiError;

/// `created_at[before]=...&created_at[after]=...`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstantRange {
    /// Only items strictly before this instant.
    pub before: Option<String>,
    /// Only items strictly after this instant.
    pub after: Option<String>,
}

/// Paging, order and date filters of a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    /// Page size, 1..=100 (default 10).
    pub limit: Option<String>,
    /// 1-based page.
    pub page: Option<String>,
    /// `created_at` (oldest first) or `-created_at` (newest first, the
    /// default). Other sort keys of the SDKs' enums (`updated_at`, `name`,
    /// ...) are refused: the store sorts by creation only, and a list in
    /// another order than asked would mislead.
    pub order: Option<String>,
    /// Creation date range.
    pub created_at: Option<InstantRange>,
    /// Update date range.
    pub updated_at: Option<InstantRange>,
    /// Created at or after (the validation-rule list's name for it).
    pub start_date: Option<String>,
    /// Created at or before (the validation-rule list's name for it).
    pub end_date: Option<String>,
}

/// 400 `invalid_query_params` about `name`.
pub fn invalid_param(name: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query_params", format!("{name}: {problem}"))
}

fn number(name: &str, text: Option<&str>) -> Result<Option<u32>, ApiError> {
    given(text)
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| invalid_param(name, format!("{t:?} is not a positive integer")))
        })
        .transpose()
}

/// Reads an instant as the SDKs write one (see the module doc).
pub fn parse_instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    // A `+` that reached us unencoded was read as a space.
    let text = text.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(t.and_utc());
    }
    if let Some(t) = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    Err(invalid_param(name, format!("{text:?} is not a date-time")))
}

/// A parameter's text, absent when empty or `None`/`null` (how the Python
/// SDK writes the unset fields of an object it flattens into a query).
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim)
        .filter(|t| !t.is_empty() && *t != "None" && *t != "null")
}

fn instant(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    given(text).map(|t| parse_instant(name, t)).transpose()
}

/// The sort order a wire `order` names.
pub fn sort_order(order: Option<&str>) -> Result<SortOrder, ApiError> {
    match order.map(str::trim) {
        None | Some("") | Some("-created_at") => Ok(SortOrder::NewestFirst),
        Some("created_at") => Ok(SortOrder::OldestFirst),
        Some(other) => Err(invalid_param(
            "order",
            format!("{other:?} is not one of created_at, -created_at"),
        )),
    }
}

impl ListParams {
    /// The store's query (the store checks the ranges of `limit` and
    /// `page`).
    pub fn to_query(&self) -> Result<ListQuery, ApiError> {
        let mut query = ListQuery {
            order: sort_order(self.order.as_deref())?,
            ..ListQuery::default()
        };
        if let Some(limit) = number("limit", self.limit.as_deref())? {
            query.limit = limit;
        }
        if let Some(page) = number("page", self.page.as_deref())? {
            query.page = page;
        }
        let created = self.created_at.clone().unwrap_or_default();
        let updated = self.updated_at.clone().unwrap_or_default();
        query.created_before = instant("created_at[before]", created.before.as_deref())?;
        query.created_after = instant("created_at[after]", created.after.as_deref())?;
        query.updated_before = instant("updated_at[before]", updated.before.as_deref())?;
        query.updated_after = instant("updated_at[after]", updated.after.as_deref())?;
        // The store's ranges are strict; start and end dates include their
        // instant.
        let millisecond = chrono::Duration::milliseconds(1);
        if let Some(start) = instant("start_date", self.start_date.as_deref())? {
            query.created_after = Some(start - millisecond);
        }
        if let Some(end) = instant("end_date", self.end_date.as_deref())? {
            query.created_before = Some(end + millisecond);
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_read_as_the_sdks_write_them() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap();
        for text in [
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00.000Z",
            "2024-01-01T10:00:00+00:00",
            "2024-01-01T11:00:00 01:00",
            "2024-01-01T10:00:00.000000+0000",
            "2024-01-01T10:00:00.000000",
        ] {
            assert_eq!(parse_instant("x", text).unwrap(), t, "{text}");
        }
        assert_eq!(
            parse_instant("x", "2024-01-01").unwrap(),
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(instant("x", Some("None")).unwrap(), None);
        let err = parse_instant("created_at[before]", "yesterday").unwrap_err();
        assert_eq!(err.key, "invalid_query_params");
    }

    #[test]
    fn paging_and_order_are_read() {
        let params = ListParams {
            limit: Some("5".into()),
            page: Some("2".into()),
            order: Some("created_at".into()),
            ..ListParams::default()
        };
        let query = params.to_query().unwrap();
        assert_eq!(
            (query.limit, query.page, query.order),
            (5, 2, SortOrder::OldestFirst)
        );
        for bad in [
            ListParams {
                limit: Some("-1".into()),
                ..ListParams::default()
            },
            ListParams {
                order: Some("name".into()),
                ..ListParams::default()
            },
            ListParams {
                order: Some("-updated_at".into()),
                ..ListParams::default()
            },
        ] {
            assert_eq!(bad.to_query().unwrap_err().key, "invalid_query_params");
        }
    }
}
