//! Lists of campaigns and vouchers: every filter, page and cursor paging,
//! totals, order, refused paging, and project isolation, against a known
//! data set (3 campaigns and 250 vouchers, beside a second project's).

use chrono::{DateTime, Duration, Utc};
use voucher_core::code_pattern::Code;
use voucher_core::money::Currency;
use voucher_core::port::{
    BenefitSpec, CampaignQueries, CampaignRecord, CampaignStore, ListQuery, Page, ProjectId,
    ProjectSpec, ProjectStore, SortOrder, StoreError, VoucherQueries, VoucherQuery, VoucherRecord,
    VoucherSpec, VoucherStore,
};
use voucher_core::stacking::StackingRules;
use voucher_core::validity::Moment;
use voucher_core::voucher::{Activity, RedemptionQuantity};
use voucher_store_sqlite::{Options, Synchronous};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::support::{fixture_with, t0, Fixture};

/// One voucher as the test expects to see it, read back from the file
/// with its row id (the list order).
#[derive(Debug, Clone)]
struct Row {
    rowid: i64,
    id: String,
    code: String,
    campaign: Option<String>,
    category: Option<String>,
    active: bool,
    expire_at: Option<i64>,
    created: i64,
    updated: i64,
    holder: Option<String>,
}

/// The data set: the fixture, the second project and the default
/// project's vouchers.
struct DataSet {
    f: Fixture,
    other: ProjectId,
    rows: Vec<Row>,
    campaigns: Vec<CampaignRecord>,
}

fn fast_fixture() -> Fixture {
    // These tests are about reading; commits need not reach the platter.
    fixture_with(Options {
        synchronous: Synchronous::Normal,
        ..Options::default()
    })
}

fn hours(h: i64) -> DateTime<Utc> {
    t0() + Duration::hours(h)
}

fn standalone(code: &str) -> VoucherSpec {
    voucher_spec(
        code,
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(1),
    )
}

