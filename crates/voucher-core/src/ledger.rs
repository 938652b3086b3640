//! The gift-card ledger: every change of a card's balance is an entry, and
//! the balance is the fold of the entries.
//!
//! Entries are checked when written ([`Ledger::append`] refuses one that
//! would drive the balance below zero or past the limit) and again when read
//! ([`Ledger::from_entries`] re-folds and compares each entry's stored
//! `balance_after`), so a corrupt row is an error, not a wrong balance.

use serde::{Deserialize, Serialize};

use crate::limits::{AMOUNT_MAJOR_MAX, LEDGER_ENTRIES_MAX};
use crate::money::{Currency, Money, MoneyError};

/// What moved the balance. The wire's transaction types are
/// `CREDITS_REDEMPTION`, `CREDITS_REFUND`, `CREDITS_ADDITION` and
/// `CREDITS_REMOVAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryKind {
    /// Credits spent on an order.
    Redemption,
    /// Credits returned by a rollback.
    Refund,
    /// Credits added by hand (or the card's initial amount).
    Addition,
    /// Credits removed by hand.
    Removal,
}

impl EntryKind {
    /// The wire's transaction type.
    pub fn wire_type(self) -> &'static str {
        match self {
            EntryKind::Redemption => "CREDITS_REDEMPTION",
            EntryKind::Refund => "CREDITS_REFUND",
            EntryKind::Addition => "CREDITS_ADDITION",
            EntryKind::Removal => "CREDITS_REMOVAL",
        }
    }

    /// +1 for kinds that add to the balance, -1 for kinds that take from it.
    fn sign(self) -> i64 {
        match self {
            EntryKind::Refund | EntryKind::Addition => 1,
            EntryKind::Redemption | EntryKind::Removal => -1,
        }
    }
}

/// One change of a balance, in minor units of the card's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What moved the balance.
    pub kind: EntryKind,
    /// How much moved, always positive.
    pub amount_minor: i64,
    /// The balance once this entry applied.
    pub balance_after_minor: i64,
}

impl Entry {
    /// The signed change of the balance.
    pub fn delta_minor(&self) -> i64 {
        self.kind.sign() * self.amount_minor
    }
}

/// Why a ledger entry was refused, or a stored ledger does not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The entry would take more than the balance (wire key
    /// `gift_amount_exceeded`).
    #[error("gift amount exceeded: balance {balance_minor}, requested {requested_minor}")]
    InsufficientBalance {
        /// The balance before the entry.
        balance_minor: i64,
        /// The amount requested.
        requested_minor: i64,
    },
    /// The entry amount is zero or negative (wire key `invalid_amount`).
    #[error("ledger entry amount must be positive")]
    NonPositiveAmount,
    /// The balance would pass the engine's amount limit.
    #[error("balance out of range")]
    Overflow,
    /// More entries than [`LEDGER_ENTRIES_MAX`].
    #[error("too many ledger entries")]
    TooManyEntries,
    /// A stored entry's balance does not equal the fold of the entries
    /// before it: the stored ledger is corrupt.
    #[error("ledger entry {index} says balance {stored_minor}, the fold says {folded_minor}")]
    Corrupt {
        /// Index of the first entry that does not add up.
        index: usize,
        /// The balance the entry carries.
        stored_minor: i64,
        /// The balance the fold gives.
        folded_minor: i64,
    },
}

/// A gift card's balance, checked against its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    currency: Currency,
    balance_minor: i64,
    entries: usize,
}

fn balance_max_minor(currency: Currency) -> i64 {
    // 10^13 major units; fits an i64 for every minor unit of up to 5 digits.
    AMOUNT_MAJOR_MAX.saturating_mul(10_i64.pow(currency.minor_unit()))
}

impl Ledger {
    /// An empty ledger (balance zero). A new card then gets an
    /// [`EntryKind::Addition`] of its initial amount.
    pub fn new(currency: Currency) -> Ledger {
        Ledger {
            currency,
            balance_minor: 0,
            entries: 0,
        }
    }

    /// Re-folds stored entries, checking each one's `balance_after_minor`
    /// (the read half of the pair assertion).
    pub fn from_entries(currency: Currency, entries: &[Entry]) -> Result<Ledger, LedgerError> {
        if entries.len() > LEDGER_ENTRIES_MAX {
            return Err(LedgerError::TooManyEntries);
        }
        let mut ledger = Ledger::new(currency);
        for (index, stored) in entries.iter().enumerate() {
            let folded = ledger.next(stored.kind, stored.amount_minor)?;
            if folded.balance_after_minor != stored.balance_after_minor {
                return Err(LedgerError::Corrupt {
                    index,
                    stored_minor: stored.balance_after_minor,
                    folded_minor: folded.balance_after_minor,
                });
            }
            ledger.balance_minor = folded.balance_after_minor;
            ledger.entries += 1;
        }
        Ok(ledger)
    }

