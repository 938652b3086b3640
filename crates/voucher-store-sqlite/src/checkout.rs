//! Checkout ([`CheckoutStore`]): validation, redemption, rollback, and the
//! redemption log.
//!
//! A redemption is one write job: the project, the customer (upserted), each
//! code's voucher, campaign and counters are read inside the writer's
//! transaction, `voucher_core` decides, and the decision's transitions are
//! applied in the same job, so no limit can be exceeded whatever the
//! concurrency. The updates are guarded by the values the decision saw
//! (`WHERE redeemed_quantity = ?old`): with one writer they always match,
//! and a mismatch is reported as [`StoreError::Corrupt`], never ignored.
//!
//! Every refusal is recorded as a FAILURE redemption (`rf_...`), an unknown
//! code with `resource_not_found`, and the job returns it as `Ok` so that
//! the record commits; the caller then gets [`StoreError::Refused`]. A
//! refused stacked request records a FAILURE parent and, under it, one
//! FAILURE child per refused code (in `ALL` mode only the code that failed
//! the request; in `PARTIAL` mode every inapplicable code, which a
//! successful `PARTIAL` redemption records the same way beside its
//! successful children). Skipped codes are not recorded.
//!
//! Validation reads through a read transaction and writes nothing; it only
//! counts validations per campaign in memory ([`ValidationCounts`]).
//!
//! The redemption log lists rollbacks among the redemptions. Both tables
//! take their row ids from one sequence (`next_entry_id!`), so that row ids
//! order them together as they were written; a page is a `UNION ALL` of
//! the two tables' index walks by row id, which SQLite merges without
//! sorting, and a rollback carries the filtered columns of the redemption
//! it rolled back.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use voucher_core::decision::{
    self, Candidate, Checkout, Credits, Outcome, Project, Reason, RedemptionStatus, Refusal,
    RollbackError, Transition,
};
use voucher_core::discount::{DiscountLevel, OrderState};
use voucher_core::ledger::{Entry, EntryKind};
use voucher_core::limits::{
    CODE_LENGTH_MAX, QUALIFICATION_CANDIDATES_MAX, REDEEMABLES_PER_REQUEST_MAX,
};
use voucher_core::order::Customer;
use voucher_core::port::EventObject;
use voucher_core::port::{
    ChannelType, CheckoutEntry, CheckoutMode, CheckoutRequest, CheckoutResult, CheckoutStore,
    ItemSnapshot, OrderSnapshot, Page, PrepareValidation, ProjectId, ProjectRecord,
    QualificationRequest, QualificationResult, QualifiedRecord, RedemptionKind, RedemptionQuery,
    RedemptionRecord, RedemptionResult, RedemptionState, Reply, RollbackRecord, RollbackRequest,
    StoreError, VoucherRecord,
};
use voucher_core::qualification::{self, QualifyError};
use voucher_core::stacking::{
    self, ApplicationMode, EntryStatus, SkipReason, SortingRule, StackEntry, StackError,
    StackRedemption, StackValidation,
};
use voucher_core::voucher::Counters;
use voucher_core::webhook::EventType;

use crate::catalog::{
    cached_campaign, campaign_row, counters, decision_inputs, decision_inputs_with, load_campaign,
    CampaignInputs, DecisionInputs,
};
use crate::customers::{core_customer, find_customer, lookup_customer, merge, upsert_customer_row};
use crate::encode::{count, from_json, from_ms, new_id, to_json, to_ms};
use crate::error::SqlResult;
use crate::paging::Paging;
use crate::projects::{cached_key, cached_project, load_project};
use crate::webhooks;
use crate::{ReadCache, SqliteStore};

/// The row id of a new redemption or rollback (SQL): one above the highest
/// of both tables, two lookups of their last rows. The two tables thus
/// share one sequence in the order of writes (there is one writer), which
/// orders the redemption list across them (see the schema).
macro_rules! next_entry_id {
    () => {
        "(SELECT max(COALESCE((SELECT max(id) FROM redemptions), 0),
                     COALESCE((SELECT max(id) FROM rollbacks), 0)) + 1)"
    };
}

/// The order status a redemption gives an order whose caller gave none.
const DEFAULT_ORDER_STATUS: &str = "PAID";

/// The stable key of a rollback of something that cannot be rolled back (a
/// failed redemption, or a failed stacked parent).
pub(crate) const INVALID_REDEMPTION: &str = "invalid_redemption";

/// Validations per campaign since the store was opened: the in-memory
/// counter behind the campaign summary's `validations` (validation never
/// writes, so it is not in the file).
#[derive(Debug, Default)]
pub(crate) struct ValidationCounts {
    counts: Mutex<BTreeMap<(i64, String), u64>>,
}

impl ValidationCounts {
    fn add(&self, project: ProjectId, campaign: &str) {
        // A poisoned counter only loses figures; it never fails a checkout.
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((project.0, campaign.to_owned())).or_default() += 1;
        }
    }

    fn get(&self, project: ProjectId, campaign: &str) -> u64 {
        self.counts
            .lock()
            .ok()
            .and_then(|counts| counts.get(&(project.0, campaign.to_owned())).copied())
            .unwrap_or(0)
    }
}

impl SqliteStore {
    /// Validations of the campaign's codes (`camp_...`) since this store
    /// was opened, valid or not. Kept in memory only.
    pub fn validations_count(&self, project: ProjectId, campaign_id: &str) -> u64 {
        self.inner.validations.get(project, campaign_id)
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        key,
        message: message.into(),
    }
}

/// Checks the shape of a request before anything is read: one code in
/// legacy mode, 1..=30 distinct ones when stacked, none longer than a code
/// can be. The project's own `redeemables_limit` is checked by the engine.
fn check_shape(request: &CheckoutRequest) -> Result<(), StoreError> {
    let codes = &request.redeemables;
    match request.mode {
        CheckoutMode::Legacy if codes.len() != 1 => {
            return Err(invalid(
                "invalid_payload",
                "a legacy checkout names exactly one code",
            ))
        }
        CheckoutMode::Stacked if codes.is_empty() => {
            return Err(invalid("invalid_payload", "no redeemables"))
        }
        CheckoutMode::Stacked if codes.len() > REDEEMABLES_PER_REQUEST_MAX => {
            return Err(invalid(
                "invalid_payload",
                format!("at most {REDEEMABLES_PER_REQUEST_MAX} redeemables per request"),
            ))
        }
        _ => {}
    }
    for (i, r) in codes.iter().enumerate() {
        if r.code.is_empty() || r.code.len() > CODE_LENGTH_MAX {
            return Err(invalid(
                "invalid_payload",
                format!("a code is 1..={CODE_LENGTH_MAX} bytes"),
            ));
        }
        if codes[..i].iter().any(|earlier| earlier.code == r.code) {
            return Err(invalid(
                "duplicated_redeemables",
                format!("redeemable {} appears more than once", r.code),
            ));
        }
    }
    Ok(())
}

fn stack_error(e: StackError) -> StoreError {
    match e {
        StackError::Duplicated { .. } => invalid("duplicated_redeemables", e.to_string()),
        StackError::Input(refusal) | StackError::Refused { refusal, .. } => StoreError::Refused {
            refusal,
            failure_id: None,
        },
        StackError::Empty | StackError::TooMany { .. } => invalid("invalid_payload", e.to_string()),
    }
}

fn not_found_refusal(code: &str) -> Refusal {
    Refusal {
        reason: Reason::ResourceNotFound,
        rule_message: None,
        details: Some(format!("code {code} does not exist")),
    }
}

/// One requested code, loaded in the deciding transaction.
struct Loaded {
    code: String,
    inputs: Option<DecisionInputs>,
    counters: Counters,
    credits: Credits,
}

fn load_codes(
    conn: &Connection,
    project: &ProjectRecord,
    request: &CheckoutRequest,
    customer: Option<i64>,
    campaign: &mut dyn FnMut(i64) -> Result<CampaignInputs, StoreError>,
) -> Result<Vec<Loaded>, StoreError> {
    request
        .redeemables
        .iter()
        .map(|r| {
            let inputs = decision_inputs_with(conn, project, &r.code, &mut *campaign)?;
            let counters = match &inputs {
                Some(inputs) => counters(conn, project.id, inputs, customer)?,
                None => Counters::default(),
            };
            Ok(Loaded {
                code: r.code.clone(),
                inputs,
                counters,
                credits: match r.credits {
                    Some(money) => Credits::Exactly(money),
                    None => Credits::WhatIsOwed,
                },
            })
        })
        .collect()
}

fn candidate(loaded: &Loaded) -> Option<Candidate<'_>> {
    loaded.inputs.as_ref().map(|inputs| Candidate {
        voucher: &inputs.voucher,
        campaign: inputs.campaign.as_ref(),
        counters: loaded.counters,
    })
}

fn stack_entries<'a>(loaded: &'a [Loaded], indices: &[usize]) -> Vec<StackEntry<'a>> {
    indices
        .iter()
        .filter_map(|&i| {
            candidate(&loaded[i]).map(|candidate| StackEntry {
                candidate,
                credits: loaded[i].credits,
            })
        })
        .collect()
}

/// The order as given, before any code: the engine's input checks, for the
/// answers that need an order while no code could be decided.
fn initial_state(project: &Project, checkout: &Checkout<'_>) -> Result<OrderState, Refusal> {
    checkout.customer.check()?;
    let checked = checkout.order.check(project.currency)?;
    Ok(OrderState::new(checked)?)
}

/// The first refused entry of a validation, in application order.
fn first_refusal(v: &StackValidation) -> Option<(usize, Refusal)> {
    v.application_order
        .iter()
        .find_map(|&i| match &v.entries[i].status {
            EntryStatus::Inapplicable(refusal) => Some((i, refusal.clone())),
            _ => None,
        })
}

/// A validation of some codes, and its first refusal as a request index.
type Decided = (StackValidation, Option<(usize, Refusal)>);

/// Decides the codes of `subset` (request indices) with the engine and
/// fills in their statuses; `None` for an empty subset.
fn decide(
    project: &Project,
    loaded: &[Loaded],
    subset: &[usize],
    checkout: &Checkout<'_>,
    statuses: &mut [Option<EntryStatus>],
) -> Result<Option<Decided>, StackError> {
    if subset.is_empty() {
        return Ok(None);
    }
    let v = stacking::validate_stack(project, &stack_entries(loaded, subset), checkout)?;
    let first = first_refusal(&v).map(|(k, refusal)| (subset[k], refusal));
    for (k, entry) in v.entries.iter().enumerate() {
        statuses[subset[k]] = Some(entry.status.clone());
    }
    Ok(Some((v, first)))
}