fn second_project(f: &Fixture) -> ProjectId {
    f.store
        .create_project(
            &ProjectSpec {
                name: "other".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id
}

fn data_set() -> DataSet {
    let f = fast_fixture();
    let store = &f.store;
    let p = f.project;
    let discount = || BenefitSpec::Discount(percent_off(20));
    let mut campaigns = Vec::new();
    for (name, prefix, count, at) in [("Alpha", "ALPHA-", 100, 1), ("Beta", "BETA-", 50, 2)] {
        let c = store
            .create_campaign(
                p,
                &campaign_spec(name, prefix, count, discount()),
                hours(at),
            )
            .unwrap();
        store.generate_codes(p, &c.id, count, 1, hours(at)).unwrap();
        campaigns.push(c);
    }
    let gamma = campaign_spec(
        "Gamma",
        "GAMMA-",
        0,
        BenefitSpec::Gift { amount_minor: 1000 },
    );
    campaigns.push(store.create_campaign(p, &gamma, hours(3)).unwrap());
    for i in 0..20 {
        let spec = VoucherSpec {
            code: Some(Code::parse(&format!("GAMMA-{i:02}")).unwrap()),
            campaign: Some("Gamma".to_owned()),
            benefit: None,
            quantity: None,
            category: Some("gift".to_owned()),
            ..standalone("unused")
        };
        let at = hours(3) + Duration::minutes(i);
        store.create_voucher(p, &spec, at).unwrap();
    }
    for i in 0..80 {
        let mut spec = standalone(&format!("STAND-{i:03}"));
        spec.category = match i % 3 {
            0 => Some("food".to_owned()),
            1 => Some("toys".to_owned()),
            _ => None,
        };
        if i % 4 == 0 {
            spec.activity = Activity::Disabled;
        }
        spec.validity.expiration = match i % 5 {
            0 => Some(Moment::Instant(hours(24))),
            1 => Some(Moment::Instant(hours(240))),
            _ => None,
        };
        let at = hours(4) + Duration::minutes(i);
        store.create_voucher(p, &spec, at).unwrap();
    }
    for code in ["STAND-001", "STAND-002"] {
        store
            .set_voucher_active(p, code, false, "test", hours(48))
            .unwrap();
    }
    // The second project: a campaign of the same name, the same codes.
    let other = second_project(&f);
    let c = store
        .create_campaign(
            other,
            &campaign_spec("Alpha", "ALPHA-", 30, discount()),
            hours(5),
        )
        .unwrap();
    store.generate_codes(other, &c.id, 30, 1, hours(5)).unwrap();
    for i in 0..5 {
        store
            .create_voucher(other, &standalone(&format!("STAND-{i:03}")), hours(6))
            .unwrap();
    }
    // Holders: publications are another port's; set them in the file.
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    conn.execute(
        "INSERT INTO customers (project_id, ext_id, source_id, spec, created_at, updated_at)
         VALUES (?1, 'cust_tom', 'tom', '{}', 0, 0)",
        [p.0],
    )
    .unwrap();
    conn.execute(
        "UPDATE vouchers SET holder_id = (SELECT id FROM customers WHERE ext_id = 'cust_tom')
         WHERE project_id = ?1 AND code IN ('GAMMA-00', 'GAMMA-01', 'GAMMA-02', 'STAND-010')",
        [p.0],
    )
    .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT v.id, v.ext_id, v.code, c.name, v.category, v.active, v.expire_at,
                    v.created_at, v.updated_at, cu.source_id
             FROM vouchers v LEFT JOIN campaigns c ON c.id = v.campaign_id
             LEFT JOIN customers cu ON cu.id = v.holder_id
             WHERE v.project_id = ?1",
        )
        .unwrap();
    let rows: Vec<Row> = stmt
        .query_map([p.0], |r| {
            Ok(Row {
                rowid: r.get(0)?,
                id: r.get(1)?,
                code: r.get(2)?,
                campaign: r.get(3)?,
                category: r.get(4)?,
                active: r.get(5)?,
                expire_at: r.get(6)?,
                created: r.get(7)?,
                updated: r.get(8)?,
                holder: r.get(9)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 250);
    DataSet {
        f,
        other,
        rows,
        campaigns,
    }
}

/// Every page of a list, by page number; checks each page's total.
fn all_pages(
    list: impl Fn(&ListQuery) -> Result<Page<VoucherRecord>, StoreError>,
    query: &ListQuery,
    total: usize,
) -> Vec<VoucherRecord> {
    let mut items = Vec::new();
    for page in 1.. {
        let got = list(&ListQuery {
            page,
            ..query.clone()
        })
        .unwrap();
        assert_eq!(got.total, total as u64, "page {page}");
        assert!(got.items.len() <= query.limit as usize);
        items.extend(got.items);
        if !got.has_more {
            break;
        }
        assert!(got.next_cursor.is_some());
    }
    items
}

/// Every page of a list, by cursor.
fn all_by_cursor(
    list: impl Fn(&ListQuery) -> Result<Page<VoucherRecord>, StoreError>,
    query: &ListQuery,
    total: usize,
) -> Vec<VoucherRecord> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let got = list(&ListQuery {
            starting_after: cursor,
            ..query.clone()
        })
        .unwrap();
        assert_eq!(got.total, total as u64);
        items.extend(got.items);
        match (got.has_more, got.next_cursor) {
            (true, Some(next)) => cursor = Some(next),
            (false, None) => break,
            other => panic!("has_more and next_cursor disagree: {other:?}"),
        }
    }
    items
}

impl DataSet {
    /// Lists with `query` by pages and by cursor, and compares both with
    /// the rows `keep` selects, in the query's order.
    fn check(&self, query: VoucherQuery, keep: impl Fn(&Row) -> bool) -> usize {
        let mut expected: Vec<&Row> = self.rows.iter().filter(|r| keep(r)).collect();
        // Newest first is the order of insertion, the row id's.
        expected.sort_by_key(|r| r.rowid);
        if query.list.order == SortOrder::NewestFirst {
            expected.reverse();
        }
        let expected: Vec<&str> = expected.iter().map(|r| r.id.as_str()).collect();
        let list = |list: &ListQuery| {
            self.f.store.vouchers(
                self.f.project,
                &VoucherQuery {
                    list: list.clone(),
                    ..query.clone()
                },
            )
        };
        let by_page = all_pages(list, &query.list, expected.len());
        let ids: Vec<&str> = by_page.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, expected, "by page: {query:?}");
        let by_cursor = all_by_cursor(list, &query.list, expected.len());
        let ids: Vec<&str> = by_cursor.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, expected, "by cursor: {query:?}");
        expected.len()
    }
}

