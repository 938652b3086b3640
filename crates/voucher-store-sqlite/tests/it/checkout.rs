//! Checkout through the port: legacy and stacked redemptions with their
//! totals, every refusal in the log with its reason, rollbacks that return
//! uses and credits exactly once, validation that changes nothing, and the
//! redemption list's filters and paging.

use chrono::Duration;
use voucher_core::code_pattern::Code;
use voucher_core::decision::Reason;
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::ledger::{Entry, EntryKind, Ledger};
use voucher_core::money::{Currency, Money};
use voucher_core::order::{Order, OrderItem};
use voucher_core::port::{
    BenefitSpec, CampaignRecord, CampaignStore, ChannelType, CheckoutMode, CheckoutRequest,
    CheckoutStore, CustomerSpec, CustomerStore, ListQuery, ProjectStore, RedeemableRequest,
    RedemptionQuery, RedemptionRecord, RedemptionResult, RedemptionState, RollbackRequest,
    StoreError, VoucherSpec, VoucherStore,
};
use voucher_core::stacking::{EntryStatus, SkipReason};
use voucher_core::validity::{Moment, Validity};
use voucher_core::voucher::{CampaignLimits, RedemptionQuantity};

use voucher_store_sqlite::{Options, SqliteStore};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::support::{fixture, t0, Fixture};

/// Euros.
pub fn eur(text: &str) -> Money {
    Money::parse(text, Currency::EUR).unwrap()
}

/// An order of `amount` euros, without lines.
pub fn order(amount: &str) -> Order {
    Order {
        amount: Some(eur(amount)),
        ..Order::default()
    }
}

/// A checkout request for `codes`, by the customer with this source id.
pub fn request(
    mode: CheckoutMode,
    codes: &[&str],
    order: Order,
    customer: Option<&str>,
) -> CheckoutRequest {
    CheckoutRequest {
        mode,
        redeemables: codes
            .iter()
            .map(|code| RedeemableRequest {
                code: (*code).to_owned(),
                credits: None,
            })
            .collect(),
        order,
        order_status: None,
        customer: customer.map(|source_id| CustomerSpec {
            source_id: Some(source_id.to_owned()),
            ..CustomerSpec::default()
        }),
        metadata: Default::default(),
        channel: ChannelType::Api,
        tracking_id: None,
        now: t0(),
    }
}

/// A legacy request for one code.
pub fn legacy(code: &str, order: Order, customer: Option<&str>) -> CheckoutRequest {
    request(CheckoutMode::Legacy, &[code], order, customer)
}

/// A standalone voucher.
pub fn voucher(f: &Fixture, code: &str, benefit: BenefitSpec, quantity: RedemptionQuantity) {
    f.store
        .create_voucher(f.project, &voucher_spec(code, benefit, quantity), t0())
        .unwrap();
}

/// A gift card of `amount_minor`, usable until its balance is spent.
pub fn gift_card(f: &Fixture, code: &str, amount_minor: i64) {
    voucher(
        f,
        code,
        BenefitSpec::Gift { amount_minor },
        RedemptionQuantity::Unlimited,
    );
}