/// A stacked validation of every requested code, unknown ones included.
struct StackView {
    valid: bool,
    /// One per requested code, in request order.
    statuses: Vec<EntryStatus>,
    order: OrderState,
    /// The refusal that fails the request, with its request index.
    first_refusal: Option<(usize, Refusal)>,
}

/// Validates a stack in which some codes may be unknown. The engine decides
/// the known codes; an unknown code is inapplicable (`resource_not_found`)
/// at its place in the application order, as if the engine had refused it
/// there: the codes before it are decided as usual, and in `ALL` mode the
/// ones after it are skipped (`preceding_validation_failed`). Under
/// `CATEGORY_HIERARCHY` an unknown code, having no category, comes last.
fn view_stack(
    project: &Project,
    loaded: &[Loaded],
    checkout: &Checkout<'_>,
) -> Result<StackView, StackError> {
    // The engine counts the whole request against the project's limit; it
    // may see only the known codes here.
    let limit = project
        .stacking
        .redeemables_limit
        .min(u32::try_from(REDEEMABLES_PER_REQUEST_MAX).unwrap_or(u32::MAX));
    if loaded.len() > limit as usize {
        return Err(StackError::TooMany { limit });
    }
    let known: Vec<usize> = (0..loaded.len())
        .filter(|&i| loaded[i].inputs.is_some())
        .collect();
    let unknown: Vec<usize> = (0..loaded.len())
        .filter(|&i| loaded[i].inputs.is_none())
        .collect();
    let Some(&first_unknown) = unknown.first() else {
        let v = stacking::validate_stack(project, &stack_entries(loaded, &known), checkout)?;
        let first_refusal = first_refusal(&v);
        return Ok(StackView {
            valid: v.valid,
            statuses: v.entries.into_iter().map(|e| e.status).collect(),
            order: v.order,
            first_refusal,
        });
    };
    // The engine checks the input before any code.
    let initial = initial_state(project, checkout).map_err(StackError::Input)?;
    let hierarchy = project.stacking.sorting_rule == SortingRule::CategoryHierarchy;
    let not_found = |i: usize| (i, not_found_refusal(&loaded[i].code));
    let mut statuses: Vec<Option<EntryStatus>> = vec![None; loaded.len()];
    let view = match project.stacking.application_mode {
        ApplicationMode::Partial => {
            let decided = decide(project, loaded, &known, checkout, &mut statuses)?;
            for &u in &unknown {
                statuses[u] = Some(EntryStatus::Inapplicable(not_found(u).1));
            }
            let (valid, order, first_known) = match decided {
                Some((v, first)) => (v.valid, v.order, first),
                None => (false, initial, None),
            };
            let first_refusal = match first_known {
                Some(first) if hierarchy || first.0 < first_unknown => first,
                _ => not_found(first_unknown),
            };
            StackView {
                valid,
                statuses: Vec::new(),
                order,
                first_refusal: Some(first_refusal),
            }
        }
        ApplicationMode::All => {
            let before: Vec<usize> = known
                .iter()
                .copied()
                .filter(|&k| hierarchy || k < first_unknown)
                .collect();
            let failed = decide(project, loaded, &before, checkout, &mut statuses)?
                .and_then(|(_, first)| first);
            let first_refusal = match failed {
                Some(first) => first,
                None => {
                    let first = not_found(first_unknown);
                    statuses[first_unknown] = Some(EntryStatus::Inapplicable(first.1.clone()));
                    first
                }
            };
            StackView {
                valid: false,
                statuses: Vec::new(),
                order: initial,
                first_refusal: Some(first_refusal),
            }
        }
    };
    Ok(StackView {
        statuses: statuses
            .into_iter()
            .map(|s| s.unwrap_or(EntryStatus::Skipped(SkipReason::PrecedingValidationFailed)))
            .collect(),
        ..view
    })
}

/// The customer of a read-only checkout: the stored one merged with what
/// the request says, or the request's alone.
fn read_customer(
    conn: &Connection,
    project: ProjectId,
    request: &CheckoutRequest,
) -> Result<(Option<i64>, Customer), StoreError> {
    let Some(spec) = &request.customer else {
        return Ok((None, Customer::default()));
    };
    match lookup_customer(conn, project, spec)? {
        Some(row) => {
            let mut merged = row.record.spec.clone();
            merge(&mut merged, spec);
            Ok((Some(row.id), core_customer(&merged)))
        }
        None => Ok((None, core_customer(spec))),
    }
}

/// A validation, in a reader's transaction: the project and the campaigns
/// come from the reader's `cache` when there (it holds what the same
/// database state had).
fn validate_in(
    conn: &Connection,
    cache: &mut ReadCache,
    project_id: ProjectId,
    request: &CheckoutRequest,
) -> Result<(CheckoutResult, Vec<String>), StoreError> {
    let project = cached_project(conn, cache, project_id)?;
    let (customer_id, customer) = read_customer(conn, project.id, request)?;
    let loaded = load_codes(conn, &project, request, customer_id, &mut |id| {
        cached_campaign(conn, cache, id)
    })?;
    let dp = project.decision_project();
    let checkout = Checkout {
        order: &request.order,
        customer: &customer,
        now: request.now,
    };
    let (valid, statuses, order) = match request.mode {
        CheckoutMode::Legacy => {
            let one = &loaded[0];
            let decided = match candidate(one) {
                None => Err(not_found_refusal(&one.code)),
                Some(candidate) => decision::validate(&dp, &candidate, &checkout, one.credits),
            };
            match decided {
                Ok(v) => (
                    true,
                    vec![EntryStatus::Applicable(Box::new(v.outcome))],
                    v.order,
                ),
                Err(refusal) => match initial_state(&dp, &checkout) {
                    Ok(order) => (false, vec![EntryStatus::Inapplicable(refusal)], order),
                    // Without an order there is nothing to answer with.
                    Err(_) => {
                        return Err(StoreError::Refused {
                            refusal,
                            failure_id: None,
                        })
                    }
                },
            }
        }
        CheckoutMode::Stacked => {
            let view = view_stack(&dp, &loaded, &checkout).map_err(stack_error)?;
            (view.valid, view.statuses, view.order)
        }
    };
    let campaigns = loaded
        .iter()
        .filter_map(|l| l.inputs.as_ref()?.campaign_row.as_ref())
        .map(|c| c.record.id.clone())
        .collect();
    let entries = loaded
        .into_iter()
        .zip(statuses)
        .map(|(l, status)| CheckoutEntry {
            code: l.code,
            status,
            voucher: l.inputs.map(|i| i.voucher_row.record),
        })
        .collect();
    Ok((
        CheckoutResult {
            valid,
            entries,
            order,
        },
        campaigns,
    ))
}

/// What a redemption job answers: the record, or the refusal whose failure
/// record it wrote (returned as `Ok` so that the record commits).
enum Answer {
    Redeemed(Box<RedemptionRecord>),
    Refused {
        refusal: Refusal,
        failure_id: String,
    },
}

/// The text of a channel in the `channel` column.
fn channel_text(channel: ChannelType) -> &'static str {
    match channel {
        ChannelType::Api => "API",
        ChannelType::User => "USER",
        ChannelType::ClientApi => "CLIENT_API",
    }
}

fn channel_from(text: &str) -> Result<ChannelType, StoreError> {
    match text {
        "API" => Ok(ChannelType::Api),
        "USER" => Ok(ChannelType::User),
        "CLIENT_API" => Ok(ChannelType::ClientApi),
        other => Err(StoreError::Corrupt(format!("channel {other:?}"))),
    }
}

fn entry_kind_text(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Redemption => "REDEMPTION",
        EntryKind::Refund => "REFUND",
        EntryKind::Addition => "ADDITION",
        EntryKind::Removal => "REMOVAL",
    }
}

/// The order as a redemption saw it. `applied` is what this redemption
/// applied: (order level, item level).
fn snapshot(
    request: &CheckoutRequest,
    state: Option<&OrderState>,
    applied: (i64, i64),
) -> OrderSnapshot {
    let mut snapshot = OrderSnapshot {
        source_id: request.order.id.clone(),
        status: request.order_status.clone(),
        metadata: request.order.metadata.clone(),
        applied_discount_amount_minor: applied.0,
        items_applied_discount_amount_minor: applied.1,
        ..OrderSnapshot::default()
    };
    if let Some(state) = state {
        let totals = state.totals();
        snapshot.amount_minor = state.amount_minor();
        snapshot.discount_amount_minor = totals.discount_amount_minor;
        snapshot.items_discount_amount_minor = totals.items_discount_amount_minor;
        snapshot.total_discount_amount_minor = totals.total_discount_amount_minor;
        snapshot.total_amount_minor = state.remaining_minor();
        snapshot.items = state
            .lines()
            .iter()
            .map(|line| ItemSnapshot {
                product_id: line.product_id().map(str::to_owned),
                sku_id: line.sku_id().map(str::to_owned),
                quantity: line.quantity(),
                initial_quantity: line.initial_quantity(),
                price_minor: line.price_minor(),
                amount_minor: line.amount_minor(),
                discount_amount_minor: line.discount_amount_minor(),
                subtotal_amount_minor: line.subtotal_amount_minor(),
            })
            .collect();
    }
    snapshot
}

/// What an outcome applied: (order level, item level).
fn applied_of(outcome: &Outcome) -> (i64, i64) {
    let applied = outcome.applied();
    match applied.level() {
        DiscountLevel::Order => (applied.discount_minor(), 0),
        DiscountLevel::Items => (0, applied.discount_minor()),
    }
}

/// A code's successful use, as a redemption row records it.
struct Success<'a> {
    code: &'a str,
    inputs: &'a DecisionInputs,
    outcome: &'a Outcome,
    transition: &'a Transition,
    order: i64,
}

fn credits_of(outcome: &Outcome) -> i64 {
    match outcome {
        Outcome::Gift { credits_minor, .. } => *credits_minor,
        Outcome::Discount(_) => 0,
    }
}

/// One redemption row to insert.
struct NewRow<'a> {
    kind: &'static str,
    /// The stacked parent: its row id and id.
    parent: Option<(i64, &'a str)>,
    code: Option<&'a str>,
    inputs: Option<&'a DecisionInputs>,
    order: Option<i64>,
    failure: Option<&'a Refusal>,
    amount_minor: i64,
    discount_minor: i64,
    snapshot: &'a OrderSnapshot,
    voucher_after: Option<VoucherRecord>,
}

