//! Reading many campaigns and vouchers ([`CampaignQueries`],
//! [`VoucherQueries`]), and a campaign's figures.
//!
//! Lists go through the shared builder in [`crate::listing`]; each filter
//! is a bound parameter and each shape of query is served by an index (the
//! tests below check the plans). The summary is a handful of aggregate
//! queries over indexed columns: the codes' count is the campaign's own
//! counter, the published codes and gift balances are index ranges, and the
//! redemption figures are one grouped pass over the campaign's redemptions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use voucher_core::port::{
    CampaignQueries, CampaignRecord, CampaignSummary, ListQuery, Page, ProjectId, StoreError,
    VoucherQueries, VoucherQuery, VoucherRecord,
};

use crate::catalog::{
    campaign_from_row, campaign_row, voucher_from_row, with_assignments, with_campaign_assignments,
    CampaignRow, VoucherRow, CAMPAIGN_COLUMNS, VOUCHER_SELECT,
};
use crate::encode::{count, to_ms};
use crate::error::SqlResult;
use crate::listing::{invalid_query, Listing, Table};
use crate::SqliteStore;

const CAMPAIGNS: Table = Table {
    name: "campaigns",
    alias: "c",
    has_updated_at: true,
};

const VOUCHERS: Table = Table {
    name: "vouchers",
    alias: "v",
    has_updated_at: true,
};

/// Milliseconds in a UTC day.
const DAY_MS: i64 = 86_400_000;

fn campaign_key(row: &CampaignRow) -> i64 {
    row.id
}

fn voucher_key(row: &VoucherRow) -> i64 {
    row.id
}

fn campaign_listing(project: ProjectId, query: &ListQuery) -> Result<Listing, StoreError> {
    Listing::new(CAMPAIGNS, project, query)
}

fn campaign_select() -> String {
    format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns c")
}

