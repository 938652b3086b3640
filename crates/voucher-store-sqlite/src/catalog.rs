//! Rows of the catalog (campaigns, vouchers, rule assignments) and their
//! translation into the port's records and the core's decision inputs.
//! Every function runs inside a transaction its caller opened (the writer's
//! or a reader's), so what it reads is one consistent snapshot.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, Row};
use voucher_core::code_pattern::Code;
use voucher_core::ledger::Ledger;
use voucher_core::port::{
    AssignmentRecord, BenefitSpec, CampaignRecord, CampaignSpec, GenerationStatus, ProjectId,
    ProjectRecord, StoreError, VoucherRecord, VoucherSpec,
};
use voucher_core::rules::RuleSet;
use voucher_core::validity::{Moment, Validity};
use voucher_core::value::Metadata;
use voucher_core::voucher::{
    Activity, Benefit, Campaign, CampaignKind, CampaignType, Counters, RedemptionQuantity, Voucher,
};

use crate::encode::{
    count, from_json, from_json_cached, from_ms, new_id, opt_from_ms, to_i64, to_json, to_ms,
};
use crate::error::{is_unique_violation, SqlResult};
use crate::ReadCache;

/// A campaign row: its integer id beside the record.
#[derive(Debug, Clone)]
pub(crate) struct CampaignRow {
    pub id: i64,
    pub record: CampaignRecord,
    /// The counters a decision reads (`redemptions_active`, `given_minor`),
    /// as read with the row: [`counters`] takes them from here rather than
    /// reading the row again in the same transaction.
    pub counters: (i64, i64),
}

/// The columns [`campaign_from_row`] reads, in order.
pub(crate) const CAMPAIGN_COLUMNS: &str =
    "id, ext_id, name, active, spec, codes_count, generation, created_at, updated_at,
     redemptions_active, given_minor";

fn generation_from(text: &str) -> Result<GenerationStatus, StoreError> {
    match text {
        "IN_PROGRESS" => Ok(GenerationStatus::InProgress),
        "DONE" => Ok(GenerationStatus::Done),
        "FAILED" => Ok(GenerationStatus::Failed),
        other => Err(StoreError::Corrupt(format!("generation status {other:?}"))),
    }
}

/// The column text of a generation status.
pub(crate) fn generation_text(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::InProgress => "IN_PROGRESS",
        GenerationStatus::Done => "DONE",
        GenerationStatus::Failed => "FAILED",
    }
}

/// Reads one row of [`CAMPAIGN_COLUMNS`].
pub(crate) fn campaign_from_row(
    row: &Row<'_>,
) -> rusqlite::Result<Result<CampaignRow, StoreError>> {
    let id: i64 = row.get(0)?;
    let ext_id: String = row.get(1)?;
    let name: String = row.get(2)?;
    let active: bool = row.get(3)?;
    let spec: String = row.get(4)?;
    let codes_count: i64 = row.get(5)?;
    let generation: String = row.get(6)?;
    let created_at: i64 = row.get(7)?;
    let updated_at: i64 = row.get(8)?;
    let counters: (i64, i64) = (row.get(9)?, row.get(10)?);
    Ok((|| {
        let mut spec: CampaignSpec = from_json_cached(&spec)?;
        // The columns are authoritative for what has its own column.
        spec.name = name;
        spec.activity = Activity::from_active(active);
        Ok(CampaignRow {
            id,
            record: CampaignRecord {
                id: ext_id,
                spec,
                codes_count: count(codes_count)?,
                generation: generation_from(&generation)?,
                assignments: Vec::new(),
                created_at: from_ms(created_at)?,
                updated_at: from_ms(updated_at)?,
            },
            counters,
        })
    })())
}

/// The campaign with this external id or name.
pub(crate) fn campaign_row(
    conn: &Connection,
    project: ProjectId,
    id_or_name: &str,
) -> Result<CampaignRow, StoreError> {
    for column in ["ext_id", "name"] {
        let found = conn
            .prepare_cached(&format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE project_id = ?1 AND {column} = ?2"
            ))
            .store()?
            .query_row(params![project.0, id_or_name], campaign_from_row)
            .optional()
            .store()?;
        if let Some(row) = found {
            return row;
        }
    }
    Err(StoreError::NotFound {
        resource: "campaign",
        id: id_or_name.to_owned(),
    })
}