/// The state of one redemption job.
struct Job<'a> {
    conn: &'a Connection,
    project: &'a ProjectRecord,
    request: &'a CheckoutRequest,
    customer: Option<i64>,
    /// The customer's id and source id, as the record names them.
    customer_ref: Option<(String, Option<String>)>,
}

impl Job<'_> {
    /// Inserts a redemption row; returns its row id and its record (without
    /// children), built from the values written: what [`load_redemption`]
    /// would read back, without reading it back.
    fn insert(&self, row: NewRow<'_>) -> Result<(i64, RedemptionRecord), StoreError> {
        let (ext_id, result, state) = match row.failure {
            None => (new_id("r_"), "SUCCESS", "SUCCEEDED"),
            Some(_) => (new_id("rf_"), "FAILURE", "FAILED"),
        };
        let request = self.request;

        self.conn
            .prepare_cached(concat!(
                "INSERT INTO redemptions (id, project_id, ext_id, kind, parent_id, code,
                     voucher_id, campaign_id, customer_id, order_id, result, state, failure_code,
                     failure, amount, discount, order_amount, order_snapshot, voucher_after,
                     channel, tracking_id, metadata, created_at)
                 VALUES (",
                next_entry_id!(),
                ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22)",
            ))
            .store()?
            .execute(params![
                self.project.id.0,
                ext_id,
                row.kind,
                row.parent.map(|(id, _)| id),
                row.code,
                row.inputs.map(|i| i.voucher_row.id),
                row.inputs
                    .and_then(|i| i.campaign_row.as_ref())
                    .map(|c| c.id),
                self.customer,
                row.order,
                result,
                state,
                row.failure.map(|f| f.reason.key()),
                row.failure.map(to_json).transpose()?,
                row.amount_minor,
                row.discount_minor,
                row.snapshot.amount_minor,
                to_json(row.snapshot)?,
                row.voucher_after.as_ref().map(to_json).transpose()?,
                channel_text(request.channel),
                request.tracking_id,
                to_json(&request.metadata)?,
                to_ms(request.now)
            ])
            .store()?;
        let record = RedemptionRecord {
            id: ext_id,
            kind: RedemptionKind::Redemption,
            parent_id: row.parent.map(|(_, ext_id)| ext_id.to_owned()),
            children: Vec::new(),
            result: match row.failure {
                None => RedemptionResult::Success,
                Some(_) => RedemptionResult::Failure,
            },
            state: match row.failure {
                None => RedemptionState::Succeeded,
                Some(_) => RedemptionState::Failed,
            },
            failure: row.failure.cloned(),
            code: row.code.map(str::to_owned),
            voucher_id: row.inputs.map(|i| i.voucher_row.record.id.clone()),
            campaign: row
                .inputs
                .and_then(|i| i.campaign_row.as_ref())
                .map(|c| (c.record.id.clone(), c.record.spec.name.clone())),
            customer: self.customer_ref.clone(),
            order: row.snapshot.clone(),
            amount_minor: row.amount_minor,
            discount_minor: row.discount_minor,
            voucher_after: row.voucher_after,
            channel: request.channel,
            tracking_id: request.tracking_id.clone(),
            metadata: request.metadata.clone(),
            rollback_id: None,
            created_at: stored_instant(request.now),
        };
        Ok((self.conn.last_insert_rowid(), record))
    }

    /// The order as given, for failure records.
    fn failure_snapshot(&self) -> OrderSnapshot {
        let state = self
            .request
            .order
            .check(self.project.spec.currency)
            .ok()
            .and_then(|checked| OrderState::new(checked).ok());
        snapshot(self.request, state.as_ref(), (0, 0))
    }

    /// Records a refused single code.
    fn refuse_single(
        &self,
        code: &str,
        inputs: Option<&DecisionInputs>,
        refusal: Refusal,
    ) -> Result<Answer, StoreError> {
        let snapshot = self.failure_snapshot();
        let (_, failure) = self.insert(NewRow {
            kind: "single",
            parent: None,
            code: Some(code),
            inputs,
            order: None,
            failure: Some(&refusal),
            amount_minor: 0,
            discount_minor: 0,
            snapshot: &snapshot,
            voucher_after: None,
        })?;
        Ok(Answer::Refused {
            refusal,
            failure_id: failure.id,
        })
    }

    /// Inserts FAILURE children under `parent` (row id, id); returns their
    /// records.
    fn refuse_children(
        &self,
        parent: (i64, &str),
        loaded: &[Loaded],
        refused: &[(usize, Refusal)],
        snapshot: &OrderSnapshot,
    ) -> Result<Vec<RedemptionRecord>, StoreError> {
        let mut children = Vec::with_capacity(refused.len());
        for (i, refusal) in refused {
            let one = &loaded[*i];
            let (_, child) = self.insert(NewRow {
                kind: "child",
                parent: Some(parent),
                code: Some(&one.code),
                inputs: one.inputs.as_ref(),
                order: None,
                failure: Some(refusal),
                amount_minor: 0,
                discount_minor: 0,
                snapshot,
                voucher_after: None,
            })?;
            children.push(child);
        }
        Ok(children)
    }

    /// Records a refused stacked request: a FAILURE parent and a FAILURE
    /// child per refused code.
    fn refuse_stack(
        &self,
        loaded: &[Loaded],
        refusal: Refusal,
        refused: &[(usize, Refusal)],
    ) -> Result<Answer, StoreError> {
        let snapshot = self.failure_snapshot();
        let (parent, failure) = self.insert(NewRow {
            kind: "parent",
            parent: None,
            code: None,
            inputs: None,
            order: None,
            failure: Some(&refusal),
            amount_minor: 0,
            discount_minor: 0,
            snapshot: &snapshot,
            voucher_after: None,
        })?;
        self.refuse_children((parent, &failure.id), loaded, refused, &snapshot)?;
        Ok(Answer::Refused {
            refusal,
            failure_id: failure.id,
        })
    }

    /// Creates or updates the order row (by `ord_...` id or source id) and
    /// fills in the snapshot's id.
    fn upsert_order(&self, snapshot: &mut OrderSnapshot) -> Result<i64, StoreError> {
        let conn = self.conn;
        let project = self.project.id;
        let now = to_ms(self.request.now);
        let status = self
            .request
            .order_status
            .clone()
            .unwrap_or_else(|| DEFAULT_ORDER_STATUS.to_owned());
        snapshot.status = Some(status.clone());
        let existing = match &self.request.order.id {
            None => None,
            Some(given) => find_order(conn, project, given)?,
        };
        let row = match existing {
            Some((row, ext_id, source_id)) => {
                conn.prepare_cached(
                    "UPDATE orders SET customer_id = COALESCE(?2, customer_id), status = ?3,
                                       amount = ?4, updated_at = ?5
                     WHERE id = ?1",
                )
                .store()?
                .execute(params![
                    row,
                    self.customer,
                    status,
                    snapshot.amount_minor,
                    now
                ])
                .store()?;
                snapshot.id = Some(ext_id);
                snapshot.source_id = source_id;
                row
            }
            // A new order is written once, as it stands.
            None => {
                let ext_id = new_id("ord_");
                conn.prepare_cached(
                    "INSERT INTO orders (project_id, ext_id, source_id, customer_id, status,
                                         amount, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                )
                .store()?
                .execute(params![
                    project.0,
                    ext_id,
                    self.request.order.id,
                    self.customer,
                    status,
                    snapshot.amount_minor,
                    now
                ])
                .store()?;
                snapshot.id = Some(ext_id);
                snapshot.source_id = self.request.order.id.clone();
                conn.last_insert_rowid()
            }
        };
        Ok(row)
    }

    /// Applies one successful code's transition, guarded by the state the
    /// decision saw.
    fn apply(
        &self,
        inputs: &DecisionInputs,
        transition: &Transition,
        redemption: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn;
        let record = &inputs.voucher_row.record;
        let credits = transition.ledger_entry.map_or(0, |e| e.amount_minor);
        let balance_after = match (&transition.ledger_entry, record.gift_balance_minor) {
            (None, _) => record.gift_balance_minor,
            (Some(entry), Some(before))
                if before.checked_add(entry.delta_minor()) == Some(entry.balance_after_minor) =>
            {
                Some(entry.balance_after_minor)
            }
            (Some(entry), before) => {
                return Err(StoreError::Corrupt(format!(
                    "voucher {}: ledger entry {entry:?} does not follow balance {before:?}",
                    record.id
                )))
            }
        };
        let changed = conn
            .prepare_cached(
                "UPDATE vouchers SET redeemed_quantity = ?2, gift_balance = ?3,
                     redeemed_amount = redeemed_amount + ?4, updated_at = ?5
                 WHERE id = ?1 AND redeemed_quantity = ?6 AND gift_balance IS ?7",
            )
            .store()?
            .execute(params![
                inputs.voucher_row.id,
                to_i64_count(transition.redeemed_quantity_after)?,
                balance_after,
                credits,
                to_ms(self.request.now),
                to_i64_count(record.redeemed_quantity)?,
                record.gift_balance_minor
            ])
            .store()?;
        if changed != 1 {
            return Err(StoreError::Corrupt(format!(
                "voucher {} changed under its redemption",
                record.id
            )));
        }
        if let Some(entry) = &transition.ledger_entry {
            insert_ledger(
                conn,
                self.project.id,
                inputs.voucher_row.id,
                entry,
                (Some(redemption), None),
                None,
                self.request.now,
            )?;
        }
        if let Some(campaign) = &inputs.campaign_row {
            conn.prepare_cached(
                "UPDATE campaigns SET redemptions_succeeded = redemptions_succeeded + 1,
                     redemptions_active = redemptions_active + 1, given_minor = given_minor + ?2
                 WHERE id = ?1",
            )
            .store()?
            .execute(params![campaign.id, transition.given_minor])
            .store()?;
        }
        Ok(())
    }

    /// Writes one successful use of a code (a single redemption or a
    /// stacked child) and applies its transition; returns its record.
    fn record_success(
        &self,
        kind: &'static str,
        parent: Option<(i64, &str)>,
        success: &Success<'_>,
        snapshot: &OrderSnapshot,
    ) -> Result<RedemptionRecord, StoreError> {
        let after = self.voucher_after(success.inputs, success.transition);
        let (row, record) = self.insert(NewRow {
            kind,
            parent,
            code: Some(success.code),
            inputs: Some(success.inputs),
            order: Some(success.order),
            failure: None,
            amount_minor: credits_of(success.outcome),
            discount_minor: success.transition.given_minor,
            snapshot,
            voucher_after: Some(after),
        })?;
        self.apply(success.inputs, success.transition, row)?;
        Ok(record)
    }

    /// The voucher as it is once `transition` applied.
    fn voucher_after(&self, inputs: &DecisionInputs, transition: &Transition) -> VoucherRecord {
        let mut after = inputs.voucher_row.record.clone();
        after.redeemed_quantity = transition.redeemed_quantity_after;
        if let Some(entry) = &transition.ledger_entry {
            after.gift_balance_minor = Some(entry.balance_after_minor);
            after.redeemed_amount_minor = after
                .redeemed_amount_minor
                .saturating_add(entry.amount_minor);
        }
        after.updated_at = stored_instant(self.request.now);
        after
    }

    fn redeem_legacy(&self, loaded: &[Loaded], customer: &Customer) -> Result<Answer, StoreError> {
        let one = &loaded[0];
        let Some(candidate) = candidate(one) else {
            return self.refuse_single(&one.code, None, not_found_refusal(&one.code));
        };
        let inputs = one.inputs.as_ref();
        let checkout = Checkout {
            order: &self.request.order,
            customer,
            now: self.request.now,
        };
        let redemption = match decision::redeem(
            &self.project.decision_project(),
            &candidate,
            &checkout,
            one.credits,
        ) {
            Ok(redemption) => redemption,
            Err(refusal) => return self.refuse_single(&one.code, inputs, refusal),
        };
        let Some(inputs) = inputs else {
            return Err(StoreError::Io("a candidate without inputs".to_owned()));
        };
        let outcome = &redemption.validation.outcome;
        let transition = &redemption.transition;
        let mut snapshot = snapshot(
            self.request,
            Some(&redemption.validation.order),
            applied_of(outcome),
        );
        let order = self.upsert_order(&mut snapshot)?;
        let success = Success {
            code: &one.code,
            inputs,
            outcome,
            transition,
            order,
        };
        let record = self.record_success("single", None, &success, &snapshot)?;
        Ok(Answer::Redeemed(Box::new(record)))
    }

    fn redeem_stacked(&self, loaded: &[Loaded], customer: &Customer) -> Result<Answer, StoreError> {
        let dp = self.project.decision_project();
        let checkout = Checkout {
            order: &self.request.order,
            customer,
            now: self.request.now,
        };
        let all_mode = dp.stacking.application_mode == ApplicationMode::All;
        let known: Vec<usize> = (0..loaded.len())
            .filter(|&i| loaded[i].inputs.is_some())
            .collect();
        // The codes a refusal records: in ALL mode the one that failed the
        // request, in PARTIAL mode every inapplicable one.
        let refused = |statuses: &[EntryStatus], first: Option<&(usize, Refusal)>| {
            let mut refused: Vec<(usize, Refusal)> = Vec::new();
            for (i, status) in statuses.iter().enumerate() {
                if let EntryStatus::Inapplicable(refusal) = status {
                    if !all_mode || first.is_some_and(|f| f.0 == i) {
                        refused.push((i, refusal.clone()));
                    }
                }
            }
            refused
        };
        // Nothing applied, nothing refused: every code was skipped.
        let all_skipped = || Refusal {
            reason: Reason::RedemptionRulesViolated,
            rule_message: None,
            details: Some("no redeemable could be applied".to_owned()),
        };
        if known.len() < loaded.len() {
            let view = match view_stack(&dp, loaded, &checkout) {
                Ok(view) => view,
                Err(StackError::Input(refusal)) => return self.refuse_stack(loaded, refusal, &[]),
                Err(e) => return Err(stack_error(e)),
            };
            if !view.valid {
                let refused = refused(&view.statuses, view.first_refusal.as_ref());
                let refusal = view
                    .first_refusal
                    .map(|(_, r)| r)
                    .unwrap_or_else(all_skipped);
                return self.refuse_stack(loaded, refusal, &refused);
            }
        }
        let entries = stack_entries(loaded, &known);
        match stacking::redeem_stack(&dp, &entries, &checkout) {
            Ok(redemption) => self.persist_stack(loaded, &known, &redemption, |statuses| {
                refused(statuses, None)
            }),
            Err(StackError::Refused {
                index,
                refusal,
                validation,
            }) => {
                let statuses = statuses_of(loaded, &known, &validation);
                let first = (known[index], refusal.clone());
                let refused = refused(&statuses, Some(&first));
                self.refuse_stack(loaded, refusal, &refused)
            }
            Err(StackError::Input(refusal)) => self.refuse_stack(loaded, refusal, &[]),
            Err(e) => Err(stack_error(e)),
        }
    }

    /// Persists a successful stacked redemption: the order, the parent, a
    /// child per applied code (with its transition), and in PARTIAL mode a
    /// FAILURE child per inapplicable code.
    fn persist_stack(
        &self,
        loaded: &[Loaded],
        known: &[usize],
        redemption: &StackRedemption,
        refused: impl Fn(&[EntryStatus]) -> Vec<(usize, Refusal)>,
    ) -> Result<Answer, StoreError> {
        let validation = &redemption.validation;
        let outcome_of = |k: usize| match &validation.entries[k].status {
            EntryStatus::Applicable(outcome) => Ok(outcome.as_ref()),
            _ => Err(StoreError::Io(
                "a transition for a code that did not apply".to_owned(),
            )),
        };
        let mut totals = (0i64, 0i64, 0i64, 0i64);
        for (k, transition) in &redemption.transitions {
            let outcome = outcome_of(*k)?;
            let (order_level, items_level) = applied_of(outcome);
            totals.0 += order_level;
            totals.1 += items_level;
            totals.2 += credits_of(outcome);
            totals.3 += transition.given_minor;
        }
        let mut parent_snapshot =
            snapshot(self.request, Some(&validation.order), (totals.0, totals.1));
        let order = self.upsert_order(&mut parent_snapshot)?;
        let (parent, mut record) = self.insert(NewRow {
            kind: "parent",
            parent: None,
            code: None,
            inputs: None,
            order: Some(order),
            failure: None,
            amount_minor: totals.2,
            discount_minor: totals.3,
            snapshot: &parent_snapshot,
            voucher_after: None,
        })?;
        for (k, transition) in &redemption.transitions {
            let one = &loaded[known[*k]];
            let Some(inputs) = one.inputs.as_ref() else {
                return Err(StoreError::Io("a candidate without inputs".to_owned()));
            };
            let outcome = outcome_of(*k)?;
            let child_snapshot = OrderSnapshot {
                applied_discount_amount_minor: applied_of(outcome).0,
                items_applied_discount_amount_minor: applied_of(outcome).1,
                ..parent_snapshot.clone()
            };
            let success = Success {
                code: &one.code,
                inputs,
                outcome,
                transition,
                order,
            };
            let child = self.record_success(
                "child",
                Some((parent, &record.id)),
                &success,
                &child_snapshot,
            )?;
            record.children.push(child);
        }
        let statuses = statuses_of(loaded, known, validation);
        let failures = OrderSnapshot {
            applied_discount_amount_minor: 0,
            items_applied_discount_amount_minor: 0,
            ..parent_snapshot.clone()
        };
        let refused =
            self.refuse_children((parent, &record.id), loaded, &refused(&statuses), &failures)?;
        // In row order, as a read of the parent lists them.
        record.children.extend(refused);
        Ok(Answer::Redeemed(Box::new(record)))
    }
}

