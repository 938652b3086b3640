//! When a voucher may be used: a start, an expiry, days of the week, daily
//! hours and a recurring timeframe, all read in one named IANA time zone
//! (the project's; UTC by default) and correct across daylight-saving
//! changes. Time is an argument: [`Validity::status`] is given `now`.
//!
//! # Semantics
//!
//! **Instants and bare dates.** A start or an expiry is either an instant
//! (`2024-01-01T10:00:00.000Z`; any RFC 3339 offset is accepted and turned
//! into UTC) or a bare date (`2024-03-31`), which is read in the time zone.
//! A bare-date start means 00:00 local time of that day. A bare-date expiry
//! means the whole day: the voucher is valid through 23:59:59.999… local
//! time and expired from 00:00 of the next day, however long the day is
//! (23 hours on a spring-forward day, 25 on a fall-back day). An instant
//! start is valid from that instant; an instant expiry is valid up to and
//! including that instant. Reading dates in the project's zone, not in UTC,
//! is what keeps a voucher from expiring a day early at UTC midnight.
//!
//! **Local times that are skipped or repeated.** A local date and time
//! stands for the earliest instant at which the wall clock shows it or a
//! later time. On a spring-forward day a skipped time (02:30 in New York on
//! 2024-03-10) is the first instant after the gap (03:00 EDT); on a
//! fall-back day a repeated time (01:30 on 2024-11-03) is its first
//! occurrence (01:30 EDT). This rule places bare dates and the periods of a
//! timeframe.
//!
//! **Days of the week and daily hours** are read on the wall clock: at each
//! instant the voucher looks at the local date and time there. A window
//! `18:00`–`22:00` is open from 18:00 up to, not including, 22:00 local
//! time. On a fall-back day a window covering 01:00–02:00 is open during
//! both of those hours; on a spring-forward day the skipped part of a
//! window does not happen. A window whose start is later than its end
//! crosses midnight (`22:00`–`02:00`), and its part after midnight belongs
//! to the day the window opened: with the window's `days_of_week: [5]`
//! (Friday) it is open from Friday 22:00 to Saturday 02:00, not on the
//! night from Thursday into Friday. The voucher's own days of the week
//! apply the same way when there are daily hours (to the day a window
//! opened) and to the local date when there are none. Windows may overlap;
//! the voucher is open when any one is. Weekdays are numbered as on the
//! wire: 0 = Sunday … 6 = Saturday.
//!
//! **Timeframes** `{interval, duration}` repeat from the start: the voucher
//! is valid for `duration` at the beginning of every `interval` counted from
//! the start (from 00:00 local time for a bare-date start). Period `k`
//! (k = 0, 1, 2, …) begins at start + k × interval and ends, exclusive, at
//! that beginning + duration. Periods are computed from the start, not one
//! from the other, so they never drift. A timeframe needs a start.
//!
//! **Durations** are ISO 8601 (`P2D`, `PT1H`, `P1M`), added in the zone's
//! calendar as Temporal and java.time do: years, months, weeks and days move
//! to the same local wall-clock time on a later calendar day (so `P1D` is 23
//! or 25 hours across a DST change, and 31 January plus `P1M` is the last
//! day of February), then hours, minutes and seconds are added as exact
//! elapsed time (`PT24H` is always 24 hours). A code's per-code expiry
//! (`activity_duration_after_publishing`) is its publication instant plus
//! such a duration; the earlier of it and the campaign's expiry wins.
//!
//! **Precedence.** Before the start the voucher is not yet active
//! (`voucher_not_active`); after the expiry it is expired
//! (`voucher_expired`); outside its days, hours or timeframe it is not
//! active now (`voucher_not_active_now`); otherwise it is active. See
//! [`ValidityStatus`].

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    SecondsFormat, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

use crate::limits::{
    DAILY_HOURS_WINDOWS_MAX, ISO_DURATION_NOMINAL_DAYS_MAX, TIMEFRAME_SEARCH_PERIODS,
    VALIDITY_TEXT_LEN_MAX, WEEKDAY_LIST_LEN_MAX,
};

/// Seconds in a nominal day, week, month and year (a year of 365.2425
/// days, a month a twelfth of it): used only to estimate, never to place.
const NOMINAL_DAY_SECONDS: i64 = 86_400;
const NOMINAL_WEEK_SECONDS: i64 = 7 * NOMINAL_DAY_SECONDS;
const NOMINAL_MONTH_SECONDS: i64 = 2_629_746;
const NOMINAL_YEAR_SECONDS: i64 = 12 * NOMINAL_MONTH_SECONDS;

/// Why validity data is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidityError {
    /// The name is not in the IANA time zone database.
    #[error("unknown time zone {name:?}")]
    UnknownTimeZone {
        /// The name given, clipped.
        name: String,
    },
    /// Neither `YYYY-MM-DD` nor an RFC 3339 timestamp with an offset.
    #[error("not a date (YYYY-MM-DD) or an RFC 3339 timestamp: {text:?}")]
    BadMoment {
        /// The text given, clipped.
        text: String,
    },
    /// Not `HH:MM` between `00:00` and `23:59`.
    #[error("not a time of day HH:MM between 00:00 and 23:59: {text:?}")]
    BadTimeOfDay {
        /// The text given, clipped.
        text: String,
    },
    /// A weekday number outside 0 (Sunday) to 6 (Saturday).
    #[error("weekday {number} is not between 0 (sunday) and 6 (saturday)")]
    BadWeekday {
        /// The number given.
        number: u8,
    },
    /// More weekday numbers than [`WEEKDAY_LIST_LEN_MAX`].
    #[error("more than {WEEKDAY_LIST_LEN_MAX} weekday numbers")]
    TooManyWeekdays,
    /// Days of the week are given but the set is empty: the voucher could
    /// never be used. (An adapter that reads an empty wire array as "every
    /// day" passes `None` instead.)
    #[error("days of the week are given but empty")]
    NoDaysOfWeek,
    /// An ISO 8601 duration that does not parse.
    #[error("bad ISO 8601 duration: {0}")]
    Duration(#[from] ParseDurationError),
    /// More daily-hours windows than [`DAILY_HOURS_WINDOWS_MAX`].
    #[error("more than {DAILY_HOURS_WINDOWS_MAX} daily hours windows")]
    TooManyHoursWindows,
    /// A daily-hours window that starts and ends at the same time (empty or
    /// the whole day: ambiguous).
    #[error("daily hours window starts and ends at {at}")]
    EmptyHoursWindow {
        /// The window's start and end.
        at: TimeOfDay,
    },
    /// A timeframe is anchored at the start, so it needs one.
    #[error("a validity timeframe needs a start")]
    TimeframeWithoutStart,
    /// A timeframe whose interval is zero.
    #[error("timeframe interval is zero")]
    ZeroInterval,
    /// A zero timeframe duration or activity duration: never valid.
    #[error("duration is zero")]
    ZeroDuration,
    /// A timeframe whose duration, added to the start, ends after its
    /// interval does.
    #[error("timeframe duration is longer than its interval")]
    DurationLongerThanInterval,
    /// The expiry comes before the start: no instant is valid.
    #[error("expiration is before start")]
    ExpiryBeforeStart,
    /// A date or instant beyond the calendar the engine supports.
    #[error("date or time out of the supported range")]
    OutOfRange,
}

/// Keeps error messages short whatever the caller sent.
fn clip(text: &str) -> String {
    text.chars().take(VALIDITY_TEXT_LEN_MAX).collect()
}

// ---------------------------------------------------------------------------
// Time zones and local time

/// The time zone used when a project names none.
pub const DEFAULT_TIME_ZONE: Tz = Tz::UTC;

/// Parses an IANA time zone name such as `Europe/Warsaw` (exact spelling, as
/// in the tz database).
pub fn parse_time_zone(name: &str) -> Result<Tz, ValidityError> {
    if name.len() <= VALIDITY_TEXT_LEN_MAX {
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(tz);
        }
    }
    Err(ValidityError::UnknownTimeZone { name: clip(name) })
}

/// The instant a local date and time stands for in `tz`: the earliest
/// instant at which the wall clock shows it or a later time (the first
/// occurrence of a repeated time, the end of the gap for a skipped one).
/// `None` beyond chrono's range.
fn resolve_local(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc))),
        LocalResult::None => GapInfo::new(&local, &tz)
            .and_then(|gap| gap.end)
            .map(|end| end.with_timezone(&Utc)),
    }
}

/// The local wall-clock date and time of an instant.
fn wall_clock(instant: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    instant.with_timezone(&tz).naive_local()
}

/// The instant a local day begins (its 00:00, or the end of a gap that
/// swallows midnight).
fn start_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    resolve_local(date.and_time(NaiveTime::MIN), tz)
}

// ---------------------------------------------------------------------------
// Moments: starts and expiries

/// A start or an expiry: an exact instant, or a bare date read in the time
/// zone (see the module docs for what a bare date means at each end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Moment {
    /// An exact instant, such as `2024-01-01T10:00:00.000Z`.
    Instant(DateTime<Utc>),
    /// A whole local day, such as `2024-03-31`: from its 00:00 as a start,
    /// through its last instant as an expiry.
    Date(NaiveDate),
}

/// How an expiry ends: the order of the variants is the order in which two
/// expiries at the same instant take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ExpiryEdge {
    /// Expired from this instant on (a bare date's next midnight).
    From,
    /// Valid at this instant, expired just after (an instant expiry).
    After,
}

impl Moment {
    /// Parses `2024-01-01`, `2024-01-01T10:00:00Z`,
    /// `2024-01-01T10:00:00.000Z` or `2024-01-01T10:00:00+02:00`.
    pub fn parse(text: &str) -> Result<Moment, ValidityError> {
        let bad = || ValidityError::BadMoment { text: clip(text) };
        if text.len() > VALIDITY_TEXT_LEN_MAX {
            return Err(bad());
        }
        if let Some(date) = parse_bare_date(text) {
            return Ok(Moment::Date(date));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Moment::Instant(t.with_timezone(&Utc)))
            .map_err(|_| bad())
    }

    /// The first instant at which a validity starting at this moment has
    /// begun: the instant itself, or the start of the local day in `tz`.
    /// `None` beyond chrono's range.
    pub fn start_instant(&self, tz: Tz) -> Option<DateTime<Utc>> {
        match *self {
            Moment::Instant(t) => Some(t),
            Moment::Date(date) => start_of_day(date, tz),
        }
    }

    /// Whether a validity expiring at this moment has expired at `now`:
    /// strictly after the instant, or from the start of the local day after
    /// the date. An expiry beyond chrono's range never expires.
    pub fn has_expired(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        match self.expiry_edge(tz) {
            Some((at, ExpiryEdge::From)) => now >= at,
            Some((at, ExpiryEdge::After)) => now > at,
            None => false,
        }
    }

