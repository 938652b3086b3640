//! CSV import and export of vouchers, and the export of redemptions.

use rust_decimal::Decimal;
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::money::{Currency, Money};
use voucher_core::port::{
    BenefitSpec, BulkStore, CampaignStore, ChannelType, CheckoutMode, CheckoutStore, ImportReport,
    ProjectId, RedemptionQuery, RedemptionResult, RollbackRequest, StoreError, VoucherQuery,
    VoucherRecord, VoucherStore,
};
use voucher_core::validity::Moment;
use voucher_core::value::Value;
use voucher_core::voucher::{Activity, RedemptionQuantity};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::checkout::{gift_card, legacy, order, request, voucher};
use crate::support::{fixture, other_project, t0, Fixture};

fn eur(text: &str) -> Money {
    Money::parse(text, Currency::EUR).unwrap()
}

fn amount_off(text: &str) -> BenefitSpec {
    BenefitSpec::Discount(
        Discount::new(
            DiscountValue::Amount {
                amount_off: eur(text),
            },
            Effect::ApplyToOrder,
        )
        .unwrap(),
    )
}

fn import(f: &Fixture, project: ProjectId, campaign: Option<&str>, csv: &str) -> ImportReport {
    f.store
        .import_vouchers_csv(project, campaign, &mut csv.as_bytes(), t0())
        .unwrap()
}

/// The refused rows of a report as `(row, code, reason contains)`.
fn check_failures(report: &ImportReport, expected: &[(u64, Option<&str>, &str)]) {
    let got: Vec<_> = report
        .failed
        .iter()
        .map(|f| (f.row, f.code.clone(), f.reason.clone()))
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for ((row, code, reason), (want_row, want_code, want_reason)) in got.iter().zip(expected) {
        assert_eq!(*row, *want_row, "{got:#?}");
        assert_eq!(code.as_deref(), *want_code, "{got:#?}");
        assert!(
            reason.contains(want_reason),
            "row {row}: {reason:?} lacks {want_reason:?}"
        );
    }
    assert_eq!(report.failed_count, expected.len() as u64);
}

/// Good rows, rows refused by the parse, and rows refused against the
/// store's state (an existing code's type, a missing voucher type).
const MIXED_ROWS: &str = "\
Code,Voucher Type,Value,Discount Type,Category,Start Date,Expiration Date,Redemption Limit,Redeemed Quantity,Redeemed Amount,Active,Additional Info,color
TEN,DISCOUNT_VOUCHER,10.00,AMOUNT,food,2026-04-01,2026-04-30,5,2,,true,hello,red
QUARTER,,25,PERCENT,,,,,,,,,
GIFT-1,GIFT_VOUCHER,50.00,,,,,,,20.00,false,,
,DISCOUNT_VOUCHER,1.00,AMOUNT,,,,,,,,,
BAD-VALUE,DISCOUNT_VOUCHER,abc,AMOUNT,,,,,,,,,
BAD-TYPE,DISCOUNT_VOUCHER,1.00,BOGUS,,,,,,,,,
BAD-DATES,DISCOUNT_VOUCHER,1.00,AMOUNT,,2026-05-01,2026-04-01,,,,,,
BAD-LIMIT,DISCOUNT_VOUCHER,1.00,AMOUNT,,,,2,3,,,,
TEN,DISCOUNT_VOUCHER,12.50,AMOUNT,food,2026-04-01,2026-04-30,5,2,,true,hello,blue
OLD-1,DISCOUNT_VOUCHER,7.00,AMOUNT,,,,,,,false,,
OLD-1,,10,PERCENT,,,,,,,,,
TOO-PRECISE,DISCOUNT_VOUCHER,1.005,AMOUNT,,,,,,,,,
NO-TYPE,,3.00,,,,,,,,,,
";

