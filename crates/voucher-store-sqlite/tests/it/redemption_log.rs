//! The redemption log holds rollbacks too: each in the shape of a
//! redemption (`RedemptionKind::Rollback`), in one newest-first order with
//! the redemptions, counted in the total, paged by page and by cursor, and
//! filtered as the redemption it rolled back (campaign, customer, code,
//! order) or by its own result.

use chrono::{DateTime, Duration, Utc};
use voucher_core::port::{
    BenefitSpec, CampaignStore, ChannelType, CheckoutMode, CheckoutStore, CustomerStore, ListQuery,
    Page, ProjectId, ProjectSpec, ProjectStore, RedemptionKind, RedemptionQuery, RedemptionRecord,
    RedemptionResult, RollbackRequest, SortOrder, StoreError, VoucherSpec, VoucherStore,
};
use voucher_core::voucher::RedemptionQuantity;

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::checkout::{legacy, order, request, voucher};
use crate::support::{fixture, t0, Fixture};

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn log(f: &Fixture, query: RedemptionQuery) -> Page<RedemptionRecord> {
    f.store.redemptions(f.project, &query).unwrap()
}

fn ids(page: &Page<RedemptionRecord>) -> Vec<&str> {
    page.items.iter().map(|r| r.id.as_str()).collect()
}

/// Redeems `code` (by `customer`, on order `order_id`) at `minutes`.
fn redeem(f: &Fixture, code: &str, customer: Option<&str>, order_id: &str, minutes: i64) -> String {
    let mut r = legacy(code, order("20"), customer);
    r.order.id = Some(order_id.to_owned());
    r.now = at(minutes);
    f.store.redeem(f.project, &r).unwrap().id
}

/// Rolls `id` back at `minutes`, with a reason.
fn roll_back(f: &Fixture, id: &str, minutes: i64) -> String {
    let request = RollbackRequest {
        redemption_id: id.to_owned(),
        reason: Some(format!("undo {id}")),
        tracking_id: None,
        metadata: Default::default(),
        channel: ChannelType::Api,
        now: at(minutes),
    };
    f.store.rollback(f.project, &request).unwrap().id
}

/// What the tests below redeem and roll back, by name.
struct History {
    r1: String,
    r2: String,
    rb1: String,
    r3: String,
    failure: String,
    parent: String,
    parent_rollback: String,
}

/// In order: ann redeems CAT-1 (a code of the campaign Cats) on o-1, bob
/// redeems DOG on o-2, ann's redemption is rolled back, ann redeems CAT-1
/// again on o-3, an unknown code is refused, bob redeems both codes as a
/// stack on o-5, and the stack is rolled back.
fn history(f: &Fixture) -> History {
    let spec = campaign_spec("Cats", "CAT-", 0, BenefitSpec::Discount(percent_off(10)));
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(campaign.id),
                benefit: None,
                ..voucher_spec(
                    "CAT-1",
                    spec.template.benefit.clone(),
                    RedemptionQuantity::Unlimited,
                )
            },
            t0(),
        )
        .unwrap();
    voucher(
        f,
        "DOG",
        BenefitSpec::Discount(percent_off(5)),
        RedemptionQuantity::Unlimited,
    );
    let r1 = redeem(f, "CAT-1", Some("ann"), "o-1", 1);
    let r2 = redeem(f, "DOG", Some("bob"), "o-2", 2);
    let rb1 = roll_back(f, &r1, 3);
    let r3 = redeem(f, "CAT-1", Some("ann"), "o-3", 4);
    let mut unknown = legacy("NOPE", order("20"), None);
    unknown.now = at(5);
    let failure = match f.store.redeem(f.project, &unknown) {
        Err(StoreError::Refused {
            failure_id: Some(id),
            ..
        }) => id,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let mut stack = request(
        CheckoutMode::Stacked,
        &["CAT-1", "DOG"],
        order("50"),
        Some("bob"),
    );
    stack.order.id = Some("o-5".to_owned());
    stack.now = at(6);
    let parent = f.store.redeem(f.project, &stack).unwrap().id;
    let parent_rollback = roll_back(f, &parent, 7);
    History {
        r1,
        r2,
        rb1,
        r3,
        failure,
        parent,
        parent_rollback,
    }
}

fn position(page: &Page<RedemptionRecord>, id: &str) -> usize {
    ids(page)
        .iter()
        .position(|x| *x == id)
        .unwrap_or_else(|| panic!("{id} is not in {:?}", ids(page)))
}