    /// When this moment, as an expiry, takes effect; ordered so that the
    /// smaller edge expires first. `None`: never (beyond chrono's range).
    fn expiry_edge(&self, tz: Tz) -> Option<(DateTime<Utc>, ExpiryEdge)> {
        match *self {
            Moment::Instant(t) => Some((t, ExpiryEdge::After)),
            Moment::Date(date) => date
                .succ_opt()
                .and_then(|next| start_of_day(next, tz))
                .map(|t| (t, ExpiryEdge::From)),
        }
    }
}

/// Strict `YYYY-MM-DD`: chrono's own parser would also take `2024-1-1`.
fn parse_bare_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = text.get(5..7)?.parse().ok()?;
    let day = text.get(8..10)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

impl fmt::Display for Moment {
    /// `2024-03-31` or `2024-03-31T21:59:00.000Z` (milliseconds always,
    /// finer digits only when present, so that parsing gives it back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Moment::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Moment::Instant(t) => {
                let precision = if t.timestamp_subsec_nanos() % 1_000_000 == 0 {
                    SecondsFormat::Millis
                } else {
                    SecondsFormat::AutoSi
                };
                f.write_str(&t.to_rfc3339_opts(precision, true))
            }
        }
    }
}

impl FromStr for Moment {
    type Err = ValidityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Moment::parse(s)
    }
}

impl TryFrom<String> for Moment {
    type Error = ValidityError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Moment::parse(&s)
    }
}

impl From<Moment> for String {
    fn from(m: Moment) -> String {
        m.to_string()
    }
}

/// Of two expiries, the one that takes effect first in `tz` (the first on
/// a tie): how a code's own expiry combines with its campaign's.
pub fn earlier_expiry(a: Moment, b: Moment, tz: Tz) -> Moment {
    match (a.expiry_edge(tz), b.expiry_edge(tz)) {
        (Some(edge_a), Some(edge_b)) if edge_b < edge_a => b,
        (None, Some(_)) => b,
        _ => a,
    }
}

/// The per-code expiry of a code published at `published_at` in a campaign
/// with `activity_duration_after_publishing`: `published_at + activity` in
/// `tz`'s calendar (so `P1D` is the same local time on the next day).
pub fn expiry_after_publishing(
    published_at: DateTime<Utc>,
    activity: &IsoDuration,
    tz: Tz,
) -> Result<DateTime<Utc>, ValidityError> {
    if activity.is_zero() {
        return Err(ValidityError::ZeroDuration);
    }
    activity
        .after(published_at, tz)
        .ok_or(ValidityError::OutOfRange)
}

// ---------------------------------------------------------------------------
// ISO 8601 durations

/// Why an ISO 8601 duration does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// Longer than [`VALIDITY_TEXT_LEN_MAX`] bytes.
    #[error("duration text is longer than {VALIDITY_TEXT_LEN_MAX} bytes")]
    TooLong,
    /// `P`, `PT` or `P1DT`: a designator with no number.
    #[error("duration has no components")]
    Empty,
    /// `PT1.5H`: only whole numbers are supported.
    #[error("duration has a fraction; only whole numbers are supported")]
    Fraction,
    /// `-P1D` or `P-1D`.
    #[error("duration is negative")]
    Negative,
    /// A number too large, or a total beyond
    /// [`ISO_DURATION_NOMINAL_DAYS_MAX`].
    #[error("duration is longer than {ISO_DURATION_NOMINAL_DAYS_MAX} days")]
    TooLarge,
    /// Anything else that is not `PnYnMnWnDTnHnMnS`, in that order.
    #[error("duration is not of the form PnYnMnWnDTnHnMnS")]
    Malformed,
}

/// An ISO 8601 duration `PnYnMnWnDTnHnMnS` with whole, non-negative
/// numbers. Years, months, weeks and days are calendar units; hours,
/// minutes and seconds are exact elapsed time (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDuration {
    years: u64,
    months: u64,
    weeks: u64,
    days: u64,
    hours: u64,
    minutes: u64,
    seconds: u64,
}

/// Designators of the date part and of the time part, in their order.
const DATE_DESIGNATORS: [u8; 4] = [b'Y', b'M', b'W', b'D'];
const TIME_DESIGNATORS: [u8; 3] = [b'H', b'M', b'S'];

/// Reads `nXnX…` with designators taken from `designators` in order, each at
/// most once. `Ok(None)` for an empty section.
fn parse_duration_section<const N: usize>(
    section: &[u8],
    designators: [u8; N],
) -> Result<Option<[u64; N]>, ParseDurationError> {
    if section.is_empty() {
        return Ok(None);
    }
    let mut values = [0u64; N];
    let mut next_designator = 0usize;
    let mut number: Option<u64> = None;
    // One pass over at most VALIDITY_TEXT_LEN_MAX bytes.
    for &byte in section {
        if byte.is_ascii_digit() {
            let digit = u64::from(byte - b'0');
            let value = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(digit))
                .ok_or(ParseDurationError::TooLarge)?;
            number = Some(value);
            continue;
        }
        let value = number.take().ok_or(ParseDurationError::Malformed)?;
        let index = designators
            .iter()
            .skip(next_designator)
            .position(|d| *d == byte)
            .map(|offset| next_designator + offset)
            .ok_or(ParseDurationError::Malformed)?;
        if let Some(slot) = values.get_mut(index) {
            *slot = value;
        }
        next_designator = index + 1;
    }
    if number.is_some() {
        // Digits with no designator after them.
        return Err(ParseDurationError::Malformed);
    }
    Ok(Some(values))
}

impl IsoDuration {
    /// Parses `P2D`, `PT1H`, `P1Y2M3W4DT5H6M7S`… (upper case, whole numbers,
    /// components in this order). Refuses fractions, negatives, `P`, `PT`,
    /// and totals beyond [`ISO_DURATION_NOMINAL_DAYS_MAX`].
    pub fn parse(text: &str) -> Result<IsoDuration, ParseDurationError> {
        if text.len() > VALIDITY_TEXT_LEN_MAX {
            return Err(ParseDurationError::TooLong);
        }
        if text.contains('-') {
            return Err(ParseDurationError::Negative);
        }
        if text.contains(['.', ',']) {
            return Err(ParseDurationError::Fraction);
        }
        let rest = text
            .strip_prefix('P')
            .ok_or(ParseDurationError::Malformed)?;
        let (date_text, time_text) = match rest.split_once('T') {
            Some((date, time)) => (date, Some(time)),
            None => (rest, None),
        };
        let date = parse_duration_section(date_text.as_bytes(), DATE_DESIGNATORS)?;
        let time = match time_text {
            Some(time) => Some(
                parse_duration_section(time.as_bytes(), TIME_DESIGNATORS)?
                    .ok_or(ParseDurationError::Empty)?,
            ),
            None => None,
        };
        if date.is_none() && time.is_none() {
            return Err(ParseDurationError::Empty);
        }
        let [years, months, weeks, days] = date.unwrap_or_default();
        let [hours, minutes, seconds] = time.unwrap_or_default();
        let duration = IsoDuration {
            years,
            months,
            weeks,
            days,
            hours,
            minutes,
            seconds,
        };
        let max_seconds = ISO_DURATION_NOMINAL_DAYS_MAX * NOMINAL_DAY_SECONDS;
        match duration.nominal_seconds() {
            Some(total) if total <= max_seconds => Ok(duration),
            _ => Err(ParseDurationError::TooLarge),
        }
    }

    /// The `nY` component.
    pub fn years(&self) -> u64 {
        self.years
    }
    /// The `nM` component of the date part.
    pub fn months(&self) -> u64 {
        self.months
    }
    /// The `nW` component.
    pub fn weeks(&self) -> u64 {
        self.weeks
    }
    /// The `nD` component.
    pub fn days(&self) -> u64 {
        self.days
    }
    /// The `nH` component.
    pub fn hours(&self) -> u64 {
        self.hours
    }
    /// The `nM` component of the time part.
    pub fn minutes(&self) -> u64 {
        self.minutes
    }
    /// The `nS` component.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// True when every component is zero (`PT0S`, `P0D`).
    pub fn is_zero(&self) -> bool {
        *self == IsoDuration::default()
    }

    /// `instant + self` in `tz`'s calendar; `None` beyond chrono's range.
    pub fn after(&self, instant: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        add_scaled(instant, self, 1, tz)
    }

    /// Calendar months of the date part (years count twelve).
    fn calendar_months(&self) -> Option<i64> {
        let years = i64::try_from(self.years).ok()?;
        let months = i64::try_from(self.months).ok()?;
        years.checked_mul(12)?.checked_add(months)
    }

    /// Calendar days of the date part (weeks count seven).
    fn calendar_days(&self) -> Option<i64> {
        let weeks = i64::try_from(self.weeks).ok()?;
        let days = i64::try_from(self.days).ok()?;
        weeks.checked_mul(7)?.checked_add(days)
    }

    /// Exact seconds of the time part.
    fn exact_seconds(&self) -> Option<i64> {
        let hours = i64::try_from(self.hours).ok()?;
        let minutes = i64::try_from(self.minutes).ok()?;
        let seconds = i64::try_from(self.seconds).ok()?;
        hours
            .checked_mul(3600)?
            .checked_add(minutes.checked_mul(60)?)?
            .checked_add(seconds)
    }

    /// Nominal length in seconds, for estimates and the size limit.
    fn nominal_seconds(&self) -> Option<i64> {
        let parts = [
            (self.years, NOMINAL_YEAR_SECONDS),
            (self.months, NOMINAL_MONTH_SECONDS),
            (self.weeks, NOMINAL_WEEK_SECONDS),
            (self.days, NOMINAL_DAY_SECONDS),
            (self.hours, 3600),
            (self.minutes, 60),
            (self.seconds, 1),
        ];
        parts.iter().try_fold(0i64, |total, (count, unit)| {
            total.checked_add(i64::try_from(*count).ok()?.checked_mul(*unit)?)
        })
    }
}

impl fmt::Display for IsoDuration {
    /// Canonical form: zero components left out, `PT0S` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("PT0S");
        }
        f.write_str("P")?;
        for (value, designator) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if value != 0 {
                write!(f, "{value}{designator}")?;
            }
        }
        if self.hours != 0 || self.minutes != 0 || self.seconds != 0 {
            f.write_str("T")?;
            for (value, designator) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')]
            {
                if value != 0 {
                    write!(f, "{value}{designator}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for IsoDuration {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IsoDuration::parse(s)
    }
}

impl TryFrom<String> for IsoDuration {
    type Error = ParseDurationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IsoDuration::parse(&s)
    }
}

impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.to_string()
    }
}