    /// Trusts a stored balance (e.g. a store's denormalised column) without
    /// its entries; stores check it against the entries in their own tests.
    pub fn from_balance(currency: Currency, balance_minor: i64) -> Result<Ledger, LedgerError> {
        if balance_minor < 0 || balance_minor > balance_max_minor(currency) {
            return Err(LedgerError::Overflow);
        }
        Ok(Ledger {
            currency,
            balance_minor,
            entries: 0,
        })
    }

    /// The entry that `kind` of `amount_minor` would append, without
    /// appending it.
    pub fn next(&self, kind: EntryKind, amount_minor: i64) -> Result<Entry, LedgerError> {
        if amount_minor <= 0 {
            return Err(LedgerError::NonPositiveAmount);
        }
        if self.entries >= LEDGER_ENTRIES_MAX {
            return Err(LedgerError::TooManyEntries);
        }
        let delta = kind.sign() * amount_minor;
        let balance_after_minor = self
            .balance_minor
            .checked_add(delta)
            .ok_or(LedgerError::Overflow)?;
        if balance_after_minor < 0 {
            return Err(LedgerError::InsufficientBalance {
                balance_minor: self.balance_minor,
                requested_minor: amount_minor,
            });
        }
        if balance_after_minor > balance_max_minor(self.currency) {
            return Err(LedgerError::Overflow);
        }
        Ok(Entry {
            kind,
            amount_minor,
            balance_after_minor,
        })
    }

    /// Appends an entry (the write half of the pair assertion).
    pub fn append(&mut self, kind: EntryKind, amount_minor: i64) -> Result<Entry, LedgerError> {
        let entry = self.next(kind, amount_minor)?;
        self.balance_minor = entry.balance_after_minor;
        self.entries += 1;
        assert!(
            self.balance_minor >= 0,
            "a ledger balance is never negative"
        );
        Ok(entry)
    }

    /// The balance in minor units.
    pub fn balance_minor(&self) -> i64 {
        self.balance_minor
    }

    /// The balance as money.
    pub fn balance(&self) -> Result<Money, MoneyError> {
        Money::from_minor(self.balance_minor, self.currency)
    }

    /// The card's currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn balance_follows_the_entries() {
        let mut ledger = Ledger::new(Currency::EUR);
        ledger.append(EntryKind::Addition, 5000).unwrap();
        ledger.append(EntryKind::Redemption, 2000).unwrap();
        ledger.append(EntryKind::Refund, 500).unwrap();
        let last = ledger.append(EntryKind::Removal, 1000).unwrap();
        assert_eq!(
            last,
            Entry {
                kind: EntryKind::Removal,
                amount_minor: 1000,
                balance_after_minor: 2500
            }
        );
        assert_eq!(ledger.balance().unwrap().to_string(), "25.00");
    }

    #[test]
    fn refuses_to_go_negative_or_move_nothing() {
        let mut ledger = Ledger::new(Currency::EUR);
        ledger.append(EntryKind::Addition, 1000).unwrap();
        assert_eq!(
            ledger.append(EntryKind::Redemption, 1001),
            Err(LedgerError::InsufficientBalance {
                balance_minor: 1000,
                requested_minor: 1001
            })
        );
        assert_eq!(
            ledger.append(EntryKind::Redemption, 0),
            Err(LedgerError::NonPositiveAmount)
        );
        assert_eq!(
            ledger.append(EntryKind::Addition, -5),
            Err(LedgerError::NonPositiveAmount)
        );
        assert_eq!(
            ledger.append(EntryKind::Addition, i64::MAX),
            Err(LedgerError::Overflow)
        );
        assert_eq!(ledger.balance_minor(), 1000);
    }

    #[test]
    fn a_stored_ledger_that_does_not_add_up_is_corrupt() {
        let entries = [
            Entry {
                kind: EntryKind::Addition,
                amount_minor: 1000,
                balance_after_minor: 1000,
            },
            Entry {
                kind: EntryKind::Redemption,
                amount_minor: 300,
                balance_after_minor: 800,
            },
        ];
        assert_eq!(
            Ledger::from_entries(Currency::EUR, &entries),
            Err(LedgerError::Corrupt {
                index: 1,
                stored_minor: 800,
                folded_minor: 700
            })
        );
    }

    fn kind() -> impl Strategy<Value = EntryKind> {
        prop_oneof![
            Just(EntryKind::Redemption),
            Just(EntryKind::Refund),
            Just(EntryKind::Addition),
            Just(EntryKind::Removal),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn never_negative_and_equal_to_the_fold(ops in prop::collection::vec((kind(), -10i64..100_000), 0..60)) {
            let mut ledger = Ledger::new(Currency::EUR);
            let mut written = Vec::new();
            for (kind, amount) in ops {
                if let Ok(entry) = ledger.append(kind, amount) {
                    written.push(entry);
                }
                prop_assert!(ledger.balance_minor() >= 0);
            }
            let fold: i64 = written.iter().map(Entry::delta_minor).sum();
            prop_assert_eq!(fold, ledger.balance_minor());
            let reread = Ledger::from_entries(Currency::EUR, &written).unwrap();
            prop_assert_eq!(reread.balance_minor(), ledger.balance_minor());
        }
    }
}
