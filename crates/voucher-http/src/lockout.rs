//! The lockout of code guessers: a client address whose last N codes on
//! `/client/v1` were all unknown (default 20) is refused every client
//! request for a while (default 15 minutes) with 429 `too_many_requests`
//! and `Retry-After`. Codes are bearer secrets for gift cards, and a shop's
//! page hands anyone a client key, so this is the defence against
//! enumerating them.
//!
//! The handlers that decide a code is unknown say so on their answer with a
//! [`CodeOutcome`] response extension (an error via
//! [`crate::ApiError::with_code_outcome`], a success via [`Checked`]); the
//! middleware in `rate_limit.rs` reads it, never the body. Other refusals
//! (`quantity_exceeded`, `voucher_expired`, ...) neither count nor reset;
//! a success resets the count, unless the same request also had unknown
//! codes (a stacked request cannot hide guesses behind a good code).
//!
//! Memory is bounded: an address's count is forgotten after a while
//! without guesses ([`LockoutPolicy::forget_after`]), the table holds at
//! most [`LockoutPolicy::capacity`] addresses, and when full it drops the
//! counting addresses seen longest ago before any locked one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};

/// What an answer says about the codes it was asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// This many of the request's codes do not exist.
    Unknown(u32),
    /// Every code was known, and the request succeeded (valid, redeemed).
    Succeeded,
    /// Every code was known, and some were refused for another reason.
    Refused,
}

/// A checkout answer with its [`CodeOutcome`], which the response carries
/// as an extension for the lockout.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The JSON body.
    pub body: serde_json::Value,
    /// What it says about the codes.
    pub outcome: CodeOutcome,
}

impl Checked {
    /// `body`, saying `outcome`.
    pub fn new(body: serde_json::Value, outcome: CodeOutcome) -> Checked {
        Checked { body, outcome }
    }
}

impl IntoResponse for Checked {
    fn into_response(self) -> Response {
        let mut response = Json(self.body).into_response();
        response.extensions_mut().insert(self.outcome);
        response
    }
}

/// Addresses the lockout remembers by default.
pub const CAPACITY_DEFAULT: usize = 100_000;

/// When an address is locked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Unknown codes in a row that lock an address.
    pub after: NonZeroU32,
    /// How long it stays locked.
    pub duration: Duration,
    /// How long an address's count lasts without a new unknown code.
    pub forget_after: Duration,
    /// Most addresses remembered at once.
    pub capacity: usize,
}

impl LockoutPolicy {
    /// Locks after `after` unknown codes in a row, for `duration`; `None`
    /// (no lockout) when either is zero. A count is forgotten after a day
    /// without guesses, or after the lock's duration if longer.
    pub fn new(after: u32, duration: Duration) -> Option<LockoutPolicy> {
        let after = NonZeroU32::new(after)?;
        if duration.is_zero() {
            return None;
        }
        Some(LockoutPolicy {
            after,
            duration,
            forget_after: duration.max(Duration::from_secs(24 * 3600)),
            capacity: CAPACITY_DEFAULT,
        })
    }

