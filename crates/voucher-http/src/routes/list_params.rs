//! The query parameters every list shares, read into the store's
//! [`ListQuery`]: `limit` (1..=100), `page` (1..=1000, `page_over_limit`
//! beyond), `order` (`created_at` / `-created_at`), `created_at[before|after]`,
//! `updated_at[before|after]`, `start_date` / `end_date` (creation, bounds
//! included) and the cursors `starting_after` / `starting_after_id`. A
//! resource `#[serde(flatten)]`s [`ListParams`] into its own query struct
//! for its filters; the advanced `filters[<field>][conditions][$is|$in]`
//! are read by [`filter_value`], lists of ids (`ids[]=a`, Python's
//! `['a', 'b']`) by [`IdList`].
//!
//! Numbers and instants arrive as text (the SDKs' query strings) and are
//! read here, so that a bad one is 400 `invalid_query_params` naming the
//! parameter; `None`, `null` and empty values are absent (the Python SDK
//! writes unset fields so). Instants are read leniently: RFC 3339, the
//! Python SDK's `%Y-%m-%dT%H:%M:%S.%f%z` (`+0000`, or no zone at all for a
//! naive datetime, taken as UTC) and bare dates (midnight UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use voucher_core::port::{ListQuery, SortOrder};

use crate::error::ApiError;

/// Most items in one page of a list.
pub const LIST_LIMIT_MAX: u32 = 100;

/// Most pages a page-numbered list goes to (cursors go further).
pub const LIST_PAGE_MAX: u32 = 1000;

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
    /// 1-based page, at most [`LIST_PAGE_MAX`].
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
    /// A cursor of ours (a previous page's `more_starting_after`), or a
    /// creation instant (the JS SDK's `customers.scroll()`): the items
    /// created after it (oldest first) or before it (newest first).
    pub starting_after: Option<String>,
    /// A cursor of ours (the new envelope's name for it); wins over a
    /// cursor in `starting_after`.
    pub starting_after_id: Option<String>,
}

/// 400 `invalid_query_params` about `name`.
pub fn invalid_param(name: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query_params", format!("{name}: {problem}"))
}

/// A parameter's text, absent when empty or `None`/`null` (how the Python
/// SDK writes the unset fields of an object it flattens into a query).
pub fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim)
        .filter(|t| !t.is_empty() && *t != "None" && *t != "null")
}

/// 400 `invalid_query_params` for the first filter given (`true`) of
/// those a list cannot apply: refused rather than ignored, since an
/// unfiltered list would look like a filtered one.
pub fn refuse_unsupported(filters: &[(&str, bool)]) -> Result<(), ApiError> {
    match filters.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(invalid_param(name, "this filter is not supported")),
        None => Ok(()),
    }
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

fn instant(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    given(text).map(|t| parse_instant(name, t)).transpose()
}

/// The sort order a wire `order` names.
pub fn sort_order(order: Option<&str>) -> Result<SortOrder, ApiError> {
    match given(order) {
        None | Some("-created_at") => Ok(SortOrder::NewestFirst),
        Some("created_at") => Ok(SortOrder::OldestFirst),
        Some(other) => Err(invalid_param(
            "order",
            format!("{other:?} is not one of created_at, -created_at"),
        )),
    }
}

