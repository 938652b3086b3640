//! Gift-card balances changed by hand, and the ledger of every change
//! ([`GiftStore`]).
//!
//! A change is decided by the core's [`Ledger`] (from the voucher's stored
//! balance: `next` refuses a balance below zero or out of range), then the
//! entry, the voucher's balance and an audit line are written in one writer
//! job. The ledger is append-only, so it is listed by row id (the order in
//! which it folds), newest first.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row};
use rust_decimal::Decimal;
use voucher_core::decision::{Reason, Refusal};
use voucher_core::ledger::{EntryKind, Ledger, LedgerError};
use voucher_core::limits::ID_LEN_MAX;
use voucher_core::port::EventObject;
use voucher_core::port::{
    BalanceChange, BalanceRecord, BenefitSpec, GiftStore, LedgerRecord, ListQuery, Page, ProjectId,
    StoreError,
};
use voucher_core::value::{Metadata, Value as MetaValue};
use voucher_core::webhook::EventType;

use crate::catalog::{audit, existing_voucher, VoucherRow};
use crate::encode::{from_ms, new_id, to_ms};
use crate::error::SqlResult;
use crate::listing::{Listing, Table};
use crate::projects::load_project;
use crate::webhooks::emit;
use crate::SqliteStore;

/// Longest reason of a balance change, in bytes.
pub(crate) const REASON_LEN_MAX: usize = 1024;

const LEDGER: Table = Table {
    name: "gift_ledger",
    alias: "l",
    has_updated_at: false,
};

const LEDGER_SELECT: &str = "SELECT l.id, l.ext_id, v.ext_id, c.ext_id, l.kind, l.amount,
        l.balance_after, l.reason, l.source_id, COALESCE(rb.ext_id, r.ext_id), l.created_at
    FROM gift_ledger l
    JOIN vouchers v ON v.id = l.voucher_id
    LEFT JOIN campaigns c ON c.id = v.campaign_id
    LEFT JOIN redemptions r ON r.id = l.redemption_id
    LEFT JOIN rollbacks rb ON rb.id = l.rollback_id";

/// The column text of an entry kind.
fn kind_text(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Redemption => "REDEMPTION",
        EntryKind::Refund => "REFUND",
        EntryKind::Addition => "ADDITION",
        EntryKind::Removal => "REMOVAL",
    }
}

fn kind_from(text: &str) -> Result<EntryKind, StoreError> {
    match text {
        "REDEMPTION" => Ok(EntryKind::Redemption),
        "REFUND" => Ok(EntryKind::Refund),
        "ADDITION" => Ok(EntryKind::Addition),
        "REMOVAL" => Ok(EntryKind::Removal),
        other => Err(StoreError::Corrupt(format!("ledger entry kind {other:?}"))),
    }
}

/// One ledger row and its sort key.
struct LedgerRow {
    id: i64,
    record: LedgerRecord,
}

fn ledger_from_row(row: &Row<'_>) -> rusqlite::Result<Result<LedgerRow, StoreError>> {
    let id: i64 = row.get(0)?;
    let ext_id: String = row.get(1)?;
    let voucher_id: String = row.get(2)?;
    let campaign_id: Option<String> = row.get(3)?;
    let kind: String = row.get(4)?;
    let amount: i64 = row.get(5)?;
    let balance_after: i64 = row.get(6)?;
    let reason: Option<String> = row.get(7)?;
    let source_id: Option<String> = row.get(8)?;
    let related_id: Option<String> = row.get(9)?;
    let created_at: i64 = row.get(10)?;
    Ok((|| {
        let kind = kind_from(&kind)?;
        // The column holds the positive amount; the record is signed.
        let amount_minor = match kind {
            EntryKind::Addition | EntryKind::Refund => amount,
            EntryKind::Redemption | EntryKind::Removal => -amount,
        };
        Ok(LedgerRow {
            id,
            record: LedgerRecord {
                id: ext_id,
                voucher_id,
                campaign_id,
                kind,
                amount_minor,
                balance_after_minor: balance_after,
                reason,
                source_id,
                related_id,
                created_at: from_ms(created_at)?,
            },
        })
    })())
}

