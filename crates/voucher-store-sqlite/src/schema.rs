//! The schema, as append-only migrations (`rusqlite_migration`, which keeps
//! the version in SQLite's `user_version`). Never edit a migration that has
//! shipped: add a new one at the end.
//!
//! Conventions: every table is `STRICT` and has a `project_id` (no query
//! crosses projects); amounts are INTEGER minor units of the project's
//! currency; instants are INTEGER Unix milliseconds (UTC); JSON columns hold
//! the core's serde forms (discounts, validity, rules, metadata); external
//! ids are the wire's prefixed strings (`v_...`), unique per project, beside
//! an integer primary key used for joins.

use rusqlite_migration::{Migrations, M};

/// The migrations, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1)])
}

/// The schema version this program writes.
pub fn version() -> i64 {
    1
}

const V1: &str = r#"
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    currency TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    stacking TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Signs asset URLs (32 random bytes); set at first use, never changed.
    asset_secret BLOB CHECK (asset_secret IS NULL OR length(asset_secret) = 32)
) STRICT;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    kind TEXT NOT NULL CHECK (kind IN ('server', 'client')),
    app_id TEXT NOT NULL UNIQUE,
    secret_sha256 BLOB NOT NULL,
    origins TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_project ON api_keys(project_id);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    name TEXT NOT NULL,
    campaign_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    active INTEGER NOT NULL,
    spec TEXT NOT NULL,
    -- The discount of the campaign's codes, for codes that have none of
    -- their own (vouchers.discount NULL): keeps a million generated rows small.
    template_discount TEXT,
    codes_count INTEGER NOT NULL DEFAULT 0,
    generation TEXT NOT NULL,
    redemptions_succeeded INTEGER NOT NULL DEFAULT 0,
    redemptions_active INTEGER NOT NULL DEFAULT 0,
    given_minor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id),
    UNIQUE (project_id, name)
) STRICT;
CREATE INDEX campaigns_created ON campaigns(project_id, created_at);
-- The campaign list, ordered by row id.
CREATE INDEX campaigns_project ON campaigns(project_id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    source_id TEXT,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id),
    UNIQUE (project_id, source_id)
) STRICT;
CREATE INDEX customers_created ON customers(project_id, created_at);
-- The customer list, ordered by row id.
CREATE INDEX customers_project ON customers(project_id);

CREATE TABLE vouchers (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    code TEXT NOT NULL,
    campaign_id INTEGER REFERENCES campaigns(id),
    type TEXT NOT NULL CHECK (type IN ('DISCOUNT_VOUCHER', 'GIFT_VOUCHER')),
    discount TEXT,
    gift_amount INTEGER,
    gift_balance INTEGER CHECK (gift_balance IS NULL OR gift_balance >= 0),
    quantity INTEGER,
    redeemed_quantity INTEGER NOT NULL DEFAULT 0,
    redeemed_amount INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL,
    -- NULL: no validity of its own (generated codes).
    validity TEXT,
    start_at INTEGER,
    expire_at INTEGER,
    holder_id INTEGER REFERENCES customers(id),
    published_at INTEGER,
    publish_count INTEGER NOT NULL DEFAULT 0,
    category TEXT,
    additional_info TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (quantity IS NULL OR redeemed_quantity <= quantity),
    UNIQUE (project_id, code),
    UNIQUE (project_id, ext_id)
) STRICT;
-- Partial: standalone codes (no campaign) stay out of the campaign's
-- indexes, generated codes (no holder) out of the holder's; every lookup
-- names a campaign or a holder.
CREATE INDEX vouchers_campaign ON vouchers(project_id, campaign_id, id)
    WHERE campaign_id IS NOT NULL;
CREATE INDEX vouchers_created ON vouchers(project_id, created_at);
CREATE INDEX vouchers_holder ON vouchers(project_id, holder_id) WHERE holder_id IS NOT NULL;
CREATE INDEX vouchers_unpublished ON vouchers(campaign_id, holder_id, id)
    WHERE campaign_id IS NOT NULL;
-- The voucher list, ordered by row id, unfiltered and by category (only
-- codes that have one); a campaign's gift balances for the summary's
-- outstanding amount (covering, gift codes only).
CREATE INDEX vouchers_project ON vouchers(project_id);
CREATE INDEX vouchers_category ON vouchers(project_id, category) WHERE category IS NOT NULL;
CREATE INDEX vouchers_gift ON vouchers(campaign_id, gift_balance) WHERE gift_balance IS NOT NULL;