/// The campaign with this row id.
pub(crate) fn campaign_row_by_id(conn: &Connection, id: i64) -> Result<CampaignRow, StoreError> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?1"));
    conn.prepare_cached(&SQL)
        .store()?
        .query_row([id], campaign_from_row)
        .optional()
        .store()?
        .ok_or_else(|| StoreError::Corrupt(format!("campaign row {id} is missing")))?
}

/// The column text of a campaign kind.
pub(crate) fn kind_text(kind: CampaignKind) -> &'static str {
    match kind {
        CampaignKind::Static => "STATIC",
        CampaignKind::AutoUpdate => "AUTO_UPDATE",
        CampaignKind::Standalone => "STANDALONE",
    }
}

/// The `template_discount` column of a campaign: its codes' discount.
pub(crate) fn template_discount(spec: &CampaignSpec) -> Result<Option<String>, StoreError> {
    match &spec.template.benefit {
        BenefitSpec::Discount(discount) => to_json(discount).map(Some),
        BenefitSpec::Gift { .. } => Ok(None),
    }
}

/// Inserts a campaign (no codes yet).
pub(crate) fn insert_campaign(
    conn: &Connection,
    project: ProjectId,
    spec: &CampaignSpec,
    generation: GenerationStatus,
    now: DateTime<Utc>,
) -> Result<CampaignRow, StoreError> {
    let ext_id = new_id("camp_");
    let campaign_type = match spec.campaign_type {
        CampaignType::DiscountCoupons => "DISCOUNT_COUPONS",
        CampaignType::GiftVouchers => "GIFT_VOUCHERS",
    };
    let inserted = conn
        .prepare_cached(
            "INSERT INTO campaigns (project_id, ext_id, name, campaign_type, kind, active, spec,
                                    generation, created_at, updated_at, template_discount)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        )
        .store()?
        .execute(params![
            project.0,
            ext_id,
            spec.name,
            campaign_type,
            kind_text(spec.kind),
            spec.activity.is_enabled(),
            to_json(spec)?,
            generation_text(generation),
            to_ms(now),
            template_discount(spec)?
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Duplicate {
                resource: "campaign",
                id: spec.name.clone(),
            })
        }
        other => other.store()?,
    };
    campaign_row_by_id(conn, conn.last_insert_rowid())
}

/// A voucher row: its integer ids beside the record.
#[derive(Debug, Clone)]
pub(crate) struct VoucherRow {
    pub id: i64,
    pub campaign_id: Option<i64>,
    pub record: VoucherRecord,
}

/// The voucher rows with their campaign and holder (alias `v`); callers add
/// the WHERE clause.
pub(crate) const VOUCHER_SELECT: &str =
    "SELECT v.id, v.campaign_id, v.ext_id, v.code, c.ext_id, c.name,
        v.type, COALESCE(v.discount, c.template_discount), v.gift_amount, v.gift_balance, v.quantity, v.redeemed_quantity,
        v.redeemed_amount, v.active, v.validity, cu.ext_id, v.published_at, v.publish_count,
        v.category, v.additional_info, v.metadata, v.created_at, v.updated_at
    FROM vouchers v
    LEFT JOIN campaigns c ON c.id = v.campaign_id
    LEFT JOIN customers cu ON cu.id = v.holder_id";

