//! Publications ([`PublicationStore`]): handing codes to a customer through
//! a channel (wire reference §2.8).
//!
//! A publication names a code, or asks a campaign for `count` (1..=50) of
//! its codes: active, unpublished, not expired, not used up, oldest first;
//! an AUTO_UPDATE campaign generates the ones it lacks from its code
//! config. Each code published gets the customer as its holder (a code held
//! by someone else is `voucher_already_published`), its first publication
//! date, and one more publication. With `join_once` a customer asking a
//! campaign again gets the codes they already hold from it. A `source_id`
//! is the caller's idempotency key: the same request again returns the
//! first publication, another request with it is `Duplicate`; with one,
//! only one code may be asked for (`too_many_vouchers_requested`).
//! Everything happens in one writer job, so two publications never hand
//! out the same free code. The list pages by row id ([`Paging`]), each of
//! its filters served by an index.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use voucher_core::code_pattern::CodePattern;
use voucher_core::limits::{ID_LEN_MAX, METADATA_KEYS_MAX};
use voucher_core::port::EventObject;
use voucher_core::port::{
    CustomerSpec, JoinOnce, Page, ProjectId, PublicationQuery, PublicationRecord, PublicationSpec,
    PublicationStore, PublicationTarget, StoreError, VoucherSpec,
};
use voucher_core::validity::Validity;
use voucher_core::value::Metadata;
use voucher_core::voucher::{Activity, CampaignKind};
use voucher_core::webhook::EventType;

use crate::catalog::{
    campaign_row, existing_voucher, insert_voucher, voucher_row, voucher_row_by_id, CampaignRow,
};
use crate::customers::{find_customer, upsert_customer_row, CustomerRow};
use crate::encode::{count, from_json, from_ms, new_id, os_seeded, to_json, to_ms};
use crate::error::{is_unique_violation, SqlResult};
use crate::paging::Paging;
use crate::projects::load_project;
use crate::webhooks::{emit, Subscriptions};
use crate::SqliteStore;

/// Most codes one publication hands out.
const PUBLICATION_COUNT_MAX: u32 = 50;
/// Attempts at a fresh random code for an AUTO_UPDATE campaign before
/// giving up on a crowded pattern.
const GENERATED_CODE_ATTEMPTS: usize = 16;
/// The channel of a publication that names none.
const DEFAULT_CHANNEL: &str = "API";

fn invalid(key: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key,
        message: message.into(),
    }
}

/// The publication's customer, created or updated (by `id`, which must
/// exist, or `source_id`, created on first sight). A publication needs one
/// named: an empty customer is `missing_customer`.
fn upsert_customer(
    conn: &Connection,
    project: ProjectId,
    spec: &CustomerSpec,
    now: DateTime<Utc>,
) -> Result<CustomerRow, StoreError> {
    if spec == &CustomerSpec::default() {
        return Err(invalid(
            "missing_customer",
            "a publication needs a customer id or source_id",
        ));
    }
    upsert_customer_row(conn, project, spec, now)
}

/// The stored publication with this row id.
fn publication_record(conn: &Connection, id: i64) -> Result<PublicationRecord, StoreError> {
    let (ext_id, customer, customer_source, channel, source_id, metadata, created_at) = conn
        .prepare_cached(
            "SELECT p.ext_id, cu.ext_id, cu.source_id, p.channel, p.source_id, p.metadata,
                    p.created_at
             FROM publications p JOIN customers cu ON cu.id = p.customer_id
             WHERE p.id = ?1",
        )
        .store()?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()
        .store()?
        .ok_or_else(|| StoreError::Corrupt(format!("publication row {id} is missing")))?;
    let voucher_ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT voucher_id FROM publication_vouchers WHERE publication_id = ?1 ORDER BY voucher_id",
        )
        .store()?
        .query_map([id], |r| r.get(0))
        .store()?
        .collect::<Result<_, _>>()
        .store()?;
    let vouchers = voucher_ids
        .into_iter()
        .map(|v| voucher_row_by_id(conn, v).map(|row| row.record))
        .collect::<Result<_, _>>()?;
    Ok(PublicationRecord {
        id: ext_id,
        customer: (customer, customer_source),
        vouchers,
        channel,
        source_id,
        metadata: from_json(&metadata)?,
        created_at: from_ms(created_at)?,
    })
}

