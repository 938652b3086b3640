//! Campaigns and the generation of their codes ([`CampaignStore`]).
//!
//! Codes are generated in chunks, one writer job per chunk, so memory stays
//! bounded whatever the count and redemptions keep flowing between chunks.
//! Uniqueness: the generator keeps a chunk free of repeats; a code that
//! collides with one already in the table is skipped by `INSERT OR IGNORE`
//! (the UNIQUE index is the check, one statement per code) and replaced by
//! a fresh one in the next round.

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rusqlite::{params, Connection};
use voucher_core::code_pattern::{Code, CodePattern};
use voucher_core::limits::CODE_GENERATION_ATTEMPTS_MAX;
use voucher_core::port::EventObject;
use voucher_core::port::{
    BenefitSpec, CampaignRecord, CampaignSpec, CampaignStore, GenerationStatus, ProjectId,
    StoreError,
};
use voucher_core::value::Metadata;
use voucher_core::voucher::{Activity, CampaignKind, RedemptionQuantity};
use voucher_core::webhook::EventType;

use crate::catalog::{
    audit, campaign_row, campaign_row_by_id, generation_text, insert_campaign,
    with_campaign_assignments, CampaignRow,
};
use crate::encode::{new_id, to_i64, to_json, to_ms};
use crate::error::SqlResult;
use crate::projects::load_project;
use crate::webhooks::emit;
use crate::SqliteStore;

/// Codes inserted per writer job.
const GENERATION_CHUNK: u64 = 50_000;

fn invalid_code_config(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        key: "invalid_code_config",
        message: e.to_string(),
    }
}

fn pattern_of(spec: &CampaignSpec) -> Result<CodePattern, StoreError> {
    CodePattern::new(&spec.template.code_config).map_err(invalid_code_config)
}

fn check_spec(spec: &CampaignSpec, existing: u64, tz: chrono_tz::Tz) -> Result<(), StoreError> {
    let invalid = |message: String| StoreError::Invalid {
        key: "invalid_campaign",
        message,
    };
    if spec.name.trim().is_empty() {
        return Err(invalid("a campaign needs a name".to_owned()));
    }
    spec.validity
        .check(spec.time_zone.unwrap_or(tz))
        .map_err(|e| invalid(e.to_string()))?;
    if spec.kind != CampaignKind::Standalone && spec.vouchers_count > 0 {
        pattern_of(spec)?
            .check_capacity(existing, spec.vouchers_count)
            .map_err(invalid_code_config)?;
    }
    Ok(())
}

/// One chunk of generated codes, inserted; returns how many went in.
fn insert_codes(
    conn: &Connection,
    project: ProjectId,
    campaign: &CampaignRow,
    codes: &[Code],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let template = &campaign.record.spec.template;
    // Generated codes keep no discount or validity of their own: the
    // discount is the campaign's (`template_discount`), the validity the
    // default. Small rows are what makes a million of them fast.
    let (kind, gift) = match &template.benefit {
        BenefitSpec::Discount(_) => ("DISCOUNT_VOUCHER", None),
        BenefitSpec::Gift { amount_minor } => ("GIFT_VOUCHER", Some(*amount_minor)),
    };
    let quantity = match template.quantity {
        RedemptionQuantity::Limited(q) => Some(to_i64(q)?),
        RedemptionQuantity::Unlimited => None,
    };
    let metadata = to_json(&Metadata::new())?;
    let now = to_ms(now);
    let mut insert = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO vouchers (project_id, ext_id, code, campaign_id, type,
                 gift_amount, gift_balance, quantity, active, metadata, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, 1, ?8, ?9, ?9)",
        )
        .store()?;
    let mut ledger = conn
        .prepare_cached(
            "INSERT INTO gift_ledger (project_id, ext_id, voucher_id, kind, amount, balance_after,
                                      reason, created_at)
             VALUES (?1, ?2, ?3, 'ADDITION', ?4, ?4, 'initial amount', ?5)",
        )
        .store()?;
    let mut inserted = 0;
    for code in codes {
        let changed = insert
            .execute(params![
                project.0,
                new_id("v_"),
                code.as_str(),
                campaign.id,
                kind,
                gift,
                quantity,
                metadata,
                now
            ])
            .store()?;
        if changed == 1 {
            inserted += 1;
            if let Some(amount) = gift.filter(|a| *a > 0) {
                let id = conn.last_insert_rowid();
                ledger
                    .execute(params![project.0, new_id("vtx_"), id, amount, now])
                    .store()?;
            }
        }
    }
    conn.prepare_cached(
        "UPDATE campaigns SET codes_count = codes_count + ?2, updated_at = ?3 WHERE id = ?1",
    )
    .store()?
    .execute(params![campaign.id, to_i64(inserted)?, now])
    .store()?;
    Ok(inserted)
}