/// `instant + k × duration` in `tz`'s calendar: the date part (months, then
/// days) moves the wall clock and is read back with [`resolve_local`], then
/// the time part is added as elapsed seconds. With no date part the wall
/// clock is never consulted, so `PT1H` steps are exact even inside a
/// repeated hour. `None` on overflow or beyond chrono's range.
fn add_scaled(
    instant: DateTime<Utc>,
    duration: &IsoDuration,
    k: i64,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let months = duration.calendar_months()?.checked_mul(k)?;
    let days = duration.calendar_days()?.checked_mul(k)?;
    let seconds = duration.exact_seconds()?.checked_mul(k)?;
    let dated = if months == 0 && days == 0 {
        instant
    } else {
        let wall = wall_clock(instant, tz)
            .checked_add_months(Months::new(u32::try_from(months).ok()?))?
            .checked_add_days(Days::new(u64::try_from(days).ok()?))?;
        resolve_local(wall, tz)?
    };
    dated.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

// ---------------------------------------------------------------------------
// Days of the week and daily hours

/// A set of weekdays; on the wire a list of numbers, 0 = Sunday … 6 =
/// Saturday.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct DaySet {
    /// Bit `n` is wire day `n`.
    bits: u8,
}

impl DaySet {
    /// Every day of the week.
    pub const EVERY_DAY: DaySet = DaySet { bits: 0b111_1111 };
    /// No day at all ([`Validity::check`] refuses it).
    pub const NO_DAY: DaySet = DaySet { bits: 0 };

    /// The set of the given weekdays.
    pub fn of(days: &[Weekday]) -> DaySet {
        let bits = days
            .iter()
            .fold(0u8, |bits, day| bits | (1 << day.num_days_from_sunday()));
        DaySet { bits }
    }

    /// Reads wire numbers (0 = Sunday … 6 = Saturday); repeats are allowed.
    pub fn from_wire(numbers: &[u8]) -> Result<DaySet, ValidityError> {
        if numbers.len() > WEEKDAY_LIST_LEN_MAX {
            return Err(ValidityError::TooManyWeekdays);
        }
        numbers.iter().try_fold(DaySet::NO_DAY, |set, &number| {
            if number > 6 {
                return Err(ValidityError::BadWeekday { number });
            }
            Ok(DaySet {
                bits: set.bits | (1 << number),
            })
        })
    }

    /// The wire numbers, ascending.
    pub fn to_wire(&self) -> Vec<u8> {
        (0u8..7).filter(|n| self.bits & (1 << n) != 0).collect()
    }

    /// True when `day` is in the set.
    pub fn contains(&self, day: Weekday) -> bool {
        self.bits & (1 << day.num_days_from_sunday()) != 0
    }

    /// True when no day is in the set.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }
}

impl fmt::Debug for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = [
            Weekday::Sun,
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
        ];
        f.debug_set()
            .entries(days.iter().filter(|d| self.contains(**d)))
            .finish()
    }
}

impl TryFrom<Vec<u8>> for DaySet {
    type Error = ValidityError;
    fn try_from(numbers: Vec<u8>) -> Result<Self, Self::Error> {
        DaySet::from_wire(&numbers)
    }
}

impl From<DaySet> for Vec<u8> {
    fn from(set: DaySet) -> Vec<u8> {
        set.to_wire()
    }
}

/// True when `days` is absent (no restriction) or holds `date`'s weekday.
fn day_allowed(days: Option<DaySet>, date: NaiveDate) -> bool {
    days.is_none_or(|set| set.contains(date.weekday()))
}

/// A local time of day to the minute, `HH:MM` from `00:00` to `23:59`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    /// Minutes since midnight, below 1440.
    minute_of_day: u16,
}

impl TimeOfDay {
    /// The time `hour:minute`; errors outside 00:00 to 23:59.
    pub fn new(hour: u32, minute: u32) -> Result<TimeOfDay, ValidityError> {
        if hour > 23 || minute > 59 {
            return Err(ValidityError::BadTimeOfDay {
                text: format!("{hour:02}:{minute:02}"),
            });
        }
        let minute_of_day =
            u16::try_from(hour * 60 + minute).map_err(|_| ValidityError::BadTimeOfDay {
                text: String::new(),
            })?;
        Ok(TimeOfDay { minute_of_day })
    }

    /// Parses strict `HH:MM` (`09:30`, not `9:30` nor `09:30:00`).
    pub fn parse(text: &str) -> Result<TimeOfDay, ValidityError> {
        let bad = || ValidityError::BadTimeOfDay { text: clip(text) };
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 5
            && bytes.iter().enumerate().all(|(i, b)| match i {
                2 => *b == b':',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(bad());
        }
        let hour = text
            .get(0..2)
            .and_then(|h| h.parse().ok())
            .ok_or_else(bad)?;
        let minute = text
            .get(3..5)
            .and_then(|m| m.parse().ok())
            .ok_or_else(bad)?;
        TimeOfDay::new(hour, minute).map_err(|_| bad())
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u32 {
        u32::from(self.minute_of_day / 60)
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u32 {
        u32::from(self.minute_of_day % 60)
    }

    fn as_naive(&self) -> NaiveTime {
        // Always in range: the constructor checked the hour and minute.
        NaiveTime::from_hms_opt(self.hour(), self.minute(), 0).unwrap_or(NaiveTime::MIN)
    }
}

impl fmt::Debug for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl FromStr for TimeOfDay {
    type Err = ValidityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeOfDay::parse(s)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = ValidityError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TimeOfDay::parse(&s)
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

/// A daily window of local time, open from `start_time` up to, not
/// including, `expiration_time`; it crosses midnight when the start is
/// later than the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursWindow {
    /// When the window opens, local time.
    pub start_time: TimeOfDay,
    /// When the window closes, local time (exclusive).
    pub expiration_time: TimeOfDay,
    /// The days on which the window opens; `None`: every day. The part of
    /// a window after midnight belongs to the day it opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_of_week: Option<DaySet>,
}

impl HoursWindow {
    /// True when the window runs past midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.start_time > self.expiration_time
    }

    /// True when the window is open at local time `local`, given the
    /// voucher's own days of the week (checked, like the window's, against
    /// the day the window opened).
    fn is_open(&self, local: NaiveDateTime, voucher_days: Option<DaySet>) -> bool {
        let opens_on = |date: NaiveDate| {
            day_allowed(self.days_of_week, date) && day_allowed(voucher_days, date)
        };
        let (start, end) = (self.start_time.as_naive(), self.expiration_time.as_naive());
        let (date, time) = (local.date(), local.time());
        if start < end {
            start <= time && time < end && opens_on(date)
        } else if start > end {
            (time >= start && opens_on(date))
                || (time < end && date.pred_opt().is_some_and(opens_on))
        } else {
            // Refused by `check`; never open rather than always.
            false
        }
    }
}

// ---------------------------------------------------------------------------
// Timeframes

/// A recurring timeframe: valid for `duration` at the beginning of every
/// `interval`, counted from the validity's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeframe {
    /// How often a period begins, such as `P2D`.
    pub interval: IsoDuration,
    /// How long each period lasts, such as `PT1H`.
    pub duration: IsoDuration,
}

impl Timeframe {
    /// True when `now` falls in some period `[anchor + k × interval, that +
    /// duration)`, k ≥ 0. Jumps to the period by arithmetic, then searches a
    /// bracket of [`TIMEFRAME_SEARCH_PERIODS`] either side: a bounded number
    /// of calendar steps however long ago the anchor is.
    fn covers(&self, anchor: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> bool {
        if now < anchor || self.duration.is_zero() {
            return false;
        }
        let nominal = match self.interval.nominal_seconds() {
            Some(n) if n > 0 => n,
            _ => return false,
        };
        let period_start = |k: i64| add_scaled(anchor, &self.interval, k, tz);
        let has_begun = |k: i64| period_start(k).is_some_and(|start| start <= now);

        // The calendar drifts from the nominal lengths by at most about a
        // week (month lengths, leap years, offset changes), so the period
        // holding `now` is within a few periods of this estimate.
        let estimate = (now - anchor).num_seconds() / nominal;
        let mut low = estimate.saturating_sub(TIMEFRAME_SEARCH_PERIODS).max(0);
        let mut high = estimate.saturating_add(TIMEFRAME_SEARCH_PERIODS);
        if !has_begun(low) {
            debug_assert!(false, "timeframe estimate too high");
            return false;
        }
        // Largest k in [low, high] whose period has begun (period starts
        // never decrease with k); at most log2 of the bracket steps.
        while low < high {
            let mid = low + (high - low + 1) / 2;
            if has_begun(mid) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        debug_assert!(
            low < estimate.saturating_add(TIMEFRAME_SEARCH_PERIODS) || !has_begun(low + 1),
            "timeframe estimate too low"
        );
        // Only period `low` matters: adding a duration never moves an
        // earlier start past a later one (their wall clocks are a whole
        // interval apart, so in order), hence no earlier period ends after
        // this one does, even when a period overruns the next one's start
        // (a P31D duration in a 28-day February).
        period_start(low).is_some_and(|start| {
            start <= now && self.duration.after(start, tz).is_none_or(|end| now < end)
        })
    }
}

// ---------------------------------------------------------------------------
// Validity

/// When a voucher, campaign or promotion tier may be used. Plain data; see
/// [`Validity::check`] for what makes it sensible and the module docs for
/// what each field means. The default has no restriction at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Validity {
    /// Not valid before this (`start_date`).
    pub start: Option<Moment>,
    /// Not valid after this (`expiration_date`).
    pub expiration: Option<Moment>,
    /// Valid only on these days (`validity_day_of_week`); `None`: every day.
    pub days_of_week: Option<DaySet>,
    /// Valid only inside one of these windows (`validity_hours.daily`);
    /// empty: all day.
    pub daily_hours: Vec<HoursWindow>,
    /// Valid only in the periods of this timeframe (`validity_timeframe`).
    pub timeframe: Option<Timeframe>,
}

/// Whether a validity allows use at an instant, in order of precedence.
/// The wire reason key of each refusal is given on its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValidityStatus {
    /// Usable now.
    Active,
    /// Before the start: reason `voucher_not_active`.
    NotYetActive,
    /// After the expiry: reason `voucher_expired`.
    Expired,
    /// Between start and expiry but outside the days of the week, the daily
    /// hours or the timeframe: reason `voucher_not_active_now`.
    NotActiveNow,
}

impl ValidityStatus {
    /// The wire reason key of a refusal; `None` when active.
    pub fn reason_key(&self) -> Option<&'static str> {
        match self {
            ValidityStatus::Active => None,
            ValidityStatus::NotYetActive => Some("voucher_not_active"),
            ValidityStatus::Expired => Some("voucher_expired"),
            ValidityStatus::NotActiveNow => Some("voucher_not_active_now"),
        }
    }

    /// True for [`ValidityStatus::Active`].
    pub fn is_active(&self) -> bool {
        *self == ValidityStatus::Active
    }
}