#[test]
fn good_rows_go_in_bad_rows_are_reported_and_existing_codes_updated() {
    let f = fixture();
    let existing = voucher_spec("OLD-1", amount_off("5.00"), RedemptionQuantity::Limited(3));
    f.store.create_voucher(f.project, &existing, t0()).unwrap();
    let csv = MIXED_ROWS;
    let report = import(&f, f.project, None, csv);
    check_failures(
        &report,
        &[
            (4, None, "missing code"),
            (5, Some("BAD-VALUE"), "not a number"),
            (6, Some("BAD-TYPE"), "unknown"),
            (7, Some("BAD-DATES"), "xpir"),
            (8, Some("BAD-LIMIT"), "above the redemption limit"),
            (11, Some("OLD-1"), "discount type"),
            (12, Some("TOO-PRECISE"), "1.005"),
            (13, Some("NO-TYPE"), "missing voucher type"),
        ],
    );
    assert_eq!(report.done_count, 5);

    // The second TEN row updated the first: no duplicate, the new value.
    let ten = f.store.voucher(f.project, "TEN").unwrap();
    assert_eq!(ten.benefit, amount_off("12.50"));
    assert_eq!(ten.quantity, RedemptionQuantity::Limited(5));
    assert_eq!(ten.redeemed_quantity, 2);
    assert_eq!(ten.category.as_deref(), Some("food"));
    assert_eq!(ten.additional_info.as_deref(), Some("hello"));
    assert_eq!(
        ten.validity.start,
        Some(Moment::parse("2026-04-01").unwrap())
    );
    assert_eq!(
        ten.validity.expiration,
        Some(Moment::parse("2026-04-30").unwrap())
    );
    assert_eq!(
        ten.metadata.get("color"),
        Some(&Value::Text("blue".to_owned()))
    );
    let quarter = f.store.voucher(f.project, "QUARTER").unwrap();
    assert_eq!(quarter.benefit, BenefitSpec::Discount(percent_off(25)));
    assert_eq!(quarter.quantity, RedemptionQuantity::Unlimited);
    assert!(quarter.metadata.is_empty(), "{:?}", quarter.metadata);
    let gift = f.store.voucher(f.project, "GIFT-1").unwrap();
    assert_eq!(gift.benefit, BenefitSpec::Gift { amount_minor: 5000 });
    assert_eq!(gift.gift_balance_minor, Some(3000));
    assert_eq!(gift.redeemed_amount_minor, 2000);
    assert_eq!(gift.activity, Activity::Disabled);
    // The existing code was updated in place (same id), not duplicated.
    let old = f.store.voucher(f.project, "OLD-1").unwrap();
    assert_eq!(old.benefit, amount_off("7.00"));
    assert_eq!(old.activity, Activity::Disabled);
    assert_eq!(old.quantity, RedemptionQuantity::Unlimited);
}

#[test]
fn the_parse_alone_refuses_the_rows_the_import_refuses_before_the_store() {
    // What `parse_import_csv` refuses, the import refuses with the same
    // row, code and reason; the rows it lets through may still be refused
    // against the store (rows 11 to 13 above).
    let report = voucher_store_sqlite::parse_import_csv(
        &mut MIXED_ROWS.as_bytes(),
        Currency::EUR,
        chrono_tz::Tz::UTC,
        None,
    )
    .unwrap();
    check_failures(
        &report,
        &[
            (4, None, "missing code"),
            (5, Some("BAD-VALUE"), "not a number"),
            (6, Some("BAD-TYPE"), "unknown"),
            (7, Some("BAD-DATES"), "xpir"),
            (8, Some("BAD-LIMIT"), "above the redemption limit"),
        ],
    );
    assert_eq!(report.done_count, 8);
    let f = fixture();
    let imported = import(&f, f.project, None, MIXED_ROWS);
    for failure in &report.failed {
        assert!(imported.failed.contains(failure), "{failure:?}");
    }
    // A file without a header is the import's error too.
    let empty = voucher_store_sqlite::parse_import_csv(
        &mut "".as_bytes(),
        Currency::EUR,
        chrono_tz::Tz::UTC,
        None,
    );
    assert!(matches!(
        empty,
        Err(StoreError::Invalid {
            key: "invalid_payload",
            ..
        })
    ));
}

