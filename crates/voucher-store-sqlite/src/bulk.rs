//! Bulk work in bounded memory ([`BulkStore`]): the CSV import of vouchers
//! (the importCSV columns of the wire reference §2.13) and the CSV exports
//! of vouchers and redemptions.
//!
//! The import reads the file as a stream, parses [`IMPORT_BATCH_ROWS`] rows
//! at a time on the caller's thread and hands each batch over a channel to
//! the writer, where one job (one transaction, prepared statements) writes
//! the batches as they come, up to [`IMPORT_TRANSACTION_ROWS`] rows. Parsing
//! the next batch overlaps writing this one, at most three batches are in
//! memory whatever the file's size, and the commits are few and large. A
//! new code costs one `INSERT ... ON CONFLICT DO NOTHING`; only a code that
//! already exists is read back, and updated.
//!
//! What a row means (money in major units, `10.00`, of the project's
//! currency):
//! - `Code` is required. `Voucher Type` is `DISCOUNT_VOUCHER` or
//!   `GIFT_VOUCHER` (inferred from `Discount Type` or the campaign when
//!   empty). `Value` is `amount_off` (AMOUNT), `percent_off` (PERCENT),
//!   `fixed_amount` (FIXED) or the gift amount (`Gift Amount` is accepted as
//!   its name too); in a campaign an empty value takes the campaign's. UNIT
//!   discounts cannot be imported (no column names their product).
//! - `Start Date`, `Expiration Date`: a date or an ISO 8601 instant
//!   (`2020-03-11`, `2020-03-11T09`, `...T09:00`, `...T09:00:00`, with or
//!   without `.SSS` and a zone; no zone means UTC).
//! - `Redemption Limit`: empty is the campaign's quantity, or unlimited.
//!   `Redeemed Quantity` and, for gift cards, `Redeemed Amount` and `Gift
//!   Balance` carry history over from another system: the card's ledger
//!   gets its value in and what was spent out, down to the balance given
//!   (else its value minus the redeemed amount). They are ignored for codes
//!   that already exist, whose counters are the store's own.
//! - `Active` (`true`/`false`, empty: true), `Category`, `Additional Info`.
//! - Every other column is a metadata key, its cell a text value (an empty
//!   cell leaves the key out), except the columns only the export writes:
//!   `Metadata` (the metadata as JSON, which the import reads back) and
//!   `Campaign`, `Holder`, `Created At` (ignored), so that an export imports
//!   again.
//!
//! A code that exists (in the same campaign, or standalone for a
//! standalone import) is updated: its value (never its type or discount
//! type; a gift card's new value moves its balance by a ledger entry), and
//! what the file has columns for among dates, limit, active, category and
//! additional info; a `Metadata` cell replaces its metadata, and metadata
//! columns set their keys (an empty cell removes its key). Each refused row
//! is reported with its 1-based row number (the header is row 0) and
//! reason, the first [`IMPORT_FAILURES_LISTED_MAX`] listed, all counted.
//!
//! An import is atomic per transaction, not as a whole: one that fails
//! midway (unreadable input, a full disk) returns the error and keeps the
//! transactions committed before it; importing the file again is safe (what
//! went in is updated to the same values).
//!
//! The exports take the filters of the voucher and redemption lists (all of
//! them; the paging is ignored: an export has every row) and iterate one
//! read transaction's rows straight into the CSV writer, oldest first,
//! never collecting them. They walk a list index in row-id order, so that
//! SQLite never sorts more than a list would (a sort of ten million rows
//! would be held in memory). Stacked parents are left out of the redemption
//! export: their children are the uses.

use std::io::{Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension};
use rust_decimal::Decimal;
use voucher_core::code_pattern::Code;
use voucher_core::discount::{default_effect, Discount, DiscountKind, DiscountValue, ItemTargets};
use voucher_core::ledger::{EntryKind, Ledger};
use voucher_core::limits::{CODES_PER_CAMPAIGN_MAX, METADATA_KEYS_MAX, REDEMPTION_QUANTITY_MAX};
use voucher_core::money::{Currency, Money};
use voucher_core::port::{
    BenefitSpec, BulkStore, ImportFailure, ImportReport, ProjectId, ProjectRecord, RedemptionQuery,
    StoreError, VoucherQuery,
};
use voucher_core::validity::{Moment, Validity};
use voucher_core::value::{Metadata, Value};
use voucher_core::voucher::{CampaignType, RedemptionQuantity};

use crate::catalog::{audit, campaign_row, campaign_row_by_id, expiry_instant, CampaignRow};
use crate::checkout::{redemption_filter, resolve};
use crate::encode::{from_json, from_ms, new_id, to_i64, to_json, to_ms};
use crate::error::SqlResult;
use crate::maintenance::ACTION_FAILURES_LISTED_MAX;
use crate::projects::load_project;
use crate::queries::voucher_listing;
use crate::SqliteStore;

/// Rows parsed together and handed to the writer as one batch.
const IMPORT_BATCH_ROWS: usize = 1_000;
/// Batches parsed ahead of the writer.
const IMPORT_BATCHES_QUEUED: usize = 4;
/// Rows written in one transaction (one writer job, several batches): a
/// commit rewrites every page it changed, and the pages of the code index
/// a batch changes are random, so few big commits write far less than
/// many small ones (5 000 rows a commit imported 36 k rows/s, 50 000 rows
/// 113 k/s).
const IMPORT_TRANSACTION_ROWS: usize = 50_000;
/// Longest a transaction waits for the parser's next batch before it
/// commits what it has: the writer is held meanwhile, and a slow input
/// (an upload) must not hold it.
const IMPORT_BATCH_WAIT: Duration = Duration::from_millis(50);
/// Refused rows listed in an import report (all are counted).
pub(crate) const IMPORT_FAILURES_LISTED_MAX: usize = ACTION_FAILURES_LISTED_MAX;
/// Longest text cell an import takes (category, additional info,
/// metadata).
const IMPORT_TEXT_LEN_MAX: usize = 4_096;
/// Longest `Metadata` cell (a JSON object) an import takes.
const IMPORT_METADATA_LEN_MAX: usize = 65_536;

// ---------------------------------------------------------------------------
// Import: the file's columns

/// A standard column of the importCSV format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Code,
    VoucherType,
    Value,
    DiscountType,
    Category,
    StartDate,
    ExpirationDate,
    RedemptionLimit,
    RedeemedQuantity,
    RedeemedAmount,
    Active,
    AdditionalInfo,
    Metadata,
    GiftBalance,
}

const FIELDS: usize = 14;

impl Field {
    /// The field a header names, compared without case, spaces and
    /// underscores (`Start Date`, `start_date`); `Err` for a column the
    /// export writes but the import ignores; `Ok(None)` for metadata.
    fn of_header(header: &str) -> Result<Option<Field>, ()> {
        let name: String = header
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Ok(Some(match name.as_str() {
            "code" => Field::Code,
            "vouchertype" => Field::VoucherType,
            "value" | "giftamount" => Field::Value,
            "discounttype" => Field::DiscountType,
            "category" => Field::Category,
            "startdate" => Field::StartDate,
            "expirationdate" => Field::ExpirationDate,
            "redemptionlimit" => Field::RedemptionLimit,
            "redeemedquantity" => Field::RedeemedQuantity,
            "redeemedamount" => Field::RedeemedAmount,
            "active" => Field::Active,
            "additionalinfo" => Field::AdditionalInfo,
            "metadata" => Field::Metadata,
            "giftbalance" => Field::GiftBalance,
            "campaign" | "holder" | "createdat" => return Err(()),
            _ => return Ok(None),
        }))
    }
}

/// Where each column of the file is.
#[derive(Debug)]
struct Columns {
    fields: [Option<usize>; FIELDS],
    /// Metadata columns: index and key.
    metadata: Vec<(usize, String)>,
    width: usize,
}

fn invalid_csv(message: String) -> StoreError {
    StoreError::Invalid {
        key: "invalid_payload",
        message,
    }
}