fn invalid_amount(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key: "invalid_amount",
        message: message.into(),
    }
}

/// The voucher's gift balance, or `invalid_voucher` for a discount voucher.
fn gift_balance(row: &VoucherRow) -> Result<i64, StoreError> {
    match row.record.benefit {
        BenefitSpec::Gift { .. } => row.record.gift_balance_minor.ok_or_else(|| {
            StoreError::Corrupt(format!("gift voucher {} has no balance", row.record.id))
        }),
        BenefitSpec::Discount(_) => Err(StoreError::Invalid {
            key: "invalid_voucher",
            message: format!("voucher {} is not a gift voucher", row.record.code),
        }),
    }
}

/// The card's initial amount plus additions minus removals: the initial
/// amount is the card's first addition, so this is the ledger's sum of
/// additions less its removals.
fn total_loaded(conn: &Connection, voucher: i64) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "SELECT COALESCE(SUM(CASE kind WHEN 'ADDITION' THEN amount WHEN 'REMOVAL' THEN -amount
                                       ELSE 0 END), 0)
         FROM gift_ledger WHERE voucher_id = ?1",
    )
    .store()?
    .query_row([voucher], |r| r.get(0))
    .store()
}

fn text(value: &str) -> MetaValue {
    MetaValue::Text(value.to_owned())
}