/// The customer's row id, by id or else source id.
fn customer_row_id(
    conn: &Connection,
    project: ProjectId,
    id_or_source_id: &str,
) -> Result<Option<i64>, StoreError> {
    for column in ["ext_id", "source_id"] {
        let found = conn
            .prepare_cached(&format!(
                "SELECT id FROM customers WHERE project_id = ?1 AND {column} = ?2"
            ))
            .store()?
            .query_row(rusqlite::params![project.0, id_or_source_id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .store()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The voucher list's query: paging and every filter of `query`. Filters
/// naming a campaign or customer that does not exist match nothing.
pub(crate) fn voucher_listing(
    conn: &Connection,
    project: ProjectId,
    query: &VoucherQuery,
) -> Result<Listing, StoreError> {
    let mut listing = Listing::new(VOUCHERS, project, &query.list)?;
    if let Some(campaign) = &query.campaign {
        match campaign_row(conn, project, campaign) {
            Ok(row) => listing.filter("v.campaign_id = ?", [Value::Integer(row.id)]),
            Err(StoreError::NotFound { .. }) => listing.match_nothing(),
            Err(e) => return Err(e),
        }
    }
    if let Some(customer) = &query.customer {
        match customer_row_id(conn, project, customer)? {
            Some(id) => listing.filter("v.holder_id = ?", [Value::Integer(id)]),
            None => listing.match_nothing(),
        }
    }
    if let Some(category) = &query.category {
        listing.filter("v.category = ?", [Value::Text(category.clone())]);
    }
    if let Some(active) = query.active {
        listing.filter("v.active = ?", [Value::Integer(i64::from(active))]);
    }
    if let Some(expired) = query.expired {
        let now = query
            .now
            .ok_or_else(|| invalid_query("the expired filter needs the instant to judge it at"))?;
        // An instant expiry is valid up to and including its instant: expired
        // once `now` is past it. (A bare-date expiry is stored as the next
        // midnight, from which the core says expired: the two differ only at
        // that one millisecond.)
        let now = Value::Integer(to_ms(now));
        if expired {
            listing.filter("v.expire_at < ?", [now]);
        } else {
            listing.filter("v.expire_at IS NULL OR v.expire_at >= ?", [now]);
        }
    }
    if let Some(prefix) = &query.code_prefix {
        listing.filter_prefix("v.code", prefix);
    }
    if !query.ids.is_empty() {
        listing.filter_any_in(conn, project, &["ext_id", "code"], &query.ids)?;
    }
    Ok(listing)
}

fn list_vouchers(
    conn: &Connection,
    project: ProjectId,
    query: &VoucherQuery,
) -> Result<Page<VoucherRecord>, StoreError> {
    let listing = voucher_listing(conn, project, query)?;
    let page = listing.run(conn, VOUCHER_SELECT, voucher_from_row, voucher_key)?;
    let items = page
        .items
        .into_iter()
        .map(|row| Ok(with_assignments(conn, row)?.record))
        .collect::<Result<_, StoreError>>()?;
    Ok(Page {
        items,
        total: page.total,
        has_more: page.has_more,
        next_cursor: page.next_cursor,
    })
}

/// A campaign's published codes: a range of the `(campaign_id,
/// holder_id)` index.
const PUBLISHED_SQL: &str =
    "SELECT COUNT(*) FROM vouchers WHERE campaign_id = ?1 AND holder_id IS NOT NULL";

/// A campaign's gift balances: the covering partial index `vouchers_gift`.
const OUTSTANDING_SQL: &str = "SELECT COALESCE(SUM(gift_balance), 0) FROM vouchers
     WHERE campaign_id = ?1 AND gift_balance IS NOT NULL";

/// One pass over a campaign's redemptions (stacked parents carry no code
/// of their own), grouped by what the summary tells apart. The day is
/// floored, so that an instant before 1970 falls on its own day.
const REDEMPTIONS_SQL: &str = "SELECT result, state, failure_code,
        created_at / ?3 - (created_at % ?3 < 0) AS day,
        COUNT(*), SUM(discount), SUM(amount), SUM(COALESCE(order_amount, 0))
     FROM redemptions
     WHERE project_id = ?1 AND campaign_id = ?2 AND kind != 'parent'
     GROUP BY result, state, failure_code, day";

fn add(total: &mut i64, value: i64) -> Result<(), StoreError> {
    *total = total
        .checked_add(value)
        .ok_or_else(|| StoreError::Io("a campaign summary amount overflows".to_owned()))?;
    Ok(())
}

/// The campaign's figures, read in one snapshot. As the wire's field docs
/// say, `redemptions_succeeded`, `discounted_amount` and `orders_amount`
/// count every success ever made, and rollbacks are counted in their own
/// fields; `gift_spent` is net of rollbacks. An order is counted once per
/// code of the campaign it was redeemed with.
fn summary(
    conn: &Connection,
    project: ProjectId,
    row: &CampaignRow,
) -> Result<CampaignSummary, StoreError> {
    let mut summary = CampaignSummary {
        vouchers_created: row.record.codes_count,
        ..CampaignSummary::default()
    };
    let published: i64 = conn
        .prepare_cached(PUBLISHED_SQL)
        .store()?
        .query_row([row.id], |r| r.get(0))
        .store()?;
    summary.vouchers_published = count(published)?;
    let outstanding: i64 = conn
        .prepare_cached(OUTSTANDING_SQL)
        .store()?
        .query_row([row.id], |r| r.get(0))
        .store()?;
    summary.gift_outstanding_minor = outstanding;
    let mut stmt = conn.prepare_cached(REDEMPTIONS_SQL).store()?;
    let groups = stmt
        .query_map(rusqlite::params![project.0, row.id, DAY_MS], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .store()?;
    let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
    for group in groups {
        let (result, state, failure_code, day, n, discount, amount, order_amount) =
            group.store()?;
        let n = count(n)?;
        summary.redemptions_total += n;
        match (result.as_str(), state.as_str()) {
            ("FAILURE", _) => {
                summary.redemptions_failed += n;
                let reason = failure_code.unwrap_or_else(|| "unknown".to_owned());
                *summary.failed_by_reason.entry(reason).or_default() += n;
            }
            ("SUCCESS", state @ ("SUCCEEDED" | "ROLLED_BACK")) => {
                summary.redemptions_succeeded += n;
                *per_day.entry(day).or_default() += n;
                add(&mut summary.discounted_amount_minor, discount)?;
                add(&mut summary.orders_amount_minor, order_amount)?;
                if state == "SUCCEEDED" {
                    add(&mut summary.gift_spent_minor, amount)?;
                } else {
                    summary.rollbacks += n;
                    add(&mut summary.rolledback_discounted_amount_minor, discount)?;
                    add(&mut summary.orders_rolledback_amount_minor, order_amount)?;
                }
            }
            (result, state) => {
                return Err(StoreError::Corrupt(format!(
                    "redemption result {result:?} with state {state:?}"
                )))
            }
        }
    }
    for (day, n) in per_day {
        let date = DateTime::<Utc>::from_timestamp_millis(day.saturating_mul(DAY_MS))
            .ok_or_else(|| StoreError::Corrupt(format!("redemption day {day} out of range")))?
            .date_naive();
        summary.redemptions_per_day.insert(date, n);
    }
    Ok(summary)
}

impl CampaignQueries for SqliteStore {
    fn campaigns(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<CampaignRecord>, StoreError> {
        let listing = campaign_listing(project, query)?;
        self.read(|conn| {
            let page = listing.run(conn, &campaign_select(), campaign_from_row, campaign_key)?;
            let items = page
                .items
                .into_iter()
                .map(|row| Ok(with_campaign_assignments(conn, row)?.record))
                .collect::<Result<_, StoreError>>()?;
            Ok(Page {
                items,
                total: page.total,
                has_more: page.has_more,
                next_cursor: page.next_cursor,
            })
        })
    }

    fn campaign_summary(
        &self,
        project: ProjectId,
        id_or_name: &str,
    ) -> Result<CampaignSummary, StoreError> {
        self.read(|conn| summary(conn, project, &campaign_row(conn, project, id_or_name)?))
    }
}

impl VoucherQueries for SqliteStore {
    fn vouchers(
        &self,
        project: ProjectId,
        query: &VoucherQuery,
    ) -> Result<Page<VoucherRecord>, StoreError> {
        self.read(|conn| list_vouchers(conn, project, query))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use voucher_core::code_pattern::{Code, CodeConfig};
    use voucher_core::port::{
        BenefitSpec, CampaignSpec, CampaignStore, SortOrder, VoucherSpec, VoucherStore,
        VoucherTemplate,
    };
    use voucher_core::validity::Validity;
    use voucher_core::voucher::{
        Activity, CampaignKind, CampaignLimits, CampaignType, RedemptionQuantity,
    };

    use super::*;
    use crate::listing::plans::{self, assert_indexed};

    fn store() -> (tempfile::TempDir, SqliteStore, ProjectId) {
        let (dir, store, project) = plans::store();
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let spec = CampaignSpec {
            name: "Gifts".to_owned(),
            description: None,
            campaign_type: CampaignType::GiftVouchers,
            kind: CampaignKind::Static,
            activity: Activity::Enabled,
            validity: Validity::default(),
            time_zone: None,
            limits: CampaignLimits::default(),
            categories: Vec::new(),
            template: VoucherTemplate {
                benefit: BenefitSpec::Gift { amount_minor: 100 },
                quantity: RedemptionQuantity::Unlimited,
                code_config: CodeConfig::default(),
            },
            vouchers_count: 0,
            activity_duration_after_publishing: None,
            metadata: Default::default(),
        };
        store.create_campaign(project, &spec, now).unwrap();
        let voucher = VoucherSpec {
            code: Some(Code::parse("Gifts-1").unwrap()),
            code_config: None,
            campaign: Some("Gifts".to_owned()),
            benefit: None,
            quantity: None,
            validity: Validity::default(),
            activity: Activity::Enabled,
            category: None,
            additional_info: None,
            metadata: Default::default(),
        };
        store.create_voucher(project, &voucher, now).unwrap();
        store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO customers (project_id, ext_id, source_id, spec, created_at,
                                            updated_at)
                     VALUES (?1, 'cust_1', 'shop-1', '{}', 0, 0)",
                    [project.0],
                )
                .store()?;
                Ok(())
            })
            .unwrap();
        (dir, store, project)
    }

    /// The plans of a voucher list: `(index, row_by_row)`, each checked to
    /// use an index at every step; they differ only for range filters.
    fn voucher_plans(
        store: &SqliteStore,
        project: ProjectId,
        query: &VoucherQuery,
    ) -> (String, String) {
        store
            .read(|conn| {
                let listing = voucher_listing(conn, project, query)?;
                let what = format!("{query:?}");
                Ok((
                    assert_indexed(&what, &listing.plan(conn, VOUCHER_SELECT, false)),
                    assert_indexed(&what, &listing.plan(conn, VOUCHER_SELECT, true)),
                ))
            })
            .unwrap()
    }

    /// The plan of a voucher list without range filters.
    fn voucher_plan(store: &SqliteStore, project: ProjectId, query: &VoucherQuery) -> String {
        let (index, row_by_row) = voucher_plans(store, project, query);
        assert_eq!(index, row_by_row);
        index
    }

    #[test]
    fn every_voucher_list_is_served_by_an_index() {
        let (_dir, store, project) = store();
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let q = VoucherQuery::default;
        let list = |order, starting_after: Option<String>| ListQuery {
            order,
            starting_after,
            ..ListQuery::default()
        };
        // Newest and oldest first, with and without a cursor: the list order
        // is the index order, no sort.
        for order in [SortOrder::NewestFirst, SortOrder::OldestFirst] {
            for after in [None, Some("5".to_owned())] {
                let plain = voucher_plan(
                    &store,
                    project,
                    &VoucherQuery {
                        list: list(order, after.clone()),
                        ..q()
                    },
                );
                assert!(plain.contains("vouchers_project"), "{plain}");
                assert!(!plain.contains("TEMP B-TREE"), "{plain}");
                let campaign = voucher_plan(
                    &store,
                    project,
                    &VoucherQuery {
                        list: list(order, after),
                        campaign: Some("Gifts".to_owned()),
                        active: Some(true),
                        ..q()
                    },
                );
                assert!(campaign.contains("vouchers_campaign "), "{campaign}");
                assert!(!campaign.contains("TEMP B-TREE"), "{campaign}");
            }
        }
        let single = [
            (
                VoucherQuery {
                    customer: Some("shop-1".to_owned()),
                    ..q()
                },
                "vouchers_holder",
            ),
            (
                VoucherQuery {
                    ids: vec!["A".to_owned(), "Gifts-1".to_owned()],
                    ..q()
                },
                "INTEGER PRIMARY KEY",
            ),
            (
                VoucherQuery {
                    category: Some("x".to_owned()),
                    ..q()
                },
                "vouchers_category",
            ),
            (
                VoucherQuery {
                    expired: Some(true),
                    now: Some(now),
                    ..q()
                },
                "vouchers_project",
            ),
            (
                VoucherQuery {
                    expired: Some(false),
                    now: Some(now),
                    ..q()
                },
                "vouchers_project",
            ),
        ];
        for (query, index) in single {
            let plan = voucher_plan(&store, project, &query);
            assert!(plan.contains(index), "{plan}");
        }
        // Range filters: an index range, then sorted, while few rows match;
        // else a walk of the list order that tests each row.
        let ranges = [
            (
                VoucherQuery {
                    code_prefix: Some("CAT-".to_owned()),
                    ..q()
                },
                "code>? AND code<?",
                "vouchers_project",
            ),
            (
                VoucherQuery {
                    list: ListQuery {
                        created_after: Some(now),
                        updated_before: Some(now),
                        starting_after: Some("5".to_owned()),
                        ..ListQuery::default()
                    },
                    ..q()
                },
                "vouchers_created (project_id=? AND created_at>?)",
                "vouchers_project",
            ),
            (
                VoucherQuery {
                    list: ListQuery {
                        created_before: Some(now),
                        order: SortOrder::OldestFirst,
                        ..ListQuery::default()
                    },
                    campaign: Some("Gifts".to_owned()),
                    ..q()
                },
                "vouchers_created (project_id=? AND created_at<?)",
                "vouchers_campaign ",
            ),
        ];
        for (query, index, walk) in ranges {
            let (by_index, by_walk) = voucher_plans(&store, project, &query);
            assert!(by_index.contains(index), "{by_index}");
            assert!(by_walk.contains(walk), "{by_walk}");
            assert!(!by_walk.contains("TEMP B-TREE"), "{by_walk}");
        }
    }

    #[test]
    fn both_plans_of_range_filters_list_the_same_codes() {
        let (_dir, store, project) = store();
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let codes = ["CAT-1", "CAT-2", "CAR-1", "CAT", "CAT-3", "CAU-1", "CAT-4"];
        for code in codes {
            let spec = VoucherSpec {
                code: Some(Code::parse(code).unwrap()),
                campaign: None,
                benefit: Some(BenefitSpec::Gift { amount_minor: 1 }),
                code_config: None,
                quantity: None,
                validity: Validity::default(),
                activity: Activity::Enabled,
                category: None,
                additional_info: None,
                metadata: Default::default(),
            };
            store.create_voucher(project, &spec, now).unwrap();
        }
        let list = |sort_max: u64, cursor: Option<String>| {
            store
                .read(|conn| {
                    let query = VoucherQuery {
                        code_prefix: Some("CAT-".to_owned()),
                        list: ListQuery {
                            limit: 3,
                            starting_after: cursor,
                            created_after: Some(now - chrono::Duration::seconds(1)),
                            ..ListQuery::default()
                        },
                        ..VoucherQuery::default()
                    };
                    let mut listing = voucher_listing(conn, project, &query)?;
                    listing.set_range_sort_max(sort_max);
                    listing.run(conn, VOUCHER_SELECT, voucher_from_row, voucher_key)
                })
                .unwrap()
        };
        for sort_max in [u64::MAX, 0] {
            let first = list(sort_max, None);
            let second = list(sort_max, first.next_cursor.clone());
            let codes: Vec<&str> = first
                .items
                .iter()
                .chain(&second.items)
                .map(|row| row.record.code.as_str())
                .collect();
            assert_eq!(codes, ["CAT-4", "CAT-3", "CAT-2", "CAT-1"], "{sort_max}");
            assert_eq!((first.total, second.has_more), (4, false));
        }
    }

    #[test]
    fn campaign_lists_and_summaries_are_served_by_indexes() {
        let (_dir, store, project) = store();
        let plan = store
            .read(|conn| {
                let listing = campaign_listing(
                    project,
                    &ListQuery {
                        starting_after: Some("2".to_owned()),
                        ..ListQuery::default()
                    },
                )?;
                Ok(assert_indexed(
                    "campaigns",
                    &listing.plan(conn, &campaign_select(), false),
                ))
            })
            .unwrap();
        assert!(plan.contains("campaigns_project"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let (one, three) = (vec![1], vec![project.0, 1, DAY_MS]);
        for (sql, params, index) in [
            (PUBLISHED_SQL, &one, "COVERING INDEX vouchers_unpublished"),
            (OUTSTANDING_SQL, &one, "COVERING INDEX vouchers_gift"),
            (REDEMPTIONS_SQL, &three, "redemptions_campaign"),
        ] {
            let plan: Vec<String> = store
                .read(|conn| {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).store()?;
                    let steps = stmt
                        .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(3))
                        .store()?
                        .collect::<Result<Vec<String>, _>>()
                        .store()?;
                    Ok(steps)
                })
                .unwrap();
            let plan = assert_indexed(sql, &plan);
            assert!(plan.contains(index), "{sql}: {plan}");
        }
    }
}
