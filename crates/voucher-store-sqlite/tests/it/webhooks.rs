//! The events outbox: written in the transaction of its change (a refused
//! change leaves none), only for subscribed types, seen across processes;
//! deliveries claimed under a lease, attempts recorded, done events purged.

use chrono::Duration;
use voucher_core::port::{
    AttemptOutcome, BalanceChange, CampaignStore, GiftStore, MaintenanceStore, Retention,
    StoreError, VoucherStore, WebhookSpec, WebhookStore,
};
use voucher_core::voucher::RedemptionQuantity;
use voucher_core::webhook::EventType;
use voucher_store_sqlite::{Options, SqliteStore};

use crate::checkout::{gift_card, voucher};
use crate::support::{fixture, other_project, t0};

fn hook(events: &[EventType]) -> WebhookSpec {
    WebhookSpec {
        url: "http://127.0.0.1:9/hook".to_owned(),
        events: events.to_vec(),
        secret: "s".to_owned(),
    }
}

fn amount_off() -> voucher_core::port::BenefitSpec {
    voucher_core::port::BenefitSpec::Discount(
        voucher_core::discount::Discount::new(
            voucher_core::discount::DiscountValue::Amount {
                amount_off: crate::checkout::eur("5"),
            },
            voucher_core::discount::Effect::ApplyToOrder,
        )
        .unwrap(),
    )
}

#[test]
fn a_refused_change_writes_no_event() {
    let f = fixture();
    f.store
        .add_webhook(f.project, &hook(&EventType::ALL), t0())
        .unwrap();
    let backlog = || f.store.webhook_backlog().unwrap();
    voucher(&f, "A", amount_off(), RedemptionQuantity::Limited(1));
    gift_card(&f, "G", 1000);
    assert_eq!(backlog(), 2, "two vouchers created");
    // A duplicate code, a missing voucher, an overdrawn card: refused, and
    // no event.
    let duplicate = crate::catalog::voucher_spec("A", amount_off(), RedemptionQuantity::Limited(1));
    assert!(matches!(
        f.store.create_voucher(f.project, &duplicate, t0()),
        Err(StoreError::Duplicate { .. })
    ));
    assert!(f.store.delete_voucher(f.project, "NOPE", t0()).is_err());
    let overdraw = BalanceChange {
        amount_minor: -5000,
        reason: None,
        source_id: None,
        actor: "t".to_owned(),
    };
    assert!(f
        .store
        .adjust_balance(f.project, "G", &overdraw, t0())
        .is_err());
    assert!(f
        .store
        .set_campaign_active(f.project, "no-such-campaign", false, "t", t0())
        .is_err());
    assert_eq!(backlog(), 2);
    // A removal is not an addition; an addition is.
    let remove = BalanceChange {
        amount_minor: -100,
        ..overdraw.clone()
    };
    f.store
        .adjust_balance(f.project, "G", &remove, t0())
        .unwrap();
    assert_eq!(backlog(), 2);
    let add = BalanceChange {
        amount_minor: 100,
        ..overdraw
    };
    f.store.adjust_balance(f.project, "G", &add, t0()).unwrap();
    assert_eq!(backlog(), 3);
    // Another project's changes write nothing: it has no endpoint.
    let other = other_project(&f);
    let in_other = crate::catalog::voucher_spec("B", amount_off(), RedemptionQuantity::Limited(1));
    f.store.create_voucher(other, &in_other, t0()).unwrap();
    assert_eq!(backlog(), 3);
}

#[test]
fn endpoints_changed_by_another_process_are_seen() {
    let f = fixture();
    let other = SqliteStore::open(f.store.path(), Options::default()).unwrap();
    voucher(&f, "A", amount_off(), RedemptionQuantity::Limited(1));
    assert_eq!(f.store.webhook_backlog().unwrap(), 0);
    let added = other
        .add_webhook(f.project, &hook(&[EventType::VoucherDisabled]), t0())
        .unwrap();
    f.store
        .set_voucher_active(f.project, "A", false, "t", t0())
        .unwrap();
    assert_eq!(f.store.webhook_backlog().unwrap(), 1);
    other.remove_webhook(f.project, &added.id, t0()).unwrap();
    f.store
        .set_voucher_active(f.project, "A", false, "t", t0())
        .unwrap();
    assert_eq!(f.store.webhook_backlog().unwrap(), 1, "no more events");
}

#[test]
fn deliveries_are_leased_recorded_and_purged_when_done() {
    let f = fixture();
    let endpoint = f
        .store
        .add_webhook(f.project, &hook(&[EventType::CampaignCreated]), t0())
        .unwrap();
    let spec = crate::catalog::campaign_spec("C", "C-", 0, amount_off());
    let campaign = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    let now = t0() + Duration::seconds(1);
    let lease = now + Duration::seconds(30);
    let due = f.store.claim_deliveries(now, lease, 10).unwrap();
    assert_eq!(due.len(), 1);
    let d = &due[0];
    assert_eq!(d.webhook_id, endpoint.id);
    assert_eq!(d.event.event_type, EventType::CampaignCreated);
    assert_eq!(d.attempts, 0);
    assert!(matches!(&d.event.object,
        voucher_core::port::EventObject::Campaign(c) if c.id == campaign.id));
    // Leased: not claimed again until the lease ends.
    assert!(f.store.claim_deliveries(now, lease, 10).unwrap().is_empty());
    let again = f
        .store
        .claim_deliveries(lease, lease + Duration::seconds(30), 10)
        .unwrap();
    assert_eq!(again.len(), 1);
    // A failure with a retry time: due then, one attempt made.
    let retry_at = now + Duration::seconds(5);
    f.store
        .record_attempt(
            d.delivery_id,
            now,
            12,
            &AttemptOutcome::Failed {
                status: Some(503),
                error: "status 503".to_owned(),
                retry_at: Some(retry_at),
            },
        )
        .unwrap();
    assert!(f.store.claim_deliveries(now, lease, 10).unwrap().is_empty());
    let retried = f.store.claim_deliveries(retry_at, lease, 10).unwrap();
    assert_eq!(retried[0].attempts, 1);
    f.store
        .record_attempt(
            d.delivery_id,
            retry_at,
            3,
            &AttemptOutcome::Delivered { status: 204 },
        )
        .unwrap();
    assert_eq!(f.store.webhook_backlog().unwrap(), 0);
    let (_, attempts) = f.store.webhook(f.project, &endpoint.id).unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(statuses, [(2, Some(204)), (1, Some(503))]);
    // Another project cannot see the endpoint.
    let other = other_project(&f);
    assert!(matches!(
        f.store.webhook(other, &endpoint.id),
        Err(StoreError::NotFound { .. })
    ));
    // Done events are purged after their retention, with their log.
    let retention = Retention::default();
    assert_eq!(f.store.purge(&retention, retry_at).unwrap(), 0);
    let later = retry_at + Duration::days(8);
    assert_eq!(f.store.purge(&retention, later).unwrap(), 1);
    let (_, attempts) = f.store.webhook(f.project, &endpoint.id).unwrap();
    assert!(attempts.is_empty());
}