fn set_generation(
    conn: &Connection,
    campaign: i64,
    status: GenerationStatus,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE campaigns SET generation = ?2 WHERE id = ?1")
        .store()?
        .execute(params![campaign, generation_text(status)])
        .store()?;
    Ok(())
}

impl CampaignStore for SqliteStore {
    fn create_campaign(
        &self,
        project: ProjectId,
        spec: &CampaignSpec,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError> {
        let spec = spec.clone();
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let tz = load_project(conn, project)?.spec.time_zone;
            check_spec(&spec, 0, tz)?;
            let pending = spec.kind != CampaignKind::Standalone && spec.vouchers_count > 0;
            let status = if pending {
                GenerationStatus::InProgress
            } else {
                GenerationStatus::Done
            };
            let record = insert_campaign(conn, project, &spec, status, now)?.record;
            emit(
                conn,
                &subscriptions,
                project,
                EventType::CampaignCreated,
                now,
                || Ok(EventObject::Campaign(Box::new(record.clone()))),
            )?;
            Ok(record)
        })
    }

    fn generate_codes(
        &self,
        project: ProjectId,
        campaign_id: &str,
        count: u64,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let campaign = self.read(|conn| campaign_row(conn, project, campaign_id))?;
        let pattern = pattern_of(&campaign.record.spec)?;
        pattern
            .check_capacity(campaign.record.codes_count, count)
            .map_err(invalid_code_config)?;
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let mut done = 0u64;
        let mut rounds_without_progress = 0;
        while done < count {
            let want = (count - done).min(GENERATION_CHUNK);
            let mut chunk = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
            pattern.generate_into(&mut rng, want, &mut chunk, |_| {
                Ok::<bool, StoreError>(false)
            })?;
            let row = campaign.clone();
            let inserted = self.write_alone(move |conn| {
                // Re-read: the campaign may have been deleted meanwhile.
                let row = campaign_row_by_id(conn, row.id)?;
                insert_codes(conn, project, &row, &chunk, now)
            })?;
            done += inserted;
            // Collisions only shrink a round; a round that adds nothing many
            // times means the space is exhausted.
            rounds_without_progress = if inserted == 0 {
                rounds_without_progress + 1
            } else {
                0
            };
            if rounds_without_progress > CODE_GENERATION_ATTEMPTS_MAX {
                let id = campaign.id;
                self.write(move |conn| set_generation(conn, id, GenerationStatus::Failed))?;
                return Err(invalid_code_config("the code space is exhausted"));
            }
        }
        let id = campaign.id;
        self.write(move |conn| set_generation(conn, id, GenerationStatus::Done))?;
        Ok(done)
    }

    fn campaign(&self, project: ProjectId, id_or_name: &str) -> Result<CampaignRecord, StoreError> {
        self.read(|conn| {
            Ok(with_campaign_assignments(conn, campaign_row(conn, project, id_or_name)?)?.record)
        })
    }

    fn update_campaign(
        &self,
        project: ProjectId,
        id_or_name: &str,
        spec: &CampaignSpec,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError> {
        let (id_or_name, spec) = (id_or_name.to_owned(), spec.clone());
        self.write(move |conn| {
            let row = campaign_row(conn, project, &id_or_name)?;
            let tz = load_project(conn, project)?.spec.time_zone;
            check_spec(
                &CampaignSpec {
                    vouchers_count: 0,
                    ..spec.clone()
                },
                0,
                tz,
            )?;
            let current = &row.record.spec;
            if spec.campaign_type != current.campaign_type || spec.kind != current.kind {
                return Err(StoreError::Invalid {
                    key: "invalid_campaign",
                    message: "the type of a campaign cannot change".to_owned(),
                });
            }
            let result = conn
                .prepare_cached(
                    "UPDATE campaigns SET name = ?2, active = ?3, spec = ?4, updated_at = ?5,
                            template_discount = ?6
                     WHERE id = ?1",
                )
                .store()?
                .execute(params![
                    row.id,
                    spec.name,
                    spec.activity.is_enabled(),
                    to_json(&spec)?,
                    to_ms(now),
                    crate::catalog::template_discount(&spec)?
                ]);
            match result {
                Err(e) if crate::error::is_unique_violation(&e) => {
                    return Err(StoreError::Duplicate {
                        resource: "campaign",
                        id: spec.name.clone(),
                    })
                }
                other => other.store()?,
            };
            Ok(with_campaign_assignments(conn, campaign_row_by_id(conn, row.id)?)?.record)
        })
    }

    fn delete_campaign(
        &self,
        project: ProjectId,
        id_or_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id_or_name = id_or_name.to_owned();
        self.write(move |conn| {
            let row = campaign_row(conn, project, &id_or_name)?;
            crate::vouchers::delete_campaign_codes(conn, row.id)?;
            conn.execute(
                "DELETE FROM rule_assignments WHERE related_type = 'campaign' AND related_id = ?1",
                [row.id],
            )
            .store()?;
            // Redemptions and publications keep their history; they lose the link.
            conn.execute(
                "UPDATE redemptions SET campaign_id = NULL WHERE project_id = ?1 AND campaign_id = ?2",
                [project.0, row.id],
            )
            .store()?;
            conn.execute(
                "UPDATE rollbacks SET campaign_id = NULL WHERE project_id = ?1 AND campaign_id = ?2",
                [project.0, row.id],
            )
            .store()?;
            conn.execute(
                "UPDATE publications SET campaign_id = NULL WHERE campaign_id = ?1",
                [row.id],
            )
            .store()?;
            conn.execute("DELETE FROM campaigns WHERE id = ?1", [row.id])
                .store()?;
            audit(
                conn,
                project,
                "api",
                "campaign.deleted",
                ("campaign", &row.record.id),
                &Metadata::new(),
                now,
            )
        })
    }

    fn set_campaign_active(
        &self,
        project: ProjectId,
        id_or_name: &str,
        active: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError> {
        let (id_or_name, actor) = (id_or_name.to_owned(), actor.to_owned());
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let row = campaign_row(conn, project, &id_or_name)?;
            let mut spec = row.record.spec.clone();
            spec.activity = Activity::from_active(active);
            conn.prepare_cached(
                "UPDATE campaigns SET active = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1",
            )
            .store()?
            .execute(params![row.id, active, to_json(&spec)?, to_ms(now)])
            .store()?;
            let action = if active {
                "campaign.enabled"
            } else {
                "campaign.disabled"
            };
            audit(
                conn,
                project,
                &actor,
                action,
                ("campaign", &row.record.id),
                &Metadata::new(),
                now,
            )?;
            let record = with_campaign_assignments(conn, campaign_row_by_id(conn, row.id)?)?.record;
            let event = if active {
                EventType::CampaignEnabled
            } else {
                EventType::CampaignDisabled
            };
            emit(conn, &subscriptions, project, event, now, || {
                Ok(EventObject::Campaign(Box::new(record.clone())))
            })?;
            Ok(record)
        })
    }
}
