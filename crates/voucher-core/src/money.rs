//! Money: a `rust_decimal::Decimal` amount in an ISO 4217 currency.
//!
//! Arithmetic is checked and never silently rounds. Rounding to the
//! currency's minor unit happens only at named points, through
//! [`Money::round`] with an explicit [`Rounding`]. The wire speaks integers
//! worth the value times 100 whatever the currency ([`Money::from_wire`],
//! [`Money::to_wire`]); the engine's allocation speaks integers of the
//! currency's own minor unit ([`Money::from_minor`], [`Money::to_minor`]).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::limits::AMOUNT_MAJOR_MAX;

/// An ISO 4217 currency and the number of digits of its minor unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_unit: u8,
}

/// ISO 4217 codes the engine knows, with their minor-unit digits.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2), ("ARS", 2), ("AUD", 2), ("BGN", 2), ("BHD", 3), ("BRL", 2),
    ("CAD", 2), ("CHF", 2), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CZK", 2),
    ("DKK", 2), ("EGP", 2), ("EUR", 2), ("GBP", 2), ("HKD", 2), ("HUF", 2),
    ("IDR", 2), ("ILS", 2), ("INR", 2), ("ISK", 0), ("JOD", 3), ("JPY", 0),
    ("KRW", 0), ("KWD", 3), ("MAD", 2), ("MXN", 2), ("MYR", 2), ("NGN", 2),
    ("NOK", 2), ("NZD", 2), ("OMR", 3), ("PEN", 2), ("PHP", 2), ("PKR", 2),
    ("PLN", 2), ("QAR", 2), ("RON", 2), ("RSD", 2), ("SAR", 2), ("SEK", 2),
    ("SGD", 2), ("THB", 2), ("TND", 3), ("TRY", 2), ("TWD", 2), ("UAH", 2),
    ("USD", 2), ("VND", 0), ("ZAR", 2),
];

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        minor_unit: 2,
    };
    /// US dollar.
    pub const USD: Currency = Currency {
        code: *b"USD",
        minor_unit: 2,
    };
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        minor_unit: 0,
    };
    /// Kuwaiti dinar (three minor digits).
    pub const KWD: Currency = Currency {
        code: *b"KWD",
        minor_unit: 3,
    };

    /// Parses an ISO 4217 code such as `EUR` (upper case).
    pub fn parse(code: &str) -> Result<Currency, ParseCurrencyError> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(known, minor_unit)| {
                let mut bytes = [0u8; 3];
                bytes.copy_from_slice(known.as_bytes());
                Currency {
                    code: bytes,
                    minor_unit: *minor_unit,
                }
            })
            .ok_or_else(|| ParseCurrencyError {
                code: code.chars().take(16).collect(),
            })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes come from the table of ASCII codes above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn minor_unit(&self) -> u32 {
        u32::from(self.minor_unit)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = ParseCurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = ParseCurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

/// The currency code is not one the engine knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency code {code:?}")]
pub struct ParseCurrencyError {
    code: String,
}

/// How a result is rounded to the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rounding {
    /// Half away from zero: 0.125 -> 0.13, -0.125 -> -0.13. The default.
    HalfAwayFromZero,
    /// Half to even (banker's): 0.125 -> 0.12.
    HalfEven,
    /// Toward zero.
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfAwayFromZero => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

/// Why an amount of money could not be made or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts of different currencies met.
    #[error("currency mismatch: expected {expected}, found {found}")]
    CurrencyMismatch {
        /// The currency of the project or the left operand.
        expected: Currency,
        /// The currency that arrived.
        found: Currency,
    },
    /// The amount is beyond the engine's limit of 10^13 major units.
    #[error("amount out of range")]
    Overflow,
    /// The amount has more decimal places than the currency's minor unit.
    #[error("amount has more decimal places than {currency} allows")]
    TooPrecise {
        /// The currency whose minor unit was exceeded.
        currency: Currency,
    },
    /// The text is not a decimal amount.
    #[error("invalid amount {text:?}")]
    Parse {
        /// The text, cut to 32 characters.
        text: String,
    },
}

/// An amount in a currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

