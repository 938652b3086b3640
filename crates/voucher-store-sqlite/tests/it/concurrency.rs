//! Exactly-once under concurrency, every run: many threads redeem one code,
//! one customer, one campaign budget and one gift card at once, through the
//! group-committing writer, and the limits hold exactly.

use std::collections::BTreeSet;
use std::thread;

use voucher_core::decision::Reason;
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::port::{
    BenefitSpec, CampaignStore, CheckoutRequest, CheckoutStore, CustomerStore, RedemptionQuery,
    RedemptionRecord, RedemptionResult, StoreError, VoucherSpec, VoucherStore,
};
use voucher_core::voucher::RedemptionQuantity;
use voucher_store_sqlite::SqliteStore;

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::checkout::{
    assert_ledger_folds, eur, gift_card, ledger_entries, legacy, order, voucher,
};
use crate::support::{fixture, t0, Fixture};

/// Concurrent redeemers.
const THREADS: usize = 32;

/// What each attempt gave: the successes, and the refusals by reason.
#[derive(Debug, Default)]
struct Tally {
    successes: Vec<RedemptionRecord>,
    refusals: Vec<Reason>,
}

/// Runs `attempts` redemptions over [`THREADS`] threads; attempt `i` sends
/// `make(i)`. Any answer other than a success or a recorded refusal fails
/// the test.
fn hammer(
    store: &SqliteStore,
    f: &Fixture,
    attempts: usize,
    make: impl Fn(usize) -> CheckoutRequest + Sync,
) -> Tally {
    let make = &make;
    let project = f.project;
    let parts: Vec<Tally> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    for i in (t..attempts).step_by(THREADS) {
                        match store.redeem(project, &make(i)) {
                            Ok(record) => tally.successes.push(record),
                            Err(StoreError::Refused {
                                refusal,
                                failure_id: Some(_),
                            }) => tally.refusals.push(refusal.reason),
                            Err(other) => panic!("attempt {i}: {other:?}"),
                        }
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = Tally::default();
    for part in parts {
        all.successes.extend(part.successes);
        all.refusals.extend(part.refusals);
    }
    assert_eq!(all.successes.len() + all.refusals.len(), attempts);
    all
}

fn only(reasons: &[Reason], reason: Reason) -> bool {
    reasons.iter().all(|r| *r == reason)
}

fn count(f: &Fixture, query: RedemptionQuery) -> u64 {
    f.store.redemptions(f.project, &query).unwrap().total
}

#[test]
fn a_code_of_quantity_100_is_redeemed_exactly_100_times() {
    let f = fixture();
    voucher(
        &f,
        "HOT",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(100),
    );
    let (commits_before, jobs_before) = f.store.writer_stats();
    let tally = hammer(&f.store, &f, 5000, |_| legacy("HOT", order("20"), None));
    assert_eq!(tally.successes.len(), 100);
    assert_eq!(tally.refusals.len(), 4900);
    assert!(only(&tally.refusals, Reason::QuantityExceeded));
    assert_eq!(
        f.store.voucher(f.project, "HOT").unwrap().redeemed_quantity,
        100
    );
    // Each success saw its own count: 1..=100, once each.
    let seen: BTreeSet<u64> = tally
        .successes
        .iter()
        .map(|r| r.voucher_after.as_ref().unwrap().redeemed_quantity)
        .collect();
    assert_eq!(seen, (1..=100).collect());
    let code = || Some("HOT".to_owned());
    assert_eq!(
        count(
            &f,
            RedemptionQuery {
                code: code(),
                result: Some(RedemptionResult::Success),
                ..RedemptionQuery::default()
            }
        ),
        100
    );
    assert_eq!(
        count(
            &f,
            RedemptionQuery {
                code: code(),
                failure_code: Some("quantity_exceeded".to_owned()),
                ..RedemptionQuery::default()
            }
        ),
        4900
    );
    let (commits, jobs) = f.store.writer_stats();
    let (commits, jobs) = (commits - commits_before, jobs - jobs_before);
    assert!(
        commits < jobs,
        "group commit: {jobs} jobs in {commits} commits"
    );
    eprintln!("group commit: {jobs} jobs in {commits} commits");
    f.store.integrity_check().unwrap();
}

#[test]
fn a_per_customer_limit_holds_for_one_and_for_many_customers() {
    let f = fixture();
    let mut spec = campaign_spec(
        "Once each",
        "EACH-",
        0,
        BenefitSpec::Discount(percent_off(10)),
    );
    spec.limits.per_customer_max = Some(1);
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(campaign.id),
                benefit: None,
                ..voucher_spec(
                    "EACH",
                    spec.template.benefit.clone(),
                    RedemptionQuantity::Unlimited,
                )
            },
            t0(),
        )
        .unwrap();

    let solo = hammer(&f.store, &f, THREADS * 20, |_| {
        legacy("EACH", order("10"), Some("solo"))
    });
    assert_eq!(solo.successes.len(), 1);
    assert!(only(&solo.refusals, Reason::RedemptionRulesViolated));

    // Every thread tries every customer, in its own order.
    let customers = 40;
    let many = hammer(&f.store, &f, THREADS * customers, |i| {
        let customer = format!("c{}", (i / THREADS + i % THREADS) % customers);
        legacy("EACH", order("10"), Some(&customer))
    });
    assert_eq!(many.successes.len(), customers);
    assert!(only(&many.refusals, Reason::RedemptionRulesViolated));
    let winners: BTreeSet<String> = many
        .successes
        .iter()
        .map(|r| r.customer.as_ref().unwrap().1.clone().unwrap())
        .collect();
    assert_eq!(winners.len(), customers);
    for c in 0..customers {
        let summary = f
            .store
            .customer(f.project, &format!("c{c}"))
            .unwrap()
            .summary;
        assert_eq!(summary.redemptions_succeeded, 1, "c{c}");
        assert_eq!(summary.redemptions_total, THREADS as u64, "c{c}");
    }
    assert_eq!(
        f.store
            .voucher(f.project, "EACH")
            .unwrap()
            .redeemed_quantity,
        41
    );
}