/// Reads one row of [`VOUCHER_SELECT`]; the assignments are added by the
/// caller ([`with_assignments`]).
pub(crate) fn voucher_from_row(row: &Row<'_>) -> rusqlite::Result<Result<VoucherRow, StoreError>> {
    let id: i64 = row.get(0)?;
    let campaign_id: Option<i64> = row.get(1)?;
    let ext_id: String = row.get(2)?;
    let code: String = row.get(3)?;
    let campaign_ext: Option<String> = row.get(4)?;
    let campaign_name: Option<String> = row.get(5)?;
    let kind: String = row.get(6)?;
    let discount: Option<String> = row.get(7)?;
    let gift_amount: Option<i64> = row.get(8)?;
    let gift_balance: Option<i64> = row.get(9)?;
    let quantity: Option<i64> = row.get(10)?;
    let redeemed_quantity: i64 = row.get(11)?;
    let redeemed_amount: i64 = row.get(12)?;
    let active: bool = row.get(13)?;
    let validity: Option<String> = row.get(14)?;
    let holder: Option<String> = row.get(15)?;
    let published_at: Option<i64> = row.get(16)?;
    let publish_count: i64 = row.get(17)?;
    let category: Option<String> = row.get(18)?;
    let additional_info: Option<String> = row.get(19)?;
    let metadata: String = row.get(20)?;
    let created_at: i64 = row.get(21)?;
    let updated_at: i64 = row.get(22)?;
    Ok((|| {
        let benefit = match (kind.as_str(), discount, gift_amount) {
            ("DISCOUNT_VOUCHER", Some(discount), _) => {
                BenefitSpec::Discount(from_json_cached(&discount)?)
            }
            ("GIFT_VOUCHER", _, Some(amount_minor)) => BenefitSpec::Gift { amount_minor },
            (other, _, _) => {
                return Err(StoreError::Corrupt(format!(
                    "voucher {ext_id}: type {other:?}"
                )))
            }
        };
        Ok(VoucherRow {
            id,
            campaign_id,
            record: VoucherRecord {
                id: ext_id,
                code: Code::parse(&code)
                    .map_err(|e| StoreError::Corrupt(format!("voucher code: {e}")))?,
                campaign: campaign_ext.zip(campaign_name),
                benefit,
                gift_balance_minor: gift_balance,
                quantity: match quantity {
                    Some(q) => RedemptionQuantity::Limited(count(q)?),
                    None => RedemptionQuantity::Unlimited,
                },
                redeemed_quantity: count(redeemed_quantity)?,
                redeemed_amount_minor: redeemed_amount,
                validity: match validity {
                    Some(text) => from_json(&text)?,
                    None => Validity::default(),
                },
                activity: Activity::from_active(active),
                holder_id: holder,
                published_at: opt_from_ms(published_at)?,
                publish_count: count(publish_count)?,
                category,
                additional_info,
                metadata: from_json(&metadata)?,
                assignments: Vec::new(),
                created_at: from_ms(created_at)?,
                updated_at: from_ms(updated_at)?,
            },
        })
    })())
}

/// Adds the campaign's own rule assignments to its record (the rows the
/// decisions read go without: the rules they need are loaded with the
/// voucher).
pub(crate) fn with_campaign_assignments(
    conn: &Connection,
    mut row: CampaignRow,
) -> Result<CampaignRow, StoreError> {
    row.record.assignments = assignments(conn, "campaign", row.id)?;
    Ok(row)
}

/// Adds the voucher's own rule assignments to its record.
pub(crate) fn with_assignments(
    conn: &Connection,
    mut row: VoucherRow,
) -> Result<VoucherRow, StoreError> {
    row.record.assignments = assignments(conn, "voucher", row.id)?;
    Ok(row)
}

/// The voucher with this code (exact, case-sensitive) or external id.
pub(crate) fn voucher_row(
    conn: &Connection,
    project: ProjectId,
    code_or_id: &str,
) -> Result<Option<VoucherRow>, StoreError> {
    Ok(voucher_row_with_rules(conn, project, code_or_id)?.map(|(row, _)| row))
}

/// Like [`voucher_row`], with the texts of the rule sets assigned to the
/// voucher (read with its assignments, in one query).
fn voucher_row_with_rules(
    conn: &Connection,
    project: ProjectId,
    code_or_id: &str,
) -> Result<Option<(VoucherRow, Vec<String>)>, StoreError> {
    // Built once: formatting them anew cost a redemption an allocation each.
    static BY: LazyLock<[String; 2]> = LazyLock::new(|| {
        ["v.code", "v.ext_id"]
            .map(|column| format!("{VOUCHER_SELECT} WHERE v.project_id = ?1 AND {column} = ?2"))
    });
    for sql in BY.iter() {
        let found = conn
            .prepare_cached(sql)
            .store()?
            .query_row(params![project.0, code_or_id], voucher_from_row)
            .optional()
            .store()?;
        if let Some(row) = found {
            let mut row = row?;
            let (assignments, rules) = assignments_with_rules(conn, "voucher", row.id)?;
            row.record.assignments = assignments;
            return Ok(Some((row, rules)));
        }
    }
    Ok(None)
}

/// Like [`voucher_row`], `NotFound` when absent.
pub(crate) fn existing_voucher(
    conn: &Connection,
    project: ProjectId,
    code_or_id: &str,
) -> Result<VoucherRow, StoreError> {
    voucher_row(conn, project, code_or_id)?.ok_or_else(|| StoreError::NotFound {
        resource: "voucher",
        id: code_or_id.to_owned(),
    })
}