fn amount_max() -> Decimal {
    Decimal::from(AMOUNT_MAJOR_MAX)
}

impl Money {
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// An exact amount: at most the currency's minor-unit digits, within the
    /// engine's range. Negative amounts are allowed (ledger removals).
    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let money = Money::unrounded(amount, currency)?;
        if money.amount.normalize().scale() > currency.minor_unit() {
            return Err(MoneyError::TooPrecise { currency });
        }
        Ok(money)
    }

    /// An intermediate amount that may carry more digits than the minor
    /// unit; round it with [`Money::round`] before it leaves the engine.
    pub fn unrounded(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        if amount.abs() > amount_max() {
            return Err(MoneyError::Overflow);
        }
        Ok(Money { amount, currency })
    }

    /// Parses a major-unit amount such as `"10.00"` or `"-2.5"`.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let parse_error = || MoneyError::Parse {
            text: text.chars().take(32).collect(),
        };
        let trimmed = text.trim();
        let valid_chars = !trimmed.is_empty()
            && trimmed.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_digit() || b == b'.' || (i == 0 && (b == b'-' || b == b'+'))
            });
        if !valid_chars || trimmed.len() > 40 {
            return Err(parse_error());
        }
        let amount = Decimal::from_str_exact(trimmed).map_err(|_| parse_error())?;
        Money::new(amount, currency)
    }

    /// The wire's integer (the value times 100, whatever the currency) as
    /// money. Exact: an integer that the currency cannot express (150 in
    /// JPY, 1.5 yen) is [`MoneyError::TooPrecise`].
    pub fn from_wire(wire: i64, currency: Currency) -> Result<Money, MoneyError> {
        Money::new(Decimal::new(wire, 2), currency)
    }

    /// The wire's integer for this amount: the value times 100. Exact: an
    /// amount with more than two decimals (KWD 0.005) is
    /// [`MoneyError::TooPrecise`].
    pub fn to_wire(&self) -> Result<i64, MoneyError> {
        to_integer(self.amount, 2, self.currency)
    }

    /// An integer count of the currency's minor unit (cents for EUR, yen for
    /// JPY) as money.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        Money::new(Decimal::new(minor, currency.minor_unit()), currency)
    }

    /// This amount in the currency's minor unit; it must already be rounded.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        to_integer(self.amount, self.currency.minor_unit(), self.currency)
    }

    /// The decimal amount in major units.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// True when the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// Errors unless `other` is in the same currency.
    pub fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            })
        }
    }

    /// `self + other`, checked.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::unrounded(sum, self.currency)
    }

    /// `self - other`, checked.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let difference = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::unrounded(difference, self.currency)
    }

    /// `self * factor`, checked and unrounded.
    pub fn checked_mul(self, factor: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Money::unrounded(product, self.currency)
    }

    /// `self * percent / 100`, checked and unrounded.
    pub fn percent(self, percent: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(percent)
            .ok_or(MoneyError::Overflow)?;
        let share = product
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or(MoneyError::Overflow)?;
        Money::unrounded(share, self.currency)
    }

    /// Rounded to the currency's minor unit: the named rounding point.
    #[must_use]
    pub fn round(self, rounding: Rounding) -> Money {
        let amount = self
            .amount
            .round_dp_with_strategy(self.currency.minor_unit(), rounding.strategy());
        Money {
            amount,
            currency: self.currency,
        }
    }

    /// The smaller of two amounts of one currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// The larger of two amounts of one currency.
    pub fn max(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        Ok(if other.amount > self.amount {
            other
        } else {
            self
        })
    }

    /// Compares two amounts of one currency.
    pub fn cmp_amount(&self, other: &Money) -> Result<std::cmp::Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }
}