impl Columns {
    fn parse(header: &csv::ByteRecord) -> Result<Columns, StoreError> {
        let mut columns = Columns {
            fields: [None; FIELDS],
            metadata: Vec::new(),
            width: header.len(),
        };
        for (i, raw) in header.iter().enumerate() {
            let text = std::str::from_utf8(raw)
                .map_err(|_| invalid_csv(format!("header {} is not UTF-8", i + 1)))?;
            let text = text.trim_start_matches('\u{feff}').trim();
            match Field::of_header(text) {
                Ok(Some(field)) => {
                    let slot = &mut columns.fields[field as usize];
                    if slot.is_some() {
                        return Err(invalid_csv(format!("the column {text:?} appears twice")));
                    }
                    *slot = Some(i);
                }
                Ok(None) => {
                    if text.is_empty() {
                        return Err(invalid_csv(format!("header {} is empty", i + 1)));
                    }
                    if columns.metadata.iter().any(|(_, key)| key == text) {
                        return Err(invalid_csv(format!("the column {text:?} appears twice")));
                    }
                    if columns.metadata.len() >= METADATA_KEYS_MAX {
                        return Err(invalid_csv(format!(
                            "more than {METADATA_KEYS_MAX} metadata columns"
                        )));
                    }
                    columns.metadata.push((i, text.to_owned()));
                }
                Err(()) => {}
            }
        }
        if columns.fields[Field::Code as usize].is_none() {
            return Err(invalid_csv("the CSV has no Code column".to_owned()));
        }
        Ok(columns)
    }

    /// The trimmed cell of `field`, `None` when absent or empty.
    fn cell<'r>(
        &self,
        record: &'r csv::ByteRecord,
        field: Field,
    ) -> Result<Option<&'r str>, String> {
        match self.fields[field as usize] {
            None => Ok(None),
            Some(i) => {
                let max = match field {
                    Field::Metadata => IMPORT_METADATA_LEN_MAX,
                    _ => IMPORT_TEXT_LEN_MAX,
                };
                text_cell(record, i, max)
            }
        }
    }
}

fn text_cell(record: &csv::ByteRecord, i: usize, max: usize) -> Result<Option<&str>, String> {
    let Some(raw) = record.get(i) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(raw).map_err(|_| format!("column {} is not UTF-8", i + 1))?;
    let text = text.trim();
    if text.len() > max {
        return Err(format!("column {} is longer than {max} bytes", i + 1));
    }
    Ok(if text.is_empty() { None } else { Some(text) })
}

// ---------------------------------------------------------------------------
// Import: one row, parsed

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VoucherType {
    Discount,
    Gift,
}

/// A row with every cell checked; what depends on the stored state (the
/// campaign's template, an existing code) is resolved by the writer job.
#[derive(Debug)]
struct ParsedRow {
    row: u64,
    code: Code,
    voucher_type: Option<VoucherType>,
    discount_kind: Option<DiscountKind>,
    /// The value as a non-negative decimal, read by type later.
    value: Option<Decimal>,
    start: Option<Moment>,
    expiration: Option<Moment>,
    limit: Option<RedemptionQuantity>,
    redeemed_quantity: u64,
    redeemed_amount_minor: i64,
    gift_balance_minor: Option<i64>,
    active: Option<bool>,
    category: Option<String>,
    additional_info: Option<String>,
    /// The `Metadata` column's object.
    metadata_json: Option<Metadata>,
    /// Metadata columns: a key and its text, `None` for an empty cell.
    metadata_cells: Vec<(usize, Option<String>)>,
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let bad = || format!("{text:?} is not a number");
    let valid = text
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && (b == b'-' || b == b'+')));
    if !valid || text.len() > 40 {
        return Err(bad());
    }
    let value = Decimal::from_str_exact(text).map_err(|_| bad())?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!("{text:?} is negative"));
    }
    Ok(value)
}

fn parse_count(text: &str, what: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .map_err(|_| format!("{what} {text:?} is not a whole number"))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("active {text:?} is not true or false")),
    }
}

/// A date or instant in the forms Voucherify's import takes; no zone is
/// UTC.
fn parse_moment(text: &str, what: &str) -> Result<Moment, String> {
    let bytes = text.as_bytes();
    let zoneless_suffix = match bytes.len() {
        13 if bytes[10] == b'T' => Some(":00:00Z"),
        16 if bytes[10] == b'T' => Some(":00Z"),
        19 | 23 if bytes[10] == b'T' => Some("Z"),
        _ => None,
    };
    let parsed = match zoneless_suffix {
        Some(suffix) => Moment::parse(&format!("{text}{suffix}")),
        None => Moment::parse(text),
    };
    parsed.map_err(|_| format!("{what} {text:?} is not a date"))
}

fn money_minor(value: Decimal, currency: Currency) -> Result<i64, String> {
    Money::new(value, currency)
        .and_then(|m| m.to_minor())
        .map_err(|e| format!("amount {value}: {e}"))
}

/// What the parse of a file needs to know.
#[derive(Debug)]
struct ParseContext {
    columns: Columns,
    currency: Currency,
    tz: Tz,
    campaign_type: Option<CampaignType>,
}

fn parse_row(
    ctx: &ParseContext,
    record: &csv::ByteRecord,
    row: u64,
) -> Result<ParsedRow, (Option<String>, String)> {
    let columns = &ctx.columns;
    let code_text = columns
        .cell(record, Field::Code)
        .map_err(|e| (None, e))?
        .ok_or((None, "missing code".to_owned()))?;
    let with_code = |reason: String| (Some(code_text.to_owned()), reason);
    let code = Code::parse(code_text).map_err(|e| with_code(e.to_string()))?;
    parse_cells(ctx, record, row, code).map_err(with_code)
}

fn parse_cells(
    ctx: &ParseContext,
    record: &csv::ByteRecord,
    row: u64,
    code: Code,
) -> Result<ParsedRow, String> {
    let columns = &ctx.columns;
    if record.len() > columns.width {
        return Err(format!(
            "{} cells where the header has {}",
            record.len(),
            columns.width
        ));
    }
    let voucher_type = match columns.cell(record, Field::VoucherType)? {
        None => None,
        Some(text) => Some(match text.to_ascii_uppercase().as_str() {
            "DISCOUNT_VOUCHER" => VoucherType::Discount,
            "GIFT_VOUCHER" => VoucherType::Gift,
            _ => return Err(format!("voucher type {text:?} cannot be imported")),
        }),
    };
    let discount_kind = match columns.cell(record, Field::DiscountType)? {
        None => None,
        Some(text) => Some(match text.to_ascii_uppercase().as_str() {
            "AMOUNT" => DiscountKind::Amount,
            "PERCENT" => DiscountKind::Percent,
            "FIXED" => DiscountKind::Fixed,
            "UNIT" => return Err("UNIT discounts cannot be imported from CSV".to_owned()),
            _ => return Err(format!("discount type {text:?} is unknown")),
        }),
    };
    if voucher_type == Some(VoucherType::Gift) && discount_kind.is_some() {
        return Err("a gift voucher has no discount type".to_owned());
    }
    let row_type = voucher_type.or(discount_kind.map(|_| VoucherType::Discount));
    if let (Some(row_type), Some(campaign_type)) = (row_type, ctx.campaign_type) {
        let matches = matches!(
            (row_type, campaign_type),
            (VoucherType::Discount, CampaignType::DiscountCoupons)
                | (VoucherType::Gift, CampaignType::GiftVouchers)
        );
        if !matches {
            return Err("voucher type does not match the campaign type".to_owned());
        }
    }
    let value = columns
        .cell(record, Field::Value)?
        .map(parse_decimal)
        .transpose()?;
    let start = columns
        .cell(record, Field::StartDate)?
        .map(|t| parse_moment(t, "start date"))
        .transpose()?;
    let expiration = columns
        .cell(record, Field::ExpirationDate)?
        .map(|t| parse_moment(t, "expiration date"))
        .transpose()?;
    let validity = Validity {
        start,
        expiration,
        ..Validity::default()
    };
    validity.check(ctx.tz).map_err(|e| e.to_string())?;
    let limit = match columns.cell(record, Field::RedemptionLimit)? {
        None => None,
        Some(text) => {
            let n = parse_count(text, "redemption limit")?;
            if n == 0 || n > REDEMPTION_QUANTITY_MAX {
                return Err(format!(
                    "redemption limit must be between 1 and {REDEMPTION_QUANTITY_MAX}"
                ));
            }
            Some(RedemptionQuantity::Limited(n))
        }
    };
    let redeemed_quantity = columns
        .cell(record, Field::RedeemedQuantity)?
        .map(|t| parse_count(t, "redeemed quantity"))
        .transpose()?
        .unwrap_or(0);
    if let Some(RedemptionQuantity::Limited(n)) = limit {
        if redeemed_quantity > n {
            return Err(format!(
                "redeemed quantity {redeemed_quantity} is above the redemption limit {n}"
            ));
        }
    }
    let redeemed_amount_minor = match columns.cell(record, Field::RedeemedAmount)? {
        None => 0,
        Some(text) => money_minor(parse_decimal(text)?, ctx.currency)?,
    };
    let gift_balance_minor = columns
        .cell(record, Field::GiftBalance)?
        .map(|text| money_minor(parse_decimal(text)?, ctx.currency))
        .transpose()?;
    let active = columns
        .cell(record, Field::Active)?
        .map(parse_bool)
        .transpose()?;
    let category = columns.cell(record, Field::Category)?.map(str::to_owned);
    let additional_info = columns
        .cell(record, Field::AdditionalInfo)?
        .map(str::to_owned);
    let metadata_json = match columns.cell(record, Field::Metadata)? {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Metadata>(text)
                .map_err(|e| format!("metadata is not a JSON object: {e}"))?,
        ),
    };
    let mut metadata_cells = Vec::with_capacity(columns.metadata.len());
    for (slot, (i, _)) in columns.metadata.iter().enumerate() {
        metadata_cells.push((
            slot,
            text_cell(record, *i, IMPORT_TEXT_LEN_MAX)?.map(str::to_owned),
        ));
    }
    Ok(ParsedRow {
        row,
        code,
        voucher_type,
        discount_kind,
        value,
        start,
        expiration,
        limit,
        redeemed_quantity,
        redeemed_amount_minor,
        gift_balance_minor,
        active,
        category,
        additional_info,
        metadata_json,
        metadata_cells,
    })
}