/// The voucher with this row id.
pub(crate) fn voucher_row_by_id(conn: &Connection, id: i64) -> Result<VoucherRow, StoreError> {
    let row = conn
        .prepare_cached(&format!("{VOUCHER_SELECT} WHERE v.id = ?1"))
        .store()?
        .query_row([id], voucher_from_row)
        .optional()
        .store()?
        .ok_or_else(|| StoreError::Corrupt(format!("voucher row {id} is missing")))??;
    with_assignments(conn, row)
}

/// The rule assignments of a voucher or campaign, oldest first.
pub(crate) fn assignments(
    conn: &Connection,
    related_type: &str,
    related_id: i64,
) -> Result<Vec<AssignmentRecord>, StoreError> {
    Ok(assignments_with_rules(conn, related_type, related_id)?.0)
}

/// The rule assignments of a voucher or campaign, oldest first, and the
/// texts of their rule sets, in the same order.
fn assignments_with_rules(
    conn: &Connection,
    related_type: &str,
    related_id: i64,
) -> Result<(Vec<AssignmentRecord>, Vec<String>), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.ext_id, r.ext_id, a.created_at,
                    CASE a.related_type WHEN 'voucher' THEN v.ext_id ELSE c.ext_id END, r.rules
             FROM rule_assignments a
             JOIN validation_rules r ON r.id = a.rule_id
             LEFT JOIN vouchers v ON a.related_type = 'voucher' AND v.id = a.related_id
             LEFT JOIN campaigns c ON a.related_type = 'campaign' AND c.id = a.related_id
             WHERE a.related_type = ?1 AND a.related_id = ?2
             ORDER BY a.id",
        )
        .store()?;
    let rows = stmt
        .query_map(params![related_type, related_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .store()?;
    let mut assignments = Vec::new();
    let mut rules = Vec::new();
    for row in rows {
        let (id, rule_id, created_at, related, text) = row.store()?;
        assignments.push(AssignmentRecord {
            id,
            rule_id,
            related_type: related_type.to_owned(),
            related_id: related.unwrap_or_default(),
            created_at: from_ms(created_at)?,
        });
        rules.push(text);
    }
    Ok((assignments, rules))
}

/// The checked rule sets assigned to a voucher or campaign, oldest first.
pub(crate) fn assigned_rules(
    conn: &Connection,
    related_type: &str,
    related_id: i64,
) -> Result<Vec<RuleSet>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.rules FROM rule_assignments a
             JOIN validation_rules r ON r.id = a.rule_id
             WHERE a.related_type = ?1 AND a.related_id = ?2
             ORDER BY a.id",
        )
        .store()?;
    let rows = stmt
        .query_map(params![related_type, related_id], |row| {
            row.get::<_, String>(0)
        })
        .store()?;
    rows.map(|text| from_json_cached::<RuleSet>(&text.store()?))
        .collect()
}

/// The core's campaign from a campaign row and its rules.
pub(crate) fn core_campaign(row: &CampaignRow, rules: Vec<RuleSet>) -> Campaign {
    let spec = &row.record.spec;
    Campaign {
        name: spec.name.clone(),
        campaign_type: spec.campaign_type,
        kind: spec.kind,
        activity: spec.activity,
        validity: spec.validity.clone(),
        time_zone: spec.time_zone,
        rules,
        limits: spec.limits,
        categories: spec.categories.clone(),
    }
}

/// Everything a decision about one code needs, read in one transaction.
#[derive(Debug, Clone)]
pub(crate) struct DecisionInputs {
    pub voucher_row: VoucherRow,
    pub campaign_row: Option<CampaignRow>,
    pub voucher: Voucher,
    pub campaign: Option<Campaign>,
}

/// Loads a code's voucher, campaign and rules as the core wants them;
/// `None` for an unknown code.
pub(crate) fn decision_inputs(
    conn: &Connection,
    project: &ProjectRecord,
    code: &str,
) -> Result<Option<DecisionInputs>, StoreError> {
    decision_inputs_with(conn, project, code, &mut |id| load_campaign(conn, id))
}

/// A campaign row and the core's campaign, as [`decision_inputs`] reads them.
pub(crate) type CampaignInputs = (CampaignRow, Campaign);

/// The campaign of row id `id` and its rules, read in the caller's
/// transaction.
pub(crate) fn load_campaign(conn: &Connection, id: i64) -> Result<CampaignInputs, StoreError> {
    let row = campaign_row_by_id(conn, id)?;
    let campaign = core_campaign(&row, assigned_rules(conn, "campaign", row.id)?);
    Ok((row, campaign))
}