/// `amount * 10^digits` as an exact `i64`.
/// `amount * 10^digits` as an integer. Works on the mantissa and scale
/// directly (`amount = mantissa / 10^scale`), without `Decimal` arithmetic:
/// this runs for every price of every order. A mantissa fits 96 bits and
/// `digits` is at most a currency's minor unit, so the `i128` products below
/// cannot overflow; the checked forms only keep that an argument, not a
/// promise.
fn to_integer(amount: Decimal, digits: u32, currency: Currency) -> Result<i64, MoneyError> {
    let mantissa = amount.mantissa();
    let scale = amount.scale();
    let scaled = if scale <= digits {
        10_i128
            .checked_pow(digits - scale)
            .and_then(|factor| mantissa.checked_mul(factor))
            .ok_or(MoneyError::Overflow)?
    } else {
        let divisor = 10_i128
            .checked_pow(scale - digits)
            .ok_or(MoneyError::TooPrecise { currency })?;
        if mantissa % divisor != 0 {
            return Err(MoneyError::TooPrecise { currency });
        }
        mantissa / divisor
    };
    i64::try_from(scaled).map_err(|_| MoneyError::Overflow)
}

/// The largest absolute amount in `currency`'s minor units
/// ([`AMOUNT_MAJOR_MAX`] major units): `Money::from_minor(m, currency)` is
/// `Ok` exactly when `m.unsigned_abs() <= minor_max(currency)`, so hot paths
/// check the range with one integer comparison instead of a `Decimal`.
pub(crate) fn minor_max(currency: Currency) -> u64 {
    10_u64
        .checked_pow(currency.minor_unit())
        .and_then(|factor| AMOUNT_MAJOR_MAX.unsigned_abs().checked_mul(factor))
        .unwrap_or(u64::MAX)
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self, self.currency)
    }
}