/// The import's CSV reader: no header handling of its own (the first
/// record is read as the header by [`read_columns`]), rows of any width.
fn import_reader(input: &mut dyn Read) -> csv::Reader<&mut dyn Read> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// Reads the header, the first record, into the file's [`Columns`].
fn read_columns(
    reader: &mut csv::Reader<&mut dyn Read>,
    record: &mut csv::ByteRecord,
) -> Result<Columns, StoreError> {
    let has_header = reader.read_byte_record(record).map_err(read_error)?;
    if !has_header {
        return Err(invalid_csv(
            "the CSV is empty: it needs a header".to_owned(),
        ));
    }
    Columns::parse(record)
}

/// Parses a voucher-import CSV as [`BulkStore::import_vouchers_csv`] does,
/// without a database and writing nothing: the header, then every row with
/// the checks that need no stored state (a code's existence, the
/// campaign's template and the gift ledger are the writer's). `done_count`
/// counts the rows that parse, `failed` lists the first
/// [`IMPORT_FAILURES_LISTED_MAX`] refused rows with the reasons the import
/// would give. `currency`, `time_zone` and `campaign_type` are the
/// project's and campaign's (`None`: a standalone import). For the fuzz
/// target `fuzz/fuzz_targets/csv_import.rs` and tests; an unreadable or
/// headerless file is the same error as the import's.
pub fn parse_import_csv(
    input: &mut dyn Read,
    currency: Currency,
    time_zone: Tz,
    campaign_type: Option<CampaignType>,
) -> Result<ImportReport, StoreError> {
    let mut reader = import_reader(input);
    let mut record = csv::ByteRecord::new();
    let columns = read_columns(&mut reader, &mut record)?;
    let ctx = ParseContext {
        columns,
        currency,
        tz: time_zone,
        campaign_type,
    };
    let mut report = ImportReport::default();
    let mut row = 0u64;
    while reader.read_byte_record(&mut record).map_err(read_error)? {
        row += 1;
        match parse_row(&ctx, &record, row) {
            Ok(_) => report.done_count += 1,
            Err((code, reason)) => {
                report.failed_count += 1;
                if report.failed.len() < IMPORT_FAILURES_LISTED_MAX {
                    report.failed.push(ImportFailure { row, code, reason });
                }
            }
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------------------
// Import: the writer job

/// What a batch job knows besides its rows.
#[derive(Debug)]
struct Batch {
    project: ProjectId,
    campaign_id: Option<i64>,
    campaign_ext_id: Option<String>,
    /// Which optional columns the file has.
    has: [bool; FIELDS],
    metadata_keys: Vec<String>,
    now: DateTime<Utc>,
}

/// The row's metadata on top of `base`: the JSON column replaces, the
/// metadata columns set (or, empty, remove) their keys.
fn merged_metadata(batch: &Batch, row: &ParsedRow, base: Metadata) -> Result<Metadata, String> {
    let mut metadata = row.metadata_json.clone().unwrap_or(base);
    for (slot, cell) in &row.metadata_cells {
        let key = &batch.metadata_keys[*slot];
        match cell {
            Some(text) => {
                metadata.insert(key.clone(), Value::Text(text.clone()));
            }
            None => {
                metadata.remove(key);
            }
        }
    }
    if metadata.len() > METADATA_KEYS_MAX {
        return Err(format!("more than {METADATA_KEYS_MAX} metadata keys"));
    }
    Ok(metadata)
}

/// A discount value of `kind` worth `value`; a percent keeps the cap of
/// `like` when it is a percent too.
fn discount_value(
    kind: DiscountKind,
    value: Decimal,
    currency: Currency,
    like: Option<&DiscountValue>,
) -> Result<DiscountValue, String> {
    let money = || Money::new(value, currency).map_err(|e| format!("value {value}: {e}"));
    Ok(match kind {
        DiscountKind::Amount => DiscountValue::Amount {
            amount_off: money()?,
        },
        DiscountKind::Percent => DiscountValue::Percent {
            percent_off: value,
            amount_limit: match like {
                Some(DiscountValue::Percent { amount_limit, .. }) => *amount_limit,
                _ => None,
            },
        },
        DiscountKind::Fixed => DiscountValue::Fixed {
            fixed_amount: money()?,
        },
        DiscountKind::Unit => return Err("UNIT discounts cannot be imported from CSV".to_owned()),
    })
}

/// `value` of `kind`, with the effect of `like` (the campaign's or the
/// existing code's discount) when it is of the same kind, else the
/// default.
fn discount_like(
    kind: DiscountKind,
    value: Decimal,
    currency: Currency,
    like: Option<&Discount>,
) -> Result<Discount, String> {
    let like = like.filter(|d| d.value().kind() == kind);
    let value = discount_value(kind, value, currency, like.map(Discount::value))?;
    let effect = like
        .map(Discount::effect)
        .unwrap_or_else(|| default_effect(&value, ItemTargets::Undefined));
    Discount::new(value, effect).map_err(|e| e.to_string())
}

/// What a new code from this row is worth.
fn new_benefit(
    row: &ParsedRow,
    campaign: Option<&CampaignRow>,
    currency: Currency,
) -> Result<BenefitSpec, String> {
    let template = campaign.map(|c| &c.record.spec.template.benefit);
    let voucher_type = row
        .voucher_type
        .or(row.discount_kind.map(|_| VoucherType::Discount))
        .or(template.map(|t| match t {
            BenefitSpec::Discount(_) => VoucherType::Discount,
            BenefitSpec::Gift { .. } => VoucherType::Gift,
        }))
        .ok_or("missing voucher type")?;
    match voucher_type {
        VoucherType::Gift => {
            let amount_minor = match (row.value, template) {
                (Some(value), _) => money_minor(value, currency)?,
                (None, Some(BenefitSpec::Gift { amount_minor })) => *amount_minor,
                (None, _) => return Err("missing value".to_owned()),
            };
            Ok(BenefitSpec::Gift { amount_minor })
        }
        VoucherType::Discount => {
            let template = match template {
                Some(BenefitSpec::Discount(d)) => Some(d),
                _ => None,
            };
            let kind = row
                .discount_kind
                .or(template.map(|d| d.value().kind()))
                .ok_or("missing discount type")?;
            match (row.value, template) {
                (Some(value), _) => Ok(BenefitSpec::Discount(discount_like(
                    kind, value, currency, template,
                )?)),
                (None, Some(t)) if t.value().kind() == kind => Ok(BenefitSpec::Discount(t.clone())),
                (None, _) => Err("missing value".to_owned()),
            }
        }
    }
}

/// The JSON of the last discount encoded, reused while rows repeat it (a
/// file's rows usually share their discount).
#[derive(Debug, Default)]
struct DiscountJson {
    last: Option<(Discount, String)>,
}

impl DiscountJson {
    fn encode(&mut self, discount: &Discount) -> Result<&str, StoreError> {
        let hit = matches!(&self.last, Some((d, _)) if d == discount);
        if !hit {
            self.last = Some((discount.clone(), to_json(discount)?));
        }
        Ok(self.last.as_ref().map_or("", |(_, json)| json.as_str()))
    }
}

/// The columns of a validity: its JSON, and the instants it starts and
/// expires at in the zone.
#[derive(Debug)]
struct ValidityColumns {
    json: Option<String>,
    start_ms: Option<i64>,
    expire_ms: Option<i64>,
}

/// The last validity's columns, reused while rows repeat their dates.
#[derive(Debug, Default)]
struct ValidityCache {
    last: Option<(Validity, ValidityColumns)>,
}

impl ValidityCache {
    fn encode(&mut self, validity: &Validity, tz: Tz) -> Result<&ValidityColumns, StoreError> {
        let hit = matches!(&self.last, Some((v, _)) if v == validity);
        if !hit {
            let columns = ValidityColumns {
                // No validity of its own is stored as none (NULL).
                json: match validity == &Validity::default() {
                    true => None,
                    false => Some(to_json(validity)?),
                },
                start_ms: validity.start.and_then(|m| m.start_instant(tz)).map(to_ms),
                expire_ms: expiry_instant(validity, tz).map(to_ms),
            };
            self.last = Some((validity.clone(), columns));
        }
        self.last
            .as_ref()
            .map(|(_, columns)| columns)
            .ok_or_else(|| StoreError::Io("validity cache is empty".to_owned()))
    }
}

/// A refused row, or a failure that aborts the job.
enum RowError {
    Refused(String),
    Store(StoreError),
}

impl From<StoreError> for RowError {
    fn from(e: StoreError) -> RowError {
        RowError::Store(e)
    }
}

impl From<String> for RowError {
    fn from(reason: String) -> RowError {
        RowError::Refused(reason)
    }
}

/// Maps a write error: a broken constraint refuses the row (a check this
/// module missed), anything else aborts.
fn constraint_or_abort(e: rusqlite::Error) -> RowError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => RowError::Refused(e.to_string()),
        _ => RowError::Store(crate::error::map(e)),
    }
}

/// The state of a batch job: statements' caches and counts.
struct Importer<'c> {
    conn: &'c Connection,
    batch: &'c Batch,
    project: ProjectRecord,
    campaign: Option<CampaignRow>,
    tz: Tz,
    codes_in_campaign: u64,
    inserted: u64,
    insert: rusqlite::CachedStatement<'c>,
    discounts: DiscountJson,
    validities: ValidityCache,
    empty_metadata: String,
}