/// The gift card's ledger as stored, oldest first.
pub fn ledger_entries(f: &Fixture, code: &str) -> Vec<Entry> {
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT l.kind, l.amount, l.balance_after FROM gift_ledger l
             JOIN vouchers v ON v.id = l.voucher_id WHERE v.code = ?1 ORDER BY l.id",
        )
        .unwrap();
    stmt.query_map([code], |r| {
        let kind = match r.get::<_, String>(0)?.as_str() {
            "REDEMPTION" => EntryKind::Redemption,
            "REFUND" => EntryKind::Refund,
            "ADDITION" => EntryKind::Addition,
            _ => EntryKind::Removal,
        };
        Ok(Entry {
            kind,
            amount_minor: r.get(1)?,
            balance_after_minor: r.get(2)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Checks that the card's ledger folds to its stored balance.
pub fn assert_ledger_folds(f: &Fixture, code: &str) -> i64 {
    let entries = ledger_entries(f, code);
    let folded = Ledger::from_entries(Currency::EUR, &entries)
        .unwrap()
        .balance_minor();
    let stored = f
        .store
        .voucher(f.project, code)
        .unwrap()
        .gift_balance_minor
        .unwrap();
    assert_eq!(folded, stored, "{code}: ledger {entries:?}");
    stored
}

/// The refusal of a redemption that must fail, with its failure id.
pub fn refused(result: Result<RedemptionRecord, StoreError>) -> (Reason, String) {
    match result {
        Err(StoreError::Refused {
            refusal,
            failure_id: Some(id),
        }) => (refusal.reason, id),
        other => panic!("expected a recorded refusal, got {other:?}"),
    }
}

fn amount_off(amount: &str) -> Discount {
    Discount::new(
        DiscountValue::Amount {
            amount_off: eur(amount),
        },
        Effect::ApplyToOrder,
    )
    .unwrap()
}

fn rollback(id: &str) -> RollbackRequest {
    RollbackRequest {
        redemption_id: id.to_owned(),
        reason: Some("refund".to_owned()),
        tracking_id: None,
        metadata: Default::default(),
        channel: ChannelType::Api,
        now: t0() + Duration::hours(1),
    }
}

fn failures(f: &Fixture, failure_code: &str) -> u64 {
    f.store
        .redemptions(
            f.project,
            &RedemptionQuery {
                result: Some(RedemptionResult::Failure),
                failure_code: Some(failure_code.to_owned()),
                ..RedemptionQuery::default()
            },
        )
        .unwrap()
        .total
}

#[test]
fn a_legacy_redemption_applies_the_discount_and_records_the_totals() {
    let f = fixture();
    voucher(
        &f,
        "CAT25",
        BenefitSpec::Discount(percent_off(25)),
        RedemptionQuantity::Limited(2),
    );
    let basket = Order {
        id: Some("shop-order-1".to_owned()),
        items: vec![
            OrderItem {
                product_id: Some("kibble".to_owned()),
                price: Some(eur("10.00")),
                quantity: Some(3),
                ..OrderItem::default()
            },
            OrderItem {
                product_id: Some("tuna".to_owned()),
                amount: Some(eur("20.01")),
                ..OrderItem::default()
            },
        ],
        ..Order::default()
    };
    let r = f
        .store
        .redeem(f.project, &legacy("CAT25", basket, Some("tom")))
        .unwrap();
    assert!(r.id.starts_with("r_"), "{}", r.id);
    assert_eq!(
        (r.result, r.state, r.code.as_deref()),
        (
            RedemptionResult::Success,
            RedemptionState::Succeeded,
            Some("CAT25")
        )
    );
    // 25% of 50.01 is 12.5025, rounded to 12.50 by the engine.
    assert_eq!((r.discount_minor, r.amount_minor), (1250, 0));
    let o = &r.order;
    assert!(o.id.as_deref().is_some_and(|id| id.starts_with("ord_")));
    assert_eq!(o.source_id.as_deref(), Some("shop-order-1"));
    assert_eq!(o.status.as_deref(), Some("PAID"));
    assert_eq!(o.amount_minor, Some(5001));
    assert_eq!(
        (
            o.discount_amount_minor,
            o.total_discount_amount_minor,
            o.total_amount_minor,
            o.applied_discount_amount_minor
        ),
        (1250, 1250, Some(3751), 1250)
    );
    assert_eq!(o.items.len(), 2);
    assert_eq!(o.items[0].amount_minor + o.items[1].amount_minor, 5001);
    let after = r.voucher_after.as_ref().unwrap();
    assert_eq!(after.redeemed_quantity, 1);
    let (customer_id, source_id) = r.customer.clone().unwrap();
    assert!(customer_id.starts_with("cust_"));
    assert_eq!(source_id.as_deref(), Some("tom"));
    // What was returned is what is stored.
    assert_eq!(f.store.redemption(f.project, &r.id).unwrap(), r);
    assert_eq!(
        f.store
            .voucher(f.project, "CAT25")
            .unwrap()
            .redeemed_quantity,
        1
    );
    let tom = f.store.customer(f.project, "tom").unwrap();
    assert_eq!(tom.id, customer_id);
    assert_eq!(
        (
            tom.summary.redemptions_succeeded,
            tom.summary.orders_count,
            tom.summary.orders_amount_minor
        ),
        (1, 1, 5001)
    );
}

#[test]
fn every_refusal_is_recorded_with_its_reason() {
    let f = fixture();
    let discount = || BenefitSpec::Discount(percent_off(10));
    voucher(&f, "ONCE", discount(), RedemptionQuantity::Limited(1));
    f.store
        .redeem(f.project, &legacy("ONCE", order("10"), None))
        .unwrap();
    voucher(&f, "OFF", discount(), RedemptionQuantity::Unlimited);
    f.store
        .set_voucher_active(f.project, "OFF", false, "test", t0())
        .unwrap();
    let dated = |code: &str, validity: Validity| {
        let spec = VoucherSpec {
            validity,
            ..voucher_spec(code, discount(), RedemptionQuantity::Unlimited)
        };
        f.store.create_voucher(f.project, &spec, t0()).unwrap();
    };
    dated(
        "LATER",
        Validity {
            start: Some(Moment::Instant(t0() + Duration::days(1))),
            ..Validity::default()
        },
    );
    dated(
        "OLD",
        Validity {
            expiration: Some(Moment::Instant(t0() - Duration::days(1))),
            ..Validity::default()
        },
    );
    gift_card(&f, "GIFT-5", 500);
    let mut limited = campaign_spec("Limited", "LIM-", 0, discount());
    limited.limits = CampaignLimits {
        per_customer_max: Some(1),
        ..CampaignLimits::default()
    };
    let limited = f.store.create_campaign(f.project, &limited, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(limited.id.clone()),
                ..voucher_spec("PERCUST", discount(), RedemptionQuantity::Unlimited)
            },
            t0(),
        )
        .unwrap();

    let too_much = {
        let mut r = legacy("GIFT-5", order("50"), None);
        r.redeemables[0].credits = Some(eur("10"));
        r
    };
    let in_dollars = legacy(
        "ONCE",
        Order {
            amount: Some(Money::parse("10", Currency::USD).unwrap()),
            ..Order::default()
        },
        None,
    );
    let cases = [
        (legacy("NOPE", order("10"), None), Reason::ResourceNotFound),
        (legacy("OFF", order("10"), None), Reason::VoucherDisabled),
        (legacy("LATER", order("10"), None), Reason::VoucherNotActive),
        (legacy("OLD", order("10"), None), Reason::VoucherExpired),
        (legacy("ONCE", order("10"), None), Reason::QuantityExceeded),
        (too_much, Reason::GiftAmountExceeded),
        (
            legacy("PERCUST", order("10"), None),
            Reason::MissingCustomer,
        ),
        (in_dollars, Reason::InvalidOrder),
    ];
    for (request, expected) in &cases {
        let (reason, failure_id) = refused(f.store.redeem(f.project, request));
        let code = &request.redeemables[0].code;
        assert_eq!(reason, *expected, "{code}");
        assert!(failure_id.starts_with("rf_"), "{failure_id}");
        let failure = f.store.redemption(f.project, &failure_id).unwrap();
        assert_eq!(
            (failure.result, failure.state),
            (RedemptionResult::Failure, RedemptionState::Failed)
        );
        assert_eq!(failure.failure.as_ref().map(|r| r.reason), Some(*expected));
        assert_eq!(failure.code.as_ref(), Some(code), "the code is kept");
        assert_eq!(failures(&f, expected.key()), 1, "{}", expected.key());
    }
    let all_failures = f
        .store
        .redemptions(
            f.project,
            &RedemptionQuery {
                result: Some(RedemptionResult::Failure),
                ..RedemptionQuery::default()
            },
        )
        .unwrap();
    assert_eq!(all_failures.total, cases.len() as u64);
    // Nothing a refusal touched moved.
    assert_eq!(
        f.store
            .voucher(f.project, "GIFT-5")
            .unwrap()
            .gift_balance_minor,
        Some(500)
    );
    assert_eq!(
        f.store
            .voucher(f.project, "ONCE")
            .unwrap()
            .redeemed_quantity,
        1
    );
    // A legacy request names exactly one code; a code has a bounded length.
    let two = request(CheckoutMode::Legacy, &["A", "B"], order("1"), None);
    assert!(matches!(
        f.store.redeem(f.project, &two),
        Err(StoreError::Invalid { .. })
    ));
    let long = "X".repeat(200);
    assert!(matches!(
        f.store.redeem(f.project, &legacy(&long, order("1"), None)),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(all_failures.total, cases.len() as u64);
}

#[test]
fn a_rollback_returns_the_use_and_the_credits_exactly_once() {
    let f = fixture();
    gift_card(&f, "GC-50", 5000);
    let r = f
        .store
        .redeem(f.project, &legacy("GC-50", order("30"), Some("ann")))
        .unwrap();
    assert_eq!((r.amount_minor, r.discount_minor), (3000, 3000));
    assert_eq!(r.order.total_amount_minor, Some(0));
    assert_eq!(
        r.voucher_after.as_ref().unwrap().gift_balance_minor,
        Some(2000)
    );
    assert_eq!(assert_ledger_folds(&f, "GC-50"), 2000);

    let back = f.store.rollback(f.project, &rollback(&r.id)).unwrap();
    assert!(back.id.starts_with("rr_"), "{}", back.id);
    assert_eq!(back.redemption_id, r.id);
    assert_eq!(back.amount_minor, 3000);
    assert_eq!(back.order.status.as_deref(), Some("CANCELED"));
    let after = back.voucher_after.as_ref().unwrap();
    assert_eq!(
        (after.gift_balance_minor, after.redeemed_quantity),
        (Some(5000), 0)
    );
    let stored = f.store.redemption(f.project, &r.id).unwrap();
    assert_eq!(stored.state, RedemptionState::RolledBack);
    assert_eq!(stored.rollback_id.as_deref(), Some(back.id.as_str()));
    // The rollback reads back by its own id, naming what it rolled back.
    let as_read = f.store.redemption(f.project, &back.id).unwrap();
    assert_eq!(
        (as_read.parent_id.as_deref(), as_read.amount_minor),
        (Some(r.id.as_str()), 3000)
    );

    assert_eq!(
        f.store.rollback(f.project, &rollback(&r.id)),
        Err(StoreError::AlreadyRolledBack)
    );
    let card = f.store.voucher(f.project, "GC-50").unwrap();
    assert_eq!(
        (
            card.gift_balance_minor,
            card.redeemed_quantity,
            card.redeemed_amount_minor
        ),
        (Some(5000), 0, 0)
    );
    assert_eq!(assert_ledger_folds(&f, "GC-50"), 5000);
    let kinds: Vec<EntryKind> = ledger_entries(&f, "GC-50").iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Addition,
            EntryKind::Redemption,
            EntryKind::Refund
        ]
    );
    let ann = f.store.customer(f.project, "ann").unwrap().summary;
    assert_eq!(
        (
            ann.redemptions_succeeded,
            ann.redemptions_rolled_back,
            ann.gift_redeemed_minor,
            ann.orders_count
        ),
        (1, 1, 0, 0)
    );

    // A failure cannot be rolled back, an unknown id is not found.
    let (_, failure_id) = refused(f.store.redeem(f.project, &legacy("NOPE", order("1"), None)));
    assert!(matches!(
        f.store.rollback(f.project, &rollback(&failure_id)),
        Err(StoreError::Invalid {
            key: "invalid_redemption",
            ..
        })
    ));
    assert!(matches!(
        f.store
            .rollback(f.project, &rollback("r_00000000000000000000")),
        Err(StoreError::NotFound { .. })
    ));
}

/// A campaign of 10% off that allows one redemption in all, with these
/// codes (unlimited each).
fn campaign_of_one_redemption(f: &Fixture, name: &str, codes: &[&str]) -> CampaignRecord {
    let mut spec = campaign_spec(name, "X-", 0, BenefitSpec::Discount(percent_off(10)));
    spec.limits.redemptions_max = Some(1);
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    for code in codes {
        let voucher = VoucherSpec {
            code: Some(Code::parse(code).unwrap()),
            campaign: Some(campaign.id.clone()),
            benefit: None,
            quantity: None,
            ..voucher_spec(
                code,
                spec.template.benefit.clone(),
                RedemptionQuantity::Unlimited,
            )
        };
        f.store.create_voucher(f.project, &voucher, t0()).unwrap();
    }
    campaign
}

/// Validations read campaigns (their counters, their state) from each
/// reader's cache: a redemption through the same store, or a change by
/// another process on the same file, is seen by the next validation.
#[test]
fn validations_see_campaign_changes_at_once() {
    let f = fixture();
    let campaign = campaign_of_one_redemption(&f, "Once", &["ONC-A", "ONC-B", "ONC-C"]);
    let valid = |code: &str| {
        f.store
            .validate(f.project, &legacy(code, order("10"), None))
            .unwrap()
            .valid
    };
    for _ in 0..3 {
        assert!(valid("ONC-B"));
    }
    // The campaign's one redemption, through the same store.
    let first = f
        .store
        .redeem(f.project, &legacy("ONC-A", order("10"), None))
        .unwrap();
    assert!(!valid("ONC-B"));
    f.store.rollback(f.project, &rollback(&first.id)).unwrap();
    for _ in 0..3 {
        assert!(valid("ONC-C"));
    }
    // Disabled by another process.
    let other = SqliteStore::open(f.dir.path().join("voucher.db"), Options::default()).unwrap();
    other
        .set_campaign_active(f.project, &campaign.id, false, "test", t0())
        .unwrap();
    assert!(!valid("ONC-C"));
}

#[test]
fn a_rollback_returns_the_campaign_limit() {
    let f = fixture();
    campaign_of_one_redemption(&f, "One", &["ONE-A", "ONE-B"]);
    let first = f
        .store
        .redeem(f.project, &legacy("ONE-A", order("10"), None))
        .unwrap();
    assert_eq!(first.campaign.as_ref().map(|c| c.1.as_str()), Some("One"));
    let (reason, _) = refused(
        f.store
            .redeem(f.project, &legacy("ONE-B", order("10"), None)),
    );
    assert_eq!(reason, Reason::RedemptionRulesViolated);
    f.store.rollback(f.project, &rollback(&first.id)).unwrap();
    f.store
        .redeem(f.project, &legacy("ONE-B", order("10"), None))
        .unwrap();
}

#[test]
fn a_stacked_redemption_and_the_rollback_of_its_parent() {
    let f = fixture();
    voucher(
        &f,
        "TEN",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(5),
    );
    voucher(
        &f,
        "FIVE",
        BenefitSpec::Discount(amount_off("5")),
        RedemptionQuantity::Limited(5),
    );
    gift_card(&f, "GC-20", 2000);
    let stack = request(
        CheckoutMode::Stacked,
        &["TEN", "FIVE", "GC-20"],
        order("100"),
        Some("bea"),
    );
    let parent = f.store.redeem(f.project, &stack).unwrap();
    assert!(parent.id.starts_with("r_"));
    assert_eq!(parent.code, None);
    let children: Vec<(Option<&str>, i64, i64)> = parent
        .children
        .iter()
        .map(|c| (c.code.as_deref(), c.discount_minor, c.amount_minor))
        .collect();
    // 10% of 100, then 5 off, then the card pays 20 of the 85 left.
    assert_eq!(
        children,
        [
            (Some("TEN"), 1000, 0),
            (Some("FIVE"), 500, 0),
            (Some("GC-20"), 2000, 2000)
        ]
    );
    assert!(parent
        .children
        .iter()
        .all(|c| c.parent_id.as_deref() == Some(parent.id.as_str())));
    assert_eq!(
        (
            parent.order.discount_amount_minor,
            parent.order.total_amount_minor,
            parent.amount_minor,
            parent.discount_minor
        ),
        (3500, Some(6500), 2000, 3500)
    );
    assert_eq!(f.store.redemption(f.project, &parent.id).unwrap(), parent);
    assert_eq!(
        f.store
            .voucher(f.project, "GC-20")
            .unwrap()
            .gift_balance_minor,
        Some(0)
    );

    let back = f.store.rollback(f.project, &rollback(&parent.id)).unwrap();
    assert_eq!(back.children.len(), 3);
    assert_eq!(back.amount_minor, 2000);
    for code in ["TEN", "FIVE"] {
        assert_eq!(
            f.store.voucher(f.project, code).unwrap().redeemed_quantity,
            0
        );
    }
    assert_eq!(assert_ledger_folds(&f, "GC-20"), 2000);
    let stored = f.store.redemption(f.project, &parent.id).unwrap();
    assert_eq!(stored.state, RedemptionState::RolledBack);
    assert!(stored
        .children
        .iter()
        .all(|c| c.state == RedemptionState::RolledBack && c.rollback_id.is_some()));
    assert_eq!(
        f.store.rollback(f.project, &rollback(&parent.id)),
        Err(StoreError::AlreadyRolledBack)
    );
    assert_eq!(
        f.store
            .rollback(f.project, &rollback(&parent.children[0].id)),
        Err(StoreError::AlreadyRolledBack)
    );
    assert_eq!(assert_ledger_folds(&f, "GC-20"), 2000);
}

#[test]
fn a_stack_with_one_bad_code_refuses_them_all() {
    let f = fixture();
    voucher(
        &f,
        "TEN",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(5),
    );
    gift_card(&f, "GC-20", 2000);
    let stack = request(
        CheckoutMode::Stacked,
        &["TEN", "NOPE", "GC-20"],
        order("100"),
        None,
    );
    let (reason, failure_id) = refused(f.store.redeem(f.project, &stack));
    assert_eq!(reason, Reason::ResourceNotFound);
    let failure = f.store.redemption(f.project, &failure_id).unwrap();
    assert_eq!(failure.result, RedemptionResult::Failure);
    let refused_codes: Vec<_> = failure.children.iter().map(|c| c.code.as_deref()).collect();
    assert_eq!(refused_codes, [Some("NOPE")]);
    assert_eq!(
        f.store.voucher(f.project, "TEN").unwrap().redeemed_quantity,
        0
    );
    assert_eq!(assert_ledger_folds(&f, "GC-20"), 2000);

    // Validation says the same, code by code.
    let v = f.store.validate(f.project, &stack).unwrap();
    assert!(!v.valid);
    let statuses: Vec<_> = v.entries.iter().map(|e| &e.status).collect();
    assert!(matches!(statuses[0], EntryStatus::Applicable(_)));
    assert!(
        matches!(statuses[1], EntryStatus::Inapplicable(r) if r.reason == Reason::ResourceNotFound)
    );
    assert_eq!(
        statuses[2],
        &EntryStatus::Skipped(SkipReason::PrecedingValidationFailed)
    );
    assert_eq!(v.order.totals().discount_amount_minor, 0);

    // A duplicated code is refused before anything is read or written.
    let twice = request(CheckoutMode::Stacked, &["TEN", "TEN"], order("1"), None);
    assert!(matches!(
        f.store.redeem(f.project, &twice),
        Err(StoreError::Invalid {
            key: "duplicated_redeemables",
            ..
        })
    ));
}

#[test]
fn validation_changes_nothing_but_its_counter() {
    let f = fixture();
    let spec = campaign_spec("Val", "VAL-", 0, BenefitSpec::Discount(percent_off(20)));
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(campaign.id.clone()),
                benefit: None,
                quantity: None,
                ..voucher_spec(
                    "VAL-1",
                    spec.template.benefit.clone(),
                    RedemptionQuantity::Unlimited,
                )
            },
            t0(),
        )
        .unwrap();
    gift_card(&f, "GC-10", 1000);
    let before = (
        f.store.voucher(f.project, "VAL-1").unwrap(),
        f.store.voucher(f.project, "GC-10").unwrap(),
    );
    let one = f
        .store
        .validate(
            f.project,
            &legacy("VAL-1", order("50"), Some("new-customer")),
        )
        .unwrap();
    assert!(one.valid);
    assert_eq!(one.order.totals().discount_amount_minor, 1000);
    assert_eq!(one.entries[0].voucher.as_ref(), Some(&before.0));
    let stack = request(
        CheckoutMode::Stacked,
        &["VAL-1", "GC-10"],
        order("50"),
        None,
    );
    let both = f.store.validate(f.project, &stack).unwrap();
    assert!(both.valid);
    assert_eq!(both.order.remaining_minor(), Some(3000));
    let unknown = f
        .store
        .validate(f.project, &legacy("NOPE", order("50"), None))
        .unwrap();
    assert!(!unknown.valid);
    assert!(matches!(
        &unknown.entries[0].status,
        EntryStatus::Inapplicable(r) if r.reason == Reason::ResourceNotFound
    ));

    let after = (
        f.store.voucher(f.project, "VAL-1").unwrap(),
        f.store.voucher(f.project, "GC-10").unwrap(),
    );
    assert_eq!(before, after);
    let log = f
        .store
        .redemptions(f.project, &RedemptionQuery::default())
        .unwrap();
    assert_eq!(log.total, 0);
    assert!(matches!(
        f.store.customer(f.project, "new-customer"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(f.store.validations_count(f.project, &campaign.id), 2);
}

#[test]
fn the_redemption_log_filters_and_pages() {
    let f = fixture();
    voucher(
        &f,
        "MANY",
        BenefitSpec::Discount(percent_off(5)),
        RedemptionQuantity::Limited(20),
    );
    for i in 0..24 {
        let customer = if i % 2 == 0 { "even" } else { "odd" };
        let mut r = legacy("MANY", order("10"), Some(customer));
        r.order.id = Some(format!("o-{i}"));
        r.now = t0() + Duration::minutes(i);
        let _ = f.store.redeem(f.project, &r);
    }
    let query = |q: RedemptionQuery| f.store.redemptions(f.project, &q).unwrap();
    let all = query(RedemptionQuery::default());
    assert_eq!((all.total, all.items.len(), all.has_more), (24, 10, true));
    let successes = query(RedemptionQuery {
        result: Some(RedemptionResult::Success),
        ..RedemptionQuery::default()
    });
    assert_eq!(successes.total, 20);
    assert_eq!(failures(&f, "quantity_exceeded"), 4);
    let even = query(RedemptionQuery {
        customer: Some("even".to_owned()),
        ..RedemptionQuery::default()
    });
    assert_eq!(even.total, 12);
    let one_order = query(RedemptionQuery {
        order: Some("o-3".to_owned()),
        ..RedemptionQuery::default()
    });
    assert_eq!(one_order.total, 1);
    let nobody = query(RedemptionQuery {
        customer: Some("nobody".to_owned()),
        ..RedemptionQuery::default()
    });
    assert_eq!((nobody.total, nobody.items.len()), (0, 0));
    let recent = query(RedemptionQuery {
        list: ListQuery {
            created_after: Some(t0() + Duration::minutes(19)),
            ..ListQuery::default()
        },
        ..RedemptionQuery::default()
    });
    assert_eq!(recent.total, 4);

    // Page paging and cursor paging see every entry once, newest first.
    let mut by_page = Vec::new();
    for page in 1..=3 {
        let p = query(RedemptionQuery {
            list: ListQuery {
                page,
                ..ListQuery::default()
            },
            ..RedemptionQuery::default()
        });
        assert_eq!(p.total, 24);
        by_page.extend(p.items.into_iter().map(|r| r.id));
    }
    let mut by_cursor = Vec::new();
    let mut cursor = None;
    loop {
        let p = query(RedemptionQuery {
            list: ListQuery {
                limit: 7,
                starting_after: cursor.take(),
                ..ListQuery::default()
            },
            ..RedemptionQuery::default()
        });
        by_cursor.extend(p.items.into_iter().map(|r| (r.created_at, r.id)));
        match p.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(by_cursor.len(), 24);
    assert!(
        by_cursor.windows(2).all(|w| w[0].0 > w[1].0),
        "newest first"
    );
    let by_cursor: Vec<String> = by_cursor.into_iter().map(|(_, id)| id).collect();
    assert_eq!(by_page, by_cursor);
    let oldest = query(RedemptionQuery {
        list: ListQuery {
            order: voucher_core::port::SortOrder::OldestFirst,
            limit: 1,
            ..ListQuery::default()
        },
        ..RedemptionQuery::default()
    });
    assert_eq!(oldest.items[0].id, by_page[23]);
}

#[test]
fn a_partial_stack_redeems_what_applies_and_records_the_rest() {
    let f = fixture();
    let stacking = voucher_core::stacking::StackingRules {
        application_mode: voucher_core::stacking::ApplicationMode::Partial,
        ..voucher_core::stacking::StackingRules::default()
    };
    let p = f
        .store
        .create_project(
            &voucher_core::port::ProjectSpec {
                name: "partial".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking,
            },
            t0(),
        )
        .unwrap()
        .id;
    let make = |code: &str| {
        f.store
            .create_voucher(
                p,
                &voucher_spec(
                    code,
                    BenefitSpec::Discount(percent_off(10)),
                    RedemptionQuantity::Unlimited,
                ),
                t0(),
            )
            .unwrap();
    };
    make("TEN");
    make("OFF");
    f.store
        .set_voucher_active(p, "OFF", false, "test", t0())
        .unwrap();
    let stack = request(
        CheckoutMode::Stacked,
        &["OFF", "TEN", "NOPE"],
        order("100"),
        None,
    );
    let v = f.store.validate(p, &stack).unwrap();
    assert!(v.valid);
    assert_eq!(v.order.remaining_minor(), Some(9000));
    let parent = f.store.redeem(p, &stack).unwrap();
    let children: Vec<_> = parent
        .children
        .iter()
        .map(|c| {
            (
                c.code.as_deref(),
                c.result,
                c.failure.as_ref().map(|r| r.reason),
            )
        })
        .collect();
    assert_eq!(
        children,
        [
            (Some("TEN"), RedemptionResult::Success, None),
            (
                Some("OFF"),
                RedemptionResult::Failure,
                Some(Reason::VoucherDisabled)
            ),
            (
                Some("NOPE"),
                RedemptionResult::Failure,
                Some(Reason::ResourceNotFound)
            ),
        ]
    );
    assert_eq!(parent.order.total_amount_minor, Some(9000));
    // What was returned (built as written) is what is stored.
    assert_eq!(f.store.redemption(p, &parent.id).unwrap(), parent);
    // Rolling the parent back returns only what succeeded.
    let back = f.store.rollback(p, &rollback(&parent.id)).unwrap();
    assert_eq!(back.children.len(), 1);
    assert_eq!(f.store.voucher(p, "TEN").unwrap().redeemed_quantity, 0);
    // Nothing of this is visible from the other project.
    assert!(matches!(
        f.store.redemption(f.project, &parent.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        f.store.rollback(f.project, &rollback(&parent.id)),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        f.store
            .redemptions(f.project, &RedemptionQuery::default())
            .unwrap()
            .total,
        0
    );
}

#[test]
fn validation_sees_the_customers_history() {
    let f = fixture();
    let mut spec = campaign_spec("Once", "ONCE-", 0, BenefitSpec::Discount(percent_off(10)));
    spec.limits.per_customer_max = Some(1);
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(campaign.id),
                benefit: None,
                ..voucher_spec(
                    "ONCE-1",
                    spec.template.benefit.clone(),
                    RedemptionQuantity::Unlimited,
                )
            },
            t0(),
        )
        .unwrap();
    f.store
        .redeem(f.project, &legacy("ONCE-1", order("10"), Some("ann")))
        .unwrap();
    let ann = f
        .store
        .validate(f.project, &legacy("ONCE-1", order("10"), Some("ann")))
        .unwrap();
    assert!(matches!(
        &ann.entries[0].status,
        EntryStatus::Inapplicable(r) if r.reason == Reason::RedemptionRulesViolated
    ));
    let bob = f
        .store
        .validate(f.project, &legacy("ONCE-1", order("10"), Some("bob")))
        .unwrap();
    assert!(bob.valid);
    let anonymous = f
        .store
        .validate(f.project, &legacy("ONCE-1", order("10"), None))
        .unwrap();
    assert!(matches!(
        &anonymous.entries[0].status,
        EntryStatus::Inapplicable(r) if r.reason == Reason::MissingCustomer
    ));
}