fn q(limit: u32) -> VoucherQuery {
    VoucherQuery {
        list: ListQuery {
            limit,
            ..ListQuery::default()
        },
        ..VoucherQuery::default()
    }
}

#[test]
fn every_voucher_filter_pages_and_counts() {
    let d = data_set();
    let alpha = &d.campaigns[0];
    let now = hours(30);
    let now_ms = now.timestamp_millis();
    // (query, expected count from the data set's recipe, which rows)
    type Keep = Box<dyn Fn(&Row) -> bool>;
    let cases: Vec<(VoucherQuery, usize, Keep)> = vec![
        (q(7), 250, Box::new(|_| true)),
        (
            VoucherQuery {
                list: ListQuery {
                    order: SortOrder::OldestFirst,
                    ..q(100).list
                },
                ..q(100)
            },
            250,
            Box::new(|_| true),
        ),
        (
            VoucherQuery {
                campaign: Some("Alpha".to_owned()),
                ..q(30)
            },
            100,
            Box::new(|r| r.campaign.as_deref() == Some("Alpha")),
        ),
        (
            VoucherQuery {
                campaign: Some(alpha.id.clone()),
                ..q(100)
            },
            100,
            Box::new(|r| r.campaign.as_deref() == Some("Alpha")),
        ),
        (
            VoucherQuery {
                campaign: Some("Gamma".to_owned()),
                customer: Some("tom".to_owned()),
                ..q(2)
            },
            3,
            Box::new(|r| r.campaign.as_deref() == Some("Gamma") && r.holder.is_some()),
        ),
        (
            VoucherQuery {
                customer: Some("cust_tom".to_owned()),
                ..q(10)
            },
            4,
            Box::new(|r| r.holder.is_some()),
        ),
        (
            VoucherQuery {
                category: Some("food".to_owned()),
                ..q(10)
            },
            27,
            Box::new(|r| r.category.as_deref() == Some("food")),
        ),
        (
            VoucherQuery {
                active: Some(false),
                ..q(10)
            },
            22,
            Box::new(|r| !r.active),
        ),
        (
            VoucherQuery {
                active: Some(true),
                category: Some("toys".to_owned()),
                ..q(10)
            },
            19,
            Box::new(|r| r.active && r.category.as_deref() == Some("toys")),
        ),
        (
            VoucherQuery {
                expired: Some(true),
                now: Some(now),
                ..q(10)
            },
            16,
            Box::new(move |r| r.expire_at.is_some_and(|e| e < now_ms)),
        ),
        (
            VoucherQuery {
                expired: Some(false),
                now: Some(now),
                ..q(100)
            },
            234,
            Box::new(move |r| r.expire_at.is_none_or(|e| e >= now_ms)),
        ),
        (
            VoucherQuery {
                code_prefix: Some("STAND-00".to_owned()),
                ..q(3)
            },
            10,
            Box::new(|r| r.code.starts_with("STAND-00")),
        ),
        (
            VoucherQuery {
                code_prefix: Some("BETA-".to_owned()),
                list: ListQuery {
                    order: SortOrder::OldestFirst,
                    ..q(20).list
                },
                ..q(20)
            },
            50,
            Box::new(|r| r.code.starts_with("BETA-")),
        ),
        (
            VoucherQuery {
                list: ListQuery {
                    created_after: Some(hours(3)),
                    created_before: Some(hours(4) + Duration::minutes(10)),
                    ..q(10).list
                },
                ..q(10)
            },
            29,
            Box::new(|r| {
                r.created > hours(3).timestamp_millis()
                    && r.created < hours(4).timestamp_millis() + 600_000
            }),
        ),
        (
            VoucherQuery {
                list: ListQuery {
                    updated_after: Some(hours(47)),
                    updated_before: Some(hours(49)),
                    ..q(10).list
                },
                ..q(10)
            },
            2,
            Box::new(|r| r.updated == hours(48).timestamp_millis()),
        ),
    ];
    for (query, count, keep) in cases {
        let got = d.check(query.clone(), keep);
        assert_eq!(got, count, "{query:?}");
    }
    // An instant expiry is valid through its instant, expired just after.
    for (at, expired) in [(hours(24), 0), (hours(24) + Duration::milliseconds(1), 16)] {
        let page =
            d.f.store
                .vouchers(
                    d.f.project,
                    &VoucherQuery {
                        expired: Some(true),
                        now: Some(at),
                        ..q(10)
                    },
                )
                .unwrap();
        assert_eq!(page.total, expired, "{at}");
    }
    // Ids and codes, mixed, with unknown ones and the other project's.
    let stand_5 = d.rows.iter().find(|r| r.code == "STAND-005").unwrap();
    let other_id = d.f.store.voucher(d.other, "STAND-001").unwrap().id;
    let wanted = [
        "STAND-001",
        stand_5.id.as_str(),
        "GAMMA-19",
        "NOPE",
        other_id.as_str(),
    ];
    let query = VoucherQuery {
        ids: wanted.iter().map(|s| s.to_string()).collect(),
        ..q(2)
    };
    let got = d.check(query, |r| {
        ["STAND-001", "STAND-005", "GAMMA-19"].contains(&r.code.as_str())
    });
    assert_eq!(got, 3);
}