fn adjust(
    conn: &Connection,
    project: ProjectId,
    code_or_id: &str,
    change: &BalanceChange,
    now: DateTime<Utc>,
) -> Result<BalanceRecord, StoreError> {
    let too_long = |text: &Option<String>, max: usize| text.as_ref().is_some_and(|t| t.len() > max);
    if too_long(&change.reason, REASON_LEN_MAX) || too_long(&change.source_id, ID_LEN_MAX) {
        return Err(StoreError::Invalid {
            key: "invalid_payload",
            message: format!(
                "a reason is at most {REASON_LEN_MAX} bytes, a source id {ID_LEN_MAX}"
            ),
        });
    }
    let currency = load_project(conn, project)?.spec.currency;
    let row = existing_voucher(conn, project, code_or_id)?;
    let balance = gift_balance(&row)?;
    let (kind, amount) = match change.amount_minor {
        0 => return Err(invalid_amount("a balance change cannot be zero")),
        a if a > 0 => (EntryKind::Addition, a),
        a => (
            EntryKind::Removal,
            a.checked_neg()
                .ok_or_else(|| invalid_amount("amount out of range"))?,
        ),
    };
    let ledger = Ledger::from_balance(currency, balance)
        .map_err(|e| StoreError::Corrupt(format!("voucher {}: balance: {e}", row.record.id)))?;
    let entry = ledger.next(kind, amount).map_err(|e| match e {
        LedgerError::InsufficientBalance {
            balance_minor,
            requested_minor,
        } => StoreError::Refused {
            refusal: Refusal {
                reason: Reason::GiftAmountExceeded,
                rule_message: None,
                details: Some(format!(
                    "balance {balance_minor}, removal of {requested_minor} requested"
                )),
            },
            failure_id: None,
        },
        LedgerError::NonPositiveAmount | LedgerError::Overflow => {
            invalid_amount(format!("balance change {}: {e}", change.amount_minor))
        }
        LedgerError::TooManyEntries | LedgerError::Corrupt { .. } => {
            StoreError::Corrupt(format!("voucher {}: {e}", row.record.id))
        }
    })?;
    let ext_id = new_id("vtx_");
    conn.prepare_cached(
        "INSERT INTO gift_ledger (project_id, ext_id, voucher_id, kind, amount, balance_after,
                                  reason, source_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .store()?
    .execute(params![
        project.0,
        ext_id,
        row.id,
        kind_text(entry.kind),
        entry.amount_minor,
        entry.balance_after_minor,
        change.reason,
        change.source_id,
        to_ms(now)
    ])
    .store()?;
    conn.prepare_cached("UPDATE vouchers SET gift_balance = ?2, updated_at = ?3 WHERE id = ?1")
        .store()?
        .execute(params![row.id, entry.balance_after_minor, to_ms(now)])
        .store()?;
    let mut details = Metadata::new();
    details.insert("transaction_id".to_owned(), text(&ext_id));
    details.insert(
        "amount".to_owned(),
        MetaValue::Number(Decimal::from(change.amount_minor)),
    );
    details.insert(
        "balance".to_owned(),
        MetaValue::Number(Decimal::from(entry.balance_after_minor)),
    );
    if let Some(reason) = &change.reason {
        details.insert("reason".to_owned(), text(reason));
    }
    if let Some(source_id) = &change.source_id {
        details.insert("source_id".to_owned(), text(source_id));
    }
    // Voucherify names every manual change (removals too, with a negative
    // amount) `voucher.gift.balance_added`.
    audit(
        conn,
        project,
        &change.actor,
        "voucher.gift.balance_added",
        ("voucher", &row.record.id),
        &details,
        now,
    )?;
    Ok(BalanceRecord {
        amount_minor: change.amount_minor,
        total_minor: total_loaded(conn, row.id)?,
        balance_minor: entry.balance_after_minor,
        voucher_id: row.record.id,
    })
}

impl GiftStore for SqliteStore {
    /// Errors: `NotFound` for an unknown code; `Invalid` with
    /// `invalid_voucher` for a discount voucher, `invalid_amount` for a
    /// change of zero or one that would pass the amount limit,
    /// `invalid_payload` for an overlong reason or source id; `Refused`
    /// with [`Reason::GiftAmountExceeded`] for a removal of more than the
    /// balance (nothing is recorded: it is not a redemption).
    fn adjust_balance(
        &self,
        project: ProjectId,
        code_or_id: &str,
        change: &BalanceChange,
        now: DateTime<Utc>,
    ) -> Result<BalanceRecord, StoreError> {
        let (code_or_id, change) = (code_or_id.to_owned(), change.clone());
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let balance = adjust(conn, project, &code_or_id, &change, now)?;
            if balance.amount_minor > 0 {
                emit(
                    conn,
                    &subscriptions,
                    project,
                    EventType::VoucherGiftBalanceAdded,
                    now,
                    || {
                        let voucher = existing_voucher(conn, project, &balance.voucher_id)?;
                        Ok(EventObject::Balance {
                            voucher: Box::new(voucher.record),
                            balance: balance.clone(),
                        })
                    },
                )?;
            }
            Ok(balance)
        })
    }

    fn transactions(
        &self,
        project: ProjectId,
        code_or_id: &str,
        query: &ListQuery,
    ) -> Result<Page<LedgerRecord>, StoreError> {
        let mut listing = Listing::new(LEDGER, project, query)?;
        self.read(|conn| {
            // A discount voucher has no ledger: its page is empty.
            let voucher = existing_voucher(conn, project, code_or_id)?;
            listing.filter("l.voucher_id = ?", [Value::Integer(voucher.id)]);
            let page = listing.run(conn, LEDGER_SELECT, ledger_from_row, |row| row.id)?;
            Ok(Page {
                items: page.items.into_iter().map(|row| row.record).collect(),
                total: page.total,
                has_more: page.has_more,
                next_cursor: page.next_cursor,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::plans::{assert_indexed, store};

    #[test]
    fn the_ledger_list_walks_its_voucher_index() {
        let (_dir, store, project) = store();
        let plan = store
            .read(|conn| {
                let mut listing = Listing::new(
                    LEDGER,
                    project,
                    &ListQuery {
                        starting_after: Some("7".to_owned()),
                        ..ListQuery::default()
                    },
                )?;
                listing.filter("l.voucher_id = ?", [Value::Integer(1)]);
                Ok(assert_indexed(
                    "ledger",
                    &listing.plan(conn, LEDGER_SELECT, false),
                ))
            })
            .unwrap();
        assert!(plan.contains("gift_ledger_voucher"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