/// A new code, or nothing when the code exists.
const INSERT_VOUCHER: &str = "INSERT INTO vouchers (project_id, ext_id, code, campaign_id, type,
        discount, gift_amount, gift_balance, quantity, redeemed_quantity, redeemed_amount, active,
        validity, start_at, expire_at, category, additional_info, metadata, created_at,
        updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?19)
    ON CONFLICT (project_id, code) DO NOTHING";

/// A code that exists, as an update needs it.
struct Existing {
    id: i64,
    ext_id: String,
    campaign_id: Option<i64>,
    benefit: BenefitSpec,
    gift_balance: Option<i64>,
    quantity: RedemptionQuantity,
    redeemed_quantity: u64,
    validity: Validity,
    /// The code has no discount of its own: its campaign's.
    template_discount: bool,
    active: bool,
    category: Option<String>,
    additional_info: Option<String>,
    metadata: Metadata,
}

impl Importer<'_> {
    fn has(&self, field: Field) -> bool {
        self.batch.has[field as usize]
    }

    /// Inserts or updates one row; `Ok(())` when it went in.
    fn import(&mut self, row: &ParsedRow) -> Result<(), RowError> {
        let new = new_benefit(row, self.campaign.as_ref(), self.project.spec.currency);
        let full = self.campaign.is_some() && self.codes_in_campaign >= CODES_PER_CAMPAIGN_MAX;
        if let (Ok(benefit), false) = (&new, full) {
            if self.insert(row, benefit)? {
                return Ok(());
            }
        }
        match self.existing(&row.code)? {
            Some(existing) => self.update(row, existing),
            None if full => Err(RowError::Refused(format!(
                "the campaign has the most codes allowed ({CODES_PER_CAMPAIGN_MAX})"
            ))),
            None => Err(RowError::Refused(new.err().unwrap_or_default())),
        }
    }

    /// Inserts a new code; `false` when the code exists.
    fn insert(&mut self, row: &ParsedRow, benefit: &BenefitSpec) -> Result<bool, RowError> {
        let currency = self.project.spec.currency;
        let template = self.campaign.as_ref().map(|c| &c.record.spec.template);
        let quantity = row
            .limit
            .or(template.map(|t| t.quantity))
            .unwrap_or(RedemptionQuantity::Unlimited);
        if let RedemptionQuantity::Limited(n) = quantity {
            if row.redeemed_quantity > n {
                return Err(RowError::Refused(format!(
                    "redeemed quantity {} is above the redemption limit {n}",
                    row.redeemed_quantity
                )));
            }
        }
        let (kind, discount, gift) = match benefit {
            BenefitSpec::Discount(d) => ("DISCOUNT_VOUCHER", Some(d), None),
            BenefitSpec::Gift { amount_minor } => {
                // The card's history as the ledger folds it: its amount in,
                // what was spent elsewhere out (down to the balance given,
                // else by the redeemed amount).
                let mut ledger = Ledger::new(currency);
                let mut entries = Vec::with_capacity(2);
                if *amount_minor > 0 {
                    entries.push(
                        ledger
                            .append(EntryKind::Addition, *amount_minor)
                            .map_err(|e| e.to_string())?,
                    );
                }
                let spent = match row.gift_balance_minor {
                    Some(balance) if balance > *amount_minor => {
                        return Err(RowError::Refused(
                            "gift balance is above the gift's value".to_owned(),
                        ))
                    }
                    Some(balance) => amount_minor - balance,
                    None => row.redeemed_amount_minor,
                };
                if spent > 0 {
                    entries.push(
                        ledger
                            .append(EntryKind::Removal, spent)
                            .map_err(|e| format!("redeemed amount: {e}"))?,
                    );
                }
                (
                    "GIFT_VOUCHER",
                    None,
                    Some((*amount_minor, ledger.balance_minor(), entries)),
                )
            }
        };
        // A code given no value in a campaign follows the campaign's
        // discount (NULL, as generated codes do).
        let discount = match discount {
            Some(_) if self.campaign.is_some() && row.value.is_none() => None,
            Some(d) => Some(self.discounts.encode(d)?),
            None => None,
        };
        let validity = Validity {
            start: row.start,
            expiration: row.expiration,
            ..Validity::default()
        };
        let validity = self.validities.encode(&validity, self.tz)?;
        let metadata_given =
            row.metadata_json.is_some() || row.metadata_cells.iter().any(|(_, c)| c.is_some());
        let metadata = if metadata_given {
            Some(to_json(&merged_metadata(
                self.batch,
                row,
                Metadata::new(),
            )?)?)
        } else {
            None
        };
        let quantity_column = match quantity {
            RedemptionQuantity::Limited(n) => Some(to_i64(n)?),
            RedemptionQuantity::Unlimited => None,
        };
        let inserted = self
            .insert
            .execute(params![
                self.batch.project.0,
                new_id("v_"),
                row.code.as_str(),
                self.batch.campaign_id,
                kind,
                discount,
                gift.as_ref().map(|g| g.0),
                gift.as_ref().map(|g| g.1),
                quantity_column,
                to_i64(row.redeemed_quantity)?,
                if gift.is_some() {
                    row.redeemed_amount_minor
                } else {
                    0
                },
                row.active.unwrap_or(true),
                validity.json,
                validity.start_ms,
                validity.expire_ms,
                row.category,
                row.additional_info,
                metadata.as_deref().unwrap_or(&self.empty_metadata),
                to_ms(self.batch.now)
            ])
            .map_err(constraint_or_abort)?;
        if inserted == 0 {
            return Ok(false);
        }
        let id = self.conn.last_insert_rowid();
        if let Some((_, _, entries)) = gift {
            for (entry, reason) in entries
                .iter()
                .zip(["initial amount", "redeemed before import"])
            {
                self.ledger_entry(id, entry, reason)?;
            }
        }
        self.inserted += 1;
        self.codes_in_campaign += 1;
        Ok(true)
    }

    fn ledger_entry(
        &self,
        voucher: i64,
        entry: &voucher_core::ledger::Entry,
        reason: &str,
    ) -> Result<(), StoreError> {
        let kind = match entry.kind {
            EntryKind::Redemption => "REDEMPTION",
            EntryKind::Refund => "REFUND",
            EntryKind::Addition => "ADDITION",
            EntryKind::Removal => "REMOVAL",
        };
        self.conn
            .prepare_cached(
                "INSERT INTO gift_ledger (project_id, ext_id, voucher_id, kind, amount,
                                          balance_after, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .store()?
            .execute(params![
                self.batch.project.0,
                new_id("vtx_"),
                voucher,
                kind,
                entry.amount_minor,
                entry.balance_after_minor,
                reason,
                to_ms(self.batch.now)
            ])
            .store()?;
        Ok(())
    }

    fn existing(&self, code: &Code) -> Result<Option<Existing>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT v.id, v.ext_id, v.campaign_id, v.type,
                        COALESCE(v.discount, c.template_discount), v.gift_amount, v.gift_balance,
                        v.quantity, v.redeemed_quantity, v.validity, v.active, v.category,
                        v.additional_info, v.metadata, v.discount IS NULL
                 FROM vouchers v LEFT JOIN campaigns c ON c.id = v.campaign_id
                 WHERE v.project_id = ?1 AND v.code = ?2",
            )
            .store()?
            .query_row(params![self.batch.project.0, code.as_str()], |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ),
                    (
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, bool>(10)?,
                        r.get::<_, Option<String>>(11)?,
                        r.get::<_, Option<String>>(12)?,
                        r.get::<_, String>(13)?,
                    ),
                    r.get::<_, bool>(14)?,
                ))
            })
            .optional()
            .store()?;
        let Some((a, b, template_discount)) = found else {
            return Ok(None);
        };
        let (id, ext_id, campaign_id, kind, discount, gift_amount, gift_balance) = a;
        let (quantity, redeemed, validity, active, category, additional_info, metadata) = b;
        let benefit = match (kind.as_str(), discount, gift_amount) {
            ("DISCOUNT_VOUCHER", Some(d), _) => BenefitSpec::Discount(from_json(&d)?),
            ("GIFT_VOUCHER", _, Some(amount_minor)) => BenefitSpec::Gift { amount_minor },
            (other, _, _) => {
                return Err(StoreError::Corrupt(format!(
                    "voucher {ext_id}: type {other:?}"
                )))
            }
        };
        Ok(Some(Existing {
            id,
            ext_id,
            campaign_id,
            benefit,
            gift_balance,
            quantity: match quantity {
                Some(q) => RedemptionQuantity::Limited(crate::encode::count(q)?),
                None => RedemptionQuantity::Unlimited,
            },
            redeemed_quantity: crate::encode::count(redeemed)?,
            validity: match validity {
                Some(text) => from_json(&text)?,
                None => Validity::default(),
            },
            template_discount,
            active,
            category,
            additional_info,
            metadata: from_json(&metadata)?,
        }))
    }

    /// Updates an existing code from its row.
    fn update(&mut self, row: &ParsedRow, existing: Existing) -> Result<(), RowError> {
        let currency = self.project.spec.currency;
        if existing.campaign_id != self.batch.campaign_id {
            return Err(RowError::Refused(match existing.campaign_id {
                Some(_) => "the code exists in another campaign".to_owned(),
                None => "the code exists outside the campaign".to_owned(),
            }));
        }
        let mut benefit = existing.benefit.clone();
        let mut balance_change = None;
        match (&existing.benefit, row.voucher_type) {
            (BenefitSpec::Discount(_), Some(VoucherType::Gift))
            | (BenefitSpec::Gift { .. }, Some(VoucherType::Discount)) => {
                return Err(RowError::Refused(
                    "It is not possible to change Voucher type".to_owned(),
                ))
            }
            (BenefitSpec::Discount(current), _) => {
                let kind = current.value().kind();
                if row.discount_kind.is_some_and(|k| k != kind) {
                    return Err(RowError::Refused(
                        "It is not possible to change Voucher discount type".to_owned(),
                    ));
                }
                if let Some(value) = row.value {
                    benefit =
                        BenefitSpec::Discount(discount_like(kind, value, currency, Some(current))?);
                }
            }
            (BenefitSpec::Gift { amount_minor }, _) => {
                if row.discount_kind.is_some() {
                    return Err(RowError::Refused(
                        "a gift voucher has no discount type".to_owned(),
                    ));
                }
                if let Some(value) = row.value {
                    let new_amount = money_minor(value, currency)?;
                    let difference = new_amount - amount_minor;
                    if difference != 0 {
                        // The balance moves by what the amount moved, as a
                        // ledger entry the core checks.
                        let ledger =
                            Ledger::from_balance(currency, existing.gift_balance.unwrap_or(0))
                                .map_err(|e| StoreError::Corrupt(format!("gift balance: {e}")))?;
                        let kind = if difference > 0 {
                            EntryKind::Addition
                        } else {
                            EntryKind::Removal
                        };
                        let entry = ledger
                            .next(kind, difference.abs())
                            .map_err(|e| format!("new value: {e}"))?;
                        balance_change = Some(entry);
                    }
                    benefit = BenefitSpec::Gift {
                        amount_minor: new_amount,
                    };
                }
            }
        }
        let mut quantity = existing.quantity;
        if self.has(Field::RedemptionLimit) {
            let template = self
                .campaign
                .as_ref()
                .map(|c| c.record.spec.template.quantity);
            quantity = row
                .limit
                .or(template)
                .unwrap_or(RedemptionQuantity::Unlimited);
            if let RedemptionQuantity::Limited(n) = quantity {
                if n < existing.redeemed_quantity {
                    return Err(RowError::Refused(format!(
                        "redemption limit {n} is below the {} redemptions already made",
                        existing.redeemed_quantity
                    )));
                }
            }
        }
        let mut validity = existing.validity.clone();
        if self.has(Field::StartDate) {
            validity.start = row.start;
        }
        if self.has(Field::ExpirationDate) {
            validity.expiration = row.expiration;
        }
        validity.check(self.tz).map_err(|e| e.to_string())?;
        let active = if self.has(Field::Active) {
            row.active.unwrap_or(true)
        } else {
            existing.active
        };
        let category = if self.has(Field::Category) {
            row.category.clone()
        } else {
            existing.category.clone()
        };
        let additional_info = if self.has(Field::AdditionalInfo) {
            row.additional_info.clone()
        } else {
            existing.additional_info.clone()
        };
        let metadata = merged_metadata(self.batch, row, existing.metadata.clone())?;
        // A code that follows its campaign's discount keeps following it
        // unless the row gives a value.
        let (discount, gift_amount) = match &benefit {
            BenefitSpec::Discount(_) if existing.template_discount && row.value.is_none() => {
                (None, None)
            }
            BenefitSpec::Discount(d) => (Some(to_json(d)?), None),
            BenefitSpec::Gift { amount_minor } => (None, Some(*amount_minor)),
        };
        // No validity of its own is stored as none (NULL).
        let validity_column = match validity == Validity::default() {
            true => None,
            false => Some(to_json(&validity)?),
        };
        let gift_balance = balance_change
            .as_ref()
            .map(|e| e.balance_after_minor)
            .or(existing.gift_balance);
        let quantity_column = match quantity {
            RedemptionQuantity::Limited(n) => Some(to_i64(n)?),
            RedemptionQuantity::Unlimited => None,
        };
        self.conn
            .prepare_cached(
                "UPDATE vouchers SET discount = ?2, gift_amount = ?3, gift_balance = ?4,
                        quantity = ?5, active = ?6, validity = ?7, start_at = ?8, expire_at = ?9,
                        category = ?10, additional_info = ?11, metadata = ?12, updated_at = ?13
                 WHERE id = ?1",
            )
            .store()?
            .execute(params![
                existing.id,
                discount,
                gift_amount,
                gift_balance,
                quantity_column,
                active,
                validity_column,
                validity
                    .start
                    .and_then(|m| m.start_instant(self.tz))
                    .map(to_ms),
                expiry_instant(&validity, self.tz).map(to_ms),
                category,
                additional_info,
                to_json(&metadata)?,
                to_ms(self.batch.now)
            ])
            .map_err(constraint_or_abort)?;
        if let Some(entry) = balance_change {
            self.ledger_entry(existing.id, &entry, "csv import")?;
            let mut details = Metadata::new();
            details.insert(
                "amount".to_owned(),
                Value::Number(Decimal::from(entry.delta_minor())),
            );
            details.insert("reason".to_owned(), Value::Text("csv import".to_owned()));
            audit(
                self.conn,
                self.batch.project,
                "import",
                "voucher.balance_changed",
                ("voucher", &existing.ext_id),
                &details,
                self.batch.now,
            )?;
        }
        Ok(())
    }
}

