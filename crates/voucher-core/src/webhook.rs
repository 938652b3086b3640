//! Webhooks as the engine sees them: the event types a change can produce,
//! and the retry schedule of a delivery that failed. Pure: the store writes
//! events into an outbox in the transaction of their change, an adapter
//! delivers them and asks [`RetryPolicy::next_attempt`] when to try again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened, as the wire names it (`redemption.succeeded`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A code was redeemed.
    RedemptionSucceeded,
    /// A redemption was refused (and recorded as failed).
    RedemptionFailed,
    /// A redemption was rolled back.
    RedemptionRollbackSucceeded,
    /// A voucher was created (one at a time, not bulk generation or import).
    VoucherCreated,
    /// A voucher was enabled.
    VoucherEnabled,
    /// A voucher was disabled.
    VoucherDisabled,
    /// A voucher was deleted.
    VoucherDeleted,
    /// Credits were added to a gift card.
    VoucherGiftBalanceAdded,
    /// Codes were published to a customer.
    PublicationSucceeded,
    /// A campaign was created.
    CampaignCreated,
    /// A campaign was enabled.
    CampaignEnabled,
    /// A campaign was disabled.
    CampaignDisabled,
}

impl EventType {
    /// Every event type, in a fixed order.
    pub const ALL: [EventType; 12] = [
        EventType::RedemptionSucceeded,
        EventType::RedemptionFailed,
        EventType::RedemptionRollbackSucceeded,
        EventType::VoucherCreated,
        EventType::VoucherEnabled,
        EventType::VoucherDisabled,
        EventType::VoucherDeleted,
        EventType::VoucherGiftBalanceAdded,
        EventType::PublicationSucceeded,
        EventType::CampaignCreated,
        EventType::CampaignEnabled,
        EventType::CampaignDisabled,
    ];

    /// The wire name; stable, never renamed.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RedemptionSucceeded => "redemption.succeeded",
            EventType::RedemptionFailed => "redemption.failed",
            EventType::RedemptionRollbackSucceeded => "redemption.rollback.succeeded",
            EventType::VoucherCreated => "voucher.created",
            EventType::VoucherEnabled => "voucher.enabled",
            EventType::VoucherDisabled => "voucher.disabled",
            EventType::VoucherDeleted => "voucher.deleted",
            EventType::VoucherGiftBalanceAdded => "voucher.gift.balance_added",
            EventType::PublicationSucceeded => "publication.succeeded",
            EventType::CampaignCreated => "campaign.created",
            EventType::CampaignEnabled => "campaign.enabled",
            EventType::CampaignDisabled => "campaign.disabled",
        }
    }

    /// The event type with this wire name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a failed delivery is tried again: the delay doubles from
/// `first_delay` after each failed attempt, up to `delay_max`; after
/// `attempts_max` attempts the delivery is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt.
    pub first_delay: Duration,
    /// The longest delay.
    pub delay_max: Duration,
    /// Attempts in all (at least 1).
    pub attempts_max: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min, ... capped at 1 h, 12 attempts (about 7 hours).
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_delay: Duration::from_secs(30),
            delay_max: Duration::from_secs(3600),
            attempts_max: 12,
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts_made` failed attempts (1 = the first
    /// failed), or `None` when no attempt is left.
    pub fn delay(&self, attempts_made: u32) -> Option<Duration> {
        if attempts_made == 0 || attempts_made >= self.attempts_max {
            return None;
        }
        // 2^(n-1), without overflow: past 2^31 the cap has long applied.
        let doublings = (attempts_made - 1).min(31);
        let delay = self
            .first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.delay_max);
        Some(delay.min(self.delay_max))
    }

    /// When to try again after `attempts_made` failed attempts, the last at
    /// `now`; `None`: give up.
    pub fn next_attempt(&self, attempts_made: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let delay = chrono::Duration::from_std(self.delay(attempts_made)?).ok()?;
        now.checked_add_signed(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        let mut names: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        assert_eq!(EventType::parse("voucher.updated"), None);
        assert_eq!(EventType::parse(""), None);
    }

    #[test]
    fn delays_double_up_to_the_cap_then_give_up() {
        let policy = RetryPolicy {
            first_delay: Duration::from_secs(10),
            delay_max: Duration::from_secs(60),
            attempts_max: 6,
        };
        let delays: Vec<_> = (0..8)
            .map(|n| policy.delay(n).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            delays,
            [
                None,
                Some(10),
                Some(20),
                Some(40),
                Some(60),
                Some(60),
                None,
                None
            ]
        );
        let huge = RetryPolicy {
            first_delay: Duration::from_secs(u64::MAX / 2),
            delay_max: Duration::from_secs(7),
            attempts_max: u32::MAX,
        };
        assert_eq!(huge.delay(5), Some(Duration::from_secs(7)));
        assert_eq!(huge.delay(u32::MAX - 1), Some(Duration::from_secs(7)));
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            policy.next_attempt(2, now),
            Some(now + chrono::Duration::seconds(20))
        );
        assert_eq!(policy.next_attempt(6, now), None);
    }
}