fn request_hash(spec: &PublicationSpec) -> Result<Vec<u8>, StoreError> {
    Ok(Sha256::digest(to_json(spec)?.as_bytes()).to_vec())
}

fn check_spec(spec: &PublicationSpec) -> Result<u32, StoreError> {
    let count = match &spec.target {
        PublicationTarget::Voucher(_) => 1,
        PublicationTarget::Campaign { count, .. } => *count,
    };
    if count == 0 || count > PUBLICATION_COUNT_MAX {
        return Err(invalid(
            "invalid_payload",
            format!("count must be between 1 and {PUBLICATION_COUNT_MAX}"),
        ));
    }
    if spec.source_id.is_some() && count > 1 {
        return Err(invalid(
            "too_many_vouchers_requested",
            "Only up to 1 can be published",
        ));
    }
    for text in [Some(&spec.channel), spec.source_id.as_ref()]
        .into_iter()
        .flatten()
    {
        if text.len() > ID_LEN_MAX {
            return Err(invalid(
                "invalid_payload",
                format!("channel and source_id are at most {ID_LEN_MAX} bytes"),
            ));
        }
    }
    if spec.source_id.as_deref() == Some("") {
        return Err(invalid("invalid_payload", "source_id is empty"));
    }
    if spec.metadata.len() > METADATA_KEYS_MAX {
        return Err(invalid(
            "invalid_payload",
            format!("at most {METADATA_KEYS_MAX} metadata keys"),
        ));
    }
    Ok(count)
}

/// Up to `count` codes of the campaign fit to hand out, oldest first.
fn free_codes(
    conn: &Connection,
    project: ProjectId,
    campaign: i64,
    count: u32,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    // The index of unpublished codes: published ones are never read again.
    conn.prepare_cached(
        "SELECT id FROM vouchers INDEXED BY vouchers_unpublished
         WHERE campaign_id = ?1 AND holder_id IS NULL AND project_id = ?2 AND active = 1
           AND (expire_at IS NULL OR expire_at > ?3)
           AND (quantity IS NULL OR redeemed_quantity < quantity)
         ORDER BY id LIMIT ?4",
    )
    .store()?
    .query_map(params![campaign, project.0, to_ms(now), count], |r| {
        r.get(0)
    })
    .store()?
    .collect::<Result<_, _>>()
    .store()
}

/// The customer's codes from the campaign, oldest first.
fn held_codes(
    conn: &Connection,
    project: ProjectId,
    campaign: i64,
    customer: i64,
    count: u32,
) -> Result<Vec<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT id FROM vouchers WHERE project_id = ?1 AND holder_id = ?2 AND campaign_id = ?3
         ORDER BY id LIMIT ?4",
    )
    .store()?
    .query_map(params![project.0, customer, campaign, count], |r| r.get(0))
    .store()?
    .collect::<Result<_, _>>()
    .store()
}

/// Generates `missing` new codes for an AUTO_UPDATE campaign.
fn generate_codes(
    conn: &Connection,
    project: &voucher_core::port::ProjectRecord,
    campaign: &CampaignRow,
    missing: u32,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let pattern = CodePattern::new(&campaign.record.spec.template.code_config)?;
    let codes_count: i64 = conn
        .prepare_cached("SELECT codes_count FROM campaigns WHERE id = ?1")
        .store()?
        .query_row([campaign.id], |r| r.get(0))
        .store()?;
    pattern.check_capacity(crate::encode::count(codes_count)?, u64::from(missing))?;
    let mut rng = os_seeded();
    let mut made = Vec::new();
    for _ in 0..missing {
        let mut attempt = 0;
        let id = loop {
            let code = pattern.generate_one(&mut rng);
            let spec = VoucherSpec {
                code: Some(code.clone()),
                code_config: None,
                campaign: None,
                benefit: None,
                quantity: None,
                validity: Validity::default(),
                activity: Activity::Enabled,
                category: None,
                additional_info: None,
                metadata: Metadata::new(),
            };
            match insert_voucher(conn, project, Some(campaign), &spec, &code, now) {
                Err(StoreError::Duplicate { .. }) if attempt < GENERATED_CODE_ATTEMPTS => {
                    attempt += 1;
                }
                other => break other?,
            }
        };
        made.push(id);
    }
    Ok(made)
}