    /// The default: 20 unknown codes lock an address for 15 minutes.
    pub fn default_policy() -> LockoutPolicy {
        LockoutPolicy::new(20, Duration::from_secs(15 * 60)).expect("20 and 15 min are not zero")
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Unknown codes since the last success or lock.
    unknown: u32,
    /// The last unknown code.
    seen: DateTime<Utc>,
    /// Locked until then.
    locked_until: Option<DateTime<Utc>>,
}

impl Entry {
    fn locked_at(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// The counts of unknown codes per client address.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl Lockout {
    /// An empty table under `policy`.
    pub fn new(policy: LockoutPolicy) -> Lockout {
        Lockout {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        // A panic while holding the lock leaves a consistent map (every
        // update is one insert or remove), so a poisoned lock is used as is.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `ip` stays locked, if it is locked at `now`.
    pub fn locked(&self, ip: IpAddr, now: DateTime<Utc>) -> Option<Duration> {
        let entries = self.entries();
        let until = entries.get(&ip)?.locked_until?;
        (until > now).then(|| (until - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Counts what an answer to `ip` said; returns when the address is
    /// locked until, if this answer locked it.
    pub fn record(
        &self,
        ip: IpAddr,
        outcome: CodeOutcome,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut entries = self.entries();
        match outcome {
            CodeOutcome::Refused => None,
            CodeOutcome::Succeeded => {
                if entries.get(&ip).is_some_and(|e| !e.locked_at(now)) {
                    entries.remove(&ip);
                }
                None
            }
            CodeOutcome::Unknown(0) => None,
            CodeOutcome::Unknown(n) => {
                let forget = chrono_duration(self.policy.forget_after);
                if !entries.contains_key(&ip) && entries.len() >= self.policy.capacity {
                    self.make_room(&mut entries, now);
                }
                if !entries.contains_key(&ip) && entries.len() >= self.policy.capacity {
                    // Only possible with a capacity of zero.
                    return None;
                }
                let entry = entries.entry(ip).or_insert(Entry {
                    unknown: 0,
                    seen: now,
                    locked_until: None,
                });
                if entry.locked_at(now) {
                    return None;
                }
                if now.signed_duration_since(entry.seen) > forget {
                    entry.unknown = 0;
                }
                entry.seen = now;
                entry.unknown = entry.unknown.saturating_add(n);
                if entry.unknown >= self.policy.after.get() {
                    let until = now + chrono_duration(self.policy.duration);
                    entry.unknown = 0;
                    entry.locked_until = Some(until);
                    return Some(until);
                }
                None
            }
        }
    }

    /// How many addresses the table holds.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees at least one place in a full table: first the entries that
    /// are neither locked nor recent, then the unlocked ones seen longest
    /// ago (an eighth of the table at once, so that an attacker's stream of
    /// new addresses does not cost a scan each), and only then the locks
    /// that end soonest.
    fn make_room(&self, entries: &mut HashMap<IpAddr, Entry>, now: DateTime<Utc>) {
        let forget = chrono_duration(self.policy.forget_after);
        entries.retain(|_, e| e.locked_at(now) || now.signed_duration_since(e.seen) <= forget);
        if entries.len() < self.policy.capacity {
            return;
        }
        let batch = (self.policy.capacity / 8).max(1);
        let mut unlocked: Vec<(DateTime<Utc>, IpAddr)> = entries
            .iter()
            .filter(|(_, e)| !e.locked_at(now))
            .map(|(ip, e)| (e.seen, *ip))
            .collect();
        if unlocked.is_empty() {
            let mut locked: Vec<(DateTime<Utc>, IpAddr)> = entries
                .iter()
                .map(|(ip, e)| (e.locked_until.unwrap_or(e.seen), *ip))
                .collect();
            let n = batch.min(locked.len());
            if n > 0 && n < locked.len() {
                locked.select_nth_unstable(n);
            }
            for (_, ip) in locked.iter().take(n) {
                entries.remove(ip);
            }
            return;
        }
        let n = batch.min(unlocked.len());
        if n < unlocked.len() {
            unlocked.select_nth_unstable(n);
        }
        for (_, ip) in unlocked.iter().take(n) {
            entries.remove(ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn policy(after: u32, capacity: usize) -> LockoutPolicy {
        LockoutPolicy {
            capacity,
            ..LockoutPolicy::new(after, Duration::from_secs(900)).unwrap()
        }
    }

    #[test]
    fn zero_disables() {
        assert_eq!(LockoutPolicy::new(0, Duration::from_secs(60)), None);
        assert_eq!(LockoutPolicy::new(20, Duration::ZERO), None);
        let default = LockoutPolicy::default_policy();
        assert_eq!(
            (default.after.get(), default.duration),
            (20, Duration::from_secs(900))
        );
    }

    #[test]
    fn counts_lock_and_expire() {
        let lockout = Lockout::new(policy(3, 16));
        let now = t0();
        assert_eq!(lockout.record(ip(1), CodeOutcome::Unknown(1), now), None);
        assert_eq!(lockout.record(ip(1), CodeOutcome::Refused, now), None);
        assert_eq!(lockout.record(ip(1), CodeOutcome::Unknown(1), now), None);
        assert_eq!(lockout.locked(ip(1), now), None);
        let until = lockout.record(ip(1), CodeOutcome::Unknown(1), now).unwrap();
        assert_eq!(until, now + chrono::Duration::seconds(900));
        assert_eq!(lockout.locked(ip(1), now), Some(Duration::from_secs(900)));
        // A success while locked does not unlock.
        lockout.record(ip(1), CodeOutcome::Succeeded, now);
        assert!(lockout.locked(ip(1), now).is_some());
        assert_eq!(lockout.locked(ip(2), now), None);
        let later = until + chrono::Duration::seconds(1);
        assert_eq!(lockout.locked(ip(1), later), None);
        // The count started again at the lock.
        assert_eq!(lockout.record(ip(1), CodeOutcome::Unknown(2), later), None);
        assert!(lockout
            .record(ip(1), CodeOutcome::Unknown(1), later)
            .is_some());
    }

    #[test]
    fn a_success_resets_and_a_batch_counts_whole() {
        let lockout = Lockout::new(policy(3, 16));
        let now = t0();
        lockout.record(ip(1), CodeOutcome::Unknown(2), now);
        lockout.record(ip(1), CodeOutcome::Succeeded, now);
        assert!(lockout.is_empty());
        assert_eq!(lockout.record(ip(1), CodeOutcome::Unknown(2), now), None);
        assert!(lockout
            .record(ip(1), CodeOutcome::Unknown(30), now)
            .is_some());
    }

    #[test]
    fn old_counts_are_forgotten() {
        let lockout = Lockout::new(policy(3, 16));
        let now = t0();
        lockout.record(ip(1), CodeOutcome::Unknown(2), now);
        let day_later = now + chrono::Duration::hours(25);
        assert_eq!(
            lockout.record(ip(1), CodeOutcome::Unknown(2), day_later),
            None
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let lockout = Lockout::new(policy(2, 64));
        let now = t0();
        // One locked address, then a flood of new addresses.
        lockout.record(ip(0), CodeOutcome::Unknown(2), now);
        let at = |n: u32| now + chrono::Duration::milliseconds(i64::from(n));
        for n in 1..10_000 {
            lockout.record(ip(n), CodeOutcome::Unknown(1), at(n));
            assert!(lockout.len() <= 64);
        }
        // The lock survived the flood; the newest counts are kept.
        let end = at(10_000);
        assert!(lockout.locked(ip(0), end).is_some());
        assert!(lockout
            .record(ip(9_999), CodeOutcome::Unknown(1), end)
            .is_some());
        // A table full of locks still takes new addresses.
        let locks = Lockout::new(policy(1, 8));
        for n in 0..100 {
            assert!(locks.record(ip(n), CodeOutcome::Unknown(1), now).is_some());
            assert!(locks.len() <= 8);
        }
    }
}