#[test]
fn lists_carry_full_records_and_filters_of_unknown_objects_match_nothing() {
    let d = data_set();
    let store = &d.f.store;
    let page = store.vouchers(d.f.project, &q(1)).unwrap();
    // The newest voucher, as `voucher` reads it.
    assert_eq!(
        page.items[0],
        store.voucher(d.f.project, "STAND-079").unwrap()
    );
    assert_eq!((page.total, page.has_more), (250, true));
    let other_campaign = store.campaign(d.other, "Alpha").unwrap().id;
    for query in [
        VoucherQuery {
            campaign: Some("Nope".to_owned()),
            ..q(10)
        },
        VoucherQuery {
            campaign: Some(other_campaign),
            ..q(10)
        },
        VoucherQuery {
            customer: Some("nobody".to_owned()),
            ..q(10)
        },
        VoucherQuery {
            ids: vec!["NOPE".to_owned()],
            ..q(10)
        },
    ] {
        let page = store.vouchers(d.f.project, &query).unwrap();
        assert_eq!(
            (
                page.items.len(),
                page.total,
                page.has_more,
                page.next_cursor
            ),
            (0, 0, false, None),
            "{query:?}"
        );
    }
    // A page past the end is empty, with the true total.
    let past = store
        .vouchers(
            d.f.project,
            &VoucherQuery {
                list: ListQuery {
                    page: 26,
                    ..q(10).list
                },
                ..q(10)
            },
        )
        .unwrap();
    assert_eq!(
        (past.items.len(), past.total, past.has_more),
        (0, 250, false)
    );
    // The second project sees its own 35 codes only.
    let theirs = store.vouchers(d.other, &q(100)).unwrap();
    assert_eq!(theirs.total, 35);
    assert!(theirs
        .items
        .iter()
        .all(|v| !d.rows.iter().any(|r| r.id == v.id)));
}