/// Whether a cursor is one of the store's (a row id).
fn is_store_cursor(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

impl ListParams {
    /// The store's query: 400 `invalid_query_params` for a limit outside
    /// 1..=100, a page below 1, a bad instant or order; 400
    /// `page_over_limit` for a page beyond [`LIST_PAGE_MAX`].
    pub fn to_query(&self) -> Result<ListQuery, ApiError> {
        let mut query = ListQuery {
            order: sort_order(self.order.as_deref())?,
            ..ListQuery::default()
        };
        if let Some(limit) = number("limit", self.limit.as_deref())? {
            if !(1..=LIST_LIMIT_MAX).contains(&limit) {
                return Err(invalid_param(
                    "limit",
                    format!("must be 1..={LIST_LIMIT_MAX}"),
                ));
            }
            query.limit = limit;
        }
        if let Some(page) = number("page", self.page.as_deref())? {
            if page == 0 {
                return Err(invalid_param("page", "must be at least 1"));
            }
            if page > LIST_PAGE_MAX {
                return Err(ApiError::bad_request(
                    "page_over_limit",
                    format!("page must be at most {LIST_PAGE_MAX}; use starting_after"),
                ));
            }
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
        match given(self.starting_after.as_deref()) {
            None => {}
            Some(cursor) if is_store_cursor(cursor) => {
                query.starting_after = Some(cursor.to_owned());
            }
            // The JS SDK's scroll: items created strictly after (oldest
            // first) or before (newest first) this instant.
            Some(text) => {
                let at = parse_instant("starting_after", text)?;
                query.page = 1;
                match query.order {
                    SortOrder::OldestFirst => {
                        query.created_after = Some(query.created_after.map_or(at, |a| a.max(at)));
                    }
                    SortOrder::NewestFirst => {
                        query.created_before = Some(query.created_before.map_or(at, |b| b.min(at)));
                    }
                }
            }
        }
        if let Some(cursor) = given(self.starting_after_id.as_deref()) {
            // The store says 400 for a cursor that is not one of its own.
            query.starting_after = Some(cursor.to_owned());
        }
        Ok(query)
    }
}

/// The advanced filters of a list, `filters[<field>][conditions][<op>]`
/// (the voucher and redemption lists, the exports' `parameters.filters`).
pub type Filters = Map<String, Json>;

/// The `$is` (or first `$in`) value of `filters[<field>][conditions]`; a
/// value written as Python's list (`['a', 'b']`) gives its first item.
pub fn filter_value(filters: &Filters, field: &str) -> Option<String> {
    let conditions = filters.get(field)?.get("conditions")?;
    let value = conditions.get("$is").or_else(|| conditions.get("$in"))?;
    let first = match value {
        Json::Array(values) => values.first()?.clone(),
        Json::Object(map) => map.values().next()?.clone(),
        other => other.clone(),
    };
    match first {
        Json::String(s) => IdList::One(s).into_vec().into_iter().next(),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

/// Whether `filters[active][conditions]` asks for enabled (`$active`,
/// `$enabled`, `$is: true`) or disabled (`$inactive`, `$disabled`, `$is:
/// false`) codes.
pub fn filter_active(filters: &Filters) -> Option<bool> {
    let conditions = filters.get("active")?.get("conditions")?.as_object()?;
    if conditions.contains_key("$active") || conditions.contains_key("$enabled") {
        return Some(true);
    }
    if conditions.contains_key("$inactive") || conditions.contains_key("$disabled") {
        return Some(false);
    }
    filter_value(filters, "active").and_then(|v| v.parse().ok())
}

/// A list of ids or codes as query strings send it: `ids[]=a&ids[]=b`,
/// `ids[0]=a`, `ids=a`, or Python's `ids=['a', 'b']`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdList {
    /// Several values.
    Many(Vec<String>),
    /// Indexed values (`ids[0]=a`).
    Indexed(std::collections::BTreeMap<String, String>),
    /// One value, or Python's list text.
    One(String),
}

impl IdList {
    /// The ids, in order.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            IdList::Many(ids) => ids,
            IdList::Indexed(map) => {
                let mut pairs: Vec<(u64, String)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(u64::MAX), v))
                    .collect();
                pairs.sort_by_key(|(k, _)| *k);
                pairs.into_iter().map(|(_, v)| v).collect()
            }
            IdList::One(text) => {
                let trimmed = text.trim();
                match trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                    Some(inner) => inner
                        .split(',')
                        .map(|part| part.trim().trim_matches(['\'', '"']).to_owned())
                        .filter(|part| !part.is_empty())
                        .collect(),
                    None => vec![text],
                }
            }
        }
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
    fn filters_give_their_first_value() {
        let filters: Filters = serde_json::from_value(serde_json::json!({
            "campaign_name": {"conditions": {"$is": "Spring, 2024"}},
            "voucher_code": {"conditions": {"$in": "['A', 'B']"}},
            "customer_id": {"conditions": {"$in": {"0": "cust_1"}}},
            "result": {"conditions": {"$is": null}},
            "active": {"conditions": {"$is": true}},
        }))
        .unwrap();
        let value = |field| filter_value(&filters, field);
        assert_eq!(value("campaign_name").as_deref(), Some("Spring, 2024"));
        assert_eq!(value("voucher_code").as_deref(), Some("A"));
        assert_eq!(value("customer_id").as_deref(), Some("cust_1"));
        assert_eq!(value("result"), None);
        assert_eq!(value("missing"), None);
        assert_eq!(filter_active(&filters), Some(true));
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