/// Parsed rows and the rows the parse refused, in row order.
type Parsed = (Vec<ParsedRow>, Vec<ImportFailure>);

/// Writes `first` and the batches that follow it from `receiver` in one
/// transaction, up to [`IMPORT_TRANSACTION_ROWS`] rows, while the parser
/// keeps up (see [`IMPORT_BATCH_WAIT`]). Returns the receiver for the next
/// transaction and what this one did: its refusals are all counted and
/// listed while fewer than `listed` are.
fn import_transaction(
    conn: &Connection,
    batch: &Batch,
    first: Parsed,
    receiver: Receiver<Parsed>,
    listed: usize,
) -> Result<(Receiver<Parsed>, ImportReport), StoreError> {
    let project = load_project(conn, batch.project)?;
    // Re-read: the campaign may have changed (or gone) since the last batch.
    let campaign = match batch.campaign_id {
        None => None,
        Some(id) => {
            let exists = conn
                .prepare_cached("SELECT 1 FROM campaigns WHERE id = ?1")
                .store()?
                .exists([id])
                .store()?;
            if !exists {
                return Err(StoreError::NotFound {
                    resource: "campaign",
                    id: batch.campaign_ext_id.clone().unwrap_or_default(),
                });
            }
            Some(campaign_row_by_id(conn, id)?)
        }
    };
    let tz = campaign
        .as_ref()
        .and_then(|c| c.record.spec.time_zone)
        .unwrap_or(project.spec.time_zone);
    let mut importer = Importer {
        conn,
        batch,
        codes_in_campaign: campaign.as_ref().map_or(0, |c| c.record.codes_count),
        project,
        campaign,
        tz,
        inserted: 0,
        insert: conn.prepare_cached(INSERT_VOUCHER).store()?,
        discounts: DiscountJson::default(),
        validities: ValidityCache::default(),
        empty_metadata: to_json(&Metadata::new())?,
    };
    let mut report = ImportReport::default();
    let mut rows_seen = 0;
    let mut next = Some(first);
    while let Some((rows, parse_failures)) = next.take() {
        let mut failed = Vec::new();
        for row in &rows {
            match importer.import(row) {
                Ok(()) => report.done_count += 1,
                Err(RowError::Refused(reason)) => failed.push(ImportFailure {
                    row: row.row,
                    code: Some(row.code.as_str().to_owned()),
                    reason,
                }),
                Err(RowError::Store(e)) => return Err(e),
            }
        }
        record_failures(&mut report, merge_by_row(parse_failures, failed), listed);
        rows_seen += rows.len();
        if rows_seen >= IMPORT_TRANSACTION_ROWS {
            break;
        }
        // Nothing within the wait, or the parse is over: commit.
        next = receiver.recv_timeout(IMPORT_BATCH_WAIT).ok();
    }
    if let (Some(campaign), true) = (batch.campaign_id, importer.inserted > 0) {
        conn.prepare_cached(
            "UPDATE campaigns SET codes_count = codes_count + ?2, updated_at = ?3 WHERE id = ?1",
        )
        .store()?
        .execute(params![
            campaign,
            to_i64(importer.inserted)?,
            to_ms(batch.now)
        ])
        .store()?;
    }
    Ok((receiver, report))
}

