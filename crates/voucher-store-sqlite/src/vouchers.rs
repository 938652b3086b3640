//! Vouchers one at a time ([`VoucherStore`]): create (with a given or a
//! generated code), read, patch, delete, enable and disable.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use voucher_core::code_pattern::CodePattern;
use voucher_core::port::EventObject;
use voucher_core::port::{
    ProjectId, StoreError, VoucherPatch, VoucherRecord, VoucherSpec, VoucherStore,
};
use voucher_core::value::Metadata;
use voucher_core::voucher::RedemptionQuantity;
use voucher_core::webhook::EventType;

use crate::catalog::{audit, campaign_row, existing_voucher, insert_voucher, voucher_row_by_id};
use crate::encode::{os_seeded, to_i64, to_json, to_ms};
use crate::error::SqlResult;
use crate::projects::load_project;
use crate::webhooks::emit;
use crate::SqliteStore;

/// Attempts at a random code before giving up on a crowded pattern.
const RANDOM_CODE_ATTEMPTS: usize = 16;

/// Unlinks a voucher's redemptions. A redemption names its voucher by the
/// code (or id) it was asked for, so the code index finds them: no index
/// starts with `voucher_id` (one would cost every redemption a write).
pub(crate) const UNLINK_VOUCHER_REDEMPTIONS: &str = "UPDATE redemptions SET voucher_id = NULL
     WHERE project_id = ?1 AND code IN (?2, ?3) AND voucher_id = ?4";

/// Unlinks the redemptions of every code of a campaign at once, through
/// the campaign's index.
pub(crate) const UNLINK_CAMPAIGN_REDEMPTIONS: &str = "UPDATE redemptions SET voucher_id = NULL
     WHERE project_id = ?1 AND campaign_id = ?2 AND voucher_id IS NOT NULL";

