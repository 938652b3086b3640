//! What commands print on stdout: readable tables and `name  value` lines by
//! default, JSON with `--json` (stable field names, money as decimal
//! strings in major units, "10.00"), CSV with `--csv` on lists. Every
//! printed object is one of the output structs of the command modules,
//! which implement [`Fields`]: the same names serve as JSON keys, table
//! headers and CSV columns.

use std::io::Write;

use serde::Serialize;
use voucher_core::money::{Currency, Money};

use crate::failure::Failure;

/// How a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and `name  value` lines, for people.
    Text,
    /// JSON, for scripts.
    Json,
    /// CSV (lists only; single objects print as text).
    Csv,
}

/// An object a command prints: its fields in order, as text.
pub trait Fields: Serialize {
    /// `(name, value)` pairs; an empty value prints as `-` in a table.
    fn fields(&self) -> Vec<(&'static str, String)>;
}

/// Money in major units with the currency's minor-unit digits ("10.00").
pub fn money(minor: i64, currency: Currency) -> String {
    match Money::from_minor(minor, currency) {
        Ok(m) => m.to_string(),
        // Beyond the engine's range: the store never returns it.
        Err(_) => format!("{minor} (minor units)"),
    }
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Prints a value as pretty JSON, one document.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::other("output_failed", e.to_string()))?;
    text.push('\n');
    write_stdout(&text)
}

/// Prints one object: JSON, or aligned `name  value` lines.
pub fn object<T: Fields>(format: Format, value: &T) -> Result<(), Failure> {
    if format == Format::Json {
        return json(value);
    }
    let fields = value.fields();
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (name, value) in fields {
        let value = if value.is_empty() { "-" } else { &value };
        text.push_str(&format!("{name:<width$}  {value}\n"));
    }
    write_stdout(&text)
}

/// Prints a list: a JSON array, CSV with a header, or an aligned table.
pub fn list<T: Fields>(format: Format, items: &[T], headers: &[&str]) -> Result<(), Failure> {
    match format {
        Format::Json => json(items),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| Failure::other("output_failed", e.to_string());
            writer.write_record(headers).map_err(fail)?;
            for item in items {
                writer
                    .write_record(item.fields().iter().map(|(_, v)| v.as_str()))
                    .map_err(fail)?;
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| Failure::other("output_failed", e.to_string()))?;
            write_stdout(&String::from_utf8_lossy(&bytes))
        }
        Format::Text => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| {
                    item.fields()
                        .into_iter()
                        .map(|(_, v)| if v.is_empty() { "-".to_owned() } else { v })
                        .collect()
                })
                .collect();
            write_stdout(&table(headers, &rows))
        }
    }
}

/// Columns padded to their widest cell, two spaces apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                text.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut text = line(&mut headers.iter().copied());
    for row in rows {
        text.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_prints_major_units_with_the_currency_digits() {
        let check = |minor, currency, expected: &str| assert_eq!(money(minor, currency), expected);
        check(1000, Currency::EUR, "10.00");
        check(5, Currency::EUR, "0.05");
        check(-250, Currency::EUR, "-2.50");
        check(500, Currency::JPY, "500");
        check(1005, Currency::parse("KWD").unwrap(), "1.005");
    }

    #[test]
    fn a_table_pads_columns_to_their_widest_cell() {
        let rows = vec![
            vec!["CAT-1".to_owned(), "25% off".to_owned()],
            vec!["FEEDMEHUMAN".to_owned(), "-".to_owned()],
        ];
        assert_eq!(
            table(&["code", "value"], &rows),
            "code         value\nCAT-1        25% off\nFEEDMEHUMAN  -\n"
        );
    }
}