/// The statuses of every requested code, in request order, from a
/// validation of the known ones (an unknown code is `resource_not_found`).
fn statuses_of(loaded: &[Loaded], known: &[usize], v: &StackValidation) -> Vec<EntryStatus> {
    let mut statuses: Vec<EntryStatus> = loaded
        .iter()
        .map(|l| EntryStatus::Inapplicable(not_found_refusal(&l.code)))
        .collect();
    for (k, entry) in v.entries.iter().enumerate() {
        statuses[known[k]] = entry.status.clone();
    }
    statuses
}

/// An instant as a column keeps it (milliseconds), so that what a call
/// returns equals what a later read gives.
fn stored_instant(t: DateTime<Utc>) -> DateTime<Utc> {
    from_ms(to_ms(t)).unwrap_or(t)
}

fn to_i64_count(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n} out of range")))
}

/// Appends a gift ledger row.
fn insert_ledger(
    conn: &Connection,
    project: ProjectId,
    voucher: i64,
    entry: &Entry,
    related: (Option<i64>, Option<i64>),
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO gift_ledger (project_id, ext_id, voucher_id, kind, amount, balance_after,
                                  redemption_id, rollback_id, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .store()?
    .execute(params![
        project.0,
        new_id("vtx_"),
        voucher,
        entry_kind_text(entry.kind),
        entry.amount_minor,
        entry.balance_after_minor,
        related.0,
        related.1,
        reason,
        to_ms(now)
    ])
    .store()?;
    Ok(())
}

/// The order with this `ord_...` id or source id: (row, id, source id).
fn find_order(
    conn: &Connection,
    project: ProjectId,
    id_or_source_id: &str,
) -> Result<Option<(i64, String, Option<String>)>, StoreError> {
    for column in ["ext_id", "source_id"] {
        let found = conn
            .prepare_cached(&format!(
                "SELECT id, ext_id, source_id FROM orders WHERE project_id = ?1 AND {column} = ?2"
            ))
            .store()?
            .query_row(params![project.0, id_or_source_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .store()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn redeem_in(
    conn: &Connection,
    project_id: ProjectId,
    request: &CheckoutRequest,
) -> Result<Answer, StoreError> {
    let project = load_project(conn, project_id)?;
    // A customer named by id or source id is upserted (and recorded with a
    // refusal too); one named by neither stays anonymous.
    let customer_row = match &request.customer {
        Some(spec) if spec.id.is_some() || spec.source_id.is_some() => {
            Some(upsert_customer_row(conn, project.id, spec, request.now)?)
        }
        _ => None,
    };
    let customer = match (&customer_row, &request.customer) {
        (Some(row), _) => core_customer(&row.record.spec),
        (None, Some(spec)) => core_customer(spec),
        (None, None) => Customer::default(),
    };
    let customer_id = customer_row.as_ref().map(|r| r.id);
    let loaded = load_codes(conn, &project, request, customer_id, &mut |id| {
        load_campaign(conn, id)
    })?;
    let job = Job {
        conn,
        project: &project,
        request,
        customer: customer_id,
        customer_ref: customer_row
            .as_ref()
            .map(|row| (row.record.id.clone(), row.record.spec.source_id.clone())),
    };
    match request.mode {
        CheckoutMode::Legacy => job.redeem_legacy(&loaded, &customer),
        CheckoutMode::Stacked => job.redeem_stacked(&loaded, &customer),
    }
}

/// How a redemption row is named.
#[derive(Debug, Clone, Copy)]
enum RowKey<'a> {
    Id(i64),
    ExtId(&'a str),
}

const REDEMPTION_SELECT: &str = "SELECT r.id, r.ext_id, r.kind, p.ext_id, r.result, r.state,
        r.failure, r.code, v.ext_id, c.ext_id, c.name, cu.ext_id, cu.source_id,
        r.order_snapshot, r.amount, r.discount, r.voucher_after, r.channel, r.tracking_id,
        r.metadata, rb.ext_id, r.created_at
    FROM redemptions r
    LEFT JOIN redemptions p ON p.id = r.parent_id
    LEFT JOIN vouchers v ON v.id = r.voucher_id
    LEFT JOIN campaigns c ON c.id = r.campaign_id
    LEFT JOIN customers cu ON cu.id = r.customer_id
    LEFT JOIN rollbacks rb ON rb.redemption_id = r.id";

fn result_from(text: &str) -> Result<RedemptionResult, StoreError> {
    match text {
        "SUCCESS" => Ok(RedemptionResult::Success),
        "FAILURE" => Ok(RedemptionResult::Failure),
        other => Err(StoreError::Corrupt(format!("redemption result {other:?}"))),
    }
}

fn state_from(text: &str) -> Result<RedemptionState, StoreError> {
    match text {
        "SUCCEEDED" => Ok(RedemptionState::Succeeded),
        "FAILED" => Ok(RedemptionState::Failed),
        "ROLLED_BACK" => Ok(RedemptionState::RolledBack),
        other => Err(StoreError::Corrupt(format!("redemption state {other:?}"))),
    }
}

/// Reads one row of [`REDEMPTION_SELECT`]: (row id, kind, record without
/// children).
fn redemption_from_row(
    row: &Row<'_>,
) -> rusqlite::Result<Result<(i64, String, RedemptionRecord), StoreError>> {
    let id: i64 = row.get(0)?;
    let ext_id: String = row.get(1)?;
    let kind: String = row.get(2)?;
    let parent: Option<String> = row.get(3)?;
    let result: String = row.get(4)?;
    let state: String = row.get(5)?;
    let failure: Option<String> = row.get(6)?;
    let code: Option<String> = row.get(7)?;
    let voucher: Option<String> = row.get(8)?;
    let campaign_ext: Option<String> = row.get(9)?;
    let campaign_name: Option<String> = row.get(10)?;
    let customer: Option<String> = row.get(11)?;
    let customer_source: Option<String> = row.get(12)?;
    let snapshot: String = row.get(13)?;
    let amount: i64 = row.get(14)?;
    let discount: i64 = row.get(15)?;
    let voucher_after: Option<String> = row.get(16)?;
    let channel: String = row.get(17)?;
    let tracking_id: Option<String> = row.get(18)?;
    let metadata: String = row.get(19)?;
    let rollback: Option<String> = row.get(20)?;
    let created_at: i64 = row.get(21)?;
    Ok((|| {
        let voucher_after: Option<VoucherRecord> =
            voucher_after.as_deref().map(from_json).transpose()?;
        // A deleted voucher's id survives in the state it was left in.
        let voucher_id = voucher.or_else(|| voucher_after.as_ref().map(|v| v.id.clone()));
        let record = RedemptionRecord {
            id: ext_id,
            kind: RedemptionKind::Redemption,
            parent_id: parent,
            children: Vec::new(),
            result: result_from(&result)?,
            state: state_from(&state)?,
            failure: failure.as_deref().map(from_json).transpose()?,
            code,
            voucher_id,
            campaign: campaign_ext.zip(campaign_name),
            customer: customer.map(|c| (c, customer_source)),
            order: from_json(&snapshot)?,
            amount_minor: amount,
            discount_minor: discount,
            voucher_after,
            channel: channel_from(&channel)?,
            tracking_id,
            metadata: from_json(&metadata)?,
            rollback_id: rollback,
            created_at: from_ms(created_at)?,
        };
        Ok((id, kind, record))
    })())
}

/// A redemption with its children (for a stacked parent).
fn load_redemption(
    conn: &Connection,
    project: ProjectId,
    key: RowKey<'_>,
) -> Result<RedemptionRecord, StoreError> {
    let found = match key {
        RowKey::Id(id) => conn
            .prepare_cached(&format!(
                "{REDEMPTION_SELECT} WHERE r.project_id = ?1 AND r.id = ?2"
            ))
            .store()?
            .query_row(params![project.0, id], redemption_from_row),
        RowKey::ExtId(ext_id) => conn
            .prepare_cached(&format!(
                "{REDEMPTION_SELECT} WHERE r.project_id = ?1 AND r.ext_id = ?2"
            ))
            .store()?
            .query_row(params![project.0, ext_id], redemption_from_row),
    }
    .optional()
    .store()?
    .transpose()?;
    let Some((id, kind, mut record)) = found else {
        return Err(StoreError::NotFound {
            resource: "redemption",
            id: match key {
                RowKey::Id(id) => id.to_string(),
                RowKey::ExtId(ext_id) => ext_id.to_owned(),
            },
        });
    };
    if kind == "parent" {
        let mut stmt = conn
            .prepare_cached(&format!(
                "{REDEMPTION_SELECT} WHERE r.project_id = ?1 AND r.parent_id = ?2 ORDER BY r.id"
            ))
            .store()?;
        record.children = stmt
            .query_map(params![project.0, id], redemption_from_row)
            .store()?
            .map(|row| Ok(row.store()??.2))
            .collect::<Result<_, StoreError>>()?;
    }
    Ok(record)
}

/// A rollback (`rr_...`) in the shape of a redemption record
/// ([`RedemptionKind::Rollback`]): `parent_id` is the redemption it rolled
/// back (the wire's `redemption`), `amount_minor` the credits it returned
/// (positive), `discount_minor` the discount it returned, `children` the
/// rollbacks of a stacked parent's children.
fn rollback_as_redemption(rollback: RollbackRecord, discount_minor: i64) -> RedemptionRecord {
    let campaign = rollback
        .voucher_after
        .as_ref()
        .and_then(|v| v.campaign.clone());
    RedemptionRecord {
        id: rollback.id,
        kind: RedemptionKind::Rollback {
            reason: rollback.reason,
        },
        parent_id: Some(rollback.redemption_id),
        children: rollback
            .children
            .into_iter()
            .map(|child| rollback_as_redemption(child, 0))
            .collect(),
        result: RedemptionResult::Success,
        state: RedemptionState::Succeeded,
        failure: None,
        code: rollback.code,
        voucher_id: rollback.voucher_after.as_ref().map(|v| v.id.clone()),
        campaign,
        customer: rollback.customer,
        order: rollback.order,
        amount_minor: rollback.amount_minor,
        discount_minor,
        voucher_after: rollback.voucher_after,
        channel: rollback.channel,
        tracking_id: None,
        metadata: Default::default(),
        rollback_id: None,
        created_at: rollback.created_at,
    }
}

/// The rollback rows with their customer and campaign (alias `b`); callers
/// add the WHERE clause.
const ROLLBACK_SELECT: &str = "SELECT b.record, b.discount, cu.ext_id, cu.source_id, c.ext_id,
        c.name
    FROM rollbacks b
    LEFT JOIN customers cu ON cu.id = b.customer_id
    LEFT JOIN campaigns c ON c.id = b.campaign_id";

/// A rollback by row id or external id, as a redemption record; `None`
/// when there is none. Its customer and campaign are read through the
/// rollback's columns, as a redemption's are, so that a deleted customer
/// or campaign is gone from it too.
fn load_rollback(
    conn: &Connection,
    project: ProjectId,
    key: RowKey<'_>,
) -> Result<Option<RedemptionRecord>, StoreError> {
    let (sql, value) = match key {
        RowKey::Id(id) => (
            format!("{ROLLBACK_SELECT} WHERE b.project_id = ?1 AND b.id = ?2"),
            Value::Integer(id),
        ),
        RowKey::ExtId(ext_id) => (
            format!("{ROLLBACK_SELECT} WHERE b.project_id = ?1 AND b.ext_id = ?2"),
            Value::Text(ext_id.to_owned()),
        ),
    };
    let found = conn
        .prepare_cached(&sql)
        .store()?
        .query_row(params![project.0, value], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()
        .store()?;
    let Some((record, discount, customer, source_id, campaign, campaign_name)) = found else {
        return Ok(None);
    };
    let mut record = rollback_as_redemption(from_json(&record)?, discount);
    let customer = customer.map(|id| (id, source_id));
    for child in &mut record.children {
        child.customer.clone_from(&customer);
    }
    record.customer = customer;
    record.campaign = campaign.zip(campaign_name);
    Ok(Some(record))
}

/// A redemption row as a rollback needs it.
#[derive(Debug)]
struct Redeemed {
    id: i64,
    ext_id: String,
    kind: String,
    parent: Option<i64>,
    result: String,
    state: String,
    code: Option<String>,
    voucher: Option<i64>,
    campaign: Option<i64>,
    customer: Option<i64>,
    order: Option<i64>,
    amount: i64,
    discount: i64,
    snapshot: String,
}

const REDEEMED_COLUMNS: &str = "id, ext_id, kind, parent_id, result, state, code, voucher_id,
    campaign_id, customer_id, order_id, amount, discount, order_snapshot";

fn redeemed_from_row(r: &Row<'_>) -> rusqlite::Result<Redeemed> {
    Ok(Redeemed {
        id: r.get(0)?,
        ext_id: r.get(1)?,
        kind: r.get(2)?,
        parent: r.get(3)?,
        result: r.get(4)?,
        state: r.get(5)?,
        code: r.get(6)?,
        voucher: r.get(7)?,
        campaign: r.get(8)?,
        customer: r.get(9)?,
        order: r.get(10)?,
        amount: r.get(11)?,
        discount: r.get(12)?,
        snapshot: r.get(13)?,
    })
}

/// The state of one rollback job.
struct Rollback<'a> {
    conn: &'a Connection,
    project: &'a ProjectRecord,
    request: &'a RollbackRequest,
}

impl Rollback<'_> {
    fn customer_ref(
        &self,
        customer: Option<i64>,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let Some(customer) = customer else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT ext_id, source_id FROM customers WHERE id = ?1")
            .store()?
            .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .store()
    }

    fn canceled_order(&self, redeemed: &Redeemed) -> Result<OrderSnapshot, StoreError> {
        let mut order: OrderSnapshot = from_json(&redeemed.snapshot)?;
        order.status = Some("CANCELED".to_owned());
        if let Some(row) = redeemed.order {
            self.conn
                .prepare_cached(
                    "UPDATE orders SET status = 'CANCELED', updated_at = ?2 WHERE id = ?1",
                )
                .store()?
                .execute(params![row, to_ms(self.request.now)])
                .store()?;
        }
        Ok(order)
    }

    fn insert_rollback(
        &self,
        redeemed: &Redeemed,
        parent: Option<i64>,
    ) -> Result<(i64, String), StoreError> {
        let ext_id = new_id("rr_");
        // The row id continues the redemptions' sequence (see the schema),
        // and the redemption's filtered columns come along.
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO rollbacks (id, project_id, ext_id, redemption_id, parent_id, code,
                                        campaign_id, customer_id, order_id, reason, record,
                                        created_at)
                 VALUES (",
                next_entry_id!(),
                ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '{}', ?10)",
            ))
            .store()?
            .execute(params![
                self.project.id.0,
                ext_id,
                redeemed.id,
                parent,
                redeemed.code,
                redeemed.campaign,
                redeemed.customer,
                redeemed.order,
                self.request.reason,
                to_ms(self.request.now)
            ])
            .store()?;
        Ok((self.conn.last_insert_rowid(), ext_id))
    }

    fn finish_rollback(
        &self,
        row: i64,
        record: &RollbackRecord,
        discount: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE rollbacks SET amount = ?2, discount = ?3, record = ?4 WHERE id = ?1",
            )
            .store()?
            .execute(params![
                row,
                record.amount_minor,
                discount,
                to_json(record)?
            ])
            .store()?;
        Ok(())
    }

    fn set_rolled_back(&self, redemption: i64) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE redemptions SET state = 'ROLLED_BACK' WHERE id = ?1 AND state = 'SUCCEEDED'",
            )
            .store()?
            .execute([redemption])
            .store()?;
        if changed != 1 {
            return Err(StoreError::Corrupt(format!(
                "redemption row {redemption} changed under its rollback"
            )));
        }
        Ok(())
    }

    /// Rolls back one code's redemption (`single` or `child`).
    fn one(
        &self,
        redeemed: &Redeemed,
        parent: Option<i64>,
    ) -> Result<(RollbackRecord, i64), StoreError> {
        let status = match redeemed.state.as_str() {
            "SUCCEEDED" => RedemptionStatus::Succeeded,
            "ROLLED_BACK" => RedemptionStatus::RolledBack,
            "FAILED" => RedemptionStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("redemption state {other:?}"))),
        };
        let inputs = match redeemed.voucher {
            Some(voucher) => {
                let code: String = self
                    .conn
                    .prepare_cached("SELECT code FROM vouchers WHERE id = ?1")
                    .store()?
                    .query_row([voucher], |r| r.get(0))
                    .store()?;
                decision_inputs(self.conn, self.project, &code)?
            }
            None => None,
        };
        let Some(inputs) = inputs else {
            // The voucher was deleted: nothing can return to it.
            return Err(match status {
                RedemptionStatus::RolledBack => StoreError::AlreadyRolledBack,
                RedemptionStatus::Failed => not_rollbackable(),
                RedemptionStatus::Succeeded => StoreError::NotFound {
                    resource: "voucher",
                    id: redeemed.code.clone().unwrap_or_default(),
                },
            });
        };
        let transition =
            decision::rollback(&inputs.voucher, status, redeemed.amount, redeemed.discount)
                .map_err(|e| match e {
                    RollbackError::AlreadyRolledBack => StoreError::AlreadyRolledBack,
                    RollbackError::NotSucceeded => not_rollbackable(),
                    RollbackError::Inconsistent(message) => StoreError::Corrupt(message),
                })?;
        let record = &inputs.voucher_row.record;
        let credits = transition.ledger_entry.map_or(0, |e| e.amount_minor);
        let balance_after = match (&transition.ledger_entry, record.gift_balance_minor) {
            (None, before) => before,
            (Some(entry), Some(before))
                if before.checked_add(entry.delta_minor()) == Some(entry.balance_after_minor) =>
            {
                Some(entry.balance_after_minor)
            }
            (Some(entry), before) => {
                return Err(StoreError::Corrupt(format!(
                    "voucher {}: refund {entry:?} does not follow balance {before:?}",
                    record.id
                )))
            }
        };
        let now = stored_instant(self.request.now);
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE vouchers SET redeemed_quantity = ?2, gift_balance = ?3,
                     redeemed_amount = redeemed_amount - ?4, updated_at = ?5
                 WHERE id = ?1 AND redeemed_quantity = ?6 AND gift_balance IS ?7",
            )
            .store()?
            .execute(params![
                inputs.voucher_row.id,
                to_i64_count(transition.redeemed_quantity_after)?,
                balance_after,
                credits,
                to_ms(now),
                to_i64_count(record.redeemed_quantity)?,
                record.gift_balance_minor
            ])
            .store()?;
        if changed != 1 {
            return Err(StoreError::Corrupt(format!(
                "voucher {} changed under its rollback",
                record.id
            )));
        }
        let (row, ext_id) = self.insert_rollback(redeemed, parent)?;
        if let Some(entry) = &transition.ledger_entry {
            insert_ledger(
                self.conn,
                self.project.id,
                inputs.voucher_row.id,
                entry,
                (Some(redeemed.id), Some(row)),
                self.request.reason.as_deref(),
                now,
            )?;
        }
        if let Some(campaign) = redeemed.campaign {
            let changed = self
                .conn
                .prepare_cached(
                    "UPDATE campaigns SET redemptions_active = redemptions_active - 1,
                         given_minor = given_minor - ?2
                     WHERE id = ?1 AND redemptions_active > 0",
                )
                .store()?
                .execute(params![campaign, transition.returned_minor])
                .store()?;
            if changed != 1 {
                return Err(StoreError::Corrupt(format!(
                    "campaign row {campaign} has no active redemption to roll back"
                )));
            }
        }
        self.set_rolled_back(redeemed.id)?;
        let mut after = record.clone();
        after.redeemed_quantity = transition.redeemed_quantity_after;
        after.gift_balance_minor = balance_after;
        after.redeemed_amount_minor = after.redeemed_amount_minor.saturating_sub(credits);
        after.updated_at = now;
        let rollback = RollbackRecord {
            id: ext_id,
            redemption_id: redeemed.ext_id.clone(),
            children: Vec::new(),
            reason: self.request.reason.clone(),
            amount_minor: credits,
            code: redeemed.code.clone(),
            voucher_after: Some(after),
            customer: self.customer_ref(redeemed.customer)?,
            order: self.canceled_order(redeemed)?,
            channel: self.request.channel,
            created_at: now,
        };
        self.finish_rollback(row, &rollback, transition.returned_minor)?;
        if let Some(parent) = redeemed.parent {
            self.close_parent(parent)?;
        }
        Ok((rollback, transition.returned_minor))
    }

    /// A parent whose children are all rolled back is rolled back too.
    fn close_parent(&self, parent: i64) -> Result<(), StoreError> {
        let left: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM redemptions
                 WHERE project_id = ?1 AND parent_id = ?2 AND state = 'SUCCEEDED'",
            )
            .store()?
            .query_row(params![self.project.id.0, parent], |r| r.get(0))
            .store()?;
        if left == 0 {
            self.conn
                .prepare_cached(
                    "UPDATE redemptions SET state = 'ROLLED_BACK'
                     WHERE id = ?1 AND state = 'SUCCEEDED'",
                )
                .store()?
                .execute([parent])
                .store()?;
        }
        Ok(())
    }

    /// Rolls back every child of a stacked parent that still counts.
    fn parent(&self, redeemed: &Redeemed) -> Result<RollbackRecord, StoreError> {
        if redeemed.result != "SUCCESS" {
            return Err(not_rollbackable());
        }
        let children: Vec<Redeemed> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REDEEMED_COLUMNS} FROM redemptions
                 WHERE project_id = ?1 AND parent_id = ?2 AND state = 'SUCCEEDED'
                 ORDER BY id"
            ))
            .store()?
            .query_map(params![self.project.id.0, redeemed.id], redeemed_from_row)
            .store()?
            .collect::<Result<_, _>>()
            .store()?;
        if children.is_empty() {
            return Err(StoreError::AlreadyRolledBack);
        }
        let (row, ext_id) = self.insert_rollback(redeemed, None)?;
        let mut records = Vec::with_capacity(children.len());
        let mut returned = 0i64;
        for child in &children {
            let (record, discount) = self.one(child, Some(row))?;
            returned = returned.saturating_add(discount);
            records.push(record);
        }
        let rollback = RollbackRecord {
            id: ext_id,
            redemption_id: redeemed.ext_id.clone(),
            amount_minor: records.iter().map(|r| r.amount_minor).sum(),
            children: records,
            reason: self.request.reason.clone(),
            code: None,
            voucher_after: None,
            customer: self.customer_ref(redeemed.customer)?,
            order: self.canceled_order(redeemed)?,
            channel: self.request.channel,
            created_at: stored_instant(self.request.now),
        };
        self.finish_rollback(row, &rollback, returned)?;
        Ok(rollback)
    }
}