#[test]
fn a_cursor_survives_the_deletion_of_its_item() {
    let d = data_set();
    let store = &d.f.store;
    let p = d.f.project;
    let first = store
        .vouchers(
            p,
            &VoucherQuery {
                code_prefix: Some("STAND-".to_owned()),
                ..q(5)
            },
        )
        .unwrap();
    let codes = |page: &Page<VoucherRecord>| -> Vec<String> {
        page.items.iter().map(|v| v.code.to_string()).collect()
    };
    assert_eq!(
        codes(&first),
        [
            "STAND-079",
            "STAND-078",
            "STAND-077",
            "STAND-076",
            "STAND-075"
        ]
    );
    let after = |cursor: &str| {
        store
            .vouchers(
                p,
                &VoucherQuery {
                    code_prefix: Some("STAND-".to_owned()),
                    list: ListQuery {
                        starting_after: Some(cursor.to_owned()),
                        ..q(2).list
                    },
                    ..q(2)
                },
            )
            .unwrap()
    };
    let next = ["STAND-074", "STAND-073"];
    let cursor = first.next_cursor.clone().unwrap();
    assert_eq!(codes(&after(&cursor)), next);
    store.delete_voucher(p, "STAND-075", hours(50)).unwrap();
    assert_eq!(codes(&after(&cursor)), next);
    // Anything but a cursor of ours is refused (an item's id too).
    for cursor in [first.items[4].id.as_str(), "-1", "12.x", "1e3"] {
        let err = store
            .vouchers(
                p,
                &VoucherQuery {
                    list: ListQuery {
                        starting_after: Some(cursor.to_owned()),
                        ..q(2).list
                    },
                    ..q(2)
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    key: "invalid_query_params",
                    ..
                }
            ),
            "{cursor}: {err:?}"
        );
    }
}

#[test]
fn bad_paging_and_filters_are_refused_with_their_keys() {
    let f = fast_fixture();
    let p = f.project;
    let list = |limit, page| ListQuery {
        limit,
        page,
        ..ListQuery::default()
    };
    let cases = [
        (list(0, 1), "invalid_query_params"),
        (list(101, 1), "invalid_query_params"),
        (list(10, 0), "invalid_query_params"),
        (list(10, 1001), "page_over_limit"),
        (
            ListQuery {
                starting_after: Some(String::new()),
                ..list(10, 1)
            },
            "invalid_query_params",
        ),
    ];
    for (list, key) in cases {
        let vouchers = f.store.vouchers(
            p,
            &VoucherQuery {
                list: list.clone(),
                ..VoucherQuery::default()
            },
        );
        let campaigns = f.store.campaigns(p, &list);
        for err in [vouchers.map(|_| ()), campaigns.map(|_| ())] {
            assert!(
                matches!(err, Err(StoreError::Invalid { key: k, .. }) if k == key),
                "{list:?}: {err:?}"
            );
        }
    }
    for ok in [list(1, 1), list(100, 1000)] {
        assert_eq!(f.store.campaigns(p, &ok).unwrap().total, 0);
    }
    let refused = [
        VoucherQuery {
            expired: Some(true),
            ..VoucherQuery::default()
        },
        VoucherQuery {
            ids: vec!["X".to_owned(); 1001],
            ..VoucherQuery::default()
        },
    ];
    for query in refused {
        assert!(matches!(
            f.store.vouchers(p, &query),
            Err(StoreError::Invalid {
                key: "invalid_query_params",
                ..
            })
        ));
    }
}