fn no_voucher_suitable(campaign: &CampaignRow) -> StoreError {
    invalid(
        "no_voucher_suitable_for_publication",
        format!(
            "campaign {} has no voucher suitable for publication",
            campaign.record.spec.name
        ),
    )
}

/// Publishes inside a write job.
fn publish_in(
    conn: &Connection,
    subscriptions: &Subscriptions,
    project: ProjectId,
    spec: &PublicationSpec,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<PublicationRecord, StoreError> {
    let project = load_project(conn, project)?;
    if let Some(source_id) = &spec.source_id {
        let earlier = conn
            .prepare_cached(
                "SELECT id, request_hash FROM publications WHERE project_id = ?1 AND source_id = ?2",
            )
            .store()?
            .query_row(params![project.id.0, source_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })
            .optional()
            .store()?;
        if let Some((id, earlier_hash)) = earlier {
            if earlier_hash.as_deref() == Some(hash) {
                return publication_record(conn, id);
            }
            return Err(StoreError::Duplicate {
                resource: "publication",
                id: source_id.clone(),
            });
        }
    }
    let customer = upsert_customer(conn, project.id, &spec.customer, now)?;
    let (campaign_id, vouchers) = match &spec.target {
        PublicationTarget::Voucher(code) => {
            let voucher = existing_voucher(conn, project.id, code)?;
            if let Some(holder) = &voucher.record.holder_id {
                if holder != &customer.record.id {
                    return Err(invalid(
                        "voucher_already_published",
                        format!("Voucher '{}' has already been published", voucher.record.id),
                    ));
                }
            }
            (voucher.campaign_id, vec![voucher.id])
        }
        PublicationTarget::Campaign { campaign, count } => {
            let campaign = campaign_row(conn, project.id, campaign)?;
            let held = match spec.join_once {
                JoinOnce::Yes => held_codes(conn, project.id, campaign.id, customer.id, *count)?,
                JoinOnce::No => Vec::new(),
            };
            let vouchers = if held.is_empty() {
                let mut free = free_codes(conn, project.id, campaign.id, *count, now)?;
                let missing = count.saturating_sub(u32::try_from(free.len()).unwrap_or(*count));
                if missing > 0 {
                    if campaign.record.spec.kind != CampaignKind::AutoUpdate {
                        return Err(no_voucher_suitable(&campaign));
                    }
                    free.extend(generate_codes(conn, &project, &campaign, missing, now)?);
                }
                free
            } else {
                held
            };
            (Some(campaign.id), vouchers)
        }
    };
    let channel = if spec.channel.is_empty() {
        DEFAULT_CHANNEL
    } else {
        spec.channel.as_str()
    };
    let ext_id = new_id("pub_");
    let inserted = conn
        .prepare_cached(
            "INSERT INTO publications (project_id, ext_id, customer_id, campaign_id, channel,
                                       source_id, request_hash, metadata, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .store()?
        .execute(params![
            project.id.0,
            ext_id,
            customer.id,
            campaign_id,
            channel,
            spec.source_id,
            hash,
            to_json(&spec.metadata)?,
            to_ms(now)
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Duplicate {
                resource: "publication",
                id: spec.source_id.clone().unwrap_or_default(),
            })
        }
        other => other.store()?,
    };
    let publication = conn.last_insert_rowid();
    for voucher in vouchers {
        conn.prepare_cached(
            "UPDATE vouchers SET holder_id = ?2, published_at = COALESCE(published_at, ?3),
                    publish_count = publish_count + 1, updated_at = ?3
             WHERE id = ?1",
        )
        .store()?
        .execute(params![voucher, customer.id, to_ms(now)])
        .store()?;
        conn.prepare_cached(
            "INSERT INTO publication_vouchers (publication_id, voucher_id) VALUES (?1, ?2)",
        )
        .store()?
        .execute(params![publication, voucher])
        .store()?;
    }
    let record = publication_record(conn, publication)?;
    emit(
        conn,
        subscriptions,
        project.id,
        EventType::PublicationSucceeded,
        now,
        || Ok(EventObject::Publication(Box::new(record.clone()))),
    )?;
    Ok(record)
}

impl PublicationStore for SqliteStore {
    fn publish(
        &self,
        project: ProjectId,
        spec: &PublicationSpec,
        now: DateTime<Utc>,
    ) -> Result<PublicationRecord, StoreError> {
        check_spec(spec)?;
        let hash = request_hash(spec)?;
        let spec = spec.clone();
        let subscriptions = self.subscriptions();
        self.write(move |conn| publish_in(conn, &subscriptions, project, &spec, &hash, now))
    }

    fn publications(
        &self,
        project: ProjectId,
        query: &PublicationQuery,
    ) -> Result<Page<PublicationRecord>, StoreError> {
        let list = &query.list;
        let paging = Paging::new(list)?;
        self.read(|conn| {
            load_project(conn, project)?;
            let empty = || Page {
                items: Vec::new(),
                total: 0,
                has_more: false,
                next_cursor: None,
            };
            // The most selective filter drives: a code's few publications,
            // else a customer's, else the project's (or a campaign's) in row
            // id order.
            let from = if query.code.is_some() {
                "publication_vouchers pv CROSS JOIN publications p ON p.id = pv.publication_id"
            } else if query.customer.is_some() {
                "publications p INDEXED BY publications_customer"
            } else {
                "publications p"
            };
            let mut filter = String::from("p.project_id = ?1");
            let mut params = vec![SqlValue::Integer(project.0)];
            let mut and = |condition: &str, value: i64, params: &mut Vec<SqlValue>| {
                params.push(SqlValue::Integer(value));
                filter.push_str(&format!(" AND {condition} ?{}", params.len()));
            };
            if let Some(code) = &query.code {
                let Some(voucher) = voucher_row(conn, project, code)? else {
                    return Ok(empty());
                };
                and("pv.voucher_id =", voucher.id, &mut params);
            }
            if let Some(campaign) = &query.campaign {
                match campaign_row(conn, project, campaign) {
                    Ok(row) => and("p.campaign_id =", row.id, &mut params),
                    Err(StoreError::NotFound { .. }) => return Ok(empty()),
                    Err(e) => return Err(e),
                }
            }
            if let Some(customer) = &query.customer {
                let Some(customer) = find_customer(conn, project, customer)? else {
                    return Ok(empty());
                };
                and("p.customer_id =", customer.id, &mut params);
            }
            if let Some(at) = list.created_after {
                and("p.created_at >", to_ms(at), &mut params);
            }
            if let Some(at) = list.created_before {
                and("p.created_at <", to_ms(at), &mut params);
            }
            let total: i64 = conn
                .prepare(&format!("SELECT COUNT(*) FROM {from} WHERE {filter}"))
                .store()?
                .query_row(params_from_iter(params.iter()), |r| r.get(0))
                .store()?;
            let cursor = paging.cursor_condition("p.id", &mut params);
            let ids: Vec<i64> = conn
                .prepare(&format!(
                    "SELECT p.id FROM {from} WHERE {filter}{cursor}{}",
                    paging.tail("p.id")
                ))
                .store()?
                .query_map(params_from_iter(params.iter()), |r| r.get(0))
                .store()?
                .collect::<Result<_, _>>()
                .store()?;
            let items = ids
                .into_iter()
                .map(|id| Ok((id, publication_record(conn, id)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(paging.page(items, count(total)?))
        })
    }
}