fn not_rollbackable() -> StoreError {
    invalid(
        INVALID_REDEMPTION,
        "only a successful redemption can be rolled back",
    )
}

fn rollback_in(
    conn: &Connection,
    project_id: ProjectId,
    request: &RollbackRequest,
) -> Result<RollbackRecord, StoreError> {
    let project = load_project(conn, project_id)?;
    let redeemed = conn
        .prepare_cached(&format!(
            "SELECT {REDEEMED_COLUMNS} FROM redemptions WHERE project_id = ?1 AND ext_id = ?2"
        ))
        .store()?
        .query_row(
            params![project.id.0, request.redemption_id],
            redeemed_from_row,
        )
        .optional()
        .store()?
        .ok_or_else(|| StoreError::NotFound {
            resource: "redemption",
            id: request.redemption_id.clone(),
        })?;
    let job = Rollback {
        conn,
        project: &project,
        request,
    };
    match redeemed.kind.as_str() {
        "parent" => job.parent(&redeemed),
        _ => job.one(&redeemed, None).map(|(record, _)| record),
    }
}

fn empty_page<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        total: 0,
        has_more: false,
        next_cursor: None,
    }
}

/// The row ids a redemption query names.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resolved {
    campaign: Option<i64>,
    customer: Option<i64>,
    order: Option<i64>,
}