/// The campaign of row id `id`, from a reader's `cache` when there.
pub(crate) fn cached_campaign(
    conn: &Connection,
    cache: &mut ReadCache,
    id: i64,
) -> Result<CampaignInputs, StoreError> {
    if let Some(found) = cache.campaigns.get(&id) {
        return Ok(found.clone());
    }
    let loaded = load_campaign(conn, id)?;
    cache.campaigns.insert(id, loaded.clone());
    Ok(loaded)
}

/// Like [`decision_inputs`], the code's campaign from `campaign` (which
/// must answer as [`load_campaign`] would in the same transaction, e.g.
/// from a reader's cache).
pub(crate) fn decision_inputs_with(
    conn: &Connection,
    project: &ProjectRecord,
    code: &str,
    campaign: &mut dyn FnMut(i64) -> Result<CampaignInputs, StoreError>,
) -> Result<Option<DecisionInputs>, StoreError> {
    let Some((voucher_row, voucher_rules)) = voucher_row_with_rules(conn, project.id, code)? else {
        return Ok(None);
    };
    let (campaign_row, campaign) = match voucher_row.campaign_id {
        Some(id) => {
            let (row, campaign) = campaign(id)?;
            (Some(row), Some(campaign))
        }
        None => (None, None),
    };
    let record = &voucher_row.record;
    let benefit = match &record.benefit {
        BenefitSpec::Discount(discount) => Benefit::Discount(discount.clone()),
        BenefitSpec::Gift { .. } => Benefit::Gift(
            Ledger::from_balance(
                project.spec.currency,
                record.gift_balance_minor.unwrap_or(0),
            )
            .map_err(|e| StoreError::Corrupt(format!("gift balance: {e}")))?,
        ),
    };
    let voucher = Voucher {
        code: record.code.clone(),
        benefit,
        activity: record.activity,
        validity: record.validity.clone(),
        quantity: record.quantity,
        redeemed_quantity: record.redeemed_quantity,
        holder_id: record.holder_id.clone(),
        published_at: record.published_at,
        active_after_publishing: campaign_row
            .as_ref()
            .and_then(|c| c.record.spec.activity_duration_after_publishing),
        rules: voucher_rules
            .iter()
            .map(|text| from_json_cached::<RuleSet>(text))
            .collect::<Result<_, _>>()?,
    };
    Ok(Some(DecisionInputs {
        voucher_row,
        campaign_row,
        voucher,
        campaign,
    }))
}

/// The counters the limits of a decision need, for this customer. `inputs`
/// must have been read in the caller's transaction (the campaign's counters
/// are those read with its row).
pub(crate) fn counters(
    conn: &Connection,
    project: ProjectId,
    inputs: &DecisionInputs,
    customer_id: Option<i64>,
) -> Result<Counters, StoreError> {
    let (campaign_redemptions, campaign_given_minor) = match &inputs.campaign_row {
        Some(row) => row.counters,
        None => (0, 0),
    };
    let customer_redemptions = match customer_id {
        None => 0,
        Some(customer) => {
            let (column, id) = match &inputs.campaign_row {
                Some(row) => ("campaign_id", row.id),
                None => ("voucher_id", inputs.voucher_row.id),
            };
            conn.prepare_cached(&format!(
                "SELECT COUNT(*) FROM redemptions
                 WHERE project_id = ?1 AND customer_id = ?2 AND {column} = ?3
                   AND state = 'SUCCEEDED' AND kind != 'parent'"
            ))
            .store()?
            .query_row(params![project.0, customer, id], |r| r.get::<_, i64>(0))
            .store()?
        }
    };
    Ok(Counters {
        customer_redemptions: count(customer_redemptions)?,
        campaign_redemptions: count(campaign_redemptions)?,
        campaign_given_minor,
    })
}

/// The instant a validity's expiry falls at, for the `expire_at` column.
pub(crate) fn expiry_instant(validity: &Validity, tz: Tz) -> Option<DateTime<Utc>> {
    match validity.expiration? {
        Moment::Instant(t) => Some(t),
        Moment::Date(d) => Moment::Date(d.succ_opt()?).start_instant(tz),
    }
}