/// Adds refused rows to a report, listing them while fewer than `listed`
/// are listed.
fn record_failures(
    report: &mut ImportReport,
    failures: impl IntoIterator<Item = ImportFailure>,
    listed: usize,
) {
    for failure in failures {
        report.failed_count += 1;
        if report.failed.len() < listed {
            report.failed.push(failure);
        }
    }
}

/// Merges two lists sorted by row into row order.
fn merge_by_row(a: Vec<ImportFailure>, b: Vec<ImportFailure>) -> Vec<ImportFailure> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.row <= y.row,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        merged.extend(if take_a { a.next() } else { b.next() });
    }
}

// ---------------------------------------------------------------------------
// Export

/// `minor` units as major units with the currency's digits (`10.50`).
fn major(minor: i64, currency: Currency) -> Result<Decimal, StoreError> {
    Decimal::try_new(minor, currency.minor_unit())
        .map_err(|e| StoreError::Corrupt(format!("amount {minor}: {e}")))
}

fn csv_error(e: csv::Error) -> StoreError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => {
            if e.kind() == std::io::ErrorKind::StorageFull {
                StoreError::DiskFull
            } else {
                StoreError::Io(format!("writing CSV: {e}"))
            }
        }
        other => StoreError::Io(format!("writing CSV: {other:?}")),
    }
}

/// JSON columns decoded into the cells they give, for the last few texts
/// seen: rows repeat a handful of discounts and validities (a campaign's
/// codes share theirs), so most rows decode nothing.
struct Decoded<const N: usize> {
    entries: Vec<(Vec<u8>, [String; N])>,
    next: usize,
}

/// Texts a [`Decoded`] remembers.
const DECODED_ENTRIES: usize = 16;

impl<const N: usize> Decoded<N> {
    fn new() -> Self {
        Decoded {
            entries: Vec::with_capacity(DECODED_ENTRIES),
            next: 0,
        }
    }

    fn get(
        &mut self,
        text: &[u8],
        decode: impl FnOnce(&str) -> Result<[String; N], StoreError>,
    ) -> Result<&[String; N], StoreError> {
        let found = self.entries.iter().position(|(t, _)| t.as_slice() == text);
        let slot = match found {
            Some(slot) => slot,
            None => {
                let utf8 = std::str::from_utf8(text)
                    .map_err(|_| StoreError::Corrupt("a JSON column is not UTF-8".to_owned()))?;
                let entry = (text.to_vec(), decode(utf8)?);
                // Round robin: cheap, and good enough for a few hot texts.
                if self.entries.len() < DECODED_ENTRIES {
                    self.entries.push(entry);
                    self.entries.len() - 1
                } else {
                    let slot = self.next;
                    self.entries[slot] = entry;
                    self.next = (slot + 1) % DECODED_ENTRIES;
                    slot
                }
            }
        };
        Ok(&self.entries[slot].1)
    }
}

/// The last instant formatted: rows written together share their
/// creation instant.
#[derive(Default)]
struct InstantCell {
    ms: Option<i64>,
    text: String,
}

impl InstantCell {
    fn get(&mut self, ms: i64) -> Result<&str, StoreError> {
        if self.ms != Some(ms) {
            self.text = from_ms(ms)?.to_rfc3339_opts(SecondsFormat::Millis, true);
            self.ms = Some(ms);
        }
        Ok(&self.text)
    }
}

/// A discount's type and value cells.
fn discount_cells(json: &str, currency: Currency) -> Result<[String; 2], StoreError> {
    let discount: Discount = from_json(json)?;
    let money = |m: &Money| -> Result<String, StoreError> {
        let minor = m
            .to_minor()
            .map_err(|e| StoreError::Corrupt(format!("discount amount: {e}")))?;
        Ok(major(minor, currency)?.to_string())
    };
    let value = match discount.value() {
        DiscountValue::Amount { amount_off } => money(amount_off)?,
        DiscountValue::Percent { percent_off, .. } => percent_off.normalize().to_string(),
        DiscountValue::Fixed { fixed_amount } => money(fixed_amount)?,
        DiscountValue::Unit { unit_off, .. } => unit_off.to_string(),
    };
    Ok([discount.value().kind().wire_name().to_owned(), value])
}

/// A validity's start and expiration cells.
fn validity_cells(json: &str) -> Result<[String; 2], StoreError> {
    // NULL (read as empty): no validity of its own.
    if json.is_empty() {
        return Ok([String::new(), String::new()]);
    }
    let validity: Validity = from_json(json)?;
    let cell = |m: Option<Moment>| m.map(|m| m.to_string()).unwrap_or_default();
    Ok([cell(validity.start), cell(validity.expiration)])
}