/// Resolves the query's names to row ids; `None` when one of them names
/// nothing that exists (the list is then empty).
pub(crate) fn resolve(
    conn: &Connection,
    project: ProjectId,
    query: &RedemptionQuery,
) -> Result<Option<Resolved>, StoreError> {
    let mut resolved = Resolved::default();
    if let Some(campaign) = &query.campaign {
        match campaign_row(conn, project, campaign) {
            Ok(row) => resolved.campaign = Some(row.id),
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if let Some(customer) = &query.customer {
        match find_customer(conn, project, customer)? {
            Some(row) => resolved.customer = Some(row.id),
            None => return Ok(None),
        }
    }
    if let Some(order) = &query.order {
        match find_order(conn, project, order)? {
            Some((row, _, _)) => resolved.order = Some(row),
            None => return Ok(None),
        }
    }
    Ok(Some(resolved))
}

/// The table one side of the redemption list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entries {
    /// `redemptions r`.
    Redemptions,
    /// `rollbacks b`.
    Rollbacks,
}

/// The `WHERE` condition of a redemption query over one of its tables,
/// its values pushed onto `params` (numbered after those already there);
/// `None` (and nothing pushed) when no row of the table can match
/// (rollbacks under a `FAILURE` or `failure_code` filter). Both tables have
/// the filtered columns, so the filters are the same text over either
/// alias.
fn entries_filter(
    entries: Entries,
    project: ProjectId,
    query: &RedemptionQuery,
    resolved: Resolved,
    params: &mut Vec<Value>,
) -> Option<String> {
    let rollbacks_listed = match entries {
        Entries::Redemptions => true,
        Entries::Rollbacks => {
            query.result != Some(RedemptionResult::Failure) && query.failure_code.is_none()
        }
    };
    if !rollbacks_listed {
        return None;
    }
    let alias = match entries {
        Entries::Redemptions => "r",
        Entries::Rollbacks => "b",
    };
    let mut filter = String::new();
    let mut add = |column: &str, op: &str, value: Value| {
        params.push(value);
        let and = if filter.is_empty() { "" } else { " AND " };
        filter.push_str(&format!("{and}{alias}.{column} {op} ?{}", params.len()));
    };
    add("project_id", "=", Value::Integer(project.0));
    if let Some(campaign) = resolved.campaign {
        add("campaign_id", "=", Value::Integer(campaign));
    }
    if let Some(customer) = resolved.customer {
        add("customer_id", "=", Value::Integer(customer));
    }
    if let Some(order) = resolved.order {
        add("order_id", "=", Value::Integer(order));
    }
    match (entries, query.result) {
        (_, None) => {}
        (Entries::Redemptions, Some(result)) => {
            let text = match result {
                RedemptionResult::Success => "SUCCESS",
                RedemptionResult::Failure => "FAILURE",
            };
            add("result", "=", Value::Text(text.to_owned()));
        }
        // A rollback's own result: it is recorded only when it succeeded
        // (a failure left it out above).
        (Entries::Rollbacks, Some(_)) => {}
    }
    if let Some(code) = &query.failure_code {
        add("failure_code", "=", Value::Text(code.clone()));
    }
    if let Some(code) = &query.code {
        add("code", "=", Value::Text(code.clone()));
    }
    // Redemptions and rollbacks never change once written (but for a
    // redemption's state), so the `updated_*` filters do not apply to them.
    if let Some(at) = query.list.created_after {
        add("created_at", ">", Value::Integer(to_ms(at)));
    }
    if let Some(at) = query.list.created_before {
        add("created_at", "<", Value::Integer(to_ms(at)));
    }
    Some(filter)
}

/// The `WHERE` condition of a redemption query over the redemptions alone
/// (alias `r`), and its parameters.
pub(crate) fn redemption_filter(
    project: ProjectId,
    query: &RedemptionQuery,
    resolved: Resolved,
) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let filter = entries_filter(Entries::Redemptions, project, query, resolved, &mut params)
        .unwrap_or_else(|| "0".to_owned());
    (filter, params)
}