/// Inserts a voucher with a known code. `Duplicate` if the code exists.
/// A gift card gets a ledger addition of its initial amount, so its
/// balance is the fold of its entries from the start.
pub(crate) fn insert_voucher(
    conn: &Connection,
    project: &ProjectRecord,
    campaign: Option<&CampaignRow>,
    spec: &VoucherSpec,
    code: &Code,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let template = campaign.map(|c| &c.record.spec.template);
    let benefit = spec
        .benefit
        .clone()
        .or_else(|| template.map(|t| t.benefit.clone()))
        .ok_or_else(|| StoreError::Invalid {
            key: "invalid_voucher",
            message: "a voucher needs a discount or a gift".to_owned(),
        })?;
    if let Some(campaign) = campaign {
        let matches = matches!(
            (&benefit, campaign.record.spec.campaign_type),
            (BenefitSpec::Discount(_), CampaignType::DiscountCoupons)
                | (BenefitSpec::Gift { .. }, CampaignType::GiftVouchers)
        );
        if !matches {
            return Err(StoreError::Invalid {
                key: "invalid_voucher",
                message: "voucher type does not match the campaign type".to_owned(),
            });
        }
    }
    let quantity = spec
        .quantity
        .or_else(|| template.map(|t| t.quantity))
        .unwrap_or(RedemptionQuantity::Unlimited);
    let quantity_column = match quantity {
        RedemptionQuantity::Limited(q) => Some(to_i64(q)?),
        RedemptionQuantity::Unlimited => None,
    };
    let (kind, discount, gift_amount) = match &benefit {
        BenefitSpec::Discount(d) => ("DISCOUNT_VOUCHER", Some(to_json(d)?), None),
        BenefitSpec::Gift { amount_minor } => {
            if *amount_minor < 0 {
                return Err(StoreError::Invalid {
                    key: "invalid_amount",
                    message: "a gift amount cannot be negative".to_owned(),
                });
            }
            ("GIFT_VOUCHER", None, Some(*amount_minor))
        }
    };
    let tz = campaign
        .and_then(|c| c.record.spec.time_zone)
        .unwrap_or(project.spec.time_zone);
    spec.validity.check(tz).map_err(|e| StoreError::Invalid {
        key: "invalid_payload",
        message: e.to_string(),
    })?;
    let ext_id = new_id("v_");
    let inserted = conn
        .prepare_cached(
            "INSERT INTO vouchers (project_id, ext_id, code, campaign_id, type, discount,
                 gift_amount, gift_balance, quantity, active, validity, start_at, expire_at,
                 category, additional_info, metadata, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
        )
        .store()?
        .execute(params![
            project.id.0,
            ext_id,
            code.as_str(),
            campaign.map(|c| c.id),
            kind,
            discount,
            gift_amount,
            quantity_column,
            spec.activity.is_enabled(),
            to_json(&spec.validity)?,
            spec.validity.start.and_then(|m| m.start_instant(tz)).map(to_ms),
            expiry_instant(&spec.validity, tz).map(to_ms),
            spec.category,
            spec.additional_info,
            to_json(&spec.metadata)?,
            to_ms(now)
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Duplicate {
                resource: "voucher",
                id: code.as_str().to_owned(),
            })
        }
        other => other.store()?,
    };
    let id = conn.last_insert_rowid();
    if let Some(amount) = gift_amount.filter(|a| *a > 0) {
        conn.prepare_cached(
            "INSERT INTO gift_ledger (project_id, ext_id, voucher_id, kind, amount, balance_after,
                                      reason, created_at)
             VALUES (?1, ?2, ?3, 'ADDITION', ?4, ?4, 'initial amount', ?5)",
        )
        .store()?
        .execute(params![
            project.id.0,
            new_id("vtx_"),
            id,
            amount,
            to_ms(now)
        ])
        .store()?;
    }
    if let Some(campaign) = campaign {
        conn.prepare_cached("UPDATE campaigns SET codes_count = codes_count + 1 WHERE id = ?1")
            .store()?
            .execute([campaign.id])
            .store()?;
    }
    Ok(id)
}

/// Writes one line of the audit log.
pub(crate) fn audit(
    conn: &Connection,
    project: ProjectId,
    actor: &str,
    action: &str,
    object: (&str, &str),
    details: &Metadata,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (project_id, actor, action, object_type, object_id, details,
                                created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .store()?
    .execute(params![
        project.0,
        actor,
        action,
        object.0,
        object.1,
        to_json(details)?,
        to_ms(now)
    ])
    .store()?;
    Ok(())
}
