//! Validation rule sets: create, read, update, delete, list, and their
//! assignments to vouchers and campaigns.

use chrono::Duration;
use voucher_core::limits::RULE_SETS_PER_OBJECT_MAX;
use voucher_core::port::{
    AssignmentTarget, BenefitSpec, CampaignQueries, CampaignStore, ListQuery, RuleSpec, RuleStore,
    StoreError, VoucherStore,
};
use voucher_core::rules::{RawRuleSet, RuleSet};
use voucher_core::voucher::RedemptionQuantity;
use voucher_store_sqlite::{Options, Synchronous};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::support::{fixture_with, other_project, t0, Fixture};

fn fast_fixture() -> Fixture {
    fixture_with(Options {
        synchronous: Synchronous::Normal,
        ..Options::default()
    })
}

fn raw(json: &str) -> RawRuleSet {
    serde_json::from_str(json).unwrap()
}

/// Orders over `amount` (major units).
fn order_over(name: &str, amount: u32) -> RuleSpec {
    RuleSpec {
        name: name.to_owned(),
        raw: raw(&format!(
            r#"{{"rules": {{"1": {{"name": "order.amount", "conditions": {{"$more_than": [{amount}]}},
                "error": {{"message": "spend more"}}}}, "logic": "1"}}}}"#
        )),
    }
}

fn key_of<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Invalid { key, .. }) => key,
        Err(StoreError::NotFound { .. }) => "not_found",
        Err(StoreError::Duplicate { .. }) => "duplicate_found",
        other => panic!("{other:?}"),
    }
}