/// The queries of one page of the redemption list: its total and its row
/// ids (with 1 for a rollback), each with its values. Redemptions and
/// rollbacks share one sequence of row ids (see the schema), so the page
/// is a merge of two index walks by row id, and a cursor is a row id of
/// either table.
fn list_sql(
    project: ProjectId,
    query: &RedemptionQuery,
    resolved: Resolved,
    paging: &Paging,
) -> [(String, Vec<Value>); 2] {
    let (mut count, mut count_params) = (String::new(), Vec::new());
    let (mut page, mut params) = (String::new(), Vec::new());
    for entries in [Entries::Redemptions, Entries::Rollbacks] {
        let (table, alias, rollback) = match entries {
            Entries::Redemptions => ("redemptions", "r", 0),
            Entries::Rollbacks => ("rollbacks", "b", 1),
        };
        let Some(filter) = entries_filter(entries, project, query, resolved, &mut count_params)
        else {
            continue;
        };
        let union = if count.is_empty() { "" } else { " UNION ALL " };
        count.push_str(&format!(
            "{union}SELECT COUNT(*) FROM {table} {alias} WHERE {filter}"
        ));
        // The same filter again, numbered after the page's values so far.
        let filter = entries_filter(entries, project, query, resolved, &mut params)
            .unwrap_or_else(|| "0".to_owned());
        let cursor = paging.cursor_condition(&format!("{alias}.id"), &mut params);
        page.push_str(&format!(
            "{union}SELECT {alias}.id AS id, {rollback} AS is_rollback FROM {table} {alias}
             WHERE {filter}{cursor}"
        ));
    }
    page.push_str(&paging.tail("id"));
    [(count, count_params), (page, params)]
}