impl Validity {
    /// Errors when the validity is not sensible in `tz`: a timeframe without
    /// a start, a zero interval or duration, a duration that (added to the
    /// start) outlasts the interval, an empty window or day set, too many
    /// windows, an expiry before the start, dates out of range.
    pub fn check(&self, tz: Tz) -> Result<(), ValidityError> {
        let start = match self.start {
            Some(moment) => Some(moment.start_instant(tz).ok_or(ValidityError::OutOfRange)?),
            None => None,
        };
        if let (Some(start), Some(expiration)) = (start, self.expiration) {
            if expiration.has_expired(start, tz) {
                return Err(ValidityError::ExpiryBeforeStart);
            }
        }
        if self.days_of_week.is_some_and(|days| days.is_empty()) {
            return Err(ValidityError::NoDaysOfWeek);
        }
        if self.daily_hours.len() > DAILY_HOURS_WINDOWS_MAX {
            return Err(ValidityError::TooManyHoursWindows);
        }
        for window in &self.daily_hours {
            if window.start_time == window.expiration_time {
                return Err(ValidityError::EmptyHoursWindow {
                    at: window.start_time,
                });
            }
            if window.days_of_week.is_some_and(|days| days.is_empty()) {
                return Err(ValidityError::NoDaysOfWeek);
            }
        }
        if let Some(timeframe) = &self.timeframe {
            let anchor = start.ok_or(ValidityError::TimeframeWithoutStart)?;
            if timeframe.interval.is_zero() {
                return Err(ValidityError::ZeroInterval);
            }
            if timeframe.duration.is_zero() {
                return Err(ValidityError::ZeroDuration);
            }
            let first_end = timeframe.duration.after(anchor, tz);
            let second_start = timeframe.interval.after(anchor, tz);
            match (first_end, second_start) {
                (Some(end), Some(next)) if end > next => {
                    return Err(ValidityError::DurationLongerThanInterval)
                }
                (Some(_), Some(_)) => {}
                _ => return Err(ValidityError::OutOfRange),
            }
        }
        Ok(())
    }

    /// Whether the validity allows use at `now`, read in `tz`. Total: on data
    /// that [`Validity::check`] refuses it fails closed (a timeframe without
    /// a start, a zero interval, an empty window or too many windows are
    /// never active; an expiry before the start reads as not yet active,
    /// then expired).
    pub fn status(&self, now: DateTime<Utc>, tz: Tz) -> ValidityStatus {
        let anchor = match self.start {
            Some(moment) => match moment.start_instant(tz) {
                Some(start) if now >= start => Some(start),
                _ => return ValidityStatus::NotYetActive,
            },
            None => None,
        };
        if self.expiration.is_some_and(|e| e.has_expired(now, tz)) {
            return ValidityStatus::Expired;
        }
        if self.is_open_now(now, anchor, tz) {
            ValidityStatus::Active
        } else {
            ValidityStatus::NotActiveNow
        }
    }

    /// The days, hours and timeframe checks, given the resolved start.
    fn is_open_now(&self, now: DateTime<Utc>, anchor: Option<DateTime<Utc>>, tz: Tz) -> bool {
        let local = wall_clock(now, tz);
        let day_and_hours_ok = if self.daily_hours.is_empty() {
            day_allowed(self.days_of_week, local.date())
        } else {
            self.daily_hours.len() <= DAILY_HOURS_WINDOWS_MAX
                && self
                    .daily_hours
                    .iter()
                    .any(|window| window.is_open(local, self.days_of_week))
        };
        if !day_and_hours_ok {
            return false;
        }
        match (&self.timeframe, anchor) {
            (None, _) => true,
            (Some(timeframe), Some(anchor)) => timeframe.covers(anchor, now, tz),
            (Some(_), None) => false,
        }
    }

    /// The validity of one code of a campaign with
    /// `activity_duration_after_publishing = activity`, published at
    /// `published_at`: this validity with its expiry replaced by the earlier
    /// of itself and `published_at + activity`.
    pub fn for_code_published_at(
        &self,
        published_at: DateTime<Utc>,
        activity: &IsoDuration,
        tz: Tz,
    ) -> Result<Validity, ValidityError> {
        let code_expiry = Moment::Instant(expiry_after_publishing(published_at, activity, tz)?);
        let expiration = match self.expiration {
            Some(campaign_expiry) => earlier_expiry(campaign_expiry, code_expiry, tz),
            None => code_expiry,
        };
        Ok(Validity {
            expiration: Some(expiration),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::OnceLock;

    use chrono::Offset;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Warsaw;
    use proptest::prelude::*;

    use super::ValidityStatus::{Active, Expired, NotActiveNow, NotYetActive};
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn duration(text: &str) -> IsoDuration {
        IsoDuration::parse(text).unwrap()
    }

    fn window(start: &str, end: &str, days: Option<&[u8]>) -> HoursWindow {
        HoursWindow {
            start_time: TimeOfDay::parse(start).unwrap(),
            expiration_time: TimeOfDay::parse(end).unwrap(),
            days_of_week: days.map(|d| DaySet::from_wire(d).unwrap()),
        }
    }

    fn timeframe(interval: &str, length: &str) -> Option<Timeframe> {
        Some(Timeframe {
            interval: duration(interval),
            duration: duration(length),
        })
    }

    /// Checks that `validity` is sensible in `tz` and has the expected
    /// status at each instant.
    fn check(validity: &Validity, tz: Tz, expected: &[(&str, ValidityStatus)]) {
        validity.check(tz).unwrap();
        for (now, status) in expected {
            assert_eq!(validity.status(at(now), tz), *status, "at {now} in {tz}");
        }
    }

    #[test]
    fn bare_date_expiry_lasts_to_the_end_of_the_local_day_after_spring_forward() {
        // Warsaw springs forward on 2024-03-31 at 01:00Z (02:00 CET -> 03:00
        // CEST): the day has 23 hours and ends at 22:00Z.
        let v = Validity {
            expiration: Some(Moment::Date(day("2024-03-31"))),
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-03-31T00:59:00Z", Active),     // 01:59 CET
                ("2024-03-31T01:00:00Z", Active),     // 03:00 CEST
                ("2024-03-31T21:59:00Z", Active),     // 23:59 CEST
                ("2024-03-31T21:59:59.999Z", Active), // 23:59:59.999 CEST
                ("2024-03-31T22:00:00Z", Expired),    // 00:00 CEST, April 1
                ("2024-04-01T12:00:00Z", Expired),
            ],
        );
        // Read in UTC the same date ends two hours later.
        check(
            &v,
            Tz::UTC,
            &[
                ("2024-03-31T23:59:59Z", Active),
                ("2024-04-01T00:00:00Z", Expired),
            ],
        );
        // New York falls back on 2024-11-03: a 25-hour day, ending 05:00Z.
        let v = Validity {
            start: Some(Moment::Date(day("2024-11-03"))),
            expiration: Some(Moment::Date(day("2024-11-03"))),
            ..Validity::default()
        };
        check(
            &v,
            New_York,
            &[
                ("2024-11-03T03:59:59Z", NotYetActive), // 23:59:59 EDT, Nov 2
                ("2024-11-03T04:00:00Z", Active),       // 00:00 EDT
                ("2024-11-04T04:59:59Z", Active),       // 23:59:59 EST
                ("2024-11-04T05:00:00Z", Expired),      // 00:00 EST, Nov 4
            ],
        );
    }

    #[test]
    fn starts_and_instant_expiries() {
        let v = Validity {
            start: Some(Moment::Date(day("2024-03-31"))),
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-03-30T22:59:59Z", NotYetActive), // 23:59:59 CET, March 30
                ("2024-03-30T23:00:00Z", Active),       // 00:00 CET, March 31
            ],
        );
        let v = Validity {
            start: Some(Moment::parse("2024-01-01T10:00:00+02:00").unwrap()),
            expiration: Some(Moment::parse("2024-01-02T10:00:00.000Z").unwrap()),
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-01-01T07:59:59.999Z", NotYetActive),
                ("2024-01-01T08:00:00Z", Active),
                ("2024-01-02T10:00:00Z", Active), // an instant expiry is inclusive
                ("2024-01-02T10:00:00.001Z", Expired),
            ],
        );
        // Before the start wins over after the expiry.
        let v = Validity {
            start: Some(Moment::Date(day("2024-01-02"))),
            expiration: Some(Moment::Date(day("2024-01-01"))),
            ..Validity::default()
        };
        assert_eq!(v.status(at("2024-01-01T12:00:00Z"), Tz::UTC), NotYetActive);
        assert_eq!(v.status(at("2024-01-03T12:00:00Z"), Tz::UTC), Expired);
    }

    #[test]
    fn weekends_only() {
        // 2024-01-05 is a Friday; Warsaw is at +01:00 in January.
        let v = Validity {
            days_of_week: Some(DaySet::of(&[Weekday::Sat, Weekday::Sun])),
            ..Validity::default()
        };
        assert_eq!(v.days_of_week.unwrap().to_wire(), vec![0, 6]);
        check(
            &v,
            Warsaw,
            &[
                ("2024-01-05T22:59:00Z", NotActiveNow), // Friday 23:59
                ("2024-01-05T23:00:00Z", Active),       // Saturday 00:00
                ("2024-01-07T22:59:59Z", Active),       // Sunday 23:59:59
                ("2024-01-07T23:00:00Z", NotActiveNow), // Monday 00:00
            ],
        );
    }