/// The bytes of a text (or empty) column.
fn text_ref(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Text(t) | ValueRef::Blob(t) => t,
        _ => b"",
    }
}

fn int_ref(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(n) => Some(n),
        _ => None,
    }
}

/// The columns of the voucher export, import-compatible names first.
const VOUCHER_HEADER: [&str; 17] = [
    "Code",
    "Voucher Type",
    "Value",
    "Discount Type",
    "Campaign",
    "Category",
    "Start Date",
    "Expiration Date",
    "Redemption Limit",
    "Redeemed Quantity",
    "Redeemed Amount",
    "Gift Balance",
    "Active",
    "Holder",
    "Created At",
    "Additional Info",
    "Metadata",
];

/// The columns of the redemption export.
const REDEMPTION_HEADER: [&str; 15] = [
    "Id",
    "Date",
    "Code",
    "Campaign",
    "Customer Id",
    "Customer Source Id",
    "Result",
    "Failure Code",
    "Amount",
    "Discount",
    "Order Id",
    "Order Source Id",
    "Order Amount",
    "Channel",
    "Rolled Back",
];

impl BulkStore for SqliteStore {
    fn import_vouchers_csv(
        &self,
        project: ProjectId,
        campaign: Option<&str>,
        input: &mut dyn Read,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        let (project_record, campaign) = self.read(|conn| {
            let project_record = load_project(conn, project)?;
            let campaign = campaign
                .map(|c| campaign_row(conn, project, c))
                .transpose()?;
            Ok((project_record, campaign))
        })?;
        let mut reader = import_reader(input);
        let mut record = csv::ByteRecord::new();
        let columns = read_columns(&mut reader, &mut record)?;
        let batch = Arc::new(Batch {
            project,
            campaign_id: campaign.as_ref().map(|c| c.id),
            campaign_ext_id: campaign.as_ref().map(|c| c.record.id.clone()),
            has: std::array::from_fn(|i| columns.fields[i].is_some()),
            metadata_keys: columns.metadata.iter().map(|(_, k)| k.clone()).collect(),
            now,
        });
        let ctx = ParseContext {
            columns,
            currency: project_record.spec.currency,
            tz: campaign
                .as_ref()
                .and_then(|c| c.record.spec.time_zone)
                .unwrap_or(project_record.spec.time_zone),
            campaign_type: campaign.as_ref().map(|c| c.record.spec.campaign_type),
        };
        // The caller's thread parses (its reader need not be `Send`); a
        // helper thread submits each batch to the writer meanwhile.
        let (sender, receiver) = sync_channel::<Parsed>(IMPORT_BATCHES_QUEUED);
        let mut report = std::thread::scope(|scope| {
            let submitter = scope.spawn(move || -> Result<ImportReport, StoreError> {
                let mut report = ImportReport::default();
                let mut receiver = receiver;
                // Each transaction takes the receiver and gives it back.
                while let Ok((rows, parse_failures)) = receiver.recv() {
                    if rows.is_empty() {
                        record_failures(&mut report, parse_failures, IMPORT_FAILURES_LISTED_MAX);
                        continue;
                    }
                    let job_batch = Arc::clone(&batch);
                    let listed = IMPORT_FAILURES_LISTED_MAX.saturating_sub(report.failed.len());
                    let (back, done) = self.write_alone(move |conn| {
                        import_transaction(
                            conn,
                            &job_batch,
                            (rows, parse_failures),
                            receiver,
                            listed,
                        )
                    })?;
                    receiver = back;
                    report.done_count += done.done_count;
                    report.failed_count += done.failed_count;
                    report.failed.extend(done.failed);
                }
                Ok(report)
            });
            let parsed = (|| -> Result<(), StoreError> {
                let mut row = 0u64;
                let mut rows = Vec::with_capacity(IMPORT_BATCH_ROWS);
                let mut failures = Vec::new();
                loop {
                    // Byte records of a flexible reader fail only on I/O.
                    let more = reader.read_byte_record(&mut record).map_err(read_error)?;
                    if more {
                        row += 1;
                        match parse_row(&ctx, &record, row) {
                            Ok(parsed) => rows.push(parsed),
                            Err((code, reason)) => {
                                failures.push(ImportFailure { row, code, reason })
                            }
                        }
                    }
                    let full =
                        rows.len() >= IMPORT_BATCH_ROWS || failures.len() >= IMPORT_BATCH_ROWS;
                    if full || !more {
                        let batch = (std::mem::take(&mut rows), std::mem::take(&mut failures));
                        if sender.send(batch).is_err() {
                            // The submitter stopped on an error; it reports it.
                            return Ok(());
                        }
                        rows.reserve(IMPORT_BATCH_ROWS);
                    }
                    if !more {
                        return Ok(());
                    }
                }
            })();
            drop(sender);
            let submitted = submitter
                .join()
                .map_err(|_| StoreError::Io("the import's submitter panicked".to_owned()))?;
            parsed?;
            submitted
        })?;
        report.failed.sort_by_key(|f| f.row);
        let (done, failed) = (report.done_count, report.failed_count);
        self.write(move |conn| {
            let mut details = Metadata::new();
            details.insert("done_count".to_owned(), Value::Number(Decimal::from(done)));
            details.insert(
                "failed_count".to_owned(),
                Value::Number(Decimal::from(failed)),
            );
            let object = match &campaign {
                Some(c) => ("campaign", c.record.id.clone()),
                None => ("project", project.0.to_string()),
            };
            audit(
                conn,
                project,
                "import",
                "vouchers.imported",
                (object.0, &object.1),
                &details,
                now,
            )
        })?;
        Ok(report)
    }

    fn export_vouchers_csv(
        &self,
        project: ProjectId,
        query: &VoucherQuery,
        output: &mut dyn Write,
    ) -> Result<u64, StoreError> {
        self.read(|conn| {
            let currency = load_project(conn, project)?.spec.currency;
            // The voucher list's filters, all of them, with its plans.
            let listing = voucher_listing(conn, project, query)?;
            let mut out = csv::Writer::from_writer(output);
            out.write_record(VOUCHER_HEADER).map_err(csv_error)?;
            let mut discounts = Decoded::<2>::new();
            let mut validities = Decoded::<2>::new();
            let mut created_cells = InstantCell::default();
            let mut cell = String::new();
            let written = listing.for_each(conn, VOUCHER_EXPORT_SELECT, |row| {
                write_voucher(
                    &mut out,
                    row,
                    currency,
                    (&mut discounts, &mut validities, &mut created_cells),
                    &mut cell,
                )
            })?;
            out.flush().map_err(|e| csv_error(e.into()))?;
            Ok(written)
        })
    }

    fn export_redemptions_csv(
        &self,
        project: ProjectId,
        query: &RedemptionQuery,
        output: &mut dyn Write,
    ) -> Result<u64, StoreError> {
        self.read(|conn| {
            let currency = load_project(conn, project)?.spec.currency;
            let mut out = csv::Writer::from_writer(output);
            out.write_record(REDEMPTION_HEADER).map_err(csv_error)?;
            let Some((sql, params)) = redemption_export_sql(conn, project, query)? else {
                out.flush().map_err(|e| csv_error(e.into()))?;
                return Ok(0);
            };
            let mut stmt = conn.prepare(&sql).store()?;
            let mut rows = stmt.query(params_from_iter(params.iter())).store()?;
            let mut written = 0u64;
            let mut dates = InstantCell::default();
            let mut cell = String::new();
            while let Some(row) = rows.next().store()? {
                write_redemption(&mut out, row, currency, &mut dates, &mut cell)?;
                written += 1;
            }
            out.flush().map_err(|e| csv_error(e.into()))?;
            Ok(written)
        })
    }
}

/// The voucher export's columns, in [`VOUCHER_HEADER`] order but for the
/// cells computed from several columns.
const VOUCHER_EXPORT_SELECT: &str = "SELECT v.code, v.type,
        COALESCE(v.discount, c.template_discount), v.gift_amount, c.name,
        v.category, v.validity, v.quantity, v.redeemed_quantity, v.redeemed_amount,
        v.gift_balance, v.active, cu.ext_id, v.created_at, v.additional_info, v.metadata
    FROM vouchers v
    LEFT JOIN campaigns c ON c.id = v.campaign_id
    LEFT JOIN customers cu ON cu.id = v.holder_id";