#[test]
fn a_campaign_import_takes_the_campaigns_settings() {
    let f = fixture();
    let campaign = f
        .store
        .create_campaign(
            f.project,
            &campaign_spec("Spring", "SP-", 0, BenefitSpec::Discount(percent_off(25))),
            t0(),
        )
        .unwrap();
    f.store
        .create_voucher(
            f.project,
            &voucher_spec("LOOSE", amount_off("1.00"), RedemptionQuantity::Unlimited),
            t0(),
        )
        .unwrap();
    let csv = "\
code,category,active,Voucher Type,Value
CAMP-1,cats,,,
CAMP-2,,false,,
CAMP-3,,,GIFT_VOUCHER,
LOOSE,,,,
CAMP-4,,,,30
";
    let report = import(&f, f.project, Some("Spring"), csv);
    check_failures(
        &report,
        &[
            (3, Some("CAMP-3"), "does not match the campaign type"),
            (4, Some("LOOSE"), "outside the campaign"),
        ],
    );
    assert_eq!(report.done_count, 3);
    let one = f.store.voucher(f.project, "CAMP-1").unwrap();
    assert_eq!(one.benefit, BenefitSpec::Discount(percent_off(25)));
    assert_eq!(one.quantity, RedemptionQuantity::Limited(1));
    assert_eq!(
        one.campaign,
        Some((campaign.id.clone(), "Spring".to_owned()))
    );
    assert_eq!(one.category.as_deref(), Some("cats"));
    assert_eq!(
        f.store.voucher(f.project, "CAMP-2").unwrap().activity,
        Activity::Disabled
    );
    assert_eq!(
        f.store.voucher(f.project, "CAMP-4").unwrap().benefit,
        BenefitSpec::Discount(percent_off(30))
    );
    assert_eq!(
        f.store.campaign(f.project, "Spring").unwrap().codes_count,
        3
    );
    // The same file again updates: nothing new, nothing refused but the
    // same two rows.
    let again = import(&f, f.project, Some(&campaign.id), csv);
    assert_eq!((again.done_count, again.failed_count), (3, 2));
    assert_eq!(
        f.store.campaign(f.project, "Spring").unwrap().codes_count,
        3
    );
    // Codes imported without a value follow the campaign's discount, as
    // generated codes do; a value of their own stays theirs.
    let mut spec = f.store.campaign(f.project, "Spring").unwrap().spec;
    spec.template.benefit = BenefitSpec::Discount(percent_off(40));
    f.store
        .update_campaign(f.project, "Spring", &spec, t0())
        .unwrap();
    let benefit = |code: &str| f.store.voucher(f.project, code).unwrap().benefit;
    assert_eq!(benefit("CAMP-1"), BenefitSpec::Discount(percent_off(40)));
    assert_eq!(benefit("CAMP-4"), BenefitSpec::Discount(percent_off(30)));
    // Another project cannot import into this campaign.
    let other = other_project(&f);
    assert!(matches!(
        f.store
            .import_vouchers_csv(other, Some("Spring"), &mut csv.as_bytes(), t0()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn a_gift_cards_new_value_moves_its_balance_through_the_ledger() {
    let f = fixture();
    let csv = "Code,Voucher Type,Value,Redeemed Amount\nCARD,GIFT_VOUCHER,50.00,20.00\n";
    assert_eq!(import(&f, f.project, None, csv).done_count, 1);
    let card = |f: &Fixture| f.store.voucher(f.project, "CARD").unwrap();
    assert_eq!(card(&f).gift_balance_minor, Some(3000));
    // Up by 10: the balance follows; the redeemed amount of a known card is
    // the store's own.
    let report = import(
        &f,
        f.project,
        None,
        "Code,Value,Redeemed Amount\nCARD,60.00,0\n",
    );
    assert_eq!((report.done_count, report.failed_count), (1, 0));
    assert_eq!(card(&f).gift_balance_minor, Some(4000));
    assert_eq!(card(&f).redeemed_amount_minor, 2000);
    // Down by more than the balance: refused, nothing changed.
    let report = import(&f, f.project, None, "Code,Value\nCARD,10.00\n");
    check_failures(&report, &[(1, Some("CARD"), "gift amount exceeded")]);
    assert_eq!(card(&f).gift_balance_minor, Some(4000));
    assert_eq!(card(&f).benefit, BenefitSpec::Gift { amount_minor: 6000 });
    // Spent more than its value: refused at import.
    let report = import(
        &f,
        f.project,
        None,
        "Code,Voucher Type,Value,Redeemed Amount\nCARD-2,GIFT_VOUCHER,5.00,6.00\n",
    );
    check_failures(&report, &[(1, Some("CARD-2"), "redeemed amount")]);
}

#[test]
fn a_file_without_code_column_or_header_is_refused() {
    let f = fixture();
    for csv in ["", "Value,Category\n1.00,x\n", "Code,Code\nA,B\n"] {
        let result = f
            .store
            .import_vouchers_csv(f.project, None, &mut csv.as_bytes(), t0());
        assert!(
            matches!(
                result,
                Err(StoreError::Invalid {
                    key: "invalid_payload",
                    ..
                })
            ),
            "{csv:?}: {result:?}"
        );
    }
}

/// The fields an export carries, for comparing two projects' vouchers.
fn portable(v: &VoucherRecord) -> impl PartialEq + std::fmt::Debug {
    (
        v.code.clone(),
        v.benefit.clone(),
        v.gift_balance_minor,
        v.quantity,
        v.redeemed_quantity,
        v.redeemed_amount_minor,
        v.validity.clone(),
        v.activity,
        v.category.clone(),
        v.additional_info.clone(),
        v.metadata.clone(),
    )
}

fn export(f: &Fixture, project: ProjectId, query: &VoucherQuery) -> (u64, String) {
    let mut out = Vec::new();
    let n = f
        .store
        .export_vouchers_csv(project, query, &mut out)
        .unwrap();
    (n, String::from_utf8(out).unwrap())
}

#[test]
fn an_export_imports_into_a_new_project_as_the_same_codes() {
    let f = fixture();
    let campaign = f
        .store
        .create_campaign(
            f.project,
            &campaign_spec("Spring", "SP-", 20, BenefitSpec::Discount(percent_off(25))),
            t0(),
        )
        .unwrap();
    f.store
        .generate_codes(f.project, &campaign.id, 20, 1, t0())
        .unwrap();
    let csv = "\
Code,Voucher Type,Value,Discount Type,Category,Start Date,Expiration Date,Redemption Limit,Redeemed Quantity,Redeemed Amount,Active,Additional Info,note,Metadata,Gift Balance
A-1,DISCOUNT_VOUCHER,10.00,AMOUNT,food,2026-04-01,2026-04-30T21:59:00.000Z,5,2,,true,\"with, comma\",x,\"{\"\"n\"\": 3, \"\"list\"\": [\"\"a\"\"]}\"
A-2,DISCOUNT_VOUCHER,99.99,FIXED,,,,,,,false,,,
G-1,GIFT_VOUCHER,50.00,,,,,,,12.34,,,,
G-2,GIFT_VOUCHER,50.00,,,,,,,10.00,,,,,30.00
P-1,DISCOUNT_VOUCHER,12.5,PERCENT,,2026-01-01T10:00,,,,,,,\"line
break\",
";
    let report = import(&f, f.project, None, csv);
    assert_eq!(
        (report.done_count, report.failed_count),
        (5, 0),
        "{report:?}"
    );
    let g2 = f.store.voucher(f.project, "G-2").unwrap();
    assert_eq!(
        (g2.gift_balance_minor, g2.redeemed_amount_minor),
        (Some(3000), 1000)
    );
    let (written, exported) = export(&f, f.project, &VoucherQuery::default());
    assert_eq!(written, 25);
    assert_eq!(exported.lines().next().unwrap().split(',').count(), 17);

    let other = other_project(&f);
    let report = import(&f, other, None, &exported);
    assert_eq!(
        (report.done_count, report.failed_count),
        (25, 0),
        "{report:?}"
    );
    let (again_written, _) = export(&f, other, &VoucherQuery::default());
    assert_eq!(again_written, 25);
    for voucher in ["A-1", "A-2", "G-1", "G-2", "P-1"]
        .into_iter()
        .map(str::to_owned)
        .chain(f.store.vouchers_of(f.project, &campaign.id))
    {
        let before = f.store.voucher(f.project, &voucher).unwrap();
        let after = f.store.voucher(other, &voucher).unwrap();
        assert_eq!(portable(&before), portable(&after), "{voucher}");
    }
    let a1 = f.store.voucher(other, "A-1").unwrap();
    assert_eq!(a1.metadata.get("note"), Some(&Value::Text("x".to_owned())));
    assert_eq!(a1.metadata.get("n"), Some(&Value::Number(Decimal::from(3))));

    // A campaign's export holds its codes only.
    let query = VoucherQuery {
        campaign: Some("Spring".to_owned()),
        ..VoucherQuery::default()
    };
    let (n, text) = export(&f, f.project, &query);
    assert_eq!(n, 20);
    assert!(text.lines().skip(1).all(|l| l.starts_with("SP-")), "{text}");
    let query = VoucherQuery {
        active: Some(false),
        ..VoucherQuery::default()
    };
    assert_eq!(export(&f, f.project, &query).0, 1);
}

/// The codes of a campaign, through the export.
trait CampaignCodes {
    fn vouchers_of(&self, project: ProjectId, campaign: &str) -> Vec<String>;
}

impl CampaignCodes for voucher_store_sqlite::SqliteStore {
    fn vouchers_of(&self, project: ProjectId, campaign: &str) -> Vec<String> {
        let mut out = Vec::new();
        let query = VoucherQuery {
            campaign: Some(campaign.to_owned()),
            ..VoucherQuery::default()
        };
        self.export_vouchers_csv(project, &query, &mut out).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        reader
            .records()
            .map(|r| r.unwrap().get(0).unwrap().to_owned())
            .collect()
    }
}

/// The redemption export as rows of `(header, cell)` maps.
fn redemption_rows(
    f: &Fixture,
    project: ProjectId,
    query: &RedemptionQuery,
) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let n = f
        .store
        .export_redemptions_csv(project, query, &mut out)
        .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<(String, String)>> = reader
        .records()
        .map(|r| {
            headers
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    assert_eq!(rows.len() as u64, n);
    rows
}

fn cell<'r>(row: &'r [(String, String)], header: &str) -> &'r str {
    row.iter()
        .find(|(h, _)| h == header)
        .map(|(_, c)| c.as_str())
        .unwrap_or_else(|| panic!("no column {header}"))
}

#[test]
fn redemptions_export_with_their_filters() {
    let f = fixture();
    voucher(
        &f,
        "TEN",
        amount_off("10.00"),
        RedemptionQuantity::Limited(1),
    );
    gift_card(&f, "GIFT", 5000);
    voucher(&f, "A", amount_off("1.00"), RedemptionQuantity::Unlimited);
    voucher(&f, "B", amount_off("2.00"), RedemptionQuantity::Unlimited);
    let ten = f
        .store
        .redeem(f.project, &legacy("TEN", order("100.00"), Some("tom")))
        .unwrap();
    assert!(f
        .store
        .redeem(f.project, &legacy("TEN", order("100.00"), Some("tom")))
        .is_err());
    assert!(f
        .store
        .redeem(f.project, &legacy("NOPE", order("100.00"), None))
        .is_err());
    let gift = f
        .store
        .redeem(f.project, &legacy("GIFT", order("30.00"), Some("ann")))
        .unwrap();
    f.store
        .rollback(
            f.project,
            &RollbackRequest {
                redemption_id: gift.id.clone(),
                reason: None,
                tracking_id: None,
                metadata: Default::default(),
                channel: ChannelType::Api,
                now: t0(),
            },
        )
        .unwrap();
    f.store
        .redeem(
            f.project,
            &request(CheckoutMode::Stacked, &["A", "B"], order("50.00"), None),
        )
        .unwrap();

    let all = redemption_rows(&f, f.project, &RedemptionQuery::default());
    // Five uses: TEN, TEN refused, NOPE refused, GIFT, and the stack's two
    // children; the stack's parent is not a use.
    assert_eq!(all.len(), 6);
    let first = &all[0];
    assert_eq!(cell(first, "Id"), ten.id);
    assert_eq!(cell(first, "Date"), "2026-04-01T12:00:00.000Z");
    assert_eq!(cell(first, "Code"), "TEN");
    assert_eq!(cell(first, "Customer Source Id"), "tom");
    assert!(cell(first, "Customer Id").starts_with("cust_"));
    assert_eq!(cell(first, "Result"), "SUCCESS");
    assert_eq!(cell(first, "Discount"), "10.00");
    assert_eq!(cell(first, "Order Amount"), "100.00");
    assert_eq!(cell(first, "Channel"), "API");
    assert_eq!(cell(first, "Rolled Back"), "false");
    assert_eq!(cell(&all[1], "Failure Code"), "quantity_exceeded");
    assert_eq!(cell(&all[2], "Failure Code"), "resource_not_found");
    assert_eq!(cell(&all[3], "Amount"), "30.00");
    assert_eq!(cell(&all[3], "Rolled Back"), "true");
    assert_eq!([cell(&all[4], "Code"), cell(&all[5], "Code")], ["A", "B"]);

    let count = |query: RedemptionQuery| redemption_rows(&f, f.project, &query).len();
    assert_eq!(
        count(RedemptionQuery {
            result: Some(RedemptionResult::Failure),
            ..RedemptionQuery::default()
        }),
        2
    );
    assert_eq!(
        count(RedemptionQuery {
            failure_code: Some("resource_not_found".to_owned()),
            ..RedemptionQuery::default()
        }),
        1
    );
    assert_eq!(
        count(RedemptionQuery {
            code: Some("TEN".to_owned()),
            ..RedemptionQuery::default()
        }),
        2
    );
    assert_eq!(
        count(RedemptionQuery {
            customer: Some("ann".to_owned()),
            ..RedemptionQuery::default()
        }),
        1
    );
    let other = other_project(&f);
    assert!(redemption_rows(&f, other, &RedemptionQuery::default()).is_empty());
    // A customer the project does not know matches nothing, as in the list.
    let unknown = RedemptionQuery {
        customer: Some("tom".to_owned()),
        ..RedemptionQuery::default()
    };
    assert!(redemption_rows(&f, other, &unknown).is_empty());
}

/// Row `i` of a large import: codes of every kind in turn.
fn mixed_row(i: usize) -> String {
    match i % 3 {
        0 => format!(
            "C{i:08},DISCOUNT_VOUCHER,10.00,AMOUNT,bulk,2026-01-01,2026-12-31,1,0,,true,,gold\n"
        ),
        1 => format!("C{i:08},DISCOUNT_VOUCHER,15,PERCENT,bulk,,,5,1,,true,,\n"),
        _ => format!("C{i:08},GIFT_VOUCHER,25.00,,,,,,,5.00,true,,silver\n"),
    }
}

/// A large import: the header and `n` rows.
fn big_csv(n: usize) -> String {
    let mut csv = String::from(
        "Code,Voucher Type,Value,Discount Type,Category,Start Date,Expiration Date,\
         Redemption Limit,Redeemed Quantity,Redeemed Amount,Active,Additional Info,tier\n",
    );
    for i in 0..n {
        csv.push_str(&mixed_row(i));
    }
    csv
}

#[test]
fn a_large_import_spans_batches_and_keeps_row_numbers() {
    let f = fixture();
    let mut csv = big_csv(12_000);
    csv.push_str("C00000004,DISCOUNT_VOUCHER,1.00,AMOUNT,,,,,,,,,\n");
    csv.push_str("LAST,DISCOUNT_VOUCHER,-1,AMOUNT,,,,,,,,,\n");
    let report = import(&f, f.project, None, &csv);
    check_failures(
        &report,
        &[
            (12_001, Some("C00000004"), "discount type"),
            (12_002, Some("LAST"), "negative"),
        ],
    );
    assert_eq!(report.done_count, 12_000);
    let (n, _) = export(&f, f.project, &VoucherQuery::default());
    assert_eq!(n, 12_000);
}