    #[test]
    fn evening_hours() {
        let v = Validity {
            daily_hours: vec![window("18:00", "22:00", None)],
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-01-10T16:59:59Z", NotActiveNow), // 17:59:59 CET
                ("2024-01-10T17:00:00Z", Active),       // 18:00 CET
                ("2024-01-10T20:59:59Z", Active),       // 21:59:59 CET
                ("2024-01-10T21:00:00Z", NotActiveNow), // 22:00 CET
                ("2024-07-10T15:59:00Z", NotActiveNow), // 17:59 CEST
                ("2024-07-10T16:00:00Z", Active),       // 18:00 CEST
            ],
        );
    }

    #[test]
    fn a_window_across_midnight_belongs_to_the_day_it_opened() {
        // Friday nights only; 2024-01-05 is a Friday, Warsaw at +01:00.
        let friday_nights = [
            ("2024-01-04T23:30:00Z", NotActiveNow), // Fri 00:30: Thursday's night
            ("2024-01-05T20:59:00Z", NotActiveNow), // Fri 21:59
            ("2024-01-05T21:00:00Z", Active),       // Fri 22:00
            ("2024-01-05T23:30:00Z", Active),       // Sat 00:30
            ("2024-01-06T00:59:59Z", Active),       // Sat 01:59:59
            ("2024-01-06T01:00:00Z", NotActiveNow), // Sat 02:00
            ("2024-01-06T21:30:00Z", NotActiveNow), // Sat 22:30
        ];
        let by_window = Validity {
            daily_hours: vec![window("22:00", "02:00", Some(&[5]))],
            ..Validity::default()
        };
        assert!(by_window.daily_hours[0].crosses_midnight());
        check(&by_window, Warsaw, &friday_nights);
        let by_voucher = Validity {
            days_of_week: Some(DaySet::of(&[Weekday::Fri])),
            daily_hours: vec![window("22:00", "02:00", None)],
            ..Validity::default()
        };
        check(&by_voucher, Warsaw, &friday_nights);
        // Both day sets must allow the day the window opened.
        let both = Validity {
            days_of_week: Some(DaySet::of(&[Weekday::Sat])),
            daily_hours: vec![window("22:00", "02:00", Some(&[5, 6]))],
            ..Validity::default()
        };
        check(
            &both,
            Warsaw,
            &[
                ("2024-01-05T23:30:00Z", NotActiveNow), // Sat 00:30, opened Friday
                ("2024-01-06T21:30:00Z", Active),       // Sat 22:30
                ("2024-01-07T00:30:00Z", Active),       // Sun 01:30, opened Saturday
            ],
        );
    }

    #[test]
    fn hours_on_dst_days_follow_the_wall_clock() {
        // New York falls back on 2024-11-03 at 06:00Z: 01:00-02:00 happens
        // twice, and the window is open both times.
        let v = Validity {
            daily_hours: vec![window("01:00", "02:00", None)],
            ..Validity::default()
        };
        check(
            &v,
            New_York,
            &[
                ("2024-11-03T04:59:00Z", NotActiveNow), // 00:59 EDT
                ("2024-11-03T05:00:00Z", Active),       // 01:00 EDT
                ("2024-11-03T05:59:00Z", Active),       // 01:59 EDT
                ("2024-11-03T06:00:00Z", Active),       // 01:00 EST
                ("2024-11-03T06:59:00Z", Active),       // 01:59 EST
                ("2024-11-03T07:00:00Z", NotActiveNow), // 02:00 EST
            ],
        );
        // Warsaw skips 02:00-03:00 on 2024-03-31: that window does not happen.
        let v = Validity {
            daily_hours: vec![window("02:00", "03:00", None)],
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-03-30T01:30:00Z", Active),       // 02:30 CET, March 30
                ("2024-03-31T00:59:00Z", NotActiveNow), // 01:59 CET
                ("2024-03-31T01:00:00Z", NotActiveNow), // 03:00 CEST
                ("2024-04-01T00:30:00Z", Active),       // 02:30 CEST, April 1
            ],
        );
    }

    #[test]
    fn timeframe_one_hour_every_other_day() {
        let v = Validity {
            start: Some(Moment::parse("2024-01-01T10:00:00Z").unwrap()),
            timeframe: timeframe("P2D", "PT1H"),
            ..Validity::default()
        };
        check(
            &v,
            Tz::UTC,
            &[
                ("2024-01-01T09:59:59Z", NotYetActive),
                ("2024-01-01T10:00:00Z", Active),
                ("2024-01-01T10:59:59Z", Active),
                ("2024-01-01T11:00:00Z", NotActiveNow),
                ("2024-01-02T10:30:00Z", NotActiveNow),
                ("2024-01-03T09:59:59Z", NotActiveNow),
                ("2024-01-03T10:00:00Z", Active),
                // 2192 days after the start (two leap years): an even day.
                ("2030-01-01T10:30:00Z", Active),
                ("2030-01-02T10:30:00Z", NotActiveNow),
            ],
        );
        // From a bare date in Warsaw, periods begin at local midnight.
        let v = Validity {
            start: Some(Moment::Date(day("2024-03-29"))),
            timeframe: timeframe("P2D", "PT1H"),
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2024-03-28T23:00:00Z", Active),       // 00:00 CET, March 29
                ("2024-03-30T23:30:00Z", Active),       // 00:30 CET, March 31
                ("2024-03-31T00:00:00Z", NotActiveNow), // 01:00 CET
                ("2024-04-01T21:59:00Z", NotActiveNow), // 23:59 CEST, April 1
                ("2024-04-01T22:00:00Z", Active),       // 00:00 CEST, April 2
                ("2024-04-01T22:59:00Z", Active),
                ("2024-04-01T23:00:00Z", NotActiveNow),
            ],
        );
    }

    #[test]
    fn timeframes_across_new_york_dst_changes() {
        // Daily at 01:30 local from 2024-11-02: on the fall-back day the
        // period begins at the first 01:30 (EDT) and lasts one exact hour.
        let daily = Validity {
            start: Some(Moment::parse("2024-11-02T01:30:00-04:00").unwrap()),
            timeframe: timeframe("P1D", "PT1H"),
            ..Validity::default()
        };
        check(
            &daily,
            New_York,
            &[
                ("2024-11-03T05:29:00Z", NotActiveNow), // 01:29 EDT
                ("2024-11-03T05:30:00Z", Active),       // 01:30 EDT
                ("2024-11-03T06:29:00Z", Active),       // 01:29 EST
                ("2024-11-03T06:30:00Z", NotActiveNow), // 01:30 EST, again
                ("2024-11-04T05:30:00Z", NotActiveNow), // 00:30 EST
                ("2024-11-04T06:30:00Z", Active),       // 01:30 EST
            ],
        );
        // Every 24 exact hours instead: the local time shifts by an hour.
        let hourly = Validity {
            timeframe: timeframe("PT24H", "PT1H"),
            ..daily.clone()
        };
        check(
            &hourly,
            New_York,
            &[
                ("2024-11-03T05:30:00Z", Active),       // 01:30 EDT
                ("2024-11-04T05:30:00Z", Active),       // 00:30 EST
                ("2024-11-04T06:30:00Z", NotActiveNow), // 01:30 EST
            ],
        );
        // Daily at 02:30 from 2024-03-09: 02:30 does not exist on March 10,
        // so that period begins when the clock jumps to 03:00 EDT.
        let spring = Validity {
            start: Some(Moment::parse("2024-03-09T02:30:00-05:00").unwrap()),
            timeframe: timeframe("P1D", "PT1H"),
            ..Validity::default()
        };
        check(
            &spring,
            New_York,
            &[
                ("2024-03-10T06:59:00Z", NotActiveNow), // 01:59 EST
                ("2024-03-10T07:00:00Z", Active),       // 03:00 EDT
                ("2024-03-10T07:59:00Z", Active),       // 03:59 EDT
                ("2024-03-10T08:00:00Z", NotActiveNow), // 04:00 EDT
                ("2024-03-11T06:29:00Z", NotActiveNow), // 02:29 EDT
                ("2024-03-11T06:30:00Z", Active),       // 02:30 EDT
            ],
        );
    }

    #[test]
    fn timeframes_far_from_their_start() {
        // Monthly on the 31st, clamped to the month's end, a century on.
        let v = Validity {
            start: Some(Moment::Date(day("2000-01-31"))),
            timeframe: timeframe("P1M", "P1D"),
            ..Validity::default()
        };
        check(
            &v,
            Tz::UTC,
            &[
                ("2100-02-27T23:59:59Z", NotActiveNow),
                ("2100-02-28T00:00:00Z", Active), // 2100 is not a leap year
                ("2100-02-28T23:59:59Z", Active),
                ("2100-03-01T00:00:00Z", NotActiveNow),
                ("2100-03-30T12:00:00Z", NotActiveNow),
                ("2100-03-31T12:00:00Z", Active),
            ],
        );
        // Yearly from a leap day: the 401st anniversary is 2401-02-28.
        let v = Validity {
            start: Some(Moment::Date(day("2000-02-29"))),
            timeframe: timeframe("P1Y", "P1D"),
            ..Validity::default()
        };
        check(
            &v,
            Tz::UTC,
            &[
                ("2400-02-29T12:00:00Z", Active),
                ("2401-02-28T12:00:00Z", Active),
                ("2401-03-01T12:00:00Z", NotActiveNow),
            ],
        );
        // Thirty seconds of every minute, a century on: about 53 million
        // periods, found in a few dozen steps.
        let v = Validity {
            start: Some(Moment::parse("2000-01-01T00:00:00Z").unwrap()),
            timeframe: timeframe("PT1M", "PT30S"),
            ..Validity::default()
        };
        check(
            &v,
            Warsaw,
            &[
                ("2100-06-15T12:34:29Z", Active),
                ("2100-06-15T12:34:30Z", NotActiveNow),
            ],
        );
    }

    #[test]
    fn durations_are_added_in_the_zone_calendar() {
        let check = |from: &str, text: &str, tz: Tz, expected: &str| {
            assert_eq!(
                duration(text).after(at(from), tz),
                Some(at(expected)),
                "{from} + {text} in {tz}"
            );
        };
        check(
            "2024-01-31T10:00:00Z",
            "P1M",
            Tz::UTC,
            "2024-02-29T10:00:00Z",
        );
        check(
            "2024-01-31T00:00:00Z",
            "P1M1D",
            Tz::UTC,
            "2024-03-01T00:00:00Z",
        );
        check(
            "2023-01-31T00:00:00Z",
            "P1Y1M",
            Tz::UTC,
            "2024-02-29T00:00:00Z",
        );
        check(
            "2024-01-01T00:00:00Z",
            "P1W",
            Tz::UTC,
            "2024-01-08T00:00:00Z",
        );
        // 12:00 CET + one day = 12:00 CEST: 23 hours.
        check(
            "2024-03-30T11:00:00Z",
            "P1D",
            Warsaw,
            "2024-03-31T10:00:00Z",
        );
        check(
            "2024-03-30T11:00:00Z",
            "PT24H",
            Warsaw,
            "2024-03-31T11:00:00Z",
        );
        // 12:00 EDT + one day = 12:00 EST: 25 hours.
        check(
            "2024-11-02T16:00:00Z",
            "P1D",
            New_York,
            "2024-11-03T17:00:00Z",
        );
        // 02:30 EST + one day is skipped: the end of the gap, 03:00 EDT.
        check(
            "2024-03-09T07:30:00Z",
            "P1D",
            New_York,
            "2024-03-10T07:00:00Z",
        );
        // 01:30 EDT + one day happens twice: the first one.
        check(
            "2024-11-02T05:30:00Z",
            "P1D",
            New_York,
            "2024-11-03T05:30:00Z",
        );
        // From the second 01:30 (EST), a day on is 01:30 EST.
        check(
            "2024-11-03T06:30:00Z",
            "P1D",
            New_York,
            "2024-11-04T06:30:00Z",
        );
        // Time units are exact even inside the repeated hour.
        check(
            "2024-11-03T05:30:00Z",
            "PT1H",
            New_York,
            "2024-11-03T06:30:00Z",
        );
        check(
            "2024-11-03T05:30:00Z",
            "P1DT1H",
            New_York,
            "2024-11-04T07:30:00Z",
        );
    }

    #[test]
    fn per_code_expiry_after_publishing() {
        let published = at("2024-03-30T11:00:00Z"); // 12:00 CET
        let code_expiry = expiry_after_publishing(published, &duration("P1D"), Warsaw);
        assert_eq!(code_expiry, Ok(at("2024-03-31T10:00:00Z"))); // 12:00 CEST
        assert_eq!(
            expiry_after_publishing(published, &duration("PT0S"), Warsaw),
            Err(ValidityError::ZeroDuration)
        );
        let check = |campaign: Option<Moment>, expected: Moment| {
            let campaign = Validity {
                expiration: campaign,
                ..Validity::default()
            };
            let code = campaign
                .for_code_published_at(published, &duration("P1D"), Warsaw)
                .unwrap();
            assert_eq!(code.expiration, Some(expected), "{campaign:?}");
        };
        let code = Moment::Instant(at("2024-03-31T10:00:00Z"));
        check(None, code);
        check(Some(Moment::Date(day("2024-03-31"))), code);
        check(
            Some(Moment::Date(day("2024-03-30"))),
            Moment::Date(day("2024-03-30")),
        );
        check(
            Some(Moment::parse("2024-03-31T09:59:59Z").unwrap()),
            Moment::parse("2024-03-31T09:59:59Z").unwrap(),
        );
        // A date expiring at 22:00Z goes before an instant still valid at 22:00Z.
        let date = Moment::Date(day("2024-03-31"));
        let instant = Moment::parse("2024-03-31T22:00:00Z").unwrap();
        assert_eq!(earlier_expiry(instant, date, Warsaw), date);
        assert_eq!(earlier_expiry(date, instant, Warsaw), date);
        let just_before = Moment::parse("2024-03-31T21:59:59.999999999Z").unwrap();
        assert_eq!(earlier_expiry(date, just_before, Warsaw), just_before);
    }

    #[test]
    fn refuses_unusable_setups_with_typed_errors() {
        let check = |v: Validity, tz: Tz, expected: Result<(), ValidityError>| {
            assert_eq!(v.check(tz), expected, "{v:?}");
        };
        let start = Some(Moment::Date(day("2024-01-01")));
        check(
            Validity {
                timeframe: timeframe("P2D", "PT1H"),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::TimeframeWithoutStart),
        );
        check(
            Validity {
                start,
                timeframe: timeframe("PT0S", "PT1H"),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::ZeroInterval),
        );
        check(
            Validity {
                start,
                timeframe: timeframe("P1D", "P0D"),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::ZeroDuration),
        );
        check(
            Validity {
                start,
                timeframe: timeframe("P1D", "P2D"),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::DurationLongerThanInterval),
        );
        check(
            Validity {
                start,
                timeframe: timeframe("P1D", "P1D"),
                ..Validity::default()
            },
            Tz::UTC,
            Ok(()),
        );
        // 24 exact hours outlast a 23-hour spring-forward day.
        let spring_day = Validity {
            start: Some(Moment::Date(day("2024-03-10"))),
            timeframe: timeframe("P1D", "PT24H"),
            ..Validity::default()
        };
        check(
            spring_day.clone(),
            New_York,
            Err(ValidityError::DurationLongerThanInterval),
        );
        check(spring_day, Tz::UTC, Ok(()));
        check(
            Validity {
                daily_hours: vec![window("10:00", "10:00", None)],
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::EmptyHoursWindow {
                at: TimeOfDay::new(10, 0).unwrap(),
            }),
        );
        check(
            Validity {
                daily_hours: vec![window("10:00", "11:00", None); DAILY_HOURS_WINDOWS_MAX + 1],
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::TooManyHoursWindows),
        );
        check(
            Validity {
                days_of_week: Some(DaySet::NO_DAY),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::NoDaysOfWeek),
        );
        check(
            Validity {
                daily_hours: vec![window("10:00", "11:00", Some(&[]))],
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::NoDaysOfWeek),
        );
        check(
            Validity {
                start: Some(Moment::Date(day("2024-01-02"))),
                expiration: Some(Moment::Date(day("2024-01-01"))),
                ..Validity::default()
            },
            Tz::UTC,
            Err(ValidityError::ExpiryBeforeStart),
        );
        check(
            Validity {
                start,
                expiration: start,
                ..Validity::default()
            },
            Tz::UTC,
            Ok(()),
        );
        // 23:30Z on January 1st is already January 2nd in Warsaw.
        let late_start = Validity {
            start: Some(Moment::parse("2024-01-01T23:30:00Z").unwrap()),
            expiration: Some(Moment::Date(day("2024-01-01"))),
            ..Validity::default()
        };
        check(late_start.clone(), Tz::UTC, Ok(()));
        check(late_start, Warsaw, Err(ValidityError::ExpiryBeforeStart));
        check(
            Validity {
                start: Some(Moment::Date(NaiveDate::MIN)),
                ..Validity::default()
            },
            Warsaw,
            Err(ValidityError::OutOfRange),
        );
        check(
            Validity {
                start: Some(Moment::Date(NaiveDate::MAX)),
                timeframe: timeframe("P1D", "PT1H"),
                ..Validity::default()
            },
            Warsaw,
            Err(ValidityError::OutOfRange),
        );
    }

    #[test]
    fn unchecked_setups_fail_closed() {
        let now = at("2024-01-01T10:30:00Z");
        let check = |v: Validity, expected: ValidityStatus| {
            assert_eq!(v.status(now, Tz::UTC), expected, "{v:?}");
        };
        check(Validity::default(), Active);
        check(
            Validity {
                timeframe: timeframe("P1D", "P1D"),
                ..Validity::default()
            },
            NotActiveNow,
        );
        let start = Some(Moment::parse("2024-01-01T10:00:00Z").unwrap());
        check(
            Validity {
                start,
                timeframe: timeframe("PT0S", "PT1H"),
                ..Validity::default()
            },
            NotActiveNow,
        );
        check(
            Validity {
                daily_hours: vec![window("10:00", "10:00", None)],
                ..Validity::default()
            },
            NotActiveNow,
        );
        check(
            Validity {
                daily_hours: vec![window("10:00", "11:00", None); DAILY_HOURS_WINDOWS_MAX + 1],
                ..Validity::default()
            },
            NotActiveNow,
        );
        check(
            Validity {
                days_of_week: Some(DaySet::NO_DAY),
                ..Validity::default()
            },
            NotActiveNow,
        );
    }

    #[test]
    fn parses_iso_durations() {
        let check = |text: &str, expected: Result<&str, ParseDurationError>| {
            let parsed = IsoDuration::parse(text);
            assert_eq!(
                parsed.map(|d| d.to_string()),
                expected.map(str::to_owned),
                "{text:?}"
            );
        };
        check("P2D", Ok("P2D"));
        check("PT1H", Ok("PT1H"));
        check("P24D", Ok("P24D"));
        check("P1Y2M3W4DT5H6M7S", Ok("P1Y2M3W4DT5H6M7S"));
        check("P1M", Ok("P1M"));
        check("PT1M", Ok("PT1M"));
        check("P007D", Ok("P7D"));
        check("P0D", Ok("PT0S"));
        check("PT0S", Ok("PT0S"));
        check("P1DT0H", Ok("P1D"));
        check("P10000Y", Ok("P10000Y"));
        check("P3652425D", Ok("P3652425D"));
        check("P", Err(ParseDurationError::Empty));
        check("PT", Err(ParseDurationError::Empty));
        check("P1DT", Err(ParseDurationError::Empty));
        check("", Err(ParseDurationError::Malformed));
        check("2D", Err(ParseDurationError::Malformed));
        check("p1d", Err(ParseDurationError::Malformed));
        check("P1D1Y", Err(ParseDurationError::Malformed));
        check("P1D1D", Err(ParseDurationError::Malformed));
        check("P1H", Err(ParseDurationError::Malformed));
        check("PT1D", Err(ParseDurationError::Malformed));
        check("P1", Err(ParseDurationError::Malformed));
        check("PD", Err(ParseDurationError::Malformed));
        check("P1DT1H1", Err(ParseDurationError::Malformed));
        check("P1DTT1H", Err(ParseDurationError::Malformed));
        check("P 1D", Err(ParseDurationError::Malformed));
        check("P1.5D", Err(ParseDurationError::Fraction));
        check("PT0,5H", Err(ParseDurationError::Fraction));
        check("-P1D", Err(ParseDurationError::Negative));
        check("P-1D", Err(ParseDurationError::Negative));
        check("P10001Y", Err(ParseDurationError::TooLarge));
        check("P3652426D", Err(ParseDurationError::TooLarge));
        check("PT99999999999999999999S", Err(ParseDurationError::TooLarge));
        check("P18446744073709551615Y", Err(ParseDurationError::TooLarge));
        check(
            &format!("P{}D", "0".repeat(70)),
            Err(ParseDurationError::TooLong),
        );
        assert_eq!(duration("P1Y2M3W4DT5H6M7S").months(), 2);
        assert_eq!(duration("P1Y2M3W4DT5H6M7S").minutes(), 6);
    }

    #[test]
    fn parses_moments_times_days_and_zones() {
        let check = |text: &str, expected: Option<&str>| {
            let parsed = Moment::parse(text);
            assert_eq!(
                parsed.as_ref().ok().map(|m| m.to_string()),
                expected.map(str::to_owned),
                "{text:?}: {parsed:?}"
            );
            if expected.is_none() {
                assert!(matches!(parsed, Err(ValidityError::BadMoment { .. })));
            }
        };
        check("2024-01-01", Some("2024-01-01"));
        check("2024-01-01T10:00:00Z", Some("2024-01-01T10:00:00.000Z"));
        check("2024-01-01T10:00:00.000Z", Some("2024-01-01T10:00:00.000Z"));
        check(
            "2024-01-01T10:00:00+02:00",
            Some("2024-01-01T08:00:00.000Z"),
        );
        check(
            "2024-01-01T00:00:00+00:00",
            Some("2024-01-01T00:00:00.000Z"),
        );
        check(
            "2024-01-01T10:00:00.000123Z",
            Some("2024-01-01T10:00:00.000123Z"),
        );
        check("2022-12-31T23:59:59.000Z", Some("2022-12-31T23:59:59.000Z"));
        check("2024-1-1", None);
        check("2024-02-30", None);
        check("2024-01-01T10:00:00", None);
        check("", None);
        check("yesterday", None);
        check(&"2024-01-01".repeat(8), None);

        let check_time = |text: &str, expected: Option<(u32, u32)>| {
            let parsed = TimeOfDay::parse(text);
            assert_eq!(
                parsed.as_ref().ok().map(|t| (t.hour(), t.minute())),
                expected,
                "{text:?}"
            );
            if expected.is_none() {
                assert!(matches!(parsed, Err(ValidityError::BadTimeOfDay { .. })));
            }
        };
        check_time("00:00", Some((0, 0)));
        check_time("09:30", Some((9, 30)));
        check_time("23:59", Some((23, 59)));
        check_time("25:00", None);
        check_time("24:00", None);
        check_time("12:60", None);
        check_time("9:30", None);
        check_time("12:00:00", None);
        check_time("12-00", None);
        check_time("", None);
        assert!(TimeOfDay::new(24, 0).is_err());

        assert_eq!(DaySet::from_wire(&[1, 2, 2]).unwrap().to_wire(), vec![1, 2]);
        assert_eq!(
            DaySet::from_wire(&[7]),
            Err(ValidityError::BadWeekday { number: 7 })
        );
        assert_eq!(
            DaySet::from_wire(&[0; 8]),
            Err(ValidityError::TooManyWeekdays)
        );
        assert!(DaySet::from_wire(&[0]).unwrap().contains(Weekday::Sun));
        assert!(!DaySet::from_wire(&[0]).unwrap().contains(Weekday::Mon));

        assert_eq!(parse_time_zone("Europe/Warsaw"), Ok(Warsaw));
        assert_eq!(parse_time_zone("UTC"), Ok(DEFAULT_TIME_ZONE));
        for bad in ["Mars/Olympus", "europe/warsaw", "", "+02:00"] {
            assert_eq!(
                parse_time_zone(bad),
                Err(ValidityError::UnknownTimeZone {
                    name: bad.to_owned()
                })
            );
        }
        assert_eq!(
            ValidityError::UnknownTimeZone {
                name: "Mars/Olympus".to_owned()
            }
            .to_string(),
            "unknown time zone \"Mars/Olympus\""
        );
    }

    #[test]
    fn reason_keys_follow_the_wire() {
        let check = |status: ValidityStatus, expected: Option<&str>| {
            assert_eq!(status.reason_key(), expected);
            assert_eq!(status.is_active(), expected.is_none());
        };
        check(Active, None);
        check(NotYetActive, Some("voucher_not_active"));
        check(Expired, Some("voucher_expired"));
        check(NotActiveNow, Some("voucher_not_active_now"));
    }

    #[test]
    fn serde_round_trip() {
        let json = r#"{"start":"2024-01-01","expiration":"2024-12-31T23:59:59.000Z","days_of_week":[1,2,3,4,5],"daily_hours":[{"start_time":"12:00","expiration_time":"14:00","days_of_week":[1,2]},{"start_time":"22:00","expiration_time":"02:00"}],"timeframe":{"interval":"P2D","duration":"PT1H"}}"#;
        let v: Validity = serde_json::from_str(json).unwrap();
        assert_eq!(v.start, Some(Moment::Date(day("2024-01-01"))));
        assert_eq!(
            v.expiration,
            Some(Moment::Instant(at("2024-12-31T23:59:59Z")))
        );
        assert_eq!(v.daily_hours[1].days_of_week, None);
        assert_eq!(v.timeframe, timeframe("P2D", "PT1H"));
        v.check(Warsaw).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), json);
        assert_eq!(
            serde_json::from_str::<Validity>("{}").unwrap(),
            Validity::default()
        );
        for bad in [
            r#"{"daily_hours":[{"start_time":"25:00","expiration_time":"02:00"}]}"#,
            r#"{"days_of_week":[7]}"#,
            r#"{"start":"tomorrow"}"#,
            r#"{"timeframe":{"interval":"P1.5D","duration":"PT1H"}}"#,
        ] {
            assert!(serde_json::from_str::<Validity>(bad).is_err(), "{bad}");
        }
    }

    // -----------------------------------------------------------------------
    // Brute force around DST changes

    /// Unix minute to naive UTC date-time, and back.
    fn minute_naive(minute: i64) -> NaiveDateTime {
        DateTime::from_timestamp(minute * 60, 0)
            .unwrap()
            .naive_utc()
    }
    fn naive_minute(naive: NaiveDateTime) -> i64 {
        naive.and_utc().timestamp().div_euclid(60)
    }
    fn minute_utc(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(minute * 60, 0).unwrap()
    }
    fn index(minute: i64, from: i64) -> usize {
        usize::try_from(minute - from).unwrap()
    }

    const SCENE_HALF_MINUTES: i64 = 5 * 1440;
    const SAMPLE_HALF_MINUTES: i64 = 2 * 1440;

    /// Ten days of one zone around one DST change, minute by minute: the
    /// wall clock of each UTC minute (from chrono-tz's UTC offsets only) and
    /// the inverse, built by sorting, so that the brute force never asks
    /// chrono-tz to read a local time.
    struct Scene {
        tz: Tz,
        /// Unix minute of the change.
        change: i64,
        /// Unix minute of the first UTC minute in the tables.
        first: i64,
        /// Wall-clock minute (counted like unix minutes) of each UTC minute.
        wall: Vec<i64>,
        /// (wall-clock minute, UTC minute) pairs, sorted.
        by_wall: Vec<(i64, i64)>,
        /// Latest wall-clock minute shown up to each UTC minute.
        reached: Vec<i64>,
    }

    impl Scene {
        fn new(tz: Tz, change: &str) -> Scene {
            let change = at(change).timestamp() / 60;
            let first = change - SCENE_HALF_MINUTES;
            let wall: Vec<i64> = (first..change + SCENE_HALF_MINUTES)
                .map(|u| {
                    let offset = tz
                        .offset_from_utc_datetime(&minute_naive(u))
                        .fix()
                        .local_minus_utc();
                    assert_eq!(offset % 60, 0);
                    u + i64::from(offset / 60)
                })
                .collect();
            let mut by_wall: Vec<(i64, i64)> =
                (first..).zip(&wall).map(|(u, local)| (*local, u)).collect();
            by_wall.sort_unstable();
            let reached = wall
                .iter()
                .scan(i64::MIN, |latest, local| {
                    *latest = (*latest).max(*local);
                    Some(*latest)
                })
                .collect();
            Scene {
                tz,
                change,
                first,
                wall,
                by_wall,
                reached,
            }
        }

        fn wall_of(&self, minute: i64) -> Option<i64> {
            let i = usize::try_from(minute - self.first).ok()?;
            self.wall.get(i).copied()
        }

        /// The earliest UTC minute whose wall clock shows `local` or later.
        fn resolve(&self, local: i64) -> Option<i64> {
            let i = self.reached.partition_point(|r| *r < local);
            (i < self.reached.len()).then(|| self.first + i64::try_from(i).unwrap())
        }

        /// The UTC minutes whose wall clock is in `[from, to)`.
        fn utc_minutes(&self, from: i64, to: i64) -> impl Iterator<Item = i64> + '_ {
            let low = self.by_wall.partition_point(|(l, _)| *l < from);
            let high = self.by_wall.partition_point(|(l, _)| *l < to);
            self.by_wall[low..high].iter().map(|(_, u)| *u)
        }

        fn change_date(&self) -> NaiveDate {
            minute_naive(self.wall_of(self.change).unwrap()).date()
        }
    }

    fn scenes() -> &'static [Scene] {
        static SCENES: OnceLock<Vec<Scene>> = OnceLock::new();
        SCENES.get_or_init(|| {
            vec![
                Scene::new(Warsaw, "2024-03-31T01:00:00Z"),
                Scene::new(Warsaw, "2024-10-27T01:00:00Z"),
                Scene::new(New_York, "2024-03-10T07:00:00Z"),
                Scene::new(New_York, "2024-11-03T06:00:00Z"),
            ]
        })
    }

    /// `minute + k × duration` on the scene's tables: the date part moves the
    /// wall clock, the earliest minute showing it or later is found by
    /// search, then the time part is added (whole minutes in these tests).
    fn add_brute(scene: &Scene, minute: i64, d: &IsoDuration, k: i64) -> Option<i64> {
        assert_eq!(d.seconds % 60, 0);
        let months = k * i64::try_from(d.years * 12 + d.months).unwrap();
        let days = k * i64::try_from(d.weeks * 7 + d.days).unwrap();
        let minutes = k * i64::try_from(d.hours * 60 + d.minutes + d.seconds / 60).unwrap();
        let dated = if months == 0 && days == 0 {
            minute
        } else {
            let wall = minute_naive(scene.wall_of(minute)?)
                .checked_add_months(Months::new(u32::try_from(months).unwrap()))?
                .checked_add_days(Days::new(u64::try_from(days).unwrap()))?;
            scene.resolve(naive_minute(wall))?
        };
        Some(dated + minutes)
    }

    /// The status at each UTC minute of `[from, to)`, by brute force: the
    /// set of open minutes is built by enumerating local calendar days and
    /// mapping each local minute of each window to the UTC minutes that show
    /// it (none in a gap, two in a fold), and the timeframe by walking its
    /// periods one by one from the start. Instants are whole minutes.
    fn brute_force(scene: &Scene, v: &Validity, from: i64, to: i64) -> Vec<ValidityStatus> {
        let len = index(to, from);
        let midnight = |d: NaiveDate| naive_minute(d.and_time(NaiveTime::MIN));
        let start = v.start.map(|m| match m {
            Moment::Instant(t) => t.timestamp() / 60,
            Moment::Date(d) => scene.resolve(midnight(d)).unwrap(),
        });
        let expired_from = v.expiration.map(|m| match m {
            Moment::Instant(t) => t.timestamp() / 60 + 1,
            Moment::Date(d) => scene.resolve(midnight(d.succ_opt().unwrap())).unwrap(),
        });

        let mut open = vec![v.daily_hours.is_empty() && v.days_of_week.is_none(); len];
        let mark = |set: &mut Vec<bool>, local_from: i64, local_to: i64| {
            for u in scene.utc_minutes(local_from, local_to) {
                if (from..to).contains(&u) {
                    set[index(u, from)] = true;
                }
            }
        };
        let first_day = minute_naive(scene.wall_of(from).unwrap())
            .date()
            .pred_opt()
            .unwrap();
        let last_day = minute_naive(scene.wall_of(to - 1).unwrap()).date();
        for date in first_day.iter_days().take_while(|d| *d <= last_day) {
            let allows = |days: Option<DaySet>| days.is_none_or(|s| s.contains(date.weekday()));
            if v.daily_hours.is_empty() {
                if v.days_of_week.is_some() && allows(v.days_of_week) {
                    mark(&mut open, midnight(date), midnight(date) + 1440);
                }
                continue;
            }
            for w in &v.daily_hours {
                if allows(v.days_of_week) && allows(w.days_of_week) {
                    let opens = midnight(date) + i64::from(w.start_time.minute_of_day);
                    let mut closes = midnight(date) + i64::from(w.expiration_time.minute_of_day);
                    if w.crosses_midnight() {
                        closes += 1440;
                    }
                    mark(&mut open, opens, closes);
                }
            }
        }

        let mut in_frame = vec![v.timeframe.is_none(); len];
        if let Some(tf) = &v.timeframe {
            let anchor = start.unwrap();
            for k in 0..100_000 {
                let Some(begins) = add_brute(scene, anchor, &tf.interval, k) else {
                    break;
                };
                if begins >= to {
                    break;
                }
                let ends = add_brute(scene, begins, &tf.duration, 1).unwrap_or(i64::MAX);
                for u in begins.max(from)..ends.min(to) {
                    in_frame[index(u, from)] = true;
                }
            }
        }

        (from..to)
            .map(|u| {
                let i = index(u, from);
                if start.is_some_and(|s| u < s) {
                    NotYetActive
                } else if expired_from.is_some_and(|e| u >= e) {
                    Expired
                } else if open[i] && in_frame[i] {
                    Active
                } else {
                    NotActiveNow
                }
            })
            .collect()
    }

    /// Compares `status` with the brute force at every minute of the two
    /// hours around the change, at the minutes where the expected status
    /// changes (up to about 120 of them) and at `extra` minutes.
    fn agree_with_brute_force(
        scene: &Scene,
        v: &Validity,
        extra: &[i64],
    ) -> Result<(), TestCaseError> {
        let (from, to) = (
            scene.change - SAMPLE_HALF_MINUTES,
            scene.change + SAMPLE_HALF_MINUTES,
        );
        let expected = brute_force(scene, v, from, to);
        if v.check(scene.tz) == Err(ValidityError::ExpiryBeforeStart) {
            prop_assert!(!expected.contains(&Active));
        }
        let mut samples: BTreeSet<i64> = (scene.change - 60..scene.change + 60).collect();
        let changes: Vec<i64> = (from..)
            .zip(expected.windows(2))
            .filter(|(_, pair)| pair[0] != pair[1])
            .map(|(u, _)| u)
            .collect();
        for u in changes.iter().step_by(changes.len() / 60 + 1) {
            samples.extend([*u, u + 1]);
        }
        samples.extend(extra.iter().map(|m| scene.change + m));
        for u in samples {
            prop_assert_eq!(
                v.status(minute_utc(u), scene.tz),
                expected[index(u, from)],
                "at {} in {}",
                minute_utc(u),
                scene.tz
            );
        }
        Ok(())
    }

    /// A start or expiry near a scene's change.
    #[derive(Debug, Clone, Copy)]
    enum NearChange {
        /// This many minutes from the change.
        Instant(i64),
        /// This many days from the change's local date.
        Date(i64),
    }

    impl NearChange {
        fn moment(self, scene: &Scene) -> Moment {
            match self {
                NearChange::Instant(m) => Moment::Instant(minute_utc(scene.change + m)),
                NearChange::Date(d) => Moment::Date(
                    scene
                        .change_date()
                        .checked_add_signed(TimeDelta::days(d))
                        .unwrap(),
                ),
            }
        }
    }

    fn near_change(days_before: i64, days_after: i64) -> impl Strategy<Value = NearChange> {
        prop_oneof![
            (-days_before * 1440..days_after * 1440 + 1).prop_map(NearChange::Instant),
            (-90i64..90).prop_map(NearChange::Instant),
            (-days_before..=days_after).prop_map(NearChange::Date),
        ]
    }

    fn minute_of_day() -> impl Strategy<Value = u16> {
        prop_oneof![
            0u16..1440,
            0u16..300, // around the changes, at 01:00-03:00 local
            (0u16..96).prop_map(|q| q * 15),
        ]
    }

    fn day_set() -> impl Strategy<Value = Option<DaySet>> {
        proptest::option::of((1u8..128).prop_map(|bits| DaySet { bits }))
    }

    fn hours_window() -> impl Strategy<Value = HoursWindow> {
        (minute_of_day(), minute_of_day(), day_set()).prop_map(|(opens, closes, days)| {
            let closes = if opens == closes {
                (closes + 1) % 1440
            } else {
                closes
            };
            HoursWindow {
                start_time: TimeOfDay {
                    minute_of_day: opens,
                },
                expiration_time: TimeOfDay {
                    minute_of_day: closes,
                },
                days_of_week: days,
            }
        })
    }

    /// An interval of at least 30 minutes and at most about 3 days, and a
    /// duration no longer, nominally, than the interval.
    fn timeframe_near_change() -> impl Strategy<Value = Timeframe> {
        let interval = (
            0u64..3,
            0u64..27,
            prop_oneof![Just(0u64), Just(15), Just(30), 0u64..60],
            prop_oneof![4 => Just(0u64), 1 => Just(60)],
        )
            .prop_map(|(days, hours, minutes, seconds)| {
                let mut interval = IsoDuration {
                    days,
                    hours,
                    minutes,
                    seconds,
                    ..IsoDuration::default()
                };
                if interval.nominal_seconds().unwrap() < 1800 {
                    interval.hours += 1;
                }
                interval
            });
        interval.prop_flat_map(|interval| {
            let nominal_minutes = u64::try_from(interval.nominal_seconds().unwrap() / 60).unwrap();
            (1..=nominal_minutes, any::<bool>()).prop_map(move |(minutes, in_days)| {
                let duration = if in_days && minutes >= 1440 {
                    IsoDuration {
                        days: minutes / 1440,
                        hours: minutes % 1440 / 60,
                        minutes: minutes % 60,
                        ..IsoDuration::default()
                    }
                } else {
                    IsoDuration {
                        hours: minutes / 60,
                        minutes: minutes % 60,
                        ..IsoDuration::default()
                    }
                };
                Timeframe { interval, duration }
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn days_and_hours_agree_with_brute_force_around_dst(
            scene in 0usize..4,
            start in proptest::option::of(near_change(2, 2)),
            expiration in proptest::option::of(near_change(2, 2)),
            days_of_week in day_set(),
            daily_hours in proptest::collection::vec(hours_window(), 0..4),
            extra in proptest::collection::vec(-SAMPLE_HALF_MINUTES..SAMPLE_HALF_MINUTES, 30),
        ) {
            let scene = &scenes()[scene];
            let v = Validity {
                start: start.map(|s| s.moment(scene)),
                expiration: expiration.map(|e| e.moment(scene)),
                days_of_week,
                daily_hours,
                timeframe: None,
            };
            match v.check(scene.tz) {
                Ok(()) | Err(ValidityError::ExpiryBeforeStart) => {}
                Err(e) => prop_assert!(false, "{}", e),
            }
            agree_with_brute_force(scene, &v, &extra)?;
        }

        #[test]
        fn timeframes_agree_with_brute_force_around_dst(
            scene in 0usize..4,
            start in near_change(2, 0),
            expiration in proptest::option::of(near_change(0, 2)),
            timeframe in timeframe_near_change(),
            days_of_week in proptest::option::weighted(0.2, day_set()),
            daily_hours in proptest::collection::vec(hours_window(), 0..2),
            extra in proptest::collection::vec(-SAMPLE_HALF_MINUTES..SAMPLE_HALF_MINUTES, 20),
        ) {
            let scene = &scenes()[scene];
            let v = Validity {
                start: Some(start.moment(scene)),
                expiration: expiration.map(|e| e.moment(scene)),
                days_of_week: days_of_week.flatten(),
                daily_hours,
                timeframe: Some(timeframe),
            };
            match v.check(scene.tz) {
                Ok(()) | Err(ValidityError::ExpiryBeforeStart) => {}
                Err(ValidityError::DurationLongerThanInterval) => {
                    // Only when the first period really outlasts the interval.
                    let anchor = v.start.unwrap().start_instant(scene.tz).unwrap().timestamp() / 60;
                    prop_assert!(
                        add_brute(scene, anchor, &timeframe.duration, 1)
                            > add_brute(scene, anchor, &timeframe.interval, 1)
                    );
                    return Ok(());
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
            agree_with_brute_force(scene, &v, &extra)?;
        }

        #[test]
        fn timeframes_far_from_the_start_find_the_right_period(
            zone in prop_oneof![Just(Tz::UTC), Just(Warsaw), Just(New_York)],
            start_minute in 0i64..(30 * 365 * 1440),
            interval in (0u64..3, 0u64..5, 0u64..3, 0u64..25).prop_filter(
                "at least a day",
                |(y, m, w, d)| y + m + w > 0 || *d > 0,
            ),
            hours in prop_oneof![3 => Just(0u64), 1 => 1u64..30],
            percent in 1u64..=90,
            k in prop_oneof![0i64..10, 0i64..5000],
            per_mille in 0i64..1000,
        ) {
            // Period k by its definition, start + k × interval; `covers`
            // must find it from an estimate whatever k is. A duration of at
            // most 90% of the nominal interval never overruns the next
            // period, so period k alone decides.
            let start = minute_utc(start_minute);
            let (years, months, weeks, days) = interval;
            let interval = IsoDuration { years, months, weeks, days, hours, ..IsoDuration::default() };
            let nominal = u64::try_from(interval.nominal_seconds().unwrap()).unwrap();
            let duration = IsoDuration {
                seconds: nominal * percent / 100,
                ..IsoDuration::default()
            };
            let tf = Timeframe { interval, duration };
            let begins = add_scaled(start, &interval, k, zone).unwrap();
            let next = add_scaled(start, &interval, k + 1, zone).unwrap();
            let ends = duration.after(begins, zone).unwrap();
            prop_assert!(begins < ends && ends <= next);
            let now = begins + (next - begins) * i32::try_from(per_mille).unwrap() / 1000;
            prop_assert_eq!(tf.covers(start, now, zone), now < ends, "now {}", now);
            prop_assert!(tf.covers(start, begins, zone));
            prop_assert!(!tf.covers(start, ends, zone));
        }

        #[test]
        fn iso_durations_round_trip(
            parts in proptest::array::uniform7(prop_oneof![
                2 => Just(0u64),
                2 => 0u64..100,
                1 => 0u64..20_000_000,
            ]),
        ) {
            let [years, months, weeks, days, hours, minutes, seconds] = parts;
            let d = IsoDuration { years, months, weeks, days, hours, minutes, seconds };
            let text = d.to_string();
            match IsoDuration::parse(&text) {
                Ok(back) => {
                    prop_assert_eq!(back, d);
                    prop_assert_eq!(back.to_string(), text);
                }
                Err(e) => {
                    prop_assert_eq!(e, ParseDurationError::TooLarge);
                    prop_assert!(
                        d.nominal_seconds().unwrap() > ISO_DURATION_NOMINAL_DAYS_MAX * 86_400
                    );
                }
            }
        }

        #[test]
        fn iso_duration_parser_takes_anything_and_formats_canonically(
            text in "-?P?[0-9]{0,3}[YMWD]?[0-9]{0,3}[YMWD]?T?[0-9.,]{0,3}[HMS]?[0-9]{0,3}[HMS]?",
        ) {
            if let Ok(d) = IsoDuration::parse(&text) {
                let canonical = d.to_string();
                prop_assert_eq!(IsoDuration::parse(&canonical), Ok(d));
            }
        }

        #[test]
        fn moments_round_trip(
            seconds in -62_135_596_800i64..253_402_300_800,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                0u32..1_000_000_000,
            ],
        ) {
            let instant = Moment::Instant(DateTime::from_timestamp(seconds, nanos).unwrap());
            prop_assert_eq!(Moment::parse(&instant.to_string()), Ok(instant));
            let date = Moment::Date(DateTime::from_timestamp(seconds, 0).unwrap().date_naive());
            prop_assert_eq!(Moment::parse(&date.to_string()), Ok(date));
        }
    }
}
