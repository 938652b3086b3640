//! The global flags (`--db`, `--url`, `--json`, `--project`) and what a
//! scripting command works on: the opened store, the chosen project, and
//! how to print. Money arguments are read here too, in major units of the
//! project's currency, exactly (`10.005` is refused in EUR, never rounded).

use std::path::PathBuf;

use voucher_core::money::{Currency, Money};
use voucher_core::port::{ProjectId, ProjectRecord, ProjectStore};
use voucher_store_sqlite::{Options, SqliteStore};

use crate::bootstrap::{ensure_default_project, env, open_store, DEFAULT_PROJECT};
use crate::failure::Failure;
use crate::output::Format;

/// Flags every command takes, before or after the subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The database file (created and migrated, with the `default` project, when missing).
    #[arg(long, global = true, env = "VOUCHER_DB", default_value = "voucher.db")]
    pub db: PathBuf,
    /// A running server (https://, or http:// locally) to work on instead of the file, with the server key
    /// in VOUCHER_APP_ID and VOUCHER_APP_TOKEN
    /// (serve, projects, keys, backup, webhooks and completions always work on the file).
    #[arg(long, global = true, env = "VOUCHER_URL")]
    pub url: Option<String>,
    /// Print JSON for scripts (money as decimal strings: "10.00").
    #[arg(long, global = true)]
    pub json: bool,
    /// The project to work in.
    #[arg(long, global = true, env = "VOUCHER_PROJECT", default_value = DEFAULT_PROJECT)]
    pub project: String,
}

/// An opened store and the project a command works in.
#[derive(Debug)]
pub struct Session {
    /// The store.
    pub store: SqliteStore,
    /// The project.
    pub project: ProjectRecord,
    /// How to print.
    pub format: Format,
}

impl Global {
    /// How to print: JSON with `--json`, CSV when a list asks for it.
    pub fn format(&self, csv: bool) -> Format {
        if self.json {
            Format::Json
        } else if csv {
            Format::Csv
        } else {
            Format::Text
        }
    }

    /// Opens the database file and makes sure the `default` project exists
    /// (created in `currency` when given, else VOUCHER_CURRENCY or EUR).
    pub fn store(&self, currency: Option<Currency>) -> Result<SqliteStore, Failure> {
        let store = open_store(&self.db, Options::default())?;
        let currency = currency
            .map(|c| c.code().to_owned())
            .or_else(|| env("VOUCHER_CURRENCY"))
            .unwrap_or_else(|| "EUR".to_owned());
        let time_zone = env("VOUCHER_TIME_ZONE").unwrap_or_else(|| "UTC".to_owned());
        ensure_default_project(&store, &currency, &time_zone)?;
        Ok(store)
    }

    /// Opens the store and the `--project`.
    pub fn session(&self, csv: bool) -> Result<Session, Failure> {
        self.session_in(None, csv)
    }

    /// [`Global::session`], creating the `default` project in `currency`
    /// if the file is new.
    pub fn session_in(&self, currency: Option<Currency>, csv: bool) -> Result<Session, Failure> {
        let store = self.store(currency)?;
        let project = store
            .project_by_name(&self.project)?
            .ok_or_else(|| Failure::not_found(format!("project {} not found", self.project)))?;
        Ok(Session {
            store,
            project,
            format: self.format(csv),
        })
    }
}

impl Session {
    /// The project's id.
    pub fn id(&self) -> ProjectId {
        self.project.id
    }

    /// The project's currency.
    pub fn currency(&self) -> Currency {
        self.project.spec.currency
    }

    /// An amount in major units of the project's currency, exact.
    pub fn money(&self, text: &str) -> Result<Money, Failure> {
        parse_money(text, self.currency())
    }

    /// [`Session::money`] in minor units.
    pub fn minor(&self, text: &str) -> Result<i64, Failure> {
        to_minor(self.money(text)?)
    }

    /// Prints minor units of the project's currency.
    pub fn show(&self, minor: i64) -> String {
        crate::output::money(minor, self.currency())
    }
}

/// An amount in major units (`10.00`, `10`, `-2.5`) of `currency`, exact.
pub fn parse_money(text: &str, currency: Currency) -> Result<Money, Failure> {
    Money::parse(text.trim(), currency).map_err(|e| {
        Failure::usage(
            "invalid_amount",
            format!("{text:?} is not an amount in {currency}: {e}"),
        )
    })
}

/// Minor units of an exact amount.
pub fn to_minor(money: Money) -> Result<i64, Failure> {
    money
        .to_minor()
        .map_err(|e| Failure::usage("invalid_amount", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_exactly_in_the_currency() {
        let check = |text: &str, currency, expected: Result<i64, &str>| {
            let got = parse_money(text, currency).and_then(to_minor);
            assert_eq!(
                got.map_err(|f| f.key).as_ref().map_err(String::as_str),
                expected.as_ref().map_err(|k| *k),
                "{text}"
            );
        };
        check("10.00", Currency::EUR, Ok(1000));
        check("10", Currency::EUR, Ok(1000));
        check("0.5", Currency::EUR, Ok(50));
        check("10.005", Currency::EUR, Err("invalid_amount"));
        check("ten", Currency::EUR, Err("invalid_amount"));
        check("500", Currency::JPY, Ok(500));
        check("1.5", Currency::JPY, Err("invalid_amount"));
    }
}