#[test]
fn rollbacks_are_listed_among_the_redemptions_newest_first() {
    let f = fixture();
    let h = history(&f);
    let all = log(
        &f,
        RedemptionQuery {
            list: ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
            ..RedemptionQuery::default()
        },
    );
    // 4 single redemptions (one refused), a stacked parent and its 2
    // children; a single rollback, and the stack's: a parent and 2 children.
    assert_eq!((all.total, all.items.len(), all.has_more), (11, 11, false));
    let rollbacks: Vec<&RedemptionRecord> = all
        .items
        .iter()
        .filter(|r| matches!(r.kind, RedemptionKind::Rollback { .. }))
        .collect();
    assert_eq!(rollbacks.len(), 4);
    assert!(rollbacks.iter().all(|r| r.id.starts_with("rr_")));
    // In the order of their writes: each rollback before (newer than) what
    // it rolled back, and after what came later.
    let pos = |id: &str| position(&all, id);
    assert_eq!(pos(&h.parent_rollback), 2, "{:?}", ids(&all));
    assert!(pos(&h.parent_rollback) < pos(&h.parent));
    assert!(pos(&h.parent) < pos(&h.failure));
    assert!(pos(&h.r3) < pos(&h.rb1) && pos(&h.rb1) < pos(&h.r2));
    assert!(pos(&h.r2) < pos(&h.r1));
    assert!(
        all.items
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    // A listed rollback reads as `redemption` reads it.
    let listed = &all.items[pos(&h.rb1)];
    assert_eq!(*listed, f.store.redemption(f.project, &h.rb1).unwrap());
    assert_eq!(
        listed.kind,
        RedemptionKind::Rollback {
            reason: Some(format!("undo {}", h.r1))
        }
    );
    assert_eq!(listed.parent_id.as_deref(), Some(h.r1.as_str()));
    assert_eq!(listed.result, RedemptionResult::Success);
    assert_eq!(listed.code.as_deref(), Some("CAT-1"));
    assert_eq!(listed.campaign.as_ref().map(|c| c.1.as_str()), Some("Cats"));
    let stacked = &all.items[pos(&h.parent_rollback)];
    assert_eq!(stacked.children.len(), 2);
    assert_eq!(stacked.parent_id.as_deref(), Some(h.parent.as_str()));

    // Oldest first is the same order reversed.
    let oldest = log(
        &f,
        RedemptionQuery {
            list: ListQuery {
                limit: 100,
                order: SortOrder::OldestFirst,
                ..ListQuery::default()
            },
            ..RedemptionQuery::default()
        },
    );
    let mut reversed = ids(&oldest);
    reversed.reverse();
    assert_eq!(reversed, ids(&all));

    // Page paging and cursor paging see every entry once, in that order.
    let mut by_page = Vec::new();
    for page in 1..=4 {
        let p = log(
            &f,
            RedemptionQuery {
                list: ListQuery {
                    limit: 3,
                    page,
                    ..ListQuery::default()
                },
                ..RedemptionQuery::default()
            },
        );
        assert_eq!(p.total, 11);
        by_page.extend(p.items.into_iter().map(|r| r.id));
    }
    let mut by_cursor = Vec::new();
    let mut cursor = None;
    loop {
        let p = log(
            &f,
            RedemptionQuery {
                list: ListQuery {
                    limit: 3,
                    starting_after: cursor.take(),
                    ..ListQuery::default()
                },
                ..RedemptionQuery::default()
            },
        );
        assert_eq!(p.total, 11);
        by_cursor.extend(p.items.into_iter().map(|r| r.id));
        match p.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(by_page, ids(&all));
    assert_eq!(by_cursor, ids(&all));
}

#[test]
fn rollbacks_match_the_filters_of_what_they_rolled_back() {
    let f = fixture();
    let h = history(&f);
    let query = |q: RedemptionQuery| {
        log(
            &f,
            RedemptionQuery {
                list: ListQuery {
                    limit: 100,
                    ..q.list.clone()
                },
                ..q
            },
        )
    };
    let some = |s: &str| Some(s.to_owned());
    let ann = query(RedemptionQuery {
        customer: some("ann"),
        ..RedemptionQuery::default()
    });
    assert_eq!(ids(&ann), [&h.r3, &h.rb1, &h.r1]);
    assert_eq!(ann.total, 3);
    let one_order = query(RedemptionQuery {
        order: some("o-1"),
        ..RedemptionQuery::default()
    });
    assert_eq!(ids(&one_order), [&h.rb1, &h.r1]);
    // The stack's codes: a child each, and the child's rollback.
    let cats = query(RedemptionQuery {
        campaign: some("Cats"),
        ..RedemptionQuery::default()
    });
    assert_eq!(cats.total, 5, "{:?}", ids(&cats));
    let by_code = query(RedemptionQuery {
        code: some("CAT-1"),
        ..RedemptionQuery::default()
    });
    assert_eq!(ids(&by_code), ids(&cats));
    assert_eq!(
        by_code
            .items
            .iter()
            .filter(|r| matches!(r.kind, RedemptionKind::Rollback { .. }))
            .count(),
        2
    );
    // A rollback's own result is a success.
    let successes = query(RedemptionQuery {
        result: Some(RedemptionResult::Success),
        ..RedemptionQuery::default()
    });
    assert_eq!(successes.total, 10);
    assert!(!ids(&successes).contains(&h.failure.as_str()));
    for failures in [
        RedemptionQuery {
            result: Some(RedemptionResult::Failure),
            ..RedemptionQuery::default()
        },
        RedemptionQuery {
            failure_code: some("resource_not_found"),
            ..RedemptionQuery::default()
        },
    ] {
        assert_eq!(ids(&query(failures)), [&h.failure]);
    }
    let later = query(RedemptionQuery {
        list: ListQuery {
            created_after: Some(at(2)),
            created_before: Some(at(5)),
            ..ListQuery::default()
        },
        ..RedemptionQuery::default()
    });
    assert_eq!(ids(&later), [&h.r3, &h.rb1]);
    let parent = query(RedemptionQuery {
        order: some("o-5"),
        customer: some("bob"),
        ..RedemptionQuery::default()
    });
    assert_eq!(parent.total, 6, "{:?}", ids(&parent));
    assert_eq!(position(&parent, &h.parent_rollback), 2);
}

#[test]
fn a_deleted_customer_is_gone_from_their_rollbacks() {
    let f = fixture();
    let h = history(&f);
    f.store.delete_customer(f.project, "bob").unwrap();
    let back = f.store.redemption(f.project, &h.parent_rollback).unwrap();
    assert_eq!(back.customer, None);
    assert!(back.children.iter().all(|c| c.customer.is_none()));
    let all = log(
        &f,
        RedemptionQuery {
            list: ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
            ..RedemptionQuery::default()
        },
    );
    assert_eq!(all.items.len(), 11);
    assert!(all
        .items
        .iter()
        .filter(|r| r.id == h.parent_rollback || r.id == h.r2)
        .all(|r| r.customer.is_none()));
    // Ann's are still hers.
    let ann = f.store.redemption(f.project, &h.rb1).unwrap();
    assert_eq!(
        ann.customer.and_then(|c| c.1).as_deref(),
        Some("ann"),
        "source id"
    );
    // A deleted campaign leaves its rollbacks too.
    f.store.delete_campaign(f.project, "Cats", at(10)).unwrap();
    assert_eq!(
        f.store.redemption(f.project, &h.rb1).unwrap().campaign,
        None
    );
}

#[test]
fn another_projects_rollbacks_are_not_listed() {
    let f = fixture();
    let h = history(&f);
    let other: ProjectId = f
        .store
        .create_project(
            &ProjectSpec {
                name: "other".to_owned(),
                ..f.store.project(f.project).unwrap().spec
            },
            t0(),
        )
        .unwrap()
        .id;
    assert_eq!(
        f.store
            .redemptions(other, &RedemptionQuery::default())
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        f.store.redemption(other, &h.rb1),
        Err(StoreError::NotFound { .. })
    ));
}

/// Deleting codes unlinks their redemptions (foreign keys are on: a
/// redemption left pointing at a deleted voucher would fail the delete)
/// and keeps them, with the code and the voucher id they were made with.
#[test]
fn deleting_codes_keeps_their_redemptions() {
    let f = fixture();
    let h = history(&f);
    let before = |id: &str| f.store.redemption(f.project, id).unwrap();
    let (r1, r2, r3) = (before(&h.r1), before(&h.r2), before(&h.r3));
    // A standalone code.
    f.store.delete_voucher(f.project, "DOG", at(10)).unwrap();
    assert!(f.store.voucher(f.project, "DOG").is_err());
    let after = f.store.redemption(f.project, &h.r2).unwrap();
    assert_eq!((after.code, after.voucher_id), (r2.code, r2.voucher_id));
    // A campaign's codes, redeemed twice.
    f.store.delete_campaign(f.project, "Cats", at(11)).unwrap();
    assert!(f.store.voucher(f.project, "CAT-1").is_err());
    for r in [r1, r3] {
        let after = f.store.redemption(f.project, &r.id).unwrap();
        assert_eq!(after.campaign, None, "{}", r.id);
        assert_eq!((after.code, after.voucher_id), (r.code, r.voucher_id));
    }
}