#[test]
fn campaigns_list_newest_first_with_both_pagings() {
    let d = data_set();
    let store = &d.f.store;
    let p = d.f.project;
    let names = |page: &Page<CampaignRecord>| -> Vec<String> {
        page.items.iter().map(|c| c.spec.name.clone()).collect()
    };
    let list = |query: ListQuery| store.campaigns(p, &query).unwrap();
    let first = list(ListQuery {
        limit: 2,
        ..ListQuery::default()
    });
    assert_eq!(names(&first), ["Gamma", "Beta"]);
    assert_eq!((first.total, first.has_more), (3, true));
    let second = list(ListQuery {
        limit: 2,
        page: 2,
        ..ListQuery::default()
    });
    assert_eq!(names(&second), ["Alpha"]);
    assert_eq!((second.has_more, second.next_cursor), (false, None));
    let by_cursor = list(ListQuery {
        limit: 2,
        starting_after: first.next_cursor.clone(),
        ..ListQuery::default()
    });
    assert_eq!(names(&by_cursor), ["Alpha"]);
    let oldest = list(ListQuery {
        order: SortOrder::OldestFirst,
        ..ListQuery::default()
    });
    assert_eq!(names(&oldest), ["Alpha", "Beta", "Gamma"]);
    let recent = list(ListQuery {
        created_after: Some(hours(1)),
        ..ListQuery::default()
    });
    assert_eq!(
        (names(&recent), recent.total),
        (vec!["Gamma".to_owned(), "Beta".to_owned()], 2)
    );
    // Generation touched Alpha at 1h; nothing was updated after 2h.
    let updated = list(ListQuery {
        updated_after: Some(hours(2)),
        ..ListQuery::default()
    });
    assert_eq!(names(&updated), ["Gamma"]);
    // The records are the ones `campaign` reads.
    assert_eq!(oldest.items[0], store.campaign(p, "Alpha").unwrap());
    // The other project's campaign of the same name is its own.
    let theirs = store.campaigns(d.other, &ListQuery::default()).unwrap();
    assert_eq!(
        (names(&theirs), theirs.total),
        (vec!["Alpha".to_owned()], 1)
    );
    assert_ne!(theirs.items[0].id, oldest.items[0].id);
}

/// One redemption row written straight into the file (the checkout port
/// writes them; the summary only reads them).
struct Redemption {
    kind: &'static str,
    campaign: &'static str,
    result: &'static str,
    state: &'static str,
    failure_code: Option<&'static str>,
    amount: i64,
    discount: i64,
    order_amount: Option<i64>,
    created_ms: i64,
}

fn redemption(result: &'static str, state: &'static str, created_ms: i64) -> Redemption {
    Redemption {
        kind: "single",
        campaign: "Spring",
        result,
        state,
        failure_code: None,
        amount: 0,
        discount: 0,
        order_amount: None,
        created_ms,
    }
}

fn insert_redemptions(f: &Fixture, project: ProjectId, rows: &[Redemption]) {
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    for (i, r) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO redemptions (project_id, ext_id, kind, code, campaign_id, result, state,
                 failure_code, amount, discount, order_amount, order_snapshot, channel, metadata,
                 created_at)
             VALUES (?1, ?2, ?3, 'X', (SELECT id FROM campaigns WHERE project_id = ?1 AND name = ?4),
                 ?5, ?6, ?7, ?8, ?9, ?10, '{}', 'API', '{}', ?11)",
            rusqlite::params![
                project.0,
                format!("r_{}_{i}", project.0),
                r.kind,
                r.campaign,
                r.result,
                r.state,
                r.failure_code,
                r.amount,
                r.discount,
                r.order_amount,
                r.created_ms
            ],
        )
        .unwrap();
    }
}

