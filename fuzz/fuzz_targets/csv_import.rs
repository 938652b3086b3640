//! The CSV import parser of vouchers
//! (`voucher_store_sqlite::parse_import_csv`, the parse half of
//! `BulkStore::import_vouchers_csv`).
//!
//! The first byte picks the project's currency and time zone and the
//! campaign's type (or a standalone import); the rest is the file. The
//! parse never panics; when the file has a header it accounts for every
//! record after it (rows that parse plus rows refused equal the records a
//! plain CSV reader finds), and the refused rows it lists are in row order,
//! numbered from 1, each once.
#![no_main]

use std::io::Cursor;

use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use voucher_core::money::Currency;
use voucher_core::voucher::CampaignType;
use voucher_store_sqlite::parse_import_csv;

/// Records after the header, as a plain flexible reader sees them.
fn data_records(file: &[u8]) -> Option<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut count = 0u64;
    while reader.read_byte_record(&mut record).ok()? {
        count += 1;
    }
    count.checked_sub(1)
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, file)) = data.split_first() else {
        return;
    };
    let currency =
        [Currency::EUR, Currency::JPY, Currency::KWD, Currency::USD][usize::from(setup & 3)];
    let time_zone = [
        Tz::UTC,
        Tz::Europe__Warsaw,
        Tz::Pacific__Kiritimati,
        Tz::America__St_Johns,
    ][usize::from(setup >> 2 & 3)];
    let campaign_type = [
        None,
        Some(CampaignType::DiscountCoupons),
        Some(CampaignType::GiftVouchers),
        None,
    ][usize::from(setup >> 4 & 3)];

    let result = parse_import_csv(&mut Cursor::new(file), currency, time_zone, campaign_type);
    let Ok(report) = result else {
        return;
    };
    let rows = data_records(file).expect("the import read a header the plain reader did not");
    assert_eq!(
        report.done_count + report.failed_count,
        rows,
        "rows unaccounted for: {report:?}"
    );
    assert!(report.failed.len() as u64 <= report.failed_count);
    let mut last = 0;
    for failure in &report.failed {
        assert!(failure.row > last, "failures out of order: {report:?}");
        assert!(failure.row <= rows);
        assert!(!failure.reason.is_empty());
        last = failure.row;
    }
});