/// The redemption export's columns, in [`REDEMPTION_HEADER`] order.
const REDEMPTION_EXPORT_SELECT: &str = "SELECT r.ext_id, r.created_at, r.code, c.name,
        cu.ext_id, cu.source_id, r.result, r.failure_code, r.amount, r.discount, o.ext_id,
        o.source_id, r.order_amount, r.channel, r.state
    FROM redemptions r
    LEFT JOIN campaigns c ON c.id = r.campaign_id
    LEFT JOIN customers cu ON cu.id = r.customer_id
    LEFT JOIN orders o ON o.id = r.order_id";

/// The redemption export's query and values: the redemption list's
/// filters (a campaign, customer or order that does not exist matches
/// nothing: `None`), in row-id order, stacked parents left out.
fn redemption_export_sql(
    conn: &Connection,
    project: ProjectId,
    query: &RedemptionQuery,
) -> Result<Option<(String, Vec<SqlValue>)>, StoreError> {
    let Some(resolved) = resolve(conn, project, query)? else {
        return Ok(None);
    };
    let mut undated = query.clone();
    undated.list.created_after = None;
    undated.list.created_before = None;
    let (mut filter, mut params) = redemption_filter(project, &undated, resolved);
    // Dates are tested row by row along the row-id order (a unary `+` hides
    // them from the planner): a range of the date index would have to be
    // sorted, all of it in memory.
    for (condition, at) in [
        ("+r.created_at >", query.list.created_after),
        ("+r.created_at <", query.list.created_before),
    ] {
        if let Some(at) = at {
            params.push(SqlValue::Integer(to_ms(at)));
            filter.push_str(&format!(" AND {condition} ?{}", params.len()));
        }
    }
    let sql =
        format!("{REDEMPTION_EXPORT_SELECT} WHERE {filter} AND r.kind != 'parent' ORDER BY r.id");
    Ok(Some((sql, params)))
}

/// `minor` in major units into `cell` (empty for `None`).
fn money_cell(cell: &mut String, minor: Option<i64>, currency: Currency) -> Result<(), StoreError> {
    use std::fmt::Write as _;
    cell.clear();
    if let Some(minor) = minor {
        let _ = write!(cell, "{}", major(minor, currency)?);
    }
    Ok(())
}

/// A whole number into `cell` (empty for `None`).
fn number_cell(cell: &mut String, n: Option<i64>) {
    use std::fmt::Write as _;
    cell.clear();
    if let Some(n) = n {
        let _ = write!(cell, "{n}");
    }
}

fn bool_cell(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// The caches of the voucher export's decoded cells.
type VoucherCaches<'a> = (&'a mut Decoded<2>, &'a mut Decoded<2>, &'a mut InstantCell);

/// One row of [`VOUCHER_EXPORT_SELECT`] as a CSV record.
fn write_voucher<W: Write>(
    out: &mut csv::Writer<W>,
    row: &rusqlite::Row<'_>,
    currency: Currency,
    (discounts, validities, created_cells): VoucherCaches<'_>,
    cell: &mut String,
) -> Result<(), StoreError> {
    let get = |i: usize| row.get_ref(i).store();
    let mut field = |bytes: &[u8]| out.write_field(bytes).map_err(csv_error);
    field(text_ref(get(0)?))?;
    let kind = text_ref(get(1)?);
    field(kind)?;
    if kind == b"GIFT_VOUCHER" {
        money_cell(cell, Some(int_ref(get(3)?).unwrap_or(0)), currency)?;
        field(cell.as_bytes())?;
        field(b"")?;
    } else {
        let [kind, value] =
            discounts.get(text_ref(get(2)?), |json| discount_cells(json, currency))?;
        field(value.as_bytes())?;
        field(kind.as_bytes())?;
    }
    field(text_ref(get(4)?))?;
    field(text_ref(get(5)?))?;
    let [start, expiration] = validities.get(text_ref(get(6)?), validity_cells)?;
    field(start.as_bytes())?;
    field(expiration.as_bytes())?;
    number_cell(cell, int_ref(get(7)?));
    field(cell.as_bytes())?;
    number_cell(cell, int_ref(get(8)?));
    field(cell.as_bytes())?;
    money_cell(cell, Some(int_ref(get(9)?).unwrap_or(0)), currency)?;
    field(cell.as_bytes())?;
    money_cell(cell, int_ref(get(10)?), currency)?;
    field(cell.as_bytes())?;
    field(bool_cell(int_ref(get(11)?).unwrap_or(0) != 0).as_bytes())?;
    field(text_ref(get(12)?))?;
    let created = int_ref(get(13)?)
        .ok_or_else(|| StoreError::Corrupt("voucher without created_at".to_owned()))?;
    field(created_cells.get(created)?.as_bytes())?;
    field(text_ref(get(14)?))?;
    field(text_ref(get(15)?))?;
    out.write_record(None::<&[u8]>).map_err(csv_error)
}

/// One row of [`REDEMPTION_EXPORT_SELECT`] as a CSV record.
fn write_redemption<W: Write>(
    out: &mut csv::Writer<W>,
    row: &rusqlite::Row<'_>,
    currency: Currency,
    dates: &mut InstantCell,
    cell: &mut String,
) -> Result<(), StoreError> {
    let get = |i: usize| row.get_ref(i).store();
    let mut field = |bytes: &[u8]| out.write_field(bytes).map_err(csv_error);
    field(text_ref(get(0)?))?;
    let created = int_ref(get(1)?)
        .ok_or_else(|| StoreError::Corrupt("redemption without date".to_owned()))?;
    field(dates.get(created)?.as_bytes())?;
    for i in 2..=7 {
        field(text_ref(get(i)?))?;
    }
    for i in [8, 9] {
        money_cell(cell, Some(int_ref(get(i)?).unwrap_or(0)), currency)?;
        field(cell.as_bytes())?;
    }
    field(text_ref(get(10)?))?;
    field(text_ref(get(11)?))?;
    money_cell(cell, int_ref(get(12)?), currency)?;
    field(cell.as_bytes())?;
    field(text_ref(get(13)?))?;
    field(bool_cell(text_ref(get(14)?) == b"ROLLED_BACK").as_bytes())?;
    out.write_record(None::<&[u8]>).map_err(csv_error)
}

fn read_error(e: csv::Error) -> StoreError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => StoreError::Io(format!("reading CSV: {e}")),
        other => invalid_csv(format!("unreadable CSV: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use voucher_core::port::{ListQuery, RedemptionResult};

    use super::*;
    use crate::listing::plans::{self, assert_indexed};

    /// Every filter of the exports walks an index in row-id order: no full
    /// scan, and no sort (which would hold the whole export), but of range
    /// filters matching at most `RANGE_SORT_MAX` rows.
    #[test]
    fn exports_stream_in_index_order() {
        let (_dir, store, project) = plans::store();
        let some = |s: &str| Some(s.to_owned());
        let at = DateTime::from_timestamp_millis(0);
        let dated = ListQuery {
            created_after: at,
            created_before: at,
            ..ListQuery::default()
        };
        let vouchers = [
            VoucherQuery::default(),
            VoucherQuery {
                category: some("cats"),
                ..VoucherQuery::default()
            },
            VoucherQuery {
                active: Some(false),
                ..VoucherQuery::default()
            },
            VoucherQuery {
                expired: Some(true),
                now: at,
                ..VoucherQuery::default()
            },
            VoucherQuery {
                code_prefix: some("SP-"),
                ..VoucherQuery::default()
            },
            VoucherQuery {
                list: dated.clone(),
                ..VoucherQuery::default()
            },
        ];
        let redemptions = [
            RedemptionQuery::default(),
            RedemptionQuery {
                result: Some(RedemptionResult::Failure),
                failure_code: some("resource_not_found"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                code: some("TEN"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                list: dated,
                ..RedemptionQuery::default()
            },
        ];
        store
            .read(|conn| {
                for query in &vouchers {
                    let listing = voucher_listing(conn, project, query)?;
                    let plan = assert_indexed(
                        &format!("{query:?}"),
                        &listing.for_each_plan(conn, VOUCHER_EXPORT_SELECT),
                    );
                    assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
                }
                for query in &redemptions {
                    let (sql, params) = redemption_export_sql(conn, project, query)?.unwrap();
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let plan: Vec<String> = stmt
                        .query_map(params_from_iter(params.iter()), |r| r.get(3))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    let plan = assert_indexed(&format!("{query:?}"), &plan);
                    assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
                }
                Ok(())
            })
            .unwrap();
    }
}