/// Major units with exactly the currency's minor-unit digits: `10.00`, `5`
/// for JPY. An unrounded amount shows all of its digits.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut amount = self.amount.normalize();
        if amount.scale() < self.currency.minor_unit() {
            amount.rescale(self.currency.minor_unit());
        }
        write!(f, "{amount}")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn eur(text: &str) -> Money {
        Money::parse(text, Currency::EUR).unwrap()
    }

    #[test]
    fn parses_and_formats_major_units() {
        let check = |text: &str, currency: Currency, expected: &str| {
            assert_eq!(
                Money::parse(text, currency).unwrap().to_string(),
                expected,
                "{text}"
            );
        };
        check("10", Currency::EUR, "10.00");
        check("10.5", Currency::EUR, "10.50");
        check("-2.25", Currency::EUR, "-2.25");
        check("1500", Currency::JPY, "1500");
        check("0.125", Currency::KWD, "0.125");
    }

    #[test]
    fn refuses_bad_text_and_excess_precision() {
        assert!(matches!(
            Money::parse("ten", Currency::EUR),
            Err(MoneyError::Parse { .. })
        ));
        assert!(matches!(
            Money::parse("1e3", Currency::EUR),
            Err(MoneyError::Parse { .. })
        ));
        assert!(matches!(
            Money::parse("", Currency::EUR),
            Err(MoneyError::Parse { .. })
        ));
        assert!(matches!(
            Money::parse("1.005", Currency::EUR),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("99999999999999999", Currency::EUR),
            Err(MoneyError::Overflow)
        ));
    }

    #[test]
    fn wire_is_value_times_one_hundred_whatever_the_currency() {
        assert_eq!(Money::from_wire(10_000, Currency::EUR).unwrap(), eur("100"));
        assert_eq!(
            Money::from_wire(10_000, Currency::JPY).unwrap().to_string(),
            "100"
        );
        assert_eq!(
            Money::from_wire(10_000, Currency::JPY)
                .unwrap()
                .to_minor()
                .unwrap(),
            100
        );
        assert!(matches!(
            Money::from_wire(150, Currency::JPY),
            Err(MoneyError::TooPrecise { .. })
        ));
        let kwd = Money::parse("0.005", Currency::KWD).unwrap();
        assert!(matches!(kwd.to_wire(), Err(MoneyError::TooPrecise { .. })));
        assert_eq!(eur("12.34").to_wire().unwrap(), 1234);
        assert_eq!(eur("12.34").to_minor().unwrap(), 1234);
    }

    #[test]
    fn rounds_half_away_from_zero_at_the_named_point() {
        let third = eur("10").percent(Decimal::new(125, 3)).unwrap(); // 0.0125
        assert_eq!(third.round(Rounding::HalfAwayFromZero).to_string(), "0.01");
        let half = Money::unrounded(Decimal::new(125, 3), Currency::EUR).unwrap();
        assert_eq!(half.round(Rounding::HalfAwayFromZero).to_string(), "0.13");
        assert_eq!(half.round(Rounding::HalfEven).to_string(), "0.12");
        let negative = Money::unrounded(Decimal::new(-125, 3), Currency::EUR).unwrap();
        assert_eq!(
            negative.round(Rounding::HalfAwayFromZero).to_string(),
            "-0.13"
        );
        assert_eq!(half.round(Rounding::Down).to_string(), "0.12");
    }

    #[test]
    fn arithmetic_is_checked() {
        let usd = Money::parse("1", Currency::USD).unwrap();
        assert!(matches!(
            eur("1").checked_add(usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        let big = Money::from_wire(i64::MAX / 1000, Currency::EUR);
        assert!(matches!(big, Err(MoneyError::Overflow)));
        let max = eur("10000000000000");
        assert!(matches!(
            max.checked_add(eur("1")),
            Err(MoneyError::Overflow)
        ));
        assert!(matches!(
            max.checked_mul(Decimal::TWO),
            Err(MoneyError::Overflow)
        ));
        assert_eq!(
            eur("10").checked_sub(eur("12.5")).unwrap().to_string(),
            "-2.50"
        );
    }

    #[test]
    fn currency_codes_parse() {
        assert_eq!(Currency::parse("EUR").unwrap(), Currency::EUR);
        assert_eq!(Currency::parse("JPY").unwrap().minor_unit(), 0);
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
    }

    #[test]
    fn minor_max_is_the_range_of_from_minor() {
        let check = |currency: Currency, expected: u64| {
            assert_eq!(minor_max(currency), expected);
            let edge = i64::try_from(expected).unwrap();
            assert!(Money::from_minor(edge, currency).is_ok());
            assert!(Money::from_minor(-edge, currency).is_ok());
            assert!(Money::from_minor(edge + 1, currency).is_err());
            assert!(Money::from_minor(-edge - 1, currency).is_err());
        };
        check(Currency::EUR, 1_000_000_000_000_000);
        check(Currency::JPY, 10_000_000_000_000);
        check(Currency::KWD, 10_000_000_000_000_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn format_then_parse_round_trips(minor in -10_000_000_000_000_i64..=10_000_000_000_000, pick in 0usize..4) {
            let currency = [Currency::EUR, Currency::JPY, Currency::KWD, Currency::USD][pick];
            let money = Money::from_minor(minor, currency).unwrap();
            let text = money.to_string();
            prop_assert_eq!(Money::parse(&text, currency).unwrap(), money);
            prop_assert_eq!(money.to_minor().unwrap(), minor);
        }

        #[test]
        fn wire_round_trips(wire in -1_000_000_000_000_000_i64..1_000_000_000_000_000) {
            let money = Money::from_wire(wire, Currency::EUR).unwrap();
            prop_assert_eq!(money.to_wire().unwrap(), wire);
        }

        /// The mantissa-and-scale `to_integer` agrees with the `Decimal`
        /// arithmetic it replaced, on every scale and sign, and
        /// `minor_max` is exactly the range of `from_minor`.
        #[test]
        fn to_integer_is_the_decimal_formula(
            mantissa in -(1_i64 << 62)..(1_i64 << 62),
            scale in 0_u32..12,
            currency in prop::sample::select(vec![Currency::EUR, Currency::JPY, Currency::KWD]),
        ) {
            let amount = Decimal::new(mantissa, scale);
            let digits = currency.minor_unit();
            let old = amount
                .checked_mul(Decimal::from(10_i64.pow(digits)))
                .ok_or(MoneyError::Overflow)
                .and_then(|scaled| {
                    if !scaled.fract().is_zero() {
                        return Err(MoneyError::TooPrecise { currency });
                    }
                    i64::try_from(scaled).map_err(|_| MoneyError::Overflow)
                });
            prop_assert_eq!(to_integer(amount, digits, currency), old);
            prop_assert_eq!(
                Money::from_minor(mantissa, currency).is_ok(),
                mantissa.unsigned_abs() <= minor_max(currency)
            );
        }
    }
}