#[test]
fn rule_sets_are_checked_stored_updated_and_deleted() {
    let f = fast_fixture();
    let p = f.project;
    let spec = order_over("Big orders", 100);
    let created = f.store.create_rule(p, &spec, t0()).unwrap();
    assert!(created.id.starts_with("val_"));
    assert_eq!(
        (&created.spec, created.assignments_count, created.created_at),
        (&spec, 0, t0())
    );
    assert_eq!(f.store.rule(p, &created.id).unwrap(), created);
    // The column holds the rule set's serde form, which the decision
    // loaders read back as a checked RuleSet.
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    let column: String = conn
        .query_row("SELECT rules FROM validation_rules", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<RuleSet>(&column).unwrap(),
        RuleSet::parse(&spec.raw).unwrap()
    );

    let refused = [
        order_over("Big orders", 5),
        RuleSpec {
            name: "Nonsense".to_owned(),
            raw: raw(r#"{"rules": {"1": {"name": "order.nonsense", "conditions": {"$is": [1]}}}}"#),
        },
        RuleSpec {
            name: "Bad logic".to_owned(),
            raw: raw(
                r#"{"rules": {"1": {"name": "order.amount", "conditions": {"$is": [1]}}, "logic": "1 and 2"}}"#,
            ),
        },
        order_over(" ", 5),
    ];
    let keys: Vec<&str> = refused
        .iter()
        .map(|spec| key_of(f.store.create_rule(p, spec, t0())))
        .collect();
    assert_eq!(
        keys,
        [
            "duplicate_found",
            "invalid_validation_rules",
            "invalid_validation_rules",
            "invalid_validation_rules"
        ]
    );

    let later = t0() + Duration::hours(1);
    let renamed = f
        .store
        .update_rule(p, &created.id, &order_over("Bigger orders", 200), later)
        .unwrap();
    assert_eq!(
        (
            renamed.spec.name.as_str(),
            renamed.created_at,
            renamed.updated_at
        ),
        ("Bigger orders", t0(), later)
    );
    assert_eq!(renamed.spec, order_over("Bigger orders", 200));
    f.store
        .create_rule(p, &order_over("Taken", 1), t0())
        .unwrap();
    for bad in [&refused[1], &order_over("Taken", 1)] {
        assert!(f.store.update_rule(p, &created.id, bad, later).is_err());
    }
    assert_eq!(f.store.rule(p, &created.id).unwrap(), renamed);

    let other = other_project(&f);
    assert_eq!(key_of(f.store.rule(other, &created.id)), "not_found");
    assert_eq!(
        key_of(f.store.update_rule(other, &created.id, &spec, later)),
        "not_found"
    );
    assert_eq!(key_of(f.store.delete_rule(other, &created.id)), "not_found");
    // Names are unique per project only.
    f.store
        .create_rule(other, &order_over("Taken", 1), t0())
        .unwrap();

    f.store.delete_rule(p, &created.id).unwrap();
    assert_eq!(key_of(f.store.rule(p, &created.id)), "not_found");
    assert_eq!(key_of(f.store.delete_rule(p, &created.id)), "not_found");
}

#[test]
fn rule_sets_list_newest_first() {
    let f = fast_fixture();
    let p = f.project;
    for i in 0..5 {
        let at = t0() + Duration::minutes(i);
        f.store
            .create_rule(p, &order_over(&format!("R{i}"), 10), at)
            .unwrap();
    }
    let other = other_project(&f);
    f.store
        .create_rule(other, &order_over("R9", 1), t0())
        .unwrap();
    let names = |query: ListQuery| -> (Vec<String>, u64, Option<String>) {
        let page = f.store.rules(p, &query).unwrap();
        (
            page.items.iter().map(|r| r.spec.name.clone()).collect(),
            page.total,
            page.next_cursor,
        )
    };
    let (first, total, cursor) = names(ListQuery {
        limit: 2,
        ..ListQuery::default()
    });
    assert_eq!((first, total), (vec!["R4".to_owned(), "R3".to_owned()], 5));
    let (second, _, _) = names(ListQuery {
        limit: 2,
        starting_after: cursor,
        ..ListQuery::default()
    });
    assert_eq!(second, ["R2", "R1"]);
    let (third, _, last) = names(ListQuery {
        limit: 2,
        page: 3,
        ..ListQuery::default()
    });
    assert_eq!((third, last), (vec!["R0".to_owned()], None));
    assert_eq!(
        key_of(f.store.rules(
            p,
            &ListQuery {
                limit: 101,
                ..ListQuery::default()
            }
        )),
        "invalid_query_params"
    );
}

#[test]
fn rule_sets_are_assigned_to_vouchers_and_campaigns() {
    let f = fast_fixture();
    let p = f.project;
    let rule = f
        .store
        .create_rule(p, &order_over("Big", 100), t0())
        .unwrap();
    let campaign = f
        .store
        .create_campaign(
            p,
            &campaign_spec("Spring", "SPR-", 0, BenefitSpec::Discount(percent_off(10))),
            t0(),
        )
        .unwrap();
    let coupon = voucher_spec(
        "COUPON",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(1),
    );
    let voucher = f.store.create_voucher(p, &coupon, t0()).unwrap();

    let on_voucher = f
        .store
        .assign_rule(
            p,
            &rule.id,
            &AssignmentTarget::Voucher("COUPON".to_owned()),
            t0(),
        )
        .unwrap();
    assert!(on_voucher.id.starts_with("asgm_"));
    assert_eq!(
        (
            on_voucher.rule_id.as_str(),
            on_voucher.related_type.as_str(),
            on_voucher.related_id.as_str()
        ),
        (rule.id.as_str(), "voucher", voucher.id.as_str())
    );
    let on_campaign = f
        .store
        .assign_rule(
            p,
            &rule.id,
            &AssignmentTarget::Campaign("Spring".to_owned()),
            t0(),
        )
        .unwrap();
    assert_eq!(
        (
            on_campaign.related_type.as_str(),
            on_campaign.related_id.as_str()
        ),
        ("campaign", campaign.id.as_str())
    );
    // Again, by the voucher's id or the campaign's id: a duplicate.
    for target in [
        AssignmentTarget::Voucher(voucher.id.clone()),
        AssignmentTarget::Campaign(campaign.id.clone()),
    ] {
        assert_eq!(
            key_of(f.store.assign_rule(p, &rule.id, &target, t0())),
            "duplicate_found"
        );
    }
    assert_eq!(
        f.store.assignments(p, &rule.id).unwrap(),
        [on_voucher.clone(), on_campaign.clone()]
    );
    assert_eq!(f.store.rule(p, &rule.id).unwrap().assignments_count, 2);
    assert_eq!(
        f.store.voucher(p, "COUPON").unwrap().assignments,
        std::slice::from_ref(&on_voucher)
    );
    let listed = f.store.rules(p, &ListQuery::default()).unwrap();
    assert_eq!(listed.items[0].assignments_count, 2);
    // A campaign carries its own, read alone, listed, updated or toggled;
    // its codes do not.
    let spring = f.store.campaign(p, "Spring").unwrap();
    assert_eq!(spring.assignments, std::slice::from_ref(&on_campaign));
    let campaigns = f.store.campaigns(p, &ListQuery::default()).unwrap();
    assert_eq!(campaigns.items[0].assignments, spring.assignments);
    let updated = f
        .store
        .update_campaign(p, "Spring", &spring.spec, t0())
        .unwrap();
    assert_eq!(updated.assignments, spring.assignments);
    let toggled = f
        .store
        .set_campaign_active(p, "Spring", true, "test", t0())
        .unwrap();
    assert_eq!(toggled.assignments, spring.assignments);

    // Another project's rule set, voucher or campaign is not found.
    let other = other_project(&f);
    let theirs = f
        .store
        .create_rule(other, &order_over("Big", 1), t0())
        .unwrap();
    let missing = [
        (
            p,
            theirs.id.clone(),
            AssignmentTarget::Voucher("COUPON".to_owned()),
        ),
        (
            other,
            theirs.id.clone(),
            AssignmentTarget::Voucher("COUPON".to_owned()),
        ),
        (
            other,
            theirs.id.clone(),
            AssignmentTarget::Campaign("Spring".to_owned()),
        ),
        (
            p,
            rule.id.clone(),
            AssignmentTarget::Voucher("NOPE".to_owned()),
        ),
    ];
    for (project, rule_id, target) in missing {
        assert_eq!(
            key_of(f.store.assign_rule(project, &rule_id, &target, t0())),
            "not_found",
            "{target:?}"
        );
    }
    assert_eq!(key_of(f.store.assignments(other, &rule.id)), "not_found");
    assert_eq!(
        key_of(f.store.unassign_rule(other, &rule.id, &on_voucher.id)),
        "not_found"
    );

    f.store.unassign_rule(p, &rule.id, &on_voucher.id).unwrap();
    assert_eq!(
        key_of(f.store.unassign_rule(p, &rule.id, &on_voucher.id)),
        "not_found"
    );
    assert!(f.store.voucher(p, "COUPON").unwrap().assignments.is_empty());
    assert_eq!(
        f.store.assignments(p, &rule.id).unwrap(),
        std::slice::from_ref(&on_campaign)
    );
    f.store.unassign_rule(p, &rule.id, &on_campaign.id).unwrap();
    assert!(f
        .store
        .campaign(p, "Spring")
        .unwrap()
        .assignments
        .is_empty());

    // Deleting the rule set removes its assignments.
    let again = f
        .store
        .assign_rule(
            p,
            &rule.id,
            &AssignmentTarget::Voucher("COUPON".to_owned()),
            t0(),
        )
        .unwrap();
    assert_eq!(f.store.voucher(p, "COUPON").unwrap().assignments, [again]);
    f.store.delete_rule(p, &rule.id).unwrap();
    assert!(f.store.voucher(p, "COUPON").unwrap().assignments.is_empty());
    let conn = rusqlite::Connection::open(f.dir.path().join("voucher.db")).unwrap();
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM rule_assignments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn one_object_takes_a_bounded_number_of_rule_sets() {
    let f = fast_fixture();
    let p = f.project;
    let coupon = voucher_spec(
        "COUPON",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(1),
    );
    f.store.create_voucher(p, &coupon, t0()).unwrap();
    let target = AssignmentTarget::Voucher("COUPON".to_owned());
    for i in 0..RULE_SETS_PER_OBJECT_MAX {
        let rule = f
            .store
            .create_rule(p, &order_over(&format!("R{i}"), 1), t0())
            .unwrap();
        f.store.assign_rule(p, &rule.id, &target, t0()).unwrap();
    }
    let one_more = f
        .store
        .create_rule(p, &order_over("More", 1), t0())
        .unwrap();
    assert_eq!(
        key_of(f.store.assign_rule(p, &one_more.id, &target, t0())),
        "invalid_validation_rules"
    );
    assert_eq!(
        f.store.voucher(p, "COUPON").unwrap().assignments.len(),
        RULE_SETS_PER_OBJECT_MAX
    );
}

#[test]
fn an_assigned_rule_set_decides_redemptions_until_it_is_unassigned() {
    use voucher_core::decision::Reason;
    use voucher_core::port::CheckoutStore;

    use crate::checkout::{legacy, order};

    let f = fast_fixture();
    let p = f.project;
    let rule = f
        .store
        .create_rule(p, &order_over("Over 100", 100), t0())
        .unwrap();
    let coupon = |code: &str| {
        voucher_spec(
            code,
            BenefitSpec::Discount(percent_off(10)),
            RedemptionQuantity::Unlimited,
        )
    };
    f.store.create_voucher(p, &coupon("ONE"), t0()).unwrap();
    let spring = campaign_spec("Spring", "SPR-", 0, BenefitSpec::Discount(percent_off(10)));
    f.store.create_campaign(p, &spring, t0()).unwrap();
    f.store
        .create_voucher(
            p,
            &voucher_core::port::VoucherSpec {
                campaign: Some("Spring".to_owned()),
                benefit: None,
                ..coupon("SPR-ONE")
            },
            t0(),
        )
        .unwrap();
    let redeem = |code: &str, amount: &str| f.store.redeem(p, &legacy(code, order(amount), None));
    let refused_for_rules = |result: Result<_, StoreError>| match result {
        Err(StoreError::Refused { refusal, .. }) => {
            refusal.reason == Reason::OrderRulesViolated
                && refusal.rule_message.as_deref() == Some("spend more")
        }
        _ => false,
    };
    // Without the rule, a small order is fine.
    assert!(redeem("ONE", "50.00").is_ok());
    let on_voucher = f
        .store
        .assign_rule(
            p,
            &rule.id,
            &AssignmentTarget::Voucher("ONE".to_owned()),
            t0(),
        )
        .unwrap();
    f.store
        .assign_rule(
            p,
            &rule.id,
            &AssignmentTarget::Campaign("Spring".to_owned()),
            t0(),
        )
        .unwrap();
    for code in ["ONE", "SPR-ONE"] {
        assert!(refused_for_rules(redeem(code, "50.00")), "{code}");
        assert!(redeem(code, "150.00").is_ok(), "{code}");
    }
    // A new version of the rule set applies at once.
    f.store
        .update_rule(p, &rule.id, &order_over("Over 100", 500), t0())
        .unwrap();
    assert!(refused_for_rules(redeem("ONE", "150.00")));
    f.store.unassign_rule(p, &rule.id, &on_voucher.id).unwrap();
    assert!(redeem("ONE", "50.00").is_ok());
    assert!(refused_for_rules(redeem("SPR-ONE", "150.00")));
    f.store.delete_rule(p, &rule.id).unwrap();
    assert!(redeem("SPR-ONE", "50.00").is_ok());
}
