//! Customers: upsert by source id or id (merging what is given), reads by
//! both ids, list paging, deletion that keeps the redemptions, and project
//! isolation.

use std::collections::BTreeMap;

use chrono::Duration;
use voucher_core::money::Currency;
use voucher_core::port::{
    BenefitSpec, CheckoutStore, CustomerSpec, CustomerStore, ListQuery, ProjectSpec, ProjectStore,
    RedemptionQuery, StoreError,
};
use voucher_core::stacking::StackingRules;
use voucher_core::value::Value;
use voucher_core::voucher::RedemptionQuantity;

use crate::catalog::percent_off;
use crate::checkout::{legacy, order, voucher};
use crate::support::{fixture, t0};

fn by_source(source_id: &str) -> CustomerSpec {
    CustomerSpec {
        source_id: Some(source_id.to_owned()),
        ..CustomerSpec::default()
    }
}

#[test]
fn an_upsert_creates_then_merges_by_source_id_or_id() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let tom = s
        .upsert_customer(
            p,
            &CustomerSpec {
                name: Some("Tom".to_owned()),
                email: Some("tom@example.com".to_owned()),
                address: BTreeMap::from([("city".to_owned(), "Lyon".to_owned())]),
                metadata: BTreeMap::from([("tier".to_owned(), Value::from("gold"))]),
                ..by_source("tom-1")
            },
            t0(),
        )
        .unwrap();
    assert!(tom.id.starts_with("cust_"), "{}", tom.id);
    assert_eq!(tom.spec.id.as_deref(), Some(tom.id.as_str()));
    assert_eq!(tom.summary, Default::default());
    assert_eq!(s.customer(p, &tom.id).unwrap(), tom);
    assert_eq!(s.customer(p, "tom-1").unwrap(), tom);

    // Only what is given changes.
    let later = t0() + Duration::hours(1);
    let updated = s
        .upsert_customer(
            p,
            &CustomerSpec {
                email: Some("tom@cats.example".to_owned()),
                ..by_source("tom-1")
            },
            later,
        )
        .unwrap();
    assert_eq!(updated.id, tom.id);
    assert_eq!(updated.spec.name.as_deref(), Some("Tom"));
    assert_eq!(updated.spec.email.as_deref(), Some("tom@cats.example"));
    assert_eq!(updated.spec.address, tom.spec.address);
    assert_eq!(updated.spec.metadata, tom.spec.metadata);
    assert_eq!((updated.created_at, updated.updated_at), (t0(), later));

    // By id, a new source id replaces the old one.
    let moved = s
        .upsert_customer(
            p,
            &CustomerSpec {
                id: Some(tom.id.clone()),
                source_id: Some("tom-2".to_owned()),
                ..CustomerSpec::default()
            },
            later,
        )
        .unwrap();
    assert_eq!(moved.spec.source_id.as_deref(), Some("tom-2"));
    assert!(matches!(
        s.customer(p, "tom-1"),
        Err(StoreError::NotFound { .. })
    ));
    // An id is ours: an unknown one is not found, never created.
    let ghost = CustomerSpec {
        id: Some("cust_00000000000000000000".to_owned()),
        ..CustomerSpec::default()
    };
    assert!(matches!(
        s.upsert_customer(p, &ghost, t0()),
        Err(StoreError::NotFound { .. })
    ));
    // A source id belongs to one customer.
    let ann = s.upsert_customer(p, &by_source("ann"), t0()).unwrap();
    let steal = CustomerSpec {
        id: Some(ann.id.clone()),
        source_id: Some("tom-2".to_owned()),
        ..CustomerSpec::default()
    };
    assert!(matches!(
        s.upsert_customer(p, &steal, t0()),
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        s.customer(p, &ann.id).unwrap().spec.source_id.as_deref(),
        Some("ann")
    );
    // Without any id, a new customer every time.
    let anonymous = s
        .upsert_customer(p, &CustomerSpec::default(), t0())
        .unwrap();
    assert_ne!(anonymous.id, tom.id);
    assert!(matches!(
        s.upsert_customer(p, &by_source(&"x".repeat(300)), t0()),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn customers_list_by_page_and_by_cursor() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    for i in 0..25 {
        s.upsert_customer(
            p,
            &by_source(&format!("c{i:02}")),
            t0() + Duration::minutes(i),
        )
        .unwrap();
    }
    let list = |query: ListQuery| s.customers(p, &query).unwrap();
    let mut by_page = Vec::new();
    for page in 1..=3 {
        let got = list(ListQuery {
            page,
            ..ListQuery::default()
        });
        assert_eq!(got.total, 25);
        assert_eq!(got.has_more, page < 3);
        by_page.extend(got.items.into_iter().map(|c| c.spec.source_id.unwrap()));
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("c{i:02}")).collect();
    assert_eq!(by_page, expected, "newest first");
    let mut by_cursor = Vec::new();
    let mut cursor = None;
    loop {
        let got = list(ListQuery {
            limit: 4,
            starting_after: cursor.take(),
            ..ListQuery::default()
        });
        by_cursor.extend(got.items.into_iter().map(|c| c.spec.source_id.unwrap()));
        match got.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(by_cursor, expected);
    let recent = list(ListQuery {
        created_after: Some(t0() + Duration::minutes(20)),
        ..ListQuery::default()
    });
    assert_eq!(recent.total, 4);
    assert!(matches!(
        s.customers(
            p,
            &ListQuery {
                limit: 101,
                ..ListQuery::default()
            }
        ),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn a_deleted_customer_leaves_their_redemptions() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    voucher(
        &f,
        "BYE",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Unlimited,
    );
    let r = s
        .redeem(p, &legacy("BYE", order("10"), Some("leaver")))
        .unwrap();
    let leaver = s.customer(p, "leaver").unwrap();
    assert_eq!(leaver.summary.redemptions_total, 1);
    s.delete_customer(p, "leaver").unwrap();
    assert!(matches!(
        s.customer(p, "leaver"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_customer(p, &leaver.id),
        Err(StoreError::NotFound { .. })
    ));
    let kept = s.redemption(p, &r.id).unwrap();
    assert_eq!(kept.customer, None);
    assert_eq!(kept.discount_minor, r.discount_minor);
    let all = s.redemptions(p, &RedemptionQuery::default()).unwrap();
    assert_eq!(all.total, 1);
    // The same source id later is a new customer with a clean record.
    let back = s.upsert_customer(p, &by_source("leaver"), t0()).unwrap();
    assert_ne!(back.id, leaver.id);
    assert_eq!(back.summary.redemptions_total, 0);
}

#[test]
fn another_projects_customers_are_not_found() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let sandbox = s
        .create_project(
            &ProjectSpec {
                name: "sandbox".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id;
    let mine = s.upsert_customer(p, &by_source("shared"), t0()).unwrap();
    for id in [mine.id.as_str(), "shared"] {
        assert!(matches!(
            s.customer(sandbox, id),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.delete_customer(sandbox, id),
            Err(StoreError::NotFound { .. })
        ));
    }
    // The same source id in the sandbox is another customer.
    let theirs = s
        .upsert_customer(sandbox, &by_source("shared"), t0())
        .unwrap();
    assert_ne!(theirs.id, mine.id);
    assert_eq!(
        s.customers(sandbox, &ListQuery::default()).unwrap().total,
        1
    );
    let by_id = CustomerSpec {
        id: Some(mine.id.clone()),
        ..CustomerSpec::default()
    };
    assert!(matches!(
        s.upsert_customer(sandbox, &by_id, t0()),
        Err(StoreError::NotFound { .. })
    ));
}
