//! Gift balances changed by hand, and their ledger: additions, removals,
//! overdrafts, zero, and the ledger folding to the stored balance.

use chrono::Duration;
use proptest::prelude::*;
use voucher_core::decision::Reason;
use voucher_core::ledger::{Entry, EntryKind, Ledger};
use voucher_core::money::Currency;
use voucher_core::port::{
    BalanceChange, BenefitSpec, GiftStore, LedgerRecord, ListQuery, ProjectSpec, ProjectStore,
    StoreError, VoucherStore,
};
use voucher_core::stacking::StackingRules;
use voucher_core::voucher::RedemptionQuantity;
use voucher_store_sqlite::{Options, Synchronous};

use crate::catalog::{percent_off, voucher_spec};
use crate::support::{fixture_with, t0, Fixture};

fn fast_fixture() -> Fixture {
    fixture_with(Options {
        synchronous: Synchronous::Normal,
        ..Options::default()
    })
}

fn gift_card(f: &Fixture, code: &str, amount_minor: i64) {
    let spec = voucher_spec(
        code,
        BenefitSpec::Gift { amount_minor },
        RedemptionQuantity::Unlimited,
    );
    f.store.create_voucher(f.project, &spec, t0()).unwrap();
}

fn change(amount_minor: i64) -> BalanceChange {
    BalanceChange {
        amount_minor,
        reason: Some(format!("by hand {amount_minor}")),
        source_id: Some(format!("src-{amount_minor}")),
        actor: "tom".to_owned(),
    }
}

/// The whole ledger, oldest first, by cursor pages of 3.
fn ledger(f: &Fixture, code: &str) -> Vec<LedgerRecord> {
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .store
            .transactions(
                f.project,
                code,
                &ListQuery {
                    limit: 3,
                    starting_after: cursor,
                    ..ListQuery::default()
                },
            )
            .unwrap();
        entries.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    entries.reverse();
    entries
}

/// Folds the ledger with the core (which checks each stored balance) and
/// compares it with the voucher's stored balance.
fn assert_ledger_folds(f: &Fixture, code: &str) -> i64 {
    let entries: Vec<Entry> = ledger(f, code)
        .iter()
        .map(|e| Entry {
            kind: e.kind,
            amount_minor: e.amount_minor.abs(),
            balance_after_minor: e.balance_after_minor,
        })
        .collect();
    let folded = Ledger::from_entries(Currency::EUR, &entries).unwrap();
    let stored = f.store.voucher(f.project, code).unwrap().gift_balance_minor;
    assert_eq!(Some(folded.balance_minor()), stored, "{code}");
    folded.balance_minor()
}

fn key_of(err: StoreError) -> &'static str {
    match err {
        StoreError::Invalid { key, .. } => key,
        StoreError::Refused { refusal, .. } => refusal.reason.key(),
        StoreError::NotFound { .. } => "not_found",
        other => panic!("{other:?}"),
    }
}

#[test]
fn additions_and_removals_move_the_balance_and_the_total() {
    let f = fast_fixture();
    gift_card(&f, "GIFT-1", 5000);
    let at = |m| t0() + Duration::minutes(m);
    let added = f
        .store
        .adjust_balance(f.project, "GIFT-1", &change(2500), at(1))
        .unwrap();
    let id = f.store.voucher(f.project, "GIFT-1").unwrap().id;
    assert_eq!(
        (
            added.amount_minor,
            added.total_minor,
            added.balance_minor,
            added.voucher_id.as_str()
        ),
        (2500, 7500, 7500, id.as_str())
    );
    let removed = f
        .store
        .adjust_balance(f.project, &id, &change(-1000), at(2))
        .unwrap();
    assert_eq!(
        (
            removed.amount_minor,
            removed.total_minor,
            removed.balance_minor
        ),
        (-1000, 6500, 6500)
    );
    // Everything that is left may be removed, not a unit more.
    let err = f
        .store
        .adjust_balance(f.project, "GIFT-1", &change(-6501), at(3))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused { refusal, failure_id: None }
            if refusal.reason == Reason::GiftAmountExceeded),
        "{err:?}"
    );
    let emptied = f
        .store
        .adjust_balance(f.project, "GIFT-1", &change(-6500), at(4))
        .unwrap();
    assert_eq!((emptied.total_minor, emptied.balance_minor), (0, 0));
    assert_eq!(assert_ledger_folds(&f, "GIFT-1"), 0);
    let entries = ledger(&f, "GIFT-1");
    let seen: Vec<(EntryKind, i64, i64)> = entries
        .iter()
        .map(|e| (e.kind, e.amount_minor, e.balance_after_minor))
        .collect();
    assert_eq!(
        seen,
        [
            (EntryKind::Addition, 5000, 5000),
            (EntryKind::Addition, 2500, 7500),
            (EntryKind::Removal, -1000, 6500),
            (EntryKind::Removal, -6500, 0),
        ]
    );
    let last = &entries[3];
    assert!(last.id.starts_with("vtx_"));
    assert_eq!(
        (
            last.voucher_id.as_str(),
            last.campaign_id.as_deref(),
            last.reason.as_deref(),
            last.source_id.as_deref(),
            last.related_id.as_deref(),
            last.created_at
        ),
        (
            id.as_str(),
            None,
            Some("by hand -6500"),
            Some("src--6500"),
            None,
            at(4)
        )
    );
    // Each change wrote one audit line with its actor.
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    let audited: Vec<(String, String, String)> = conn
        .prepare("SELECT actor, action, object_id FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let line = (
        "tom".to_owned(),
        "voucher.gift.balance_added".to_owned(),
        id,
    );
    assert_eq!(audited, vec![line.clone(), line.clone(), line]);
}

