//! The store ports: what an adapter that persists the engine's state (the
//! SQLite store today, PostgreSQL later) MUST do. Small traits, one per
//! family of resources, over the plain records in [`record`].
//!
//! The contract every method shares:
//! - Every call names a [`ProjectId`]; an adapter MUST never read or change
//!   a row of another project, and MUST answer [`StoreError::NotFound`] for
//!   another project's ids (never a "forbidden").
//! - Decisions are the core's: an adapter MUST decide validations,
//!   redemptions and rollbacks by calling [`crate::decision`] /
//!   [`crate::stacking`] on state read inside the same transaction that
//!   applies the resulting transition, so that no limit can be exceeded under
//!   any concurrency.
//! - A call that returns `Ok` for a write MUST be durable (committed) before
//!   it returns; a call that returns `Err` MUST have changed nothing, except
//!   that a refused redemption is recorded as a failed redemption.

pub mod record;

use chrono::{DateTime, Utc};

pub use self::record::*;
use crate::decision::Refusal;

/// Where a store hands an answer it does not return (see
/// [`CheckoutStore::redeem_then`]).
pub type Reply<T> = Box<dyn FnOnce(Result<T, StoreError>) + Send>;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The resource does not exist in this project (wire key `not_found`).
    #[error("{resource} {id} not found")]
    NotFound {
        /// `voucher`, `campaign`, `customer`, ...
        resource: &'static str,
        /// The id or code asked for.
        id: String,
    },
    /// A unique name, code or source id is taken (wire key
    /// `duplicate_found`).
    #[error("duplicated {resource} exists with id {id}")]
    Duplicate {
        /// `voucher`, `campaign`, ...
        resource: &'static str,
        /// The taken id or code.
        id: String,
    },
    /// The engine refused (a redemption, a balance change, a rollback); the
    /// failed attempt was recorded where the wire says so.
    #[error("refused: {refusal}")]
    Refused {
        /// The core's refusal.
        refusal: Refusal,
        /// The id of the recorded failed redemption (`rf_...`), if any.
        failure_id: Option<String>,
    },
    /// The request is well-formed JSON but not acceptable (wire key given).
    #[error("{message}")]
    Invalid {
        /// A stable key such as `invalid_payload`, `invalid_code_config`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The redemption was already rolled back (`already_rolled_back`).
    #[error("redemption already rolled back")]
    AlreadyRolledBack,
    /// An idempotency key was reused with another request
    /// (`idempotency_key_reused`).
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// A request with this idempotency key is still being processed
    /// (`idempotency_request_in_flight`).
    #[error("a request with this idempotency key is in flight")]
    IdempotencyInFlight,
    /// The database file is not a database, or its contents do not add up.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of this program.
    #[error("the database schema version {found} is newer than this program's {supported}")]
    NewerSchema {
        /// The schema version in the file.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// The disk is full; nothing was written.
    #[error("the disk is full")]
    DiskFull,
    /// The database is locked by another process for too long.
    #[error("the database is busy")]
    Busy,
    /// The store is shutting down or its writer is gone.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Any other I/O or database failure.
    #[error("storage failure: {0}")]
    Io(String),
}

impl From<crate::code_pattern::CodeConfigError> for StoreError {
    fn from(e: crate::code_pattern::CodeConfigError) -> StoreError {
        StoreError::Invalid {
            key: "invalid_code_config",
            message: e.to_string(),
        }
    }
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The number of items matching the filter, over all pages.
    pub total: u64,
    /// True when more items follow this page.
    pub has_more: bool,
    /// The cursor to pass as `starting_after` for the next page.
    pub next_cursor: Option<String>,
}

/// Projects and their API keys.
pub trait ProjectStore {
    /// Creates a project. MUST fail with `Duplicate` if the name is taken.
    fn create_project(
        &self,
        spec: &ProjectSpec,
        now: DateTime<Utc>,
    ) -> Result<ProjectRecord, StoreError>;
    /// The project with this name, if any.
    fn project_by_name(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError>;
    /// The project with this id. MUST fail with `NotFound` if none.
    fn project(&self, id: ProjectId) -> Result<ProjectRecord, StoreError>;
    /// Every project, oldest first.
    fn projects(&self) -> Result<Vec<ProjectRecord>, StoreError>;
    /// Creates a key pair; the secret is given (hashed by the store) so that
    /// callers can choose or generate it. MUST store only a hash of it, and
    /// fail with `Duplicate` if the application id is taken.
    fn create_key(&self, spec: &KeySpec, now: DateTime<Utc>) -> Result<KeyRecord, StoreError>;
    /// The key whose application id and secret match, not revoked, if any.
    /// MUST compare the secret's hash in constant time.
    fn authenticate(&self, app_id: &str, secret: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// [`ProjectStore::authenticate`], with the key's project, read
    /// together: what every request needs first.
    fn authenticate_project(
        &self,
        app_id: &str,
        secret: &str,
    ) -> Result<Option<(KeyRecord, ProjectRecord)>, StoreError> {
        match self.authenticate(app_id, secret)? {
            Some(key) => {
                let project = self.project(key.project)?;
                Ok(Some((key, project)))
            }
            None => Ok(None),
        }
    }
    /// Every key (no secrets), oldest first.
    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Revokes a key by application id. MUST fail with `NotFound` if none.
    fn revoke_key(&self, app_id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The project's secret for signing asset URLs (QR code and barcode
    /// images). The first call for a project MUST store `candidate` (the
    /// caller draws it from a secure random source) and return it; every
    /// later call, after a restart too, MUST return that stored secret and
    /// ignore its `candidate`, even when two first calls race. MUST fail
    /// with `NotFound` if there is no such project.
    fn asset_secret(&self, project: ProjectId, candidate: [u8; 32])
        -> Result<[u8; 32], StoreError>;
}

/// Campaigns and their codes.
pub trait CampaignStore {
    /// Creates a campaign without codes (`vouchers_generation_status`
    /// `IN_PROGRESS` when codes are to follow, else `DONE`). MUST fail with
    /// `Duplicate` if the name is taken, and `Invalid`
    /// (`invalid_code_config`) if the requested codes do not fit the code
    /// space.
    fn create_campaign(
        &self,
        project: ProjectId,
        spec: &CampaignSpec,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError>;
    /// Generates `count` new unique codes for the campaign from its code
    /// config, in bounded memory, retrying collisions; sets the generation
    /// status to `DONE` at the end. `seed` seeds the generator.
    fn generate_codes(
        &self,
        project: ProjectId,
        campaign_id: &str,
        count: u64,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The campaign with this id or name.
    fn campaign(&self, project: ProjectId, id_or_name: &str) -> Result<CampaignRecord, StoreError>;
    /// Replaces the campaign's changeable settings.
    fn update_campaign(
        &self,
        project: ProjectId,
        id_or_name: &str,
        spec: &CampaignSpec,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError>;
    /// Deletes the campaign and its codes (their redemptions stay).
    fn delete_campaign(
        &self,
        project: ProjectId,
        id_or_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Enables or disables the campaign (audited).
    fn set_campaign_active(
        &self,
        project: ProjectId,
        id_or_name: &str,
        active: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CampaignRecord, StoreError>;
}

/// Reading many campaigns, and their figures.
pub trait CampaignQueries {
    /// Lists campaigns, newest first.
    fn campaigns(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<CampaignRecord>, StoreError>;
    /// The campaign's summary.
    fn campaign_summary(
        &self,
        project: ProjectId,
        id_or_name: &str,
    ) -> Result<CampaignSummary, StoreError>;
}

/// Vouchers, one at a time.
pub trait VoucherStore {
    /// Creates a voucher, standalone or in a campaign. MUST fail with
    /// `Duplicate` if the code exists in the project.
    fn create_voucher(
        &self,
        project: ProjectId,
        spec: &VoucherSpec,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError>;
    /// The voucher with this code or id.
    fn voucher(&self, project: ProjectId, code_or_id: &str) -> Result<VoucherRecord, StoreError>;
    /// Applies a patch; server-managed fields are not in it.
    fn update_voucher(
        &self,
        project: ProjectId,
        code_or_id: &str,
        patch: &VoucherPatch,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError>;
    /// Deletes the voucher (its redemptions stay).
    fn delete_voucher(
        &self,
        project: ProjectId,
        code_or_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Enables or disables the voucher (audited).
    fn set_voucher_active(
        &self,
        project: ProjectId,
        code_or_id: &str,
        active: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<VoucherRecord, StoreError>;
}

/// Reading many vouchers.
pub trait VoucherQueries {
    /// Lists vouchers, newest first.
    fn vouchers(
        &self,
        project: ProjectId,
        query: &VoucherQuery,
    ) -> Result<Page<VoucherRecord>, StoreError>;
}

/// Gift-card balances and their ledger.
pub trait GiftStore {
    /// Adds (positive) or removes (negative) gift credits, as a ledger entry
    /// (audited). MUST refuse a change that would make the balance negative
    /// (`gift_amount_exceeded`) or of zero (`invalid_amount`).
    fn adjust_balance(
        &self,
        project: ProjectId,
        code_or_id: &str,
        change: &BalanceChange,
        now: DateTime<Utc>,
    ) -> Result<BalanceRecord, StoreError>;
    /// The gift card's ledger, newest first.
    fn transactions(
        &self,
        project: ProjectId,
        code_or_id: &str,
        query: &ListQuery,
    ) -> Result<Page<LedgerRecord>, StoreError>;
}

/// What [`CheckoutStore::validate_with_key`] calls with the key it found
/// and the key's project: the request to validate, or `None` to stop.
pub type PrepareValidation<'a> =
    dyn FnMut(Option<(&KeyRecord, &ProjectRecord)>) -> Option<CheckoutRequest> + 'a;

/// Checkout: validation, redemption, rollback.
pub trait CheckoutStore {
    /// Validates codes on an order, changing nothing but in-memory
    /// validation counters.
    fn validate(
        &self,
        project: ProjectId,
        request: &CheckoutRequest,
    ) -> Result<CheckoutResult, StoreError>;
    /// [`ProjectStore::authenticate_project`] and
    /// [`CheckoutStore::validate`] in one call, for a request that carries
    /// its key: the key of `app_id` and `secret` is looked up as
    /// `authenticate_project` does, `prepare` is called once with it and its
    /// project (`None` when no key matches) and returns the request to
    /// validate in that project, or `None` to stop there (the call then
    /// answers `Ok(None)`). The validation MUST read the same state the key
    /// was read from (one read transaction, where the adapter has them), so
    /// that a key revoked before the call is never honoured.
    fn validate_with_key(
        &self,
        app_id: &str,
        secret: &str,
        prepare: &mut PrepareValidation<'_>,
    ) -> Result<Option<CheckoutResult>, StoreError>;
    /// Redeems codes on an order, exactly once: the decision and its
    /// transition in one transaction. A refusal MUST be recorded as a failed
    /// redemption (an unknown code too, `resource_not_found`) and returned as
    /// `Refused`.
    fn redeem(
        &self,
        project: ProjectId,
        request: &CheckoutRequest,
    ) -> Result<RedemptionRecord, StoreError>;
    /// [`CheckoutStore::redeem`] without making the caller wait: `reply` is
    /// called once with the same answer, on whatever thread the store has
    /// it (an async server awaits it without holding a thread). An adapter
    /// that has no better way runs `redeem` and replies, as the default does.
    /// `reply` MUST be called exactly once, and MUST NOT be called while
    /// the store holds a lock another call could need.
    fn redeem_then(
        &self,
        project: ProjectId,
        request: CheckoutRequest,
        reply: Reply<RedemptionRecord>,
    ) {
        reply(self.redeem(project, &request));
    }
    /// Rolls back a successful redemption (or all children of a stacked
    /// parent): the uses and credits return, exactly once. A second rollback
    /// MUST fail with `AlreadyRolledBack`.
    fn rollback(
        &self,
        project: ProjectId,
        request: &RollbackRequest,
    ) -> Result<RollbackRecord, StoreError>;
    /// The codes the customer may know (published to them, or the public
    /// code of a STANDALONE discount campaign) that apply to the order,
    /// decided by [`crate::qualification::qualify`] (campaign redemption
    /// counts ignored). Changes nothing.
    fn qualify(
        &self,
        project: ProjectId,
        request: &QualificationRequest,
    ) -> Result<QualificationResult, StoreError>;
    /// A redemption or rollback by id (a rollback as
    /// [`RedemptionKind::Rollback`]).
    fn redemption(&self, project: ProjectId, id: &str) -> Result<RedemptionRecord, StoreError>;
    /// Lists redemptions (successful and failed) and rollbacks
    /// ([`RedemptionKind::Rollback`], as [`CheckoutStore::redemption`]
    /// reads them), newest first, in one order (the order of their
    /// writes), counted together in `total`. A rollback matches the
    /// `campaign`, `customer`, `code` and `order` filters of the redemption
    /// it rolled back, and the `result` filter by its own result (a
    /// success); a `failure_code` filter leaves rollbacks out.
    fn redemptions(
        &self,
        project: ProjectId,
        query: &RedemptionQuery,
    ) -> Result<Page<RedemptionRecord>, StoreError>;
}

/// Customers.
pub trait CustomerStore {
    /// Creates or updates by source id (or id).
    fn upsert_customer(
        &self,
        project: ProjectId,
        spec: &CustomerSpec,
        now: DateTime<Utc>,
    ) -> Result<CustomerRecord, StoreError>;
    /// By id or source id.
    fn customer(
        &self,
        project: ProjectId,
        id_or_source_id: &str,
    ) -> Result<CustomerRecord, StoreError>;
    /// Deletes the customer (their redemptions stay, anonymised).
    fn delete_customer(&self, project: ProjectId, id_or_source_id: &str) -> Result<(), StoreError>;
    /// Lists customers, newest first.
    fn customers(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<CustomerRecord>, StoreError>;
}

/// Publications: handing a code to a customer.
pub trait PublicationStore {
    /// Publishes a code (a given one, or one of a campaign's, generated for
    /// AUTO_UPDATE campaigns). MUST fail with `Duplicate` for a reused
    /// `source_id` with another request, and return the earlier publication
    /// for the same one.
    fn publish(
        &self,
        project: ProjectId,
        spec: &PublicationSpec,
        now: DateTime<Utc>,
    ) -> Result<PublicationRecord, StoreError>;
    /// Lists publications, newest first.
    fn publications(
        &self,
        project: ProjectId,
        query: &PublicationQuery,
    ) -> Result<Page<PublicationRecord>, StoreError>;
}

/// Validation rule sets and their assignments.
pub trait RuleStore {
    /// Creates a rule set. MUST fail with `Duplicate` for a taken name.
    fn create_rule(
        &self,
        project: ProjectId,
        spec: &RuleSpec,
        now: DateTime<Utc>,
    ) -> Result<RuleRecord, StoreError>;
    /// By id.
    fn rule(&self, project: ProjectId, id: &str) -> Result<RuleRecord, StoreError>;
    /// Replaces the rule set.
    fn update_rule(
        &self,
        project: ProjectId,
        id: &str,
        spec: &RuleSpec,
        now: DateTime<Utc>,
    ) -> Result<RuleRecord, StoreError>;
    /// Deletes the rule set and its assignments.
    fn delete_rule(&self, project: ProjectId, id: &str) -> Result<(), StoreError>;
    /// Lists rule sets, newest first.
    fn rules(&self, project: ProjectId, query: &ListQuery) -> Result<Page<RuleRecord>, StoreError>;
    /// Assigns a rule set to a voucher or campaign.
    fn assign_rule(
        &self,
        project: ProjectId,
        rule_id: &str,
        target: &AssignmentTarget,
        now: DateTime<Utc>,
    ) -> Result<AssignmentRecord, StoreError>;
    /// Removes an assignment.
    fn unassign_rule(
        &self,
        project: ProjectId,
        rule_id: &str,
        assignment_id: &str,
    ) -> Result<(), StoreError>;
    /// The rule set's assignments.
    fn assignments(
        &self,
        project: ProjectId,
        rule_id: &str,
    ) -> Result<Vec<AssignmentRecord>, StoreError>;
}

/// Idempotency records of mutating requests.
pub trait IdempotencyStore {
    /// Claims a key for a request whose canonical body hashes to
    /// `request_hash`. MUST answer `Replay` with the stored response for the
    /// same key and hash, `IdempotencyKeyReused` for another hash, and
    /// `IdempotencyInFlight` while the first request is unanswered.
    fn claim(
        &self,
        project: ProjectId,
        key: &IdempotencyKey,
        request_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    /// Stores the response of a claimed key (2xx and 4xx answers only).
    fn complete(
        &self,
        project: ProjectId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Releases a claim whose request failed with a 5xx (nothing stored).
    fn release(&self, project: ProjectId, key: &IdempotencyKey) -> Result<(), StoreError>;
}

/// Async actions, the audit log, retention and backups.
pub trait MaintenanceStore {
    /// Creates an async action in `ENQUEUED` or `IN_PROGRESS`.
    fn create_action(
        &self,
        project: ProjectId,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<ActionRecord, StoreError>;
    /// Updates an async action's status, progress and result.
    fn update_action(
        &self,
        project: ProjectId,
        action: &ActionRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// An async action by id.
    fn action(&self, project: ProjectId, id: &str) -> Result<ActionRecord, StoreError>;
    /// The audit log, newest first.
    fn audit_log(
        &self,
        project: ProjectId,
        query: &ListQuery,
    ) -> Result<Page<AuditRecord>, StoreError>;
    /// Purges what the retention policy allows (failed attempts of unknown
    /// codes, idempotency records, webhook events done (delivered to every
    /// endpoint or given up) with their deliveries and attempts, each older
    /// than its retention); returns the rows removed (an event counts one).
    fn purge(&self, retention: &Retention, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Writes a consistent copy of the database to `path` while the store
    /// keeps serving.
    fn backup(&self, path: &std::path::Path) -> Result<(), StoreError>;
    /// The sizes of the write batches so far, if the store batches writes.
    fn write_batches(&self) -> Option<BatchSizes> {
        None
    }
}

/// Bulk work, streaming in bounded memory.
pub trait BulkStore {
    /// Imports vouchers from CSV (the wire's importCSV columns, money in
    /// major units) into a campaign or standalone. Good rows go in; a code
    /// that exists is updated; each bad row is reported with its row number
    /// and reason. MUST not hold more than one batch of rows in memory.
    fn import_vouchers_csv(
        &self,
        project: ProjectId,
        campaign: Option<&str>,
        input: &mut dyn std::io::Read,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError>;
    /// Writes the vouchers matching the query as CSV (with their state),
    /// streaming; returns the rows written.
    fn export_vouchers_csv(
        &self,
        project: ProjectId,
        query: &VoucherQuery,
        output: &mut dyn std::io::Write,
    ) -> Result<u64, StoreError>;
    /// Writes the redemptions matching the query as CSV, streaming; returns
    /// the rows written.
    fn export_redemptions_csv(
        &self,
        project: ProjectId,
        query: &RedemptionQuery,
        output: &mut dyn std::io::Write,
    ) -> Result<u64, StoreError>;
}

/// Webhook endpoints and the delivery of the events outbox.
///
/// The events themselves are written by the other ports' writes: an adapter
/// MUST write an [`EventRecord`] in the same transaction as the change that
/// caused it (a change that is rolled back leaves no event), and MAY skip
/// it when no endpoint of the project receives its type. Each event is
/// delivered once to every endpoint of its project that receives its type
/// at the time it is first claimed.
pub trait WebhookStore {
    /// Adds an endpoint. MUST fail with `Invalid` (`invalid_payload`) past
    /// [`crate::limits::WEBHOOKS_PER_PROJECT_MAX`] endpoints, and make
    /// events of its types be written from the next write on.
    fn add_webhook(
        &self,
        project: ProjectId,
        spec: &WebhookSpec,
        now: DateTime<Utc>,
    ) -> Result<WebhookRecord, StoreError>;
    /// The project's endpoints, oldest first.
    fn webhooks(&self, project: ProjectId) -> Result<Vec<WebhookRecord>, StoreError>;
    /// One endpoint and its latest attempts (newest first, at most
    /// [`crate::limits::WEBHOOK_ATTEMPTS_LISTED_MAX`]). MUST fail with
    /// `NotFound` for another project's id.
    fn webhook(
        &self,
        project: ProjectId,
        id: &str,
    ) -> Result<(WebhookRecord, Vec<AttemptRecord>), StoreError>;
    /// Removes an endpoint and its pending deliveries; events stop being
    /// written for it. MUST fail with `NotFound` for another project's id.
    fn remove_webhook(
        &self,
        project: ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Claims up to `limit` deliveries due at `now`, of every project,
    /// oldest first: each is leased until `lease_until` (a worker that
    /// stops before recording an attempt leaves it to be claimed again
    /// then), so two claims never return the same delivery while it is
    /// leased. Events not yet matched with endpoints are matched first.
    fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Logs one attempt of a claimed delivery (started at `attempted_at`,
    /// lasting `duration_ms`) and applies its outcome: delivered (done),
    /// failed with a retry time (due again then) or failed without (given
    /// up, done). An event whose deliveries are all done is done itself
    /// (and purged after its retention).
    fn record_attempt(
        &self,
        delivery_id: i64,
        attempted_at: DateTime<Utc>,
        duration_ms: u64,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError>;
    /// Pending work of every project: deliveries not done, plus events not
    /// yet matched with endpoints.
    fn webhook_backlog(&self) -> Result<u64, StoreError>;
}