-- An order as its last redemption saw it is that redemption's
-- `order_snapshot`: the row keeps only what is looked up and counted.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    source_id TEXT,
    customer_id INTEGER REFERENCES customers(id),
    status TEXT,
    amount INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;
-- Partial, as are most indexes below: every lookup names a value, so rows
-- without one (anonymous orders, orders without a source id) stay out and
-- cost no index write.
CREATE UNIQUE INDEX orders_source ON orders(project_id, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX orders_customer ON orders(project_id, customer_id) WHERE customer_id IS NOT NULL;

-- Successful and failed redemptions, stacked parents and their children.
-- kind: 'single' (legacy), 'parent' (stacked), 'child' (stacked member).
-- A CHECK of a list of three or more is written as ORs of equalities: as
-- `IN (...)`, SQLite builds a temporary b-tree of the list at every insert.
CREATE TABLE redemptions (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind = 'single' OR kind = 'parent' OR kind = 'child'),
    parent_id INTEGER REFERENCES redemptions(id),
    code TEXT,
    voucher_id INTEGER REFERENCES vouchers(id),
    campaign_id INTEGER REFERENCES campaigns(id),
    customer_id INTEGER REFERENCES customers(id),
    order_id INTEGER REFERENCES orders(id),
    result TEXT NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
    state TEXT NOT NULL
        CHECK (state = 'SUCCEEDED' OR state = 'FAILED' OR state = 'ROLLED_BACK'),
    failure_code TEXT,
    failure TEXT,
    amount INTEGER NOT NULL DEFAULT 0,
    discount INTEGER NOT NULL DEFAULT 0,
    order_amount INTEGER,
    order_snapshot TEXT NOT NULL,
    voucher_after TEXT,
    channel TEXT NOT NULL,
    tracking_id TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;
-- Every redemption is written with each index below that applies to it
-- (one B-tree insert each, under the writer's lock), so there are only
-- those a list, count or lookup uses, and the partial ones leave out the
-- rows they never find (no customer, no campaign, no order, successes).
-- The redemption list is ordered by row id: each of its filters alone walks
-- one of these (an index ends with the row id) and stops after a page.
CREATE INDEX redemptions_project ON redemptions(project_id);
-- Counts of a date range.
CREATE INDEX redemptions_created ON redemptions(project_id, created_at);
-- The campaign list and the campaign summary; failures by reason in a
-- campaign.
CREATE INDEX redemptions_campaign_list ON redemptions(project_id, campaign_id)
    WHERE campaign_id IS NOT NULL;
CREATE INDEX redemptions_campaign ON redemptions(project_id, campaign_id, failure_code, id)
    WHERE campaign_id IS NOT NULL AND failure_code IS NOT NULL;
-- The customer list; the per-customer limit counter and summary.
CREATE INDEX redemptions_customer_list ON redemptions(project_id, customer_id)
    WHERE customer_id IS NOT NULL;
CREATE INDEX redemptions_customer ON redemptions(project_id, customer_id, campaign_id, state)
    WHERE customer_id IS NOT NULL;
CREATE INDEX redemptions_order ON redemptions(project_id, order_id) WHERE order_id IS NOT NULL;
CREATE INDEX redemptions_code ON redemptions(project_id, code, id) WHERE code IS NOT NULL;
CREATE INDEX redemptions_parent ON redemptions(parent_id) WHERE parent_id IS NOT NULL;
-- Failures only (the marketer's "why did it fail" log): successes, the
-- bulk of the table, stay out of them.
CREATE INDEX redemptions_failures ON redemptions(project_id, failure_code, id) WHERE result = 'FAILURE';
CREATE INDEX redemptions_failure_list ON redemptions(project_id, id) WHERE result = 'FAILURE';

-- A rollback's row id comes from the same sequence as the redemptions'
-- (the next id above both tables'), so that the redemption list, which
-- holds both, is ordered by row id across them. The columns the list
-- filters on are the redemption's, copied: `code`, `campaign_id`,
-- `customer_id`, `order_id`.
CREATE TABLE rollbacks (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    redemption_id INTEGER NOT NULL UNIQUE REFERENCES redemptions(id),
    parent_id INTEGER REFERENCES rollbacks(id),
    code TEXT,
    campaign_id INTEGER REFERENCES campaigns(id),
    customer_id INTEGER REFERENCES customers(id),
    order_id INTEGER REFERENCES orders(id),
    reason TEXT,
    amount INTEGER NOT NULL DEFAULT 0,
    discount INTEGER NOT NULL DEFAULT 0,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;
CREATE INDEX rollbacks_created ON rollbacks(project_id, created_at);
-- The redemption list's rollbacks, by row id: as the redemptions' list
-- indexes, one per filter.
CREATE INDEX rollbacks_project ON rollbacks(project_id);
CREATE INDEX rollbacks_campaign ON rollbacks(project_id, campaign_id);
CREATE INDEX rollbacks_customer ON rollbacks(project_id, customer_id);
CREATE INDEX rollbacks_code ON rollbacks(project_id, code);
CREATE INDEX rollbacks_order ON rollbacks(project_id, order_id);

CREATE TABLE gift_ledger (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    voucher_id INTEGER NOT NULL REFERENCES vouchers(id),
    kind TEXT NOT NULL CHECK (kind = 'REDEMPTION' OR kind = 'REFUND' OR kind = 'ADDITION'
                              OR kind = 'REMOVAL'),
    amount INTEGER NOT NULL CHECK (amount > 0),
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    redemption_id INTEGER REFERENCES redemptions(id),
    rollback_id INTEGER REFERENCES rollbacks(id),
    reason TEXT,
    source_id TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;
CREATE INDEX gift_ledger_voucher ON gift_ledger(voucher_id, id);
-- The foreign-key check of a deleted redemption (the retention purge):
-- without it, every deletion scans the whole ledger.
CREATE INDEX gift_ledger_redemption ON gift_ledger(redemption_id) WHERE redemption_id IS NOT NULL;

CREATE TABLE publications (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    campaign_id INTEGER REFERENCES campaigns(id),
    channel TEXT NOT NULL,
    source_id TEXT,
    request_hash BLOB,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id),
    UNIQUE (project_id, source_id)
) STRICT;
-- The publication list is ordered by row id (paging.rs): these end with it.
CREATE INDEX publications_project ON publications(project_id);
CREATE INDEX publications_campaign ON publications(project_id, campaign_id);
CREATE INDEX publications_customer ON publications(project_id, customer_id, campaign_id);

CREATE TABLE publication_vouchers (
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    voucher_id INTEGER NOT NULL REFERENCES vouchers(id),
    PRIMARY KEY (publication_id, voucher_id)
) STRICT;
CREATE INDEX publication_vouchers_voucher ON publication_vouchers(voucher_id);

CREATE TABLE validation_rules (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id),
    UNIQUE (project_id, name)
) STRICT;
-- The rule set list, ordered by row id.
CREATE INDEX validation_rules_project ON validation_rules(project_id);

CREATE TABLE rule_assignments (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    rule_id INTEGER NOT NULL REFERENCES validation_rules(id),
    related_type TEXT NOT NULL CHECK (related_type IN ('voucher', 'campaign')),
    related_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id),
    UNIQUE (rule_id, related_type, related_id)
) STRICT;
CREATE INDEX rule_assignments_related ON rule_assignments(related_type, related_id);

CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    status INTEGER,
    response BLOB,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, method, path, key)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE async_actions (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
-- The audit log is listed by row id (paging.rs).
CREATE INDEX audit_log_project ON audit_log(project_id);

-- Webhook endpoints: where a project's events are POSTed, signed with
-- the secret (kept in clear: it is the key of every signature). `events`
-- is a JSON array of the event types' wire names.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, ext_id)
) STRICT;

-- The outbox of events (webhooks), written in the transaction that caused
-- them (only for types an endpoint of the project receives); `data` is the
-- core's `EventObject` as JSON. The delivery worker matches each new event
-- with the endpoints that receive it (`fanned_at`, one delivery each), and
-- the event is done (`delivered_at`) when each of its deliveries is
-- delivered or given up; the retention purge removes done events with
-- their deliveries and attempts.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    ext_id TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    fanned_at INTEGER,
    delivered_at INTEGER,
    UNIQUE (project_id, ext_id)
) STRICT;
-- Partial: an event is in each only while it applies (new; done).
CREATE INDEX events_new ON events(id) WHERE fanned_at IS NULL;
CREATE INDEX events_done ON events(delivered_at) WHERE delivered_at IS NOT NULL;

-- One event to one endpoint. Pending while `next_attempt_at` is set (a
-- claimed delivery's is its lease); done when delivered or given up.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    delivered_at INTEGER,
    failed_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    UNIQUE (event_id, webhook_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id);

-- Every delivery attempt: when, the status or the error, how long.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_webhook ON webhook_attempts(webhook_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_validate() {
        migrations().validate().unwrap();
    }

    #[test]
    fn version_is_the_number_of_migrations() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, version());
    }
}