#[test]
fn bad_changes_are_refused_and_change_nothing() {
    let f = fast_fixture();
    gift_card(&f, "GIFT-1", 1000);
    let coupon = voucher_spec(
        "COUPON",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(1),
    );
    f.store.create_voucher(f.project, &coupon, t0()).unwrap();
    let other = f
        .store
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
        .id;
    let cases = [
        (f.project, "GIFT-1", 0, "invalid_amount"),
        (f.project, "GIFT-1", i64::MIN, "invalid_amount"),
        (f.project, "GIFT-1", i64::MAX, "invalid_amount"),
        (f.project, "GIFT-1", -1001, "gift_amount_exceeded"),
        (f.project, "COUPON", 100, "invalid_voucher"),
        (f.project, "NOPE", 100, "not_found"),
        (other, "GIFT-1", 100, "not_found"),
    ];
    for (project, code, amount, key) in cases {
        let err = f
            .store
            .adjust_balance(project, code, &change(amount), t0())
            .unwrap_err();
        assert_eq!(key_of(err), key, "{code} {amount}");
    }
    let overlong = BalanceChange {
        reason: Some("x".repeat(1025)),
        ..change(100)
    };
    let err = f
        .store
        .adjust_balance(f.project, "GIFT-1", &overlong, t0())
        .unwrap_err();
    assert_eq!(key_of(err), "invalid_payload");
    assert_eq!(assert_ledger_folds(&f, "GIFT-1"), 1000);
    assert_eq!(ledger(&f, "GIFT-1").len(), 1);
    // A discount voucher has no ledger; another project's card is unknown.
    let none = f
        .store
        .transactions(f.project, "COUPON", &ListQuery::default())
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
    assert!(matches!(
        f.store.transactions(other, "GIFT-1", &ListQuery::default()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn transactions_page_newest_first() {
    let f = fast_fixture();
    gift_card(&f, "GIFT-1", 100);
    gift_card(&f, "GIFT-2", 100);
    for i in 1..=6 {
        f.store
            .adjust_balance(f.project, "GIFT-1", &change(i), t0())
            .unwrap();
        f.store
            .adjust_balance(f.project, "GIFT-2", &change(-1), t0())
            .unwrap();
    }
    let page = |page| {
        f.store
            .transactions(
                f.project,
                "GIFT-1",
                &ListQuery {
                    limit: 4,
                    page,
                    ..ListQuery::default()
                },
            )
            .unwrap()
    };
    let amounts = |p: &voucher_core::port::Page<LedgerRecord>| -> Vec<i64> {
        p.items.iter().map(|e| e.amount_minor).collect()
    };
    let first = page(1);
    assert_eq!(amounts(&first), [6, 5, 4, 3]);
    assert_eq!((first.total, first.has_more), (7, true));
    let second = page(2);
    assert_eq!(amounts(&second), [2, 1, 100]);
    assert!(!second.has_more);
    // The same instant for every entry: the row order decides.
    let after = f
        .store
        .transactions(
            f.project,
            "GIFT-1",
            &ListQuery {
                limit: 2,
                starting_after: first.next_cursor.clone(),
                ..ListQuery::default()
            },
        )
        .unwrap();
    assert_eq!(amounts(&after), [2, 1]);
    assert_eq!(assert_ledger_folds(&f, "GIFT-2"), 94);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any sequence of changes: the balance never goes below zero, refused
    /// changes leave no entry, and the ledger folds to the stored balance.
    #[test]
    fn the_ledger_always_folds_to_the_balance(
        initial in 0i64..5_000,
        changes in proptest::collection::vec(-3_000i64..3_000, 1..12),
    ) {
        let f = fast_fixture();
        gift_card(&f, "GIFT", initial);
        let mut model = initial;
        for amount in changes {
            let got = f.store.adjust_balance(f.project, "GIFT", &change(amount), t0());
            match got {
                Ok(record) => {
                    model += amount;
                    prop_assert_eq!(record.balance_minor, model);
                }
                Err(err) => {
                    let key = key_of(err);
                    prop_assert!(
                        (amount == 0 && key == "invalid_amount")
                            || (model + amount < 0 && key == "gift_amount_exceeded"),
                        "{} refused with {}", amount, key
                    );
                }
            }
            prop_assert!(model >= 0);
        }
        prop_assert_eq!(assert_ledger_folds(&f, "GIFT"), model);
    }
}