fn list_redemptions(
    conn: &Connection,
    project: ProjectId,
    query: &RedemptionQuery,
    paging: &Paging,
) -> Result<Page<RedemptionRecord>, StoreError> {
    let Some(resolved) = resolve(conn, project, query)? else {
        return Ok(empty_page());
    };
    let [(count_sql, count_params), (page_sql, params)] =
        list_sql(project, query, resolved, paging);
    let mut total = 0u64;
    let counts = conn
        .prepare_cached(&count_sql)
        .store()?
        .query_map(params_from_iter(count_params.iter()), |r| {
            r.get::<_, i64>(0)
        })
        .store()?
        .collect::<Result<Vec<_>, _>>()
        .store()?;
    for n in counts {
        total = total.saturating_add(count(n)?);
    }
    let ids: Vec<(i64, bool)> = conn
        .prepare_cached(&page_sql)
        .store()?
        .query_map(params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .store()?
        .collect::<Result<_, _>>()
        .store()?;
    let rows = ids
        .into_iter()
        .map(|(id, rollback)| {
            let record = match rollback {
                true => load_rollback(conn, project, RowKey::Id(id))?.ok_or_else(|| {
                    StoreError::Corrupt(format!("rollback row {id} vanished in a read"))
                })?,
                false => load_redemption(conn, project, RowKey::Id(id))?,
            };
            Ok((id, record))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(paging.page(rows, total))
}

/// The candidates of a qualification: the codes published to the customer
/// (`holder`), then the public codes of STANDALONE discount campaigns,
/// newest first, at most [`QUALIFICATION_CANDIDATES_MAX`] in all.
fn qualification_codes(
    conn: &Connection,
    project: ProjectId,
    holder: Option<i64>,
) -> Result<Vec<String>, StoreError> {
    let max = i64::try_from(QUALIFICATION_CANDIDATES_MAX).unwrap_or(i64::MAX);
    let mut codes: Vec<String> = Vec::new();
    if let Some(holder) = holder {
        let mut stmt = conn
            .prepare_cached(
                "SELECT code FROM vouchers WHERE project_id = ?1 AND holder_id = ?2
                 ORDER BY id DESC LIMIT ?3",
            )
            .store()?;
        let rows = stmt
            .query_map(params![project.0, holder, max], |r| r.get::<_, String>(0))
            .store()?;
        for code in rows {
            codes.push(code.store()?);
        }
    }
    let left = max.saturating_sub(count_i64(codes.len()));
    if left > 0 {
        let mut stmt = conn
            .prepare_cached(
                "SELECT v.code FROM campaigns c JOIN vouchers v
                   ON v.project_id = c.project_id AND v.campaign_id = c.id
                 WHERE c.project_id = ?1 AND c.kind = 'STANDALONE'
                   AND v.type = 'DISCOUNT_VOUCHER'
                 ORDER BY v.id DESC LIMIT ?2",
            )
            .store()?;
        let rows = stmt
            .query_map(params![project.0, left], |r| r.get::<_, String>(0))
            .store()?;
        for code in rows {
            let code = code.store()?;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    Ok(codes)
}

fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn qualify_in(
    conn: &Connection,
    project_id: ProjectId,
    request: &QualificationRequest,
) -> Result<QualificationResult, StoreError> {
    let project = load_project(conn, project_id)?;
    // The customer as stored, with the engine id the holders are matched
    // against (a request's source id is resolved, never trusted as an id).
    let (customer_row, customer) = match &request.customer {
        None => (None, Customer::default()),
        Some(spec) => match lookup_customer(conn, project.id, spec)? {
            Some(row) => {
                let mut merged = row.record.spec.clone();
                merge(&mut merged, spec);
                let mut customer = core_customer(&merged);
                customer.id = Some(row.record.id.clone());
                (Some(row.id), customer)
            }
            None => {
                let mut customer = core_customer(spec);
                customer.id = None;
                (None, customer)
            }
        },
    };
    let codes = qualification_codes(conn, project.id, customer_row)?;
    let mut loaded: Vec<(DecisionInputs, Counters)> = Vec::with_capacity(codes.len());
    for code in &codes {
        if let Some(inputs) = decision_inputs(conn, &project, code)? {
            let counters = counters(conn, project.id, &inputs, customer_row)?;
            loaded.push((inputs, counters));
        }
    }
    let candidates: Vec<Candidate<'_>> = loaded
        .iter()
        .map(|(inputs, counters)| Candidate {
            voucher: &inputs.voucher,
            campaign: inputs.campaign.as_ref(),
            counters: *counters,
        })
        .collect();
    let dp = project.decision_project();
    let checkout = Checkout {
        order: &request.order,
        customer: &customer,
        now: request.now,
    };
    let refused = |refusal: Refusal| StoreError::Refused {
        refusal,
        failure_id: None,
    };
    let order = initial_state(&dp, &checkout).map_err(refused)?;
    let found = qualification::qualify(&dp, &candidates, &checkout, request.sorting, request.limit)
        .map_err(|e| match e {
            QualifyError::Input(refusal) => refused(refusal),
            QualifyError::TooManyCandidates => invalid("invalid_payload", e.to_string()),
        })?;
    let qualified = found
        .qualified
        .into_iter()
        .filter_map(|q| {
            let (inputs, _) = loaded.get(q.index)?;
            Some(QualifiedRecord {
                voucher: inputs.voucher_row.record.clone(),
                outcome: q.outcome,
                order: q.order,
            })
        })
        .collect();
    Ok(QualificationResult {
        qualified,
        total: count(count_i64(found.total))?,
        order,
    })
}

/// The webhook event of a redemption's answer, in its transaction.
fn redemption_event(
    conn: &Connection,
    subscriptions: &webhooks::Subscriptions,
    project: ProjectId,
    answer: &Answer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match answer {
        Answer::Redeemed(record) => webhooks::emit(
            conn,
            subscriptions,
            project,
            EventType::RedemptionSucceeded,
            now,
            || Ok(EventObject::Redemption(record.clone())),
        ),
        Answer::Refused { failure_id, .. } => webhooks::emit(
            conn,
            subscriptions,
            project,
            EventType::RedemptionFailed,
            now,
            || {
                let record = load_redemption(conn, project, RowKey::ExtId(failure_id))?;
                Ok(EventObject::Redemption(Box::new(record)))
            },
        ),
    }
}

/// The write job of a redemption: the decision and its transition, and
/// its event when the project takes it.
fn redeem_job(
    conn: &Connection,
    subscriptions: &webhooks::Subscriptions,
    project: ProjectId,
    request: &CheckoutRequest,
) -> Result<Answer, StoreError> {
    let answer = redeem_in(conn, project, request)?;
    redemption_event(conn, subscriptions, project, &answer, request.now)?;
    Ok(answer)
}

/// A redemption job's answer as the port gives it: a refusal is an error.
fn redeemed(answer: Answer) -> Result<RedemptionRecord, StoreError> {
    match answer {
        Answer::Redeemed(record) => Ok(*record),
        Answer::Refused {
            refusal,
            failure_id,
        } => Err(StoreError::Refused {
            refusal,
            failure_id: Some(failure_id),
        }),
    }
}

impl CheckoutStore for SqliteStore {
    fn validate(
        &self,
        project: ProjectId,
        request: &CheckoutRequest,
    ) -> Result<CheckoutResult, StoreError> {
        check_shape(request)?;
        let (result, campaigns) =
            self.read_cached(|conn, cache| validate_in(conn, cache, project, request))?;
        for campaign in &campaigns {
            self.inner.validations.add(project, campaign);
        }
        Ok(result)
    }

    fn validate_with_key(
        &self,
        app_id: &str,
        secret: &str,
        prepare: &mut PrepareValidation<'_>,
    ) -> Result<Option<CheckoutResult>, StoreError> {
        // One read transaction for both: each costs SQLite a lock and an
        // unlock of the WAL's read mark, which were a tenth of a
        // validation's CPU time when the key had its own.
        let validated = self.read_cached(|conn, cache| {
            let found = match cached_key(conn, cache, app_id, secret)? {
                Some(key) => Some((cached_project(conn, cache, key.project)?, key)),
                None => None,
            };
            let Some(request) = prepare(found.as_ref().map(|(project, key)| (key, project))) else {
                return Ok(None);
            };
            let Some((project, _)) = found else {
                return Ok(None);
            };
            check_shape(&request)?;
            validate_in(conn, cache, project.id, &request).map(|done| Some((project.id, done)))
        })?;
        let Some((project, (result, campaigns))) = validated else {
            return Ok(None);
        };
        for campaign in &campaigns {
            self.inner.validations.add(project, campaign);
        }
        Ok(Some(result))
    }

    fn redeem(
        &self,
        project: ProjectId,
        request: &CheckoutRequest,
    ) -> Result<RedemptionRecord, StoreError> {
        check_shape(request)?;
        let request = request.clone();
        let subscriptions = self.subscriptions();
        self.write(move |conn| redeem_job(conn, &subscriptions, project, &request))
            .and_then(redeemed)
    }

    fn redeem_then(
        &self,
        project: ProjectId,
        request: CheckoutRequest,
        reply: Reply<RedemptionRecord>,
    ) {
        if let Err(e) = check_shape(&request) {
            return reply(Err(e));
        }
        let subscriptions = self.subscriptions();
        self.write_then(
            move |conn| redeem_job(conn, &subscriptions, project, &request),
            Box::new(move |answer| reply(answer.and_then(redeemed))),
        );
    }

    fn rollback(
        &self,
        project: ProjectId,
        request: &RollbackRequest,
    ) -> Result<RollbackRecord, StoreError> {
        let request = request.clone();
        let subscriptions = self.subscriptions();
        self.write(move |conn| {
            let record = rollback_in(conn, project, &request)?;
            webhooks::emit(
                conn,
                &subscriptions,
                project,
                EventType::RedemptionRollbackSucceeded,
                request.now,
                || Ok(EventObject::Rollback(Box::new(record.clone()))),
            )?;
            Ok(record)
        })
    }

    fn qualify(
        &self,
        project: ProjectId,
        request: &QualificationRequest,
    ) -> Result<QualificationResult, StoreError> {
        self.read(|conn| qualify_in(conn, project, request))
    }

    fn redemption(&self, project: ProjectId, id: &str) -> Result<RedemptionRecord, StoreError> {
        self.read(|conn| {
            if id.starts_with("rr_") {
                if let Some(record) = load_rollback(conn, project, RowKey::ExtId(id))? {
                    return Ok(record);
                }
            }
            load_redemption(conn, project, RowKey::ExtId(id))
        })
    }

    fn redemptions(
        &self,
        project: ProjectId,
        query: &RedemptionQuery,
    ) -> Result<Page<RedemptionRecord>, StoreError> {
        let paging = Paging::new(&query.list)?;
        self.read(|conn| list_redemptions(conn, project, query, &paging))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voucher_core::port::ListQuery;

    /// Every filter of the redemption list walks an index, in order.
    #[test]
    fn redemption_lists_are_indexed() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrations().to_latest(&mut conn).unwrap();
        let project = ProjectId(1);
        let some = |s: &str| Some(s.to_owned());
        let at = DateTime::from_timestamp_millis(0);
        let queries = [
            RedemptionQuery::default(),
            RedemptionQuery {
                campaign: some("c"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                customer: some("c"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                order: some("o"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                result: Some(RedemptionResult::Failure),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                result: Some(RedemptionResult::Failure),
                failure_code: some("quantity_exceeded"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                code: some("CODE"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                result: Some(RedemptionResult::Success),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                customer: some("c"),
                code: some("CODE"),
                result: Some(RedemptionResult::Success),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                list: ListQuery {
                    order: voucher_core::port::SortOrder::OldestFirst,
                    ..ListQuery::default()
                },
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                campaign: some("c"),
                result: Some(RedemptionResult::Failure),
                failure_code: some("quantity_exceeded"),
                ..RedemptionQuery::default()
            },
            RedemptionQuery {
                list: ListQuery {
                    created_after: at,
                    ..ListQuery::default()
                },
                ..RedemptionQuery::default()
            },
        ];
        let mut bad = Vec::new();
        for query in queries {
            let resolved = Resolved {
                campaign: query.campaign.as_ref().map(|_| 1),
                customer: query.customer.as_ref().map(|_| 1),
                order: query.order.as_ref().map(|_| 1),
            };
            let paging = Paging::new(&ListQuery {
                starting_after: Some("100".to_owned()),
                ..query.list.clone()
            })
            .unwrap();
            let [count, page] = list_sql(project, &query, resolved, &paging);
            // Rollbacks are listed unless the query asks for failures.
            let both = query.result != Some(RedemptionResult::Failure);
            assert_eq!(page.0.contains("UNION ALL"), both, "{}", page.0);
            assert_eq!(count.0.contains("UNION ALL"), both, "{}", count.0);
            for (sql, params) in [count, page] {
                let plan: Vec<String> = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .unwrap()
                    .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = plan.join("; ");
                if plan.contains("SCAN") || plan.contains("TEMP B-TREE") {
                    bad.push(format!("{sql}: {plan}"));
                }
                if both && sql.contains("LIMIT") && !plan.contains("MERGE (UNION ALL)") {
                    bad.push(format!("the page is not a merge: {plan}"));
                }
            }
        }
        // The other lookups of checkout and customers (the per-customer
        // counter is catalog.rs's, checked here against these indexes).
        let fixed = [
            "SELECT COUNT(*) FROM redemptions WHERE project_id = 1 AND customer_id = 2
               AND campaign_id = 3 AND state = 'SUCCEEDED' AND kind != 'parent'",
            "SELECT COUNT(*) FROM redemptions
             WHERE project_id = 1 AND customer_id = 2 AND kind != 'parent'",
            "SELECT COUNT(*) FROM orders WHERE project_id = 1 AND customer_id = 2",
            "SELECT r.id FROM redemptions r WHERE r.project_id = 1 AND r.parent_id = 2
             ORDER BY r.id",
            "SELECT id FROM customers WHERE project_id = 1 ORDER BY id DESC LIMIT 11",
            "SELECT b.record FROM rollbacks b WHERE b.project_id = 1 AND b.id = 2",
            "SELECT b.record FROM rollbacks b WHERE b.project_id = 1 AND b.ext_id = 'rr_1'",
            "UPDATE rollbacks SET customer_id = NULL WHERE project_id = 1 AND customer_id = 2",
            "UPDATE rollbacks SET campaign_id = NULL WHERE project_id = 1 AND campaign_id = 2",
            "UPDATE redemptions SET campaign_id = NULL WHERE project_id = 1 AND campaign_id = 2",
            &crate::vouchers::UNLINK_VOUCHER_REDEMPTIONS
                .replace("?1", "1")
                .replace("?2", "'A'")
                .replace("?3", "'v_1'")
                .replace("?4", "2"),
            &crate::vouchers::UNLINK_CAMPAIGN_REDEMPTIONS
                .replace("?1", "1")
                .replace("?2", "2"),
        ];
        for sql in fixed {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            if plan.contains("SCAN") || plan.contains("TEMP B-TREE") {
                bad.push(format!("{sql}: {plan}"));
            }
            if sql.contains("campaign_id = 3") && !plan.contains("redemptions_customer ") {
                bad.push(format!("the counter does not use its index: {plan}"));
            }
        }
        // The next row id: two lookups of the tables' last rows.
        let plan: Vec<String> = conn
            .prepare(concat!("EXPLAIN QUERY PLAN SELECT ", next_entry_id!()))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let searches = plan.iter().filter(|s| s.starts_with("SEARCH ")).count();
        if searches != 2 || plan.iter().any(|s| s.starts_with("SCAN r")) {
            bad.push(format!("the next row id: {plan:?}"));
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }
}