#[test]
fn a_campaign_budget_is_never_exceeded() {
    let f = fixture();
    let three_off = Discount::new(
        DiscountValue::Amount {
            amount_off: eur("3"),
        },
        Effect::ApplyToOrder,
    )
    .unwrap();
    let mut spec = campaign_spec("Budget", "BUD-", 0, BenefitSpec::Discount(three_off));
    spec.limits.budget_max_minor = Some(10_000);
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    f.store
        .create_voucher(
            f.project,
            &VoucherSpec {
                campaign: Some(campaign.id),
                benefit: None,
                ..voucher_spec(
                    "BUDGET",
                    spec.template.benefit.clone(),
                    RedemptionQuantity::Unlimited,
                )
            },
            t0(),
        )
        .unwrap();
    let tally = hammer(&f.store, &f, THREADS * 5, |_| {
        legacy("BUDGET", order("10"), None)
    });
    // 33 discounts of 3.00 fit in 100.00; a 34th would not.
    assert_eq!(tally.successes.len(), 33);
    assert!(only(&tally.refusals, Reason::RedemptionRulesViolated));
    let given: i64 = tally.successes.iter().map(|r| r.discount_minor).sum();
    assert_eq!(given, 9900);
}

#[test]
fn a_gift_card_spent_at_32_tills_never_goes_below_zero() {
    let f = fixture();
    gift_card(&f, "GC-CONC", 5000);
    // Orders of 1.00 to 7.99, different in every attempt.
    let tally = hammer(&f.store, &f, THREADS * 10, |i| {
        let cents = 100 + (i * 7919 + 13) % 700;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        legacy("GC-CONC", order(&amount), None)
    });
    assert!(only(&tally.refusals, Reason::GiftAmountExceeded));
    let spent: i64 = tally.successes.iter().map(|r| r.amount_minor).sum();
    assert_eq!(spent, 5000, "total spent equals the initial balance");
    // The balances after each spend form one chain from 50.00 down to 0.
    let mut chain: Vec<(i64, i64)> = tally
        .successes
        .iter()
        .map(|r| {
            let after = r
                .voucher_after
                .as_ref()
                .unwrap()
                .gift_balance_minor
                .unwrap();
            (after, r.amount_minor)
        })
        .collect();
    chain.sort_by(|a, b| b.cmp(a));
    let mut balance = 5000;
    for (after, amount) in &chain {
        assert!(*amount > 0 && *after >= 0);
        assert_eq!(balance - amount, *after);
        balance = *after;
    }
    assert_eq!(balance, 0);
    assert_eq!(assert_ledger_folds(&f, "GC-CONC"), 0);
    let spends = ledger_entries(&f, "GC-CONC").len() - 1;
    assert_eq!(spends, tally.successes.len());
    let card = f.store.voucher(f.project, "GC-CONC").unwrap();
    assert_eq!(card.redeemed_amount_minor, 5000);
    assert_eq!(card.redeemed_quantity, tally.successes.len() as u64);
    assert_eq!(
        count(
            &f,
            RedemptionQuery {
                code: Some("GC-CONC".to_owned()),
                result: Some(RedemptionResult::Success),
                ..RedemptionQuery::default()
            }
        ),
        tally.successes.len() as u64
    );
}

/// `redeem_then`, as the HTTP server calls it: many redemptions queued at
/// once by one thread that does not wait for each; every reply comes once,
/// from the writer, and the quantity holds exactly as with `redeem`.
#[test]
fn redeem_then_replies_once_to_each_and_holds_the_quantity() {
    let f = fixture();
    voucher(
        &f,
        "QUEUED",
        BenefitSpec::Discount(percent_off(10)),
        RedemptionQuantity::Limited(40),
    );
    let (sender, replies) = std::sync::mpsc::channel();
    let attempts = 300;
    for i in 0..attempts {
        let sender = sender.clone();
        f.store.redeem_then(
            f.project,
            legacy("QUEUED", order("20"), None),
            Box::new(move |answer| sender.send((i, answer)).unwrap()),
        );
    }
    drop(sender);
    let answers: Vec<_> = replies.iter().collect();
    assert_eq!(answers.len(), attempts);
    let answered: BTreeSet<usize> = answers.iter().map(|(i, _)| *i).collect();
    assert_eq!(answered.len(), attempts, "one reply each");
    let mut successes = 0;
    for (i, answer) in &answers {
        match answer {
            Ok(record) => {
                assert_eq!(record.result, RedemptionResult::Success);
                successes += 1;
            }
            Err(StoreError::Refused { refusal, .. }) => {
                assert_eq!(refusal.reason, Reason::QuantityExceeded, "attempt {i}")
            }
            Err(other) => panic!("attempt {i}: {other:?}"),
        }
    }
    assert_eq!(successes, 40);
    assert_eq!(
        f.store
            .voucher(f.project, "QUEUED")
            .unwrap()
            .redeemed_quantity,
        40
    );
    // A request the core's shape check refuses is answered too, at once.
    let (sender, reply) = std::sync::mpsc::channel();
    let mut bad = legacy("QUEUED", order("20"), None);
    bad.redeemables.clear();
    f.store.redeem_then(
        f.project,
        bad,
        Box::new(move |answer| sender.send(answer).unwrap()),
    );
    assert!(reply.recv().unwrap().is_err());
}