/// Deletes a voucher's dependent rows, then the voucher. Redemptions keep
/// their history (and the code) but lose the link.
fn delete_voucher_rows(conn: &Connection, voucher: i64) -> Result<(), StoreError> {
    let (project, code, ext_id): (i64, String, String) = conn
        .prepare_cached("SELECT project_id, code, ext_id FROM vouchers WHERE id = ?1")
        .store()?
        .query_row([voucher], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .store()?;
    conn.prepare_cached(UNLINK_VOUCHER_REDEMPTIONS)
        .store()?
        .execute(rusqlite::params![project, code, ext_id, voucher])
        .store()?;
    for sql in [
        "DELETE FROM gift_ledger WHERE voucher_id = ?1",
        "DELETE FROM publication_vouchers WHERE voucher_id = ?1",
        "DELETE FROM rule_assignments WHERE related_type = 'voucher' AND related_id = ?1",
        "DELETE FROM vouchers WHERE id = ?1",
    ] {
        conn.prepare_cached(sql)
            .store()?
            .execute([voucher])
            .store()?;
    }
    Ok(())
}

/// Deletes every code of a campaign.
pub(crate) fn delete_campaign_codes(conn: &Connection, campaign: i64) -> Result<(), StoreError> {
    // One indexed pass over the campaign's redemptions first, so that each
    // code's own unlinking below finds nothing left to change.
    conn.prepare_cached(UNLINK_CAMPAIGN_REDEMPTIONS)
        .store()?
        .execute(rusqlite::params![
            conn.query_row(
                "SELECT project_id FROM campaigns WHERE id = ?1",
                [campaign],
                |r| { r.get::<_, i64>(0) }
            )
            .store()?,
            campaign
        ])
        .store()?;
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM vouchers WHERE campaign_id = ?1")
        .store()?
        .query_map([campaign], |r| r.get(0))
        .store()?
        .collect::<Result<_, _>>()
        .store()?;
    for id in ids {
        delete_voucher_rows(conn, id)?;
    }
    Ok(())
}

impl VoucherStore for SqliteStore {
    fn create_voucher(
        &self,
        project: ProjectId,
        spec: &VoucherSpec,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError> {
        let spec = spec.clone();
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let project = load_project(conn, project)?;
            let campaign = spec
                .campaign
                .as_deref()
                .map(|c| campaign_row(conn, project.id, c))
                .transpose()?;
            let id = match &spec.code {
                Some(code) => insert_voucher(conn, &project, campaign.as_ref(), &spec, code, now)?,
                None => {
                    let config = spec
                        .code_config
                        .clone()
                        .or_else(|| {
                            campaign
                                .as_ref()
                                .map(|c| c.record.spec.template.code_config.clone())
                        })
                        .unwrap_or_default();
                    let pattern = CodePattern::new(&config).map_err(|e| StoreError::Invalid {
                        key: "invalid_code_config",
                        message: e.to_string(),
                    })?;
                    let mut rng = os_seeded();
                    let mut attempt = 0;
                    loop {
                        let code = pattern.generate_one(&mut rng);
                        match insert_voucher(conn, &project, campaign.as_ref(), &spec, &code, now) {
                            Err(StoreError::Duplicate { .. }) if attempt < RANDOM_CODE_ATTEMPTS => {
                                attempt += 1;
                            }
                            other => break other?,
                        }
                    }
                }
            };
            let record = voucher_row_by_id(conn, id)?.record;
            emit(
                conn,
                &subscriptions,
                project.id,
                EventType::VoucherCreated,
                now,
                || Ok(EventObject::Voucher(Box::new(record.clone()))),
            )?;
            Ok(record)
        })
    }

    fn voucher(&self, project: ProjectId, code_or_id: &str) -> Result<VoucherRecord, StoreError> {
        self.read(|conn| Ok(existing_voucher(conn, project, code_or_id)?.record))
    }

    fn update_voucher(
        &self,
        project: ProjectId,
        code_or_id: &str,
        patch: &VoucherPatch,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError> {
        let (code_or_id, patch) = (code_or_id.to_owned(), patch.clone());
        self.write(move |conn| {
            // A job may run again (see `writer`): it keeps its patch.
            let patch = patch.clone();
            let row = existing_voucher(conn, project, &code_or_id)?;
            let mut record = row.record;
            if let Some(discount) = patch.discount {
                match record.benefit {
                    voucher_core::port::BenefitSpec::Discount(ref current)
                        if current.value().kind() == discount.value().kind() =>
                    {
                        record.benefit = voucher_core::port::BenefitSpec::Discount(discount);
                    }
                    _ => {
                        return Err(StoreError::Invalid {
                            key: "invalid_voucher",
                            message: "It is not possible to change Voucher discount type"
                                .to_owned(),
                        })
                    }
                }
            }
            if let Some(quantity) = patch.quantity {
                if let RedemptionQuantity::Limited(q) = quantity {
                    if q < record.redeemed_quantity {
                        return Err(StoreError::Invalid {
                            key: "invalid_voucher",
                            message: format!(
                                "quantity {q} is below the {} redemptions already made",
                                record.redeemed_quantity
                            ),
                        });
                    }
                }
                record.quantity = quantity;
            }
            if let Some(validity) = patch.validity {
                let tz = load_project(conn, project)?.spec.time_zone;
                validity.check(tz).map_err(|e| StoreError::Invalid {
                    key: "invalid_payload",
                    message: e.to_string(),
                })?;
                record.validity = validity;
            }
            if let Some(activity) = patch.activity {
                record.activity = activity;
            }
            if let Some(category) = patch.category {
                record.category = category;
            }
            if let Some(info) = patch.additional_info {
                record.additional_info = info;
            }
            if let Some(metadata) = patch.metadata {
                record.metadata = metadata;
            }
            let discount = match &record.benefit {
                voucher_core::port::BenefitSpec::Discount(d) => Some(to_json(d)?),
                voucher_core::port::BenefitSpec::Gift { .. } => None,
            };
            let quantity = match record.quantity {
                RedemptionQuantity::Limited(q) => Some(to_i64(q)?),
                RedemptionQuantity::Unlimited => None,
            };
            conn.prepare_cached(
                "UPDATE vouchers SET discount = ?2, quantity = ?3, validity = ?4, active = ?5,
                        category = ?6, additional_info = ?7, metadata = ?8, updated_at = ?9
                 WHERE id = ?1",
            )
            .store()?
            .execute(params![
                row.id,
                discount,
                quantity,
                to_json(&record.validity)?,
                record.activity.is_enabled(),
                record.category,
                record.additional_info,
                to_json(&record.metadata)?,
                to_ms(now)
            ])
            .store()?;
            Ok(voucher_row_by_id(conn, row.id)?.record)
        })
    }

    fn delete_voucher(
        &self,
        project: ProjectId,
        code_or_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let code_or_id = code_or_id.to_owned();
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let row = existing_voucher(conn, project, &code_or_id)?;
            emit(
                conn,
                &subscriptions,
                project,
                EventType::VoucherDeleted,
                now,
                || Ok(EventObject::Voucher(Box::new(row.record.clone()))),
            )?;
            delete_voucher_rows(conn, row.id)?;
            if let Some(campaign) = row.campaign_id {
                conn.prepare_cached(
                    "UPDATE campaigns SET codes_count = codes_count - 1 WHERE id = ?1",
                )
                .store()?
                .execute([campaign])
                .store()?;
            }
            audit(
                conn,
                project,
                "api",
                "voucher.deleted",
                ("voucher", &row.record.id),
                &Metadata::new(),
                now,
            )
        })
    }

    fn set_voucher_active(
        &self,
        project: ProjectId,
        code_or_id: &str,
        active: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError> {
        let (code_or_id, actor) = (code_or_id.to_owned(), actor.to_owned());
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let row = existing_voucher(conn, project, &code_or_id)?;
            conn.prepare_cached("UPDATE vouchers SET active = ?2, updated_at = ?3 WHERE id = ?1")
                .store()?
                .execute(params![row.id, active, to_ms(now)])
                .store()?;
            let action = if active {
                "voucher.enabled"
            } else {
                "voucher.disabled"
            };
            audit(
                conn,
                project,
                &actor,
                action,
                ("voucher", &row.record.id),
                &Metadata::new(),
                now,
            )?;
            let record = voucher_row_by_id(conn, row.id)?.record;
            let event = if active {
                EventType::VoucherEnabled
            } else {
                EventType::VoucherDisabled
            };
            emit(conn, &subscriptions, project, event, now, || {
                Ok(EventObject::Voucher(Box::new(record.clone())))
            })?;
            Ok(record)
        })
    }
}