#[test]
fn a_campaign_summary_adds_up_its_codes_and_redemptions() {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use voucher_core::port::{BalanceChange, CampaignSummary, GiftStore};

    let f = fast_fixture();
    let p = f.project;
    let store = &f.store;
    let spring = store
        .create_campaign(
            p,
            &campaign_spec("Spring", "SPR-", 10, BenefitSpec::Discount(percent_off(10))),
            t0(),
        )
        .unwrap();
    store.generate_codes(p, &spring.id, 10, 3, t0()).unwrap();
    let cards = store
        .create_campaign(
            p,
            &campaign_spec("Cards", "GC-", 3, BenefitSpec::Gift { amount_minor: 1000 }),
            t0(),
        )
        .unwrap();
    store.generate_codes(p, &cards.id, 3, 3, t0()).unwrap();
    let a_card = store
        .vouchers(
            p,
            &VoucherQuery {
                campaign: Some("Cards".to_owned()),
                ..q(1)
            },
        )
        .unwrap()
        .items
        .remove(0);
    store
        .adjust_balance(
            p,
            a_card.code.as_str(),
            &BalanceChange {
                amount_minor: -400,
                reason: None,
                source_id: None,
                actor: "tom".to_owned(),
            },
            t0(),
        )
        .unwrap();
    // Three of Spring's codes are published.
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    conn.execute(
        "INSERT INTO customers (project_id, ext_id, source_id, spec, created_at, updated_at)
         VALUES (?1, 'cust_tom', 'tom', '{}', 0, 0)",
        [p.0],
    )
    .unwrap();
    conn.execute(
        "UPDATE vouchers SET holder_id = (SELECT id FROM customers WHERE ext_id = 'cust_tom')
         WHERE id IN (SELECT id FROM vouchers WHERE campaign_id =
                      (SELECT id FROM campaigns WHERE name = 'Spring') LIMIT 3)",
        [],
    )
    .unwrap();

    let day1 = t0().timestamp_millis();
    let day2 = day1 + 86_400_000;
    let success = |discount, order, at| Redemption {
        discount,
        order_amount: Some(order),
        ..redemption("SUCCESS", "SUCCEEDED", at)
    };
    let failure = |code, at| Redemption {
        failure_code: Some(code),
        order_amount: Some(999),
        discount: 7,
        ..redemption("FAILURE", "FAILED", at)
    };
    let rows = [
        success(100, 1000, day1),
        success(200, 2000, day1 + 1),
        Redemption {
            state: "ROLLED_BACK",
            ..success(300, 3000, day1 + 2)
        },
        success(50, 500, day2),
        success(50, 500, day2 + 1),
        // An hour before 1970: its day is 1969-12-31, not 1970-01-01.
        success(10, 100, -3_600_000),
        failure("quantity_exceeded", day2),
        failure("quantity_exceeded", day2),
        failure("voucher_expired", day1),
        // A stacked parent is no redemption of its own.
        Redemption {
            kind: "parent",
            ..success(1, 1, day1)
        },
        // Gift credits: spent, and spent then rolled back.
        Redemption {
            campaign: "Cards",
            amount: 300,
            ..success(300, 400, day2)
        },
        Redemption {
            campaign: "Cards",
            amount: 200,
            state: "ROLLED_BACK",
            ..success(200, 400, day2)
        },
    ];
    insert_redemptions(&f, p, &rows);
    // The other project's campaign of the same name has its own figures.
    let other = second_project(&f);
    store
        .create_campaign(
            other,
            &campaign_spec("Spring", "SPR-", 0, BenefitSpec::Discount(percent_off(10))),
            t0(),
        )
        .unwrap();
    insert_redemptions(&f, other, &[success(5000, 5000, day1)]);

    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let expected = CampaignSummary {
        vouchers_created: 10,
        vouchers_published: 3,
        redemptions_total: 9,
        redemptions_succeeded: 6,
        redemptions_failed: 3,
        failed_by_reason: BTreeMap::from([
            ("quantity_exceeded".to_owned(), 2),
            ("voucher_expired".to_owned(), 1),
        ]),
        rollbacks: 1,
        discounted_amount_minor: 710,
        rolledback_discounted_amount_minor: 300,
        gift_spent_minor: 0,
        gift_outstanding_minor: 0,
        orders_amount_minor: 7100,
        orders_rolledback_amount_minor: 3000,
        redemptions_per_day: BTreeMap::from([
            (date(1969, 12, 31), 1),
            (date(2026, 4, 1), 3),
            (date(2026, 4, 2), 2),
        ]),
    };
    assert_eq!(store.campaign_summary(p, "Spring").unwrap(), expected);
    assert_eq!(store.campaign_summary(p, &spring.id).unwrap(), expected);
    let gift = store.campaign_summary(p, "Cards").unwrap();
    assert_eq!(
        gift,
        CampaignSummary {
            vouchers_created: 3,
            redemptions_total: 2,
            redemptions_succeeded: 2,
            rollbacks: 1,
            discounted_amount_minor: 500,
            rolledback_discounted_amount_minor: 200,
            gift_spent_minor: 300,
            gift_outstanding_minor: 2600,
            orders_amount_minor: 800,
            orders_rolledback_amount_minor: 400,
            redemptions_per_day: BTreeMap::from([(date(2026, 4, 2), 2)]),
            ..CampaignSummary::default()
        }
    );
    let theirs = store.campaign_summary(other, "Spring").unwrap();
    assert_eq!(
        (theirs.redemptions_succeeded, theirs.discounted_amount_minor),
        (1, 5000)
    );
    assert!(matches!(
        store.campaign_summary(other, &spring.id),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn a_campaign_summary_follows_real_redemptions_and_rollbacks() {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use voucher_core::port::{
        CampaignSummary, ChannelType, CheckoutStore, RollbackRequest, VoucherQueries as _,
    };

    use crate::checkout::{legacy, order};

    let f = fast_fixture();
    let p = f.project;
    let store = &f.store;
    let spring = store
        .create_campaign(
            p,
            &campaign_spec("Spring", "SPR-", 3, BenefitSpec::Discount(percent_off(10))),
            t0(),
        )
        .unwrap();
    store.generate_codes(p, &spring.id, 3, 5, t0()).unwrap();
    let cards = store
        .create_campaign(
            p,
            &campaign_spec("Cards", "GC-", 2, BenefitSpec::Gift { amount_minor: 5000 }),
            t0(),
        )
        .unwrap();
    store.generate_codes(p, &cards.id, 2, 5, t0()).unwrap();
    let codes = |campaign: &str| -> Vec<String> {
        store
            .vouchers(
                p,
                &VoucherQuery {
                    campaign: Some(campaign.to_owned()),
                    ..q(10)
                },
            )
            .unwrap()
            .items
            .into_iter()
            .map(|v| v.code.into_string())
            .collect()
    };
    let spring_codes = codes("Spring");
    let mut redeemed = Vec::new();
    for (code, amount) in spring_codes.iter().zip(["100.00", "200.00", "300.00"]) {
        redeemed.push(store.redeem(p, &legacy(code, order(amount), None)).unwrap());
    }
    // Single use: a second try is refused, and logged.
    let again = store.redeem(p, &legacy(&spring_codes[0], order("50.00"), None));
    assert!(
        matches!(again, Err(StoreError::Refused { .. })),
        "{again:?}"
    );
    let rollback = |id: &str| RollbackRequest {
        redemption_id: id.to_owned(),
        reason: None,
        tracking_id: None,
        metadata: Default::default(),
        channel: ChannelType::Api,
        now: t0() + Duration::days(1),
    };
    let third = redeemed.iter().find(|r| r.discount_minor == 3000).unwrap();
    store.rollback(p, &rollback(&third.id)).unwrap();

    let day = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    assert_eq!(
        store.campaign_summary(p, "Spring").unwrap(),
        CampaignSummary {
            vouchers_created: 3,
            vouchers_published: 0,
            redemptions_total: 4,
            redemptions_succeeded: 3,
            redemptions_failed: 1,
            failed_by_reason: BTreeMap::from([("quantity_exceeded".to_owned(), 1)]),
            rollbacks: 1,
            discounted_amount_minor: 6000,
            rolledback_discounted_amount_minor: 3000,
            gift_spent_minor: 0,
            gift_outstanding_minor: 0,
            orders_amount_minor: 60_000,
            orders_rolledback_amount_minor: 30_000,
            redemptions_per_day: BTreeMap::from([(day, 3)]),
        }
    );

    // Gift cards: credits spent, then returned by a rollback.
    let card = &codes("Cards")[0];
    let spent = store
        .redeem(p, &legacy(card, order("20.00"), None))
        .unwrap();
    let gift = store.campaign_summary(p, "Cards").unwrap();
    assert_eq!(
        (gift.gift_spent_minor, gift.gift_outstanding_minor),
        (2000, 8000)
    );
    store.rollback(p, &rollback(&spent.id)).unwrap();
    let gift = store.campaign_summary(p, "Cards").unwrap();
    assert_eq!(
        (
            gift.redemptions_succeeded,
            gift.rollbacks,
            gift.gift_spent_minor,
            gift.gift_outstanding_minor
        ),
        (1, 1, 0, 10_000)
    );
}
